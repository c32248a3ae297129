/**
 * `gatehouse notify …` (the command line in the test process, and the real binary, `node
 * bin/gatehouse.js` after `npm run build`, for the exit codes 1 and 2) against a real database, a running `gatehouse serve`, a real SMTP sink and a real HTTP
 * receiver: `notify channels`, `notify test --channel …`, `notify disable|enable` pausing and
 * resuming deliveries of the running server, and `notify outbox` showing dead deliveries and
 * retrying them once the receiver is back — also after a restart of the server.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyWebhookSignature } from '../../src/notify/webhook-signature.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { dialects } from '../helpers/dialects.js';
import { STRONG_PASSWORD, uniqueEmail } from '../helpers/harness.js';
import { http } from '../helpers/http-client.js';
import { inspectDatabase } from '../helpers/inspect-database.js';
import {
  cleanEnv,
  type CliResult,
  freePort,
  killAllChildren,
  runCli,
  serverEnv,
  type ServerProcess,
  startServerProcess,
} from '../helpers/server-process.js';
import { startSmtpSink } from '../helpers/smtp-sink.js';
import { createTestDatabase } from '../helpers/test-database.js';
import { type HttpReceiver, startHttpReceiver } from './http-receiver.js';

const SECRET = 'cli-webhook-secret-0123456789abcdef';
const STACK_FRAME = /^\s+at\s/m;

function expectExit(result: CliResult, code: number): void {
  expect(result, `exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`).toMatchObject({ code, signal: null });
  expect(`${result.stdout}${result.stderr}`).not.toMatch(STACK_FRAME);
}

async function within(ms: number, probe: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

type OutboxItem = { id: string; channel: string; status: string; template: string; attempts: number; last_error: string | null };

/** The outbox body as text on both dialects (jsonb on PostgreSQL has no LIKE). */
const BODY_TEXT = sql<string>`cast(body as text)`;

afterAll(killAllChildren);

describe.concurrent.each(dialects)('gatehouse notify against a real server (%s)', (dialect) => {
  it('tests each channel, pauses and resumes one, and retries dead deliveries from the outbox', async ({ onTestFinished }) => {
    const database = await createTestDatabase(dialect);
    const smtp = await startSmtpSink();
    let receiver: HttpReceiver = await startHttpReceiver();
    const servers: ServerProcess[] = [];
    onTestFinished(async () => {
      for (const server of servers) await server.crash();
      await receiver.stop();
      await smtp.stop();
      await database.drop();
    });
    const receiverPort = receiver.port;
    const port = await freePort();
    const env = serverEnv({
      port,
      dataDir: database.dataDir,
      databaseUrl: database.url,
      smtpUrl: smtp.url,
      extra: {
        MATTERMOST_WEBHOOK_URL: `http://127.0.0.1:${receiverPort}/hooks/cli`,
        WEBHOOK_URL: `http://127.0.0.1:${receiverPort}/events`,
        WEBHOOK_SECRET: SECRET,
        ADMIN_EMAILS: 'ops@example.com',
        MAIL_MAX_ATTEMPTS: '2',
        RATE_LIMIT_IP_PER_MINUTE: '100000',
      },
    });
    const cli = (...args: string[]) => runCliInProcess(args, { env });
    const binary = (...args: string[]) => runCli(args, { env, timeoutMs: 60_000 });
    const outbox = async (...args: string[]): Promise<OutboxItem[]> => {
      const result = await cli('notify', 'outbox', '--json', ...args);
      expectExit(result, 0);
      return (JSON.parse(result.stdout) as { items: OutboxItem[] }).items;
    };

    // Channels and test messages, before any server runs.
    const channels = await cli('notify', 'channels', '--json');
    expectExit(channels, 0);
    expect(JSON.parse(channels.stdout)).toEqual([
      { channel: 'email', configured: true, enabled: true, active: true },
      { channel: 'mattermost', configured: true, enabled: true, active: true },
      { channel: 'webhook', configured: true, enabled: true, active: true },
    ]);
    const chatTest = await cli('notify', 'test', '--channel', 'mattermost');
    expectExit(chatTest, 0);
    expect(chatTest.stdout).toMatch(/Sent a test message on mattermost to mattermost/);
    expect((await receiver.waitFor((r) => r.path === '/hooks/cli')).json).toMatchObject({ text: expect.stringContaining('Test notification') });
    expectExit(await cli('notify', 'test', '--channel', 'webhook'), 0);
    const signed = await receiver.waitFor((r) => r.path === '/events');
    expect(
      verifyWebhookSignature(
        SECRET,
        { timestamp: String(signed.headers['x-gatehouse-timestamp']), signature: String(signed.headers['x-gatehouse-signature']), body: signed.body },
        Math.floor(Date.now() / 1000),
      ),
    ).toBe(true);
    expectExit(await cli('notify', 'test', '--channel', 'email', '--to', 'tester@example.com'), 0);
    expect((await smtp.waitFor((m) => m.to === 'tester@example.com')).subject).toBe('Test notification — Gatehouse');
    expectExit(await cli('notify', 'test', '--channel', 'email'), 0); // to ADMIN_EMAILS
    await smtp.waitFor((m) => m.to === 'ops@example.com' && m.subject.startsWith('Test notification'));
    const unknown = await binary('notify', 'test', '--channel', 'slack');
    expectExit(unknown, 2);
    expect(unknown.stderr).toMatch(/must be one of email, mattermost, webhook/);

    // A paused channel holds the running server's deliveries; enabling lets them go.
    const first = await startServerProcess({ env, readyTimeoutMs: 60_000 });
    servers.push(first);
    expectExit(await cli('notify', 'disable', 'mattermost'), 0);
    const paused = uniqueEmail('paused');
    expect((await http(first.url, '/api/v1/auth/register', { json: { email: paused, password: STRONG_PASSWORD } })).status).toBe(202);
    await receiver.waitFor((r) => r.path === '/events' && r.body.includes(paused));
    await new Promise((resolve) => setTimeout(resolve, 1500)); // more than one poll (MAIL_POLL_SECONDS=1)
    expect(receiver.requests.some((r) => r.path === '/hooks/cli' && r.body.includes(paused))).toBe(false);
    const held = (await outbox('--status', 'pending')).filter((m) => m.channel === 'mattermost');
    expect(held).toMatchObject([{ status: 'pending', attempts: 0, template: 'admin_user_registered' }]);
    const table = await cli('notify', 'outbox');
    expectExit(table, 0);
    expect(table.stdout).toMatch(/^ID\s+CHANNEL\s+RECIPIENT\s+TEMPLATE\s+STATUS\s+ATTEMPTS/m);
    expect(table.stdout).toContain(held[0]?.id);
    expectExit(await cli('notify', 'enable', 'mattermost'), 0);
    await receiver.waitFor((r) => r.path === '/hooks/cli' && r.body.includes('paused-'), 10_000);

    // Receiver down: deliveries fail, back off, and are dead after MAIL_MAX_ATTEMPTS=2.
    await receiver.stop();
    const lost = uniqueEmail('down');
    expect((await http(first.url, '/api/v1/auth/register', { json: { email: lost, password: STRONG_PASSWORD } })).status).toBe(202);
    const inspect = inspectDatabase(database);
    try {
      await within(20_000, async () => {
        const rows = await inspect.db.selectFrom('outbox').select('status').where('channel', '!=', 'email').where(BODY_TEXT, 'like', `%${lost}%`).execute();
        return rows.length === 2 && rows.every((r) => r.status === 'dead');
      });
    } finally {
      await inspect.close();
    }
    const dead = await outbox('--status', 'dead');
    expect(dead.map((m) => m.channel).sort()).toEqual(['mattermost', 'webhook']);
    for (const m of dead) expect(m).toMatchObject({ attempts: 2, last_error: expect.stringMatching(/ECONNREFUSED/) });
    const failedTest = await binary('notify', 'test', '--channel', 'webhook');
    expectExit(failedTest, 1);
    expect(failedTest.stderr).toMatch(/the test message on webhook to webhook failed: webhook unreachable: ECONNREFUSED; it stays in the outbox/);

    // A restart while the receiver is down loses nothing either.
    const later = uniqueEmail('restart');
    expect((await http(first.url, '/api/v1/auth/register', { json: { email: later, password: STRONG_PASSWORD } })).status).toBe(202);
    const inspectLater = inspectDatabase(database);
    try {
      await within(10_000, async () => {
        const rows = await inspectLater.db.selectFrom('outbox').select(['status', 'attempts']).where('channel', '!=', 'email').where(BODY_TEXT, 'like', `%${later}%`).execute();
        return rows.length === 2 && rows.every((r) => r.status === 'pending' && r.attempts >= 1);
      });
    } finally {
      await inspectLater.close();
    }
    expect(await first.stop()).toEqual({ code: 0, signal: null });
    receiver = await startHttpReceiver(receiverPort);
    const second = await startServerProcess({ env, readyTimeoutMs: 60_000 });
    servers.push(second);
    await receiver.waitFor((r) => r.path === '/hooks/cli' && r.body.includes('restart-'), 15_000);
    await receiver.waitFor((r) => r.path === '/events' && r.body.includes(later), 15_000);

    // Dead deliveries go out once retried from the CLI: one by id, then the rest.
    const [one, ...rest] = dead;
    expectExit(await cli('notify', 'outbox', '--retry', one?.id ?? ''), 0);
    await receiver.waitFor((r) => r.body.includes(lost) && r.path === (one?.channel === 'webhook' ? '/events' : '/hooks/cli'), 10_000);
    const retried = await cli('notify', 'outbox', '--retry-dead');
    expectExit(retried, 0);
    // The other delivery, and the failed test message if the server gave up on it before the restart.
    expect(retried.stdout).toMatch(/^[12] messages? queued for delivery/);
    for (const m of rest) await receiver.waitFor((r) => r.body.includes(lost) && r.path === (m.channel === 'webhook' ? '/events' : '/hooks/cli'), 10_000);
    await within(10_000, async () => (await outbox()).length === 0);
    expect(receiver.requests.filter((r) => r.body.includes(lost))).toHaveLength(2); // each delivered once
    expectExit(await cli('notify', 'outbox', '--retry', '0190a0a0-0000-7000-8000-000000000000'), 2);
  }, 360_000);

  it('test --channel email goes to opted-in admins without ADMIN_EMAILS; with no recipient the message names every way to get one', async ({ onTestFinished }) => {
    const database = await createTestDatabase(dialect);
    onTestFinished(() => database.drop());
    // No SMTP_URL: messages become .eml files in DATA_DIR/mail. No ADMIN_EMAILS.
    const env = cleanEnv({ DATA_DIR: database.dataDir, DATABASE_URL: database.url });
    const cli = (args: string[], input?: string) => runCli(args, { env, timeoutMs: 60_000, ...(input === undefined ? {} : { input }) });
    const admin = uniqueEmail('opted-in-admin');
    expectExit(await cli(['users', 'create', '--email', admin, '--name', 'Ops', '--admin', '--password-stdin'], `${STRONG_PASSWORD}\n`), 0);

    const none = await cli(['notify', 'test', '--channel', 'email']);
    expectExit(none, 2);
    expect(none.stderr).toMatch(/No email recipient: pass --to EMAIL, set ADMIN_EMAILS, or opt an active admin in with the profile key "notify_admin": true/);

    expectExit(await cli(['users', 'edit', admin, '--profile', '{"notify_admin":true}']), 0);
    const sent = await cli(['notify', 'test', '--channel', 'email']);
    expectExit(sent, 0);
    expect(sent.stdout).toContain(`Sent a test message on email to ${admin}`);
    const mails = readdirSync(path.join(database.dataDir, 'mail')).filter((f) => f.endsWith('.eml'));
    expect(mails).toHaveLength(1);
    const eml = readFileSync(path.join(database.dataDir, 'mail', mails[0] ?? ''), 'utf8');
    expect(eml).toMatch(new RegExp(`^To: ${admin.replace(/[.+]/g, '\\$&')}$`, 'm'));
    expect(eml).toMatch(/^Subject: =\?UTF-8\?Q\?Test_notification/m); // RFC 2047-encoded (it has an em dash)
  }, 240_000);
});
