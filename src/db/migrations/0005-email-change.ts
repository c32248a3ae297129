/**
 * Migration 0005: email change. A `change_email` one-time token carries the pending new address
 * in `one_time_token.new_email` (null for every other purpose).
 * Frozen in time: it takes `Kysely<any>` and imports no application code.
 */
import type { Kysely } from 'kysely';
import type { MigrationTypes } from './types.js';

/** Adds the nullable `one_time_token.new_email`. */
export function migration0005(_types: MigrationTypes) {
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema.alterTable('one_time_token').addColumn('new_email', 'text').execute();
    },
  };
}
