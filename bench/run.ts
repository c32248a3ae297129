/**
 * `npm run bench`: Gatehouse's performance figures as ratios measured in one run (DESIGN.md,
 * "Performance targets"). Prints a table and writes `bench/RESULTS.md`; see that file's first
 * paragraph for the knobs and the method.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { sqliteDataVersionProbe } from '../src/sessions/auth-changes.js';
import { type BenchReport, formatConsole, formatMarkdown } from './lib/report.js';
import { scratchPostgres, scratchSqlite, type ScratchDatabase } from './lib/scratch.js';
import { type BenchGatehouse, type BenchLogLevel, startBare, startGatehouse } from './lib/servers.js';
import { measureLogins } from './scenarios/logins.js';
import { measureSessionScale } from './scenarios/session-scale.js';
import { compareThroughput, type Target, type ThroughputOptions } from './scenarios/throughput.js';

const env = process.env;
const positive = (name: string, fallback: number): number => {
  const value = Number(env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
};
const logLevel = (env.BENCH_LOG_LEVEL ?? 'silent') as BenchLogLevel;
if (logLevel !== 'silent' && logLevel !== 'info') throw new Error('BENCH_LOG_LEVEL must be silent or info');
const throughputOptions: ThroughputOptions = {
  rounds: positive('BENCH_ROUNDS', 3),
  durationSeconds: positive('BENCH_DURATION', 3),
  warmupSeconds: 2,
  connections: positive('BENCH_CONNECTIONS', 100),
  onProgress: (round, name, r) =>
    log(`  round ${round + 1} ${name}: ${Math.round(r.rps)} req/s, ${r.cpuUsPerRequest.toFixed(1)} µs CPU/request, p99 ${r.p99} ms`),
};
const sessionSizes = (env.BENCH_SESSIONS ?? '10000,1000000').split(',').map((s) => Number(s.trim()));
const postgresUrl = env.BENCH_DATABASE_URL ?? env.TEST_DATABASE_URL;

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

function commit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { encoding: 'utf8' }).trim();
    return dirty ? `${sha} with uncommitted changes in src/` : sha;
  } catch {
    return 'unknown';
  }
}

function meTargets(gh: BenchGatehouse): Target[] {
  const url = `${gh.base}/api/v1/users/me`;
  return [
    { name: 'cookie', url, headers: { cookie: gh.cookie } },
    { name: 'jwt', url, headers: { authorization: `Bearer ${gh.accessToken}` } },
    { name: 'api-key', url, headers: { authorization: `Bearer ${gh.apiKey}` } },
  ];
}

/**
 * The cookie route again with the SQLite cross-process change probe (`PRAGMA data_version` on
 * every request) swapped for one that never reports a change: what that check costs. Diagnostic
 * only; the real probe is reinstalled right after each load.
 */
function withoutProbe(gh: BenchGatehouse): Target[] {
  const { cache, database } = gh.server.gatehouse;
  const dataVersion = database.dataVersion;
  if (!dataVersion) return [];
  return [
    {
      name: 'cookie-no-probe',
      url: `${gh.base}/api/v1/users/me`,
      headers: { cookie: gh.cookie },
      before: () => cache.watchExternalChanges({ healthy: () => true, changedSinceLastCheck: () => false }),
      after: () => cache.watchExternalChanges(sqliteDataVersionProbe(dataVersion)),
    },
  ];
}

async function main(): Promise<void> {
  const started = performance.now();
  const loadBefore = os.loadavg();
  const cleanups: Array<() => Promise<void>> = [];
  const cleanup = async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn().catch((e: unknown) => log(`cleanup failed: ${String(e)}`));
  };
  process.once('SIGINT', () => {
    log('interrupted; cleaning up');
    void cleanup().then(() => process.exit(130));
  });

  try {
    log(`log level ${logLevel}; ${throughputOptions.rounds} rounds × ${throughputOptions.durationSeconds} s per figure`);
    const bare = await startBare(logLevel);
    cleanups.push(() => bare.close());
    const baseline: Target = { name: 'bare', url: bare.url };

    log('SQLite: bare vs GET /api/v1/users/me');
    const sqliteDb: ScratchDatabase = scratchSqlite();
    cleanups.push(() => sqliteDb.drop());
    const sqliteGh = await startGatehouse({ databaseUrl: sqliteDb.url, dataDir: sqliteDb.dataDir, level: logLevel });
    cleanups.push(() => sqliteGh.close());
    const calibration: Target = { name: 'bare-busy', url: bare.busyUrl };
    const sqlite = await compareThroughput(
      baseline,
      [...meTargets(sqliteGh), ...withoutProbe(sqliteGh), calibration],
      throughputOptions,
    );

    let postgres: BenchReport['postgres'] = null;
    let postgresSkipped: string | null = null;
    if (postgresUrl) {
      log('PostgreSQL: bare vs GET /api/v1/users/me');
      const pgDb = await scratchPostgres(postgresUrl);
      cleanups.push(() => pgDb.drop());
      const pgGh = await startGatehouse({ databaseUrl: pgDb.url, dataDir: pgDb.dataDir, level: logLevel });
      try {
        postgres = await compareThroughput(baseline, meTargets(pgGh), throughputOptions);
      } finally {
        await pgGh.close();
      }
    } else {
      postgresSkipped = 'not measured (set BENCH_DATABASE_URL or TEST_DATABASE_URL).';
      log(`PostgreSQL: ${postgresSkipped}`);
    }

    log('Logins vs raw argon2id');
    const logins = await measureLogins(sqliteGh, {
      concurrency: os.availableParallelism() * 4,
      rounds: 2,
      durationSeconds: Math.max(4, throughputOptions.durationSeconds),
      onProgress: log,
    });
    await cleanup();

    log('Session lookups vs sessions stored');
    const scale = await measureSessionScale(sessionSizes, log);

    const report: BenchReport = {
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
      logLevel,
      settings: {
        rounds: throughputOptions.rounds,
        durationSeconds: throughputOptions.durationSeconds,
        warmupSeconds: throughputOptions.warmupSeconds,
        connections: throughputOptions.connections,
      },
      sqlite,
      postgres,
      postgresSkipped,
      logins,
      scale,
      totalSeconds: (performance.now() - started) / 1000,
    };
    const resultsPath = fileURLToPath(new URL('./RESULTS.md', import.meta.url));
    writeFileSync(resultsPath, formatMarkdown(report));
    console.log(formatConsole(report));
    log(`\nwritten to ${resultsPath} (${report.totalSeconds.toFixed(0)} s)`);
  } finally {
    await cleanup();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
