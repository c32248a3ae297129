/**
 * The scheduler's housekeeping queries on other modules' tables: deleting what has expired or
 * outlived its retention, and the counts of the admin digest. Deletes run in batches of
 * {@link PURGE_BATCH} rows (by primary key, found through a time index) so that no single
 * statement holds SQLite's write lock, or PostgreSQL row locks, for long.
 */
import type { Executor } from '../db/executor.js';
import type { UserRow } from '../db/schema.js';

/** Rows deleted per statement. */
export const PURGE_BATCH = 1000;

type PurgeTable = 'session' | 'refresh_token' | 'one_time_token' | 'audit_log' | 'login_attempt';

/** Deletes, batch by batch, the rows of `table` whose ids `selectIds` picks; @returns how many. */
async function deleteInBatches(db: Executor, table: PurgeTable, selectIds: (limit: number) => Promise<Array<{ id: string }>>): Promise<number> {
  let total = 0;
  for (;;) {
    const ids = (await selectIds(PURGE_BATCH)).map((r) => r.id);
    if (ids.length === 0) return total;
    const result = await db.deleteFrom(table).where('id', 'in', ids).executeTakeFirst();
    total += Number(result.numDeletedRows);
    if (ids.length < PURGE_BATCH) return total;
  }
}

/**
 * Deletes sessions that expired before `nowIso` or were revoked before `revokedBeforeIso`;
 * their refresh tokens go with them (foreign key `on delete cascade`). @returns sessions deleted.
 */
export function deleteDeadSessions(db: Executor, nowIso: string, revokedBeforeIso: string): Promise<number> {
  return deleteInBatches(db, 'session', (limit) =>
    db
      .selectFrom('session')
      .select('id')
      .where((eb) => eb.or([eb('expires_at', '<', nowIso), eb('revoked_at', '<', revokedBeforeIso)]))
      .limit(limit)
      .execute(),
  );
}

/** Deletes refresh tokens (of still-live sessions) that expired before `nowIso`. @returns how many. */
export function deleteExpiredRefreshTokens(db: Executor, nowIso: string): Promise<number> {
  return deleteInBatches(db, 'refresh_token', (limit) =>
    db.selectFrom('refresh_token').select('id').where('expires_at', '<', nowIso).limit(limit).execute(),
  );
}

/** Deletes verification and reset tokens that were used or expired before `nowIso`. @returns how many. */
export function deleteSpentOneTimeTokens(db: Executor, nowIso: string): Promise<number> {
  return deleteInBatches(db, 'one_time_token', (limit) =>
    db
      .selectFrom('one_time_token')
      .select('id')
      .where((eb) => eb.or([eb('used_at', 'is not', null), eb('expires_at', '<', nowIso)]))
      .limit(limit)
      .execute(),
  );
}

/** Deletes audit-log entries created before `beforeIso` (retention). @returns how many. */
export function deleteAuditEntriesBefore(db: Executor, beforeIso: string): Promise<number> {
  return deleteInBatches(db, 'audit_log', (limit) =>
    db.selectFrom('audit_log').select('id').where('created_at', '<', beforeIso).limit(limit).execute(),
  );
}

/** Deletes login attempts created before `beforeIso` (retention). @returns how many. */
export function deleteLoginAttemptsBefore(db: Executor, beforeIso: string): Promise<number> {
  return deleteInBatches(db, 'login_attempt', (limit) =>
    db.selectFrom('login_attempt').select('id').where('created_at', '<', beforeIso).limit(limit).execute(),
  );
}

/** Up to `limit` users whose ban ended at or before `nowIso` but is still recorded. */
export async function findUsersWithExpiredBan(db: Executor, nowIso: string, limit: number): Promise<UserRow[]> {
  return db.selectFrom('user').selectAll().where('banned_until', '<=', nowIso).orderBy('banned_until', 'asc').limit(limit).execute();
}

/**
 * Clears a user's ban if it is still the expired one that was read (`bannedUntilIso`), so a ban
 * renewed in between is never cleared and two instances never lift the same ban twice.
 * @returns true when this call cleared it.
 */
export async function clearExpiredBan(db: Executor, userId: string, bannedUntilIso: string, nowIso: string): Promise<boolean> {
  const result = await db
    .updateTable('user')
    .set({ banned_until: null, ban_reason: null, updated_at: nowIso })
    .where('id', '=', userId)
    .where('banned_until', '=', bannedUntilIso)
    .where('banned_until', '<=', nowIso)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Active administrators (role `admin`), the recipients of the digest. */
export async function listActiveAdmins(db: Executor): Promise<UserRow[]> {
  return db.selectFrom('user').selectAll().where('role', '=', 'admin').where('status', '=', 'active').orderBy('id', 'asc').execute();
}

/** Users created at or after `sinceIso`: the total and the first `limit` (oldest first). */
export async function newUsersSince(db: Executor, sinceIso: string, limit: number): Promise<{ count: number; users: UserRow[] }> {
  const row = await db
    .selectFrom('user')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('created_at', '>=', sinceIso)
    .executeTakeFirstOrThrow();
  const users = await db.selectFrom('user').selectAll().where('created_at', '>=', sinceIso).orderBy('created_at', 'asc').limit(limit).execute();
  return { count: Number(row.count), users };
}

/** Password logins since `sinceIso` that did not succeed. */
export async function countFailedLoginsSince(db: Executor, sinceIso: string): Promise<number> {
  const row = await db
    .selectFrom('login_attempt')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('created_at', '>=', sinceIso)
    .where('outcome', '!=', 'success')
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

/** Emails created since `sinceIso` that were given up on (status `dead`). */
export async function countDeadMailSince(db: Executor, sinceIso: string): Promise<number> {
  const row = await db
    .selectFrom('outbox')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('created_at', '>=', sinceIso)
    .where('channel', '=', 'email')
    .where('status', '=', 'dead')
    .executeTakeFirstOrThrow();
  return Number(row.count);
}
