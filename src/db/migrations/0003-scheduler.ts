/**
 * Migration 0003: the scheduler's lease rows (`scheduled_task`) and run history (`task_run`),
 * plus the indexes its housekeeping deletes need so they never scan whole tables.
 * Frozen in time: it takes `Kysely<any>` and imports no application code.
 */
import type { Kysely } from 'kysely';
import type { MigrationTypes } from './types.js';

/** Builds migration 0003 for one dialect's column types. */
export function migration0003({ timestamp, json }: MigrationTypes) {
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('scheduled_task')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('schedule', 'text', (c) => c.notNull())
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('next_run_at', timestamp)
        .addColumn('last_run_at', timestamp)
        .addColumn('lease_owner', 'text')
        .addColumn('lease_expires_at', timestamp)
        .addColumn('updated_at', timestamp, (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('task_run')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('task', 'text', (c) => c.notNull())
        .addColumn('trigger', 'text', (c) => c.notNull())
        .addColumn('instance', 'text', (c) => c.notNull())
        .addColumn('started_at', timestamp, (c) => c.notNull())
        .addColumn('finished_at', timestamp)
        .addColumn('outcome', 'text')
        .addColumn('detail', json, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('task_run_task_idx').on('task_run').columns(['task', 'id']).execute();
      await db.schema.createIndex('task_run_started_at_idx').on('task_run').column('started_at').execute();

      // Housekeeping deletes by time; without these they would scan the tables.
      await db.schema.createIndex('refresh_token_expires_at_idx').on('refresh_token').column('expires_at').execute();
      await db.schema.createIndex('one_time_token_expires_at_idx').on('one_time_token').column('expires_at').execute();
      await db.schema.createIndex('audit_log_created_at_idx').on('audit_log').column('created_at').execute();
      await db.schema.createIndex('login_attempt_created_at_idx').on('login_attempt').column('created_at').execute();
      await db.schema.createIndex('user_banned_until_idx').on('user').column('banned_until').execute();
      await db.schema.createIndex('user_created_at_idx').on('user').column('created_at').execute();
    },
  };
}
