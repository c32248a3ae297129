/**
 * The transport-independent half of live progress, shared by SSE (`events.routes.ts`) and the
 * WebSocket (`ws.routes.ts`): topic subscriptions on the {@link JobHub}, replay from the
 * `job_event` table for reconnecting clients, and the exactly-once hand-over between the two.
 *
 * Hand-over (replay → live): subscribe to the hub first and buffer what arrives, replay the
 * table, then flush the buffer. An event committed before the subscription is in the table; one
 * committed after it reaches the buffer; one in both is recognised by its per-job (or per module
 * topic) `seq` (each job's and each module topic's events are committed and published in `seq`
 * order, so "seq ≤ the last seq sent for that job" means "already sent"). Job topics and module
 * topics are replayed together in global id order, exact per topic (each one's events get ids in
 * `seq` order); queue topics are replayed by global id afterwards, best-effort across jobs as
 * docs/jobs.md says (two jobs committing at once may be reordered).
 */
import type { Logger } from 'pino';
import type { Principal } from '../auth/auth.service.js';
import type { Executor } from '../db/executor.js';
import type { JobHub } from '../jobs/job-hub.js';
import { replayJobEvents, replayTopicEvents } from '../event-log/event-log.service.js';
import { AppError } from '../shared/errors.js';
import { isTopicMessage, type LiveEventView, type LiveMessage, mergePages, orderingKey } from '../event-log/events.js';
import { type AuthorizedTopic, liveTopicKey, type ModuleTopic, parseTopics, TopicAccess } from './topic-access.js';

/** Rows read per replay query. */
const REPLAY_PAGE = 500;
/** Live events held while a replay runs; past this the client is too slow and is disconnected. */
const MAX_BUFFERED_EVENTS = 20_000;
/** Jobs and module topics whose last sent `seq` a subscription remembers (oldest forgotten first). */
const MAX_TRACKED_JOBS = 10_000;

/** Where a subscription delivers: one SSE response or one WebSocket. */
export interface EventSink {
  /** Sends one event (a job's or a module topic's). Must not throw. */
  send(event: LiveEventView): void;
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
  /** Ordering key (`job:{id}` or a module topic) → last `seq` sent, in least-recently-updated order. */
  private readonly lastSeq = new Map<string, number>();
  /** Live events held during a replay; null when delivering directly. */
  private buffer: LiveMessage[] | null = null;
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
      const moduleTopics = added.flatMap((g) => (g.topic.kind === 'module' ? [g.key] : []));
      // Jobs and module topics together, in global id order: the client's last id only grows, so
      // a connection dropped mid-replay resumes without a gap.
      const exact = async (after: number) => {
        const [jobEvents, topicEvents] = await Promise.all([
          replayJobEvents(this.db, { jobIds: jobs, queues: [], afterId: after, limit: REPLAY_PAGE }),
          replayTopicEvents(this.db, moduleTopics, after, REPLAY_PAGE),
        ]);
        return mergePages([jobEvents, topicEvents], REPLAY_PAGE);
      };
      let open = jobs.length || moduleTopics.length ? await this.replay(afterId, exact) : true;
      // Every queue topic of one subscription shares its owner filter (jobs:manage is global).
      const byOwner = new Map<string | null, string[]>();
      for (const g of queues) {
        if (g.topic.kind !== 'queue') continue;
        byOwner.set(g.ownerId, [...(byOwner.get(g.ownerId) ?? []), g.topic.name]);
      }
      for (const [ownerId, names] of open ? byOwner : []) {
        const page = async (after: number) => {
          const messages = await replayJobEvents(this.db, { jobIds: [], queues: names, afterId: after, limit: REPLAY_PAGE, queueOwnerId: ownerId });
          return { messages, more: messages.length >= REPLAY_PAGE };
        };
        if (!(open = await this.replay(afterId, page))) break;
      }
    } finally {
      const held = this.buffer ?? [];
      this.buffer = null;
      for (const message of held) this.deliver(message);
    }
    return added.map((g) => g.key);
  }

  /**
   * Replays one query page by page (`page(after)` reads events with a larger global id, in id
   * order, and says whether more may follow). @returns false when the connection closed meanwhile.
   */
  private async replay(afterId: number, page: (after: number) => Promise<{ messages: LiveMessage[]; more: boolean }>): Promise<boolean> {
    let cursor = afterId;
    for (;;) {
      if (this.closed) return false;
      const { messages, more } = await page(cursor);
      for (const message of messages) this.deliver(message);
      if (!more || !messages.length) return !this.closed;
      cursor = messages[messages.length - 1]!.event.id;
      if (!(await this.sink.drained())) return false;
    }
  }

  private onLive(message: LiveMessage): void {
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
  private deliver(message: LiveMessage): void {
    if (this.closed || !this.admits(message)) return;
    const { event } = message;
    const key = orderingKey(event);
    const last = this.lastSeq.get(key);
    if (last !== undefined && event.seq <= last) return;
    this.lastSeq.delete(key);
    this.lastSeq.set(key, event.seq);
    if (this.lastSeq.size > MAX_TRACKED_JOBS) this.lastSeq.delete(this.lastSeq.keys().next().value!);
    this.sink.send(event);
  }

  private admits(message: LiveMessage): boolean {
    if (isTopicMessage(message)) return this.topics.has(message.event.topic);
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
  /** Open SSE streams and WebSockets one user may hold on this instance (REALTIME_MAX_CONNECTIONS_PER_USER). */
  maxConnectionsPerUser: number;
  /**
   * Re-reads whether a principal's credential (session or API key) still holds, past every cache
   * (`AuthService.credentialStillValid`). Without it credentials are never re-checked.
   */
  checkCredential?: (principal: Principal) => Promise<boolean>;
  /** Where failed re-checks are reported. */
  logger?: Logger;
}

/** How {@link LiveEvents} ends one connection. */
export interface ConnectionHandlers {
  /** Server shutdown: close normally (SSE: end; WebSocket: 1001). */
  disconnect(): void;
  /** The credential was revoked: say so and close (SSE: an `error` event; WebSocket: 4401). */
  revoked(): void;
}

/** One open SSE stream or WebSocket and the credential it was opened with. */
interface Connection {
  principal: Principal;
  handlers: ConnectionHandlers;
}

/** Auth change kinds as {@link AuthChanges} announces them (`s`ession, `u`ser, `us` user + sessions, API `k`ey, `all`). */
export type CredentialChangeKind = 's' | 'u' | 'us' | 'k' | 'all';

/** The credential a principal authenticated with: `k:<api key id>` or `s:<session id>`. */
function credentialKey(principal: Principal): string {
  return principal.apiKey ? `k:${principal.apiKey.id}` : `s:${principal.session?.id ?? ''}`;
}

/**
 * The live-progress service the SSE and WebSocket routes use: authorises topics, opens
 * subscriptions, runs the shared keep-alive, caps the connections each user holds, closes the
 * connections whose credential is revoked, and ends every open stream on shutdown.
 *
 * Revocation: each connection remembers its principal (user, session or API key). When an auth
 * change names a session, key or user (`credentialChanged`, fed by {@link AuthChanges} for this
 * process's changes and other instances' NOTIFYs; on SQLite by `watchExternalChanges` for the
 * CLI's), the affected connections' credentials are re-read from the database, once per
 * credential, and those no longer valid are closed through their `revoked` handler.
 */
export class LiveEvents {
  readonly keepAlive: KeepAlive;
  readonly maxTopics: number;
  private readonly access: TopicAccess;
  private readonly connections = new Set<Connection>();
  private readonly byUser = new Map<string, Set<Connection>>();
  /** Re-checks run one batch at a time, in order. */
  private checks: Promise<void> = Promise.resolve();
  private externalTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: LiveEventsOptions) {
    this.keepAlive = new KeepAlive(options.keepAliveSeconds * 1000);
    this.maxTopics = options.maxTopics;
    this.access = new TopicAccess(options.db);
  }

  /**
   * Registers feature modules' topic families, so streams accept and authorise `<prefix>:<id>`.
   * @throws Error for a malformed or duplicate prefix.
   */
  addModuleTopics(topics: readonly ModuleTopic[]): void {
    this.access.addModuleTopics(topics);
  }

  /** True when a module declared the topic family `prefix`. */
  hasModuleTopic(prefix: string): boolean {
    return this.access.hasModulePrefix(prefix);
  }

  /** Open connections (SSE streams and WebSockets). */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Open connections of one user on this instance. */
  connectionsOf(userId: string): number {
    return this.byUser.get(userId)?.size ?? 0;
  }

  /**
   * Parses and authorises topic strings for `principal`, all or nothing.
   * @param alreadyHeld topics the connection holds already (they count against `maxTopics`).
   * @throws AppError `validation_failed` (400: malformed, none, or too many), `not_found` (404:
   *   unknown job, queue or module object), `forbidden` (403).
   */
  async authorize(principal: Principal, texts: readonly string[], alreadyHeld: readonly string[] = []): Promise<AuthorizedTopic[]> {
    const topics = parseTopics(texts, this.maxTopics, this.access.modulePrefixes);
    const fresh = new Set([...topics.map(liveTopicKey), ...alreadyHeld]);
    if (fresh.size > this.maxTopics) {
      throw new AppError('validation_failed', `At most ${this.maxTopics} topics per connection.`, {
        errors: [{ field: 'topics', message: `more than ${this.maxTopics} topics` }],
      });
    }
    return this.access.authorize(principal, topics);
  }

  /**
   * Refuses a new connection for a user who already holds `maxConnectionsPerUser` on this
   * instance. Call before upgrading or hijacking, so the refusal is a plain problem response.
   * @throws AppError `too_many_connections` (429).
   */
  assertMayConnect(principal: Principal): void {
    const max = this.options.maxConnectionsPerUser;
    if (this.connectionsOf(principal.user.id) >= max) {
      throw new AppError('too_many_connections', `At most ${max} live connections (SSE streams and WebSockets) per user; close one first.`, {
        extra: { limit: max },
      });
    }
  }

  /**
   * Re-reads whether `principal`'s credential still holds (before each new subscription on an
   * open socket). @returns true without a `checkCredential` option.
   */
  async credentialHolds(principal: Principal): Promise<boolean> {
    return this.options.checkCredential ? this.options.checkCredential(principal) : true;
  }

  /**
   * Opens a subscription for `principal` delivering to `sink`; `handlers` end the connection on
   * shutdown and on revocation.
   * @returns the subscription and a `release` to call when the connection ends.
   * @throws AppError `too_many_connections` (429) when the user is at the cap (see {@link assertMayConnect}).
   */
  open(principal: Principal, sink: EventSink, handlers: ConnectionHandlers): { subscription: EventSubscription; release: () => void } {
    this.assertMayConnect(principal);
    const subscription = new EventSubscription(this.options.hub, this.options.db, sink);
    const connection: Connection = { principal, handlers };
    this.connections.add(connection);
    let mine = this.byUser.get(principal.user.id);
    if (!mine) this.byUser.set(principal.user.id, (mine = new Set()));
    mine.add(connection);
    return {
      subscription,
      release: () => {
        this.connections.delete(connection);
        const set = this.byUser.get(principal.user.id);
        set?.delete(connection);
        if (set && !set.size) this.byUser.delete(principal.user.id);
        subscription.close();
      },
    };
  }

  /**
   * An auth change (as {@link AuthChanges} records it) applied here: re-checks the credentials
   * of the connections it may concern and closes those revoked. Returns at once; the checks run
   * in the background (see {@link settled}).
   */
  credentialChanged(kind: CredentialChangeKind, id: string): void {
    if (!this.connections.size || !this.options.checkCredential) return;
    let affected: Connection[];
    if (kind === 'all') affected = [...this.connections];
    else if (kind === 'u' || kind === 'us') affected = [...(this.byUser.get(id) ?? [])];
    else if (kind === 's') affected = [...this.connections].filter((c) => !c.principal.apiKey && c.principal.session?.id === id);
    else affected = [...this.connections].filter((c) => c.principal.apiKey?.id === id);
    if (affected.length) this.recheck(affected);
  }

  /** Resolves once the credential re-checks started so far have finished (for tests and shutdown). */
  settled(): Promise<void> {
    return this.checks;
  }

  /**
   * SQLite: another process (the CLI) may revoke credentials in the same file. Every `intervalMs`
   * while connections are open, `changed()` (a `PRAGMA data_version` probe: true when another
   * connection committed) decides whether every open connection's credential is re-checked.
   */
  watchExternalChanges(changed: () => boolean, intervalMs = 500): void {
    if (this.externalTimer) return;
    this.externalTimer = setInterval(() => {
      // Always ask, so a change made while nobody was connected is not taken for a later one.
      if (changed() && this.connections.size) this.credentialChanged('all', '*');
    }, intervalMs);
    this.externalTimer.unref();
  }

  /** Ends every open connection (graceful shutdown: open streams would hold the server open). */
  disconnectAll(): void {
    if (this.externalTimer) clearInterval(this.externalTimer);
    this.externalTimer = undefined;
    for (const connection of [...this.connections]) {
      try {
        connection.handlers.disconnect();
      } catch {
        // Already gone.
      }
    }
    this.keepAlive.stop();
  }

  /** Re-reads each distinct credential among `affected` once and closes the connections whose credential no longer holds. */
  private recheck(affected: Connection[]): void {
    const check = this.options.checkCredential;
    if (!check) return;
    this.checks = this.checks.then(async () => {
      const byCredential = new Map<string, Connection[]>();
      for (const c of affected) {
        if (!this.connections.has(c)) continue;
        const key = credentialKey(c.principal);
        byCredential.set(key, [...(byCredential.get(key) ?? []), c]);
      }
      for (const group of byCredential.values()) {
        let holds: boolean;
        try {
          holds = await check(group[0]!.principal);
        } catch (error) {
          // The database is unreachable: keep the streams (each new subscription is re-checked).
          this.options.logger?.warn({ err: (error as Error).message }, 'could not re-check a live connection\'s credential');
          continue;
        }
        if (holds) continue;
        for (const c of group) {
          if (!this.connections.has(c)) continue;
          try {
            c.handlers.revoked();
          } catch {
            // Already gone.
          }
        }
      }
    });
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
