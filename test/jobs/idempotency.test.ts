/**
 * Idempotency keys are scoped per (queue, owner) (hardening item 1): another user's key never
 * resolves to their job, in either order; a key reused with a different body is
 * `409 idempotency_conflict`; batches follow the same rules, all or nothing — on SQLite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_ACTOR } from '../../src/cli/context.js';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, type TestContext } from '../helpers/harness.js';
import { call, type Cast, createQueue, enqueue, JOBS_ENV, type JobJson, makeCast } from './job-fixtures.js';

describe.each(dialects)('idempotency keys per (queue, owner) (%s)', (dialect) => {
  let ctx: TestContext;
  let cast: Cast;
  let n = 0;
  const queueName = () => `idem${++n}-${dialect}`;
  const post = (as: Record<string, string>, q: string, body: Record<string, unknown>) => call(ctx, 'POST', `/api/v1/queues/${q}/jobs`, as, body);

  beforeAll(async () => {
    ctx = await createTestContext(dialect, { env: JOBS_ENV });
    cast = await makeCast(ctx);
  });
  afterAll(async () => {
    await ctx?.close();
  });

  it("never hands one user's job to another user reusing the key, whoever came first", async () => {
    const q = queueName();
    await createQueue(ctx, cast.admin, { name: q });
    const alice = await enqueue(ctx, cast.owner, q, { kind: 'k', payload: { secret: 'alice' }, idempotency_key: 'shared' });

    const bob = await post(cast.other, q, { kind: 'k', payload: { mine: 'bob' }, idempotency_key: 'shared' });
    expect(bob.statusCode, bob.body).toBe(201);
    const bobJob = bob.json<JobJson & { idempotent_replay: boolean }>();
    expect(bobJob.id).not.toBe(alice.id);
    expect(bobJob).toMatchObject({ payload: { mine: 'bob' }, idempotent_replay: false });
    expect(bob.body).not.toContain('alice');

    // Bob first: Alice's later enqueue is hers, not hijacked.
    const first = await enqueue(ctx, cast.other, q, { kind: 'k', payload: { n: 1 }, idempotency_key: 'squat' });
    const victim = await post(cast.owner, q, { kind: 'k', payload: { n: 1 }, idempotency_key: 'squat' });
    expect(victim.statusCode, victim.body).toBe(201);
    expect(victim.json()).toMatchObject({ idempotent_replay: false, payload: { n: 1 } });
    expect(victim.json<JobJson>().id).not.toBe(first.id);
    expect(victim.json<JobJson>().owner_id).toBe(cast.ownerId);

    // The operator (CLI, no owner) has its own scope too.
    const operator = await ctx.gatehouse.jobs.enqueue(q, { kind: 'k', payload: { secret: 'alice' }, idempotency_key: 'shared' }, CLI_ACTOR);
    expect(operator.replayed).toBe(false);
    expect(operator.job.owner_id).toBeNull();
    const again = await ctx.gatehouse.jobs.enqueue(q, { kind: 'k', payload: { secret: 'alice' }, idempotency_key: 'shared' }, CLI_ACTOR);
    expect(again).toMatchObject({ replayed: true, job: { id: operator.job.id } });
  });

  it('replays the same body (key order aside) and answers 409 idempotency_conflict to a different one', async () => {
    const q = queueName();
    await createQueue(ctx, cast.admin, { name: q });
    const body = { kind: 'k', payload: { a: 1, b: [1, { c: 2, d: 3 }] }, priority: 3, idempotency_key: 'once' };
    const job = await enqueue(ctx, cast.owner, q, body);
    const replay = await post(cast.owner, q, { ...body, payload: { b: [1, { d: 3, c: 2 }], a: 1 } });
    expect(replay.statusCode, replay.body).toBe(200);
    expect(replay.json()).toMatchObject({ id: job.id, idempotent_replay: true });

    for (const changed of [{ payload: { a: 2 } }, { kind: 'other' }, { priority: 4 }, { parent_type: 'x', parent_id: 'y' }]) {
      const res = await post(cast.owner, q, { ...body, ...changed });
      expect(res.statusCode, JSON.stringify(changed)).toBe(409);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json()).toMatchObject({ code: 'idempotency_conflict', errors: [{ field: '/idempotency_key' }] });
    }
    const list = await call(ctx, 'GET', `/api/v1/jobs?queue=${q}`, cast.owner);
    expect(list.json<{ items: JobJson[] }>().items.map((j) => j.id)).toEqual([job.id]);
  });

  it('applies the same rules to batches, all or nothing', async () => {
    const q = queueName();
    await createQueue(ctx, cast.admin, { name: q });
    const mine = await enqueue(ctx, cast.owner, q, { kind: 'k', payload: { n: 1 }, idempotency_key: 'a' });

    // Another user's batch with the same key gets its own job.
    const theirs = await post(cast.other, q, { jobs: [{ kind: 'k', payload: { n: 9 }, idempotency_key: 'a' }] });
    expect(theirs.statusCode, theirs.body).toBe(201);
    expect(theirs.json()).toMatchObject({ created: 1, existing: 0 });
    expect(theirs.json<{ items: JobJson[] }>().items[0]!.id).not.toBe(mine.id);

    const ok = await post(cast.owner, q, {
      jobs: [{ kind: 'k', payload: { n: 1 }, idempotency_key: 'a' }, { kind: 'k', idempotency_key: 'b' }, { kind: 'k', idempotency_key: 'b' }],
    });
    expect(ok.statusCode, ok.body).toBe(201);
    expect(ok.json()).toMatchObject({ created: 1, existing: 1 });
    const items = ok.json<{ items: JobJson[] }>().items;
    expect(items[0]!.id).toBe(mine.id);
    expect(items[1]!.id).toBe(items[2]!.id);

    const countJobs = async () => (await call(ctx, 'GET', `/api/v1/jobs?queue=${q}`, cast.owner)).json<{ items: JobJson[] }>().items.length;
    const before = await countJobs();
    const inBatch = await post(cast.owner, q, { jobs: [{ kind: 'k', idempotency_key: 'c' }, { kind: 'k', payload: { x: 1 }, idempotency_key: 'c' }] });
    expect(inBatch.statusCode, inBatch.body).toBe(409);
    expect(inBatch.json()).toMatchObject({ code: 'idempotency_conflict', errors: [{ field: '/jobs/1/idempotency_key' }] });
    const withExisting = await post(cast.owner, q, { jobs: [{ kind: 'k', idempotency_key: 'new' }, { kind: 'k', payload: { n: 2 }, idempotency_key: 'a' }] });
    expect(withExisting.statusCode, withExisting.body).toBe(409);
    expect(withExisting.json()).toMatchObject({ code: 'idempotency_conflict', errors: [{ field: '/jobs/1/idempotency_key' }] });
    expect(await countJobs()).toBe(before);
  });
});
