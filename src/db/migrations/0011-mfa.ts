/**
 * Migration 0011: two-factor authentication (TOTP, RFC 6238), recovery codes, passkeys (WebAuthn)
 * and the short-lived challenges of both.
 *
 * - `user.mfa_enabled_at`: set while the user has a confirmed TOTP authenticator (read with every
 *   principal, so a group's `require_mfa` is enforced without another query per request).
 * - `group.require_mfa`: members must enrol TOTP (1/true) before they may do anything else.
 * - `totp_credential`: one per user; `secret` is the shared secret as stored (AES-256-GCM with
 *   MFA_ENCRYPTION_KEY, or `plain:` without it); `last_step` is the last accepted time step, so a
 *   code is never accepted twice (RFC 6238 §5.2).
 * - `recovery_code`: SHA-256 hashes of single-use codes.
 * - `passkey`: WebAuthn credentials (public key, signature counter).
 * - `mfa_challenge`: sign-in challenges (`mfa` tokens) and WebAuthn ceremony challenges, stored
 *   as hashes, single-use, expiring.
 *
 * Frozen in time: it takes `Kysely<any>` and imports no application code.
 */
import type { Kysely } from 'kysely';
import type { MigrationTypes } from './types.js';

/** Builds migration 0011 for one dialect's column types. */
export function migration0011({ timestamp }: MigrationTypes) {
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema.alterTable('user').addColumn('mfa_enabled_at', timestamp).execute();
      await db.schema.alterTable('group').addColumn('require_mfa', 'integer', (c) => c.notNull().defaultTo(0)).execute();

      await db.schema
        .createTable('totp_credential')
        .addColumn('user_id', 'text', (c) => c.primaryKey().references('user.id').onDelete('cascade'))
        .addColumn('secret', 'text', (c) => c.notNull())
        .addColumn('confirmed_at', timestamp)
        .addColumn('last_step', 'bigint')
        .addColumn('created_at', timestamp, (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('recovery_code')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('user.id').onDelete('cascade'))
        .addColumn('code_hash', 'text', (c) => c.notNull())
        .addColumn('created_at', timestamp, (c) => c.notNull())
        .addColumn('used_at', timestamp)
        .execute();
      await db.schema.createIndex('recovery_code_user_hash_idx').on('recovery_code').columns(['user_id', 'code_hash']).unique().execute();

      await db.schema
        .createTable('passkey')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('user.id').onDelete('cascade'))
        .addColumn('credential_id', 'text', (c) => c.notNull().unique())
        .addColumn('public_key', 'text', (c) => c.notNull())
        .addColumn('counter', 'bigint', (c) => c.notNull())
        .addColumn('transports', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('device_type', 'text', (c) => c.notNull())
        .addColumn('backed_up', 'integer', (c) => c.notNull())
        .addColumn('created_at', timestamp, (c) => c.notNull())
        .addColumn('last_used_at', timestamp)
        .execute();
      await db.schema.createIndex('passkey_user_idx').on('passkey').columns(['user_id']).execute();

      await db.schema
        .createTable('mfa_challenge')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('purpose', 'text', (c) => c.notNull())
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('user_id', 'text', (c) => c.references('user.id').onDelete('cascade'))
        .addColumn('flow', 'text')
        .addColumn('method', 'text')
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', timestamp, (c) => c.notNull())
        .addColumn('expires_at', timestamp, (c) => c.notNull())
        .addColumn('used_at', timestamp)
        .execute();
      await db.schema.createIndex('mfa_challenge_expires_idx').on('mfa_challenge').columns(['expires_at']).execute();
    },
  };
}
