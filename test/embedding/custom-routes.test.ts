/**
 * An application embedding Gatehouse adds its own routes through `buildApp(gatehouse, { extend })`
 * and gets the same guard: 401 without credentials, 403 without the declared permission, the
 * principal on the request, problem documents, and the route in the OpenAPI document.
 */
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { createGatehouse, type Gatehouse } from '../../src/container.js';
import { requirePrincipal } from '../../src/http/authenticate.js';
import { AppError } from '../../src/shared/errors.js';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, loginCookie, makeUser, PUBLIC_URL, type TestContext } from '../helpers/harness.js';

describe.each(dialects)('custom routes of an embedding application (%s)', (dialect) => {
  let ctx: TestContext;
  let gatehouse: Gatehouse;
  let app: FastifyInstance;

  beforeAll(async () => {
    ctx = await createTestContext(dialect);
    gatehouse = await createGatehouse(ctx.config, { clock: ctx.clock, logger: pino({ level: 'silent' }) });
    app = await buildApp(gatehouse, {
      extend: (scope) => {
        scope.get(
          '/api/v1/reports',
          { config: { permission: 'reports:read' }, schema: { tags: ['reports'], summary: 'Custom report' } },
          async (request) => ({ for: requirePrincipal(request).user.email }),
        );
        scope.post('/api/v1/reports/fail', { config: { auth: 'required' } }, async () => {
          throw new AppError('conflict', 'Report already running.');
        });
      },
    });
  });
  afterAll(async () => {
    await app?.close();
    await gatehouse?.close();
    await ctx?.close();
  });

  it('enforces the declared permission with the same guard', async () => {
    expect((await app.inject({ url: '/api/v1/reports' })).statusCode).toBe(401);
    const plain = await makeUser(ctx);
    const plainCookie = await loginCookie(ctx, plain);
    const denied = await app.inject({ url: '/api/v1/reports', headers: { cookie: plainCookie } });
    expect(denied.statusCode).toBe(403);
    expect(denied.json()).toMatchObject({ code: 'forbidden', required_permission: 'reports:read' });

    const admin = await makeUser(ctx, { role: 'admin' });
    const adminCookie = await loginCookie(ctx, admin);
    const allowed = await app.inject({ url: '/api/v1/reports', headers: { cookie: adminCookie } });
    expect(allowed.statusCode).toBe(200);
    expect(allowed.json()).toEqual({ for: admin.email });
  });

  it('turns the application\'s errors into problem documents and lists its routes in OpenAPI', async () => {
    const user = await makeUser(ctx);
    const cookie = await loginCookie(ctx, user);
    const res = await app.inject({ method: 'POST', url: '/api/v1/reports/fail', headers: { cookie, origin: PUBLIC_URL } });
    expect(res.statusCode).toBe(409);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json()).toMatchObject({ code: 'conflict', detail: 'Report already running.' });
    const openapi = (await app.inject({ url: '/openapi.json' })).json() as { paths: Record<string, unknown> };
    expect(Object.keys(openapi.paths)).toContain('/api/v1/reports');
  });
});
