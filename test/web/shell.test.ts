/**
 * The web app's shell as the server serves it: `index.html` under a strict CSP for `/` and for
 * client-side routes, hashed files precompressed and immutable, server paths never swallowed by
 * the app, `GET /api/v1/meta`, FRONTEND_URL (no built-in app), and in Chromium the home page
 * (name and description from config, no serious axe violations, light/dark and 360 px).
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WEB_APP_DIR } from '../../src/web/app.routes.js';
import { expectNoSeriousA11yViolations, screenshot } from '../helpers/axe.js';
import { chromiumAvailable, launchChromium } from '../helpers/browser.js';
import { createTestContext, loginCookie, makeUser, STRONG_PASSWORD, type TestContext, uniqueEmail } from '../helpers/harness.js';

const DESCRIPTION = 'Practice answers out loud and compete on challenges.';

describe('web app shell', () => {
  let ctx: TestContext;

  beforeAll(async () => {
    ctx = await createTestContext('sqlite', { env: { APP_NAME: 'Speakwell', APP_DESCRIPTION: DESCRIPTION, SITE_URL: 'https://example.org' } });
  });
  afterAll(async () => {
    await ctx?.close();
  });

  it('serves index.html with a strict CSP at / and at client-side routes', async () => {
    for (const url of ['/', '/challenges/some-slug', '/account/sessions?tab=1']) {
      const response = await ctx.request({ method: 'GET', url });
      expect(response.statusCode, url).toBe(200);
      expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
      const csp = String(response.headers['content-security-policy']);
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("style-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).not.toContain('unsafe-eval');
      expect(response.headers['cache-control']).toBe('no-cache');
      // Every script is an external file: nothing inline for the CSP to block.
      const scripts = [...response.body.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
      expect(scripts.length).toBeGreaterThan(0);
      for (const [, attributes, body] of scripts) {
        expect(attributes).toMatch(/\bsrc="\/static\//);
        expect(body).toBe('');
      }
    }
  });

  it('sends hashed files precompressed and immutable, and 404s for missing ones', async () => {
    const js = readdirSync(`${WEB_APP_DIR}static`).find((name) => name.endsWith('.js'));
    expect(js).toBeDefined();
    const br = await ctx.request({ method: 'GET', url: `/static/${js}`, headers: { 'accept-encoding': 'br, gzip' } });
    expect(br.statusCode).toBe(200);
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers['cache-control']).toContain('immutable');
    expect(br.rawPayload.equals(readFileSync(`${WEB_APP_DIR}static/${js}.br`))).toBe(true);
    const plain = await ctx.request({ method: 'GET', url: `/static/${js}` });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.rawPayload.equals(readFileSync(`${WEB_APP_DIR}static/${js}`))).toBe(true);
    const missing = await ctx.request({ method: 'GET', url: '/static/nope-123.js' });
    expect(missing.statusCode).toBe(404);
  });

  it('never answers a server path with the app', async () => {
    for (const url of ['/api/v1/no-such-thing', '/api/nope', '/problems/', '/.well-known/nothing']) {
      const response = await ctx.request({ method: 'GET', url });
      expect(response.statusCode, url).toBe(404);
      expect(response.headers['content-type']).toContain('application/problem+json');
    }
    expect((await ctx.request({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await ctx.request({ method: 'GET', url: '/openapi.json' })).headers['content-type']).toContain('application/json');
  });

  it('GET /api/v1/meta tells a frontend about the deployment', async () => {
    const response = await ctx.request({ method: 'GET', url: '/api/v1/meta' });
    expect(response.statusCode).toBe(200);
    const meta = response.json();
    expect(meta.app).toMatchObject({ name: 'Speakwell', description: DESCRIPTION, site_url: 'https://example.org', docs_url: '/docs' });
    expect(meta.features).toMatchObject({ registration: true, built_in_app: true, totp: true, passkeys: true, challenges: true, campaigns: true, speech: true });
    expect(meta.modules.map((m: { name: string }) => m.name)).toEqual(['challenges', 'campaigns', 'speech']);
    expect(meta.limits.file_max_bytes).toBe(ctx.gatehouse.config.files.maxBytes);
    expect(meta.providers).toEqual([]);
  });

  describe.runIf(chromiumAvailable())('in Chromium', () => {
    let browser: Browser;
    let base: string;

    beforeAll(async () => {
      await ctx.app.listen({ port: 0, host: '127.0.0.1' });
      base = `http://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}`;
      browser = await launchChromium();
    });
    afterAll(async () => {
      await browser?.close();
    });

    it('renders the home page from the meta document, accessibly, light and dark, at 360 px', async () => {
      const errors: string[] = [];
      for (const colorScheme of ['light', 'dark'] as const) {
        for (const width of [1280, 360]) {
          const context = await browser.newContext({ colorScheme, viewport: { width, height: 800 } });
          const page = await context.newPage();
          page.on('console', (message) => {
            // A signed-out visitor's GET /api/v1/users/me answers 401, which Chromium logs.
            if (message.type() === 'error' && !/status of 401/.test(message.text())) errors.push(message.text());
          });
          page.on('pageerror', (error) => errors.push(error.message));
          await page.goto(`${base}/`);
          await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent(), { timeout: 15_000 }).toBe('Speakwell');
          expect(await page.title()).toBe('Speakwell · Speakwell');
          expect(await page.getByText(DESCRIPTION).count()).toBe(1);
          expect(await page.getByRole('link', { name: 'API documentation' }).getAttribute('href')).toBe('/docs');
          expect(await page.getByRole('link', { name: 'Website' }).first().getAttribute('href')).toBe('https://example.org');
          if (width === 1280) await expectNoSeriousA11yViolations(page);
          await screenshot(page, `shell-home-${colorScheme}-${width}`);
          // Nothing overflows sideways at 360 px.
          expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
          await context.close();
        }
      }
      expect(errors).toEqual([]);
    });

    it('shows a not-found page for an unknown client-side route', async () => {
      const page = await browser.newPage();
      await page.goto(`${base}/no/such/page`);
      await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent(), { timeout: 15_000 }).toBe('Page not found');
      await page.getByRole('link', { name: 'Go to the home page' }).click();
      await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Speakwell');
      await page.close();
    });
  });
});

describe('FRONTEND_URL', () => {
  let ctx: TestContext;

  beforeAll(async () => {
    ctx = await createTestContext('sqlite', { env: { FRONTEND_URL: 'https://app.example.org/' } });
  });
  afterAll(async () => {
    await ctx?.close();
  });

  it('serves no built-in app: / redirects to the frontend, client routes are 404s', async () => {
    const root = await ctx.request({ method: 'GET', url: '/' });
    expect(root.statusCode).toBe(302);
    expect(root.headers.location).toBe('https://app.example.org/');
    expect((await ctx.request({ method: 'GET', url: '/challenges' })).statusCode).toBe(404);
    const meta = (await ctx.request({ method: 'GET', url: '/api/v1/meta' })).json();
    expect(meta.features.built_in_app).toBe(false);
  });

  it('points emailed links at the frontend', async () => {
    const email = uniqueEmail('frontend');
    expect((await ctx.request({ method: 'POST', url: '/api/v1/auth/register', payload: { email, password: STRONG_PASSWORD } })).statusCode).toBe(202);
    await ctx.flushMail();
    const mail = await ctx.smtp.waitFor((m) => m.to === email && m.text.includes('/verify-email'));
    expect(mail.text).toMatch(/https:\/\/app\.example\.org\/verify-email\?token=/);
    expect(mail.text).not.toContain(`${ctx.config.server.publicUrl}/verify-email`);
  });

  it('admits the frontend origin by CORS with credentials, and cookie-authenticated writes from it', async () => {
    const preflight = await ctx.request({
      method: 'OPTIONS',
      url: '/api/v1/users/me',
      headers: { origin: 'https://app.example.org', 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'content-type' },
    });
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('https://app.example.org');
    expect(preflight.headers['access-control-allow-credentials']).toBe('true');
    const foreign = await ctx.request({ method: 'OPTIONS', url: '/api/v1/users/me', headers: { origin: 'https://evil.example', 'access-control-request-method': 'PATCH' } });
    expect(foreign.headers['access-control-allow-origin']).toBeUndefined();

    const user = await makeUser(ctx);
    const cookie = await loginCookie(ctx, user);
    const fromFrontend = await ctx.request({ method: 'PATCH', url: '/api/v1/users/me', headers: { cookie, origin: 'https://app.example.org' }, payload: { name: 'From the frontend' } });
    expect(fromFrontend.statusCode).toBe(200);
    expect(fromFrontend.headers['access-control-allow-origin']).toBe('https://app.example.org');
    const fromElsewhere = await ctx.request({ method: 'PATCH', url: '/api/v1/users/me', headers: { cookie, origin: 'https://evil.example' }, payload: { name: 'x' } });
    expect(fromElsewhere.statusCode).toBe(403);
    expect(fromElsewhere.json().detail).toContain('https://app.example.org');
  });
});
