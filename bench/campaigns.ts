/**
 * `npm run bench:campaigns`: the channel-moe minimiser's time per run (one run = `restarts`
 * random starts of at most `max_iterations` iterations, as the built-in worker does it) for
 * d_in = d_out = n_kraus = 8 by default, on Haar-random channels; and the time to generate one.
 * Prints a table and writes it into `bench/CAMPAIGNS-RESULTS.md` between the `<!-- bench:start -->`
 * and `<!-- bench:end -->` markers (the rest of the file, such as the comparison with the earlier
 * method, is kept).
 *
 * Knobs: BENCH_MOE_D (8), BENCH_MOE_KRAUS (8), BENCH_MOE_RUNS (5), BENCH_MOE_RESTARTS (10),
 * BENCH_MOE_ITERATIONS (1000).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { haarChannel, minimizeOutputEntropy } from '../src/campaigns/channel/channel.js';
import { median } from '../src/campaigns/campaigns.service.js';

const int = (name: string, fallback: number): number => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
  return value;
};
const d = int('BENCH_MOE_D', 8);
const nKraus = int('BENCH_MOE_KRAUS', 8);
const runs = int('BENCH_MOE_RUNS', 5);
const restarts = int('BENCH_MOE_RESTARTS', 10);
const maxIterations = int('BENCH_MOE_ITERATIONS', 1000);

const loadAtStart = os.loadavg()[0] ?? 0;
// One run that is not counted, so the figures are of compiled code (V8's JIT), not of its warm-up.
await minimizeOutputEntropy(haarChannel(d, d, nKraus, 999), { seed: 999, restarts: 2, maxIterations });
const generateMs: number[] = [];
const runMs: number[] = [];
const cpuMs: number[] = [];
const rows: string[] = [];
for (let run = 0; run < runs; run++) {
  let t = performance.now();
  const channel = haarChannel(d, d, nKraus, 1000 + run);
  generateMs.push(performance.now() - t);
  t = performance.now();
  const cpu = process.cpuUsage();
  const result = await minimizeOutputEntropy(channel, { seed: run, restarts, maxIterations });
  const ms = performance.now() - t;
  const used = process.cpuUsage(cpu);
  const cpuRun = (used.user + used.system) / 1000;
  runMs.push(ms);
  cpuMs.push(cpuRun);
  rows.push(
    `| ${run} | ${result.value.toFixed(9)} | ${result.gradientNorm.toExponential(1)} | ${result.iterations} | ${(ms / 1000).toFixed(3)} | ${(cpuRun / 1000).toFixed(3)} | ${((ms * 1000) / result.iterations).toFixed(0)} |`,
  );
  process.stderr.write(`run ${run}: S_min ≈ ${result.value.toFixed(9)} bits, ${result.iterations} iterations, ${(ms / 1000).toFixed(3)} s\n`);
}
const sorted = [...runMs].sort((a, b) => a - b);
const cpuSorted = [...cpuMs].sort((a, b) => a - b);
const summary = `median ${((median(sorted) ?? 0) / 1000).toFixed(3)} s per run (min ${(sorted[0]! / 1000).toFixed(3)}, max ${(sorted.at(-1)! / 1000).toFixed(3)}), CPU ${((median(cpuSorted) ?? 0) / 1000).toFixed(3)} s; generating a channel ${(median([...generateMs].sort((a, b) => a - b)) ?? 0).toFixed(2)} ms`;
const START = '<!-- bench:start -->';
const END = '<!-- bench:end -->';
const block = [
  START,
  `Measured by \`npm run bench:campaigns\` on ${os.cpus()[0]?.model ?? 'an unknown CPU'} (${os.cpus().length} cores, one used), Node ${process.version}, ${new Date().toISOString().slice(0, 10)}.`,
  `d_in = d_out = ${d}, n_kraus = ${nKraus}; each run: ${restarts} random starts of at most ${maxIterations} iterations of Riemannian L-BFGS (src/campaigns/channel/channel.ts), Haar channels with seeds 1000…${1000 + runs - 1}, after one uncounted warm-up run; wall-clock and CPU time (the process's user + system) per run; load average ${loadAtStart.toFixed(1)} at the start.`,
  '',
  `**${summary}.**`,
  '',
  '| run | S_min found (bits) | ‖grad‖ at the end (bits/rad) | iterations | seconds | CPU seconds | µs per iteration |',
  '|---|---|---|---|---|---|---|',
  ...rows,
  END,
].join('\n');
console.log(summary);
const file = fileURLToPath(new URL('./CAMPAIGNS-RESULTS.md', import.meta.url));
const previous = existsSync(file) ? readFileSync(file, 'utf8') : '';
const at = previous.indexOf(START);
const until = previous.indexOf(END);
writeFileSync(
  file,
  at >= 0 && until > at ? previous.slice(0, at) + block + previous.slice(until + END.length) : `# channel-moe minimiser: time per run\n\n${block}\n`,
);
