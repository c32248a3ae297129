/**
 * Brute-force protection for password checks, after the OWASP Authentication Cheat Sheet
 * ("Protect Against Automated Attacks": lockout by account *and* source, growing delays, a way
 * out for the owner) and rate-limiter-flexible's "login endpoint protection" recipe
 * (consecutive failures per username+IP, failures per IP per day).
 *
 * Two counters, both on the shared {@link LimiterStore}:
 * - consecutive failures per (normalised email, IP): the first `maxConsecutiveFailures`
 *   failures are free; failure number `max + n` locks that pair for
 *   `lockoutBaseSeconds × 2^(n−1)` seconds, capped at one day (defaults: 5 free, then 60 s,
 *   120 s, 240 s, … 86 400 s). A success resets the pair. The count is kept for
 *   {@link CONSECUTIVE_FAILURE_WINDOW_SECONDS} from the pair's first failure.
 * - failures per IP per day: after `maxFailuresPerIpPerDay` failures in a day window (which
 *   starts at that IP's first failure) every attempt from the IP is refused until the window ends.
 *
 * The account itself is never locked: its owner can still sign in from another IP (the pair
 * key includes the IP) and can always reset the password, so an attacker cannot lock people out.
 */
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Config } from '../config.js';
import { limiterKey, type LimiterStore } from './limiter-store.js';
import { rateLimitedError } from './rate-limit-headers.js';

/** Longest lockout of one (email, IP) pair: one day, in seconds. */
export const MAX_LOCKOUT_SECONDS = 86_400;

/**
 * How long consecutive failures of a pair are remembered, counted from its first failure: 7
 * days, long enough for the doubling lockouts to reach the one-day cap.
 */
export const CONSECUTIVE_FAILURE_WINDOW_SECONDS = 7 * 86_400;

/** The `limits` settings the throttle reads. */
export type LoginThrottleSettings = Pick<
  Config['limits'],
  'loginMaxConsecutiveFailures' | 'loginLockoutBaseSeconds' | 'loginMaxFailuresPerIpPerDay'
>;

/**
 * A lockout that just began: the first lock of an (email, IP) pair in a run of failures
 * (`scope: 'account'`), or an IP reaching its daily failure limit (`scope: 'ip'`). For admins.
 */
export interface LockoutReport {
  scope: 'account' | 'ip';
  /** Normalised email as typed (may belong to no account); null for `ip`. */
  email: string | null;
  ip: string | null;
  failures: number;
  lockout_seconds: number;
}

/** The pair key for callers without an IP (the CLI). */
const NO_IP = '-';

/**
 * Lockout length in seconds after `failures` consecutive failures: 0 up to `max`, then
 * `base × 2^(failures − max − 1)`, at most {@link MAX_LOCKOUT_SECONDS}.
 */
export function lockoutSeconds(failures: number, max: number, baseSeconds: number): number {
  const beyond = failures - max;
  if (beyond <= 0) return 0;
  // 2^17 × 1 s already passes a day; clamping the exponent keeps the arithmetic finite.
  return Math.min(baseSeconds * 2 ** Math.min(beyond - 1, 17), MAX_LOCKOUT_SECONDS);
}

/**
 * Implements the AuthService's login guard: `assertAllowed` before verifying a password, then
 * `recordFailure` or `recordSuccess` with the outcome.
 */
export class LoginThrottle {
  private readonly failuresByPair: RateLimiterAbstract;
  private readonly lockByPair: RateLimiterAbstract;
  private readonly failuresByIp: RateLimiterAbstract;

  /**
   * @param store where the counters live (shared by every instance on Redis).
   * @param settings `config.limits`: LOGIN_MAX_CONSECUTIVE_FAILURES, LOGIN_LOCKOUT_BASE_SECONDS,
   *   LOGIN_MAX_FAILURES_PER_IP_PER_DAY.
   * @param onLockout told when a lockout begins (admin notifications); must not throw.
   */
  constructor(
    store: LimiterStore,
    private readonly settings: LoginThrottleSettings,
    private readonly onLockout?: (report: LockoutReport) => void,
  ) {
    this.failuresByPair = store.create('login-failures', {
      points: settings.loginMaxConsecutiveFailures,
      durationSeconds: CONSECUTIVE_FAILURE_WINDOW_SECONDS,
    });
    // A lock is a key blocked (value points + 1) for the lockout's length.
    this.lockByPair = store.create('login-lock', { points: 1, durationSeconds: MAX_LOCKOUT_SECONDS });
    this.failuresByIp = store.create('login-ip-day', {
      points: settings.loginMaxFailuresPerIpPerDay,
      durationSeconds: 86_400,
    });
  }

  /**
   * Refuses an attempt while the (email, IP) pair is locked or the IP has used up its daily
   * failures. Call before verifying the password, so a locked-out attempt costs no argon2 work.
   *
   * Attempts that pass this check concurrently are all counted afterwards; a burst can exceed
   * the threshold by its own size once per lockout, which the per-IP request limit bounds.
   *
   * @param email as typed; trimmed and lower-cased here.
   * @param ip the client IP, or null for callers without one (not subject to the per-IP limit).
   * @throws AppError `rate_limited` (429) with `Retry-After` and `RateLimit-Limit/Remaining/Reset`.
   */
  async assertAllowed(email: string, ip: string | null): Promise<void> {
    const [lock, ipDay] = await Promise.all([
      this.lockByPair.get(this.pairKey(email, ip)),
      ip === null ? null : this.failuresByIp.get(limiterKey(ip)),
    ]);
    const perDay = this.settings.loginMaxFailuresPerIpPerDay;
    if (ipDay && ipDay.consumedPoints >= perDay && ipDay.msBeforeNext > 0) {
      throw rateLimitedError(
        perDay,
        ipDay.msBeforeNext,
        'Too many failed sign-ins from this network today; try again in {seconds} seconds or reset your password.',
      );
    }
    if (lock && lock.consumedPoints > 1 && lock.msBeforeNext > 0) {
      throw rateLimitedError(
        this.settings.loginMaxConsecutiveFailures,
        lock.msBeforeNext,
        'Too many failed sign-ins for this account from this network; try again in {seconds} seconds or reset your password.',
      );
    }
  }

  /**
   * Counts a failed attempt (wrong password or unknown email, which must look the same) and
   * locks the pair when it has failed more than LOGIN_MAX_CONSECUTIVE_FAILURES times in a row.
   */
  async recordFailure(email: string, ip: string | null): Promise<void> {
    const pair = this.pairKey(email, ip);
    const [failures, ipDay] = await Promise.all([
      this.failuresByPair.penalty(pair, 1),
      ip === null ? null : this.failuresByIp.penalty(limiterKey(ip), 1),
    ]);
    const seconds = lockoutSeconds(
      failures.consumedPoints,
      this.settings.loginMaxConsecutiveFailures,
      this.settings.loginLockoutBaseSeconds,
    );
    if (seconds > 0) await this.lockByPair.block(pair, seconds);
    // Report only the start of a lockout, not every doubling, so admins get one message per run.
    const normalised = email.trim().toLowerCase();
    if (failures.consumedPoints === this.settings.loginMaxConsecutiveFailures + 1) {
      this.onLockout?.({ scope: 'account', email: normalised, ip, failures: failures.consumedPoints, lockout_seconds: seconds });
    }
    if (ipDay && ipDay.consumedPoints === this.settings.loginMaxFailuresPerIpPerDay) {
      const rest = Math.ceil(ipDay.msBeforeNext / 1000);
      this.onLockout?.({ scope: 'ip', email: null, ip, failures: ipDay.consumedPoints, lockout_seconds: rest });
    }
  }

  /** Forgets the pair's consecutive failures (and any lock). The IP's daily count stays. */
  async recordSuccess(email: string, ip: string | null): Promise<void> {
    const pair = this.pairKey(email, ip);
    await Promise.all([this.failuresByPair.delete(pair), this.lockByPair.delete(pair)]);
  }

  private pairKey(email: string, ip: string | null): string {
    return limiterKey(email.trim().toLowerCase(), ip ?? NO_IP);
  }
}
