/** The speech module's migrations (recorded in `gatehouse_migrations_speech`). */
import type { Kysely, Migration } from 'kysely';
import type { MigrationTypes } from '../db/migrations/types.js';

/** @returns the module's migrations by name. */
export function speechMigrations(types: MigrationTypes): Record<string, Migration> {
  return {
    '0001-speech': {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations are frozen in time and never import app types
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('speech_question')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('text', 'text', (c) => c.notNull())
          .addColumn('category', 'text')
          .addColumn('difficulty', 'integer')
          .addColumn('expected_seconds', 'integer')
          .addColumn('created_by', 'text', (c) => c.references('user.id').onDelete('set null'))
          .addColumn('created_at', types.timestamp, (c) => c.notNull())
          .addColumn('updated_at', types.timestamp, (c) => c.notNull())
          .execute();
        await db.schema.createIndex('speech_question_category').on('speech_question').columns(['category', 'id']).execute();
        await db.schema
          .createTable('speech_session')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('owner_id', 'text', (c) => c.notNull().references('user.id').onDelete('cascade'))
          .addColumn('question_id', 'text', (c) => c.references('speech_question.id').onDelete('set null'))
          .addColumn('file_id', 'text', (c) => c.notNull())
          .addColumn('format', 'text', (c) => c.notNull())
          .addColumn('duration_s', 'double precision', (c) => c.notNull())
          .addColumn('job_id', 'text', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('report', types.json)
          .addColumn('score', 'double precision')
          .addColumn('error', 'text')
          .addColumn('created_at', types.timestamp, (c) => c.notNull())
          .addColumn('updated_at', types.timestamp, (c) => c.notNull())
          .addColumn('finished_at', types.timestamp)
          // The analysis' last progress (0..1) and stage, relayed from the job's heartbeats.
          .addColumn('progress', 'double precision', (c) => c.notNull().defaultTo(0))
          .addColumn('progress_message', 'text')
          .execute();
        await db.schema.createIndex('speech_session_job').on('speech_session').columns(['job_id']).execute();
        await db.schema.createIndex('speech_session_owner').on('speech_session').columns(['owner_id', 'id']).execute();
        await db.schema.createIndex('speech_session_owner_created').on('speech_session').columns(['owner_id', 'created_at']).execute();
        await db.schema.createIndex('speech_session_file').on('speech_session').columns(['file_id']).execute();
        await db.schema.createIndex('speech_session_question').on('speech_session').columns(['question_id']).execute();
      },
    },
  };
}
