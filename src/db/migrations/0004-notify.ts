/**
 * Migration 0004: notification channel switches (`gatehouse notify enable|disable CHANNEL`).
 * Frozen in time: it takes `Kysely<any>` and imports no application code.
 */
import type { Kysely } from 'kysely';
import type { MigrationTypes } from './types.js';

/** Creates `notify_channel` (one row per channel an operator switched; no row = enabled). */
export function migration0004({ timestamp }: MigrationTypes) {
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('notify_channel')
        .addColumn('channel', 'text', (c) => c.primaryKey())
        // 1 = enabled, 0 = paused; an integer reads the same on both dialects.
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('updated_at', timestamp, (c) => c.notNull())
        .execute();
    },
  };
}
