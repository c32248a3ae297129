/**
 * The server-rendered /sign-in page (security headers, no inline script) and the job pages, now
 * the web app's: /jobs and /jobs/{id} answer its index.html and the legacy /assets/jobs.js is
 * gone. The job pages' behaviour in a browser is test/web/admin.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, type TestContext } from '../helpers/harness.js';

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

function expectPage(res: { statusCode: number; headers: Record<string, unknown>; body: string }): void {
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
  expect(res.headers['content-security-policy']).toBe(CSP);
  expect(res.headers['cache-control']).toBe('no-store');
  expect(res.body).toMatch(/^<!doctype html>/i);
  // No inline script or style: the CSP would block them.
  expect(res.body).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
  expect(res.body).not.toMatch(/\sstyle=/);
}

describe.each(dialects)('job pages (%s)', (dialect) => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext(dialect);
  });
  afterAll(async () => {
    await ctx?.close();
  });

  it('GET /jobs and /jobs/{id} are the web app\'s (index.html), and the legacy jobs.js is gone', async () => {
    for (const url of ['/jobs', '/jobs/0190f3a4-1b2c-7d3e-8f40-123456789abc']) {
      const res = await ctx.request({ url });
      expect(res.statusCode, url).toBe(200);
      expect(res.body).toContain('<div id="root">');
      expect(res.body).not.toContain('/assets/jobs.js');
    }
    expect((await ctx.request({ url: '/assets/jobs.js' })).statusCode).toBe(404);
  });

  it('GET /sign-in answers with its page', async () => {
    const signIn = await ctx.request({ url: '/sign-in?next=/jobs' });
    expectPage(signIn);
    expect(signIn.body).toContain('id="sign-in-form"');
    expect(signIn.body).toMatch(/<input id="password"[^>]*autocomplete="current-password"/);
  });
});
