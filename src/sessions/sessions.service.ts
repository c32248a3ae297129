/**
 * Sessions: creation, validation with sliding expiry, listing and revocation.
 *
 * The session model follows Lucia v3 / The Copenhagen Book: the client holds a 256-bit random
 * secret, the server stores its SHA-256 hash, and expiry slides forward on use but is written
 * to the database at most once per half-lifetime (plus a coarse `last_seen_at`), not on every
 * request. An invalid session is an expected outcome: lookups return `null`.
 */
import type { Kysely } from 'kysely';
import type { Executor } from '../db/executor.js';
import type { Database, SessionRow, UserRow } from '../db/schema.js';
import type { Tx } from '../db/transaction.js';
import type { UserDirectory } from '../accounts/user-directory.service.js';
import { addSeconds, type Clock } from '../shared/clock.js';
import { AppError } from '../shared/errors.js';
import { newId } from '../shared/ids.js';
import { generateToken, hashToken, looksLikeToken } from '../crypto/tokens.js';
import type { AuthCache } from './auth-cache.js';
import type { AuthChanges } from './auth-changes.js';
import { inTransaction } from '../db/transaction.js';
import {
  findSessionById,
  findSessionByTokenHash,
  insertSession,
  listActiveSessions,
  revokeSession,
  revokeUserSessions,
  touchSession,
} from './sessions.repo.js';
import type { SessionView } from './sessions.views.js';

/** The lifetime used for sessions that "never expire" (a group with session TTL 0): 100 years. */
const NEVER_EXPIRES_SECONDS = 100 * 365 * 24 * 3600;

/** `last_seen_at` is refreshed at most this often per session (seconds). */
const LAST_SEEN_RESOLUTION_SECONDS = 300;

/** Where a session was created from. */
export interface ClientInfo {
  ip: string | null;
  userAgent: string | null;
}

/** A valid session together with its (active) user. */
export interface SessionWithUser {
  session: SessionRow;
  user: UserRow;
  /** True when this validation slid the expiry forward (a browser's cookie should be re-sent). */
  renewed: boolean;
}

/** A session as shown to its owner (schema in `sessions.views.ts`). */
export type { SessionView };

/** Options for {@link SessionService}. */
export interface SessionServiceOptions {
  db: Kysely<Database>;
  /** The `user` rows (the accounts module's service). */
  users: UserDirectory;
  clock: Clock;
  cache: AuthCache;
  /** Announces revocations to this and other instances' caches. */
  changes: AuthChanges;
  /** Session lifetime in seconds (renewed on use). */
  ttlSeconds: number;
}

export class SessionService {
  constructor(private readonly options: SessionServiceOptions) {}

  /**
   * Creates a session. Browser sessions get a cookie secret (returned once, stored hashed); API
   * sessions return `token: null` and are reached through refresh tokens and access JWTs.
   */
  async create(
    db: Executor,
    userId: string,
    kind: SessionRow['kind'],
    client: ClientInfo,
    ttlSeconds?: number,
  ): Promise<{ session: SessionRow; token: string | null }> {
    const now = this.options.clock.now();
    const ttl = ttlSeconds === undefined || ttlSeconds === this.options.ttlSeconds ? null : ttlSeconds;
    const token = kind === 'browser' ? generateToken() : null;
    const session: SessionRow = {
      id: newId(),
      user_id: userId,
      kind,
      token_hash: token ? hashToken(token) : null,
      created_at: now.toISOString(),
      last_seen_at: now.toISOString(),
      expires_at: addSeconds(now, this.lifetime(ttl)).toISOString(),
      revoked_at: null,
      revoke_reason: null,
      ip: client.ip?.slice(0, 64) ?? null,
      user_agent: client.userAgent?.slice(0, 512) ?? null,
      ttl_seconds: ttl,
    };
    await insertSession(db, session);
    return { session, token };
  }

  /** Resolves a session cookie's secret to a valid session and active user, or `null`. */
  async validateCookieToken(token: string): Promise<SessionWithUser | null> {
    if (!looksLikeToken(token)) return null;
    const tokenHash = hashToken(token);
    let session = this.options.cache.sessionByTokenHash(tokenHash);
    if (!session) {
      session = await findSessionByTokenHash(this.options.db, tokenHash);
      if (!session) return null;
      this.options.cache.rememberSession(session);
    }
    return this.checkAndSlide(session);
  }

  /** Resolves a session id (from an access token's `sid`) to a valid session and active user, or `null`. */
  async validateSessionId(sessionId: string): Promise<SessionWithUser | null> {
    let session = this.options.cache.sessionById(sessionId);
    if (!session) {
      session = await findSessionById(this.options.db, sessionId);
      if (!session) return null;
      this.options.cache.rememberSession(session);
    }
    return this.checkAndSlide(session);
  }

  /**
   * Extends an API session's expiry (used when its refresh token rotates).
   * @returns the new expiry as an ISO string.
   */
  async extend(db: Executor, session: SessionRow): Promise<string> {
    const now = this.options.clock.now();
    const expiresAt = addSeconds(now, this.lifetime(session.ttl_seconds)).toISOString();
    await touchSession(db, session.id, now.toISOString(), expiresAt);
    return expiresAt;
  }

  /** The user's active sessions, newest first, with `current` marking `currentSessionId`. */
  async list(userId: string, currentSessionId: string | null): Promise<SessionView[]> {
    const rows = await listActiveSessions(this.options.db, userId, this.options.clock.now().toISOString());
    return rows.map((s) => ({
      id: s.id,
      created_at: s.created_at,
      last_seen_at: s.last_seen_at,
      expires_at: s.expires_at,
      ip: s.ip,
      user_agent: s.user_agent,
      current: s.id === currentSessionId,
    }));
  }

  /**
   * Revokes one of the user's own sessions.
   * @throws AppError `not_found` when the session does not exist, is not theirs, or is already gone.
   */
  async revokeOwn(userId: string, sessionId: string): Promise<void> {
    const session = await findSessionById(this.options.db, sessionId);
    if (!session || session.user_id !== userId || session.revoked_at) throw new AppError('not_found', 'No such session.');
    await inTransaction(this.options.db, (tx) => this.revokeInTx(tx, sessionId, 'revoked_by_user'));
  }

  /**
   * Revokes one active session of `userId` inside `tx` (operators, CLI); the cache forgets it
   * after commit.
   * @throws AppError `not_found` when the session does not exist, is someone else's, or is already revoked.
   */
  async revokeOfUserInTx(tx: Tx, userId: string, sessionId: string, reason: string): Promise<void> {
    const session = await findSessionById(tx.db, sessionId);
    if (!session || session.user_id !== userId || session.revoked_at) throw new AppError('not_found', 'No such session.');
    await this.revokeInTx(tx, sessionId, reason);
  }

  /** Revokes one session inside `tx`; the cache forgets it after commit. */
  async revokeInTx(tx: Tx, sessionId: string, reason: string): Promise<void> {
    await this.revoke(tx.db, sessionId, reason);
    await this.options.changes.sessionChanged(tx, sessionId);
  }

  /** Revokes every session of a user (except `keepSessionId`) inside `tx`; the cache forgets them after commit. */
  async revokeAllInTx(tx: Tx, userId: string, reason: string, keepSessionId?: string): Promise<void> {
    await revokeUserSessions(tx.db, userId, this.options.clock.now().toISOString(), reason, keepSessionId);
    await this.options.changes.userSessionsRevoked(tx, userId);
  }

  /**
   * Whether a session is still usable, read from the database (the cache is skipped: this is
   * the check behind long-lived streams, which must see revocations the cache has not heard
   * of): it exists, is neither revoked nor expired, and its user is active and not banned.
   * Never extends the session.
   */
  async isLive(sessionId: string): Promise<boolean> {
    const session = await findSessionById(this.options.db, sessionId);
    const now = this.options.clock.now().getTime();
    if (!session || session.revoked_at || Date.parse(session.expires_at) <= now) return false;
    const user = await this.options.users.findById(session.user_id);
    return !!user && user.status === 'active' && !(user.banned_until && Date.parse(user.banned_until) > now);
  }

  /** Seconds a session lives: its own TTL, the default, or ~100 years for 0 ("never expires"). */
  private lifetime(ttlSeconds: number | null): number {
    const ttl = ttlSeconds ?? this.options.ttlSeconds;
    return ttl === 0 ? NEVER_EXPIRES_SECONDS : ttl;
  }

  private async revoke(db: Executor, sessionId: string, reason: string): Promise<void> {
    await revokeSession(db, sessionId, this.options.clock.now().toISOString(), reason);
  }

  private async checkAndSlide(session: SessionRow): Promise<SessionWithUser | null> {
    const now = this.options.clock.now();
    if (session.revoked_at || Date.parse(session.expires_at) <= now.getTime()) return null;
    let user = this.options.cache.user(session.user_id);
    if (!user) {
      user = await this.options.users.findById(session.user_id);
      if (!user) return null;
      this.options.cache.rememberUser(user);
    }
    if (user.status !== 'active') return null;

    const remainingMs = Date.parse(session.expires_at) - now.getTime();
    const sinceSeenMs = now.getTime() - Date.parse(session.last_seen_at);
    const lifetime = this.lifetime(session.ttl_seconds);
    const slide = remainingMs < (lifetime * 1000) / 2;
    if (slide || sinceSeenMs > LAST_SEEN_RESOLUTION_SECONDS * 1000) {
      const lastSeenAt = now.toISOString();
      const expiresAt = slide ? addSeconds(now, lifetime).toISOString() : session.expires_at;
      await touchSession(this.options.db, session.id, lastSeenAt, expiresAt);
      session = Object.assign({}, session, { last_seen_at: lastSeenAt, expires_at: expiresAt });
      this.options.cache.rememberSession(session);
    }
    return { session, user, renewed: slide };
  }
}
