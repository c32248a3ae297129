/**
 * Mattermost and the signed webhook against real local HTTP receivers, on both dialects: the
 * JSON payloads and the HMAC signature; user emails never leak to chat; a receiver that is down
 * keeps the delivery pending until it is back (also across a restart on the same database);
 * dead after MAIL_MAX_ATTEMPTS and retried; a paused channel holds its messages; operators'
 * templates from TEMPLATES_DIR.
 */
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createGatehouse } from '../../src/container.js';
import { verifyWebhookSignature } from '../../src/notify/webhook-signature.js';
import { ManualClock } from '../../src/shared/clock.js';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, PUBLIC_URL, STRONG_PASSWORD, type TestContext, uniqueEmail } from '../helpers/harness.js';
import { freePort } from '../helpers/server-process.js';
import { createTestDatabase } from '../helpers/test-database.js';
import { type HttpReceiver, type ReceivedRequest, startHttpReceiver } from './http-receiver.js';

/** The outbox body as text on both dialects (jsonb on PostgreSQL has no LIKE). */
const BODY_TEXT = sql<string>`cast(body as text)`;

const SECRET = 'webhook-secret-for-tests-0123456789';
const JOB = { job_id: 'job-7', queue: 'render', error: 'out of memory', attempts: 3, url: null };

type WebhookPayload = { id: string; event: string; occurred_at: string; text: string; data: Record<string, unknown> };

function isEvent(event: string) {
  return (r: ReceivedRequest) => (r.json as { event?: string } | null)?.event === event;
}

describe.each(dialects)('Mattermost and webhook channels (%s)', (dialect) => {
  let ctx: TestContext;
  let mattermost: HttpReceiver;
  let webhook: HttpReceiver;
  let templatesDir: string;

  beforeAll(async () => {
    mattermost = await startHttpReceiver();
    webhook = await startHttpReceiver();
    templatesDir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-templates-'));
    writeFileSync(path.join(templatesDir, 'campaign_completed_ignored.eta'), 'names no template');
    writeFileSync(
      path.join(templatesDir, 'admin_campaign_completed.mattermost.eta'),
      'Custom template: campaign <%= it.campaign_name %> is done (<%= it.runs_completed %> runs)',
    );
    writeFileSync(path.join(templatesDir, 'welcome.email.subject.eta'), 'Hi <%= it.name %>, welcome aboard');
    ctx = await createTestContext(dialect, {
      env: {
        MATTERMOST_WEBHOOK_URL: `${mattermost.url}/hooks/xyz123`,
        WEBHOOK_URL: `${webhook.url}/gatehouse/events`,
        WEBHOOK_SECRET: SECRET,
        TEMPLATES_DIR: templatesDir,
        RATE_LIMIT_IP_PER_MINUTE: '1000000',
      },
    });
  });
  afterAll(async () => {
    await ctx?.close();
    await mattermost?.stop();
    await webhook?.stop();
    rmSync(templatesDir, { recursive: true, force: true });
  });

  it('a new user reaches Mattermost as {text} and the webhook as a signed JSON event; the user email stays in email', async () => {
    const email = uniqueEmail('chat');
    const res = await ctx.request({ method: 'POST', url: '/api/v1/auth/register', payload: { email, password: STRONG_PASSWORD, name: '@channel *Zed*' } });
    expect(res.statusCode).toBe(202);
    await ctx.flushMail();

    const chat = await mattermost.waitFor((r) => r.body.includes(email));
    expect(chat.method).toBe('POST');
    expect(chat.path).toBe('/hooks/xyz123');
    expect(chat.headers['content-type']).toBe('application/json');
    expect(Object.keys(chat.json as object)).toEqual(['text']);
    const text = (chat.json as { text: string }).text;
    expect(text).toContain('New user registered on Gatehouse');
    // A user-chosen name cannot ping the channel or inject Markdown.
    expect(text).toContain('@\u200bchannel \\*Zed\\*');
    expect(text).not.toMatch(/@channel/);

    const hook = await webhook.waitFor((r) => isEvent('user.registered')(r) && r.body.includes(email));
    expect(hook.path).toBe('/gatehouse/events');
    const payload = hook.json as WebhookPayload;
    expect(payload).toMatchObject({ event: 'user.registered', data: { user: { email, name: '@channel *Zed*' } } });
    expect(payload.text).toBe(`New user registered: ${email}`);
    expect(Date.parse(payload.occurred_at)).not.toBeNaN();
    expect(hook.headers['x-gatehouse-event']).toBe('user.registered');
    const [row] = await ctx.gatehouse.database.db.selectFrom('outbox').selectAll().where('channel', '=', 'webhook').where(BODY_TEXT, 'like', `%${email}%`).execute();
    expect(hook.headers['x-gatehouse-delivery']).toBe(row?.id);

    // The documented signature: hex HMAC-SHA256 of "<timestamp>.<raw body>" keyed with WEBHOOK_SECRET.
    const timestamp = String(hook.headers['x-gatehouse-timestamp']);
    expect(timestamp).toMatch(/^\d{10}$/);
    const expected = `sha256=${createHmac('sha256', SECRET).update(`${timestamp}.${hook.body}`).digest('hex')}`;
    expect(hook.headers['x-gatehouse-signature']).toBe(expected);
    const signed = { timestamp, signature: String(hook.headers['x-gatehouse-signature']), body: hook.body };
    expect(verifyWebhookSignature(SECRET, signed, Number(timestamp))).toBe(true);
    expect(verifyWebhookSignature('another-secret-of-some-length', signed, Number(timestamp))).toBe(false);
    expect(verifyWebhookSignature(SECRET, { ...signed, body: hook.body.replace(email, 'x@example.com') }, Number(timestamp))).toBe(false);
    expect(verifyWebhookSignature(SECRET, signed, Number(timestamp) + 301)).toBe(false);

    // The verification email (a sign-in token) went by email only.
    const verify = await ctx.smtp.waitFor((m) => m.to === email && m.subject.startsWith('Confirm your email'));
    const token = /token=([A-Za-z0-9_-]+)/.exec(verify.text)?.[1] ?? 'missing';
    for (const r of [...mattermost.requests, ...webhook.requests]) expect(r.body).not.toContain(token);
  });

  it('uses the operator templates from TEMPLATES_DIR and the built-ins for the rest', async () => {
    await ctx.gatehouse.notify.notify('campaign.completed', { campaign_id: 'c9', campaign_name: 'Sieve', runs_completed: 12, best_result: null, url: null });
    await ctx.flushMail();
    const chat = await mattermost.waitFor((r) => r.body.includes('Sieve'));
    expect((chat.json as { text: string }).text).toBe('Custom template: campaign Sieve is done (12 runs)');
    const hook = await webhook.waitFor(isEvent('campaign.completed'));
    expect((hook.json as WebhookPayload).text).toBe('Campaign Sieve completed after 12 runs');

    const email = uniqueEmail('custom');
    await ctx.request({ method: 'POST', url: '/api/v1/auth/register', payload: { email, password: STRONG_PASSWORD, name: 'Ines' } });
    await ctx.flushMail();
    const verify = await ctx.smtp.waitFor((m) => m.to === email && m.subject.startsWith('Confirm'));
    const token = /verify-email\?token=([A-Za-z0-9_-]+)/.exec(verify.text)?.[1] ?? '';
    await ctx.request({ method: 'POST', url: '/api/v1/auth/verify-email', payload: { token } });
    await ctx.flushMail();
    const welcome = await ctx.smtp.waitFor((m) => m.to === email && m.subject.includes('welcome aboard'));
    expect(welcome.subject).toBe('Hi Ines, welcome aboard');
    expect(welcome.text).toContain('Your email address is confirmed'); // built-in body
  });

  it('a paused channel (notify disable) holds its messages until it is enabled again', async () => {
    await ctx.gatehouse.notify.setChannelEnabled('webhook', false);
    expect(await ctx.gatehouse.notify.activeChannels()).toEqual(['email', 'mattermost']);
    const ids = await ctx.gatehouse.notify.notify('job.failed', { ...JOB, job_id: 'job-paused' });
    const rows = await Promise.all(ids.map((id) => ctx.gatehouse.outbox.get(id)));
    const hookId = rows.find((r) => r?.channel === 'webhook')?.id;
    await ctx.flushMail();
    await mattermost.waitFor((r) => r.body.includes('job-paused'));
    const held = await ctx.gatehouse.outbox.get(hookId ?? '');
    expect(held).toMatchObject({ channel: 'webhook', status: 'pending', attempts: 0 });
    expect(webhook.requests.some((r) => r.body.includes('job-paused'))).toBe(false);

    await ctx.gatehouse.notify.setChannelEnabled('webhook', true);
    await ctx.flushMail();
    await webhook.waitFor((r) => r.body.includes('job-paused'));
    expect(await ctx.gatehouse.outbox.get(hookId ?? '')).toMatchObject({ status: 'sent', attempts: 1 });
  });

  it('a delivery another dispatcher holds the lease of is reported as that attempt left it (notify test beside a running server)', async () => {
    await ctx.gatehouse.notify.setChannelEnabled('webhook', false);
    try {
      const ids = await ctx.gatehouse.notify.notify('job.failed', { ...JOB, job_id: 'job-leased' });
      const rows = await Promise.all(ids.map((id) => ctx.gatehouse.outbox.get(id)));
      const hookId = rows.find((r) => r?.channel === 'webhook')?.id ?? '';
      const db = ctx.gatehouse.database.db;
      // Another process leases it, as a server's dispatcher does before sending.
      const lockedUntil = new Date(ctx.gatehouse.clock.now().getTime() + 3_600_000).toISOString();
      await db.updateTable('outbox').set({ locked_until: lockedUntil }).where('id', '=', hookId).execute();

      // deliverNow makes no attempt of its own: it waits for the holder's, here until its limit,
      // and returns the row still held.
      const startedAt = performance.now();
      expect(await ctx.gatehouse.outbox.deliverNow(hookId, 300)).toMatchObject({ leased: false, message: { status: 'pending', attempts: 0, locked_until: lockedUntil } });
      expect(performance.now() - startedAt).toBeGreaterThanOrEqual(300);

      // The holder's attempt fails and releases the lease: the wait returns what it recorded.
      await db.updateTable('outbox').set({ attempts: 1, last_error: 'webhook unreachable: ECONNREFUSED', locked_until: null }).where('id', '=', hookId).execute();
      expect(await ctx.gatehouse.outbox.awaitLeaseHolder(hookId)).toMatchObject({ status: 'pending', attempts: 1, last_error: 'webhook unreachable: ECONNREFUSED' });
    } finally {
      await ctx.gatehouse.notify.setChannelEnabled('webhook', true);
    }
  });

  it('notify test delivers a test message on each channel', async () => {
    for (const channel of ['mattermost', 'webhook'] as const) {
      const [message] = await ctx.gatehouse.notify.sendTest(channel, { requestedBy: 'the test suite' });
      expect(message).toMatchObject({ channel, status: 'sent', template: 'test_message' });
    }
    expect((await mattermost.waitFor((r) => r.body.includes('Test notification'))).json).toEqual({
      text: `:white_check_mark: Test notification from **Gatehouse** (${PUBLIC_URL}), requested by the test suite. The Mattermost channel works.`,
    });
    expect((await webhook.waitFor(isEvent('notify.test'))).json).toMatchObject({ data: { requested_by: 'the test suite' } });
    const [mail] = await ctx.gatehouse.notify.sendTest('email', { to: 'tester@example.com', requestedBy: 'the test suite' });
    expect(mail).toMatchObject({ status: 'sent' });
    expect((await ctx.smtp.waitFor((m) => m.to === 'tester@example.com')).subject).toBe('Test notification — Gatehouse');
  });
});

describe.each(dialects)('deliveries while the receiver is down (%s)', (dialect) => {
  it('stay pending, survive a restart on the same database, and arrive once the receiver is back', async ({ onTestFinished }) => {
    const database = await createTestDatabase(dialect);
    onTestFinished(() => database.drop());
    const port = await freePort(); // nothing listens yet
    const config = loadConfig({
      DATA_DIR: database.dataDir,
      DATABASE_URL: database.url,
      PUBLIC_URL,
      LOG_LEVEL: 'silent',
      MAIL_POLL_SECONDS: '3600',
      NOTIFY_EMAIL_ENABLED: 'false',
      MATTERMOST_WEBHOOK_URL: `http://127.0.0.1:${port}/hooks/down`,
      WEBHOOK_URL: `http://127.0.0.1:${port}/events`,
      WEBHOOK_SECRET: SECRET,
    });
    const clock = new ManualClock();
    const first = await createGatehouse(config, { clock, logger: pino({ level: 'silent' }) });
    const ids = await first.notify.notify('job.failed', JOB);
    expect(ids).toHaveLength(2);
    expect(await first.outbox.dispatchDue()).toEqual({ sent: 0, failed: 2 });
    for (const id of ids) {
      const row = await first.outbox.get(id);
      expect(row).toMatchObject({ status: 'pending', attempts: 1 });
      expect(row?.last_error).toMatch(/unreachable: ECONNREFUSED/);
      expect(row?.last_error).not.toContain('/hooks/down'); // the hook URL is a credential
    }
    // Backoff: nothing is due again right away.
    expect(await first.outbox.dispatchDue()).toEqual({ sent: 0, failed: 0 });
    await first.close();

    const receiver = await startHttpReceiver(port);
    onTestFinished(() => receiver.stop());
    clock.advance(60);
    const second = await createGatehouse(config, { clock, logger: pino({ level: 'silent' }) });
    onTestFinished(() => second.close());
    expect(await second.outbox.dispatchDue()).toEqual({ sent: 2, failed: 0 });
    expect(receiver.requests.map((r) => r.path).sort()).toEqual(['/events', '/hooks/down']);
    for (const id of ids) expect(await second.outbox.get(id)).toMatchObject({ status: 'sent', attempts: 2, last_error: null });
    expect(await second.outbox.dispatchDue()).toEqual({ sent: 0, failed: 0 }); // delivered once
  });

  it('one process sends one message at a time: a second pass waits for the one in flight', async ({ onTestFinished }) => {
    const receiver = await startHttpReceiver();
    onTestFinished(() => receiver.stop());
    const ctx = await createTestContext(dialect, {
      env: { MATTERMOST_WEBHOOK_URL: `${receiver.url}/hooks/one`, WEBHOOK_URL: `${receiver.url}/events`, WEBHOOK_SECRET: SECRET, NOTIFY_EMAIL_ENABLED: 'false' },
    });
    onTestFinished(() => ctx.close());
    expect(await ctx.gatehouse.notify.notify('job.failed', JOB)).toHaveLength(2);
    const release = receiver.hold();
    // The background loop's pass and the scheduler's retry-outbox pass, started together. A crash
    // now must strand at most one lease (test/e2e/serve.test.ts relies on it).
    const passes = Promise.all([ctx.gatehouse.outbox.dispatchDue(), ctx.gatehouse.outbox.dispatchDue()]);
    const first = await receiver.waitFor(() => true);
    // While the first delivery hangs, no second one starts (a window: absence cannot be waited for).
    await expect(receiver.waitFor((r) => r !== first, 300)).rejects.toThrow();
    const leased = await ctx.gatehouse.database.db.selectFrom('outbox').select('id').where('locked_until', 'is not', null).execute();
    expect(leased).toHaveLength(1);
    release();
    expect(await passes).toEqual([{ sent: 2, failed: 0 }, { sent: 0, failed: 0 }]);
    expect(receiver.requests).toHaveLength(2);
  });

  it('are marked dead after MAIL_MAX_ATTEMPTS and delivered after a retry', async ({ onTestFinished }) => {
    const port = await freePort();
    const ctx = await createTestContext(dialect, {
      env: { MATTERMOST_WEBHOOK_URL: `http://127.0.0.1:${port}/hooks/dead`, MAIL_MAX_ATTEMPTS: '3', NOTIFY_EMAIL_ENABLED: 'false' },
    });
    onTestFinished(() => ctx.close());
    const [id] = await ctx.gatehouse.notify.notify('job.failed', JOB);
    for (let attempt = 1; attempt <= 3; attempt++) {
      expect(await ctx.gatehouse.outbox.dispatchDue()).toEqual({ sent: 0, failed: 1 });
      ctx.clock.advance(3600);
    }
    expect(await ctx.gatehouse.outbox.get(id ?? '')).toMatchObject({ status: 'dead', attempts: 3 });
    expect(await ctx.gatehouse.outbox.dispatchDue()).toEqual({ sent: 0, failed: 0 });
    expect((await ctx.gatehouse.outbox.list('dead')).map((m) => m.id)).toEqual([id]);

    const receiver = await startHttpReceiver(port);
    onTestFinished(() => receiver.stop());
    expect(await ctx.gatehouse.outbox.retryDead()).toBe(1);
    expect(await ctx.gatehouse.outbox.get(id ?? '')).toMatchObject({ status: 'pending', attempts: 0 });
    expect(await ctx.gatehouse.outbox.dispatchDue()).toEqual({ sent: 1, failed: 0 });
    expect(receiver.requests).toHaveLength(1);
    expect(await ctx.gatehouse.outbox.retry(id ?? '')).toBe(false); // sent messages are never resent
  });
});

describe('configuration', () => {
  it('refuses WEBHOOK_URL without WEBHOOK_SECRET, and a channel switched on without its URL', () => {
    expect(() => loadConfig({ WEBHOOK_URL: 'http://127.0.0.1:9/x' })).toThrow(/WEBHOOK_SECRET: required when WEBHOOK_URL is set/);
    expect(() => loadConfig({ NOTIFY_MATTERMOST_ENABLED: 'true' })).toThrow(/MATTERMOST_WEBHOOK_URL: required/);
    expect(() => loadConfig({ ADMIN_EMAILS: 'ops@example.com, not-an-address' })).toThrow(/ADMIN_EMAILS/);
    const off = loadConfig({ MATTERMOST_WEBHOOK_URL: 'http://127.0.0.1:9/hooks/a', NOTIFY_MATTERMOST_ENABLED: 'false' });
    expect(off.notify.mattermostWebhookUrl).toBeNull();
    expect(loadConfig({ ADMIN_EMAILS: 'a@example.com,B@example.com' }).notify.adminEmails).toEqual(['a@example.com', 'B@example.com']);
  });

  it('has a built-in template for every route of every event and channel', async () => {
    const { missingTemplates } = await import('../../src/notify/templates.js');
    expect(missingTemplates()).toEqual([]);
  });

  it('refuses to start with a template override that does not compile, naming the file', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bad-templates-'));
    try {
      writeFileSync(path.join(dir, 'welcome.email.text.eta'), 'Hello <% if (it.name) { %>');
      const { TemplateRenderer } = await import('../../src/notify/templates.js');
      expect(() => new TemplateRenderer({ templatesDir: dir })).toThrow(/welcome\.email\.text\.eta is invalid/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
