/**
 * In-process cache of sessions and users for the authentication hot path.
 *
 * A cookie or bearer request would otherwise cost one or two indexed queries; with this cache it
 * costs a SHA-256 and two map lookups. Correctness rule: every code path that revokes a session,
 * or changes a user, calls the matching `forget…` method in the same process right after commit,
 * so revocation is immediate here. Changes made by OTHER processes reach the cache through an
 * {@link ExternalChangeProbe}: SQLite's `data_version` (another process such as the CLI wrote to
 * the file: forget everything) or PostgreSQL LISTEN/NOTIFY (another instance revoked a session:
 * forget it). While a probe cannot vouch for freshness (e.g. its connection dropped) the cache
 * is bypassed, so correctness never depends on it. Entries also expire after `ttlMs`.
 */
import type { ApiKeyRow, SessionRow, UserRow } from '../db/schema.js';

interface Entry<T> {
  value: T;
  storedAt: number;
}

/** A size-bounded map whose oldest insertions are evicted first. */
class BoundedMap<K, V> {
  private readonly map = new Map<K, V>();
  constructor(private readonly maxEntries: number) {}
  get(key: K): V | undefined {
    return this.map.get(key);
  }
  set(key: K, value: V): void {
    if (this.map.has(key)) this.map.delete(key);
    else if (this.map.size >= this.maxEntries) {
      const oldest = this.map.keys().next();
      if (!oldest.done) this.map.delete(oldest.value);
    }
    this.map.set(key, value);
  }
  delete(key: K): void {
    this.map.delete(key);
  }
  clear(): void {
    this.map.clear();
  }
}

/** Tells the cache about writes made outside this process. */
export interface ExternalChangeProbe {
  /** True when another process may have changed sessions or users since the previous call. */
  changedSinceLastCheck(): boolean;
  /** False while the probe cannot see outside changes; the cache is then bypassed. */
  healthy(): boolean;
}

/** Options for {@link AuthCache}. */
export interface AuthCacheOptions {
  /** How to learn about writes by other processes; without one, only local invalidation applies. */
  externalChanges?: ExternalChangeProbe;
  /** Maximum age of an entry in milliseconds before it is re-read from the database. Default 30 000. */
  ttlMs?: number;
  /** Maximum entries per map. Default 50 000. */
  maxEntries?: number;
  /** Monotonic milliseconds source (for tests). */
  nowMs?: () => number;
}

/** See the module comment. */
export class AuthCache {
  private readonly sessionsByTokenHash: BoundedMap<string, Entry<SessionRow>>;
  private readonly sessionsById: BoundedMap<string, Entry<SessionRow>>;
  private readonly users: BoundedMap<string, Entry<UserRow>>;
  private readonly accessByUser: BoundedMap<string, Entry<unknown>>;
  private readonly apiKeysByHash: BoundedMap<string, Entry<ApiKeyRow>>;
  private readonly apiKeyHashById: BoundedMap<string, string>;
  private readonly ttlMs: number;
  private readonly nowMs: () => number;
  private externalChanges: ExternalChangeProbe | undefined;
  /** The probe was asked during the current event-loop turn: its answer holds until the turn ends. */
  private probeAnswered = false;
  private readonly endTurn = (): void => {
    this.probeAnswered = false;
  };

  constructor(options: AuthCacheOptions = {}) {
    this.externalChanges = options.externalChanges;
    const max = options.maxEntries ?? 50_000;
    this.sessionsByTokenHash = new BoundedMap(max);
    this.sessionsById = new BoundedMap(max);
    this.users = new BoundedMap(max);
    this.accessByUser = new BoundedMap(max);
    this.apiKeysByHash = new BoundedMap(max);
    this.apiKeyHashById = new BoundedMap(max);
    this.ttlMs = options.ttlMs ?? 30_000;
    this.nowMs = options.nowMs ?? (() => performance.now());
  }

  /** Installs (or replaces) the probe for writes made by other processes. */
  watchExternalChanges(probe: ExternalChangeProbe): void {
    this.externalChanges = probe;
  }

  /** Forgets every entry. */
  clear(): void {
    this.sessionsById.clear();
    this.sessionsByTokenHash.clear();
    this.users.clear();
    this.accessByUser.clear();
    this.apiKeysByHash.clear();
    this.apiKeyHashById.clear();
  }

  /** Cached derived data for a user (their effective access), if fresh. */
  access<T>(userId: string): T | undefined {
    return this.fresh(this.accessByUser.get(userId)) as T | undefined;
  }

  /** Stores a user's derived access; forgotten with the user. */
  rememberAccess(userId: string, access: unknown): void {
    this.accessByUser.set(userId, { value: access, storedAt: this.nowMs() });
  }

  /** Cached API key by the hash of its secret, if fresh. */
  apiKeyByHash(keyHash: string): ApiKeyRow | undefined {
    return this.fresh(this.apiKeysByHash.get(keyHash));
  }

  /** Stores an API key row. */
  rememberApiKey(key: ApiKeyRow): void {
    this.apiKeysByHash.set(key.key_hash, { value: key, storedAt: this.nowMs() });
    this.apiKeyHashById.set(key.id, key.key_hash);
  }

  /** Drops an API key (call after revoking it). */
  forgetApiKey(id: string): void {
    const hash = this.apiKeyHashById.get(id);
    if (hash) this.apiKeysByHash.delete(hash);
    this.apiKeyHashById.delete(id);
  }

  /** Cached session for a cookie token hash, if fresh. */
  sessionByTokenHash(tokenHash: string): SessionRow | undefined {
    return this.fresh(this.sessionsByTokenHash.get(tokenHash));
  }

  /** Cached session by id, if fresh. */
  sessionById(id: string): SessionRow | undefined {
    return this.fresh(this.sessionsById.get(id));
  }

  /** Cached user by id, if fresh. */
  user(id: string): UserRow | undefined {
    return this.fresh(this.users.get(id));
  }

  /** Stores (or replaces) a session under its id and, for browser sessions, its token hash. */
  rememberSession(session: SessionRow): void {
    const entry = { value: session, storedAt: this.nowMs() };
    this.sessionsById.set(session.id, entry);
    if (session.token_hash) this.sessionsByTokenHash.set(session.token_hash, entry);
  }

  /** Stores (or replaces) a user. */
  rememberUser(user: UserRow): void {
    this.users.set(user.id, { value: user, storedAt: this.nowMs() });
  }

  /** Drops a session (call after revoking it). */
  forgetSession(id: string): void {
    const entry = this.sessionsById.get(id);
    this.sessionsById.delete(id);
    if (entry?.value.token_hash) this.sessionsByTokenHash.delete(entry.value.token_hash);
  }

  /**
   * Drops a user and, because sessions and API keys may have been revoked in bulk, every cached
   * session and key. Bulk revocations are rare (password change, ban, deletion), so clearing is
   * cheaper than indexing them by user.
   */
  forgetUser(id: string, sessionsToo = true): void {
    this.users.delete(id);
    this.accessByUser.delete(id);
    if (sessionsToo) {
      this.sessionsById.clear();
      this.sessionsByTokenHash.clear();
      this.apiKeysByHash.clear();
      this.apiKeyHashById.clear();
    }
  }

  /**
   * The entry's value when it is younger than `ttlMs` and no other process may have changed the
   * database since it was stored. The external-change probe (with SQLite a `PRAGMA data_version`,
   * two fcntl calls) is asked at most once per event-loop turn: the first lookup of a turn asks,
   * the other lookups of that turn (every request parsed in the same poll phase) reuse its
   * answer, which is dropped when the turn ends. A change another process committed before the
   * turn began is therefore always seen; one committed during the turn is seen from the next.
   */
  private fresh<T>(entry: Entry<T> | undefined): T | undefined {
    if (!entry) return undefined;
    const probe = this.externalChanges;
    if (probe) {
      if (!probe.healthy()) return undefined;
      if (!this.probeAnswered) {
        this.probeAnswered = true;
        setImmediate(this.endTurn);
        if (probe.changedSinceLastCheck()) {
          this.clear();
          return undefined;
        }
      }
    }
    return this.nowMs() - entry.storedAt <= this.ttlMs ? entry.value : undefined;
  }
}
