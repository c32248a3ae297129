/**
 * The permission guard and the built-in roles: every admin route declares its permission and
 * answers 401 without credentials and 403 (problem document) without the permission; the
 * roles grant what they say; a role change applies to the very next request of every kind of
 * credential (cookie, bearer JWT, API key); an administrator cannot change their own role or
 * status.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, makeApiKey, STRONG_PASSWORD, type TestContext } from '../helpers/harness.js';
import { expectProblem } from '../helpers/http-assertions.js';
import { ACCESS_ENV, allStatuses, bearer, call, type Headers, makePrincipals, type Principals, statusesOf } from './access-fixtures.js';

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** One row of the guard table: a route, the permission it must declare, and what an admin gets. */
interface GuardRow {
  method: Method;
  /** OpenAPI-style path (`{id}`), filled with fixture ids by `url`. */
  path: string;
  permission: string;
  admin: number;
  body?: Record<string, unknown>;
}

const USERS_LIST = '/api/v1/users?limit=1';

describe.each(dialects)('permission guard and roles (%s)', (dialect) => {
  let ctx: TestContext;
  let admin: Principals;
  let user: Principals;
  let victimId: string;
  const probeGroup = 'guard-probe';

  beforeAll(async () => {
    ctx = await createTestContext(dialect, { env: ACCESS_ENV });
    admin = await makePrincipals(ctx, { role: 'admin' });
    user = await makePrincipals(ctx);
    victimId = (await makePrincipals(ctx)).user.id;
    expect((await call(ctx, 'POST', '/api/v1/groups', admin.cookie, { name: probeGroup })).statusCode).toBe(201);
  });
  afterAll(async () => {
    await ctx?.close();
  });

  const missing = randomUUID();
  const guardTable: GuardRow[] = [
    { method: 'GET', path: '/api/v1/users', permission: 'users:read', admin: 200 },
    { method: 'GET', path: '/api/v1/users/{id}', permission: 'users:read', admin: 200 },
    { method: 'PATCH', path: '/api/v1/users/{id}', permission: 'users:manage', admin: 200, body: { name: 'Probed' } },
    { method: 'POST', path: '/api/v1/users/{id}/verify-email', permission: 'users:manage', admin: 200 },
    { method: 'POST', path: '/api/v1/users/{id}/unban', permission: 'users:manage', admin: 409 },
    { method: 'POST', path: '/api/v1/users/{missing}/ban', permission: 'users:manage', admin: 404, body: { duration_s: 60 } },
    { method: 'DELETE', path: '/api/v1/users/{missing}', permission: 'users:manage', admin: 404 },
    { method: 'GET', path: '/api/v1/groups', permission: 'groups:manage', admin: 200 },
    { method: 'POST', path: '/api/v1/groups', permission: 'groups:manage', admin: 201, body: { name: 'guard-probe-created' } },
    { method: 'GET', path: '/api/v1/groups/{group}', permission: 'groups:manage', admin: 200 },
    { method: 'PATCH', path: '/api/v1/groups/{group}', permission: 'groups:manage', admin: 200, body: { description: 'probed' } },
    { method: 'DELETE', path: '/api/v1/groups/no-such-group', permission: 'groups:manage', admin: 404 },
    { method: 'PUT', path: '/api/v1/groups/{group}/members/{id}', permission: 'users:manage', admin: 204 },
    { method: 'DELETE', path: '/api/v1/groups/{group}/members/{id}', permission: 'users:manage', admin: 204 },
    { method: 'GET', path: '/api/v1/audit', permission: 'audit:read', admin: 200 },
    { method: 'GET', path: '/api/v1/audit/login-attempts', permission: 'audit:read', admin: 200 },
    { method: 'GET', path: '/api/v1/outbox', permission: 'outbox:manage', admin: 200 },
    { method: 'POST', path: '/api/v1/outbox/{missing}/retry', permission: 'outbox:manage', admin: 404 },
    { method: 'GET', path: '/api/v1/scheduled-tasks', permission: 'scheduler:manage', admin: 200 },
    // `{name}` is sent as is: no task has that name.
    { method: 'POST', path: '/api/v1/scheduled-tasks/{name}/run', permission: 'scheduler:manage', admin: 404 },
  ];
  const url = (path: string) => path.replace('{id}', victimId).replace('{missing}', missing).replace('{group}', probeGroup);

  describe('admin routes', () => {
    it.each(guardTable.map((row) => [`${row.method} ${row.path}`, row] as const))(
      '%s: 401 anonymous, 403 plain user, passes for an admin',
      async (_name, row) => {
        const anonymous = await call(ctx, row.method, url(row.path), {}, row.body);
        expectProblem(anonymous, 401, 'authentication_required');
        expect(anonymous.headers['www-authenticate']).toBe('Bearer');

        for (const headers of [user.cookie, user.jwt, user.apiKey]) {
          const denied = expectProblem(await call(ctx, row.method, url(row.path), headers, row.body), 403, 'forbidden');
          expect(denied.required_permission).toBe(row.permission);
          expect(denied.detail).toContain(row.permission);
        }

        const allowed = await call(ctx, row.method, url(row.path), admin.cookie, row.body);
        expect(allowed.statusCode, allowed.body).toBe(row.admin);
      },
    );

    it('the table covers every admin operation the OpenAPI document lists', async () => {
      const doc = (await ctx.request({ url: '/openapi.json' })).json<{ paths: Record<string, Record<string, { tags?: string[] }>> }>();
      const admin = Object.entries(doc.paths).flatMap(([path, ops]) =>
        Object.entries(ops)
          .filter(([, op]) => op.tags?.includes('admin'))
          .map(([method]) => `${method.toUpperCase()} ${path.replace(/\{user_id\}/, '{id}')}`),
      );
      const covered = new Set(
        guardTable.map((row) => `${row.method} ${row.path.replace('{missing}', '{id}').replace('no-such-group', '{group}')}`),
      );
      expect(admin.length).toBeGreaterThan(10);
      expect(admin.filter((op) => !covered.has(op))).toEqual([]);
    });

    it('refuses a forged bearer token with 401 session_expired and a forged API key with 401 invalid_api_key, never 403 or 500', async () => {
      const forgedKey = `gh_abcdefgh_${'A'.repeat(43)}`;
      for (const [headers, code] of [
        [bearer('not.a.jwt'), 'session_expired'],
        [bearer(forgedKey), 'invalid_api_key'],
        [bearer('gh_short'), 'invalid_api_key'],
      ] as const) {
        const res = await call(ctx, 'GET', USERS_LIST, headers);
        expectProblem(res, 401, code);
        expect(res.headers['www-authenticate']).toContain('invalid_token');
      }
    });
  });

  describe('account routes (account:self) and public routes', () => {
    const selfRoutes: Array<[Method, string]> = [
      ['GET', '/api/v1/users/me'],
      ['GET', '/api/v1/api-keys'],
      ['GET', '/api/v1/auth/sessions'],
    ];
    it.each(selfRoutes)('%s %s: 401 anonymous, 200 for user and admin', async (method, path) => {
      expectProblem(await call(ctx, method, path), 401, 'authentication_required');
      for (const p of [user, admin]) expect(await statusesOf(ctx, p, path)).toEqual(allStatuses(200));
    });

    it('GET /api/v1/users/{id}/public needs no credentials', async () => {
      expect((await call(ctx, 'GET', `/api/v1/users/${victimId}/public`)).statusCode).toBe(200);
      expect((await call(ctx, 'GET', `/api/v1/users/${victimId}/public`, user.cookie)).statusCode).toBe(200);
    });
  });

  describe('roles', () => {
    it('admin has every permission (*); user has account:self and jobs:enqueue; worker has account:self and jobs:claim', async () => {
      const worker = await makePrincipals(ctx, { role: 'worker' });
      expect(await statusesOf(ctx, worker, '/api/v1/users/me')).toEqual(allStatuses(200));
      expect(await statusesOf(ctx, worker, USERS_LIST)).toEqual(allStatuses(403));
      expect(await statusesOf(ctx, admin, USERS_LIST)).toEqual(allStatuses(200));

      // What each role may put on a key is exactly what it has.
      const keyWith = (as: Headers, scopes: string[]) => call(ctx, 'POST', '/api/v1/api-keys', as, { name: 'k', scopes, password: STRONG_PASSWORD });
      expect((await keyWith(worker.cookie, ['jobs:claim'])).statusCode).toBe(201);
      expectProblem(await keyWith(worker.cookie, ['jobs:enqueue']), 403, 'forbidden');
      expect((await keyWith(user.cookie, ['jobs:enqueue'])).statusCode).toBe(201);
      expectProblem(await keyWith(user.cookie, ['jobs:claim']), 403, 'forbidden');
      expectProblem(await keyWith(user.cookie, ['users:read']), 403, 'forbidden');
      for (const scopes of [['*'], ['users:*'], ['queues:manage', 'challenges:manage', 'audit:read']]) {
        expect((await keyWith(admin.cookie, scopes)).statusCode).toBe(201);
      }
    });

    it('the admin view shows the role, and PATCH {role} rejects unknown roles with 400', async () => {
      const target = await makePrincipals(ctx, { role: 'worker' });
      const view = await call(ctx, 'GET', `/api/v1/users/${target.user.id}`, admin.cookie);
      expect(view.json()).toMatchObject({ id: target.user.id, role: 'worker' });
      const bad = expectProblem(
        await call(ctx, 'PATCH', `/api/v1/users/${target.user.id}`, admin.cookie, { role: 'superuser' }),
        400,
        'validation_failed',
      );
      expect(bad.errors?.map((e) => e.field)).toContain('/role');
      expect((await call(ctx, 'GET', `/api/v1/users/${target.user.id}`, admin.cookie)).json().role).toBe('worker');
    });

    it('removing the admin role applies to the very next request by cookie, JWT and API key', async () => {
      const demoted = await makePrincipals(ctx, { role: 'admin' });
      // Warm every cache: the next requests are served from memory.
      expect(await statusesOf(ctx, demoted, USERS_LIST)).toEqual(allStatuses(200));
      expect(await statusesOf(ctx, demoted, USERS_LIST)).toEqual(allStatuses(200));

      const patch = await call(ctx, 'PATCH', `/api/v1/users/${demoted.user.id}`, admin.cookie, { role: 'user' });
      expect(patch.statusCode, patch.body).toBe(200);
      expect(patch.json().role).toBe('user');

      expect(await statusesOf(ctx, demoted, USERS_LIST)).toEqual(allStatuses(403));
      // The user keeps what the user role has: their own account, by every credential.
      expect(await statusesOf(ctx, demoted, '/api/v1/users/me')).toEqual(allStatuses(200));
      const problem = expectProblem(await call(ctx, 'GET', USERS_LIST, demoted.apiKey), 403, 'forbidden');
      expect(problem.required_permission).toBe('users:read');
    });

    it('granting the admin role applies to the very next request too (the key was made with scopes the user now has)', async () => {
      const promoted = await makePrincipals(ctx, { role: 'user' });
      const key = await makeApiKey(ctx, promoted.cookie, { scopes: ['account:self'] });
      expect(await statusesOf(ctx, promoted, USERS_LIST)).toEqual(allStatuses(403));

      expect((await call(ctx, 'PATCH', `/api/v1/users/${promoted.user.id}`, admin.jwt, { role: 'admin' })).statusCode).toBe(200);
      expect((await call(ctx, 'GET', USERS_LIST, promoted.cookie)).statusCode).toBe(200);
      expect((await call(ctx, 'GET', USERS_LIST, promoted.jwt)).statusCode).toBe(200);
      // A key never does more than its scopes: account:self does not include users:read.
      expect((await call(ctx, 'GET', USERS_LIST, key.headers)).statusCode).toBe(403);
      expect((await call(ctx, 'GET', '/api/v1/users/me', key.headers)).statusCode).toBe(200);
    });

    it('a worker demoted to user loses jobs:claim on its keys at once', async () => {
      const worker = await makePrincipals(ctx, { role: 'worker' });
      const claimKey = await makeApiKey(ctx, worker.cookie, { scopes: ['jobs:claim', 'account:self'] });
      const me = await call(ctx, 'GET', '/api/v1/users/me', claimKey.headers);
      expect(me.statusCode).toBe(200);
      expect((await call(ctx, 'PATCH', `/api/v1/users/${worker.user.id}`, admin.cookie, { role: 'user' })).statusCode).toBe(200);
      // A new key with jobs:claim is now refused: the owner no longer has it.
      expectProblem(await call(ctx, 'POST', '/api/v1/api-keys', worker.cookie, { name: 'again', scopes: ['jobs:claim'], password: STRONG_PASSWORD }), 403, 'forbidden');
      // The old key still authenticates for what the owner still has.
      expect((await call(ctx, 'GET', '/api/v1/users/me', claimKey.headers)).statusCode).toBe(200);
    });

    it('an administrator cannot change their own role or status (403) but may change their own name', async () => {
      const self = `/api/v1/users/${admin.user.id}`;
      for (const body of [{ role: 'user' }, { role: 'admin' }, { status: 'deactivated' }, { name: 'Me', role: 'worker' }]) {
        expectProblem(await call(ctx, 'PATCH', self, admin.cookie, body), 403, 'forbidden');
        expectProblem(await call(ctx, 'PATCH', self, admin.apiKey, body), 403, 'forbidden');
      }
      expect(await statusesOf(ctx, admin, USERS_LIST)).toEqual(allStatuses(200));
      const view = await call(ctx, 'GET', self, admin.cookie);
      expect(view.json()).toMatchObject({ role: 'admin', status: 'active' });

      const renamed = await call(ctx, 'PATCH', self, admin.cookie, { name: 'Chief' });
      expect(renamed.statusCode).toBe(200);
      expect(renamed.json()).toMatchObject({ name: 'Chief', role: 'admin' });
    });

    it('deactivating a user (status) revokes every credential on the next request; reactivating allows login again', async () => {
      const target = await makePrincipals(ctx);
      expect(await statusesOf(ctx, target, '/api/v1/users/me')).toEqual(allStatuses(200));
      const res = await call(ctx, 'PATCH', `/api/v1/users/${target.user.id}`, admin.cookie, { status: 'deactivated' });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().status).toBe('deactivated');
      expect(await statusesOf(ctx, target, '/api/v1/users/me')).toEqual(allStatuses(401));
      expectProblem(
        await ctx.request({ method: 'POST', url: '/api/v1/auth/login', payload: { email: target.user.email, password: target.user.password } }),
        401,
        'account_deactivated',
      );

      expect((await call(ctx, 'PATCH', `/api/v1/users/${target.user.id}`, admin.cookie, { status: 'active' })).statusCode).toBe(200);
      const again = await ctx.request({ method: 'POST', url: '/api/v1/auth/login', payload: { email: target.user.email, password: target.user.password } });
      expect(again.statusCode, again.body).toBe(200);
      // Revoked credentials stay revoked.
      expect(await statusesOf(ctx, target, '/api/v1/users/me')).toEqual(allStatuses(401));
    });
  });
});
