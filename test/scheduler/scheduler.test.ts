/**
 * The scheduler on a real database, both dialects, driven by a ManualClock: due times follow the
 * cron schedules, each built-in task does its job on real data, a disabled task never runs, and
 * with two instances on one database each due run happens exactly once.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../src/audit/audit.service.js';
import { SCHEDULED_TASK_NAMES, type ScheduledTaskName } from '../../src/config.js';
import { createGatehouse, type Gatehouse } from '../../src/container.js';
import { ManualClock } from '../../src/shared/clock.js';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, loginCookie, makeUser, passwordGrant, type TestContext } from '../helpers/harness.js';
import { freePort } from '../helpers/server-process.js';
import { startSmtpSink } from '../helpers/smtp-sink.js';

const HOUR = 3600;
const DAY = 86_400;

/** Every task off, then `on` (task → cron expression) switched on. */
function schedules(on: Partial<Record<ScheduledTaskName, string>> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of SCHEDULED_TASK_NAMES) env[`SCHEDULE_${name.toUpperCase().replaceAll('-', '_')}`] = on[name] ?? 'off';
  return env;
}

/** Moves `clock` to the next full hour plus `extraSeconds`. */
function advanceToNextHour(clock: ManualClock, extraSeconds = 0): void {
  const now = clock.now().getTime();
  const next = Math.floor(now / 3_600_000) * 3_600_000 + 3_600_000;
  clock.advance((next - now) / 1000 + extraSeconds);
}

describe.each(dialects)('scheduler (%s)', (dialect) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** A test instance; unless `register` is false, a first tick registers the schedules (due times from the clock's now). */
  async function context(env: Record<string, string>, register = true): Promise<TestContext> {
    const ctx = await createTestContext(dialect, { env });
    cleanups.push(() => ctx.close());
    if (register) expect(await ctx.gatehouse.scheduler.tick()).toEqual([]);
    return ctx;
  }

  /** A second instance on the same database and configuration, with its own clock (default: the context's). */
  async function secondInstance(ctx: TestContext, clock: ManualClock = ctx.clock): Promise<Gatehouse> {
    const gatehouse = await createGatehouse(ctx.config, { clock, logger: pino({ level: 'silent' }) });
    cleanups.push(() => gatehouse.close());
    return gatehouse;
  }

  it('computes due times from the cron schedule with the injected clock, and catches up once', async () => {
    const ctx = await context(schedules({ 'purge-tokens': '0 * * * *', 'prune-audit': '15 3 * * *' }), false);
    const clock = new ManualClock(new Date('2031-03-04T10:30:00.000Z'));
    const g = await secondInstance(ctx, clock);

    const before = await g.scheduler.list();
    expect(before.find((t) => t.task === 'purge-tokens')).toMatchObject({ enabled: true, schedule: '0 * * * *', next_run_at: '2031-03-04T11:00:00.000Z', last_run_at: null, last_outcome: null });
    expect(before.find((t) => t.task === 'prune-audit')?.next_run_at).toBe('2031-03-05T03:15:00.000Z');
    expect(before.find((t) => t.task === 'backup')).toMatchObject({ enabled: false, schedule: 'off', next_run_at: null });

    expect(await g.scheduler.tick()).toEqual([]);
    clock.advance(29 * 60 + 59);
    expect(await g.scheduler.tick()).toEqual([]);
    clock.advance(1);
    const runs = await g.scheduler.tick();
    expect(runs.map((r) => [r.task, r.outcome, r.started_at])).toEqual([['purge-tokens', 'success', '2031-03-04T11:00:00.000Z']]);
    expect(await g.scheduler.tick()).toEqual([]);
    let status = (await g.scheduler.list()).find((t) => t.task === 'purge-tokens');
    expect(status).toMatchObject({ next_run_at: '2031-03-04T12:00:00.000Z', last_run_at: '2031-03-04T11:00:00.000Z', last_outcome: 'success' });

    // Five hours pass without a tick (every instance down): the missed run happens once, not five times.
    clock.advance(5 * HOUR + 10);
    expect((await g.scheduler.tick()).map((r) => r.task)).toEqual(['purge-tokens']);
    status = (await g.scheduler.list()).find((t) => t.task === 'purge-tokens');
    expect(status?.next_run_at).toBe('2031-03-04T17:00:00.000Z');

    clock.advance(new Date('2031-03-05T03:15:00.000Z').getTime() / 1000 - clock.now().getTime() / 1000);
    expect((await g.scheduler.tick()).map((r) => r.task).sort()).toEqual(['prune-audit', 'purge-tokens']);
    expect(await g.scheduler.history('purge-tokens', 10)).toHaveLength(3);
  });

  it('never runs a disabled task, on schedule or after days', async () => {
    const ctx = await context(schedules({ 'purge-tokens': '* * * * *' }));
    for (let i = 0; i < 3; i++) {
      ctx.clock.advance(DAY);
      const runs = await ctx.gatehouse.scheduler.tick();
      expect(runs.map((r) => r.task)).toEqual(['purge-tokens']);
    }
    expect(await ctx.gatehouse.scheduler.history('purge-sessions', 10)).toEqual([]);
    expect(await ctx.gatehouse.scheduler.history('backup', 10)).toEqual([]);
    const listed = await ctx.gatehouse.scheduler.list();
    expect(listed.find((t) => t.task === 'purge-sessions')).toMatchObject({ enabled: false, schedule: 'off', next_run_at: null, last_outcome: null });
  });

  it('runs each due run exactly once across two instances ticking at the same time', async () => {
    const ctx = await context(schedules({ 'purge-tokens': '0 * * * *', 'purge-sessions': '0 * * * *' }));
    const a = ctx.gatehouse;
    const b = await secondInstance(ctx);
    expect(a.scheduler.instanceId).not.toBe(b.scheduler.instanceId);
    await Promise.all([a.scheduler.tick(), b.scheduler.tick()]);

    for (let round = 1; round <= 3; round++) {
      advanceToNextHour(ctx.clock, 1);
      const reports = (await Promise.all(Array.from({ length: 10 }, () => [a.scheduler.tick(), b.scheduler.tick()]).flat())).flat();
      expect(reports.filter((r) => r.task === 'purge-tokens')).toHaveLength(1);
      expect(reports.filter((r) => r.task === 'purge-sessions')).toHaveLength(1);
      expect(await a.scheduler.history('purge-tokens', 100)).toHaveLength(round);
      expect(await b.scheduler.history('purge-sessions', 100)).toHaveLength(round);
      // Sequential ticks afterwards find nothing due.
      expect(await a.scheduler.tick()).toEqual([]);
      expect(await b.scheduler.tick()).toEqual([]);
    }
    const runs = await a.scheduler.history(undefined, 100);
    expect(runs.every((r) => r.outcome === 'success' && r.finished_at !== null && r.trigger === 'schedule')).toBe(true);
    expect(new Set(runs.map((r) => r.instance)).size).toBeGreaterThanOrEqual(1);
  });

  it('refuses a manual run while another instance holds the lease, and names unknown tasks', async () => {
    const ctx = await context(schedules());
    const b = await secondInstance(ctx);
    const [first, second] = await Promise.allSettled([ctx.gatehouse.scheduler.runNow('purge-tokens'), b.scheduler.runNow('purge-tokens')]);
    const outcomes = [first, second].map((r) => r.status);
    // Either both ran one after the other (the first finished before the second claimed) or one was refused.
    if (outcomes.includes('rejected')) {
      const rejected = [first, second].find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect(rejected.reason).toMatchObject({ code: 'conflict' });
    }
    await expect(ctx.gatehouse.scheduler.runNow('make-coffee')).rejects.toMatchObject({ code: 'not_found' });
  });

  it('purge-sessions deletes expired sessions and their refresh tokens and keeps active ones', async () => {
    const ctx = await context(schedules({ 'purge-sessions': '0 * * * *' }));
    const db = ctx.gatehouse.database.db;
    const old = await makeUser(ctx);
    const fresh = await makeUser(ctx);
    await loginCookie(ctx, old);
    await passwordGrant(ctx, old);
    const oldSessions = await db.selectFrom('session').select('id').where('user_id', '=', old.id).execute();
    expect(oldSessions).toHaveLength(2);
    expect(await db.selectFrom('refresh_token').select('id').where('session_id', 'in', oldSessions.map((s) => s.id)).execute()).toHaveLength(1);

    ctx.clock.advance(ctx.config.auth.sessionTtlSeconds - DAY);
    await loginCookie(ctx, fresh);
    await passwordGrant(ctx, fresh);
    ctx.clock.advance(2 * DAY);
    advanceToNextHour(ctx.clock);

    const [run] = await ctx.gatehouse.scheduler.tick();
    expect(run).toMatchObject({ task: 'purge-sessions', outcome: 'success', detail: { sessions_deleted: 2 } });
    expect(await db.selectFrom('session').select('id').where('user_id', '=', old.id).execute()).toEqual([]);
    expect(await db.selectFrom('refresh_token').select('id').where('session_id', 'in', oldSessions.map((s) => s.id)).execute()).toEqual([]);
    const kept = await db.selectFrom('session').select('id').where('user_id', '=', fresh.id).execute();
    expect(kept).toHaveLength(2);
    expect(await db.selectFrom('refresh_token').select('id').where('session_id', 'in', kept.map((s) => s.id)).execute()).toHaveLength(1);
  });

  it('purge-tokens deletes used and expired verification/reset tokens and keeps valid ones', async () => {
    const ctx = await context(schedules());
    const db = ctx.gatehouse.database.db;
    const user = await makeUser(ctx);
    const forgot = () => ctx.request({ method: 'POST', url: '/api/v1/auth/password/forgot', payload: { email: user.email } });
    expect((await forgot()).statusCode).toBe(202);
    ctx.clock.advance(ctx.config.auth.resetTokenTtlSeconds + 60);
    expect((await forgot()).statusCode).toBe(202);
    const before = await db.selectFrom('one_time_token').select(['id', 'expires_at']).where('user_id', '=', user.id).execute();
    expect(before).toHaveLength(2);
    const run = await ctx.gatehouse.scheduler.runNow('purge-tokens');
    expect(run).toMatchObject({ outcome: 'success', trigger: 'manual', detail: { tokens_deleted: 1 } });
    const after = await db.selectFrom('one_time_token').select(['id', 'expires_at']).where('user_id', '=', user.id).execute();
    expect(after).toHaveLength(1);
    expect(Date.parse(after[0]?.expires_at ?? '')).toBeGreaterThan(ctx.clock.now().getTime());
  });

  it('lift-bans clears bans whose time is up, audits and emails the user, and leaves running bans alone', async () => {
    const ctx = await context(schedules({ 'lift-bans': '*/5 * * * *' }));
    const short = await makeUser(ctx);
    const long = await makeUser(ctx);
    await ctx.gatehouse.users.ban(short.id, { durationSeconds: HOUR, reason: 'cool down' }, SYSTEM_ACTOR);
    await ctx.gatehouse.users.ban(long.id, { durationSeconds: 10 * DAY, reason: 'spam' }, SYSTEM_ACTOR);
    ctx.clock.advance(2 * HOUR);
    const runs = await ctx.gatehouse.scheduler.tick();
    expect(runs).toEqual([expect.objectContaining({ task: 'lift-bans', outcome: 'success', detail: { bans_lifted: 1 } })]);
    expect(await ctx.gatehouse.users.get(short.id)).toMatchObject({ banned_until: null, ban_reason: null });
    expect((await ctx.gatehouse.users.get(long.id)).banned_until).not.toBeNull();
    const audit = await ctx.gatehouse.audit.list({ action: 'user.unban', targetId: short.id, limit: 10 });
    expect(audit.items).toEqual([expect.objectContaining({ actor_id: null, details: expect.objectContaining({ reason: 'ban_expired' }) })]);
    await ctx.flushMail();
    const mail = await ctx.smtp.waitFor((m) => m.to === short.email.toLowerCase() && m.subject.includes('active again'));
    expect(mail.text).toContain('lifted');
    // Nothing left to lift: the next run lifts none.
    ctx.clock.advance(10 * 60);
    expect((await ctx.gatehouse.scheduler.tick())[0]?.detail).toEqual({ bans_lifted: 0 });
  });

  it('prune-audit deletes audit entries and login attempts beyond their retention', async () => {
    const ctx = await context({ ...schedules(), AUDIT_RETENTION_DAYS: '30', LOGIN_ATTEMPT_RETENTION_DAYS: '10' });
    const db = ctx.gatehouse.database.db;
    const record = (tag: string) =>
      db.transaction().execute(async (trx) => {
        await ctx.gatehouse.audit.record(trx, SYSTEM_ACTOR, { action: 'user.update', targetType: 'user', targetId: tag });
        await ctx.gatehouse.audit.recordLoginAttempt(trx, { email: `${tag}@example.com`, userId: null, ip: null, outcome: 'invalid_credentials' });
      });
    await record('day-0');
    ctx.clock.advance(25 * DAY);
    await record('day-25');
    ctx.clock.advance(6 * DAY);
    await record('day-31');
    const run = await ctx.gatehouse.scheduler.runNow('prune-audit');
    expect(run.outcome).toBe('success');
    const audit = await db.selectFrom('audit_log').select('target_id').where('action', '=', 'user.update').execute();
    expect(audit.map((r) => r.target_id).sort()).toEqual(['day-25', 'day-31']);
    const attempts = await db.selectFrom('login_attempt').select('email_normalized').execute();
    expect(attempts.map((r) => r.email_normalized).sort()).toEqual(['day-25@example.com', 'day-31@example.com']);
    expect(run.detail).toMatchObject({ login_attempts_deleted: 1 });
    expect(run.detail.audit_entries_deleted).toBeGreaterThanOrEqual(1);
  });

  it('retry-outbox delivers an email whose first attempt failed once SMTP is back', async () => {
    const smtpPort = await freePort();
    const ctx = await context({ ...schedules({ 'retry-outbox': '* * * * *' }), SMTP_URL: `smtp://127.0.0.1:${smtpPort}` });
    const user = await makeUser(ctx);
    await ctx.gatehouse.users.ban(user.id, { durationSeconds: DAY, reason: 'test' }, SYSTEM_ACTOR);
    expect(await ctx.gatehouse.outbox.dispatchDue()).toEqual({ sent: 0, failed: 1 });
    const sink = await startSmtpSink({ port: smtpPort });
    cleanups.push(() => sink.stop());
    ctx.clock.advance(2 * 60);
    const runs = await ctx.gatehouse.scheduler.tick();
    expect(runs).toEqual([expect.objectContaining({ task: 'retry-outbox', outcome: 'success', detail: { sent: 1, failed: 0 } })]);
    await sink.waitFor((m) => m.to === user.email.toLowerCase());
    expect(await ctx.gatehouse.outbox.list('pending')).toEqual([]);
  });

  it('admin-digest emails every active admin the new users and failures of the last 24 hours', async () => {
    const ctx = await context(schedules({ 'admin-digest': '0 8 * * *' }));
    const admins = [await makeUser(ctx, { role: 'admin', name: 'Ada' }), await makeUser(ctx, { role: 'admin', name: 'Grace' })];
    const newcomer = await makeUser(ctx, { name: 'Newcomer' });
    const failed = await ctx.request({ method: 'POST', url: '/api/v1/auth/login', payload: { email: newcomer.email, password: 'not-the-password-1' } });
    expect(failed.statusCode).toBe(401);
    // To the next 08:00 UTC (within 24 hours of the users and the failed login).
    ctx.clock.advance((nextEight(ctx.clock.now()) - ctx.clock.now().getTime()) / 1000);
    const runs = await ctx.gatehouse.scheduler.tick();
    expect(runs).toEqual([expect.objectContaining({ task: 'admin-digest', outcome: 'success' })]);
    expect(runs[0]?.detail).toMatchObject({ recipients: 2, failed_logins: 1 });
    await ctx.flushMail();
    for (const admin of admins) {
      const mail = await ctx.smtp.waitFor((m) => m.to === admin.email.toLowerCase() && m.subject.startsWith('Daily digest'));
      expect(mail.text).toContain(newcomer.email);
      expect(mail.text).toMatch(/Failed logins: 1\b/);
      expect(mail.html).toContain('<html lang="en">');
    }
    expect(ctx.smtp.messages.some((m) => m.to === newcomer.email.toLowerCase() && m.subject.startsWith('Daily digest'))).toBe(false);
  });

  it('admin-digest is skipped when there is no admin', async () => {
    const ctx = await context(schedules());
    expect(await ctx.gatehouse.scheduler.runNow('admin-digest')).toMatchObject({ outcome: 'skipped', detail: { reason: 'no active admin users' } });
  });

  it('backup writes a backup under DATA_DIR/backups and keeps BACKUP_RETENTION of them', async () => {
    const ctx = await context({ ...schedules(), BACKUP_RETENTION: '2' });
    const dir = path.join(ctx.config.dataDir, 'backups');
    const pgDump = spawnSync('pg_dump', ['--version']).status === 0;
    const files: string[] = [];
    for (let i = 0; i < 3; i++) {
      const run = await ctx.gatehouse.scheduler.runNow('backup');
      if (dialect === 'postgres' && !pgDump) {
        expect(run).toMatchObject({ outcome: 'skipped' });
        return;
      }
      expect(run.outcome, JSON.stringify(run.detail)).toBe('success');
      const file = run.detail.file as string;
      expect(existsSync(file)).toBe(true);
      expect(run.detail.bytes).toBeGreaterThan(0);
      files.push(path.basename(file));
      ctx.clock.advance(DAY);
    }
    expect(readdirSync(dir).sort()).toEqual(files.slice(1).sort());
  });
});

/** The next 08:00 UTC strictly after `now`, in epoch milliseconds. */
function nextEight(now: Date): number {
  const eight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), 8);
  return eight > now.getTime() ? eight : eight + DAY * 1000;
}
