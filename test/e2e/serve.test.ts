/**
 * `gatehouse serve` as a newcomer runs it (`npm start`: zero configuration, an empty directory),
 * graceful shutdown on SIGTERM, and a crash (kill -9) in the middle of a burst of registrations
 * followed by a restart: nothing that was acknowledged is lost.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { dialects } from '../helpers/dialects.js';
import { STRONG_PASSWORD, uniqueEmail } from '../helpers/harness.js';
import { http } from '../helpers/http-client.js';
import { inspectDatabase } from '../helpers/inspect-database.js';
import {
  cleanEnv,
  freePort,
  killAllChildren,
  type LogLine,
  serverEnv,
  type ServerProcess,
  startServerProcess,
} from '../helpers/server-process.js';
import { type SmtpSink, startSmtpSink, tokenFromMail } from '../helpers/smtp-sink.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { BUILTIN_WORKER_EMAIL } from '../../src/shared/service-accounts.js';

afterAll(killAllChildren);

describe('zero-configuration start (npm start)', () => {
  let workDir: string | undefined;
  afterEach(async () => {
    await killAllChildren();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it('creates ./data/gatehouse.db in an empty directory, serves /, /docs, /openapi.json, /healthz, and stops on SIGTERM', async () => {
    workDir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-zero-config-'));
    const cwd = workDir;
    const port = await freePort();
    // Only PORT (the default 3000 may be taken on a test machine): no DATABASE_URL, DATA_DIR, SMTP_URL…
    const env = cleanEnv({ PORT: String(port) });
    expect(Object.keys(env).sort()).toEqual(['PATH', 'PORT']);
    const server = await startServerProcess({ env, cwd });

    expect(existsSync(path.join(cwd, 'data', 'gatehouse.db'))).toBe(true);
    expect(server.output()).toContain('SMTP_URL is not set');

    const index = await http(server.url, '/');
    expect(index.status).toBe(200);
    expect(index.contentType).toMatch(/^text\/html/);
    expect(index.text).toContain('<div id="root"></div>');
    const meta = JSON.parse((await http(server.url, '/api/v1/meta')).text);
    expect(meta.app).toMatchObject({ docs_url: '/docs', openapi_url: '/openapi.json' });

    let docs = await http(server.url, '/docs');
    if (docs.status >= 300 && docs.status < 400) {
      docs = await http(server.url, new URL(docs.headers.get('location') ?? '', `${server.url}/docs/`).pathname);
    }
    expect(docs.status).toBe(200);
    expect(docs.contentType).toMatch(/^text\/html/);
    expect(docs.text).toMatch(/swagger|scalar/i);

    const openapi = await http(server.url, '/openapi.json');
    expect(openapi.status).toBe(200);
    expect(openapi.json.openapi).toBe('3.1.0');
    expect(Object.keys(openapi.json.paths as object)).toEqual(
      expect.arrayContaining(['/api/v1/auth/register', '/api/v1/auth/login', '/api/v1/auth/token', '/api/v1/users/me']),
    );

    const health = await http(server.url, '/healthz?token=s3cret-in-url', { headers: { 'user-agent': 'serve-test/1 "quoted"' } });
    expect(health.status).toBe(200);
    expect(health.json).toEqual({ status: 'ok' });
    // At the default level (info) each request writes one line, after its response, with the
    // secret query value cut out (no `incoming request` line: that one is written at debug only).
    const completed = await server.waitForLog((line) => line.msg === 'request completed' && (line.req as { url?: string }).url?.startsWith('/healthz?') === true);
    expect(completed).toMatchObject({
      level: 30,
      pid: server.pid,
      req: { method: 'GET', url: '/healthz?token=[redacted]', ip: '127.0.0.1', userAgent: 'serve-test/1 "quoted"' },
      res: { statusCode: 200 },
    });
    expect(typeof completed.responseTime).toBe('number');
    expect(typeof completed.reqId).toBe('string');
    expect(server.output()).not.toContain('s3cret-in-url');
    expect(server.logs().filter((line) => line.msg === 'incoming request')).toEqual([]);
    expect((await http(server.url, '/readyz')).json).toEqual({ status: 'ready' });

    // The newcomer's journey by hand: the verification email lands in ./data/mail.
    const email = uniqueEmail('newcomer');
    expect((await http(server.url, '/api/v1/auth/register', { json: { email, password: STRONG_PASSWORD } })).status).toBe(202);
    await server.waitForLog((line) => line.template === 'verify_email' && line.to === email);
    expect(readdirSync(path.join(cwd, 'data', 'mail')).filter((f) => f.endsWith('.eml'))).toHaveLength(1);

    // SIGTERM: a graceful shutdown with exit code 0; the port is released.
    expect(await server.stop()).toEqual({ code: 0, signal: null });
    expect(server.output()).toContain('shutting down');
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
    expect(server.output()).not.toMatch(/^\s+at\s/m);
  });
});

describe.each(dialects)('graceful shutdown (%s)', (dialect) => {
  let database: TestDatabase | undefined;
  afterEach(async () => {
    await killAllChildren();
    await database?.drop();
  });

  // The server is ready (`/readyz`) once it listens, while the rest of its start (background
  // tasks) still runs: the SIGTERM below may arrive then. It once did, before the signal handler
  // was installed, and killed the process mid-request.
  it('SIGTERM lets in-flight requests finish, then exits 0', { timeout: 120_000 }, async () => {
    database = await createTestDatabase(dialect);
    const port = await freePort();
    // LOG_LEVEL=debug: the `incoming request` line (written at debug only) tells when each request arrived.
    const server = await startServerProcess({
      env: serverEnv({ port, dataDir: database.dataDir, databaseUrl: database.url, extra: { LOG_LEVEL: 'debug' } }),
    });
    const emails = Array.from({ length: 6 }, () => uniqueEmail('sigterm'));
    // A generous timeout: on a loaded machine the rest of the start (after /readyz) and the argon2
    // hashes of six registrations can take seconds.
    const responses = emails.map((email) => http(server.url, '/api/v1/auth/register', { json: { email, password: STRONG_PASSWORD }, timeoutMs: 60_000 }));
    // Wait until the server has received every request, then ask it to stop while they are being handled.
    const received = (line: LogLine) =>
      line.msg === 'incoming request' && (line.req as { url?: string } | undefined)?.url === '/api/v1/auth/register';
    const deadline = Date.now() + 10_000;
    while (server.logs().filter(received).length < emails.length && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    server.child.kill('SIGTERM');
    const statuses = await Promise.all(responses.map(async (r) => (await r).status));
    expect(statuses).toEqual(emails.map(() => 202));
    // Promptly: connections kept alive by the client must not hold the process open (they once
    // did, for the 72 s keep-alive timeout).
    expect(await server.exited(20_000)).toEqual({ code: 0, signal: null });
    expect(server.output()).toContain('shutting down');

    const inspect = inspectDatabase(database);
    try {
      // The built-in workers' service account (the speech module ships one) is no registration.
      const users = await inspect.db.selectFrom('user').select('email').where('email', '!=', BUILTIN_WORKER_EMAIL).execute();
      expect(users.map((u) => u.email).sort()).toEqual([...emails].sort());
      const mails = await inspect.db.selectFrom('outbox').select('recipient').where('template', '=', 'verify_email').execute();
      expect(mails.map((m) => m.recipient).sort()).toEqual([...emails].sort());
    } finally {
      await inspect.close();
    }
  });
});

describe.each(dialects)('crash during a burst of registrations (%s)', (dialect) => {
  let database: TestDatabase | undefined;
  let smtp: SmtpSink | undefined;
  afterEach(async () => {
    await killAllChildren();
    await smtp?.stop();
    await database?.drop();
  });

  it('after kill -9 and a restart, every acknowledged registration has its user and its verification email', async () => {
    database = await createTestDatabase(dialect);
    smtp = await startSmtpSink();
    const sink = smtp;
    const port = await freePort();
    // 80 registrations from one IP: above the per-IP registration limit, which is not what this test is about.
    const env = { ...serverEnv({ port, dataDir: database.dataDir, databaseUrl: database.url, smtpUrl: sink.url }), RATE_LIMIT_REGISTER_PER_IP_PER_HOUR: '1000' };
    const first = await startServerProcess({ env });

    // A burst: 8 clients registering 80 accounts; kill -9 once 20 have been acknowledged.
    const emails = Array.from({ length: 80 }, () => uniqueEmail('burst'));
    const accepted: string[] = [];
    let failed = 0;
    let next = 0;
    let crash: Promise<unknown> | undefined;
    const client = async () => {
      while (next < emails.length) {
        const email = emails[next++] ?? '';
        let res;
        try {
          res = await http(first.url, '/api/v1/auth/register', { json: { email, password: STRONG_PASSWORD }, timeoutMs: 5000 });
        } catch (error) {
          if (!crash) throw error; // only the crash may break a connection
          failed++;
          return;
        }
        expect(res.status).toBe(202); // a response, when there is one, is always the acknowledgement
        accepted.push(email);
        if (accepted.length >= 20) crash ??= first.crash();
      }
    };
    await Promise.all(Array.from({ length: 8 }, client));
    expect(await crash).toEqual({ code: null, signal: 'SIGKILL' });
    expect(accepted.length).toBeGreaterThanOrEqual(20);
    expect(failed, 'requests in flight when the server was killed').toBeGreaterThan(0);

    const inspect = inspectDatabase(database);
    let second: ServerProcess | undefined;
    try {
      // Every acknowledged registration survived the crash; every stored user has its email queued
      // (the user and the email commit in one transaction, so no user lacks its email).
      const users = await inspect.db.selectFrom('user').select(['id', 'email']).where('email', '!=', BUILTIN_WORKER_EMAIL).execute();
      const stored = new Set(users.map((u) => u.email));
      for (const email of accepted) expect(stored.has(email), `user ${email} lost`).toBe(true);
      const outbox = await inspect.db.selectFrom('outbox').selectAll().where('template', '=', 'verify_email').execute();
      expect(new Set(outbox.map((m) => m.recipient))).toEqual(stored);

      // A message being sent at the moment of the crash stays leased until its lease (60 s) expires;
      // the process sends one message at a time (the dispatcher's passes and the scheduler's retry-outbox
      // passes run one after another: Outbox.dispatchDue), so there is at most one. Expire that lease here
      // instead of waiting two minutes: this is exactly what the passing of time would do.
      const nowIso = new Date().toISOString();
      const leased = outbox.filter((m) => m.status === 'pending' && m.locked_until !== null && m.locked_until > nowIso);
      expect(leased.length).toBeLessThanOrEqual(1);
      for (const m of leased) {
        expect(Date.parse(m.locked_until ?? '')).toBeLessThanOrEqual(Date.now() + 121_000);
        await inspect.db.updateTable('outbox').set({ locked_until: nowIso }).where('id', '=', m.id).execute();
      }

      second = await startServerProcess({ env });
      const server = second;
      // Every stored user (acknowledged or not) gets its verification email after the restart.
      const mails = await Promise.all(
        [...stored].map((email) => sink.waitFor((m) => m.to === email && m.text.includes('/verify-email?token='), 20_000)),
      );
      expect(mails).toHaveLength(stored.size);
      const deadline = Date.now() + 10_000;
      for (;;) {
        const pending = await inspect.db.selectFrom('outbox').select('id').where('status', '!=', 'sent').execute();
        if (pending.length === 0) break;
        if (Date.now() > deadline) throw new Error(`${pending.length} outbox messages not sent after the restart`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      // At-least-once delivery: a message sent again after the crash is the same message (same Message-ID).
      for (const email of stored) {
        const ids = new Set(sink.messages.filter((m) => m.to === email).map((m) => m.messageId));
        expect(ids.size, `distinct verification emails to ${email}`).toBe(1);
      }

      // The links work on the restarted server.
      const sample = accepted[0] ?? '';
      const mail = mails[[...stored].indexOf(sample)];
      const token = tokenFromMail(mail ?? { to: '', subject: '', text: '', html: '', messageId: '' }, '/verify-email');
      expect((await http(server.url, '/api/v1/auth/verify-email', { json: { token } })).status).toBe(204);
      const login = await http(server.url, '/api/v1/auth/login', { json: { email: sample, password: STRONG_PASSWORD }, origin: server.url });
      expect(login.status).toBe(200);
      expect(await server.stop()).toEqual({ code: 0, signal: null });
    } finally {
      await inspect.close();
    }
  });
});
