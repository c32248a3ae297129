/**
 * The job page in a real browser: a signed-in owner opens /jobs/{id} and watches a worker drive
 * the job over HTTP — each progress value, the log, the final state and the result appear without
 * a reload (Server-Sent Events). Pressing Cancel on a running job changes the state shown and the
 * worker's next heartbeat is told to cancel. Also: signed out → a sign-in link; someone else's
 * job → not found; /jobs lists the owner's jobs.
 *
 * SQLite only, like the other browser tests: the page talks to the same HTTP API and event
 * stream on both databases, which test/jobs and test/realtime cover on each.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium } from '../helpers/browser.js';
import { createTestContext, type Fixture, makeApiKey, makeUser, type TestContext } from '../helpers/harness.js';
import { type Headers, JOBS_ENV, claim, createQueue, enqueue, getJob, workerCall } from '../jobs/job-fixtures.js';
import { freePort } from '../helpers/server-process.js';

/** A free TCP port on 127.0.0.1 (PUBLIC_URL must name the listening origin for the CSRF check). */
describe.runIf(chromiumAvailable())('the job page in Chromium', () => {
  let ctx: TestContext;
  let browser: Browser;
  let base: string;
  let owner: Fixture;
  let ownerApi: Headers;
  let workerUser: Headers;
  let signedIn: BrowserContext;
  const queue = 'render';

  /** Logs in through the API from this site's origin; returns cookie headers for `call`. */
  async function cookieHeaders(who: Fixture): Promise<Headers & { cookieValue: string }> {
    const res = await ctx.request({ method: 'POST', url: '/api/v1/auth/login', headers: { origin: base }, payload: { email: who.email, password: who.password } });
    expect(res.statusCode, res.body).toBe(200);
    const cookie = res.cookies.find((c) => c.name === ctx.config.auth.cookieName);
    if (!cookie) throw new Error('login set no session cookie');
    return { cookie: `${cookie.name}=${cookie.value}`, origin: base, cookieValue: cookie.value };
  }

  /** A fresh worker (API key) per test, so one test's held job never makes another's worker busy. */
  async function newWorker(): Promise<Headers> {
    return (await makeApiKey(ctx, workerUser, { scopes: ['jobs:claim', 'account:self'], name: 'browser-test worker' })).headers;
  }

  /** Reads the job page's visible text of one element. */
  const text = (page: Page, selector: string) => page.locator(selector).innerText();

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    ctx = await createTestContext('sqlite', { env: { ...JOBS_ENV, PUBLIC_URL: base } });
    await ctx.app.listen({ port, host: '127.0.0.1' });

    const admin = await makeUser(ctx, { role: 'admin' });
    const { cookieValue: _a, ...adminHeaders } = await cookieHeaders(admin);
    await createQueue(ctx, adminHeaders, { name: queue, lease_seconds: 60 });
    owner = await makeUser(ctx, { name: 'Owner' });
    const { cookieValue: _o, ...ownerHeaders } = await cookieHeaders(owner);
    ownerApi = ownerHeaders;
    const { cookieValue: _w, ...workerHeaders } = await cookieHeaders(await makeUser(ctx, { role: 'worker' }));
    workerUser = workerHeaders;

    browser = await launchChromium();
    // Sign the browser in through the sign-in page, as a person would.
    signedIn = await browser.newContext();
    const page = await signedIn.newPage();
    page.setDefaultTimeout(8_000);
    await page.goto(`${base}/sign-in?next=/jobs`);
    await page.locator('#email').fill(owner.email);
    await page.locator('#password').fill(owner.password);
    await page.locator('#sign-in-form button').click();
    await page.waitForURL(`${base}/jobs`);
    await page.close();
  });
  afterAll(async () => {
    await browser?.close();
    await ctx?.close();
  });

  it('follows progress, log, completion and result live, without reloading', async () => {
    const worker = await newWorker();
    const job = await enqueue(ctx, ownerApi, queue, { kind: 'render.video', payload: { scene: 7 } });
    const page = await signedIn.newPage();
    page.setDefaultTimeout(8_000);
    let navigations = 0;
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) navigations += 1;
    });
    const response = await page.goto(`${base}/jobs/${job.id}`);
    expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");
    await expect.poll(() => text(page, '#job-state')).toBe('queued');
    expect(await text(page, '#job-queue')).toBe(queue);
    expect(await text(page, '#job-kind')).toBe('render.video');
    expect(await page.locator('button[data-action="cancel"]').isVisible()).toBe(true);
    expect(await page.locator('button[data-action="retry"]').isVisible()).toBe(false);
    await expect.poll(() => text(page, '#live')).toBe('live');
    await page.evaluate(() => {
      (globalThis as unknown as { stillHere: boolean }).stillHere = true;
    });

    const claimed = await claim(ctx, worker, { queues: [queue] });
    expect(claimed.statusCode, claimed.body).toBe(200);
    const attempt = claimed.json<{ attempt: number }>().attempt;
    await expect.poll(() => text(page, '#job-state')).toBe('running');
    expect(await text(page, '#job-attempt')).toBe(String(attempt));
    await expect.poll(() => text(page, '#job-started_at')).not.toBe('—');

    for (const [progress, message] of [[0.25, 'decoding'], [0.5, 'rendering frames'], [0.75, 'encoding']] as const) {
      const beat = await workerCall(ctx, worker, job.id, 'heartbeat', { attempt, progress, message, metrics: { frames: progress * 100 } });
      expect(beat.statusCode, beat.body).toBe(200);
      await expect.poll(() => text(page, '#job-progress-text')).toBe(`${progress * 100} %`);
      expect(await text(page, '#job-progress-message')).toBe(message);
      expect(await page.locator('#job-progress').evaluate((el) => (el as unknown as { value: number }).value)).toBe(progress);
      expect(await text(page, '#job-metrics')).toContain(String(progress * 100));
    }

    const log = await workerCall(ctx, worker, job.id, 'log', { attempt, lines: ['<b>not markup</b>', 'second line'] });
    expect(log.statusCode, log.body).toBe(204);
    await expect.poll(() => text(page, '#job-events')).toContain('<b>not markup</b>');
    expect(await page.locator('#job-events b').count()).toBe(0); // written as text, never as HTML

    const done = await workerCall(ctx, worker, job.id, 'complete', { attempt, result: { frames: 42, url: 's3://out/7.mp4' } });
    expect(done.statusCode, done.body).toBe(200);
    await expect.poll(() => text(page, '#job-state')).toBe('succeeded');
    await expect.poll(() => text(page, '#job-result')).toContain('"frames": 42');
    expect(await text(page, '#job-result')).toContain('s3://out/7.mp4');
    expect(await text(page, '#job-finished_at')).not.toBe('—');
    expect(await page.locator('.actions button:visible').count()).toBe(0);
    const events = await text(page, '#job-events');
    expect(events).toContain('queued → running');
    expect(events).toContain('succeeded (attempt 1)'); // completion events carry from: null
    expect(events).toMatch(/25 % — decoding[\s\S]*50 % — rendering frames[\s\S]*75 % — encoding/);

    // Every change arrived on the open page: no navigation after the first load, same window.
    expect(navigations).toBe(1);
    expect(await page.evaluate(() => (globalThis as unknown as { stillHere?: boolean }).stillHere)).toBe(true);
    await page.close();
  });

  it('Cancel on a running job shows cancelled and the worker is told to cancel', async () => {
    const worker = await newWorker();
    const job = await enqueue(ctx, ownerApi, queue, { kind: 'render.video' });
    const claimed = await claim(ctx, worker, { queues: [queue] });
    expect(claimed.statusCode, claimed.body).toBe(200);
    const attempt = claimed.json<{ attempt: number }>().attempt;
    const beat = await workerCall(ctx, worker, job.id, 'heartbeat', { attempt, progress: 0.1, message: 'started' });
    expect(beat.json<{ command: string }>().command).toBe('continue');

    const page = await signedIn.newPage();
    page.setDefaultTimeout(8_000);
    await page.goto(`${base}/jobs/${job.id}`);
    await expect.poll(() => text(page, '#job-state')).toBe('running');
    expect(await text(page, '#job-progress-text')).toBe('10 %');
    expect(await page.locator('button[data-action="resume"]').isVisible()).toBe(false);
    await page.locator('button[data-action="cancel"]').click();
    await expect.poll(() => text(page, '#job-state')).toBe('cancelled');
    await expect.poll(() => page.locator('button[data-action="retry"]').isVisible()).toBe(true);
    expect(await page.locator('button[data-action="cancel"]').isVisible()).toBe(false);
    expect(await page.locator('#status').isHidden()).toBe(true);

    const next = await workerCall(ctx, worker, job.id, 'heartbeat', { attempt, progress: 0.2 });
    expect(next.statusCode, next.body).toBe(200);
    expect(next.json<{ command: string }>().command).toBe('cancel');
    expect((await getJob(ctx, ownerApi, job.id)).job.state).toBe('cancelled');
    await expect.poll(() => text(page, '#job-events')).toContain('running → cancelled');
    await page.close();
  });

  it('lists the owner\'s jobs with links to their pages', async () => {
    const job = await enqueue(ctx, ownerApi, queue, { kind: 'listed.kind' });
    const page = await signedIn.newPage();
    page.setDefaultTimeout(8_000);
    await page.goto(`${base}/jobs`);
    const link = page.locator(`a[href="/jobs/${job.id}"]`);
    await link.click();
    await page.waitForURL(`${base}/jobs/${job.id}`);
    await expect.poll(() => text(page, '#job-kind')).toBe('listed.kind');
    await page.close();
  });

  it('signed out: a sign-in link; someone else\'s job: not found', async () => {
    const job = await enqueue(ctx, ownerApi, queue, { kind: 'private' });

    const anonymous = await browser.newContext();
    const page = await anonymous.newPage();
    page.setDefaultTimeout(8_000);
    await page.goto(`${base}/jobs/${job.id}`);
    await expect.poll(() => text(page, '#status')).toContain('not signed in');
    expect(await page.locator('#status a').getAttribute('href')).toBe(`/sign-in?next=${encodeURIComponent(`/jobs/${job.id}`)}`);
    expect(await page.locator('#job').isHidden()).toBe(true);
    await anonymous.close();

    const stranger = await makeUser(ctx, { name: 'Stranger' });
    const { cookieValue } = await cookieHeaders(stranger);
    const theirs = await browser.newContext();
    await theirs.addCookies([{ name: ctx.config.auth.cookieName, value: cookieValue, url: base }]);
    const other = await theirs.newPage();
    other.setDefaultTimeout(8_000);
    await other.goto(`${base}/jobs/${job.id}`);
    await expect.poll(() => text(other, '#status')).toContain('Job not found');
    expect(await other.locator('#job').isHidden()).toBe(true);
    await theirs.close();
  });
});
