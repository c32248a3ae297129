/**
 * API keys as credentials that must not outlive a compromise: `POST /api/v1/api-keys` asks for
 * the password unless a browser session signed in within the last 5 minutes (access tokens and
 * API keys always send it); a password reset revokes every key, a password change does unless
 * told not to, and the user is told by email; a bad key answers `401 invalid_api_key`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FRESH_SIGN_IN_SECONDS } from '../../src/auth/auth.service.js';
import { dialects } from '../helpers/dialects.js';
import {
  createTestContext,
  loginCookie,
  makeApiKey,
  makeUser,
  passwordGrant,
  STRONG_PASSWORD,
  type TestContext,
  tokenFromLatestMail,
} from '../helpers/harness.js';
import { expectProblem, mailsTo, waitForMail } from '../helpers/http-assertions.js';
import { ACCESS_ENV, bearer, call, type Headers } from './access-fixtures.js';

const KEYS = '/api/v1/api-keys';
const ME = '/api/v1/users/me';
const REVOKED_SUBJECT = /Your API keys were revoked/;
const NEW_PASSWORD = 'copper-meadow-signal-58';

describe.each(dialects)('API keys need re-authentication and die with the password (%s)', (dialect) => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext(dialect, { env: ACCESS_ENV });
  });
  afterAll(async () => {
    await ctx?.close();
  });

  const create = (as: Headers, extra: Record<string, unknown> = {}) => call(ctx, 'POST', KEYS, as, { name: 'k', scopes: ['account:self'], ...extra });

  it('a browser session signed in within 5 minutes may omit the password; later it must send the right one', async () => {
    const user = await makeUser(ctx);
    const cookie = { cookie: await loginCookie(ctx, user) };
    expect((await create(cookie)).statusCode).toBe(201);
    ctx.clock.advance(FRESH_SIGN_IN_SECONDS + 1);
    const missing = expectProblem(await create(cookie), 403, 'reauthentication_required');
    expect(missing.errors?.map((e) => e.field)).toEqual(['/password']);
    expectProblem(await create(cookie, { password: 'not-my-password-at-all-1' }), 403, 'reauthentication_required');
    expect((await create(cookie, { password: STRONG_PASSWORD })).statusCode).toBe(201);
    // The session itself is still fine: only key creation asked again.
    expect((await call(ctx, 'GET', ME, cookie)).statusCode).toBe(200);
  });

  it('an access token or an API key must always send the password, however fresh', async () => {
    const user = await makeUser(ctx);
    const jwt = bearer((await passwordGrant(ctx, user)).access_token);
    expectProblem(await create(jwt), 403, 'reauthentication_required');
    expectProblem(await create(jwt, { password: 'wrong-password-entirely-2' }), 403, 'reauthentication_required');
    expect((await create(jwt, { password: STRONG_PASSWORD })).statusCode).toBe(201);

    const key = await makeApiKey(ctx, jwt, { scopes: ['account:self'] });
    expectProblem(await create(key.headers), 403, 'reauthentication_required');
    expect((await create(key.headers, { password: STRONG_PASSWORD })).statusCode).toBe(201);
  });

  it('a password reset revokes every key at once and tells the user by email', async () => {
    const user = await makeUser(ctx, { name: 'Resetter' });
    const cookie = { cookie: await loginCookie(ctx, user) };
    const keys = [await makeApiKey(ctx, cookie, { scopes: ['account:self'] }), await makeApiKey(ctx, cookie, { scopes: ['account:self'] })];
    for (const key of keys) expect((await call(ctx, 'GET', ME, key.headers)).statusCode).toBe(200);

    expect((await call(ctx, 'POST', '/api/v1/auth/password/forgot', {}, { email: user.email })).statusCode).toBe(202);
    const token = await tokenFromLatestMail(ctx, user.email, '/reset-password');
    expect((await call(ctx, 'POST', '/api/v1/auth/password/reset', {}, { token, password: NEW_PASSWORD })).statusCode).toBe(204);

    for (const key of keys) expectProblem(await call(ctx, 'GET', ME, key.headers), 401, 'invalid_api_key');
    const listed = (await call(ctx, 'GET', `${KEYS}?include_revoked=true`, { cookie: await loginCookie(ctx, { ...user, password: NEW_PASSWORD }) })).json();
    expect(listed.items.map((k: { revoked_at: string | null }) => k.revoked_at)).toEqual([expect.any(String), expect.any(String)]);

    await ctx.flushMail();
    const notice = await waitForMail(ctx, user.email, REVOKED_SUBJECT);
    expect(notice.text).toContain('Hello Resetter,');
    expect(notice.text).toContain('was reset');
    expect(notice.text).toContain('2 API keys were revoked');
  });

  it('a password change revokes every key by default (with a notice); revoke_api_keys: false keeps them', async () => {
    const user = await makeUser(ctx);
    const cookie = { cookie: await loginCookie(ctx, user) };
    const doomed = await makeApiKey(ctx, cookie, { scopes: ['account:self'] });
    const change = (current: string, next: string, extra: Record<string, unknown> = {}) =>
      call(ctx, 'POST', '/api/v1/auth/password/change', cookie, { current_password: current, new_password: next, ...extra });

    expect((await change(STRONG_PASSWORD, NEW_PASSWORD)).statusCode).toBe(204);
    expectProblem(await call(ctx, 'GET', ME, doomed.headers), 401, 'invalid_api_key');
    await ctx.flushMail();
    const notice = await waitForMail(ctx, user.email, REVOKED_SUBJECT);
    expect(notice.text).toContain('was changed');
    expect(notice.text).toContain('1 API key was revoked');
    // The session that changed the password stays.
    expect((await call(ctx, 'GET', ME, cookie)).statusCode).toBe(200);

    const kept = await makeApiKey(ctx, cookie, { scopes: ['account:self'], password: NEW_PASSWORD });
    expect((await change(NEW_PASSWORD, STRONG_PASSWORD, { revoke_api_keys: false })).statusCode).toBe(204);
    expect((await call(ctx, 'GET', ME, kept.headers)).statusCode).toBe(200);
    await ctx.flushMail();
    expect(await mailsTo(ctx, user.email, REVOKED_SUBJECT)).toHaveLength(1);
  });

  it('a bad API key answers 401 invalid_api_key (a bad access token still answers session_expired)', async () => {
    const user = await makeUser(ctx);
    const key = await makeApiKey(ctx, { cookie: await loginCookie(ctx, user) }, { scopes: ['account:self'] });
    for (const secret of [`gh_abcdefgh_${'A'.repeat(43)}`, 'gh_short', `${key.secret.slice(0, -1)}x`]) {
      const res = expectProblem(await call(ctx, 'GET', ME, bearer(secret)), 401, 'invalid_api_key');
      expect(res.detail).toMatch(/API key/);
    }
    expect((await call(ctx, 'DELETE', `${KEYS}/${key.id}`, key.headers)).statusCode).toBe(204);
    expectProblem(await call(ctx, 'GET', ME, key.headers), 401, 'invalid_api_key');
    expectProblem(await call(ctx, 'GET', ME, bearer('not.a.jwt')), 401, 'session_expired');
  });
});
