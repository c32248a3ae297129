/**
 * The worker protocol is exempt from the per-user request limit and the API quota (a fleet of
 * workers makes thousands of calls a minute); ordinary routes of the same key stay limited.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, type TestContext } from '../helpers/harness.js';
import { call, type Cast, claim, createQueue, JOBS_ENV, makeCast } from './job-fixtures.js';

describe.each(dialects)('worker protocol and request limits (%s)', (dialect) => {
  let ctx: TestContext;
  let cast: Cast;

  beforeAll(async () => {
    ctx = await createTestContext(dialect, { env: { ...JOBS_ENV, RATE_LIMIT_USER_PER_MINUTE: '40' } });
    cast = await makeCast(ctx);
  });
  afterAll(async () => {
    await ctx?.close();
  });

  it('never answers a worker call with 429, while the same key is limited elsewhere', async () => {
    await createQueue(ctx, cast.admin, { name: 'limited' });
    const worker = await cast.newWorker();
    for (let i = 0; i < 60; i++) expect((await claim(ctx, worker.headers, { queues: ['limited'] })).statusCode).toBe(204);
    const statuses = new Set<number>();
    for (let i = 0; i < 60; i++) statuses.add((await call(ctx, 'GET', '/api/v1/users/me', worker.headers)).statusCode);
    expect(statuses.has(429)).toBe(true);
  });
});
