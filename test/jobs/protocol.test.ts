/**
 * The worker protocol over HTTP (docs/jobs.md): claims, the one-job-per-worker rule, heartbeats
 * with progress and commands, fencing, retries with backoff, poison jobs, lease expiry and the
 * sweeper, release, batch claims and completions — on SQLite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, type TestContext } from '../helpers/harness.js';
import { call, type Cast, claim, createQueue, enqueue, getJob, JOBS_ENV, makeCast, workerCall } from './job-fixtures.js';

describe.each(dialects)('worker protocol (%s)', (dialect) => {
  let ctx: TestContext;
  let cast: Cast;
  let n = 0;
  const queueName = () => `q${++n}-${dialect}`;

  beforeAll(async () => {
    ctx = await createTestContext(dialect, { env: JOBS_ENV });
    cast = await makeCast(ctx);
  });
  afterAll(async () => {
    await ctx?.close();
  });

  it('claims a queued job, reports progress, completes it; every step is an event in order', async () => {
    const q = queueName();
    await createQueue(ctx, cast.admin, { name: q });
    const job = await enqueue(ctx, cast.owner, q, { kind: 'square', payload: { x: 7 } });
    expect(job).toMatchObject({ state: 'queued', attempt: 0, owner_id: cast.ownerId, payload: { x: 7 } });
    const worker = await cast.newWorker();

    const claimed = await claim(ctx, worker.headers, { queues: [q] });
    expect(claimed.statusCode, claimed.body).toBe(200);
    const body = claimed.json<{ job: { id: string; state: string }; attempt: number; lease_expires_at: string }>();
    expect(body.job).toMatchObject({ id: job.id, state: 'running' });
    expect(body.attempt).toBe(1);
    expect(Date.parse(body.lease_expires_at) - ctx.clock.now().getTime()).toBe(60_000);

    const hb = await workerCall(ctx, worker.headers, job.id, 'heartbeat', { attempt: 1, progress: 0.5, message: 'half way', metrics: { loss: 0.25 } });
    expect(hb.statusCode, hb.body).toBe(200);
    expect(hb.json()).toMatchObject({ command: 'continue' });

    const done = await workerCall(ctx, worker.headers, job.id, 'complete', { attempt: 1, result: { y: 49 } });
    expect(done.statusCode, done.body).toBe(200);
    const { job: finished, events } = await getJob(ctx, cast.owner, job.id);
    expect(finished).toMatchObject({ state: 'succeeded', result: { y: 49 }, progress: 1, progress_message: 'half way' });
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(events.map((e) => [e.type, e.data.state ?? e.data.progress])).toEqual([
      ['state', 'queued'],
      ['state', 'running'],
      ['progress', 0.5],
      ['state', 'succeeded'],
    ]);
  });

  it('answers 204 after the long-poll wait when nothing is queued, and wakes at once when a job arrives', async () => {
    const q = queueName();
    await createQueue(ctx, cast.admin, { name: q });
    const worker = await cast.newWorker();
    const empty = await claim(ctx, worker.headers, { queues: [q], wait_s: 0 });
    expect(empty.statusCode).toBe(204);

    const started = Date.now();
    const waiting = claim(ctx, worker.headers, { queues: [q], wait_s: 20 });
    await new Promise((r) => setTimeout(r, 300));
    const job = await enqueue(ctx, cast.owner, q, { kind: 'k' });
    const res = await waiting;
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().job.id).toBe(job.id);
    // Woken by the enqueue, not by the 20 s timeout.
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('refuses a second job to a worker that holds one (409 worker_busy), even when claims race', async () => {
    const q = queueName();
    await createQueue(ctx, cast.admin, { name: q });
    for (let i = 0; i < 5; i++) await enqueue(ctx, cast.owner, q, { kind: 'k' });
    const worker = await cast.newWorker();
    const answers = await Promise.all(Array.from({ length: 5 }, () => claim(ctx, worker.headers, { queues: [q] })));
    const statuses = answers.map((a) => a.statusCode).sort();
    expect(statuses).toEqual([200, 409, 409, 409, 409]);
    expect(answers.find((a) => a.statusCode === 409)?.json()).toMatchObject({ code: 'worker_busy' });
    // Again once the worker is registered (its claims then lock its row instead of upserting it).
    const held = answers.find((a) => a.statusCode === 200)?.json() as { job: { id: string }; attempt: number };
    expect((await workerCall(ctx, worker.headers, held.job.id, 'complete', { attempt: held.attempt })).statusCode).toBe(200);
    const again = await Promise.all(Array.from({ length: 4 }, () => claim(ctx, worker.headers, { queues: [q] })));
    expect(again.map((a) => a.statusCode).sort()).toEqual([200, 409, 409, 409]);
    // Another worker (another key) may claim.
    expect((await claim(ctx, (await cast.newWorker()).headers, { queues: [q] })).statusCode).toBe(200);
  });

  it('honours worker_concurrency with claim-batch and never hands a job out twice', async () => {
    const q = queueName();
    await createQueue(ctx, cast.admin, { name: q, worker_concurrency: 10 });
    const batch = await call(ctx, 'POST', `/api/v1/queues/${q}/jobs`, cast.owner, { jobs: Array.from({ length: 25 }, (_, i) => ({ kind: 'k', payload: { i } })) });
    expect(batch.statusCode, batch.body).toBe(201);
    expect(batch.json()).toMatchObject({ created: 25, existing: 0 });
    const a = await cast.newWorker();
    const b = await cast.newWorker();
    const [ra, rb] = await Promise.all([
      call(ctx, 'POST', '/api/v1/worker/claim-batch', a.headers, { queues: [q], max_jobs: 100 }),
      call(ctx, 'POST', '/api/v1/worker/claim-batch', b.headers, { queues: [q], max_jobs: 100 }),
    ]);
    const ids = [...ra.json().jobs, ...rb.json().jobs].map((j: { job: { id: string } }) => j.job.id);
    expect(ra.json().jobs).toHaveLength(10);
    expect(rb.json().jobs).toHaveLength(10);
    expect(new Set(ids).size).toBe(20);
    expect((await call(ctx, 'POST', '/api/v1/worker/claim-batch', a.headers, { queues: [q], max_jobs: 5 })).statusCode).toBe(409);

    const items = ra.json().jobs.map((j: { job: { id: string }; attempt: number }) => ({ id: j.job.id, attempt: j.attempt, result: 1 }));
    items.push({ id: rb.json().jobs[0].job.id, attempt: 1 });
    const completed = await call(ctx, 'POST', '/api/v1/worker/complete-batch', a.headers, { items });
    expect(completed.statusCode, completed.body).toBe(200);
    const results = completed.json().results as Array<{ ok: boolean; code?: string }>;
    expect(results.filter((r) => r.ok)).toHaveLength(10);
    // b's job is fenced against a: refused, unchanged.
    expect(results.at(-1)).toMatchObject({ ok: false, code: 'lease_lost' });
    expect((await getJob(ctx, cast.admin, rb.json().jobs[0].job.id)).job.state).toBe('running');
  });

  it('delivers pause and cancel through the heartbeat; resume brings the job back', async () => {
    const q = queueName();
    await createQueue(ctx, cast.admin, { name: q });
    const job = await enqueue(ctx, cast.owner, q, { kind: 'k' });
    const worker = await cast.newWorker();
    expect((await claim(ctx, worker.headers, { queues: [q] })).statusCode).toBe(200);

    expect((await call(ctx, 'POST', `/api/v1/jobs/${job.id}/pause`, cast.owner)).json().state).toBe('paused');
    let hb = await workerCall(ctx, worker.headers, job.id, 'heartbeat', { attempt: 1 });
    expect(hb.json()).toMatchObject({ command: 'pause' });
    // Paused jobs keep their worker: it may not take another.
    await enqueue(ctx, cast.owner, q, { kind: 'k' });
    expect((await claim(ctx, worker.headers, { queues: [q] })).statusCode).toBe(409);

    expect((await call(ctx, 'POST', `/api/v1/jobs/${job.id}/resume`, cast.owner)).json().state).toBe('running');
    hb = await workerCall(ctx, worker.headers, job.id, 'heartbeat', { attempt: 1 });
    expect(hb.json()).toMatchObject({ command: 'continue' });

    // Another user cannot see or touch the job.
    expect((await call(ctx, 'POST', `/api/v1/jobs/${job.id}/cancel`, cast.other)).statusCode).toBe(404);
    expect((await call(ctx, 'POST', `/api/v1/jobs/${job.id}/cancel`, cast.owner)).json().state).toBe('cancelled');
    hb = await workerCall(ctx, worker.headers, job.id, 'heartbeat', { attempt: 1 });
    expect(hb.json()).toMatchObject({ command: 'cancel', lease_expires_at: null });
    const late = await workerCall(ctx, worker.headers, job.id, 'complete', { attempt: 1, result: 'too late' });
    expect(late.statusCode).toBe(409);
    expect(late.json().code).toBe('lease_lost');
    expect((await getJob(ctx, cast.owner, job.id)).job).toMatchObject({ state: 'cancelled', result: null });
    // The cancelled job no longer counts against the worker.
    expect((await claim(ctx, worker.headers, { queues: [q] })).statusCode).toBe(200);
  });

  it('retries a retryable failure after an exponential backoff, then ends dead at max_attempts', async () => {
    const q = queueName();
    await createQueue(ctx, cast.admin, { name: q, max_attempts: 3, backoff_base_seconds: 10, backoff_max_seconds: 15 });
    const job = await enqueue(ctx, cast.owner, q, { kind: 'flaky' });
    const worker = await cast.newWorker();
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      const res = await claim(ctx, worker.headers, { queues: [q] });
      expect(res.statusCode, `attempt ${attempt}`).toBe(200);
      expect(res.json().attempt).toBe(attempt);
      const failed = await workerCall(ctx, worker.headers, job.id, 'fail', { attempt, error: { message: `boom ${attempt}` }, retryable: true });
      expect(failed.statusCode, failed.body).toBe(200);
      const after = failed.json().job;
      if (attempt < 3) {
        expect(after.state).toBe('queued');
        const delay = (Date.parse(after.run_after) - ctx.clock.now().getTime()) / 1000;
        delays.push(delay);
        // Not claimable during the backoff.
        expect((await claim(ctx, worker.headers, { queues: [q] })).statusCode).toBe(204);
        ctx.clock.advance(delay + 0.001);
      } else {
        expect(after).toMatchObject({ state: 'dead', failures: 3, error: { message: 'boom 3' } });
      }
    }
    // base 10 s then 20 s capped at 15 s, each ±20 %.
    expect(delays[0]).toBeGreaterThanOrEqual(8);
    expect(delays[0]).toBeLessThanOrEqual(12);
    expect(delays[1]).toBeGreaterThanOrEqual(12);
    expect(delays[1]).toBeLessThanOrEqual(18);
    // Admins hear about it.
    await ctx.flushMail();
    await ctx.smtp.waitFor((m) => m.to === 'ops@example.com' && m.text.includes(job.id));

    // A non-retryable failure ends `failed` at once; retry re-queues it with fresh counts.
    const other = await enqueue(ctx, cast.owner, q, { kind: 'bad-input' });
    const res = await claim(ctx, worker.headers, { queues: [q] });
    expect(res.json().job.id).toBe(other.id);
    const failed = await workerCall(ctx, worker.headers, other.id, 'fail', { attempt: 1, error: { message: 'invalid' }, retryable: false });
    expect(failed.json().job).toMatchObject({ state: 'failed', failures: 1 });
    const retried = await call(ctx, 'POST', `/api/v1/jobs/${other.id}/retry`, cast.owner);
    expect(retried.json()).toMatchObject({ state: 'queued', failures: 0, error: null });
    expect((await claim(ctx, worker.headers, { queues: [q] })).json().attempt).toBe(2);
  });

  it('reclaims a lapsed lease, fences the old worker out, and kills a job that keeps killing workers', async () => {
    const q = queueName();
    await createQueue(ctx, cast.admin, { name: q, lease_seconds: 30, max_lease_expiries: 2 });
    const job = await enqueue(ctx, cast.owner, q, { kind: 'k' });
    const first = await cast.newWorker();
    const second = await cast.newWorker();
    expect((await claim(ctx, first.headers, { queues: [q] })).json().attempt).toBe(1);

    ctx.clock.advance(31);
    // After the lease, even before the sweep, the old worker's heartbeat is refused.
    expect((await workerCall(ctx, first.headers, job.id, 'heartbeat', { attempt: 1 })).statusCode).toBe(409);
    // Other tests' jobs lapse too (one clock): count only this one's outcome.
    expect(await ctx.gatehouse.workerProtocol.sweep()).toBeGreaterThanOrEqual(1);
    expect(await ctx.gatehouse.workerProtocol.sweep()).toBe(0);
    expect((await getJob(ctx, cast.owner, job.id)).job).toMatchObject({ state: 'queued', lease_expiries: 1, worker_id: null });
    const again = await claim(ctx, second.headers, { queues: [q] });
    expect(again.json()).toMatchObject({ attempt: 2, job: { lease_expiries: 1 } });
    // The first worker's late completion changes nothing.
    const late = await workerCall(ctx, first.headers, job.id, 'complete', { attempt: 1, result: 'stale' });
    expect(late.statusCode).toBe(409);
    expect((await getJob(ctx, cast.owner, job.id)).job).toMatchObject({ state: 'running', attempt: 2, result: null });

    ctx.clock.advance(31);
    expect(await ctx.gatehouse.workerProtocol.sweep()).toBeGreaterThanOrEqual(1);
    const { job: dead, events } = await getJob(ctx, cast.owner, job.id);
    expect(dead).toMatchObject({ state: 'dead', lease_expiries: 2 });
    expect(events.at(-1)?.data).toMatchObject({ state: 'dead', reason: 'lease_expired' });
  });

  it('complete with claim_next claims the next job in the same exchange; the completion stands whatever the claim does', async () => {
    const q = queueName();
    await createQueue(ctx, cast.admin, { name: q });
    const first = await enqueue(ctx, cast.owner, q, { kind: 'k', payload: { n: 1 } });
    const second = await enqueue(ctx, cast.owner, q, { kind: 'k', payload: { n: 2 } });
    const worker = await cast.newWorker();
    expect((await claim(ctx, worker.headers, { queues: [q] })).json().job.id).toBe(first.id);

    // Done with the first; the answer carries the second, claimed as /worker/claim would answer.
    const done = await workerCall(ctx, worker.headers, first.id, 'complete', { attempt: 1, result: 1, claim_next: { queues: [q], worker_name: 'w-next' } });
    expect(done.statusCode, done.body).toBe(200);
    const body = done.json<{ job: { id: string; state: string }; next: { job: { id: string; state: string; worker_id: string }; attempt: number; lease_expires_at: string } }>();
    expect(body.job).toMatchObject({ id: first.id, state: 'succeeded' });
    expect(body.next).toMatchObject({ job: { id: second.id, state: 'running' }, attempt: 1 });
    expect(Date.parse(body.next.lease_expires_at) - ctx.clock.now().getTime()).toBe(60_000);
    expect(body).not.toHaveProperty('next_error');
    const { job: held, events } = await getJob(ctx, cast.owner, second.id);
    expect(held).toMatchObject({ state: 'running', attempt: 1, worker_id: worker.id });
    expect(events.map((e) => [e.type, e.data.state])).toEqual([
      ['state', 'queued'],
      ['state', 'running'],
    ]);

    // Nothing left: `next` is null and the worker long-polls the usual way.
    const last = await workerCall(ctx, worker.headers, second.id, 'complete', { attempt: 1, claim_next: { queues: [q] } });
    expect(last.json()).toEqual({ job: expect.objectContaining({ id: second.id, state: 'succeeded' }), next: null });

    // A claim refused after the completion: the completion stands, the answer says why nothing was claimed.
    const third = await enqueue(ctx, cast.owner, q, { kind: 'k' });
    await claim(ctx, worker.headers, { queues: [q] });
    const refused = await workerCall(ctx, worker.headers, third.id, 'complete', { attempt: 1, claim_next: { queues: ['no-such-queue'] } });
    expect(refused.statusCode, refused.body).toBe(200);
    expect(refused.json()).toMatchObject({ job: { id: third.id, state: 'succeeded' }, next: null, next_error: { code: 'not_found' } });

    // A completion refused (lease lost) claims nothing: the waiting job stays queued.
    const fourth = await enqueue(ctx, cast.owner, q, { kind: 'k' });
    const stale = await workerCall(ctx, worker.headers, third.id, 'complete', { attempt: 1, claim_next: { queues: [q] } });
    expect(stale.statusCode).toBe(409);
    expect(stale.json()).toMatchObject({ code: 'lease_lost' });
    expect((await getJob(ctx, cast.owner, fourth.id)).job).toMatchObject({ state: 'queued', attempt: 0 });

    // A bad claim_next is refused before anything changes.
    await claim(ctx, worker.headers, { queues: [q] });
    const bad = await workerCall(ctx, worker.headers, fourth.id, 'complete', { attempt: 1, claim_next: { queues: [q], wait_s: 5 } });
    expect(bad.statusCode).toBe(400);
    expect((await getJob(ctx, cast.owner, fourth.id)).job).toMatchObject({ state: 'running' });
  });

  it('release hands a job back without counting a failure', async () => {
    const q = queueName();
    await createQueue(ctx, cast.admin, { name: q });
    const job = await enqueue(ctx, cast.owner, q, { kind: 'k' });
    const worker = await cast.newWorker();
    await claim(ctx, worker.headers, { queues: [q] });
    const released = await workerCall(ctx, worker.headers, job.id, 'release', { attempt: 1 });
    expect(released.json().job).toMatchObject({ state: 'queued', failures: 0, worker_id: null });
    expect((await claim(ctx, worker.headers, { queues: [q] })).json()).toMatchObject({ attempt: 2 });
  });

  it('honours idempotency keys, priorities, delays and kinds', async () => {
    const q = queueName();
    await createQueue(ctx, cast.admin, { name: q });
    const a = await enqueue(ctx, cast.owner, q, { kind: 'k', idempotency_key: 'once' });
    const replay = await call(ctx, 'POST', `/api/v1/queues/${q}/jobs`, cast.owner, { kind: 'k', idempotency_key: 'once' });
    expect(replay.statusCode).toBe(200);
    expect(replay.json()).toMatchObject({ id: a.id, idempotent_replay: true });
    const batch = await call(ctx, 'POST', `/api/v1/queues/${q}/jobs`, cast.owner, {
      jobs: [{ kind: 'k', idempotency_key: 'once' }, { kind: 'k', idempotency_key: 'twice' }, { kind: 'k', idempotency_key: 'twice' }],
    });
    expect(batch.json()).toMatchObject({ created: 1, existing: 1 });
    expect(batch.json().items[1].id).toBe(batch.json().items[2].id);

    const low = await enqueue(ctx, cast.owner, q, { kind: 'other', priority: -5 });
    const high = await enqueue(ctx, cast.owner, q, { kind: 'other', priority: 50 });
    const later = await enqueue(ctx, cast.owner, q, { kind: 'other', priority: 100, delay_s: 60 });
    const w = await cast.newWorker();
    const first = await claim(ctx, w.headers, { queues: [q], kinds: ['other'] });
    expect(first.json().job.id).toBe(high.id);
    await workerCall(ctx, w.headers, high.id, 'complete', { attempt: 1 });
    expect((await claim(ctx, w.headers, { queues: [q], kinds: ['other'] })).json().job.id).toBe(low.id);
    await workerCall(ctx, w.headers, low.id, 'complete', { attempt: 1 });
    expect((await claim(ctx, w.headers, { queues: [q], kinds: ['other'] })).statusCode).toBe(204);
    ctx.clock.advance(61);
    expect((await claim(ctx, w.headers, { queues: [q], kinds: ['other'] })).json().job.id).toBe(later.id);
  });

  it('refuses bad input and the wrong credentials with problem documents', async () => {
    const q = queueName();
    await createQueue(ctx, cast.admin, { name: q, enqueue_permission: 'special:enqueue' });
    const w = await cast.newWorker();
    // Enqueue permission of the queue.
    expect((await call(ctx, 'POST', `/api/v1/queues/${q}/jobs`, cast.owner, { kind: 'k' })).statusCode).toBe(403);
    expect((await call(ctx, 'POST', `/api/v1/queues/${q}/jobs`, cast.admin, { kind: 'bad kind!' })).statusCode).toBe(400);
    expect((await call(ctx, 'POST', '/api/v1/queues/nope/jobs', cast.admin, { kind: 'k' })).statusCode).toBe(404);
    const big = await call(ctx, 'POST', `/api/v1/queues/${q}/jobs`, cast.admin, { kind: 'k', payload: { s: 'x'.repeat(70_000) } });
    expect(big.statusCode).toBe(413);
    expect(big.headers['content-type']).toContain('application/problem+json');
    // Only a worker key may use the worker protocol; users are refused, owners cannot claim.
    expect((await claim(ctx, cast.owner, { queues: [q] })).statusCode).toBe(403);
    expect((await claim(ctx, w.headers, { queues: ['missing'] })).statusCode).toBe(404);
    expect((await claim(ctx, w.headers, { queues: [] })).statusCode).toBe(400);
    expect((await claim(ctx, w.headers, { queues: [q], wait_s: 999 })).statusCode).toBe(400);
    expect((await workerCall(ctx, w.headers, '01890000-0000-7000-8000-000000000000', 'heartbeat', { attempt: 1 })).statusCode).toBe(409);
    expect((await workerCall(ctx, w.headers, 'not-a-uuid', 'heartbeat', { attempt: 1 })).statusCode).toBe(400);
    // Queue administration is for admins.
    expect((await call(ctx, 'POST', '/api/v1/queues', cast.owner, { name: 'mine' })).statusCode).toBe(403);
    expect((await call(ctx, 'POST', '/api/v1/queues', cast.admin, { name: q })).statusCode).toBe(409);
    expect((await call(ctx, 'POST', '/api/v1/queues', cast.admin, { name: 'Bad Name' })).statusCode).toBe(400);
  });

  it('pauses queues, lists jobs per owner and reports statistics', async () => {
    const q = queueName();
    await createQueue(ctx, cast.admin, { name: q });
    const mine = await enqueue(ctx, cast.owner, q, { kind: 'k' });
    await enqueue(ctx, cast.other, q, { kind: 'k' });
    expect((await call(ctx, 'POST', `/api/v1/queues/${q}/pause`, cast.admin)).json().paused).toBe(true);
    const w = await cast.newWorker();
    expect((await claim(ctx, w.headers, { queues: [q] })).statusCode).toBe(204);
    expect((await call(ctx, 'POST', `/api/v1/queues/${q}/resume`, cast.admin)).json().paused).toBe(false);
    const claimed = await claim(ctx, w.headers, { queues: [q] });
    ctx.clock.advance(2);
    await workerCall(ctx, w.headers, claimed.json().job.id, 'complete', { attempt: 1 });

    const listed = await call(ctx, 'GET', `/api/v1/jobs?queue=${q}`, cast.owner);
    expect(listed.json().items.map((j: { id: string }) => j.id)).toEqual([mine.id]);
    expect((await call(ctx, 'GET', `/api/v1/jobs?queue=${q}`, cast.admin)).json().items).toHaveLength(2);
    expect((await call(ctx, 'GET', `/api/v1/jobs/${mine.id}`, cast.other)).statusCode).toBe(404);

    const stats = await call(ctx, 'GET', `/api/v1/queues/${q}/stats`, cast.admin);
    expect(stats.statusCode, stats.body).toBe(200);
    expect(stats.json()).toMatchObject({ counts: { queued: 1, succeeded: 1 }, succeeded_last_hour: 1, mean_duration_ms: 2000, p95_duration_ms: 2000 });
    expect((await call(ctx, 'GET', `/api/v1/queues/${q}/stats`, cast.owner)).statusCode).toBe(403);
    const all = await call(ctx, 'GET', '/api/v1/stats', cast.admin);
    expect(all.json().queues.map((s: { queue: string }) => s.queue)).toContain(q);
  });
});
