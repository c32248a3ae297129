/**
 * `npm run bench:jobs`: the job system's figures (DESIGN.md, "Performance targets"): enqueue
 * rates, worker cycles per second over HTTP with 1, 10 and 50 workers on SQLite and PostgreSQL,
 * batched claims, heartbeat → SSE latency, idle WebSocket memory, and pg-boss and
 * graphile-worker on the same PostgreSQL for comparison. Prints a table and writes
 * `bench/JOBS-RESULTS.md`; its first paragraphs list the knobs (environment variables).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { formatJobsConsole, formatJobsMarkdown, type JobsBenchReport } from './lib/jobs-report.js';
import { scratchPostgres, scratchSqlite, type ScratchDatabase } from './lib/scratch.js';
import { startGatehouse } from './lib/servers.js';
import { type JobsHttpFigures, type JobsHttpOptions, measureJobsHttp } from './scenarios/jobs-http.js';
import { measurePeers, type PeerFigures } from './scenarios/jobs-peers.js';
import { measureWsMemory, type WsMemoryFigures } from './scenarios/jobs-ws-memory.js';

const env = process.env;
const positive = (name: string, fallback: number): number => {
  const value = Number(env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
};
const list = (name: string, fallback: string): string[] =>
  (env[name] ?? fallback)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

const PARTS = ['sqlite', 'postgres', 'peers', 'ws'] as const;
const parts = new Set(list('BENCH_JOBS_PARTS', PARTS.join(',')));
for (const p of parts) if (!(PARTS as readonly string[]).includes(p)) throw new Error(`BENCH_JOBS_PARTS: unknown part ${p} (${PARTS.join(', ')})`);
const workerCounts = list('BENCH_JOBS_WORKERS', '1,10,50').map(Number);
if (workerCounts.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('BENCH_JOBS_WORKERS must be positive integers, e.g. 1,10,50');
const postgresUrl = env.BENCH_DATABASE_URL ?? env.TEST_DATABASE_URL;

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

const httpOptions: JobsHttpOptions = {
  durationSeconds: positive('BENCH_JOBS_DURATION', 5),
  prefillJobs: positive('BENCH_JOBS_PREFILL', 30_000),
  batchPrefillJobs: positive('BENCH_JOBS_BATCH_PREFILL', 100_000),
  workerCounts,
  batchWorkers: positive('BENCH_JOBS_BATCH_WORKERS', 10),
  batchSize: 100,
  enqueueConnections: 50,
  sseHeartbeats: positive('BENCH_JOBS_SSE_HEARTBEATS', 1000),
  log,
};
const peerJobs = positive('BENCH_JOBS_PEER_JOBS', 20_000);
const peerSeconds = positive('BENCH_JOBS_PEER_SECONDS', 30);
const wsSubscribers = positive('BENCH_JOBS_WS_SUBSCRIBERS', 10_000);

function commit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { encoding: 'utf8' }).trim();
    return dirty ? `${sha} with uncommitted changes in src/` : sha;
  } catch {
    return 'unknown';
  }
}

async function onDatabase(label: string, db: ScratchDatabase): Promise<JobsHttpFigures> {
  try {
    // A long sweep interval: the bench holds leases for its whole run and must not race the sweeper.
    // DATABASE_POOL_SIZE and DATABASE_PREPARED_STATEMENTS pass through, to compare settings.
    const passed = Object.fromEntries(['DATABASE_POOL_SIZE', 'DATABASE_PREPARED_STATEMENTS'].flatMap((k) => (env[k] ? [[k, env[k]]] : [])));
    const gh = await startGatehouse({ databaseUrl: db.url, dataDir: db.dataDir, level: 'silent', env: { JOB_SWEEP_SECONDS: '3600', ...passed } });
    try {
      return await measureJobsHttp(gh.server, label, httpOptions);
    } finally {
      await gh.close();
    }
  } finally {
    await db.drop();
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  const loadBefore = os.loadavg();
  const skipped: string[] = [];
  let sqlite: JobsHttpFigures | null = null;
  let postgres: JobsHttpFigures | null = null;
  let peers: PeerFigures[] | null = null;
  let ws: WsMemoryFigures | null = null;

  if (parts.has('sqlite')) {
    log('SQLite: Gatehouse jobs over HTTP');
    sqlite = await onDatabase('SQLite', scratchSqlite());
  }
  if (parts.has('postgres') || parts.has('peers')) {
    if (!postgresUrl) {
      skipped.push('PostgreSQL and peers (set BENCH_DATABASE_URL or TEST_DATABASE_URL)');
      log(`not measured: ${skipped.at(-1)}`);
    } else {
      if (parts.has('postgres')) {
        log('PostgreSQL: Gatehouse jobs over HTTP');
        postgres = await onDatabase('PostgreSQL', await scratchPostgres(postgresUrl));
      }
      if (parts.has('peers')) {
        log(`Peers on the same PostgreSQL: ${peerJobs} no-op jobs per mode`);
        try {
          peers = await measurePeers({ serverUrl: postgresUrl, jobs: peerJobs, timeoutSeconds: peerSeconds, log });
        } catch (error) {
          skipped.push(`peers (${error instanceof Error ? error.message : String(error)})`);
          log(`peers failed: ${String(error)}`);
        }
      }
    }
  }
  if (parts.has('ws')) {
    log(`WebSocket memory: ${wsSubscribers} idle subscribers on a Gatehouse child process`);
    try {
      ws = await measureWsMemory({ subscribers: wsSubscribers, openConcurrency: 100, log });
    } catch (error) {
      skipped.push(`WebSocket memory (${error instanceof Error ? error.message : String(error)})`);
      log(`WebSocket memory failed: ${String(error)}`);
    }
  }

  const report: JobsBenchReport = {
    date: new Date().toISOString(),
    machine: {
      cores: os.availableParallelism(),
      cpu: os.cpus()[0]?.model.trim() ?? 'unknown CPU',
      memoryGib: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      platform: `${os.type()} ${os.release()} ${os.arch()}`,
      loadBefore,
      loadAfter: os.loadavg(),
    },
    commit: commit(),
    settings: {
      'seconds per figure': httpOptions.durationSeconds,
      workers: workerCounts.join('/'),
      'prefill per cycle figure': httpOptions.prefillJobs,
      'batched prefill': httpOptions.batchPrefillJobs,
      'batched workers': httpOptions.batchWorkers,
      'SSE heartbeats': httpOptions.sseHeartbeats,
      'peer jobs per mode': peerJobs,
      'peer time limit per mode (s)': peerSeconds,
      'WebSocket subscribers': wsSubscribers,
    },
    sqlite,
    postgres,
    peers,
    ws,
    skipped,
    totalSeconds: (performance.now() - started) / 1000,
  };
  const resultsPath = fileURLToPath(new URL('./JOBS-RESULTS.md', import.meta.url));
  // The hand-written "## Notes" section (what changed, what bounds a miss) survives a new run.
  const previous = existsSync(resultsPath) ? readFileSync(resultsPath, 'utf8') : '';
  const notesAt = previous.indexOf('\n## Notes');
  writeFileSync(resultsPath, formatJobsMarkdown(report).trimEnd() + '\n' + (notesAt >= 0 ? previous.slice(notesAt) : ''));
  console.log(formatJobsConsole(report));
  log(`\nwritten to ${resultsPath} (${report.totalSeconds.toFixed(0)} s)`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
