/**
 * Transactions with after-commit callbacks (the pattern of PocketBase's `core/db_tx.go`):
 * side effects such as cache invalidation or waking the mail dispatcher are registered inside the
 * transaction and run only once it has committed; a rollback discards them.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.js';

/** An open transaction plus a way to defer work until it commits. */
export interface Tx {
  db: Transaction<Database>;
  /** Runs `fn` after a successful commit (in registration order); errors in `fn` are swallowed. */
  afterCommit(fn: () => void): void;
}

/**
 * Runs `work` in one transaction; commits when it resolves, rolls back when it throws.
 * @returns what `work` returned. @throws what `work` threw (after rollback).
 */
export async function inTransaction<T>(db: Kysely<Database>, work: (tx: Tx) => Promise<T>): Promise<T> {
  const callbacks: Array<() => void> = [];
  const result = await db.transaction().execute((trx) => work({ db: trx, afterCommit: (fn) => callbacks.push(fn) }));
  for (const fn of callbacks) {
    try {
      fn();
    } catch {
      // An after-commit side effect must never turn a committed change into a reported failure.
    }
  }
  return result;
}
