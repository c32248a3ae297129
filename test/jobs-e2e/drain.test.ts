/**
 * Ten `gatehouse worker` processes drain 2,000 jobs from a real `gatehouse serve`: every job
 * succeeds exactly once — none missing, none run twice — on SQLite and on PostgreSQL.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { dialects } from '../helpers/dialects.js';
import { inspectDatabase } from '../helpers/inspect-database.js';
import { killAllChildren } from '../helpers/server-process.js';
import {
  createQueue,
  createWorkerKeys,
  enqueue,
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

const JOBS = 2000;
const WORKERS = 10;

describe.each(dialects)('10 worker processes drain 2,000 jobs (%s)', (dialect) => {
  let js: JobServer | undefined;

  afterEach(async () => {
    await killAllWorkers();
    await killAllChildren();
    await js?.database.drop();
    js = undefined;
  });

  it('every job succeeds exactly once: no duplicates, none missing', { timeout: 120_000 }, async () => {
    js = await startJobServer(dialect);
    const server = js;
    const keys = await createWorkerKeys(server, WORKERS);
    await createQueue(server, { name: 'drain', lease_seconds: 60 });
    const ids = await enqueue(
      server,
      'drain',
      Array.from({ length: JOBS }, (_, n) => ({ kind: n % 2 ? 'odd' : 'even', payload: { n } })),
    );
    expect(new Set(ids).size).toBe(JOBS);

    const dir = handlerDir();
    const workers: WorkerProcess[] = keys.map((apiKey, i) =>
      spawnWorker({ base: server.base, apiKey, queue: 'drain', dir, name: `w${i + 1}`, args: ['--wait-seconds', '2'] }),
    );

    await waitUntil(async () => (await stateCounts(server, 'drain')).succeeded === JOBS, {
      timeoutMs: 90_000,
      everyMs: 500,
      describe: async () => `counts ${JSON.stringify(await stateCounts(server, 'drain'))}\n${workers.map((w) => w.output().slice(-1500)).join('\n---\n')}`,
    });

    // Graceful stop: every worker exits 0.
    const exits = await Promise.all(workers.map((w) => stopWorker(w)));
    expect(exits).toEqual(workers.map(() => ({ code: 0, signal: null })));

    // The server's view: all 2,000 succeeded, on their first attempt, each with a result.
    const jobs = await listJobs(server, 'drain');
    expect(jobs).toHaveLength(JOBS);
    expect(new Set(jobs.map((j) => j.id))).toEqual(new Set(ids));
    expect(jobs.filter((j) => j.state !== 'succeeded')).toEqual([]);
    expect(jobs.filter((j) => j.attempt !== 1).map((j) => [j.id, j.attempt])).toEqual([]);

    // The handlers' view: each id ran exactly once, in the process the server credits with it.
    const records = workers.flatMap((w) => w.records().map((r) => ({ ...r, worker: w.pid })));
    const runs = new Map<string, number>();
    for (const r of records) runs.set(r.id, (runs.get(r.id) ?? 0) + 1);
    expect([...runs.entries()].filter(([, count]) => count !== 1)).toEqual([]);
    expect(new Set(runs.keys())).toEqual(new Set(ids));
    const pidOf = new Map(records.map((r) => [r.id, r.pid]));
    const mismatched = jobs.filter((j) => (j.result as { pid: number }).pid !== pidOf.get(j.id));
    expect(mismatched).toEqual([]);
    expect(jobs.every((j) => (j.result as { n: number }).n === (j.payload as { n: number }).n)).toBe(true);
    // Work was spread: more than one process did some of it.
    expect(new Set(records.map((r) => r.pid)).size).toBeGreaterThan(1);

    // The database's history: exactly one `succeeded` state event per job.
    const handle = inspectDatabase(server.database);
    try {
      const events = await handle.db.selectFrom('job_event').select(['job_id', 'data']).where('type', '=', 'state').execute();
      const succeeded = new Map<string, number>();
      for (const e of events) {
        const data = (typeof e.data === 'string' ? JSON.parse(e.data) : e.data) as { state: string };
        if (data.state === 'succeeded') succeeded.set(e.job_id, (succeeded.get(e.job_id) ?? 0) + 1);
      }
      expect(succeeded.size).toBe(JOBS);
      expect([...succeeded.values()].every((count) => count === 1)).toBe(true);
    } finally {
      await handle.close();
    }
  });
});
