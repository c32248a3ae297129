/** The example module's migrations (run in its own table, `gatehouse_migrations_tally`). */
import type { Kysely, Migration } from 'kysely';
import type { MigrationTypes } from '../../src/db/migrations/types.js';

/** @returns the module's migrations by name. */
export function tallyMigrations(types: MigrationTypes): Record<string, Migration> {
  return {
    '0001-tally': {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations are frozen in time and never import app types
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('tally')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('owner_id', 'text', (c) => c.notNull().references('user.id').onDelete('cascade'))
          .addColumn('numbers', types.json, (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('result', types.json)
          .addColumn('job_id', 'text')
          .addColumn('created_at', types.timestamp, (c) => c.notNull())
          .addColumn('updated_at', types.timestamp, (c) => c.notNull())
          .execute();
        await db.schema.createIndex('tally_owner').on('tally').columns(['owner_id', 'id']).execute();
      },
    },
  };
}
