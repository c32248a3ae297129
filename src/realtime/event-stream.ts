/**
 * The transport-independent half of live progress, shared by SSE (`events.routes.ts`) and the
 * WebSocket (`ws.routes.ts`): topic subscriptions on the {@link JobHub}, replay from the
 * `job_event` table for reconnecting clients, and the exactly-once hand-over between the two.
 *
 * Hand-over (replay → live): subscribe to the hub first and buffer what arrives, replay the
 * table, then flush the buffer. An event committed before the subscription is in the table; one
 * committed after it reaches the buffer; one in both is recognised by its per-job `seq` (each job's
 * events are committed and published in `seq` order, so "seq ≤ the last seq sent for that job"
 * means "already sent"). Job topics are replayed one job at a time, which makes them exact;
 * queue topics are replayed by global id, best-effort across jobs as docs/jobs.md says (two
 * jobs committing at once may be reordered).
 */
import type { Principal } from '../auth/auth.service.js';
import type { Executor } from '../db/executor.js';
import type { JobHub } from '../jobs/job-hub.js';
import { replayEvents } from '../jobs/job-events.repo.js';
import type { JobEventMessage, JobEventView } from '../jobs/model.js';
import { AppError } from '../shared/errors.js';
import { type AuthorizedTopic, parseTopics, TopicAccess } from './topic-access.js';

/** Rows read per replay query. */
const REPLAY_PAGE = 500;
/** Live events held while a replay runs; past this the client is too slow and is disconnected. */
const MAX_BUFFERED_EVENTS = 20_000;
/** Jobs whose last sent `seq` a subscription remembers (oldest forgotten first). */
const MAX_TRACKED_JOBS = 10_000;

/** Where a subscription delivers: one SSE response or one WebSocket. */
export interface EventSink {
  /** Sends one event. Must not throw. */
  send(event: JobEventView): void;
  /** Resolves true when the connection can take more, false once it is closed (replay pacing). */
  drained(): Promise<boolean>;
  /** Drops the connection: the client fell too far behind (it resumes with its last event id). */
  overflow(): void;
}

/**
 * One connection's topics and delivery state. Memory: a map entry per topic and per job seen
 * (bounded by {@link MAX_TRACKED_JOBS}), nothing per idle second.
 */
export class EventSubscription {
  private readonly topics = new Map<string, { granted: AuthorizedTopic; unsubscribe: () => void }>();
  /** job id → last `seq` sent, in least-recently-updated order. */
  private readonly lastSeq = new Map<string, number>();
  /** Live events held during a replay; null when delivering directly. */
  private buffer: JobEventMessage[] | null = null;
  /** Serialises `add` calls so replays never overlap. */
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly hub: JobHub,
    private readonly db: Executor,
    private readonly sink: EventSink,
  ) {}

  /** Keys of the topics currently subscribed. */
  get topicKeys(): string[] {
    return [...this.topics.keys()];
  }

  /**
   * Subscribes to `granted` topics (already subscribed ones are kept as they are) and, when
   * `afterId` is a number, first replays their stored events with a larger global id.
   * Calls are serialised. `onSubscribed` runs once the hub subscriptions exist, before the replay
   * (a WebSocket confirms there, so the confirmation precedes the topics' events).
   * @returns the keys newly subscribed.
   */
  add(granted: readonly AuthorizedTopic[], afterId: number | null, onSubscribed?: () => void): Promise<string[]> {
    const run = this.queue.then(() => this.addNow(granted, afterId, onSubscribed));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Stops delivering these topics. @returns the keys that were subscribed. */
  remove(keys: readonly string[]): string[] {
    const removed: string[] = [];
    for (const key of keys) {
      const entry = this.topics.get(key);
      if (!entry) continue;
      entry.unsubscribe();
      this.topics.delete(key);
      removed.push(key);
    }
    return removed;
  }

  /** Drops every subscription. Idempotent. */
  close(): void {
    this.closed = true;
    this.remove([...this.topics.keys()]);
    this.buffer = null;
    this.lastSeq.clear();
  }

  private async addNow(granted: readonly AuthorizedTopic[], afterId: number | null, onSubscribed?: () => void): Promise<string[]> {
    if (this.closed) return [];
    const added = granted.filter((g) => !this.topics.has(g.key));
    for (const g of added) {
      this.topics.set(g.key, { granted: g, unsubscribe: this.hub.subscribe(g.key, (message) => this.onLive(message)) });
    }
    onSubscribed?.();
    if (afterId === null || !added.length) return added.map((g) => g.key);

    this.buffer = [];
    try {
      const jobs = added.flatMap((g) => (g.topic.kind === 'job' ? [g.topic.id] : []));
      const queues = added.flatMap((g) => (g.topic.kind === 'queue' ? [g] : []));
      for (const jobId of jobs) {
        if (!(await this.replay({ jobIds: [jobId], queues: [], afterId, limit: REPLAY_PAGE }))) break;
      }
      // Every queue topic of one subscription shares its owner filter (jobs:manage is global).
      const byOwner = new Map<string | null, string[]>();
      for (const g of queues) {
        if (g.topic.kind !== 'queue') continue;
        byOwner.set(g.ownerId, [...(byOwner.get(g.ownerId) ?? []), g.topic.name]);
      }
      for (const [ownerId, names] of byOwner) {
        if (!(await this.replay({ jobIds: [], queues: names, afterId, limit: REPLAY_PAGE, queueOwnerId: ownerId }))) break;
      }
    } finally {
      const held = this.buffer ?? [];
      this.buffer = null;
      for (const message of held) this.deliver(message);
    }
    return added.map((g) => g.key);
  }

  /** Replays one query page by page. @returns false when the connection closed meanwhile. */
  private async replay(query: Parameters<typeof replayEvents>[1]): Promise<boolean> {
    let cursor = query.afterId;
    for (;;) {
      if (this.closed) return false;
      const page = await replayEvents(this.db, { ...query, afterId: cursor });
      for (const message of page) this.deliver(message);
      if (page.length < query.limit) return !this.closed;
      cursor = page[page.length - 1]!.event.id;
      if (!(await this.sink.drained())) return false;
    }
  }

  private onLive(message: JobEventMessage): void {
    if (this.closed) return;
    if (this.buffer) {
      if (this.buffer.length >= MAX_BUFFERED_EVENTS) {
        this.sink.overflow();
        return;
      }
      this.buffer.push(message);
      return;
    }
    this.deliver(message);
  }

  /** Sends `message` when a current topic admits it and it was not sent before. */
  private deliver(message: JobEventMessage): void {
    if (this.closed || !this.admits(message)) return;
    const { event } = message;
    const last = this.lastSeq.get(event.job_id);
    if (last !== undefined && event.seq <= last) return;
    this.lastSeq.delete(event.job_id);
    this.lastSeq.set(event.job_id, event.seq);
    if (this.lastSeq.size > MAX_TRACKED_JOBS) this.lastSeq.delete(this.lastSeq.keys().next().value!);
    this.sink.send(event);
  }

  private admits(message: JobEventMessage): boolean {
    if (this.topics.has(`job:${message.event.job_id}`)) return true;
    const queue = this.topics.get(`queue:${message.event.queue}`);
    if (!queue) return false;
    return queue.granted.ownerId === null || queue.granted.ownerId === message.owner_id;
  }
}

/**
 * One shared interval for every connection's keep-alive work (SSE comments, WebSocket pings),
 * so an idle connection costs no timer of its own. Runs only while members exist.
 */
export class KeepAlive {
  private readonly members = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly intervalMs: number) {}

  /** Number of registered connections. */
  get size(): number {
    return this.members.size;
  }

  /** Calls `tick` every interval until the returned function is called. */
  add(tick: () => void): () => void {
    this.members.add(tick);
    if (!this.timer) {
      this.timer = setInterval(() => this.tick(), this.intervalMs);
      this.timer.unref();
    }
    return () => {
      this.members.delete(tick);
      if (!this.members.size) this.stop();
    };
  }

  /** Stops the interval (members stay registered; `add` restarts it). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    for (const tick of [...this.members]) {
      try {
        tick();
      } catch {
        // One broken connection must not stop the others' keep-alives.
      }
    }
  }
}

/** Options for {@link LiveEvents}. */
export interface LiveEventsOptions {
  db: Executor;
  hub: JobHub;
  /** Seconds between keep-alives (SSE comment, WebSocket ping). */
  keepAliveSeconds: number;
  /** Topics one stream or socket may hold. */
  maxTopics: number;
}

/**
 * The live-progress service the SSE and WebSocket routes use: authorises topics, opens
 * subscriptions, runs the shared keep-alive, and ends every open stream on shutdown.
 */
export class LiveEvents {
  readonly keepAlive: KeepAlive;
  readonly maxTopics: number;
  private readonly access: TopicAccess;
  private readonly connections = new Set<() => void>();

  constructor(private readonly options: LiveEventsOptions) {
    this.keepAlive = new KeepAlive(options.keepAliveSeconds * 1000);
    this.maxTopics = options.maxTopics;
    this.access = new TopicAccess(options.db);
  }

  /** Open connections (SSE streams and WebSockets). */
  get connectionCount(): number {
    return this.connections.size;
  }

  /**
   * Parses and authorises topic strings for `principal`, all or nothing.
   * @param alreadyHeld topics the connection holds already (they count against `maxTopics`).
   * @throws AppError `validation_failed` (400: malformed, none, or too many), `not_found` (404:
   *   unknown job or queue), `forbidden` (403).
   */
  async authorize(principal: Principal, texts: readonly string[], alreadyHeld: readonly string[] = []): Promise<AuthorizedTopic[]> {
    const topics = parseTopics(texts, this.maxTopics);
    const fresh = new Set([...topics.map((t) => (t.kind === 'job' ? `job:${t.id}` : `queue:${t.name}`)), ...alreadyHeld]);
    if (fresh.size > this.maxTopics) {
      throw new AppError('validation_failed', `At most ${this.maxTopics} topics per connection.`, {
        errors: [{ field: 'topics', message: `more than ${this.maxTopics} topics` }],
      });
    }
    return this.access.authorize(principal, topics);
  }

  /**
   * Opens a subscription delivering to `sink`; `disconnect` ends the connection on shutdown.
   * @returns the subscription and a `release` to call when the connection ends.
   */
  open(sink: EventSink, disconnect: () => void): { subscription: EventSubscription; release: () => void } {
    const subscription = new EventSubscription(this.options.hub, this.options.db, sink);
    this.connections.add(disconnect);
    return {
      subscription,
      release: () => {
        this.connections.delete(disconnect);
        subscription.close();
      },
    };
  }

  /** Ends every open connection (graceful shutdown: open streams would hold the server open). */
  disconnectAll(): void {
    for (const disconnect of [...this.connections]) {
      try {
        disconnect();
      } catch {
        // Already gone.
      }
    }
    this.keepAlive.stop();
  }
}

/**
 * Parses an event id from `Last-Event-ID` (WHATWG HTML, server-sent events), `?last_event_id=`
 * or a WebSocket `after`. @returns null when absent. @throws AppError `validation_failed` when
 * not a non-negative integer.
 */
export function parseEventId(value: unknown, field: string): number | null {
  if (value === undefined || value === null || value === '') return null;
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : '';
  if (!/^\d{1,15}$/.test(text)) {
    throw new AppError('validation_failed', `${field} must be an event id (a non-negative integer).`, {
      errors: [{ field, message: 'is not an event id' }],
    });
  }
  return Number(text);
}
