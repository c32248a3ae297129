/**
 * POST /api/v1/auth/register, /auth/verify-email and /auth/verify-email/resend: the emails they
 * send (read from the real SMTP sink), anti-enumeration, token expiry on the manual clock, and
 * the per-IP limit on resends.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../helpers/dialects.js';
import {
  createTestContext,
  makeUser,
  PUBLIC_URL,
  STRONG_PASSWORD,
  type TestContext,
  tokenFromLatestMail,
  uniqueEmail,
} from '../helpers/harness.js';
import { expectProblem, mailsTo, nextIp, type Scenario, runScenario, waitForMail } from '../helpers/http-assertions.js';

const REGISTER = '/api/v1/auth/register';
const VERIFY = '/api/v1/auth/verify-email';
const RESEND = '/api/v1/auth/verify-email/resend';
const DAY_SECONDS = 24 * 3600;

describe.each(dialects)('registration and email verification (%s)', (dialect) => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext(dialect);
  });
  afterAll(async () => {
    await ctx?.close();
  });

  const register = (payload: unknown) => ctx.request({ method: 'POST', url: REGISTER, payload: payload as object });
  const verify = (token: string) => ctx.request({ method: 'POST', url: VERIFY, payload: { token } });
  const resend = (email: string, remoteAddress = nextIp()) =>
    ctx.request({ method: 'POST', url: RESEND, payload: { email }, remoteAddress });
  const login = (email: string, password = STRONG_PASSWORD) =>
    ctx.request({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password } });

  describe('register', () => {
    it('answers 202 for a new email and emails a verification link to PUBLIC_URL/verify-email', async () => {
      const email = uniqueEmail('new');
      const res = await register({ email, password: STRONG_PASSWORD, name: 'Ada' });
      expect(res.statusCode).toBe(202);
      expect(Object.keys(res.json())).toEqual(['message']);
      expect(res.headers['set-cookie']).toBeUndefined();

      const mail = await waitForMail(ctx, email, /confirm your email/i);
      expect(mail.text).toMatch(new RegExp(`${PUBLIC_URL.replaceAll('.', '\\.')}/verify-email\\?token=[A-Za-z0-9_-]{43}`));
      expect(mail.html).toContain(`${PUBLIC_URL}/verify-email?token=`);
      // The registrant's name is not sent to an address nobody has confirmed yet.
      expect(mail.text).toContain('Hello,');
      expect(mail.text).not.toContain('Ada');

      // The account exists but cannot sign in until verified.
      expectProblem(await login(email), 403, 'email_not_verified');
    });

    it('answers an existing email exactly like a new one and tells the owner instead', async () => {
      const owner = await makeUser(ctx);
      const fresh = uniqueEmail('fresh');
      const forExisting = await register({ email: owner.email, password: 'another-Secret-phrase-77' });
      const forNew = await register({ email: fresh, password: 'another-Secret-phrase-77' });
      expect(forExisting.statusCode).toBe(202);
      expect(forExisting.body).toBe(forNew.body);
      expect(forExisting.headers['content-type']).toBe(forNew.headers['content-type']);

      const attempt = await waitForMail(ctx, owner.email, /tried to sign up/i);
      expect(attempt.text).toContain(`${PUBLIC_URL}/forgot-password`);
      expect(attempt.text).not.toContain('/verify-email');
      // No verification link goes to the existing owner, and the original password still works.
      expect(await mailsTo(ctx, owner.email, /confirm your email/i)).toHaveLength(0);
      expect((await login(owner.email)).statusCode).toBe(200);
      expectProblem(await login(owner.email, 'another-Secret-phrase-77'), 401, 'invalid_credentials');
    });

    it('treats the email case-insensitively (a case variant is the same account)', async () => {
      const owner = await makeUser(ctx);
      const res = await register({ email: owner.email.toUpperCase(), password: 'another-Secret-phrase-77' });
      expect(res.statusCode).toBe(202);
      await waitForMail(ctx, owner.email, /tried to sign up/i);
      const users = await ctx.gatehouse.database.db
        .selectFrom('user')
        .select('id')
        .where('email_normalized', '=', owner.email.toLowerCase())
        .execute();
      expect(users).toHaveLength(1);
    });

    const weak: Array<[string, string]> = [
      ['too short (9 characters)', 'Xq7#vL2!p'],
      ['a common password', 'password123'],
      ['a keyboard walk', 'qwertyuiop'],
      ['a repeated character', 'aaaaaaaaaaaa'],
      ['longer than 256 characters', `${'Xq7#vL2!pZ'.repeat(25)}abcdefg`],
    ];
    it.each(weak)('refuses a weak password: %s → 422 weak_password', async (_name, password) => {
      const res = await register({ email: uniqueEmail('weak'), password });
      const problem = expectProblem(res, 422, 'weak_password');
      expect(problem.detail).toEqual(expect.any(String));
    });

    it('refuses a password made of the user’s own email or name (strong for anyone else)', async () => {
      // Each context has its own database, so a fixed address is free here.
      expectProblem(await register({ email: 'xkqvbrtmwzplfg@example.com', password: 'xkqvbrtmwzplfg1' }), 422, 'weak_password');
      expectProblem(
        await register({ email: uniqueEmail(), name: 'Wolfgang Quixtonbury', password: 'WolfgangQuixtonbury' }),
        422,
        'weak_password',
      );
    });

    it('accepts a password of exactly 256 characters', async () => {
      const res = await register({ email: uniqueEmail('long'), password: `${'Xq7#vL2!pZ'.repeat(25)}abcdef` });
      expect(res.statusCode).toBe(202);
    });

    const invalid: Scenario[] = [
      { name: 'no @', request: { method: 'POST', url: REGISTER, payload: { email: 'not-an-email', password: STRONG_PASSWORD } }, status: 400, code: 'validation_failed', fields: ['/email'] },
      { name: 'empty email', request: { method: 'POST', url: REGISTER, payload: { email: '', password: STRONG_PASSWORD } }, status: 400, code: 'validation_failed', fields: ['/email'] },
      { name: 'spaces in email', request: { method: 'POST', url: REGISTER, payload: { email: 'a b@example.com', password: STRONG_PASSWORD } }, status: 400, code: 'validation_failed', fields: ['/email'] },
      { name: 'email over 254 characters', request: { method: 'POST', url: REGISTER, payload: { email: `${'a'.repeat(250)}@example.com`, password: STRONG_PASSWORD } }, status: 400, code: 'validation_failed', fields: ['/email'] },
      { name: 'missing password', request: { method: 'POST', url: REGISTER, payload: { email: 'x@example.com' } }, status: 400, code: 'validation_failed', fields: ['/password'] },
      { name: 'missing both', request: { method: 'POST', url: REGISTER, payload: {} }, status: 400, code: 'validation_failed', fields: ['/email', '/password'] },
      { name: 'name over 200 characters', request: { method: 'POST', url: REGISTER, payload: { email: 'x@example.com', password: STRONG_PASSWORD, name: 'n'.repeat(201) } }, status: 400, code: 'validation_failed', fields: ['/name'] },
      { name: 'name not a string', request: { method: 'POST', url: REGISTER, payload: { email: 'x@example.com', password: STRONG_PASSWORD, name: 42 } }, status: 400, code: 'validation_failed', fields: ['/name'] },
    ];
    it.each(invalid.map((s) => [s.name, s] as const))('rejects invalid input: %s → 400 with errors[]', async (_name, scenario) => {
      await runScenario(ctx, scenario);
    });
  });

  describe('verify-email', () => {
    async function registered(): Promise<{ email: string; token: string }> {
      const email = uniqueEmail('verify');
      expect((await register({ email, password: STRONG_PASSWORD })).statusCode).toBe(202);
      return { email, token: await tokenFromLatestMail(ctx, email, '/verify-email') };
    }

    it('verifies with the emailed token (204), then login works and the user is verified', async () => {
      const { email, token } = await registered();
      const res = await verify(token);
      expect(res.statusCode).toBe(204);
      expect(res.body).toBe('');
      const loggedIn = await login(email);
      expect(loggedIn.statusCode).toBe(200);
      expect(loggedIn.json().user.email_verified).toBe(true);
    });

    it('refuses a token the second time (single use)', async () => {
      const { token } = await registered();
      expect((await verify(token)).statusCode).toBe(204);
      expectProblem(await verify(token), 400, 'invalid_token');
    });

    it('accepts a token just before 24 hours and refuses it after', async () => {
      const early = await registered();
      const late = await registered();
      ctx.clock.advance(DAY_SECONDS - 60);
      expect((await verify(early.token)).statusCode).toBe(204);
      ctx.clock.advance(61);
      expectProblem(await verify(late.token), 400, 'invalid_token');
      expectProblem(await login(late.email), 403, 'email_not_verified');
    });

    const bogus: Array<[string, string, string]> = [
      ['random but well-formed', 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'invalid_token'],
      ['too short to be ours', 'abc', 'invalid_token'],
      ['characters outside base64url', 'abc.def/ghi+jkl=mnopqrstuvwxyz0123', 'invalid_token'],
      ['300 characters', 'a'.repeat(300), 'invalid_token'],
      ['over 512 characters', 'a'.repeat(513), 'validation_failed'],
      ['empty', '', 'validation_failed'],
      ['SQL', "' OR '1'='1' --", 'invalid_token'],
    ];
    it.each(bogus)('refuses a bogus token (%s) with 400', async (_name, token, code) => {
      expectProblem(await verify(token), 400, code);
    });

    it('refuses a password-reset token (purposes do not mix)', async () => {
      const user = await makeUser(ctx);
      await ctx.request({ method: 'POST', url: '/api/v1/auth/password/forgot', payload: { email: user.email }, remoteAddress: nextIp() });
      const resetToken = await tokenFromLatestMail(ctx, user.email, '/reset-password');
      expectProblem(await verify(resetToken), 400, 'invalid_token');
    });

    it('refuses a token that is not a string', async () => {
      expectProblem(await ctx.request({ method: 'POST', url: VERIFY, payload: { token: 12345 } }), 400, 'validation_failed');
    });
  });

  describe('verify-email/resend', () => {
    it('answers 202 for an unknown email and sends nothing', async () => {
      const email = uniqueEmail('ghost');
      const res = await resend(email);
      expect(res.statusCode).toBe(202);
      expect(await mailsTo(ctx, email)).toHaveLength(0);
    });

    it('answers a verified account exactly like an unknown one, without mail', async () => {
      const user = await makeUser(ctx);
      const known = await resend(user.email);
      const unknown = await resend(uniqueEmail('ghost'));
      expect(known.statusCode).toBe(202);
      expect(known.body).toBe(unknown.body);
      expect(await mailsTo(ctx, user.email)).toHaveLength(0);
    });

    it('sends a new working link and invalidates the previous one', async () => {
      const email = uniqueEmail('resend');
      await register({ email, password: STRONG_PASSWORD });
      const first = await tokenFromLatestMail(ctx, email, '/verify-email');
      const res = await resend(email.toUpperCase());
      expect(res.statusCode).toBe(202);
      const second = await tokenFromLatestMail(ctx, email, '/verify-email');
      expect(second).not.toBe(first);
      expect(await mailsTo(ctx, email, /confirm your email/i)).toHaveLength(2);
      expectProblem(await verify(first), 400, 'invalid_token');
      expect((await verify(second)).statusCode).toBe(204);
    });

    it('limits one IP to 10 requests per hour (429 with Retry-After and RateLimit-* headers)', async () => {
      const ip = nextIp();
      for (let i = 0; i < 10; i++) {
        expect((await resend(uniqueEmail('burst'), ip)).statusCode).toBe(202);
      }
      const limited = await resend(uniqueEmail('burst'), ip);
      const problem = expectProblem(limited, 429, 'rate_limited');
      const retryAfter = Number(limited.headers['retry-after']);
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(3600);
      expect(limited.headers['ratelimit-limit']).toBe('10');
      expect(limited.headers['ratelimit-remaining']).toBe('0');
      expect(Number(limited.headers['ratelimit-reset'])).toBe(retryAfter);
      expect(problem.retry_after).toBe(retryAfter);
      // Other clients are not affected.
      expect((await resend(uniqueEmail('burst'))).statusCode).toBe(202);
    });

    it('rejects an invalid email with 400', async () => {
      expectProblem(await resend('nope'), 400, 'validation_failed');
    });
  });
});

describe.each(dialects)('registration without email verification (%s)', (dialect) => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext(dialect, { env: { AUTH_REQUIRE_EMAIL_VERIFICATION: 'false' } });
  });
  afterAll(async () => {
    await ctx?.close();
  });

  it('answers 201 {user} and lets the user sign in at once; no email is sent', async () => {
    const email = uniqueEmail('instant');
    const res = await ctx.request({ method: 'POST', url: REGISTER, payload: { email, password: STRONG_PASSWORD, name: '  Grace  ' } });
    expect(res.statusCode).toBe(201);
    const { user } = res.json();
    expect(Object.keys(user).sort()).toEqual(['created_at', 'email', 'email_verified', 'has_password', 'id', 'name', 'profile', 'role'].sort());
    expect(user).toMatchObject({ email, name: 'Grace', email_verified: false, role: 'user', profile: {}, has_password: true });
    expect(user.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(res.body).not.toContain('argon2');

    const login = await ctx.request({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password: STRONG_PASSWORD } });
    expect(login.statusCode).toBe(200);
    expect(await mailsTo(ctx, email)).toHaveLength(0);
  });

  it('answers 409 email_taken for a taken email, in any letter case', async () => {
    const owner = await makeUser(ctx);
    expectProblem(
      await ctx.request({ method: 'POST', url: REGISTER, payload: { email: owner.email, password: STRONG_PASSWORD } }),
      409,
      'email_taken',
    );
    expectProblem(
      await ctx.request({ method: 'POST', url: REGISTER, payload: { email: owner.email.toUpperCase(), password: STRONG_PASSWORD } }),
      409,
      'email_taken',
    );
  });

  it('still refuses weak passwords with 422', async () => {
    expectProblem(
      await ctx.request({ method: 'POST', url: REGISTER, payload: { email: uniqueEmail(), password: 'short' } }),
      422,
      'weak_password',
    );
  });
});
