/**
 * The HTML of /jobs and /jobs/{id} (and /sign-in, now the web app's): served to anyone with the pages' security headers,
 * looking nothing up (the script reads the API with the visitor's cookie), and 404 for a path
 * that cannot be a job id. Their behaviour in a browser is test/browser/job-page.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../helpers/dialects.js';
import { expectProblem } from '../helpers/http-assertions.js';
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

  it('GET /jobs/{id} is the page shell for any well-formed id, with its script', async () => {
    const id = '0190f3a4-1b2c-7d3e-8f40-123456789abc';
    const res = await ctx.request({ url: `/jobs/${id.toUpperCase()}` });
    expectPage(res);
    expect(res.body).toContain(`data-job-id="${id}"`);
    expect(res.body).toContain('<script src="/assets/jobs.js" defer></script>');
    for (const action of ['pause', 'resume', 'cancel', 'retry']) expect(res.body).toContain(`data-action="${action}"`);
  });

  it.each(['not-a-job', '0190f3a4-1b2c-7d3e-8f40-123456789abz', '%3Cscript%3E'])('GET /jobs/%s → 404 problem', async (bad) => {
    expectProblem(await ctx.request({ url: `/jobs/${bad}` }), 404, 'not_found');
  });

  it('GET /jobs answers with its page; /sign-in?next=/jobs with the web app', async () => {
    const list = await ctx.request({ url: '/jobs' });
    expectPage(list);
    expect(list.body).toContain('id="jobs-rows"');
    const signIn = await ctx.request({ url: '/sign-in?next=/jobs' });
    expect(signIn.statusCode).toBe(200);
    expect(signIn.body).toContain('<div id="root"></div>');
  });

  it('serves /assets/jobs.js, which follows /api/v1/events', async () => {
    const js = await ctx.request({ url: '/assets/jobs.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.body).toContain('/api/v1/events?topics=');
  });
});
