/**
 * Long-poll claims: at most JOB_MAX_WAITING_CLAIMS_PER_KEY wait at once per worker key (429
 * `too_many_waiting_claims` beyond), and a waiting claim costs no query of its own — every query
 * while claims wait is the one shared due-job scan — yet a delayed job that becomes due wakes them.
 * Queries are counted with a Kysely plugin on the database handle the server uses.
 */
import type { KyselyPlugin } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, type TestContext } from '../helpers/harness.js';
import { until } from '../realtime/fixtures.js';
import { type Cast, claim, createQueue, enqueue, JOBS_ENV, makeCast } from './job-fixtures.js';

/**
 * A test context whose database handle counts every query the server runs: counted as results
 * come back, so statements compiled once and executed as they are (the job protocol's hot ones)
 * count too.
 */
async function countingContext(dialect: 'sqlite' | 'postgres', env: Record<string, string>): Promise<{ ctx: TestContext; queries: () => number }> {
  let count = 0;
  const counter: KyselyPlugin = {
    transformQuery(args) {
      return args.node;
    },
    transformResult(args) {
      count += 1;
      return Promise.resolve(args.result);
    },
  };
  const ctx = await createTestContext(dialect, { env, wrapDatabase: (handle) => handle.withPlugin(counter) });
  return { ctx, queries: () => count };
}

describe.each(dialects)('waiting long-poll claims (%s)', (dialect) => {
  let ctx: TestContext;
  let queries: () => number;
  let cast: Cast;

  beforeAll(async () => {
    ({ ctx, queries } = await countingContext(dialect, { ...JOBS_ENV, JOB_MAX_WAITING_CLAIMS_PER_KEY: '3' }));
    cast = await makeCast(ctx);
  });
  afterAll(async () => {
    await ctx?.close();
  });

  const queueName = () => `wq-${Math.random().toString(36).slice(2, 10)}`;

  it('lets a worker key have 3 claims waiting; the 4th is a 429 problem, other keys and immediate claims are unaffected', async () => {
    const q = queueName();
    await createQueue(ctx, cast.admin, { name: q, worker_concurrency: 5 });
    const worker = await cast.newWorker();
    const before = ctx.gatehouse.workerProtocol.waitingClaims;
    const waiting = Array.from({ length: 3 }, () => claim(ctx, worker.headers, { queues: [q], wait_s: 25 }));
    await until(() => ctx.gatehouse.workerProtocol.waitingClaims === before + 3, 10_000, 'three claims waiting');

    const refused = await claim(ctx, worker.headers, { queues: [q], wait_s: 25 });
    expect(refused.statusCode).toBe(429);
    expect(refused.headers['content-type']).toContain('application/problem+json');
    expect(refused.json()).toMatchObject({ status: 429, code: 'too_many_waiting_claims', limit: 3 });
    // Answering at once is not waiting: still allowed.
    expect((await claim(ctx, worker.headers, { queues: [q] })).statusCode).toBe(204);
    // The cap is per key.
    const other = await cast.newWorker();
    const otherWaiting = claim(ctx, other.headers, { queues: [q], wait_s: 25 });
    await until(() => ctx.gatehouse.workerProtocol.waitingClaims === before + 4, 10_000, 'the other key waiting');

    for (let i = 0; i < 4; i++) await enqueue(ctx, cast.owner, q, { kind: 'k' });
    const answers = await Promise.all([...waiting, otherWaiting]);
    expect(answers.map((a) => a.statusCode)).toEqual([200, 200, 200, 200]);
    // Once they answered, the key may wait again.
    const next = claim(ctx, worker.headers, { queues: [q], wait_s: 25 });
    await until(() => ctx.gatehouse.workerProtocol.waitingClaims === before + 1, 10_000, 'waiting again');
    await enqueue(ctx, cast.owner, q, { kind: 'k' });
    expect((await next).statusCode).toBe(200);
  });

  it('waiting claims run no query each: only the shared due-job scan queries, and it wakes them when a delayed job becomes due', async () => {
    const q = queueName();
    await createQueue(ctx, cast.admin, { name: q, worker_concurrency: 5 });
    const protocol = ctx.gatehouse.workerProtocol;
    const workers = [await cast.newWorker(), await cast.newWorker(), await cast.newWorker()];
    const delayed = await enqueue(ctx, cast.owner, q, { kind: 'k', delay_s: 60 });
    const waiting = workers.map((w) => claim(ctx, w.headers, { queues: [q], wait_s: 25 }));
    await until(() => protocol.waitingClaims === 3, 10_000, 'three claims waiting');

    // Three scans later (≥ 2 s), the only queries run were the scans themselves: at most one per
    // scan for all claims together (none while the clock stands still), never one per claim.
    const scans = protocol.dueScans;
    const count = queries();
    ctx.clock.advance(1);
    await until(() => protocol.dueScans >= scans + 3, 15_000, 'three due-job scans');
    const scansRun = protocol.dueScans - scans;
    expect(queries() - count).toBeGreaterThanOrEqual(1);
    expect(queries() - count).toBeLessThanOrEqual(scansRun);
    expect(protocol.waitingClaims).toBe(3);

    // The delayed job becomes due: the next scan wakes the claims and one of them gets it.
    ctx.clock.advance(61);
    const first = await Promise.race(waiting);
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json().job.id).toBe(delayed.id);
    // The others went back to waiting; a new job wakes them (the enqueue's hint, no scan needed).
    await until(() => protocol.waitingClaims === 2, 10_000, 'two claims waiting again');
    await enqueue(ctx, cast.owner, q, { kind: 'k' });
    await enqueue(ctx, cast.owner, q, { kind: 'k' });
    expect((await Promise.all(waiting)).map((a) => a.statusCode)).toEqual([200, 200, 200]);
  });
});
