/**
 * Rate limits for abuse-prone endpoints, on rate-limiter-flexible's in-memory store.
 *
 * Per-IP limits answer 429 with `Retry-After` and the IETF `RateLimit-*` headers
 * (draft-ietf-httpapi-ratelimit-headers). Per-email limits never answer differently: they only
 * stop sending more mail, so they cannot be used to learn whether an account exists.
 */
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { AppError } from '../shared/errors.js';

/** A named limit: `points` actions per `durationSeconds` window. */
export interface LimitRule {
  points: number;
  durationSeconds: number;
}

/** A limiter keyed by an arbitrary string (an IP, an email). */
export class KeyedLimiter {
  private readonly limiter: RateLimiterMemory;

  constructor(
    private readonly name: string,
    private readonly rule: LimitRule,
  ) {
    this.limiter = new RateLimiterMemory({ keyPrefix: name, points: rule.points, duration: rule.durationSeconds });
  }

  /**
   * Spends one point for `key`.
   * @throws AppError `rate_limited` (429) with `Retry-After` and `RateLimit-*` headers when exhausted.
   */
  async consumeOrThrow(key: string): Promise<void> {
    try {
      await this.limiter.consume(key);
    } catch (error) {
      if (!(error instanceof RateLimiterRes)) throw error;
      const retryAfter = Math.max(1, Math.ceil(error.msBeforeNext / 1000));
      throw new AppError('rate_limited', `Too many requests (${this.name}); try again in ${retryAfter} seconds.`, {
        extra: { retry_after: retryAfter },
        headers: {
          'Retry-After': String(retryAfter),
          'RateLimit-Limit': String(this.rule.points),
          'RateLimit-Remaining': '0',
          'RateLimit-Reset': String(retryAfter),
        },
      });
    }
  }

  /** Spends one point for `key`; returns false (instead of throwing) when exhausted. */
  async tryConsume(key: string): Promise<boolean> {
    try {
      await this.limiter.consume(key);
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

/** Default limits for verification resends and password-reset requests. */
export function createAccountEmailLimits(prefix: string): AccountEmailLimits {
  return {
    perIp: new KeyedLimiter(`${prefix}-ip`, { points: 10, durationSeconds: 3600 }),
    perEmail: new KeyedLimiter(`${prefix}-email`, { points: 3, durationSeconds: 3600 }),
  };
}
