/**
 * Feature modules' live topics (`<prefix>:<id>`) over SSE and WebSocket against a real listening
 * app, on both dialects: events published inside a transaction arrive after commit and never after
 * a rollback; they share the global id space with job events, so one stream mixing both kinds
 * resumes from one Last-Event-ID without gaps or duplicates; the module's authoriser decides who
 * may watch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tallyModule } from '../../examples/tally/index.js';
import { defineModule } from '../../src/modules/contract.js';
import type { TopicEventView } from '../../src/event-log/events.js';
import { AppError } from '../../src/shared/errors.js';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, type Fixture, loginCookie, makeUser, type TestContext } from '../helpers/harness.js';
import { call, claim, JOBS_ENV, makeCast, workerCall } from '../jobs/job-fixtures.js';
import { makeJob, makeQueue, progress, type SseClient, sseStreams, until, WsClient } from './fixtures.js';

/** A module whose `note:{id}` topics anyone may watch when the id starts with `ok`; `missing…` is unknown. */
const notesModule = defineModule<null>({
  name: 'notes-topics',
  description: 'test: a topic family with a simple authoriser',
  create: () => null,
  topics: () => [
    {
      prefix: 'note',
      description: 'test notes',
      async authorize(_principal, id) {
        if (id.startsWith('missing')) throw new AppError('not_found', `There is no note ${id}.`);
        if (!id.startsWith('ok')) throw new AppError('forbidden', `You may not watch note ${id}.`);
      },
    },
  ],
});

describe.each(dialects)('module topics over SSE and WebSocket (%s)', (dialect) => {
  let ctx: TestContext;
  let base: string;
  let owner: Fixture;
  let ownerCookie: string;
  let queue: string;

  const streams = sseStreams(() => base);
  const sse = streams.open;
  /** Publishes on `topic` in a transaction of its own. */
  const publish = (topic: string, type: string, data: Record<string, unknown>) =>
    ctx.gatehouse.database.write((tx) => ctx.gatehouse.topics.publish(tx, topic, type, data));
  /** Topic events of one SSE client, parsed. */
  const topicEvents = (client: SseClient) =>
    client.messages.filter((m) => m.data !== undefined && m.event?.startsWith('note.')).map((m) => JSON.parse(m.data!) as TopicEventView);

  beforeAll(async () => {
    ctx = await createTestContext(dialect, { env: { ...JOBS_ENV }, modules: [tallyModule, notesModule] });
    base = await ctx.app.listen({ port: 0, host: '127.0.0.1' });
    owner = await makeUser(ctx);
    ownerCookie = await loginCookie(ctx, owner);
    queue = await makeQueue(ctx.gatehouse);
  }, 120_000);
  afterAll(async () => {
    await streams.closeAll();
    ctx?.app.server.closeAllConnections();
    await ctx?.close();
  });

  it('delivers committed events with SSE framing; a rolled-back publish is neither stored nor sent', async () => {
    const client = await sse('topics=note:ok-frame', { cookie: ownerCookie });
    expect(client.status, client.body).toBe(200);
    await until(() => ctx.gatehouse.hub.subscriptionCount > 0);
    const first = await publish('note:ok-frame', 'note.added', { text: 'one' });
    await expect(
      ctx.gatehouse.database.write(async (tx) => {
        await ctx.gatehouse.topics.publish(tx, 'note:ok-frame', 'note.added', { text: 'rolled back' });
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    const second = await publish('note:ok-frame', 'note.added', { text: 'two' });
    await until(() => topicEvents(client).length >= 2);
    const framed = client.messages.filter((m) => m.event === 'note.added');
    expect(framed.map((m) => m.id)).toEqual([String(first.id), String(second.id)]);
    expect(topicEvents(client)).toEqual([first, second]);
    expect(Object.keys(first).sort()).toEqual(['created_at', 'data', 'id', 'seq', 'topic', 'type']);
    // The rolled-back event took no seq: the topic counts 1, 2.
    expect([first.seq, second.seq]).toEqual([1, 2]);
    expect(await ctx.gatehouse.topics.latest('note:ok-frame')).toEqual([first, second]);
  });

  it('shares one id space with job events: a mixed stream resumes from one Last-Event-ID, exactly', async () => {
    const jobId = await makeJob(ctx.gatehouse, queue, owner.id);
    const topics = `topics=note:ok-mixed,job:${jobId}`;
    const live = await sse(topics, { cookie: ownerCookie });
    await until(() => ctx.gatehouse.hub.subscriptionCount >= 3);
    const sent: number[] = [];
    for (let i = 0; i < 6; i++) {
      sent.push((await publish('note:ok-mixed', 'note.added', { i })).id);
      sent.push((await progress(ctx.gatehouse, jobId, (i + 1) / 6)).id);
    }
    // Strictly increasing across the two tables.
    for (let i = 1; i < sent.length; i++) expect(sent[i]).toBeGreaterThan(sent[i - 1]!);
    await until(() => live.messages.filter((m) => m.id !== undefined).length >= sent.length);
    const received = live.messages.filter((m) => m.id !== undefined && (m.event === 'note.added' || m.event === 'job.progress')).map((m) => Number(m.id));
    expect(received).toEqual(sent);

    // Reconnect after the 5th event: the 7 after it are replayed, nothing twice, then live ones follow.
    const resumed = await sse(topics, { cookie: ownerCookie, 'last-event-id': String(sent[4]) });
    await until(() => resumed.messages.filter((m) => m.event === 'note.added' || m.event === 'job.progress').length >= 7);
    const later = (await publish('note:ok-mixed', 'note.added', { i: 'live' })).id;
    await until(() => resumed.messages.some((m) => m.id === String(later)));
    const replayed = resumed.messages.filter((m) => m.event === 'note.added' || m.event === 'job.progress').map((m) => Number(m.id));
    expect(replayed).toEqual([...sent.slice(5), later]);
  });

  it('asks the module who may watch: 403, 404, and 400 for an unknown family', async () => {
    const forbidden = await sse('topics=note:secret', { cookie: ownerCookie });
    expect(forbidden.status).toBe(403);
    expect(JSON.parse(forbidden.body)).toMatchObject({ code: 'forbidden' });
    const missing = await sse('topics=note:missing-1', { cookie: ownerCookie });
    expect(missing.status).toBe(404);
    const unknown = await sse('topics=nothing:1', { cookie: ownerCookie });
    expect(unknown.status).toBe(400);
    expect(JSON.parse(unknown.body).detail).toContain('note:{id}');
    const malformed = await sse('topics=note:a,b', { cookie: ownerCookie });
    expect(malformed.status).toBe(400);
  });

  it('refuses to publish on an undeclared family or with a malformed type', async () => {
    await expect(publish('nothing:1', 'nothing.happened', {})).rejects.toThrow(/No module declares/);
    await expect(publish('note:ok', 'job.progress', {})).rejects.toThrow(/not a topic event type/);
    await expect(publish('note:ok', 'error', {})).rejects.toThrow(/not a topic event type/);
  });

  it('WebSocket subscribers get topic events, and `after` replays them', async () => {
    const before = await publish('note:ok-ws', 'note.added', { n: 1 });
    const missed = await publish('note:ok-ws', 'note.added', { n: 2 });
    const ws = await WsClient.connect(`${base.replace('http', 'ws')}/api/v1/ws`, { cookie: ownerCookie, origin: 'http://gatehouse.test' });
    try {
      ws.send({ type: 'subscribe', topics: ['note:ok-ws'], after: before.id });
      await until(() => ws.received.some((m) => m.type === 'event'));
      const live = await publish('note:ok-ws', 'note.added', { n: 3 });
      await until(() => ws.received.filter((m) => m.type === 'event').length >= 2);
      const events = ws.received.filter((m) => m.type === 'event').map((m) => m.event as TopicEventView);
      expect(events).toEqual([missed, live]);
    } finally {
      ws.socket.close();
    }
  });

  it('the example module publishes from its job hook: tally.settled arrives with the recorded outcome', async () => {
    const worker = (await makeCast(ctx).then((cast) => cast.newWorker('tally-worker'))).headers;
    const created = await call(ctx, 'POST', '/api/v1/tallies', { cookie: ownerCookie }, { numbers: [2, 3] });
    expect(created.statusCode, created.body).toBe(202);
    const tally = created.json<{ id: string; job_id: string }>();
    const client = await sse(`topics=tally:${tally.id}`, { cookie: ownerCookie });
    expect(client.status, client.body).toBe(200);
    const claimed = await claim(ctx, worker, { queues: ['tally'], wait_s: 0 });
    expect(claimed.statusCode, claimed.body).toBe(200);
    const { attempt } = claimed.json<{ attempt: number }>();
    const done = await workerCall(ctx, worker, tally.job_id, 'complete', { attempt, result: { sum: 5, count: 2 } });
    expect(done.statusCode, done.body).toBe(200);
    await until(() => client.messages.some((m) => m.event === 'tally.settled'));
    const settled = JSON.parse(client.messages.find((m) => m.event === 'tally.settled')!.data!) as TopicEventView;
    expect(settled).toMatchObject({ topic: `tally:${tally.id}`, seq: 1, data: { status: 'done', outcome: 'succeeded', result: { sum: 5, count: 2 } } });
    // Another user may not watch it (the module's authoriser: not found for them).
    const stranger = await makeUser(ctx);
    const denied = await sse(`topics=tally:${tally.id}`, { cookie: await loginCookie(ctx, stranger) });
    expect(denied.status).toBe(404);
    // Deleting the tally deletes its events.
    const removed = await call(ctx, 'DELETE', `/api/v1/tallies/${tally.id}`, { cookie: ownerCookie });
    expect(removed.statusCode, removed.body).toBe(204);
    expect(await ctx.gatehouse.topics.latest(`tally:${tally.id}`)).toEqual([]);
  });
});
