/**
 * The `gatehouse` command line: `serve`, `migrate`, `users create|list`, `groups …`,
 * `keys rotate`, `secrets rotate`.
 * Commands call the same services as the HTTP routes; they never run SQL themselves.
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { ConfigError, loadConfig } from '../config.js';
import { createGatehouse, type Gatehouse } from '../container.js';
import { openDatabase } from '../db/database.js';
import { migrateToLatest } from '../db/migrate.js';
import { startServer, stopOnSignals } from '../server.js';
import { isAppError } from '../shared/errors.js';
import { createLogger } from '../shared/logger.js';
import { VERSION } from '../version.js';
import { registerGroupCommands } from './commands/groups.js';
import { registerKeyCommands } from './commands/keys.js';
import { ExitCode, renderTable } from './output.js';
import { CancelledError, promptPassword, promptText, readStdin } from './prompts.js';

function positiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('must be a positive whole number');
  return Number(value);
}

async function withGatehouse<T>(work: (gatehouse: Gatehouse) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const gatehouse = await createGatehouse(config, {
    logger: createLogger({ level: 'warn', stderr: true }),
  });
  try {
    return await work(gatehouse);
  } finally {
    await gatehouse.close();
  }
}

function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('gatehouse')
    .description('Gatehouse: accounts, sessions, tokens and work distribution in one server.')
    .version(VERSION, '-v, --version')
    .exitOverride()
    .showHelpAfterError();

  program
    .command('serve')
    .description('Start the HTTP server (migrates the database first).')
    .action(async () => {
      const server = await startServer(loadConfig());
      stopOnSignals(server);
    });

  program
    .command('migrate')
    .description('Apply pending database migrations and exit.')
    .action(async () => {
      const config = loadConfig();
      const database = openDatabase(config.database);
      try {
        const { applied } = await migrateToLatest(database.db, database.dialect);
        console.log(applied.length ? `Applied: ${applied.join(', ')}` : 'The database is up to date.');
      } finally {
        await database.close();
      }
    });

  const users = program.command('users').description('Manage user accounts.');

  users
    .command('create')
    .description('Create a user whose email is already verified.')
    .option('--email <email>', 'email address (prompted when omitted)')
    .option('--name <name>', 'display name', '')
    .option('--admin', 'give the user the admin role', false)
    .option('--password-stdin', 'read the password from standard input instead of prompting', false)
    .option('--json', 'print the created user as JSON', false)
    .action(async (opts: { email?: string; name: string; admin: boolean; passwordStdin: boolean; json: boolean }) => {
      const email = opts.email ?? (await promptText('Email address'));
      const password = opts.passwordStdin ? await readStdin() : await promptPassword('Password (10+ characters)');
      await withGatehouse(async (gatehouse) => {
        const user = await gatehouse.accounts.createUser({
          email,
          password,
          name: opts.name,
          role: opts.admin ? 'admin' : 'user',
        });
        if (opts.json) console.log(JSON.stringify(user, null, 2));
        else console.log(`Created ${user.role} ${user.email} (${user.id}).`);
      });
    });

  users
    .command('list')
    .description('List users in creation order.')
    .option('--limit <n>', 'page size', positiveInt, 50)
    .option('--cursor <id>', 'continue after this user id (printed at the end of the previous page)')
    .option('--json', 'print JSON instead of a table', false)
    .action(async (opts: { limit: number; cursor?: string; json: boolean }) => {
      await withGatehouse(async (gatehouse) => {
        const page = await gatehouse.accounts.listUsers(opts.limit, opts.cursor);
        if (opts.json) {
          console.log(JSON.stringify({ items: page.users, next_cursor: page.nextId }, null, 2));
          return;
        }
        if (page.users.length === 0) {
          console.log('No users.');
          return;
        }
        console.log(
          renderTable(
            page.users.map((u) => ({ ...u, name: u.name || '-' })),
            [
              ['EMAIL', 'email'],
              ['NAME', 'name'],
              ['VERIFIED', 'email_verified'],
              ['ROLE', 'role'],
              ['STATUS', 'status'],
              ['CREATED', 'created_at'],
            ],
          ),
        );
        if (page.nextId) console.log(`\nMore users: gatehouse users list --cursor ${page.nextId}`);
      });
    });

  registerGroupCommands(program);
  registerKeyCommands(program);

  program.hook('postAction', () => setExit(ExitCode.ok));
  return program;
}

/**
 * Runs the CLI with `argv` (as `process.argv`).
 * @returns the process exit code (see {@link ExitCode}).
 */
export async function main(argv: string[]): Promise<number> {
  let exitCode: number = ExitCode.ok;
  const program = buildProgram((code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    if (error instanceof CancelledError) {
      console.error('Cancelled.');
      return ExitCode.cancelled;
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
    return ExitCode.failure;
  }
}
