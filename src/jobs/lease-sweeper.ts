/**
 * Runs the lease sweep on a timer on every instance (the sweep itself is safe to race: each lapsed
 * job is reclaimed by exactly one conditional update).
 */
import type { Logger } from 'pino';

/** Something that reclaims lapsed leases and says how many. */
export interface Sweepable {
  sweep(limit?: number): Promise<number>;
}

/** A timer around {@link Sweepable.sweep}; a full batch sweeps again at once. */
export class LeaseSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;

  constructor(
    private readonly target: Sweepable,
    private readonly intervalSeconds: number,
    private readonly logger: Logger,
  ) {}

  /** Starts sweeping every `intervalSeconds`. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(this.intervalSeconds * 1000);
  }

  /** Stops the timer and waits for a sweep in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.target
        .sweep(500)
        .then((n) => this.schedule(n >= 500 ? 0 : this.intervalSeconds * 1000))
        .catch((error: unknown) => {
          this.logger.warn({ err: (error as Error).message }, 'lease sweep failed; will retry');
          this.schedule(this.intervalSeconds * 1000);
        });
    }, ms);
    this.timer.unref();
  }
}
