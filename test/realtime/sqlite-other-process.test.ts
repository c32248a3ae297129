/**
 * SQLite: job events committed by another process or connection on the same database file (the
 * `gatehouse jobs …` CLI beside a running server) reach the server's live streams, each once and
 * in order, interleaved with the server's own events (docs/jobs.md, "Live progress"); and a ban
 * by the CLI ends the user's open streams on the server (PRAGMA data_version shows the write).
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_ACTOR } from '../../src/cli/context.js';
import { createGatehouse, type Gatehouse } from '../../src/container.js';
import { cliFor, expectExit } from '../cli/cli-helpers.js';
import { createTestContext, loginCookie, makeUser, PUBLIC_URL, type TestContext } from '../helpers/harness.js';
import { killAllChildren } from '../helpers/server-process.js';
import { makeJob, makeQueue, SseClient, until, WsClient } from './fixtures.js';

describe('SQLite: events written by another process reach live streams', () => {
  let ctx: TestContext;
  let other: Gatehouse;
  let base: string;
  const clients: SseClient[] = [];

  beforeAll(async () => {
    ctx = await createTestContext('sqlite');
    base = await ctx.app.listen({ port: 0, host: '127.0.0.1' });
    await ctx.gatehouse.startBackground();
    // A second connection to the same file, as the CLI opens one.
    other = await createGatehouse(ctx.config, { clock: ctx.clock, logger: pino({ level: 'silent' }), skipMigrations: true });
  });
  afterAll(async () => {
    for (const client of clients) await client.close();
    await killAllChildren();
    await other?.close();
    ctx?.app.server.closeAllConnections();
    await ctx?.close();
  });

  it('streams a CLI enqueue, the server\'s own pause and another connection\'s cancel, each once, in order', async () => {
    const admin = await makeUser(ctx, { role: 'admin' });
    const cookie = await loginCookie(ctx, admin);
    const created = await ctx.request({ method: 'POST', url: '/api/v1/queues', headers: { cookie }, payload: { name: 'elsewhere' } });
    expect(created.statusCode).toBe(201);
    const sse = await SseClient.open(`${base}/api/v1/events?topics=queue:elsewhere`, { cookie });
    clients.push(sse);
    expect(sse.status).toBe(200);

    // 1. The real CLI, in its own process.
    const cli = cliFor(ctx.database);
    const enqueued = await cli(['jobs', 'enqueue', 'elsewhere', '--kind', 'from-cli', '--json']);
    expectExit(enqueued, 0);
    const jobId = (JSON.parse(enqueued.stdout) as { id: string }).id;
    await until(() => sse.events.length >= 1, 10_000, 'the CLI enqueue on the stream');

    // 2. The server itself (published in process; must not come a second time through the poll).
    const paused = await ctx.request({ method: 'POST', url: `/api/v1/jobs/${jobId}/pause`, headers: { cookie } });
    expect(paused.statusCode).toBe(200);
    await until(() => sse.events.length >= 2, 10_000, 'the pause on the stream');

    // 3. Another connection in this process.
    await other.jobs.cancel(jobId, null, CLI_ACTOR);
    await until(() => sse.events.length >= 3, 10_000, 'the cancel on the stream');

    // Later polls must not repeat anything.
    await new Promise((resolve) => setTimeout(resolve, 800));
    const events = sse.events;
    expect(events.map((e) => [e.job_id, e.seq, e.data.state])).toEqual([
      [jobId, 1, 'queued'],
      [jobId, 2, 'paused'],
      [jobId, 3, 'cancelled'],
    ]);
    expect(new Set(events.map((e) => e.id)).size).toBe(3);
  });

  it('a ban by the CLI in its own process ends the user\'s open SSE stream and WebSocket on the server', { timeout: 90_000 }, async () => {
    const user = await makeUser(ctx);
    const cookie = await loginCookie(ctx, user);
    const queue = await makeQueue(ctx.gatehouse);
    const jobId = await makeJob(ctx.gatehouse, queue, user.id);
    const sse = await SseClient.open(`${base}/api/v1/events?topics=job:${jobId}`, { cookie });
    clients.push(sse);
    expect(sse.status).toBe(200);
    const ws = await WsClient.connect(`${base.replace('http', 'ws')}/api/v1/ws`, { cookie, origin: PUBLIC_URL });
    ws.send({ type: 'subscribe', topics: [`job:${jobId}`] });
    await ws.waitFor((m) => m.type === 'subscribed');

    expectExit(await cliFor(ctx.database)(['users', 'ban', user.email, '--reason', 'abuse']), 0);
    await until(() => sse.ended && ws.closed, 30_000, 'streams closed after the CLI ban');
    expect(sse.messages.at(-1)?.event).toBe('error');
    expect(JSON.parse(sse.messages.at(-1)?.data ?? '{}')).toMatchObject({ code: 'session_expired' });
    expect(ws.closeCode).toBe(4401);
  });
});
