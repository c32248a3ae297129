/**
 * The web app's account pages in Debian's Chromium against one real server (SQLite, the SMTP
 * sink): a signed-out visitor is sent to sign in; profile edit; email change (the link is mailed);
 * password change; sessions (revoke another one); API keys (secret shown once, works as a Bearer
 * key, gone after reload, revoked with confirmation); TOTP enrolment (code from the injected
 * clock), new recovery codes and turning it off; a passkey added with the DevTools virtual
 * authenticator, renamed and removed; a provider account linked through a real OpenID Provider
 * (oidc-provider), its unlinking refused inline when it is the only way in, then unlinked; download my data; delete the account
 * after three confirmations; an account made through the OP (no password) deletes itself without one,
 * after signing in again when its sign-in is older than 5 minutes (the manual clock). axe on every section, screenshots of each (one at 360 px dark).
 *
 * PUBLIC_URL is `http://localhost:<port>` because WebAuthn needs a domain RP id.
 */
import { readFileSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FRESH_SIGN_IN_SECONDS } from '../../src/auth/auth.service.js';
import { totpCode } from '../../src/mfa/totp.js';
import { expectNoSeriousA11yViolations, screenshot } from '../helpers/axe.js';
import { chromiumAvailable, launchChromium } from '../helpers/browser.js';
import { createTestContext, type Fixture, makeUser, type TestContext } from '../helpers/harness.js';
import { startTestOp, type TestOp } from '../identities/op.js';
import { freePort } from '../helpers/server-process.js';

const NEW_PASSWORD = 'amber-quartz-meadow-lantern-77';

describe.runIf(chromiumAvailable())('web app: account pages', () => {
  let ctx: TestContext;
  let browser: Browser;
  let base: string;
  let context: BrowserContext;
  let page: Page;
  let user: Fixture;
  let password: string;
  let op: TestOp;

  beforeAll(async () => {
    const port = await freePort();
    base = `http://localhost:${port}`;
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
    // Start just after a TOTP step boundary.
    const seconds = ctx.clock.now().getTime() / 1000;
    ctx.clock.advance(30 - (seconds % 30) + 1);
    user = await makeUser(ctx, { name: 'Ada Account' });
    password = user.password;
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    // The OP's dev pages import a web font; this machine is offline, so anything off loopback fails fast.
    await context.route((url) => url.hostname !== '127.0.0.1' && url.hostname !== 'localhost', (route) => route.abort());
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await ctx?.close();
    await op?.close();
  });

  /** Signs in through the API (from this server's origin); returns the `Cookie` header value. */
  async function loginCookie(who: { email: string; password: string }): Promise<string> {
    const res = await ctx.request({ method: 'POST', url: '/api/v1/auth/login', headers: { origin: base }, payload: { email: who.email, password: who.password } });
    expect(res.statusCode).toBe(200);
    const cookie = res.cookies.find((c) => c.name === ctx.config.auth.cookieName);
    return `${cookie?.name}=${cookie?.value}`;
  }

  const heading = () => page.getByRole('heading', { level: 1 });
  const me = () => page.evaluate(async () => (await fetch('/api/v1/users/me', { credentials: 'same-origin' })).status);

  /** Opens an account section from the section navigation and checks it with axe; saves a screenshot. */
  async function openSection(link: string, title: string, shot: string): Promise<void> {
    await page.getByRole('navigation', { name: 'Account sections' }).getByRole('link', { name: link, exact: true }).click();
    await expect.poll(() => heading().textContent()).toBe(title);
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Loading' }).count()).toBe(0);
    await expectNoSeriousA11yViolations(page);
    await screenshot(page, `account-${shot}`);
  }

  it('sends a signed-out visitor to sign in, coming back afterwards', async () => {
    const visitor = await browser.newContext();
    const visitorPage = await visitor.newPage();
    await visitorPage.goto(`${base}/account/api-keys`);
    await visitorPage.waitForURL(/\/sign-in\?next=/);
    expect(new URL(visitorPage.url()).searchParams.get('next')).toBe('/account/api-keys');
    await visitor.close();
  });

  it('edits the profile (name and profile fields, other keys kept)', async () => {
    await ctx.request({ method: 'PATCH', url: '/api/v1/users/me', headers: { cookie: await loginCookie(user), origin: base }, payload: { profile: { theme: 'dark' } } });
    const login = await page.request.post(`${base}/api/v1/auth/login`, { data: { email: user.email, password }, headers: { origin: base } });
    expect(login.status()).toBe(200);
    await page.goto(`${base}/`);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Account' }).click();
    await expect.poll(() => heading().textContent()).toBe('Your profile');
    expect(await page.getByLabel('Name').inputValue()).toBe('Ada Account');
    await page.getByLabel('Name').fill('Ada Lovelace');
    await page.getByLabel('About you').fill('Analyst of engines.');
    await page.getByLabel('Website').fill('https://example.org/ada');
    await page.getByRole('button', { name: 'Save profile' }).click();
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Your profile was saved.' }).count()).toBe(1);
    await expectNoSeriousA11yViolations(page);
    await screenshot(page, 'account-profile');
    await page.reload();
    await expect.poll(() => page.getByLabel('Name').inputValue()).toBe('Ada Lovelace');
    const stored = await ctx.gatehouse.accounts.getUser(user.id);
    expect(stored.profile).toEqual({ theme: 'dark', bio: 'Analyst of engines.', website: 'https://example.org/ada' });
    // The header shows the new name.
    expect(await page.locator('.account-menu').textContent()).toContain('Ada Lovelace');
  });

  it('asks for an email change (the link goes to the new address) and changes the password', async () => {
    await openSection('Email', 'Email address', 'email');
    const newEmail = `moved-${user.id.slice(-8)}@example.org`;
    await page.getByLabel('New email address').fill(newEmail);
    await page.getByLabel('Current password').fill('wrong-password-123456');
    await page.getByRole('button', { name: 'Send confirmation link' }).click();
    await expect.poll(() => page.getByText('This is not your current password.').count()).toBe(1);
    await page.getByLabel('Current password').fill(password);
    await page.getByRole('button', { name: 'Send confirmation link' }).click();
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Check the inbox' }).count()).toBe(1);
    await ctx.flushMail();
    const mail = await ctx.smtp.waitFor((m) => m.to === newEmail);
    expect(mail.text).toContain('/confirm-email?token=');

    await openSection('Password', 'Password', 'password');
    await page.getByLabel('Current password').fill(password);
    await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
    await page.getByLabel('Repeat the new password').fill(`${NEW_PASSWORD}x`);
    await page.getByRole('button', { name: 'Change password' }).click();
    await expect.poll(() => page.getByText('The two new passwords differ.').count()).toBe(1);
    await page.getByLabel('Repeat the new password').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Change password' }).click();
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Your password was changed' }).count()).toBe(1);
    password = NEW_PASSWORD;
    expect(await me()).toBe(200); // this session stays
    const old = await ctx.request({ method: 'POST', url: '/api/v1/auth/login', headers: { origin: base }, payload: { email: user.email, password: user.password } });
    expect(old.statusCode).toBe(401);
  });

  it('lists sessions with this device marked, and signs another one out', async () => {
    const otherCookie = await loginCookie({ email: user.email, password });
    await openSection('Sessions', 'Sessions', 'sessions');
    const rows = page.getByRole('table').getByRole('row');
    await expect.poll(() => rows.count()).toBe(3); // header + two sessions
    expect(await page.getByText('This device').count()).toBe(1);
    expect(await page.getByRole('row', { name: /This device/ }).textContent()).toContain('Chrome on Linux');
    expect(await rows.nth(1).textContent()).toContain('This device'); // listed first
    await page.getByRole('button', { name: /^Sign out .*last seen/ }).click();
    await expect.poll(() => rows.count()).toBe(2);
    expect((await ctx.request({ url: '/api/v1/users/me', headers: { cookie: otherCookie } })).statusCode).toBe(401);
    expect(await me()).toBe(200);

    // Two more elsewhere; "all others" signs both out after a confirmation, this one stays.
    const more = [await loginCookie({ email: user.email, password }), await loginCookie({ email: user.email, password })];
    await page.reload();
    await expect.poll(() => rows.count()).toBe(4);
    await page.getByRole('button', { name: 'Sign out all other sessions' }).click();
    await page.getByRole('dialog', { name: 'Sign out everywhere else?' }).getByRole('button', { name: 'Sign them out' }).click();
    await expect.poll(() => rows.count()).toBe(2);
    for (const cookie of more) expect((await ctx.request({ url: '/api/v1/users/me', headers: { cookie } })).statusCode).toBe(401);
    expect(await me()).toBe(200);
  });

  it('creates an API key whose secret is shown once and works as a Bearer key, then revokes it', async () => {
    await openSection('API keys', 'API keys', 'api-keys');
    await page.getByLabel('Key name').fill('CI runner');
    await page.getByRole('checkbox', { name: /jobs:read/ }).check();
    await page.getByLabel('Expires after').selectOption({ label: '7 days' });
    await page.getByRole('button', { name: 'Create key' }).click();
    const secretBox = page.getByLabel('New API key secret');
    await expect.poll(() => secretBox.count()).toBe(1);
    const secret = ((await secretBox.textContent()) ?? '').trim();
    expect(secret).toMatch(/^gh_/);
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    await page.getByRole('button', { name: 'Copy the key' }).click();
    await expect.poll(() => page.getByText('Copied to the clipboard.').count()).toBe(1);
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(secret);
    await expectNoSeriousA11yViolations(page);
    await screenshot(page, 'account-api-key-created');

    const viaKey = await ctx.request({ url: '/api/v1/users/me', headers: { authorization: `Bearer ${secret}` } });
    expect(viaKey.statusCode).toBe(200);
    expect(viaKey.json().email).toBe(user.email);
    const [key] = (await ctx.gatehouse.apiKeys.list({ userId: user.id, limit: 10 })).items;
    expect(key).toMatchObject({ name: 'CI runner', scopes: ['account:self', 'jobs:read'] });
    expect(Date.parse(key?.expires_at ?? '') - ctx.clock.now().getTime()).toBe(7 * 86_400_000);

    await page.reload();
    await expect.poll(() => page.getByRole('list', { name: 'API keys' }).getByRole('listitem').count()).toBe(1);
    expect(await page.getByLabel('New API key secret').count()).toBe(0);
    expect(await page.content()).not.toContain(secret);

    await page.getByRole('button', { name: 'Revoke CI runner' }).click();
    const dialog = page.getByRole('dialog', { name: 'Revoke this key?' });
    await expectNoSeriousA11yViolations(page);
    await dialog.getByRole('button', { name: 'Revoke key' }).click();
    await expect.poll(() => page.getByText('You have no API keys.').count()).toBe(1);
    expect((await ctx.request({ url: '/api/v1/users/me', headers: { authorization: `Bearer ${secret}` } })).statusCode).toBe(401);
  });

  it('turns on TOTP with the QR code and a code, shows recovery codes once, replaces them and turns it off', async () => {
    await openSection('Two-factor & passkeys', 'Two-factor authentication and passkeys', 'security');
    await expect.poll(() => page.getByText('Two-factor authentication is off.').count()).toBe(1);
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    await expect.poll(() => page.getByRole('img', { name: 'QR code of your authenticator key' }).count()).toBe(1);
    expect(await page.getByRole('img', { name: 'QR code of your authenticator key' }).evaluate((img) => (img as unknown as { complete: boolean; naturalWidth: number }).naturalWidth > 0)).toBe(true);
    const secret = ((await page.getByLabel('Authenticator key').textContent()) ?? '').trim();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    await page.getByLabel('Code from the app').fill('000000' === totpCode(secret, ctx.clock.now()) ? '111111' : '000000');
    await page.getByRole('button', { name: 'Turn on' }).click();
    await expect.poll(() => page.getByRole('alert').count()).toBeGreaterThan(0);
    await page.getByLabel('Code from the app').fill(totpCode(secret, ctx.clock.now()));
    await page.getByRole('button', { name: 'Turn on' }).click();
    const codes = page.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem');
    await expect.poll(() => codes.count()).toBe(10);
    await expect.poll(() => page.getByText('Two-factor authentication is on (10 recovery codes left).').count()).toBe(1);
    await expectNoSeriousA11yViolations(page);
    await screenshot(page, 'account-security-totp-on');
    const first = (await codes.first().textContent()) ?? '';

    await page.reload();
    await expect.poll(() => page.getByText(/Two-factor authentication is on/).count()).toBe(1);
    expect(await page.getByRole('list', { name: 'Recovery codes' }).count()).toBe(0);

    ctx.clock.advance(30);
    await page.getByText('Get new recovery codes').click();
    await page.getByLabel('Code from your app (or a recovery code)').first().fill(totpCode(secret, ctx.clock.now()));
    await page.getByRole('button', { name: 'Replace recovery codes' }).click();
    await expect.poll(() => codes.count()).toBe(10);
    expect(await codes.allTextContents()).not.toContain(first);

    ctx.clock.advance(30);
    await page.getByText('Turn two-factor authentication off').click();
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByLabel('Code from your app (or a recovery code)').last().fill(totpCode(secret, ctx.clock.now()));
    await page.getByRole('button', { name: 'Turn off', exact: true }).click();
    await expect.poll(() => page.getByText('Two-factor authentication is off.').count()).toBe(2); // status + notice
  });

  it('adds a passkey with the virtual authenticator, renames it and removes it', async () => {
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });
    await expect.poll(() => page.getByText('No passkeys yet.').count()).toBe(1);
    await page.getByLabel('Name of the new passkey').fill('Virtual laptop');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await expect.poll(() => page.getByText('Passkey “Virtual laptop” added').count()).toBe(1);
    const items = page.getByRole('list', { name: 'Your passkeys' }).getByRole('listitem');
    await expect.poll(() => items.count()).toBe(1);
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(credentials).toHaveLength(1);
    await expectNoSeriousA11yViolations(page);
    await screenshot(page, 'account-security-passkey');

    await page.getByRole('button', { name: 'Rename Virtual laptop' }).click();
    await page.getByLabel('New name for Virtual laptop').fill('Work laptop');
    await page.getByRole('button', { name: 'Save name' }).click();
    await expect.poll(() => items.first().textContent()).toContain('Work laptop');
    expect((await ctx.gatehouse.mfa.listPasskeys(user.id)).map((p) => p.name)).toEqual(['Work laptop']);

    await page.getByRole('button', { name: 'Remove Work laptop' }).click();
    await page.getByRole('dialog', { name: 'Remove this passkey?' }).getByRole('button', { name: 'Remove passkey' }).click();
    await expect.poll(() => page.getByText('No passkeys yet.').count()).toBe(1);
    expect(await ctx.gatehouse.mfa.listPasskeys(user.id)).toEqual([]);
    await cdp.detach();
  });

  it('links a provider account through the provider, refuses to unlink the only way in (409 inline), then unlinks', async () => {
    await openSection('Linked accounts', 'Linked accounts', 'identities');
    expect(await page.getByText('No provider account is linked.').count()).toBe(1);
    op.accounts.set('ada-at-op', { email: `op-${user.email}`, email_verified: true, name: 'Ada at OP' });
    await page.getByRole('button', { name: 'Link Test OP' }).click();
    // At the OP: its dev login form, then consent when asked.
    await page.waitForURL(`${op.issuer}/**`);
    await page.locator('input[name="login"]').fill('ada-at-op');
    await page.locator('input[name="password"]').fill('any password');
    await page.locator('button[type="submit"]').click();
    const consent = page.locator('input[name="prompt"][value="consent"]');
    const asked = async () => {
      try {
        return page.url().startsWith(op.issuer) && (await consent.count()) > 0;
      } catch {
        return false; // navigating
      }
    };
    await expect.poll(async () => !page.url().startsWith(op.issuer) || (await asked()), { timeout: 20_000 }).toBe(true);
    if (await asked()) await page.locator('button[type="submit"]').click();
    await page.waitForURL(`${base}/account/identities?linked=testop`);
    await expect.poll(() => page.getByText('Your Test OP account is now linked.').count()).toBe(1);
    const items = page.getByRole('list', { name: 'Linked accounts' }).getByRole('listitem');
    await expect.poll(() => items.count()).toBe(1);
    expect(await items.first().textContent()).toContain('Test OP');
    await expectNoSeriousA11yViolations(page);
    await screenshot(page, 'account-identities-linked');

    // Without a password, the only provider account is the only way in: the API's 409 shows inline.
    const db = ctx.gatehouse.database.db;
    const { password_hash } = await db.selectFrom('user').select('password_hash').where('id', '=', user.id).executeTakeFirstOrThrow();
    await db.updateTable('user').set({ password_hash: null }).where('id', '=', user.id).execute();
    await page.getByRole('button', { name: /^Unlink Test OP account/ }).click();
    await page.getByRole('dialog', { name: 'Unlink this account?' }).getByRole('button', { name: 'Unlink' }).click();
    await expect.poll(() => page.getByRole('alert').filter({ hasText: 'only way to sign in' }).count()).toBe(1);
    expect(await items.count()).toBe(1);

    await db.updateTable('user').set({ password_hash }).where('id', '=', user.id).execute();
    await page.getByRole('button', { name: /^Unlink Test OP account/ }).click();
    await page.getByRole('dialog', { name: 'Unlink this account?' }).getByRole('button', { name: 'Unlink' }).click();
    await expect.poll(() => page.getByText('No provider account is linked.').count()).toBe(1);
    expect(await ctx.gatehouse.identities.listOwn(user.id)).toEqual([]);
  }, 60_000);

  it('signing out from an account page goes home; coming back asks to sign in first', async () => {
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.waitForURL(`${base}/`);
    expect(await me()).toBe(401);
    await page.goto(`${base}/account/data`);
    await page.waitForURL(/\/sign-in\?next=/);
    expect(new URL(page.url()).searchParams.get('next')).toBe('/account/data');
    const login = await page.request.post(`${base}/api/v1/auth/login`, { data: { email: user.email, password }, headers: { origin: base } });
    expect(login.status()).toBe(200);
    await page.goto(`${base}/account/data`);
    await expect.poll(() => heading().textContent()).toBe('Your data');
  });

  it('downloads my data and deletes the account after three confirmations (at 360 px, dark)', async () => {
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Loading' }).count()).toBe(0);
    await expectNoSeriousA11yViolations(page);
    await screenshot(page, 'account-data');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download my data' }).click()]);
    expect(download.suggestedFilename()).toMatch(/^account-export-\d{4}-\d\d-\d\d\.json$/);
    const exported = JSON.parse(readFileSync((await download.path()) ?? '', 'utf8'));
    expect(exported).toMatchObject({ format: 'gatehouse.account-export/1', user: { id: user.id, name: 'Ada Lovelace' } });
    expect(exported.api_keys.map((k: { name: string }) => k.name)).toEqual(['CI runner']);

    await page.setViewportSize({ width: 360, height: 800 });
    await page.emulateMedia({ colorScheme: 'dark' });
    expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
    await screenshot(page, 'account-data-360-dark');

    await page.getByLabel('Type your email address to confirm').fill('someone-else@example.org');
    await page.getByLabel('Your password').fill(password);
    await page.getByRole('button', { name: 'Delete my account…' }).click();
    await expect.poll(() => page.getByText('This is not your account’s email address.').count()).toBe(1);
    await page.getByLabel('Type your email address to confirm').fill(user.email.toUpperCase());
    await page.getByLabel('Your password').fill('not-my-password-123');
    await page.getByRole('button', { name: 'Delete my account…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete your account for good?' });
    await dialog.getByRole('button', { name: 'Yes, delete my account' }).click();
    await expect.poll(() => page.getByText('This is not your current password.').count()).toBe(1);
    expect(await me()).toBe(200);

    await page.getByLabel('Your password').fill(password);
    await page.getByRole('button', { name: 'Delete my account…' }).click();
    await expectNoSeriousA11yViolations(page);
    await screenshot(page, 'account-delete-confirm');
    await dialog.getByRole('button', { name: 'Yes, delete my account' }).click();
    await page.waitForURL(`${base}/`);
    await expect.poll(() => heading().textContent()).toBe('Gatehouse');
    expect(page.url()).toBe(`${base}/`);
    expect(await me()).toBe(401);
    const again = await ctx.request({ method: 'POST', url: '/api/v1/auth/login', headers: { origin: base }, payload: { email: user.email, password } });
    expect(again.statusCode).toBe(401);
    expect(again.json().code).toBe('account_deactivated');
  });
  it('an account made by signing in with a provider (no password) deletes itself without a password, after signing in again when the sign-in is old', async () => {
    const email = `social-${user.email}`;
    op.accounts.set('bea-at-op', { email, email_verified: true, name: 'Bea at OP' });
    const social = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await social.route((url) => url.hostname !== '127.0.0.1' && url.hostname !== 'localhost', (route) => route.abort());
    const tab = await social.newPage();
    tab.setDefaultTimeout(15_000);
    const status = () => tab.evaluate(async () => (await fetch('/api/v1/users/me', { credentials: 'same-origin' })).status);
    /** From the sign-in page (asked to come back to /account/data) through the OP: its login form and consent when asked. */
    async function signInWithOp(): Promise<void> {
      await tab.getByRole('link', { name: 'Sign in with Test OP' }).click();
      const atOp = () => tab.url().startsWith(op.issuer);
      await expect.poll(() => atOp() || tab.url() === `${base}/account/data`, { timeout: 20_000 }).toBe(true);
      const loginForm = tab.locator('input[name="login"]');
      const consent = tab.locator('input[name="prompt"][value="consent"]');
      const step = async () => {
        try {
          if (!atOp()) return 'back';
          if ((await loginForm.count()) > 0) return 'login';
          if ((await consent.count()) > 0) return 'consent';
        } catch {
          // navigating
        }
        return 'wait';
      };
      for (let i = 0; i < 3; i++) {
        await expect.poll(step, { timeout: 20_000 }).not.toBe('wait');
        const now = await step();
        if (now === 'back') break;
        if (now === 'login') {
          await loginForm.fill('bea-at-op');
          await tab.locator('input[name="password"]').fill('any password');
        }
        await tab.locator('button[type="submit"]').click();
        await expect.poll(async () => (await step()) !== now, { timeout: 20_000 }).toBe(true);
      }
      await tab.waitForURL(`${base}/account/data`);
    }

    await tab.goto(`${base}/sign-in?next=${encodeURIComponent('/account/data')}`);
    await signInWithOp();
    await expect.poll(() => tab.getByRole('heading', { level: 1 }).textContent()).toBe('Your data');
    const row = await ctx.gatehouse.database.db.selectFrom('user').select(['id', 'password_hash']).where('email_normalized', '=', email.toLowerCase()).executeTakeFirstOrThrow();
    expect(row.password_hash).toBeNull();
    // No password to ask for.
    await expect.poll(() => tab.getByText('Your account has no password').count()).toBe(1);
    expect(await tab.getByLabel('Your password').count()).toBe(0);

    // Signed in more than 5 minutes ago: the server asks for a fresh sign-in, the page offers one.
    ctx.clock.advance(FRESH_SIGN_IN_SECONDS + 1);
    await tab.getByLabel('Type your email address to confirm').fill(email);
    await tab.getByRole('button', { name: 'Delete my account…' }).click();
    const dialog = tab.getByRole('dialog', { name: 'Delete your account for good?' });
    await dialog.getByRole('button', { name: 'Yes, delete my account' }).click();
    const again = tab.getByRole('alert').filter({ hasText: 'sign in again first' });
    await expect.poll(() => again.count()).toBe(1);
    await expectNoSeriousA11yViolations(tab);
    await screenshot(tab, 'account-delete-sign-in-again');
    expect(await status()).toBe(200);
    await again.getByRole('button', { name: 'Sign out and sign in again' }).click();
    await tab.waitForURL(/\/sign-in\?next=/);
    expect(new URL(tab.url()).searchParams.get('next')).toBe('/account/data');
    expect(await status()).toBe(401);

    await signInWithOp();
    await tab.getByLabel('Type your email address to confirm').fill(email);
    await tab.getByRole('button', { name: 'Delete my account…' }).click();
    await dialog.getByRole('button', { name: 'Yes, delete my account' }).click();
    await tab.waitForURL(`${base}/`);
    expect(await status()).toBe(401);
    const after = await ctx.gatehouse.database.db.selectFrom('user').select('status').where('id', '=', row.id).executeTakeFirstOrThrow();
    expect(after.status).toBe('deactivated');
    await social.close();
  }, 90_000);
});
