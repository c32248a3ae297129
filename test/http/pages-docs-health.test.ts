/**
 * The HTML pages (index, problem types; the emailed-link and auth pages, now the web app's), the OpenAPI
 * document and Swagger UI, static assets, the health probes and request ids.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCatalogue } from '../../src/shared/errors.js';
import { dialects } from '../helpers/dialects.js';
import {
  createTestContext,
  makeUser,
  STRONG_PASSWORD,
  type TestContext,
  tokenFromLatestMail,
  uniqueEmail,
} from '../helpers/harness.js';
import { expectProblem, nextIp } from '../helpers/http-assertions.js';

/** Every `/api/v1` operation of the HTTP contract, as OpenAPI paths. */
const CONTRACT: Array<[string, string]> = [
  ['/api/v1/auth/register', 'post'],
  ['/api/v1/auth/verify-email', 'post'],
  ['/api/v1/auth/verify-email/resend', 'post'],
  ['/api/v1/auth/login', 'post'],
  ['/api/v1/auth/token', 'post'],
  ['/api/v1/auth/logout', 'post'],
  ['/api/v1/auth/sessions', 'get'],
  ['/api/v1/auth/sessions/{id}', 'delete'],
  ['/api/v1/auth/password/forgot', 'post'],
  ['/api/v1/auth/password/reset', 'post'],
  ['/api/v1/auth/password/change', 'post'],
  ['/api/v1/users/me', 'get'],
  ['/api/v1/users/me', 'patch'],
  ['/api/v1/users/me', 'delete'],
];

function expectHtml(res: { statusCode: number; headers: Record<string, unknown>; body: string }): void {
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
  expect(res.body).toMatch(/^<!doctype html>/i);
  expect(res.body).toContain('<html lang="en">');
}

describe.each(dialects)('pages, docs and health (%s)', (dialect) => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext(dialect);
  });
  afterAll(async () => {
    await ctx?.close();
  });

  describe('index', () => {
    it('serves the web app at / under a strict CSP; /api/v1/meta links the docs and /openapi.json, no website when SITE_URL is unset', async () => {
      const res = await ctx.request({ url: '/' });
      expectHtml(res);
      expect(res.body).toContain('<div id="root"></div>');
      expect(res.headers['content-security-policy']).toMatch(/default-src 'none'/);
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      const meta = (await ctx.request({ url: '/api/v1/meta' })).json();
      expect(meta.app).toMatchObject({ docs_url: '/docs', openapi_url: '/openapi.json', site_url: null });
    });
  });

  describe('OpenAPI and docs', () => {
    it('serves an OpenAPI 3.1.0 document listing every /api/v1 operation of the contract', async () => {
      const res = await ctx.request({ url: '/openapi.json' });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      const doc = res.json();
      expect(doc.openapi).toBe('3.1.0');
      expect(doc.info.title).toEqual(expect.any(String));
      for (const [path, method] of CONTRACT) {
        expect(doc.paths[path]?.[method], `${method.toUpperCase()} ${path}`).toBeDefined();
      }
      expect(doc.paths['/healthz']?.get).toBeDefined();
      expect(doc.paths['/readyz']?.get).toBeDefined();
      expect(doc.paths['/.well-known/jwks.json']?.get).toBeDefined();
      // Pages are not API operations.
      expect(doc.paths['/verify-email']).toBeUndefined();
    });

    it('declares the OAuth2 password flow at /api/v1/auth/token (the Authorize button)', async () => {
      const doc = (await ctx.request({ url: '/openapi.json' })).json();
      const oauth2 = doc.components.securitySchemes.oauth2;
      expect(oauth2.type).toBe('oauth2');
      expect(oauth2.flows.password.tokenUrl).toBe('/api/v1/auth/token');
      const me = doc.paths['/api/v1/users/me'].get;
      expect(me.security).toEqual(expect.arrayContaining([{ oauth2: [] }]));
      const token = doc.paths['/api/v1/auth/token'].post;
      expect(Object.keys(token.requestBody.content)).toEqual(
        expect.arrayContaining(['application/x-www-form-urlencoded', 'application/json']),
      );
    });

    it('documents problem responses and request bodies from the validating schemas', async () => {
      const doc = (await ctx.request({ url: '/openapi.json' })).json();
      const register = doc.paths['/api/v1/auth/register'].post;
      expect(Object.keys(register.responses)).toEqual(expect.arrayContaining(['201', '202', '400', '409', '422']));
      const body = register.requestBody.content['application/json'].schema;
      expect(body.required).toEqual(expect.arrayContaining(['email', 'password']));
      expect(body.properties.email.format).toBe('email');
    });

    it('serves Swagger UI at /docs', async () => {
      const res = await ctx.request({ url: '/docs' });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.body).toContain('Swagger UI');
      const init = await ctx.request({ url: '/docs/static/swagger-initializer.js' });
      expect(init.statusCode).toBe(200);
    });
  });

  describe('emailed-link pages (the web app, which acts only on a button: test/web/auth.test.ts)', () => {
    it('GET /verify-email?token=… shows a page and does not consume the token', async () => {
      const email = uniqueEmail('page');
      await ctx.request({ method: 'POST', url: '/api/v1/auth/register', payload: { email, password: STRONG_PASSWORD } });
      const token = await tokenFromLatestMail(ctx, email, '/verify-email');

      for (let i = 0; i < 2; i++) {
        const page = await ctx.request({ url: `/verify-email?token=${encodeURIComponent(token)}` });
        expectHtml(page);
        expect(page.body).toContain('<div id="root"></div>');
        expect(page.body).not.toContain(token);
        expect(page.headers['referrer-policy']).toBe('same-origin');
      }
      const login = await ctx.request({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password: STRONG_PASSWORD } });
      expectProblem(login, 403, 'email_not_verified');

      expect((await ctx.request({ method: 'POST', url: '/api/v1/auth/verify-email', payload: { token } })).statusCode).toBe(204);
    });

    it('GET /reset-password?token=… shows a page and does not consume the token', async () => {
      const user = await makeUser(ctx);
      await ctx.request({ method: 'POST', url: '/api/v1/auth/password/forgot', payload: { email: user.email }, remoteAddress: nextIp() });
      const token = await tokenFromLatestMail(ctx, user.email, '/reset-password');

      const page = await ctx.request({ url: `/reset-password?token=${encodeURIComponent(token)}` });
      expectHtml(page);
      expect(page.body).toContain('<div id="root"></div>');
      expect(page.body).not.toContain(token);
      // The password still works: nothing happened on GET.
      const login = await ctx.request({ method: 'POST', url: '/api/v1/auth/login', payload: { email: user.email, password: user.password } });
      expect(login.statusCode).toBe(200);

      const reset = await ctx.request({ method: 'POST', url: '/api/v1/auth/password/reset', payload: { token, password: 'lilac-Tundra-pepper-204' } });
      expect(reset.statusCode).toBe(204);
    });

    it('GET /verify-email and /reset-password without a token still answer with the page', async () => {
      expectHtml(await ctx.request({ url: '/verify-email' }));
      expectHtml(await ctx.request({ url: '/reset-password' }));
    });

    it('GET /forgot-password, /sign-in, /sign-up and /link-account answer with the web app', async () => {
      for (const url of ['/forgot-password', '/sign-in?next=/jobs', '/sign-up', '/link-account?token=abc']) {
        const page = await ctx.request({ url });
        expectHtml(page);
        expect(page.body, url).toContain('<div id="root"></div>');
      }
    });
  });

  describe('problem type pages', () => {
    it.each(Object.keys(errorCatalogue))('GET /problems/%s documents the code', async (code) => {
      const res = await ctx.request({ url: `/problems/${code}` });
      expectHtml(res);
      const entry = errorCatalogue[code as keyof typeof errorCatalogue];
      expect(res.body).toContain(`<code>${code}</code>`);
      expect(res.body).toContain(`HTTP ${entry.status}`);
    });

    it('answers 404 for an unknown code, including inherited property names', async () => {
      expectProblem(await ctx.request({ url: '/problems/no_such_code' }), 404, 'not_found');
      expectProblem(await ctx.request({ url: '/problems/constructor' }), 404, 'not_found');
      expectProblem(await ctx.request({ url: '/problems/__proto__' }), 404, 'not_found');
    });

    it('the `type` of a real problem document resolves to its page', async () => {
      const problem = expectProblem(await ctx.request({ url: '/api/v1/users/me' }), 401, 'authentication_required');
      expectHtml(await ctx.request({ url: problem.type }));
    });
  });

  describe('assets', () => {
    it('serves /assets/*.js and /assets/pages.css with their types; the auth and account pages\' old scripts are gone', async () => {
      const js = await ctx.request({ url: '/assets/jobs.js' });
      expect(js.statusCode).toBe(200);
      expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
      for (const gone of ['pages.js', 'webauthn.js', 'security.js']) expect((await ctx.request({ url: `/assets/${gone}` })).statusCode, gone).toBe(404);
      const css = await ctx.request({ url: '/assets/pages.css' });
      expect(css.statusCode).toBe(200);
      expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    });
  });

  describe('JWKS', () => {
    it('publishes public keys only', async () => {
      const res = await ctx.request({ url: '/.well-known/jwks.json' });
      expect(res.statusCode).toBe(200);
      const { keys } = res.json();
      expect(keys.length).toBeGreaterThan(0);
      for (const key of keys) {
        expect(key.kid).toEqual(expect.any(String));
        expect(key).not.toHaveProperty('d');
      }
    });
  });

  describe('request ids', () => {
    it('echoes a valid X-Request-Id and uses it as the problem instance', async () => {
      const res = await ctx.request({ url: '/api/v1/users/me', headers: { 'x-request-id': 'trace-abc.123:xyz' } });
      expect(res.headers['x-request-id']).toBe('trace-abc.123:xyz');
      expect(res.json().instance).toBe('urn:request:trace-abc.123:xyz');
    });

    it.each([
      ['with spaces', 'not valid id'],
      ['too long', 'a'.repeat(129)],
      ['with a newline-like character', 'abc<script>'],
    ])('generates a fresh id when the incoming one is invalid (%s)', async (_name, incoming) => {
      const res = await ctx.request({ url: '/healthz', headers: { 'x-request-id': incoming } });
      expect(res.headers['x-request-id']).not.toBe(incoming);
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    });

    it('generates a distinct id per request when none is sent, on errors too', async () => {
      const a = await ctx.request({ url: '/healthz' });
      const b = await ctx.request({ url: '/nope' });
      const c = await ctx.request({ url: '/problems/%E0%A4%A' });
      const ids = [a, b, c].map((r) => r.headers['x-request-id']);
      for (const id of ids) expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(new Set(ids).size).toBe(3);
    });
  });

  describe('health', () => {
    it('GET /healthz answers 200 {status: ok}', async () => {
      const res = await ctx.request({ url: '/healthz' });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ status: 'ok' });
    });

    it('GET /readyz answers 200 while the database is reachable, then 503 problem+json once it is closed', async () => {
      const ready = await ctx.request({ url: '/readyz' });
      expect(ready.statusCode).toBe(200);
      expect(ready.json()).toEqual({ status: 'ready' });

      await ctx.gatehouse.database.close();
      const down = await ctx.request({ url: '/readyz' });
      const problem = expectProblem(down, 503, 'service_unavailable');
      expect(problem.detail).toMatch(/database/i);
      // Liveness is about the process, not its dependencies.
      expect((await ctx.request({ url: '/healthz' })).statusCode).toBe(200);
    });
  });
});

describe.each(dialects)('index page with SITE_URL (%s)', (dialect) => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext(dialect, { env: { SITE_URL: 'https://gatehouse.example.org/project?ref=a&b="c"' } });
  });
  afterAll(async () => {
    await ctx?.close();
  });

  it('gives the web app the project website verbatim (the app sets it as an attribute, never as HTML)', async () => {
    const meta = (await ctx.request({ url: '/api/v1/meta' })).json();
    expect(meta.app.site_url).toBe('https://gatehouse.example.org/project?ref=a&b="c"');
    expectHtml(await ctx.request({ url: '/' }));
  });
});
