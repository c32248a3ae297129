/**
 * A background loop on one unref'd timer, for the platform's housekeeping loops (the outbox
 * dispatcher, the scheduler, the lease sweeper): run a pass, wait as long as the pass asks, run
 * the next. Passes never overlap; `stop` waits for the one in flight; `wake` runs the next pass
 * at once (or right after the one in flight). The timer never keeps a process alive.
 *
 * Delays are real time (setTimeout); what a pass does with the injected clock is its own affair.
 */

/** What a {@link TimerLoop} runs. */
export interface TimerLoopOptions {
  /** One pass. @returns the delay in ms before the next pass (0: at once). */
  pass(): Promise<number>;
  /**
   * Called when `pass` rejects (log it here); the loop goes on. Must not throw.
   * @returns the delay in ms before the next pass.
   */
  onError(error: unknown): number | Promise<number>;
  /** Delay in ms from `start` to the first pass. Default 0. */
  firstDelayMs?: number;
}

/** A loop of non-overlapping passes on an unref'd timer; see the module comment. */
export class TimerLoop {
  private timer: NodeJS.Timeout | undefined;
  private active = false;
  private inFlight: Promise<void> | undefined;
  private wakeRequested = false;

  constructor(private readonly options: TimerLoopOptions) {}

  /** True between {@link start} and {@link stop}. */
  get running(): boolean {
    return this.active;
  }

  /** Starts the loop (the first pass after `firstDelayMs`). Calling it again while running does nothing. */
  start(): void {
    if (this.active) return;
    this.active = true;
    this.schedule(this.options.firstDelayMs ?? 0);
  }

  /** Stops the loop and waits for a pass in flight to finish. Safe to call twice. */
  async stop(): Promise<void> {
    this.active = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }

  /** Runs a pass now, or right after the one in flight. Does nothing while stopped. */
  wake(): void {
    if (!this.active) return;
    if (this.inFlight) {
      this.wakeRequested = true;
      return;
    }
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (!this.active) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.run(), delayMs);
    this.timer.unref();
  }

  private async run(): Promise<void> {
    this.timer = undefined;
    this.wakeRequested = false;
    let next = 0;
    const pass = (async () => {
      try {
        next = await this.options.pass();
      } catch (error) {
        next = await this.options.onError(error);
      }
    })();
    this.inFlight = pass;
    await pass;
    this.inFlight = undefined;
    this.schedule(this.wakeRequested ? 0 : next);
  }
}
