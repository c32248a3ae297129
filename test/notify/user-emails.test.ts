/**
 * Every user email and admin email notification, received by a real SMTP server (the sink), on
 * both dialects: verification (+ resend), welcome, reset, password changed, profile updated,
 * new sign-in device, deactivation (self and by an admin), ban/unban; for admins (ADMIN_EMAILS
 * and opted-in admins only): new user, ban, automatic ban, sign-in lockout, job failure and
 * campaign completion.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../src/audit/audit.service.js';
import { dialects } from '../helpers/dialects.js';
import {
  createTestContext,
  loginCookie,
  makeUser,
  STRONG_PASSWORD,
  type TestContext,
  tokenFromLatestMail,
  uniqueEmail,
} from '../helpers/harness.js';
import type { ReceivedMail } from '../helpers/smtp-sink.js';

const OPS = 'ops@example.com';

/** Polls `probe` until it is true (the lockout notice is queued without blocking the login). */
async function eventually(probe: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe.each(dialects)('notification emails (%s)', (dialect) => {
  let ctx: TestContext;
  let optedIn: { email: string };
  let notOptedIn: { email: string };

  const mailsTo = (to: string, subject: RegExp): ReceivedMail[] =>
    ctx.smtp.messages.filter((m) => m.to === to.toLowerCase() && subject.test(m.subject));
  const waitMail = async (to: string, subject: RegExp): Promise<ReceivedMail> => {
    await ctx.flushMail();
    return ctx.smtp.waitFor((m) => m.to === to.toLowerCase() && subject.test(m.subject));
  };

  beforeAll(async () => {
    ctx = await createTestContext(dialect, {
      env: {
        ADMIN_EMAILS: ` ${OPS} `,
        RATE_LIMIT_IP_PER_MINUTE: '1000000',
        LOGIN_MAX_CONSECUTIVE_FAILURES: '2',
      },
    });
    const admin = await makeUser(ctx, { role: 'admin', name: 'Opted In' });
    await ctx.gatehouse.users.update(admin.id, { profile: { notify_admin: true } }, SYSTEM_ACTOR);
    optedIn = admin;
    notOptedIn = await makeUser(ctx, { role: 'admin', name: 'Quiet Admin' });
  });
  afterAll(() => ctx?.close());

  it('registration: verification email, resend, admins told (ADMIN_EMAILS and opted-in admins only), welcome after verification', async () => {
    const email = uniqueEmail('reg');
    const res = await ctx.request({ method: 'POST', url: '/api/v1/auth/register', payload: { email, password: STRONG_PASSWORD, name: 'Rhea' } });
    expect(res.statusCode).toBe(202);
    const verify = await waitMail(email, /Confirm your email address/);
    // The registrant's name is not sent to an address nobody has confirmed yet.
    expect(verify.text).toContain('Hello,');
    expect(verify.text).not.toContain('Rhea');
    expect(verify.html).toMatch(/^<!doctype html>/);

    for (const admin of [OPS, optedIn.email]) {
      const notice = await waitMail(admin, new RegExp(`New user: ${email.replaceAll('.', '\\.')}`));
      expect(notice.text).toContain(`${email} (Rhea) registered an account on Gatehouse.`);
      expect(notice.html).toContain('New user registered');
    }
    expect(mailsTo(notOptedIn.email, /New user/)).toHaveLength(0);

    const resend = await ctx.request({ method: 'POST', url: '/api/v1/auth/verify-email/resend', payload: { email } });
    expect(resend.statusCode).toBeLessThan(300);
    await ctx.flushMail();
    await eventually(async () => mailsTo(email, /Confirm your email address/).length === 2);

    const token = await tokenFromLatestMail(ctx, email, '/verify-email');
    expect((await ctx.request({ method: 'POST', url: '/api/v1/auth/verify-email', payload: { token } })).statusCode).toBe(204);
    const welcome = await waitMail(email, /^Welcome to Gatehouse/);
    expect(welcome.text).toContain('Your email address is confirmed');
    expect(welcome.html).toContain('href="http://gatehouse.test/"');
    // Verifying again sends no second welcome.
    await ctx.request({ method: 'POST', url: '/api/v1/auth/verify-email', payload: { token } });
    await ctx.flushMail();
    expect(mailsTo(email, /^Welcome/)).toHaveLength(1);
  });

  it('password reset link, then "password changed"', async () => {
    const user = await makeUser(ctx, { name: 'Noor' });
    await ctx.request({ method: 'POST', url: '/api/v1/auth/password/forgot', payload: { email: user.email } });
    const token = await tokenFromLatestMail(ctx, user.email, '/reset-password');
    const reset = await ctx.request({
      method: 'POST',
      url: '/api/v1/auth/password/reset',
      payload: { token, password: 'another-harbour-lantern-77' },
    });
    expect(reset.statusCode).toBe(204);
    const changed = await waitMail(user.email, /Your password was changed/);
    expect(changed.text).toContain('http://gatehouse.test/forgot-password');
  });

  it('profile updated: names the changed fields', async () => {
    const user = await makeUser(ctx, { name: 'Pia' });
    const cookie = await loginCookie(ctx, user);
    const res = await ctx.request({ method: 'PATCH', url: '/api/v1/users/me', headers: { cookie }, payload: { name: 'Pia B', profile: { city: 'Oslo' } } });
    expect(res.statusCode).toBe(200);
    const mail = await waitMail(user.email, /Your profile was updated/);
    expect(mail.text).toContain('Hello Pia B,');
    expect(mail.text).toMatch(/The name and profile of your Gatehouse account changed at \d{4}-/);
  });

  it('new sign-in device: not on the first sign-in, not from a known pair, yes from a new browser', async () => {
    const user = await makeUser(ctx, { name: 'Lev' });
    await loginCookie(ctx, user);
    await loginCookie(ctx, user);
    await ctx.flushMail();
    expect(mailsTo(user.email, /New sign-in/)).toHaveLength(0);

    const res = await ctx.request({
      method: 'POST',
      url: '/api/v1/auth/login',
      headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) NewBrowser/1.0' },
      payload: { email: user.email, password: user.password },
    });
    expect(res.statusCode).toBe(200);
    const mail = await waitMail(user.email, /New sign-in to your account/);
    expect(mail.text).toContain('Browser: Mozilla/5.0 (X11; Linux x86_64) NewBrowser/1.0.');
    expect(mail.text).toContain('IP address: 127.0.0.1.');

    // The same browser again is known now.
    await ctx.request({
      method: 'POST',
      url: '/api/v1/auth/login',
      headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) NewBrowser/1.0' },
      payload: { email: user.email, password: user.password },
    });
    await ctx.flushMail();
    expect(mailsTo(user.email, /New sign-in/)).toHaveLength(1);
  });

  it('ban and unban: the user is told, the admins are told of the ban; an automatic ban says so', async () => {
    const user = await makeUser(ctx, { name: 'Bo' });
    await ctx.gatehouse.users.ban(user.id, { durationSeconds: 3600, reason: 'Chargeback fraud' }, SYSTEM_ACTOR);
    const banned = await waitMail(user.email, /Your account was suspended/);
    expect(banned.text).toContain('Reason given: Chargeback fraud');
    const adminNotice = await waitMail(OPS, new RegExp(`User banned: ${user.email.replaceAll('.', '\\.')}`));
    expect(adminNotice.text).toContain('banned by an administrator, until');

    await ctx.gatehouse.users.unban(user.id, SYSTEM_ACTOR);
    const unbanned = await waitMail(user.email, /Your account is active again/);
    expect(unbanned.text).toContain('Sign in: http://gatehouse.test/');

    // What the quota service does when a user keeps exceeding their quota.
    const greedy = await makeUser(ctx);
    await ctx.gatehouse.users.ban(greedy.id, { durationSeconds: 600, reason: 'API quota exceeded', automatic: true }, SYSTEM_ACTOR);
    const auto = await waitMail(optedIn.email, new RegExp(`User banned: ${greedy.email.replaceAll('.', '\\.')}`));
    expect(auto.text).toContain('banned automatically for exceeding the API quota');
    expect(auto.html).toContain('User banned automatically');
  });

  it('deactivation by an administrator emails the user', async () => {
    const user = await makeUser(ctx, { name: 'Dee' });
    await ctx.gatehouse.users.update(user.id, { status: 'deactivated' }, SYSTEM_ACTOR);
    const mail = await waitMail(user.email, /Your account was deactivated/);
    expect(mail.text).toContain('Hello Dee,');
  });

  it('repeated failed sign-ins: admins are told once when the lockout begins', async () => {
    const user = await makeUser(ctx);
    for (let i = 0; i < 3; i++) {
      const res = await ctx.request({ method: 'POST', url: '/api/v1/auth/login', payload: { email: user.email, password: 'wrong-password-123' } });
      expect(res.statusCode).toBe(401);
    }
    const subject = new RegExp(`Repeated failed sign-ins for ${user.email.replaceAll('.', '\\.')}`);
    await eventually(async () => {
      await ctx.flushMail();
      return mailsTo(OPS, subject).length === 1;
    });
    const mail = mailsTo(OPS, subject)[0];
    expect(mail?.text).toMatch(/are locked for 60 seconds after 3 failed attempts in a row/);
    // Further refused attempts (locked) do not repeat the notice.
    await ctx.request({ method: 'POST', url: '/api/v1/auth/login', payload: { email: user.email, password: 'wrong-password-123' } });
    await ctx.flushMail();
    expect(mailsTo(OPS, subject)).toHaveLength(1);
  });

  it('job system hooks: job.failed and campaign.completed reach the admins', async () => {
    const ids = await ctx.gatehouse.notify.notify('job.failed', {
      job_id: 'job-42',
      queue: 'evaluate',
      error: 'worker <w1> exited with code 137',
      attempts: 3,
      url: 'http://gatehouse.test/jobs/job-42',
    });
    expect(ids).toHaveLength(2); // OPS and the opted-in admin
    const failed = await waitMail(OPS, /Job failed: evaluate job-42/);
    expect(failed.text).toContain('Last error: worker <w1> exited with code 137');
    expect(failed.html).toContain('worker &lt;w1&gt; exited');
    expect(failed.text).toContain('Open the job: http://gatehouse.test/jobs/job-42');

    await ctx.gatehouse.notify.notify('campaign.completed', {
      campaign_id: 'c-1',
      campaign_name: 'Primes',
      runs_completed: 1000,
      best_result: '2^82589933-1',
      url: null,
    });
    const done = await waitMail(optedIn.email, /Campaign completed: Primes/);
    expect(done.text).toContain('Best result: 2^82589933-1');
    expect(done.html).not.toContain('Open the campaign');
  });
});
