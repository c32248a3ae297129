/**
 * Propagates session revocations and user changes to every auth cache: this process's (after
 * commit) and, on PostgreSQL, every other instance's (NOTIFY inside the same transaction, so a
 * rolled-back change announces nothing). See `auth-cache.ts` for why this keeps revocation
 * immediate with caching on.
 */
import { listenToPgChannel } from '../db/pg-listener.js';
import type { Logger } from 'pino';
import type { DatabaseDialect } from '../config.js';
import type { Tx } from '../db/transaction.js';
import type { AuthCache, ExternalChangeProbe } from './auth-cache.js';
import { AUTH_CHANGES_CHANNEL, publishAuthChange } from './sessions.repo.js';

/**
 * Message kinds on the channel: `s:<session id>`, `u:<user id>`, `us:<user id>` (user and all
 * their sessions and keys), `k:<api key id>`, `all:*` (e.g. a group's permissions changed).
 */
export type ChangeKind = 's' | 'u' | 'us' | 'k' | 'all';
const CHANGE_KINDS = new Set<string>(['s', 'u', 'us', 'k', 'all']);

/**
 * Told about every auth change once it applies here: this process's after commit, another
 * instance's when its notification arrives, and `all:*` when the listener reconnects (changes may
 * have been missed). Open live streams use it to close those whose credential was revoked.
 * Must not throw.
 */
export type AuthChangeObserver = (kind: ChangeKind, id: string) => void;

/** Records auth-relevant changes inside transactions. */
export class AuthChanges {
  private readonly observers = new Set<AuthChangeObserver>();

  constructor(
    private readonly cache: AuthCache,
    private readonly dialect: DatabaseDialect,
  ) {}

  /** Calls `observer` for every change applied in this process. @returns a function that stops it. */
  observe(observer: AuthChangeObserver): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  /** Applies a change announced by another instance (or `all:*` after missing some) to the cache and observers. */
  applyExternal(kind: ChangeKind, id: string): void {
    this.apply(kind, id);
  }

  /** One session was revoked or its expiry moved. */
  sessionChanged(tx: Tx, sessionId: string): Promise<void> {
    return this.record(tx, 's', sessionId);
  }

  /** A user's row changed (profile, verification); their sessions are unaffected. */
  userChanged(tx: Tx, userId: string): Promise<void> {
    return this.record(tx, 'u', userId);
  }

  /** A user changed and some or all of their sessions were revoked (password, deactivation). */
  userSessionsRevoked(tx: Tx, userId: string): Promise<void> {
    return this.record(tx, 'us', userId);
  }

  /** An API key was revoked. */
  apiKeyChanged(tx: Tx, keyId: string): Promise<void> {
    return this.record(tx, 'k', keyId);
  }

  /** Something that affects many users changed (a group's permissions or policy). */
  everythingChanged(tx: Tx): Promise<void> {
    return this.record(tx, 'all', '*');
  }

  private async record(tx: Tx, kind: ChangeKind, id: string): Promise<void> {
    if (this.dialect === 'postgres') await publishAuthChange(tx.db, `${kind}:${id}`);
    tx.afterCommit(() => this.apply(kind, id));
  }

  private apply(kind: ChangeKind, id: string): void {
    applyChange(this.cache, kind, id);
    for (const observer of this.observers) {
      try {
        observer(kind, id);
      } catch {
        // An observer's failure must not undo the cache invalidation or skip the others.
      }
    }
  }
}

function applyChange(cache: AuthCache, kind: ChangeKind, id: string): void {
  if (kind === 's') cache.forgetSession(id);
  else if (kind === 'k') cache.forgetApiKey(id);
  else if (kind === 'all') cache.clear();
  else cache.forgetUser(id, kind === 'us');
}

/** A running listener; `stop()` closes its connection. */
export interface AuthChangeListener extends ExternalChangeProbe {
  stop(): Promise<void>;
}

/**
 * PostgreSQL: LISTENs on {@link AUTH_CHANGES_CHANNEL} with a dedicated connection and applies
 * other instances' changes to `cache` and, when `changes` is given, to its observers too (open
 * live streams). Reconnects with backoff; while disconnected it reports itself unhealthy, which
 * makes the cache step aside (every request reads the database); on reconnecting it applies
 * `all:*`, since changes made meanwhile were not heard.
 */
export async function startPgAuthChangeListener(
  url: string,
  cache: AuthCache,
  logger: Logger,
  changes?: AuthChanges,
): Promise<AuthChangeListener> {
  let first = true;
  const listener = await listenToPgChannel({
    url,
    channel: AUTH_CHANGES_CHANNEL,
    logger,
    onNotification(payload) {
      const [kind, id] = payload.split(':', 2) as [ChangeKind, string | undefined];
      if (!id || !CHANGE_KINDS.has(kind)) return;
      if (changes) changes.applyExternal(kind, id);
      else applyChange(cache, kind, id);
    },
    onConnected() {
      // Anything cached (or any stream opened) while we were not listening may have been revoked meanwhile.
      const reconnected = !first;
      if (reconnected) logger.info('auth change listener reconnected');
      first = false;
      if (reconnected && changes) changes.applyExternal('all', '*');
      else cache.clear();
    },
  });
  return { healthy: listener.healthy, changedSinceLastCheck: () => false, stop: listener.stop };
}

/** SQLite: a probe that reports writes committed by other connections (e.g. the CLI). */
export function sqliteDataVersionProbe(dataVersion: () => number): ExternalChangeProbe {
  let last = dataVersion();
  return {
    healthy: () => true,
    changedSinceLastCheck() {
      const current = dataVersion();
      if (current === last) return false;
      last = current;
      return true;
    },
  };
}
