/** The `scheduler` configuration section: built-in task schedules and retention (src/scheduler/). */
import { Cron } from 'croner';
import { z } from 'zod';
import { nonNegativeInt, type ParsedShape, positiveInt } from './schema.js';

/** The scheduler's built-in tasks; each has a `SCHEDULE_<NAME>` variable (dashes become underscores). */
export const SCHEDULED_TASK_NAMES = [
  'purge-sessions',
  'purge-tokens',
  'lift-bans',
  'prune-audit',
  'retry-outbox',
  'admin-digest',
  'backup',
  'prune-jobs',
] as const;

/** Name of a built-in scheduler task, e.g. `purge-sessions`. */
export type ScheduledTaskName = (typeof SCHEDULED_TASK_NAMES)[number];

/** The `scheduler` section of the configuration. */
export interface SchedulerConfig {
  /**
   * Cron expression (5 fields: minute hour day-of-month month day-of-week, evaluated in UTC)
   * per task, or null when the task's `SCHEDULE_<NAME>` is `off`.
   */
  schedules: Record<ScheduledTaskName, string | null>;
  /** Days audit-log entries are kept by `prune-audit`; 0 = forever. Default 365. */
  auditRetentionDays: number;
  /** Days login attempts are kept by `prune-audit`; 0 = forever. Default 90. */
  loginAttemptRetentionDays: number;
  /** How many backups `backup` keeps in `DATA_DIR/backups` (older ones are deleted). Default 7. */
  backupRetention: number;
}

/** A 5-field cron expression (validated by croner) or `off`. */
const cronOrOff = z.string().refine((value) => {
  if (value === 'off') return true;
  try {
    new Cron(value, { mode: '5-part', timezone: 'UTC' });
    return true;
  } catch {
    return false;
  }
}, 'must be a cron expression with 5 fields (minute hour day month weekday, UTC) or "off"');

/** The section's environment variables. */
export const schedulerEnvShape = {
  SCHEDULE_PURGE_SESSIONS: cronOrOff.default('7 * * * *'),
  SCHEDULE_PURGE_TOKENS: cronOrOff.default('12 * * * *'),
  SCHEDULE_LIFT_BANS: cronOrOff.default('*/5 * * * *'),
  SCHEDULE_PRUNE_AUDIT: cronOrOff.default('23 3 * * *'),
  SCHEDULE_PRUNE_JOBS: cronOrOff.default('41 3 * * *'),
  SCHEDULE_RETRY_OUTBOX: cronOrOff.default('* * * * *'),
  SCHEDULE_ADMIN_DIGEST: cronOrOff.default('0 8 * * *'),
  SCHEDULE_BACKUP: cronOrOff.default('30 2 * * *'),
  AUDIT_RETENTION_DAYS: nonNegativeInt(100_000).default(365),
  LOGIN_ATTEMPT_RETENTION_DAYS: nonNegativeInt(100_000).default(90),
  BACKUP_RETENTION: positiveInt(10_000).default(7),
};

function offToNull(schedule: string): string | null {
  return schedule === 'off' ? null : schedule.trim().replace(/\s+/g, ' ');
}

/** Builds the section from the parsed variables. */
export function schedulerSettings(e: ParsedShape<typeof schedulerEnvShape>): SchedulerConfig {
  return {
    schedules: {
      'purge-sessions': offToNull(e.SCHEDULE_PURGE_SESSIONS),
      'purge-tokens': offToNull(e.SCHEDULE_PURGE_TOKENS),
      'lift-bans': offToNull(e.SCHEDULE_LIFT_BANS),
      'prune-audit': offToNull(e.SCHEDULE_PRUNE_AUDIT),
      'prune-jobs': offToNull(e.SCHEDULE_PRUNE_JOBS),
      'retry-outbox': offToNull(e.SCHEDULE_RETRY_OUTBOX),
      'admin-digest': offToNull(e.SCHEDULE_ADMIN_DIGEST),
      backup: offToNull(e.SCHEDULE_BACKUP),
    },
    auditRetentionDays: e.AUDIT_RETENTION_DAYS,
    loginAttemptRetentionDays: e.LOGIN_ATTEMPT_RETENTION_DAYS,
    backupRetention: e.BACKUP_RETENTION,
  };
}
