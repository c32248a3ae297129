/** Cron maths (croner, 5 fields, UTC): the next matching minute strictly after an instant. */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { nextRunAfter } from '../../src/scheduler/cron.js';

describe('nextRunAfter', () => {
  it.each([
    ['0 * * * *', '2031-03-04T10:30:00.000Z', '2031-03-04T11:00:00.000Z'],
    ['0 * * * *', '2031-03-04T11:00:00.000Z', '2031-03-04T12:00:00.000Z'],
    ['0 * * * *', '2031-03-04T10:59:59.999Z', '2031-03-04T11:00:00.000Z'],
    ['*/5 * * * *', '2031-03-04T10:31:10.000Z', '2031-03-04T10:35:00.000Z'],
    ['* * * * *', '2031-03-04T10:31:10.000Z', '2031-03-04T10:32:00.000Z'],
    ['30 2 * * *', '2031-03-04T02:30:00.000Z', '2031-03-05T02:30:00.000Z'],
    ['0 8 * * 1', '2031-03-04T09:00:00.000Z', '2031-03-10T08:00:00.000Z'],
    ['0 0 1 * *', '2031-12-15T00:00:00.000Z', '2032-01-01T00:00:00.000Z'],
    ['0 12 29 2 *', '2031-03-01T00:00:00.000Z', '2032-02-29T12:00:00.000Z'],
  ])('%s after %s is %s', (expression, after, expected) => {
    expect(nextRunAfter(expression, new Date(after))?.toISOString()).toBe(expected);
  });

  it('evaluates in UTC whatever the process time zone', () => {
    expect(nextRunAfter('0 3 * * *', new Date('2031-06-01T00:00:00.000Z'))?.toISOString()).toBe('2031-06-01T03:00:00.000Z');
  });
});

describe('scheduler configuration', () => {
  it('has a default schedule for every task, and `off` disables one', () => {
    const config = loadConfig({ SCHEDULE_BACKUP: 'off', SCHEDULE_PURGE_SESSIONS: ' 0   *  * * * ' });
    expect(config.scheduler).toEqual({
      schedules: {
        'purge-sessions': '0 * * * *',
        'purge-tokens': '12 * * * *',
        'lift-bans': '*/5 * * * *',
        'prune-audit': '23 3 * * *',
        'retry-outbox': '* * * * *',
        'admin-digest': '0 8 * * *',
        backup: null,
        'prune-jobs': '41 3 * * *',
      },
      auditRetentionDays: 365,
      loginAttemptRetentionDays: 90,
      backupRetention: 7,
    });
  });

  it.each([
    ['SCHEDULE_LIFT_BANS', 'every minute'],
    ['SCHEDULE_LIFT_BANS', '0 0 * * * *'],
    ['SCHEDULE_ADMIN_DIGEST', '61 * * * *'],
    ['AUDIT_RETENTION_DAYS', '-1'],
    ['BACKUP_RETENTION', '0'],
  ])('rejects %s=%s naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(name);
  });
});
