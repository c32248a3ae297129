/**
 * Migration 0007: per-user storage quotas. A group may set `storage_quota_bytes` for its members
 * (bytes of stored files a member may own; 0 = unlimited; null = the default, STORAGE_QUOTA_BYTES).
 * Frozen in time: it takes `Kysely<any>` and imports no application code.
 */
import type { Kysely } from 'kysely';
import type { MigrationTypes } from './types.js';

/** Adds the nullable `group.storage_quota_bytes`. */
export function migration0007(_types: MigrationTypes) {
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema.alterTable('group').addColumn('storage_quota_bytes', 'bigint').execute();
    },
  };
}
