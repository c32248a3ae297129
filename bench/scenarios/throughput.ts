/**
 * Requests/s of routes relative to a baseline route, measured with wrk in interleaved rounds:
 * every round runs, for each group (e.g. one per log level), its baseline and then each of its
 * targets for the same duration; each target's ratio is taken against that round's baseline of
 * its group, and the median over rounds is reported. Interleaving keeps a drift in machine load
 * (other processes, CPU frequency) from landing on one figure only. Beside each figure: the
 * server process's CPU time per request, read from /proc before and after the run.
 */
import type { ServerProcess } from '../lib/processes.js';
import { median } from '../lib/stats.js';
import { runWrk, type WrkResult } from '../lib/wrk.js';

/** One URL to load, served by `server`. */
export interface Target {
  name: string;
  url: string;
  headers?: Record<string, string>;
  server: ServerProcess;
}

/** A baseline and the targets compared with it. */
export interface TargetGroup {
  /** e.g. `info` or `silent`: names the figures `group/target`. */
  name: string;
  baseline: Target;
  targets: Target[];
}

/** One measurement. */
export interface RunFigures extends WrkResult {
  /** Server process CPU (all threads, user + system) per request, µs. */
  cpuUsPerRequest: number;
  /** Server main-thread (event loop) CPU per request, µs. */
  mainCpuUsPerRequest: number;
}

/** Median figures of one target over the rounds. */
export interface TargetFigures {
  group: string;
  name: string;
  rps: number;
  /** Median of the per-round ratios to the group's baseline (1 for the baseline itself). */
  ratio: number;
  cpuUs: number;
  mainCpuUs: number;
  p50: number;
  p99: number;
  /** Every round's requests/s, in round order. */
  rounds: number[];
  /** Every round's ratio, in round order. */
  ratios: number[];
}

/** Options for {@link compareThroughput}. */
export interface ThroughputOptions {
  rounds: number;
  durationSeconds: number;
  warmupSeconds: number;
  threads: number;
  connections: number;
  /** Called after each measurement, for progress output. */
  onProgress?: (round: number, label: string, result: RunFigures) => void;
}

async function load(target: Target, options: ThroughputOptions, durationSeconds: number): Promise<RunFigures> {
  const cpu0 = target.server.cpuMs();
  const main0 = target.server.mainThreadCpuMs();
  const result = await runWrk({
    url: target.url,
    headers: target.headers ?? {},
    threads: options.threads,
    connections: options.connections,
    durationSeconds,
  });
  const cpu = target.server.cpuMs() - cpu0;
  const main = target.server.mainThreadCpuMs() - main0;
  return {
    ...result,
    cpuUsPerRequest: result.total > 0 ? (cpu * 1000) / result.total : 0,
    mainCpuUsPerRequest: result.total > 0 ? (main * 1000) / result.total : 0,
  };
}

/** Measures every group; the result lists each group's baseline first. */
export async function compareThroughput(groups: TargetGroup[], options: ThroughputOptions): Promise<TargetFigures[]> {
  const all = groups.flatMap((g) => [g.baseline, ...g.targets].map((t) => ({ group: g, target: t, key: `${g.name}/${t.name}` })));
  // Warm-up: JIT, connection set-up, caches (the session and verified-credential caches fill here).
  if (options.warmupSeconds > 0) for (const { target } of all) await load(target, options, options.warmupSeconds);

  const results = new Map<string, RunFigures[]>(all.map((t) => [t.key, []]));
  const ratios = new Map<string, number[]>(all.map((t) => [t.key, []]));
  for (let round = 0; round < options.rounds; round++) {
    for (const group of groups) {
      let baseRps = Number.NaN;
      for (const target of [group.baseline, ...group.targets]) {
        const key = `${group.name}/${target.name}`;
        const result = await load(target, options, options.durationSeconds);
        if (target === group.baseline) baseRps = result.rps;
        results.get(key)?.push(result);
        ratios.get(key)?.push(result.rps / baseRps);
        options.onProgress?.(round, key, result);
      }
    }
  }
  return all.map(({ group, target, key }) => {
    const runs = results.get(key) ?? [];
    return {
      group: group.name,
      name: target.name,
      rps: median(runs.map((r) => r.rps)),
      ratio: median(ratios.get(key) ?? []),
      cpuUs: median(runs.map((r) => r.cpuUsPerRequest)),
      mainCpuUs: median(runs.map((r) => r.mainCpuUsPerRequest)),
      p50: median(runs.map((r) => r.p50)),
      p99: median(runs.map((r) => r.p99)),
      rounds: runs.map((r) => r.rps),
      ratios: ratios.get(key) ?? [],
    };
  });
}
