/**
 * Servers under test as processes of their own, started the way a deployment starts them, and
 * their CPU time read from Linux's /proc (no endpoint inside the server is involved).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import net from 'node:net';

/** Linux clock ticks per second for /proc times (USER_HZ, 100 on every mainstream kernel). */
const USER_HZ = 100;

/**
 * CPU milliseconds (user + system) that process `pid` has used: all its threads when `thread` is
 * omitted, else only that thread (`thread = pid` is the main thread, the event loop).
 * Read from `/proc/PID/stat` (fields 14 and 15, clock ticks).
 */
export function processCpuMs(pid: number, thread?: number): number {
  const stat = readFileSync(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ;
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A running server process. */
export interface ServerProcess {
  pid: number;
  /** `http://127.0.0.1:PORT`. */
  base: string;
  /** The file its stdout and stderr (the logs) go to. */
  logFile: string;
  /** CPU ms of the whole process so far. */
  cpuMs(): number;
  /** CPU ms of its main thread (the event loop) so far. */
  mainThreadCpuMs(): number;
  stop(): Promise<void>;
}

/** Options for {@link startProcess}. */
export interface StartProcessOptions {
  /** Arguments to `node` (script and its arguments, plus any node flags before them). */
  args: string[];
  env: Record<string, string>;
  port: number;
  logFile: string;
  /** Path that answers 200 once the server is ready. */
  readyPath: string;
  /** How long to wait for readiness, ms. Default 60 000 (generous: the machine is shared). */
  readyTimeoutMs?: number;
  /**
   * A command that runs node, with its own arguments before node's, e.g.
   * `['valgrind', '--tool=callgrind']`: the process is `wrapper… node args…`. Its pid is node's
   * when the wrapper execs it (valgrind does).
   */
  wrapper?: string[];
}

/** Starts `node ...args` (or `wrapper… node args…`) with stdout/stderr to `logFile` and waits until `readyPath` answers 200. */
export async function startProcess(options: StartProcessOptions): Promise<ServerProcess> {
  const fd = openSync(options.logFile, 'a');
  let child: ChildProcess;
  try {
    const [command, ...wrapperArgs] = options.wrapper ?? [process.execPath];
    const args = options.wrapper ? [...wrapperArgs, process.execPath, ...options.args] : options.args;
    child = spawn(command as string, args, { env: { ...process.env, ...options.env }, stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  const pid = child.pid as number;
  let exited = false;
  const exitPromise = new Promise<void>((resolve) => child.once('exit', () => {
    exited = true;
    resolve();
  }));
  const base = `http://127.0.0.1:${options.port}`;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  for (;;) {
    if (exited) throw new Error(`server exited during start-up; see ${options.logFile}`);
    try {
      const response = await fetch(`${base}${options.readyPath}`);
      await response.arrayBuffer();
      if (response.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server did not become ready in time; see ${options.logFile}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    pid,
    base,
    logFile: options.logFile,
    cpuMs: () => processCpuMs(pid),
    mainThreadCpuMs: () => processCpuMs(pid, pid),
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
      await exitPromise;
      clearTimeout(timer);
    },
  };
}
