/**
 * Email change on both dialects: POST /api/v1/users/me/email (password re-checked behind the
 * sign-in lockout, link to the
 * NEW address through the real SMTP sink), the /confirm-email page (never acts on GET), and
 * POST /api/v1/auth/confirm-email (single use, expiry, address taken meanwhile), then the notice
 * to the OLD address, sign-in with the new address only, the confirming session kept (every
 * other one signed out, reset links to the old address void) and the audit entry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../helpers/dialects.js';
import {
  createTestContext,
  loginCookie,
  makeUser,
  passwordGrant,
  STRONG_PASSWORD,
  type TestContext,
  tokenFromLatestMail,
  uniqueEmail,
} from '../helpers/harness.js';
import { expectProblem, mailsTo, nextIp, waitForMail } from '../helpers/http-assertions.js';
import { tokenFromMail } from '../helpers/smtp-sink.js';

const ME = '/api/v1/users/me';
const CHANGE = '/api/v1/users/me/email';
const CONFIRM = '/api/v1/auth/confirm-email';
const CONFIRM_SUBJECT = /Confirm your new email address/;
const CHANGED_SUBJECT = /Your email address was changed/;

describe.each(dialects)('email change (%s)', (dialect) => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext(dialect);
  });
  afterAll(async () => {
    await ctx?.close();
  });

  const requestChange = (cookie: string, newEmail: string, password = STRONG_PASSWORD) =>
    ctx.request({ method: 'POST', url: CHANGE, headers: { cookie }, payload: { new_email: newEmail, password } });
  /** Confirms with `token`, signed in with `cookie` when given (that session survives the change). */
  const confirm = (token: string, cookie?: string) =>
    ctx.request({ method: 'POST', url: CONFIRM, payload: { token }, ...(cookie ? { headers: { cookie } } : {}) });
  const login = (email: string) =>
    ctx.request({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password: STRONG_PASSWORD } });
  const emailOf = async (cookie: string): Promise<string> => (await ctx.request({ url: ME, headers: { cookie } })).json().email;

  /** Requests a change and returns the token from the link mailed to the new address. */
  async function linkToken(cookie: string, newEmail: string): Promise<string> {
    const res = await requestChange(cookie, newEmail);
    expect(res.statusCode, res.body).toBe(202);
    const mails = await mailsTo(ctx, newEmail, CONFIRM_SUBJECT);
    const mail = mails.at(-1) ?? (await waitForMail(ctx, newEmail, CONFIRM_SUBJECT));
    return tokenFromMail(mail, '/confirm-email');
  }

  it('full flow: link to the new address, page does not act on GET, confirm, notice to the old address, new sign-in only', async () => {
    const user = await makeUser(ctx, { name: 'Mira' });
    const cookie = await loginCookie(ctx, user);
    const newEmail = uniqueEmail('moved');

    const res = await requestChange(cookie, newEmail);
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ message: expect.any(String) });

    const link = await waitForMail(ctx, newEmail, CONFIRM_SUBJECT);
    // The new address is not confirmed yet: the account's (self-chosen) name is not sent to it.
    expect(link.text).toContain('Hello,');
    expect(link.text).not.toContain('Mira');
    expect(link.text).toContain(`http://gatehouse.test/confirm-email?token=`);
    expect(link.html).toMatch(/^<!doctype html>/);
    expect(link.html).toContain('/confirm-email?token=');
    const token = tokenFromMail(link, '/confirm-email');
    // The link never goes to the current address.
    expect((await mailsTo(ctx, user.email)).filter((m) => m.text.includes('/confirm-email'))).toHaveLength(0);
    // Nothing changed yet.
    expect(await emailOf(cookie)).toBe(user.email);

    // The link opens the web app's page, which only shows a button; GET (twice, as a link scanner
    // would) consumes nothing. (test/web/auth.test.ts presses the button in Chromium.)
    for (let i = 0; i < 2; i++) {
      const page = await ctx.request({ url: `/confirm-email?token=${encodeURIComponent(token)}` });
      expect(page.statusCode).toBe(200);
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      expect(page.headers['referrer-policy']).toBe('same-origin');
      expect(page.body).toContain('<div id="root"></div>');
      expect(page.body).not.toContain(token);
    }
    expect(await emailOf(cookie)).toBe(user.email);

    expect((await confirm(token, cookie)).statusCode).toBe(204);

    // The confirming session stays and sees the new, verified address at once (auth caches were told).
    const me = await ctx.request({ url: ME, headers: { cookie } });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({ id: user.id, email: newEmail, email_verified: true });

    // Notice to the OLD address, naming the new one, with a way out.
    const notice = await waitForMail(ctx, user.email, CHANGED_SUBJECT);
    expect(notice.text).toContain('Hello Mira,');
    expect(notice.text).toContain(newEmail);
    expect(notice.text).toContain('http://gatehouse.test/forgot-password');
    expect(notice.html).toContain(newEmail);
    expect(await mailsTo(ctx, newEmail, CHANGED_SUBJECT)).toHaveLength(0);

    // Sign-in: the new address works, the old one no longer does.
    expect((await login(newEmail)).statusCode).toBe(200);
    expectProblem(await login(user.email), 401, 'invalid_credentials');

    // Single use.
    expectProblem(await confirm(token), 400, 'invalid_token');
    expect(await emailOf(cookie)).toBe(newEmail);

    // Audited, with the actor and both addresses.
    const audit = await ctx.gatehouse.audit.list({ action: 'user.email_change', targetId: user.id, limit: 10 });
    expect(audit.items).toHaveLength(1);
    expect(audit.items[0]).toMatchObject({
      action: 'user.email_change',
      actor_id: user.id,
      target_type: 'user',
      target_id: user.id,
      details: { from: user.email, to: newEmail },
    });
  });

  it('refuses a wrong password with 400 invalid_current_password and sends nothing', async () => {
    const user = await makeUser(ctx);
    const cookie = await loginCookie(ctx, user);
    const newEmail = uniqueEmail('nope');
    expectProblem(await requestChange(cookie, newEmail, 'not-the-right-password-9'), 400, 'invalid_current_password');
    expectProblem(
      await ctx.request({ method: 'POST', url: CHANGE, headers: { cookie }, payload: { new_email: newEmail } }),
      400,
      'validation_failed',
    );
    expectProblem(
      await ctx.request({ method: 'POST', url: CHANGE, headers: { cookie }, payload: { new_email: 'not-an-email', password: STRONG_PASSWORD } }),
      400,
      'validation_failed',
    );
    expect(await mailsTo(ctx, newEmail)).toHaveLength(0);
    expect(await emailOf(cookie)).toBe(user.email);
  });

  it('counts wrong passwords towards the sign-in lockout: 429 while locked, even for the right password', async () => {
    const user = await makeUser(ctx);
    const cookie = await loginCookie(ctx, user);
    const ip = nextIp();
    const newEmail = uniqueEmail('locked');
    const attempt = (password: string) => ctx.request({ method: 'POST', url: CHANGE, headers: { cookie }, remoteAddress: ip, payload: { new_email: newEmail, password } });
    for (let i = 0; i < 6; i++) expectProblem(await attempt('not-the-right-password-9'), 400, 'invalid_current_password');
    expectProblem(await attempt(STRONG_PASSWORD), 429, 'rate_limited');
    expect(await mailsTo(ctx, newEmail)).toHaveLength(0);
    // The pair is (email, IP): from elsewhere the owner goes on.
    const elsewhere = await ctx.request({ method: 'POST', url: CHANGE, headers: { cookie }, remoteAddress: nextIp(), payload: { new_email: newEmail, password: STRONG_PASSWORD } });
    expect(elsewhere.statusCode).toBe(202);
  });

  it('requires authentication', async () => {
    expectProblem(
      await ctx.request({ method: 'POST', url: CHANGE, payload: { new_email: uniqueEmail(), password: STRONG_PASSWORD } }),
      401,
      'authentication_required',
    );
  });

  it('answers 202 for an address that already has an account, changes nothing and mails no one', async () => {
    const user = await makeUser(ctx);
    const other = await makeUser(ctx);
    const cookie = await loginCookie(ctx, user);
    const free = await requestChange(cookie, uniqueEmail('free'));
    const taken = await requestChange(cookie, other.email.toUpperCase());
    expect(taken.statusCode).toBe(202);
    expect(taken.body).toBe(free.body);

    await ctx.flushMail();
    const outbox = await ctx.gatehouse.database.db
      .selectFrom('outbox')
      .select('recipient')
      .where('recipient', 'in', [other.email, other.email.toUpperCase()])
      .execute();
    expect(outbox).toHaveLength(0);
    expect(await mailsTo(ctx, other.email)).toHaveLength(0);
    expect(await emailOf(cookie)).toBe(user.email);
    expect((await login(other.email)).json().user.id).toBe(other.id);
  });

  it('rejects unknown, malformed and expired tokens with 400 invalid_token', async () => {
    const user = await makeUser(ctx);
    const cookie = await loginCookie(ctx, user);
    expectProblem(await confirm('A'.repeat(43)), 400, 'invalid_token');
    expectProblem(await confirm('short'), 400, 'invalid_token');
    expectProblem(await ctx.request({ method: 'POST', url: CONFIRM, payload: {} }), 400, 'validation_failed');

    const newEmail = uniqueEmail('late');
    const token = await linkToken(cookie, newEmail);
    ctx.clock.advance(ctx.config.auth.verifyTokenTtlSeconds + 1);
    expectProblem(await confirm(token), 400, 'invalid_token');
    expect(await emailOf(cookie)).toBe(user.email);
    expect(await mailsTo(ctx, user.email, CHANGED_SUBJECT)).toHaveLength(0);
  });

  it('a newer link replaces the older one', async () => {
    const user = await makeUser(ctx);
    const cookie = await loginCookie(ctx, user);
    const first = await linkToken(cookie, uniqueEmail('first'));
    const secondEmail = uniqueEmail('second');
    const second = await linkToken(cookie, secondEmail);
    expectProblem(await confirm(first), 400, 'invalid_token');
    expect((await confirm(second, cookie)).statusCode).toBe(204);
    expect(await emailOf(cookie)).toBe(secondEmail);
  });

  it('answers 409 email_taken when another account took the address after the link was sent', async () => {
    const user = await makeUser(ctx);
    const cookie = await loginCookie(ctx, user);
    const newEmail = uniqueEmail('race');
    const token = await linkToken(cookie, newEmail);
    await makeUser(ctx, { email: newEmail });
    expectProblem(await confirm(token), 409, 'email_taken');
    expect(await emailOf(cookie)).toBe(user.email);
    expect((await login(user.email)).statusCode).toBe(200);
  });

  it('confirming invalidates reset links mailed to the old address and signs out every other session; the confirming one stays', async () => {
    const user = await makeUser(ctx);
    const confirming = await loginCookie(ctx, user);
    const other = await loginCookie(ctx, user);
    const tokens = await passwordGrant(ctx, user);
    const forgot = await ctx.request({ method: 'POST', url: '/api/v1/auth/password/forgot', payload: { email: user.email } });
    expect(forgot.statusCode).toBe(202);
    const resetToken = await tokenFromLatestMail(ctx, user.email, '/reset-password');

    const newEmail = uniqueEmail('secured');
    expect((await confirm(await linkToken(confirming, newEmail), confirming)).statusCode).toBe(204);

    // Whoever still reads the old mailbox cannot take the account back with the earlier link.
    const reset = await ctx.request({ method: 'POST', url: '/api/v1/auth/password/reset', payload: { token: resetToken, password: 'a-brand-new-passphrase-77' } });
    expectProblem(reset, 400, 'invalid_token');
    expect((await login(newEmail)).statusCode).toBe(200);

    expectProblem(await ctx.request({ url: ME, headers: { cookie: other } }), 401, 'session_expired');
    expectProblem(await ctx.request({ url: ME, headers: { authorization: `Bearer ${tokens.access_token}` } }), 401, 'session_expired');
    expect(await emailOf(confirming)).toBe(newEmail);
  });

  it('a change confirmed without being signed in (link opened elsewhere) signs out every session', async () => {
    const user = await makeUser(ctx);
    const cookie = await loginCookie(ctx, user);
    const newEmail = uniqueEmail('elsewhere');
    expect((await confirm(await linkToken(cookie, newEmail))).statusCode).toBe(204);
    expectProblem(await ctx.request({ url: ME, headers: { cookie } }), 401, 'session_expired');
    expect((await login(newEmail)).statusCode).toBe(200);
  });
});
