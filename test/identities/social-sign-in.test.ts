/**
 * Social sign-in end to end over HTTP, on each dialect: a real OpenID Provider (panva's
 * `oidc-provider`, in this process on loopback) and a listening Gatehouse, driven by a
 * fetch-based user agent that follows redirects and fills the OP's dev login and consent forms.
 *
 * Covers: the provider list; a new account (no password, email verified by the provider);
 * signing in again; linking an existing account only after its password; an unverified email
 * (new account unverified and refused while verification is required; an existing account never
 * linked); a replayed callback; a wrong `state`; denied consent; an unreachable provider; a
 * foreign redirect; a banned user; the API client's one-time code with PKCE at `/auth/token`;
 * listing and unlinking identities (the last way in is kept); self-deletion of an account without
 * a password (a fresh sign-in stands in for it, on the manual clock); and the GitHub preset against a
 * small local fake of GitHub's OAuth and REST endpoints.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseDialect } from '../../src/config.js';
import { cliFor } from '../cli/cli-helpers.js';
import { totpCode } from '../../src/mfa/totp.js';
import { dialects } from '../helpers/dialects.js';
import { FRESH_SIGN_IN_SECONDS } from '../../src/auth/auth.service.js';
import { createTestContext, makeUser, STRONG_PASSWORD, type TestContext, tokenFromLatestMail, uniqueEmail } from '../helpers/harness.js';
import { waitForMail } from '../helpers/http-assertions.js';
import { FlowClient, startTestOp, type TestOp } from './op.js';
import { freePort } from '../helpers/server-process.js';

/** A free TCP port on 127.0.0.1. */
/** A small fake of GitHub: authorize (auto-approves), token, /user and /user/emails. */
async function startFakeGithub(): Promise<{ url: string; user: { id: number; login: string; name: string }; emails: Array<{ email: string; primary: boolean; verified: boolean }>; close(): Promise<void> }> {
  const state = { user: { id: 4242, login: 'octo', name: 'Octo Cat' }, emails: [] as Array<{ email: string; primary: boolean; verified: boolean }> };
  const codes = new Map<string, string>();
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/login/oauth/authorize') {
      const code = randomBytes(8).toString('hex');
      codes.set(code, url.searchParams.get('code_challenge') ?? '');
      const back = new URL(url.searchParams.get('redirect_uri') ?? '');
      back.searchParams.set('code', code);
      back.searchParams.set('state', url.searchParams.get('state') ?? '');
      res.writeHead(302, { location: back.toString() });
      res.end();
      return;
    }
    if (url.pathname === '/login/oauth/access_token' && req.method === 'POST') {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        const form = new URLSearchParams(body);
        const challenge = codes.get(form.get('code') ?? '');
        codes.delete(form.get('code') ?? '');
        const verifier = form.get('code_verifier') ?? '';
        if (challenge === undefined || createHash('sha256').update(verifier).digest('base64url') !== challenge || form.get('client_secret') !== 'github-secret') {
          json(400, { error: 'invalid_grant' });
          return;
        }
        json(200, { access_token: 'gho_fake_token', token_type: 'bearer', scope: 'read:user,user:email' });
      });
      return;
    }
    if (req.headers.authorization !== 'Bearer gho_fake_token') return json(401, { message: 'Bad credentials' });
    if (url.pathname === '/api/user') return json(200, state.user);
    if (url.pathname === '/api/user/emails') return json(200, state.emails);
    json(404, { message: 'Not Found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    get user() {
      return state.user;
    },
    set user(u) {
      state.user = u;
    },
    get emails() {
      return state.emails;
    },
    set emails(e) {
      state.emails = e;
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

let op: TestOp;
let github: Awaited<ReturnType<typeof startFakeGithub>>;
let deadPort: number;
const ports = new Map<DatabaseDialect, number>();

beforeAll(async () => {
  for (const dialect of dialects) ports.set(dialect, await freePort());
  deadPort = await freePort();
  op = await startTestOp([...ports.values()].map((port) => `http://127.0.0.1:${port}/api/v1/auth/oauth/testop/callback`));
  github = await startFakeGithub();
});

afterAll(async () => {
  await op?.close();
  await github?.close();
});

describe.each(dialects)('social sign-in (%s)', (dialect) => {
  let ctx: TestContext;
  let base: string;
  let counter = 0;

  /** A fresh OP account with a unique login name. */
  function opAccount(email: string, verified: boolean): string {
    counter += 1;
    const login = `${dialect}-person-${counter}`;
    op.accounts.set(login, { email, email_verified: verified, name: `Person ${counter}` });
    return login;
  }

  async function me(client: FlowClient): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${base}/api/v1/users/me`, { headers: { cookie: client.cookieHeader(base) } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  const userRow = (email: string) => ctx.gatehouse.database.db.selectFrom('user').selectAll().where('email_normalized', '=', email.toLowerCase()).executeTakeFirst();
  const identityRows = (userId: string) => ctx.gatehouse.database.db.selectFrom('identity').selectAll().where('user_id', '=', userId).execute();

  beforeAll(async () => {
    const port = ports.get(dialect) as number;
    base = `http://127.0.0.1:${port}`;
    ctx = await createTestContext(dialect, {
      env: {
        PUBLIC_URL: base,
        OIDC_TESTOP_ISSUER: op.issuer,
        OIDC_TESTOP_CLIENT_ID: op.clientId,
        OIDC_TESTOP_CLIENT_SECRET: op.clientSecret,
        OIDC_TESTOP_DISPLAY_NAME: 'Test OP',
        OIDC_DOWN_ISSUER: `http://127.0.0.1:${deadPort}`,
        OIDC_DOWN_CLIENT_ID: 'x',
        OIDC_DOWN_CLIENT_SECRET: 'y',
        GITHUB_CLIENT_ID: 'github-client',
        GITHUB_CLIENT_SECRET: 'github-secret',
        GITHUB_URL: github.url,
        GITHUB_API_URL: `${github.url}/api`,
        AUTH_REDIRECT_ORIGINS: 'http://app.example:8080',
      },
    });
    await ctx.app.listen({ port, host: '127.0.0.1' });
  });

  afterAll(async () => {
    await ctx?.close();
  });

  it('lists the enabled providers with their start URLs', async () => {
    const res = await fetch(`${base}/api/v1/auth/providers`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { items: Array<{ name: string; display_name: string; start_url: string }> };
    expect(body.items).toEqual([
      { name: 'github', display_name: 'GitHub', start_url: `${base}/api/v1/auth/oauth/github/start` },
      { name: 'down', display_name: 'Down', start_url: `${base}/api/v1/auth/oauth/down/start` },
      { name: 'testop', display_name: 'Test OP', start_url: `${base}/api/v1/auth/oauth/testop/start` },
    ]);
  });

  it('creates an account without a password on first sign-in, and signs the same account in again', async () => {
    const email = uniqueEmail('social');
    const login = opAccount(email, true);
    const client = new FlowClient();
    const { last } = await client.follow(`${base}/api/v1/auth/oauth/testop/start?redirect=/jobs`, { login, stopAt: [`${base}/jobs`] });
    expect(last.status).toBe(303);
    expect(last.location).toBe(`${base}/jobs`);
    const signedIn = await me(client);
    expect(signedIn.status).toBe(200);
    expect(signedIn.body).toMatchObject({ email, email_verified: true, role: 'user' });
    const row = await userRow(email);
    expect(row?.password_hash).toBeNull();
    expect(await identityRows(row?.id as string)).toMatchObject([{ provider: 'testop', subject: login, email, email_verified: 1 }]);

    // Password sign-in for an account without a password fails exactly like a wrong password.
    const password = await ctx.request({ method: 'POST', url: '/api/v1/auth/login', headers: { origin: base }, payload: { email, password: STRONG_PASSWORD } });
    expect(password.statusCode).toBe(401);
    expect(password.json().code).toBe('invalid_credentials');

    // Again, in a new browser: the same account, no second user.
    const again = new FlowClient();
    await again.follow(`${base}/api/v1/auth/oauth/testop/start`, { login, stopAt: [`${base}/`] });
    expect((await me(again)).body.id).toBe(row?.id);
    const audit = await ctx.gatehouse.database.db.selectFrom('audit_log').select(['action', 'details']).where('actor_id', '=', row?.id as string).where('action', '=', 'auth.login').execute();
    expect(audit.length).toBe(2);
    expect(JSON.parse(String(audit[0]?.details))).toMatchObject({ method: 'identity', provider: 'testop', outcome: 'success' });

    // The identities, and the last way in cannot be removed.
    const listed = await fetch(`${base}/api/v1/users/me/identities`, { headers: { cookie: again.cookieHeader(base) } });
    const items = ((await listed.json()) as { items: Array<{ id: string; provider: string; display_name: string; email_verified: boolean }> }).items;
    expect(items).toMatchObject([{ provider: 'testop', display_name: 'Test OP', email, email_verified: true }]);
    const removed = await fetch(`${base}/api/v1/users/me/identities/${items[0]?.id}`, { method: 'DELETE', headers: { cookie: again.cookieHeader(base), origin: base } });
    expect(removed.status).toBe(409);
    expect(((await removed.json()) as { code: string }).code).toBe('last_sign_in_method');

    // Operators see the linked providers (the CLI runs dist/: `npm run build` first). One dialect suffices.
    if (dialect === 'sqlite') {
      const shown = await cliFor(ctx.database)(['users', 'show', email, '--json']);
      expect(JSON.parse(shown.stdout).identities).toMatchObject([{ provider: 'testop', email, email_verified: true }]);
    }
  }, 60_000);

  it('an account without a password deletes itself within 5 minutes of signing in; later it is asked to sign in again (403), then can', async () => {
    const email = uniqueEmail('social-delete');
    const login = opAccount(email, true);
    const remove = (client: FlowClient, body?: object) =>
      fetch(`${base}/api/v1/users/me`, {
        method: 'DELETE',
        headers: { cookie: client.cookieHeader(base), origin: base, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
    const first = new FlowClient();
    await first.follow(`${base}/api/v1/auth/oauth/testop/start`, { login, stopAt: [`${base}/`] });
    expect((await me(first)).body).toMatchObject({ email, has_password: false });

    ctx.clock.advance(FRESH_SIGN_IN_SECONDS + 1);
    const stale = await remove(first);
    expect(stale.status).toBe(403);
    expect(((await stale.json()) as { code: string }).code).toBe('reauthentication_required');
    // There is no password to send: any guess is wrong (and counts towards the lockout).
    const guessed = await remove(first, { password: STRONG_PASSWORD });
    expect(guessed.status).toBe(400);
    expect(((await guessed.json()) as { code: string }).code).toBe('invalid_current_password');
    expect((await me(first)).status).toBe(200);
    expect((await userRow(email))?.status).toBe('active');

    // Signing in again (a new browser: the provider asks again) makes the next few minutes fresh.
    const again = new FlowClient();
    await again.follow(`${base}/api/v1/auth/oauth/testop/start`, { login, stopAt: [`${base}/`] });
    ctx.clock.advance(FRESH_SIGN_IN_SECONDS);
    const removed = await remove(again);
    expect(removed.status).toBe(204);
    expect(removed.headers.get('set-cookie')).toMatch(/Expires=Thu, 01 Jan 1970/i);
    expect((await me(again)).status).toBe(401);
    expect((await me(first)).status).toBe(401);
    const row = await userRow(email);
    expect(row?.status).toBe('deactivated');
    const audit = await ctx.gatehouse.database.db.selectFrom('audit_log').select('action').where('target_id', '=', row?.id as string).where('action', '=', 'user.deactivate').execute();
    expect(audit).toHaveLength(1);
    await waitForMail(ctx, email, /deactivated/i);
    // Deactivated: the provider no longer signs it in.
    const after = await new FlowClient().follow(`${base}/api/v1/auth/oauth/testop/start`, { login, accept: 'application/json' });
    expect(after.last.status).toBe(401);
    expect(JSON.parse(after.last.body)).toMatchObject({ code: 'account_deactivated' });
  }, 60_000);

  it('links an existing account only after its password, then signs in with the provider directly', async () => {
    const owner = await makeUser(ctx);
    const login = opAccount(owner.email, true);
    const client = new FlowClient();
    const { last } = await client.follow(`${base}/api/v1/auth/oauth/testop/start`, { login, stopAt: [`${base}/link-account`] });
    expect(last.status).toBe(303);
    expect(last.location).toBe(`${base}/link-account?provider=testop`);
    expect(client.cookie(base, ctx.config.auth.cookieName)).toBeUndefined();
    expect(await identityRows(owner.id)).toEqual([]);

    const linkCookie = client.cookieHeader(base);
    const info = await fetch(`${base}/api/v1/auth/oauth/link`, { headers: { cookie: linkCookie } });
    expect(await info.json()).toMatchObject({ email: owner.email, provider: { name: 'testop', display_name: 'Test OP' } });

    const wrong = await fetch(`${base}/api/v1/auth/oauth/link`, { method: 'POST', headers: { cookie: linkCookie, origin: base, 'content-type': 'application/json' }, body: JSON.stringify({ password: 'not the password at all' }) });
    expect(wrong.status).toBe(401);
    expect(await identityRows(owner.id)).toEqual([]);

    const linked = await fetch(`${base}/api/v1/auth/oauth/link`, { method: 'POST', headers: { cookie: linkCookie, origin: base, 'content-type': 'application/json' }, body: JSON.stringify({ password: owner.password }) });
    expect(linked.status).toBe(200);
    expect(await linked.json()).toMatchObject({ user: { id: owner.id }, redirect: `${base}/` });
    expect(linked.headers.getSetCookie().some((c) => c.startsWith(`${ctx.config.auth.cookieName}=`))).toBe(true);
    expect(await identityRows(owner.id)).toMatchObject([{ provider: 'testop', subject: login }]);
    await ctx.flushMail();
    await ctx.smtp.waitFor((m) => m.to === owner.email.toLowerCase() && /Test OP can now sign in/.test(m.subject));

    const direct = new FlowClient();
    await direct.follow(`${base}/api/v1/auth/oauth/testop/start`, { login, stopAt: [`${base}/`] });
    expect((await me(direct)).body.id).toBe(owner.id);
  });

  it('links by an emailed confirmation instead of the password', async () => {
    const owner = await makeUser(ctx);
    const login = opAccount(owner.email, true);
    const client = new FlowClient();
    await client.follow(`${base}/api/v1/auth/oauth/testop/start`, { login, stopAt: [`${base}/link-account`] });
    const asked = await fetch(`${base}/api/v1/auth/oauth/link/email`, { method: 'POST', headers: { cookie: client.cookieHeader(base), origin: base, 'content-type': 'application/json' }, body: '{}' });
    expect(asked.status).toBe(202);
    await ctx.flushMail();
    const mail = await ctx.smtp.waitFor((m) => m.to === owner.email.toLowerCase() && m.text.includes('/link-account?token='));
    const token = decodeURIComponent(/link-account\?token=([^\s"&]+)/.exec(mail.text)?.[1] ?? '');
    const confirmed = await ctx.request({ method: 'POST', url: '/api/v1/auth/oauth/link/confirm', headers: { origin: base }, payload: { token } });
    expect(confirmed.statusCode).toBe(200);
    expect(await identityRows(owner.id)).toMatchObject([{ provider: 'testop', subject: login }]);
    const replay = await ctx.request({ method: 'POST', url: '/api/v1/auth/oauth/link/confirm', headers: { origin: base }, payload: { token } });
    expect(replay.statusCode).toBe(400);
  });

  it('links a provider to a signed-in account on request, and never one linked to someone else', async () => {
    const owner = await makeUser(ctx);
    const login = opAccount(uniqueEmail('other-address'), false);
    const signIn = await ctx.request({ method: 'POST', url: '/api/v1/auth/login', headers: { origin: base }, payload: { email: owner.email, password: owner.password } });
    const session = signIn.cookies.find((c) => c.name === ctx.config.auth.cookieName);
    const client = new FlowClient();
    client.jar.set(base, new Map([[session?.name as string, session?.value as string]]));
    const asked = await client.request(`${base}/api/v1/users/me/identities`, { form: { provider: 'testop', redirect: '/account' }, accept: 'application/json' });
    expect(asked.status, asked.body).toBe(200);
    const { authorization_url } = JSON.parse(asked.body) as { authorization_url: string };
    const { last } = await client.follow(authorization_url, { login, stopAt: [`${base}/account`] });
    expect(last.location).toBe(`${base}/account?linked=testop`);
    expect(await identityRows(owner.id)).toMatchObject([{ provider: 'testop', subject: login, email_verified: 0 }]);

    // The same provider account for another account: refused.
    const other = await makeUser(ctx);
    const otherSignIn = await ctx.request({ method: 'POST', url: '/api/v1/auth/login', headers: { origin: base }, payload: { email: other.email, password: other.password } });
    const otherSession = otherSignIn.cookies.find((c) => c.name === ctx.config.auth.cookieName);
    const second = new FlowClient();
    second.jar.set(base, new Map([[otherSession?.name as string, otherSession?.value as string]]));
    const again = JSON.parse((await second.request(`${base}/api/v1/users/me/identities`, { form: { provider: 'testop' }, accept: 'application/json' })).body) as { authorization_url: string };
    const refused = await second.follow(again.authorization_url, { login, accept: 'application/json' });
    expect(refused.last.status).toBe(409);
    expect(JSON.parse(refused.last.body)).toMatchObject({ code: 'identity_taken' });
    expect(await identityRows(other.id)).toEqual([]);

    // Without the Origin of this site (another site's form), no link can be started.
    const forged = await fetch(`${base}/api/v1/users/me/identities`, { method: 'POST', headers: { cookie: `${session?.name}=${session?.value}`, origin: 'https://evil.example', 'content-type': 'application/json' }, body: JSON.stringify({ provider: 'testop' }) });
    expect(forged.status).toBe(403);
  });

  it('never links or verifies on an unverified provider email', async () => {
    // No account yet: one is created, unverified, and refused until the address is confirmed.
    const email = uniqueEmail('unverified');
    const login = opAccount(email, false);
    const client = new FlowClient();
    const { last } = await client.follow(`${base}/api/v1/auth/oauth/testop/start`, { login });
    expect(last.status).toBe(403);
    expect(last.contentType).toMatch(/text\/html/);
    expect(last.body).toContain('email_not_verified');
    expect(client.cookie(base, ctx.config.auth.cookieName)).toBeUndefined();
    const row = await userRow(email);
    expect(row?.email_verified_at).toBeNull();
    expect(await identityRows(row?.id as string)).toMatchObject([{ email_verified: 0 }]);
    await ctx.flushMail();
    await ctx.smtp.waitFor((m) => m.to === email.toLowerCase() && m.text.includes('/verify-email?token='));

    // An existing account with that email is never linked through it.
    const owner = await makeUser(ctx);
    const other = opAccount(owner.email, false);
    const attempt = new FlowClient();
    const refused = await attempt.follow(`${base}/api/v1/auth/oauth/testop/start`, { login: other, accept: 'application/json' });
    expect(refused.last.status).toBe(409);
    expect(JSON.parse(refused.last.body)).toMatchObject({ code: 'identity_email_in_use' });
    expect(await identityRows(owner.id)).toEqual([]);
  });

  it('refuses a replayed callback and a wrong state with problem documents, never a 500', async () => {
    const email = uniqueEmail('replay');
    const login = opAccount(email, true);
    const client = new FlowClient();
    const callbackPrefix = `${base}/api/v1/auth/oauth/testop/callback`;
    const { stoppedAt } = await client.follow(`${base}/api/v1/auth/oauth/testop/start`, { login, stopAt: [callbackPrefix] });
    expect(stoppedAt).toMatch(/code=/);
    const flowCookie = client.cookie(base, `${ctx.config.auth.cookieName}_oauth`) as string;
    expect(flowCookie).toBeTruthy();

    // A wrong state with the right cookie: refused, and the code is not spent on it.
    const forged = new URL(stoppedAt as string);
    forged.searchParams.set('state', 'not-the-state-of-this-flow');
    const wrongState = await client.request(forged.toString(), { accept: 'application/json' });
    expect(wrongState.status).toBe(400);
    expect(JSON.parse(wrongState.body)).toMatchObject({ code: 'identity_flow_invalid' });

    // The genuine answer (the flow cookie put back: the failure cleared it).
    client.jar.get(base)?.set(`${ctx.config.auth.cookieName}_oauth`, flowCookie);
    const done = await client.request(stoppedAt as string);
    expect(done.status).toBe(303);

    // Replayed in the same browser: the flow is over.
    const replay = await client.request(stoppedAt as string, { accept: 'application/json' });
    expect(replay.status).toBe(400);
    expect(JSON.parse(replay.body)).toMatchObject({ code: 'identity_flow_invalid' });
    // Replayed with the old flow cookie (stolen along with the URL): the OP refuses the used code.
    client.jar.get(base)?.set(`${ctx.config.auth.cookieName}_oauth`, flowCookie);
    const stolen = await client.request(stoppedAt as string);
    expect(stolen.status).toBe(400);
    expect(stolen.contentType).toMatch(/text\/html/);
    expect(stolen.body).toContain('identity_flow_invalid');
  });

  it('answers denied consent, an unreachable provider, an unknown provider and a foreign redirect with 4xx/503 problems', async () => {
    const login = opAccount(uniqueEmail('deny'), true);
    const denied = await new FlowClient().follow(`${base}/api/v1/auth/oauth/testop/start`, { login, deny: true, accept: 'application/json' });
    expect(denied.last.status).toBe(403);
    expect(JSON.parse(denied.last.body)).toMatchObject({ code: 'identity_denied' });

    const down = await fetch(`${base}/api/v1/auth/oauth/down/start`, { redirect: 'manual' });
    expect(down.status).toBe(503);
    expect(((await down.json()) as { code: string }).code).toBe('identity_provider_unavailable');
    // A person pressing the button gets a page.
    const downPage = await fetch(`${base}/api/v1/auth/oauth/down/start`, { redirect: 'manual', headers: { accept: 'text/html' } });
    expect(downPage.status).toBe(503);
    expect(await downPage.text()).toContain('<code id="code">identity_provider_unavailable</code>');

    const unknown = await fetch(`${base}/api/v1/auth/oauth/nope/start`, { redirect: 'manual' });
    expect(unknown.status).toBe(404);

    for (const redirect of ['https://evil.example/', '//evil.example/x', 'http://app.example:8081/']) {
      const res = await fetch(`${base}/api/v1/auth/oauth/testop/start?redirect=${encodeURIComponent(redirect)}`, { redirect: 'manual' });
      expect(res.status, redirect).toBe(400);
      expect(((await res.json()) as { code: string }).code).toBe('redirect_not_allowed');
    }
    const allowed = await fetch(`${base}/api/v1/auth/oauth/testop/start?redirect=${encodeURIComponent('http://app.example:8080/done')}`, { redirect: 'manual' });
    expect(allowed.status).toBe(302);
  });

  it('lets an account created through a provider set a password through the reset flow', async () => {
    const email = uniqueEmail('reset');
    const login = opAccount(email, true);
    await new FlowClient().follow(`${base}/api/v1/auth/oauth/testop/start`, { login, stopAt: [`${base}/`] });
    const forgot = await ctx.request({ method: 'POST', url: '/api/v1/auth/password/forgot', headers: { origin: base }, payload: { email } });
    expect(forgot.statusCode).toBe(202);
    const token = await tokenFromLatestMail(ctx, email, '/reset-password');
    const reset = await ctx.request({ method: 'POST', url: '/api/v1/auth/password/reset', headers: { origin: base }, payload: { token, password: STRONG_PASSWORD } });
    expect(reset.statusCode, reset.body).toBe(204);
    const password = await ctx.request({ method: 'POST', url: '/api/v1/auth/login', headers: { origin: base }, payload: { email, password: STRONG_PASSWORD } });
    expect(password.statusCode).toBe(200);
    // With a password, the provider may now be unlinked.
    const cookie = password.cookies.find((c) => c.name === ctx.config.auth.cookieName);
    const headers = { cookie: `${cookie?.name}=${cookie?.value}`, origin: base };
    const listed = await ctx.request({ url: '/api/v1/users/me/identities', headers });
    const id = listed.json().items[0].id as string;
    expect((await ctx.request({ method: 'DELETE', url: `/api/v1/users/me/identities/${id}`, headers })).statusCode).toBe(204);
    expect((await ctx.request({ url: '/api/v1/users/me/identities', headers })).json().items).toEqual([]);
  });

  it('asks a user with a second factor for it after the provider, as after a password', async () => {
    const email = uniqueEmail('mfa');
    const login = opAccount(email, true);
    const first = new FlowClient();
    await first.follow(`${base}/api/v1/auth/oauth/testop/start`, { login, stopAt: [`${base}/`] });
    const cookie = first.cookieHeader(base);
    const begin = await ctx.request({ method: 'POST', url: '/api/v1/users/me/mfa/totp', headers: { cookie, origin: base } });
    expect(begin.statusCode, begin.body).toBe(200);
    const secret = begin.json<{ secret: string }>().secret;
    const code = () => totpCode(secret, ctx.clock.now());
    const confirm = await ctx.request({ method: 'POST', url: '/api/v1/users/me/mfa/totp/confirm', headers: { cookie, origin: base }, payload: { code: code() } });
    expect(confirm.statusCode, confirm.body).toBe(200);
    ctx.clock.advance(30);

    // A browser: no session yet; the sign-in page's code step, then the session.
    const browser = new FlowClient();
    const { last } = await browser.follow(`${base}/api/v1/auth/oauth/testop/start`, { login, stopAt: [`${base}/sign-in`] });
    expect(last.status).toBe(303);
    const mfaToken = new URL(last.location as string).searchParams.get('mfa_token') as string;
    expect(mfaToken).toBeTruthy();
    expect(browser.cookie(base, ctx.config.auth.cookieName)).toBeUndefined();
    const finished = await ctx.request({ method: 'POST', url: '/api/v1/auth/mfa', headers: { origin: base }, payload: { mfa_token: mfaToken, code: code() } });
    expect(finished.statusCode, finished.body).toBe(200);
    expect(finished.cookies.some((c) => c.name === ctx.config.auth.cookieName)).toBe(true);
    ctx.clock.advance(30);

    // An API client: the code exchange answers mfa_required; the second factor gives the tokens.
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const appCallback = `${base}/app/callback`;
    const api = await new FlowClient().follow(`${base}/api/v1/auth/oauth/testop/start?mode=api&code_challenge=${challenge}&redirect=${encodeURIComponent(appCallback)}`, { login, stopAt: [appCallback] });
    const exchanged = await ctx.request({ method: 'POST', url: '/api/v1/auth/token', payload: { grant_type: 'authorization_code', code: new URL(api.stoppedAt as string).searchParams.get('code'), code_verifier: verifier } });
    expect(exchanged.statusCode, exchanged.body).toBe(401);
    expect(exchanged.json()).toMatchObject({ error: 'mfa_required', code: 'mfa_required' });
    const tokens = await ctx.request({ method: 'POST', url: '/api/v1/auth/mfa', headers: { origin: base }, payload: { mfa_token: exchanged.json().mfa_token, code: code() } });
    expect(tokens.statusCode, tokens.body).toBe(200);
    expect(tokens.json().access_token).toBeTruthy();
  });

  it('refuses a banned user at the provider sign-in as at the password', async () => {
    const email = uniqueEmail('banned');
    const login = opAccount(email, true);
    await new FlowClient().follow(`${base}/api/v1/auth/oauth/testop/start`, { login, stopAt: [`${base}/`] });
    const row = await userRow(email);
    await ctx.gatehouse.users.ban(row?.id as string, { durationSeconds: 3600, reason: 'test' }, { actorId: null, ip: null, userAgent: null });
    const banned = await new FlowClient().follow(`${base}/api/v1/auth/oauth/testop/start`, { login, accept: 'application/json' });
    expect(banned.last.status).toBe(403);
    expect(JSON.parse(banned.last.body)).toMatchObject({ code: 'user_banned' });
  });

  it('gives API clients a one-time code that only their PKCE verifier exchanges for tokens', async () => {
    const email = uniqueEmail('api');
    const login = opAccount(email, true);
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const appCallback = `${base}/app/callback`;
    const start = `${base}/api/v1/auth/oauth/testop/start?mode=api&code_challenge=${challenge}&code_challenge_method=S256&redirect=${encodeURIComponent(`${appCallback}?client_state=42`)}`;
    const client = new FlowClient();
    const { stoppedAt } = await client.follow(start, { login, stopAt: [appCallback] });
    const back = new URL(stoppedAt as string);
    expect(back.searchParams.get('client_state')).toBe('42');
    const code = back.searchParams.get('code') as string;
    expect(code).toBeTruthy();
    expect(client.cookie(base, ctx.config.auth.cookieName)).toBeUndefined();

    const exchange = (payload: Record<string, string>) => ctx.request({ method: 'POST', url: '/api/v1/auth/token', payload: { grant_type: 'authorization_code', ...payload } });
    const tokens = await exchange({ code, code_verifier: verifier });
    expect(tokens.statusCode, tokens.body).toBe(200);
    const meRes = await ctx.request({ url: '/api/v1/users/me', headers: { authorization: `Bearer ${tokens.json().access_token}` } });
    expect(meRes.json()).toMatchObject({ email });
    const refreshed = await ctx.request({ method: 'POST', url: '/api/v1/auth/token', payload: { grant_type: 'refresh_token', refresh_token: tokens.json().refresh_token } });
    expect(refreshed.statusCode).toBe(200);

    const replay = await exchange({ code, code_verifier: verifier });
    expect(replay.statusCode).toBe(400);
    expect(replay.json().error).toBe('invalid_grant');

    // Another code, a wrong verifier: refused (and the code is spent).
    const second = await new FlowClient().follow(start, { login, stopAt: [appCallback] });
    const code2 = new URL(second.stoppedAt as string).searchParams.get('code') as string;
    const wrong = await exchange({ code: code2, code_verifier: randomBytes(32).toString('base64url') });
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json().error).toBe('invalid_grant');
    expect((await exchange({ code: code2, code_verifier: verifier })).statusCode).toBe(400);

    // Without a challenge, API mode is refused at the start.
    const noChallenge = await fetch(`${base}/api/v1/auth/oauth/testop/start?mode=api&redirect=${encodeURIComponent(appCallback)}`, { redirect: 'manual' });
    expect(noChallenge.status).toBe(400);
  });

  it('signs in with the GitHub preset (user and verified primary email from its API)', async () => {
    const email = uniqueEmail('octo');
    github.user = { id: 9000 + counter++, login: 'octo', name: 'Octo Cat' };
    github.emails = [
      { email: uniqueEmail('unverified-primary'), primary: false, verified: false },
      { email, primary: true, verified: true },
    ];
    const client = new FlowClient();
    const { last } = await client.follow(`${base}/api/v1/auth/oauth/github/start`, { login: 'unused', stopAt: [`${base}/`] });
    expect(last.status).toBe(303);
    expect((await me(client)).body).toMatchObject({ email, email_verified: true, name: 'Octo Cat' });
    const row = await userRow(email);
    expect(await identityRows(row?.id as string)).toMatchObject([{ provider: 'github', subject: String(github.user.id) }]);
  });
});
