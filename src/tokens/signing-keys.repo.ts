/** Queries for the `signing_key` table. */
import type { Executor } from '../db/executor.js';
import type { SigningKeyRow, SigningKeyTable } from '../db/schema.js';

/**
 * Keys that still matter at `retiredAfterIso`: the active ones (not retired) and those retired
 * after that instant (tokens they signed may still be valid). Newest first: the first active
 * one signs, all of them verify.
 */
export async function listLiveSigningKeys(db: Executor, retiredAfterIso: string): Promise<SigningKeyRow[]> {
  return db
    .selectFrom('signing_key')
    .selectAll()
    .where((eb) => eb.or([eb('retired_at', 'is', null), eb('retired_at', '>', retiredAfterIso)]))
    .orderBy('created_at', 'desc')
    .orderBy('kid', 'desc')
    .execute();
}

/** Inserts a key pair. */
export async function insertSigningKey(db: Executor, row: SigningKeyTable): Promise<void> {
  await db.insertInto('signing_key').values(row).execute();
}

/** Retires every active key except `keepKid`: they stop signing but keep verifying for a while. */
export async function retireSigningKeysExcept(db: Executor, keepKid: string, nowIso: string): Promise<string[]> {
  const rows = await db
    .updateTable('signing_key')
    .set({ retired_at: nowIso })
    .where('retired_at', 'is', null)
    .where('kid', '!=', keepKid)
    .returning('kid')
    .execute();
  return rows.map((r) => r.kid);
}
