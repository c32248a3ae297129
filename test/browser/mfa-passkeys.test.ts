/**
 * Two-factor authentication and passkeys in Debian's Chromium (playwright-core) with the DevTools
 * virtual authenticator (CDP `WebAuthn.addVirtualAuthenticator`: a platform authenticator with
 * resident keys and user verification): TOTP enrolled on the web app's /account/security and then asked for by
 * the web app's /sign-in second step (also when another flow hands it an `mfa_token`); a passkey registered from a signed-in session, then used to
 * sign in without a password (no code asked: a user-verified passkey satisfies MFA); the
 * signature counter grows and a regression is refused; list, rename and remove.
 *
 * On both dialects (the passkey counter is a bigint on PostgreSQL).
 * WebAuthn needs a secure context and a domain RP id, so the server's PUBLIC_URL is
 * `http://localhost:<port>` (RP id `localhost`).
 */
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCode } from '../../src/mfa/totp.js';
import { expectNoSeriousA11yViolations, screenshot } from '../helpers/axe.js';
import { chromiumAvailable, launchChromium } from '../helpers/browser.js';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, type Fixture, makeUser, type TestContext } from '../helpers/harness.js';
import { freePort } from '../helpers/server-process.js';

describe.runIf(chromiumAvailable()).each(dialects)('two-factor authentication and passkeys in Chromium (%s)', (dialect) => {
  let ctx: TestContext;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    const port = await freePort();
    base = `http://localhost:${port}`;
    ctx = await createTestContext(dialect, { env: { PUBLIC_URL: base } });
    await ctx.app.listen({ port, host: '127.0.0.1' });
    browser = await launchChromium();
    // Start just after a TOTP step boundary.
    const seconds = ctx.clock.now().getTime() / 1000;
    ctx.clock.advance(30 - (seconds % 30) + 1);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await ctx?.close();
  });

  async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    return { context, page };
  }

  /** The web app's sign-in page, back to /jobs afterwards. */
  async function signInWithPassword(page: Page, who: Fixture): Promise<void> {
    await page.goto(`${base}/sign-in?next=/jobs`);
    await page.getByLabel('Email address').fill(who.email);
    await page.getByLabel('Password', { exact: true }).fill(who.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }

  const codeField = (page: Page) => page.getByLabel('Authentication code');
  const verify = (page: Page) => page.getByRole('button', { name: 'Verify' });
  const passkeyButton = (page: Page) => page.getByRole('button', { name: 'Sign in with a passkey' });

  const me = (page: Page) =>
    page.evaluate(async () => {
      const res = await fetch('/api/v1/users/me', { credentials: 'same-origin' });
      return { status: res.status, body: (await res.json()) as { email?: string } };
    });

  async function virtualAuthenticator(page: Page): Promise<{ cdp: CDPSession; authenticatorId: string }> {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
    return { cdp, authenticatorId };
  }

  it('TOTP: enrolled on /account/security; the sign-in page then asks for the code (a wrong one refused)', async () => {
    const user = await makeUser(ctx);
    const { context, page } = await newPage();
    await signInWithPassword(page, user);
    await page.waitForURL(`${base}/jobs`);

    // The web app's account page (web/src/features/account/security.tsx).
    await page.goto(`${base}/account/security`);
    await expect.poll(() => page.getByText('Two-factor authentication is off.').count()).toBe(1);
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    await expect.poll(() => page.getByRole('img', { name: 'QR code of your authenticator key' }).count()).toBe(1);
    const secret = ((await page.getByLabel('Authenticator key').textContent()) ?? '').trim();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    await page.getByLabel('Code from the app').fill(totpCode(secret, ctx.clock.now()));
    await page.getByRole('button', { name: 'Turn on' }).click();
    await expect.poll(() => page.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem').count()).toBe(10);
    await expect.poll(() => page.getByText('Two-factor authentication is on (10 recovery codes left).').count()).toBe(1);
    await context.close();

    ctx.clock.advance(30);
    const second = await newPage();
    await signInWithPassword(second.page, user);
    await expect.poll(() => codeField(second.page).isVisible()).toBe(true);
    expect(await second.page.getByRole('heading', { level: 1 }).textContent()).toBe('Two-factor authentication');
    expect(await second.page.getByLabel('Password', { exact: true }).count()).toBe(0);
    expect((await me(second.page)).status).toBe(401); // no session yet
    await expectNoSeriousA11yViolations(second.page);
    await screenshot(second.page, `auth-sign-in-totp-${dialect}`);
    await codeField(second.page).fill(totpCode(secret, new Date(ctx.clock.now().getTime() + 90_000)));
    await verify(second.page).click();
    await expect.poll(() => second.page.getByRole('alert').textContent()).toContain('not correct');
    await codeField(second.page).fill(totpCode(secret, ctx.clock.now()));
    await verify(second.page).click();
    await second.page.waitForURL(`${base}/jobs`);
    expect((await me(second.page)).body.email).toBe(user.email.toLowerCase());
    await second.context.close();

    // A sign-in started elsewhere (say a social login's callback) hands its mfa_token to the page.
    ctx.clock.advance(30);
    const started = await ctx.request({ method: 'POST', url: '/api/v1/auth/login', headers: { origin: base }, payload: { email: user.email, password: user.password } });
    expect(started.json().code).toBe('mfa_required');
    const third = await newPage();
    await third.page.goto(`${base}/sign-in?mfa_token=${encodeURIComponent(started.json().mfa_token)}&next=/account/security`);
    await expect.poll(() => codeField(third.page).isVisible()).toBe(true);
    await expect.poll(() => third.page.url()).toBe(`${base}/sign-in?next=%2Faccount%2Fsecurity`); // the token left the address bar
    await codeField(third.page).fill(totpCode(secret, ctx.clock.now()));
    await verify(third.page).click();
    await third.page.waitForURL(`${base}/account/security`);
    expect((await me(third.page)).body.email).toBe(user.email.toLowerCase());
    await third.context.close();
  }, 60_000);

  it('passkeys: registered from a signed-in session, then sign-in without a password (TOTP not asked); counter checked; rename and remove', async () => {
    const user = await makeUser(ctx, { name: 'Passkey Person' });
    // TOTP on as well: a passkey sign-in satisfies it.
    const db = ctx.gatehouse.database.db;
    const { context, page } = await newPage();
    const { cdp, authenticatorId } = await virtualAuthenticator(page);
    await signInWithPassword(page, user);
    await page.waitForURL(`${base}/jobs`);
    const begin = await page.evaluate(async () => (await fetch('/api/v1/users/me/mfa/totp', { method: 'POST', credentials: 'same-origin' })).json());
    const secret = (begin as { secret: string }).secret;
    const confirmed = await page.evaluate(
      async (code) =>
        (await fetch('/api/v1/users/me/mfa/totp/confirm', { method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ code }) })).status,
      totpCode(secret, ctx.clock.now()),
    );
    expect(confirmed).toBe(200);

    await page.goto(`${base}/account/security`);
    await expect.poll(() => page.getByText('No passkeys yet.').isVisible()).toBe(true);
    await page.getByLabel('Name of the new passkey').fill('Virtual laptop');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await expect.poll(() => page.getByText('Passkey “Virtual laptop” added').count()).toBe(1);
    await expect.poll(() => page.getByRole('list', { name: 'Your passkeys' }).getByRole('listitem').count()).toBe(1);
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(credentials).toHaveLength(1);
    expect(credentials[0]?.isResidentCredential).toBe(true);
    const stored = await db.selectFrom('passkey').selectAll().where('user_id', '=', user.id).executeTakeFirstOrThrow();
    expect(stored.credential_id).toBe(credentials[0]?.credentialId.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''));

    // Sign out; sign in with the passkey alone (discoverable: no email typed, no code asked).
    await page.evaluate(async () => fetch('/api/v1/auth/logout', { method: 'POST', credentials: 'same-origin' }));
    expect((await me(page)).status).toBe(401);
    await page.goto(`${base}/sign-in?next=/jobs`);
    await passkeyButton(page).click();
    await page.waitForURL(`${base}/jobs`);
    expect((await me(page)).body.email).toBe(user.email.toLowerCase());
    const used = await db.selectFrom('passkey').selectAll().where('id', '=', stored.id).executeTakeFirstOrThrow();
    expect(used.last_used_at).not.toBeNull();
    expect(used.counter).toBeGreaterThan(stored.counter);
    const audit = await db.selectFrom('audit_log').select('action').where('target_id', '=', stored.id).execute();
    expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining(['passkey.add', 'auth.passkey_login']));

    // Rename and list through the API with the passkey-made session.
    const renamed = await page.evaluate(
      async (id) => (await fetch(`/api/v1/users/me/passkeys/${id}`, { method: 'PATCH', credentials: 'same-origin', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'Work laptop' }) })).json(),
      stored.id,
    );
    expect(renamed).toMatchObject({ id: stored.id, name: 'Work laptop', backed_up: false });
    const list = (await page.evaluate(async () => (await fetch('/api/v1/users/me/passkeys', { credentials: 'same-origin' })).json())) as { items: Array<{ name: string }> };
    expect(list.items.map((p) => p.name)).toEqual(['Work laptop']);

    // A counter that went backwards (a cloned authenticator) is refused.
    await db.updateTable('passkey').set({ counter: used.counter + 1000 }).where('id', '=', stored.id).execute();
    await page.evaluate(async () => fetch('/api/v1/auth/logout', { method: 'POST', credentials: 'same-origin' }));
    await page.goto(`${base}/sign-in?next=/jobs`);
    await passkeyButton(page).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('counter');
    expect((await me(page)).status).toBe(401);
    await db.updateTable('passkey').set({ counter: used.counter }).where('id', '=', stored.id).execute();

    // Sign in again, remove the passkey on the security page; the passkey no longer signs in.
    await passkeyButton(page).click();
    await page.waitForURL(`${base}/jobs`);
    await page.goto(`${base}/account/security`);
    await page.getByRole('button', { name: 'Remove Work laptop' }).click();
    await page.getByRole('dialog', { name: 'Remove this passkey?' }).getByRole('button', { name: 'Remove passkey' }).click();
    await expect.poll(() => page.getByText('No passkeys yet.').isVisible()).toBe(true);
    await page.evaluate(async () => fetch('/api/v1/auth/logout', { method: 'POST', credentials: 'same-origin' }));
    await page.goto(`${base}/sign-in?next=/jobs`);
    await passkeyButton(page).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('not registered');
    const removed = await db.selectFrom('audit_log').select('action').where('target_id', '=', stored.id).where('action', '=', 'passkey.remove').execute();
    expect(removed).toHaveLength(1);
    await ctx.flushMail();
    await ctx.smtp.waitFor((m) => m.to === user.email.toLowerCase() && m.text.includes('A passkey ("Virtual laptop") was added'));
    await context.close();
  }, 90_000);
});
