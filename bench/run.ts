/**
 * `npm run bench`: Gatehouse's performance figures as ratios measured in one run (DESIGN.md,
 * "Performance targets"). Prints a table and writes `bench/RESULTS.md`; see that file's first
 * paragraph for the knobs and the method. `npm run bench:smoke` (`--smoke`) runs every scenario for a
 * second or so and writes nothing (CI runs it so the bench cannot rot; it asserts no timings).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { credentialHeaders, type GatehouseProcess, startGatehouseProcess } from './lib/gatehouse-process.js';
import { freePort, type ServerProcess, startProcess } from './lib/processes.js';
import { type BenchReport, formatConsole, formatMarkdown, type HttpRun } from './lib/report.js';
import { scratchPostgres, scratchSqlite, type ScratchDatabase } from './lib/scratch.js';
import { ensureWrk } from './lib/wrk.js';
import { measureLogins } from './scenarios/logins.js';
import { measureSessionScale } from './scenarios/session-scale.js';
import { compareThroughput, type Target, type TargetGroup, type ThroughputOptions } from './scenarios/throughput.js';

const env = process.env;
const smoke = process.argv.includes('--smoke');
const positive = (name: string, fallback: number): number => {
  const value = Number(env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
};
/** The log levels measured: both in a full run; the smoke run only the deployed one. */
const LEVELS: ReadonlyArray<'info' | 'silent'> = smoke ? ['info'] : ['info', 'silent'];
const throughputOptions: ThroughputOptions = {
  rounds: smoke ? 1 : positive('BENCH_ROUNDS', 3),
  durationSeconds: smoke ? 1 : positive('BENCH_DURATION', 5),
  warmupSeconds: smoke ? 0 : 2,
  threads: 2,
  connections: positive('BENCH_CONNECTIONS', 32),
  onProgress: (round, label, r) =>
    log(
      `  round ${round + 1} ${label}: ${Math.round(r.rps)} req/s, ${r.cpuUsPerRequest.toFixed(1)} µs CPU/request (main thread ${r.mainCpuUsPerRequest.toFixed(1)}), p99 ${r.p99.toFixed(2)} ms`,
    ),
};
const sessionSizes = smoke ? [1000] : (env.BENCH_SESSIONS ?? '10000,1000000').split(',').map((s) => Number(s.trim()));
const postgresUrl = smoke ? undefined : (env.BENCH_DATABASE_URL ?? env.TEST_DATABASE_URL);
/** `BENCH_PROFILE=1`: Gatehouse runs with `node --cpu-prof`; profiles land in bench/profiles/raw/. */
const profileDir = env.BENCH_PROFILE ? fileURLToPath(new URL('./profiles/raw/', import.meta.url)) : null;
const ROOT = fileURLToPath(new URL('..', import.meta.url));
/**
 * `BENCH_BASELINE=DIR`: another checkout of Gatehouse (built, e.g. the main branch) measured in
 * the same rounds as this one — its routes appear as `cookie@base` etc. — for before/after
 * figures that share the machine's load.
 */
const baselineCheckout = smoke ? undefined : env.BENCH_BASELINE;
/** RESULTS.md keeps everything from this heading on when it is rewritten. */
const NOTES_HEADING = '## Notes (kept when the bench rewrites this file)';

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

function meTargets(gh: GatehouseProcess): Target[] {
  const url = `${gh.base}/api/v1/users/me`;
  return credentialHeaders(gh).map(([name, headers]) => ({ name, url, headers, server: gh.server }));
}

async function main(): Promise<void> {
  const started = performance.now();
  const loadBefore = os.loadavg();
  if (!existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  ensureWrk(log);
  const cleanups: Array<() => Promise<void>> = [];
  const cleanup = async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn().catch((e: unknown) => log(`cleanup failed: ${String(e)}`));
  };
  process.once('SIGINT', () => {
    log('interrupted; cleaning up');
    void cleanup().then(() => process.exit(130));
  });
  const logDir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-logs-'));
  cleanups.push(async () => rmSync(logDir, { recursive: true, force: true }));
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const nodeFlags = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];

  const startGatehouses = async (label: string, makeDb: () => Promise<ScratchDatabase>) => {
    const servers = new Map<string, GatehouseProcess>();
    for (const checkout of baselineCheckout ? [undefined, baselineCheckout] : [undefined]) {
      for (const level of LEVELS) {
        const db = await makeDb();
        cleanups.push(() => db.drop());
        const gh = await startGatehouseProcess({
          databaseUrl: db.url,
          dataDir: db.dataDir,
          level,
          logFile: path.join(logDir, `gatehouse-${label}-${level}${checkout ? '-base' : ''}.log`),
          nodeFlags,
          ...(checkout ? { checkout } : {}),
        });
        cleanups.push(() => gh.stop());
        servers.set(checkout ? `${level}@base` : level, gh);
      }
    }
    return servers;
  };
  const logBytes = (gh: GatehouseProcess) => statSync(gh.server.logFile).size;

  try {
    log(`${throughputOptions.rounds} rounds × ${throughputOptions.durationSeconds} s per figure, wrk -t${throughputOptions.threads} -c${throughputOptions.connections}`);
    log('SQLite: starting Gatehouse (LOG_LEVEL=info and silent) and the bare route');
    const sqliteGh = await startGatehouses('sqlite', async () => scratchSqlite());
    const meBytes = (sqliteGh.get('info') as GatehouseProcess).meBytes;
    const bares = new Map<string, ServerProcess>();
    for (const level of LEVELS) {
      const port = await freePort();
      const bare = await startProcess({
        args: [path.join(ROOT, 'bench', 'lib', 'bare-server.mjs')],
        env: { PORT: String(port), LOG_LEVEL: level, BARE_BODY_BYTES: String(meBytes) },
        port,
        logFile: path.join(logDir, `bare-${level}.log`),
        readyPath: '/',
      });
      cleanups.push(() => bare.stop());
      bares.set(level, bare);
    }
    const groups = (servers: Map<string, GatehouseProcess>): TargetGroup[] =>
      LEVELS.map((level) => {
        const bare = bares.get(level) as ServerProcess;
        const base = servers.get(`${level}@base`);
        const targets = meTargets(servers.get(level) as GatehouseProcess);
        if (base) targets.push(...meTargets(base).map((t) => ({ ...t, name: `${t.name}@base` })));
        return { name: level, baseline: { name: 'bare', url: `${bare.base}/`, server: bare }, targets };
      });

    const sqliteLogBefore = logBytes(sqliteGh.get('info') as GatehouseProcess);
    const sqlite = await compareThroughput(groups(sqliteGh), throughputOptions);
    const sqliteRequests = sqlite
      .filter((f) => f.group === 'info' && f.name !== 'bare')
      .reduce((n, f) => n + f.rps * f.rounds.length * throughputOptions.durationSeconds, 0);
    const sqliteLogBytesPerRequest = (logBytes(sqliteGh.get('info') as GatehouseProcess) - sqliteLogBefore) / sqliteRequests;
    for (const [key, gh] of sqliteGh) if (key !== 'info' && key !== 'info@base') await gh.stop();
    const runs: HttpRun[] = [{ dialect: 'SQLite', figures: sqlite, logBytesPerRequest: sqliteLogBytesPerRequest }];

    let postgresSkipped: string | null = null;
    if (postgresUrl) {
      log('PostgreSQL: starting Gatehouse (LOG_LEVEL=info and silent)');
      const pgGh = await startGatehouses('postgres', () => scratchPostgres(postgresUrl));
      const postgres = await compareThroughput(groups(pgGh), throughputOptions);
      for (const gh of pgGh.values()) await gh.stop();
      runs.push({ dialect: 'PostgreSQL', figures: postgres, logBytesPerRequest: null });
    } else {
      postgresSkipped = smoke ? 'not measured in a smoke run.' : 'not measured (set BENCH_DATABASE_URL or TEST_DATABASE_URL).';
      log(`PostgreSQL: ${postgresSkipped}`);
    }
    for (const bare of bares.values()) await bare.stop();

    log('Logins vs raw argon2id (SQLite, LOG_LEVEL=info)');
    const logins = await measureLogins(sqliteGh.get('info') as GatehouseProcess, {
      concurrency: os.availableParallelism() * 4,
      rounds: smoke ? 1 : 3,
      durationSeconds: smoke ? 1 : Math.max(4, throughputOptions.durationSeconds),
      warmupSeconds: smoke ? 0 : 1,
      onProgress: log,
    });
    const baseLogins = sqliteGh.get('info@base')
      ? await measureLogins(sqliteGh.get('info@base') as GatehouseProcess, {
          concurrency: os.availableParallelism() * 4,
          rounds: 3,
          durationSeconds: Math.max(4, throughputOptions.durationSeconds),
          warmupSeconds: 1,
          onProgress: (m) => log(`  (baseline checkout) ${m.trim()}`),
        })
      : null;
    await cleanup();
    if (profileDir) {
      // Name the profiles after what they show (the newest first: one per Gatehouse process).
      for (const file of readdirSync(profileDir).filter((f) => f.startsWith('CPU.'))) {
        renameSync(path.join(profileDir, file), path.join(profileDir, `gatehouse-${file.slice(4)}`));
      }
      log(`CPU profiles in ${profileDir}`);
    }

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
      settings: {
        rounds: throughputOptions.rounds,
        durationSeconds: throughputOptions.durationSeconds,
        warmupSeconds: throughputOptions.warmupSeconds,
        threads: throughputOptions.threads,
        connections: throughputOptions.connections,
      },
      meBytes,
      http: runs,
      postgresSkipped,
      logins,
      baseLogins,
      baseline: baselineCheckout ?? null,
      scale,
      totalSeconds: (performance.now() - started) / 1000,
    };
    console.log(formatConsole(report));
    if (smoke) {
      log(`\nsmoke run done (${report.totalSeconds.toFixed(0)} s); bench/RESULTS.md left as it was`);
    } else {
      const resultsPath = fileURLToPath(new URL('./RESULTS.md', import.meta.url));
      // A hand-written section at the end (before/after comparisons, what bounds a figure) survives reruns.
      const previous = existsSync(resultsPath) ? readFileSync(resultsPath, 'utf8') : '';
      const notesAt = previous.indexOf(NOTES_HEADING);
      writeFileSync(resultsPath, formatMarkdown(report) + (notesAt >= 0 ? `\n${previous.slice(notesAt)}` : ''));
      log(`\nwritten to ${resultsPath} (${report.totalSeconds.toFixed(0)} s)`);
    }
  } finally {
    await cleanup();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
