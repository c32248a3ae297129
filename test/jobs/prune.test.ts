/** `prune-jobs`: finished jobs older than JOB_RETENTION_DAYS go, with their events, and module topic events as old; others stay. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineModule } from '../../src/modules/contract.js';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, type TestContext } from '../helpers/harness.js';
import { call, type Cast, claim, createQueue, enqueue, JOBS_ENV, makeCast, workerCall } from './job-fixtures.js';

describe.each(dialects)('prune-jobs (%s)', (dialect) => {
  let ctx: TestContext;
  let cast: Cast;

  beforeAll(async () => {
    const notes = defineModule<null>({
      name: 'prune-notes',
      description: 'test: a topic family',
      create: () => null,
      topics: () => [{ prefix: 'note', description: 'test', authorize: async () => undefined }],
    });
    ctx = await createTestContext(dialect, { env: { ...JOBS_ENV, JOB_RETENTION_DAYS: '30' }, modules: [notes] });
    cast = await makeCast(ctx);
  });
  afterAll(async () => {
    await ctx?.close();
  });

  it('deletes jobs finished before the retention window and keeps the rest', async () => {
    const publish = (topic: string) =>
      ctx.gatehouse.database.write((tx) => ctx.gatehouse.topics.publish(tx, topic, 'note.added', {}));
    await publish('note:old');
    await createQueue(ctx, cast.admin, { name: 'prune' });
    const old = await enqueue(ctx, cast.owner, 'prune', { kind: 'k' });
    const waiting = await enqueue(ctx, cast.owner, 'prune', { kind: 'k', priority: -1 });
    const worker = await cast.newWorker();
    expect((await claim(ctx, worker.headers, { queues: ['prune'] })).json().job.id).toBe(old.id);
    await workerCall(ctx, worker.headers, old.id, 'complete', { attempt: 1 });

    ctx.clock.advance(29 * 86_400);
    expect((await ctx.gatehouse.scheduler.runNow('prune-jobs')).detail).toMatchObject({ jobs_deleted: 0, topic_events_deleted: 0 });
    await publish('note:recent');
    ctx.clock.advance(2 * 86_400);
    const run = await ctx.gatehouse.scheduler.runNow('prune-jobs');
    expect(run.outcome).toBe('success');
    expect(run.detail).toMatchObject({ jobs_deleted: 1, topic_events_deleted: 1, retention_days: 30 });
    expect(await ctx.gatehouse.topics.latest('note:old')).toEqual([]);
    expect(await ctx.gatehouse.topics.latest('note:recent')).toHaveLength(1);
    expect((await call(ctx, 'GET', `/api/v1/jobs/${old.id}`, cast.owner)).statusCode).toBe(404);
    // Queued for 31 days but not finished: kept.
    expect((await call(ctx, 'GET', `/api/v1/jobs/${waiting.id}`, cast.owner)).statusCode).toBe(200);
  });
});
