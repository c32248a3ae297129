/**
 * Connection-level protections against a real listening server, spoken to over raw sockets
 * (node:net): a request that never finishes is cut off (REQUEST_TIMEOUT_SECONDS, and
 * CONNECTION_TIMEOUT_SECONDS for a stalled one), an oversized request line or header block is a
 * `431` problem document, an oversized body a `413` problem document, and an event stream is
 * not cut by the request timeout. No database is involved beyond start-up, so SQLite only.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, makeUser, passwordGrant, type TestContext } from '../helpers/harness.js';

/** What a raw socket received until the server closed it (or the wait gave up). */
interface RawExchange {
  text: string;
  closed: boolean;
}

function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Collects everything `socket` receives until the server closes it, or `limitMs` passes. */
function collectUntilClosed(socket: Socket, limitMs: number): Promise<RawExchange> {
  return new Promise((resolve) => {
    let text = '';
    const done = (closed: boolean) => {
      clearTimeout(timer);
      resolve({ text, closed });
    };
    const timer = setTimeout(() => done(false), limitMs);
    socket.on('data', (chunk) => {
      text += chunk.toString('utf8');
    });
    socket.on('error', () => undefined);
    socket.once('close', () => done(true));
  });
}

/** Splits a raw HTTP/1.1 response into status, lower-cased headers and body. */
function parseResponse(text: string): { status: number; headers: Record<string, string>; body: string } {
  const end = text.indexOf('\r\n\r\n');
  const head = text.slice(0, end).split('\r\n');
  const status = Number(head[0]?.split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status, headers, body: text.slice(end + 4) };
}

function expectRawProblem(text: string, status: number, code: string): void {
  const res = parseResponse(text);
  expect(res.status, text.slice(0, 300)).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const doc = JSON.parse(res.body);
  expect(doc).toMatchObject({ status, code, type: `/problems/${code}` });
  expect(doc.instance).toMatch(/^urn:request:/);
}

async function listen(ctx: TestContext): Promise<number> {
  await ctx.app.listen({ host: '127.0.0.1', port: 0 });
  const address = ctx.app.server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe('request timeout: a slow unfinished request is cut off', () => {
  let ctx: TestContext;
  let port: number;
  beforeAll(async () => {
    ctx = await createTestContext('sqlite', {
      env: { REQUEST_TIMEOUT_SECONDS: '2', CONNECTION_TIMEOUT_SECONDS: '3', JOB_MAX_WAIT_SECONDS: '1', REALTIME_KEEPALIVE_SECONDS: '1' },
    });
    port = await listen(ctx);
  });
  afterAll(async () => {
    await ctx?.close();
  });

  it('a body trickled a byte at a time (never idle) gets 408 request_timeout and the connection is closed', { timeout: 60_000 }, async () => {
    const socket = await openSocket(port);
    const exchange = collectUntilClosed(socket, 30_000);
    socket.write(
      'POST /api/v1/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{',
    );
    // One byte every 200 ms keeps the connection busy, so only the request timeout can end it.
    const trickle = setInterval(() => {
      if (!socket.destroyed) socket.write(' ');
    }, 200);
    const { text, closed } = await exchange;
    clearInterval(trickle);
    expect(closed).toBe(true);
    expectRawProblem(text, 408, 'request_timeout');
  });

  it('headers that never end get 408 too', { timeout: 60_000 }, async () => {
    const socket = await openSocket(port);
    const exchange = collectUntilClosed(socket, 30_000);
    socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n');
    const trickle = setInterval(() => {
      if (!socket.destroyed) socket.write('X-A: b\r\n');
    }, 200);
    const { text, closed } = await exchange;
    clearInterval(trickle);
    expect(closed).toBe(true);
    expectRawProblem(text, 408, 'request_timeout');
  });

  it('an event stream outlives the request timeout: the timeout bounds receiving requests, not responses', { timeout: 60_000 }, async () => {
    await ctx.gatehouse.queues.create('slow-test', {}, { actorId: null, ip: null, userAgent: 'test' });
    const admin = await makeUser(ctx, { role: 'admin' });
    const { access_token } = await passwordGrant(ctx, admin);
    const socket = await openSocket(port);
    const startedAt = Date.now();
    let text = '';
    let closed = false;
    socket.on('data', (chunk) => {
      text += chunk.toString('utf8');
    });
    socket.once('close', () => {
      closed = true;
    });
    socket.write(`GET /api/v1/events?topics=queue:slow-test HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${access_token}\r\n\r\n`);
    // Keep-alive comments arrive every second; wait until they have gone on for well past the
    // request timeout (2 s) and Node's check of it (every 250 ms here).
    await expect
      .poll(() => (closed ? 'closed' : Date.now() - startedAt > 4500 && (text.match(/: ping/g)?.length ?? 0) >= 4 ? 'alive' : 'waiting'), {
        timeout: 30_000,
        interval: 100,
      })
      .toBe('alive');
    expect(parseResponse(text).status).toBe(200);
    expect(closed).toBe(false);
    socket.destroy();
  });
});

describe('connection timeout: a stalled request is cut off', () => {
  let ctx: TestContext;
  let port: number;
  beforeAll(async () => {
    ctx = await createTestContext('sqlite', {
      env: { REQUEST_TIMEOUT_SECONDS: '600', CONNECTION_TIMEOUT_SECONDS: '2', JOB_MAX_WAIT_SECONDS: '1', REALTIME_KEEPALIVE_SECONDS: '1' },
    });
    port = await listen(ctx);
  });
  afterAll(async () => {
    await ctx?.close();
  });

  it('a body that stops arriving is closed after CONNECTION_TIMEOUT_SECONDS of silence', { timeout: 60_000 }, async () => {
    const socket = await openSocket(port);
    const exchange = collectUntilClosed(socket, 30_000);
    socket.write('POST /api/v1/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"em');
    const { closed } = await exchange;
    expect(closed).toBe(true);
  });
});

describe('header and body limits are problem documents', () => {
  let ctx: TestContext;
  let port: number;
  beforeAll(async () => {
    ctx = await createTestContext('sqlite', { env: { BODY_LIMIT_BYTES: '1024' } });
    port = await listen(ctx);
  });
  afterAll(async () => {
    await ctx?.close();
  });

  it('an oversized header gets 431 headers_too_large as application/problem+json', { timeout: 30_000 }, async () => {
    const socket = await openSocket(port);
    const exchange = collectUntilClosed(socket, 20_000);
    socket.write(`GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    const { text, closed } = await exchange;
    expect(closed).toBe(true);
    expectRawProblem(text, 431, 'headers_too_large');
    expect(parseResponse(text).headers['connection']).toBe('close');
  });

  it('an oversized URL gets 431 headers_too_large too', { timeout: 30_000 }, async () => {
    const socket = await openSocket(port);
    const exchange = collectUntilClosed(socket, 20_000);
    socket.write(`GET /healthz?q=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
    const { text } = await exchange;
    expectRawProblem(text, 431, 'headers_too_large');
  });

  it('a malformed request gets 400 bad_request as a problem document', { timeout: 30_000 }, async () => {
    const socket = await openSocket(port);
    const exchange = collectUntilClosed(socket, 20_000);
    socket.write('GARBAGE\r\n\r\n');
    const { text } = await exchange;
    expectRawProblem(text, 400, 'bad_request');
  });

  it('an oversized body gets 413 payload_too_large as a problem document', { timeout: 30_000 }, async () => {
    const socket = await openSocket(port);
    const exchange = collectUntilClosed(socket, 20_000);
    const body = JSON.stringify({ email: 'a@example.com', password: 'x'.repeat(4000) });
    socket.write(
      `POST /api/v1/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    const { text } = await exchange;
    expectRawProblem(text, 413, 'payload_too_large');
  });
});
