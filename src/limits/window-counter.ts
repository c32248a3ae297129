/**
 * Request counters for the per-request limits (`request-limits.ts`): a fixed window per key
 * that starts at the key's first action, as rate-limiter-flexible counts.
 *
 * In process memory the count is a synchronous map update (a few hundred nanoseconds): no
 * promise, no result object, no timer per key — this runs on every request. With Redis the
 * count goes through rate-limiter-flexible's Redis limiter (shared by every instance, with its
 * in-memory insurance during outages) and is asynchronous.
 */
import { type RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';

/** A key's state after counting. */
export interface WindowCount {
  /** Actions counted in the current window, this one included (may exceed the limit). */
  consumed: number;
  /** Milliseconds until the window resets. */
  msBeforeNext: number;
}

/** Counts actions per key in fixed windows. Synchronous in memory, a promise with Redis. */
export interface WindowCounter {
  /** Counts one action of `key`. */
  consume(key: string): WindowCount | Promise<WindowCount>;
  /** The key's current count without counting, or null when it has none in this window. */
  peek(key: string): WindowCount | null | Promise<WindowCount | null>;
}

interface Slot {
  count: number;
  resetAt: number;
}

/** Process-memory {@link WindowCounter}. */
export class MemoryWindowCounter implements WindowCounter {
  private readonly slots = new Map<string, Slot>();
  private readonly windowMs: number;

  /**
   * @param durationSeconds window length.
   * @param nowMs a millisecond reading, only ever compared with earlier readings (window ends,
   *   time left); default the monotonic `performance.now()`, so a wall-clock step cannot stretch
   *   or cut a window. Tests may pass their own.
   */
  constructor(
    durationSeconds: number,
    private readonly nowMs: () => number = () => performance.now(),
  ) {
    this.windowMs = durationSeconds * 1000;
    // Forget finished windows once per window length so idle keys do not accumulate.
    const sweep = setInterval(() => {
      const now = this.nowMs();
      for (const [key, slot] of this.slots) if (slot.resetAt <= now) this.slots.delete(key);
    }, Math.min(this.windowMs, 2 ** 31 - 1));
    sweep.unref();
  }

  consume(key: string): WindowCount {
    const now = this.nowMs();
    let slot = this.slots.get(key);
    if (!slot || slot.resetAt <= now) {
      slot = { count: 0, resetAt: now + this.windowMs };
      this.slots.set(key, slot);
    }
    slot.count++;
    return { consumed: slot.count, msBeforeNext: this.left(slot.resetAt, now) };
  }

  /**
   * Milliseconds until `resetAt`, at most one window: `(now + window) - now` in floating point can
   * come out a hair above the window with the fractional `performance.now()`, which a
   * `Math.ceil` to whole seconds would turn into 61 s for a 60 s window.
   */
  private left(resetAt: number, now: number): number {
    return Math.min(this.windowMs, resetAt - now);
  }

  peek(key: string): WindowCount | null {
    const slot = this.slots.get(key);
    if (!slot) return null;
    const now = this.nowMs();
    if (slot.resetAt <= now) return null;
    return { consumed: slot.count, msBeforeNext: this.left(slot.resetAt, now) };
  }
}

/** {@link WindowCounter} over a rate-limiter-flexible limiter (Redis); never refuses, only counts. */
export class LimiterWindowCounter implements WindowCounter {
  constructor(private readonly limiter: RateLimiterAbstract) {}

  async consume(key: string): Promise<WindowCount> {
    try {
      const res = await this.limiter.consume(key);
      return { consumed: res.consumedPoints, msBeforeNext: res.msBeforeNext };
    } catch (error) {
      // Over the limiter's own points: a RateLimiterRes with the count (the caller decides).
      if (!(error instanceof RateLimiterRes)) throw error;
      return { consumed: error.consumedPoints, msBeforeNext: error.msBeforeNext };
    }
  }

  async peek(key: string): Promise<WindowCount | null> {
    const res = await this.limiter.get(key);
    return res ? { consumed: res.consumedPoints, msBeforeNext: res.msBeforeNext } : null;
  }
}
