/**
 * `npm run bench:logins`: only the login figures of `npm run bench` (bench/scenarios/logins.ts),
 * for work on the sign-in path: logins/s against raw argon2id verifies/s, the server's
 * main-thread CPU µs per login, and `/healthz` latency under the login load. Prints; writes
 * nothing (RESULTS.md is the full bench's).
 *
 * Gatehouse runs as in the full bench (`node bin/gatehouse.js serve`, SQLite, LOG_LEVEL=info to a
 * file). `BENCH_BASELINE=DIR` also starts another built checkout and alternates the two round by
 * round (`this` then `base` in each round), so that both see the same load on a shared machine.
 * `BENCH_ROUNDS` (default 3) and `BENCH_DURATION` (seconds per measurement, default 5) change
 * the run. `BENCH_CHEAP_HASH=1` runs both servers with m=8 KiB, t=1 (ARGON2_MEMORY_KIB,
 * ARGON2_ITERATIONS): then only the main-thread µs per login means anything (the ratio compares a
 * cheap server hash with a full raw one), but it is that figure without argon2's two 19 MiB
 * hashes thrashing the same cores' caches beside it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type GatehouseProcess, startGatehouseProcess } from './lib/gatehouse-process.js';
import { scratchSqlite } from './lib/scratch.js';
import { median } from './lib/stats.js';
import { type LoginFigures, measureLogins } from './scenarios/logins.js';

const env = process.env;
const rounds = Number(env.BENCH_ROUNDS ?? 3);
const durationSeconds = Number(env.BENCH_DURATION ?? 5);
const baseline = env.BENCH_BASELINE;
const cheap = env.BENCH_CHEAP_HASH === '1';

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

function summary(label: string, figures: LoginFigures[]): string {
  const med = (pick: (f: LoginFigures) => number) => median(figures.map(pick));
  return (
    `${label}: logins ${med((f) => f.loginsPerSecond).toFixed(0)}/s vs raw ${med((f) => f.rawPerSecond).toFixed(0)}/s ` +
    `(ratio ${med((f) => f.ratio).toFixed(2)}×), main thread ${med((f) => f.mainThreadCpuUsPerLogin).toFixed(0)} µs/login, ` +
    `/healthz p50 ${med((f) => f.healthz.p50).toFixed(2)} ms, p99 ${med((f) => f.healthz.p99).toFixed(2)} ms ` +
    `(idle p99 ${med((f) => f.healthzIdle.p99).toFixed(2)} ms); per round: ` +
    figures.map((f) => `${f.loginsPerSecond.toFixed(0)}/${f.rawPerSecond.toFixed(0)}, ${f.mainThreadCpuUsPerLogin.toFixed(0)} µs, p99 ${f.healthz.p99.toFixed(1)}`).join('; ')
  );
}

async function main(): Promise<void> {
  const logDir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-logins-'));
  const cleanups: Array<() => Promise<void>> = [async () => rmSync(logDir, { recursive: true, force: true })];
  const servers: Array<{ label: string; gh: GatehouseProcess; figures: LoginFigures[] }> = [];
  log(`load average before: ${os.loadavg().map((l) => l.toFixed(2)).join(' / ')}`);
  try {
    for (const checkout of baseline ? [undefined, baseline] : [undefined]) {
      const db = scratchSqlite();
      cleanups.push(() => db.drop());
      const gh = await startGatehouseProcess({
        databaseUrl: db.url,
        dataDir: db.dataDir,
        level: 'info',
        logFile: path.join(logDir, `gatehouse${checkout ? '-base' : ''}.log`),
        ...(checkout ? { checkout } : {}),
        ...(cheap ? { env: { ARGON2_MEMORY_KIB: '8', ARGON2_ITERATIONS: '1' } } : {}),
      });
      cleanups.push(() => gh.stop());
      servers.push({ label: checkout ? 'base' : 'this', gh, figures: [] });
    }
    for (let round = 0; round < rounds; round++) {
      for (const server of servers) {
        const figures = await measureLogins(server.gh, {
          concurrency: os.availableParallelism() * 4,
          rounds: 1,
          durationSeconds,
          warmupSeconds: round === 0 ? 1 : 0,
          onProgress: (m) => log(`  ${server.label} ${m.trim()}`),
        });
        server.figures.push(figures);
      }
    }
    log(`load average after: ${os.loadavg().map((l) => l.toFixed(2)).join(' / ')}`);
    for (const server of servers) console.log(summary(server.label, server.figures));
  } finally {
    for (const fn of cleanups.reverse()) await fn().catch((e: unknown) => log(`cleanup failed: ${String(e)}`));
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
