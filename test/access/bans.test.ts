/**
 * Bans: POST /api/v1/users/{id}/ban {duration_s | until, reason} revokes every session, access
 * token, refresh token and API key of the user on the very next request; login is refused with
 * 403 `user_banned`; the user is emailed; a timed ban lifts itself, POST …/unban lifts it early
 * (and emails); the input rules (until in the past, banning yourself, unbanning someone who is
 * not banned).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, loginCookie, makeApiKey, passwordGrant, type TestContext } from '../helpers/harness.js';
import { expectOAuthError, expectProblem, mailsTo, waitForMail } from '../helpers/http-assertions.js';
import { ACCESS_ENV, allStatuses, bearer, call, type Headers, login, makePrincipals, type Principals, refreshGrant, statusesOf } from './access-fixtures.js';

const ME = '/api/v1/users/me';
const BANNED_SUBJECT = /suspended/i;
const UNBANNED_SUBJECT = /active again/i;

describe.each(dialects)('bans (%s)', (dialect) => {
  let ctx: TestContext;
  let admin: Principals;
  let adminH: Headers = {};

  beforeAll(async () => {
    ctx = await createTestContext(dialect, { env: ACCESS_ENV });
    admin = await makePrincipals(ctx, { role: 'admin' });
    adminH = admin.cookie;
  });
  afterAll(async () => {
    await ctx?.close();
  });

  const ban = (userId: string, body: Record<string, unknown>, as: Headers = adminH) => call(ctx, 'POST', `/api/v1/users/${userId}/ban`, as, body);
  const unban = (userId: string, as: Headers = adminH) => call(ctx, 'POST', `/api/v1/users/${userId}/unban`, as);

  it('revokes every session, access token, refresh token and API key on the very next request', async () => {
    const target = await makePrincipals(ctx);
    const second = await makeApiKey(ctx, target.cookie, { scopes: ['account:self'], expires_in: 86_400 });
    // Warm the caches: these credentials are now served from memory.
    expect(await statusesOf(ctx, target, ME)).toEqual(allStatuses(200));
    expect(await statusesOf(ctx, target, ME)).toEqual(allStatuses(200));

    const res = await ban(target.user.id, { duration_s: 3600, reason: 'Spamming the forum' });
    expect(res.statusCode, res.body).toBe(200);
    const until = new Date(ctx.clock.now().getTime() + 3600_000).toISOString();
    expect(res.json()).toMatchObject({ id: target.user.id, banned_until: until, ban_reason: 'Spamming the forum', status: 'active' });

    for (const [label, headers] of [['cookie', target.cookie], ['jwt', target.jwt], ['api key', target.apiKey], ['second key', second.headers]] as const) {
      const denied = await call(ctx, 'GET', ME, headers);
      expect(denied.statusCode, `${label}: ${denied.body}`).toBe(401);
      expectProblem(denied, 401, label.includes('key') ? 'invalid_api_key' : 'session_expired');
    }
    expectProblem(await call(ctx, 'PATCH', ME, target.cookie, { name: 'x' }), 401, 'session_expired');
    expectProblem(await call(ctx, 'POST', '/api/v1/api-keys', target.jwt, { name: 'x', scopes: ['account:self'] }), 401, 'session_expired');
    expectOAuthError(await refreshGrant(ctx, target.refreshToken), 400, 'invalid_grant');

    // The admin view and the list show the ban.
    const view = await call(ctx, 'GET', `/api/v1/users/${target.user.id}`, adminH);
    expect(view.json()).toMatchObject({ banned_until: until, ban_reason: 'Spamming the forum' });
    const keys = await call(ctx, 'GET', `/api/v1/api-keys?user_id=${target.user.id}&include_revoked=true`, adminH);
    expect(keys.json().items.every((k: { revoked_at: string | null }) => k.revoked_at !== null)).toBe(true);
  });

  it('refuses login and the password grant while banned (403 user_banned with banned_until), and emails the user', async () => {
    const target = await makePrincipals(ctx);
    const res = await ban(target.user.id, { duration_s: 600, reason: 'Chargeback fraud' });
    const until = res.json().banned_until as string;

    const refused = expectProblem(await login(ctx, target.user), 403, 'user_banned');
    expect(refused.banned_until).toBe(until);
    expect(refused.detail).toContain(until);
    expect(JSON.stringify(refused)).not.toContain('Chargeback');
    const grant = await ctx.request({ method: 'POST', url: '/api/v1/auth/token', payload: { grant_type: 'password', username: target.user.email, password: target.user.password } });
    expectOAuthError(grant, 400, 'invalid_grant');
    // A wrong password is still just invalid credentials: the ban is revealed only to the owner.
    expectProblem(await login(ctx, { email: target.user.email, password: 'not-the-password-99' }), 401, 'invalid_credentials');

    const mail = await waitForMail(ctx, target.user.email, BANNED_SUBJECT);
    expect(mail.text).toContain('Chargeback fraud');
    expect(mail.text).toContain(until);
    expect(mail.text).toMatch(/API keys were revoked/);
  });

  it('a timed ban lifts itself: after it ends login works again, old credentials stay revoked', async () => {
    const target = await makePrincipals(ctx);
    expect((await ban(target.user.id, { duration_s: 120 })).statusCode).toBe(200);
    ctx.clock.advance(119);
    expectProblem(await login(ctx, target.user), 403, 'user_banned');
    ctx.clock.advance(1);
    const res = await login(ctx, target.user);
    expect(res.statusCode, res.body).toBe(200);
    const cookie = { cookie: await loginCookie(ctx, target.user) };
    expect((await call(ctx, 'GET', ME, cookie)).statusCode).toBe(200);
    const { access_token } = await passwordGrant(ctx, target.user);
    expect((await call(ctx, 'GET', ME, bearer(access_token))).statusCode).toBe(200);
    // Keys revoked by the ban stay revoked; the user makes new ones.
    expectProblem(await call(ctx, 'GET', ME, target.apiKey), 401, 'invalid_api_key');
    const fresh = await makeApiKey(ctx, cookie, { scopes: ['account:self'] });
    expect((await call(ctx, 'GET', ME, fresh.headers)).statusCode).toBe(200);
    // An ended ban cannot be lifted.
    expectProblem(await unban(target.user.id), 409, 'conflict');
  });

  it('bans until a given time', async () => {
    const target = await makePrincipals(ctx);
    const until = new Date(ctx.clock.now().getTime() + 2 * 86_400_000);
    const res = await ban(target.user.id, { until: until.toISOString(), reason: 'Cooling off' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().banned_until).toBe(until.toISOString());
    expect(await statusesOf(ctx, target, ME)).toEqual(allStatuses(401));
    ctx.clock.advance(2 * 86_400 - 1);
    expectProblem(await login(ctx, target.user), 403, 'user_banned');
    ctx.clock.advance(1);
    expect((await login(ctx, target.user)).statusCode).toBe(200);
  });

  it('without duration_s or until the ban is indefinite', async () => {
    const target = await makePrincipals(ctx);
    const res = await ban(target.user.id, { reason: 'Until further notice' });
    expect(res.statusCode, res.body).toBe(200);
    expect(Date.parse(res.json().banned_until)).toBeGreaterThan(ctx.clock.now().getTime() + 100 * 365 * 86_400_000);
    expect(await statusesOf(ctx, target, ME)).toEqual(allStatuses(401));
    const mail = await waitForMail(ctx, target.user.email, BANNED_SUBJECT);
    expect(mail.text).toMatch(/until further notice/);
  });

  it('unban lifts a ban early and emails the user; unbanning someone not banned is 409', async () => {
    const target = await makePrincipals(ctx);
    expectProblem(await unban(target.user.id), 409, 'conflict');
    expect((await ban(target.user.id, { duration_s: 86_400, reason: 'Mistake' })).statusCode).toBe(200);
    expectProblem(await login(ctx, target.user), 403, 'user_banned');

    const res = await unban(target.user.id);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ banned_until: null, ban_reason: null });
    const again = await login(ctx, target.user);
    expect(again.statusCode, again.body).toBe(200);
    expectProblem(await unban(target.user.id), 409, 'conflict');

    const mail = await waitForMail(ctx, target.user.email, UNBANNED_SUBJECT);
    expect(mail.text).toMatch(/lifted/);
    expect(await mailsTo(ctx, target.user.email, BANNED_SUBJECT)).toHaveLength(1);
    expect(await mailsTo(ctx, target.user.email, UNBANNED_SUBJECT)).toHaveLength(1);
  });

  it('banning a banned user again moves the end and revokes anything issued since', async () => {
    const target = await makePrincipals(ctx);
    expect((await ban(target.user.id, { duration_s: 60 })).statusCode).toBe(200);
    const longer = await ban(target.user.id, { duration_s: 7200, reason: 'Repeat' });
    expect(longer.statusCode).toBe(200);
    expect(longer.json().banned_until).toBe(new Date(ctx.clock.now().getTime() + 7200_000).toISOString());
    ctx.clock.advance(61);
    expectProblem(await login(ctx, target.user), 403, 'user_banned');
  });

  it('rejects until in the past or now, a zero duration, and a malformed time (400, nothing changes)', async () => {
    const target = await makePrincipals(ctx);
    const now = ctx.clock.now().getTime();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ until: new Date(now - 1000).toISOString() }, '/until'],
      [{ until: new Date(now).toISOString() }, '/until'],
      [{ until: 'next tuesday' }, '/until'],
      [{ duration_s: 0 }, '/duration_s'],
      [{ duration_s: -60 }, '/duration_s'],
      [{ duration_s: 1.5 }, '/duration_s'],
      [{ duration_s: '3600' }, '/duration_s'],
      [{ reason: 'r'.repeat(501) }, '/reason'],
    ];
    for (const [body, field] of cases) {
      const problem = expectProblem(await ban(target.user.id, body), 400, 'validation_failed');
      expect(problem.errors?.map((e) => e.field), JSON.stringify(body)).toContain(field);
    }
    expect(await statusesOf(ctx, target, ME)).toEqual(allStatuses(200));
    expect((await call(ctx, 'GET', `/api/v1/users/${target.user.id}`, adminH)).json().banned_until).toBeNull();
    expect(await mailsTo(ctx, target.user.email, BANNED_SUBJECT)).toEqual([]);
  });

  it('an administrator cannot ban themselves (403); unknown users are 404', async () => {
    expectProblem(await ban(admin.user.id, { duration_s: 60 }), 403, 'forbidden');
    expect((await call(ctx, 'GET', ME, adminH)).statusCode).toBe(200);
    expectProblem(await ban(randomUUID(), { duration_s: 60 }), 404, 'not_found');
    expectProblem(await unban(randomUUID()), 404, 'not_found');
  });

  it('a banned administrator loses admin access at once', async () => {
    const other = await makePrincipals(ctx, { role: 'admin' });
    expect(await statusesOf(ctx, other, '/api/v1/users?limit=1')).toEqual(allStatuses(200));
    expect((await ban(other.user.id, { duration_s: 60 })).statusCode).toBe(200);
    expect(await statusesOf(ctx, other, '/api/v1/users?limit=1')).toEqual(allStatuses(401));
    // …and cannot use a key to lift their own ban.
    expectProblem(await unban(other.user.id, other.apiKey), 401, 'invalid_api_key');
  });
});
