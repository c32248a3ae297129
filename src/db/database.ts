/**
 * Opens the database named by the configuration: better-sqlite3 (WAL, foreign keys, busy
 * timeout) by default, or a `pg` pool for PostgreSQL. Both come back as the same typed
 * `Kysely<Database>`; the few dialect differences live here and in `dialect-helpers.ts`.
 */
import { existsSync } from 'node:fs';
import type SqliteDatabase from 'better-sqlite3';
import { Kysely, type KyselyPlugin, PostgresDialect, SqliteDialect, sql } from 'kysely';
import type pg from 'pg';
import type { Config, DatabaseDialect } from '../config.js';
import { preparePrivateFile } from '../shared/private-files.js';
import type { Database } from './schema.js';
import { loadBetterSqlite3, loadPg } from './drivers.js';
import { withPreparedStatements } from './pg-prepared.js';
import { BACKSTOP_AUTOCHECKPOINT_PAGES, SqliteCheckpointer } from './sqlite-checkpointer.js';
import { type WriteDatabase, WriteTransactions } from './transaction.js';

/**
 * An open database: the query builder, which engine it is, its write transactions (`write`,
 * `writeLocking`: bound to the dialect, with this handle's own SQLite group commit), and how to
 * close it.
 */
export interface DatabaseHandle extends WriteDatabase {
  db: Kysely<Database>;
  dialect: DatabaseDialect;
  /**
   * The same connections seen through a Kysely plugin (tests count queries this way), with write
   * transactions of its own. Closing either handle closes the connections.
   */
  withPlugin(plugin: KyselyPlugin): DatabaseHandle;
  /**
   * SQLite only: `PRAGMA data_version`, which changes whenever ANOTHER connection (another
   * process, e.g. the CLI) commits to the file. Lets caches notice outside writes cheaply.
   */
  dataVersion?: () => number;
  /**
   * SQLite only: copies the open database into `destination` with SQLite's online backup API (a
   * consistent snapshot while other connections keep reading and writing).
   */
  backup?: (destination: string) => Promise<void>;
  /**
   * SQLite only, when opened with `checkpointInBackground`: runs a WAL checkpoint now on the
   * checkpointing thread and resolves to the WAL frames that thread has copied back so far.
   */
  checkpointNow?: () => Promise<number>;
  /** Closes every connection. Safe to call twice. */
  close(): Promise<void>;
}

/** Options for {@link openDatabase}. */
export interface OpenDatabaseOptions {
  /**
   * SQLite files only: WAL checkpoints (copying committed pages back into the database file, with
   * its fsyncs) run on a thread of their own instead of inside whichever commit crosses 1000 WAL
   * pages (`sqlite-checkpointer.ts`), so that commits on the event loop never stall for them. For
   * the long-running server; a short CLI command keeps SQLite's own checkpoints. Default false.
   */
  checkpointInBackground?: boolean;
}

const PG_TIMESTAMPTZ = 1184;
const PG_TIMESTAMP = 1114;
const PG_INT8 = 20;
const PG_JSON = 114;
const PG_JSONB = 3802;

/** PostgreSQL's ISO output of a UTC `timestamptz`: `2026-11-22 06:30:00.123456+00`. */
const PG_UTC_TIMESTAMP = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?\+00$/;

/**
 * `timestamptz` text → ISO-8601 with milliseconds (`Date#toISOString` form). UTC values (the
 * usual case: every row of a job claim carries several) are rewritten as text; anything else
 * (another session time zone) goes through `Date`. Both truncate to milliseconds.
 */
function parseTimestamptz(value: string): string {
  const m = PG_UTC_TIMESTAMP.exec(value);
  if (!m) return new Date(value).toISOString();
  return `${m[1]}T${m[2]}.${(m[3] ?? '').padEnd(3, '0').slice(0, 3)}Z`;
}

/**
 * Type parsers that make PostgreSQL rows look like SQLite rows: ISO times, numbers, JSON text;
 * `fallback` (pg's own) for every other type.
 */
function pgTypeParsers(fallback: typeof pg.types.getTypeParser) {
  return (oid: number, format?: string): ((value: string) => unknown) => {
    switch (oid) {
      case PG_TIMESTAMPTZ:
        return parseTimestamptz;
      case PG_TIMESTAMP:
        return (v) => new Date(`${v}Z`).toISOString();
      case PG_INT8:
        return (v) => Number(v);
      case PG_JSON:
      case PG_JSONB:
        return (v) => v;
      default:
        return fallback(oid, format as 'text');
    }
  };
}

/** Prepared statements kept per SQLite connection (distinct SQL texts; the oldest go first). */
const STATEMENT_CACHE_SIZE = 500;

/**
 * The connection as Kysely sees it, with prepared statements reused by SQL text. Kysely prepares
 * every query again, and SQLite's prepare (parse and plan) costs more than running a simple
 * statement: reusing them roughly halves the time of a claim or a completion. Safe because Kysely
 * runs a statement to completion synchronously (`all`/`run`) and Gatehouse never streams results.
 */
function withStatementCache(sqlite: SqliteDatabase.Database): { prepare(sql: string): SqliteDatabase.Statement; close(): void } {
  const cache = new Map<string, SqliteDatabase.Statement>();
  return {
    prepare(sql: string) {
      let statement = cache.get(sql);
      if (statement) {
        // Most recently used last, so eviction takes the least recently used.
        cache.delete(sql);
      } else {
        statement = sqlite.prepare(sql);
        if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
      }
      cache.set(sql, statement);
      return statement;
    },
    close() {
      cache.clear();
      sqlite.close();
    },
  };
}

/**
 * Opens (and for SQLite creates) the database.
 *
 * @param config the `database` section. SQLite: a new database file is created 0600 in a directory
 *   created 0700 (the file holds the token signing private key; SQLite gives its `-wal` and `-shm`
 *   files the database file's mode); an existing file keeps its mode.
 * @throws when PostgreSQL's URL is malformed (connection errors surface on first query).
 */
export function openDatabase(config: Config['database'], options: OpenDatabaseOptions = {}): DatabaseHandle {
  if (config.dialect === 'postgres') {
    const pg = loadPg();
    const pool = new pg.Pool({
      connectionString: config.url,
      max: config.poolSize,
      types: { getTypeParser: pgTypeParsers(pg.types.getTypeParser) as typeof pg.types.getTypeParser },
    });
    // An idle client losing its connection must not crash the process; the pool replaces it.
    pool.on('error', () => undefined);
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: config.preparedStatements ? withPreparedStatements(pool) : pool }) });
    return handleOf(db, 'postgres', { close: onceAsync(() => db.destroy()) });
  }
  if (config.url !== ':memory:' && !existsSync(config.url)) preparePrivateFile(config.url);
  const sqlite = new (loadBetterSqlite3())(config.url);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  // NORMAL is durable in WAL mode against process crashes (only an OS crash may lose the last commit).
  sqlite.pragma('synchronous = NORMAL');
  const checkpointer = options.checkpointInBackground && config.url !== ':memory:' ? new SqliteCheckpointer(config.url) : undefined;
  // The thread checkpoints; this connection only if the thread falls far behind or dies.
  if (checkpointer) sqlite.pragma(`wal_autocheckpoint = ${BACKSTOP_AUTOCHECKPOINT_PAGES}`);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  const dataVersionStatement = sqlite.prepare('PRAGMA data_version').pluck();
  return handleOf(db, 'sqlite', {
    dataVersion: () => (sqlite.open ? Number(dataVersionStatement.get()) : -1),
    backup: async (destination) => {
      await sqlite.backup(destination);
    },
    ...(checkpointer ? { checkpointNow: () => checkpointer.checkpointNow() } : {}),
    // The thread's connection closes first, so that this one, the last, checkpoints the rest of
    // the WAL and removes it on close as SQLite does.
    close: onceAsync(async () => {
      await checkpointer?.stop();
      await db.destroy();
    }),
  });
}

/** A handle on `db` with its own write transactions; `extras` are the engine's own members. */
function handleOf(
  db: Kysely<Database>,
  dialect: DatabaseDialect,
  extras: Pick<DatabaseHandle, 'close' | 'dataVersion' | 'backup' | 'checkpointNow'>,
): DatabaseHandle {
  const { write, writeLocking } = new WriteTransactions(db, dialect);
  return { db, dialect, write, writeLocking, withPlugin: (plugin) => handleOf(db.withPlugin(plugin), dialect, extras), ...extras };
}

/** Runs `SELECT 1`; resolves true when the database answers. */
export async function pingDatabase(db: Kysely<Database>): Promise<boolean> {
  try {
    await sql`select 1`.execute(db);
    return true;
  } catch {
    return false;
  }
}

function onceAsync(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => (done ??= fn());
}
