/**
 * The typed shape of every table, as Kysely sees it.
 *
 * Conventions shared by both dialects: ids are UUIDv7 strings; times are ISO-8601 UTC strings
 * (SQLite `TEXT`, PostgreSQL `timestamptz` parsed back to ISO strings in `database.ts`); JSON
 * columns are serialised strings (`jsonb` on PostgreSQL, parsed by the repositories).
 */
import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

/** `user`: one account. `email_normalized` (lower-cased) carries the case-insensitive unique index. */
export interface UserTable {
  id: string;
  email: string;
  email_normalized: string;
  password_hash: string;
  name: string;
  /** JSON object, serialised. */
  profile: string;
  role: 'user' | 'admin';
  status: 'active' | 'deactivated';
  email_verified_at: string | null;
  created_at: string;
  updated_at: string;
}

/**
 * `session`: a login. Browser sessions carry the SHA-256 hash of their cookie secret; API
 * sessions (from the token endpoint) have no cookie and own a family of refresh tokens.
 */
export interface SessionTable {
  id: string;
  user_id: string;
  kind: 'browser' | 'api';
  token_hash: string | null;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
  revoked_at: string | null;
  revoke_reason: string | null;
  ip: string | null;
  user_agent: string | null;
}

/** `refresh_token`: one link in an API session's rotation chain (its token family). */
export interface RefreshTokenTable {
  id: string;
  session_id: string;
  token_hash: string;
  parent_id: string | null;
  created_at: string;
  expires_at: string;
  /** Set when the token was exchanged; presenting it again is reuse and revokes the family. */
  used_at: string | null;
}

/** `one_time_token`: email verification and password reset tokens, consumed atomically. */
export interface OneTimeTokenTable {
  id: string;
  user_id: string;
  purpose: 'verify_email' | 'reset_password';
  token_hash: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
}

/** `signing_key`: JWT signing key pairs (private JWK kept server-side, public JWK in the JWKS). */
export interface SigningKeyTable {
  kid: string;
  algorithm: string;
  public_jwk: string;
  private_jwk: string;
  created_at: string;
  retired_at: string | null;
}

/** `outbox`: durable queue of outgoing messages (emails), delivered with retries. */
export interface OutboxTable {
  id: string;
  channel: 'email';
  recipient: string;
  subject: string;
  /** JSON `{ text, html }`, serialised. */
  body: string;
  /** Which template produced it, for operators and tests. */
  template: string;
  status: 'pending' | 'sent' | 'dead';
  attempts: number;
  next_attempt_at: string;
  locked_until: string | null;
  last_error: string | null;
  created_at: string;
  sent_at: string | null;
}

/** Every table, keyed by name. */
export interface Database {
  user: UserTable;
  session: SessionTable;
  refresh_token: RefreshTokenTable;
  one_time_token: OneTimeTokenTable;
  signing_key: SigningKeyTable;
  outbox: OutboxTable;
}

export type UserRow = Selectable<UserTable>;
export type NewUserRow = Insertable<UserTable>;
export type UserUpdate = Updateable<UserTable>;
export type SessionRow = Selectable<SessionTable>;
export type RefreshTokenRow = Selectable<RefreshTokenTable>;
export type OneTimeTokenRow = Selectable<OneTimeTokenTable>;
export type SigningKeyRow = Selectable<SigningKeyTable>;
export type OutboxRow = Selectable<OutboxTable>;

/** Marker kept so `Generated` stays importable for future auto-increment columns. */
export type GeneratedColumn<T> = Generated<T>;
