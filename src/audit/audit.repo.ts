/** Queries for the append-only `audit_log` and `login_attempt` tables. Nothing here updates or deletes. */
import type { Executor } from '../db/executor.js';
import type { AuditLogRow, AuditLogTable, LoginAttemptRow, LoginAttemptTable } from '../db/schema.js';

/** Appends one audit entry. */
export async function insertAuditEntry(db: Executor, row: AuditLogTable): Promise<void> {
  await db.insertInto('audit_log').values(row).execute();
}

/** Filters for {@link listAuditEntries}; every field optional. Times are ISO strings. */
export interface AuditQuery {
  actorId?: string | undefined;
  targetId?: string | undefined;
  action?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
  /** Return entries older than this id (newest first paging). */
  beforeId?: string | undefined;
  limit: number;
}

/** Newest-first page of audit entries (fetches `limit + 1` so the caller can tell if more exist). */
export async function listAuditEntries(db: Executor, query: AuditQuery): Promise<AuditLogRow[]> {
  let q = db.selectFrom('audit_log').selectAll().orderBy('id', 'desc').limit(query.limit + 1);
  if (query.actorId) q = q.where('actor_id', '=', query.actorId);
  if (query.targetId) q = q.where('target_id', '=', query.targetId);
  if (query.action) q = q.where('action', '=', query.action);
  if (query.since) q = q.where('created_at', '>=', query.since);
  if (query.until) q = q.where('created_at', '<', query.until);
  if (query.beforeId) q = q.where('id', '<', query.beforeId);
  return q.execute();
}

/** Appends one login attempt. */
export async function insertLoginAttempt(db: Executor, row: LoginAttemptTable): Promise<void> {
  await db.insertInto('login_attempt').values(row).execute();
}

/** Filters for {@link listLoginAttempts}. */
export interface LoginAttemptQuery {
  email?: string | undefined;
  userId?: string | undefined;
  ip?: string | undefined;
  beforeId?: string | undefined;
  limit: number;
}

/** Newest-first page of login attempts. */
export async function listLoginAttempts(db: Executor, query: LoginAttemptQuery): Promise<LoginAttemptRow[]> {
  let q = db.selectFrom('login_attempt').selectAll().orderBy('id', 'desc').limit(query.limit + 1);
  if (query.email) q = q.where('email_normalized', '=', query.email);
  if (query.userId) q = q.where('user_id', '=', query.userId);
  if (query.ip) q = q.where('ip', '=', query.ip);
  if (query.beforeId) q = q.where('id', '<', query.beforeId);
  return q.execute();
}
