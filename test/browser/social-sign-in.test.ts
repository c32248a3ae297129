/**
 * Social sign-in in Debian's Chromium (playwright-core) against a real OpenID Provider (panva's
 * `oidc-provider` with its dev login and consent pages, on loopback): the web app's sign-in
 * page's provider button signs a new person in and returns to `?next=`; an existing account is
 * linked after its password on the web app's `/link-account` step, or by the emailed link's
 * page; an unverified provider email and a replayed callback end on a readable (server-rendered)
 * error page, never a 500.
 *
 * SQLite only, like the other browser tests: the pages talk to the same HTTP API on both
 * databases, which test/identities/social-sign-in.test.ts covers on each.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoSeriousA11yViolations, screenshot } from '../helpers/axe.js';
import { chromiumAvailable, launchChromium } from '../helpers/browser.js';
import { createTestContext, makeUser, type TestContext, uniqueEmail } from '../helpers/harness.js';
import { tokenFromMail } from '../helpers/smtp-sink.js';
import { startTestOp, type TestOp } from '../identities/op.js';
import { freePort } from '../helpers/server-process.js';

describe.runIf(chromiumAvailable())('social sign-in in Chromium', () => {
  let ctx: TestContext;
  let op: TestOp;
  let browser: Browser;
  let base: string;
  let counter = 0;

  function opAccount(email: string, verified: boolean): string {
    counter += 1;
    const login = `browser-person-${counter}`;
    op.accounts.set(login, { email, email_verified: verified, name: `Browser Person ${counter}` });
    return login;
  }

  /** A fresh browser (no cookies) with one page. */
  async function freshPage(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext();
    // The OP's dev pages import a web font; this machine is offline, so anything off loopback fails fast.
    await context.route((url) => url.hostname !== '127.0.0.1', (route) => route.abort());
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    return { context, page };
  }

  /** At the OP: the dev login form, then consent when asked. */
  async function signInAtOp(page: Page, login: string): Promise<void> {
    await page.waitForURL(`${op.issuer}/**`);
    await page.locator('input[name="login"]').fill(login);
    await page.locator('input[name="password"]').fill('any password');
    await page.locator('button[type="submit"]').click();
    const consent = page.locator('input[name="prompt"][value="consent"]');
    // Either the OP sends the browser back at once (consent given before), or it asks.
    const asked = async () => {
      try {
        return page.url().startsWith(op.issuer) && (await consent.count()) > 0;
      } catch {
        return false; // navigating
      }
    };
    await expect.poll(async () => !page.url().startsWith(op.issuer) || (await asked()), { timeout: 20_000 }).toBe(true);
    if (await asked()) await page.locator('button[type="submit"]').click();
  }

  async function currentUser(page: Page): Promise<{ status: number; email?: string; id?: string }> {
    return page.evaluate(async () => {
      const res = await fetch('/api/v1/users/me', { credentials: 'same-origin' });
      const body = (await res.json()) as { email?: string; id?: string };
      return { status: res.status, email: body.email, id: body.id };
    });
  }

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    op = await startTestOp([`${base}/api/v1/auth/oauth/testop/callback`]);
    ctx = await createTestContext('sqlite', {
      env: {
        PUBLIC_URL: base,
        OIDC_TESTOP_ISSUER: op.issuer,
        OIDC_TESTOP_CLIENT_ID: op.clientId,
        OIDC_TESTOP_CLIENT_SECRET: op.clientSecret,
        OIDC_TESTOP_DISPLAY_NAME: 'Test OP',
      },
    });
    await ctx.app.listen({ port, host: '127.0.0.1' });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await ctx?.close();
    await op?.close();
  });

  it('signs a new person in from the sign-in page button', async () => {
    const email = uniqueEmail('chromium');
    const login = opAccount(email, true);
    const { context, page } = await freshPage();
    await page.goto(`${base}/sign-in?next=/jobs`);
    const button = page.getByRole('link', { name: 'Sign in with Test OP' });
    expect(await button.getAttribute('href')).toBe('/api/v1/auth/oauth/testop/start?redirect=%2Fjobs');
    await expectNoSeriousA11yViolations(page);
    await screenshot(page, 'auth-sign-in-providers');
    await button.click();
    await signInAtOp(page, login);
    await page.waitForURL(`${base}/jobs`);
    expect(await currentUser(page)).toMatchObject({ status: 200, email });
    await context.close();
  });

  /** From the sign-in page's button to the linking step, for an account that already has the provider's email. */
  async function reachLinkStep(page: Page, login: string): Promise<void> {
    await page.goto(`${base}/sign-in`);
    await page.getByRole('link', { name: 'Sign in with Test OP' }).click();
    await signInAtOp(page, login);
    await page.waitForURL(`${base}/link-account?provider=testop`);
  }

  it('links an existing account after its password on the link step', async () => {
    const owner = await makeUser(ctx);
    const login = opAccount(owner.email, true);
    const { context, page } = await freshPage();
    await reachLinkStep(page, login);
    await expect.poll(() => page.getByRole('main').innerText()).toContain(`An account with the email address ${owner.email} already exists`);
    expect(await page.getByLabel('Email address').inputValue()).toBe(owner.email);
    expect(await currentUser(page)).toMatchObject({ status: 401 });
    await expectNoSeriousA11yViolations(page);
    await screenshot(page, 'auth-link-account');

    await page.getByLabel('Password').fill('a wrong password, surely');
    await page.getByRole('button', { name: 'Link and sign in' }).click();
    await expect.poll(() => page.getByRole('alert').innerText()).toMatch(/Invalid email or password/);

    await page.getByLabel('Password').fill(owner.password);
    await page.getByRole('button', { name: 'Link and sign in' }).click();
    // Where the provider button said to return (the sign-in page's default, the home page).
    await page.waitForURL(`${base}/`);
    await expect.poll(() => page.getByRole('main').innerText()).toContain(`Signed in as ${owner.email}`);
    expect(await currentUser(page)).toMatchObject({ status: 200, id: owner.id });
    const identities = await ctx.gatehouse.identities.listOwn(owner.id);
    expect(identities).toMatchObject([{ provider: 'testop' }]);
    await context.close();
  });

  it('links by the emailed link instead, only when its button is pressed', async () => {
    const owner = await makeUser(ctx);
    const login = opAccount(owner.email, true);
    const { context, page } = await freshPage();
    await reachLinkStep(page, login);
    await page.getByRole('button', { name: 'Email me a confirmation link instead' }).click();
    await expect.poll(() => page.getByRole('status').innerText()).toContain('We sent a confirmation link');
    await ctx.flushMail();
    const mail = await ctx.smtp.waitFor((m) => m.to === owner.email.toLowerCase() && m.text.includes('/link-account?token='));
    const token = tokenFromMail(mail, '/link-account');

    await page.goto(`${base}/link-account?token=${encodeURIComponent(token)}`);
    await expect.poll(() => page.url()).toBe(`${base}/link-account`); // the token left the address bar
    expect(await ctx.gatehouse.identities.listOwn(owner.id)).toEqual([]);
    await page.getByRole('button', { name: 'Link my account' }).click();
    await expect.poll(() => page.getByRole('status').innerText()).toContain('You can now sign in with Test OP');
    expect(await ctx.gatehouse.identities.listOwn(owner.id)).toMatchObject([{ provider: 'testop' }]);
    expect(await currentUser(page)).toMatchObject({ status: 401 });
    await context.close();
  });

  it('shows a readable page for an unverified email and for a replayed callback', async () => {
    const unverified = opAccount(uniqueEmail('chromium-unverified'), false);
    const first = await freshPage();
    await first.page.goto(`${base}/sign-in`);
    await first.page.getByRole('link', { name: 'Sign in with Test OP' }).click();
    await signInAtOp(first.page, unverified);
    await first.page.waitForURL(`${base}/api/v1/auth/oauth/testop/callback**`);
    await expect.poll(() => first.page.locator('h1').innerText()).toBe('Sign-in failed');
    expect(await first.page.locator('#code').innerText()).toBe('email_not_verified');
    await first.context.close();

    const login = opAccount(uniqueEmail('chromium-replay'), true);
    const { context, page } = await freshPage();
    let callbackUrl = '';
    page.on('request', (request) => {
      if (request.url().startsWith(`${base}/api/v1/auth/oauth/testop/callback`)) callbackUrl = request.url();
    });
    await page.goto(`${base}/api/v1/auth/oauth/testop/start?redirect=/jobs`);
    await signInAtOp(page, login);
    await page.waitForURL(`${base}/jobs`);
    expect(callbackUrl).toContain('code=');
    const replay = await page.goto(callbackUrl);
    expect(replay?.status()).toBe(400);
    expect(await page.locator('h1').innerText()).toBe('Sign-in failed');
    expect(await page.locator('#code').innerText()).toBe('identity_flow_invalid');
    expect(await page.locator('a[href="/sign-in"]').count()).toBe(1);
    await context.close();
  });
});
