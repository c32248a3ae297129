/**
 * Speech practice in the web app, in Chromium against a real server whose built-in worker
 * analyses the answers: upload a WAV → live analysis (the report arrives over the page's
 * WebSocket) → report with the numbers the analysis measured and its charts; record an answer
 * through Chromium's fake microphone (a known WAV) → report; the sessions list and the monthly
 * progress page. axe on every page; screenshots.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODULES } from '../../src/modules/index.js';
import { expectNoSeriousA11yViolations, screenshot } from '../helpers/axe.js';
import { CHROMIUM_PATH, chromiumAvailable } from '../helpers/browser.js';
import { createTestContext, loginCookie, makeUser, type TestContext } from '../helpers/harness.js';
import { freePort } from '../helpers/server-process.js';

const dir = mkdtempSync(join(tmpdir(), 'web-speech-test-'));
const QUESTION = 'Describe your favourite place';

describe.runIf(chromiumAvailable())('speech practice in the web app', () => {
  let ctx: TestContext;
  let base: string;
  let browser: Browser;
  let context: BrowserContext;
  const tones = join(dir, 'tones.wav');

  beforeAll(async () => {
    // 220 Hz tones with pauses of 0.6 s and 1.2 s (closed-form truth; test/speech/signals.py).
    const parts = [{ silence: 0.3 }, { tone: 220, seconds: 1.0, amp: 0.5 }, { silence: 0.6 }, { tone: 220, seconds: 1.0, amp: 0.25 }, { silence: 1.2 }, { tone: 220, seconds: 0.8, amp: 0.5 }, { silence: 0.2 }];
    execFileSync('/usr/bin/python3', [new URL('../speech/signals.py', import.meta.url).pathname, JSON.stringify([{ spec: { rate: 16000, parts }, out: tones }])]);
    // Transcription (PocketSphinx) is tested in test/speech; the worker threads copy this environment.
    process.env.SPEECH_TRANSCRIBE = 'off';
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    ctx = await createTestContext('sqlite', { env: { PUBLIC_URL: base, BUILTIN_WORKERS: 'speech-analysis', SPEECH_MAX_SECONDS: '30' }, modules: MODULES });
    await ctx.app.listen({ port, host: '127.0.0.1' });
    // As `gatehouse serve` does: the module's start creates its queue, and once the server listens
    // the built-in worker threads claim over HTTP.
    const speech = ctx.gatehouse.modules.find((m) => m.module.name === 'speech')!;
    await speech.module.start?.(speech.services);
    await ctx.gatehouse.builtinWorkers.start(base);
    const admin = await makeUser(ctx, { role: 'admin' });
    const adminCookie = await loginCookie(ctx, admin);
    const created = await ctx.request({ method: 'POST', url: '/api/v1/speech/questions', headers: { cookie: adminCookie }, payload: { text: QUESTION, category: 'personal', expected_seconds: 60 } });
    expect(created.statusCode, created.body).toBe(201);

    browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
        // The microphone plays the tones file in a loop; permission prompts are answered yes.
        '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${tones}`, '--autoplay-policy=no-user-gesture-required',
      ],
    });
    const user = await makeUser(ctx);
    context = await browser.newContext({ baseURL: base });
    // Signed in as a browser is after the sign-in page: the session cookie from POST /auth/login.
    const login = await context.request.post('/api/v1/auth/login', { data: { email: user.email, password: user.password }, headers: { origin: base } });
    expect(login.status()).toBe(200);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await ctx?.gatehouse.builtinWorkers.stop();
    await ctx?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Opens a page that records the live events its WebSocket receives. */
  async function openPage(): Promise<{ page: Page; liveTypes: string[] }> {
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    const liveTypes: string[] = [];
    page.on('websocket', (socket) =>
      socket.on('framereceived', ({ payload }) => {
        try {
          const message = JSON.parse(String(payload)) as { type?: string; event?: { type?: string } };
          if (message.type === 'event' && message.event?.type) liveTypes.push(message.event.type);
        } catch {
          // not JSON: ignore
        }
      }),
    );
    return { page, liveTypes };
  }

  const heading = (page: Page) => page.getByRole('heading', { level: 1 });
  /** The value shown for a measurement in the report's list of terms. */
  const measurement = (page: Page, label: string) => page.locator('.metrics > div').filter({ has: page.locator('dt', { hasText: new RegExp(`^${label}$`) }) }).locator('dd');

  it('uploads a WAV, follows the analysis live, and shows the report with its numbers and charts', async () => {
    const { page, liveTypes } = await openPage();
    await page.goto(`${base}/practice`);
    await expect.poll(() => heading(page).textContent()).toBe('Practice speaking');
    await expectNoSeriousA11yViolations(page);
    await screenshot(page, 'speech-practice');
    await page.getByRole('radio', { name: new RegExp(QUESTION) }).check();
    await page.getByLabel('Audio file').setInputFiles(tones);
    await page.getByRole('button', { name: 'Upload and analyse' }).click();

    await page.waitForURL(/\/practice\/sessions\/[0-9a-f-]{36}$/);
    await expect.poll(() => heading(page).textContent()).toBe('Your answer');
    // The report replaces the progress when the analysis is done, in the same document.
    await page.getByRole('heading', { name: 'Score' }).waitFor({ timeout: 60_000 });
    await expect.poll(() => liveTypes.includes('speech-session.done'), { timeout: 10_000 }).toBe(true);
    const id = page.url().split('/').at(-1)!;
    const api = (await (await context.request.get(`/api/v1/speech/sessions/${id}`)).json()) as { metrics: Record<string, number>; score: number; contours: { f0_hz: unknown[] } };

    // What the page shows is what the analysis measured.
    expect(await page.locator('.score').textContent()).toBe(String(Math.round(api.score)));
    expect(await measurement(page, 'Pauses').textContent()).toBe('2');
    expect(await measurement(page, 'Typical pitch').textContent()).toBe(`${api.metrics.f0_median_hz!.toFixed(0)} Hz`);
    expect(Math.abs(api.metrics.f0_median_hz! - 220)).toBeLessThanOrEqual(2);
    expect(await measurement(page, 'Length').textContent()).toBe('5.1 s');
    expect(await page.getByRole('img', { name: /Timeline of 0:05: 2 pauses: 0\.6 s at 0:01, 1\.2 s at 0:02/ }).count()).toBe(1);
    // Pitch and loudness over time: two canvases with their summaries and data tables.
    await page.getByRole('img', { name: /^Pitch\. Your typical pitch was 22\d Hz/ }).waitFor();
    await page.getByRole('img', { name: /^Loudness\. Your average level was -?\d+\.\d dBFS/ }).waitFor();
    expect(await page.locator('figure.chart canvas').count()).toBeGreaterThanOrEqual(2);
    await page.getByText('Data table').first().click();
    expect(await page.locator('figure.chart').first().locator('tbody tr').count()).toBe(api.contours.f0_hz.length);
    expect(await page.getByText('No transcript was made: transcription is turned off (SPEECH_TRANSCRIBE=off).').count()).toBe(1);
    await expectNoSeriousA11yViolations(page);
    await screenshot(page, 'speech-report');
    await page.setViewportSize({ width: 360, height: 800 });
    await screenshot(page, 'speech-report-360');
    expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
    await page.close();
  }, 120_000);

  it('records an answer through the microphone and analyses it', async () => {
    const { page, liveTypes } = await openPage();
    await page.goto(`${base}/practice`);
    await page.getByRole('button', { name: 'Record', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Recording…' }).waitFor();
    // Record about four seconds of the looping tones, then stop.
    await expect.poll(() => page.getByRole('timer').textContent(), { timeout: 20_000 }).toMatch(/0:0[4-9]/);
    await page.getByRole('button', { name: 'Stop recording' }).click();
    await page.getByLabel('Your recording').waitFor();
    await page.getByRole('button', { name: 'Send the recording for analysis' }).click();
    await page.waitForURL(/\/practice\/sessions\/[0-9a-f-]{36}$/);
    await page.getByRole('heading', { name: 'Score' }).waitFor({ timeout: 60_000 });
    await expect.poll(() => liveTypes.includes('speech-session.done'), { timeout: 10_000 }).toBe(true);
    // The browser's WebM/Opus went through ffmpeg: the tone's pitch survives.
    const pitch = Number((await measurement(page, 'Typical pitch').textContent())!.replace(/ Hz$/, ''));
    expect(Math.abs(pitch - 220)).toBeLessThanOrEqual(3);
    await page.close();
  }, 120_000);

  it('lists the sessions and shows the monthly progress', async () => {
    const { page } = await openPage();
    await page.goto(`${base}/practice`);
    const rows = page.getByRole('table', { name: 'Your sessions, newest first' }).locator('tbody tr');
    await expect.poll(() => rows.count()).toBe(2);
    expect(await rows.first().textContent()).toContain('Free practice');
    expect(await rows.last().textContent()).toContain(QUESTION);
    await page.getByRole('link', { name: 'Your progress month by month' }).click();
    await expect.poll(() => heading(page).textContent()).toBe('Your progress');
    await page.getByText('2 analysed sessions', { exact: false }).waitFor();
    const month = new Date().toISOString().slice(0, 7);
    const label = new Date(Date.UTC(Number(month.slice(0, 4)), Number(month.slice(5, 7)) - 1, 1)).toLocaleDateString('en-US', { month: 'short', year: 'numeric', timeZone: 'UTC' });
    const thisMonth = page.getByRole('row', { name: new RegExp(`^${label} 2 `) });
    expect(await thisMonth.count()).toBe(1);
    await page.getByRole('img', { name: /^Average score by month\. Latest: \d+\.\d in / }).waitFor();
    expect(await page.locator('figure.chart canvas').count()).toBe(2);
    await expectNoSeriousA11yViolations(page);
    await screenshot(page, 'speech-progress');
    await page.close();
  }, 60_000);
});
