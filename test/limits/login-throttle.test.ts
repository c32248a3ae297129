import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { LimiterStore } from '../../src/limits/limiter-store.js';
import { LoginThrottle, lockoutSeconds, MAX_LOCKOUT_SECONDS } from '../../src/limits/login-throttle.service.js';
import { AppError } from '../../src/shared/errors.js';
import { openStore, randomIp, storeKinds } from './limiter-stores.js';

const settings = { loginMaxConsecutiveFailures: 3, loginLockoutBaseSeconds: 60, loginMaxFailuresPerIpPerDay: 10 };

/** The AppError `assertAllowed` throws, or null when the attempt is allowed. */
async function refusal(throttle: LoginThrottle, email: string, ip: string | null): Promise<AppError | null> {
  try {
    await throttle.assertAllowed(email, ip);
    return null;
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
}

async function fail(throttle: LoginThrottle, email: string, ip: string | null, times: number): Promise<void> {
  for (let i = 0; i < times; i++) await throttle.recordFailure(email, ip);
}

let emailCounter = 0;
const uniqueEmail = () => `victim-${process.pid}-${++emailCounter}-${Math.random().toString(36).slice(2, 7)}@example.com`;

describe('lockoutSeconds', () => {
  it.each([
    [0, 0],
    [3, 0],
    [4, 60],
    [5, 120],
    [6, 240],
    [14, 61_440],
    [15, MAX_LOCKOUT_SECONDS],
    [1_000_000, MAX_LOCKOUT_SECONDS],
  ])('after %i failures (max 3, base 60 s) locks for %i s', (failures, seconds) => {
    expect(lockoutSeconds(failures, 3, 60)).toBe(seconds);
  });
});

describe.each(storeKinds)('LoginThrottle (%s store)', (kind) => {
  let store: LimiterStore;
  let throttle: LoginThrottle;
  beforeEach(async () => {
    store = await openStore(kind);
    expect(store.kind).toBe(kind);
    throttle = new LoginThrottle(store, settings);
  });
  afterEach(async () => {
    vi.useRealTimers();
    await store.close();
  });

  it('allows the first failures, then locks the (email, IP) pair with 429, Retry-After and RateLimit-*', async () => {
    const email = uniqueEmail();
    const ip = randomIp();
    await fail(throttle, email, ip, 3);
    expect(await refusal(throttle, email, ip)).toBeNull();
    await throttle.recordFailure(email, ip);
    const error = await refusal(throttle, email, ip);
    expect(error).toMatchObject({ code: 'rate_limited', status: 429, extra: { retry_after: 60 } });
    expect(error?.headers).toEqual({
      'Retry-After': '60',
      'RateLimit-Limit': '3',
      'RateLimit-Remaining': '0',
      'RateLimit-Reset': '60',
    });
    expect(error?.detail).toMatch(/reset your password/);
  });

  it('doubles the lockout with each further failure', async () => {
    const email = uniqueEmail();
    const ip = randomIp();
    await fail(throttle, email, ip, 4);
    expect((await refusal(throttle, email, ip))?.headers?.['Retry-After']).toBe('60');
    await throttle.recordFailure(email, ip);
    expect((await refusal(throttle, email, ip))?.headers?.['Retry-After']).toBe('120');
    await throttle.recordFailure(email, ip);
    expect((await refusal(throttle, email, ip))?.headers?.['Retry-After']).toBe('240');
  });

  it('caps the lockout at one day', async () => {
    const email = uniqueEmail();
    const ip = randomIp();
    const other = await openStore(kind);
    try {
      const wide = new LoginThrottle(other, { ...settings, loginMaxFailuresPerIpPerDay: 1000 });
      await fail(wide, email, ip, 3 + 16);
      expect((await refusal(wide, email, ip))?.headers?.['Retry-After']).toBe(String(MAX_LOCKOUT_SECONDS));
    } finally {
      await other.close();
    }
  });

  it('does not lock the owner out from another IP, nor other accounts from the same IP', async () => {
    const email = uniqueEmail();
    const ip = randomIp();
    await fail(throttle, email, ip, 5);
    expect(await refusal(throttle, email, ip)).not.toBeNull();
    expect(await refusal(throttle, email, randomIp())).toBeNull();
    expect(await refusal(throttle, uniqueEmail(), ip)).toBeNull();
  });

  it('treats the email case- and whitespace-insensitively', async () => {
    const email = uniqueEmail();
    const ip = randomIp();
    await fail(throttle, `  ${email.toUpperCase()} `, ip, 4);
    expect(await refusal(throttle, email, ip)).not.toBeNull();
  });

  it('a success resets the consecutive count and lifts the lock', async () => {
    const email = uniqueEmail();
    const ip = randomIp();
    await fail(throttle, email, ip, 4);
    expect(await refusal(throttle, email, ip)).not.toBeNull();
    await throttle.recordSuccess(email, ip);
    expect(await refusal(throttle, email, ip)).toBeNull();
    await fail(throttle, email, ip, 3);
    expect(await refusal(throttle, email, ip)).toBeNull();
    await throttle.recordFailure(email, ip);
    expect((await refusal(throttle, email, ip))?.headers?.['Retry-After']).toBe('60');
  });

  it('blocks an IP for the rest of its day window after LOGIN_MAX_FAILURES_PER_IP_PER_DAY failures', async () => {
    const ip = randomIp();
    // Spread over many accounts (password spraying): no pair reaches its own threshold.
    for (let i = 0; i < 9; i++) await throttle.recordFailure(uniqueEmail(), ip);
    expect(await refusal(throttle, uniqueEmail(), ip)).toBeNull();
    await throttle.recordFailure(uniqueEmail(), ip);
    const error = await refusal(throttle, uniqueEmail(), ip);
    expect(error).toMatchObject({ code: 'rate_limited', status: 429 });
    expect(error?.headers?.['RateLimit-Limit']).toBe('10');
    expect(error?.headers?.['RateLimit-Remaining']).toBe('0');
    const retryAfter = Number(error?.headers?.['Retry-After']);
    expect(retryAfter).toBeGreaterThan(86_400 - 60);
    expect(retryAfter).toBeLessThanOrEqual(86_400);
    expect(error?.headers?.['RateLimit-Reset']).toBe(String(retryAfter));
    // A success from that IP does not clear the IP's daily count; other IPs are unaffected.
    const email = uniqueEmail();
    await throttle.recordSuccess(email, ip);
    expect(await refusal(throttle, email, ip)).not.toBeNull();
    expect(await refusal(throttle, email, randomIp())).toBeNull();
  });

  it('applies the pair limit but no IP limit to callers without an IP', async () => {
    const email = uniqueEmail();
    for (let i = 0; i < 12; i++) await throttle.recordFailure(uniqueEmail(), null);
    expect(await refusal(throttle, email, null)).toBeNull();
    await fail(throttle, email, null, 4);
    expect(await refusal(throttle, email, null)).toMatchObject({ code: 'rate_limited' });
  });

  it.runIf(kind === 'memory')('lifts a lock once its time has passed, and the next failure locks twice as long', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    const email = uniqueEmail();
    const ip = randomIp();
    await fail(throttle, email, ip, 4);
    vi.setSystemTime(Date.now() + 59_000);
    expect(await refusal(throttle, email, ip)).not.toBeNull();
    vi.setSystemTime(Date.now() + 2_000);
    expect(await refusal(throttle, email, ip)).toBeNull();
    await throttle.recordFailure(email, ip);
    expect((await refusal(throttle, email, ip))?.headers?.['Retry-After']).toBe('120');
  });
});
