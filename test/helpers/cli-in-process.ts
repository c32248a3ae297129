/**
 * The `gatehouse` command line run inside the test process: the same `main()` as
 * `bin/gatehouse.js` (from the sources), with its own environment, standard input and captured
 * standard output and error, returning what a spawned run returns ({@link CliResult}). A spawn
 * loads the whole application again (about 0.5 s of CPU, several seconds on a loaded CI machine);
 * a run in process costs only the command's own work.
 *
 * How: the first run installs getters for `process.env`, `process.stdin`, `process.stdout`,
 * `process.stderr` and wrappers for `console.*` that answer, inside a run, from that run's
 * AsyncLocalStorage context and, outside one, exactly as before. Code of other tests that runs
 * meanwhile (the dialects run concurrently) sees the real ones. Runs are one at a time (a queue):
 * the CLI keeps a little module state per command (whether to announce the database).
 *
 * What only a spawned binary proves stays spawned (see `runCli` in server-process.ts): the
 * `bin/` entry and the built `dist/`, exit codes set on a real process, signals (Ctrl-C), a
 * terminal (pty), `serve`/`worker`, and output written straight to file descriptors 1 and 2
 * (pino's log lines, `users export` without --out).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { formatWithOptions } from 'node:util';
import type { CliResult } from './server-process.js';

interface Run {
  env: Record<string, string>;
  stdin: PassThrough;
  stdout: Writable & { isTTY: false };
  stderr: Writable & { isTTY: false };
  out: string[];
  err: string[];
}

const current = new AsyncLocalStorage<Run>();
let installed = false;
let queue: Promise<unknown> = Promise.resolve();

function capture(into: string[]): Writable & { isTTY: false } {
  const stream = new Writable({
    decodeStrings: false,
    write(chunk: string | Buffer, _encoding, done) {
      into.push(typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
      done();
    },
  }) as Writable & { isTTY: false };
  stream.isTTY = false;
  // console-like writes are synchronous in a real process (pipes and files): keep them so.
  stream.write = ((chunk: string | Uint8Array, encodingOrDone?: unknown, done?: unknown) => {
    into.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    const callback = typeof encodingOrDone === 'function' ? encodingOrDone : done;
    if (typeof callback === 'function') queueMicrotask(() => (callback as () => void)());
    return true;
  }) as Writable['write'];
  return stream;
}

function install(): void {
  if (installed) return;
  installed = true;
  const realEnv = process.env;
  Object.defineProperty(process, 'env', {
    configurable: true,
    get: () => current.getStore()?.env ?? realEnv,
    set: () => {
      throw new Error('process.env cannot be replaced while the in-process CLI helper is installed');
    },
  });
  for (const name of ['stdin', 'stdout', 'stderr'] as const) {
    const real = Object.getOwnPropertyDescriptor(process, name);
    const getReal = real?.get ? real.get.bind(process) : () => real?.value as unknown;
    Object.defineProperty(process, name, { configurable: true, get: () => current.getStore()?.[name] ?? getReal() });
  }
  const toStdout = ['log', 'info', 'debug', 'dir', 'table'] as const;
  const toStderr = ['error', 'warn', 'trace'] as const;
  for (const method of [...toStdout, ...toStderr]) {
    const original = console[method].bind(console) as (...args: unknown[]) => void;
    const stream = (toStdout as readonly string[]).includes(method) ? 'stdout' : 'stderr';
    console[method] = ((...args: unknown[]) => {
      const run = current.getStore();
      if (!run) return original(...args);
      run[stream].write(`${formatWithOptions({ colors: false }, ...args)}\n`);
    }) as never;
  }
}

/**
 * Runs `gatehouse <args>` in this process against `options.env` (the complete environment, as a
 * spawned run gets it: use `cliEnv`/`cleanEnv`). `input` is standard input (then its end; it
 * ends at once without it). The working directory stays the test runner's, so give absolute
 * paths; ENV_FILE defaults to DATA_DIR/.env, the file a run spawned in DATA_DIR reads.
 * @returns the exit code `main` returned (signal always null), and everything printed.
 */
export async function runCliInProcess(args: string[], options: { env: Record<string, string>; input?: string }): Promise<CliResult> {
  install();
  const { main } = await import('../../src/cli/main.js');
  const turn = queue.then(async () => {
    const out: string[] = [];
    const err: string[] = [];
    // A spawned run works in DATA_DIR and so reads DATA_DIR/.env: the same file here.
    const env = { ...options.env };
    if (env.ENV_FILE === undefined && env.DATA_DIR !== undefined) env.ENV_FILE = path.join(env.DATA_DIR, '.env');
    const run: Run = { env, stdin: new PassThrough(), stdout: capture(out), stderr: capture(err), out, err };
    run.stdin.end(options.input ?? '');
    const code = await current.run(run, () => main(['node', 'gatehouse', ...args]));
    return { code, signal: null, stdout: run.out.join(''), stderr: run.err.join('') } satisfies CliResult;
  });
  queue = turn.catch(() => undefined);
  return turn;
}
