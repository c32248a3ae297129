/**
 * The built-in scheduler tasks. Each is a small function over repositories and services; none
 * builds SQL itself. Defaults and the variables that change them are in `config/scheduler.ts`
 * (`SCHEDULE_<TASK>`, retention settings) and the README.
 */
import { execFile } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Kysely } from 'kysely';
import type { AccountMails } from '../accounts/account-mails.js';
import { type AuditLog, SYSTEM_ACTOR } from '../audit/audit.service.js';
import type { Config } from '../config.js';
import { backupDatabase, backupExtension } from '../db/backup.js';
import type { Database } from '../db/schema.js';
import { inTransaction } from '../db/transaction.js';
import type { JobService } from '../jobs/jobs.service.js';
import type { TemplateRenderer } from '../notify/templates.js';
import type { Outbox } from '../outbox/outbox.service.js';
import type { AuthChanges } from '../sessions/auth-changes.js';
import { addSeconds } from '../shared/clock.js';
import { ensurePrivateDir } from '../shared/private-files.js';
import {
  clearExpiredBan,
  countDeadMailSince,
  countFailedLoginsSince,
  deleteAuditEntriesBefore,
  deleteDeadSessions,
  deleteExpiredRefreshTokens,
  deleteLoginAttemptsBefore,
  deleteSpentOneTimeTokens,
  findUsersWithExpiredBan,
  listActiveAdmins,
  newUsersSince,
} from './housekeeping.repo.js';
import { countFailedTaskRuns } from './scheduler.repo.js';
import type { SchedulerTask } from './scheduler.service.js';

/** Revoked sessions are kept this long (seconds) before `purge-sessions` deletes them: a week of sign-out history. */
export const REVOKED_SESSION_KEEP_SECONDS = 7 * 86_400;
/** How many new users the digest lists by name (it always gives the total). */
const DIGEST_LIST_LIMIT = 50;
/** Users whose expired ban is lifted per batch. */
const BAN_BATCH = 200;
const DAY_SECONDS = 86_400;
/** Backup files this task writes and prunes: `gatehouse-<UTC time>.db|.dump`. */
const BACKUP_FILE = /^gatehouse-\d{8}T\d{6}Z(-\d+)?\.(db|dump)$/;

/** What the built-in tasks need from the composition root. */
export interface BuiltInTaskDeps {
  db: Kysely<Database>;
  config: Config;
  outbox: Outbox;
  /** Renders the `admin_digest` email (built-in template, overridable from TEMPLATES_DIR). */
  renderer: Pick<TemplateRenderer, 'renderEmail'>;
  mails: AccountMails;
  changes: AuthChanges;
  audit: AuditLog;
  /** `prune-jobs` deletes old jobs through the jobs service (the scheduler never touches the job table). */
  jobs: Pick<JobService, 'pruneFinished'>;
  appName: string;
  /** Deletes feature modules' live topic events created before a time (`TopicEvents.prune`). @returns how many. */
  pruneTopicEvents(before: Date): Promise<number>;
}

/** The built-in tasks, in the order `schedule list` shows them. */
export function builtInTasks(deps: BuiltInTaskDeps): SchedulerTask[] {
  const { db, config } = deps;
  return [
    {
      name: 'purge-sessions',
      description: 'Delete expired sessions (with their refresh tokens), sessions revoked over a week ago, and expired refresh tokens.',
      async run(now) {
        const sessions = await deleteDeadSessions(db, now.toISOString(), addSeconds(now, -REVOKED_SESSION_KEEP_SECONDS).toISOString());
        const refreshTokens = await deleteExpiredRefreshTokens(db, now.toISOString());
        return { detail: { sessions_deleted: sessions, refresh_tokens_deleted: refreshTokens } };
      },
    },
    {
      name: 'purge-tokens',
      description: 'Delete used or expired email verification and password reset tokens.',
      async run(now) {
        return { detail: { tokens_deleted: await deleteSpentOneTimeTokens(db, now.toISOString()) } };
      },
    },
    {
      name: 'lift-bans',
      description: 'Clear bans whose time is up, record user.unban in the audit log and email the user.',
      run: (now) => liftExpiredBans(deps, now),
    },
    {
      name: 'prune-audit',
      description: 'Delete audit-log entries and login attempts older than their retention (AUDIT_RETENTION_DAYS, LOGIN_ATTEMPT_RETENTION_DAYS).',
      async run(now) {
        const { auditRetentionDays, loginAttemptRetentionDays } = config.scheduler;
        const audit = auditRetentionDays
          ? await deleteAuditEntriesBefore(db, addSeconds(now, -auditRetentionDays * DAY_SECONDS).toISOString())
          : 0;
        const attempts = loginAttemptRetentionDays
          ? await deleteLoginAttemptsBefore(db, addSeconds(now, -loginAttemptRetentionDays * DAY_SECONDS).toISOString())
          : 0;
        return { detail: { audit_entries_deleted: audit, login_attempts_deleted: attempts } };
      },
    },
    {
      name: 'retry-outbox',
      description: 'Send every email that is due, including retries of earlier failures (a safety net for the outbox dispatcher).',
      async run() {
        const { sent, failed } = await deps.outbox.dispatchDue();
        return { detail: { sent, failed } };
      },
    },
    {
      name: 'admin-digest',
      description: 'Email every active admin a digest of the last 24 hours: new users, failed logins, undeliverable emails, failed tasks.',
      run: (now) => sendAdminDigest(deps, now),
    },
    {
      name: 'backup',
      description: 'Back up the database into DATA_DIR/backups and keep the newest BACKUP_RETENTION backups (PostgreSQL: needs pg_dump).',
      run: (now) => backup(deps, now),
    },
    {
      name: 'prune-jobs',
      description: 'Delete jobs that finished more than JOB_RETENTION_DAYS ago, with their events, and module topic events as old (0 keeps them forever).',
      async run(now) {
        const days = config.jobs.retentionDays;
        if (days === 0) return { detail: { jobs_deleted: 0, topic_events_deleted: 0, retention_days: 0 } };
        const before = addSeconds(now, -days * DAY_SECONDS);
        const deleted = await deps.jobs.pruneFinished(before);
        const topicEvents = await deps.pruneTopicEvents(before);
        return { detail: { jobs_deleted: deleted, topic_events_deleted: topicEvents, retention_days: days } };
      },
    },
  ];
}

async function liftExpiredBans(deps: BuiltInTaskDeps, now: Date): Promise<{ detail: Record<string, unknown> }> {
  const nowIso = now.toISOString();
  let lifted = 0;
  for (;;) {
    const users = await findUsersWithExpiredBan(deps.db, nowIso, BAN_BATCH);
    for (const user of users) {
      const bannedUntil = user.banned_until as string;
      await inTransaction(deps.db, async (tx) => {
        // Conditional on the ban read above: a ban renewed meanwhile, or lifted by another run, is left alone.
        if (!(await clearExpiredBan(tx.db, user.id, bannedUntil, nowIso))) return;
        lifted++;
        await deps.changes.userChanged(tx, user.id);
        if (user.status === 'active') await deps.mails.accountUnbanned(tx, user);
        await deps.audit.record(tx.db, SYSTEM_ACTOR, {
          action: 'user.unban',
          targetType: 'user',
          targetId: user.id,
          details: { reason: 'ban_expired', banned_until: bannedUntil },
        });
      });
    }
    if (users.length < BAN_BATCH) return { detail: { bans_lifted: lifted } };
  }
}

async function sendAdminDigest(deps: BuiltInTaskDeps, now: Date): Promise<{ outcome?: 'skipped'; detail: Record<string, unknown> }> {
  const admins = await listActiveAdmins(deps.db);
  if (admins.length === 0) return { outcome: 'skipped', detail: { reason: 'no active admin users' } };
  const since = addSeconds(now, -DAY_SECONDS).toISOString();
  const until = now.toISOString();
  const newUsers = await newUsersSince(deps.db, since, DIGEST_LIST_LIMIT);
  const failedLogins = await countFailedLoginsSince(deps.db, since);
  const deadEmails = await countDeadMailSince(deps.db, since);
  const failedTaskRuns = await countFailedTaskRuns(deps.db, since);
  await inTransaction(deps.db, async (tx) => {
    for (const admin of admins) {
      const mail = deps.renderer.renderEmail('admin_digest', {
        appName: deps.appName,
        publicUrl: deps.config.server.appUrl,
        name: admin.name,
        since,
        until,
        new_user_count: newUsers.count,
        new_users: newUsers.users.map((u) => ({ email: u.email, name: u.name, created_at: u.created_at })),
        failed_logins: failedLogins,
        dead_emails: deadEmails,
        failed_task_runs: failedTaskRuns,
      });
      await deps.outbox.enqueue(tx.db, admin.email, 'admin_digest', mail);
    }
    tx.afterCommit(() => deps.outbox.wake());
  });
  return {
    detail: { recipients: admins.length, new_users: newUsers.count, failed_logins: failedLogins, dead_emails: deadEmails, failed_task_runs: failedTaskRuns },
  };
}

/** True when `pg_dump` can be started (it is on PATH). */
function pgDumpAvailable(): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('pg_dump', ['--version'], (error) => resolve(!error));
  });
}

async function backup(deps: BuiltInTaskDeps, now: Date): Promise<{ outcome?: 'skipped'; detail: Record<string, unknown> }> {
  const { database, dataDir, scheduler } = deps.config;
  if (database.dialect === 'sqlite' && database.url === ':memory:') {
    return { outcome: 'skipped', detail: { reason: 'an in-memory database cannot be backed up' } };
  }
  if (database.dialect === 'postgres' && !(await pgDumpAvailable())) {
    return { outcome: 'skipped', detail: { reason: 'pg_dump is not installed (PostgreSQL client tools, the server version or newer)' } };
  }
  const dir = path.join(dataDir, 'backups');
  ensurePrivateDir(dir);
  const stamp = now.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
  const extension = backupExtension(database.dialect);
  const existing = new Set(readdirSync(dir));
  let name = `gatehouse-${stamp}${extension}`;
  for (let n = 2; existing.has(name); n++) name = `gatehouse-${stamp}-${n}${extension}`;
  const report = await backupDatabase(database, path.join(dir, name));
  // Newest first by name (the names sort by time); everything past the retention count goes.
  const backups = readdirSync(dir)
    .filter((f) => BACKUP_FILE.test(f))
    .sort()
    .reverse();
  const removed = backups.slice(scheduler.backupRetention);
  for (const file of removed) rmSync(path.join(dir, file), { force: true });
  return { detail: { file: report.file, bytes: report.bytes, removed } };
}
