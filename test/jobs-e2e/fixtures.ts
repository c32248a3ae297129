/**
 * Shared set-up of the real-process job tests: a `gatehouse serve` process on a fresh database,
 * an admin and worker API keys created through the real CLI and HTTP API, queues and jobs
 * through the HTTP API, and `gatehouse worker` processes running a handler module that records
 * every job it runs (append + fsync) to a per-process file.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DatabaseDialect } from '../../src/config.js';
import type { JobView } from '../../src/jobs/model.js';
import { STRONG_PASSWORD } from '../helpers/harness.js';
import { http } from '../helpers/http-client.js';
import { BIN, cleanEnv, freePort, runCli, serverEnv, type ServerProcess, startServerProcess } from '../helpers/server-process.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

/** A server under test with what is needed to restart it on the same database and port. */
export interface JobServer {
  database: TestDatabase;
  server: ServerProcess;
  env: Record<string, string>;
  base: string;
  /** Bearer access token of an admin. */
  adminToken: string;
  /** Starts the server again (same environment, database and port) after a crash. */
  restart(): Promise<ServerProcess>;
}

/** Starts `gatehouse serve` on a fresh database and creates an admin (`users create --admin`). */
export async function startJobServer(dialect: DatabaseDialect, extra: Record<string, string> = {}): Promise<JobServer> {
  const database = await createTestDatabase(dialect);
  const port = await freePort();
  const env = serverEnv({ port, dataDir: database.dataDir, databaseUrl: database.url, extra: {
      LOG_LEVEL: 'warn',
      // The default 1,200 requests per user per minute would throttle the worker protocol
      // (every worker key here belongs to one user); see the report.
      RATE_LIMIT_USER_PER_MINUTE: '10000000',
      ...extra,
    }, });
  // Generous: several spawned servers start at once when the suite runs on a loaded 2-core machine.
  const server = await startServerProcess({ env, readyTimeoutMs: 60_000 });
  const admin = `admin-${process.pid}-${Date.now()}@example.com`;
  await cliOk(['users', 'create', '--email', admin, '--admin', '--password-stdin'], env, `${STRONG_PASSWORD}\n`);
  const adminToken = await accessToken(server.url, admin);
  const handle: JobServer = {
    database,
    server,
    env,
    base: server.url,
    adminToken,
    async restart() {
      handle.server = await startServerProcess({ env, readyTimeoutMs: 60_000 });
      return handle.server;
    },
  };
  return handle;
}

async function cliOk(args: string[], env: Record<string, string>, input?: string): Promise<string> {
  const result = await runCli(args, { env, ...(input === undefined ? {} : { input }) });
  if (result.code !== 0) throw new Error(`gatehouse ${args.join(' ')} exited ${result.code}: ${result.stderr}${result.stdout}`);
  return result.stdout;
}

async function accessToken(base: string, email: string): Promise<string> {
  const res = await http(base, '/api/v1/auth/token', { json: { grant_type: 'password', username: email, password: STRONG_PASSWORD } });
  if (res.status !== 200) throw new Error(`password grant for ${email}: ${res.status} ${res.text}`);
  return res.json.access_token as string;
}

/**
 * Creates a user with the `worker` role (CLI) and `count` API keys for it, each scoped to
 * `jobs:claim` (one key per worker process: the server counts held jobs per key).
 */
export async function createWorkerKeys(js: JobServer, count: number): Promise<string[]> {
  const email = `worker-${process.pid}-${Date.now()}@example.com`;
  await cliOk(['users', 'create', '--email', email, '--password-stdin'], js.env, `${STRONG_PASSWORD}\n`);
  await cliOk(['users', 'set-role', email, 'worker'], js.env);
  const token = await accessToken(js.base, email);
  const keys: string[] = [];
  for (let i = 0; i < count; i++) {
    const res = await http(js.base, '/api/v1/api-keys', { bearer: token, json: { name: `worker ${i + 1}`, scopes: ['jobs:claim'], password: STRONG_PASSWORD } });
    if (res.status !== 201) throw new Error(`api key: ${res.status} ${res.text}`);
    keys.push(res.json.secret as string);
  }
  return keys;
}

/** `POST /api/v1/queues` as the admin. */
export async function createQueue(js: JobServer, body: Record<string, unknown>): Promise<void> {
  const res = await http(js.base, '/api/v1/queues', { bearer: js.adminToken, json: body });
  if (res.status !== 201) throw new Error(`create queue: ${res.status} ${res.text}`);
}

/** Enqueues `jobs` in batches of 1000; returns the job ids in order. */
export async function enqueue(js: JobServer, queue: string, jobs: Array<Record<string, unknown>>): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < jobs.length; i += 1000) {
    const res = await http(js.base, `/api/v1/queues/${queue}/jobs`, { bearer: js.adminToken, json: { jobs: jobs.slice(i, i + 1000) }, timeoutMs: 30_000 });
    if (res.status !== 201) throw new Error(`enqueue: ${res.status} ${res.text}`);
    ids.push(...(res.json.items as JobView[]).map((j) => j.id));
  }
  return ids;
}

/** Every job of `queue` through `GET /api/v1/jobs` (paged by 200). */
export async function listJobs(js: JobServer, queue: string): Promise<JobView[]> {
  const all: JobView[] = [];
  let cursor: string | null = null;
  do {
    const query: string = `/api/v1/jobs?queue=${queue}&limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const res = await http(js.base, query, { bearer: js.adminToken });
    if (res.status !== 200) throw new Error(`list jobs: ${res.status} ${res.text}`);
    all.push(...(res.json.items as JobView[]));
    cursor = res.json.next_cursor as string | null;
  } while (cursor);
  return all;
}

/** `GET /api/v1/jobs/{id}` as the admin: the job and its latest events. */
export async function getJobWithEvents(js: JobServer, id: string): Promise<{ job: JobView; events: Array<{ seq: number; type: string; data: Record<string, unknown> }> }> {
  const res = await http(js.base, `/api/v1/jobs/${id}`, { bearer: js.adminToken });
  if (res.status !== 200) throw new Error(`get job: ${res.status} ${res.text}`);
  return res.json as unknown as { job: JobView; events: Array<{ seq: number; type: string; data: Record<string, unknown> }> };
}

/** `GET /api/v1/jobs/{id}` as the admin: the job. */
export async function getJob(js: JobServer, id: string): Promise<JobView> {
  return (await getJobWithEvents(js, id)).job;
}

/** Counts by state from `GET /api/v1/queues/{name}/stats` (0 for states it omits). */
export async function stateCounts(js: JobServer, queue: string): Promise<Record<string, number>> {
  const res = await http(js.base, `/api/v1/queues/${queue}/stats`, { bearer: js.adminToken });
  if (res.status !== 200) throw new Error(`stats: ${res.status} ${res.text}`);
  return res.json.counts as Record<string, number>;
}

/**
 * Polls `check` every `everyMs` until it returns a truthy value (returned) or `timeoutMs` passes
 * (throws with `describe()`'s text). Tests assert on the state reached, never on how long it took.
 */
export async function waitUntil<T>(check: () => Promise<T | undefined | null | false | 0>, options: { timeoutMs: number; everyMs?: number; describe: () => string | Promise<string> }): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    let value: T | undefined | null | false | 0;
    try {
      value = await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${options.timeoutMs} ms: ${await options.describe()}`);
    await new Promise((resolve) => setTimeout(resolve, options.everyMs ?? 250));
  }
}

/**
 * The handler module the worker processes run: appends `{id, attempt, kind, pid}` to
 * `$RECORD_FILE` (fsync'd) when a job is done and returns `{n, pid}`. Jobs of kind `slow` first
 * write a `start` record and sleep `$SLOW_MS` (aborted by `ctx.signal`) when it is set.
 */
export const RECORDING_HANDLER = `
import { openSync, writeSync, fsyncSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
const out = openSync(process.env.RECORD_FILE, 'a');
const slowMs = Number(process.env.SLOW_MS || 0);
const workMs = Number(process.env.WORK_MS || 0);
function record(entry) {
  writeSync(out, JSON.stringify({ ...entry, pid: process.pid }) + '\\n');
  fsyncSync(out);
}
export default async function handle(job, ctx) {
  if (job.kind === 'slow' && slowMs > 0) {
    record({ id: job.id, attempt: ctx.attempt, kind: job.kind, event: 'start' });
    ctx.progress(0.1, 'sleeping');
    await sleep(slowMs, undefined, { signal: ctx.signal });
  }
  if (workMs > 0) await sleep(workMs);
  record({ id: job.id, attempt: ctx.attempt, kind: job.kind, event: 'done' });
  return { n: job.payload && job.payload.n, pid: process.pid };
}
`;

/** A record line of {@link RECORDING_HANDLER}. */
export interface HandlerRecord {
  id: string;
  attempt: number;
  kind: string;
  event: 'start' | 'done';
  pid: number;
}

/** A spawned `gatehouse worker`. */
export interface WorkerProcess {
  child: ChildProcess;
  pid: number;
  recordFile: string;
  output(): string;
  records(): HandlerRecord[];
  /** Resolves with the exit code and signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const workers = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of workers) child.kill('SIGKILL');
});

/** A temporary directory holding the handler module (`handler.mjs`). */
export function handlerDir(source = RECORDING_HANDLER): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-worker-'));
  writeFileSync(path.join(dir, 'handler.mjs'), source);
  return dir;
}

/**
 * Spawns `node bin/gatehouse.js worker --server … --queue … --handler dir/handler.mjs` with the
 * API key in `GATEHOUSE_API_KEY` (not on the command line) and `RECORD_FILE` set to a file of its own.
 */
export function spawnWorker(options: {
  base: string;
  apiKey: string;
  queue: string;
  dir: string;
  name: string;
  env?: Record<string, string>;
  args?: string[];
}): WorkerProcess {
  const recordFile = path.join(options.dir, `${options.name}.jsonl`);
  const child = spawn(
    process.execPath,
    [BIN, 'worker', '--server', options.base, '--queue', options.queue, '--name', options.name, '--handler', path.join(options.dir, 'handler.mjs'), ...(options.args ?? [])],
    {
      cwd: options.dir,
      env: cleanEnv({ GATEHOUSE_API_KEY: options.apiKey, RECORD_FILE: recordFile, ...options.env }),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  workers.add(child);
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output = (output + chunk).slice(-200_000)));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output = (output + chunk).slice(-200_000)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      workers.delete(child);
      resolve({ code, signal });
    });
  });
  return {
    child,
    pid: child.pid ?? -1,
    recordFile,
    output: () => output,
    records: () => readRecords(recordFile),
    exited,
  };
}

/** The records in one handler record file ([] when it does not exist yet). */
export function readRecords(file: string): HandlerRecord[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as HandlerRecord);
}

/** SIGKILLs every worker process still running and waits for them. */
export async function killAllWorkers(): Promise<void> {
  await Promise.all(
    [...workers].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}

/** Sends SIGTERM and waits for the exit (SIGKILL after `timeoutMs`). */
export async function stopWorker(worker: WorkerProcess, timeoutMs = 20_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  worker.child.kill('SIGTERM');
  const timer = setTimeout(() => worker.child.kill('SIGKILL'), timeoutMs);
  try {
    return await worker.exited;
  } finally {
    clearTimeout(timer);
  }
}
