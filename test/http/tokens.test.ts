/**
 * POST /api/v1/auth/token (RFC 6749 password and refresh_token grants), the JWKS, and the life
 * of access and refresh tokens: verification with `jose` against the published keys, rotation
 * and reuse detection (family revocation), logout, expiry on the manual clock, deactivation and
 * password change, and forged tokens.
 */
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
import { expectOAuthError, expectProblem, mailsTo } from '../helpers/http-assertions.js';

const TOKEN = '/api/v1/auth/token';
const ME = '/api/v1/users/me';

describe.each(dialects)('token endpoint and API tokens (%s)', (dialect) => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext(dialect);
  });
  afterAll(async () => {
    await ctx?.close();
  });

  const tokenJson = (payload: Record<string, unknown>) => ctx.request({ method: 'POST', url: TOKEN, payload });
  const tokenForm = (fields: Record<string, string>) =>
    ctx.request({
      method: 'POST',
      url: TOKEN,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams(fields).toString(),
    });
  const refresh = (refreshToken: string) => tokenJson({ grant_type: 'refresh_token', refresh_token: refreshToken });
  const me = (accessToken: string) => ctx.request({ url: ME, headers: { authorization: `Bearer ${accessToken}` } });

  function expectTokenResponse(res: Awaited<ReturnType<typeof tokenJson>>): { access_token: string; refresh_token: string } {
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const body = res.json();
    expect(Object.keys(body).sort()).toEqual(['access_token', 'expires_in', 'refresh_token', 'token_type']);
    expect(body.token_type).toBe('Bearer');
    expect(body.expires_in).toBe(900);
    expect(body.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(body.access_token.split('.')).toHaveLength(3);
    return body;
  }

  describe('password grant', () => {
    it('issues tokens for a JSON request', async () => {
      const user = await makeUser(ctx);
      const body = expectTokenResponse(await tokenJson({ grant_type: 'password', username: user.email, password: user.password }));
      expect((await me(body.access_token)).json().id).toBe(user.id);
    });

    it('issues tokens for a form-encoded request (RFC 6749), username case-insensitive', async () => {
      const user = await makeUser(ctx);
      const body = expectTokenResponse(
        await tokenForm({ grant_type: 'password', username: user.email.toUpperCase(), password: user.password, scope: '' }),
      );
      expect((await me(body.access_token)).json().email).toBe(user.email);
    });

    it('issues an EdDSA JWT that verifies against /.well-known/jwks.json with kid, sub, sid and exp', async () => {
      const user = await makeUser(ctx);
      const { access_token } = await passwordGrant(ctx, user);
      const jwksRes = await ctx.request({ url: '/.well-known/jwks.json' });
      expect(jwksRes.statusCode).toBe(200);
      const jwks = jwksRes.json();
      expect(jwks.keys.length).toBeGreaterThan(0);
      for (const key of jwks.keys) {
        expect(key).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
        expect(key).not.toHaveProperty('d');
      }

      const header = decodeProtectedHeader(access_token);
      expect(header.alg).toBe('EdDSA');
      expect(jwks.keys.map((k: { kid: string }) => k.kid)).toContain(header.kid);
      const { payload } = await jwtVerify(access_token, createLocalJWKSet(jwks), {
        algorithms: ['EdDSA'],
        issuer: PUBLIC_URL,
        audience: PUBLIC_URL,
        currentDate: ctx.clock.now(),
      });
      expect(payload.sub).toBe(user.id);
      expect(typeof payload.sid).toBe('string');
      expect(payload.exp).toBe(Math.floor(ctx.clock.now().getTime() / 1000) + 900);
      expect((payload.exp as number) - (payload.iat as number)).toBe(900);

      // `sid` is the API session, visible in the session list as the current one.
      const sessions = await ctx.request({ url: '/api/v1/auth/sessions', headers: { authorization: `Bearer ${access_token}` } });
      expect(sessions.json().items.find((s: { current: boolean }) => s.current).id).toBe(payload.sid);
    });

    it('stores only hashes of refresh tokens', async () => {
      const user = await makeUser(ctx);
      const { refresh_token } = await passwordGrant(ctx, user);
      const rows = await ctx.gatehouse.database.db.selectFrom('refresh_token').selectAll().execute();
      expect(JSON.stringify(rows)).not.toContain(refresh_token);
    });

    const badCredentials: Array<[string, (email: string) => Record<string, string>]> = [
      ['wrong password', (email) => ({ grant_type: 'password', username: email, password: 'not-the-right-password-9' })],
      ['unknown user', () => ({ grant_type: 'password', username: uniqueEmail('ghost'), password: STRONG_PASSWORD })],
      ['username not an email', () => ({ grant_type: 'password', username: "admin' --", password: STRONG_PASSWORD })],
    ];
    it.each(badCredentials)('answers 400 invalid_grant for a %s', async (_name, fields) => {
      const user = await makeUser(ctx);
      const body = expectOAuthError(await tokenForm(fields(user.email)), 400, 'invalid_grant');
      expect(body).not.toHaveProperty('access_token');
    });

    it('answers invalid_grant for an unverified account', async () => {
      const email = uniqueEmail('unverified');
      await ctx.gatehouse.accounts.createUser({ email, password: STRONG_PASSWORD, verified: false });
      expectOAuthError(await tokenJson({ grant_type: 'password', username: email, password: STRONG_PASSWORD }), 400, 'invalid_grant');
    });

    const malformed: Array<[string, Record<string, string>, string]> = [
      ['an unsupported grant type', { grant_type: 'client_credentials' }, 'unsupported_grant_type'],
      ['an authorization_code grant without code_verifier', { grant_type: 'authorization_code', code: 'x' }, 'invalid_request'],
      ['an authorization_code grant with an unknown code', { grant_type: 'authorization_code', code: 'x', code_verifier: 'v'.repeat(43) }, 'invalid_grant'],
      ['no grant_type', { username: 'a@example.com', password: STRONG_PASSWORD }, 'invalid_request'],
      ['a password grant without password', { grant_type: 'password', username: 'a@example.com' }, 'invalid_request'],
      ['a password grant without username', { grant_type: 'password', password: STRONG_PASSWORD }, 'invalid_request'],
      ['a refresh grant without refresh_token', { grant_type: 'refresh_token' }, 'invalid_request'],
      ['an overlong refresh_token', { grant_type: 'refresh_token', refresh_token: 'a'.repeat(600) }, 'invalid_request'],
    ];
    it.each(malformed)('answers 400 %s', async (_name, fields, error) => {
      expectOAuthError(await tokenForm(fields), 400, error);
      expectOAuthError(await tokenJson(fields), 400, error);
    });

    it('answers 400 invalid_request for malformed JSON and wrong types', async () => {
      expectOAuthError(
        await ctx.request({ method: 'POST', url: TOKEN, headers: { 'content-type': 'application/json' }, payload: '{"grant_type":' }),
        400,
        'invalid_request',
      );
      expectOAuthError(await tokenJson({ grant_type: 'password', username: 42, password: true }), 400, 'invalid_request');
    });
  });

  describe('refresh grant and token families', () => {
    it('rotates: the new refresh token works, the old one is refused', async () => {
      const user = await makeUser(ctx);
      const first = await passwordGrant(ctx, user);
      const second = expectTokenResponse(await refresh(first.refresh_token));
      expect(second.refresh_token).not.toBe(first.refresh_token);
      expect((await me(second.access_token)).json().id).toBe(user.id);
      const third = expectTokenResponse(await refresh(second.refresh_token));
      expect((await me(third.access_token)).statusCode).toBe(200);
    });

    it('treats reuse of a rotated refresh token as theft and revokes the whole family', async () => {
      const user = await makeUser(ctx);
      const other = await passwordGrant(ctx, user); // a separate family of the same user
      const first = await passwordGrant(ctx, user);
      const second = expectTokenResponse(await refresh(first.refresh_token));
      const third = expectTokenResponse(await refresh(second.refresh_token));
      expect((await me(third.access_token)).statusCode).toBe(200);

      // The attacker replays the first refresh token.
      const replay = expectOAuthError(await refresh(first.refresh_token), 400, 'invalid_grant');
      expect(String(replay.error_description)).toMatch(/already used/i);

      // Every member of the family is dead: the newest refresh token and every access token.
      expectOAuthError(await refresh(third.refresh_token), 400, 'invalid_grant');
      const res = await me(third.access_token);
      expectProblem(res, 401, 'session_expired');
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      expectProblem(await me(first.access_token), 401, 'session_expired');
      expectProblem(await me(second.access_token), 401, 'session_expired');

      // Another family of the same user is untouched.
      expect((await me(other.access_token)).statusCode).toBe(200);
      expectTokenResponse(await refresh(other.refresh_token));
    });

    it('lets only one of two concurrent exchanges of the same refresh token succeed', async () => {
      const user = await makeUser(ctx);
      const tokens = await passwordGrant(ctx, user);
      const results = await Promise.all([refresh(tokens.refresh_token), refresh(tokens.refresh_token)]);
      const statuses = results.map((r) => r.statusCode).sort();
      expect(statuses).toContain(400);
      expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(1);
      for (const res of results) expect(res.statusCode).toBeLessThan(500);
    });

    it('refuses a bogus refresh token without touching anything', async () => {
      const user = await makeUser(ctx);
      const tokens = await passwordGrant(ctx, user);
      expectOAuthError(await refresh('A'.repeat(43)), 400, 'invalid_grant');
      expectOAuthError(await refresh("' OR 1=1 --"), 400, 'invalid_grant');
      expectOAuthError(await refresh(tokens.access_token), 400, 'invalid_grant');
      expectTokenResponse(await refresh(tokens.refresh_token));
    });

    it('refuses a refresh token once its session has expired', async () => {
      const user = await makeUser(ctx);
      const tokens = await passwordGrant(ctx, user);
      ctx.clock.advance(ctx.config.auth.sessionTtlSeconds + 1);
      expectOAuthError(await refresh(tokens.refresh_token), 400, 'invalid_grant');
    });

    it('keeps a session alive while its refresh token rotates', async () => {
      const user = await makeUser(ctx);
      let tokens = await passwordGrant(ctx, user);
      for (let i = 0; i < 3; i++) {
        ctx.clock.advance(ctx.config.auth.sessionTtlSeconds * 0.6);
        tokens = expectTokenResponse(await refresh(tokens.refresh_token)) as typeof tokens;
      }
      expect((await me(tokens.access_token)).statusCode).toBe(200);
    });
  });

  describe('access token life', () => {
    it('expires after 15 minutes', async () => {
      const user = await makeUser(ctx);
      const { access_token, refresh_token } = await passwordGrant(ctx, user);
      ctx.clock.advance(899);
      expect((await me(access_token)).statusCode).toBe(200);
      ctx.clock.advance(2);
      const res = await me(access_token);
      expectProblem(res, 401, 'session_expired');
      expect(res.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
      // The refresh token still gets a fresh one.
      const renewed = expectTokenResponse(await refresh(refresh_token));
      expect((await me(renewed.access_token)).statusCode).toBe(200);
    });

    it('dies at once on logout with the bearer token, with its refresh token', async () => {
      const user = await makeUser(ctx);
      const tokens = await passwordGrant(ctx, user);
      expect((await me(tokens.access_token)).statusCode).toBe(200);
      const out = await ctx.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: { authorization: `Bearer ${tokens.access_token}` } });
      expect(out.statusCode).toBe(204);
      expectProblem(await me(tokens.access_token), 401, 'session_expired');
      expectOAuthError(await refresh(tokens.refresh_token), 400, 'invalid_grant');
    });

    it('logout with a bearer token leaves the user’s other sessions alone', async () => {
      const user = await makeUser(ctx);
      const cookie = await loginCookie(ctx, user);
      const a = await passwordGrant(ctx, user);
      const b = await passwordGrant(ctx, user);
      await ctx.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: { authorization: `Bearer ${a.access_token}` } });
      expect((await me(b.access_token)).statusCode).toBe(200);
      expect((await ctx.request({ url: ME, headers: { cookie } })).statusCode).toBe(200);
    });

    it('stops working, with its refresh token, the moment the user deactivates the account', async () => {
      const user = await makeUser(ctx);
      const a = await passwordGrant(ctx, user);
      const b = await passwordGrant(ctx, user);
      expect((await me(a.access_token)).statusCode).toBe(200);
      expect((await me(b.access_token)).statusCode).toBe(200);
      const del = await ctx.request({
        method: 'DELETE',
        url: ME,
        headers: { authorization: `Bearer ${a.access_token}` },
        payload: { password: user.password },
      });
      expect(del.statusCode).toBe(204);
      expectProblem(await me(a.access_token), 401, 'session_expired');
      expectProblem(await me(b.access_token), 401, 'session_expired');
      expectOAuthError(await refresh(a.refresh_token), 400, 'invalid_grant');
      expectOAuthError(await refresh(b.refresh_token), 400, 'invalid_grant');
      expectOAuthError(await tokenJson({ grant_type: 'password', username: user.email, password: user.password }), 400, 'invalid_grant');
    });

    it('password change by bearer revokes other sessions and tokens but keeps the current ones', async () => {
      const user = await makeUser(ctx);
      const cookie = await loginCookie(ctx, user);
      const current = await passwordGrant(ctx, user);
      const other = await passwordGrant(ctx, user);
      const newPassword = 'fresh-Tangerine-orbit-58';
      const res = await ctx.app.inject({
        method: 'POST',
        url: '/api/v1/auth/password/change',
        headers: { authorization: `Bearer ${current.access_token}` },
        payload: { current_password: user.password, new_password: newPassword },
      });
      expect(res.statusCode).toBe(204);
      expect((await me(current.access_token)).statusCode).toBe(200);
      expectTokenResponse(await refresh(current.refresh_token));
      expectProblem(await me(other.access_token), 401, 'session_expired');
      expectOAuthError(await refresh(other.refresh_token), 400, 'invalid_grant');
      expectProblem(await ctx.request({ url: ME, headers: { cookie } }), 401, 'session_expired');
      expectOAuthError(await tokenJson({ grant_type: 'password', username: user.email, password: user.password }), 400, 'invalid_grant');
      expectTokenResponse(await tokenJson({ grant_type: 'password', username: user.email, password: newPassword }));
      expect(await mailsTo(ctx, user.email, /password was changed/i)).toHaveLength(1);
    });
  });

  describe('forged and malformed bearer tokens', () => {
    async function foreignToken(userId: string, sessionId: string, kid?: string): Promise<string> {
      const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
      const now = Math.floor(ctx.clock.now().getTime() / 1000);
      return new SignJWT({ sid: sessionId })
        .setProtectedHeader({ alg: 'EdDSA', ...(kid ? { kid } : {}) })
        .setIssuer(PUBLIC_URL)
        .setAudience(PUBLIC_URL)
        .setSubject(userId)
        .setIssuedAt(now)
        .setExpirationTime(now + 900)
        .sign(privateKey);
    }

    it('refuses every kind of bad token with 401, never 500', async () => {
      const user = await makeUser(ctx);
      const victim = await makeUser(ctx);
      const real = await passwordGrant(ctx, user);
      const victimTokens = await passwordGrant(ctx, victim);
      const claims = decodeJwt(real.access_token);
      const { kid } = decodeProtectedHeader(real.access_token);
      const [h, p, s] = real.access_token.split('.') as [string, string, string];
      const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
      const victimSid = decodeJwt(victimTokens.access_token).sid as string;

      const { publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
      const jwk = await exportJWK(publicKey);
      const hmacWithPublicKey = await new SignJWT({ sid: claims.sid })
        .setProtectedHeader({ alg: 'HS256', kid })
        .setSubject(user.id)
        .setIssuer(PUBLIC_URL)
        .setAudience(PUBLIC_URL)
        .setExpirationTime('15m')
        .sign(new TextEncoder().encode(JSON.stringify(jwk)));

      const cases: Array<[string, string]> = [
        ['garbage', 'garbage'],
        ['three garbage parts', 'a.b.c'],
        ['empty payload', `${h}..${s}`],
        ['payload swapped to another user', `${h}.${b64({ ...claims, sub: victim.id, sid: victimSid })}.${s}`],
        ['signature cut off', `${h}.${p}.`],
        ['signature of another token', `${h}.${p}.${victimTokens.access_token.split('.')[2]}`],
        ['alg none', `${b64({ alg: 'none', typ: 'JWT' })}.${p}.`],
        ['HS256 with a public key as secret', hmacWithPublicKey],
        ['signed by another key with our kid', await foreignToken(user.id, claims.sid as string, kid)],
        ['signed by another key without kid', await foreignToken(user.id, claims.sid as string)],
        ['a refresh token used as access token', real.refresh_token],
        ['5 000 characters', 'A'.repeat(5000)],
        ['JSON in the header part', `${b64({ alg: 'EdDSA', kid, crit: ['x'] })}.${p}.${s}`],
      ];
      for (const [name, token] of cases) {
        const res = await me(token);
        expect(res.statusCode, name).toBe(401);
        expectProblem(res, 401, 'session_expired');
      }
      // The real tokens still work.
      expect((await me(real.access_token)).statusCode).toBe(200);
      expect((await me(victimTokens.access_token)).json().id).toBe(victim.id);
    });

    it('refuses a correctly signed token whose session does not exist or belongs to someone else', async () => {
      const user = await makeUser(ctx);
      const victim = await makeUser(ctx);
      const victimTokens = await passwordGrant(ctx, victim);
      const victimSid = decodeJwt(victimTokens.access_token).sid as string;
      const noSession = await ctx.gatehouse.accessTokens.issue(user.id, '0190a000-0000-7000-8000-000000000000');
      const crossed = await ctx.gatehouse.accessTokens.issue(user.id, victimSid);
      expectProblem(await me(noSession), 401, 'session_expired');
      expectProblem(await me(crossed), 401, 'session_expired');
    });

    const headers: Array<[string, string]> = [
      ['Bearer without a token', 'Bearer'],
      ['Bearer with a space only', 'Bearer '],
      ['Basic credentials', `Basic ${Buffer.from(`a@example.com:${STRONG_PASSWORD}`).toString('base64')}`],
      ['two tokens', 'Bearer a.b.c d.e.f'],
      ['non-ASCII', 'Bearer tökén'],
    ];
    it.each(headers)('refuses an Authorization header with %s (401, WWW-Authenticate)', async (_name, authorization) => {
      const res = await ctx.request({ url: ME, headers: { authorization } });
      expect(res.statusCode).toBe(401);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    });

    it('does not fall back to a valid cookie when an invalid bearer token is sent', async () => {
      const cookie = await loginCookie(ctx, await makeUser(ctx));
      const res = await ctx.request({ url: ME, headers: { cookie, authorization: 'Bearer not-a-token' } });
      expectProblem(res, 401, 'session_expired');
    });
  });
});
