/**
 * Open SSE streams and WebSockets end when the credential they were opened with is revoked —
 * logout, password change, ban, deactivation, API key revocation — on this instance and on
 * another one sharing the database; a subscribe on an old socket re-checks the credential; and
 * a user may hold only REALTIME_MAX_CONNECTIONS_PER_USER live connections at once.
 */
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { ROLE_PERMISSIONS } from '../../src/access/permissions.js';
import { createGatehouse, type Gatehouse } from '../../src/container.js';
import { ACCESS_ENV, bearer, call, type Headers, makePrincipals, type Principals } from '../access/access-fixtures.js';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, loginCookie, makeApiKey, makeUser, passwordGrant, PUBLIC_URL, type TestContext } from '../helpers/harness.js';
import { makeJob, makeQueue, SseClient, until, WsClient } from './fixtures.js';

/** Everything a plain user may do: their API keys carry all of it, so a key can follow their jobs. */
const USER_SCOPES = [...ROLE_PERMISSIONS.user];

/** One SSE stream and one WebSocket, both following the same job. */
interface Streams {
  sse: SseClient;
  ws: WsClient;
}

/** The credential kinds a stream can be opened with. */
type Credential = 'cookie' | 'jwt' | 'api key';

describe.each(dialects)('live streams end when their credential is revoked (%s)', (dialect) => {
  let ctx: TestContext;
  let base: string;
  let admin: Principals;
  let queue: string;
  const sseClients: SseClient[] = [];
  const wsClients: WsClient[] = [];

  beforeAll(async () => {
    ctx = await createTestContext(dialect, { env: ACCESS_ENV });
    base = await ctx.app.listen({ port: 0, host: '127.0.0.1' });
    admin = await makePrincipals(ctx, { role: 'admin' });
    queue = await makeQueue(ctx.gatehouse);
  });
  afterAll(async () => {
    for (const client of sseClients) await client.close();
    for (const client of wsClients) client.close();
    await ctx?.close();
  });

  /** A user with a job of their own and a live credential of every kind. */
  const makeOwner = async () => {
    const user = await makeUser(ctx);
    const cookie = { cookie: await loginCookie(ctx, user) };
    const jwt = bearer((await passwordGrant(ctx, user)).access_token);
    const key = await makeApiKey(ctx, cookie, { scopes: USER_SCOPES });
    const jobId = await makeJob(ctx.gatehouse, queue, user.id);
    const headers: Record<Credential, Headers> = { cookie, jwt, 'api key': key.headers };
    return { user, headers, keyId: key.id, jobId };
  };

  /** Opens an SSE stream and a subscribed WebSocket on `jobId` with `headers`. */
  const openStreams = async (headers: Headers, jobId: string): Promise<Streams> => {
    const sse = await SseClient.open(`${base}/api/v1/events?topics=job:${jobId}`, headers);
    sseClients.push(sse);
    expect(sse.status, sse.body).toBe(200);
    const ws = await WsClient.connect(`${base.replace('http', 'ws')}/api/v1/ws`, { ...headers, origin: PUBLIC_URL });
    wsClients.push(ws);
    ws.send({ type: 'subscribe', topics: [`job:${jobId}`] });
    await ws.waitFor((m) => m.type === 'subscribed');
    // The SSE stream is registered once its first bytes (`retry:`) arrived.
    await until(() => sse.messages.length > 0, 5000, 'SSE stream open');
    return { sse, ws };
  };

  /** Both streams were ended the documented way: an SSE `error` problem, WebSocket close 4401. */
  const expectRevoked = async ({ sse, ws }: Streams) => {
    await until(() => sse.ended && ws.closed, 10_000, 'streams closed after the revocation');
    const last = sse.messages.at(-1);
    expect(last?.event).toBe('error');
    expect(JSON.parse(last?.data ?? '{}')).toMatchObject({ status: 401, code: 'session_expired', type: '/problems/session_expired' });
    expect(ws.closeCode).toBe(4401);
    expect(ws.closeReason).toBe('credential revoked');
    expect(ws.received.at(-1)).toMatchObject({ type: 'error', code: 'session_expired' });
  };

  const stillOpen = ({ sse, ws }: Streams) => !sse.ended && !ws.closed;

  it('logout ends the streams of that session, not those of another session', async () => {
    const owner = await makeOwner();
    const mine = await openStreams(owner.headers.cookie, owner.jobId);
    const other = await openStreams(owner.headers.jwt, owner.jobId);
    expect((await call(ctx, 'POST', '/api/v1/auth/logout', owner.headers.cookie)).statusCode).toBe(204);
    await expectRevoked(mine);
    await ctx.gatehouse.live.settled();
    expect(stillOpen(other)).toBe(true);
  });

  it('a password change ends the streams of the other sessions; the current one keeps its own', async () => {
    const owner = await makeOwner();
    const elsewhere = await openStreams(owner.headers.jwt, owner.jobId);
    const here = await openStreams(owner.headers.cookie, owner.jobId);
    const res = await call(ctx, 'POST', '/api/v1/auth/password/change', owner.headers.cookie, {
      current_password: owner.user.password,
      new_password: 'copper-meadow-whistle-77',
    });
    expect(res.statusCode, res.body).toBe(204);
    await expectRevoked(elsewhere);
    await ctx.gatehouse.live.settled();
    expect(stillOpen(here)).toBe(true);
  });

  it('a ban ends the streams of every credential of the user (cookie, bearer token, API key)', async () => {
    const owner = await makeOwner();
    const streams = [
      await openStreams(owner.headers.cookie, owner.jobId),
      await openStreams(owner.headers.jwt, owner.jobId),
      await openStreams(owner.headers['api key'], owner.jobId),
    ];
    const bystander = await makeOwner();
    const unaffected = await openStreams(bystander.headers.cookie, bystander.jobId);
    const res = await call(ctx, 'POST', `/api/v1/users/${owner.user.id}/ban`, admin.apiKey, { reason: 'spam' });
    expect(res.statusCode, res.body).toBe(200);
    for (const s of streams) await expectRevoked(s);
    await ctx.gatehouse.live.settled();
    expect(stillOpen(unaffected)).toBe(true);
  });

  it('deactivation by an admin ends the streams of every credential of the user', async () => {
    const owner = await makeOwner();
    const streams = [await openStreams(owner.headers.cookie, owner.jobId), await openStreams(owner.headers['api key'], owner.jobId)];
    const res = await call(ctx, 'PATCH', `/api/v1/users/${owner.user.id}`, admin.apiKey, { status: 'deactivated' });
    expect(res.statusCode, res.body).toBe(200);
    for (const s of streams) await expectRevoked(s);
  });

  it('revoking an API key ends the streams opened with it, not those of the user\'s session', async () => {
    const owner = await makeOwner();
    const keyStreams = await openStreams(owner.headers['api key'], owner.jobId);
    const sessionStreams = await openStreams(owner.headers.cookie, owner.jobId);
    expect((await call(ctx, 'DELETE', `/api/v1/api-keys/${owner.keyId}`, owner.headers.cookie)).statusCode).toBe(204);
    await expectRevoked(keyStreams);
    await ctx.gatehouse.live.settled();
    expect(stillOpen(sessionStreams)).toBe(true);
  });

  it('a subscribe on an old socket re-checks the credential: refused (4401) once it was revoked, even unannounced', async () => {
    const owner = await makeOwner();
    const { ws } = await openStreams(owner.headers.cookie, owner.jobId);
    const second = await makeJob(ctx.gatehouse, queue, owner.user.id);
    // Revoked behind the server's back (no notification, no cache invalidation): only a fresh
    // read of the session can tell.
    await ctx.gatehouse.database.db
      .updateTable('session')
      .set({ revoked_at: new Date().toISOString(), revoke_reason: 'test' })
      .where('user_id', '=', owner.user.id)
      .execute();
    expect(ws.closed).toBe(false);
    const mark = ws.received.length;
    ws.send({ type: 'subscribe', topics: [`job:${second}`] });
    await until(() => ws.closed, 10_000, 'socket closed');
    expect(ws.closeCode).toBe(4401);
    expect(ws.received.slice(mark)).toEqual([expect.objectContaining({ type: 'error', code: 'session_expired' })]);
  });
});

describe.each(dialects)('live connections per user (%s)', (dialect) => {
  let ctx: TestContext;
  let base: string;
  const sseClients: SseClient[] = [];
  const wsClients: WsClient[] = [];

  beforeAll(async () => {
    ctx = await createTestContext(dialect, { env: { ...ACCESS_ENV, REALTIME_MAX_CONNECTIONS_PER_USER: '2' } });
    base = await ctx.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    for (const client of sseClients) await client.close();
    for (const client of wsClients) client.close();
    await ctx?.close();
  });

  it('refuses a third SSE stream or WebSocket with a 429 problem, counts per user, and frees the slot on close', async () => {
    const queue = await makeQueue(ctx.gatehouse);
    const user = await makeUser(ctx);
    const cookie = await loginCookie(ctx, user);
    const jobId = await makeJob(ctx.gatehouse, queue, user.id);
    const sseUrl = `${base}/api/v1/events?topics=job:${jobId}`;
    const wsUrl = `${base.replace('http', 'ws')}/api/v1/ws`;
    const open = async () => {
      const client = await SseClient.open(sseUrl, { cookie });
      sseClients.push(client);
      return client;
    };

    const first = await open();
    const ws = await WsClient.connect(wsUrl, { cookie, origin: PUBLIC_URL });
    wsClients.push(ws);
    expect(first.status).toBe(200);
    await until(() => ctx.gatehouse.live.connectionsOf(user.id) === 2, 5000, 'two connections');

    const third = await open();
    expect(third.status).toBe(429);
    expect(third.headers?.get('content-type')).toContain('application/problem+json');
    expect(JSON.parse(third.body)).toMatchObject({ status: 429, code: 'too_many_connections', limit: 2 });
    await expect(WsClient.connect(wsUrl, { cookie, origin: PUBLIC_URL })).rejects.toThrow('Unexpected server response: 429');

    // Another user is not affected by this one's connections.
    const other = await makeUser(ctx);
    const otherJob = await makeJob(ctx.gatehouse, queue, other.id);
    const theirs = await SseClient.open(`${base}/api/v1/events?topics=job:${otherJob}`, { cookie: await loginCookie(ctx, other) });
    sseClients.push(theirs);
    expect(theirs.status).toBe(200);

    // Closing one frees its slot.
    ws.close();
    await until(() => ctx.gatehouse.live.connectionsOf(user.id) === 1, 5000, 'the socket released');
    const again = await open();
    expect(again.status).toBe(200);
  });
});

describe.each(dialects)('revocation across instances (%s)', (dialect) => {
  let a: TestContext;
  let b: { gatehouse: Gatehouse; app: FastifyInstance; base: string };
  const sseClients: SseClient[] = [];
  const wsClients: WsClient[] = [];

  beforeAll(async () => {
    a = await createTestContext(dialect, { env: ACCESS_ENV });
    // A second instance on the same database: PostgreSQL (LISTEN/NOTIFY) or the same SQLite file
    // through its own connection (as the CLI writes beside a server; data_version shows it).
    const gatehouse = await createGatehouse(a.config, { clock: a.clock, logger: pino({ level: 'silent' }), skipMigrations: true });
    const app = await buildApp(gatehouse);
    b = { gatehouse, app, base: await app.listen({ port: 0, host: '127.0.0.1' }) };
  });
  afterAll(async () => {
    for (const client of sseClients) await client.close();
    for (const client of wsClients) client.close();
    b?.app.server.closeAllConnections();
    await b?.app.close();
    await b?.gatehouse.close();
    await a?.close();
  });

  it('a ban and a key revocation on instance A end the streams open on instance B', async () => {
    const admin = await makePrincipals(a, { role: 'admin' });
    const queue = await makeQueue(a.gatehouse);
    const open = async (headers: Headers, jobId: string): Promise<Streams> => {
      const sse = await SseClient.open(`${b.base}/api/v1/events?topics=job:${jobId}`, headers);
      sseClients.push(sse);
      expect(sse.status, sse.body).toBe(200);
      const ws = await WsClient.connect(`${b.base.replace('http', 'ws')}/api/v1/ws`, { ...headers, origin: PUBLIC_URL });
      wsClients.push(ws);
      ws.send({ type: 'subscribe', topics: [`job:${jobId}`] });
      await ws.waitFor((m) => m.type === 'subscribed');
      return { sse, ws };
    };
    const closedWith4401 = async ({ sse, ws }: Streams) => {
      await until(() => sse.ended && ws.closed, 15_000, 'streams on instance B closed');
      expect(sse.messages.at(-1)?.event).toBe('error');
      expect(JSON.parse(sse.messages.at(-1)?.data ?? '{}')).toMatchObject({ code: 'session_expired' });
      expect(ws.closeCode).toBe(4401);
    };

    // Key revocation on A: B closes the key's streams and keeps the session's.
    const keyOwner = await makeUser(a);
    const keyCookie = { cookie: await loginCookie(a, keyOwner) };
    const key = await makeApiKey(a, keyCookie, { scopes: USER_SCOPES });
    const keyJob = await makeJob(a.gatehouse, queue, keyOwner.id);
    const keyStreams = await open(key.headers, keyJob);
    const sessionStreams = await open(keyCookie, keyJob);
    expect((await call(a, 'DELETE', `/api/v1/api-keys/${key.id}`, keyCookie)).statusCode).toBe(204);
    await closedWith4401(keyStreams);
    await b.gatehouse.live.settled();
    expect(sessionStreams.sse.ended || sessionStreams.ws.closed).toBe(false);

    // A ban on A: B closes every stream of the user.
    const banned = await makeUser(a);
    const bannedJob = await makeJob(a.gatehouse, queue, banned.id);
    const bannedStreams = await open({ cookie: await loginCookie(a, banned) }, bannedJob);
    const res = await call(a, 'POST', `/api/v1/users/${banned.id}/ban`, admin.apiKey, {});
    expect(res.statusCode, res.body).toBe(200);
    await closedWith4401(bannedStreams);
  });
});
