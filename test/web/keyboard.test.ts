/**
 * The web app with the keyboard alone, in Chromium: no mouse click anywhere. The first Tab
 * reaches "Skip to content"; a person signs in by typing and Tab/Enter, follows links with
 * Enter, and opens and cancels a confirmation dialog with the keyboard (focus moves into the
 * dialog, Escape closes it). Every step asserts where the focus is, as a screen-reader user hears it.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium } from '../helpers/browser.js';
import { createTestContext, makeUser, type Fixture, type TestContext } from '../helpers/harness.js';
import { freePort } from '../helpers/server-process.js';

/** The focused element as `tag "accessible text"`, e.g. `input "Email address"` or `a "Your account"`. */
function focused(page: Page): Promise<string> {
  return page.evaluate(`(() => {
    const el = document.activeElement;
    if (!el) return 'nothing';
    const labelled = el.labels && el.labels[0] ? el.labels[0].textContent : null;
    const name = el.getAttribute('aria-label') || labelled || el.textContent || '';
    return el.tagName.toLowerCase() + ' "' + name.trim().replace(/\\s+/g, ' ') + '"';
  })()`);
}

/** Presses Tab until the focus is on `target` (at most `limit` times). @throws naming the path taken. */
async function tabTo(page: Page, target: string, limit = 30): Promise<void> {
  const seen: string[] = [];
  for (let i = 0; i < limit; i++) {
    await page.keyboard.press('Tab');
    const now = await focused(page);
    seen.push(now);
    if (now === target) return;
  }
  throw new Error(`Tab never reached ${target}; it went through: ${seen.join(' → ')}`);
}

describe.runIf(chromiumAvailable())('the web app with the keyboard alone', () => {
  let ctx: TestContext;
  let base: string;
  let browser: Browser;
  let user: Fixture;

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    ctx = await createTestContext('sqlite', { env: { PUBLIC_URL: base } });
    await ctx.app.listen({ port, host: '127.0.0.1' });
    user = await makeUser(ctx);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await ctx?.close();
  });

  it('skips to content, signs in, follows links and answers a dialog without a mouse', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base}/sign-in`);
    await page.getByRole('heading', { level: 1 }).waitFor();

    // The first Tab lands on the skip link; Enter moves the focus to the page's content.
    await page.keyboard.press('Tab');
    expect(await focused(page)).toBe('a "Skip to content"');
    await page.keyboard.press('Enter');
    expect(await page.evaluate('document.activeElement && document.activeElement.id')).toBe('main');

    // Sign in: type, Tab, type, Enter.
    await tabTo(page, 'input "Email address"');
    await page.keyboard.type(user.email);
    await tabTo(page, 'input "Password"');
    await page.keyboard.type(user.password);
    await page.keyboard.press('Enter');
    await page.getByText(`Signed in as ${user.email}`).waitFor();

    // A link followed with Enter: the account page, whose heading takes the focus.
    await tabTo(page, 'a "Your account"');
    await page.keyboard.press('Enter');
    await page.waitForURL(`${base}/account`);
    await expect.poll(() => focused(page)).toMatch(/^h1 /);

    // Sessions: "sign out all others" asks first; the dialog takes the focus and Escape cancels it.
    await page.goto(`${base}/account/sessions`);
    await page.getByRole('heading', { level: 1 }).waitFor();
    const other = await ctx.request({ method: 'POST', url: '/api/v1/auth/login', payload: { email: user.email, password: user.password } });
    expect(other.statusCode).toBe(200);
    await page.reload();
    const revokeAll = page.getByRole('button', { name: /sign out (all )?other/i });
    await revokeAll.waitFor();
    const label = (await revokeAll.textContent())!.trim();
    await tabTo(page, `button "${label}"`);
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    expect(await page.evaluate('!!document.activeElement && !!document.activeElement.closest("dialog")')).toBe(true);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    // Nothing was revoked: both sessions are still listed.
    expect((await ctx.request({ method: 'GET', url: '/api/v1/auth/sessions', headers: { cookie: `${ctx.config.auth.cookieName}=${other.cookies.find((c) => c.name === ctx.config.auth.cookieName)!.value}` } })).json().items).toHaveLength(2);
    await context.close();
  }, 90_000);
});
