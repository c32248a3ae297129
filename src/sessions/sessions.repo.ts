/** Queries for the `session` table. Every lookup is by a unique index: no scans at any size. */
import { sql } from 'kysely';
import type { Executor } from '../db/executor.js';
import type { SessionRow, SessionTable } from '../db/schema.js';

/** Inserts a session row. */
export async function insertSession(db: Executor, row: SessionTable): Promise<void> {
  await db.insertInto('session').values(row).execute();
}

/** The session whose cookie secret hashes to `tokenHash`, revoked or not, or undefined. */
export async function findSessionByTokenHash(db: Executor, tokenHash: string): Promise<SessionRow | undefined> {
  return db.selectFrom('session').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
}

/** The session with this id, or undefined. */
export async function findSessionById(db: Executor, id: string): Promise<SessionRow | undefined> {
  return db.selectFrom('session').selectAll().where('id', '=', id).executeTakeFirst();
}

/** A user's sessions that are neither revoked nor expired at `nowIso`, newest first. */
export async function listActiveSessions(db: Executor, userId: string, nowIso: string): Promise<SessionRow[]> {
  return db
    .selectFrom('session')
    .selectAll()
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', nowIso)
    .orderBy('id', 'desc')
    .execute();
}

/** Moves a session's expiry and last-seen time (sliding expiry). */
export async function touchSession(db: Executor, id: string, lastSeenAt: string, expiresAt: string): Promise<void> {
  await db
    .updateTable('session')
    .set({ last_seen_at: lastSeenAt, expires_at: expiresAt })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .execute();
}

/** Revokes one session; returns true when it was active. */
export async function revokeSession(db: Executor, id: string, nowIso: string, reason: string): Promise<boolean> {
  const result = await db
    .updateTable('session')
    .set({ revoked_at: nowIso, revoke_reason: reason })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/**
 * Revokes every active session of a user except `keepSessionId` (if given).
 * @returns the ids of the sessions revoked.
 */
export async function revokeUserSessions(
  db: Executor,
  userId: string,
  nowIso: string,
  reason: string,
  keepSessionId?: string,
): Promise<string[]> {
  let q = db
    .updateTable('session')
    .set({ revoked_at: nowIso, revoke_reason: reason })
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null);
  if (keepSessionId) q = q.where('id', '!=', keepSessionId);
  const rows = await q.returning('id').execute();
  return rows.map((r) => r.id);
}

/** PostgreSQL channel on which instances announce session and user changes to each other. */
export const AUTH_CHANGES_CHANNEL = 'gatehouse_auth_changes';

/**
 * PostgreSQL only: queues a NOTIFY on {@link AUTH_CHANGES_CHANNEL}. NOTIFY is transactional —
 * delivered to listeners only when (and if) the surrounding transaction commits.
 */
export async function publishAuthChange(db: Executor, payload: string): Promise<void> {
  await sql`select pg_notify(${AUTH_CHANGES_CHANNEL}, ${payload})`.execute(db);
}
