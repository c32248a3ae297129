/**
 * Peer job queues on the same PostgreSQL server, processing no-op jobs: pg-boss and
 * graphile-worker, each in its own scratch database, in this process (the library's own
 * workers, no HTTP). For each mode: N jobs are enqueued first through the library's batched
 * insert (timed: the enqueue rate), then processed by the library's workers with the given
 * tuning (timed from starting the workers until no job is left pending: the processing rate).
 *
 * Versions are the newest whose `engines` accept Node 20 (pg-boss 11 and graphile-worker 0.18
 * need Node 22): see `PEER_VERSIONS`.
 */
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Logger as GraphileLogger, makeWorkerUtils, run, runMigrations } from 'graphile-worker';
import pg from 'pg';
import PgBoss from 'pg-boss';
import { scratchPostgres } from '../lib/scratch.js';

const require = createRequire(import.meta.url);

/** The installed versions of the peers, read from their package.json. */
export const PEER_VERSIONS = {
  pgBoss: (require('pg-boss/package.json') as { version: string }).version,
  graphileWorker: (require('graphile-worker/package.json') as { version: string }).version,
};

/** One peer measurement. */
export interface PeerFigures {
  library: 'pg-boss' | 'graphile-worker';
  version: string;
  /** `single` (one job per fetch/complete) or `batched`. */
  mode: 'single' | 'batched';
  /** What was run, e.g. `fetch → complete, 10 loops`. */
  setup: string;
  jobs: number;
  /** Jobs processed when the measurement ended (less than `jobs` when it hit the time limit). */
  processed: number;
  /** Jobs inserted per second through the library's batched insert (chunks of 1,000). */
  enqueuePerSecond: number;
  /** Jobs processed per second, from starting the workers until none is pending (or the time limit). */
  jobsPerSecond: number;
  processSeconds: number;
}

/** Options for {@link measurePeers}. */
export interface PeerOptions {
  /** PostgreSQL server URL allowing CREATE DATABASE. */
  serverUrl: string;
  /** Jobs per measurement. */
  jobs: number;
  /**
   * Longest a processing measurement may take (seconds); a slower mode is stopped there and its
   * rate is the jobs processed so far over that time (`PeerFigures.processed` < `jobs`).
   */
  timeoutSeconds: number;
  log: (message: string) => void;
}

const CHUNK = 1000;
const silentGraphileLogger = new GraphileLogger(() => () => {});

/**
 * Polls `pending()` every 20 ms until it answers 0 or `timeoutSeconds` have passed.
 * @returns the jobs still pending (0 when drained).
 */
async function waitUntilDrained(pending: () => Promise<number>, timeoutSeconds: number): Promise<number> {
  const deadline = performance.now() + timeoutSeconds * 1000;
  for (;;) {
    const left = await pending();
    if (left === 0 || performance.now() > deadline) return left;
    await sleep(20);
  }
}

async function count(pool: pg.Pool, sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(sql, params);
  return Number(rows[0]?.n ?? 0);
}

type PgBossMode = { setup: string; mode: 'single' | 'batched'; run: (boss: PgBoss, queue: string, stop: () => boolean) => Promise<void> };

/** fetch → complete loops: the library used exactly like an HTTP worker uses Gatehouse. */
function pgBossLoops(loops: number, batchSize: number): PgBossMode['run'] {
  return async (boss, queue, stop) => {
    const loop = async () => {
      while (!stop()) {
        const jobs = await boss.fetch(queue, { batchSize });
        if (jobs.length === 0) {
          await sleep(5);
          continue;
        }
        await boss.complete(queue, jobs.map((j) => j.id));
      }
    };
    await Promise.all(Array.from({ length: loops }, loop));
  };
}

async function measurePgBoss(options: PeerOptions): Promise<PeerFigures[]> {
  const modes: PgBossMode[] = [
    { setup: '`fetch()` → `complete()`, 1 job per call, 10 loops', mode: 'single', run: pgBossLoops(10, 1) },
    { setup: '`fetch({batchSize: 100})` → `complete(ids)`, 4 loops', mode: 'batched', run: pgBossLoops(4, 100) },
    {
      setup: '`work({batchSize: 100, pollingIntervalSeconds: 0.5})` × 10 workers',
      mode: 'batched',
      run: async (boss, queue, stop) => {
        for (let i = 0; i < 10; i++) await boss.work(queue, { batchSize: 100, pollingIntervalSeconds: 0.5 }, async () => {});
        while (!stop()) await sleep(20);
        await boss.offWork(queue);
      },
    },
  ];
  const db = await scratchPostgres(options.serverUrl);
  const boss = new PgBoss({ connectionString: db.url, max: 20, supervise: false, schedule: false });
  boss.on('error', (error: Error) => options.log(`pg-boss error: ${error.message}`));
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  const out: PeerFigures[] = [];
  try {
    await boss.start();
    let n = 0;
    for (const mode of modes) {
      const queue = `bench-${n++}`;
      await boss.createQueue(queue);
      const enqueueStart = performance.now();
      for (let i = 0; i < options.jobs; i += CHUNK) {
        const size = Math.min(CHUNK, options.jobs - i);
        await boss.insert(Array.from({ length: size }, (_, k) => ({ name: queue, data: { i: i + k } })));
      }
      const enqueueSeconds = (performance.now() - enqueueStart) / 1000;
      let drained = false;
      const started = performance.now();
      const running = mode.run(boss, queue, () => drained);
      let left: number;
      try {
        left = await waitUntilDrained(
          () => count(pool, "SELECT count(*) AS n FROM pgboss.job WHERE name = $1 AND state IN ('created', 'retry', 'active')", [queue]),
          options.timeoutSeconds,
        );
      } finally {
        drained = true;
      }
      const processSeconds = (performance.now() - started) / 1000;
      await running;
      const figures: PeerFigures = {
        library: 'pg-boss',
        version: PEER_VERSIONS.pgBoss,
        mode: mode.mode,
        setup: mode.setup,
        jobs: options.jobs,
        processed: options.jobs - left,
        enqueuePerSecond: options.jobs / enqueueSeconds,
        jobsPerSecond: (options.jobs - left) / processSeconds,
        processSeconds,
      };
      options.log(`  pg-boss ${mode.setup}: enqueue ${Math.round(figures.enqueuePerSecond)}/s, processed ${Math.round(figures.jobsPerSecond)} jobs/s${figures.processed < figures.jobs ? ` (${figures.processed} of ${figures.jobs} within the time limit)` : ''}`);
      out.push(figures);
    }
  } finally {
    await boss.stop({ graceful: false, wait: true }).catch(() => {});
    await pool.end();
    await db.drop();
  }
  return out;
}

interface GraphileMode {
  setup: string;
  mode: 'single' | 'batched';
  concurrency: number;
  localQueueSize: number;
  completeJobBatchDelay: number;
}

async function measureGraphileWorker(options: PeerOptions): Promise<PeerFigures[]> {
  const modes: GraphileMode[] = [
    { setup: '`run({concurrency: 10})`, defaults (one job per fetch and per completion)', mode: 'single', concurrency: 10, localQueueSize: -1, completeJobBatchDelay: -1 },
    {
      setup: '`run({concurrency: 10})` with `localQueue: {size: 500}`, `completeJobBatchDelay: 0`',
      mode: 'batched',
      concurrency: 10,
      localQueueSize: 500,
      completeJobBatchDelay: 0,
    },
  ];
  const db = await scratchPostgres(options.serverUrl);
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  const out: PeerFigures[] = [];
  try {
    await runMigrations({ connectionString: db.url, logger: silentGraphileLogger });
    const utils = await makeWorkerUtils({ connectionString: db.url, logger: silentGraphileLogger });
    try {
      for (const mode of modes) {
        const enqueueStart = performance.now();
        for (let i = 0; i < options.jobs; i += CHUNK) {
          const size = Math.min(CHUNK, options.jobs - i);
          await utils.addJobs(Array.from({ length: size }, (_, k) => ({ identifier: 'noop', payload: { i: i + k } })));
        }
        const enqueueSeconds = (performance.now() - enqueueStart) / 1000;
        const started = performance.now();
        const runner = await run({
          connectionString: db.url,
          concurrency: mode.concurrency,
          noHandleSignals: true,
          pollInterval: 1000,
          logger: silentGraphileLogger,
          taskList: { noop: async () => {} },
          preset: {
            worker: {
              ...(mode.localQueueSize > 0 ? { localQueue: { size: mode.localQueueSize } } : {}),
              completeJobBatchDelay: mode.completeJobBatchDelay,
            },
          },
        });
        let left: number;
        let processSeconds: number;
        try {
          // Completed jobs are deleted from the job table.
          left = await waitUntilDrained(() => count(pool, 'SELECT count(*) AS n FROM graphile_worker._private_jobs'), options.timeoutSeconds);
          processSeconds = (performance.now() - started) / 1000;
        } finally {
          await runner.stop();
        }
        // Leftovers (time limit reached) must not count in the next mode.
        if (left > 0) await pool.query('DELETE FROM graphile_worker._private_jobs');
        const figures: PeerFigures = {
          library: 'graphile-worker',
          version: PEER_VERSIONS.graphileWorker,
          mode: mode.mode,
          setup: mode.setup,
          jobs: options.jobs,
          processed: options.jobs - left,
          enqueuePerSecond: options.jobs / enqueueSeconds,
          jobsPerSecond: (options.jobs - left) / processSeconds,
          processSeconds,
        };
        options.log(`  graphile-worker ${mode.setup}: enqueue ${Math.round(figures.enqueuePerSecond)}/s, processed ${Math.round(figures.jobsPerSecond)} jobs/s${figures.processed < figures.jobs ? ` (${figures.processed} of ${figures.jobs} within the time limit)` : ''}`);
        out.push(figures);
      }
    } finally {
      await utils.release();
    }
  } finally {
    await pool.end();
    await db.drop();
  }
  return out;
}

/** Measures pg-boss, then graphile-worker, each on a fresh scratch database of the same server. */
export async function measurePeers(options: PeerOptions): Promise<PeerFigures[]> {
  return [...(await measurePgBoss(options)), ...(await measureGraphileWorker(options))];
}
