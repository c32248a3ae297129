/**
 * Bad input, as one scenario table run on every dialect: malformed JSON, wrong types, missing
 * fields, oversize bodies, wrong content types, NUL characters, SQL metacharacters, overlong
 * tokens, unknown routes. Each answer is a 4xx RFC 9457 problem document (the token endpoint
 * answers RFC 6749 §5.2 JSON), never a stack trace, never a 500; afterwards the database is intact.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, loginCookie, makeUser, STRONG_PASSWORD, type TestContext, uniqueEmail } from '../helpers/harness.js';
import { expectOAuthError, expectProblem, nextIp, runScenario, type Scenario } from '../helpers/http-assertions.js';

const json = { 'content-type': 'application/json' };
const form = { 'content-type': 'application/x-www-form-urlencoded' };
const REGISTER = '/api/v1/auth/register';
const LOGIN = '/api/v1/auth/login';
const VERIFY = '/api/v1/auth/verify-email';
const RESET = '/api/v1/auth/password/reset';
const CHANGE = '/api/v1/auth/password/change';
const ME = '/api/v1/users/me';
const TOKEN = '/api/v1/auth/token';
const BODY_LIMIT = 262_144;
const creds = { email: 'someone@example.com', password: STRONG_PASSWORD };
const huge = 'x'.repeat(BODY_LIMIT + 1024);

/** A scenario, optionally sent with the session cookie of a signed-in user. */
type Case = Scenario & { signedIn?: boolean };

const cases: Case[] = [
  // Malformed JSON
  { name: 'truncated JSON', request: { method: 'POST', url: REGISTER, headers: json, payload: '{"email":"a@example.com",' }, status: 400, code: 'malformed_json' },
  { name: 'single-quoted JSON', request: { method: 'POST', url: LOGIN, headers: json, payload: "{'email': 'a@example.com'}" }, status: 400, code: 'malformed_json' },
  { name: 'trailing garbage after JSON', request: { method: 'POST', url: LOGIN, headers: json, payload: '{}x' }, status: 400, code: 'malformed_json' },
  { name: 'empty body declared as JSON', request: { method: 'POST', url: LOGIN, headers: json, payload: '' }, status: 400, code: 'malformed_json' },
  { name: 'malformed JSON on an authenticated route', signedIn: true, request: { method: 'PATCH', url: ME, headers: json, payload: '{"name":' }, status: 400, code: 'malformed_json' },
  { name: '__proto__ key (prototype poisoning)', request: { method: 'POST', url: LOGIN, headers: json, payload: '{"__proto__":{"admin":true},"email":"a@example.com","password":"x"}' }, status: 400, code: 'malformed_json' },
  { name: 'constructor.prototype key', request: { method: 'POST', url: REGISTER, headers: json, payload: '{"constructor":{"prototype":{"admin":true}},"email":"a@example.com","password":"x"}' }, status: 400, code: 'malformed_json' },

  // Wrong types and missing fields
  { name: 'numbers for email and password', request: { method: 'POST', url: REGISTER, payload: { email: 12345, password: 12345678901 } }, status: 400, code: 'validation_failed', fields: ['/email', '/password'] },
  { name: 'boolean and object for login', request: { method: 'POST', url: LOGIN, payload: { email: true, password: { a: 1 } } }, status: 400, code: 'validation_failed', fields: ['/email', '/password'] },
  { name: 'array for email', request: { method: 'POST', url: LOGIN, payload: { email: ['a@example.com'], password: 'x' } }, status: 400, code: 'validation_failed', fields: ['/email'] },
  { name: 'null for email', request: { method: 'POST', url: '/api/v1/auth/password/forgot', payload: { email: null } }, status: 400, code: 'validation_failed', fields: ['/email'] },
  { name: 'number too large for JSON doubles', request: { method: 'POST', url: LOGIN, headers: json, payload: '{"email":1e999,"password":"x"}' }, status: 400, code: 'validation_failed', fields: ['/email'] },
  { name: 'number for token', request: { method: 'POST', url: VERIFY, payload: { token: 42 } }, status: 400, code: 'validation_failed', fields: ['/token'] },
  { name: 'numbers for reset fields', request: { method: 'POST', url: RESET, payload: { token: 1, password: 2 } }, status: 400, code: 'validation_failed', fields: ['/token', '/password'] },
  { name: 'body null', request: { method: 'POST', url: LOGIN, headers: json, payload: 'null' }, status: 400, code: 'validation_failed' },
  { name: 'body a bare string', request: { method: 'POST', url: LOGIN, headers: json, payload: '"a@example.com"' }, status: 400, code: 'validation_failed' },
  { name: 'body an array', request: { method: 'POST', url: REGISTER, headers: json, payload: '[{"email":"a@example.com"}]' }, status: 400, code: 'validation_failed' },
  { name: 'no body at all', request: { method: 'POST', url: LOGIN }, status: 400, code: 'validation_failed' },
  { name: 'login without fields', request: { method: 'POST', url: LOGIN, payload: {} }, status: 400, code: 'validation_failed', fields: ['/email', '/password'] },
  { name: 'reset without fields', request: { method: 'POST', url: RESET, payload: {} }, status: 400, code: 'validation_failed', fields: ['/token', '/password'] },
  { name: 'resend without email', request: { method: 'POST', url: '/api/v1/auth/verify-email/resend', payload: {} }, status: 400, code: 'validation_failed', fields: ['/email'] },
  { name: 'change without fields', signedIn: true, request: { method: 'POST', url: CHANGE, payload: {} }, status: 400, code: 'validation_failed', fields: ['/current_password', '/new_password'] },
  { name: 'email with unicode', request: { method: 'POST', url: REGISTER, payload: { email: 'jürgen@exämple.com', password: STRONG_PASSWORD } }, status: 400, code: 'validation_failed', fields: ['/email'] },
  { name: 'email with CRLF (header injection)', request: { method: 'POST', url: '/api/v1/auth/password/forgot', payload: { email: 'a@example.com\r\nBcc: victim@example.com' } }, status: 400, code: 'validation_failed', fields: ['/email'] },
  { name: 'login password over 256 characters', request: { method: 'POST', url: LOGIN, payload: { email: 'a@example.com', password: 'p'.repeat(257) } }, status: 400, code: 'validation_failed', fields: ['/password'] },
  { name: 'malformed session id', signedIn: true, request: { method: 'DELETE', url: '/api/v1/auth/sessions/1%27%20OR%20%271%27%3D%271' }, status: 400, code: 'validation_failed', fields: ['params:/id'] },

  // Oversize bodies
  { name: 'JSON body over BODY_LIMIT_BYTES', request: { method: 'POST', url: LOGIN, payload: { ...creds, pad: huge } }, status: 413, code: 'payload_too_large' },
  { name: 'register body over the limit', request: { method: 'POST', url: REGISTER, payload: { ...creds, name: huge } }, status: 413, code: 'payload_too_large' },
  { name: 'profile body over the limit', signedIn: true, request: { method: 'PATCH', url: ME, payload: { profile: { bio: huge } } }, status: 413, code: 'payload_too_large' },
  { name: 'oversize body with a wrong content type', request: { method: 'POST', url: LOGIN, headers: { 'content-type': 'text/plain' }, payload: huge }, status: 415, code: 'unsupported_media_type' },

  // Content types
  { name: 'text/plain', request: { method: 'POST', url: LOGIN, headers: { 'content-type': 'text/plain' }, payload: JSON.stringify(creds) }, status: 415, code: 'unsupported_media_type' },
  { name: 'XML', request: { method: 'POST', url: REGISTER, headers: { 'content-type': 'application/xml' }, payload: '<user><email>a@example.com</email></user>' }, status: 415, code: 'unsupported_media_type' },
  { name: 'XML with an external entity', request: { method: 'POST', url: LOGIN, headers: { 'content-type': 'text/xml' }, payload: '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>' }, status: 415, code: 'unsupported_media_type' },
  { name: 'a form on a JSON route', request: { method: 'POST', url: LOGIN, headers: form, payload: 'email=a%40example.com&password=x' }, status: 415, code: 'unsupported_media_type' },
  { name: 'multipart', request: { method: 'POST', url: REGISTER, headers: { 'content-type': 'multipart/form-data; boundary=x' }, payload: '--x\r\nContent-Disposition: form-data; name="email"\r\n\r\na@example.com\r\n--x--' }, status: 415, code: 'unsupported_media_type' },
  { name: 'a body without content type', request: { method: 'POST', url: LOGIN, payload: 'email=a@example.com' }, status: 415, code: 'unsupported_media_type' },
  { name: 'a look-alike JSON type', request: { method: 'POST', url: LOGIN, headers: { 'content-type': 'application/jsonx' }, payload: '{}' }, status: 415, code: 'unsupported_media_type' },

  // NUL characters
  { name: 'NUL in email', request: { method: 'POST', url: REGISTER, payload: { email: 'a\u0000@example.com', password: STRONG_PASSWORD } }, status: 400, code: 'validation_failed', fields: ['/email'] },
  { name: 'NUL in password', request: { method: 'POST', url: LOGIN, payload: { email: 'a@example.com', password: `pass\u0000word-long-enough` } }, status: 400, code: 'validation_failed', fields: ['/password'] },
  { name: 'NUL in name', request: { method: 'POST', url: REGISTER, payload: { email: 'a@example.com', password: STRONG_PASSWORD, name: 'Bobby\u0000' } }, status: 400, code: 'validation_failed', fields: ['/name'] },
  { name: 'NUL in a key', request: { method: 'POST', url: REGISTER, payload: { ...creds, ['na\u0000me']: 'x' } }, status: 400, code: 'validation_failed' },
  { name: 'NUL in token', request: { method: 'POST', url: VERIFY, payload: { token: 'abc\u0000def' } }, status: 400, code: 'validation_failed', fields: ['/token'] },
  { name: 'NUL in a profile value', signedIn: true, request: { method: 'PATCH', url: ME, payload: { profile: { bio: 'a\u0000b' } } }, status: 400, code: 'validation_failed', fields: ['/profile/bio'] },
  { name: 'NUL in a profile key', signedIn: true, request: { method: 'PATCH', url: ME, payload: { profile: { ['b\u0000io']: 'x' } } }, status: 400, code: 'validation_failed' },
  { name: 'NUL deep inside a profile', signedIn: true, request: { method: 'PATCH', url: ME, headers: json, payload: `{"profile":${'{"a":'.repeat(60)}"x\\u0000"${'}'.repeat(60)}}` }, status: 400, code: 'validation_failed' },
  { name: 'NUL in a query string', request: { method: 'GET', url: '/verify-email?token=%00' }, status: 400, code: 'validation_failed' },
  { name: 'NUL in a path', request: { method: 'GET', url: '/problems/%00' }, status: 400, code: 'validation_failed' },

  // SQL metacharacters: ordinary answers
  { name: 'SQL in login email', request: { method: 'POST', url: LOGIN, payload: { email: "x'or'1'='1@example.com", password: STRONG_PASSWORD } }, status: 401, code: 'invalid_credentials' },
  { name: 'SQL in login password', request: { method: 'POST', url: LOGIN, payload: { email: 'a@example.com', password: "' OR '1'='1' --" } }, status: 401, code: 'invalid_credentials' },
  { name: 'SQL in verification token', request: { method: 'POST', url: VERIFY, payload: { token: '\'; DROP TABLE "user"; --' } }, status: 400, code: 'invalid_token' },
  { name: 'SQL in reset token', request: { method: 'POST', url: RESET, payload: { token: "x' UNION SELECT id FROM session --", password: STRONG_PASSWORD } }, status: 400, code: 'invalid_token' },
  { name: 'SQL in a problem code', request: { method: 'GET', url: "/problems/x'%20OR%201=1" }, status: 404, code: 'not_found' },
  { name: 'SQL in resend email', request: { method: 'POST', url: '/api/v1/auth/verify-email/resend', payload: { email: "a'--@example.com" }, remoteAddress: '198.51.100.77' }, status: 202 },

  // Overlong tokens
  { name: 'verification token over 512 characters', request: { method: 'POST', url: VERIFY, payload: { token: 'a'.repeat(513) } }, status: 400, code: 'validation_failed', fields: ['/token'] },
  { name: 'verification token of 10 000 characters', request: { method: 'POST', url: VERIFY, payload: { token: 'a'.repeat(10_000) } }, status: 400, code: 'validation_failed', fields: ['/token'] },
  { name: 'reset token over 512 characters', request: { method: 'POST', url: RESET, payload: { token: 'b'.repeat(600), password: STRONG_PASSWORD } }, status: 400, code: 'validation_failed', fields: ['/token'] },
  { name: 'reset token of 300 base64url characters', request: { method: 'POST', url: RESET, payload: { token: 'b'.repeat(300), password: STRONG_PASSWORD } }, status: 400, code: 'invalid_token' },
  { name: 'session cookie of 20 000 characters', request: { method: 'GET', url: ME, headers: { cookie: `gh_session=${'c'.repeat(20_000)}` } }, status: 401, code: 'session_expired' },
  { name: 'malformed cookie encoding', request: { method: 'GET', url: ME, headers: { cookie: 'gh_session=%E0%A4%A' } }, status: 401, code: 'session_expired' },
  { name: 'bearer token of 20 000 characters', request: { method: 'GET', url: ME, headers: { authorization: `Bearer ${'d'.repeat(20_000)}` } }, status: 401, code: 'session_expired' },

  // Unknown routes and methods, malformed URLs
  { name: 'unknown API route', request: { method: 'GET', url: '/api/v1/nope' }, status: 404, code: 'not_found' },
  { name: 'unknown API version', request: { method: 'GET', url: '/api/v2/users/me' }, status: 404, code: 'not_found' },
  { name: 'POST to an unknown route with JSON', request: { method: 'POST', url: '/api/v1/auth/nope', payload: creds }, status: 404, code: 'not_found' },
  { name: 'wrong method on a known route', request: { method: 'PUT', url: ME, payload: {} }, status: 404, code: 'not_found' },
  { name: 'GET on a POST-only route', request: { method: 'GET', url: LOGIN }, status: 404, code: 'not_found' },
  { name: 'path traversal in assets', request: { method: 'GET', url: '/assets/..%2f..%2fpackage.json' }, status: 404, code: 'not_found' },
  { name: 'unknown asset', request: { method: 'GET', url: '/assets/secrets.env' }, status: 404, code: 'not_found' },
  { name: 'malformed percent-encoding in a path parameter', request: { method: 'GET', url: '/problems/%E0%A4%A' }, status: 400, code: 'bad_request' },
  { name: 'path parameter over the router’s length limit', signedIn: true, request: { method: 'DELETE', url: `/api/v1/auth/sessions/${'a'.repeat(300)}` }, status: 400, code: 'bad_request' },
];

/** Token endpoint cases: RFC 6749 §5.2 JSON errors rather than problem documents. */
const tokenCases: Array<{ name: string; headers: Record<string, string>; payload: string; status: number; error: string }> = [
  { name: 'malformed JSON', headers: json, payload: '{"grant_type":"password"', status: 400, error: 'invalid_request' },
  { name: 'wrong types', headers: json, payload: '{"grant_type":1,"username":[],"password":{}}', status: 400, error: 'invalid_request' },
  { name: 'NUL in username', headers: form, payload: 'grant_type=password&username=a%00b&password=xxxxxxxxxxxx', status: 400, error: 'invalid_request' },
  { name: 'SQL in username', headers: form, payload: `grant_type=password&username=${encodeURIComponent("' OR 1=1 --")}&password=xxxxxxxxxxxx`, status: 400, error: 'invalid_grant' },
  { name: 'SQL in refresh_token', headers: form, payload: `grant_type=refresh_token&refresh_token=${encodeURIComponent("'; DELETE FROM refresh_token; --")}`, status: 400, error: 'invalid_grant' },
  { name: 'overlong refresh_token', headers: form, payload: `grant_type=refresh_token&refresh_token=${'r'.repeat(5000)}`, status: 400, error: 'invalid_request' },
  { name: 'form body over 16 KiB', headers: form, payload: `grant_type=password&pad=${'p'.repeat(20_000)}`, status: 413, error: 'invalid_request' },
  { name: 'JSON body over BODY_LIMIT_BYTES', headers: json, payload: JSON.stringify({ grant_type: 'password', pad: huge }), status: 413, error: 'invalid_request' },
  { name: 'text/plain', headers: { 'content-type': 'text/plain' }, payload: 'grant_type=password', status: 415, error: 'invalid_request' },
  { name: 'XML', headers: { 'content-type': 'application/xml' }, payload: '<grant_type>password</grant_type>', status: 415, error: 'invalid_request' },
];

describe.each(dialects)('bad input (%s)', (dialect) => {
  let ctx: TestContext;
  let cookie = '';
  let userCountBefore = 0;
  beforeAll(async () => {
    ctx = await createTestContext(dialect);
    cookie = await loginCookie(ctx, await makeUser(ctx, { name: 'Bystander' }));
    userCountBefore = await countUsers();
  });
  afterAll(async () => {
    await ctx?.close();
  });

  async function countUsers(): Promise<number> {
    const rows = await ctx.gatehouse.database.db.selectFrom('user').select('id').execute();
    return rows.length;
  }

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, scenario) => {
    const headers = { ...(scenario.request.headers as Record<string, string> | undefined), ...(scenario.signedIn ? { cookie } : {}) };
    const res = await runScenario(ctx, { ...scenario, request: { ...scenario.request, headers } });
    expect(res.statusCode).toBeLessThan(500);
  });

  it.each(tokenCases.map((c) => [c.name, c] as const))('token endpoint: %s', async (_name, c) => {
    const res = await ctx.request({ method: 'POST', url: TOKEN, headers: c.headers, payload: c.payload });
    const body = expectOAuthError(res, c.status, c.error);
    // The problem members ride along for clients that read them.
    expect(body.status).toBe(c.status);
  });

  it('stores SQL metacharacters literally and leaves the database intact', async () => {
    const nasty = `Robert'); DROP TABLE "user"; --`;
    const patched = await ctx.request({ method: 'PATCH', url: ME, headers: { cookie }, payload: { name: nasty, profile: { q: "1' OR '1'='1", k: '$1; DELETE FROM session' } } });
    expect(patched.statusCode).toBe(200);
    expect(patched.json()).toMatchObject({ name: nasty, profile: { q: "1' OR '1'='1" } });

    const email = `o'hara+test-${Math.random().toString(36).slice(2, 7)}@example.com`;
    expect((await ctx.request({ method: 'POST', url: REGISTER, payload: { email, password: STRONG_PASSWORD } })).statusCode).toBe(202);
    const stored = await ctx.gatehouse.database.db.selectFrom('user').select('email').where('email', '=', email).executeTakeFirst();
    expect(stored?.email).toBe(email);
    expect((await ctx.request({ method: 'POST', url: '/api/v1/auth/password/forgot', payload: { email }, remoteAddress: nextIp() })).statusCode).toBe(202);

    expect(await countUsers()).toBe(userCountBefore + 1);
    expect((await ctx.request({ url: ME, headers: { cookie } })).json().name).toBe(nasty);
    expect((await ctx.request({ url: '/readyz' })).statusCode).toBe(200);
  });

  it('ignores unknown fields: registering with role=admin creates a plain user', async () => {
    const email = uniqueEmail('escalate');
    const res = await ctx.request({
      method: 'POST',
      url: REGISTER,
      payload: { email, password: STRONG_PASSWORD, role: 'admin', email_verified: true, status: 'active' },
    });
    expect(res.statusCode).toBe(202);
    const row = await ctx.gatehouse.database.db
      .selectFrom('user')
      .select(['role', 'email_verified_at'])
      .where('email_normalized', '=', email)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ role: 'user', email_verified_at: null });
  });

  it('ignores role and email in a profile update', async () => {
    const res = await ctx.request({ method: 'PATCH', url: ME, headers: { cookie }, payload: { role: 'admin', email: 'other@example.com' } });
    expect(res.statusCode).toBe(200);
    expect(res.json().role).toBe('user');
    expect(res.json().email).not.toBe('other@example.com');
  });

  it('authenticates before reading an oversize body (401, not 413)', async () => {
    expectProblem(await ctx.request({ method: 'PATCH', url: ME, payload: { profile: { bio: huge } } }), 401, 'authentication_required');
  });
});
