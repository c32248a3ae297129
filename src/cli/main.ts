/**
 * The `gatehouse` command line: `serve`, `migrate`, `users …`, `groups …`, `keys rotate`,
 * `secrets rotate`, `api-keys …`, `config show|check`, `backup`, `restore`, `version bump`, `worker`,
 * `queues …`, `jobs …`.
 * Commands call the same services as the HTTP routes; they never run SQL themselves.
 */
import { Command, CommanderError } from 'commander';
import { ConfigError, loadConfig } from '../config.js';
import { migrateToLatest } from '../db/migrate.js';
import { isAppError } from '../shared/errors.js';
import type { AnyModule } from '../modules/contract.js';
import { MODULES } from '../modules/index.js';
import { PLATFORM_FEATURES } from '../platform/index.js';
import { VERSION } from '../version.js';
import { registerWorkerCommands } from './commands/worker.js';
import { isMutatingCommand, openCommandDatabase, setAnnounceDatabase, withGatehouse } from './context.js';
import { ExitCode, ExitError } from './output.js';
import { CancelledError } from './prompts.js';

/** Options for {@link main}. */
export interface CliOptions {
  /** The feature modules whose commands and migrations the CLI knows; default {@link MODULES}. */
  modules?: readonly AnyModule[];
}

function buildProgram(setExit: (code: number) => void, modules: readonly AnyModule[], onSigint: (listener: () => void) => void): Command {
  const program = new Command('gatehouse')
    .description('Gatehouse: accounts, sessions, tokens and work distribution in one server.')
    .version(VERSION, '-v, --version')
    .exitOverride()
    .showHelpAfterError();

  program
    .command('serve')
    .description('Start the HTTP server (migrates the database first).')
    .action(async () => {
      // The HTTP stack (Fastify, schemas, plugins) is loaded only here: other commands never need it.
      const { startServer, stopOnSignals } = await import('../server.js');
      const starting = startServer(loadConfig(), { modules });
      // Before the server listens: a signal during the start must still stop it gracefully.
      stopOnSignals(starting);
      await starting;
    });

  program
    .command('migrate')
    .description('Apply pending database migrations and exit.')
    .action(async () => {
      const config = loadConfig();
      const database = await openCommandDatabase(config);
      try {
        const { applied } = await migrateToLatest(database.db, database.dialect, modules);
        console.log(applied.length ? `Applied: ${applied.join(', ')}` : 'The database is up to date.');
      } finally {
        await database.close();
      }
    });

  // The platform's features (their commands run on their own Gatehouse), then `worker` (it needs
  // the module list for --builtin), then the feature modules'.
  for (const feature of PLATFORM_FEATURES) feature.commands?.(program, (work) => withGatehouse((gatehouse) => work(gatehouse, gatehouse), { modules }));
  registerWorkerCommands(program, modules);
  for (const module of modules) {
    module.commands?.(program, (work) =>
      withGatehouse((gatehouse) => work(gatehouse.moduleServices(module.name), gatehouse), { modules }),
    );
  }

  program.hook('preAction', (_program, command) => {
    setAnnounceDatabase(isMutatingCommand(command));
    // Ctrl-C outside a prompt (a long import, a backup): end cleanly; an open transaction rolls back.
    // `serve` and `worker` stop gracefully on signals themselves.
    if (command.name() !== 'serve' && command.name() !== 'worker') onSigint(() => process.exit(cancelled()));
  });
  program.hook('postAction', () => setExit(ExitCode.ok));
  return program;
}

function cancelled(): number {
  console.error('\nCancelled.');
  return ExitCode.cancelled;
}

/**
 * Runs the CLI with `argv` (as `process.argv`).
 * @returns the process exit code (see {@link ExitCode}).
 */
export async function main(argv: string[], options: CliOptions = {}): Promise<number> {
  let exitCode: number = ExitCode.ok;
  // Removed when the command ends: an application (or a test) that calls main() many times in one
  // process keeps no listener of a finished command.
  let sigint: (() => void) | undefined;
  const program = buildProgram(
    (code) => {
      exitCode = code;
    },
    options.modules ?? MODULES,
    (listener) => {
      sigint = listener;
      process.once('SIGINT', listener);
    },
  );
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    if (error instanceof CancelledError) return cancelled();
    if (error instanceof ExitError) {
      if (error.message) console.error(error.message);
      return error.exitCode;
    }
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? ExitCode.ok : ExitCode.invalidInput;
    }
    if (error instanceof ConfigError) {
      console.error(error.message);
      return ExitCode.invalidInput;
    }
    if (isAppError(error)) {
      console.error(`error: ${error.detail ?? error.message} (${error.code})`);
      return error.status < 500 ? ExitCode.invalidInput : ExitCode.failure;
    }
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    if ((error as NodeJS.ErrnoException | null)?.code === 'EADDRINUSE') {
      console.error('hint: another process is listening on that port; choose another with PORT=…');
    }
    return ExitCode.failure;
  } finally {
    if (sigint) process.off('SIGINT', sigint);
  }
}
