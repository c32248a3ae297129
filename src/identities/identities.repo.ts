/**
 * Queries for `identity` (accounts at sign-in providers linked to users) and `identity_ticket`
 * (single-use secrets of the sign-in flows, stored as SHA-256 hashes). Migration 0010.
 */
import type { Executor } from '../db/executor.js';
import type { IdentityRow, IdentityTicketRow } from '../db/schema.js';

/** Inserts an identity. @throws the driver's unique violation when (provider, subject) is linked already. */
export async function insertIdentity(db: Executor, row: IdentityRow): Promise<void> {
  await db.insertInto('identity').values(row).execute();
}

/** The identity of `subject` at `provider`, or undefined. */
export async function findIdentity(db: Executor, provider: string, subject: string): Promise<IdentityRow | undefined> {
  return db.selectFrom('identity').selectAll().where('provider', '=', provider).where('subject', '=', subject).executeTakeFirst();
}

/** The user's identities, oldest link first. */
export async function listIdentitiesOfUser(db: Executor, userId: string): Promise<IdentityRow[]> {
  return db.selectFrom('identity').selectAll().where('user_id', '=', userId).orderBy('linked_at', 'asc').orderBy('id', 'asc').execute();
}

/** Records a sign-in: the email the provider reported now, and when. */
export async function touchIdentity(db: Executor, id: string, changes: { email: string | null; email_verified: number; last_sign_in_at: string }): Promise<void> {
  await db.updateTable('identity').set(changes).where('id', '=', id).execute();
}

/** Deletes one identity of `userId`. @returns true when it existed and was theirs. */
export async function deleteIdentityOfUser(db: Executor, userId: string, id: string): Promise<boolean> {
  const result = await db.deleteFrom('identity').where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** Inserts a ticket. */
export async function insertTicket(db: Executor, row: IdentityTicketRow): Promise<void> {
  await db.insertInto('identity_ticket').values(row).execute();
}

/** The unused, unexpired ticket with this hash and purpose, or undefined (does not consume it). */
export async function findLiveTicket(
  db: Executor,
  tokenHash: string,
  purpose: IdentityTicketRow['purpose'],
  nowIso: string,
): Promise<IdentityTicketRow | undefined> {
  return db
    .selectFrom('identity_ticket')
    .selectAll()
    .where('token_hash', '=', tokenHash)
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .where('expires_at', '>', nowIso)
    .executeTakeFirst();
}

/**
 * Consumes a ticket atomically: marks it used only if it still is unused and unexpired.
 * @returns the ticket as it was, or undefined when it was unknown, used (a replay) or expired.
 */
export async function consumeTicket(
  db: Executor,
  tokenHash: string,
  purpose: IdentityTicketRow['purpose'],
  nowIso: string,
): Promise<IdentityTicketRow | undefined> {
  return db
    .updateTable('identity_ticket')
    .set({ used_at: nowIso })
    .where('token_hash', '=', tokenHash)
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .where('expires_at', '>', nowIso)
    .returningAll()
    .executeTakeFirst();
}

/** Deletes tickets that expired before `beforeIso`. @returns how many. */
export async function deleteExpiredTickets(db: Executor, beforeIso: string): Promise<number> {
  const result = await db.deleteFrom('identity_ticket').where('expires_at', '<', beforeIso).executeTakeFirst();
  return Number(result.numDeletedRows);
}
