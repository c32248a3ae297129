/**
 * The realtime hub: fans committed job events and module topic events out to live subscribers
 * (SSE, WebSocket, long-poll claims) in this process, and — with PostgreSQL — to other instances through
 * `NOTIFY gatehouse_job_events`.
 *
 * Notifications are hints, never the record: the `job_event` and `topic_event` rows are. A notification carries the
 * events themselves when they fit in PostgreSQL's 8000-byte payload, otherwise only their ids, and
 * the receiving instance reads the rows. Notifications are sent after commit, batched every few
 * milliseconds on one connection, so they cost the claim/complete transactions nothing and keep
 * per-job order (events of one job are committed in `seq` order under the job's row lock).
 */
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../db/schema.js';
import { listenToPgChannel, type PgChannelListener } from '../db/pg-listener.js';
import { newId } from '../shared/ids.js';
import { latestLiveEventId, liveEventsAfter, liveEventsByIds } from '../event-log/event-log.service.js';
import { isTopicMessage, type LiveMessage } from '../event-log/events.js';

/** The PostgreSQL channel instances use to wake each other. */
export const JOB_EVENTS_CHANNEL = 'gatehouse_job_events';

/** PostgreSQL refuses payloads of 8000 bytes or more; stay well below. */
const MAX_NOTIFY_BYTES = 7500;
/** How long events wait to be batched into one NOTIFY. */
const NOTIFY_BATCH_MS = 5;

/**
 * Receives the events of one topic (`job:{id}`, `queue:{name}` or a module's `<prefix>:<id>`), in
 * commit order per job and per module topic.
 */
export type EventListener = (message: LiveMessage) => void;
/** How often a SQLite server checks for events other processes committed (the CLI). */
const EXTERNAL_POLL_MS = 250;
/** Events read per query when catching up with other processes' writes. */
const EXTERNAL_PAGE = 500;
/** Event ids remembered as delivered, so that a poll and a local publish never deliver one twice. */
const DELIVERED_MEMORY = 10_000;

/** Told that a queue may have claimable jobs (enqueued, requeued, resumed, unpaused). */
export type WorkListener = (queue: string) => void;

interface WireMessage {
  /** Sending instance: it already delivered these locally. */
  from: string;
  /** Events, when they fit. */
  events?: LiveMessage[];
  /** Otherwise their ids, to be read from the database. */
  ids?: number[];
  /** Queues that may have claimable jobs. */
  work?: string[];
}

/** State of the SQLite poll for other processes' events. */
interface ExternalWatch {
  /** Events up to this global id have been read or were published here. */
  watermark: number;
  /** The newest event id published by this process. */
  maxLocalId: number;
  /** `PRAGMA data_version` at the last check. */
  version: number;
  /** Ids recently delivered (bounded by {@link DELIVERED_MEMORY}). */
  delivered: Set<number>;
  timer: NodeJS.Timeout | undefined;
  polling: boolean;
}

/**
 * In-process fan-out by topic, plus the cross-instance bridge once {@link JobHub.connect} ran.
 */
export class JobHub {
  private readonly topics = new Map<string, Set<EventListener>>();
  private readonly workListeners = new Set<WorkListener>();
  private readonly instance = newId();
  /** How this instance's own notifications begin (they come back to its LISTEN connection too). */
  private readonly ownPrefix = `{"from":${JSON.stringify(this.instance)}`;
  private bridge: { db: Kysely<Database>; listener: PgChannelListener; logger: Logger } | undefined;
  private pendingEvents: LiveMessage[] = [];
  private pendingWork = new Set<string>();
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  /** SQLite: the poll for other processes' events, once {@link JobHub.watchExternalWrites} ran. */
  private external: ExternalWatch | undefined;

  /** Number of topic subscriptions held in this process (for metrics and tests). */
  get subscriptionCount(): number {
    let n = 0;
    for (const set of this.topics.values()) n += set.size;
    return n;
  }

  /**
   * Listens to `topic` (`job:{id}`, `queue:{name}` or a module's `<prefix>:<id>`).
   * @returns a function that removes the subscription.
   */
  subscribe(topic: string, listener: EventListener): () => void {
    let set = this.topics.get(topic);
    if (!set) this.topics.set(topic, (set = new Set()));
    set.add(listener);
    return () => {
      const current = this.topics.get(topic);
      if (!current) return;
      current.delete(listener);
      if (current.size === 0) this.topics.delete(topic);
    };
  }

  /** Listens for "queue may have work" hints. @returns the unsubscribe function. */
  onWork(listener: WorkListener): () => void {
    this.workListeners.add(listener);
    return () => this.workListeners.delete(listener);
  }

  /** Publishes committed events here and (with the bridge) to other instances. Call after commit. */
  publish(messages: readonly LiveMessage[]): void {
    if (!messages.length) return;
    if (this.external) {
      for (const m of messages) if (m.event.id > this.external.maxLocalId) this.external.maxLocalId = m.event.id;
    }
    this.deliver(messages);
    if (this.bridge) {
      this.pendingEvents.push(...messages);
      this.scheduleFlush();
    }
  }

  /** Says that `queue` may have claimable jobs, here and on other instances. Call after commit. */
  announceWork(queue: string): void {
    this.deliverWork(queue);
    if (this.bridge) {
      this.pendingWork.add(queue);
      this.scheduleFlush();
    }
  }

  /**
   * PostgreSQL: starts the cross-instance bridge on a dedicated LISTEN connection.
   * @throws when the first connection fails.
   */
  async connect(url: string, db: Kysely<Database>, logger: Logger): Promise<void> {
    const listener = await listenToPgChannel({
      url,
      channel: JOB_EVENTS_CHANNEL,
      logger,
      onNotification: (payload) => void this.receive(payload, db, logger),
    });
    this.bridge = { db, listener, logger };
  }

  /**
   * SQLite: delivers events that other processes commit (the `gatehouse jobs …` CLI beside the
   * server) by reading `job_event` and `topic_event` every {@link EXTERNAL_POLL_MS} ms, but only after
   * `dataVersion()` changed (SQLite's `PRAGMA data_version` moves only on other connections'
   * commits, so a server alone never queries). `queued` state events also wake long-poll claims.
   * Each event is delivered once even when a poll reads a local event before its publish.
   */
  async watchExternalWrites(db: Kysely<Database>, dataVersion: () => number, logger: Logger): Promise<void> {
    if (this.external) return;
    const watch: ExternalWatch = {
      watermark: await latestLiveEventId(db),
      maxLocalId: 0,
      version: dataVersion(),
      delivered: new Set(),
      timer: undefined,
      polling: false,
    };
    this.external = watch;
    watch.timer = setInterval(() => {
      if (watch.polling) return;
      watch.polling = true;
      this.pollExternal(watch, db, dataVersion)
        .catch((error: unknown) => logger.warn({ err: (error as Error).message }, 'could not read job events written by another process'))
        .finally(() => (watch.polling = false));
    }, EXTERNAL_POLL_MS);
    watch.timer.unref();
  }

  private async pollExternal(watch: ExternalWatch, db: Kysely<Database>, dataVersion: () => number): Promise<void> {
    const version = dataVersion();
    if (version === watch.version) {
      // Nobody else committed since the last check: every event up to the newest published here
      // is local and delivered, so later reads can start above it.
      if (watch.maxLocalId > watch.watermark) watch.watermark = watch.maxLocalId;
      return;
    }
    watch.version = version;
    for (;;) {
      const page = await liveEventsAfter(db, watch.watermark, EXTERNAL_PAGE);
      if (!page.length) break;
      watch.watermark = page[page.length - 1]?.event.id ?? watch.watermark;
      this.deliver(page);
      for (const m of page) {
        if (!isTopicMessage(m) && m.event.type === 'state' && m.event.data.state === 'queued') this.deliverWork(m.event.queue);
      }
    }
  }

  /** Sends what is pending and stops the bridge. Subscribers stay (they close with their sockets). */
  async close(): Promise<void> {
    if (this.external?.timer) clearInterval(this.external.timer);
    this.external = undefined;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    await this.flush();
    await this.bridge?.listener.stop();
    this.bridge = undefined;
  }

  private deliver(messages: readonly LiveMessage[]): void {
    const delivered = this.external?.delivered;
    for (const message of messages) {
      if (delivered) {
        if (delivered.has(message.event.id)) continue;
        delivered.add(message.event.id);
        // Oldest first (a Set keeps insertion order); a duplicate can only come within moments.
        if (delivered.size > DELIVERED_MEMORY) delivered.delete(delivered.values().next().value as number);
      }
      if (isTopicMessage(message)) {
        this.deliverTo(message.event.topic, message);
        continue;
      }
      this.deliverTo(`job:${message.event.job_id}`, message);
      this.deliverTo(`queue:${message.event.queue}`, message);
    }
  }

  private deliverTo(topic: string, message: LiveMessage): void {
    const set = this.topics.get(topic);
    if (!set) return;
    for (const listener of set) {
      try {
        listener(message);
      } catch {
        // One broken subscriber must not starve the others.
      }
    }
  }

  private deliverWork(queue: string): void {
    for (const listener of this.workListeners) {
      try {
        listener(queue);
      } catch {
        // As above.
      }
    }
  }

  private scheduleFlush(): void {
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.flushing = this.flushing.then(() => this.flush());
    }, NOTIFY_BATCH_MS);
    this.flushTimer.unref();
  }

  private async flush(): Promise<void> {
    const bridge = this.bridge;
    if (!bridge) return;
    const events = this.pendingEvents;
    const work = [...this.pendingWork];
    this.pendingEvents = [];
    this.pendingWork = new Set();
    if (!events.length && !work.length) return;
    try {
      for (const payload of this.encode(events, work)) {
        await sql`select pg_notify(${JOB_EVENTS_CHANNEL}, ${payload})`.execute(bridge.db);
      }
    } catch (error) {
      // Hints only: subscribers elsewhere catch up from the event rows when they reconnect.
      bridge.logger.warn({ err: (error as Error).message }, 'could not notify other instances of job events');
    }
  }

  /** Splits into payloads under the NOTIFY limit; events too large on their own travel as ids. */
  private encode(events: LiveMessage[], work: string[]): string[] {
    const payloads: string[] = [];
    // Room for the envelope `{"from":"<id>","events":[…],"work":[…]}` around the events.
    const envelope = Buffer.byteLength(JSON.stringify({ from: this.instance, events: [], work })) + 16;
    let batch: string[] = [];
    let size = envelope;
    const emit = (parts: string[], withWork: boolean) =>
      payloads.push(`{"from":${JSON.stringify(this.instance)},"events":[${parts.join(',')}]${withWork ? `,"work":${JSON.stringify(work)}` : ''}}`);
    for (const event of events) {
      const text = JSON.stringify(event);
      const bytes = Buffer.byteLength(text) + 1;
      if (envelope + bytes > MAX_NOTIFY_BYTES) {
        // Keep commit order: what is batched so far goes first.
        if (batch.length) emit(batch, false);
        batch = [];
        size = envelope;
        payloads.push(JSON.stringify({ from: this.instance, ids: [event.event.id] } satisfies WireMessage));
        continue;
      }
      if (size + bytes > MAX_NOTIFY_BYTES) {
        emit(batch, false);
        batch = [];
        size = envelope;
      }
      batch.push(text);
      size += bytes;
    }
    if (batch.length || work.length) emit(batch, true);
    return payloads;
  }

  private async receive(payload: string, db: Kysely<Database>, logger: Logger): Promise<void> {
    // Own notifications are already delivered: skip them without parsing (one per batch of events).
    if (payload.startsWith(this.ownPrefix)) return;
    let wire: WireMessage;
    try {
      wire = JSON.parse(payload) as WireMessage;
    } catch {
      return;
    }
    try {
      const events = wire.events ?? [];
      const fetched = wire.ids?.length ? await liveEventsByIds(db, wire.ids) : [];
      this.deliver([...events, ...fetched]);
      for (const queue of wire.work ?? []) this.deliverWork(queue);
    } catch (error) {
      logger.warn({ err: (error as Error).message }, 'could not apply a job event notification');
    }
  }
}
