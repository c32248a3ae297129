/**
 * Two Gatehouse instances on one database (several servers on PostgreSQL, or the server and the
 * CLI on one SQLite file): a revocation made through one must be honoured by the other even
 * though both cache sessions in memory.
 */
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { createGatehouse, type Gatehouse } from '../../src/container.js';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, loginCookie, makeUser, passwordGrant, PUBLIC_URL, type TestContext } from '../helpers/harness.js';

/** Polls `probe` until it returns true; resolves with the milliseconds it took. */
async function within(ms: number, probe: () => Promise<boolean>): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (await probe()) return performance.now() - start;
    if (performance.now() - start > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

describe.each(dialects)('auth changes across instances (%s)', (dialect) => {
  let a: TestContext;
  let b: { gatehouse: Gatehouse; app: FastifyInstance };

  beforeAll(async () => {
    a = await createTestContext(dialect);
    const gatehouse = await createGatehouse(a.config, { clock: a.clock, logger: pino({ level: 'silent' }) });
    b = { gatehouse, app: await buildApp(gatehouse) };
  });
  afterAll(async () => {
    await b?.app.close();
    await b?.gatehouse.close();
    await a?.close();
  });

  // Each request reaches B in an event-loop turn of its own, as one over a socket does: B asks
  // SQLite's data_version at most once per turn (AuthCache.fresh), and in-process inject would
  // otherwise run A's commit and B's request in one chain of microtasks.
  const meOnB = async (headers: Record<string, string>) => {
    await new Promise((resolve) => setImmediate(resolve));
    return b.app.inject({ url: '/api/v1/users/me', headers });
  };

  it('a logout on one instance ends the cookie session on the other', async () => {
    const user = await makeUser(a);
    const cookie = await loginCookie(a, user);
    expect((await meOnB({ cookie })).statusCode).toBe(200);
    expect((await meOnB({ cookie })).statusCode).toBe(200); // now served from B's cache

    const logout = await a.request({ method: 'POST', url: '/api/v1/auth/logout', headers: { cookie } });
    expect(logout.statusCode).toBe(204);

    if (dialect === 'sqlite') {
      // SQLite: data_version changes at commit, so B's very next request sees it.
      expect((await meOnB({ cookie })).statusCode).toBe(401);
    } else {
      // PostgreSQL: NOTIFY is delivered right after commit; allow its loopback latency.
      const ms = await within(500, async () => (await meOnB({ cookie })).statusCode === 401);
      expect(ms).toBeLessThan(500);
    }
  });

  it('a password change on one instance revokes the bearer tokens cached by the other', async () => {
    const user = await makeUser(a);
    const other = await passwordGrant(a, user);
    const current = await loginCookie(a, user);
    const bearer = { authorization: `Bearer ${other.access_token}` };
    expect((await meOnB(bearer)).statusCode).toBe(200);
    expect((await meOnB(bearer)).statusCode).toBe(200);

    const change = await a.request({
      method: 'POST',
      url: '/api/v1/auth/password/change',
      headers: { cookie: current, origin: PUBLIC_URL },
      payload: { current_password: user.password, new_password: 'another-harbour-lantern-77' },
    });
    expect(change.statusCode).toBe(204);
    await within(500, async () => (await meOnB(bearer)).statusCode === 401);
    // The session that changed the password stays valid on both instances.
    expect((await meOnB({ cookie: current })).statusCode).toBe(200);
  });

  it('a profile change on one instance is visible on the other', async () => {
    const user = await makeUser(a);
    const cookie = await loginCookie(a, user);
    expect((await meOnB({ cookie })).json().name).toBe('Test User');
    const patch = await a.request({ method: 'PATCH', url: '/api/v1/users/me', headers: { cookie }, payload: { name: 'Renamed' } });
    expect(patch.statusCode).toBe(200);
    await within(500, async () => (await meOnB({ cookie })).json().name === 'Renamed');
  });
});
