/**
 * POST /api/v1/auth/login, /auth/logout, GET /auth/sessions, DELETE /auth/sessions/{id}: the
 * cookie and its flags, the error contract (no enumeration), sliding expiry on the manual clock,
 * transparent rehash, and the Origin-based CSRF defence for cookie sessions.
 */
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PasswordHasher } from '../../src/crypto/passwords.js';
import { dialects } from '../helpers/dialects.js';
import {
  createTestContext,
  loginCookie,
  makeUser,
  passwordGrant,
  PUBLIC_URL,
  STRONG_PASSWORD,
  type TestContext,
  uniqueEmail,
} from '../helpers/harness.js';
import { expectProblem, setCookie } from '../helpers/http-assertions.js';

const LOGIN = '/api/v1/auth/login';
const LOGOUT = '/api/v1/auth/logout';
const SESSIONS = '/api/v1/auth/sessions';
const ME = '/api/v1/users/me';
const DAY_SECONDS = 24 * 3600;
const SESSION_TTL_SECONDS = 30 * DAY_SECONDS;

describe.each(dialects)('login, logout and sessions (%s)', (dialect) => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext(dialect);
  });
  afterAll(async () => {
    await ctx?.close();
  });

  const login = (email: string, password: string, headers: Record<string, string> = {}) =>
    ctx.request({ method: 'POST', url: LOGIN, payload: { email, password }, headers });
  const me = (cookie: string) => ctx.request({ url: ME, headers: { cookie } });
  const sessionsOf = async (cookie: string) => {
    const res = await ctx.request({ url: SESSIONS, headers: { cookie } });
    expect(res.statusCode).toBe(200);
    return res.json().items as Array<Record<string, unknown>>;
  };

  describe('login', () => {
    it('answers 200 {user, session:{id, expires_at}} and sets an HttpOnly, SameSite=Lax, Path=/ cookie', async () => {
      const user = await makeUser(ctx, { name: 'Lin' });
      const res = await login(user.email, user.password);
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(Object.keys(body).sort()).toEqual(['session', 'user']);
      expect(body.user).toMatchObject({ id: user.id, email: user.email, name: 'Lin', email_verified: true, role: 'user' });
      expect(Object.keys(body.session).sort()).toEqual(['expires_at', 'id']);
      expect(Date.parse(body.session.expires_at)).toBe(ctx.clock.now().getTime() + SESSION_TTL_SECONDS * 1000);
      expect(res.body).not.toContain('argon2');

      const raw = setCookie(res, ctx.config.auth.cookieName) as string;
      expect(raw).toBeDefined();
      expect(raw).toMatch(/; HttpOnly/i);
      expect(raw).toMatch(/; SameSite=Lax/i);
      expect(raw).toMatch(/; Path=\//);
      expect(raw).not.toMatch(/; Secure/i);
      const cookie = res.cookies.find((c) => c.name === ctx.config.auth.cookieName);
      // The cookie carries a 256-bit secret, not the session id.
      expect(cookie?.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(cookie?.value).not.toBe(body.session.id);
      expect(new Date(cookie?.expires as Date).getTime()).toBe(Math.floor(Date.parse(body.session.expires_at) / 1000) * 1000);

      expect((await me(`${cookie?.name}=${cookie?.value}`)).json().id).toBe(user.id);
    });

    it('stores only a hash of the cookie secret', async () => {
      const user = await makeUser(ctx);
      const res = await login(user.email, user.password);
      const secret = res.cookies.find((c) => c.name === ctx.config.auth.cookieName)?.value as string;
      const row = await ctx.gatehouse.database.db
        .selectFrom('session')
        .selectAll()
        .where('id', '=', res.json().session.id)
        .executeTakeFirstOrThrow();
      expect(row.token_hash).toMatch(/^[0-9a-f]{64}$/);
      expect(JSON.stringify(row)).not.toContain(secret);
    });

    it('refuses a wrong password and an unknown email with the same 401 invalid_credentials body', async () => {
      const user = await makeUser(ctx);
      const wrong = await login(user.email, 'not-the-right-password-9');
      const unknown = await login(uniqueEmail('nobody'), 'not-the-right-password-9');
      const a = expectProblem(wrong, 401, 'invalid_credentials');
      const b = expectProblem(unknown, 401, 'invalid_credentials');
      const { instance: _a, ...restA } = a;
      const { instance: _b, ...restB } = b;
      expect(restA).toEqual(restB);
      expect(wrong.headers['set-cookie']).toBeUndefined();
      expect(unknown.headers['set-cookie']).toBeUndefined();
    });

    it('refuses an unverified account with 403 email_not_verified, but only with the right password', async () => {
      const email = uniqueEmail('unverified');
      await ctx.gatehouse.accounts.createUser({ email, password: STRONG_PASSWORD, verified: false });
      expectProblem(await login(email, STRONG_PASSWORD), 403, 'email_not_verified');
      expectProblem(await login(email, 'not-the-right-password-9'), 401, 'invalid_credentials');
    });

    it('refuses a deactivated account with 401', async () => {
      const user = await makeUser(ctx);
      const cookie = await loginCookie(ctx, user);
      const gone = await ctx.request({ method: 'DELETE', url: ME, headers: { cookie }, payload: { password: user.password } });
      expect(gone.statusCode).toBe(204);
      const res = await login(user.email, user.password);
      expect(res.statusCode).toBe(401);
      expectProblem(res, 401, 'account_deactivated');
      expectProblem(await login(user.email, 'not-the-right-password-9'), 401, 'invalid_credentials');
    });

    it('matches the email case-insensitively', async () => {
      const user = await makeUser(ctx);
      const res = await login(user.email.toUpperCase(), user.password);
      expect(res.statusCode).toBe(200);
      expect(res.json().user.id).toBe(user.id);
    });

    it('is case-sensitive about the password', async () => {
      const user = await makeUser(ctx);
      expectProblem(await login(user.email, user.password.toUpperCase()), 401, 'invalid_credentials');
    });

    it('upgrades a hash made with old argon2 parameters on the next successful login', async () => {
      const user = await makeUser(ctx);
      const old = new PasswordHasher({ memoryKib: 4096, iterations: 1, parallelism: 1 });
      const db = ctx.gatehouse.database.db;
      await db.updateTable('user').set({ password_hash: await old.hash(user.password) }).where('id', '=', user.id).execute();
      expectProblem(await login(user.email, 'not-the-right-password-9'), 401, 'invalid_credentials');
      let row = await db.selectFrom('user').select('password_hash').where('id', '=', user.id).executeTakeFirstOrThrow();
      expect(row.password_hash).toMatch(/^\$argon2id\$v=19\$m=4096,t=1,p=1\$/);

      expect((await login(user.email, user.password)).statusCode).toBe(200);
      row = await db.selectFrom('user').select('password_hash').where('id', '=', user.id).executeTakeFirstOrThrow();
      const { memoryKib, iterations, parallelism } = ctx.config.auth.argon2;
      expect(row.password_hash).toMatch(new RegExp(`^\\$argon2id\\$v=19\\$m=${memoryKib},t=${iterations},p=${parallelism}\\$`));
      expect((await login(user.email, user.password)).statusCode).toBe(200);
    });
  });

  describe('sessions', () => {
    it('lists the active sessions with `current` marking the caller’s', async () => {
      const user = await makeUser(ctx);
      const first = await loginCookie(ctx, user);
      const secondRes = await ctx.request({
        method: 'POST',
        url: LOGIN,
        payload: { email: user.email, password: user.password },
        headers: { 'user-agent': 'SecondBrowser/2.0' },
        remoteAddress: '203.0.113.9',
      });
      const secondId = secondRes.json().session.id as string;
      const items = await sessionsOf(first);
      expect(items).toHaveLength(2);
      for (const item of items) {
        expect(Object.keys(item).sort()).toEqual(['created_at', 'current', 'expires_at', 'id', 'ip', 'last_seen_at', 'user_agent']);
        expect(Number.isNaN(Date.parse(item.created_at as string))).toBe(false);
      }
      const current = items.filter((i) => i.current);
      expect(current).toHaveLength(1);
      expect(current[0]?.id).not.toBe(secondId);
      const second = items.find((i) => i.id === secondId);
      expect(second).toMatchObject({ current: false, ip: '203.0.113.9', user_agent: 'SecondBrowser/2.0' });
      expect(JSON.stringify(items)).not.toMatch(/token|hash/);
    });

    it('does not list other users’ sessions', async () => {
      const alice = await makeUser(ctx);
      const bob = await makeUser(ctx);
      const aliceCookie = await loginCookie(ctx, alice);
      const bobRes = await login(bob.email, bob.password);
      const ids = (await sessionsOf(aliceCookie)).map((i) => i.id);
      expect(ids).not.toContain(bobRes.json().session.id);
    });

    it('revokes one session (204); its cookie then gets 401 and it leaves the list', async () => {
      const user = await makeUser(ctx);
      const keep = await loginCookie(ctx, user);
      const victimRes = await login(user.email, user.password);
      const victimId = victimRes.json().session.id as string;
      const victim = `${ctx.config.auth.cookieName}=${victimRes.cookies.find((c) => c.name === ctx.config.auth.cookieName)?.value}`;
      expect((await me(victim)).statusCode).toBe(200);

      const res = await ctx.request({ method: 'DELETE', url: `${SESSIONS}/${victimId}`, headers: { cookie: keep } });
      expect(res.statusCode).toBe(204);
      expectProblem(await me(victim), 401, 'session_expired');
      expect((await me(keep)).statusCode).toBe(200);
      expect((await sessionsOf(keep)).map((i) => i.id)).not.toContain(victimId);
      // Already revoked: 404, as for a session that never existed.
      expectProblem(await ctx.request({ method: 'DELETE', url: `${SESSIONS}/${victimId}`, headers: { cookie: keep } }), 404, 'not_found');
    });

    it('revokes an API session by id, killing its access and refresh tokens', async () => {
      const user = await makeUser(ctx);
      const cookie = await loginCookie(ctx, user);
      const tokens = await passwordGrant(ctx, user);
      const apiSession = (await sessionsOf(cookie)).find((i) => !i.current);
      expect(apiSession).toBeDefined();
      expect((await ctx.request({ method: 'DELETE', url: `${SESSIONS}/${apiSession?.id}`, headers: { cookie } })).statusCode).toBe(204);
      expectProblem(await ctx.request({ url: ME, headers: { authorization: `Bearer ${tokens.access_token}` } }), 401, 'session_expired');
      const refresh = await ctx.request({
        method: 'POST',
        url: '/api/v1/auth/token',
        payload: { grant_type: 'refresh_token', refresh_token: tokens.refresh_token },
      });
      expect(refresh.statusCode).toBe(400);
      expect(refresh.json().error).toBe('invalid_grant');
    });

    it('answers 404 for another user’s session id, and that session keeps working', async () => {
      const alice = await makeUser(ctx);
      const bob = await makeUser(ctx);
      const aliceCookie = await loginCookie(ctx, alice);
      const bobRes = await login(bob.email, bob.password);
      const bobCookie = `${ctx.config.auth.cookieName}=${bobRes.cookies.find((c) => c.name === ctx.config.auth.cookieName)?.value}`;
      const res = await ctx.request({ method: 'DELETE', url: `${SESSIONS}/${bobRes.json().session.id}`, headers: { cookie: aliceCookie } });
      expectProblem(res, 404, 'not_found');
      expect((await me(bobCookie)).statusCode).toBe(200);
    });

    it('answers 404 for an unknown id and 400 for a malformed one', async () => {
      const cookie = await loginCookie(ctx, await makeUser(ctx));
      expectProblem(
        await ctx.request({ method: 'DELETE', url: `${SESSIONS}/0190a000-0000-7000-8000-000000000000`, headers: { cookie } }),
        404,
        'not_found',
      );
      expectProblem(await ctx.request({ method: 'DELETE', url: `${SESSIONS}/not-a-uuid`, headers: { cookie } }), 400, 'validation_failed');
    });

    it('requires authentication', async () => {
      const res = await ctx.request({ url: SESSIONS });
      expectProblem(res, 401, 'authentication_required');
      expect(res.headers['www-authenticate']).toBe('Bearer');
      expectProblem(
        await ctx.request({ method: 'DELETE', url: `${SESSIONS}/0190a000-0000-7000-8000-000000000000` }),
        401,
        'authentication_required',
      );
    });
  });

  describe('logout', () => {
    it('answers 204, clears the cookie, and the old cookie then gets 401', async () => {
      const user = await makeUser(ctx);
      const cookie = await loginCookie(ctx, user);
      const other = await loginCookie(ctx, user);
      const res = await ctx.request({ method: 'POST', url: LOGOUT, headers: { cookie } });
      expect(res.statusCode).toBe(204);
      const cleared = setCookie(res, ctx.config.auth.cookieName) as string;
      expect(cleared).toBeDefined();
      expect(cleared).toMatch(/Expires=Thu, 01 Jan 1970/i);
      expectProblem(await me(cookie), 401, 'session_expired');
      expectProblem(await ctx.request({ method: 'POST', url: LOGOUT, headers: { cookie } }), 401, 'session_expired');
      // Only that session ended.
      expect((await me(other)).statusCode).toBe(200);
    });

    it('requires credentials', async () => {
      expectProblem(await ctx.request({ method: 'POST', url: LOGOUT }), 401, 'authentication_required');
    });
  });

  describe('sliding expiry', () => {
    it('extends a session used after half its lifetime, and ends an unused one at its expiry', async () => {
      const user = await makeUser(ctx);
      const used = await loginCookie(ctx, user);
      const idle = await loginCookie(ctx, user);
      const [before] = (await sessionsOf(used)).filter((i) => i.current);
      const originalExpiry = Date.parse(before?.expires_at as string);

      // Early use does not move the expiry (written at most once per half-lifetime) nor re-send the cookie.
      ctx.clock.advance(DAY_SECONDS);
      expect(Date.parse((await sessionsOf(used)).find((i) => i.current)?.expires_at as string)).toBe(originalExpiry);
      expect(setCookie(await me(used), ctx.config.auth.cookieName)).toBeUndefined();

      // Past half its lifetime, a request slides the expiry and re-sends the cookie with it.
      ctx.clock.advance(SESSION_TTL_SECONDS / 2);
      const renewed = await me(used);
      expect(renewed.statusCode).toBe(200);
      const newExpiry = ctx.clock.now().getTime() + SESSION_TTL_SECONDS * 1000;
      const resent = setCookie(renewed, ctx.config.auth.cookieName) as string;
      expect(resent).toBeDefined();
      expect(resent.startsWith(`${used};`)).toBe(true);
      expect(resent).toMatch(/; HttpOnly/i);
      expect(resent).toMatch(/; SameSite=Lax/i);
      expect(resent).toMatch(/; Path=\//);
      expect(Date.parse(/Expires=([^;]+)/.exec(resent)?.[1] as string)).toBe(Math.floor(newExpiry / 1000) * 1000);
      const slid = (await sessionsOf(used)).find((i) => i.current);
      expect(Date.parse(slid?.expires_at as string)).toBe(newExpiry);
      expect(Date.parse(slid?.last_seen_at as string)).toBe(ctx.clock.now().getTime());

      // Past the original expiry: the idle session is gone, the used one lives on.
      ctx.clock.advance(SESSION_TTL_SECONDS / 2);
      expectProblem(await me(idle), 401, 'session_expired');
      expect((await me(used)).statusCode).toBe(200);

      // And nothing keeps a session alive past its TTL without use.
      ctx.clock.advance(SESSION_TTL_SECONDS + 1);
      expectProblem(await me(used), 401, 'session_expired');
    });
  });

  describe('CSRF (Origin check for cookie sessions)', () => {
    /** `app.inject` without the harness's automatic Origin header. */
    const inject = (opts: InjectOptions) => ctx.app.inject(opts);

    it('refuses a cookie-authenticated POST without Origin', async () => {
      const cookie = await loginCookie(ctx, await makeUser(ctx));
      expectProblem(await inject({ method: 'POST', url: LOGOUT, headers: { cookie } }), 403, 'csrf_failed');
      expect((await me(cookie)).statusCode).toBe(200);
    });

    const foreign = ['https://evil.example', 'http://gatehouse.test:8080', 'https://gatehouse.test', 'http://sub.gatehouse.test', 'null'];
    it.each(foreign)('refuses a cookie-authenticated POST from Origin %s', async (origin) => {
      const cookie = await loginCookie(ctx, await makeUser(ctx));
      expectProblem(await inject({ method: 'POST', url: LOGOUT, headers: { cookie, origin } }), 403, 'csrf_failed');
      expect((await me(cookie)).statusCode).toBe(200);
    });

    it('refuses cookie-authenticated PATCH and DELETE from a foreign origin', async () => {
      const user = await makeUser(ctx);
      const cookie = await loginCookie(ctx, user);
      const origin = 'https://evil.example';
      expectProblem(await inject({ method: 'PATCH', url: ME, headers: { cookie, origin }, payload: { name: 'pwned' } }), 403, 'csrf_failed');
      expectProblem(await inject({ method: 'DELETE', url: ME, headers: { cookie, origin }, payload: { password: user.password } }), 403, 'csrf_failed');
      expectProblem(
        await inject({ method: 'POST', url: '/api/v1/auth/password/change', headers: { cookie, origin }, payload: { current_password: user.password, new_password: 'brand-new-Passphrase-93' } }),
        403,
        'csrf_failed',
      );
      const after = await me(cookie);
      expect(after.statusCode).toBe(200);
      expect(after.json().name).not.toBe('pwned');
    });

    it('accepts the matching Origin, and a matching Referer when Origin is absent', async () => {
      const cookie = await loginCookie(ctx, await makeUser(ctx));
      const patched = await inject({ method: 'PATCH', url: ME, headers: { cookie, origin: PUBLIC_URL }, payload: { name: 'Origin ok' } });
      expect(patched.statusCode).toBe(200);
      const viaReferer = await inject({ method: 'PATCH', url: ME, headers: { cookie, referer: `${PUBLIC_URL}/settings` }, payload: { name: 'Referer ok' } });
      expect(viaReferer.statusCode).toBe(200);
      expectProblem(
        await inject({ method: 'PATCH', url: ME, headers: { cookie, referer: 'https://evil.example/x' }, payload: { name: 'no' } }),
        403,
        'csrf_failed',
      );
    });

    it('does not apply to safe methods', async () => {
      const cookie = await loginCookie(ctx, await makeUser(ctx));
      expect((await inject({ url: ME, headers: { cookie, origin: 'https://evil.example' } })).statusCode).toBe(200);
    });

    it('does not apply to bearer requests (no Origin needed, a foreign one is fine)', async () => {
      const user = await makeUser(ctx);
      const first = await passwordGrant(ctx, user);
      const patched = await inject({ method: 'PATCH', url: ME, headers: { authorization: `Bearer ${first.access_token}` }, payload: { name: 'API' } });
      expect(patched.statusCode).toBe(200);
      const out = await inject({
        method: 'POST',
        url: LOGOUT,
        headers: { authorization: `Bearer ${first.access_token}`, origin: 'https://evil.example' },
      });
      expect(out.statusCode).toBe(204);
    });

    it('refuses a login posted from a foreign Origin, and accepts one without Origin (API clients)', async () => {
      const user = await makeUser(ctx);
      const res = await inject({ method: 'POST', url: LOGIN, payload: { email: user.email, password: user.password }, headers: { origin: 'https://evil.example' } });
      expectProblem(res, 403, 'csrf_failed');
      expect(res.headers['set-cookie']).toBeUndefined();
      const plain = await inject({ method: 'POST', url: LOGIN, payload: { email: user.email, password: user.password } });
      expect(plain.statusCode).toBe(200);
    });
  });
});

describe.each(dialects)('session cookie with an https PUBLIC_URL (%s)', (dialect) => {
  let ctx: TestContext;
  const origin = 'https://accounts.example.org';
  beforeAll(async () => {
    ctx = await createTestContext(dialect, { env: { PUBLIC_URL: `${origin}/` } });
  });
  afterAll(async () => {
    await ctx?.close();
  });

  it('sets the Secure flag and checks Origin against the https origin', async () => {
    const user = await makeUser(ctx);
    const res = await ctx.request({ method: 'POST', url: LOGIN, payload: { email: user.email, password: user.password }, headers: { origin } });
    expect(res.statusCode).toBe(200);
    const raw = setCookie(res, ctx.config.auth.cookieName) as string;
    expect(raw).toMatch(/; Secure/i);
    expect(raw).toMatch(/; HttpOnly/i);
    expect(raw).toMatch(/; SameSite=Lax/i);
    const cookie = `${ctx.config.auth.cookieName}=${res.cookies.find((c) => c.name === ctx.config.auth.cookieName)?.value}`;
    expectProblem(await ctx.request({ method: 'POST', url: LOGOUT, headers: { cookie, origin: PUBLIC_URL } }), 403, 'csrf_failed');
    expect((await ctx.request({ method: 'POST', url: LOGOUT, headers: { cookie, origin } })).statusCode).toBe(204);
  });
});
