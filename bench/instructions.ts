/**
 * `npm run bench:instructions`: machine instructions per request of the HTTP figures, counted by
 * valgrind's callgrind, so that a change to the request path can be judged on a machine whose
 * speed swings from minute to minute (CPU µs per request of one build moved 2× between rounds of
 * `npm run bench` on the shared 2-core machines). Instruction counts hardly depend on what else
 * the machine runs (run nothing else heavy beside it all the same: a slower server batches
 * requests differently and amortises background work over fewer of them).
 *
 * Each server — the bare Fastify route (`bench/lib/bare-server.mjs`) and `gatehouse serve` on a
 * scratch SQLite database, both at LOG_LEVEL info and silent, and a `BENCH_BASELINE` checkout
 * when set — runs under `valgrind --tool=callgrind --instr-atstart=no` (instrumentation off).
 * The same `wrk` load as `npm run bench` warms it (JIT tiers settle after some 30,000 requests),
 * then instrumentation goes on (through `vgdb`) for one uncounted window of load, and for each
 * route callgrind counts while `wrk` runs `INSTR_SECONDS` (`zero`, load, `dump`), until the last
 * `INSTR_WINDOWS` windows agree within 3 % (at most 8 windows); the figure is the median of those
 * windows' instructions divided by the requests wrk completed in them.
 *
 * What is counted: user-space instructions (callgrind's `Ir`, `--separate-threads=yes`) of the
 * server's main thread — the event loop, where a request's JavaScript runs; the figure and its
 * ratio — and, beside it, of all its threads (V8's compiler and GC helpers, libuv's pool, the
 * SQLite checkpointer, built-in workers: background work that a slow window amortises over fewer
 * requests, so noisier). Not the kernel's (the loopback TCP send and receive, about the same per
 * response for every route). So the ratio bare ÷ route compares the servers' own work only; the
 * req/s ratio of `npm run bench` also carries the kernel's share, the same for
 * both, which pulls it toward 1. Under callgrind the program runs some 50× slower, which changes
 * how many requests share an event-loop turn and when V8 optimises: compare counts with counts
 * (before/after a change, bare against route), not with microseconds.
 *
 * Environment: `INSTR_WARMUP_SECONDS` (default 60 per server), `INSTR_SECONDS` (8),
 * `INSTR_WINDOWS` (2), `INSTR_LEVELS` (`info,silent`), `INSTR_ROUTES` (`cookie,jwt,api-key`),
 * `INSTR_KEEP=1` (keep the callgrind files: `callgrind_annotate` shows the native functions),
 * `INSTR_DEBUG=1` (print every vgdb exchange), `BENCH_CONNECTIONS` (8), `BENCH_BASELINE` (another
 * built checkout).
 * Writes bench/INSTRUCTIONS-RESULTS.md (its "Notes" section is kept). `--smoke` (`npm run
 * bench:instructions -- --smoke`, CI) counts the bare and cookie routes at `info` for a couple of
 * seconds and writes nothing (needs dist/, like the bench). Installs Debian's
 * `valgrind` and `wrk` with apt-get when they are missing. Takes about 10 minutes (15 with a
 * baseline: 885 s at 16d4457 against 7fae7ec); the servers run about 50× slower under callgrind,
 * so nothing but these routes is measured.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDebianTool } from './lib/debian.js';
import { credentialHeaders, type GatehouseProcess, startGatehouseProcess } from './lib/gatehouse-process.js';
import { freePort, startProcess } from './lib/processes.js';
import { scratchSqlite } from './lib/scratch.js';
import { median } from './lib/stats.js';
import { ensureWrk, runWrk } from './lib/wrk.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RESULTS = fileURLToPath(new URL('./INSTRUCTIONS-RESULTS.md', import.meta.url));
const env = process.env;

function positive(name: string, fallback: number): number {
  const value = Number(env[name] ?? fallback);
  if (!(value > 0)) throw new Error(`${name} must be a positive number`);
  return value;
}

/** `--smoke`: LOG_LEVEL=info, the cookie route and the bare one, one short window each; writes nothing (CI). */
const smoke = process.argv.includes('--smoke');
const warmupSeconds = smoke ? 2 : positive('INSTR_WARMUP_SECONDS', 60);
const windowSeconds = smoke ? 5 : positive('INSTR_SECONDS', 8);
const windows = smoke ? 1 : positive('INSTR_WINDOWS', 2);
const connections = positive('BENCH_CONNECTIONS', 8);
const baselineCheckout = env.BENCH_BASELINE;
/** `INSTR_LEVELS=silent`: only these log levels (default info and silent). */
const LEVELS = (smoke ? 'info' : (env.INSTR_LEVELS ?? 'info,silent')).split(',').map((l) => l.trim()).filter(Boolean);
if (LEVELS.some((l) => l !== 'info' && l !== 'silent')) throw new Error('INSTR_LEVELS lists info and/or silent');
/** `INSTR_ROUTES=cookie`: only these of cookie, jwt and api-key (default all three). */
const ROUTES = (smoke ? 'cookie' : (env.INSTR_ROUTES ?? 'cookie,jwt,api-key')).split(',').map((r) => r.trim()).filter(Boolean);

function log(message: string): void {
  process.stdout.write(`${message}\n`);
}

/** Makes sure valgrind (with vgdb) is installed, from Debian's package when it is not. */
function ensureValgrind(): void {
  ensureDebianTool('valgrind', ['--version'], 'valgrind', log);
}

/**
 * The valgrind command line that runs node with callgrind counting nothing until told to.
 * Debian's `valgrind` is a shell script that runs `valgrind.bin` as its child (not by `exec`): the
 * binary is called directly when present, so that the spawned pid is the server's.
 */
function callgrindWrapper(outDir: string, label: string): string[] {
  const binary = existsSync('/usr/bin/valgrind.bin') ? '/usr/bin/valgrind.bin' : 'valgrind';
  return [binary, '--tool=callgrind', '--instr-atstart=no', '--separate-threads=yes', `--callgrind-out-file=${path.join(outDir, `${label}.%p`)}`];
}

/**
 * The pid of the process callgrind runs for `label`: the suffix of the output file it creates at
 * start (`label.PID`). @throws when there is none or more than one.
 */
function callgrindPid(outDir: string, label: string): number {
  const pids = new Set(readdirSync(outDir).flatMap((file) => {
    const match = new RegExp(`^${label.replace(/[.@]/g, '\\$&')}\\.(\\d+)(-\\d+)?$`).exec(file);
    return match ? [Number(match[1])] : [];
  }));
  if (pids.size !== 1) throw new Error(`expected one callgrind process for ${label}, found ${pids.size}`);
  return [...pids][0] as number;
}

/**
 * The environment to run `vgdb` with for the process `pid`: valgrind names its pipes after the
 * target's USER (or LOGNAME), HOST and TMPDIR, and Gatehouse's environment sets HOST (the address
 * it listens on), so vgdb must see the target's values, read from `/proc/PID/environ`.
 */
function vgdbEnvironment(pid: number): NodeJS.ProcessEnv {
  const target = new Map(
    readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .filter(Boolean)
      .map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)] as const),
  );
  const vgdbEnv: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ['USER', 'LOGNAME', 'HOST', 'TMPDIR']) {
    const value = target.get(name);
    if (value === undefined) delete vgdbEnv[name];
    else vgdbEnv[name] = value;
  }
  return vgdbEnv;
}

/**
 * Sends one monitor command (`zero`, `instrumentation on`, `dump`…) to the callgrind process
 * `pid` through `vgdb`, as `callgrind_control` does. @throws when vgdb fails.
 */
function callgrindCommand(pid: number, command: string): void {
  const result = spawnSync('vgdb', [`--pid=${pid}`, ...command.split(' ')], { encoding: 'utf8', timeout: 120_000, env: vgdbEnvironment(pid) });
  if (env.INSTR_DEBUG) log(`vgdb --pid=${pid} ${command}: exit ${result.status} ${result.stdout.trim()} ${result.stderr.trim()}`);
  if (result.status !== 0) throw new Error(`vgdb --pid=${pid} ${command} failed (${result.status}): ${result.stderr.trim()}`);
}

/** Instructions of one dump interval: every thread's, and the main thread's (the event loop). */
interface Dumped {
  all: number;
  main: number;
}

/**
 * Sums the `totals:` lines of the dumps `pid` wrote to `outDir` that are not in `seen` (one file
 * per thread, `label.PID.N-TT`; thread 01 is the main thread).
 */
function newDumpTotals(outDir: string, pid: number, seen: Set<string>): Dumped {
  const dumped = { all: 0, main: 0 };
  for (const file of readdirSync(outDir)) {
    const thread = new RegExp(`\\.${pid}\\.\\d+-(\\d+)$`).exec(file)?.[1];
    if (seen.has(file) || thread === undefined) continue;
    seen.add(file);
    const match = /^totals:\s+(\d+)/m.exec(readFileSync(path.join(outDir, file), 'utf8'));
    if (!match) continue;
    dumped.all += Number(match[1]);
    if (Number(thread) === 1) dumped.main += Number(match[1]);
  }
  return dumped;
}

/** Largest relative spread of the last windows for a figure to count as settled. */
const SETTLED = 0.03;
const MAX_WINDOWS = smoke ? 3 : 8;
/** A window with fewer requests is not counted (see `count`). */
const MIN_REQUESTS = smoke ? 5 : 50;

/** Whether the last `windows` counts are within {@link SETTLED} of each other. */
function settled(perWindow: number[]): boolean {
  if (perWindow.length < windows) return false;
  const last = perWindow.slice(-windows);
  return Math.max(...last) / Math.min(...last) - 1 <= SETTLED;
}

/** One route to count. */
interface Route {
  name: string;
  url: string;
  headers?: Record<string, string>;
}

/** What one route cost. */
interface Counted {
  level: string;
  name: string;
  /** Main-thread instructions per request, each window's. */
  perWindow: number[];
  /** The figure: median of the last settled windows, main thread. */
  perRequest: number;
  /** The same windows, every thread of the process. */
  allPerRequest: number;
}

/** Warms `server` with every route, then counts each route's instructions per request. */
async function count(level: string, pid: number, routes: Route[], outDir: string): Promise<Counted[]> {
  if (env.INSTR_DEBUG) log(`  callgrind pid ${pid}`);
  const seen = new Set<string>();
  const warmEach = Math.max(1, Math.round(warmupSeconds / routes.length));
  for (const route of routes) {
    await runWrk({ url: route.url, headers: route.headers ?? {}, threads: 2, connections, durationSeconds: warmEach });
  }
  // Instrumentation goes on once: switching it discards callgrind's translations, and a program
  // this size then runs for seconds at a crawl while they are rebuilt (windows of a handful of
  // requests, dominated by timers). The first window after it is load only, not counted.
  callgrindCommand(pid, 'instrumentation on');
  await runWrk({ url: (routes[0] as Route).url, headers: (routes[0] as Route).headers ?? {}, threads: 2, connections, durationSeconds: windowSeconds });
  const results: Counted[] = [];
  for (const route of routes) {
    const perWindow: number[] = [];
    const allPerWindow: number[] = [];
    // Until the last `windows` windows agree within SETTLED (JIT tiering can still be under way
    // after the warm-up), at most MAX_WINDOWS.
    for (let i = 0; i < MAX_WINDOWS && !settled(perWindow); i++) {
      callgrindCommand(pid, 'zero');
      const result = await runWrk({ url: route.url, headers: route.headers ?? {}, threads: 2, connections, durationSeconds: windowSeconds });
      callgrindCommand(pid, 'dump');
      const dumped = newDumpTotals(outDir, pid, seen);
      // A window that completed a handful of requests is too few to divide by.
      if (result.total < MIN_REQUESTS || dumped.main === 0) {
        log(`  ${level}/${route.name} window ${i + 1}: only ${result.total} requests; not counted`);
        continue;
      }
      perWindow.push(dumped.main / result.total);
      allPerWindow.push(dumped.all / result.total);
      log(`  ${level}/${route.name} window ${i + 1}: ${thousands(dumped.main / result.total)} main-thread instructions/request (${thousands(dumped.all / result.total)} all threads) over ${result.total} requests`);
    }
    if (perWindow.length === 0) throw new Error(`${level}/${route.name}: no window completed ${MIN_REQUESTS} requests`);
    if (!settled(perWindow) && !smoke) log(`  ${level}/${route.name}: the windows did not settle within ${SETTLED * 100} %; reporting the last ${windows}`);
    results.push({
      level,
      name: route.name,
      perWindow,
      perRequest: median(perWindow.slice(-windows)),
      allPerRequest: median(allPerWindow.slice(-windows)),
    });
  }
  return results;
}

function meRoutes(gh: GatehouseProcess, suffix: string): Route[] {
  const url = `${gh.base}/api/v1/users/me`;
  return credentialHeaders(gh)
    .filter(([name]) => ROUTES.includes(name))
    .map(([name, headers]) => ({ name: `${name}${suffix}`, url, headers }));
}

function thousands(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function formatMarkdown(results: Counted[], meta: { commit: string; seconds: number }): string {
  const lines = [
    '# Gatehouse: instructions per request',
    '',
    'Run `npm run build && npm run bench:instructions` (see the comment at the top of',
    '`bench/instructions.ts`). User-space instructions of the server\'s main thread (the event loop)',
    'per request, and of all its threads beside them, counted by valgrind\'s callgrind under `wrk`',
    'load: a figure to compare before and after a change to the request path on a machine whose',
    'timings swing 2×. The ratio is the bare route\'s main-thread count over the route\'s, at the same',
    'log level. Under callgrind the server runs about 50× slower (other batching per event-loop turn,',
    'other JIT timing): compare counts with counts, not with microseconds.',
    '',
    `- Date: ${new Date().toISOString()}`,
    `- Commit: ${meta.commit}`,
    `- Node ${process.version}; wrk -t2 -c${connections}; ${windows} window(s) of ${windowSeconds} s per route after ${warmupSeconds} s of warm-up per server`,
    ...(baselineCheckout ? [`- Baseline checkout counted too (\`BENCH_BASELINE\`): \`${baselineCheckout}\` (rows \`@base\`)`] : []),
    `- Whole run: ${Math.round(meta.seconds)} s`,
    '',
    '| LOG_LEVEL | route | main-thread instructions/request | each window (the figure: median of the last ones) | ratio to bare | above bare | all threads |',
    '|---|---|---:|---|---:|---:|---:|',
  ];
  for (const level of LEVELS) {
    const bare = results.find((r) => r.level === level && r.name === 'bare');
    for (const r of results.filter((x) => x.level === level)) {
      const ratio = bare ? (bare.perRequest / r.perRequest).toFixed(2) : '';
      const above = bare && r !== bare ? thousands(r.perRequest - bare.perRequest) : '';
      lines.push(`| ${level} | ${r.name} | ${thousands(r.perRequest)} | ${r.perWindow.map(thousands).join(', ')} | ${ratio}× | ${above} | ${thousands(r.allPerRequest)} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const started = performance.now();
  if (!existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  ensureWrk(log);
  ensureValgrind();
  const outDir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-callgrind-'));
  const cleanups: Array<() => Promise<void>> = [];
  const results: Counted[] = [];
  try {
    for (const level of LEVELS) {
      log(`LOG_LEVEL=${level}: starting the servers under callgrind (a minute or two)`);
      const db = scratchSqlite();
      cleanups.push(() => db.drop());
      const starting: Array<Promise<{ gh: GatehouseProcess; suffix: string }>> = [{ checkout: undefined, suffix: '' }, ...(baselineCheckout ? [{ checkout: baselineCheckout, suffix: '@base' }] : [])].map(
        async ({ checkout, suffix }) => {
          const scratch = suffix ? scratchSqlite() : db;
          if (suffix) cleanups.push(() => scratch.drop());
          const gh = await startGatehouseProcess({
            databaseUrl: scratch.url,
            dataDir: scratch.dataDir,
            level,
            logFile: path.join(outDir, `gatehouse-${level}${suffix}.log`),
            wrapper: callgrindWrapper(outDir, `gatehouse-${level}${suffix}`),
            readyTimeoutMs: 900_000,
            ...(checkout ? { checkout } : {}),
          });
          cleanups.push(() => gh.stop());
          return { gh, suffix };
        },
      );
      const gatehouses = await Promise.all(starting);
      const first = gatehouses[0] as { gh: GatehouseProcess };
      const port = await freePort();
      const bare = await startProcess({
        args: [path.join(ROOT, 'bench', 'lib', 'bare-server.mjs')],
        env: { PORT: String(port), LOG_LEVEL: level, BARE_BODY_BYTES: String(first.gh.meBytes) },
        port,
        logFile: path.join(outDir, `bare-${level}.log`),
        readyPath: '/',
        wrapper: callgrindWrapper(outDir, `bare-${level}`),
        readyTimeoutMs: 300_000,
      });
      cleanups.push(() => bare.stop());
      results.push(...(await count(level, callgrindPid(outDir, `bare-${level}`), [{ name: 'bare', url: `${bare.base}/` }], outDir)));
      for (const { gh, suffix } of gatehouses) {
        results.push(...(await count(level, callgrindPid(outDir, `gatehouse-${level}${suffix}`), meRoutes(gh, suffix), outDir)));
      }
      for (const fn of cleanups.splice(0).reverse()) await fn();
    }
  } finally {
    for (const fn of cleanups.splice(0).reverse()) await fn().catch((e: unknown) => log(`cleanup failed: ${String(e)}`));
    if (env.INSTR_KEEP) log(`callgrind output kept in ${outDir}`);
    else rmSync(outDir, { recursive: true, force: true });
  }
  const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  const report = formatMarkdown(results, { commit, seconds: (performance.now() - started) / 1000 });
  log(`\n${report}`);
  if (smoke) {
    log('smoke run: bench/INSTRUCTIONS-RESULTS.md left as it was');
    return;
  }
  const previous = existsSync(RESULTS) ? readFileSync(RESULTS, 'utf8') : '';
  const notesAt = previous.indexOf('\n## Notes');
  writeFileSync(RESULTS, notesAt >= 0 ? `${report}${previous.slice(notesAt)}` : report);
  log(`written to ${path.relative(ROOT, RESULTS)}`);
}

await main();
