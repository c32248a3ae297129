import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import type { LimiterStore } from '../../src/limits/limiter-store.js';
import { AUTOBAN_REASON, type QuotaLimits, QuotaService } from '../../src/limits/quota.service.js';
import { ManualClock } from '../../src/shared/clock.js';
import { AppError } from '../../src/shared/errors.js';
import { openStore, storeKinds } from './limiter-stores.js';

const baseSettings: Config['quota'] = {
  perHour: 0,
  perDay: 0,
  policy: 'block',
  slowDelayMs: 250,
  slowPeriodSeconds: 600,
  autoBanAfter: 0,
  autoBanSeconds: 3600,
};

/** 10:59:00 UTC: one minute before the hour window resets. */
const START = new Date('2031-03-04T10:59:00.000Z');

async function refusal(call: Promise<unknown>): Promise<AppError> {
  try {
    await call;
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error('expected the call to be refused');
}

describe.each(storeKinds)('QuotaService (%s store)', (kind) => {
  let store: LimiterStore;
  let clock: ManualClock;
  let bans: Array<{ userId: string; seconds: number; reason: string }>;
  let userId: string;

  const service = (settings: Partial<Config['quota']> = {}) =>
    new QuotaService(store, { ...baseSettings, ...settings }, clock, async (id, seconds, reason) => {
      bans.push({ userId: id, seconds, reason });
    });
  const calls = async (quota: QuotaService, access: QuotaLimits, n: number) => {
    const delays: number[] = [];
    for (let i = 0; i < n; i++) delays.push((await quota.consume(userId, access)).delayMs);
    return delays;
  };

  beforeEach(async () => {
    store = await openStore(kind);
    clock = new ManualClock(START);
    bans = [];
    userId = randomUUID();
  });
  afterEach(async () => {
    await store.close();
  });

  it('counts nothing for unlimited users (0 = unlimited)', async () => {
    const quota = service();
    expect(await calls(quota, { quotaPerHour: 0, quotaPerDay: 0 }, 5)).toEqual([0, 0, 0, 0, 0]);
    expect(await quota.usage(userId, { quotaPerHour: 0, quotaPerDay: 0 })).toEqual({
      hour: { limit: 0, used: null, remaining: null, reset_at: null },
      day: { limit: 0, used: null, remaining: null, reset_at: null },
      policy: 'block',
      slowed_until: null,
    });
  });

  it('block: refuses calls past the hourly quota with 429 and Retry-After until the hour resets', async () => {
    const quota = service();
    const access = { quotaPerHour: 3, quotaPerDay: 100 };
    expect(await calls(quota, access, 3)).toEqual([0, 0, 0]);
    const error = await refusal(quota.consume(userId, access));
    expect(error).toMatchObject({ code: 'quota_exceeded', status: 429, extra: { retry_after: 60 } });
    expect(error.headers).toEqual({ 'Retry-After': '60' });
    await refusal(quota.consume(userId, access));

    expect(await quota.usage(userId, access)).toEqual({
      hour: { limit: 3, used: 3, remaining: 0, reset_at: '2031-03-04T11:00:00.000Z' },
      // The refused calls did not use up the day.
      day: { limit: 100, used: 3, remaining: 97, reset_at: '2031-03-05T00:00:00.000Z' },
      policy: 'block',
      slowed_until: null,
    });

    clock.advance(60);
    expect(await calls(quota, access, 3)).toEqual([0, 0, 0]);
    const usage = await quota.usage(userId, access);
    expect(usage.hour).toEqual({ limit: 3, used: 3, remaining: 0, reset_at: '2031-03-04T12:00:00.000Z' });
    expect(usage.day.used).toBe(6);
  });

  it('block: past the daily quota the wait is until midnight UTC', async () => {
    const quota = service();
    const access = { quotaPerHour: 0, quotaPerDay: 2 };
    await calls(quota, access, 2);
    const error = await refusal(quota.consume(userId, access));
    expect(error.extra).toEqual({ retry_after: 13 * 3600 + 60 });
    expect(error.headers?.['Retry-After']).toBe(String(13 * 3600 + 60));
    clock.advance(13 * 3600 + 60);
    expect(await calls(quota, access, 1)).toEqual([0]);
  });

  it('keeps users apart', async () => {
    const quota = service();
    const access = { quotaPerHour: 1, quotaPerDay: 0 };
    await calls(quota, access, 1);
    await refusal(quota.consume(userId, access));
    expect((await quota.consume(randomUUID(), access)).delayMs).toBe(0);
  });

  it('slow: delays every call for QUOTA_SLOW_PERIOD_SECONDS after the exceedance', async () => {
    const access = { quotaPerHour: 2, quotaPerDay: 0 };
    clock = new ManualClock(new Date('2031-03-04T10:00:00.000Z'));
    const slow = service({ policy: 'slow' });
    expect(await calls(slow, access, 2)).toEqual([0, 0]);
    expect(await calls(slow, access, 2)).toEqual([250, 250]);
    expect(await slow.usage(userId, access)).toEqual({
      hour: { limit: 2, used: 4, remaining: 0, reset_at: '2031-03-04T11:00:00.000Z' },
      day: { limit: 0, used: null, remaining: null, reset_at: null },
      policy: 'slow',
      slowed_until: '2031-03-04T10:10:00.000Z',
    });
    clock.advance(599);
    expect(await calls(slow, access, 1)).toEqual([250]);
    clock.advance(2);
    expect(await calls(slow, access, 1)).toEqual([0]);
    expect((await slow.usage(userId, access)).slowed_until).toBeNull();
  });

  it('auto-bans at QUOTA_AUTOBAN_AFTER exceedances in a day, each window counted once', async () => {
    const quota = service({ autoBanAfter: 2, autoBanSeconds: 7200 });
    const access = { quotaPerHour: 1, quotaPerDay: 0 };
    await calls(quota, access, 1);
    // Many refused calls in one window are one exceedance.
    for (let i = 0; i < 5; i++) expect((await refusal(quota.consume(userId, access))).code).toBe('quota_exceeded');
    expect(bans).toEqual([]);

    clock.advance(3600);
    await calls(quota, access, 1);
    const error = await refusal(quota.consume(userId, access));
    expect(error).toMatchObject({ code: 'user_banned', status: 403 });
    expect(bans).toEqual([{ userId, seconds: 7200, reason: AUTOBAN_REASON }]);
  });

  it('auto-bans under the slow policy too', async () => {
    const quota = service({ policy: 'slow', autoBanAfter: 1 });
    const access = { quotaPerHour: 1, quotaPerDay: 0 };
    await calls(quota, access, 1);
    expect((await refusal(quota.consume(userId, access))).code).toBe('user_banned');
    expect(bans).toHaveLength(1);
  });

  it('never auto-bans when QUOTA_AUTOBAN_AFTER is 0', async () => {
    const quota = service({ autoBanAfter: 0 });
    const access = { quotaPerHour: 1, quotaPerDay: 0 };
    for (let hour = 0; hour < 4; hour++) {
      await calls(quota, access, 1);
      expect((await refusal(quota.consume(userId, access))).code).toBe('quota_exceeded');
      clock.advance(3600);
    }
    expect(bans).toEqual([]);
  });

  it('counts exactly under concurrent calls (atomic increments)', async () => {
    const quota = service();
    const access = { quotaPerHour: 20, quotaPerDay: 0 };
    const outcomes = await Promise.allSettled(Array.from({ length: 50 }, () => quota.consume(userId, access)));
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(20);
    expect((await quota.usage(userId, access)).hour).toMatchObject({ used: 20, remaining: 0 });
  });
});
