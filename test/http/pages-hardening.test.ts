/**
 * Small web fixes: assets looked up as own keys only, the Gatehouse logo on the pages and in
 * Swagger UI, the index and OpenAPI description naming the whole product and the WebSocket
 * route, a CSRF refusal that names the origin it expected, and the verify link opening the web app.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, loginCookie, makeUser, PUBLIC_URL, type TestContext } from '../helpers/harness.js';
import { expectProblem } from '../helpers/http-assertions.js';

describe.each(dialects)('pages hardening (%s)', (dialect) => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext(dialect);
  });
  afterAll(async () => {
    await ctx?.close();
  });

  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'])(
    'GET /assets/%s is a 404 problem, not a 500',
    async (name) => {
      expectProblem(await ctx.request({ url: `/assets/${name}` }), 404, 'not_found');
    },
  );

  it('serves the Gatehouse logo as an SVG asset, the pages\' favicon', async () => {
    const logo = await ctx.request({ url: '/assets/gatehouse.svg' });
    expect(logo.statusCode).toBe(200);
    expect(logo.headers['content-type']).toBe('image/svg+xml');
    expect(logo.body).toContain('<svg');
    const index = await ctx.request({ url: '/' });
    expect(index.body).toContain('<link rel="icon" href="/favicon.svg" type="image/svg+xml"');
    expect((await ctx.request({ url: '/favicon.svg' })).body).toBe(logo.body);
  });

  it('/docs shows the Gatehouse logo and favicon, not Fastify\'s', async () => {
    const ours = (await ctx.request({ url: '/assets/gatehouse.svg' })).body;
    const docs = await ctx.request({ url: '/docs' });
    expect(docs.statusCode).toBe(200);
    const favicon = /<link rel="icon" type="image\/svg\+xml" href="([^"]+gatehouse\.svg)"/.exec(docs.body);
    expect(favicon, docs.body).not.toBeNull();
    const href = favicon![1]!;
    const served = await ctx.request({ url: href.startsWith('/') ? href : `/docs/${href.replace(/^\.\//, '')}` });
    expect(served.statusCode).toBe(200);
    expect(served.body).toBe(ours);
    const initializer = (await ctx.request({ url: '/docs/static/swagger-initializer.js' })).body;
    expect(initializer).toContain(`data:image/svg+xml;base64,${Buffer.from(ours).toString('base64')}`);
  });

  it('the home page (its meta description) and the OpenAPI description name the whole product, and the description documents /api/v1/ws', async () => {
    const index = (await ctx.request({ url: '/api/v1/meta' })).json().app.description as string;
    const doc = (await ctx.request({ url: '/openapi.json' })).json();
    for (const text of [index, doc.info.description as string]) {
      for (const part of ['ccess control', 'jobs', 'workers', 'files', 'live events', 'notifications']) expect(text).toContain(part);
      expect(text).not.toMatch(/^Accounts, sessions and tokens\./);
    }
    expect(doc.info.description).toContain('/api/v1/ws');
    expect(doc.info.description).toContain('"type":"subscribe"');
  });

  it('the CSRF refusal names the origin it expected', async () => {
    const user = await makeUser(ctx);
    const cookie = await loginCookie(ctx, user);
    const res = await ctx.request({ method: 'PATCH', url: '/api/v1/users/me', headers: { cookie, origin: 'https://evil.example' }, payload: { name: 'x' } });
    expect(expectProblem(res, 403, 'csrf_failed').detail).toContain(PUBLIC_URL);
    const login = await ctx.request({
      method: 'POST',
      url: '/api/v1/auth/login',
      headers: { origin: 'https://evil.example' },
      payload: { email: user.email, password: user.password },
    });
    expect(expectProblem(login, 403, 'csrf_failed').detail).toContain(PUBLIC_URL);
  });

  it('the verify link opens the web app, which never echoes the token', async () => {
    const page = await ctx.request({ url: '/verify-email?token=abc-secret' });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<div id="root"></div>');
    expect(page.body).not.toContain('abc-secret');
  });
});
