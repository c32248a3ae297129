/**
 * Migration 0002: groups and memberships, API keys, bans, the audit log and login attempts.
 * Frozen in time: it takes `Kysely<any>` and imports no application code.
 */
import type { Kysely } from 'kysely';
import type { MigrationTypes } from './types.js';

export function migration0002({ timestamp, json }: MigrationTypes) {
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema.alterTable('user').addColumn('banned_until', timestamp).execute();
      await db.schema.alterTable('user').addColumn('ban_reason', 'text').execute();
      // Per-session lifetime (groups may grant longer sessions); null = the configured default.
      await db.schema.alterTable('session').addColumn('ttl_seconds', 'bigint').execute();

      await db.schema
        .createTable('group')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('permissions', json, (c) => c.notNull())
        .addColumn('session_ttl_seconds', 'bigint')
        .addColumn('api_key_max_ttl_seconds', 'bigint')
        .addColumn('quota_per_hour', 'integer')
        .addColumn('quota_per_day', 'integer')
        .addColumn('created_at', timestamp, (c) => c.notNull())
        .addColumn('updated_at', timestamp, (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('user_group')
        .addColumn('user_id', 'text', (c) => c.notNull().references('user.id').onDelete('cascade'))
        .addColumn('group_id', 'text', (c) => c.notNull().references('group.id').onDelete('cascade'))
        .addColumn('created_at', timestamp, (c) => c.notNull())
        .addPrimaryKeyConstraint('user_group_pk', ['user_id', 'group_id'])
        .execute();
      await db.schema.createIndex('user_group_group_id_idx').on('user_group').column('group_id').execute();

      await db.schema
        .createTable('api_key')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('user.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('prefix', 'text', (c) => c.notNull().unique())
        .addColumn('key_hash', 'text', (c) => c.notNull().unique())
        .addColumn('scopes', json, (c) => c.notNull())
        .addColumn('created_at', timestamp, (c) => c.notNull())
        .addColumn('last_used_at', timestamp)
        .addColumn('expires_at', timestamp)
        .addColumn('revoked_at', timestamp)
        .execute();
      await db.schema.createIndex('api_key_user_id_idx').on('api_key').column('user_id').execute();

      await db.schema
        .createTable('audit_log')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('created_at', timestamp, (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('actor_id', 'text')
        .addColumn('target_type', 'text')
        .addColumn('target_id', 'text')
        .addColumn('ip', 'text')
        .addColumn('user_agent', 'text')
        .addColumn('details', json, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('audit_log_action_idx').on('audit_log').columns(['action', 'id']).execute();
      await db.schema.createIndex('audit_log_actor_idx').on('audit_log').columns(['actor_id', 'id']).execute();
      await db.schema.createIndex('audit_log_target_idx').on('audit_log').columns(['target_id', 'id']).execute();

      await db.schema
        .createTable('login_attempt')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('created_at', timestamp, (c) => c.notNull())
        .addColumn('email_normalized', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text')
        .addColumn('ip', 'text')
        .addColumn('outcome', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('login_attempt_email_idx').on('login_attempt').columns(['email_normalized', 'id']).execute();
      await db.schema.createIndex('login_attempt_ip_idx').on('login_attempt').columns(['ip', 'id']).execute();
      await db.schema.createIndex('login_attempt_user_idx').on('login_attempt').columns(['user_id', 'id']).execute();
    },
  };
}
