/**
 * `gatehouse worker`: runs the worker SDK ({@link Worker}) from the command line with a handler
 * module, or a built-in worker of a feature module. It talks to a Gatehouse server over HTTP only
 * (no database; a built-in worker's settings come from the environment and `.env`).
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { type JobHandler, Worker, type WorkerLogger } from '../../worker/index.js';
import { withDotenv } from '../../config.js';
import type { AnyModule, BuiltinWorker } from '../../modules/contract.js';
import { prepareModules } from '../../modules/registry.js';
import { positiveInt } from '../context.js';
import { ExitCode, ExitError } from '../output.js';

interface WorkerCommandOptions {
  server?: string;
  apiKey?: string;
  queue: string[];
  kind: string[];
  concurrency: number;
  name?: string;
  handler?: string;
  builtin?: string;
  graceSeconds: number;
  waitSeconds: number;
  verbose: boolean;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function wholeSeconds(max: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) > max) throw new InvalidArgumentError(`must be a whole number of seconds 0..${max}`);
    return Number(value);
  };
}

/** `key=value` pairs of a log line (values with spaces are JSON-quoted). */
function fields(data: Record<string, unknown> | undefined): string {
  if (!data) return '';
  return Object.entries(data)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => {
      const text = typeof value === 'string' ? value : JSON.stringify(value);
      return ` ${key}=${/[\s"]/.test(text) ? JSON.stringify(text) : text}`;
    })
    .join('');
}

/** One line per event: job events on stdout, warnings and errors on stderr. */
function lineLogger(verbose: boolean): WorkerLogger {
  const line = (message: string, data?: Record<string, unknown>) => `${new Date().toISOString()} ${message}${fields(data)}\n`;
  return {
    debug: verbose ? (message, data) => process.stderr.write(line(message, data)) : undefined,
    info: (message, data) => process.stdout.write(line(message, data)),
    warn: (message, data) => process.stderr.write(line(`warning: ${message}`, data)),
    error: (message, data) => process.stderr.write(line(`error: ${message}`, data)),
  };
}

/**
 * Loads the handler module: its default export is a function `(job, ctx) => result` for every
 * kind, or an object `{ [kind]: fn }` (`'*'` for any other kind).
 * @throws ExitError (invalid input) when the module cannot be loaded or exports neither.
 */
async function loadHandlers(file: string | URL): Promise<Map<string, JobHandler>> {
  const absolute = file instanceof URL ? file.href : path.resolve(file);
  let module: { default?: unknown };
  try {
    module = (await import(file instanceof URL ? file.href : pathToFileURL(absolute).href)) as { default?: unknown };
  } catch (error) {
    throw new ExitError(ExitCode.invalidInput, `error: cannot load the handler module ${absolute}: ${(error as Error).message}`);
  }
  const exported = module.default;
  if (typeof exported === 'function') return new Map([['*', exported as JobHandler]]);
  if (exported && typeof exported === 'object') {
    const entries = Object.entries(exported as Record<string, unknown>);
    const bad = entries.filter(([, fn]) => typeof fn !== 'function').map(([kind]) => kind);
    if (entries.length > 0 && bad.length === 0) return new Map(entries as Array<[string, JobHandler]>);
    if (bad.length) throw new ExitError(ExitCode.invalidInput, `error: ${absolute}: the handlers of ${bad.join(', ')} are not functions`);
  }
  throw new ExitError(
    ExitCode.invalidInput,
    `error: ${absolute} must export default a function (job, ctx) => result, or an object { [kind]: function }`,
  );
}

/**
 * The built-in worker `name` among the modules' (their settings read from the environment and `.env`).
 * @throws ExitError (invalid input) naming the built-in workers there are.
 */
function findBuiltinWorker(modules: readonly AnyModule[], name: string): BuiltinWorker {
  const all = prepareModules(modules, withDotenv(process.env)).flatMap((p) => p.module.builtinWorkers?.(p.settings) ?? []);
  const found = all.find((w) => w.name === name);
  if (!found) {
    throw new ExitError(ExitCode.invalidInput, `error: there is no built-in worker called ${name} (there are: ${all.map((w) => w.name).join(', ') || 'none'})`);
  }
  return found;
}

/**
 * Registers `worker` on `program`: claims jobs from `--queue`s and runs them with `--handler`, or
 * runs a module's built-in worker (`--builtin NAME`: its handler module, kinds and default queues).
 * SIGTERM/SIGINT: stop claiming and let running jobs finish for `--grace-seconds` (30), then
 * release them; a second signal releases at once. Exit code 0 after a graceful stop, 2 for bad
 * options or a refused API key / permission.
 */
export function registerWorkerCommands(program: Command, modules: readonly AnyModule[] = []): void {
  program
    .command('worker')
    .description('Run a worker: claim jobs from a Gatehouse server and run them with a handler module.')
    .addOption(new Option('--server <url>', 'the Gatehouse server, e.g. https://gatehouse.example.com').env('GATEHOUSE_SERVER'))
    .addOption(
      new Option('--api-key <key>', 'API key of the worker (prefer the environment variable: arguments show in ps)').env('GATEHOUSE_API_KEY'),
    )
    .option('--queue <name>', 'queue to claim from (repeat for several; default for --builtin: its queues)', collect, [])
    .option('--kind <kind>', 'only claim jobs of this kind (repeatable; default: the kinds the handler module names)', collect, [])
    .option('--concurrency <n>', 'jobs run at the same time', positiveInt, 1)
    .option('--name <name>', 'worker name shown by the server (default <hostname>-<pid>)')
    .option('--handler <file>', 'module whose default export handles jobs: a function, or { [kind]: function }')
    .option('--builtin <name>', 'run a built-in worker shipped with a Gatehouse module instead of --handler (its kinds and default queues come from the module)')
    .option('--grace-seconds <s>', 'on SIGTERM/SIGINT, how long running jobs may take to finish before they are released', wholeSeconds(86_400), 30)
    .option('--wait-seconds <s>', 'long-poll seconds of each claim', wholeSeconds(30), 25)
    .option('--verbose', 'also log retries and idle polls', false)
    .action(async (opts: WorkerCommandOptions) => {
      if (!opts.server) throw new ExitError(ExitCode.invalidInput, 'error: give --server URL (or set GATEHOUSE_SERVER)');
      if (!opts.apiKey) throw new ExitError(ExitCode.invalidInput, 'error: set GATEHOUSE_API_KEY (or give --api-key)');
      if (Boolean(opts.handler) === Boolean(opts.builtin)) throw new ExitError(ExitCode.invalidInput, 'error: give either --handler FILE or --builtin NAME');
      const builtin = opts.builtin ? findBuiltinWorker(modules, opts.builtin) : undefined;
      if (builtin) {
        if (!opts.queue.length) opts.queue = [...builtin.queues];
        if (!opts.kind.length) opts.kind = [...builtin.kinds];
      }
      if (opts.queue.length === 0) throw new ExitError(ExitCode.invalidInput, 'error: give at least one --queue');
      const handlers = await loadHandlers(builtin ? builtin.handlers : opts.handler!);
      let worker: Worker;
      try {
        worker = new Worker({
          server: opts.server,
          apiKey: opts.apiKey,
          queues: opts.queue,
          kinds: opts.kind.length ? opts.kind : undefined,
          name: opts.name,
          concurrency: opts.concurrency,
          waitSeconds: opts.waitSeconds,
          logger: lineLogger(opts.verbose),
        });
      } catch (error) {
        throw new ExitError(ExitCode.invalidInput, `error: ${(error as Error).message}`);
      }
      for (const [kind, handler] of handlers) worker.handle(kind, handler);

      let signals = 0;
      let graceTimer: NodeJS.Timeout | undefined;
      const onSignal = (signal: NodeJS.Signals) => {
        signals += 1;
        if (signals === 1) {
          process.stderr.write(
            `${new Date().toISOString()} ${signal}: stopping; running jobs have ${opts.graceSeconds}s to finish (signal again to release them now)\n`,
          );
          graceTimer = setTimeout(() => void worker.stop({ release: true }), opts.graceSeconds * 1000);
          void worker.stop();
        } else {
          process.stderr.write(`${new Date().toISOString()} ${signal}: releasing running jobs now\n`);
          void worker.stop({ release: true });
        }
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      process.stdout.write(
        `${new Date().toISOString()} worker ${worker.name} started${fields({ server: opts.server, queues: opts.queue.join(','), concurrency: opts.concurrency })}\n`,
      );
      try {
        await worker.run();
      } catch (error) {
        throw new ExitError(ExitCode.invalidInput, `error: the server refused the worker: ${(error as Error).message}`);
      } finally {
        clearTimeout(graceTimer);
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        // A released handler that ignores its abort signal must not keep the process alive.
        setTimeout(() => process.exit(), 2000).unref();
      }
      process.stdout.write(`${new Date().toISOString()} worker ${worker.name} stopped\n`);
    });
}
