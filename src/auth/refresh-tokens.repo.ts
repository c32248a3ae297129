/**
 * Queries for the `refresh_token` table (rotation chains, one per API session). The table belongs
 * to `auth`: the OAuth token endpoint (`passwordGrant`, `refreshGrant`) is the only code that
 * issues, reads and rotates refresh tokens (the scheduler only purges expired rows).
 */
import type { Executor } from '../db/executor.js';
import type { RefreshTokenRow, RefreshTokenTable } from '../db/schema.js';

/** Inserts one refresh token. */
export async function insertRefreshToken(db: Executor, row: RefreshTokenTable): Promise<void> {
  await db.insertInto('refresh_token').values(row).execute();
}

/** The refresh token whose secret hashes to `tokenHash`, or undefined. */
export async function findRefreshTokenByHash(db: Executor, tokenHash: string): Promise<RefreshTokenRow | undefined> {
  return db.selectFrom('refresh_token').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
}

/**
 * Marks a refresh token used, atomically: only one of two concurrent exchanges of the same
 * token can win. @returns true when this call consumed it.
 */
export async function markRefreshTokenUsed(db: Executor, id: string, nowIso: string): Promise<boolean> {
  const result = await db
    .updateTable('refresh_token')
    .set({ used_at: nowIso })
    .where('id', '=', id)
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
