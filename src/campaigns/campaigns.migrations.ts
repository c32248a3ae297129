/** The campaigns module's migrations (recorded in `gatehouse_migrations_campaigns`). Frozen: never edit a shipped one. */
import type { Kysely, Migration } from 'kysely';
import type { MigrationTypes } from '../db/migrations/types.js';

/** @returns the module's migrations by name. */
export function campaignMigrations(types: MigrationTypes): Record<string, Migration> {
  return {
    '0001-campaigns': {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations are frozen in time and never import app types
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('campaign')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('owner_id', 'text', (c) => c.references('user.id').onDelete('set null'))
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('queue', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('objective', 'text', (c) => c.notNull())
          .addColumn('params', types.json, (c) => c.notNull())
          .addColumn('input_file_id', 'text')
          .addColumn('generate_job_id', 'text')
          .addColumn('runs_requested', 'integer', (c) => c.notNull())
          .addColumn('runs_spawned', 'integer', (c) => c.notNull())
          .addColumn('runs_completed', 'integer', (c) => c.notNull())
          .addColumn('runs_failed', 'integer', (c) => c.notNull())
          .addColumn('runs_cancelled', 'integer', (c) => c.notNull())
          .addColumn('best_value', 'double precision')
          .addColumn('best_job_id', 'text')
          .addColumn('best_file_id', 'text')
          .addColumn('error', 'text')
          .addColumn('created_at', types.timestamp, (c) => c.notNull())
          .addColumn('updated_at', types.timestamp, (c) => c.notNull())
          .addColumn('completed_at', types.timestamp)
          .execute();
        await db.schema.createIndex('campaign_input_file').on('campaign').column('input_file_id').execute();
        await db.schema.createIndex('campaign_best_file').on('campaign').column('best_file_id').execute();
        await db.schema
          .createTable('campaign_run')
          .addColumn('job_id', 'text', (c) => c.primaryKey())
          .addColumn('campaign_id', 'text', (c) => c.notNull().references('campaign.id').onDelete('cascade'))
          .addColumn('outcome', 'text', (c) => c.notNull())
          .addColumn('value', 'double precision')
          .addColumn('file_id', 'text')
          .addColumn('worker_id', 'text')
          .addColumn('started_at', types.timestamp)
          .addColumn('finished_at', types.timestamp, (c) => c.notNull())
          .addColumn('run_seconds', 'double precision')
          .execute();
        await db.schema.createIndex('campaign_run_campaign').on('campaign_run').columns(['campaign_id', 'finished_at']).execute();
        await db.schema
          .createTable('campaign_best')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('campaign_id', 'text', (c) => c.notNull().references('campaign.id').onDelete('cascade'))
          .addColumn('value', 'double precision', (c) => c.notNull())
          .addColumn('job_id', 'text', (c) => c.notNull())
          .addColumn('at', types.timestamp, (c) => c.notNull())
          .execute();
        await db.schema.createIndex('campaign_best_campaign').on('campaign_best').columns(['campaign_id', 'id']).execute();
      },
    },
  };
}
