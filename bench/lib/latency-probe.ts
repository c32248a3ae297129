/**
 * A latency probe for one URL: a worker thread (its own event loop, so it measures the server and
 * not itself) sends `GET url` over one keep-alive connection every `intervalMs` and records each
 * response time with microsecond resolution (autocannon's histogram has 1 ms resolution).
 *
 * The worker's code is plain JavaScript evaluated in the worker, because the TypeScript loader
 * used for the bench does not follow into worker threads on Node 20.
 */
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const { url, intervalMs } = workerData;
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const samples = [];
let failures = 0;
let stopping = false;
parentPort.on('message', () => { stopping = true; });
function once() {
  return new Promise((resolve) => {
    const start = process.hrtime.bigint();
    const req = http.get(url, { agent }, (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode === 200) samples.push(Number(process.hrtime.bigint() - start) / 1e6);
        else failures += 1;
        resolve();
      });
    });
    req.on('error', () => { failures += 1; resolve(); });
  });
}
(async () => {
  let next = performance.now();
  while (!stopping) {
    await once();
    next += intervalMs;
    const wait = next - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    else next = performance.now();
  }
  agent.destroy();
  parentPort.postMessage({ samples, failures });
})();
`;

/** Latencies in milliseconds. */
export interface LatencySummary {
  count: number;
  failures: number;
  p50: number;
  p99: number;
  max: number;
}

/** What a probe saw: every successful response time in ms, and the failed requests. */
export interface LatencySamples {
  samples: number[];
  failures: number;
}

/** A running probe; `stop()` ends it. */
export interface LatencyProbe {
  stop(): Promise<LatencySamples>;
}

/** Percentile (0..100) of sorted values, nearest-rank. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

/** Summarises one or more probes' samples together. */
export function summarize(...runs: LatencySamples[]): LatencySummary {
  const sorted = runs.flatMap((r) => r.samples).sort((a, b) => a - b);
  return {
    count: sorted.length,
    failures: runs.reduce((n, r) => n + r.failures, 0),
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
  };
}

/** Starts probing `url` every `intervalMs` milliseconds. */
export function startLatencyProbe(url: string, intervalMs: number): LatencyProbe {
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { url, intervalMs } });
  const done = new Promise<{ samples: number[]; failures: number }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return {
    async stop() {
      worker.postMessage('stop');
      const result = await done;
      await worker.terminate();
      return result;
    },
  };
}
