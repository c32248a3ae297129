/**
 * The end-to-end journey of issue 2 against a real `gatehouse serve` process listening on a
 * port, with a real SMTP server receiving its mail: register → verify from the emailed link →
 * log in → profile → log out → forgot → reset from the emailed link; plus the bearer flow.
 */
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../helpers/dialects.js';
import { STRONG_PASSWORD, uniqueEmail } from '../helpers/harness.js';
import { http, setCookie } from '../helpers/http-client.js';
import { freePort, killAllChildren, serverEnv, type ServerProcess, startServerProcess } from '../helpers/server-process.js';
import { type ReceivedMail, type SmtpSink, startSmtpSink } from '../helpers/smtp-sink.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

const NEW_PASSWORD = 'copper-meadow-thistle-77';
const COOKIE = 'gh_session';

/** The first `{publicUrl}{pathName}?token=…` link in an email's text, as a URL. */
function linkIn(mail: ReceivedMail, publicUrl: string, pathName: string): URL {
  const escaped = `${publicUrl}${pathName}`.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const match = new RegExp(`${escaped}\\?token=[A-Za-z0-9_%-]+`).exec(mail.text);
  if (!match) throw new Error(`no ${publicUrl}${pathName} link in "${mail.subject}":\n${mail.text}`);
  return new URL(match[0]);
}

describe.each(dialects)('end-to-end journey against a listening server (%s)', (dialect) => {
  let smtp: SmtpSink;
  let database: TestDatabase;
  let server: ServerProcess;
  let base: string;

  beforeAll(async () => {
    smtp = await startSmtpSink();
    database = await createTestDatabase(dialect);
    const port = await freePort();
    server = await startServerProcess({
      env: serverEnv({ port, dataDir: database.dataDir, databaseUrl: database.url, smtpUrl: smtp.url }),
    });
    base = server.url;
  });

  afterAll(async () => {
    try {
      if (server) {
        const exit = await server.stop();
        // A graceful stop, not a crash (checked here so that a failure still cleans up below).
        expect(exit).toEqual({ code: 0, signal: null });
      }
    } finally {
      await killAllChildren();
      await smtp?.stop();
      await database?.drop();
    }
  });

  it('register → verify by email → login → profile → logout → forgot → reset, and the bearer flow', async () => {
    const email = uniqueEmail('journey');
    const to = email.toLowerCase();
    const origin = base; // PUBLIC_URL

    // Register: 202, and a verification email arrives at the real SMTP server.
    const registered = await http(base, '/api/v1/auth/register', { json: { email, password: STRONG_PASSWORD, name: 'Ada' } });
    expect(registered.status).toBe(202);
    expect(registered.json.message).toEqual(expect.any(String));

    // Login refused until the email is verified.
    const unverified = await http(base, '/api/v1/auth/login', { json: { email, password: STRONG_PASSWORD }, origin });
    expect(unverified.status).toBe(403);
    expect(unverified.contentType).toMatch(/^application\/problem\+json/);
    expect(unverified.json.code).toBe('email_not_verified');
    expect(setCookie(unverified, COOKIE)).toBeUndefined();

    const verifyMail = await smtp.waitFor((m) => m.to === to && m.text.includes('/verify-email?token='));
    const verifyLink = linkIn(verifyMail, base, '/verify-email');
    expect(verifyMail.html).toContain(verifyLink.toString().replaceAll('&', '&amp;'));

    // Opening the link shows the web app's page but does not verify by itself (mail scanners prefetch links).
    const verifyPage = await http(base, `${verifyLink.pathname}${verifyLink.search}`);
    expect(verifyPage.status).toBe(200);
    expect(verifyPage.contentType).toMatch(/^text\/html/);
    expect(verifyPage.text).toContain('<div id="root"></div>');
    const stillUnverified = await http(base, '/api/v1/auth/login', { json: { email, password: STRONG_PASSWORD }, origin });
    expect(stillUnverified.status).toBe(403);
    expect(stillUnverified.json.code).toBe('email_not_verified');

    // The page's button POSTs the token from the link.
    const verifyToken = verifyLink.searchParams.get('token') ?? '';
    const verified = await http(base, '/api/v1/auth/verify-email', { json: { token: verifyToken } });
    expect(verified.status).toBe(204);
    expect(verified.text).toBe('');
    const verifiedAgain = await http(base, '/api/v1/auth/verify-email', { json: { token: verifyToken } });
    expect(verifiedAgain.status).toBe(400);
    expect(verifiedAgain.json.code).toBe('invalid_token');

    // Wrong password; no credentials.
    const wrong = await http(base, '/api/v1/auth/login', { json: { email, password: 'not-the-password-123' }, origin });
    expect(wrong.status).toBe(401);
    expect(wrong.json.code).toBe('invalid_credentials');
    const anonymous = await http(base, '/api/v1/users/me');
    expect(anonymous.status).toBe(401);
    expect(anonymous.contentType).toMatch(/^application\/problem\+json/);

    // Login with a cookie session.
    const login = await http(base, '/api/v1/auth/login', { json: { email: email.toUpperCase(), password: STRONG_PASSWORD }, origin });
    expect(login.status).toBe(200);
    expect(login.json).toMatchObject({
      user: { email, name: 'Ada', email_verified: true, role: 'user' },
      session: { id: expect.any(String), expires_at: expect.any(String) },
    });
    const sessionCookie = setCookie(login, COOKIE);
    expect(sessionCookie).toBeDefined();
    expect(sessionCookie?.attributes).toMatch(/HttpOnly/i);
    expect(sessionCookie?.attributes).toMatch(/SameSite=Lax/i);
    expect(sessionCookie?.attributes).not.toMatch(/Secure/i); // PUBLIC_URL is http
    const cookie = sessionCookie?.pair ?? '';

    // Profile, and an update (unsafe cookie request from PUBLIC_URL's origin).
    const me = await http(base, '/api/v1/users/me', { cookie });
    expect(me.status).toBe(200);
    expect(me.json).toMatchObject({ email, name: 'Ada', email_verified: true, role: 'user', profile: {} });
    const userId = me.json.id as string;
    expect(userId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/); // UUIDv7

    const forged = await http(base, '/api/v1/users/me', {
      method: 'PATCH',
      json: { name: 'Mallory' },
      cookie,
      origin: 'http://evil.example',
    });
    expect(forged.status).toBe(403);
    expect(forged.json.code).toBe('csrf_failed');

    const patched = await http(base, '/api/v1/users/me', {
      method: 'PATCH',
      json: { name: 'Ada Lovelace', profile: { locale: 'en-GB', theme: 'dark' } },
      cookie,
      origin,
    });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({ id: userId, name: 'Ada Lovelace', profile: { locale: 'en-GB', theme: 'dark' } });
    const reread = await http(base, '/api/v1/users/me', { cookie });
    expect(reread.json).toMatchObject({ name: 'Ada Lovelace', profile: { locale: 'en-GB', theme: 'dark' } });

    const sessions = await http(base, '/api/v1/auth/sessions', { cookie });
    expect(sessions.status).toBe(200);
    expect(sessions.json.items).toEqual([expect.objectContaining({ current: true, ip: '127.0.0.1' })]);

    // Bearer flow: password grant (form-encoded, as OAuth clients send it), JWKS, refresh rotation.
    const grant = await http(base, '/api/v1/auth/token', {
      form: { grant_type: 'password', username: email, password: STRONG_PASSWORD },
    });
    expect(grant.status).toBe(200);
    expect(grant.headers.get('cache-control')).toMatch(/no-store/);
    expect(grant.json).toMatchObject({ token_type: 'Bearer', expires_in: 900 });
    const access1 = grant.json.access_token as string;
    const refresh1 = grant.json.refresh_token as string;
    expect((await http(base, '/api/v1/users/me', { bearer: access1 })).json).toMatchObject({ id: userId, email });

    const header = decodeProtectedHeader(access1);
    expect(header.kid).toEqual(expect.any(String));
    expect(['EdDSA', 'ES256']).toContain(header.alg);
    const { payload } = await jwtVerify(access1, createRemoteJWKSet(new URL(`${base}/.well-known/jwks.json`)));
    expect(payload.sub).toBe(userId);
    expect(payload.sid).toEqual(expect.any(String));
    expect((payload.exp ?? 0) - Math.floor(Date.now() / 1000)).toBeGreaterThan(800);

    const refreshed = await http(base, '/api/v1/auth/token', { json: { grant_type: 'refresh_token', refresh_token: refresh1 } });
    expect(refreshed.status).toBe(200);
    const access2 = refreshed.json.access_token as string;
    const refresh2 = refreshed.json.refresh_token as string;
    expect(refresh2).not.toBe(refresh1);
    expect((await http(base, '/api/v1/users/me', { bearer: access2 })).status).toBe(200);

    // Re-using the rotated refresh token revokes the family: access and refresh tokens die at once.
    const reuse = await http(base, '/api/v1/auth/token', { json: { grant_type: 'refresh_token', refresh_token: refresh1 } });
    expect(reuse.status).toBe(400);
    expect(reuse.json.error).toBe('invalid_grant');
    expect((await http(base, '/api/v1/users/me', { bearer: access2 })).status).toBe(401);
    const afterReuse = await http(base, '/api/v1/auth/token', { json: { grant_type: 'refresh_token', refresh_token: refresh2 } });
    expect(afterReuse.status).toBe(400);
    expect(afterReuse.json.error).toBe('invalid_grant');
    // The browser session is a different family and lives on.
    expect((await http(base, '/api/v1/users/me', { cookie })).status).toBe(200);

    // Logout ends the cookie session.
    const logout = await http(base, '/api/v1/auth/logout', { method: 'POST', cookie, origin });
    expect(logout.status).toBe(204);
    expect(setCookie(logout, COOKIE)?.pair).toBe(`${COOKIE}=`);
    const afterLogout = await http(base, '/api/v1/users/me', { cookie });
    expect(afterLogout.status).toBe(401);
    expect(afterLogout.contentType).toMatch(/^application\/problem\+json/);

    // Credentials that the reset must revoke.
    const apiTokens = await http(base, '/api/v1/auth/token', {
      form: { grant_type: 'password', username: email, password: STRONG_PASSWORD },
    });
    expect(apiTokens.status).toBe(200);
    const otherLogin = await http(base, '/api/v1/auth/login', { json: { email, password: STRONG_PASSWORD }, origin });
    expect(otherLogin.status).toBe(200);
    const otherCookie = setCookie(otherLogin, COOKIE)?.pair ?? '';

    // Forgot → reset email → the page (a GET changes nothing) → POST the new password.
    const forgot = await http(base, '/api/v1/auth/password/forgot', { json: { email } });
    expect(forgot.status).toBe(202);
    const resetMail = await smtp.waitFor((m) => m.to === to && m.text.includes('/reset-password?token='));
    const resetLink = linkIn(resetMail, base, '/reset-password');
    const resetPage = await http(base, `${resetLink.pathname}${resetLink.search}`);
    expect(resetPage.status).toBe(200);
    expect(resetPage.contentType).toMatch(/^text\/html/);
    expect(resetPage.text).toContain('<div id="root"></div>');
    expect(resetPage.text).not.toContain(resetLink.searchParams.get('token'));
    expect((await http(base, '/api/v1/users/me', { cookie: otherCookie })).status).toBe(200);

    const resetToken = resetLink.searchParams.get('token') ?? '';
    const reset = await http(base, '/api/v1/auth/password/reset', { json: { token: resetToken, password: NEW_PASSWORD } });
    expect(reset.status).toBe(204);
    const resetAgain = await http(base, '/api/v1/auth/password/reset', {
      json: { token: resetToken, password: 'another-fresh-password-93' },
    });
    expect(resetAgain.status).toBe(400);
    expect(resetAgain.json.code).toBe('invalid_token');

    // The reset signed the user out everywhere: cookie sessions, access tokens and refresh tokens.
    expect((await http(base, '/api/v1/users/me', { cookie: otherCookie })).status).toBe(401);
    expect((await http(base, '/api/v1/users/me', { bearer: apiTokens.json.access_token as string })).status).toBe(401);
    const staleRefresh = await http(base, '/api/v1/auth/token', {
      json: { grant_type: 'refresh_token', refresh_token: apiTokens.json.refresh_token },
    });
    expect(staleRefresh.status).toBe(400);
    expect(staleRefresh.json.error).toBe('invalid_grant');

    // Old password fails, the new one works.
    const oldPassword = await http(base, '/api/v1/auth/login', { json: { email, password: STRONG_PASSWORD }, origin });
    expect(oldPassword.status).toBe(401);
    expect(oldPassword.json.code).toBe('invalid_credentials');
    const newPassword = await http(base, '/api/v1/auth/login', { json: { email, password: NEW_PASSWORD }, origin });
    expect(newPassword.status).toBe(200);
    const finalCookie = setCookie(newPassword, COOKIE)?.pair ?? '';
    expect((await http(base, '/api/v1/users/me', { cookie: finalCookie })).json).toMatchObject({ id: userId, name: 'Ada Lovelace' });

    // And the owner is told that the password changed.
    const notice = await smtp.waitFor((m) => m.to === to && /password was changed/i.test(m.subject));
    expect(notice.text).not.toContain(NEW_PASSWORD);
    // Nothing leaked a secret into the server's log.
    expect(server.output()).not.toContain(STRONG_PASSWORD);
    expect(server.output()).not.toContain(NEW_PASSWORD);
    expect(server.output()).not.toContain(resetToken);
  });
});
