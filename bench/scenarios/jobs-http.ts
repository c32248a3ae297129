/**
 * Gatehouse's job system over real HTTP, against a Gatehouse listening in this process on one
 * database: enqueue rates (1,000 jobs per request, and one per request), worker cycles
 * (`claim → heartbeat → complete`, one job per request) with 1, 10, 50… simulated workers each
 * holding its own API key, batched cycles (`claim-batch` + `complete-batch`), and the latency
 * from a worker's heartbeat to the `job.progress` event on an SSE subscriber. The clients run in
 * worker threads ({@link inThread}); the server's main-thread CPU per job is read from /proc.
 */
import { mainThreadCpuMs } from '../lib/load.js';
import { createQueue, type JobsFixture, prepareJobsFixture } from '../lib/jobs-setup.js';
import type { RunningServer } from '../../src/server.js';
import { cycleName, type EnqueueFigures, inThread } from './jobs-clients.js';

/** Options for {@link measureJobsHttp}. */
export interface JobsHttpOptions {
  /** Seconds per throughput measurement. */
  durationSeconds: number;
  /** Queued jobs made available before each one-job-per-request cycle measurement. */
  prefillJobs: number;
  /** Queued jobs made available before the batched measurement. */
  batchPrefillJobs: number;
  /** Simulated worker counts for the cycle measurements, e.g. `[1, 10, 50]`. */
  workerCounts: number[];
  /** Workers in the batched measurement. */
  batchWorkers: number;
  /** `max_jobs` per claim-batch (and the queue's `worker_concurrency`). */
  batchSize: number;
  /** Connections sending one-job enqueue requests. */
  enqueueConnections: number;
  /** Heartbeats timed for the SSE latency. */
  sseHeartbeats: number;
  log: (message: string) => void;
}

/** A throughput figure with the server's main-thread CPU per job. */
export interface RateFigures {
  jobs: number;
  requests: number;
  seconds: number;
  /** Jobs per second. */
  rate: number;
  /** Server main-thread CPU µs per job (user + system, /proc). */
  cpuUsPerJob: number;
}

/** One cycle measurement. */
export interface CycleRow extends RateFigures {
  workers: number;
  heartbeat: boolean;
  /** Completions claim the next job (`claim_next`, as the worker SDK does). */
  claimNext?: boolean;
  ranDry: number;
  p50Ms: number;
  p99Ms: number;
}

/** Heartbeat → SSE latency summary (milliseconds). */
export interface SseSummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
  heartbeatP50: number;
  heartbeatP99: number;
}

/** Everything measured on one database. */
export interface JobsHttpFigures {
  enqueueBatch: (RateFigures & { batchSize: number; concurrency: number }) | null;
  enqueueSingle: (RateFigures & { concurrency: number }) | null;
  cycles: CycleRow[];
  batched: (CycleRow & { batchSize: number }) | null;
  sse: SseSummary | null;
  /** Parts that could not run, with the error. */
  failures: string[];
}

function sortedPercentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function withCpu<T extends { jobs: number; requests: number; seconds: number }>(run: () => Promise<T>): Promise<T & RateFigures> {
  const before = mainThreadCpuMs() ?? 0;
  const result = await run();
  const cpuMs = (mainThreadCpuMs() ?? 0) - before;
  return { ...result, rate: result.jobs / result.seconds, cpuUsPerJob: result.jobs > 0 ? (cpuMs * 1000) / result.jobs : 0 };
}

/** Keeps track of how many jobs are still queued in a bench queue, and tops it up. */
class Reservoir {
  private queued = 0;
  constructor(
    private readonly fixture: JobsFixture,
    readonly queue: string,
  ) {}

  async fill(target: number): Promise<EnqueueFigures | null> {
    const missing = target - this.queued;
    if (missing <= 0) return null;
    const figures = await inThread('enqueueBatches', {
      base: this.fixture.base,
      key: this.fixture.adminKey,
      queue: this.queue,
      total: missing,
      batchSize: 1000,
      concurrency: 4,
    });
    this.queued += missing;
    return figures;
  }

  took(jobs: number): void {
    this.queued -= jobs;
  }
}

/** Runs every job scenario against `server`; a part that fails is recorded and the rest still run. */
export async function measureJobsHttp(server: RunningServer, label: string, options: JobsHttpOptions): Promise<JobsHttpFigures> {
  const maxWorkers = Math.max(...options.workerCounts, options.batchWorkers);
  const fixture = await prepareJobsFixture(server, maxWorkers + 1);
  const base = fixture.base;
  const failures: string[] = [];
  const log = (m: string) => options.log(`  ${label} ${m}`);

  await createQueue(fixture, 'bench-cycles');
  await createQueue(fixture, 'bench-single');
  await createQueue(fixture, 'bench-batched', { worker_concurrency: options.batchSize });
  await createQueue(fixture, 'bench-sse');
  const cycles = new Reservoir(fixture, 'bench-cycles');
  const batched = new Reservoir(fixture, 'bench-batched');

  /** Runs one part; a failure (e.g. an endpoint not there yet) is recorded and the rest still run. */
  const attempt = async <T>(part: string, fn: () => Promise<T>): Promise<T | null> => {
    try {
      return await fn();
    } catch (error) {
      const message = error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
      failures.push(`${part}: ${message}`);
      log(`${part} failed: ${message}`);
      return null;
    }
  };

  // Warm-up: JIT, connection pools, the API-key caches, worker registration of every key.
  await attempt('warm-up', async () => {
    await cycles.fill(Math.max(2000, maxWorkers * 20));
    const warm = await inThread('runCycles', { base, keys: fixture.workerKeys.slice(0, maxWorkers), queue: cycles.queue, durationSeconds: 1, heartbeat: true });
    cycles.took(warm.jobs);
  });

  // Enqueue, 1,000 jobs per request: the first top-up of the cycles queue.
  const enqueueConcurrency = 4;
  const enqueueBatch = await attempt('enqueue, 1,000 jobs per request', () =>
    withCpu(async () => {
      const filled = await cycles.fill(2 * options.prefillJobs);
      if (!filled) throw new Error('nothing to enqueue');
      return filled;
    }),
  );
  if (enqueueBatch) log(`enqueue, 1,000 jobs per request: ${Math.round(enqueueBatch.rate)} jobs/s`);

  const enqueueSingle = await attempt('enqueue, 1 job per request', () =>
    withCpu(() =>
      inThread('enqueueSingles', { base, key: fixture.adminKey, queue: 'bench-single', durationSeconds: options.durationSeconds, concurrency: options.enqueueConnections }),
    ),
  );
  if (enqueueSingle) log(`enqueue, 1 job per request (${options.enqueueConnections} connections): ${Math.round(enqueueSingle.rate)} jobs/s`);

  const rows: CycleRow[] = [];
  const runs: Array<{ workers: number; heartbeat: boolean; claimNext: boolean }> = [
    ...options.workerCounts.map((workers) => ({ workers, heartbeat: true, claimNext: false })),
    { workers: Math.max(...options.workerCounts), heartbeat: false, claimNext: false },
    { workers: Math.max(...options.workerCounts), heartbeat: false, claimNext: true },
  ];
  for (const run of runs) {
    const name = `${cycleName(run)}, ${run.workers} workers`;
    const figures = await attempt(name, async () => {
      await cycles.fill(options.prefillJobs);
      const result = await withCpu(() =>
        inThread('runCycles', {
          base,
          keys: fixture.workerKeys.slice(0, run.workers),
          queue: cycles.queue,
          durationSeconds: options.durationSeconds,
          heartbeat: run.heartbeat,
          claimNext: run.claimNext,
        }),
      );
      cycles.took(result.jobs);
      return result;
    });
    if (!figures) continue;
    rows.push({ ...figures, ...run });
    log(
      `${name}: ${Math.round(figures.rate)} jobs/s, server CPU ${Math.round(figures.cpuUsPerJob)} µs/job (p50 ${figures.p50Ms.toFixed(1)} ms, p99 ${figures.p99Ms.toFixed(1)} ms per job${figures.ranDry ? `, ${figures.ranDry} ran dry` : ''})`,
    );
  }

  const batchName = `claim-batch (${options.batchSize}) → complete-batch, ${options.batchWorkers} workers`;
  const batchFigures = await attempt(batchName, async () => {
    await batched.fill(options.batchPrefillJobs);
    const result = await withCpu(() =>
      inThread('runBatched', {
        base,
        keys: fixture.workerKeys.slice(0, options.batchWorkers),
        queue: batched.queue,
        durationSeconds: options.durationSeconds,
        maxJobs: options.batchSize,
      }),
    );
    batched.took(result.jobs);
    return result;
  });
  if (batchFigures) log(`${batchName}: ${Math.round(batchFigures.rate)} jobs/s${batchFigures.ranDry ? ` (${batchFigures.ranDry} ran dry)` : ''}`);

  const sse = await attempt('heartbeat → SSE latency', async (): Promise<SseSummary> => {
    const figures = await inThread('measureSse', {
      base,
      adminKey: fixture.adminKey,
      workerKey: fixture.workerKeys[maxWorkers] as string,
      queue: 'bench-sse',
      heartbeats: options.sseHeartbeats,
    });
    return {
      count: figures.latenciesMs.length,
      p50: sortedPercentile(figures.latenciesMs, 50),
      p99: sortedPercentile(figures.latenciesMs, 99),
      max: Math.max(...figures.latenciesMs),
      heartbeatP50: sortedPercentile(figures.heartbeatMs, 50),
      heartbeatP99: sortedPercentile(figures.heartbeatMs, 99),
    };
  });
  if (sse) log(`heartbeat → SSE event: p50 ${sse.p50.toFixed(2)} ms, p99 ${sse.p99.toFixed(2)} ms over ${sse.count}`);

  return {
    enqueueBatch: enqueueBatch && { ...enqueueBatch, batchSize: 1000, concurrency: enqueueConcurrency },
    enqueueSingle: enqueueSingle && { ...enqueueSingle, concurrency: options.enqueueConnections },
    cycles: rows,
    batched: batchFigures && { ...batchFigures, workers: options.batchWorkers, heartbeat: false, batchSize: options.batchSize },
    sse,
    failures,
  };
}
