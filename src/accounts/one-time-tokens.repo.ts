/** Queries for the `one_time_token` table (email verification, password reset and email change). */
import type { Executor } from '../db/executor.js';
import type { OneTimeTokenTable } from '../db/schema.js';

/** Inserts a token. */
export async function insertOneTimeToken(db: Executor, row: OneTimeTokenTable): Promise<void> {
  await db.insertInto('one_time_token').values(row).execute();
}

/**
 * Consumes a token in one statement: it must exist, have the purpose, be unused and unexpired.
 * Retrieval and consumption are the same atomic step (Copenhagen Book, server-side tokens), so a
 * token can never be used twice even by concurrent requests.
 *
 * @returns the owning user id, or undefined when the token is not valid.
 */
export async function consumeOneTimeToken(
  db: Executor,
  tokenHash: string,
  purpose: OneTimeTokenTable['purpose'],
  nowIso: string,
): Promise<string | undefined> {
  const row = await db
    .updateTable('one_time_token')
    .set({ used_at: nowIso })
    .where('token_hash', '=', tokenHash)
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .where('expires_at', '>', nowIso)
    .returning('user_id')
    .executeTakeFirst();
  return row?.user_id;
}

/** Invalidates a user's outstanding tokens of one purpose (e.g. older reset links after a reset). */
export async function invalidateOneTimeTokens(
  db: Executor,
  userId: string,
  purpose: OneTimeTokenTable['purpose'],
  nowIso: string,
): Promise<void> {
  await db
    .updateTable('one_time_token')
    .set({ used_at: nowIso })
    .where('user_id', '=', userId)
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .execute();
}

/** The unused, unexpired token with this hash and purpose, without consuming it; or undefined. */
export async function findValidOneTimeToken(
  db: Executor,
  tokenHash: string,
  purpose: OneTimeTokenTable['purpose'],
  nowIso: string,
): Promise<{ id: string; user_id: string } | undefined> {
  return db
    .selectFrom('one_time_token')
    .select(['id', 'user_id'])
    .where('token_hash', '=', tokenHash)
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .where('expires_at', '>', nowIso)
    .executeTakeFirst();
}

/**
 * Consumes a `change_email` token in one statement (as {@link consumeOneTimeToken}).
 * @returns the owning user id and the pending new address, or undefined when the token is not valid.
 */
export async function consumeEmailChangeToken(
  db: Executor,
  tokenHash: string,
  nowIso: string,
): Promise<{ user_id: string; new_email: string } | undefined> {
  const row = await db
    .updateTable('one_time_token')
    .set({ used_at: nowIso })
    .where('token_hash', '=', tokenHash)
    .where('purpose', '=', 'change_email')
    .where('used_at', 'is', null)
    .where('expires_at', '>', nowIso)
    .returning(['user_id', 'new_email'])
    .executeTakeFirst();
  return row?.new_email ? { user_id: row.user_id, new_email: row.new_email } : undefined;
}
