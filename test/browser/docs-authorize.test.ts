/**
 * The interactive docs in a real browser: Swagger UI's "Authorize" button signs in through the
 * OAuth 2.0 password flow against /api/v1/auth/token, and "Try it out" on GET /api/v1/users/me
 * then answers 200 with the user's email. Also: the emailed verify link's page (the web app's)
 * confirms an account only when its button is pressed.
 */
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium } from '../helpers/browser.js';
import { createTestContext, makeUser, STRONG_PASSWORD, type TestContext, tokenFromLatestMail, uniqueEmail } from '../helpers/harness.js';

describe.runIf(chromiumAvailable())('docs and pages in Chromium', () => {
  let ctx: TestContext;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    ctx = await createTestContext('sqlite');
    await ctx.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}`;
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await ctx?.close();
  });

  it('authorizes with the OAuth2 password flow and calls /users/me', async () => {
    const user = await makeUser(ctx);
    const page = await browser.newPage();
    page.setDefaultTimeout(8_000);
    await page.goto(`${base}/docs`);
    // Swagger UI renders the whole document before its top bar: 8-12 s after load on a busy 2-core box.
    await page.locator('button.authorize').first().click({ timeout: 30_000 });
    await page.locator('#oauth_username').fill(user.email);
    await page.locator('#oauth_password').fill(user.password);
    await page.locator('.auth-container').filter({ has: page.locator('#oauth_username') }).locator('button.authorize').click();
    await expect.poll(() => page.locator('.modal-ux').innerText(), { timeout: 10_000 }).toMatch(/oauth2[\s\S]*Authorized[\s\S]*Logout/);
    await page.locator('.btn-done').first().click();

    // Tags start collapsed (docExpansion 'none'): open "users", then the operation.
    await page.locator('#operations-tag-users').click();
    const operation = page.locator('#operations-users-get_api_v1_users_me');
    await operation.locator('.opblock-summary').first().click();
    // /docs is configured with "Try it out" already on, so Execute is there at once.
    await operation.locator('button.execute').click();
    const status = operation.locator('.live-responses-table tbody .response-col_status').first();
    await expect.poll(() => status.textContent(), { timeout: 10_000 }).toContain('200');
    expect(await operation.locator('.live-responses-table tbody .response-col_description').first().textContent()).toContain(user.email);
    await page.close();
  });

  it('the verify-email page confirms only when its button is pressed', async () => {
    const email = uniqueEmail('browser');
    const register = await ctx.request({ method: 'POST', url: '/api/v1/auth/register', payload: { email, password: STRONG_PASSWORD } });
    expect(register.statusCode).toBe(202);
    const token = await tokenFromLatestMail(ctx, email, '/verify-email');
    const login = () => ctx.request({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password: STRONG_PASSWORD } });

    const page = await browser.newPage();
    await page.goto(`${base}/verify-email?token=${encodeURIComponent(token)}`);
    const button = page.getByRole('button', { name: 'Confirm my email' });
    await button.waitFor({ timeout: 15_000 });
    await expect.poll(() => page.url()).toBe(`${base}/verify-email`); // the token left the address bar
    expect((await login()).statusCode).toBe(403); // opening the page verified nothing
    await button.click();
    await expect.poll(() => page.getByRole('status').textContent()).toContain('confirmed');
    expect((await login()).statusCode).toBe(200);
    await page.close();
  });
});
