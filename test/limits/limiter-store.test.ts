import { createServer } from 'node:net';
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { RateLimiterRes } from 'rate-limiter-flexible';
import { describe, expect, it } from 'vitest';
import { createLimiterStore, MAX_DURATION_SECONDS } from '../../src/limits/limiter-store.js';
import { LoginThrottle } from '../../src/limits/login-throttle.service.js';
import { QuotaService } from '../../src/limits/quota.service.js';
import { createAccountEmailLimits } from '../../src/limits/rate-limits.js';
import { ManualClock } from '../../src/shared/clock.js';
import { openStore, randomIp, storeKinds, TEST_REDIS_URL, uniquePrefix } from './limiter-stores.js';

/** A TCP port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Spends `n` points; returns how many were granted. */
async function grantedOf(consume: () => Promise<unknown>, n: number): Promise<number> {
  let granted = 0;
  for (let i = 0; i < n; i++) {
    try {
      await consume();
      granted += 1;
    } catch (error) {
      if (!(error instanceof RateLimiterRes)) throw error;
    }
  }
  return granted;
}

describe.each(storeKinds)('limiter store (%s)', (kind) => {
  it('returns one limiter per name and refuses a second rule for the same name', async () => {
    const store = await openStore(kind);
    try {
      const a = store.create('same', { points: 2, durationSeconds: 60 });
      expect(store.create('same', { points: 2, durationSeconds: 60 })).toBe(a);
      expect(() => store.create('same', { points: 3, durationSeconds: 60 })).toThrow(/another rule/);
      expect(await grantedOf(() => a.consume('k'), 5)).toBe(2);
    } finally {
      await store.close();
    }
  });

  it.each([
    { points: 0, durationSeconds: 60 },
    { points: 1.5, durationSeconds: 60 },
    { points: 1, durationSeconds: 0 },
    { points: 1, durationSeconds: MAX_DURATION_SECONDS + 1 },
    { points: 1, durationSeconds: 60, blockDurationSeconds: -1 },
  ])('refuses the rule %o', async (rule) => {
    const store = await openStore(kind);
    try {
      expect(() => store.create('bad', rule)).toThrow(/Invalid limit rule/);
    } finally {
      await store.close();
    }
  });

  it('close() is safe to call twice', async () => {
    const store = await openStore(kind);
    await store.close();
    await store.close();
  });
});

describe.runIf(TEST_REDIS_URL)('Redis limiter store shared by two instances', () => {
  it('counts both instances against one limit', async () => {
    const keyPrefix = uniquePrefix('shared');
    const logger = pino({ level: 'silent' });
    const one = await createLimiterStore({ redisUrl: TEST_REDIS_URL as string, logger, keyPrefix });
    const two = await createLimiterStore({ redisUrl: TEST_REDIS_URL as string, logger, keyPrefix });
    try {
      const rule = { points: 6, durationSeconds: 60 };
      const a = one.create('req', rule);
      const b = two.create('req', rule);
      let granted = 0;
      for (let i = 0; i < 6; i++) granted += await grantedOf(() => (i % 2 ? a : b).consume('client'), 2);
      expect(granted).toBe(6);

      // A lockout recorded on one instance is enforced by the other.
      const email = `${randomUUID()}@example.com`;
      const ip = randomIp();
      const settings = { loginMaxConsecutiveFailures: 1, loginLockoutBaseSeconds: 60, loginMaxFailuresPerIpPerDay: 100 };
      await new LoginThrottle(one, settings).recordFailure(email, ip);
      await new LoginThrottle(one, settings).recordFailure(email, ip);
      await expect(new LoginThrottle(two, settings).assertAllowed(email, ip)).rejects.toMatchObject({ code: 'rate_limited' });

      // The resend/forgot-password limits too, when given the store.
      const mailOne = createAccountEmailLimits('account-email', one);
      const mailTwo = createAccountEmailLimits('account-email', two);
      const results: boolean[] = [];
      for (let i = 0; i < 4; i++) results.push(await (i % 2 ? mailOne : mailTwo).perEmail.tryConsume(email));
      expect(results).toEqual([true, true, true, false]);
    } finally {
      await one.close();
      await two.close();
    }
  });
});

describe('Redis limiter store with Redis unreachable', () => {
  it('starts at once, warns, and enforces limits per instance through the insurance limiter', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const started = Date.now();
    const store = await createLimiterStore({
      redisUrl: `redis://127.0.0.1:${await closedPort()}`,
      logger,
      keyPrefix: uniquePrefix('down'),
    });
    try {
      expect(Date.now() - started).toBeLessThan(2000);
      expect(store.kind).toBe('redis');
      expect(lines.some((l) => l.includes('unreachable'))).toBe(true);

      const limiter = store.create('req', { points: 3, durationSeconds: 60 });
      expect(await grantedOf(() => limiter.consume('client'), 5)).toBe(3);
      const refused = await limiter.consume('client').catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(RateLimiterRes);
      expect((refused as RateLimiterRes).msBeforeNext).toBeGreaterThan(0);

      // Lockouts (written with block()) are still seen by get() on the fallback.
      const throttle = new LoginThrottle(store, {
        loginMaxConsecutiveFailures: 1,
        loginLockoutBaseSeconds: 60,
        loginMaxFailuresPerIpPerDay: 100,
      });
      await throttle.recordFailure('someone@example.com', '10.0.0.1');
      await throttle.assertAllowed('someone@example.com', '10.0.0.1');
      await throttle.recordFailure('someone@example.com', '10.0.0.1');
      await expect(throttle.assertAllowed('someone@example.com', '10.0.0.1')).rejects.toMatchObject({
        code: 'rate_limited',
        headers: { 'Retry-After': '60' },
      });

      // Quotas too, including the slow policy's marker.
      const clock = new ManualClock(new Date('2031-01-01T00:00:00Z'));
      const quota = new QuotaService(
        store,
        { perHour: 0, perDay: 0, policy: 'slow', slowDelayMs: 10, slowPeriodSeconds: 300, autoBanAfter: 0, autoBanSeconds: 60 },
        clock,
        async () => undefined,
      );
      const access = { quotaPerHour: 1, quotaPerDay: 0 };
      expect((await quota.consume('u1', access)).delayMs).toBe(0);
      expect((await quota.consume('u1', access)).delayMs).toBe(10);
      expect((await quota.consume('u1', access)).delayMs).toBe(10);
      const usage = await quota.usage('u1', access);
      expect(usage.hour).toMatchObject({ used: 3, remaining: 0 });
      expect(usage.slowed_until).not.toBeNull();
    } finally {
      await store.close();
    }
  });
});
