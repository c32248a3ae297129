/**
 * POST /api/v1/auth/password/forgot, /password/reset and /password/change: the emailed links
 * (read from the real SMTP sink), single use and expiry on the manual clock, revocation of
 * sessions and tokens, and the "password changed" notices.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../helpers/dialects.js';
import {
  createTestContext,
  type Fixture,
  loginCookie,
  makeUser,
  passwordGrant,
  PUBLIC_URL,
  STRONG_PASSWORD,
  type TestContext,
  tokenFromLatestMail,
  uniqueEmail,
} from '../helpers/harness.js';
import { expectProblem, mailsTo, nextIp, waitForMail } from '../helpers/http-assertions.js';

const FORGOT = '/api/v1/auth/password/forgot';
const RESET = '/api/v1/auth/password/reset';
const CHANGE = '/api/v1/auth/password/change';
const ME = '/api/v1/users/me';
const NEW_PASSWORD = 'copper-Meadow-quartz-615';

describe.each(dialects)('password reset and change (%s)', (dialect) => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext(dialect);
  });
  afterAll(async () => {
    await ctx?.close();
  });

  const forgot = (email: string, remoteAddress = nextIp()) => ctx.request({ method: 'POST', url: FORGOT, payload: { email }, remoteAddress });
  const reset = (token: string, password: string) => ctx.request({ method: 'POST', url: RESET, payload: { token, password } });
  const login = (email: string, password: string) =>
    ctx.request({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password } });
  const resetToken = async (user: Fixture): Promise<string> => {
    expect((await forgot(user.email)).statusCode).toBe(202);
    return tokenFromLatestMail(ctx, user.email, '/reset-password');
  };

  describe('forgot', () => {
    it('answers 202 for an unknown email and sends nothing', async () => {
      const email = uniqueEmail('ghost');
      const res = await forgot(email);
      expect(res.statusCode).toBe(202);
      expect(Object.keys(res.json())).toEqual(['message']);
      expect(await mailsTo(ctx, email)).toHaveLength(0);
    });

    it('answers a known email exactly like an unknown one and emails a PUBLIC_URL/reset-password link', async () => {
      const user = await makeUser(ctx, { name: 'Noor' });
      const known = await forgot(user.email.toUpperCase());
      const unknown = await forgot(uniqueEmail('ghost'));
      expect(known.statusCode).toBe(202);
      expect(known.body).toBe(unknown.body);
      const mail = await waitForMail(ctx, user.email, /reset your password/i);
      expect(mail.text).toMatch(new RegExp(`${PUBLIC_URL.replaceAll('.', '\\.')}/reset-password\\?token=[A-Za-z0-9_-]{43}`));
      expect(mail.html).toContain(`${PUBLIC_URL}/reset-password?token=`);
      expect(mail.text).toContain('Hello Noor,');
      expect(mail.text).toMatch(/60 minutes/);
    });

    it('sends nothing for a deactivated account', async () => {
      const user = await makeUser(ctx);
      const cookie = await loginCookie(ctx, user);
      expect((await ctx.request({ method: 'DELETE', url: ME, headers: { cookie }, payload: { password: user.password } })).statusCode).toBe(204);
      expect((await forgot(user.email)).statusCode).toBe(202);
      expect(await mailsTo(ctx, user.email, /reset your password/i)).toHaveLength(0);
    });

    it('makes an earlier link stop working when a newer one is requested', async () => {
      const user = await makeUser(ctx);
      const first = await resetToken(user);
      const second = await resetToken(user);
      expect(second).not.toBe(first);
      expectProblem(await reset(first, NEW_PASSWORD), 400, 'invalid_token');
      expect((await reset(second, NEW_PASSWORD)).statusCode).toBe(204);
    });

    it('is limited per IP (shared with verification resends): the 11th request in an hour is 429', async () => {
      const ip = nextIp();
      for (let i = 0; i < 10; i++) expect((await forgot(uniqueEmail('burst'), ip)).statusCode).toBe(202);
      const res = await forgot(uniqueEmail('burst'), ip);
      expectProblem(res, 429, 'rate_limited');
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      expect(res.headers['ratelimit-limit']).toBe('10');
    });

    it('rejects an invalid email with 400', async () => {
      expectProblem(await forgot('not an email'), 400, 'validation_failed');
    });
  });

  describe('reset', () => {
    it('sets the new password (204), revokes every session and token, and sends a notice', async () => {
      const user = await makeUser(ctx);
      const cookie = await loginCookie(ctx, user);
      const tokens = await passwordGrant(ctx, user);
      const token = await resetToken(user);

      const res = await reset(token, NEW_PASSWORD);
      expect(res.statusCode).toBe(204);
      expect(res.body).toBe('');

      expectProblem(await ctx.request({ url: ME, headers: { cookie } }), 401, 'session_expired');
      expectProblem(await ctx.request({ url: ME, headers: { authorization: `Bearer ${tokens.access_token}` } }), 401, 'session_expired');
      const refreshed = await ctx.request({
        method: 'POST',
        url: '/api/v1/auth/token',
        payload: { grant_type: 'refresh_token', refresh_token: tokens.refresh_token },
      });
      expect(refreshed.statusCode).toBe(400);
      expect(refreshed.json().error).toBe('invalid_grant');

      expectProblem(await login(user.email, user.password), 401, 'invalid_credentials');
      expect((await login(user.email, NEW_PASSWORD)).statusCode).toBe(200);
      const notice = await waitForMail(ctx, user.email, /password was changed/i);
      expect(notice.text).toContain(`${PUBLIC_URL}/forgot-password`);
    });

    it('is single use', async () => {
      const user = await makeUser(ctx);
      const token = await resetToken(user);
      expect((await reset(token, NEW_PASSWORD)).statusCode).toBe(204);
      expectProblem(await reset(token, 'another-Fine-passphrase-71'), 400, 'invalid_token');
      expect((await login(user.email, NEW_PASSWORD)).statusCode).toBe(200);
    });

    it('works until one hour and not after', async () => {
      const early = await makeUser(ctx);
      const late = await makeUser(ctx);
      const earlyToken = await resetToken(early);
      const lateToken = await resetToken(late);
      ctx.clock.advance(3600 - 30);
      expect((await reset(earlyToken, NEW_PASSWORD)).statusCode).toBe(204);
      ctx.clock.advance(31);
      expectProblem(await reset(lateToken, NEW_PASSWORD), 400, 'invalid_token');
      expect((await login(late.email, late.password)).statusCode).toBe(200);
    });

    it('refuses a weak password with 422 and leaves the token usable', async () => {
      const user = await makeUser(ctx);
      const cookie = await loginCookie(ctx, user);
      const token = await resetToken(user);
      expectProblem(await reset(token, 'short'), 422, 'weak_password');
      expectProblem(await reset(token, 'password1234'), 422, 'weak_password');
      expectProblem(await reset(token, 'Zq8#'.repeat(70)), 422, 'weak_password');
      // Nothing changed: the old password and session still work, and the token still does.
      expect((await ctx.request({ url: ME, headers: { cookie } })).statusCode).toBe(200);
      expect((await reset(token, NEW_PASSWORD)).statusCode).toBe(204);
    });

    it('confirms the email of an unverified account (the link proved ownership)', async () => {
      const email = uniqueEmail('unverified');
      await ctx.gatehouse.accounts.createUser({ email, password: STRONG_PASSWORD, verified: false });
      expectProblem(await login(email, STRONG_PASSWORD), 403, 'email_not_verified');
      const token = await resetToken({ id: '', email, password: STRONG_PASSWORD });
      expect((await reset(token, NEW_PASSWORD)).statusCode).toBe(204);
      const res = await login(email, NEW_PASSWORD);
      expect(res.statusCode).toBe(200);
      expect(res.json().user.email_verified).toBe(true);
    });

    const bogus: Array<[string, string, string]> = [
      ['unknown', 'B'.repeat(43), 'invalid_token'],
      ['malformed', 'not a token!', 'invalid_token'],
      ['overlong', 'a'.repeat(513), 'validation_failed'],
      ['empty', '', 'validation_failed'],
    ];
    it.each(bogus)('refuses a %s token with 400', async (_name, token, code) => {
      expectProblem(await reset(token, NEW_PASSWORD), 400, code);
    });

    it('refuses a verification token', async () => {
      const email = uniqueEmail('verify');
      await ctx.request({ method: 'POST', url: '/api/v1/auth/register', payload: { email, password: STRONG_PASSWORD } });
      const verifyToken = await tokenFromLatestMail(ctx, email, '/verify-email');
      expectProblem(await reset(verifyToken, NEW_PASSWORD), 400, 'invalid_token');
      expect((await ctx.request({ method: 'POST', url: '/api/v1/auth/verify-email', payload: { token: verifyToken } })).statusCode).toBe(204);
    });
  });

  describe('change', () => {
    const change = (headers: Record<string, string>, current_password: string, new_password: string) =>
      ctx.request({ method: 'POST', url: CHANGE, headers, payload: { current_password, new_password } });

    it('answers 204, keeps the current session, revokes the others and sends a notice', async () => {
      const user = await makeUser(ctx);
      const current = await loginCookie(ctx, user);
      const other = await loginCookie(ctx, user);
      const tokens = await passwordGrant(ctx, user);

      const res = await change({ cookie: current }, user.password, NEW_PASSWORD);
      expect(res.statusCode).toBe(204);

      expect((await ctx.request({ url: ME, headers: { cookie: current } })).statusCode).toBe(200);
      expectProblem(await ctx.request({ url: ME, headers: { cookie: other } }), 401, 'session_expired');
      expectProblem(await ctx.request({ url: ME, headers: { authorization: `Bearer ${tokens.access_token}` } }), 401, 'session_expired');

      expectProblem(await login(user.email, user.password), 401, 'invalid_credentials');
      expect((await login(user.email, NEW_PASSWORD)).statusCode).toBe(200);
      const notices = await mailsTo(ctx, user.email, /password was changed/i);
      expect(notices).toHaveLength(1);
      expect(notices[0]?.html).toContain('Your password was changed');
    });

    it('refuses a wrong current password with 400 invalid_current_password and changes nothing', async () => {
      const user = await makeUser(ctx);
      const cookie = await loginCookie(ctx, user);
      const other = await loginCookie(ctx, user);
      expectProblem(await change({ cookie }, 'not-the-right-password-9', NEW_PASSWORD), 400, 'invalid_current_password');
      expect((await ctx.request({ url: ME, headers: { cookie: other } })).statusCode).toBe(200);
      expect((await login(user.email, user.password)).statusCode).toBe(200);
      expect(await mailsTo(ctx, user.email, /password was changed/i)).toHaveLength(0);
    });

    it('counts wrong current passwords towards the sign-in lockout: 429 while locked (also for the right one and for sign-in), other IPs unaffected', async () => {
      const user = await makeUser(ctx);
      const cookie = await loginCookie(ctx, user);
      const ip = nextIp();
      const attempt = (current: string, remoteAddress = ip) =>
        ctx.request({ method: 'POST', url: CHANGE, headers: { cookie }, remoteAddress, payload: { current_password: current, new_password: NEW_PASSWORD } });
      // LOGIN_MAX_CONSECUTIVE_FAILURES (5) are free; the 6th failure locks the (email, IP) pair for 60 s.
      for (let i = 0; i < 6; i++) expectProblem(await attempt('not-the-right-password-9'), 400, 'invalid_current_password');
      const locked = await attempt(user.password);
      expectProblem(locked, 429, 'rate_limited');
      expect(locked.headers['retry-after']).toBe('60');
      expectProblem(await ctx.request({ method: 'POST', url: '/api/v1/auth/login', remoteAddress: ip, payload: { email: user.email, password: user.password } }), 429, 'rate_limited');
      expect(await mailsTo(ctx, user.email, /password was changed/i)).toHaveLength(0);
      expect((await login(user.email, user.password)).statusCode).toBe(200);
      // The account itself is not locked: from another network the owner changes the password.
      expect((await attempt(user.password, nextIp())).statusCode).toBe(204);
    });

    it('refuses a weak new password with 422 and changes nothing', async () => {
      const user = await makeUser(ctx);
      const cookie = await loginCookie(ctx, user);
      expectProblem(await change({ cookie }, user.password, 'abc'), 422, 'weak_password');
      expectProblem(await change({ cookie }, user.password, user.email), 422, 'weak_password');
      expectProblem(await change({ cookie }, user.password, 'x'.repeat(300)), 422, 'weak_password');
      expect((await login(user.email, user.password)).statusCode).toBe(200);
    });

    it('requires authentication and both fields', async () => {
      const res = await change({}, STRONG_PASSWORD, NEW_PASSWORD);
      expectProblem(res, 401, 'authentication_required');
      const cookie = await loginCookie(ctx, await makeUser(ctx));
      const missing = await ctx.request({ method: 'POST', url: CHANGE, headers: { cookie }, payload: { current_password: STRONG_PASSWORD } });
      const problem = expectProblem(missing, 400, 'validation_failed');
      expect(problem.errors?.map((e) => e.field)).toContain('/new_password');
    });
  });
});
