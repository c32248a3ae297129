/**
 * Transactions with after-commit callbacks (the pattern of PocketBase's `core/db_tx.go`):
 * side effects such as cache invalidation or waking the mail dispatcher are registered inside the
 * transaction and run only once it has committed; a rollback discards them.
 */
import { CompiledQuery, type Kysely, sql, type Transaction } from 'kysely';
import type { DatabaseDialect } from '../config.js';
import type { Executor } from './executor.js';
import type { Database } from './schema.js';

/** An open transaction plus a way to defer work until it commits. */
export interface Tx {
  db: Transaction<Database>;
  /** Runs `fn` after a successful commit (in registration order); errors in `fn` are swallowed. */
  afterCommit(fn: () => void): void;
}

/** Runs a committed transaction's after-commit callbacks in order; one that throws is skipped. */
function runAfterCommit(callbacks: ReadonlyArray<() => void>): void {
  for (const fn of callbacks) {
    try {
      fn();
    } catch {
      // An after-commit side effect must never turn a committed change into a reported failure.
    }
  }
}

/**
 * Runs `work` in one transaction; commits when it resolves, rolls back when it throws.
 * @returns what `work` returned. @throws what `work` threw (after rollback).
 */
export async function inTransaction<T>(db: Kysely<Database>, work: (tx: Tx) => Promise<T>): Promise<T> {
  const callbacks: Array<() => void> = [];
  const result = await db.transaction().execute((trx) => work({ db: trx, afterCommit: (fn) => callbacks.push(fn) }));
  runAfterCommit(callbacks);
  return result;
}

/** A write transaction on either dialect (see {@link WriteTransactions}). */
export interface WriteTx {
  db: Executor;
  /** The engine the transaction runs on, for repository functions that choose their SQL by it. */
  dialect: DatabaseDialect;
  /** Runs `fn` after a successful commit (in registration order); errors in `fn` are swallowed. */
  afterCommit(fn: () => void): void;
}

/** Either kind of transaction, for code that only writes through `db` and defers side effects. */
export type AnyTx = Pick<WriteTx, 'db' | 'afterCommit'>;

/** Runs `work` in a write transaction (see {@link WriteTransactions.write}). */
export type WriteTransaction = <T>(work: (tx: WriteTx) => Promise<T>) => Promise<T>;

/** The row a {@link WriteTransactions.writeLocking} transaction locks first. */
export interface RowLock {
  table: 'worker';
  /** A lower-case UUID (it travels as a literal, never as user text). */
  id: string;
}

/**
 * A database handle's query builder, its engine and its write transactions: what services and
 * the repository functions that choose SQL (or a transaction) by dialect take.
 */
export interface WriteDatabase {
  readonly db: Kysely<Database>;
  readonly dialect: DatabaseDialect;
  /** See {@link WriteTransactions.write}. */
  readonly write: WriteTransaction;
  /** See {@link WriteTransactions.writeLocking}. */
  readonly writeLocking: <T>(lock: RowLock, work: (tx: WriteTx) => Promise<T>) => Promise<T>;
}

/**
 * The write transactions of one database handle, bound to its dialect. On SQLite it owns the
 * handle's group-commit batcher ({@link SqliteGroupCommit}); there is no batcher shared between
 * handles. `write` and `writeLocking` are bound functions: pass them on without their object.
 */
export class WriteTransactions {
  private readonly groupCommit: SqliteGroupCommit | undefined;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: DatabaseDialect,
  ) {
    this.groupCommit = dialect === 'sqlite' ? new SqliteGroupCommit(db) : undefined;
  }

  /**
   * Like {@link inTransaction}, but on SQLite the work joins a group commit: a `BEGIN IMMEDIATE`
   * transaction that takes the write lock before its first read, so a read-then-write (a claim)
   * can never be invalidated by another process's commit in between (SQLITE_BUSY_SNAPSHOT). On
   * PostgreSQL it is an ordinary READ COMMITTED transaction.
   * Never call it from inside another write transaction's `work` (the inner call would wait for
   * the outer batch to finish).
   * @returns what `work` returned, once committed. @throws what `work` threw (its changes undone).
   */
  readonly write: WriteTransaction = (work) => {
    if (this.groupCommit) return this.groupCommit.submit(work);
    return inTransaction(this.db, (tx) => work({ db: tx.db, dialect: 'postgres', afterCommit: tx.afterCommit }));
  };

  /**
   * A write transaction that first locks one row (`SELECT … FOR UPDATE`), serialising every
   * transaction that locks the same row. On PostgreSQL the BEGIN and the lock travel as one
   * simple-protocol message (one round trip instead of two: the id is a validated UUID literal,
   * never user text). On SQLite the group commit already runs one unit at a time, so no lock is
   * needed. `work` must tolerate that the row may not exist (then nothing is locked).
   * @throws Error when `lock.id` is not a lower-case UUID; what `work` threw (after rollback).
   */
  readonly writeLocking = async <T>(lock: RowLock, work: (tx: WriteTx) => Promise<T>): Promise<T> => {
    if (this.groupCommit) return this.groupCommit.submit(work);
    if (!UUID_LITERAL.test(lock.id)) throw new Error(`refusing to lock a row by a non-UUID id: ${lock.id}`);
    const callbacks: Array<() => void> = [];
    const result = await this.db.connection().execute(async (connection) => {
      await sql.raw(`begin; select 1 from "${lock.table}" where id = '${lock.id}' for update`).execute(connection);
      try {
        const value = await work({ db: connection, dialect: 'postgres', afterCommit: (fn) => callbacks.push(fn) });
        await sql`commit`.execute(connection);
        return value;
      } catch (error) {
        await sql`rollback`.execute(connection).catch(() => undefined);
        throw error;
      }
    });
    runAfterCommit(callbacks);
    return result;
  };
}



interface PendingWork {
  work: (tx: WriteTx) => Promise<unknown>;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** The group commit's statements, compiled once (they run several times per unit of work). */
const SAVEPOINT = CompiledQuery.raw('savepoint unit');
const RELEASE = CompiledQuery.raw('release unit');
const ROLLBACK_TO = CompiledQuery.raw('rollback to unit');

/** Most units of work one SQLite commit carries. */
const MAX_GROUP = 256;

/**
 * Group commit for SQLite (the technique of database write-ahead logs since DeWitt et al.,
 * "Implementation techniques for main memory database systems", SIGMOD 1984): units of work that
 * arrive while a commit is being prepared share one transaction and one commit. Each unit runs
 * inside its own SAVEPOINT, so one unit failing rolls back only its own changes; every caller's
 * promise settles only after the shared COMMIT, so nothing is acknowledged before it is durable.
 * With one caller at a time this is a plain transaction; with fifty concurrent workers it turns
 * fifty commits (each a WAL write, hundreds of microseconds) into a few.
 */
class SqliteGroupCommit {
  private queue: PendingWork[] = [];
  private draining = false;

  constructor(private readonly db: Kysely<Database>) {}

  /** Queues `work` for the next group. */
  submit<T>(work: (tx: WriteTx) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (!this.draining) {
        this.draining = true;
        // Let requests that arrived in the same turn of the event loop join this group.
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length) {
        const group = this.queue.splice(0, MAX_GROUP);
        await this.runGroup(group);
      }
    } finally {
      this.draining = false;
      if (this.queue.length) {
        this.draining = true;
        setImmediate(() => void this.drain());
      }
    }
  }

  private async runGroup(group: PendingWork[]): Promise<void> {
    const outcomes: Array<{ item: PendingWork; ok: boolean; value: unknown; callbacks: Array<() => void> }> = [];
    try {
      await this.db.connection().execute(async (connection) => {
        await sql`begin immediate`.execute(connection);
        try {
          for (const item of group) {
            const callbacks: Array<() => void> = [];
            await connection.executeQuery(SAVEPOINT);
            try {
              const value = await item.work({ db: connection, dialect: 'sqlite', afterCommit: (fn) => callbacks.push(fn) });
              await connection.executeQuery(RELEASE);
              outcomes.push({ item, ok: true, value, callbacks });
            } catch (error) {
              await connection.executeQuery(ROLLBACK_TO);
              await connection.executeQuery(RELEASE);
              outcomes.push({ item, ok: false, value: error, callbacks });
            }
          }
          await sql`commit`.execute(connection);
        } catch (error) {
          await sql`rollback`.execute(connection).catch(() => undefined);
          throw error;
        }
      });
    } catch (error) {
      // BEGIN or COMMIT failed (e.g. SQLITE_BUSY past busy_timeout): nothing of the group was kept.
      for (const item of group) item.reject(error);
      return;
    }
    for (const outcome of outcomes) {
      if (!outcome.ok) {
        outcome.item.reject(outcome.value);
        continue;
      }
      runAfterCommit(outcome.callbacks);
      outcome.item.resolve(outcome.value);
    }
  }
}

const UUID_LITERAL = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
