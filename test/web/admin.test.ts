/**
 * The admin dashboard and the job pages in Chromium, against one real server (SQLite; the API
 * tests cover PostgreSQL): an admin bans a user in the users table and finds the ban in the audit
 * log; pauses and resumes a queue and watches a job's progress bar move live while a worker
 * drives it over HTTP; the job page (ported from the legacy server page) follows progress, log,
 * completion and result live, cancels a running job and lists "My jobs"; a campaign's charts
 * and counts update live while the built-in worker runs it; a scheduled task runs on "Run now";
 * the outbox lists messages and retries one. axe on every page; a screenshot of each.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoSeriousA11yViolations, screenshot } from '../helpers/axe.js';
import { chromiumAvailable, launchChromium } from '../helpers/browser.js';
import { createTestContext, type Fixture, makeApiKey, makeUser, type TestContext } from '../helpers/harness.js';
import { freePort } from '../helpers/server-process.js';
import { claim, createQueue, enqueue, type Headers, JOBS_ENV, workerCall } from '../jobs/job-fixtures.js';

/** `expect.poll` with a timeout for a loaded CI machine (its default is 1 s). */
function poll<T>(read: () => T | Promise<T>, timeout = 15_000) {
  return expect.poll(read, { timeout });
}

describe.runIf(chromiumAvailable())('admin dashboard in Chromium', () => {
  let ctx: TestContext;
  let browser: Browser;
  let base: string;
  let adminApi: Headers;
  let admin: BrowserContext;
  let owner: Fixture;
  let ownerApi: Headers;
  let ownerBrowser: BrowserContext;
  let workerUser: Headers;
  const queue = 'render';

  /** Logs `who` in through the API from this site's origin; returns the `Cookie` header value. */
  async function loginCookie(who: Fixture): Promise<string> {
    const res = await ctx.request({ method: 'POST', url: '/api/v1/auth/login', headers: { origin: base }, payload: { email: who.email, password: who.password } });
    expect(res.statusCode, res.body).toBe(200);
    const cookie = res.cookies.find((c) => c.name === ctx.config.auth.cookieName);
    if (!cookie) throw new Error('login set no session cookie');
    return `${cookie.name}=${cookie.value}`;
  }

  /** A browser context signed in as `who` (the session cookie from an API login). */
  async function signedIn(who: Fixture, options: Parameters<Browser['newContext']>[0] = {}): Promise<BrowserContext> {
    const cookie = await loginCookie(who);
    const context = await browser.newContext(options);
    const [name, value] = cookie.split('=') as [string, string];
    await context.addCookies([{ name, value, url: base }]);
    return context;
  }

  async function open(context: BrowserContext, path: string): Promise<Page> {
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    await page.goto(`${base}${path}`);
    return page;
  }

  async function newWorker(): Promise<Headers> {
    return (await makeApiKey(ctx, workerUser, { scopes: ['jobs:claim', 'account:self'], name: 'browser-test worker' })).headers;
  }

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    ctx = await createTestContext('sqlite', {
      env: { ...JOBS_ENV, PUBLIC_URL: base, BUILTIN_WORKERS: 'channel-moe', BUILTIN_WORKER_THREADS: '1' },
    });
    await ctx.app.listen({ port, host: '127.0.0.1' });
    browser = await launchChromium();

    const adminUser = await makeUser(ctx, { role: 'admin', name: 'Ada Admin' });
    adminApi = { cookie: await loginCookie(adminUser), origin: base };
    admin = await signedIn(adminUser);
    await createQueue(ctx, adminApi, { name: queue, lease_seconds: 60 });
    owner = await makeUser(ctx, { name: 'Owner' });
    ownerApi = { cookie: await loginCookie(owner), origin: base };
    ownerBrowser = await signedIn(owner);
    workerUser = { cookie: await loginCookie(await makeUser(ctx, { role: 'worker' })), origin: base };
  }, 60_000);
  afterAll(async () => {
    await ctx?.gatehouse.builtinWorkers.stop();
    await browser?.close();
    await ctx?.close();
  });

  it('an admin bans a user in the users table and sees the ban in the audit log', async () => {
    const victim = await makeUser(ctx, { name: 'Mallory Spammer' });
    const page = await open(admin, '/admin');
    await poll(() => page.getByRole('link', { name: 'Admin', exact: true }).isVisible()).toBe(true);
    await expectNoSeriousA11yViolations(page);
    await screenshot(page, 'admin-home');
    await page.getByRole('link', { name: 'Users' }).click();
    await page.waitForURL(`${base}/admin/users`);
    await page.getByRole('searchbox', { name: 'Search' }).fill('mallory');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    const row = page.getByRole('row').filter({ hasText: victim.email });
    await poll(() => page.getByRole('row').count()).toBe(2); // header + the one match
    await expectNoSeriousA11yViolations(page);
    await screenshot(page, 'admin-users');

    await row.getByRole('button', { name: `Ban ${victim.email}` }).click();
    const dialog = page.getByRole('dialog', { name: `Ban ${victim.email}` });
    await dialog.getByLabel('Duration').selectOption({ label: '7 days' });
    await dialog.getByLabel('Reason').fill('Posting spam links');
    await expectNoSeriousA11yViolations(page);
    await dialog.getByRole('button', { name: 'Ban user' }).click();
    await poll(() => page.getByTestId(`status-${victim.email}`).innerText()).toBe('banned');
    expect(await row.innerText()).toContain('Posting spam links');
    await poll(() => page.getByRole('status').filter({ hasText: 'is banned' }).isVisible()).toBe(true);
    const res = await ctx.request({ method: 'GET', url: `/api/v1/users/${victim.id}`, headers: adminApi });
    expect(res.json()).toMatchObject({ ban_reason: 'Posting spam links' });

    // Filters: banned users only shows them; the ban shows in the audit log.
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.waitForURL(`${base}/admin/audit`);
    await page.getByRole('textbox', { name: 'Action' }).fill('user.ban');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    const entry = page.getByRole('row').filter({ hasText: victim.id });
    await poll(() => entry.count()).toBe(1);
    expect(await entry.innerText()).toContain('Posting spam links');
    expect(await entry.innerText()).toContain('user.ban');
    await expectNoSeriousA11yViolations(page);
    await screenshot(page, 'admin-audit');

    // Unban from the table.
    await page.goto(`${base}/admin/users`);
    await page.getByLabel('Banned', { exact: true }).selectOption('true');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByRole('button', { name: `Unban ${victim.email}` }).click();
    await poll(() => page.getByRole('status').filter({ hasText: 'no longer banned' }).isVisible()).toBe(true);

    // Role and group membership from the same table.
    const group = await ctx.request({ method: 'POST', url: '/api/v1/groups', headers: adminApi, payload: { name: 'moderators', description: 'Keep the peace' } });
    expect(group.statusCode, group.body).toBe(201);
    await page.getByRole('button', { name: 'Clear' }).click();
    await page.getByRole('searchbox', { name: 'Search' }).fill('mallory');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByRole('combobox', { name: `Role of ${victim.email}` }).selectOption('worker');
    await poll(() => page.getByRole('status').filter({ hasText: 'is now worker' }).isVisible()).toBe(true);
    await page.getByRole('button', { name: `Groups of ${victim.email}` }).click();
    const groups = page.getByRole('dialog', { name: `Groups of ${victim.email}` });
    await groups.getByRole('checkbox', { name: /moderators/ }).check();
    await poll(() => groups.getByRole('checkbox', { name: /moderators/ }).isChecked()).toBe(true);
    await expectNoSeriousA11yViolations(page);
    await groups.getByRole('button', { name: 'Done' }).click();
    await poll(() => page.getByRole('row').filter({ hasText: victim.email }).innerText()).toContain('moderators');
    expect((await ctx.request({ method: 'GET', url: `/api/v1/users/${victim.id}`, headers: adminApi })).json()).toMatchObject({ role: 'worker', groups: ['moderators'] });
    await page.setViewportSize({ width: 360, height: 800 });
    await screenshot(page, 'admin-users-360');
    await page.close();
  });

  it('pages the users table with next and previous', async () => {
    for (let i = 0; i < 21; i += 1) await makeUser(ctx, { name: `Pager Person ${i}` });
    const page = await open(admin, '/admin/users');
    await page.getByRole('searchbox', { name: 'Search' }).fill('pager person');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    // 20 rows of the 21 matches (and nothing else: the unfiltered page shows until the answer comes).
    await poll(() => page.getByRole('row').filter({ hasText: 'Pager Person' }).count()).toBe(20);
    expect(await page.getByRole('row').count()).toBe(21);
    const firstPage = await page.getByRole('table').innerText();
    await page.getByRole('button', { name: 'Next page' }).click();
    await poll(() => page.getByRole('row').count()).toBe(2);
    expect(await page.getByRole('button', { name: 'Next page' }).isDisabled()).toBe(true);
    await page.getByRole('button', { name: 'Previous page' }).click();
    await poll(() => page.getByRole('table').innerText()).toBe(firstPage);
    await page.close();
  });

  it('pauses and resumes a queue; a job\'s progress bar moves live in the queue\'s job list', async () => {
    const worker = await newWorker();
    const job = await enqueue(ctx, ownerApi, queue, { kind: 'render.frames' });
    const page = await open(admin, '/admin/queues');
    await page.getByRole('button', { name: `Pause queue ${queue}` }).click();
    await poll(() => page.getByTestId(`queue-status-${queue}`).innerText()).toBe('paused');
    await expectNoSeriousA11yViolations(page);
    await screenshot(page, 'admin-queues');
    expect((await claim(ctx, worker, { queues: [queue] })).statusCode).toBe(204);
    await page.getByRole('button', { name: `Resume queue ${queue}` }).click();
    await poll(() => page.getByTestId(`queue-status-${queue}`).innerText()).toBe('active');

    await page.getByRole('link', { name: queue, exact: true }).click();
    await page.waitForURL(`${base}/admin/queues/${queue}`);
    const bar = page.getByRole('progressbar', { name: `Progress of job ${job.id.slice(-12)}` });
    await poll(() => bar.getAttribute('value')).toBe('0');
    await poll(() => page.getByTestId('live-status').innerText()).toBe('live');
    const claimed = await claim(ctx, worker, { queues: [queue] });
    expect(claimed.statusCode, claimed.body).toBe(200);
    const attempt = claimed.json<{ attempt: number }>().attempt;
    const row = page.getByRole('row').filter({ hasText: job.id.slice(-12) });
    await poll(() => row.innerText()).toContain('running');
    await poll(() => page.getByTestId('count-running').innerText()).toBe('1');
    for (const progress of [0.3, 0.6]) {
      expect((await workerCall(ctx, worker, job.id, 'heartbeat', { attempt, progress, message: `step ${progress}` })).statusCode).toBe(200);
      await poll(() => bar.getAttribute('value')).toBe(String(progress));
      expect(await row.innerText()).toContain(`${progress * 100} %`);
    }
    await expectNoSeriousA11yViolations(page);
    await screenshot(page, 'admin-queue');
    // The state filter: only succeeded jobs, after the worker completes it.
    expect((await workerCall(ctx, worker, job.id, 'complete', { attempt, result: { ok: true } })).statusCode).toBe(200);
    await poll(() => row.innerText()).toContain('succeeded');
    await page.getByLabel('State').selectOption('queued');
    await poll(() => page.getByRole('row').filter({ hasText: job.id.slice(-12) }).count()).toBe(0);
    await page.getByLabel('State').selectOption('succeeded');
    await poll(() => page.getByRole('row').filter({ hasText: job.id.slice(-12) }).count()).toBe(1);
    await page.close();
  });

  it('the job page follows progress, log, completion and result live, without reloading', async () => {
    const worker = await newWorker();
    const job = await enqueue(ctx, ownerApi, queue, { kind: 'render.video', payload: { scene: 7 } });
    const page = await ownerBrowser.newPage();
    page.setDefaultTimeout(10_000);
    await page.goto(`${base}/jobs/${job.id}`);
    await poll(() => page.getByTestId('job-state').innerText()).toBe('queued');
    expect(await page.getByTestId('job-queue').innerText()).toBe(queue);
    expect(await page.getByTestId('job-kind').innerText()).toBe('render.video');
    expect(await page.getByRole('button', { name: 'Cancel' }).isVisible()).toBe(true);
    expect(await page.getByRole('button', { name: 'Retry' }).count()).toBe(0);
    await poll(() => page.getByTestId('live-status').innerText()).toBe('live');
    // A marker on the window: had the page reloaded, it would be gone.
    await page.evaluate(() => {
      (globalThis as unknown as { stillHere: boolean }).stillHere = true;
    });

    const claimed = await claim(ctx, worker, { queues: [queue] });
    expect(claimed.statusCode, claimed.body).toBe(200);
    const attempt = claimed.json<{ attempt: number }>().attempt;
    await poll(() => page.getByTestId('job-state').innerText()).toBe('running');
    expect(await page.getByTestId('job-attempt').innerText()).toBe(String(attempt));
    await poll(() => page.getByTestId('job-started').innerText()).not.toBe('—');

    const bar = page.getByRole('progressbar', { name: 'Progress' });
    for (const [progress, message] of [[0.25, 'decoding'], [0.5, 'rendering frames'], [0.75, 'encoding']] as const) {
      const beat = await workerCall(ctx, worker, job.id, 'heartbeat', { attempt, progress, message, metrics: { frames: progress * 100 } });
      expect(beat.statusCode, beat.body).toBe(200);
      await poll(() => bar.getAttribute('value')).toBe(String(progress));
      expect(await page.getByTestId('job-progress-message').innerText()).toBe(message);
      expect(await page.getByTestId('job-metrics').innerText()).toContain(String(progress * 100));
    }
    await expectNoSeriousA11yViolations(page);
    await screenshot(page, 'job-running');

    const log = await workerCall(ctx, worker, job.id, 'log', { attempt, lines: ['<b>not markup</b>', 'second line'] });
    expect(log.statusCode, log.body).toBe(204);
    await poll(() => page.getByTestId('job-events').innerText()).toContain('<b>not markup</b>');
    expect(await page.locator('[data-testid="job-events"] b').count()).toBe(0); // text, never HTML

    const done = await workerCall(ctx, worker, job.id, 'complete', { attempt, result: { frames: 42, url: 's3://out/7.mp4' } });
    expect(done.statusCode, done.body).toBe(200);
    await poll(() => page.getByTestId('job-state').innerText()).toBe('succeeded');
    await poll(() => page.getByTestId('job-result').innerText().catch(() => '')).toContain('"frames": 42');
    expect(await page.getByTestId('job-finished').innerText()).not.toBe('—');
    expect(await page.getByRole('group', { name: 'Job actions' }).count()).toBe(0);
    const events = await page.getByTestId('job-events').innerText();
    expect(events).toContain('queued → running');
    expect(events).toContain('succeeded (attempt 1)');
    expect(events).toMatch(/25 % — decoding[\s\S]*50 % — rendering frames[\s\S]*75 % — encoding/);
    expect(await page.evaluate(() => (globalThis as unknown as { stillHere?: boolean }).stillHere)).toBe(true);
    await page.close();
  });

  it('Cancel on a running job shows cancelled and the worker is told to cancel', async () => {
    const worker = await newWorker();
    const job = await enqueue(ctx, ownerApi, queue, { kind: 'render.video' });
    const claimed = await claim(ctx, worker, { queues: [queue] });
    const attempt = claimed.json<{ attempt: number }>().attempt;
    expect((await workerCall(ctx, worker, job.id, 'heartbeat', { attempt, progress: 0.1, message: 'started' })).json<{ command: string }>().command).toBe('continue');
    const page = await open(ownerBrowser, `/jobs/${job.id}`);
    await poll(() => page.getByTestId('job-state').innerText()).toBe('running');
    expect(await page.getByRole('button', { name: 'Resume' }).count()).toBe(0);
    await page.getByRole('button', { name: 'Cancel' }).click();
    await poll(() => page.getByTestId('job-state').innerText()).toBe('cancelled');
    await poll(() => page.getByRole('button', { name: 'Retry' }).isVisible()).toBe(true);
    expect(await page.getByRole('button', { name: 'Cancel' }).count()).toBe(0);
    const next = await workerCall(ctx, worker, job.id, 'heartbeat', { attempt, progress: 0.2 });
    expect(next.json<{ command: string }>().command).toBe('cancel');
    await poll(() => page.getByTestId('job-events').innerText()).toContain('running → cancelled');
    await page.close();
  });

  it('"My jobs" lists the owner\'s jobs with links; signed out or someone else\'s job: no job shown', async () => {
    const job = await enqueue(ctx, ownerApi, queue, { kind: 'listed.kind' });
    const page = await open(ownerBrowser, '/jobs');
    await page.getByRole('link', { name: job.id.slice(-12) }).click();
    await page.waitForURL(`${base}/jobs/${job.id}`);
    await poll(() => page.getByTestId('job-kind').innerText()).toBe('listed.kind');
    await page.goto(`${base}/jobs`);
    await poll(() => page.getByRole('heading', { level: 1 }).innerText()).toBe('My jobs');
    await expectNoSeriousA11yViolations(page);
    await screenshot(page, 'my-jobs');
    expect(await page.getByRole('link', { name: 'Admin', exact: true }).count()).toBe(0);
    await page.close();

    const anonymous = await browser.newContext();
    const signedOut = await open(anonymous, `/jobs/${job.id}`);
    await poll(() => signedOut.getByRole('link', { name: 'Sign in' }).first().isVisible()).toBe(true);
    expect(await signedOut.getByTestId('job-state').count()).toBe(0);
    await anonymous.close();

    const stranger = await signedIn(await makeUser(ctx, { name: 'Stranger' }));
    const other = await open(stranger, `/jobs/${job.id}`);
    await poll(() => other.getByRole('heading', { level: 1 }).innerText()).toBe('Job not found');
    await stranger.close();
  });

  it('a campaign\'s counts and best-value chart update live while the built-in worker runs it', async () => {
    const created = await ctx.request({
      method: 'POST',
      url: '/api/v1/campaigns',
      headers: adminApi,
      payload: { name: 'tiny channel', kind: 'channel-moe', runs: 4, objective: 'max', params: { d_in: 2, d_out: 2, n_kraus: 2, seed: 2026, restarts: 2, max_iterations: 200 } },
    });
    expect(created.statusCode, created.body).toBe(201);
    const id = created.json<{ id: string }>().id;
    const page = await open(admin, '/admin/campaigns');
    await page.getByRole('link', { name: 'tiny channel' }).click();
    await page.waitForURL(`${base}/admin/campaigns/${id}`);
    await poll(() => page.getByTestId('live-status').innerText()).toBe('live');
    await page.evaluate(() => {
      (globalThis as unknown as { stillHere: boolean }).stillHere = true;
    });
    expect(await page.getByTestId('best-chart').getAttribute('data-points')).toBe('0');
    expect(await page.getByTestId('campaign-counts').innerText()).toContain('0 of 4 runs completed');

    // The built-in worker starts only now: everything after this arrives on the open page.
    await ctx.gatehouse.builtinWorkers.start(base);
    await poll(() => page.getByTestId('campaign-status').innerText(), 60_000).toBe('complete');
    await poll(() => page.getByTestId('campaign-counts').innerText()).toContain('4 of 4 runs completed');
    await poll(() => page.getByTestId('runs-succeeded').innerText()).toBe('4');
    const points = Number(await page.getByTestId('best-chart').getAttribute('data-points'));
    expect(points).toBeGreaterThanOrEqual(1);
    expect(points).toBeLessThanOrEqual(4);
    expect(await page.locator('[data-testid="best-chart"] canvas').count()).toBe(1);
    const stats = (await ctx.request({ method: 'GET', url: `/api/v1/campaigns/${id}/stats`, headers: adminApi })).json<{ best_value: number; workers: Array<{ succeeded: number }> }>();
    expect(await page.getByTestId('best-value').innerText()).toBe(Number(stats.best_value.toPrecision(6)).toString());
    expect(await page.getByTestId('workers').innerText()).toContain(String(stats.workers[0]!.succeeded));
    expect(await page.evaluate(() => (globalThis as unknown as { stillHere?: boolean }).stillHere)).toBe(true);
    await expectNoSeriousA11yViolations(page);
    await screenshot(page, 'admin-campaign');
    await page.setViewportSize({ width: 360, height: 800 });
    await screenshot(page, 'admin-campaign-360');
    await page.close();

    const dark = await signedIn(await makeUser(ctx, { role: 'admin' }), { colorScheme: 'dark' });
    const darkPage = await open(dark, `/admin/campaigns/${id}`);
    await poll(() => darkPage.getByTestId('best-chart').getAttribute('data-points')).toBe(String(points));
    await expectNoSeriousA11yViolations(darkPage);
    await screenshot(darkPage, 'admin-campaign-dark');
    await dark.close();
  }, 120_000);

  it('runs a scheduled task now and shows its outcome', async () => {
    const page = await open(admin, '/admin/scheduled-tasks');
    const row = page.locator('tr[data-task="purge-tokens"]');
    await poll(() => row.innerText()).toContain('never');
    await expectNoSeriousA11yViolations(page);
    await page.getByRole('button', { name: 'Run purge-tokens now' }).click();
    await poll(() => page.getByRole('status').filter({ hasText: 'purge-tokens ran: success' }).isVisible()).toBe(true);
    await poll(() => page.getByTestId('outcome-purge-tokens').innerText()).toBe('success');
    const tasks = (await ctx.request({ method: 'GET', url: '/api/v1/scheduled-tasks', headers: adminApi })).json<{ items: Array<{ task: string; last_outcome: string }> }>();
    expect(tasks.items.find((t) => t.task === 'purge-tokens')?.last_outcome).toBe('success');
    await screenshot(page, 'admin-scheduled-tasks');
    await page.close();
  });

  it('lists the notification outbox by status and retries a pending message', async () => {
    // No Mattermost transport is configured here: the message stays pending.
    const id = await ctx.gatehouse.outbox.enqueueMessage(ctx.gatehouse.database.db, { channel: 'mattermost', recipient: 'ops', subject: 'Nightly report', body: JSON.stringify({ text: 'hidden body' }), template: 'test.report' });
    const page = await open(admin, '/admin/outbox');
    await page.getByLabel('Status').selectOption('pending');
    const row = page.getByRole('row').filter({ hasText: 'Nightly report' });
    await poll(() => row.count()).toBe(1);
    expect(await page.content()).not.toContain('hidden body');
    await expectNoSeriousA11yViolations(page);
    await screenshot(page, 'admin-outbox');
    ctx.clock.advance(120);
    await row.getByRole('button', { name: 'Retry “Nightly report” to ops' }).click();
    await poll(() => page.getByRole('status').filter({ hasText: 'will be sent again now' }).isVisible()).toBe(true);
    expect((await ctx.gatehouse.outbox.get(id))?.next_attempt_at).toBe(ctx.clock.now().toISOString());
    await page.getByLabel('Status').selectOption('sent');
    await poll(() => page.getByRole('row').filter({ hasText: 'Nightly report' }).count()).toBe(0);
    await page.close();
  });

  it('creates a challenge, uploads a resource and sees its (empty) submissions', async () => {
    const page = await open(admin, '/admin/challenges');
    await page.getByRole('link', { name: 'New challenge' }).click();
    await page.waitForURL(`${base}/admin/challenges/new`);
    await page.getByLabel('Slug').fill('admin-made');
    await page.getByLabel('Title').fill('Made in the dashboard');
    await page.getByLabel('Description (Markdown)').fill('Predict **well**.');
    await page.getByLabel('Evaluators').fill('score-predictions evaluations');
    await page.getByLabel('Leaderboard score').fill('accuracy');
    await expectNoSeriousA11yViolations(page);
    await screenshot(page, 'admin-challenge-new');
    await page.getByRole('button', { name: 'Create challenge' }).click();
    await page.waitForURL(`${base}/admin/challenges/admin-made`);
    await poll(() => page.getByRole('heading', { level: 1 }).innerText()).toBe('Challenge Made in the dashboard');

    await page.getByLabel('File').setInputFiles({ name: 'train.csv', mimeType: 'text/csv', buffer: Buffer.from('id,label\n1,0\n2,1\n') });
    await page.getByRole('button', { name: 'Upload resource' }).click();
    const resource = page.getByRole('row').filter({ hasText: 'train.csv' });
    await poll(() => resource.count()).toBe(1);
    expect(await resource.innerText()).toContain('17 B');
    await poll(() => page.getByText('No submissions.').isVisible()).toBe(true);
    const stored = (await ctx.request({ method: 'GET', url: '/api/v1/challenges/admin-made', headers: adminApi })).json<{ leaderboard: { score: string }; evaluators: unknown }>();
    expect(stored).toMatchObject({ leaderboard: { score: 'accuracy', direction: 'desc' }, evaluators: [{ kind: 'score-predictions', queue: 'evaluations' }] });

    // Edit: deactivate it.
    await page.getByText('Settings').click();
    await page.getByLabel('Active (accepts submissions)').uncheck();
    await page.getByRole('button', { name: 'Save changes' }).click();
    await poll(async () => (await ctx.request({ method: 'GET', url: '/api/v1/challenges/admin-made', headers: adminApi })).json<{ active: boolean }>().active).toBe(false);
    await expectNoSeriousA11yViolations(page);
    await screenshot(page, 'admin-challenge');
    await page.goto(`${base}/admin/challenges`);
    await poll(() => page.getByRole('link', { name: 'Made in the dashboard' }).isVisible()).toBe(true);
    await expectNoSeriousA11yViolations(page);
    await page.close();
  });
});
