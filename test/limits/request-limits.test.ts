import { readdirSync } from 'node:fs';
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import type { Principal } from '../../src/auth/auth.service.js';
import { loadConfig } from '../../src/config.js';
import { createGatehouse, type Gatehouse } from '../../src/container.js';
import { installProblemHandlers } from '../../src/http/problem.js';
import { createLimiterStore, type LimiterStore } from '../../src/limits/limiter-store.js';
import { QuotaService } from '../../src/limits/quota.service.js';
import { installRequestLimits } from '../../src/limits/request-limits.js';
import { systemClock } from '../../src/shared/clock.js';
import { WEB_APP_DIR } from '../../src/web/app.routes.js';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, loginCookie, makeUser, STRONG_PASSWORD, type TestContext } from '../helpers/harness.js';
import { randomIp, TEST_REDIS_URL } from './limiter-stores.js';

/** The RateLimit-* headers of a response, as numbers. */
function limitHeaders(res: LightMyRequestResponse) {
  return {
    limit: Number(res.headers['ratelimit-limit']),
    remaining: Number(res.headers['ratelimit-remaining']),
    reset: Number(res.headers['ratelimit-reset']),
  };
}

/** Asserts a 429 `rate_limited` problem document with consistent Retry-After and RateLimit-*. */
function expectRateLimited(res: LightMyRequestResponse, limit: number, windowSeconds: number): void {
  expect(res.statusCode).toBe(429);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const retryAfter = Number(res.headers['retry-after']);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(windowSeconds);
  expect(limitHeaders(res)).toEqual({ limit, remaining: 0, reset: retryAfter });
  expect(res.json()).toMatchObject({ status: 429, code: 'rate_limited', retry_after: retryAfter, type: '/problems/rate_limited' });
}

describe('installRequestLimits on a bare Fastify app (route overrides)', () => {
  let app: FastifyInstance;
  let store: LimiterStore;
  beforeAll(async () => {
    store = await createLimiterStore({ redisUrl: null, logger: pino({ level: 'silent' }) });
    const config = loadConfig({ RATE_LIMIT_IP_PER_MINUTE: '5', RATE_LIMIT_USER_PER_MINUTE: '7' });
    const quota = new QuotaService(store, config.quota, systemClock, async () => undefined);
    app = Fastify();
    installProblemHandlers(app);
    app.decorateRequest('principal', null);
    // Stands in for the authentication hook: `x-user` names the signed-in user.
    app.addHook('onRequest', async (request) => {
      const id = request.headers['x-user'];
      if (typeof id === 'string') {
        request.principal = { user: { id }, access: { quotaPerHour: 0, quotaPerDay: 0 } } as unknown as Principal;
      }
    });
    installRequestLimits(app, { store, config, quota });
    app.get('/plain', async () => ({ ok: true }));
    app.get('/strict', { config: { rateLimit: { points: 2, durationSeconds: 30 } } }, async () => ({ ok: true }));
    app.get('/unlimited', { config: { rateLimit: false } }, async () => ({ ok: true }));
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await store?.close();
  });

  it('a route with its own rateLimit gets its own counter and limit', async () => {
    const remoteAddress = randomIp();
    for (const remaining of [1, 0]) {
      const res = await app.inject({ url: '/strict', remoteAddress });
      expect(res.statusCode).toBe(200);
      expect(limitHeaders(res)).toMatchObject({ limit: 2, remaining });
      expect(limitHeaders(res).reset).toBeLessThanOrEqual(30);
    }
    expectRateLimited(await app.inject({ url: '/strict', remoteAddress }), 2, 30);
    // The global per-IP counter was not touched by the override.
    const plain = await app.inject({ url: '/plain', remoteAddress });
    expect(plain.statusCode).toBe(200);
    expect(limitHeaders(plain)).toMatchObject({ limit: 5, remaining: 4 });
  });

  it('the override counts per user for signed-in callers, and users use the per-user limit', async () => {
    const remoteAddress = randomIp();
    for (let i = 0; i < 2; i++) expect((await app.inject({ url: '/strict', remoteAddress, headers: { 'x-user': 'alice' } })).statusCode).toBe(200);
    expect((await app.inject({ url: '/strict', remoteAddress, headers: { 'x-user': 'alice' } })).statusCode).toBe(429);
    expect((await app.inject({ url: '/strict', remoteAddress, headers: { 'x-user': 'bob' } })).statusCode).toBe(200);
    expect((await app.inject({ url: '/strict', remoteAddress })).statusCode).toBe(200);
    const res = await app.inject({ url: '/plain', remoteAddress, headers: { 'x-user': 'carol' } });
    expect(limitHeaders(res)).toMatchObject({ limit: 7, remaining: 6 });
  });

  it('rateLimit: false is never limited and sends no RateLimit headers', async () => {
    const remoteAddress = randomIp();
    for (let i = 0; i < 12; i++) {
      const res = await app.inject({ url: '/unlimited', remoteAddress });
      expect(res.statusCode).toBe(200);
      expect(res.headers['ratelimit-limit']).toBeUndefined();
    }
  });

  it('unknown routes (404) are limited too', async () => {
    const remoteAddress = randomIp();
    for (let i = 0; i < 5; i++) expect((await app.inject({ url: `/nope/${i}`, remoteAddress })).statusCode).toBe(404);
    expectRateLimited(await app.inject({ url: '/nope/again', remoteAddress }), 5, 60);
  });
});

describe.each(dialects)('request limits over HTTP (%s)', (dialect) => {
  describe('per-IP limit', () => {
    let ctx: TestContext;
    beforeAll(async () => {
      ctx = await createTestContext(dialect, { env: { RATE_LIMIT_IP_PER_MINUTE: '3' } });
    });
    afterAll(async () => {
      await ctx?.close();
    });

    it('answers 429 with Retry-After and RateLimit-* past RATE_LIMIT_IP_PER_MINUTE, per IP', async () => {
      const remoteAddress = randomIp();
      for (const remaining of [2, 1, 0]) {
        const res = await ctx.request({ url: '/.well-known/jwks.json', remoteAddress });
        expect(res.statusCode).toBe(200);
        const headers = limitHeaders(res);
        expect(headers).toMatchObject({ limit: 3, remaining });
        expect(headers.reset).toBeGreaterThanOrEqual(1);
        expect(headers.reset).toBeLessThanOrEqual(60);
      }
      const refused = await ctx.request({ url: '/.well-known/jwks.json', remoteAddress });
      expectRateLimited(refused, 3, 60);
      expect(refused.headers['x-request-id']).toBeTruthy();
      // Errors count too (a 404 flood is still a flood) and answer 429 once the budget is gone.
      expectRateLimited(await ctx.request({ method: 'POST', url: '/api/v1/auth/login', remoteAddress, payload: {} }), 3, 60);
      // Another client is unaffected.
      expect((await ctx.request({ url: '/.well-known/jwks.json', remoteAddress: randomIp() })).statusCode).toBe(200);
    });

    it('never limits /healthz, /readyz, /docs or static assets', async () => {
      const remoteAddress = randomIp();
      for (let i = 0; i < 4; i++) await ctx.request({ url: '/.well-known/jwks.json', remoteAddress });
      const appFile = readdirSync(`${WEB_APP_DIR}static`).find((name) => name.endsWith('.js'));
      for (const url of ['/healthz', '/readyz', '/docs', '/docs/', '/docs/json', '/assets/pages.css', `/static/${appFile}`, '/favicon.svg']) {
        for (let i = 0; i < 2; i++) {
          const res = await ctx.request({ url, remoteAddress });
          expect(res.statusCode, url).toBeLessThan(400);
          expect(res.headers['ratelimit-limit'], url).toBeUndefined();
        }
      }
    });
  });

  describe('per-user limit', () => {
    let ctx: TestContext;
    beforeAll(async () => {
      ctx = await createTestContext(dialect, { env: { RATE_LIMIT_IP_PER_MINUTE: '50', RATE_LIMIT_USER_PER_MINUTE: '3' } });
    });
    afterAll(async () => {
      await ctx?.close();
    });

    it('counts signed-in requests per user, apart from the IP and from other users', async () => {
      const remoteAddress = randomIp();
      const alice = await loginCookie(ctx, await makeUser(ctx));
      const bob = await loginCookie(ctx, await makeUser(ctx));
      for (const remaining of [2, 1, 0]) {
        const res = await ctx.request({ url: '/api/v1/users/me', remoteAddress, headers: { cookie: alice } });
        expect(res.statusCode).toBe(200);
        expect(limitHeaders(res)).toMatchObject({ limit: 3, remaining });
      }
      expectRateLimited(await ctx.request({ url: '/api/v1/users/me', remoteAddress, headers: { cookie: alice } }), 3, 60);
      expect((await ctx.request({ url: '/api/v1/users/me', remoteAddress, headers: { cookie: bob } })).statusCode).toBe(200);
      const anonymous = await ctx.request({ url: '/.well-known/jwks.json', remoteAddress });
      expect(limitHeaders(anonymous)).toMatchObject({ limit: 50, remaining: 49 });
    });
  });

  describe('TRUST_PROXY', () => {
    const contexts: TestContext[] = [];
    afterEach(async () => {
      while (contexts.length) await contexts.pop()?.close();
    });
    const jwks = (ctx: TestContext, forwardedFor: string) =>
      ctx.request({ url: '/.well-known/jwks.json', remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': forwardedFor } });

    it('ignores X-Forwarded-For when TRUST_PROXY=false: the socket address is the client', async () => {
      const ctx = await createTestContext(dialect, { env: { RATE_LIMIT_IP_PER_MINUTE: '2', TRUST_PROXY: 'false' } });
      contexts.push(ctx);
      expect((await jwks(ctx, randomIp())).statusCode).toBe(200);
      expect((await jwks(ctx, randomIp())).statusCode).toBe(200);
      expectRateLimited(await jwks(ctx, randomIp()), 2, 60);
    });

    it('uses X-Forwarded-For from a trusted proxy, and only from it', async () => {
      const ctx = await createTestContext(dialect, { env: { RATE_LIMIT_IP_PER_MINUTE: '2', TRUST_PROXY: '127.0.0.1' } });
      contexts.push(ctx);
      const client = randomIp();
      expect((await jwks(ctx, client)).statusCode).toBe(200);
      expect((await jwks(ctx, client)).statusCode).toBe(200);
      expectRateLimited(await jwks(ctx, client), 2, 60);
      // Another forwarded client has its own budget.
      expect((await jwks(ctx, randomIp())).statusCode).toBe(200);
      // An untrusted peer cannot choose its address: its own socket address counts.
      const peer = randomIp();
      for (let i = 0; i < 2; i++) {
        const res = await ctx.request({ url: '/.well-known/jwks.json', remoteAddress: peer, headers: { 'x-forwarded-for': randomIp() } });
        expect(res.statusCode).toBe(200);
      }
      const spoofed = await ctx.request({ url: '/.well-known/jwks.json', remoteAddress: peer, headers: { 'x-forwarded-for': randomIp() } });
      expectRateLimited(spoofed, 2, 60);
    });
  });

  describe('login brute-force protection', () => {
    let ctx: TestContext;
    beforeAll(async () => {
      ctx = await createTestContext(dialect, {
        env: { LOGIN_MAX_CONSECUTIVE_FAILURES: '2', LOGIN_LOCKOUT_BASE_SECONDS: '60', LOGIN_MAX_FAILURES_PER_IP_PER_DAY: '6' },
      });
    });
    afterAll(async () => {
      await ctx?.close();
    });
    const login = (email: string, password: string, remoteAddress: string) =>
      ctx.request({ method: 'POST', url: '/api/v1/auth/login', remoteAddress, payload: { email, password } });

    it('locks an (email, IP) pair after consecutive failures; the owner still signs in from another IP', async () => {
      const user = await makeUser(ctx);
      const ip = randomIp();
      for (let i = 0; i < 3; i++) expect((await login(user.email, 'wrong-password-123', ip)).statusCode).toBe(401);
      const locked = await login(user.email, STRONG_PASSWORD, ip);
      expect(locked.statusCode).toBe(429);
      expect(locked.headers['retry-after']).toBe('60');
      expect(limitHeaders(locked)).toEqual({ limit: 2, remaining: 0, reset: 60 });
      expect(locked.json()).toMatchObject({ code: 'rate_limited', retry_after: 60 });
      expect((await login(user.email, STRONG_PASSWORD, randomIp())).statusCode).toBe(200);
    });

    it('protects the OAuth password grant the same way (429, not invalid_grant)', async () => {
      const user = await makeUser(ctx);
      const ip = randomIp();
      const grant = (password: string) =>
        ctx.request({
          method: 'POST',
          url: '/api/v1/auth/token',
          remoteAddress: ip,
          payload: { grant_type: 'password', username: user.email, password },
        });
      for (let i = 0; i < 3; i++) expect((await grant('wrong-password-123')).statusCode).toBe(400);
      const locked = await grant(STRONG_PASSWORD);
      expect(locked.statusCode).toBe(429);
      expect(locked.headers['retry-after']).toBe('60');
      expect(locked.json()).toMatchObject({ code: 'rate_limited' });
    });

    it('blocks an IP for the day after LOGIN_MAX_FAILURES_PER_IP_PER_DAY failures across accounts', async () => {
      const ip = randomIp();
      for (let i = 0; i < 6; i++) expect((await login(`nobody-${i}-${ip}@example.com`, 'wrong-password-123', ip)).statusCode).toBe(401);
      const user = await makeUser(ctx);
      const blocked = await login(user.email, STRONG_PASSWORD, ip);
      expect(blocked.statusCode).toBe(429);
      expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(86_000);
      expect(limitHeaders(blocked).limit).toBe(6);
    });
  });

  describe('quotas', () => {
    const contexts: TestContext[] = [];
    afterEach(async () => {
      while (contexts.length) await contexts.pop()?.close();
    });

    it('block: 429 quota_exceeded past QUOTA_PER_HOUR; /users/me/quota is exempt and shows usage', async () => {
      const ctx = await createTestContext(dialect, { env: { QUOTA_PER_HOUR: '2', QUOTA_PER_DAY: '10' } });
      contexts.push(ctx);
      const cookie = await loginCookie(ctx, await makeUser(ctx));
      for (let i = 0; i < 2; i++) expect((await ctx.request({ url: '/api/v1/users/me', headers: { cookie } })).statusCode).toBe(200);
      const refused = await ctx.request({ url: '/api/v1/users/me', headers: { cookie } });
      expect(refused.statusCode).toBe(429);
      expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
      const now = ctx.clock.now();
      const hourEnd = new Date(Math.floor(now.getTime() / 3_600_000 + 1) * 3_600_000);
      const expectedRetry = Math.max(1, Math.ceil((hourEnd.getTime() - now.getTime()) / 1000));
      expect(refused.headers['retry-after']).toBe(String(expectedRetry));
      expect(refused.json()).toMatchObject({ code: 'quota_exceeded', retry_after: expectedRetry });

      for (let i = 0; i < 2; i++) {
        const usage = await ctx.request({ url: '/api/v1/users/me/quota', headers: { cookie } });
        expect(usage.statusCode).toBe(200);
        expect(usage.json()).toEqual({
          hour: { limit: 2, used: 2, remaining: 0, reset_at: hourEnd.toISOString() },
          day: { limit: 10, used: 2, remaining: 8, reset_at: new Date(Math.floor(now.getTime() / 86_400_000 + 1) * 86_400_000).toISOString() },
          policy: 'block',
          slowed_until: null,
          storage: { limit_bytes: 1024 ** 3, used_bytes: 0, remaining_bytes: 1024 ** 3 },
        });
      }
      expect((await ctx.request({ url: '/api/v1/users/me/quota' })).statusCode).toBe(401);

      ctx.clock.advance(expectedRetry);
      expect((await ctx.request({ url: '/api/v1/users/me', headers: { cookie } })).statusCode).toBe(200);
    });

    it('slow: serves past the quota, delayed, and reports slowed_until', async () => {
      const ctx = await createTestContext(dialect, {
        env: { QUOTA_PER_HOUR: '1', QUOTA_POLICY: 'slow', QUOTA_SLOW_DELAY_MS: '60', QUOTA_SLOW_PERIOD_SECONDS: '300' },
      });
      contexts.push(ctx);
      const cookie = await loginCookie(ctx, await makeUser(ctx));
      expect((await ctx.request({ url: '/api/v1/users/me', headers: { cookie } })).statusCode).toBe(200);
      const started = performance.now();
      expect((await ctx.request({ url: '/api/v1/users/me', headers: { cookie } })).statusCode).toBe(200);
      expect(performance.now() - started).toBeGreaterThanOrEqual(55);
      const usage = (await ctx.request({ url: '/api/v1/users/me/quota', headers: { cookie } })).json();
      expect(usage).toMatchObject({ policy: 'slow', hour: { limit: 1, used: 2, remaining: 0 } });
      expect(Date.parse(usage.slowed_until)).toBe(Math.ceil((ctx.clock.now().getTime() + 300_000) / 1000) * 1000);
    });

    it('auto-bans a user who keeps exceeding: 403, and their session stops working', async () => {
      const ctx = await createTestContext(dialect, { env: { QUOTA_PER_HOUR: '1', QUOTA_AUTOBAN_AFTER: '2', QUOTA_AUTOBAN_SECONDS: '3600' } });
      contexts.push(ctx);
      // Exceedances count per UTC day: start at 01:00 UTC, so that the hour the test moves on stays
      // in one day whatever the time it runs (it failed between 23:00 and midnight).
      const start = ctx.clock.now();
      ctx.clock.advance((Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate() + 1, 1) - start.getTime()) / 1000);
      const user = await makeUser(ctx);
      const cookie = await loginCookie(ctx, user);
      expect((await ctx.request({ url: '/api/v1/users/me', headers: { cookie } })).statusCode).toBe(200);
      expect((await ctx.request({ url: '/api/v1/users/me', headers: { cookie } })).statusCode).toBe(429);
      ctx.clock.advance(3600);
      expect((await ctx.request({ url: '/api/v1/users/me', headers: { cookie } })).statusCode).toBe(200);
      const banned = await ctx.request({ url: '/api/v1/users/me', headers: { cookie } });
      expect(banned.statusCode).toBe(403);
      expect(banned.json()).toMatchObject({ code: 'user_banned' });
      const after = await ctx.request({ url: '/api/v1/users/me', headers: { cookie } });
      expect([401, 403]).toContain(after.statusCode);
    });
  });
});

describe.runIf(TEST_REDIS_URL).each(dialects)('two instances sharing one Redis limiter (%s)', (dialect) => {
  let ctx: TestContext;
  let second: Gatehouse;
  let secondApp: FastifyInstance;
  beforeAll(async () => {
    const env = {
      REDIS_URL: TEST_REDIS_URL as string,
      RATE_LIMIT_IP_PER_MINUTE: '4',
      RATE_LIMIT_USER_PER_MINUTE: '4',
      LOGIN_MAX_CONSECUTIVE_FAILURES: '1',
    };
    ctx = await createTestContext(dialect, { env });
    // A second server on the same database and the same Redis, as behind a load balancer.
    second = await createGatehouse(ctx.config, { clock: ctx.clock, logger: pino({ level: 'silent' }), skipMigrations: true });
    secondApp = await buildApp(second);
  });
  afterAll(async () => {
    await secondApp?.close();
    await second?.close();
    await ctx?.close();
  });
  const on = (i: number) => (i % 2 === 0 ? ctx.app : secondApp);

  it('both instances use the Redis store', () => {
    expect(ctx.gatehouse.limiterStore.kind).toBe('redis');
    expect(second.limiterStore.kind).toBe('redis');
  });

  it('requests spread over both instances hit one combined per-IP limit', async () => {
    const remoteAddress = randomIp();
    for (let i = 0; i < 4; i++) {
      const res = await on(i).inject({ url: '/.well-known/jwks.json', remoteAddress });
      expect(res.statusCode).toBe(200);
      expect(limitHeaders(res).remaining).toBe(3 - i);
    }
    expectRateLimited(await on(0).inject({ url: '/.well-known/jwks.json', remoteAddress }), 4, 60);
    expectRateLimited(await on(1).inject({ url: '/.well-known/jwks.json', remoteAddress }), 4, 60);
  });

  it('requests spread over both instances hit one combined per-user limit', async () => {
    const cookie = await loginCookie(ctx, await makeUser(ctx));
    for (let i = 0; i < 4; i++) {
      const res = await on(i).inject({ url: '/api/v1/users/me', remoteAddress: randomIp(), headers: { cookie } });
      expect(res.statusCode).toBe(200);
    }
    expectRateLimited(await on(1).inject({ url: '/api/v1/users/me', remoteAddress: randomIp(), headers: { cookie } }), 4, 60);
  });

  it('a login lockout earned on one instance holds on the other', async () => {
    const user = await makeUser(ctx);
    const remoteAddress = randomIp();
    const login = (app: FastifyInstance, password: string) =>
      app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        remoteAddress,
        headers: { origin: ctx.config.server.publicOrigin },
        payload: { email: user.email, password },
      });
    expect((await login(ctx.app, 'wrong-password-123')).statusCode).toBe(401);
    expect((await login(ctx.app, 'wrong-password-123')).statusCode).toBe(401);
    expect((await login(secondApp, STRONG_PASSWORD)).statusCode).toBe(429);
  });
});
