/**
 * Runs the lease sweep on a timer on every instance (the sweep itself is safe to race: each lapsed
 * job is reclaimed by exactly one conditional update).
 */
import type { Logger } from 'pino';
import { TimerLoop } from '../shared/timer-loop.js';

/** Something that reclaims lapsed leases and says how many. */
export interface Sweepable {
  sweep(limit?: number): Promise<number>;
}

/** How many lapsed jobs one sweep reclaims at most; a full batch sweeps again at once. */
const SWEEP_BATCH = 500;

/** A timer around {@link Sweepable.sweep}; a full batch sweeps again at once. */
export class LeaseSweeper {
  private readonly loop: TimerLoop;

  constructor(target: Sweepable, intervalSeconds: number, logger: Logger) {
    const intervalMs = intervalSeconds * 1000;
    this.loop = new TimerLoop({
      firstDelayMs: intervalMs,
      pass: async () => ((await target.sweep(SWEEP_BATCH)) >= SWEEP_BATCH ? 0 : intervalMs),
      onError: (error) => {
        logger.warn({ err: (error as Error).message }, 'lease sweep failed; will retry');
        return intervalMs;
      },
    });
  }

  /** Starts sweeping every `intervalSeconds`. */
  start(): void {
    this.loop.start();
  }

  /** Stops the timer and waits for a sweep in progress. */
  async stop(): Promise<void> {
    await this.loop.stop();
  }
}
