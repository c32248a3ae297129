import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.js';

/** Anything repositories can run queries on: the database or an open transaction. */
export type Executor = Kysely<Database> | Transaction<Database>;

/**
 * True when `error` is a unique-constraint violation on either dialect
 * (PostgreSQL SQLSTATE 23505, SQLite `SQLITE_CONSTRAINT_UNIQUE`).
 */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string } | null;
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
