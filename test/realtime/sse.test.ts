/**
 * `GET /api/v1/events` (Server-Sent Events) against a real listening app: ordering, resume with
 * Last-Event-ID without gaps or duplicates, topic authorisation and queue filtering.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, type Fixture, loginCookie, makeApiKey, makeUser, type TestContext } from '../helpers/harness.js';
import { appendEvent, makeJob, makeQueue, progress, registerWorker, sseStreams, until } from './fixtures.js';

describe.each(dialects)('live events over SSE (%s)', (dialect) => {
  let ctx: TestContext;
  let base: string;
  let owner: Fixture;
  let ownerCookie: string;
  let other: Fixture;
  let otherCookie: string;
  let adminCookie: string;
  let queue: string;
  const streams = sseStreams(() => base);
  const sse = streams.open;

  beforeAll(async () => {
    ctx = await createTestContext(dialect, { env: { REALTIME_MAX_TOPICS: '3', REALTIME_KEEPALIVE_SECONDS: '1' } });
    base = await ctx.app.listen({ port: 0, host: '127.0.0.1' });
    owner = await makeUser(ctx);
    other = await makeUser(ctx);
    const admin = await makeUser(ctx, { role: 'admin' });
    ownerCookie = await loginCookie(ctx, owner);
    otherCookie = await loginCookie(ctx, other);
    adminCookie = await loginCookie(ctx, admin);
    queue = await makeQueue(ctx.gatehouse);
  });
  afterAll(async () => {
    await streams.closeAll();
    // fetch (undici) may leave a spare connection on which it never sends a request; Node's
    // closeIdleConnections does not count it as idle, so it would hold app.close() forever.
    ctx?.app.server.closeAllConnections();
    await ctx?.close();
  });

  it('streams every progress event of a job in order, with SSE framing and headers', async () => {
    const jobId = await makeJob(ctx.gatehouse, queue, owner.id);
    const client = await sse(`topics=job:${jobId}`, { cookie: ownerCookie });
    expect(client.status).toBe(200);
    expect(client.headers?.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(client.headers?.get('cache-control')).toBe('no-store');
    expect(client.headers?.get('x-accel-buffering')).toBe('no');
    expect(client.headers?.get('x-request-id')).toBeTruthy();
    await until(() => client.messages.some((m) => m.retry === '2000'), 2000, 'retry line');
    await until(() => ctx.gatehouse.hub.subscriptionCount > 0);

    const sent = [];
    for (let i = 1; i <= 200; i++) sent.push(await progress(ctx.gatehouse, jobId, i / 200));
    const events = await client.waitForEvents(200);
    expect(events).toHaveLength(200);
    expect(events.map((e) => e.seq)).toEqual(sent.map((e) => e.seq));
    for (let i = 1; i < events.length; i++) expect(events[i]!.seq).toBe(events[i - 1]!.seq + 1);
    expect(events.map((e) => (e.data as { progress: number }).progress)).toEqual(sent.map((e) => (e.data as { progress: number }).progress));
    const framed = client.messages.filter((m) => m.event === 'job.progress');
    expect(framed[0]!.id).toBe(String(sent[0]!.id));
    expect(JSON.parse(framed[0]!.data!)).toEqual({ ...sent[0], data: sent[0]!.data });
    expect(Object.keys(events[0]!).sort()).toEqual(['created_at', 'data', 'id', 'job_id', 'queue', 'seq', 'type']);
  });

  it('sends a keep-alive comment every REALTIME_KEEPALIVE_SECONDS', async () => {
    const jobId = await makeJob(ctx.gatehouse, queue, owner.id);
    const client = await sse(`topics=job:${jobId}`, { cookie: ownerCookie });
    await until(() => client.messages.some((m) => m.comments.includes('ping')), 3000, 'ping comment');
    await client.close();
  });

  it('resumes with Last-Event-ID: exactly the missed events, while new ones keep coming', async () => {
    const jobId = await makeJob(ctx.gatehouse, queue, owner.id);
    const first = await sse(`topics=job:${jobId}`, { cookie: ownerCookie });
    await until(() => ctx.gatehouse.hub.subscriptionCount > 0);
    for (let i = 1; i <= 50; i++) await progress(ctx.gatehouse, jobId, i / 1000);
    const seen = await first.waitForEvents(50);
    await first.close();
    await until(() => first.ended);

    // Missed while disconnected.
    for (let i = 51; i <= 120; i++) await progress(ctx.gatehouse, jobId, i / 1000);
    // Reconnect while more events are committed concurrently (the replay/live race).
    let stop = false;
    let n = 120;
    const writer = (async () => {
      while (!stop && n < 400) await progress(ctx.gatehouse, jobId, ++n / 1000);
    })();
    const lastId = String(seen.at(-1)!.id);
    const second = await sse(`topics=job:${jobId}`, { cookie: ownerCookie, 'last-event-id': lastId });
    expect(second.status).toBe(200);
    await until(() => second.events.length >= 30, 10_000, 'some replayed events');
    stop = true;
    await writer;
    const total = n + 1; // the state event plus n progress events
    const events = await second.waitForEvents(total - 51);
    await new Promise((resolve) => setTimeout(resolve, 100)); // nothing more (no duplicates) may follow
    const seqs = second.events.map((e) => e.seq);
    expect(seqs).toEqual(Array.from({ length: total - 51 }, (_, i) => 52 + i));
    expect(events[0]!.id).toBeGreaterThan(Number(lastId));
  });

  it('accepts ?last_event_id= like the header and replays from it', async () => {
    const jobId = await makeJob(ctx.gatehouse, queue, owner.id);
    const events = [];
    for (let i = 1; i <= 5; i++) events.push(await progress(ctx.gatehouse, jobId, i / 10));
    const client = await sse(`topics=job:${jobId}&last_event_id=${events[1]!.id}`, { cookie: ownerCookie });
    const got = await client.waitForEvents(3);
    expect(got.map((e) => e.seq)).toEqual([4, 5, 6]);
    await client.close();
  });

  it('a queue subscriber without jobs:manage sees only its own jobs; jobs:manage sees all', async () => {
    const q = await makeQueue(ctx.gatehouse);
    const mine = await sse(`topics=queue:${q}`, { cookie: ownerCookie });
    const all = await sse(`topics=queue:${q}`, { cookie: adminCookie });
    expect([mine.status, all.status]).toEqual([200, 200]);
    await until(() => ctx.gatehouse.hub.subscriptionCount >= 2);
    const ownJob = await makeJob(ctx.gatehouse, q, owner.id);
    const otherJob = await makeJob(ctx.gatehouse, q, other.id);
    await progress(ctx.gatehouse, otherJob, 0.5);
    await progress(ctx.gatehouse, ownJob, 0.5);
    await all.waitForEvents(4);
    await mine.waitForEvents(2);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(new Set(mine.events.map((e) => e.job_id))).toEqual(new Set([ownJob]));
    expect(mine.events).toHaveLength(2);
    expect(new Set(all.events.map((e) => e.job_id))).toEqual(new Set([ownJob, otherJob]));

    // Replay applies the same filter.
    const replay = await sse(`topics=queue:${q}&last_event_id=0`, { cookie: ownerCookie });
    await replay.waitForEvents(2);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(replay.events.every((e) => e.job_id === ownJob)).toBe(true);
    expect(replay.events).toHaveLength(2);
  });

  it('one event reaches a client subscribed to both its job and its queue once', async () => {
    const jobId = await makeJob(ctx.gatehouse, queue, owner.id);
    const client = await sse(`topics=job:${jobId},queue:${queue}`, { cookie: ownerCookie });
    await until(() => ctx.gatehouse.hub.subscriptionCount >= 2);
    for (let i = 1; i <= 10; i++) await progress(ctx.gatehouse, jobId, i / 10);
    await client.waitForEvents(10);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(client.events.map((e) => e.seq)).toEqual(Array.from({ length: 10 }, (_, i) => i + 2));
  });

  it('lets the worker holding a job watch it with its API key, and no other key', async () => {
    const jobId = await makeJob(ctx.gatehouse, queue, owner.id);
    const workerUser = await makeUser(ctx);
    const workerCookie = await loginCookie(ctx, workerUser);
    const key = await makeApiKey(ctx, { cookie: workerCookie }, { scopes: ['account:self', 'events:read'] });
    const otherKey = await makeApiKey(ctx, { cookie: workerCookie }, { scopes: ['account:self', 'events:read'] });
    const workerId = await registerWorker(ctx.gatehouse, workerUser.id, key.id);
    await registerWorker(ctx.gatehouse, workerUser.id, otherKey.id);
    const before = await sse(`topics=job:${jobId}`, { authorization: `Bearer ${key.secret}` });
    expect(before.status).toBe(403);

    await appendEvent(ctx.gatehouse, jobId, 'state', { state: 'running', from: 'queued', attempt: 1 }, { state: 'running', worker_id: workerId });
    const holder = await sse(`topics=job:${jobId}`, { authorization: `Bearer ${key.secret}` });
    expect(holder.status).toBe(200);
    const stranger = await sse(`topics=job:${jobId}`, { authorization: `Bearer ${otherKey.secret}` });
    expect(stranger.status).toBe(403);
    await until(() => ctx.gatehouse.hub.subscriptionCount > 0);
    await progress(ctx.gatehouse, jobId, 0.3);
    const [event] = await holder.waitForEvents(1);
    expect(event!.job_id).toBe(jobId);
  });

  const refusals: Array<{ name: string; query: () => Promise<string>; headers: () => Record<string, string>; status: number; code: string }> = [
    { name: 'no credentials', query: async () => `topics=queue:${queue}`, headers: () => ({}), status: 401, code: 'authentication_required' },
    {
      name: "another user's job",
      query: async () => `topics=job:${await makeJob(ctx.gatehouse, queue, owner.id)}`,
      headers: () => ({ cookie: otherCookie }),
      status: 403,
      code: 'forbidden',
    },
    {
      name: 'an unknown job',
      query: async () => 'topics=job:0190a0c0-0000-7000-8000-000000000000',
      headers: () => ({ cookie: ownerCookie }),
      status: 404,
      code: 'not_found',
    },
    { name: 'an unknown queue', query: async () => 'topics=queue:nope', headers: () => ({ cookie: ownerCookie }), status: 404, code: 'not_found' },
    {
      name: 'a queue the caller may not enqueue into',
      query: async () => `topics=queue:${await makeQueue(ctx.gatehouse, { enqueuePermission: 'special:enqueue' })}`,
      headers: () => ({ cookie: ownerCookie }),
      status: 403,
      code: 'forbidden',
    },
    { name: 'a malformed topic', query: async () => 'topics=job:nope', headers: () => ({ cookie: ownerCookie }), status: 400, code: 'validation_failed' },
    { name: 'no topic', query: async () => 'topics=,', headers: () => ({ cookie: ownerCookie }), status: 400, code: 'validation_failed' },
    {
      name: 'more than REALTIME_MAX_TOPICS topics',
      query: async () => 'topics=queue:a,queue:b,queue:c,queue:d',
      headers: () => ({ cookie: ownerCookie }),
      status: 400,
      code: 'validation_failed',
    },
    {
      name: 'a malformed Last-Event-ID',
      query: async () => `topics=queue:${queue}`,
      headers: () => ({ cookie: ownerCookie, 'last-event-id': 'abc' }),
      status: 400,
      code: 'validation_failed',
    },
  ];
  it.each(refusals)('refuses $name with $status before the stream starts', async ({ query, headers, status, code }) => {
    const client = await sse(await query(), headers());
    expect(client.status).toBe(status);
    expect(client.headers?.get('content-type')).toContain('application/problem+json');
    expect(JSON.parse(client.body).code).toBe(code);
  });

  it('releases its hub subscriptions when the client disconnects', async () => {
    await streams.closeAll();
    await until(() => ctx.gatehouse.hub.subscriptionCount === 0, 5000, 'subscriptions released');
    await until(() => ctx.gatehouse.live.connectionCount === 0, 5000, 'connections released');
    expect(ctx.gatehouse.live.keepAlive.size).toBe(0);
  });
});
