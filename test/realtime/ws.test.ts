/**
 * `GET /api/v1/ws` against a real listening app with the `ws` client: authentication on the
 * upgrade (bearer, cookie + Origin check), subscribe / unsubscribe / after, errors that keep the
 * socket open, and pings.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, type Fixture, loginCookie, makeUser, passwordGrant, PUBLIC_URL, type TestContext } from '../helpers/harness.js';
import { makeJob, makeQueue, progress, until, WsClient } from './fixtures.js';

describe.each(dialects)('live events over WebSocket (%s)', (dialect) => {
  let ctx: TestContext;
  let wsUrl: string;
  let owner: Fixture;
  let ownerCookie: string;
  let bearer: string;
  let otherCookie: string;
  let queue: string;
  const sockets: WsClient[] = [];

  const connect = async (headers: Record<string, string>) => {
    const client = await WsClient.connect(wsUrl, headers);
    sockets.push(client);
    return client;
  };

  beforeAll(async () => {
    ctx = await createTestContext(dialect, { env: { REALTIME_MAX_TOPICS: '3', REALTIME_KEEPALIVE_SECONDS: '1' } });
    const base = await ctx.app.listen({ port: 0, host: '127.0.0.1' });
    wsUrl = `${base.replace('http', 'ws')}/api/v1/ws`;
    owner = await makeUser(ctx);
    const other = await makeUser(ctx);
    ownerCookie = await loginCookie(ctx, owner);
    otherCookie = await loginCookie(ctx, other);
    bearer = (await passwordGrant(ctx, owner)).access_token;
    queue = await makeQueue(ctx.gatehouse);
  });
  afterAll(async () => {
    for (const client of sockets) client.close();
    await ctx?.close();
  });

  it('subscribes with a bearer token, receives events in order, and unsubscribes', async () => {
    const jobId = await makeJob(ctx.gatehouse, queue, owner.id);
    const client = await connect({ authorization: `Bearer ${bearer}` });
    client.send({ type: 'subscribe', topics: [`job:${jobId}`] });
    expect(await client.waitFor((m) => m.type === 'subscribed')).toEqual({ type: 'subscribed', topics: [`job:${jobId}`] });
    for (let i = 1; i <= 200; i++) await progress(ctx.gatehouse, jobId, i / 200);
    await until(() => client.events.length >= 200, 10_000, '200 events');
    expect(client.events.map((e) => e.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 2));
    expect(client.events.every((e) => e.job_id === jobId && e.type === 'progress')).toBe(true);

    const mark = client.received.length;
    // Written in capitals: topics are matched in their normal form, as on subscribe.
    client.send({ type: 'unsubscribe', topics: [`job:${jobId.toUpperCase()}`] });
    expect(await client.waitFor((m) => m.type === 'unsubscribed', mark)).toEqual({ type: 'unsubscribed', topics: [`job:${jobId}`] });
    await progress(ctx.gatehouse, jobId, 1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(client.events).toHaveLength(200);
  });

  it('replays after a given event id, then goes live without gaps or duplicates', async () => {
    const jobId = await makeJob(ctx.gatehouse, queue, owner.id);
    const early = [];
    for (let i = 1; i <= 20; i++) early.push(await progress(ctx.gatehouse, jobId, i / 100));
    const client = await connect({ authorization: `Bearer ${bearer}` });
    let n = 20;
    const writer = (async () => {
      while (n < 80) await progress(ctx.gatehouse, jobId, ++n / 100);
    })();
    client.send({ type: 'subscribe', topics: [`job:${jobId}`], after: early[9]!.id });
    await writer;
    await until(() => client.events.length >= 81 - 11, 10_000, 'replayed and live events');
    await new Promise((resolve) => setTimeout(resolve, 100));
    // early[9] is seq 11: everything from seq 12 to 81 exactly once, in order.
    expect(client.events.map((e) => e.seq)).toEqual(Array.from({ length: 70 }, (_, i) => i + 12));
    const subscribedAt = client.received.findIndex((m) => m.type === 'subscribed');
    const firstEventAt = client.received.findIndex((m) => m.type === 'event');
    expect(subscribedAt).toBeLessThan(firstEventAt);
  });

  it('answers bad messages and forbidden topics with an error and keeps the socket open', async () => {
    const othersJob = await makeJob(ctx.gatehouse, queue, null);
    const client = await connect({ cookie: ownerCookie, origin: PUBLIC_URL });
    const cases: Array<[unknown, string]> = [
      ['not json', 'malformed_json'],
      [{ type: 'shout' }, 'bad_request'],
      [{ type: 'subscribe', topics: 'job:x' }, 'validation_failed'],
      [{ type: 'subscribe', topics: ['job:nope'] }, 'validation_failed'],
      [{ type: 'subscribe', topics: ['queue:a', 'queue:b', 'queue:c', 'queue:d'] }, 'validation_failed'],
      [{ type: 'subscribe', topics: [`job:${othersJob}`] }, 'forbidden'],
      [{ type: 'subscribe', topics: ['job:0190a0c0-0000-7000-8000-000000000000'] }, 'not_found'],
      [{ type: 'subscribe', topics: [`job:${othersJob}`], after: -1 }, 'validation_failed'],
    ];
    for (const [message, code] of cases) {
      const mark = client.received.length;
      client.send(message);
      const reply = await client.waitFor((m) => m.type === 'error', mark);
      expect(reply.code, JSON.stringify(message)).toBe(code);
      expect(typeof reply.detail).toBe('string');
    }
    expect(client.closed).toBe(false);
    const jobId = await makeJob(ctx.gatehouse, queue, owner.id);
    client.send({ type: 'subscribe', topics: [`job:${jobId}`] });
    await client.waitFor((m) => m.type === 'subscribed');
    await progress(ctx.gatehouse, jobId, 0.5);
    await until(() => client.events.length === 1);
  });

  it("refuses another user's job and shows a queue subscriber only its own jobs", async () => {
    const q = await makeQueue(ctx.gatehouse);
    const client = await connect({ cookie: otherCookie, origin: PUBLIC_URL });
    const ownersJob = await makeJob(ctx.gatehouse, q, owner.id);
    client.send({ type: 'subscribe', topics: [`job:${ownersJob}`] });
    expect((await client.waitFor((m) => m.type === 'error')).code).toBe('forbidden');
    client.send({ type: 'subscribe', topics: [`queue:${q}`] });
    await client.waitFor((m) => m.type === 'subscribed');
    await progress(ctx.gatehouse, ownersJob, 0.5);
    const me = ctx.gatehouse; // the other user's own job
    const otherUser = (await ctx.request({ url: '/api/v1/users/me', headers: { cookie: otherCookie } })).json().id as string;
    const mine = await makeJob(me, q, otherUser);
    await until(() => client.events.length >= 1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(client.events.map((e) => e.job_id)).toEqual([mine]);
  });

  it('refuses an upgrade without credentials (401) and a cookie upgrade from a foreign origin (403)', async () => {
    await expect(WsClient.connect(wsUrl)).rejects.toThrow('Unexpected server response: 401');
    await expect(WsClient.connect(wsUrl, { cookie: ownerCookie, origin: 'https://evil.example' })).rejects.toThrow(
      'Unexpected server response: 403',
    );
    // A bearer token is never attached by a browser on its own: no Origin check.
    const client = await connect({ authorization: `Bearer ${bearer}`, origin: 'https://elsewhere.example' });
    expect(client.closed).toBe(false);
  });

  it('pings through the shared interval and keeps answering sockets open', async () => {
    const client = await connect({ authorization: `Bearer ${bearer}` });
    let pings = 0;
    client.socket.on('ping', () => (pings += 1));
    await until(() => pings >= 2, 4000, 'two pings');
    expect(client.closed).toBe(false);
  });

  it('closes a socket that stops answering pings', async () => {
    const client = await connect({ authorization: `Bearer ${bearer}` });
    await until(() => ctx.gatehouse.live.connectionCount === sockets.filter((s) => !s.closed).length);
    const before = ctx.gatehouse.live.connectionCount;
    // Stop reading: the client's automatic pongs can no longer be produced.
    client.socket.pause();
    await until(() => ctx.gatehouse.live.connectionCount === before - 1, 5000, 'dead socket dropped');
  });

  it('releases every subscription when the sockets close', async () => {
    for (const client of sockets) client.close();
    await until(() => ctx.gatehouse.live.connectionCount === 0, 5000, 'connections released');
    expect(ctx.gatehouse.hub.subscriptionCount).toBe(0);
    expect(ctx.gatehouse.live.keepAlive.size).toBe(0);
  });
});
