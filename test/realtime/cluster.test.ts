/**
 * Live events across instances and across shutdown: two Gatehouse instances on one database
 * (PostgreSQL: NOTIFY gatehouse_job_events carries the events), and open streams ended by
 * app.close().
 */
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { createGatehouse, type Gatehouse } from '../../src/container.js';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, loginCookie, makeUser, type TestContext } from '../helpers/harness.js';
import { makeJob, makeQueue, progress, SseClient, until, WsClient } from './fixtures.js';

describe.each(dialects.filter((d) => d === 'postgres'))('live events across instances (%s)', (dialect) => {
  let a: TestContext;
  let b: { gatehouse: Gatehouse; app: FastifyInstance; base: string };
  const clients: SseClient[] = [];

  beforeAll(async () => {
    a = await createTestContext(dialect);
    const gatehouse = await createGatehouse(a.config, { clock: a.clock, logger: pino({ level: 'silent' }) });
    const app = await buildApp(gatehouse);
    b = { gatehouse, app, base: await app.listen({ port: 0, host: '127.0.0.1' }) };
  });
  afterAll(async () => {
    for (const client of clients) await client.close();
    b?.app.server.closeAllConnections();
    await b?.app.close();
    await b?.gatehouse.close();
    await a?.close();
  });

  it('events committed and published on instance A reach an SSE subscriber on instance B, in order', async () => {
    const owner = await makeUser(a);
    const cookie = await loginCookie(a, owner);
    const queue = await makeQueue(a.gatehouse);
    const jobId = await makeJob(a.gatehouse, queue, owner.id);
    const client = await SseClient.open(`${b.base}/api/v1/events?topics=job:${jobId},queue:${queue}`, { cookie });
    clients.push(client);
    expect(client.status).toBe(200);
    await until(() => b.gatehouse.hub.subscriptionCount === 2);
    for (let i = 1; i <= 100; i++) await progress(a.gatehouse, jobId, i / 100);
    const events = await client.waitForEvents(100);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 2));
    expect(client.events).toHaveLength(100);
  });
});

describe.each(dialects)('shutdown with open streams (%s)', (dialect) => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext(dialect);
  });
  afterAll(async () => {
    await ctx?.gatehouse.close();
    await ctx?.database.drop();
    await ctx?.smtp.stop();
  });

  it('app.close() ends open SSE streams and WebSockets instead of hanging on them', async () => {
    const base = await ctx.app.listen({ port: 0, host: '127.0.0.1' });
    const owner = await makeUser(ctx);
    const cookie = await loginCookie(ctx, owner);
    const queue = await makeQueue(ctx.gatehouse);
    const sse = await SseClient.open(`${base}/api/v1/events?topics=queue:${queue}`, { cookie });
    const ws = await WsClient.connect(`${base.replace('http', 'ws')}/api/v1/ws`, { cookie, origin: 'http://gatehouse.test' });
    ws.send({ type: 'subscribe', topics: [`queue:${queue}`] });
    await ws.waitFor((m) => m.type === 'subscribed');
    expect(ctx.gatehouse.live.connectionCount).toBe(2);
    // Every connection now carries a response in progress: app.close() must end them itself.
    await ctx.app.close();
    await until(() => sse.ended && ws.closed, 5000, 'streams ended');
    expect(ctx.gatehouse.live.connectionCount).toBe(0);
    expect(ctx.gatehouse.hub.subscriptionCount).toBe(0);
  });
});
