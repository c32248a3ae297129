/**
 * Two Gatehouse instances on one database, each with its own in-memory auth cache: a ban, a
 * role removal, a key revocation, a group change and a deletion made through instance A take
 * effect for credentials instance B has cached — at once on SQLite (data_version is checked on
 * every request), within NOTIFY's loopback latency on PostgreSQL (polled for at most 500 ms).
 */
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { createGatehouse, type Gatehouse } from '../../src/container.js';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, makeApiKey, type TestContext } from '../helpers/harness.js';
import { ACCESS_ENV, call, type Headers, makeGroup, makePrincipals, type Principals, setMember, uniqueName } from './access-fixtures.js';

const ME = '/api/v1/users/me';
const USERS_LIST = '/api/v1/users?limit=1';

describe.each(dialects)('access changes across instances (%s)', (dialect) => {
  let a: TestContext;
  let b: { gatehouse: Gatehouse; app: FastifyInstance };
  let admin: Principals;

  beforeAll(async () => {
    a = await createTestContext(dialect, { env: ACCESS_ENV });
    const gatehouse = await createGatehouse(a.config, { clock: a.clock, logger: pino({ level: 'silent' }) });
    b = { gatehouse, app: await buildApp(gatehouse) };
    admin = await makePrincipals(a, { role: 'admin' });
  });
  afterAll(async () => {
    await b?.app.close();
    await b?.gatehouse.close();
    await a?.close();
  });

  const onB = async (url: string, headers: Headers) => (await b.app.inject({ url, headers })).statusCode;

  /** Asserts B answers `status` for `headers` on `url`: on the very next request (SQLite) or within 500 ms (PostgreSQL NOTIFY). */
  async function expectOnB(url: string, headers: Headers, status: number): Promise<void> {
    if (dialect === 'sqlite') {
      // Immediate: the next request B parses sees the commit. B asks SQLite's data_version at most
      // once per event-loop turn (AuthCache.fresh), and a request over HTTP always arrives in a
      // later turn than the other process's commit; in-process inject runs A's commit and B's
      // request in one chain of microtasks, so let one turn end first, as the socket would.
      await new Promise((resolve) => setImmediate(resolve));
      expect(await onB(url, headers)).toBe(status);
      return;
    }
    const start = performance.now();
    let last = await onB(url, headers);
    while (last !== status && performance.now() - start < 500) {
      await new Promise((resolve) => setTimeout(resolve, 2));
      last = await onB(url, headers);
    }
    expect(last, `B still answered ${last} after ${Math.round(performance.now() - start)} ms`).toBe(status);
  }

  /** Two requests on B so the credential is served from B's cache afterwards. */
  async function warmOnB(url: string, headers: Headers, status = 200): Promise<void> {
    expect(await onB(url, headers)).toBe(status);
    expect(await onB(url, headers)).toBe(status);
  }

  it('a ban made through A ends the API key, JWT and cookie cached by B', async () => {
    const target = await makePrincipals(a);
    for (const headers of [target.apiKey, target.jwt, target.cookie]) await warmOnB(ME, headers);

    const ban = await call(a, 'POST', `/api/v1/users/${target.user.id}/ban`, admin.cookie, { duration_s: 3600 });
    expect(ban.statusCode, ban.body).toBe(200);

    await expectOnB(ME, target.apiKey, 401);
    await expectOnB(ME, target.jwt, 401);
    await expectOnB(ME, target.cookie, 401);
  });

  it('a role removal made through A applies to the admin credentials cached by B', async () => {
    const demoted = await makePrincipals(a, { role: 'admin' });
    for (const headers of [demoted.apiKey, demoted.jwt, demoted.cookie]) await warmOnB(USERS_LIST, headers);

    expect((await call(a, 'PATCH', `/api/v1/users/${demoted.user.id}`, admin.cookie, { role: 'user' })).statusCode).toBe(200);

    await expectOnB(USERS_LIST, demoted.apiKey, 403);
    await expectOnB(USERS_LIST, demoted.jwt, 403);
    await expectOnB(USERS_LIST, demoted.cookie, 403);
  });

  it('a key revoked through A is refused by B', async () => {
    const owner = await makePrincipals(a);
    const key = await makeApiKey(a, owner.cookie, { scopes: ['account:self'] });
    await warmOnB(ME, key.headers);
    expect((await call(a, 'DELETE', `/api/v1/api-keys/${key.id}`, owner.cookie)).statusCode).toBe(204);
    await expectOnB(ME, key.headers, 401);
    // The owner's other credentials are unaffected.
    expect(await onB(ME, owner.apiKey)).toBe(200);
  });

  it("a group's permissions changed through A apply to members on B", async () => {
    const group = await makeGroup(a, admin.cookie, { name: uniqueName('cluster-readers'), permissions: ['users:read'] });
    const member = await makePrincipals(a);
    await setMember(a, admin.cookie, group.id, member.user.id, true);
    await warmOnB(USERS_LIST, member.jwt);
    expect((await call(a, 'PATCH', `/api/v1/groups/${group.id}`, admin.cookie, { permissions: [] })).statusCode).toBe(200);
    await expectOnB(USERS_LIST, member.jwt, 403);
  });

  it('a user deleted through A gets 401 (never 500) on B', async () => {
    const doomed = await makePrincipals(a);
    for (const headers of [doomed.apiKey, doomed.jwt, doomed.cookie]) await warmOnB(ME, headers);
    expect((await call(a, 'DELETE', `/api/v1/users/${doomed.user.id}`, admin.cookie)).statusCode).toBe(204);
    await expectOnB(ME, doomed.apiKey, 401);
    await expectOnB(ME, doomed.jwt, 401);
    await expectOnB(ME, doomed.cookie, 401);
  });
});
