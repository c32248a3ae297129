/**
 * The durable email outbox and its dispatcher.
 *
 * Services call {@link MailOutbox.enqueue} inside the transaction that caused the email, so the
 * message exists exactly when the change does (transactional outbox); after commit they call
 * {@link MailOutbox.wake}. The dispatcher leases due rows, sends them, and on failure retries
 * with capped exponential backoff (AWS Architecture Blog, "Exponential Backoff and Jitter") until
 * `maxAttempts`, then marks them dead. A crash loses nothing: an unsent row stays pending and its
 * lease simply expires.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Executor } from '../db/executor.js';
import type { Database, OutboxRow } from '../db/schema.js';
import { addSeconds, type Clock } from '../shared/clock.js';
import { newId } from '../shared/ids.js';
import {
  findDueMessages,
  insertOutboxMessage,
  leaseMessage,
  listOutboxMessages,
  markMessageFailed,
  markMessageSent,
} from './outbox.repo.js';
import type { RenderedMail, TemplateName } from './templates.js';
import type { MailTransport } from './transport.js';

/**
 * Seconds a dispatcher holds a message while sending it: longer than any send can take (the
 * SMTP timeouts add up to `SMTP_SEND_TIMEOUT_BUDGET_MS` in transport.ts), so two dispatchers never send one
 * message at once; short, so a message leased by a process that crashed is retried soon.
 */
const LEASE_SECONDS = 60;
/** First retry delay and the cap, in seconds. */
const BACKOFF_BASE_SECONDS = 5;
const BACKOFF_CAP_SECONDS = 3600;
const BATCH_SIZE = 20;

/**
 * Delay before retry number `attempt` (1-based): `min(cap, base * 2^(attempt-1))`, with up to
 * 20 % random jitter subtracted so that many failed messages do not retry in lockstep.
 */
export function backoffSeconds(attempt: number, random: () => number = Math.random): number {
  const raw = Math.min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** Math.max(0, attempt - 1));
  return raw * (1 - 0.2 * random());
}

/** Options for {@link MailOutbox}. */
export interface MailOutboxOptions {
  db: Kysely<Database>;
  transport: MailTransport;
  clock: Clock;
  logger: Logger;
  from: string;
  maxAttempts: number;
  /** Seconds between polls when nothing wakes the dispatcher. */
  pollSeconds: number;
}

/** Result of one dispatch pass. */
export interface DispatchReport {
  sent: number;
  failed: number;
}

export class MailOutbox {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private passInFlight: Promise<DispatchReport> | undefined;
  private wakeRequested = false;

  constructor(private readonly options: MailOutboxOptions) {}

  /**
   * Stores an email for delivery. Call with the transaction of the change that caused it.
   * @param template which template rendered `mail` (recorded for operators and tests).
   */
  async enqueue(db: Executor, to: string, template: TemplateName, mail: RenderedMail): Promise<void> {
    const now = this.options.clock.now().toISOString();
    await insertOutboxMessage(db, {
      id: newId(),
      channel: 'email',
      recipient: to,
      subject: mail.subject,
      body: JSON.stringify({ text: mail.text, html: mail.html }),
      template,
      status: 'pending',
      attempts: 0,
      next_attempt_at: now,
      locked_until: null,
      last_error: null,
      created_at: now,
      sent_at: null,
    });
  }

  /** Starts the background dispatcher (polls every `pollSeconds`, and at once on {@link wake}). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /** Stops the dispatcher and waits for an in-flight pass to finish. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.passInFlight;
    this.options.transport.close();
  }

  /** Asks the dispatcher to run a pass now (after a commit that enqueued mail). */
  wake(): void {
    if (!this.running) return;
    if (this.passInFlight) {
      this.wakeRequested = true;
      return;
    }
    this.schedule(0);
  }

  /**
   * Runs one pass: sends every message due now. Safe to call concurrently with the background
   * loop and from several instances (each message is leased before it is sent).
   */
  async dispatchDue(): Promise<DispatchReport> {
    const report: DispatchReport = { sent: 0, failed: 0 };
    for (;;) {
      const now = this.options.clock.now();
      const due = await findDueMessages(this.options.db, now.toISOString(), BATCH_SIZE);
      let leased = 0;
      for (const message of due) {
        const nowIso = this.options.clock.now().toISOString();
        const lockedUntil = addSeconds(this.options.clock.now(), LEASE_SECONDS).toISOString();
        if (!(await leaseMessage(this.options.db, message.id, nowIso, lockedUntil))) continue;
        leased++;
        if (await this.deliver(message)) report.sent++;
        else report.failed++;
      }
      if (due.length < BATCH_SIZE || leased === 0) return report;
    }
  }

  /** Every message, newest first (optionally by status). */
  list(status?: OutboxRow['status']): Promise<OutboxRow[]> {
    return listOutboxMessages(this.options.db, status);
  }

  private async deliver(message: OutboxRow): Promise<boolean> {
    const { text, html } = JSON.parse(message.body) as { text: string; html: string };
    const attempts = message.attempts + 1;
    try {
      const delivered = await this.options.transport.send({
        from: this.options.from,
        to: message.recipient,
        subject: message.subject,
        text,
        html,
        messageId: message.id,
      });
      await markMessageSent(this.options.db, message.id, this.options.clock.now().toISOString(), attempts);
      if (delivered?.file) {
        // Without SMTP, the links are the useful part: log them so a newcomer can click them.
        const links = text.match(/https?:\/\/\S+/g) ?? [];
        this.options.logger.info(
          { outboxId: message.id, template: message.template, to: message.recipient, file: delivered.file, links },
          `email written to ${delivered.file}`,
        );
      } else {
        this.options.logger.info(
          { outboxId: message.id, template: message.template, transport: this.options.transport.description },
          'email sent',
        );
      }
      return true;
    } catch (error) {
      const dead = attempts >= this.options.maxAttempts;
      const next = addSeconds(this.options.clock.now(), backoffSeconds(attempts));
      await markMessageFailed(this.options.db, message.id, {
        attempts,
        error: error instanceof Error ? error.message : String(error),
        nextAttemptAtIso: next.toISOString(),
        dead,
      });
      this.options.logger.warn(
        { outboxId: message.id, attempts, dead, err: error instanceof Error ? error.message : String(error) },
        dead ? 'email delivery failed for the last time; marked dead' : 'email delivery failed; will retry',
      );
      return false;
    }
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.runPass(), delayMs);
    this.timer.unref();
  }

  private async runPass(): Promise<void> {
    this.timer = undefined;
    this.wakeRequested = false;
    this.passInFlight = this.dispatchDue().catch((error: unknown) => {
      this.options.logger.error({ err: error }, 'outbox dispatch pass failed');
      return { sent: 0, failed: 0 };
    });
    await this.passInFlight;
    this.passInFlight = undefined;
    this.schedule(this.wakeRequested ? 0 : this.options.pollSeconds * 1000);
  }
}
