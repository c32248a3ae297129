/**
 * Password logins against the raw cost of argon2id, and event-loop responsiveness meanwhile.
 *
 * Raw: `concurrency` loops in this process (while the server idles) each await
 * `PasswordHasher.verify` — Gatehouse's own hasher class with the configured parameters, so the
 * same @node-rs/argon2 call on its hashing threads, one per core, at ARGON2_THREAD_NICE as the
 * server (this process reads the same environment) — against a hash of the bench password,
 * back to back. Logins: autocannon (a scripted POST client, in a worker thread) keeps
 * `concurrency` connections busy with `POST /api/v1/auth/login` on the server process (each one
 * verifies the password and records the session, the attempt and the audit entry), while a probe
 * in another thread asks `GET /healthz` every 10 ms. Rounds alternate raw and HTTP.
 */
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../../src/config.js';
import { PasswordHasher } from '../../src/crypto/passwords.js';
import type { GatehouseProcess } from '../lib/gatehouse-process.js';
import { type LatencySamples, type LatencySummary, startLatencyProbe, summarize } from '../lib/latency-probe.js';
import { runLoad } from '../lib/load.js';
import { BENCH_PASSWORD, BENCH_PUBLIC_URL } from '../lib/servers.js';
import { median } from '../lib/stats.js';

/** What {@link measureLogins} found. */
export interface LoginFigures {
  concurrency: number;
  /** The argon2 parameters of the stored hash, e.g. `m=19456,t=2,p=1`. */
  params: string;
  rawPerSecond: number;
  loginsPerSecond: number;
  /** Median of the per-round ratios logins/raw. */
  ratio: number;
  /**
   * Server main-thread CPU per login in µs (HTTP, queries, commits; argon2 runs on other threads):
   * what logins spend beyond the hash, competing with it for the same cores.
   */
  mainThreadCpuUsPerLogin: number;
  /** /healthz latency while logins ran, all rounds pooled. */
  healthz: LatencySummary;
  /** /healthz latency with the server idle, for reference. */
  healthzIdle: LatencySummary;
}

/** Options for {@link measureLogins}. */
export interface LoginOptions {
  concurrency: number;
  rounds: number;
  durationSeconds: number;
  /** Seconds of warm-up (raw verifies, then logins) before the rounds; 0 skips it. */
  warmupSeconds: number;
  onProgress?: (message: string) => void;
}

async function rawVerifies(hasher: PasswordHasher, hash: string, concurrency: number, seconds: number): Promise<number> {
  let count = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        if (!(await hasher.verify(hash, BENCH_PASSWORD))) throw new Error('argon2 verify failed');
        count += 1;
      }
    }),
  );
  return count / ((performance.now() - start) / 1000);
}

async function probeFor(url: string, seconds: number): Promise<LatencySummary> {
  const probe = startLatencyProbe(url, 10);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  return summarize(await probe.stop());
}

/** Measures logins/s, raw verifies/s and /healthz latency under login load. */
export async function measureLogins(gh: GatehouseProcess, options: LoginOptions): Promise<LoginFigures> {
  const nice = process.env.ARGON2_THREAD_NICE;
  const argon2 = loadConfig({ DATA_DIR: '/tmp', PUBLIC_URL: BENCH_PUBLIC_URL, ...(nice ? { ARGON2_THREAD_NICE: nice } : {}) }).auth.argon2;
  const hasher = new PasswordHasher(argon2);
  const user = { password_hash: await hasher.hash(BENCH_PASSWORD) };
  const params = /\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(user.password_hash)?.slice(1, 4);
  const healthzUrl = `${gh.base}/healthz`;
  const healthzIdle = await probeFor(healthzUrl, 1);

  const login = {
    url: `${gh.base}/api/v1/auth/login`,
    method: 'POST' as const,
    headers: { 'content-type': 'application/json', origin: BENCH_PUBLIC_URL },
    body: JSON.stringify({ email: gh.email, password: BENCH_PASSWORD }),
    connections: options.concurrency,
  };
  // Warm-up: thread pool, JIT, the login route.
  if (options.warmupSeconds > 0) {
    await rawVerifies(hasher, user.password_hash, options.concurrency, options.warmupSeconds);
    await runLoad({ ...login, durationSeconds: options.warmupSeconds });
  }

  const raw: number[] = [];
  const logins: number[] = [];
  const mainThreadCpu: number[] = [];
  const ratios: number[] = [];
  const latencies: LatencySamples[] = [];
  for (let round = 0; round < options.rounds; round++) {
    const r = await rawVerifies(hasher, user.password_hash, options.concurrency, options.durationSeconds);
    raw.push(r);
    const probe = startLatencyProbe(healthzUrl, 10);
    const main0 = gh.server.mainThreadCpuMs();
    const l = await runLoad({ ...login, durationSeconds: options.durationSeconds });
    l.cpuUsPerRequest = l.total > 0 ? ((gh.server.mainThreadCpuMs() - main0) * 1000) / l.total : 0;
    const seen = await probe.stop();
    const latency = summarize(seen);
    latencies.push(seen);
    logins.push(l.rps);
    mainThreadCpu.push(l.cpuUsPerRequest);
    ratios.push(l.rps / r);
    options.onProgress?.(
      `  round ${round + 1}: raw ${r.toFixed(0)}/s, logins ${l.rps.toFixed(0)}/s (${l.cpuUsPerRequest.toFixed(0)} µs main-thread CPU each), /healthz p99 ${latency.p99.toFixed(2)} ms`,
    );
  }
  return {
    concurrency: options.concurrency,
    params: params ? `m=${params[0]},t=${params[1]},p=${params[2]}` : 'unknown',
    rawPerSecond: median(raw),
    loginsPerSecond: median(logins),
    ratio: median(ratios),
    mainThreadCpuUsPerLogin: median(mainThreadCpu),
    healthz: summarize(...latencies),
    healthzIdle,
  };
}
