/**
 * Rate limits for abuse-prone endpoints (verification resends, password-reset requests).
 *
 * Per-IP limits answer 429 with `Retry-After` and the IETF `RateLimit-*` headers
 * (draft-ietf-httpapi-ratelimit-headers). Per-email limits never answer differently: they only
 * stop sending more mail, so they cannot be used to learn whether an account exists.
 */
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { limiterKey, type LimiterStore, type LimitRule } from './limiter-store.js';
import { rateLimitedError } from './rate-limit-headers.js';

export type { LimitRule } from './limiter-store.js';

/**
 * A limiter keyed by an arbitrary string (an IP, an email). Keys are hashed before they reach
 * the store. On the shared store when one is given, else in this process's memory.
 */
export class KeyedLimiter {
  private readonly limiter: RateLimiterAbstract;

  /**
   * @param name unique name of the limit (key prefix; shown in the 429 detail).
   * @param rule `points` per `durationSeconds`.
   * @param store the shared limiter store; omitted = a private in-memory limiter.
   */
  constructor(
    private readonly name: string,
    private readonly rule: LimitRule,
    store?: LimiterStore,
  ) {
    this.limiter = store
      ? store.create(name, rule)
      : new RateLimiterMemory({ keyPrefix: name, points: rule.points, duration: rule.durationSeconds });
  }

  /**
   * Spends one point for `key`.
   * @throws AppError `rate_limited` (429) with `Retry-After` and `RateLimit-*` headers when exhausted.
   */
  async consumeOrThrow(key: string): Promise<void> {
    try {
      await this.limiter.consume(limiterKey(key));
    } catch (error) {
      if (!(error instanceof RateLimiterRes)) throw error;
      throw rateLimitedError(
        this.rule.points,
        error.msBeforeNext,
        `Too many requests (${this.name}); try again in {seconds} seconds.`,
      );
    }
  }

  /** Spends one point for `key`; returns false (instead of throwing) when exhausted. */
  async tryConsume(key: string): Promise<boolean> {
    try {
      await this.limiter.consume(limiterKey(key));
      return true;
    } catch (error) {
      if (error instanceof RateLimiterRes) return false;
      throw error;
    }
  }
}

/** The account-email limits: per IP (visible) and per address (silent). */
export interface AccountEmailLimits {
  perIp: KeyedLimiter;
  perEmail: KeyedLimiter;
}

/**
 * Limits for requests that email an address (verification resends, password-reset requests,
 * registrations): by default 10 per IP and 3 per address per hour.
 * @param prefix names the pair (`{prefix}-ip`, `{prefix}-email`).
 * @param store the shared limiter store (so every instance counts together); omitted = in-memory.
 * @param perIpPerHour requests per IP per hour (default 10).
 */
export function createAccountEmailLimits(prefix: string, store?: LimiterStore, perIpPerHour = 10): AccountEmailLimits {
  return {
    perIp: new KeyedLimiter(`${prefix}-ip`, { points: perIpPerHour, durationSeconds: 3600 }, store),
    perEmail: new KeyedLimiter(`${prefix}-email`, { points: 3, durationSeconds: 3600 }, store),
  };
}
