/**
 * Real Gatehouse processes for end-to-end tests: `node bin/gatehouse.js …` spawned with a clean
 * environment, watched through its output, and stopped by PID (SIGTERM, or SIGKILL for crash
 * tests). Every child is tracked so that {@link killAllChildren} (call it in `afterEach` /
 * `afterAll`) leaves no orphan behind, even when a test fails half-way.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Root of the repository (where `bin/` and `dist/` live). */
export const REPO_ROOT = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));
/** The built CLI (`npm run build` must have run). */
export const BIN = path.join(REPO_ROOT, 'bin', 'gatehouse.js');

const live = new Set<ChildProcess>();

process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

const handedOut = new Set<number>();

/**
 * A port that was free a moment ago on 127.0.0.1 (the OS picks it), never one this process
 * handed out before (concurrent tests must not be given the same unused port twice).
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        const picked = typeof address === 'object' && address ? address.port : 0;
        server.close(() => resolve(picked));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

/**
 * A minimal environment: only `PATH` from the test runner (to find `node`) plus `vars`.
 * Nothing else leaks in (no DATABASE_URL, SMTP_URL, NODE_OPTIONS… from the developer's shell).
 */
export function cleanEnv(vars: Record<string, string | undefined>): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  for (const [key, value] of Object.entries(vars)) if (value !== undefined) env[key] = value;
  return env;
}

/** The standard environment of a server under test (see the e2e brief). */
export function serverEnv(options: {
  port: number;
  dataDir: string;
  databaseUrl: string;
  smtpUrl?: string;
  extra?: Record<string, string>;
}): Record<string, string> {
  return cleanEnv({
    DATA_DIR: options.dataDir,
    DATABASE_URL: options.databaseUrl,
    PORT: String(options.port),
    HOST: '127.0.0.1',
    PUBLIC_URL: `http://127.0.0.1:${options.port}`,
    SMTP_URL: options.smtpUrl,
    MAIL_POLL_SECONDS: '1',
    LOG_LEVEL: 'info',
    // The shipped modules' built-in worker threads are tested with their modules (and the
    // zero-configuration start in serve.test.ts keeps them on); elsewhere they only cost CPU.
    BUILTIN_WORKERS: 'none',
    ...options.extra,
  });
}

/** One JSON log line of the server (pino). */
export type LogLine = Record<string, unknown> & { msg?: string; level?: number };

/** How a child ended. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A spawned `gatehouse serve`. */
export interface ServerProcess {
  child: ChildProcess;
  pid: number;
  port: number;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** The stdout lines that parse as JSON (pino log lines). */
  logs(): LogLine[];
  /** Resolves with the first log line (already written or coming) matching `predicate`. */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Resolves when the process has exited (rejects after `timeoutMs`). */
  exited(timeoutMs?: number): Promise<Exit>;
  /** SIGTERM, then wait for the exit (SIGKILL if it takes longer than `timeoutMs`). */
  stop(timeoutMs?: number): Promise<Exit>;
  /** SIGKILL (a crash: no shutdown code runs) and wait for the exit. */
  crash(): Promise<Exit>;
}

function track(child: ChildProcess): Promise<Exit> {
  live.add(child);
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: () => string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what()}`)), ms);
    timer.unref();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/** Kills (SIGKILL) every child this module started that is still running, and waits for them. */
export async function killAllChildren(): Promise<void> {
  const waits = [...live].map(
    (child) =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  );
  await Promise.all(waits);
}

/**
 * Spawns `node bin/gatehouse.js serve` and waits until `GET /readyz` answers 200.
 *
 * @param options.env the complete environment (use {@link serverEnv} or {@link cleanEnv}); must set PORT.
 * @param options.cwd working directory; defaults to `env.DATA_DIR` so that no `.env` file of the
 *   repository is read.
 * @throws when the process exits or is not ready within `readyTimeoutMs` (the child is killed).
 */
export async function startServerProcess(options: {
  env: Record<string, string>;
  cwd?: string;
  readyTimeoutMs?: number;
}): Promise<ServerProcess> {
  const port = Number(options.env.PORT);
  if (!Number.isInteger(port) || port <= 0) throw new Error('startServerProcess needs env.PORT');
  const cwd = options.cwd ?? options.env.DATA_DIR ?? REPO_ROOT;
  const child = spawn(process.execPath, [BIN, 'serve'], { cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exit = track(child);
  let output = '';
  let stdoutBuffer = '';
  const lines: LogLine[] = [];
  const logWaiters: Array<{ predicate: (line: LogLine) => boolean; resolve: (line: LogLine) => void }> = [];
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    output += chunk;
    stdoutBuffer += chunk;
    let newline = stdoutBuffer.indexOf('\n');
    while (newline >= 0) {
      const raw = stdoutBuffer.slice(0, newline);
      stdoutBuffer = stdoutBuffer.slice(newline + 1);
      newline = stdoutBuffer.indexOf('\n');
      let line: LogLine;
      try {
        line = JSON.parse(raw) as LogLine;
      } catch {
        continue;
      }
      lines.push(line);
      for (const waiter of [...logWaiters]) {
        if (waiter.predicate(line)) {
          logWaiters.splice(logWaiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    }
  });
  child.stderr?.on('data', (chunk: string) => {
    output += chunk;
  });
  let exitInfo: Exit | undefined;
  void exit.then((info) => {
    exitInfo = info;
  });

  const url = `http://127.0.0.1:${port}`;
  const server: ServerProcess = {
    child,
    pid: child.pid ?? -1,
    port,
    url,
    output: () => output,
    logs: () => [...lines],
    waitForLog(predicate, timeoutMs = 10_000) {
      const found = lines.find(predicate);
      if (found) return Promise.resolve(found);
      const waiter = { predicate, resolve: (_line: LogLine) => undefined as void };
      const promise = new Promise<LogLine>((resolve) => {
        waiter.resolve = resolve;
        logWaiters.push(waiter);
      });
      return withTimeout(promise, timeoutMs, () => {
        const index = logWaiters.indexOf(waiter);
        if (index >= 0) logWaiters.splice(index, 1);
        return `no matching log line; output:\n${output.slice(-4000)}`;
      });
    },
    exited: (timeoutMs = 10_000) => withTimeout(exit, timeoutMs, () => `process ${child.pid} did not exit`),
    async stop(timeoutMs = 10_000) {
      if (!exitInfo) child.kill('SIGTERM');
      try {
        return await withTimeout(exit, timeoutMs, () => 'SIGTERM did not stop the server');
      } catch (error) {
        child.kill('SIGKILL');
        await exit;
        throw error;
      }
    },
    async crash() {
      if (!exitInfo) child.kill('SIGKILL');
      return exit;
    },
  };

  const deadline = Date.now() + (options.readyTimeoutMs ?? 20_000);
  for (;;) {
    if (exitInfo) {
      throw new Error(`gatehouse serve exited (${exitInfo.code ?? exitInfo.signal}) before it was ready:\n${output}`);
    }
    try {
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) return server;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await exit;
      throw new Error(`gatehouse serve was not ready within the time limit:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** What a finished CLI run printed. */
export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node bin/gatehouse.js <args>` to completion.
 * @param options.input written to stdin, which is then closed (stdin is closed at once without it).
 * @throws when it does not finish within `timeoutMs` (the child is killed).
 */
export async function runCli(
  args: string[],
  options: { env: Record<string, string>; cwd?: string; input?: string; timeoutMs?: number },
): Promise<CliResult> {
  const cwd = options.cwd ?? options.env.DATA_DIR ?? REPO_ROOT;
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: options.env, stdio: ['pipe', 'pipe', 'pipe'] });
  const exit = track(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin?.on('error', () => undefined);
  child.stdin?.end(options.input ?? '');
  try {
    const { code, signal } = await withTimeout(exit, options.timeoutMs ?? 20_000, () => `gatehouse ${args.join(' ')}`);
    return { code, signal, stdout, stderr };
  } catch (error) {
    child.kill('SIGKILL');
    await exit;
    throw new Error(`${(error as Error).message}\nstdout: ${stdout}\nstderr: ${stderr}`);
  }
}

/** What a command run inside a pseudo-terminal printed, and how it ended. */
export interface PtyResult {
  /** Exit code, or null when it was killed at the time limit. */
  code: number | null;
  /** Whether every step's text appeared (and its keys were sent). */
  completed: boolean;
  /** The terminal output (with ANSI escapes). */
  output: string;
}

/**
 * Runs `command` inside a pseudo-terminal (100×24, via /usr/bin/python3's `pty` module) and
 * types into it: for each step, waits until `waitFor` appears in the output, then sends `send`.
 */
export async function runInPty(
  command: string[],
  options: { env: Record<string, string>; cwd?: string; steps: Array<{ waitFor: string; send: string }>; timeoutMs?: number },
): Promise<PtyResult> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const spec = JSON.stringify({ steps: options.steps, timeout: timeoutMs / 1000, cmd: command });
  const child = spawn('/usr/bin/python3', [path.join(REPO_ROOT, 'test', 'helpers', 'pty_run.py'), spec], {
    cwd: options.cwd ?? options.env.DATA_DIR ?? REPO_ROOT,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exit = track(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const { code } = await withTimeout(exit, timeoutMs + 5000, () => `pty runner for ${command.join(' ')}`).catch(
    async (error: unknown) => {
      child.kill('SIGKILL');
      await exit;
      throw error;
    },
  );
  if (code !== 0) throw new Error(`pty runner failed (${code}): ${stderr}${stdout}`);
  return JSON.parse(stdout) as PtyResult;
}
