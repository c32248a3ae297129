/**
 * Delegated management stops at the delegate's own rank: a users:manage holder may act on a user
 * only if it holds every permission that user holds (admins only by admins), and a groups:manage
 * holder may not give a group a policy beyond its own (unlimited quotas, never-expiring sessions,
 * keys without expiry need `*`). Operators (the CLI, the system actor) stay unrestricted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../src/audit/audit.service.js';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, type Fixture, loginCookie, makeUser, type TestContext } from '../helpers/harness.js';
import { expectProblem } from '../helpers/http-assertions.js';
import { ACCESS_ENV, call, type Headers, login, makeGroup, setMember, uniqueName } from './access-fixtures.js';

describe.each(dialects)('delegated users:manage and groups:manage stop at the delegate\'s rank (%s)', (dialect) => {
  let ctx: TestContext;
  let admin: Headers;
  let support: { id: string; headers: Headers };
  let supportGroup: string;
  let auditors: string;

  beforeAll(async () => {
    ctx = await createTestContext(dialect, { env: ACCESS_ENV });
    admin = { cookie: await loginCookie(ctx, await makeUser(ctx, { role: 'admin' })) };
    supportGroup = (await makeGroup(ctx, admin, { name: uniqueName('support'), permissions: ['users:manage', 'users:read', 'groups:manage'] })).name;
    auditors = (await makeGroup(ctx, admin, { name: uniqueName('auditors'), permissions: ['audit:read'] })).name;
    const person = await makeUser(ctx);
    await setMember(ctx, admin, supportGroup, person.id, true);
    support = { id: person.id, headers: { cookie: await loginCookie(ctx, person) } };
  });
  afterAll(async () => {
    await ctx?.close();
  });

  /** Every way a users:manage holder acts on `target`, with the status each answered. */
  async function actOn(target: Fixture, as: Headers): Promise<Record<string, number>> {
    const url = `/api/v1/users/${target.id}`;
    return {
      edit: (await call(ctx, 'PATCH', url, as, { name: 'Renamed' })).statusCode,
      demote: (await call(ctx, 'PATCH', url, as, { role: 'user' })).statusCode,
      deactivate: (await call(ctx, 'PATCH', url, as, { status: 'deactivated' })).statusCode,
      verify: (await call(ctx, 'POST', `${url}/verify-email`, as)).statusCode,
      ban: (await call(ctx, 'POST', `${url}/ban`, as, { duration_s: 3600 })).statusCode,
      unban: (await call(ctx, 'POST', `${url}/unban`, as)).statusCode,
      removeFromGroup: (await call(ctx, 'DELETE', `/api/v1/groups/${supportGroup}/members/${target.id}`, as)).statusCode,
      delete: (await call(ctx, 'DELETE', url, as)).statusCode,
    };
  }

  const refusedEverywhere = {
    edit: 403,
    demote: 403,
    deactivate: 403,
    verify: 403,
    ban: 403,
    unban: 403,
    removeFromGroup: 403,
    delete: 403,
  };

  it('cannot ban, unban, demote, deactivate, edit, verify, regroup or delete an admin (403 privilege_escalation); the admin is untouched', async () => {
    const target = await makeUser(ctx, { role: 'admin', name: 'Boss' });
    expect(await actOn(target, support.headers)).toEqual(refusedEverywhere);
    const problem = expectProblem(await call(ctx, 'POST', `/api/v1/users/${target.id}/ban`, support.headers, { duration_s: 60 }), 403, 'privilege_escalation');
    expect(problem.detail).toContain('*');
    expect(problem.missing_permissions).toEqual(['*']);
    const seen = (await call(ctx, 'GET', `/api/v1/users/${target.id}`, admin)).json();
    expect(seen).toMatchObject({ role: 'admin', status: 'active', name: 'Boss', banned_until: null });
    expect((await login(ctx, target)).statusCode).toBe(200);
  });

  it('cannot act on a user holding a permission the manager lacks (a group grant, or a worker\'s jobs:claim)', async () => {
    const auditor = await makeUser(ctx, { name: 'Auditor' });
    await setMember(ctx, admin, auditors, auditor.id, true);
    await setMember(ctx, admin, supportGroup, auditor.id, true);
    expect(await actOn(auditor, support.headers)).toEqual(refusedEverywhere);
    const problem = expectProblem(await call(ctx, 'DELETE', `/api/v1/users/${auditor.id}`, support.headers), 403, 'privilege_escalation');
    expect(problem.missing_permissions).toEqual(['audit:read']);

    const worker = await makeUser(ctx, { role: 'worker' });
    expectProblem(await call(ctx, 'POST', `/api/v1/users/${worker.id}/ban`, support.headers, { duration_s: 60 }), 403, 'privilege_escalation');
    expect((await login(ctx, auditor)).statusCode).toBe(200);
    expect((await login(ctx, worker)).statusCode).toBe(200);
  });

  it('can still act on plain users', async () => {
    const plain = await makeUser(ctx);
    await setMember(ctx, admin, supportGroup, plain.id, true);
    const url = `/api/v1/users/${plain.id}`;
    expect((await call(ctx, 'PATCH', url, support.headers, { name: 'Renamed' })).statusCode).toBe(200);
    expect((await call(ctx, 'POST', `${url}/verify-email`, support.headers)).statusCode).toBe(200);
    expect((await call(ctx, 'DELETE', `/api/v1/groups/${supportGroup}/members/${plain.id}`, support.headers)).statusCode).toBe(204);
    expect((await call(ctx, 'POST', `${url}/ban`, support.headers, { duration_s: 3600 })).statusCode).toBe(200);
    expect((await call(ctx, 'POST', `${url}/unban`, support.headers)).statusCode).toBe(200);
    expect((await call(ctx, 'PATCH', url, support.headers, { status: 'deactivated' })).statusCode).toBe(200);
    expect((await call(ctx, 'DELETE', url, support.headers)).statusCode).toBe(204);
  });

  it('an admin, and the CLI (system actor), may act on anyone', async () => {
    const target = await makeUser(ctx, { role: 'admin' });
    expect((await call(ctx, 'PATCH', `/api/v1/users/${target.id}`, admin, { name: 'By an admin' })).statusCode).toBe(200);
    await ctx.gatehouse.users.ban(target.id, { durationSeconds: 60 }, SYSTEM_ACTOR);
    await ctx.gatehouse.users.update(target.id, { role: 'user' }, SYSTEM_ACTOR);
    expect((await call(ctx, 'GET', `/api/v1/users/${target.id}`, admin)).json()).toMatchObject({ role: 'user' });
  });

  it('groups:manage cannot give a group unlimited quotas, never-expiring sessions, keys without expiry, or a longer session than its own', async () => {
    for (const policy of [{ quota_per_hour: 0 }, { quota_per_day: 0 }, { session_ttl_seconds: 0 }, { api_key_max_ttl_seconds: 0 }]) {
      const field = Object.keys(policy)[0] as string;
      const created = await call(ctx, 'POST', '/api/v1/groups', support.headers, { name: uniqueName('lavish'), ...policy });
      expect(expectProblem(created, 403, 'privilege_escalation').errors?.map((e) => e.field)).toEqual([`/${field}`]);
      // Nor on its own group, to lift its own limits.
      expectProblem(await call(ctx, 'PATCH', `/api/v1/groups/${supportGroup}`, support.headers, policy), 403, 'privilege_escalation');
    }
    const longer = ctx.config.auth.sessionTtlSeconds + 3600;
    expectProblem(
      await call(ctx, 'POST', '/api/v1/groups', support.headers, { name: uniqueName('long'), session_ttl_seconds: longer }),
      403,
      'privilege_escalation',
    );
    // Within its own policy it works.
    const modest = { name: uniqueName('modest'), quota_per_hour: 100, session_ttl_seconds: 3600, api_key_max_ttl_seconds: 86_400 };
    expect((await call(ctx, 'POST', '/api/v1/groups', support.headers, modest)).statusCode).toBe(201);

    // Nor may it put anyone in a group an admin made lavish.
    const lavish = (await makeGroup(ctx, admin, { name: uniqueName('unlimited'), quota_per_hour: 0, quota_per_day: 0 })).name;
    const someone = await makeUser(ctx);
    expectProblem(await call(ctx, 'PUT', `/api/v1/groups/${lavish}/members/${someone.id}`, support.headers), 403, 'privilege_escalation');
    expectProblem(await call(ctx, 'PUT', `/api/v1/groups/${lavish}/members/${support.id}`, support.headers), 403, 'privilege_escalation');
    // An admin (`*`) may.
    expect((await call(ctx, 'PUT', `/api/v1/groups/${lavish}/members/${someone.id}`, admin)).statusCode).toBe(204);
    expect((await call(ctx, 'PATCH', `/api/v1/groups/${supportGroup}`, admin, { quota_per_hour: 0 })).statusCode).toBe(200);
  });
});
