/** Unit tests for `src/shared/timer-loop.ts`, the loop under the outbox, the scheduler and the lease sweeper. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TimerLoop } from '../../src/shared/timer-loop.js';

/** A pass that records when it ran and finishes only when told to. */
function gatedPass(delayMs: number) {
  const starts: number[] = [];
  let open: (() => void) | undefined;
  let active = 0;
  let maxActive = 0;
  return {
    starts,
    get maxActive() {
      return maxActive;
    },
    get running() {
      return open !== undefined;
    },
    finish() {
      open?.();
    },
    pass: () =>
      new Promise<number>((resolve) => {
        starts.push(Date.now());
        active++;
        maxActive = Math.max(maxActive, active);
        open = () => {
          open = undefined;
          active--;
          resolve(delayMs);
        };
      }),
  };
}

describe('TimerLoop', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs the first pass after firstDelayMs, then waits the delay each pass returns', async () => {
    const delays = [0, 5000, 1000];
    const runs: number[] = [];
    const loop = new TimerLoop({
      firstDelayMs: 2000,
      pass: async () => {
        runs.push(Date.now());
        return delays.shift() ?? 60_000;
      },
      onError: () => 0,
    });
    loop.start();
    loop.start();
    expect(loop.running).toBe(true);
    await vi.advanceTimersByTimeAsync(1999);
    expect(runs).toEqual([]);
    await vi.advanceTimersByTimeAsync(10_000);
    // Node runs setTimeout(0) after 1 ms.
    expect(runs).toEqual([2000, 2001, 7001, 8001]);
    await loop.stop();
    expect(loop.running).toBe(false);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(runs).toHaveLength(4);
  });

  it('never overlaps passes: a wake during a pass runs the next one right after it', async () => {
    const gate = gatedPass(60_000);
    const loop = new TimerLoop({ pass: gate.pass, onError: () => 0 });
    loop.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(gate.starts).toEqual([0]);
    await vi.advanceTimersByTimeAsync(500);
    loop.wake();
    loop.wake();
    await vi.advanceTimersByTimeAsync(0);
    expect(gate.starts).toEqual([0]);
    gate.finish();
    await vi.advanceTimersByTimeAsync(0);
    expect(gate.starts).toEqual([0, 500]);
    expect(gate.maxActive).toBe(1);
    gate.finish();
    // Idle: a wake runs a pass at once instead of after the 60 s delay.
    await vi.advanceTimersByTimeAsync(1000);
    loop.wake();
    await vi.advanceTimersByTimeAsync(0);
    expect(gate.starts).toEqual([0, 500, 1500]);
    gate.finish();
    await loop.stop();
  });

  it('stop waits for the pass in flight and nothing runs after it', async () => {
    const gate = gatedPass(0);
    const loop = new TimerLoop({ pass: gate.pass, onError: () => 0 });
    loop.start();
    await vi.advanceTimersByTimeAsync(0);
    let stopped = false;
    const stopping = loop.stop().then(() => {
      stopped = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false);
    gate.finish();
    await stopping;
    expect(stopped).toBe(true);
    loop.wake();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(gate.starts).toHaveLength(1);
  });

  it('goes on after a failed pass, after the delay onError returns', async () => {
    const errors: unknown[] = [];
    let calls = 0;
    const loop = new TimerLoop({
      pass: async () => {
        calls++;
        if (calls === 1) throw new Error('database down');
        return 60_000;
      },
      onError: (error) => {
        errors.push(error);
        return 3000;
      },
    });
    loop.start();
    await vi.advanceTimersByTimeAsync(2999);
    expect(calls).toBe(1);
    expect((errors[0] as Error).message).toBe('database down');
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toBe(2);
    await loop.stop();
  });
});
