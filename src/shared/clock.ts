/**
 * A source of the current time. Injected wherever time matters (sessions, tokens, outbox
 * backoff) so tests can move time forward instead of sleeping.
 */
export interface Clock {
  /** The current instant. */
  now(): Date;
}

/** The wall clock. */
export const systemClock: Clock = { now: () => new Date() };

/** A clock that only moves when told to; for tests. */
export class ManualClock implements Clock {
  private current: number;

  /** @param start initial instant (default: the real current time). */
  constructor(start: Date = new Date()) {
    this.current = start.getTime();
  }

  now(): Date {
    return new Date(this.current);
  }

  /** Moves the clock forward by `seconds` (may be fractional). */
  advance(seconds: number): void {
    this.current += seconds * 1000;
  }
}

/** Returns `date` plus `seconds`, as a new Date. */
export function addSeconds(date: Date, seconds: number): Date {
  return new Date(date.getTime() + seconds * 1000);
}
