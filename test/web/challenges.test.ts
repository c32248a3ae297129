/**
 * The challenge pages in Chromium against a real server whose built-in `score-predictions`
 * worker (a worker thread claiming over HTTP) evaluates submissions: an admin seeds a challenge
 * (Markdown description with HTML that must stay text, a public resource and a hidden reference)
 * through the API; Bob and Cy are scored before Ann arrives. Ann, signed in, finds the challenge
 * in the list, reads the description, downloads the resource, joins, submits a predictions file
 * with the evaluation queue paused (her submission shows "Evaluating" at 0 %), and when the queue
 * resumes watches it become scored live, without a reload; the leaderboard then ranks her equal
 * first with Bob (the same score: shared rank 1, Cy 3rd) with her own row highlighted.
 * Signed-out visitors are asked to sign in; an unknown slug shows a not-found page. axe on every
 * page; screenshots at 1280 and 360 px (and dark for the detail page).
 *
 * SQLite only, like the other browser tests: the API tests (test/challenges) cover PostgreSQL.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ChallengeService } from '../../src/challenges/challenges.service.js';
import { expectNoSeriousA11yViolations, screenshot } from '../helpers/axe.js';
import { chromiumAvailable, launchChromium } from '../helpers/browser.js';
import { createTestContext, type Fixture, makeUser, type TestContext } from '../helpers/harness.js';
import { freePort } from '../helpers/server-process.js';

const SLUG = 'animals';
const TITLE = 'Animal labels';
const DESCRIPTION = [
  '# Task',
  '',
  'Label each **animal** in the test set. See [the rules](https://example.org/rules).',
  '',
  '## Data',
  '',
  '| file | rows |',
  '|---|---|',
  '| train.csv | 4 |',
  '',
  '<img src=x onerror="window.__xss=1"> <script>window.__xss=2</script> [bad link](javascript:window.__xss=3)',
].join('\n');
/** The hidden reference: 8 items, 3 labels. */
const REFERENCE = 'id,label\n1,cat\n2,cat\n3,cat\n4,dog\n5,dog\n6,dog\n7,bird\n8,bird\n';
const TRAIN = 'id,label\n1,cat\n4,dog\n7,bird\n';
/** 6 of 8 right: accuracy 0.75. */
const ANN = 'id,label\n1,cat\n2,cat\n3,cat\n4,dog\n5,dog\n6,dog\n7,cat\n8,dog\n';
/** Also 6 of 8 right, submitted earlier: ranked first, Ann shares the rank. */
const BOB = 'id,label\n1,dog\n2,cat\n3,cat\n4,cat\n5,dog\n6,dog\n7,bird\n8,bird\n';
/** 4 of 8 right: accuracy 0.5, third. */
const CY = 'id,label\n1,cat\n2,dog\n3,cat\n4,dog\n5,cat\n6,dog\n8,dog\n99,cat\n';

type Headers = Record<string, string>;

describe.runIf(chromiumAvailable())('the challenge pages in Chromium', () => {
  let ctx: TestContext;
  let base: string;
  let browser: Browser;
  let admin: Headers;
  let ann: Fixture;
  let resourceId: string;

  /** Logs in through the API from this site's origin; returns cookie + origin headers. */
  async function cookieHeaders(who: Fixture): Promise<Headers> {
    const res = await ctx.request({ method: 'POST', url: '/api/v1/auth/login', headers: { origin: base }, payload: { email: who.email, password: who.password } });
    expect(res.statusCode, res.body).toBe(200);
    const cookie = res.cookies.find((c) => c.name === ctx.config.auth.cookieName);
    if (!cookie) throw new Error('login set no session cookie');
    return { cookie: `${cookie.name}=${cookie.value}`, origin: base };
  }

  /** JSON call over real HTTP. */
  async function call<T>(method: string, url: string, headers: Headers, body?: unknown): Promise<T> {
    const res = await fetch(`${base}${url}`, {
      method,
      headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** A multipart POST (fetch's own encoder); `[name, value]` fields and `[name, content, filename]` files. */
  async function postForm<T>(url: string, headers: Headers, parts: Array<[string, string] | [string, string, string]>): Promise<T> {
    const form = new FormData();
    for (const part of parts) {
      if (part.length === 2) form.append(part[0], part[1]);
      else form.append(part[0], new Blob([part[1]], { type: 'text/csv' }), part[2]);
    }
    const res = await fetch(`${base}${url}`, { method: 'POST', body: form, headers });
    const text = await res.text();
    if (!res.ok) throw new Error(`POST ${url}: ${res.status} ${text}`);
    return JSON.parse(text) as T;
  }

  /** A participant who joins and submits through the API; resolves once the submission is scored. */
  async function scoredParticipant(name: string, csv: string): Promise<void> {
    const headers = await cookieHeaders(await makeUser(ctx, { name }));
    await call('POST', `/api/v1/challenges/${SLUG}/participants`, headers);
    const submission = await postForm<{ id: string }>(`/api/v1/challenges/${SLUG}/submissions`, headers, [['file', csv, 'predictions.csv']]);
    await vi.waitFor(
      async () => {
        const { state } = await call<{ state: string }>('GET', `/api/v1/submissions/${submission.id}`, headers);
        if (state !== 'scored') throw new Error(`${name}'s submission is ${state}`);
      },
      { timeout: 60_000, interval: 100 },
    );
  }

  /** A browser context signed in as `who` through `POST /api/v1/auth/login` (the cookie lands in the context). */
  async function signedIn(who: Fixture, options: Parameters<Browser['newContext']>[0] = {}): Promise<BrowserContext> {
    const context = await browser.newContext(options);
    const res = await context.request.post(`${base}/api/v1/auth/login`, { data: { email: who.email, password: who.password }, headers: { origin: base } });
    expect(res.status()).toBe(200);
    return context;
  }

  /** Collects console errors and uncaught exceptions of a page. */
  function watchErrors(page: Page): string[] {
    const errors: string[] = [];
    page.on('console', (message) => {
      // Signed-out GET /users/me answers 401 and an unknown slug 404: Chromium logs both.
      if (message.type() === 'error' && !/status of (401|404)/.test(message.text())) errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(error.message));
    return errors;
  }

  const heading = (page: Page) => page.getByRole('heading', { level: 1 }).textContent();

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    ctx = await createTestContext('sqlite', { env: { PUBLIC_URL: base, BUILTIN_WORKERS: 'score-predictions' } });
    await ctx.app.listen({ port, host: '127.0.0.1' });
    // What a running server does after listening: relay evaluation progress, run the built-in worker.
    await ctx.gatehouse.moduleServices<ChallengeService>('challenges').startProgressRelay();
    await ctx.gatehouse.builtinWorkers.start(base);

    admin = await cookieHeaders(await makeUser(ctx, { role: 'admin', name: 'Organiser' }));
    await call('POST', '/api/v1/challenges', admin, {
      slug: SLUG,
      title: TITLE,
      description: DESCRIPTION,
      evaluators: [{ kind: 'score-predictions', queue: 'evaluations' }],
      leaderboard: { score: 'accuracy', direction: 'desc' },
    });
    resourceId = (await postForm<{ id: string }>(`/api/v1/challenges/${SLUG}/resources`, admin, [['name', 'train.csv'], ['file', TRAIN, 'train.csv']])).id;
    await postForm(`/api/v1/challenges/${SLUG}/resources`, admin, [['name', 'reference.csv'], ['hidden', 'true'], ['file', REFERENCE, 'reference.csv']]);
    // Bob first (0.75), then Cy (0.5): Ann's later 0.75 ties with Bob.
    await scoredParticipant('Bob', BOB);
    await scoredParticipant('Cy', CY);
    ann = await makeUser(ctx, { name: 'Ann' });
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await ctx?.gatehouse.moduleServices<ChallengeService>('challenges').stopProgressRelay();
    await ctx?.close();
  });

  it('a participant finds the challenge, joins, submits, watches the evaluation live and sees her tied row highlighted', async () => {
    const context = await signedIn(ann, { viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    const errors = watchErrors(page);

    // The list, reached from the main navigation.
    await page.goto(`${base}/`);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Challenges' }).click();
    await expect.poll(() => heading(page)).toBe('Challenges');
    await page.getByRole('link', { name: TITLE }).waitFor();
    expect(await page.getByText('Open', { exact: true }).count()).toBe(1);
    expect(await page.getByText('Label each animal in the test set. See the rules.').count()).toBe(1);
    await expectNoSeriousA11yViolations(page);
    await screenshot(page, 'challenges-list-1280');

    // The detail page: Markdown rendered, its HTML shown as text and never run.
    await page.getByRole('link', { name: TITLE }).click();
    await expect.poll(() => heading(page)).toBe(TITLE);
    expect(await page.title()).toContain(TITLE);
    await page.getByRole('heading', { level: 2, name: 'Task' }).waitFor();
    expect(await page.getByRole('heading', { level: 3, name: 'Data' }).count()).toBe(1);
    expect(await page.locator('.markdown strong').textContent()).toBe('animal');
    expect(await page.getByRole('link', { name: 'the rules' }).getAttribute('href')).toBe('https://example.org/rules');
    expect(await page.locator('.markdown table td').first().textContent()).toBe('train.csv');
    expect(await page.locator('.markdown img, .markdown script').count()).toBe(0);
    expect(await page.locator('.markdown').textContent()).toContain('<img src=x onerror="window.__xss=1">');
    expect((await page.getByRole('link', { name: 'bad link' }).getAttribute('href')) ?? '').not.toContain('javascript');
    expect(await page.evaluate('window.__xss')).toBeUndefined();

    // Resources: the public file with its size, downloadable; the hidden reference not listed.
    const download = page.getByRole('link', { name: `Download train.csv (${Buffer.byteLength(TRAIN)} B)` });
    expect(await download.getAttribute('href')).toBe(`/api/v1/files/${resourceId}`);
    const downloaded = await page.request.get(`${base}/api/v1/files/${resourceId}`);
    expect(downloaded.status()).toBe(200);
    expect(await downloaded.text()).toBe(TRAIN);
    expect(await page.getByRole('row', { name: /train\.csv/ }).getByRole('cell', { name: `${Buffer.byteLength(TRAIN)} B`, exact: true }).count()).toBe(1);
    expect(await page.getByText('reference.csv').count()).toBe(0);

    // The leaderboard before Ann: Bob and Cy; nobody's row is highlighted.
    await page.getByRole('row', { name: /Bob/ }).waitFor();
    expect(await page.locator('tr[aria-current]').count()).toBe(0);

    // Join, then submitting without a file says so inline.
    await page.getByRole('button', { name: 'Join challenge' }).click();
    await page.getByLabel('Prediction files').waitFor();
    await page.getByRole('button', { name: 'Submit', exact: true }).click();
    expect(await page.getByRole('alert').textContent()).toBe('Choose a file to submit.');
    expect(await page.getByText('You have not submitted yet.').count()).toBe(1);

    // Submit with the evaluation queue paused: the submission waits at 0 %.
    await call('POST', '/api/v1/queues/evaluations/pause', admin);
    await page.getByLabel('Prediction files').setInputFiles({ name: 'predictions.csv', mimeType: 'text/csv', buffer: Buffer.from(ANN) });
    await page.getByRole('button', { name: 'Submit', exact: true }).click();
    await page.getByText('Submission received; its evaluation is shown below.').waitFor();
    const mine = page.locator('li.submission').first();
    await mine.getByText('Evaluating').waitFor();
    expect(await mine.getByRole('progressbar', { name: /score-predictions: 0%/ }).count()).toBe(1);
    await screenshot(page, 'challenges-detail-evaluating-1280');

    // The page learns of every change from the socket from now on: mark it to prove no reload happens.
    await page.evaluate('window.__sameDocument = true');
    await call('POST', '/api/v1/queues/evaluations/resume', admin);
    await mine.getByText('Scored').waitFor({ timeout: 60_000 });
    expect(await mine.locator('dl.scores').innerText()).toMatch(/accuracy\s+0\.75/);
    expect(await page.evaluate('window.__sameDocument')).toBe(true);

    // The leaderboard refreshed live: Bob and Ann share rank 1 (Bob submitted first), Cy is 3rd; Ann's row is hers.
    const own = page.locator('tr[aria-current="true"]');
    await own.waitFor();
    const rows = page.getByRole('table', { name: 'Leaderboard' }).locator('tbody tr');
    await expect.poll(() => rows.count()).toBe(3);
    const cells = async (index: number) => (await rows.nth(index).locator('th, td').allInnerTexts()).slice(0, 3).map((t) => t.trim());
    expect(await cells(0)).toEqual(['1 (tie)', 'Bob', '0.75']);
    expect(await cells(1)).toEqual(['1 (tie)', 'Ann You', '0.75']);
    expect(await cells(2)).toEqual(['3', 'Cy', '0.5']);
    expect(await rows.nth(1).getAttribute('aria-current')).toBe('true');
    expect(await rows.nth(1).getAttribute('class')).toBe('highlight');
    // The highlight is visible: another background than the rows of others.
    const background = async (index: number) => String(await page.evaluate(`getComputedStyle(document.querySelectorAll('.leaderboard tbody tr')[${index}].querySelector('td')).backgroundColor`));
    expect(await background(1)).not.toBe(await background(0));

    await expectNoSeriousA11yViolations(page);
    await screenshot(page, 'challenges-detail-1280');
    expect(errors).toEqual([]);
    await context.close();
  }, 120_000);

  it('works at 360 px and in dark mode, with no sideways scrolling', async () => {
    for (const colorScheme of ['light', 'dark'] as const) {
      const context = await signedIn(ann, { viewport: { width: 360, height: 800 }, colorScheme });
      const page = await context.newPage();
      page.setDefaultTimeout(15_000);
      const errors = watchErrors(page);
      for (const [path, title, name] of [
        ['/challenges', 'Challenges', 'challenges-list'],
        [`/challenges/${SLUG}`, TITLE, 'challenges-detail'],
      ] as const) {
        await page.goto(`${base}${path}`);
        await expect.poll(() => heading(page)).toBe(title);
        if (path !== '/challenges') await page.locator('tr[aria-current="true"]').waitFor();
        else await page.getByRole('link', { name: TITLE }).waitFor();
        expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth'), `${path} ${colorScheme}`).toBe(true);
        if (colorScheme === 'dark') await expectNoSeriousA11yViolations(page);
        await screenshot(page, `${name}-360-${colorScheme}`);
      }
      expect(errors).toEqual([]);
      await context.close();
    }
  }, 60_000);

  it('signed out: the page asks to sign in; an unknown challenge is a not-found page', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    const errors = watchErrors(page);
    await page.goto(`${base}/challenges/${SLUG}`);
    await expect.poll(() => heading(page)).toBe(TITLE);
    const signIn = page.getByRole('main').getByRole('link', { name: 'Sign in' });
    expect(await signIn.getAttribute('href')).toBe(`/sign-in?next=${encodeURIComponent(`/challenges/${SLUG}`)}`);
    expect(await page.getByRole('button', { name: 'Join challenge' }).count()).toBe(0);
    await page.getByRole('row', { name: /Ann/ }).waitFor();
    expect(await page.locator('tr[aria-current]').count()).toBe(0);
    await expectNoSeriousA11yViolations(page);
    await screenshot(page, 'challenges-detail-signed-out-1280');

    await page.goto(`${base}/challenges/no-such-challenge`);
    await expect.poll(() => heading(page)).toBe('Challenge not found');
    expect(await page.getByRole('alert').textContent()).toContain('no-such-challenge');
    await page.getByRole('link', { name: 'All challenges' }).click();
    await expect.poll(() => heading(page)).toBe('Challenges');
    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);
});
