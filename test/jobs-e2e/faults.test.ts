/**
 * Crashes with real processes: `kill -9` of a worker in the middle of a job (the job is
 * reclaimed after its lease and finished by another worker; the dead worker's late calls are
 * fenced off), and `kill -9` of the server while jobs are in flight (the workers reconnect by
 * themselves and every job ends succeeded exactly once). On SQLite and PostgreSQL.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { GatehouseApiError, WorkerClient } from '../../src/worker/index.js';
import { dialects } from '../helpers/dialects.js';
import { inspectDatabase } from '../helpers/inspect-database.js';
import { killAllChildren } from '../helpers/server-process.js';
import {
  createQueue,
  createWorkerKeys,
  enqueue,
  getJob,
  getJobWithEvents,
  handlerDir,
  type JobServer,
  killAllWorkers,
  listJobs,
  spawnWorker,
  startJobServer,
  stateCounts,
  stopWorker,
  waitUntil,
  type WorkerProcess,
} from './fixtures.js';

/** Short leases and a sweeper every second, so lapsed leases are reclaimed quickly. */
const FAST_LEASES = { JOB_SWEEP_SECONDS: '1' };

/** Number of `succeeded` state events per job id, read from the database. */
async function succeededEvents(js: JobServer): Promise<Map<string, number>> {
  const handle = inspectDatabase(js.database);
  try {
    const events = await handle.db.selectFrom('job_event').select(['job_id', 'data']).where('type', '=', 'state').execute();
    const counts = new Map<string, number>();
    for (const e of events) {
      const data = (typeof e.data === 'string' ? JSON.parse(e.data) : e.data) as { state: string };
      if (data.state === 'succeeded') counts.set(e.job_id, (counts.get(e.job_id) ?? 0) + 1);
    }
    return counts;
  } finally {
    await handle.close();
  }
}

async function expectLeaseLost(call: Promise<unknown>): Promise<void> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GatehouseApiError);
  expect(error).toMatchObject({ status: 409, code: 'lease_lost' });
}

describe.each(dialects)('worker and server crashes (%s)', (dialect) => {
  let js: JobServer | undefined;

  afterEach(async () => {
    await killAllWorkers();
    await killAllChildren();
    await js?.database.drop();
    js = undefined;
  });

  it('kill -9 a worker mid-job: another worker finishes it as attempt 2; the dead one is fenced off', { timeout: 90_000 }, async () => {
    js = await startJobServer(dialect, FAST_LEASES);
    const server = js;
    const [keyA = '', keyB = ''] = await createWorkerKeys(server, 2);
    await createQueue(server, { name: 'faults', lease_seconds: 5 });
    const [id = ''] = await enqueue(server, 'faults', [{ kind: 'slow', payload: { n: 1 } }]);
    const dir = handlerDir();

    // Worker A takes the job and sleeps in it (heartbeating).
    const a = spawnWorker({ base: server.base, apiKey: keyA, queue: 'faults', dir, name: 'a', env: { SLOW_MS: '600000' }, args: ['--wait-seconds', '1'] });
    const held = await waitUntil(
      async () => {
        const job = await getJob(server, id);
        return job.state === 'running' && a.records().some((r) => r.id === id && r.event === 'start') ? job : undefined;
      },
      { timeoutMs: 30_000, describe: () => `A never started the job:\n${a.output()}` },
    );
    expect(held.attempt).toBe(1);
    const workerA = held.worker_id;
    expect(workerA).toEqual(expect.any(String));

    // kill -9: no release, no shutdown code at all.
    a.child.kill('SIGKILL');
    expect(await a.exited).toEqual({ code: null, signal: 'SIGKILL' });

    // Worker B (its handler does not sleep) gets it once A's lease lapses and the sweeper requeues it.
    const b = spawnWorker({ base: server.base, apiKey: keyB, queue: 'faults', dir, name: 'b', args: ['--wait-seconds', '1'] });
    const done = await waitUntil(
      async () => {
        const job = await getJob(server, id);
        return job.state === 'succeeded' ? job : undefined;
      },
      { timeoutMs: 45_000, describe: async () => `job: ${JSON.stringify(await getJob(server, id))}\nB:\n${b.output()}` },
    );
    expect(done).toMatchObject({ state: 'succeeded', attempt: 2, lease_expiries: 1, failures: 0 });
    expect(done.worker_id).not.toBe(workerA);
    expect(done.result).toEqual({ n: 1, pid: b.pid });
    expect(b.records().filter((r) => r.id === id)).toEqual([{ id, attempt: 2, kind: 'slow', event: 'done', pid: b.pid }]);
    expect(a.records().filter((r) => r.id === id).map((r) => [r.attempt, r.event])).toEqual([[1, 'start']]);
    // B logs the success once the server's answer to its `complete` arrives, which can be a moment
    // after the server recorded it.
    const succeededLine = new RegExp(`succeeded job_id=${id} kind=slow attempt=2`);
    await waitUntil(async () => succeededLine.test(b.output()) || undefined, { timeoutMs: 15_000, describe: async () => `B:\n${b.output()}` });

    // The dead worker's late calls under attempt 1 change nothing.
    const before = await getJobWithEvents(server, id);
    const lateA = new WorkerClient({ server: server.base, apiKey: keyA });
    await expectLeaseLost(lateA.complete(id, { attempt: 1, result: { late: true } }));
    await expectLeaseLost(lateA.fail(id, { attempt: 1, error: { message: 'late' }, retryable: true }));
    await expectLeaseLost(lateA.heartbeat(id, { attempt: 1, progress: 0.5 }));
    const after = await getJobWithEvents(server, id);
    expect(after).toEqual(before);
    expect(after.events.at(-1)?.data).toMatchObject({ state: 'succeeded', attempt: 2 });
    expect((await succeededEvents(server)).get(id)).toBe(1);

    expect(await stopWorker(b)).toEqual({ code: 0, signal: null });
  });

  it('kill -9 the server mid-run and start it again: workers reconnect, no job is lost', { timeout: 120_000 }, async () => {
    js = await startJobServer(dialect, FAST_LEASES);
    const server = js;
    const JOBS = 400;
    const keys = await createWorkerKeys(server, 4);
    await createQueue(server, { name: 'crash', lease_seconds: 5 });
    const ids = await enqueue(server, 'crash', Array.from({ length: JOBS }, (_, n) => ({ kind: 'work', payload: { n } })));
    const dir = handlerDir();
    const workers: WorkerProcess[] = keys.map((apiKey, i) =>
      spawnWorker({ base: server.base, apiKey, queue: 'crash', dir, name: `c${i + 1}`, env: { WORK_MS: '25' }, args: ['--wait-seconds', '2'] }),
    );

    // Let part of the work happen, then crash the server with jobs in flight.
    await waitUntil(async () => ((await stateCounts(server, 'crash')).succeeded ?? 0) >= 60, {
      timeoutMs: 45_000,
      describe: () => workers.map((w) => w.output().slice(-1000)).join('\n---\n'),
    });
    expect(await server.server.crash()).toEqual({ code: null, signal: 'SIGKILL' });
    const doneAtCrash = workers.reduce((sum, w) => sum + w.records().length, 0);
    expect(doneAtCrash).toBeLessThan(JOBS);

    // While it is down the workers keep trying (nobody exits).
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(workers.map((w) => w.child.exitCode)).toEqual(workers.map(() => null));

    await server.restart();
    await waitUntil(async () => (await stateCounts(server, 'crash')).succeeded === JOBS, {
      timeoutMs: 60_000,
      everyMs: 500,
      describe: async () => `counts ${JSON.stringify(await stateCounts(server, 'crash'))}\n${workers.map((w) => w.output().slice(-1500)).join('\n---\n')}`,
    });

    // Every job succeeded, exactly one `succeeded` event each.
    const jobs = await listJobs(server, 'crash');
    expect(jobs).toHaveLength(JOBS);
    expect(jobs.filter((j) => j.state !== 'succeeded')).toEqual([]);
    const succeeded = await succeededEvents(server);
    expect(new Set(succeeded.keys())).toEqual(new Set(ids));
    expect([...succeeded.values()].every((count) => count === 1)).toBe(true);

    // The same worker processes did the work after the restart (they reconnected by themselves).
    const records = workers.flatMap((w) => w.records());
    expect(records.length).toBeGreaterThan(doneAtCrash);
    expect(new Set(records.map((r) => r.id))).toEqual(new Set(ids));
    // At-least-once: a job run twice was run under different attempts, never twice under one.
    const seen = new Set<string>();
    for (const r of records) {
      const key = `${r.id}#${r.attempt}`;
      expect(seen.has(key), `job ${r.id} ran twice as attempt ${r.attempt}`).toBe(false);
      seen.add(key);
    }
    // The credited run is one that happened: its process recorded that job under that attempt.
    const recorded = new Set(records.map((r) => `${r.id}#${r.attempt}#${r.pid}`));
    expect(jobs.filter((j) => !recorded.has(`${j.id}#${j.attempt}#${(j.result as { pid: number }).pid}`))).toEqual([]);

    const exits = await Promise.all(workers.map((w) => stopWorker(w)));
    expect(exits).toEqual(workers.map(() => ({ code: 0, signal: null })));
  });
});
