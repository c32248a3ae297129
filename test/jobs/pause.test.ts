/**
 * Pause semantics on the server (hardening item 14): a paused attempt may heartbeat and log but
 * not complete (`409 job_paused`) until resumed; a failure while paused keeps a retry paused;
 * batch completions report `job_paused` per item — on SQLite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, type TestContext } from '../helpers/harness.js';
import { call, type Cast, claim, createQueue, enqueue, getJob, JOBS_ENV, makeCast, workerCall } from './job-fixtures.js';

describe.each(dialects)('pausing a running job (%s)', (dialect) => {
  let ctx: TestContext;
  let cast: Cast;
  let n = 0;
  const queueName = () => `pause${++n}-${dialect}`;
  const pause = (id: string) => call(ctx, 'POST', `/api/v1/jobs/${id}/pause`, cast.owner);
  const resume = (id: string) => call(ctx, 'POST', `/api/v1/jobs/${id}/resume`, cast.owner);

  beforeAll(async () => {
    ctx = await createTestContext(dialect, { env: JOBS_ENV });
    cast = await makeCast(ctx);
  });
  afterAll(async () => {
    await ctx?.close();
  });

  it('refuses complete from a paused attempt with 409 job_paused until it is resumed', async () => {
    const q = queueName();
    await createQueue(ctx, cast.admin, { name: q });
    const job = await enqueue(ctx, cast.owner, q, { kind: 'k' });
    const worker = await cast.newWorker();
    expect((await claim(ctx, worker.headers, { queues: [q] })).statusCode).toBe(200);
    expect((await pause(job.id)).json().state).toBe('paused');

    const refused = await workerCall(ctx, worker.headers, job.id, 'complete', { attempt: 1, result: { done: true } });
    expect(refused.statusCode, refused.body).toBe(409);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused.json()).toMatchObject({ code: 'job_paused' });
    expect((await getJob(ctx, cast.owner, job.id)).job).toMatchObject({ state: 'paused', result: null });

    // While paused the worker keeps the job: heartbeats extend the lease and say `pause`; logs go in.
    ctx.clock.advance(30);
    const hb = await workerCall(ctx, worker.headers, job.id, 'heartbeat', { attempt: 1, progress: 0.5 });
    expect(hb.statusCode, hb.body).toBe(200);
    expect(hb.json()).toMatchObject({ command: 'pause' });
    expect(Date.parse(hb.json().lease_expires_at) - ctx.clock.now().getTime()).toBe(60_000);
    expect((await workerCall(ctx, worker.headers, job.id, 'log', { attempt: 1, lines: ['waiting'] })).statusCode).toBe(204);

    // A batch completion reports the same per item.
    const batch = await call(ctx, 'POST', '/api/v1/worker/complete-batch', worker.headers, { items: [{ id: job.id, attempt: 1, result: 1 }] });
    expect(batch.statusCode, batch.body).toBe(200);
    expect(batch.json()).toEqual({ results: [{ id: job.id, ok: false, code: 'job_paused' }] });

    expect((await resume(job.id)).json().state).toBe('running');
    const done = await workerCall(ctx, worker.headers, job.id, 'complete', { attempt: 1, result: { done: true } });
    expect(done.statusCode, done.body).toBe(200);
    const { job: finished, events } = await getJob(ctx, cast.owner, job.id);
    expect(finished).toMatchObject({ state: 'succeeded', result: { done: true } });
    expect(events.filter((e) => e.type === 'state').map((e) => e.data.state)).toEqual(['queued', 'running', 'paused', 'running', 'succeeded']);
  });

  it('answers lease_lost, not job_paused, to a worker that no longer holds the paused job', async () => {
    const q = queueName();
    await createQueue(ctx, cast.admin, { name: q });
    const job = await enqueue(ctx, cast.owner, q, { kind: 'k' });
    const worker = await cast.newWorker();
    const stranger = await cast.newWorker();
    await claim(ctx, worker.headers, { queues: [q] });
    await pause(job.id);
    const wrongAttempt = await workerCall(ctx, worker.headers, job.id, 'complete', { attempt: 2 });
    expect(wrongAttempt.json()).toMatchObject({ code: 'lease_lost' });
    const notHolder = await workerCall(ctx, stranger.headers, job.id, 'complete', { attempt: 1 });
    expect(notHolder.json()).toMatchObject({ code: 'lease_lost' });
  });

  it('lets a paused attempt fail: a retry stays paused until resumed, a final failure ends it', async () => {
    const q = queueName();
    await createQueue(ctx, cast.admin, { name: q, max_attempts: 2 });
    const job = await enqueue(ctx, cast.owner, q, { kind: 'k' });
    const worker = await cast.newWorker();
    await claim(ctx, worker.headers, { queues: [q] });
    await pause(job.id);
    const failed = await workerCall(ctx, worker.headers, job.id, 'fail', { attempt: 1, error: { message: 'boom' }, retryable: true });
    expect(failed.statusCode, failed.body).toBe(200);
    expect(failed.json().job).toMatchObject({ state: 'paused', worker_id: null, failures: 1 });
    // Nobody claims it while paused, even after its backoff.
    ctx.clock.advance(3600);
    expect((await claim(ctx, worker.headers, { queues: [q] })).statusCode).toBe(204);
    expect((await resume(job.id)).json().state).toBe('queued');
    expect((await claim(ctx, worker.headers, { queues: [q] })).json()).toMatchObject({ attempt: 2 });

    await pause(job.id);
    const final = await workerCall(ctx, worker.headers, job.id, 'fail', { attempt: 2, error: { message: 'for good' }, retryable: false });
    expect(final.json().job).toMatchObject({ state: 'failed' });
  });
});
