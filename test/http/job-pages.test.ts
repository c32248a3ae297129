/**
 * The job pages are the web app's: /jobs and /jobs/{id} (and /sign-in?next=/jobs) answer its
 * index.html under the app's strict CSP, and the legacy server page script /assets/jobs.js is
 * gone. The pages' behaviour in a browser is test/web/admin.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, type TestContext } from '../helpers/harness.js';

describe.each(dialects)('job pages (%s)', (dialect) => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext(dialect);
  });
  afterAll(async () => {
    await ctx?.close();
  });

  it('GET /jobs, /jobs/{id} and /sign-in?next=/jobs are the web app (index.html), and the legacy jobs.js is gone', async () => {
    for (const url of ['/jobs', '/jobs/0190f3a4-1b2c-7d3e-8f40-123456789abc', '/sign-in?next=/jobs']) {
      const res = await ctx.request({ url });
      expect(res.statusCode, url).toBe(200);
      expect(res.body).toContain('<div id="root"></div>');
      expect(res.body).not.toContain('/assets/jobs.js');
      const csp = String(res.headers['content-security-policy']);
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
    }
    expect((await ctx.request({ url: '/assets/jobs.js' })).statusCode).toBe(404);
  });
});
