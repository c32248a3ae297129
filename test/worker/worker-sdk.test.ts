/**
 * The worker SDK (`gatehouse/worker`) against a real Gatehouse app listening on a port, on
 * SQLite and PostgreSQL: handlers by kind, results and failures, progress throttling, cancel,
 * pause, files, graceful release, lease loss and reconnecting to a server that starts late.
 * The app runs on a manual clock, so leases lapse only when a test moves time on.
 */
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobView } from '../../src/jobs/model.js';
import {
  backoffDelayMs,
  GatehouseApiError,
  GatehouseNetworkError,
  JobAbortedError,
  type JobContext,
  PermanentError,
  Worker,
  WorkerClient,
  type WorkerOptions,
} from '../../src/worker/index.js';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, passwordGrant, STRONG_PASSWORD, type TestContext, uniqueEmail } from '../helpers/harness.js';
import { freePort, REPO_ROOT } from '../helpers/server-process.js';

const HOST = '127.0.0.1';

describe('backoff', () => {
  it('doubles from 250 ms to a 15 s cap, with half of each delay jittered', () => {
    expect([0, 1, 2, 3, 10, 50].map((r) => backoffDelayMs(r, () => 0))).toEqual([125, 250, 500, 1000, 7500, 7500]);
    expect([0, 1, 2, 10].map((r) => backoffDelayMs(r, () => 0.999_999))).toEqual([250, 500, 1000, 15_000]);
  });
});

describe('package export', () => {
  it('`import("gatehouse/worker")` resolves to the built SDK', () => {
    const run = spawnSync(
      process.execPath,
      ['--input-type=module', '-e', 'const m = await import("gatehouse/worker"); console.log(Object.keys(m).sort().join(","));'],
      { cwd: REPO_ROOT, encoding: 'utf8' },
    );
    expect(run.stderr).toBe('');
    expect(run.stdout.trim().split(',')).toEqual(expect.arrayContaining(['Worker', 'WorkerClient', 'PermanentError', 'GatehouseApiError']));
  });
});

describe.each(dialects)('worker SDK against a listening app (%s)', (dialect) => {
  let ctx: TestContext;
  let base: string;
  let adminToken: string;
  let apiKey: string;
  let queueCounter = 0;
  const running: Worker[] = [];

  beforeAll(async () => {
    ctx = await createTestContext(dialect, { env: { RATE_LIMIT_USER_PER_MINUTE: '1000000' } });
    await ctx.app.listen({ port: 0, host: HOST });
    const address = ctx.app.server.address();
    base = `http://${HOST}:${typeof address === 'object' && address ? address.port : 0}`;
    const admin = { email: uniqueEmail('admin'), password: STRONG_PASSWORD };
    await ctx.gatehouse.accounts.createUser({ ...admin, role: 'admin' });
    adminToken = (await passwordGrant(ctx, admin)).access_token;
    const worker = { email: uniqueEmail('worker'), password: STRONG_PASSWORD };
    await ctx.gatehouse.accounts.createUser({ ...worker, role: 'worker' });
    apiKey = await newKey(worker);
  });

  afterAll(async () => {
    await Promise.all(running.map((w) => w.stop({ release: true })));
    await ctx?.close();
  });

  async function newKey(who: { email: string; password: string }): Promise<string> {
    const token = (await passwordGrant(ctx, who)).access_token;
    const res = await ctx.request({
      method: 'POST',
      url: '/api/v1/api-keys',
      headers: { authorization: `Bearer ${token}` },
      payload: { name: 'sdk test', scopes: ['jobs:claim'], password: who.password },
    });
    expect(res.statusCode).toBe(201);
    return res.json<{ secret: string }>().secret;
  }

  async function api<T = Record<string, unknown>>(method: 'GET' | 'POST', url: string, payload?: unknown): Promise<T> {
    const res = await ctx.request({ method, url, headers: { authorization: `Bearer ${adminToken}` }, ...(payload === undefined ? {} : { payload: payload as object }) });
    if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`);
    return res.json<T>();
  }

  async function newQueue(settings: Record<string, unknown> = {}): Promise<string> {
    const name = `sdk-${++queueCounter}`;
    await api('POST', '/api/v1/queues', { name, lease_seconds: 30, backoff_base_seconds: 5, ...settings });
    return name;
  }

  async function enqueueOne(queue: string, kind: string, payload: unknown = {}): Promise<string> {
    return (await api<JobView>('POST', `/api/v1/queues/${queue}/jobs`, { kind, payload })).id;
  }

  async function job(id: string): Promise<{ job: JobView; events: Array<{ type: string; data: Record<string, unknown> }> }> {
    return api('GET', `/api/v1/jobs/${id}`);
  }

  function startWorker(options: Partial<WorkerOptions> & { queues: string[] }, handlers: Record<string, (job: JobView, ctx: JobContext) => unknown>) {
    const worker = new Worker({ server: base, apiKey, waitSeconds: 1, ...options });
    for (const [kind, handler] of Object.entries(handlers)) worker.handle(kind, handler);
    running.push(worker);
    const done = worker.run();
    return { worker, done };
  }

  /** Resolves when `worker` emits `event` for job `id`. */
  function whenEvent(worker: Worker, event: 'completed' | 'failed' | 'cancelled' | 'lease_lost' | 'released' | 'claimed', id: string): Promise<JobView> {
    return new Promise((resolve) => {
      const listener = (view: JobView) => {
        if (view.id !== id) return;
        worker.off(event, listener);
        resolve(view);
      };
      worker.on(event, listener);
    });
  }

  it('runs handlers by kind and the * fallback; results complete, PermanentError fails for good, other errors retry', async () => {
    const queue = await newQueue();
    const a = await enqueueOne(queue, 'add', { x: 2, y: 3 });
    const other = await enqueueOne(queue, 'other');
    const permanent = await enqueueOne(queue, 'bad');
    const flaky = await enqueueOne(queue, 'flaky');
    const { worker } = startWorker(
      { queues: [queue] },
      {
        add: (j) => ({ sum: (j.payload as { x: number }).x + (j.payload as { y: number }).y }),
        bad: () => {
          throw new PermanentError('input is unusable', { data: { why: 'test' } });
        },
        flaky: () => {
          throw new Error('disk full');
        },
        '*': (j, c) => ({ fallback: j.kind, attempt: c.attempt }),
      },
    );
    const failed = [whenEvent(worker, 'failed', permanent), whenEvent(worker, 'failed', flaky)];
    const [doneA, doneOther] = await Promise.all([whenEvent(worker, 'completed', a), whenEvent(worker, 'completed', other)]);
    const [failedBad, failedFlaky] = await Promise.all(failed);
    await worker.stop();

    expect(doneA).toMatchObject({ state: 'succeeded', result: { sum: 5 } });
    expect(doneOther).toMatchObject({ state: 'succeeded', result: { fallback: 'other', attempt: 1 } });
    expect(failedBad).toMatchObject({ state: 'failed', error: { message: 'input is unusable', details: { name: 'PermanentError', data: { why: 'test' } } } });
    expect(failedFlaky).toMatchObject({ state: 'queued', failures: 1, error: { message: 'disk full', details: { name: 'Error' } } });
    expect(((await job(flaky)).job.error?.details as { stack: string }).stack).toMatch(/disk full\n\s+at /);
  });

  it('coalesces progress into at most one heartbeat per 250 ms and keeps the latest value', async () => {
    const queue = await newQueue();
    const id = await enqueueOne(queue, 'busy');
    let startedAt = 0;
    let endedAt = 0;
    const { worker } = startWorker({ queues: [queue] }, {
      busy: async (_j, c) => {
        startedAt = Date.now();
        for (let i = 1; i <= 200; i++) {
          c.progress(i / 200, `step ${i}`, { step: i });
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        // Let the last coalesced update go out before completing.
        await new Promise((resolve) => setTimeout(resolve, 400));
        endedAt = Date.now();
        return 'ok';
      },
    });
    await whenEvent(worker, 'completed', id);
    await worker.stop();
    const { events } = await job(id);
    const progress = events.filter((e) => e.type === 'progress');
    // 200 calls over ≥ 1 s: a handful of heartbeats, never one per call.
    const seconds = (endedAt - startedAt) / 1000;
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.length).toBeLessThanOrEqual(Math.ceil(seconds * 4) + 2);
    expect(progress.at(-1)?.data).toMatchObject({ progress: 1, message: 'step 200', metrics: { step: 200 } });
  });

  it('cancel aborts ctx.signal with reason "cancelled" and nothing is reported afterwards', async () => {
    const queue = await newQueue();
    const id = await enqueueOne(queue, 'long');
    let reason: unknown;
    const { worker } = startWorker({ queues: [queue], heartbeatSeconds: 0.2 }, {
      long: (_j, c) =>
        new Promise((_resolve, reject) => {
          c.signal.addEventListener('abort', () => {
            reason = c.signal.reason;
            reject(c.signal.reason as Error);
          });
        }),
    });
    await whenEvent(worker, 'claimed', id);
    const cancelled = whenEvent(worker, 'cancelled', id);
    await api('POST', `/api/v1/jobs/${id}/cancel`);
    await cancelled;
    await worker.stop();
    expect(reason).toBeInstanceOf(JobAbortedError);
    expect(reason).toMatchObject({ reason: 'cancelled' });
    const { job: view, events } = await job(id);
    expect(view.state).toBe('cancelled');
    expect(events.filter((e) => e.type === 'state' && e.data.state === 'failed')).toEqual([]);
  });

  it('pause makes ctx.paused() true until resume; waitWhilePaused() waits for it', async () => {
    const queue = await newQueue();
    const id = await enqueueOne(queue, 'pausable');
    const seen: boolean[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { worker } = startWorker({ queues: [queue], heartbeatSeconds: 0.2 }, {
      pausable: async (_j, c) => {
        await gate;
        seen.push(c.paused());
        await c.waitWhilePaused();
        seen.push(c.paused());
        return 'resumed';
      },
    });
    await whenEvent(worker, 'claimed', id);
    await api('POST', `/api/v1/jobs/${id}/pause`);
    // The pause command arrives with a heartbeat; wait for the SDK to see it.
    await expect.poll(() => (worker as unknown as { active: Map<string, { paused: boolean }> }).active.get(id)?.paused, { timeout: 10_000 }).toBe(true);
    release();
    await expect.poll(() => seen.length, { timeout: 5_000 }).toBe(1);
    const completed = whenEvent(worker, 'completed', id);
    await api('POST', `/api/v1/jobs/${id}/resume`);
    expect(await completed).toMatchObject({ state: 'succeeded', result: 'resumed' });
    await worker.stop();
    expect(seen).toEqual([true, false]);
  });

  /** Counts the heartbeats `worker` sends from now on. */
  function countHeartbeats(worker: Worker): { readonly count: number } {
    const counter = { count: 0 };
    const original = worker.client.heartbeat.bind(worker.client);
    worker.client.heartbeat = (...args: Parameters<WorkerClient['heartbeat']>) => {
      counter.count += 1;
      return original(...args);
    };
    return counter;
  }

  const pausedInSdk = (worker: Worker, id: string) => (worker as unknown as { active: Map<string, { paused: boolean }> }).active.get(id)?.paused;

  it('pause stops a handler at its next await ctx.progress() with the lease kept alive; resume lets it go on and complete', async () => {
    const queue = await newQueue();
    const id = await enqueueOne(queue, 'steps');
    let steps = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { worker } = startWorker({ queues: [queue], heartbeatSeconds: 0.2 }, {
      steps: async (_j, c) => {
        await gate;
        for (let i = 1; i <= 5; i++) {
          await c.progress(i / 5, `step ${i}`);
          steps = i;
        }
        return { steps };
      },
    });
    const beats = countHeartbeats(worker);
    await whenEvent(worker, 'claimed', id);
    await api('POST', `/api/v1/jobs/${id}/pause`);
    await expect.poll(() => pausedInSdk(worker, id), { timeout: 10_000 }).toBe(true);
    release();
    // The first ctx.progress() call after the pause is where the handler waits.
    const seen = beats.count;
    for (let t = 0; t < 2; t++) {
      // Time passes on the server's clock: without heartbeats the 30 s lease would lapse.
      ctx.clock.advance(20);
      const target = beats.count + 2;
      await expect.poll(() => beats.count, { timeout: 10_000 }).toBeGreaterThanOrEqual(target);
    }
    expect(beats.count).toBeGreaterThan(seen);
    expect(steps).toBe(0);
    expect((await job(id)).job).toMatchObject({ state: 'paused', attempt: 1 });
    expect(await ctx.gatehouse.workerProtocol.sweep()).toBe(0);

    const completed = whenEvent(worker, 'completed', id);
    await api('POST', `/api/v1/jobs/${id}/resume`);
    expect(await completed).toMatchObject({ state: 'succeeded', result: { steps: 5 }, attempt: 1 });
    await worker.stop();
  });

  it('holds the result of a handler that ignores pause until resume: a paused job never succeeds', async () => {
    const queue = await newQueue();
    const id = await enqueueOne(queue, 'oblivious');
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let returned = false;
    // A long heartbeat period: the SDK learns of the pause only from the 409 job_paused of its completion.
    const { worker } = startWorker({ queues: [queue], heartbeatSeconds: 3600 }, {
      oblivious: async () => {
        await gate;
        returned = true;
        return 'done anyway';
      },
    });
    const beats = countHeartbeats(worker);
    await whenEvent(worker, 'claimed', id);
    await api('POST', `/api/v1/jobs/${id}/pause`);
    release();
    await expect.poll(() => returned, { timeout: 10_000 }).toBe(true);
    // Refused with job_paused, the SDK goes back to heartbeating (every 2 s while paused).
    await expect.poll(() => pausedInSdk(worker, id), { timeout: 10_000 }).toBe(true);
    const target = beats.count + 2;
    await expect.poll(() => beats.count, { timeout: 15_000 }).toBeGreaterThanOrEqual(target);
    expect((await job(id)).job).toMatchObject({ state: 'paused', result: null });

    const completed = whenEvent(worker, 'completed', id);
    await api('POST', `/api/v1/jobs/${id}/resume`);
    expect(await completed).toMatchObject({ state: 'succeeded', result: 'done anyway' });
    const states = (await job(id)).events.filter((e) => e.type === 'state').map((e) => e.data.state);
    expect(states).toEqual(['queued', 'running', 'paused', 'running', 'succeeded']);
    await worker.stop();
  });

  it('a handler that opts into handling pause is not stopped by ctx.progress()', async () => {
    const queue = await newQueue();
    const own = await enqueueOne(queue, 'own');
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const observed: Array<boolean | string> = [];
    const ownHandler = Object.assign(
      async (_j: JobView, c: JobContext) => {
        await gate;
        await c.progress(0.5);
        observed.push(c.paused());
        await c.waitWhilePaused();
        return 'resumed myself';
      },
      { handlesPause: true },
    );
    const { worker } = startWorker({ queues: [queue], heartbeatSeconds: 0.2 }, { own: ownHandler });
    await whenEvent(worker, 'claimed', own);
    await api('POST', `/api/v1/jobs/${own}/pause`);
    await expect.poll(() => pausedInSdk(worker, own), { timeout: 10_000 }).toBe(true);
    release();
    await expect.poll(() => observed.length, { timeout: 5_000 }).toBe(1);
    expect(observed).toEqual([true]);
    const completed = whenEvent(worker, 'completed', own);
    await api('POST', `/api/v1/jobs/${own}/resume`);
    expect(await completed).toMatchObject({ result: 'resumed myself' });

    await worker.stop();
  });

  it('cancelling a paused job rejects the ctx.progress() its handler waits in with JobAbortedError', async () => {
    const queue = await newQueue();
    const id = await enqueueOne(queue, 'waits');
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let calling = false;
    let outcome: string | undefined;
    const { worker } = startWorker({ queues: [queue], heartbeatSeconds: 0.2 }, {
      waits: async (_j, c) => {
        await gate;
        calling = true;
        try {
          await c.progress(0.5);
          outcome = 'went on';
        } catch (error) {
          outcome = (error as JobAbortedError).reason;
        }
      },
    });
    await whenEvent(worker, 'claimed', id);
    await api('POST', `/api/v1/jobs/${id}/pause`);
    await expect.poll(() => pausedInSdk(worker, id), { timeout: 10_000 }).toBe(true);
    release();
    await expect.poll(() => calling, { timeout: 5_000 }).toBe(true);
    expect(outcome).toBeUndefined();
    const cancelled = whenEvent(worker, 'cancelled', id);
    await api('POST', `/api/v1/jobs/${id}/cancel`);
    await cancelled;
    await expect.poll(() => outcome, { timeout: 5_000 }).toBe('cancelled');
    expect((await job(id)).job.state).toBe('cancelled');
    await worker.stop();
  });

  it('upload lists output files on the completed job; download brings them back byte for byte', async () => {
    const queue = await newQueue();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-sdk-'));
    const source = path.join(dir, 'result.bin');
    const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) % 256));
    writeFileSync(source, bytes);
    const id = await enqueueOne(queue, 'files');
    let uploaded = '';
    const { worker } = startWorker({ queues: [queue] }, {
      files: async (_j, c) => {
        const meta = await c.upload(source, { contentType: 'application/octet-stream' });
        uploaded = meta.id;
        const back = path.join(dir, 'back.bin');
        expect(await c.download(meta.id, back)).toBe(bytes.length);
        expect(readFileSync(back).equals(bytes)).toBe(true);
        return { size: meta.size_bytes };
      },
    });
    const done = await whenEvent(worker, 'completed', id);
    await worker.stop();
    expect(done).toMatchObject({ state: 'succeeded', output_files: [uploaded], result: { size: bytes.length } });
  });

  it('each completion claims the next job in the same request: one claim call drains the queue', async () => {
    const queue = await newQueue();
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push(await enqueueOne(queue, 'n', { i }));
    const worker = new Worker({ server: base, apiKey, waitSeconds: 1, queues: [queue] });
    worker.handle('n', (j) => (j.payload as { i: number }).i * 2);
    // Count the SDK's own calls to the server (nothing is replaced: each call goes through).
    const calls = { claim: 0, complete: 0, completeAndClaim: 0 };
    const { client } = worker;
    for (const name of Object.keys(calls) as Array<keyof typeof calls>) {
      const original = client[name].bind(client) as (...args: unknown[]) => Promise<unknown>;
      (client as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
        calls[name]++;
        return original(...args);
      };
    }
    running.push(worker);
    const finished = new Map<string, JobView>();
    const completed = new Promise<void>((resolve) =>
      worker.on('completed', (view) => {
        finished.set(view.id, view);
        if (finished.size === ids.length) resolve();
      }),
    );
    const done = worker.run();
    await completed;
    await worker.stop();
    await done;
    const views = ids.map((id) => finished.get(id) as JobView);
    expect(views.map((v) => [v.state, v.result])).toEqual(ids.map((_, i) => ['succeeded', i * 2]));
    expect(views.every((v) => v.attempt === 1)).toBe(true);
    expect(calls.completeAndClaim).toBe(12);
    expect(calls.complete).toBe(0);
    // The first claim, and the long poll after the last completion found nothing (if it began before the stop).
    expect(calls.claim).toBeGreaterThanOrEqual(1);
    expect(calls.claim).toBeLessThanOrEqual(2);
  });

  it('against a server from before claim_next (400 to it), completes without it and goes on', async ({ onTestFinished }) => {
    // An older server in front of this one: it refuses a completion that names claim_next, as
    // its body schema (additionalProperties: false) would, and passes everything else on.
    const refusedBodies: string[] = [];
    const older = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        const body = Buffer.concat(chunks);
        if (req.url?.endsWith('/complete') && body.toString().includes('"claim_next"')) {
          refusedBodies.push(body.toString());
          res.writeHead(400, { 'content-type': 'application/problem+json' });
          res.end(JSON.stringify({ type: 'about:blank', title: 'Bad Request', status: 400, code: 'validation_failed', detail: 'body must NOT have additional properties' }));
          return;
        }
        const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'connection', 'content-length'].includes(k))) as Record<string, string>;
        const answer = await fetch(`${base}${req.url}`, { method: req.method, headers, ...(body.length ? { body } : {}) });
        res.writeHead(answer.status, Object.fromEntries([...answer.headers].filter(([k]) => !['content-length', 'transfer-encoding', 'connection', 'keep-alive'].includes(k))));
        res.end(Buffer.from(await answer.arrayBuffer()));
      });
    });
    await new Promise<void>((resolve) => older.listen(0, HOST, resolve));
    onTestFinished(() => new Promise<void>((resolve) => older.close(() => resolve())));
    const olderUrl = `http://${HOST}:${(older.address() as AddressInfo).port}`;

    const queue = await newQueue();
    const ids = [await enqueueOne(queue, 'n', { i: 1 }), await enqueueOne(queue, 'n', { i: 2 }), await enqueueOne(queue, 'n', { i: 3 })];
    const worker = new Worker({ server: olderUrl, apiKey, waitSeconds: 1, queues: [queue] });
    worker.handle('n', (j) => (j.payload as { i: number }).i);
    running.push(worker);
    const completed = Promise.all(ids.map((id) => whenEvent(worker, 'completed', id)));
    const done = worker.run();
    const views = await completed;
    await worker.stop();
    await done;
    expect(views.map((v) => [v.state, v.result, v.attempt])).toEqual([
      ['succeeded', 1, 1],
      ['succeeded', 2, 1],
      ['succeeded', 3, 1],
    ]);
    expect(refusedBodies).toHaveLength(1); // asked once, then never again
  });

  it('a job claimed with a completion as the worker stops is handed back, not run', async () => {
    const queue = await newQueue();
    const first = await enqueueOne(queue, 'n');
    const second = await enqueueOne(queue, 'n');
    const handled: string[] = [];
    const { worker, done } = startWorker({ queues: [queue] }, { n: (j) => void handled.push(j.id) });
    // The stop arrives while the completion (which claims the second job) is on its way.
    const { client } = worker;
    const completeAndClaim = client.completeAndClaim.bind(client);
    client.completeAndClaim = (...args) => {
      void worker.stop();
      return completeAndClaim(...args);
    };
    await done;
    expect(handled).toEqual([first]);
    expect((await job(first)).job).toMatchObject({ state: 'succeeded' });
    const { job: back, events } = await job(second);
    expect(back).toMatchObject({ state: 'queued', worker_id: null, failures: 0, attempt: 1 });
    expect(events.map((e) => e.data.state)).toEqual(['queued', 'running', 'queued']);
  });

  it('stop({ release: true }) aborts the handler and hands the job back without a failure', async () => {
    const queue = await newQueue();
    const id = await enqueueOne(queue, 'stuck');
    let reason: unknown;
    const { worker, done } = startWorker({ queues: [queue] }, {
      // Ignores its signal on purpose: stop must not wait for it.
      stuck: (_j, c) =>
        new Promise(() => {
          c.signal.addEventListener('abort', () => (reason = c.signal.reason));
        }),
    });
    await whenEvent(worker, 'claimed', id);
    const released = whenEvent(worker, 'released', id);
    await worker.stop({ release: true });
    await done;
    expect(await released).toMatchObject({ state: 'queued', failures: 0 });
    expect(reason).toMatchObject({ reason: 'released' });
    expect((await job(id)).job).toMatchObject({ state: 'queued', worker_id: null, failures: 0 });
  });

  it('a lapsed lease (reclaimed by the sweeper) aborts the signal with "lease_lost" and the late outcome is refused', async () => {
    const queue = await newQueue({ lease_seconds: 5 });
    const id = await enqueueOne(queue, 'slow');
    let finish!: () => void;
    const { worker } = startWorker({ queues: [queue], heartbeatSeconds: 0.2 }, {
      slow: (_j, c) =>
        new Promise<string>((resolve) => {
          finish = () => resolve('too late');
          c.signal.addEventListener('abort', () => undefined);
        }),
    });
    await whenEvent(worker, 'claimed', id);
    const lost = whenEvent(worker, 'lease_lost', id);
    const completed = recordCompleted(worker);
    // Time jumps past the lease; the sweeper requeues the job.
    ctx.clock.advance(60);
    await ctx.gatehouse.workerProtocol.sweep();
    await lost;
    finish();
    await worker.stop();
    expect(completed()).toEqual([]);
    expect((await job(id)).job).toMatchObject({ state: 'queued', lease_expiries: 1, attempt: 1 });

    // The same fencing through the bare client.
    const client = new WorkerClient({ server: base, apiKey });
    const error = await client.complete(id, { attempt: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatehouseApiError);
    expect(error).toMatchObject({ status: 409, code: 'lease_lost' });
  });

  it('keeps trying while the server is unreachable and works once it listens', async () => {
    const port = await freePort();
    const late = `http://${HOST}:${port}`;
    const client = new WorkerClient({ server: late, apiKey });
    await expect(client.claim({ queues: ['x'] })).rejects.toBeInstanceOf(GatehouseNetworkError);

    const queue = await newQueue();
    const id = await enqueueOne(queue, 'hello');
    const errors: unknown[] = [];
    const worker = new Worker({ server: late, apiKey, queues: [queue], waitSeconds: 1 });
    worker.handle('hello', () => 'world');
    worker.on('error', (e) => errors.push(e));
    running.push(worker);
    const completed = whenEvent(worker, 'completed', id);
    void worker.run();
    await expect.poll(() => errors.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
    expect(errors.every((e) => e instanceof GatehouseNetworkError)).toBe(true);

    // A second listener on the same app, on the port the worker has been trying.
    const { createServer } = await import('node:http');
    const proxy = createServer((req, res) => ctx.app.server.emit('request', req, res));
    await new Promise<void>((resolve) => proxy.listen(port, HOST, resolve));
    try {
      expect(await completed).toMatchObject({ state: 'succeeded', result: 'world' });
      await worker.stop();
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it('a refused API key makes run() reject instead of retrying forever', async () => {
    const queue = await newQueue();
    const worker = new Worker({ server: base, apiKey: 'gh_nope_notakey', queues: [queue], waitSeconds: 0 });
    worker.handle('*', () => null);
    const error = await worker.run().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatehouseApiError);
    expect((error as GatehouseApiError).status).toBe(401);
  });
});

/** Records every `completed` event of `worker`; returns a reader. */
function recordCompleted(worker: Worker): () => JobView[] {
  const seen: JobView[] = [];
  worker.on('completed', (j) => seen.push(j));
  return () => seen;
}
