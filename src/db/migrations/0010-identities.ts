/**
 * Migration 0010: social sign-in (OpenID Connect / OAuth 2.0 providers).
 *
 * - `identity`: one account at an external provider (`provider`, `subject`) linked to a user;
 *   `(provider, subject)` is unique, so one provider account signs in to one user.
 * - `identity_ticket`: short-lived single-use secrets of the sign-in flows, stored as SHA-256
 *   hashes: the one-time `login_code` an API client exchanges at `/auth/token` (with its PKCE
 *   challenge and redirect URI), and the pending `link` a person completes by proving the
 *   existing account (password, or the emailed `link_email` confirmation).
 * - `user.password_hash` becomes nullable: an account created through a provider has no
 *   password until its owner sets one through the reset flow. SQLite cannot drop a NOT NULL
 *   constraint in place, so the table is rebuilt (sqlite.org/lang_altertable.html, "Making Other
 *   Kinds Of Table Schema Changes") with foreign keys off, so that dropping the old table does
 *   not cascade to sessions, keys and memberships.
 *
 * Frozen in time: it takes `Kysely<any>` and imports no application code.
 */
import { type Kysely, sql } from 'kysely';
import type { MigrationTypes } from './types.js';

/** Builds migration 0010 for one dialect's column types. */
export function migration0010({ timestamp, json }: MigrationTypes) {
  const postgres = json === 'jsonb';
  return {
    async up(db: Kysely<any>): Promise<void> {
      if (postgres) {
        await sql`alter table "user" alter column "password_hash" drop not null`.execute(db);
      } else {
        await rebuildSqliteUserTable(db);
      }

      await db.schema
        .createTable('identity')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('user.id').onDelete('cascade'))
        .addColumn('provider', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('email', 'text')
        .addColumn('email_verified', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('linked_at', timestamp, (c) => c.notNull())
        .addColumn('last_sign_in_at', timestamp)
        .execute();
      await db.schema.createIndex('identity_provider_subject_idx').on('identity').columns(['provider', 'subject']).unique().execute();
      await db.schema.createIndex('identity_user_id_idx').on('identity').column('user_id').execute();

      await db.schema
        .createTable('identity_ticket')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('purpose', 'text', (c) => c.notNull())
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('user_id', 'text', (c) => c.notNull().references('user.id').onDelete('cascade'))
        .addColumn('provider', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('email', 'text')
        .addColumn('email_verified', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('mode', 'text', (c) => c.notNull())
        .addColumn('code_challenge', 'text')
        .addColumn('redirect_uri', 'text')
        .addColumn('created_at', timestamp, (c) => c.notNull())
        .addColumn('expires_at', timestamp, (c) => c.notNull())
        .addColumn('used_at', timestamp)
        .execute();
      await db.schema.createIndex('identity_ticket_expires_at_idx').on('identity_ticket').column('expires_at').execute();
    },
  };
}

/**
 * Rebuilds SQLite's `user` table with `password_hash` nullable: the same definition with the
 * NOT NULL removed, rows copied, the old table dropped, the new one renamed, its indexes
 * recreated, then a foreign-key check. Migrations run outside a transaction on SQLite (no
 * transactional DDL), so the pragma takes effect; the copy itself runs in one transaction.
 */
async function rebuildSqliteUserTable(db: Kysely<any>): Promise<void> {
  const table = await sql<{ sql: string }>`select sql from sqlite_master where type = 'table' and name = 'user'`.execute(db);
  const definition = table.rows[0]?.sql;
  if (!definition) throw new Error('migration 0010: the user table is missing');
  const relaxed = definition.replace(/("password_hash"\s+text)\s+not\s+null/i, '$1');
  if (relaxed === definition) throw new Error('migration 0010: could not find "password_hash" text not null in the user table');
  const newDefinition = relaxed.replace(/^create\s+table\s+"user"/i, 'create table "user_0010"');
  const indexes = await sql<{ sql: string }>`select sql from sqlite_master where type = 'index' and tbl_name = 'user' and sql is not null`.execute(db);
  await sql`pragma foreign_keys = off`.execute(db);
  try {
    await db.transaction().execute(async (trx) => {
      await sql.raw(newDefinition).execute(trx);
      await sql`insert into "user_0010" select * from "user"`.execute(trx);
      await sql`drop table "user"`.execute(trx);
      await sql`alter table "user_0010" rename to "user"`.execute(trx);
      for (const index of indexes.rows) await sql.raw(index.sql).execute(trx);
      const broken = await sql`pragma foreign_key_check`.execute(trx);
      if (broken.rows.length) throw new Error('migration 0010: foreign key check failed after rebuilding the user table');
    });
  } finally {
    await sql`pragma foreign_keys = on`.execute(db);
  }
}
