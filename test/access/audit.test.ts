/**
 * The audit log (GET /api/v1/audit, audit:read) and login attempts
 * (GET /api/v1/audit/login-attempts): one account's whole life — register, verify, logins ok and
 * failed, logout, password change and reset, role change, group membership, ban and unban, API
 * key create and revoke, deletion — is recorded newest first with actor, target, IP, user agent
 * and details; filters (actor_id, target_id, action, since/until) and pagination work.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, STRONG_PASSWORD, type TestContext, tokenFromLatestMail, uniqueEmail } from '../helpers/harness.js';
import { expectProblem } from '../helpers/http-assertions.js';
import { ACCESS_ENV, call, type Headers, makeGroup, makePrincipals, type Principals } from './access-fixtures.js';

const AUDIT = '/api/v1/audit';
const ATTEMPTS = '/api/v1/audit/login-attempts';
const USER_IP = '203.0.113.10';
const USER_AGENT = 'AuditTest/1.0 (user)';
const ADMIN_IP = '198.51.100.20';
const ADMIN_AGENT = 'AuditTest/1.0 (admin)';
const NEW_PASSWORD = 'copper-meadow-whistle-81';
const FINAL_PASSWORD = 'granite-orchard-lantern-93';

interface AuditEntry {
  id: string;
  created_at: string;
  action: string;
  actor_id: string | null;
  target_type: string | null;
  target_id: string | null;
  ip: string | null;
  user_agent: string | null;
  details: Record<string, unknown>;
}

interface LoginAttempt {
  id: string;
  created_at: string;
  email: string;
  user_id: string | null;
  ip: string | null;
  outcome: string;
}

describe.each(dialects)('audit log and login attempts (%s)', (dialect) => {
  let ctx: TestContext;
  let admin: Principals;
  let adminH: Headers;
  const email = uniqueEmail('audited');
  let userId = '';
  let keyId = '';
  let sessionId = '';
  let groupName = '';
  /** Clock instants separating the user's own actions from the administrators'. */
  let adminPhaseAt = '';

  /** A request from the audited user's browser. */
  const asUser = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: Record<string, unknown>, headers: Headers = {}) =>
    ctx.request({ method, url, remoteAddress: USER_IP, headers: { 'user-agent': USER_AGENT, ...headers }, ...(payload ? { payload } : {}) });
  /** A request from the administrator's browser. */
  const asAdmin = (method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: Record<string, unknown>) =>
    ctx.request({ method, url, remoteAddress: ADMIN_IP, headers: { 'user-agent': ADMIN_AGENT, ...adminH }, ...(payload ? { payload } : {}) });
  const loginAsUser = (password: string) => asUser('POST', '/api/v1/auth/login', { email, password });
  const cookieOf = (res: Awaited<ReturnType<typeof loginAsUser>>): Headers => {
    const cookie = res.cookies.find((c) => c.name === ctx.config.auth.cookieName);
    expect(cookie, res.body).toBeDefined();
    return { cookie: `${cookie?.name}=${cookie?.value}` };
  };
  const audit = async (query: string): Promise<{ items: AuditEntry[]; next_cursor: string | null }> => {
    const res = await call(ctx, 'GET', `${AUDIT}?${query}`, adminH);
    expect(res.statusCode, res.body).toBe(200);
    return res.json();
  };
  const attempts = async (query: string): Promise<LoginAttempt[]> => {
    const res = await call(ctx, 'GET', `${ATTEMPTS}?${query}`, adminH);
    expect(res.statusCode, res.body).toBe(200);
    return res.json().items;
  };

  beforeAll(async () => {
    ctx = await createTestContext(dialect, { env: ACCESS_ENV });
    admin = await makePrincipals(ctx, { role: 'admin' });
    adminH = admin.cookie;

    // The user's own actions.
    expect((await asUser('POST', '/api/v1/auth/register', { email, password: STRONG_PASSWORD, name: 'Audited' })).statusCode).toBe(202);
    expectProblem(await loginAsUser(STRONG_PASSWORD), 403, 'email_not_verified');
    const verifyToken = await tokenFromLatestMail(ctx, email, '/verify-email');
    expect((await asUser('POST', '/api/v1/auth/verify-email', { token: verifyToken })).statusCode).toBe(204);
    const first = await loginAsUser(STRONG_PASSWORD);
    expect(first.statusCode).toBe(200);
    userId = first.json().user.id;
    sessionId = first.json().session.id;
    expectProblem(await loginAsUser('wrong-password-entirely-7'), 401, 'invalid_credentials');
    expect((await asUser('POST', '/api/v1/auth/logout', undefined, cookieOf(first))).statusCode).toBe(204);
    ctx.clock.advance(1);
    const second = cookieOf(await loginAsUser(STRONG_PASSWORD));
    const change = await asUser('POST', '/api/v1/auth/password/change', { current_password: STRONG_PASSWORD, new_password: NEW_PASSWORD }, second);
    expect(change.statusCode, change.body).toBe(204);
    expect((await asUser('POST', '/api/v1/auth/password/forgot', { email })).statusCode).toBe(202);
    const resetToken = await tokenFromLatestMail(ctx, email, '/reset-password');
    expect((await asUser('POST', '/api/v1/auth/password/reset', { token: resetToken, password: FINAL_PASSWORD })).statusCode).toBe(204);

    // The administrators' actions.
    ctx.clock.advance(60);
    adminPhaseAt = ctx.clock.now().toISOString();
    expect((await asAdmin('PATCH', `/api/v1/users/${userId}`, { role: 'worker' })).statusCode).toBe(200);
    groupName = (await makeGroup(ctx, adminH, { name: 'audited-group' })).name;
    expect((await asAdmin('PUT', `/api/v1/groups/${groupName}/members/${userId}`)).statusCode).toBe(204);
    expect((await asAdmin('POST', `/api/v1/users/${userId}/ban`, { duration_s: 600, reason: 'audit me' })).statusCode).toBe(200);
    expectProblem(await loginAsUser(FINAL_PASSWORD), 403, 'user_banned');
    expect((await asAdmin('POST', `/api/v1/users/${userId}/unban`)).statusCode).toBe(200);

    // Back to the user: a key made and revoked.
    ctx.clock.advance(60);
    const third = cookieOf(await loginAsUser(FINAL_PASSWORD));
    const key = await asUser('POST', '/api/v1/api-keys', { name: 'audited key', scopes: ['jobs:claim'], password: FINAL_PASSWORD }, third);
    expect(key.statusCode, key.body).toBe(201);
    keyId = key.json().key.id;
    expect((await asUser('DELETE', `/api/v1/api-keys/${keyId}`, undefined, third)).statusCode).toBe(204);

    ctx.clock.advance(60);
    expect((await asAdmin('DELETE', `/api/v1/users/${userId}`)).statusCode).toBe(204);
  });
  afterAll(async () => {
    await ctx?.close();
  });

  describe('GET /audit', () => {
    it("records every security event about the user, newest first", async () => {
      const { items } = await audit(`target_id=${userId}&limit=200`);
      expect(items.map((e) => e.action)).toEqual([
        'user.delete',
        'auth.login',
        'user.unban',
        'auth.login_failed',
        'user.ban',
        'user.groups_change',
        'user.role_change',
        'user.password_reset',
        'user.password_change',
        'auth.login',
        'auth.login_failed',
        'auth.login',
        'user.verify_email',
        'auth.login_failed',
        'user.register',
      ]);
      const times = items.map((e) => e.created_at);
      expect([...times].sort().reverse()).toEqual(times);
    });

    it('records actor, target, IP, user agent and details', async () => {
      const { items } = await audit(`target_id=${userId}&limit=200`);
      const find = (action: string) => items.find((e) => e.action === action);
      const byUser = { actor_id: userId, target_type: 'user', target_id: userId, ip: USER_IP, user_agent: USER_AGENT };
      const byAdmin = { actor_id: admin.user.id, target_type: 'user', target_id: userId, ip: ADMIN_IP, user_agent: ADMIN_AGENT };
      expect(find('user.register')).toMatchObject(byUser);
      expect(find('user.verify_email')).toMatchObject(byUser);
      expect(find('user.password_change')).toMatchObject(byUser);
      expect(find('user.password_reset')).toMatchObject(byUser);
      expect(items.filter((e) => e.action === 'auth.login').every((e) => e.ip === USER_IP && e.user_agent === USER_AGENT)).toBe(true);
      expect(items.filter((e) => e.action === 'auth.login_failed').map((e) => e.details.outcome)).toEqual([
        'user_banned',
        'invalid_credentials',
        'email_not_verified',
      ]);
      expect(find('auth.login_failed')?.details.email).toBe(email.toLowerCase());
      expect(find('user.role_change')).toMatchObject({ ...byAdmin, details: { from: 'user', to: 'worker' } });
      expect(find('user.groups_change')).toMatchObject({ ...byAdmin, details: { group: groupName, member: true } });
      expect(find('user.ban')).toMatchObject({ ...byAdmin, details: { reason: 'audit me', until: expect.any(String) } });
      expect(find('user.unban')).toMatchObject(byAdmin);
      expect(find('user.delete')).toMatchObject({ ...byAdmin, details: { email } });
      expect(find('user.role_change')?.created_at).toBe(adminPhaseAt);
    });

    it('records logout (target: the session) and API key create/revoke (target: the key)', async () => {
      const { items } = await audit(`actor_id=${userId}&limit=200`);
      const logout = items.find((e) => e.action === 'auth.logout');
      expect(logout).toMatchObject({ target_type: 'session', target_id: sessionId, ip: USER_IP, user_agent: USER_AGENT });
      const created = items.find((e) => e.action === 'api_key.create');
      expect(created).toMatchObject({ target_type: 'api_key', target_id: keyId, ip: USER_IP });
      expect(created?.details).toMatchObject({ user_id: userId, name: 'audited key', scopes: ['jobs:claim'], expires_at: null });
      expect(JSON.stringify(created)).not.toMatch(/gh_[a-z0-9]{8}_/);
      expect(items.find((e) => e.action === 'api_key.revoke')).toMatchObject({ target_type: 'api_key', target_id: keyId, details: { user_id: userId } });
      // Everything the user did, newest first, and nothing anyone else did.
      expect(items.every((e) => e.actor_id === userId)).toBe(true);
      expect(items.map((e) => e.action).slice(0, 3)).toEqual(['api_key.revoke', 'api_key.create', 'auth.login']);
    });

    it('filters by action, by actor, and by time (since inclusive, until exclusive)', async () => {
      const bans = (await audit('action=user.ban')).items;
      expect(bans.map((e) => e.target_id)).toEqual([userId]);
      expect((await audit(`action=user.ban&actor_id=${userId}`)).items).toEqual([]);
      expect((await audit(`action=group.create&actor_id=${admin.user.id}`)).items.map((e) => e.details.name)).toEqual([groupName]);

      const since = (await audit(`target_id=${userId}&since=${adminPhaseAt}`)).items.map((e) => e.action);
      expect(since).toEqual(['user.delete', 'auth.login', 'user.unban', 'auth.login_failed', 'user.ban', 'user.groups_change', 'user.role_change']);
      const until = (await audit(`target_id=${userId}&until=${adminPhaseAt}`)).items.map((e) => e.action);
      expect(until.at(0)).toBe('user.password_reset');
      expect(until).toHaveLength(8);
      const window = (await audit(`target_id=${userId}&since=${adminPhaseAt}&until=${new Date(Date.parse(adminPhaseAt) + 1).toISOString()}`)).items;
      expect(window.map((e) => e.action)).toEqual(['user.unban', 'auth.login_failed', 'user.ban', 'user.groups_change', 'user.role_change']);
      expect(window.every((e) => e.created_at === adminPhaseAt)).toBe(true);
      // Other time zones are the same instant.
      const offset = adminPhaseAt.replace('Z', '+00:00');
      expect((await audit(`target_id=${userId}&since=${encodeURIComponent(offset)}`)).items.map((e) => e.action)).toEqual(since);
    });

    it('pages newest first with limit / cursor / next_cursor', async () => {
      const all = (await audit(`target_id=${userId}&limit=200`)).items.map((e) => e.id);
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page: { items: AuditEntry[]; next_cursor: string | null } = await audit(`target_id=${userId}&limit=4${cursor ? `&cursor=${cursor}` : ''}`);
        seen.push(...page.items.map((e) => e.id));
        cursor = page.next_cursor;
        pages += 1;
      } while (cursor && pages < 10);
      expect(pages).toBe(4);
      expect(seen).toEqual(all);
    });

    const bad: Array<[string, string]> = [
      ['a malformed since', 'since=yesterday'],
      ['a malformed until', 'until=2024-13-45'],
      ['a malformed actor_id', 'actor_id=admin'],
      ['a bad cursor', 'cursor=abc'],
      ['limit 0', 'limit=0'],
      ['limit 1000', 'limit=1000'],
    ];
    it.each(bad)('rejects %s with 400', async (_label, query) => {
      expectProblem(await call(ctx, 'GET', `${AUDIT}?${query}`, adminH), 400, 'validation_failed');
    });
  });

  describe('GET /audit/login-attempts', () => {
    const outcomes = ['success', 'user_banned', 'success', 'invalid_credentials', 'success', 'email_not_verified'];

    it('lists one email\'s attempts with outcomes, newest first (email matched case-insensitively)', async () => {
      const items = await attempts(`email=${encodeURIComponent(email.toUpperCase())}`);
      expect(items.map((a) => a.outcome)).toEqual(outcomes);
      for (const item of items) {
        expect(Object.keys(item).sort()).toEqual(['created_at', 'email', 'id', 'ip', 'outcome', 'user_id']);
        expect(item).toMatchObject({ email: email.toLowerCase(), user_id: userId, ip: USER_IP });
      }
    });

    it('lists by user_id and by IP; an unknown email is recorded without a user', async () => {
      expect((await attempts(`user_id=${userId}`)).map((a) => a.outcome)).toEqual(outcomes);
      const stranger = uniqueEmail('nobody');
      const res = await ctx.request({ method: 'POST', url: '/api/v1/auth/login', remoteAddress: '192.0.2.55', payload: { email: stranger, password: 'whatever-password-1' } });
      expectProblem(res, 401, 'invalid_credentials');
      const byIp = await attempts('ip=192.0.2.55');
      expect(byIp).toEqual([{ id: expect.any(String), created_at: ctx.clock.now().toISOString(), email: stranger.toLowerCase(), user_id: null, ip: '192.0.2.55', outcome: 'invalid_credentials' }]);
      expect((await attempts(`ip=${USER_IP}`)).map((a) => a.outcome)).toEqual(outcomes);
      expect(await attempts('email=never-seen%40example.com')).toEqual([]);
    });

    it('pages with limit / cursor', async () => {
      const first = await call(ctx, 'GET', `${ATTEMPTS}?user_id=${userId}&limit=4`, adminH);
      const body = first.json<{ items: LoginAttempt[]; next_cursor: string }>();
      expect(body.items.map((a) => a.outcome)).toEqual(outcomes.slice(0, 4));
      const second = await call(ctx, 'GET', `${ATTEMPTS}?user_id=${userId}&limit=4&cursor=${body.next_cursor}`, adminH);
      expect(second.json()).toMatchObject({ next_cursor: null });
      expect(second.json().items.map((a: LoginAttempt) => a.outcome)).toEqual(outcomes.slice(4));
    });
  });

  describe('who may read it', () => {
    it('a plain user gets 403 and an anonymous caller 401; a group with audit:read is enough', async () => {
      const plain = await makePrincipals(ctx);
      for (const url of [AUDIT, ATTEMPTS]) {
        expectProblem(await call(ctx, 'GET', url), 401, 'authentication_required');
        for (const headers of [plain.cookie, plain.jwt, plain.apiKey]) {
          expect(expectProblem(await call(ctx, 'GET', url, headers), 403, 'forbidden').required_permission).toBe('audit:read');
        }
      }
      const auditors = await makeGroup(ctx, adminH, { name: 'auditors', permissions: ['audit:read'] });
      expect((await call(ctx, 'PUT', `/api/v1/groups/${auditors.id}/members/${plain.user.id}`, adminH)).statusCode).toBe(204);
      expect((await call(ctx, 'GET', `${AUDIT}?limit=1`, plain.cookie)).statusCode).toBe(200);
      expect((await call(ctx, 'GET', `${ATTEMPTS}?limit=1`, plain.jwt)).statusCode).toBe(200);
    });
  });
});
