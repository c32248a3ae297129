/**
 * The durable outbox and its dispatcher, for every channel (email, Mattermost, webhook).
 *
 * Services (through `NotifyService`) enqueue inside the transaction that caused the message, so
 * the message exists exactly when the change does (transactional outbox); after commit they call
 * {@link Outbox.wake}. Each channel has one {@link DeliveryTransport}; channels an operator
 * paused (`gatehouse notify disable`) are skipped by the dispatcher and their messages wait. The dispatcher leases due rows, sends them, and on failure retries
 * with capped exponential backoff (AWS Architecture Blog, "Exponential Backoff and Jitter") until
 * `maxAttempts`, then marks them dead. A crash loses nothing: an unsent row stays pending and its
 * lease simply expires.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Executor } from '../db/executor.js';
import type { Database, OutboxRow } from '../db/schema.js';
import { addSeconds, type Clock } from '../shared/clock.js';
import { AppError } from '../shared/errors.js';
import { newId } from '../shared/ids.js';
import { TimerLoop } from '../shared/timer-loop.js';
import {
  findDueMessages,
  findOutboxMessage,
  insertOutboxMessage,
  leaseMessage,
  listOutboxMessages,
  listOutboxPage,
  markMessageFailed,
  markMessageSent,
  resetMessagesForRetry,
} from './outbox.repo.js';
import type { DeliveryTransport, OutboxChannel } from './transport.js';

/**
 * Seconds a dispatcher holds a message while sending it: longer than any send can take (the
 * SMTP timeouts add up to `SMTP_SEND_TIMEOUT_BUDGET_MS` in transport.ts, HTTP deliveries time
 * out after `HTTP_DELIVERY_TIMEOUT_MS` in notify/transports.ts), so two dispatchers never send one
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

/** Options for {@link Outbox}. */
export interface OutboxOptions {
  db: Kysely<Database>;
  /** One transport per channel that can deliver; messages of other channels wait. */
  transports: DeliveryTransport[];
  /**
   * The channels to deliver now (asked once per pass); default: every channel with a transport.
   * Lets an operator pause a channel in the database for every instance at once.
   */
  activeChannels?: () => Promise<readonly OutboxChannel[]>;
  clock: Clock;
  logger: Logger;
  maxAttempts: number;
  /** Seconds between polls when nothing wakes the dispatcher. */
  pollSeconds: number;
}

/** A rendered email, as {@link Outbox.enqueue} stores it (render it with `notify`'s `TemplateRenderer.renderEmail`). */
export interface OutboxEmail {
  /** One line. */
  subject: string;
  /** The plain-text part. */
  text: string;
  /** The HTML part (a whole document). */
  html: string;
}

/** A message to store: see the `outbox` table. */
export interface OutboxMessage {
  channel: OutboxChannel;
  recipient: string;
  subject: string;
  /** Serialised JSON the channel's transport understands. */
  body: string;
  template: string;
}

/** Result of one dispatch pass. */
export interface DispatchReport {
  sent: number;
  failed: number;
}

/**
 * The outbox: stores messages transactionally and delivers them in the background with leases,
 * retries and backoff, for every channel.
 */
export class Outbox {
  private readonly transports: Map<OutboxChannel, DeliveryTransport>;
  private readonly loop: TimerLoop;
  /** Settles when the last pass queued in this process has ended ({@link dispatchDue} runs one at a time). */
  private passes: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: OutboxOptions) {
    this.transports = new Map(options.transports.map((t) => [t.channel, t]));
    const pollMs = options.pollSeconds * 1000;
    this.loop = new TimerLoop({
      pass: async () => {
        await this.dispatchDue();
        return pollMs;
      },
      onError: (error) => {
        options.logger.error({ err: error }, 'outbox dispatch pass failed');
        return pollMs;
      },
    });
  }

  /**
   * Stores an email for delivery. Call with the transaction of the change that caused it.
   * @param template which template rendered `mail` (recorded for operators and tests).
   */
  async enqueue(db: Executor, to: string, template: string, mail: OutboxEmail): Promise<void> {
    await this.enqueueMessage(db, {
      channel: 'email',
      recipient: to,
      subject: mail.subject,
      body: JSON.stringify({ text: mail.text, html: mail.html }),
      template,
    });
  }

  /**
   * Stores a message of any channel, due now. Call with the transaction of the change that
   * caused it, then {@link wake} after commit.
   * @returns the message id (also the email Message-ID and the webhook delivery id).
   */
  async enqueueMessage(db: Executor, message: OutboxMessage): Promise<string> {
    const now = this.options.clock.now().toISOString();
    const id = newId();
    await insertOutboxMessage(db, {
      id,
      ...message,
      status: 'pending',
      attempts: 0,
      next_attempt_at: now,
      locked_until: null,
      last_error: null,
      created_at: now,
      sent_at: null,
    });
    return id;
  }

  /** The channels that have a transport (configured and enabled by configuration). */
  get channels(): OutboxChannel[] {
    return [...this.transports.keys()];
  }

  /** Starts the background dispatcher (polls every `pollSeconds`, and at once on {@link wake}). */
  start(): void {
    this.loop.start();
  }

  /** Stops the dispatcher and waits for an in-flight pass to finish. */
  async stop(): Promise<void> {
    await this.loop.stop();
    for (const transport of this.transports.values()) transport.close();
  }

  /** Asks the dispatcher to run a pass now, or right after the one in flight (after a commit that enqueued mail). */
  wake(): void {
    this.loop.wake();
  }

  /**
   * Runs one pass: sends every message due now. Safe to call from several instances (each message
   * is leased before it is sent). In one process, passes run one after another: the background
   * loop and the scheduler's `retry-outbox` task would otherwise send side by side, and the
   * process would hold several leases at once (a crash would then strand each of them for
   * {@link LEASE_SECONDS}).
   */
  dispatchDue(): Promise<DispatchReport> {
    const pass = this.passes.then(() => this.runPass());
    this.passes = pass.catch(() => undefined);
    return pass;
  }

  private async runPass(): Promise<DispatchReport> {
    const report: DispatchReport = { sent: 0, failed: 0 };
    const active = this.options.activeChannels ? await this.options.activeChannels() : this.channels;
    const channels = active.filter((c) => this.transports.has(c));
    for (;;) {
      const now = this.options.clock.now();
      const due = await findDueMessages(this.options.db, now.toISOString(), BATCH_SIZE, channels);
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

  /** Messages, newest first (optionally by status, at most `limit`). */
  list(status?: OutboxRow['status'], limit?: number): Promise<OutboxRow[]> {
    return listOutboxMessages(this.options.db, status, limit);
  }

  /**
   * A cursor page of messages, newest first (optionally by status): `next` is the last id of a
   * full page, null at the end (for `toPage`).
   */
  async page(query: { status?: OutboxRow['status'] | undefined; afterId?: string | undefined; limit: number }): Promise<{ items: OutboxRow[]; next: string | null }> {
    const rows = await listOutboxPage(this.options.db, { status: query.status, beforeId: query.afterId, limit: query.limit + 1 });
    const items = rows.slice(0, query.limit);
    return { items, next: rows.length > query.limit ? (items.at(-1)?.id ?? null) : null };
  }

  /** One message, or undefined. */
  get(id: string): Promise<OutboxRow | undefined> {
    return findOutboxMessage(this.options.db, id);
  }

  /**
   * Makes an unsent (pending or dead) message due now with a fresh series of attempts; a running
   * dispatcher delivers it on its next poll. @returns false when no unsent message has this id.
   */
  async retry(id: string): Promise<boolean> {
    return (await resetMessagesForRetry(this.options.db, [id], this.options.clock.now().toISOString())) === 1;
  }

  /**
   * {@link retry} for one message, then wakes the dispatcher (operators' "Retry" button).
   * @returns the message afterwards.
   * @throws AppError `not_found` (no such message), `conflict` (it was already sent).
   */
  async retryMessage(id: string): Promise<OutboxRow> {
    const message = await findOutboxMessage(this.options.db, id);
    if (!message) throw new AppError('not_found', 'No such message.');
    if (message.status === 'sent' || !(await this.retry(id))) throw new AppError('conflict', 'This message was already sent.');
    this.wake();
    return (await findOutboxMessage(this.options.db, id)) ?? message;
  }

  /** {@link retry} for every dead message. @returns how many. */
  retryDead(): Promise<number> {
    return resetMessagesForRetry(this.options.db, 'dead', this.options.clock.now().toISOString());
  }

  /**
   * Delivers one message now, in this process (leased like any delivery, so a running dispatcher
   * cannot send it at the same time). When another deliverer holds its lease (a server's
   * dispatcher beside this CLI, another instance), waits for that attempt — see
   * {@link awaitLeaseHolder}, at most `holderWaitMs` — instead of reporting the row as it was
   * before it.
   * @returns the message afterwards; `leased` is false when this process made no attempt (it was
   *   not pending, or another deliverer's attempt is the one reported).
   */
  async deliverNow(id: string, holderWaitMs = LEASE_SECONDS * 1000): Promise<{ leased: boolean; message: OutboxRow | undefined }> {
    const now = this.options.clock.now();
    const lockedUntil = addSeconds(now, LEASE_SECONDS).toISOString();
    const message = await findOutboxMessage(this.options.db, id);
    if (!message) return { leased: false, message };
    if (!(await leaseMessage(this.options.db, id, now.toISOString(), lockedUntil))) {
      return { leased: false, message: await this.awaitLeaseHolder(id, holderWaitMs) };
    }
    await this.deliver(message);
    return { leased: true, message: await findOutboxMessage(this.options.db, id) };
  }

  /**
   * Waits while another deliverer (a server's dispatcher beside this CLI, another instance) holds
   * the lease of message `id`, then returns the message as that attempt left it: sent, or
   * pending/dead with its `last_error`. Polls every 100 ms, at most `timeoutMs` (default: the
   * lease, {@link LEASE_SECONDS}); a crashed holder's lease simply runs out.
   * @returns the message (undefined if it no longer exists).
   */
  async awaitLeaseHolder(id: string, timeoutMs = LEASE_SECONDS * 1000): Promise<OutboxRow | undefined> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const message = await findOutboxMessage(this.options.db, id);
      const held = message?.status === 'pending' && message.locked_until !== null && Date.parse(message.locked_until) > this.options.clock.now().getTime();
      if (!held || performance.now() >= deadline) return message;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  private async deliver(message: OutboxRow): Promise<boolean> {
    const attempts = message.attempts + 1;
    const label = message.channel === 'email' ? 'email' : `${message.channel} message`;
    try {
      const transport = this.transports.get(message.channel);
      if (!transport) throw new Error(`the ${message.channel} channel is not configured`);
      const delivered = await transport.deliver(message);
      await markMessageSent(this.options.db, message.id, this.options.clock.now().toISOString(), attempts);
      if (delivered?.file) {
        // Without SMTP, the links are the useful part: log them so a newcomer can click them.
        const { text } = JSON.parse(message.body) as { text: string };
        const links = text.match(/https?:\/\/\S+/g) ?? [];
        this.options.logger.info(
          { outboxId: message.id, template: message.template, to: message.recipient, file: delivered.file, links },
          `email written to ${delivered.file}`,
        );
      } else {
        this.options.logger.info(
          { outboxId: message.id, channel: message.channel, template: message.template, transport: this.transports.get(message.channel)?.description },
          `${label} sent`,
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
        { outboxId: message.id, channel: message.channel, attempts, dead, err: error instanceof Error ? error.message : String(error) },
        dead ? `${label} delivery failed for the last time; marked dead` : `${label} delivery failed; will retry`,
      );
      return false;
    }
  }
}
