/** The challenges module's migrations (recorded in `gatehouse_migrations_challenges`). Frozen: add new ones, never edit. */
import type { Kysely, Migration } from 'kysely';
import type { MigrationTypes } from '../db/migrations/types.js';

/** @returns the module's migrations by name. */
export function challengesMigrations(types: MigrationTypes): Record<string, Migration> {
  return {
    '0001-challenges': {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations are frozen in time and never import app types
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('challenge')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('slug', 'text', (c) => c.notNull().unique())
          .addColumn('title', 'text', (c) => c.notNull())
          .addColumn('description', 'text', (c) => c.notNull())
          .addColumn('url', 'text')
          .addColumn('active', 'integer', (c) => c.notNull())
          .addColumn('opens_at', types.timestamp)
          .addColumn('closes_at', types.timestamp)
          .addColumn('evaluators', types.json, (c) => c.notNull())
          .addColumn('leaderboard_score', 'text', (c) => c.notNull())
          .addColumn('leaderboard_direction', 'text', (c) => c.notNull())
          .addColumn('per_day', 'integer')
          .addColumn('concurrent', 'integer')
          .addColumn('visibility', 'text', (c) => c.notNull())
          .addColumn('leaderboard_version', 'integer', (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.references('user.id').onDelete('set null'))
          .addColumn('created_at', types.timestamp, (c) => c.notNull())
          .addColumn('updated_at', types.timestamp, (c) => c.notNull())
          .execute();

        await db.schema
          .createTable('challenge_resource')
          .addColumn('id', 'text', (c) => c.primaryKey().references('file.id').onDelete('cascade'))
          .addColumn('challenge_id', 'text', (c) => c.notNull().references('challenge.id').onDelete('cascade'))
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('hidden', 'integer', (c) => c.notNull())
          .addColumn('size_bytes', 'bigint', (c) => c.notNull())
          .addColumn('sha256', 'text', (c) => c.notNull())
          .addColumn('created_at', types.timestamp, (c) => c.notNull())
          .execute();
        await db.schema.createIndex('challenge_resource_name').on('challenge_resource').columns(['challenge_id', 'name']).unique().execute();

        await db.schema
          .createTable('challenge_participant')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('challenge_id', 'text', (c) => c.notNull().references('challenge.id').onDelete('cascade'))
          .addColumn('user_id', 'text', (c) => c.notNull().references('user.id').onDelete('cascade'))
          .addColumn('joined_at', types.timestamp, (c) => c.notNull())
          .addColumn('last_submitted_at', types.timestamp)
          .execute();
        await db.schema.createIndex('challenge_participant_user').on('challenge_participant').columns(['challenge_id', 'user_id']).unique().execute();

        await db.schema
          .createTable('challenge_submission')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('challenge_id', 'text', (c) => c.notNull().references('challenge.id').onDelete('cascade'))
          .addColumn('user_id', 'text', (c) => c.notNull().references('user.id').onDelete('cascade'))
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('files', types.json, (c) => c.notNull())
          .addColumn('meta', types.json, (c) => c.notNull())
          .addColumn('scores', types.json, (c) => c.notNull())
          .addColumn('errors', types.json, (c) => c.notNull())
          .addColumn('created_at', types.timestamp, (c) => c.notNull())
          .addColumn('updated_at', types.timestamp, (c) => c.notNull())
          .addColumn('settled_at', types.timestamp)
          .execute();
        await db.schema.createIndex('challenge_submission_user').on('challenge_submission').columns(['challenge_id', 'user_id', 'created_at']).execute();
        await db.schema.createIndex('challenge_submission_state').on('challenge_submission').columns(['challenge_id', 'state']).execute();

        await db.schema
          .createTable('challenge_evaluation')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('submission_id', 'text', (c) => c.notNull().references('challenge_submission.id').onDelete('cascade'))
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('queue', 'text', (c) => c.notNull())
          .addColumn('job_id', 'text', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('scores', types.json, (c) => c.notNull())
          .addColumn('details', types.json)
          .addColumn('error', 'text')
          .addColumn('progress', 'double precision', (c) => c.notNull())
          .addColumn('progress_message', 'text')
          .addColumn('updated_at', types.timestamp, (c) => c.notNull())
          .execute();
        await db.schema.createIndex('challenge_evaluation_submission').on('challenge_evaluation').columns(['submission_id']).execute();
        await db.schema.createIndex('challenge_evaluation_job').on('challenge_evaluation').columns(['job_id']).unique().execute();
      },
    },
  };
}
