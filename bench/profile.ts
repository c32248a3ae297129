/**
 * `npm run bench:profile`: CPU profiles of Gatehouse under wrk, as a deployment runs it
 * (`node --cpu-prof bin/gatehouse.js serve`, SQLite, LOG_LEVEL=info to a file, request limits
 * raised). Loads `GET /api/v1/users/me` with a cookie, a bearer JWT and an API key in turn
 * (PROFILE_SECONDS each, default 5), stops the server (which writes the profile), and saves
 * under bench/profiles/ (kept small enough to commit):
 *
 * - `users-me.folded`: collapsed stacks (`frame;frame;frame count`), the input of a flame graph
 *   (flamegraph.pl, speedscope, or https://www.speedscope.app);
 * - `users-me.top.txt`: the frames with the most self time and the most inclusive time.
 *
 * `PROFILE_SCENARIO=bare` profiles the bench's bare Fastify route instead (`bench/lib/bare-server.mjs`,
 * file stem `bare`), the contrast for the "self time by component" table every summary starts with.
 * `PROFILE_NAME` changes the file stem (e.g. `before`); `PROFILE_LEVEL` the log level;
 * `PROFILE_CREDENTIALS` (e.g. `cookie`) which of cookie, jwt and api-key to load. Each is warmed up
 * for 2 s first; only the samples taken during the measured load are summarised.
 * `PROFILE_SCENARIO=logins` profiles `POST /api/v1/auth/login` instead (autocannon, 8 connections,
 * PROFILE_SECONDS; file stem `logins` unless PROFILE_NAME is set): the main thread's share of a
 * login, argon2 itself runs on other threads and is not in the profile. With
 * `PROFILE_CHEAP_HASH=1` the server hashes with m=8 KiB, t=1 (ARGON2_MEMORY_KIB,
 * ARGON2_ITERATIONS), so that the main thread's work per login is measured without argon2
 * competing for the cores (it prints the main thread's CPU µs per login). The logins profile
 * counts only the samples taken while the load ran (no start-up frames).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { credentialHeaders, startGatehouseProcess } from './lib/gatehouse-process.js';
import { scratchSqlite } from './lib/scratch.js';
import { runLoad } from './lib/load.js';
import { freePort, startProcess } from './lib/processes.js';
import { BENCH_PASSWORD, BENCH_PUBLIC_URL } from './lib/servers.js';
import { ensureWrk, runWrk } from './lib/wrk.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  /** Microseconds on the monotonic clock (the same as `process.hrtime` on Linux). */
  startTime?: number;
  /** Microseconds between consecutive samples (the first: since `startTime`). */
  timeDeltas?: number[];
}

const seconds = Number(process.env.PROFILE_SECONDS ?? 5);
const scenario = process.env.PROFILE_SCENARIO ?? 'users-me';
if (scenario !== 'users-me' && scenario !== 'logins' && scenario !== 'bare') throw new Error('PROFILE_SCENARIO must be users-me, logins or bare');
const name = process.env.PROFILE_NAME ?? scenario;
const level = process.env.PROFILE_LEVEL ?? 'info';
/** `PROFILE_CREDENTIALS=cookie,jwt`: only these of cookie, jwt, api-key (default all three). */
const only = (process.env.PROFILE_CREDENTIALS ?? '').split(',').map((c) => c.trim()).filter(Boolean);
const OUT = fileURLToPath(new URL('./profiles/', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));

function frameLabel(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  // Short labels keep the collapsed stacks small: package or file name, no directories.
  const file = url ? url.replace(`file://${ROOT}`, '').replace(/^.*node_modules\//, '').replace(/^(@[^/]+\/[^/]+|[^/]+)\/.*\/([^/]+)$/, '$1/$2') : '';
  return `${functionName || '(anonymous)'}${file ? ` ${file}:${lineNumber + 1}` : ''}`;
}

/**
 * Where a frame's code lives, for the "self time by component" table: our compiled code, Fastify
 * and its router/serialiser, @fastify/cookie, logging (pino, sonic-boom), Node's own JavaScript
 * (http, net, streams, events), native code called from JavaScript (the socket's `writev`, hashes,
 * SQLite: frames without a script), and V8's own buckets (GC, idle, program).
 */
function componentOf(node: ProfileNode): string {
  const { functionName, url } = node.callFrame;
  if (!url) return /^\(.*\)$/.test(functionName) ? functionName : 'native code (syscalls such as writev, hashing, SQLite, V8 builtins)';
  if (url.startsWith('node:')) return 'Node core JavaScript (http, net, streams, events, timers)';
  if (url.includes('/node_modules/@fastify/cookie/')) return '@fastify/cookie';
  if (/\/node_modules\/(pino|sonic-boom|pino-std-serializers|@pinojs)\b/.test(url)) return 'logging (pino, sonic-boom)';
  if (/\/node_modules\/(fastify|find-my-way|fast-json-stringify|avvio|@fastify\/[^/]+|light-my-request|fast-querystring|fast-uri|json-schema-resolver|secure-json-parse|toad-cache|process-warning)\//.test(url)) return 'Fastify (core, router, serialiser, plugins)';
  if (url.includes('/node_modules/')) return `package ${/\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ?? '?'}`;
  if (url.includes('/dist/') || url.includes('/bench/')) return 'Gatehouse (dist/) and the bench\'s own server code';
  return 'other scripts';
}

/**
 * Collapsed stacks and top-frame tables from a V8 .cpuprofile.
 * @param window when given, only the samples taken between `fromUs` and `toUs` (microseconds on
 *   the monotonic clock, `process.hrtime.bigint() / 1000n` of any process on the same Linux
 *   machine) count: the load, without the server's start-up and shutdown.
 */
export function summarise(profile: CpuProfile, window?: { fromUs: number; toUs: number }): { folded: string; top: string } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const counts = new Map<number, number>();
  let at = profile.startTime ?? 0;
  let total = 0;
  profile.samples.forEach((s, i) => {
    at += profile.timeDeltas?.[i] ?? 0;
    if (window && (at < window.fromUs || at > window.toUs)) return;
    counts.set(s, (counts.get(s) ?? 0) + 1);
    total += 1;
  });
  const folded = new Map<string, number>();
  const self = new Map<string, number>();
  const byComponent = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, count] of counts) {
    const stack: string[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = byId.get(at) as ProfileNode;
      if (node.callFrame.functionName !== '(root)') stack.push(frameLabel(node));
    }
    const label = stack[0] ?? '(root)';
    self.set(label, (self.get(label) ?? 0) + count);
    const component = componentOf(byId.get(id) as ProfileNode);
    byComponent.set(component, (byComponent.get(component) ?? 0) + count);
    for (const frame of new Set(stack)) inclusive.set(frame, (inclusive.get(frame) ?? 0) + count);
    const key = stack.reverse().join(';');
    folded.set(key, (folded.get(key) ?? 0) + count);
  }
  const table = (map: Map<string, number>, n: number) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([frame, c]) => `${((100 * c) / total).toFixed(1).padStart(5)} %  ${frame}`)
      .join('\n');
  return {
    // Stacks seen fewer than 3 times are left out of the flame graph's input (size; noise).
    folded: [...folded.entries()].filter(([, v]) => v >= 3).map(([k, v]) => `${k} ${v}`).join('\n'),
    top: `${total} samples\n\nSelf time by component:\n${table(byComponent, 20)}\n\nSelf time:\n${table(self, 40)}\n\nInclusive time:\n${table(inclusive, 60)}\n`,
  };
}

/** Writes `name.folded` and `name.top.txt` from the one profile in `profDir`, then removes it. */
function saveProfile(profDir: string, window: { fromUs: number; toUs: number } | undefined): void {
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error('no profile written');
  const { folded, top } = summarise(JSON.parse(readFileSync(path.join(profDir, file), 'utf8')) as CpuProfile, window);
  rmSync(profDir, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  writeFileSync(path.join(OUT, `${name}.folded`), `${folded}\n`);
  writeFileSync(path.join(OUT, `${name}.top.txt`), top);
  process.stdout.write(top);
}

/** `PROFILE_SCENARIO=bare`: the bench's bare route (`bench/lib/bare-server.mjs`), for contrast. */
async function profileBare(): Promise<void> {
  const profDir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-prof-'));
  const port = await freePort();
  const bare = await startProcess({
    args: ['--cpu-prof', `--cpu-prof-dir=${profDir}`, path.join(ROOT, 'bench', 'lib', 'bare-server.mjs')],
    // The size of Gatehouse's `/users/me` answer, as in `npm run bench`.
    env: { PORT: String(port), LOG_LEVEL: level, BARE_BODY_BYTES: '208' },
    port,
    logFile: path.join(profDir, 'bare.log'),
    readyPath: '/',
  });
  let window: { fromUs: number; toUs: number } | undefined;
  try {
    await runWrk({ url: `${bare.base}/`, threads: 2, connections: 32, durationSeconds: 2 });
    window = { fromUs: Number(process.hrtime.bigint() / 1000n), toUs: 0 };
    const r = await runWrk({ url: `${bare.base}/`, threads: 2, connections: 32, durationSeconds: seconds });
    window.toUs = Number(process.hrtime.bigint() / 1000n);
    process.stderr.write(`bare: ${Math.round(r.rps)} req/s\n`);
  } finally {
    await bare.stop();
  }
  saveProfile(profDir, window);
}

async function main(): Promise<void> {
  ensureWrk((m) => process.stderr.write(`${m}\n`));
  if (scenario === 'bare') {
    await profileBare();
    return;
  }
  const db = scratchSqlite();
  const profDir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-prof-'));
  const gh = await startGatehouseProcess({
    databaseUrl: db.url,
    dataDir: db.dataDir,
    level,
    logFile: path.join(db.dataDir, 'server.log'),
    nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${profDir}`],
    ...(process.env.PROFILE_CHEAP_HASH ? { env: { ARGON2_MEMORY_KIB: '8', ARGON2_ITERATIONS: '1' } } : {}),
  });
  let window: { fromUs: number; toUs: number } | undefined;
  const nowUs = () => Number(process.hrtime.bigint() / 1000n);
  try {
    if (scenario === 'logins') {
      window = { fromUs: nowUs(), toUs: 0 };
      const main0 = gh.server.mainThreadCpuMs();
      const r = await runLoad({
        url: `${gh.base}/api/v1/auth/login`,
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: BENCH_PUBLIC_URL },
        body: JSON.stringify({ email: gh.email, password: BENCH_PASSWORD }),
        connections: os.availableParallelism() * 4,
        durationSeconds: seconds,
      });
      window.toUs = nowUs();
      const perLogin = r.total > 0 ? ((gh.server.mainThreadCpuMs() - main0) * 1000) / r.total : 0;
      process.stderr.write(`logins: ${r.rps.toFixed(0)}/s, ${r.failures} failures, ${perLogin.toFixed(0)} µs main-thread CPU per login\n`);
    }
    const url = `${gh.base}/api/v1/users/me`;
    const chosen = scenario === 'logins' ? [] : credentialHeaders(gh).filter(([name]) => only.length === 0 || only.includes(name));
    if (chosen.length > 0) {
      // Warm-up outside the window: start-up and JIT tiering are not per-request work.
      for (const [, headers] of chosen) await runWrk({ url, headers, threads: 2, connections: 32, durationSeconds: 2 });
      window = { fromUs: nowUs(), toUs: 0 };
    }
    for (const [credential, headers] of chosen) {
      const r = await runWrk({ url, headers, threads: 2, connections: 32, durationSeconds: seconds });
      process.stderr.write(`${credential}: ${Math.round(r.rps)} req/s\n`);
    }
    if (window && chosen.length > 0) window.toUs = nowUs();
  } finally {
    await gh.stop();
    await db.drop();
  }
  saveProfile(profDir, window);
}

// Only when run as a script: bench/jobs-profile.ts imports `summarise`.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
