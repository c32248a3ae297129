/**
 * Claims and completions that arrive together: on PostgreSQL the claims of many workers from one
 * queue, and their completions, share one statement each (TurnBatcher); on SQLite they share a
 * group commit. Either way the per-worker limit stays exact, no job is handed out twice, and a
 * stale or foreign completion in the same batch as good ones is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, type TestContext } from '../helpers/harness.js';
import { call, type Cast, claim, createQueue, getJob, JOBS_ENV, makeCast, workerCall } from './job-fixtures.js';

interface Claimed {
  job: { id: string };
  attempt: number;
}

describe.each(dialects)('claims and completions arriving together (%s)', (dialect) => {
  let ctx: TestContext;
  let cast: Cast;

  beforeAll(async () => {
    ctx = await createTestContext(dialect, { env: JOBS_ENV });
    cast = await makeCast(ctx);
  });
  afterAll(async () => {
    await ctx?.close();
  });

  it('keeps worker_concurrency exact, hands each job out once, and fences completions one by one', async () => {
    const q = `together-${dialect}`;
    await createQueue(ctx, cast.admin, { name: q, worker_concurrency: 2 });
    const enqueued = await call(ctx, 'POST', `/api/v1/queues/${q}/jobs`, cast.owner, { jobs: Array.from({ length: 60 }, (_, i) => ({ kind: 'k', payload: { i } })) });
    expect(enqueued.statusCode, enqueued.body).toBe(201);
    const workers = await Promise.all(Array.from({ length: 12 }, (_, i) => cast.newWorker(`w${i}`)));
    // Register every worker (its first claim upserts its row), then hand the jobs back.
    for (const w of workers) {
      const first = await claim(ctx, w.headers, { queues: [q] });
      expect(first.statusCode, first.body).toBe(200);
      const held = first.json<Claimed>();
      expect((await workerCall(ctx, w.headers, held.job.id, 'release', { attempt: held.attempt })).statusCode).toBe(200);
    }

    // Three claims per worker at once: each worker gets exactly two jobs, the third is refused.
    const answers = await Promise.all(workers.flatMap((w) => [0, 1, 2].map(async () => ({ w, res: await claim(ctx, w.headers, { queues: [q] }) }))));
    const byWorker = new Map<string, Claimed[]>();
    for (const { w, res } of answers) {
      expect([200, 409], res.body).toContain(res.statusCode);
      if (res.statusCode === 409) expect(res.json()).toMatchObject({ code: 'worker_busy' });
      else byWorker.set(w.id, [...(byWorker.get(w.id) ?? []), res.json<Claimed>()]);
    }
    for (const w of workers) expect(byWorker.get(w.id), w.id).toHaveLength(2);
    const ids = [...byWorker.values()].flat().map((c) => c.job.id);
    expect(new Set(ids).size).toBe(24);

    // Completions at once: every good one succeeds; a stale attempt and another worker's job are
    // refused in the same turn and change nothing.
    const [victim, thief] = [workers[0]!, workers[1]!];
    const victimJob = byWorker.get(victim.id)![0]!;
    const completions = await Promise.all([
      ...workers.flatMap((w) =>
        byWorker
          .get(w.id)!
          .filter((c) => c !== victimJob)
          .map((c) => workerCall(ctx, w.headers, c.job.id, 'complete', { attempt: c.attempt, result: { by: w.id } })),
      ),
      workerCall(ctx, thief.headers, victimJob.job.id, 'complete', { attempt: victimJob.attempt }),
      workerCall(ctx, victim.headers, victimJob.job.id, 'complete', { attempt: victimJob.attempt + 1 }),
    ]);
    const refused = completions.slice(-2);
    expect(completions.slice(0, -2).map((r) => r.statusCode)).toEqual(Array.from({ length: 23 }, () => 200));
    for (const r of refused) expect(r.json()).toMatchObject({ code: 'lease_lost' });
    const untouched = await getJob(ctx, cast.admin, victimJob.job.id);
    expect(untouched.job).toMatchObject({ state: 'running', worker_id: victim.id, attempt: victimJob.attempt });
    const done = await getJob(ctx, cast.admin, byWorker.get(thief.id)![0]!.job.id);
    expect(done.job).toMatchObject({ state: 'succeeded', result: { by: thief.id } });
    expect(done.events.map((e) => e.data.state).filter(Boolean).slice(-2)).toEqual(['running', 'succeeded']);
    // The victim still holds its job and completes it.
    expect((await workerCall(ctx, victim.headers, victimJob.job.id, 'complete', { attempt: victimJob.attempt })).statusCode).toBe(200);

    const batching = ctx.gatehouse.workerProtocol.batching;
    if (dialect === 'postgres') {
      // Claims and completions of several workers did share statements.
      expect(batching?.claims.largest).toBeGreaterThan(1);
      expect(batching?.completions.largest).toBeGreaterThan(1);
    } else {
      expect(batching).toBeUndefined();
    }
  });
});
