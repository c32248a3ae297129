/**
 * SMTP down: the verification email waits in the durable outbox while nothing listens on the
 * SMTP port, and arrives once an SMTP server appears there — with the server still running,
 * and across a crash (kill -9) and restart.
 *
 * The first retry comes about 5 s (4–5 s with jitter) after the first failure, so the sink is
 * started right after that failure and each case takes well under 10 s.
 */
import { afterAll, describe, it, type TestContext } from 'vitest';
import type { DatabaseDialect as Dialect } from '../../src/config.js';
import { dialects } from '../helpers/dialects.js';
import { STRONG_PASSWORD, uniqueEmail } from '../helpers/harness.js';
import { http } from '../helpers/http-client.js';
import { inspectDatabase, outboxFor } from '../helpers/inspect-database.js';
import { freePort, killAllChildren, type LogLine, serverEnv, type ServerProcess, startServerProcess } from '../helpers/server-process.js';
import { type SmtpSink, startSmtpSink, tokenFromMail } from '../helpers/smtp-sink.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

const failedAttempt = (line: LogLine) => line.msg === 'email delivery failed; will retry';
const sentEmail = (line: LogLine) => line.msg === 'email sent';

/** A test's database, servers and SMTP sink; all removed when the test finishes, pass or fail. */
interface Resources {
  database: TestDatabase;
  servers: ServerProcess[];
  smtp?: SmtpSink;
}

async function resources(dialect: Dialect, onTestFinished: TestContext['onTestFinished']): Promise<Resources> {
  const state: Resources = { database: await createTestDatabase(dialect), servers: [] };
  onTestFinished(async () => {
    await Promise.all(state.servers.map((s) => s.crash()));
    await state.smtp?.stop();
    await state.database.drop();
  });
  return state;
}

afterAll(killAllChildren);

// The four cases run at the same time (each has its own server, SMTP port and database).
describe.concurrent('SMTP down', () => {
  describe.each(dialects)('%s', (dialect) => {
    it('keeps the email pending while SMTP is down and delivers it once SMTP comes back', async ({ expect, onTestFinished }) => {
      const state = await resources(dialect, onTestFinished);
      const { database } = state;
      const smtpPort = await freePort(); // nothing listens here yet
      const port = await freePort();
      const server = await startServerProcess({
        env: serverEnv({ port, dataDir: database.dataDir, databaseUrl: database.url, smtpUrl: `smtp://127.0.0.1:${smtpPort}` }),
      });
      state.servers.push(server);
      const email = uniqueEmail('smtp-down');

      const registered = await http(server.url, '/api/v1/auth/register', { json: { email, password: STRONG_PASSWORD } });
      expect(registered.status).toBe(202); // the request does not depend on SMTP

      // The first delivery attempt fails and is logged; the email is pending in the outbox.
      const failure = await server.waitForLog(failedAttempt, 10_000);
      expect(failure).toMatchObject({ level: 40, attempts: 1, dead: false });
      expect(String(failure.err)).toMatch(/ECONNREFUSED|connect/i);
      const inspect = inspectDatabase(database);
      try {
        const [pending] = await outboxFor(inspect, email);
        expect(pending).toMatchObject({ template: 'verify_email', status: 'pending', attempts: 1, sent_at: null });
        expect(pending?.last_error).toMatch(/ECONNREFUSED|connect/i);
        expect(Date.parse(pending?.next_attempt_at ?? '')).toBeGreaterThan(Date.now());

        // Polls (every MAIL_POLL_SECONDS=1) do not hammer the dead server before the backoff is over.
        await new Promise((resolve) => setTimeout(resolve, 1500));
        const [stillPending] = await outboxFor(inspect, email);
        expect(stillPending).toMatchObject({ status: 'pending', attempts: 1 });
        expect(server.logs().filter(failedAttempt)).toHaveLength(1);

        // SMTP comes back on the very port the server was told about: the retry delivers the email.
        const smtp = (state.smtp = await startSmtpSink({ port: smtpPort }));
        const mail = await smtp.waitFor((m) => m.to === email && m.text.includes('/verify-email?token='), 15_000);
        expect(mail.text).toContain(`${server.url}/verify-email?token=`);
        await server.waitForLog(sentEmail, 5000);
        const [sent] = await outboxFor(inspect, email);
        expect(sent).toMatchObject({ status: 'sent', attempts: 2, last_error: null });

        // The delivered link works on the running server.
        const token = tokenFromMail(mail, '/verify-email');
        expect((await http(server.url, '/api/v1/auth/verify-email', { json: { token } })).status).toBe(204);
        // Exactly one verification email (no duplicate after the retry); the welcome email that
        // verifying queues may or may not have arrived yet, and is not what this counts.
        expect(smtp.messages.filter((m) => m.to === email && m.text.includes('/verify-email?token='))).toHaveLength(1);
      } finally {
        await inspect.close();
      }
      expect(await server.stop()).toEqual({ code: 0, signal: null });
    });

    it('delivers the email after a crash (kill -9) and a restart once SMTP is back', async ({ expect, onTestFinished }) => {
      const state = await resources(dialect, onTestFinished);
      const { database } = state;
      const smtpPort = await freePort();
      const port = await freePort();
      const env = serverEnv({ port, dataDir: database.dataDir, databaseUrl: database.url, smtpUrl: `smtp://127.0.0.1:${smtpPort}` });
      const first = await startServerProcess({ env });
      state.servers.push(first);
      const email = uniqueEmail('smtp-restart');

      expect((await http(first.url, '/api/v1/auth/register', { json: { email, password: STRONG_PASSWORD } })).status).toBe(202);
      await first.waitForLog(failedAttempt, 10_000);
      expect(await first.crash()).toEqual({ code: null, signal: 'SIGKILL' });

      const inspect = inspectDatabase(database);
      try {
        // The crash lost nothing: the user and its pending email are in the database.
        const [pending] = await outboxFor(inspect, email);
        expect(pending).toMatchObject({ template: 'verify_email', status: 'pending', attempts: 1 });
        const user = await inspect.db.selectFrom('user').select(['email_verified_at']).where('email', '=', email).executeTakeFirst();
        expect(user).toEqual({ email_verified_at: null });

        const smtp = (state.smtp = await startSmtpSink({ port: smtpPort }));
        const second = await startServerProcess({ env });
        state.servers.push(second);
        const mail = await smtp.waitFor((m) => m.to === email && m.text.includes('/verify-email?token='), 15_000);
        await second.waitForLog(sentEmail, 5000);
        const [sent] = await outboxFor(inspect, email);
        expect(sent).toMatchObject({ status: 'sent', attempts: 2 });

        const token = tokenFromMail(mail, '/verify-email');
        expect((await http(second.url, '/api/v1/auth/verify-email', { json: { token } })).status).toBe(204);
        const login = await http(second.url, '/api/v1/auth/login', { json: { email, password: STRONG_PASSWORD }, origin: second.url });
        expect(login.status).toBe(200);
        // Exactly one verification email (no duplicate after the retry); the welcome email that
        // verifying queues may or may not have arrived yet, and is not what this counts.
        expect(smtp.messages.filter((m) => m.to === email && m.text.includes('/verify-email?token='))).toHaveLength(1);
        expect(await second.stop()).toEqual({ code: 0, signal: null });
      } finally {
        await inspect.close();
      }
    });
  });
});
