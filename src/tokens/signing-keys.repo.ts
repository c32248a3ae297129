/** Queries for the `signing_key` table. */
import type { Executor } from '../db/executor.js';
import type { SigningKeyRow, SigningKeyTable } from '../db/schema.js';

/** Every key not yet retired, newest first (the first one signs; all verify). */
export async function listLiveSigningKeys(db: Executor): Promise<SigningKeyRow[]> {
  return db.selectFrom('signing_key').selectAll().where('retired_at', 'is', null).orderBy('created_at', 'desc').execute();
}

/** Inserts a key pair. */
export async function insertSigningKey(db: Executor, row: SigningKeyTable): Promise<void> {
  await db.insertInto('signing_key').values(row).execute();
}
