/**
 * API call quotas: calls per user per hour and per day, set per group ("most generous group
 * wins", 0 = unlimited; see `access/access.service.ts`), with two policies past the quota:
 *
 * - `block`: 429 `quota_exceeded` with `Retry-After` until the exceeded window resets; refused
 *   calls do not use up the other window.
 * - `slow`: every call of the user is delayed by QUOTA_SLOW_DELAY_MS for QUOTA_SLOW_PERIOD_SECONDS
 *   after the exceedance (calls are served, and counted).
 *
 * Windows are fixed and aligned to the injected clock: the UTC hour and the UTC day, so reset
 * times are exact and the same on every instance. Each window a user goes over counts as one
 * exceedance in a per-user daily count; reaching QUOTA_AUTOBAN_AFTER (0 = never) bans the user
 * for QUOTA_AUTOBAN_SECONDS through the `autoBan` callback.
 */
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Config } from '../config.js';
import type { Clock } from '../shared/clock.js';
import { AppError } from '../shared/errors.js';
import type { LimiterStore } from './limiter-store.js';
import { secondsFrom } from './rate-limit-headers.js';

/** The quotas that apply to one user (from their effective access); 0 = unlimited. */
export interface QuotaLimits {
  /** API calls per UTC hour; 0 = unlimited. */
  quotaPerHour: number;
  /** API calls per UTC day; 0 = unlimited. */
  quotaPerDay: number;
}

/** Bans a user for `seconds` (supplied by the access module); `reason` goes to the audit log. */
export type AutoBan = (userId: string, seconds: number, reason: string) => Promise<void>;

/** Usage of one window, as `GET /users/me/quota` shows it. */
export interface QuotaWindowUsage {
  /** Calls allowed per window; 0 = unlimited. */
  limit: number;
  /** Calls counted this window (refused calls excluded); null when unlimited (not counted). */
  used: number | null;
  /** Calls left this window; null when unlimited. */
  remaining: number | null;
  /** When the window resets (ISO-8601 UTC); null when unlimited. */
  reset_at: string | null;
}

/** A user's quota usage. */
export interface QuotaUsage {
  hour: QuotaWindowUsage;
  day: QuotaWindowUsage;
  /** What happens past the quota. */
  policy: 'block' | 'slow';
  /** Until when the user's calls are delayed (ISO-8601 UTC), or null. Always null with `block`. */
  slowed_until: string | null;
}

/** The reason passed to `autoBan`. */
export const AUTOBAN_REASON = 'quota exceeded repeatedly';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const NO_DELAY = Object.freeze({ delayMs: 0 });
/** `points` of limiters used as plain counters: never reached. */
const COUNTER_POINTS = Number.MAX_SAFE_INTEGER - 1;

interface QuotaWindow {
  name: 'hour' | 'day';
  limit: number;
  counter: RateLimiterAbstract;
  start: number;
  end: number;
  key: string;
}

/** Counts API calls against quotas and applies the configured policy. */
export class QuotaService {
  private readonly hourly: RateLimiterAbstract;
  private readonly daily: RateLimiterAbstract;
  private readonly exceedances: RateLimiterAbstract;
  private readonly slowedUntilStore: RateLimiterAbstract;

  /**
   * @param store where the counters live (shared by every instance on Redis).
   * @param settings `config.quota` (policy, slow delay and period, auto-ban threshold and length).
   * @param clock decides windows and reset times.
   * @param autoBan called when a user reaches QUOTA_AUTOBAN_AFTER exceedances in a UTC day.
   */
  constructor(
    store: LimiterStore,
    private readonly settings: Config['quota'],
    private readonly clock: Clock,
    private readonly autoBan: AutoBan,
  ) {
    // These limiters are used as atomic counters with expiry; their `points` never refuse anything.
    const counter = COUNTER_POINTS;
    this.hourly = store.create('quota-hour', { points: counter, durationSeconds: 3600 });
    this.daily = store.create('quota-day', { points: counter, durationSeconds: 86_400 });
    this.exceedances = store.create('quota-exceeded-day', { points: counter, durationSeconds: 86_400 });
    // Holds "slowed until" as epoch seconds. Should Redis fail, the insurance limiter's `block`
    // stores points + 1 (= MAX_SAFE_INTEGER) instead, which reads as "slowed for the key's TTL".
    this.slowedUntilStore = store.create('quota-slowed', {
      points: counter,
      durationSeconds: Math.min(settings.slowPeriodSeconds, 24 * 86_400),
    });
  }

  /**
   * Counts one API call of `userId` (nothing is counted for unlimited windows).
   *
   * @returns `delayMs`: how long to hold the response (QUOTA_SLOW_DELAY_MS while slowed, else 0).
   * @throws AppError `quota_exceeded` (429, `Retry-After` = seconds until the exceeded window
   *   resets) past the quota with policy `block`; `user_banned` (403) when this call triggered
   *   the automatic ban.
   */
  async consume(userId: string, access: QuotaLimits): Promise<{ delayMs: number }> {
    const now = this.clock.now().getTime();
    const windows = this.windows(userId, access, now);
    if (windows.length === 0) return NO_DELAY;

    const counts = await Promise.all(windows.map((w) => w.counter.penalty(w.key, 1)));
    const over = windows.filter((w, i) => counts[i]!.consumedPoints > w.limit);
    // Exactly one call sees limit + 1 (the increment is atomic): that call counts the exceedance.
    const fresh = windows.filter((w, i) => counts[i]!.consumedPoints === w.limit + 1).length;

    if (fresh > 0) {
      if (this.settings.policy === 'slow') await this.markSlowed(userId, now);
      await this.countExceedances(userId, fresh, now);
    }

    if (this.settings.policy === 'block') {
      if (over.length === 0) return NO_DELAY;
      // A refused call must not use up the window it did not exceed.
      await Promise.all(windows.filter((w) => !over.includes(w)).map((w) => w.counter.reward(w.key, 1)));
      const retryAfter = secondsFrom(Math.max(...over.map((w) => w.end - now)));
      const names = over.map((w) => w.name).join(' and ');
      throw new AppError('quota_exceeded', `Your API call quota for this ${names} is used up; try again in ${retryAfter} seconds.`, {
        extra: { retry_after: retryAfter },
        headers: { 'Retry-After': String(retryAfter) },
      });
    }

    const slowedUntil = fresh > 0 ? now + this.settings.slowPeriodSeconds * 1000 : await this.slowedUntil(userId, now);
    return slowedUntil > now ? { delayMs: this.settings.slowDelayMs } : NO_DELAY;
  }

  /** The user's usage of both windows and whether they are slowed, without counting a call. */
  async usage(userId: string, access: QuotaLimits): Promise<QuotaUsage> {
    const now = this.clock.now().getTime();
    const windows = this.windows(userId, access, now);
    const counts = await Promise.all(windows.map((w) => w.counter.get(w.key)));
    const view = (name: 'hour' | 'day', limit: number): QuotaWindowUsage => {
      const i = windows.findIndex((w) => w.name === name);
      const window = windows[i];
      if (!window) return { limit, used: null, remaining: null, reset_at: null };
      const consumed = counts[i]?.consumedPoints ?? 0;
      return {
        limit,
        // With `block`, calls past the limit were refused, so they were not used.
        used: this.settings.policy === 'block' ? Math.min(consumed, limit) : consumed,
        remaining: Math.max(0, limit - consumed),
        reset_at: new Date(window.end).toISOString(),
      };
    };
    const slowedUntil = this.settings.policy === 'slow' ? await this.slowedUntil(userId, now) : 0;
    return {
      hour: view('hour', access.quotaPerHour),
      day: view('day', access.quotaPerDay),
      policy: this.settings.policy,
      slowed_until: slowedUntil > now ? new Date(slowedUntil).toISOString() : null,
    };
  }

  private windows(userId: string, access: QuotaLimits, now: number): QuotaWindow[] {
    const windows: QuotaWindow[] = [];
    const add = (name: 'hour' | 'day', limit: number, counter: RateLimiterAbstract, lengthMs: number) => {
      if (!(limit > 0)) return;
      const index = Math.floor(now / lengthMs);
      windows.push({ name, limit, counter, start: index * lengthMs, end: (index + 1) * lengthMs, key: `${userId}:${index}` });
    };
    add('hour', access.quotaPerHour, this.hourly, HOUR_MS);
    add('day', access.quotaPerDay, this.daily, DAY_MS);
    return windows;
  }

  private async markSlowed(userId: string, now: number): Promise<void> {
    const untilSeconds = Math.ceil((now + this.settings.slowPeriodSeconds * 1000) / 1000);
    await this.slowedUntilStore.set(userId, untilSeconds, Math.min(this.settings.slowPeriodSeconds, 24 * 86_400));
  }

  /** Epoch ms until which the user is slowed (0 when not). */
  private async slowedUntil(userId: string, now: number): Promise<number> {
    const res = await this.slowedUntilStore.get(userId);
    if (!res) return 0;
    // The insurance fallback's marker (see the constructor) carries no time: its TTL is the period.
    if (res.consumedPoints >= COUNTER_POINTS) return res.msBeforeNext > 0 ? now + res.msBeforeNext : 0;
    return res.consumedPoints * 1000;
  }

  private async countExceedances(userId: string, fresh: number, now: number): Promise<void> {
    const threshold = this.settings.autoBanAfter;
    const day = Math.floor(now / DAY_MS);
    const res = await this.exceedances.penalty(`${userId}:${day}`, fresh);
    if (threshold === 0 || res.consumedPoints < threshold) return;
    await this.autoBan(userId, this.settings.autoBanSeconds, AUTOBAN_REASON);
    throw new AppError('user_banned', `Automatically banned for ${this.settings.autoBanSeconds} seconds: the API call quota was exceeded repeatedly.`);
  }
}
