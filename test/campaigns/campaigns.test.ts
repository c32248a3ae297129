/**
 * The campaigns module through its HTTP API and the worker protocol, on both dialects: creating
 * campaigns (generated and uploaded inputs, and the inputs refused), the job hooks that spawn runs
 * and keep counters and the best in the outcome's transaction (and roll back with it), pause /
 * resume / cancel through the job system, raising runs, the runs list and the statistics
 * (against figures computed by hand).
 */
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haarChannel, type KrausChannel } from '../../src/campaigns/channel/channel.js';
import { zeros } from '../../src/campaigns/channel/complex.js';
import { krausToNpy } from '../../src/campaigns/channel/npy.js';
import { GENERATE_KIND, MINIMIZE_KIND } from '../../src/campaigns/campaigns.service.js';
import { defineModule } from '../../src/modules/contract.js';
import { MODULES } from '../../src/modules/index.js';
import { makePrincipals } from '../access/access-fixtures.js';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, type TestContext } from '../helpers/harness.js';
import { listen, upload } from '../files/files-helpers.js';
import { call, claim, createQueue, type Headers, JOBS_ENV, makeCast, workerCall } from '../jobs/job-fixtures.js';
import { SseClient, until, WsClient } from '../realtime/fixtures.js';

/** A second module whose hook on campaign jobs throws while `failNext` is set (fault injection). */
const faults = { failNext: false, calls: 0 };
const faultyModule = defineModule<typeof faults>({
  name: 'faulty-campaign-hook',
  description: 'test: a hook on campaign jobs that throws on demand',
  create: () => faults,
  jobHooks: (state) => [
    {
      name: 'faulty',
      kinds: [GENERATE_KIND, MINIMIZE_KIND],
      async handle() {
        state.calls++;
        if (state.failNext) {
          state.failNext = false;
          throw new Error('injected hook failure');
        }
      },
    },
  ],
});

interface CampaignJson {
  id: string;
  status: string;
  queue: string;
  input_file_id: string | null;
  generate_job_id: string | null;
  runs_requested: number;
  runs_spawned: number;
  runs_completed: number;
  runs_failed: number;
  runs_cancelled: number;
  best_value: number | null;
  best_job_id: string | null;
  best_file_id: string | null;
  params: { seed: number; restarts: number; max_iterations: number };
  completed_at: string | null;
}

interface RunJson {
  job_id: string;
  run: number;
  state: string;
  value: number | null;
  final: boolean;
  worker_id: string | null;
  checkpoint_file_id: string | null;
}

const PYTHON_WORKER = fileURLToPath(new URL('../../examples/python-worker/channel_moe_worker.py', import.meta.url));

/** Φ(ρ) = ⟨0|ρ|0⟩ σ₀ + ⟨1|ρ|1⟩ σ₁, σ₀ = diag(0.9, 0.1), σ₁ = 0.7|+⟩⟨+| + 0.3|−⟩⟨−|: S_min = h(0.1) bits by concavity. */
function measurePrepare(): KrausChannel {
  const s = Math.SQRT1_2;
  const kraus = [
    [Math.sqrt(0.9), 0, 0, 0],
    [0, 0, Math.sqrt(0.1), 0],
    [0, Math.sqrt(0.7) * s, 0, Math.sqrt(0.7) * s],
    [0, Math.sqrt(0.3) * s, 0, -Math.sqrt(0.3) * s],
  ].map((values) => {
    const m = zeros(2, 2);
    m.re.set(values);
    return m;
  });
  return { dIn: 2, dOut: 2, kraus };
}

/** A one-qubit channel that is the identity (Kraus: I). */
function identityChannel(d: number): KrausChannel {
  const k = zeros(d, d);
  for (let i = 0; i < d; i++) k.re[i * d + i] = 1;
  return { dIn: d, dOut: d, kraus: [k] };
}

describe.each(dialects)('campaigns on %s', (dialect) => {
  let ctx: TestContext;
  let base: string;
  let admin: Headers;
  let user: Headers;
  let newWorker: (name?: string) => Promise<{ headers: Headers; id: string }>;
  let queues = 0;

  beforeAll(async () => {
    ctx = await createTestContext(dialect, { env: { ...JOBS_ENV, BUILTIN_WORKERS: 'none' }, modules: [...MODULES, faultyModule] });
    base = await listen(ctx);
    admin = (await makePrincipals(ctx, { role: 'admin' })).jwt;
    user = (await makePrincipals(ctx, { role: 'user' })).jwt;
    newWorker = (await makeCast(ctx)).newWorker;
  }, 120_000);
  afterAll(async () => ctx?.close());

  /** A fresh queue, so each test claims only its own campaign's jobs. */
  async function freshQueue(): Promise<string> {
    const name = `camp-${++queues}`;
    await createQueue(ctx, admin, { name });
    return name;
  }

  async function create(body: Record<string, unknown>): Promise<CampaignJson> {
    const res = await call(ctx, 'POST', '/api/v1/campaigns', admin, { name: 'c', kind: 'channel-moe', ...body });
    expect(res.statusCode, res.body).toBe(201);
    return res.json<CampaignJson>();
  }

  async function getCampaign(id: string): Promise<CampaignJson> {
    const res = await call(ctx, 'GET', `/api/v1/campaigns/${id}`, user);
    expect(res.statusCode, res.body).toBe(200);
    return res.json<CampaignJson>();
  }

  async function runsOf(id: string): Promise<RunJson[]> {
    const res = await call(ctx, 'GET', `/api/v1/campaigns/${id}/runs?limit=200`, user);
    expect(res.statusCode, res.body).toBe(200);
    return res.json<{ items: RunJson[] }>().items;
  }

  async function uploadNpy(bytes: Buffer): Promise<string> {
    const token = admin.authorization!.slice('Bearer '.length);
    const res = await upload(base, token, [['file', new Blob([bytes]), 'kraus.npy']]);
    expect(res.status, res.bytes.toString()).toBe(201);
    return res.json.id as string;
  }

  /** Claims one job of `queue` as `worker`. */
  async function claimOne(worker: Headers, queue: string): Promise<{ id: string; kind: string; attempt: number; payload: Record<string, unknown> }> {
    const res = await claim(ctx, worker, { queues: [queue], wait_s: 0 });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json<{ job: { id: string; kind: string; payload: Record<string, unknown> }; attempt: number }>();
    return { ...body.job, attempt: body.attempt };
  }

  it('reading needs campaigns:read (users have it), changing needs campaigns:manage (admins)', async () => {
    expect((await call(ctx, 'GET', '/api/v1/campaigns', user)).statusCode).toBe(200);
    const refused = await call(ctx, 'POST', '/api/v1/campaigns', user, { name: 'x', kind: 'channel-moe', params: { d_in: 2, d_out: 2, n_kraus: 2 } });
    expect(refused.statusCode).toBe(403);
    expect((await call(ctx, 'GET', '/api/v1/campaigns', {})).statusCode).toBe(401);
    // An API key's scopes narrow the module's permissions like any other.
    const narrow = await makePrincipals(ctx, { role: 'user', scopes: ['account:self'] });
    expect((await call(ctx, 'GET', '/api/v1/campaigns', narrow.apiKey)).statusCode).toBe(403);
    const openapi = (await ctx.request({ url: '/openapi.json' })).json<{ paths: Record<string, unknown> }>();
    expect(Object.keys(openapi.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/campaigns',
        '/api/v1/campaigns/stats',
        '/api/v1/campaigns/{id}',
        '/api/v1/campaigns/{id}/pause',
        '/api/v1/campaigns/{id}/resume',
        '/api/v1/campaigns/{id}/cancel',
        '/api/v1/campaigns/{id}/runs',
        '/api/v1/campaigns/{id}/stats',
      ]),
    );
  });

  it.each([
    ['an unknown kind', { kind: 'nope', params: { d_in: 2, d_out: 2, n_kraus: 2 } }, '/kind'],
    ['an objective other than min or max', { objective: 'mean', params: { d_in: 2, d_out: 2, n_kraus: 2 } }, '/objective'],
    ['a dimension past CAMPAIGNS_MAX_DIMENSION', { params: { d_in: 65, d_out: 2, n_kraus: 40 } }, '/params/d_in'],
    ['n_kraus·d_out < d_in (no channel has that shape)', { params: { d_in: 5, d_out: 2, n_kraus: 2 } }, '/params/n_kraus'],
    ['zero runs', { runs: 0, params: { d_in: 2, d_out: 2, n_kraus: 2 } }, '/runs'],
    ['a queue that does not exist', { queue: 'no-such-queue', params: { d_in: 2, d_out: 2, n_kraus: 2 } }, '/queue'],
    ['an unknown mode', { params: { d_in: 2, d_out: 2, n_kraus: 2, mode: 'gue' } }, '/params/mode'],
  ])('refuses %s with 400 naming the field', async (_label, body, field) => {
    const res = await call(ctx, 'POST', '/api/v1/campaigns', admin, { name: 'bad', kind: 'channel-moe', ...body });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(JSON.stringify(res.json())).toContain(field);
  });

  it('refuses an unusable uploaded Kraus file with 422 invalid_kraus naming the problem', async () => {
    const cases: Array<[Buffer, RegExp]> = [
      [Buffer.from('definitely not numpy'), /not a usable Kraus \.npy: not a \.npy file/],
      [krausToNpy(haarChannel(2, 2, 2, 1)).subarray(0, 200), /data has 72 bytes; shape \(2, 2, 2\) of <c16 needs 128/],
      [krausToNpy(haarChannel(3, 2, 2, 1)), /shape \(2, 2, 3\); params say \(n_kraus, d_out, d_in\) = \(2, 2, 2\)/],
    ];
    // Not trace preserving: the identity scaled by 1.001 (Σ K†K − I has 2.001e-3 on the diagonal).
    const scaled = identityChannel(2);
    scaled.kraus[0]!.re[0] = 1.001;
    scaled.kraus[0]!.re[3] = 1.001;
    for (const [bytes, detail] of [...cases, [krausToNpy({ ...scaled, kraus: [scaled.kraus[0]!, zeros(2, 2)] }), /not trace preserving: the largest entry of Σ K†K − I is 2\.001e-3/] as [Buffer, RegExp]]) {
      const fileId = await uploadNpy(bytes);
      const res = await call(ctx, 'POST', '/api/v1/campaigns', admin, { name: 'bad', kind: 'channel-moe', params: { d_in: 2, d_out: 2, n_kraus: 2 }, input_file_id: fileId });
      expect(res.statusCode, res.body).toBe(422);
      expect(res.json<{ code: string; detail: string }>().code).toBe('invalid_kraus');
      expect(res.json<{ detail: string }>().detail).toMatch(detail);
    }
    const missing = await call(ctx, 'POST', '/api/v1/campaigns', admin, { name: 'bad', kind: 'channel-moe', params: { d_in: 2, d_out: 2, n_kraus: 2 }, input_file_id: '01900000-0000-7000-8000-000000000000' });
    expect(missing.statusCode).toBe(404);
  });

  it('a generated campaign: the generate hook spawns the runs in its transaction; outcomes move the counters and the best; it completes', async () => {
    const queue = await freshQueue();
    const campaign = await create({ queue, runs: 3, params: { d_in: 2, d_out: 2, n_kraus: 2, seed: 7 } });
    expect(campaign).toMatchObject({ status: 'generating', runs_requested: 3, runs_spawned: 0, input_file_id: null, best_value: null });
    expect(await runsOf(campaign.id)).toEqual([]);

    const [w1, w2, w3] = [await newWorker('w1'), await newWorker('w2'), await newWorker('w3')];
    const gen = await claimOne(w1.headers, queue);
    expect(gen).toMatchObject({ id: campaign.generate_job_id, kind: GENERATE_KIND, payload: { campaign_id: campaign.id, d_in: 2, d_out: 2, n_kraus: 2, seed: 7 } });
    // A result naming no uploaded output is refused; nothing is recorded.
    const bad = await workerCall(ctx, w1.headers, gen.id, 'complete', { attempt: gen.attempt, result: { kraus_file_id: '01900000-0000-7000-8000-000000000000' } });
    expect(bad.statusCode, bad.body).toBe(400);
    expect(await getCampaign(campaign.id)).toMatchObject({ status: 'generating', runs_spawned: 0 });

    const token = w1.headers.authorization!.slice('Bearer '.length);
    const kraus = await upload(base, token, [
      ['purpose', 'output'],
      ['job_id', gen.id],
      ['attempt', String(gen.attempt)],
      ['file', new Blob([krausToNpy(haarChannel(2, 2, 2, 7))]), 'kraus.npy'],
    ]);
    expect(kraus.status, kraus.bytes.toString()).toBe(201);
    const done = await workerCall(ctx, w1.headers, gen.id, 'complete', { attempt: gen.attempt, result: { kraus_file_id: kraus.json.id } });
    expect(done.statusCode, done.body).toBe(200);
    const running = await getCampaign(campaign.id);
    expect(running).toMatchObject({ status: 'running', input_file_id: kraus.json.id, runs_spawned: 3 });
    const runs = await runsOf(campaign.id);
    expect(runs.map((r) => r.run).sort()).toEqual([0, 1, 2]);
    expect(runs.every((r) => r.state === 'queued')).toBe(true);

    // Three workers take the three runs at t0; the clock then moves so run times are known exactly.
    const t0 = ctx.clock.now().getTime();
    const jobs = [await claimOne(w1.headers, queue), await claimOne(w2.headers, queue), await claimOne(w3.headers, queue)];
    for (const job of jobs) {
      expect(job.kind).toBe(MINIMIZE_KIND);
      expect(job.payload).toMatchObject({ campaign_id: campaign.id, kraus_file_id: kraus.json.id, seed: 7 + 1 + (job.payload.run as number) });
    }
    const [j1, j2, j3] = jobs as [(typeof jobs)[0], (typeof jobs)[0], (typeof jobs)[0]];
    // A heartbeat's value is the run's best so far; the campaign's best moves only on completed runs.
    const beat = await workerCall(ctx, w1.headers, j1.id, 'heartbeat', { attempt: j1.attempt, progress: 0.5, metrics: { value: 0.9 } });
    expect(beat.statusCode, beat.body).toBe(200);
    // A checkpoint upload (the run's best vector so far) shows on the run, and campaigns:read holders may read it.
    const checkpoint = await upload(base, token, [
      ['purpose', 'checkpoint'],
      ['job_id', j1.id],
      ['attempt', String(j1.attempt)],
      ['file', new Blob([Buffer.from('best so far')]), 'vector.npy'],
    ]);
    expect(checkpoint.status, checkpoint.bytes.toString()).toBe(201);
    expect((await runsOf(campaign.id)).find((r) => r.job_id === j1.id)).toMatchObject({ value: 0.9, final: false, state: 'running', checkpoint_file_id: checkpoint.json.id });
    expect((await call(ctx, 'GET', `/api/v1/files/${String(checkpoint.json.id)}`, user)).statusCode).toBe(200);
    expect((await getCampaign(campaign.id)).best_value).toBeNull();

    ctx.clock.advance(10);
    expect((await workerCall(ctx, w1.headers, j1.id, 'complete', { attempt: j1.attempt, result: { value: 0.5, iterations: 3 } })).statusCode).toBe(200);
    ctx.clock.advance(10);
    const failed = await workerCall(ctx, w2.headers, j2.id, 'fail', { attempt: j2.attempt, error: { message: 'diverged' }, retryable: false });
    expect(failed.statusCode, failed.body).toBe(200);
    expect(await getCampaign(campaign.id)).toMatchObject({ status: 'running', runs_completed: 1, runs_failed: 1, best_value: 0.5, best_job_id: j1.id });
    ctx.clock.advance(10);
    expect((await workerCall(ctx, w3.headers, j3.id, 'complete', { attempt: j3.attempt, result: { value: 0.3, iterations: 4 } })).statusCode).toBe(200);

    const complete = await getCampaign(campaign.id);
    expect(complete).toMatchObject({ status: 'complete', runs_completed: 2, runs_failed: 1, runs_cancelled: 0, best_value: 0.3, best_job_id: j3.id });
    expect(complete.completed_at).toBe(new Date(t0 + 30_000).toISOString());
    expect((await runsOf(campaign.id)).find((r) => r.job_id === j3.id)).toMatchObject({ value: 0.3, final: true, state: 'succeeded' });

    // By hand: values 0.5 and 0.3 → min 0.3, max 0.5, mean 0.4; run times 10 s and 30 s (the failed
    // run is not a finished computation) → median 20; 2 runs between t0 and t0+30 s → 240 per hour.
    const stats = (await call(ctx, 'GET', `/api/v1/campaigns/${campaign.id}/stats`, user)).json<Record<string, unknown>>();
    expect(stats).toMatchObject({
      runs: { requested: 3, spawned: 3, queued: 0, running: 0, paused: 0, succeeded: 2, failed: 1, cancelled: 0 },
      best_value: 0.3,
      best_over_time: [
        { value: 0.5, job_id: j1.id, at: new Date(t0 + 10_000).toISOString() },
        { value: 0.3, job_id: j3.id, at: new Date(t0 + 30_000).toISOString() },
      ],
      values: { count: 2, min: 0.3, max: 0.5 },
      run_seconds: { count: 2, min: 10, median: 20, max: 30 },
      throughput_per_hour: 240,
    });
    expect((stats.values as { mean: number }).mean).toBeCloseTo(0.4, 12);
    const workers = stats.workers as Array<{ worker_id: string; worker_name: string | null; succeeded: number; failed: number }>;
    expect(workers.map((w) => [w.worker_id, w.succeeded, w.failed])).toEqual([
      [w1.id, 1, 0],
      [w3.id, 1, 0],
      [w2.id, 0, 1],
    ].sort((a, b) => (b[1] as number) - (a[1] as number) || String(a[0]).localeCompare(String(b[0]))));
    expect(workers.find((w) => w.worker_id === w1.id)?.worker_name).toBe('w1');

    // The admins are told, once, by the outbox row the last run's transaction queued.
    await ctx.flushMail();
    const mail = await ctx.smtp.waitFor((m) => m.text.includes(campaign.id));
    expect(mail.subject).toContain('Campaign completed');
    expect(mail.text).toContain('0.3 bits');

    // Raising the runs of a complete campaign runs it again.
    const raised = await call(ctx, 'PATCH', `/api/v1/campaigns/${campaign.id}`, admin, { runs: 4 });
    expect(raised.statusCode, raised.body).toBe(200);
    expect(raised.json()).toMatchObject({ status: 'running', runs_requested: 4, runs_spawned: 4, completed_at: null });
    const lowered = await call(ctx, 'PATCH', `/api/v1/campaigns/${campaign.id}`, admin, { runs: 2 });
    expect(lowered.statusCode).toBe(400);
    const j4 = await claimOne(w1.headers, queue);
    expect(j4.payload.run).toBe(3);
    expect((await workerCall(ctx, w1.headers, j4.id, 'complete', { attempt: j4.attempt, result: { value: 0.1 } })).statusCode).toBe(200);
    expect(await getCampaign(campaign.id)).toMatchObject({ status: 'complete', runs_completed: 3, best_value: 0.1, best_job_id: j4.id });

    // The list shows it; the all-campaigns summary counts it.
    const list = (await call(ctx, 'GET', '/api/v1/campaigns?status=complete', user)).json<{ items: CampaignJson[] }>();
    expect(list.items.map((c) => c.id)).toContain(campaign.id);
    const all = (await call(ctx, 'GET', '/api/v1/campaigns/stats', user)).json<{ campaigns: { total: number; by_status: Record<string, number> }; items: Array<{ id: string }> }>();
    expect(all.items.map((c) => c.id)).toContain(campaign.id);
    expect(all.campaigns.by_status.complete).toBeGreaterThanOrEqual(1);
  });

  it('objective max: runs are told to maximise, the best moves up, and the statistics say so', async () => {
    const queue = await freshQueue();
    const fileId = await uploadNpy(krausToNpy(measurePrepare()));
    const campaign = await create({ queue, runs: 3, objective: 'max', params: { d_in: 2, d_out: 2, n_kraus: 4, seed: 40 }, input_file_id: fileId });
    expect(campaign).toMatchObject({ status: 'running', objective: 'max', runs_spawned: 3 });
    const workers = [await newWorker(), await newWorker(), await newWorker()];
    const jobs = [];
    for (const w of workers) jobs.push(await claimOne(w.headers, queue));
    expect(jobs.map((j) => j.payload.objective)).toEqual(['max', 'max', 'max']);
    const t0 = ctx.clock.now().getTime();
    const values = [0.5, 0.8, 0.6];
    for (const [i, job] of jobs.entries()) {
      ctx.clock.advance(10);
      const done = await workerCall(ctx, workers[i]!.headers, job.id, 'complete', { attempt: job.attempt, result: { value: values[i] } });
      expect(done.statusCode, done.body).toBe(200);
      // 0.5, then 0.8 (up); 0.6 is lower, so the best stays 0.8.
      expect((await getCampaign(campaign.id)).best_value).toBe(i === 0 ? 0.5 : 0.8);
    }
    expect(await getCampaign(campaign.id)).toMatchObject({ status: 'complete', runs_completed: 3, best_value: 0.8, best_job_id: jobs[1]!.id });
    const stats = (await call(ctx, 'GET', `/api/v1/campaigns/${campaign.id}/stats`, user)).json<Record<string, unknown>>();
    expect(stats).toMatchObject({
      objective: 'max',
      best_value: 0.8,
      best_over_time: [
        { value: 0.5, job_id: jobs[0]!.id, at: new Date(t0 + 10_000).toISOString() },
        { value: 0.8, job_id: jobs[1]!.id, at: new Date(t0 + 20_000).toISOString() },
      ],
      values: { count: 3, min: 0.5, max: 0.8 },
    });
    // Over every campaign, once a min campaign exists too: no single best, the best of each objective.
    await create({ queue: await freshQueue(), runs: 1, params: { d_in: 2, d_out: 2, n_kraus: 4 }, input_file_id: fileId });
    const all = (await call(ctx, 'GET', '/api/v1/campaigns/stats', user)).json<{ objective: string | null; best_value: number | null; best_values: { min: number | null; max: number | null }; items: Array<{ id: string; objective: string }> }>();
    expect(all.objective).toBeNull();
    expect(all.best_value).toBeNull();
    expect(all.best_values.max).toBeGreaterThanOrEqual(0.8);
    expect(all.items.find((c) => c.id === campaign.id)?.objective).toBe('max');
  });

  it('a hook that throws rolls back the outcome and the campaign together; the retried complete counts once', async () => {
    const queue = await freshQueue();
    const fileId = await uploadNpy(krausToNpy(identityChannel(2)));
    const campaign = await create({ queue, runs: 1, params: { d_in: 2, d_out: 2, n_kraus: 1 }, input_file_id: fileId });
    expect(campaign).toMatchObject({ status: 'running', input_file_id: fileId, runs_spawned: 1 });
    const worker = await newWorker();
    const job = await claimOne(worker.headers, queue);
    expect(job.payload.kraus_file_id).toBe(fileId);
    // A campaigns:read holder follows it live; a rolled-back outcome publishes nothing.
    const subscriptions = ctx.gatehouse.hub.subscriptionCount;
    const live = await SseClient.open(`${base}/api/v1/events?topics=campaign:${campaign.id}`, user);
    expect(live.status, live.body).toBe(200);
    // …and over the WebSocket.
    const ws = await WsClient.connect(`${base.replace('http', 'ws')}/api/v1/ws`, user);
    ws.send({ type: 'subscribe', topics: [`campaign:${campaign.id}`] });
    expect(await ws.waitFor((m) => m.type === 'subscribed')).toEqual({ type: 'subscribed', topics: [`campaign:${campaign.id}`] });
    await until(() => ctx.gatehouse.hub.subscriptionCount > subscriptions + 1);
    faults.failNext = true;
    const refused = await workerCall(ctx, worker.headers, job.id, 'complete', { attempt: job.attempt, result: { value: 0 } });
    expect(refused.statusCode, refused.body).toBe(503);
    expect(refused.json()).toMatchObject({ code: 'job_hook_failed' });
    // The campaigns hook ran first in the same transaction: its counters and best were rolled back too.
    expect(await getCampaign(campaign.id)).toMatchObject({ status: 'running', runs_completed: 0, best_value: null });
    expect((await runsOf(campaign.id))[0]).toMatchObject({ state: 'running', final: false });
    const stats = (await call(ctx, 'GET', `/api/v1/campaigns/${campaign.id}/stats`, user)).json<{ runs: { succeeded: number; running: number }; best_over_time: unknown[] }>();
    expect(stats.runs).toMatchObject({ succeeded: 0, running: 1 });
    expect(stats.best_over_time).toEqual([]);

    const retried = await workerCall(ctx, worker.headers, job.id, 'complete', { attempt: job.attempt, result: { value: 0 } });
    expect(retried.statusCode, retried.body).toBe(200);
    expect(await getCampaign(campaign.id)).toMatchObject({ status: 'complete', runs_completed: 1, best_value: 0, best_job_id: job.id });
    await until(() => live.messages.some((m) => m.event === 'campaign.completed'), 10_000, 'campaign.completed on the live topic');
    const events = live.messages.filter((m) => m.event?.startsWith('campaign.'));
    expect(events.map((m) => m.event)).toEqual(['campaign.improved', 'campaign.progressed', 'campaign.completed']);
    const last = JSON.parse(events[2]!.data!) as { topic: string; type: string; data: Record<string, unknown> };
    expect(last).toMatchObject({ topic: `campaign:${campaign.id}`, type: 'campaign.completed', data: { status: 'complete', runs_completed: 1, best_value: 0, best_job_id: job.id } });
    expect(JSON.parse(events[1]!.data!)).toMatchObject({ data: { job_id: job.id, outcome: 'succeeded', value: 0 } });
    await live.close();
    await ws.waitFor((m) => m.type === 'event' && (m.event as { type: string }).type === 'campaign.completed');
    const wsEvents = ws.received.filter((m) => m.type === 'event').map((m) => m.event as { topic: string; type: string; data: Record<string, unknown> });
    expect(wsEvents.map((e) => e.type)).toEqual(['campaign.improved', 'campaign.progressed', 'campaign.completed']);
    expect(wsEvents[2]).toMatchObject({ topic: `campaign:${campaign.id}`, data: { status: 'complete', runs_completed: 1, best_value: 0 } });
    ws.close();

    // Who may watch: campaigns:read (a worker account has not: 403); an unknown campaign is 404.
    const stranger = (await makePrincipals(ctx, { role: 'worker' })).jwt;
    const forbidden = await SseClient.open(`${base}/api/v1/events?topics=campaign:${campaign.id}`, stranger);
    expect(forbidden.status).toBe(403);
    await forbidden.close();
    const unknown = await SseClient.open(`${base}/api/v1/events?topics=campaign:01900000-0000-7000-8000-000000000000`, user);
    expect(unknown.status).toBe(404);
    await unknown.close();
  });

  it('a generate hook that throws leaves no runs behind: the spawned jobs roll back with it', async () => {
    const queue = await freshQueue();
    const campaign = await create({ queue, runs: 5, params: { d_in: 2, d_out: 2, n_kraus: 2, seed: 3 } });
    const worker = await newWorker();
    const gen = await claimOne(worker.headers, queue);
    const token = worker.headers.authorization!.slice('Bearer '.length);
    const kraus = await upload(base, token, [
      ['purpose', 'output'],
      ['job_id', gen.id],
      ['attempt', String(gen.attempt)],
      ['file', new Blob([krausToNpy(haarChannel(2, 2, 2, 3))]), 'kraus.npy'],
    ]);
    faults.failNext = true;
    const refused = await workerCall(ctx, worker.headers, gen.id, 'complete', { attempt: gen.attempt, result: { kraus_file_id: kraus.json.id } });
    expect(refused.statusCode, refused.body).toBe(503);
    expect(await getCampaign(campaign.id)).toMatchObject({ status: 'generating', runs_spawned: 0, input_file_id: null });
    expect(await runsOf(campaign.id)).toEqual([]);
    const jobs = (await call(ctx, 'GET', `/api/v1/jobs?parent_type=campaign&parent_id=${campaign.id}`, admin)).json<{ items: Array<{ kind: string }> }>();
    expect(jobs.items.map((j) => j.kind)).toEqual([GENERATE_KIND]);

    expect((await workerCall(ctx, worker.headers, gen.id, 'complete', { attempt: gen.attempt, result: { kraus_file_id: kraus.json.id } })).statusCode).toBe(200);
    expect(await getCampaign(campaign.id)).toMatchObject({ status: 'running', runs_spawned: 5 });
    expect(await runsOf(campaign.id)).toHaveLength(5);
    // The runs list is cursor-paged: pages of 2 give each of the 5 runs once, then next_cursor null.
    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await call(ctx, 'GET', `/api/v1/campaigns/${campaign.id}/runs?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, user);
      expect(res.statusCode, res.body).toBe(200);
      const page = res.json<{ items: RunJson[]; next_cursor: string | null }>();
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((r) => r.run));
      cursor = page.next_cursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen.sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it('pause holds queued runs and tells running ones; raised runs wait; resume continues; cancel ends every run', async () => {
    const queue = await freshQueue();
    const fileId = await uploadNpy(krausToNpy(identityChannel(2)));
    const campaign = await create({ queue, runs: 3, params: { d_in: 2, d_out: 2, n_kraus: 1 }, input_file_id: fileId });
    const worker = await newWorker();
    const job = await claimOne(worker.headers, queue);

    const paused = await call(ctx, 'POST', `/api/v1/campaigns/${campaign.id}/pause`, admin);
    expect(paused.statusCode, paused.body).toBe(200);
    expect(paused.json()).toMatchObject({ status: 'paused' });
    expect((await runsOf(campaign.id)).map((r) => r.state)).toEqual(['paused', 'paused', 'paused']);
    const beat = await workerCall(ctx, worker.headers, job.id, 'heartbeat', { attempt: job.attempt });
    expect(beat.json()).toMatchObject({ command: 'pause' });
    const other = await newWorker();
    expect((await claim(ctx, other.headers, { queues: [queue], wait_s: 0 })).statusCode).toBe(204);
    const completeWhilePaused = await workerCall(ctx, worker.headers, job.id, 'complete', { attempt: job.attempt, result: { value: 0 } });
    expect(completeWhilePaused.statusCode).toBe(409);

    const raised = await call(ctx, 'PATCH', `/api/v1/campaigns/${campaign.id}`, admin, { runs: 5 });
    expect(raised.json()).toMatchObject({ status: 'paused', runs_requested: 5, runs_spawned: 3 });

    const resumed = await call(ctx, 'POST', `/api/v1/campaigns/${campaign.id}/resume`, admin);
    expect(resumed.statusCode, resumed.body).toBe(200);
    expect(resumed.json()).toMatchObject({ status: 'running', runs_spawned: 5 });
    const states = (await runsOf(campaign.id)).map((r) => r.state).sort();
    expect(states).toEqual(['queued', 'queued', 'queued', 'queued', 'running']);
    expect((await workerCall(ctx, worker.headers, job.id, 'heartbeat', { attempt: job.attempt })).json()).toMatchObject({ command: 'continue' });
    expect((await workerCall(ctx, worker.headers, job.id, 'complete', { attempt: job.attempt, result: { value: 0 } })).statusCode).toBe(200);

    const cancelled = await call(ctx, 'POST', `/api/v1/campaigns/${campaign.id}/cancel`, admin);
    expect(cancelled.statusCode, cancelled.body).toBe(200);
    expect(cancelled.json()).toMatchObject({ status: 'cancelled', runs_completed: 1, runs_cancelled: 4, runs_failed: 0 });
    expect((await runsOf(campaign.id)).filter((r) => r.state === 'cancelled')).toHaveLength(4);
    expect((await call(ctx, 'POST', `/api/v1/campaigns/${campaign.id}/resume`, admin)).statusCode).toBe(409);
    expect((await call(ctx, 'PATCH', `/api/v1/campaigns/${campaign.id}`, admin, { runs: 9 })).statusCode).toBe(409);
  });

  it('campaigns:read holders may download a campaign\'s Kraus file; others get 404', async () => {
    const queue = await freshQueue();
    const fileId = await uploadNpy(krausToNpy(identityChannel(2)));
    await create({ queue, runs: 1, params: { d_in: 2, d_out: 2, n_kraus: 1 }, input_file_id: fileId });
    const reader = await call(ctx, 'GET', `/api/v1/files/${fileId}`, user);
    expect(reader.statusCode).toBe(200);
    expect(Buffer.from(reader.rawPayload).equals(krausToNpy(identityChannel(2)))).toBe(true);
    const stranger = (await makePrincipals(ctx, { role: 'worker' })).jwt;
    expect((await call(ctx, 'GET', `/api/v1/files/${fileId}`, stranger)).statusCode).toBe(404);
  });

  it('the Python worker (examples/python-worker, NumPy only) runs a generated and an uploaded campaign to complete', async () => {
    const queue = await freshQueue();
    const generated = await create({ queue, runs: 2, params: { d_in: 2, d_out: 3, n_kraus: 2, seed: 11, restarts: 3 } });
    const fileId = await uploadNpy(krausToNpy(measurePrepare()));
    const known = await create({ queue, runs: 1, params: { d_in: 2, d_out: 2, n_kraus: 4, restarts: 4 }, input_file_id: fileId });
    // The same channel's maximum over pure inputs: S(p σ₀ + (1 − p) σ₁) is largest at p* (SciPy below).
    const highest = await create({ queue, runs: 1, objective: 'max', params: { d_in: 2, d_out: 2, n_kraus: 4, restarts: 4 }, input_file_id: fileId });
    const worker = await newWorker('python');
    const child = spawn('/usr/bin/python3', [PYTHON_WORKER, '--server', base, '--queue', queue, '--name', 'python-1', '--exit-when-idle'], {
      env: { ...process.env, GATEHOUSE_API_KEY: worker.headers.authorization!.slice('Bearer '.length) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code, output).toBe(0);
    expect(output).toContain('idle after 5 jobs');
    expect(await getCampaign(generated.id)).toMatchObject({ status: 'complete', runs_completed: 2, runs_failed: 0 });
    const found = await getCampaign(known.id);
    expect(found.status).toBe('complete');
    // h(0.1) = 0.4689955935892812 bits.
    expect(Math.abs(found.best_value! - 0.4689955935892812)).toBeLessThan(1e-6);
    const max = await getCampaign(highest.id);
    expect(max.status).toBe('complete');
    const reference = Number(
      execFileSync(
        '/usr/bin/python3',
        [
          '-c',
          `import numpy as np
from scipy.optimize import minimize_scalar
s0 = np.diag([0.9, 0.1]); p = np.array([1, 1]) / np.sqrt(2); m = np.array([1, -1]) / np.sqrt(2)
s1 = 0.7 * np.outer(p, p) + 0.3 * np.outer(m, m)
def S(x):
    ev = np.clip(np.linalg.eigvalsh(x * s0 + (1 - x) * s1), 1e-300, None)
    return float(-(ev * np.log2(ev)).sum())
print(S(minimize_scalar(lambda x: -S(x), bounds=(0, 1), method='bounded', options={'xatol': 1e-12}).x))`,
        ],
        { encoding: 'utf8' },
      ).trim(),
    );
    expect(Math.abs(max.best_value! - reference)).toBeLessThan(1e-6);
    const stats = (await call(ctx, 'GET', `/api/v1/campaigns/${generated.id}/stats`, user)).json<{ workers: Array<{ worker_name: string; succeeded: number }> }>();
    expect(stats.workers).toEqual([expect.objectContaining({ worker_name: 'python-1', succeeded: 2 })]);
  }, 120_000);

  it('unknown campaigns are 404 problem documents', async () => {
    for (const url of ['/api/v1/campaigns/01900000-0000-7000-8000-000000000000', '/api/v1/campaigns/01900000-0000-7000-8000-000000000000/stats', '/api/v1/campaigns/01900000-0000-7000-8000-000000000000/runs']) {
      const res = await call(ctx, 'GET', url, user);
      expect(res.statusCode).toBe(404);
      expect(res.json()).toMatchObject({ code: 'not_found' });
    }
  });
});
