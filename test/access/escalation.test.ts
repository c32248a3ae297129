/**
 * No privilege escalation: whoever holds users:manage or groups:manage may grant (by role, group
 * membership or group permissions) only what they hold themselves.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, loginCookie, makeUser, type TestContext } from '../helpers/harness.js';
import { ACCESS_ENV, call, type Headers, makeGroup, setMember, uniqueName } from './access-fixtures.js';

describe.each(dialects)('privilege escalation is refused (%s)', (dialect) => {
  let ctx: TestContext;
  let admin: Headers;
  let support: { id: string; headers: Headers };
  let root: string;
  let supportGroup: string;

  beforeAll(async () => {
    ctx = await createTestContext(dialect, { env: ACCESS_ENV });
    admin = { cookie: await loginCookie(ctx, await makeUser(ctx, { role: 'admin' })) };
    root = (await makeGroup(ctx, admin, { name: uniqueName('root'), permissions: ['*'] })).name;
    supportGroup = (await makeGroup(ctx, admin, { name: uniqueName('support'), permissions: ['users:manage', 'users:read', 'groups:manage'] })).name;
    const person = await makeUser(ctx);
    await setMember(ctx, admin, supportGroup, person.id, true);
    support = { id: person.id, headers: { cookie: await loginCookie(ctx, person) } };
  });
  afterAll(async () => {
    await ctx?.close();
  });

  it('a users:manage holder cannot join (or put anyone in) a group that grants more than they have', async () => {
    const self = await call(ctx, 'PUT', `/api/v1/groups/${root}/members/${support.id}`, support.headers);
    expect(self.statusCode).toBe(403);
    expect(self.json().detail).toContain('*');
    const other = await makeUser(ctx);
    const someoneElse = await call(ctx, 'PUT', `/api/v1/groups/${root}/members/${other.id}`, support.headers);
    expect(someoneElse.statusCode).toBe(403);
    expect((await call(ctx, 'GET', '/api/v1/audit', support.headers)).statusCode).toBe(403);
    // Within their own grants it works.
    expect((await call(ctx, 'PUT', `/api/v1/groups/${supportGroup}/members/${other.id}`, support.headers)).statusCode).toBe(204);
  });

  it('cannot make anyone an admin, nor widen or create a group beyond their grants', async () => {
    const other = await makeUser(ctx);
    const promote = await call(ctx, 'PATCH', `/api/v1/users/${other.id}`, support.headers, { role: 'admin' });
    expect(promote.statusCode).toBe(403);
    expect((await call(ctx, 'PATCH', `/api/v1/users/${other.id}`, support.headers, { role: 'worker' })).statusCode).toBe(403);
    const widen = await call(ctx, 'PATCH', `/api/v1/groups/${supportGroup}`, support.headers, { permissions: ['*'] });
    expect(widen.statusCode).toBe(403);
    const create = await call(ctx, 'POST', '/api/v1/groups', support.headers, { name: uniqueName('sneaky'), permissions: ['audit:read'] });
    expect(create.statusCode).toBe(403);
    const fine = await call(ctx, 'POST', '/api/v1/groups', support.headers, { name: uniqueName('helpers'), permissions: ['users:read'] });
    expect(fine.statusCode).toBe(201);
    // An admin (`*`) may do all of it.
    expect((await call(ctx, 'PATCH', `/api/v1/users/${other.id}`, admin, { role: 'admin' })).statusCode).toBe(200);
  });
});
