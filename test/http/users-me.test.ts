/**
 * GET, PATCH and DELETE /api/v1/users/me: the exact user view, profile rules, and
 * self-deactivation revoking every credential at once (with the password, behind the login
 * lockout, or without it from a fresh browser sign-in); GET /users/me/export ("download my data").
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROFILE_MAX_BYTES } from '../../src/accounts/accounts.service.js';
import { FRESH_SIGN_IN_SECONDS } from '../../src/auth/auth.service.js';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, loginCookie, makeApiKey, makeUser, passwordGrant, type TestContext } from '../helpers/harness.js';
import { expectProblem, mailsTo, nextIp, type Scenario, runScenario, setCookie, waitForMail } from '../helpers/http-assertions.js';

const ME = '/api/v1/users/me';
const USER_FIELDS = ['created_at', 'email', 'email_verified', 'has_password', 'id', 'name', 'profile', 'role'];

describe.each(dialects)('/users/me (%s)', (dialect) => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext(dialect);
  });
  afterAll(async () => {
    await ctx?.close();
  });

  describe('GET', () => {
    it('returns exactly {id, email, name, email_verified, role, profile, created_at, has_password}, with cookie or bearer', async () => {
      const user = await makeUser(ctx, { name: 'Ines', role: 'admin' });
      const cookie = await loginCookie(ctx, user);
      const { access_token } = await passwordGrant(ctx, user);
      const viaCookie = await ctx.request({ url: ME, headers: { cookie } });
      const viaBearer = await ctx.request({ url: ME, headers: { authorization: `Bearer ${access_token}` } });
      for (const res of [viaCookie, viaBearer]) {
        expect(res.statusCode).toBe(200);
        expect(res.headers['content-type']).toMatch(/^application\/json/);
        const body = res.json();
        expect(Object.keys(body).sort()).toEqual(USER_FIELDS);
        expect(body).toEqual({
          id: user.id,
          email: user.email,
          name: 'Ines',
          email_verified: true,
          role: 'admin',
          profile: {},
          created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
          has_password: true,
        });
        expect(res.body.replace('"has_password"', '')).not.toMatch(/argon2|password|hash|status|updated_at/);
      }
    });

    it('answers 401 problem+json with WWW-Authenticate without credentials', async () => {
      const res = await ctx.request({ url: ME });
      expectProblem(res, 401, 'authentication_required');
      expect(res.headers['www-authenticate']).toBe('Bearer');
    });

    it('answers 401 for an unknown cookie', async () => {
      expectProblem(
        await ctx.request({ url: ME, headers: { cookie: `${ctx.config.auth.cookieName}=${'A'.repeat(43)}` } }),
        401,
        'session_expired',
      );
    });
  });

  describe('PATCH', () => {
    it('updates the name and the profile (replaced whole) and returns the user', async () => {
      const user = await makeUser(ctx);
      const cookie = await loginCookie(ctx, user);
      const patch = (payload: object) => ctx.request({ method: 'PATCH', url: ME, headers: { cookie }, payload });

      const named = await patch({ name: '  Zoë Ünïcode  ' });
      expect(named.statusCode).toBe(200);
      expect(Object.keys(named.json()).sort()).toEqual(USER_FIELDS);
      expect(named.json()).toMatchObject({ id: user.id, name: 'Zoë Ünïcode', profile: {} });

      const profile = { bio: 'Hi', links: ['https://example.org'], nested: { level: 2, on: true, none: null } };
      const first = await patch({ profile });
      expect(first.statusCode).toBe(200);
      expect(first.json()).toMatchObject({ name: 'Zoë Ünïcode', profile });

      const replaced = await patch({ profile: { theme: 'dark' } });
      expect(replaced.json().profile).toEqual({ theme: 'dark' });

      // Persisted: a fresh read (and another credential) sees the same.
      const { access_token } = await passwordGrant(ctx, user);
      const read = await ctx.request({ url: ME, headers: { authorization: `Bearer ${access_token}` } });
      expect(read.json()).toMatchObject({ name: 'Zoë Ünïcode', profile: { theme: 'dark' } });

      // An empty patch changes nothing.
      const noop = await patch({});
      expect(noop.statusCode).toBe(200);
      expect(noop.json()).toMatchObject({ name: 'Zoë Ünïcode', profile: { theme: 'dark' } });
    });

    it('accepts a profile just under the size limit', async () => {
      const cookie = await loginCookie(ctx, await makeUser(ctx));
      const filler = 'x'.repeat(PROFILE_MAX_BYTES - JSON.stringify({ bio: '' }).length);
      const res = await ctx.request({ method: 'PATCH', url: ME, headers: { cookie }, payload: { profile: { bio: filler } } });
      expect(res.statusCode).toBe(200);
      expect(res.json().profile.bio).toHaveLength(filler.length);
    });

    const json = { 'content-type': 'application/json' };
    const invalid: Scenario[] = [
      { name: 'profile is an array', request: { method: 'PATCH', url: ME, payload: { profile: [1, 2] } }, status: 400, code: 'validation_failed', fields: ['/profile'] },
      { name: 'profile is a string', request: { method: 'PATCH', url: ME, payload: { profile: '{"a":1}' } }, status: 400, code: 'validation_failed', fields: ['/profile'] },
      { name: 'profile is null', request: { method: 'PATCH', url: ME, payload: { profile: null } }, status: 400, code: 'validation_failed', fields: ['/profile'] },
      { name: 'profile is a number', request: { method: 'PATCH', url: ME, payload: { profile: 7 } }, status: 400, code: 'validation_failed', fields: ['/profile'] },
      { name: 'profile over 16 KiB', request: { method: 'PATCH', url: ME, payload: { profile: { bio: 'x'.repeat(PROFILE_MAX_BYTES) } } }, status: 400, code: 'validation_failed', fields: ['/profile'] },
      { name: 'profile over 16 KiB in multi-byte characters', request: { method: 'PATCH', url: ME, payload: { profile: { bio: '€'.repeat(6000) } } }, status: 400, code: 'validation_failed', fields: ['/profile'] },
      { name: 'profile nested 8 000 levels deep', request: { method: 'PATCH', url: ME, headers: json, payload: `{"profile":{"a":${'['.repeat(8000)}${']'.repeat(8000)}}}` }, status: 400, code: 'validation_failed', fields: ['/profile'] },
      { name: 'profile nested 20 000 levels deep (over the size limit too)', request: { method: 'PATCH', url: ME, headers: json, payload: `{"profile":${'{"a":'.repeat(20000)}1${'}'.repeat(20000)}}` }, status: 400, code: 'validation_failed', fields: ['/profile'] },
      { name: 'name is not a string', request: { method: 'PATCH', url: ME, payload: { name: ['a'] } }, status: 400, code: 'validation_failed', fields: ['/name'] },
      { name: 'name over 200 characters', request: { method: 'PATCH', url: ME, payload: { name: 'n'.repeat(201) } }, status: 400, code: 'validation_failed', fields: ['/name'] },
      { name: 'body is an array', request: { method: 'PATCH', url: ME, headers: json, payload: '[]' }, status: 400, code: 'validation_failed' },
    ];
    let sharedCookie = '';
    beforeAll(async () => {
      sharedCookie = await loginCookie(ctx, await makeUser(ctx, { name: 'Unchanged' }));
    });
    it.each(invalid.map((s) => [s.name, s] as const))('rejects %s with 400 and changes nothing', async (_name, scenario) => {
      const headers = { ...(scenario.request.headers as Record<string, string>), cookie: sharedCookie };
      await runScenario(ctx, { ...scenario, request: { ...scenario.request, headers } });
      const after = await ctx.request({ url: ME, headers: { cookie: sharedCookie } });
      expect(after.json()).toMatchObject({ name: 'Unchanged', profile: {} });
    });

    it('stores a deeply nested profile that fits the limit, on every dialect', async () => {
      const cookie = await loginCookie(ctx, await makeUser(ctx));
      const payload = `{"profile":{"a":${'['.repeat(1000)}${']'.repeat(1000)}}}`;
      const res = await ctx.request({ method: 'PATCH', url: ME, headers: { ...json, cookie }, payload });
      expect(res.statusCode).toBe(200);
      const read = await ctx.request({ url: ME, headers: { cookie } });
      expect(JSON.stringify(read.json().profile)).toBe(`{"a":${'['.repeat(1000)}${']'.repeat(1000)}}`);
    });

    it('requires authentication', async () => {
      expectProblem(await ctx.request({ method: 'PATCH', url: ME, payload: { name: 'x' } }), 401, 'authentication_required');
    });
  });

  describe('GET /users/me/export', () => {
    it('sends the user\'s own data as a JSON attachment, without secrets and without other users\' data', async () => {
      const user = await makeUser(ctx, { name: 'Exporter' });
      const other = await makeUser(ctx);
      const cookie = await loginCookie(ctx, user);
      await ctx.request({ method: 'PATCH', url: ME, headers: { cookie }, payload: { profile: { bio: 'Here' } } });
      const key = await makeApiKey(ctx, { cookie }, { scopes: ['account:self'], name: 'laptop' });
      const revoked = await makeApiKey(ctx, { cookie }, { scopes: ['account:self'], name: 'old' });
      await ctx.request({ method: 'DELETE', url: `/api/v1/api-keys/${revoked.id}`, headers: { cookie } });
      await loginCookie(ctx, other);

      const res = await ctx.request({ url: `${ME}/export`, headers: { cookie } });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.headers['content-disposition']).toMatch(/^attachment; filename="account-export-\d{4}-\d\d-\d\d\.json"$/);
      expect(res.headers['cache-control']).toBe('no-store');
      const body = res.json();
      expect(body).toMatchObject({
        format: 'gatehouse.account-export/1',
        user: { id: user.id, email: user.email, name: 'Exporter', profile: { bio: 'Here' } },
        identities: [],
        passkeys: [],
        two_factor: { totp_enabled: false, recovery_codes_remaining: 0, passkeys: 0 },
      });
      expect(body.sessions).toHaveLength(1);
      expect(body.sessions[0]).toMatchObject({ current: true });
      expect(body.api_keys.map((k: { name: string }) => k.name).sort()).toEqual(['laptop', 'old']);
      expect(body.api_keys.find((k: { name: string }) => k.name === 'old').revoked_at).not.toBeNull();
      const actions = body.activity.map((a: { action: string }) => a.action);
      expect(actions).toEqual(expect.arrayContaining(['api_key.create', 'api_key.revoke']));
      expect(body.activity.every((a: { actor_id: string }) => a.actor_id === user.id)).toBe(true);
      // No secrets, nothing of the other user.
      expect(res.body).not.toContain(key.secret.slice(-20));
      expect(res.body).not.toMatch(/argon2|password_hash|secret_hash|token_hash/);
      expect(res.body).not.toContain(other.id);
      expect(res.body).not.toContain(other.email);

      // The same through an API key (no current session).
      const viaKey = await ctx.request({ url: `${ME}/export`, headers: key.headers });
      expect(viaKey.statusCode).toBe(200);
      expect(viaKey.json().sessions.every((s: { current: boolean }) => !s.current)).toBe(true);
    });

    it('requires authentication', async () => {
      expectProblem(await ctx.request({ url: `${ME}/export` }), 401, 'authentication_required');
    });
  });

  describe('DELETE', () => {
    it('refuses a wrong password with 400 and keeps the account', async () => {
      const user = await makeUser(ctx);
      const cookie = await loginCookie(ctx, user);
      expectProblem(
        await ctx.request({ method: 'DELETE', url: ME, headers: { cookie }, payload: { password: 'not-the-right-password-9' } }),
        400,
        'invalid_current_password',
      );
      expect((await ctx.request({ url: ME, headers: { cookie } })).statusCode).toBe(200);
      expect(await mailsTo(ctx, user.email, /deactivated/i)).toHaveLength(0);
    });

    it('counts wrong passwords towards the sign-in lockout: 429 while locked, even for the right password', async () => {
      const user = await makeUser(ctx);
      const cookie = await loginCookie(ctx, user);
      const ip = nextIp();
      const remove = (password: string) => ctx.request({ method: 'DELETE', url: ME, headers: { cookie }, remoteAddress: ip, payload: { password } });
      // LOGIN_MAX_CONSECUTIVE_FAILURES (5) are free; the 6th failure locks the (email, IP) pair.
      for (let i = 0; i < 6; i++) expectProblem(await remove('not-the-right-password-9'), 400, 'invalid_current_password');
      const locked = await remove(user.password);
      expectProblem(locked, 429, 'rate_limited');
      expect(locked.headers['retry-after']).toBe('60');
      // The same lock as sign-in's.
      expectProblem(await ctx.request({ method: 'POST', url: '/api/v1/auth/login', remoteAddress: ip, payload: { email: user.email, password: user.password } }), 429, 'rate_limited');
      expect((await ctx.request({ url: ME, headers: { cookie } })).statusCode).toBe(200);
      expect(await mailsTo(ctx, user.email, /deactivated/i)).toHaveLength(0);
    });

    it('without a password: 403 reauthentication_required for an older browser sign-in, an access token or an API key; 204 within 5 minutes of signing in', async () => {
      const user = await makeUser(ctx);
      const stale = await loginCookie(ctx, user);
      const { access_token } = await passwordGrant(ctx, user);
      const key = await makeApiKey(ctx, { cookie: stale }, { scopes: ['account:self'] });
      ctx.clock.advance(FRESH_SIGN_IN_SECONDS + 1);
      for (const headers of [{ cookie: stale }, { authorization: `Bearer ${access_token}` }, key.headers]) {
        const problem = expectProblem(await ctx.request({ method: 'DELETE', url: ME, headers, payload: {} }), 403, 'reauthentication_required');
        expect(problem.errors?.map((e) => e.field)).toEqual(['/password']);
      }
      // A fresh access token is no fresh sign-in either: only a browser session's age stands in for the password.
      const fresh = await passwordGrant(ctx, user);
      expectProblem(await ctx.request({ method: 'DELETE', url: ME, headers: { authorization: `Bearer ${fresh.access_token}` }, payload: {} }), 403, 'reauthentication_required');
      expect((await ctx.request({ url: ME, headers: { cookie: stale } })).statusCode).toBe(200);
      expect(await mailsTo(ctx, user.email, /deactivated/i)).toHaveLength(0);

      const cookie = await loginCookie(ctx, user);
      ctx.clock.advance(FRESH_SIGN_IN_SECONDS);
      // No body at all is the same as `{}`.
      const res = await ctx.request({ method: 'DELETE', url: ME, headers: { cookie } });
      expect(res.statusCode).toBe(204);
      expect(setCookie(res, ctx.config.auth.cookieName)).toMatch(/Expires=Thu, 01 Jan 1970/i);
      for (const headers of [{ cookie }, { cookie: stale }, { authorization: `Bearer ${fresh.access_token}` }]) {
        expectProblem(await ctx.request({ url: ME, headers }), 401, 'session_expired');
      }
      expect((await ctx.request({ url: ME, headers: key.headers })).statusCode).toBe(401);
      await waitForMail(ctx, user.email, /deactivated/i);
    });

    it('deactivates with the right password (204): every credential gets 401, login 401, a notice is emailed', async () => {
      const user = await makeUser(ctx, { name: 'Bo' });
      const cookie = await loginCookie(ctx, user);
      const otherCookie = await loginCookie(ctx, user);
      const tokens = await passwordGrant(ctx, user);

      const res = await ctx.request({ method: 'DELETE', url: ME, headers: { cookie }, payload: { password: user.password } });
      expect(res.statusCode).toBe(204);
      expect(res.body).toBe('');
      expect(setCookie(res, ctx.config.auth.cookieName)).toMatch(/Expires=Thu, 01 Jan 1970/i);

      expectProblem(await ctx.request({ url: ME, headers: { cookie } }), 401, 'session_expired');
      expectProblem(await ctx.request({ url: ME, headers: { cookie: otherCookie } }), 401, 'session_expired');
      expectProblem(await ctx.request({ url: ME, headers: { authorization: `Bearer ${tokens.access_token}` } }), 401, 'session_expired');
      const refreshed = await ctx.request({
        method: 'POST',
        url: '/api/v1/auth/token',
        payload: { grant_type: 'refresh_token', refresh_token: tokens.refresh_token },
      });
      expect(refreshed.statusCode).toBe(400);
      expect(refreshed.json().error).toBe('invalid_grant');
      expectProblem(
        await ctx.request({ method: 'POST', url: '/api/v1/auth/login', payload: { email: user.email, password: user.password } }),
        401,
        'account_deactivated',
      );

      const notice = await waitForMail(ctx, user.email, /deactivated/i);
      expect(notice.text).toContain('Hello Bo,');
      expect(notice.html).toContain('Your account was deactivated');

      // A deactivated account gets no reset link either.
      await ctx.request({ method: 'POST', url: '/api/v1/auth/password/forgot', payload: { email: user.email }, remoteAddress: nextIp() });
      expect(await mailsTo(ctx, user.email, /reset your password/i)).toHaveLength(0);
    });

    it('deactivates by bearer token without an Origin header', async () => {
      const user = await makeUser(ctx);
      const { access_token } = await passwordGrant(ctx, user);
      const res = await ctx.app.inject({ method: 'DELETE', url: ME, headers: { authorization: `Bearer ${access_token}` }, payload: { password: user.password } });
      expect(res.statusCode).toBe(204);
      expectProblem(await ctx.request({ url: ME, headers: { authorization: `Bearer ${access_token}` } }), 401, 'session_expired');
    });

    it('requires authentication', async () => {
      expectProblem(await ctx.request({ method: 'DELETE', url: ME, payload: { password: 'whatever-it-is-1' } }), 401, 'authentication_required');
    });
  });
});
