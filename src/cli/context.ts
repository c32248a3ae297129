/**
 * What every CLI command shares: building Gatehouse from the configuration (naming the database
 * it uses), option parsers, the actor.
 */
import { type Command, InvalidArgumentError } from 'commander';
import type { ActorContext } from '../audit/audit.service.js';
import { type Config, loadConfig, maskSecret } from '../config.js';
import { buildGatehouse, type Gatehouse, type GatehouseOverrides } from '../container.js';
import { type DatabaseHandle, openDatabase } from '../db/database.js';
import { migrationStatus } from '../db/migrate.js';
import { createLogger } from '../shared/logger.js';

/** The audit-log actor for commands run from the terminal. */
export const CLI_ACTOR: ActorContext = { actorId: null, ip: null, userAgent: 'gatehouse-cli' };

/**
 * The commands that change data (`parent command`, or `parent command` + the option that makes
 * a listing command write). They print which database they use on stderr before they start.
 */
const MUTATING_COMMANDS = new Set([
  'gatehouse migrate',
  'gatehouse restore',
  'users create',
  'users edit',
  'users verify',
  'users set-role',
  'users make-admin',
  'users remove-admin',
  'users ban',
  'users unban',
  'users deactivate',
  'users reactivate',
  'users delete',
  'users import',
  'users reset-mfa',
  'groups create',
  'groups update',
  'groups delete',
  'groups add-member',
  'groups remove-member',
  'keys rotate',
  'api-keys revoke',
  'notify test',
  'notify enable',
  'notify disable',
  'schedule run',
  'queues create',
  'queues update',
  'queues pause',
  'queues resume',
  'jobs enqueue',
  'jobs pause',
  'jobs resume',
  'jobs retry',
  'jobs cancel',
]);

/** Listing commands that write when given one of these options. */
const MUTATING_OPTIONS: Record<string, string[]> = {
  'users sessions': ['revoke', 'revokeAll'],
  'notify outbox': ['retry', 'retryDead'],
};

let announceDatabase = false;

/**
 * Whether `command` (the one about to run) changes data; main's `preAction` hook passes the
 * answer to {@link setAnnounceDatabase}.
 */
export function isMutatingCommand(command: Command): boolean {
  const key = `${command.parent?.name() ?? ''} ${command.name()}`;
  if (MUTATING_COMMANDS.has(key)) return true;
  const options = command.opts<Record<string, unknown>>();
  return (MUTATING_OPTIONS[key] ?? []).some((name) => options[name] !== undefined && options[name] !== false);
}

/** Makes the next database opened by the CLI print `Database: …` on stderr (true for commands that change data). */
export function setAnnounceDatabase(on: boolean): void {
  announceDatabase = on;
}

/** The database as operators should see it: `sqlite /abs/file.db` or `postgres postgres://u:****@host/db`. */
export function describeDatabase(database: Config['database']): string {
  return `${database.dialect} ${database.dialect === 'sqlite' ? database.url : maskSecret('DATABASE_URL', database.url)}`;
}

/**
 * Opens the configured database for a command. On stderr (stdout stays machine-readable): the
 * database, for commands that change data (see {@link setAnnounceDatabase}); and for every
 * command a warning when the database is new and empty (no migration ever ran), which usually
 * means another environment (DATA_DIR, DATABASE_URL, .env) than the server's.
 */
export async function openCommandDatabase(config: Config): Promise<DatabaseHandle> {
  const where = describeDatabase(config.database);
  if (announceDatabase) console.error(`Database: ${where}`);
  const database = openDatabase(config.database);
  try {
    if ((await migrationStatus(database.db, database.dialect)).applied === 0) {
      console.error(
        `warning: ${where} was a new, empty database; creating the Gatehouse tables in it. If you meant your server's data, check DATA_DIR, DATABASE_URL and the .env file of the working directory.`,
      );
    }
  } catch (error) {
    await database.close();
    throw error;
  }
  return database;
}

/**
 * Builds Gatehouse from the environment (and `.env`) for a one-shot command, runs `work`, and
 * always closes it. Started with role `command`: pending migrations are applied (a new database
 * gets its tables; a current one costs one query per migration set), nothing else a server
 * prepares happens (no signing-key load, no listener, no GROUPS_FILE seeding, no sweep).
 * Logs go to stderr at `warn` so stdout carries only the command's output; the database is
 * named there too (see {@link openCommandDatabase}).
 */
export async function withGatehouse<T>(work: (gatehouse: Gatehouse) => Promise<T>, overrides: Pick<GatehouseOverrides, 'modules'> = {}): Promise<T> {
  const config = loadConfig();
  const database = await openCommandDatabase(config);
  const gatehouse = await buildGatehouse(config, { ...overrides, logger: createLogger({ level: 'warn', stderr: true }), database });
  try {
    await gatehouse.start({ role: 'command' });
    return await work(gatehouse);
  } finally {
    await gatehouse.close();
  }
}

/** commander parser for a whole number in `min..max`. */
export function intIn(min: number, max: number): (value: string) => number {
  return (value: string): number => {
    if (!/^-?\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}`);
    }
    return Number(value);
  };
}

/** commander parser for a whole number ≥ 1. */
export function positiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('must be a positive whole number');
  return Number(value);
}

/**
 * commander parser for a whole number ≥ 0, or `default` (→ `'default'`: use the configured
 * default). Not null: commander replaces a parser's null with ''.
 */
export function countOrDefault(value: string): number | 'default' {
  if (value === 'default') return 'default';
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('must be a whole number or "default"');
  return Number(value);
}

/**
 * commander parser for a duration: seconds, or a number with a unit (`90s`, `15m`, `12h`, `7d`,
 * `2w`), or `default` (→ `'default'`; not null, which commander replaces with '').
 */
export function durationOrDefault(value: string): number | 'default' {
  if (value === 'default') return 'default';
  const seconds = parseDuration(value);
  if (seconds === null) throw new InvalidArgumentError('must be seconds or a duration like 30m, 12h, 7d, 2w, or "default"');
  return seconds;
}

/** Parses `3600`, `90s`, `15m`, `12h`, `7d` or `2w` into seconds; null when malformed. */
export function parseDuration(value: string): number | null {
  const match = /^(\d+)\s*([smhdw]?)$/.exec(value.trim());
  if (!match) return null;
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 }[match[2] as '' | 's' | 'm' | 'h' | 'd' | 'w'];
  return Number(match[1]) * unit;
}
