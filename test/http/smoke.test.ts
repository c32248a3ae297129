import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, loginCookie, makeUser, type TestContext } from '../helpers/harness.js';

describe.each(dialects)('smoke (%s)', (dialect) => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext(dialect);
  });
  afterAll(async () => {
    await ctx?.close();
  });

  it('serves /users/me for a logged-in user', async () => {
    const user = await makeUser(ctx);
    const cookie = await loginCookie(ctx, user);
    const res = await ctx.request({ url: '/api/v1/users/me', headers: { cookie } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ email: user.email, email_verified: true, role: 'user' });
  });
});
