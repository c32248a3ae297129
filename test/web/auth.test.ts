/**
 * The web app's auth pages in Debian's Chromium against a real server (SQLite) and the real SMTP
 * sink: sign up → the emailed verify link (acts only on its button) → sign in → the signed-in
 * home; a wrong password and an unverified account answer inline; `?next=` goes only to paths
 * of this site; forgot → the emailed reset link → sign in with the new password; the confirm-
 * email-change link; pages opened without their token say so. axe finds no serious violation on
 * any auth page; screenshots of each (test/artifacts/screenshots/auth-*.png). Also the budget:
 * the JavaScript `/sign-in` loads, compressed (brotli, as served), stays within 150 KB.
 *
 * The sign-in's TOTP step and passkey sign-in are in test/browser/mfa-passkeys.test.ts (both
 * dialects), the provider buttons and the linking step in test/browser/social-sign-in.test.ts.
 */
import { existsSync, statSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WEB_APP_DIR } from '../../src/web/app.routes.js';
import { expectNoSeriousA11yViolations, screenshot } from '../helpers/axe.js';
import { chromiumAvailable, launchChromium } from '../helpers/browser.js';
import { createTestContext, makeUser, STRONG_PASSWORD, type TestContext, tokenFromLatestMail, uniqueEmail } from '../helpers/harness.js';
import { freePort } from '../helpers/server-process.js';
import { tokenFromMail } from '../helpers/smtp-sink.js';

const SIGN_IN_JS_BUDGET_BYTES = 150 * 1024;

describe.runIf(chromiumAvailable())('auth pages in Chromium', () => {
  let ctx: TestContext;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    // PUBLIC_URL is the browser's origin: sign-in requests pass the server's Origin check.
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    ctx = await createTestContext('sqlite', { env: { PUBLIC_URL: base } });
    await ctx.app.listen({ port, host: '127.0.0.1' });
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await ctx?.close();
  });

  async function newPage(options: { colorScheme?: 'light' | 'dark'; width?: number } = {}): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ colorScheme: options.colorScheme ?? 'light', viewport: { width: options.width ?? 1280, height: 800 } });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    return { context, page };
  }

  const heading = (page: Page) => page.getByRole('heading', { level: 1 });
  const login = (email: string, password: string) => ctx.request({ method: 'POST', url: '/api/v1/auth/login', headers: { origin: base }, payload: { email, password } });

  async function signIn(page: Page, email: string, password: string): Promise<void> {
    await page.getByLabel('Email address').fill(email);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }

  it('sign up → verify from the email (only on the button) → sign in → signed-in home', async () => {
    const email = uniqueEmail('web-signup');
    const { context, page } = await newPage();
    await page.goto(`${base}/`);
    await page.getByRole('link', { name: 'Create an account' }).click();
    await expect.poll(() => heading(page).textContent()).toBe('Create an account');
    await expectNoSeriousA11yViolations(page);
    await screenshot(page, 'auth-sign-up');
    await page.getByLabel('Name').fill('Web Person');
    await page.getByLabel('Email address').fill(email);
    await page.getByLabel('Password').fill(STRONG_PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toContain('Check your inbox');

    // Before the link: the sign-in says so inline and offers the email again.
    await page.getByRole('link', { name: 'Sign in', exact: true }).first().click();
    await expect.poll(() => heading(page).textContent()).toBe('Sign in');
    await signIn(page, email, STRONG_PASSWORD);
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('not been verified');
    await page.getByRole('button', { name: 'Send the confirmation email again' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toContain('a new link is on its way');

    const token = await tokenFromLatestMail(ctx, email, '/verify-email');
    await page.goto(`${base}/verify-email?token=${encodeURIComponent(token)}`);
    await expect.poll(() => heading(page).textContent()).toBe('Confirm your email address');
    await expect.poll(() => page.url()).toBe(`${base}/verify-email`); // the token left the address bar
    expect((await login(email, STRONG_PASSWORD)).statusCode).toBe(403); // opening the page verified nothing
    await expectNoSeriousA11yViolations(page);
    await screenshot(page, 'auth-verify-email');
    await page.getByRole('button', { name: 'Confirm my email' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toContain('Your email address is confirmed');

    await page.getByRole('main').getByRole('link', { name: 'Sign in' }).click();
    await expect.poll(() => heading(page).textContent()).toBe('Sign in');
    await signIn(page, email, STRONG_PASSWORD);
    await page.waitForURL(`${base}/`);
    await expect.poll(() => page.getByRole('main').textContent()).toContain(`Signed in as ${email}`);
    expect(await page.getByRole('banner').getByText('Web Person').count()).toBe(1);

    // Signed in: /sign-in goes straight to `next`, a path of this site only.
    await page.goto(`${base}/sign-in?next=${encodeURIComponent('/forgot-password?x=1')}`);
    await page.waitForURL(`${base}/forgot-password?x=1`);
    for (const evil of ['//evil.example/x', 'https://evil.example/', '/\\evil.example']) {
      await page.goto(`${base}/sign-in?next=${encodeURIComponent(evil)}`);
      await page.waitForURL(`${base}/`);
    }
    await context.close();
  }, 90_000);

  it('a wrong password shows an inline error and keeps the form (dark, 360 px)', async () => {
    const user = await makeUser(ctx);
    const { context, page } = await newPage({ colorScheme: 'dark', width: 360 });
    await page.goto(`${base}/sign-in`);
    await expect.poll(() => heading(page).textContent()).toBe('Sign in');
    await expectNoSeriousA11yViolations(page);
    await screenshot(page, 'auth-sign-in-dark-360');
    await signIn(page, user.email, 'not the password at all');
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('Invalid email or password');
    expect(await page.getByLabel('Email address').inputValue()).toBe(user.email);
    expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
    await expectNoSeriousA11yViolations(page);
    await screenshot(page, 'auth-sign-in-error-dark-360');
    expect((await page.evaluate(async () => (await fetch('/api/v1/users/me')).status))).toBe(401);
    await context.close();
  }, 60_000);

  it('forgot password → reset from the email → sign in with the new password', async () => {
    const user = await makeUser(ctx);
    const newPassword = 'marble-Orchid-tandem-517';
    const { context, page } = await newPage();
    await page.goto(`${base}/sign-in`);
    await page.getByRole('link', { name: 'Forgot your password?' }).click();
    await expect.poll(() => heading(page).textContent()).toBe('Forgot your password?');
    await expectNoSeriousA11yViolations(page);
    await screenshot(page, 'auth-forgot-password');
    await page.getByLabel('Email address').fill(user.email);
    await page.getByRole('button', { name: 'Send the link' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toContain('a reset link is on its way');

    const token = await tokenFromLatestMail(ctx, user.email, '/reset-password');
    await page.goto(`${base}/reset-password?token=${encodeURIComponent(token)}`);
    await expect.poll(() => heading(page).textContent()).toBe('Choose a new password');
    await expect.poll(() => page.url()).toBe(`${base}/reset-password`);
    await expectNoSeriousA11yViolations(page);
    await screenshot(page, 'auth-reset-password');
    await page.getByLabel('New password', { exact: true }).fill(newPassword);
    await page.getByLabel('Repeat the new password').fill(`${newPassword}x`);
    await page.getByRole('button', { name: 'Set new password' }).click();
    await expect.poll(() => page.getByText('The two passwords differ.').count()).toBe(1);
    expect((await login(user.email, user.password)).statusCode).toBe(200); // nothing changed yet
    await page.getByLabel('Repeat the new password').fill(newPassword);
    await page.getByRole('button', { name: 'Set new password' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toContain('Your password was changed');

    await page.getByRole('main').getByRole('link', { name: 'Sign in' }).click();
    await signIn(page, user.email, user.password);
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('Invalid email or password');
    await signIn(page, user.email, newPassword);
    await page.waitForURL(`${base}/`);
    await expect.poll(() => page.getByRole('main').textContent()).toContain('Signed in as');

    // The used link answers inline, never with a blank page.
    await page.goto(`${base}/reset-password?token=${encodeURIComponent(token)}`);
    await page.getByLabel('New password', { exact: true }).fill('another-Lantern-harbour-93');
    await page.getByLabel('Repeat the new password').fill('another-Lantern-harbour-93');
    await page.getByRole('button', { name: 'Set new password' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/invalid, expired or already used/);
    expect(await page.getByRole('link', { name: 'Ask for a new link' }).count()).toBe(1);
    await context.close();
  }, 90_000);

  it('confirms an email change only when its button is pressed', async () => {
    const user = await makeUser(ctx);
    const signedIn = await login(user.email, user.password);
    const cookie = String(signedIn.headers['set-cookie']).split(';')[0] ?? '';
    const newEmail = uniqueEmail('web-changed');
    const asked = await ctx.request({ method: 'POST', url: '/api/v1/users/me/email', headers: { cookie, origin: base }, payload: { new_email: newEmail, password: user.password } });
    expect(asked.statusCode).toBe(202);
    await ctx.flushMail();
    const mail = await ctx.smtp.waitFor((m) => m.to === newEmail.toLowerCase() && m.text.includes('/confirm-email?token='));
    const token = tokenFromMail(mail, '/confirm-email');

    const { context, page } = await newPage();
    await page.goto(`${base}/confirm-email?token=${encodeURIComponent(token)}`);
    await expect.poll(() => heading(page).textContent()).toBe('Confirm your new email address');
    await expect.poll(() => page.url()).toBe(`${base}/confirm-email`);
    expect((await login(newEmail, user.password)).statusCode).toBe(401);
    await expectNoSeriousA11yViolations(page);
    await screenshot(page, 'auth-confirm-email');
    await page.getByRole('button', { name: 'Confirm my new email' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toContain('Your email address was changed');
    expect((await login(newEmail, user.password)).statusCode).toBe(200);
    await context.close();
  }, 60_000);

  it('pages opened without their token or pending link say so inline', async () => {
    const { context, page } = await newPage();
    for (const [path, title] of [
      ['/verify-email', 'Confirm your email address'],
      ['/confirm-email', 'Confirm your new email address'],
      ['/reset-password', 'Choose a new password'],
    ] as const) {
      await page.goto(`${base}${path}`);
      await expect.poll(() => heading(page).textContent()).toBe(title);
      await expect.poll(() => page.getByRole('alert').textContent()).toContain('This link has no token');
    }
    await page.goto(`${base}/link-account?provider=nobody`);
    await expect.poll(() => heading(page).textContent()).toBe('Link your account');
    await expect.poll(() => page.getByRole('alert').count()).toBe(1);
    expect(await page.getByRole('link', { name: 'Back to sign-in' }).count()).toBe(1);
    await expectNoSeriousA11yViolations(page);
    await screenshot(page, 'auth-link-account-expired');
    await context.close();
  }, 60_000);

  it(`/sign-in loads at most ${SIGN_IN_JS_BUDGET_BYTES / 1024} KB of compressed JavaScript`, async () => {
    const { context, page } = await newPage();
    const scripts = new Set<string>();
    page.on('request', (request) => {
      if (request.resourceType() === 'script') scripts.add(new URL(request.url()).pathname);
    });
    await page.goto(`${base}/sign-in`);
    await expect.poll(() => page.getByRole('button', { name: 'Sign in', exact: true }).count()).toBe(1);
    await page.waitForLoadState('networkidle');
    expect(scripts.size).toBeGreaterThan(0);
    // What the server sends for each: the build's .br sibling (files under 1 KB have none and go as they are).
    let total = 0;
    for (const path of scripts) {
      expect(path).toMatch(/^\/static\/[\w.-]+\.js$/);
      const file = `${WEB_APP_DIR}${path.slice(1)}`;
      total += existsSync(`${file}.br`) ? statSync(`${file}.br`).size : statSync(file).size;
    }
    console.info(`/sign-in loads ${scripts.size} scripts, ${total} bytes brotli-compressed`);
    expect(total).toBeLessThanOrEqual(SIGN_IN_JS_BUDGET_BYTES);
    await context.close();
  });
});
