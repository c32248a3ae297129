/**
 * The audit log: an append-only record of security events (who did what to whom, from where),
 * written in the same transaction as the change it describes so the log and the data never
 * disagree. Login attempts are recorded separately, one row per password login.
 */
import type { Kysely } from 'kysely';
import type { Executor } from '../db/executor.js';
import type { AuditLogRow, Database, LoginAttemptRow } from '../db/schema.js';
import type { Clock } from '../shared/clock.js';
import { newId } from '../shared/ids.js';
import { pageOfRows } from '../shared/paging.js';
import { insertAuditEntry, insertLoginAttempt, listAuditEntries, listLoginAttempts } from './audit.repo.js';
import type { AuditEntryView, LoginAttemptView } from './audit.views.js';

/** The security events Gatehouse records. */
export type AuditAction =
  | 'user.register'
  | 'user.verify_email'
  | 'auth.login'
  | 'auth.login_failed'
  | 'auth.logout'
  | 'auth.refresh_reuse'
  | 'user.password_change'
  | 'user.password_reset'
  | 'user.email_change'
  | 'user.update'
  | 'user.deactivate'
  | 'user.role_change'
  | 'user.groups_change'
  | 'user.ban'
  | 'user.unban'
  | 'user.delete'
  | 'user.verify_email_by_admin'
  | 'user.import'
  | 'session.revoke_by_admin'
  | 'identity.link'
  | 'identity.unlink'
  | 'api_key.create'
  | 'api_key.revoke'
  | 'group.create'
  | 'group.update'
  | 'group.delete'
  | 'quota.auto_ban'
  | 'keys.rotate'
  | 'queue.create'
  | 'queue.update'
  | 'queue.pause'
  | 'queue.resume'
  | 'job.pause'
  | 'job.resume'
  | 'job.cancel'
  | 'job.retry'
  | 'mfa.totp_enable'
  | 'mfa.totp_disable'
  | 'mfa.reset'
  | 'mfa.recovery_codes_regenerate'
  | 'mfa.recovery_code_use'
  | 'mfa.failed'
  | 'passkey.add'
  | 'passkey.rename'
  | 'passkey.remove'
  | 'auth.passkey_login'
  | 'scheduled_task.run'
  | 'outbox.retry';

/** Who is acting and from where; every field may be unknown (e.g. the CLI has no IP). */
export interface ActorContext {
  actorId: string | null;
  ip: string | null;
  userAgent: string | null;
  /**
   * What the acting credential may do. Services refuse to grant (by role, group or group
   * permissions) anything beyond it; undefined means an operator with full access (CLI, system).
   */
  permissions?: ReadonlySet<string> | undefined;
}

/** The context of an action with no known actor (system, anonymous). */
export const SYSTEM_ACTOR: ActorContext = { actorId: null, ip: null, userAgent: null };

/** One entry to record. */
export interface AuditEntry {
  action: AuditAction;
  targetType?: 'user' | 'api_key' | 'group' | 'session' | 'signing_key' | 'queue' | 'job' | 'passkey' | 'scheduled_task' | 'outbox_message';
  targetId?: string | null;
  details?: Record<string, unknown>;
}

export class AuditLog {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
  ) {}

  /** Appends an entry; pass the transaction of the change it records. */
  async record(db: Executor, actor: ActorContext, entry: AuditEntry): Promise<void> {
    await insertAuditEntry(db, {
      id: newId(),
      created_at: this.clock.now().toISOString(),
      action: entry.action,
      actor_id: actor.actorId,
      target_type: entry.targetType ?? null,
      target_id: entry.targetId ?? null,
      ip: actor.ip?.slice(0, 64) ?? null,
      user_agent: actor.userAgent?.slice(0, 512) ?? null,
      details: JSON.stringify(entry.details ?? {}),
    });
  }

  /**
   * Appends an entry on its own, after the action it records (for actions that are not one
   * transaction: running a scheduled task now, retrying an outbox message).
   */
  async recordNow(actor: ActorContext, entry: AuditEntry): Promise<void> {
    await this.record(this.db, actor, entry);
  }

  /** Records a password login attempt (`outcome`: `success`, `invalid_credentials`, `locked`, …). */
  async recordLoginAttempt(
    db: Executor,
    attempt: { email: string; userId: string | null; ip: string | null; outcome: string },
  ): Promise<void> {
    await insertLoginAttempt(db, {
      id: newId(),
      created_at: this.clock.now().toISOString(),
      email_normalized: attempt.email.trim().toLowerCase().slice(0, 254),
      user_id: attempt.userId,
      ip: attempt.ip?.slice(0, 64) ?? null,
      outcome: attempt.outcome,
    });
  }

  /** Newest-first page of entries. @returns items and the cursor (an id) of the next page. */
  async list(query: Parameters<typeof listAuditEntries>[1]): Promise<{ items: AuditEntryView[]; next: string | null }> {
    const rows = await listAuditEntries(this.db, query);
    return pageOfRows(rows, query.limit, toAuditView);
  }

  /** Newest-first page of login attempts. */
  async listLoginAttempts(
    query: Parameters<typeof listLoginAttempts>[1],
  ): Promise<{ items: LoginAttemptView[]; next: string | null }> {
    const rows = await listLoginAttempts(this.db, {
      ...query,
      email: query.email?.trim().toLowerCase(),
    });
    return pageOfRows(rows, query.limit, (r: LoginAttemptRow) => ({
      id: r.id,
      created_at: r.created_at,
      email: r.email_normalized,
      user_id: r.user_id,
      ip: r.ip,
      outcome: r.outcome,
    }));
  }
}

function toAuditView(row: AuditLogRow): AuditEntryView {
  return { ...row, details: JSON.parse(row.details) as Record<string, unknown> };
}
