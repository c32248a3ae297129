/**
 * Clients that keep presenting bad credentials are throttled per IP even though their requests
 * never reach the (post-authentication) request limits.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, loginCookie, makeUser, type TestContext } from '../helpers/harness.js';

describe.each(dialects)('failed-authentication guard (%s)', (dialect) => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext(dialect, { env: { RATE_LIMIT_IP_PER_MINUTE: '5' } });
  });
  afterAll(async () => {
    await ctx?.close();
  });

  it('answers 429 to an IP after its 401s use up the per-minute budget, and spares other IPs', async () => {
    const attacker = '203.0.113.7';
    const forged = { authorization: 'Bearer gh_aaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb' };
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      const res = await ctx.app.inject({ url: '/api/v1/users/me', headers: forged, remoteAddress: attacker });
      statuses.push(res.statusCode);
    }
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5)).toEqual([429, 429]);
    const refused = await ctx.app.inject({ url: '/api/v1/users/me', headers: forged, remoteAddress: attacker });
    expect(refused.headers['retry-after']).toBeDefined();
    expect(refused.json()).toMatchObject({ status: 429, code: 'rate_limited' });

    // Another IP with valid credentials is unaffected.
    const user = await makeUser(ctx);
    const cookie = await loginCookie(ctx, user);
    const ok = await ctx.app.inject({ url: '/api/v1/users/me', headers: { cookie }, remoteAddress: '198.51.100.9' });
    expect(ok.statusCode).toBe(200);
  });
});
