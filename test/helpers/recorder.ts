/**
 * What the test peers (the SMTP sink, the webhook receiver) share: a list of what they received
 * and a condition-based wait for the first item matching a predicate, already received or still
 * to come. No polling and no sleeps: `record` resolves waiting callers at once.
 */

/** Received items of one kind, in arrival order, with {@link waitFor}. */
export class Recorder<T> {
  /** Everything received so far, oldest first. */
  readonly items: T[] = [];
  private readonly waiters: Array<{ predicate: (item: T) => boolean; resolve: (item: T) => void }> = [];

  /** @param describe Summarises what was received, for the timeout error (`no matching <noun> …; received: <describe>`). */
  constructor(
    private readonly noun: string,
    private readonly describe: (items: readonly T[]) => string,
  ) {}

  /** Stores `item` and hands it to every waiter whose predicate it matches. */
  record(item: T): void {
    this.items.push(item);
    for (const waiter of [...this.waiters]) {
      if (waiter.predicate(item)) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve(item);
      }
    }
  }

  /**
   * Resolves with the first item (already received or arriving later) matching `predicate`.
   * @throws Error (rejects) when none arrives within `timeoutMs` (default 10 s), listing what did.
   */
  waitFor(predicate: (item: T) => boolean, timeoutMs = 10_000): Promise<T> {
    const found = this.items.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const waiter = { predicate, resolve };
      this.waiters.push(waiter);
      setTimeout(() => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) {
          this.waiters.splice(index, 1);
          reject(new Error(`no matching ${this.noun} within ${timeoutMs} ms; received: ${this.describe(this.items)}`));
        }
      }, timeoutMs).unref();
    });
  }
}
