/**
 * Live progress end to end through the real job API (docs/jobs.md): a user enqueues, a worker
 * API key claims and heartbeats with progress; the owner's SSE stream and the worker's own
 * WebSocket see every event in order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, loginCookie, makeApiKey, makeUser, type TestContext } from '../helpers/harness.js';
import { SseClient, until, WsClient } from './fixtures.js';

describe.each(dialects)('live progress of real jobs (%s)', (dialect) => {
  let ctx: TestContext;
  let base: string;
  const clients: SseClient[] = [];

  beforeAll(async () => {
    ctx = await createTestContext(dialect);
    base = await ctx.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    for (const client of clients) await client.close();
    ctx?.app.server.closeAllConnections();
    await ctx?.close();
  });

  it('streams enqueue, claim and 200 heartbeats of progress to the owner, and to the worker holding the job', async () => {
    const admin = await makeUser(ctx, { role: 'admin' });
    const adminCookie = await loginCookie(ctx, admin);
    const owner = await makeUser(ctx);
    const ownerCookie = await loginCookie(ctx, owner);
    const created = await ctx.request({ method: 'POST', url: '/api/v1/queues', headers: { cookie: adminCookie }, payload: { name: 'live-e2e' } });
    expect(created.statusCode).toBe(201);
    const key = await makeApiKey(ctx, { cookie: adminCookie }, { scopes: ['jobs:claim'] });
    const worker = { authorization: `Bearer ${key.secret}` };

    const enqueued = await ctx.request({
      method: 'POST',
      url: '/api/v1/queues/live-e2e/jobs',
      headers: { cookie: ownerCookie },
      payload: { kind: 'count' },
    });
    expect(enqueued.statusCode).toBe(201);
    const jobId = enqueued.json().id as string;
    const sse = await SseClient.open(`${base}/api/v1/events?topics=job:${jobId}&last_event_id=0`, { cookie: ownerCookie });
    clients.push(sse);
    expect(sse.status).toBe(200);
    await sse.waitForEvents(1); // the replayed `queued` state event

    const claim = await ctx.request({ method: 'POST', url: '/api/v1/worker/claim', headers: worker, payload: { queues: ['live-e2e'], worker_name: 'w1' } });
    expect(claim.statusCode).toBe(200);
    const attempt = claim.json().attempt as number;
    const ws = await WsClient.connect(`${base.replace('http', 'ws')}/api/v1/ws`, worker);
    ws.send({ type: 'subscribe', topics: [`job:${jobId}`] });
    await ws.waitFor((m) => m.type === 'subscribed');

    for (let i = 1; i <= 200; i++) {
      const beat = await ctx.request({
        method: 'POST',
        url: `/api/v1/worker/jobs/${jobId}/heartbeat`,
        headers: worker,
        payload: { attempt, progress: i / 200, message: `step ${i}` },
      });
      expect(beat.statusCode).toBe(200);
    }
    await until(() => sse.events.filter((e) => e.type === 'progress').length >= 200, 15_000, '200 progress events over SSE');
    await until(() => ws.events.length >= 200, 15_000, '200 progress events over WebSocket');
    const seqs = sse.events.map((e) => e.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    const progressValues = sse.events.filter((e) => e.type === 'progress').map((e) => (e.data as { progress: number }).progress);
    expect(progressValues).toEqual(Array.from({ length: 200 }, (_, i) => (i + 1) / 200));
    expect(sse.events.some((e) => e.type === 'state' && (e.data as { state: string }).state === 'running')).toBe(true);
    const wsSeqs = ws.events.map((e) => e.seq);
    for (let i = 1; i < wsSeqs.length; i++) expect(wsSeqs[i]).toBe(wsSeqs[i - 1]! + 1);
    ws.close();
  }, 120_000); // 200 heartbeats over HTTP: 36 s once on a loaded 2-core machine (the default is 30 s)
});
