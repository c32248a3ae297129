/**
 * The client side of the job bench: producers, simulated workers and a live-progress
 * subscriber, all talking to Gatehouse over real HTTP (docs/jobs.md). {@link inThread} runs one
 * of them in a worker thread, so the load generator has its own event loop and the server's
 * main thread (Gatehouse runs in the bench process) serves only requests.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { JsonClient } from '../lib/http-json.js';

/** Arguments of {@link enqueueBatches}. */
export interface EnqueueBatchesArgs {
  base: string;
  key: string;
  queue: string;
  /** Jobs to create in all. */
  total: number;
  /** Jobs per request (`{jobs: [...]}`, at most 1,000). */
  batchSize: number;
  /** Requests in flight. */
  concurrency: number;
}

/** What a producer run did. */
export interface EnqueueFigures {
  jobs: number;
  requests: number;
  seconds: number;
}

/** `POST /api/v1/queues/{name}/jobs` with `{jobs: [...]}` until `total` jobs exist. */
export async function enqueueBatches(args: EnqueueBatchesArgs): Promise<EnqueueFigures> {
  const path = `/api/v1/queues/${args.queue}/jobs`;
  const requests = Math.ceil(args.total / args.batchSize);
  let next = 0;
  const started = performance.now();
  const loop = async () => {
    const client = new JsonClient(args.base, { authorization: `Bearer ${args.key}` });
    try {
      for (let i = next++; i < requests; i = next++) {
        const size = Math.min(args.batchSize, args.total - i * args.batchSize);
        const jobs = Array.from({ length: size }, (_, k) => ({ kind: 'noop', payload: { n: i * args.batchSize + k } }));
        const res = await client.expect([201], 'POST', path, { jobs });
        const created = (res.body as { created?: number }).created;
        if (created !== size) throw new Error(`enqueue: asked for ${size} jobs, created ${String(created)}`);
      }
    } finally {
      client.close();
    }
  };
  await Promise.all(Array.from({ length: args.concurrency }, loop));
  return { jobs: args.total, requests, seconds: (performance.now() - started) / 1000 };
}

/** Arguments of {@link enqueueSingles}. */
export interface EnqueueSinglesArgs {
  base: string;
  key: string;
  queue: string;
  durationSeconds: number;
  concurrency: number;
}

/** One job per `POST /api/v1/queues/{name}/jobs` from `concurrency` connections for a while. */
export async function enqueueSingles(args: EnqueueSinglesArgs): Promise<EnqueueFigures> {
  const path = `/api/v1/queues/${args.queue}/jobs`;
  let jobs = 0;
  const started = performance.now();
  const deadline = started + args.durationSeconds * 1000;
  const loop = async () => {
    const client = new JsonClient(args.base, { authorization: `Bearer ${args.key}` });
    try {
      while (performance.now() < deadline) {
        await client.expect([201], 'POST', path, { kind: 'noop', payload: { n: jobs } });
        jobs++;
      }
    } finally {
      client.close();
    }
  };
  await Promise.all(Array.from({ length: args.concurrency }, loop));
  return { jobs, requests: jobs, seconds: (performance.now() - started) / 1000 };
}

/** Arguments of {@link runCycles}. */
export interface CyclesArgs {
  base: string;
  /** One API key per simulated worker. */
  keys: string[];
  queue: string;
  durationSeconds: number;
  /** Send one heartbeat (with progress) between claim and complete. */
  heartbeat: boolean;
  /**
   * Complete with `claim_next` (what the worker SDK does): the completion's answer carries the
   * next job, so a worker makes one request per job and claims on its own only when that is null.
   */
  claimNext?: boolean;
}

/** The name of a worker-cycle loop in reports: its protocol steps. */
export function cycleName(loop: { heartbeat: boolean; claimNext?: boolean | undefined }): string {
  if (loop.claimNext) return loop.heartbeat ? 'heartbeat → complete + claim_next' : 'complete + claim_next';
  return loop.heartbeat ? 'claim → heartbeat → complete' : 'claim → complete';
}

/** What a worker run did. */
export interface CycleFigures {
  /** Jobs completed. */
  jobs: number;
  requests: number;
  seconds: number;
  /** Workers that stopped early because a claim found the queue empty (204). */
  ranDry: number;
  /** Milliseconds from sending the claim to the complete's answer, per job. */
  p50Ms: number;
  p99Ms: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

interface Claimed {
  job: { id: string };
  attempt: number;
}

/**
 * Each key loops `claim → (heartbeat →) complete`, one job per request, until the time is up or
 * a claim answers 204 (queue empty); with `claimNext`, each completion claims the next job and
 * the loop claims on its own only when it brought none. Any other answer fails the run. Per-job
 * latency runs from the claim (or the completion that brought the job) to its completion's answer.
 */
export async function runCycles(args: CyclesArgs): Promise<CycleFigures> {
  let jobs = 0;
  let requests = 0;
  let ranDry = 0;
  const latencies: number[] = [];
  const started = performance.now();
  const deadline = started + args.durationSeconds * 1000;
  const loop = async (key: string, index: number) => {
    const client = new JsonClient(args.base, { authorization: `Bearer ${key}` });
    try {
      const target = { queues: [args.queue], worker_name: `bench-${index}` };
      let held: Claimed | null = null;
      let t0 = performance.now();
      while (performance.now() < deadline) {
        if (!held) {
          t0 = performance.now();
          const claim = await client.expect([200, 204], 'POST', '/api/v1/worker/claim', target);
          requests++;
          if (claim.status === 204) {
            ranDry++;
            return;
          }
          held = claim.body as Claimed;
        }
        const { job, attempt } = held;
        if (args.heartbeat) {
          await client.expect([200], 'POST', `/api/v1/worker/jobs/${job.id}/heartbeat`, { attempt, progress: 0.5 });
          requests++;
        }
        const body = args.claimNext ? { attempt, result: { ok: true }, claim_next: target } : { attempt, result: { ok: true } };
        const done = await client.expect([200], 'POST', `/api/v1/worker/jobs/${job.id}/complete`, body);
        requests++;
        jobs++;
        const now = performance.now();
        latencies.push(now - t0);
        t0 = now;
        held = args.claimNext ? ((done.body as { next: Claimed | null }).next ?? null) : null;
      }
      // Time is up while holding a job the last completion claimed: hand it back (later figures use these keys).
      if (held) await client.expect([200], 'POST', `/api/v1/worker/jobs/${held.job.id}/release`, { attempt: held.attempt });
    } finally {
      client.close();
    }
  };
  await Promise.all(args.keys.map(loop));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { jobs, requests, seconds, ranDry, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) };
}

/** Arguments of {@link runBatched}. */
export interface BatchedArgs {
  base: string;
  keys: string[];
  queue: string;
  durationSeconds: number;
  /** `max_jobs` of each claim-batch (1..100). */
  maxJobs: number;
}

/** Each key loops `claim-batch (max_jobs) → complete-batch` until the time is up or the queue is empty. */
export async function runBatched(args: BatchedArgs): Promise<CycleFigures> {
  let jobs = 0;
  let requests = 0;
  let ranDry = 0;
  const latencies: number[] = [];
  const started = performance.now();
  const deadline = started + args.durationSeconds * 1000;
  const loop = async (key: string, index: number) => {
    const client = new JsonClient(args.base, { authorization: `Bearer ${key}` });
    try {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        const claim = await client.expect([200, 204], 'POST', '/api/v1/worker/claim-batch', {
          queues: [args.queue],
          max_jobs: args.maxJobs,
          worker_name: `bench-batch-${index}`,
        });
        requests++;
        if (claim.status === 204) {
          ranDry++;
          return;
        }
        const claimed = (claim.body as { jobs: Claimed[] }).jobs;
        const items = claimed.map((c) => ({ id: c.job.id, attempt: c.attempt, result: { ok: true } }));
        const done = await client.expect([200], 'POST', '/api/v1/worker/complete-batch', { items });
        requests++;
        const results = (done.body as { results: Array<{ ok: boolean; code?: string }> }).results;
        const failed = results.filter((r) => !r.ok);
        if (failed.length) throw new Error(`complete-batch: ${failed.length} of ${results.length} refused (${failed[0]?.code})`);
        jobs += results.length;
        latencies.push(performance.now() - t0);
      }
    } finally {
      client.close();
    }
  };
  await Promise.all(args.keys.map(loop));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { jobs, requests, seconds, ranDry, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) };
}

/** Arguments of {@link measureSse}. */
export interface SseArgs {
  base: string;
  /** Owner of the job and the subscriber (an admin key). */
  adminKey: string;
  workerKey: string;
  /** An empty queue of its own, so the claim gets the bench's job. */
  queue: string;
  heartbeats: number;
}

/** Heartbeat → subscriber latencies. */
export interface SseFigures {
  /** Milliseconds from sending each heartbeat to receiving its `job.progress` event. */
  latenciesMs: number[];
  /** Milliseconds from sending each heartbeat to its HTTP answer. */
  heartbeatMs: number[];
}

interface SseEvent {
  event: string;
  data: string;
}

/** Opens `GET /api/v1/events?topics=…` and calls `onEvent` for each event; resolves once the response headers arrived. */
function openEventStream(base: string, key: string, topics: string, onEvent: (e: SseEvent) => void): Promise<http.ClientRequest> {
  const url = new URL(`/api/v1/events?topics=${encodeURIComponent(topics)}`, base);
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`GET /api/v1/events: ${res.statusCode}`));
        res.resume();
        return;
      }
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk: string) => {
        buffer += chunk;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
          }
          if (data.length) onEvent({ event, data: data.join('\n') });
        }
      });
      resolve(req);
    });
    req.on('error', reject);
  });
}

/**
 * Enqueues one job, claims it with the worker key, subscribes to `job:<id>` over SSE with the
 * admin key, then sends `heartbeats` heartbeats one after another, each carrying a new progress
 * value and message, and times each until its `job.progress` event arrives.
 */
export async function measureSse(args: SseArgs): Promise<SseFigures> {
  const admin = new JsonClient(args.base, { authorization: `Bearer ${args.adminKey}` });
  const worker = new JsonClient(args.base, { authorization: `Bearer ${args.workerKey}` });
  let stream: http.ClientRequest | undefined;
  try {
    const created = await admin.expect([201], 'POST', `/api/v1/queues/${args.queue}/jobs`, { kind: 'sse', payload: {} });
    const jobId = (created.body as { id: string }).id;
    const claim = await worker.expect([200], 'POST', '/api/v1/worker/claim', { queues: [args.queue], worker_name: 'bench-sse' });
    const { job, attempt } = claim.body as Claimed;
    if (job.id !== jobId) throw new Error('the SSE queue held another job');
    const waiting = new Map<string, (at: number) => void>();
    stream = await openEventStream(args.base, args.adminKey, `job:${jobId}`, (e) => {
      const at = performance.now();
      if (e.event !== 'job.progress') return;
      const message = (JSON.parse(e.data) as { data?: { message?: string } }).data?.message;
      if (message !== undefined) waiting.get(message)?.(at);
    });
    const latenciesMs: number[] = [];
    const heartbeatMs: number[] = [];
    for (let i = 0; i < args.heartbeats; i++) {
      const message = `hb ${i}`;
      const received = new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no job.progress event for heartbeat ${i} within 5 s`)), 5000);
        waiting.set(message, (at) => {
          clearTimeout(timer);
          waiting.delete(message);
          resolve(at);
        });
      });
      const t0 = performance.now();
      await worker.expect([200], 'POST', `/api/v1/worker/jobs/${job.id}/heartbeat`, {
        attempt,
        progress: (i + 1) / (args.heartbeats + 1),
        message,
      });
      heartbeatMs.push(performance.now() - t0);
      latenciesMs.push((await received) - t0);
    }
    await worker.expect([200], 'POST', `/api/v1/worker/jobs/${job.id}/complete`, { attempt });
    return { latenciesMs, heartbeatMs };
  } finally {
    stream?.destroy();
    admin.close();
    worker.close();
  }
}

/**
 * Node 20 resolves a worker thread's entry file before `--import tsx` hooks apply to it, so the
 * thread starts as a small script that registers tsx and then imports the TypeScript
 * entry.
 */
const THREAD_BOOTSTRAP = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL('./jobs-client-thread.ts', import.meta.url).href)}); });`;

const SCENARIOS = { enqueueBatches, enqueueSingles, runCycles, runBatched, measureSse };
/** The client scenarios {@link inThread} can run. */
export type ClientScenarios = typeof SCENARIOS;

/** Runs `SCENARIOS[name](args)`; the worker-thread entry calls this. */
export function runScenario(name: keyof ClientScenarios, args: unknown): Promise<unknown> {
  const fn = SCENARIOS[name] as (a: unknown) => Promise<unknown>;
  return fn(args);
}

/**
 * Runs one client scenario in a new worker thread (`jobs-client-thread.ts`) and resolves with
 * its result; rejects with the thread's error.
 */
export function inThread<K extends keyof ClientScenarios>(name: K, args: Parameters<ClientScenarios[K]>[0]): Promise<Awaited<ReturnType<ClientScenarios[K]>>> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(THREAD_BOOTSTRAP, { eval: true, workerData: { name, args } });
    let settled = false;
    worker.once('message', (m: { ok: boolean; result?: unknown; error?: string }) => {
      settled = true;
      if (m.ok) resolve(m.result as Awaited<ReturnType<ClientScenarios[K]>>);
      else reject(new Error(m.error));
    });
    worker.once('error', (e) => {
      settled = true;
      reject(e);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`client thread ${name} exited with ${code}`));
    });
  });
}
