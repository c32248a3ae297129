/**
 * Requests/s of routes relative to a baseline route, measured in interleaved rounds: every round
 * runs the baseline and then each target for the same duration, each target's ratio is taken
 * against that round's baseline, and the median over rounds is reported. Interleaving keeps a
 * drift in machine load (other processes, CPU frequency) from landing on one figure only.
 */
import { type LoadResult, runLoad } from '../lib/load.js';
import { median } from '../lib/stats.js';

/** One URL to load. */
export interface Target {
  name: string;
  url: string;
  headers?: Record<string, string>;
  /** Runs before each load of this target (e.g. to switch something off for a diagnostic row). */
  before?: () => void;
  /** Runs after each load of this target. */
  after?: () => void;
}

/** Median figures of one target over the rounds. */
export interface TargetFigures {
  name: string;
  rps: number;
  /** Median of the per-round ratios to the baseline (1 for the baseline itself). */
  ratio: number;
  /** Main-thread CPU microseconds per request. */
  cpuUs: number;
  /** Latency p99 in ms (autocannon, 1 ms resolution). */
  p99: number;
  /** Every round's requests/s, for the record. */
  rounds: number[];
}

/** Options for {@link compareThroughput}. */
export interface ThroughputOptions {
  rounds: number;
  durationSeconds: number;
  warmupSeconds: number;
  connections: number;
  /** Called after each measurement, for progress output. */
  onProgress?: (round: number, name: string, result: LoadResult) => void;
}

async function load(target: Target, connections: number, durationSeconds: number): Promise<LoadResult> {
  target.before?.();
  try {
    return await runLoad({ url: target.url, headers: target.headers ?? {}, connections, durationSeconds });
  } finally {
    target.after?.();
  }
}

/** Measures `baseline` and `targets`; the result lists the baseline first. */
export async function compareThroughput(baseline: Target, targets: Target[], options: ThroughputOptions): Promise<TargetFigures[]> {
  const all = [baseline, ...targets];
  // Warm-up: JIT, connection set-up, caches (the session and verified-token caches fill here).
  for (const target of all) await load(target, options.connections, options.warmupSeconds);

  const results = new Map<string, LoadResult[]>(all.map((t) => [t.name, []]));
  const ratios = new Map<string, number[]>(all.map((t) => [t.name, []]));
  for (let round = 0; round < options.rounds; round++) {
    let baseRps = Number.NaN;
    for (const target of all) {
      const result = await load(target, options.connections, options.durationSeconds);
      if (target === baseline) baseRps = result.rps;
      results.get(target.name)?.push(result);
      ratios.get(target.name)?.push(result.rps / baseRps);
      options.onProgress?.(round, target.name, result);
    }
  }
  return all.map((target) => {
    const runs = results.get(target.name) ?? [];
    return {
      name: target.name,
      rps: median(runs.map((r) => r.rps)),
      ratio: median(ratios.get(target.name) ?? []),
      cpuUs: median(runs.map((r) => r.cpuUsPerRequest)),
      p99: median(runs.map((r) => r.p99)),
      rounds: runs.map((r) => r.rps),
    };
  });
}
