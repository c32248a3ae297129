/**
 * Migration 0009: live events of module topics (`submission:{id}`, `campaign:{id}`, …).
 *
 * `topic_event` holds them beside `job_event`, in the SAME global id space, so one SSE stream or
 * WebSocket watching both kinds of topic resumes from one `Last-Event-ID`. PostgreSQL draws both
 * tables' ids from `job_event`'s sequence; SQLite allocates a topic event's id from
 * `sqlite_sequence` (the counter behind `job_event`'s AUTOINCREMENT) and advances it, under the
 * write lock every SQLite write holds. `seq` counts per topic from 1 (unique per topic).
 *
 * Frozen in time: it takes `Kysely<any>` and imports no application code.
 */
import { type Kysely, sql } from 'kysely';
import type { MigrationTypes } from './types.js';

/** Builds migration 0009 for one dialect's column types. */
export function migration0009({ json, timestamp }: MigrationTypes) {
  const postgres = json === 'jsonb';
  return {
    async up(db: Kysely<any>): Promise<void> {
      let idDefault: ReturnType<typeof sql> | undefined;
      if (postgres) {
        const { rows } = await sql<{ name: string }>`select pg_get_serial_sequence('job_event', 'id') as name`.execute(db);
        const sequence = rows[0]?.name;
        if (!sequence) throw new Error('job_event.id has no sequence');
        idDefault = sql`nextval(${sql.lit(sequence)}::regclass)`;
      }
      await db.schema
        .createTable('topic_event')
        .addColumn('id', postgres ? 'bigint' : 'integer', (c) => {
          const column = c.primaryKey();
          return idDefault ? column.defaultTo(idDefault) : column;
        })
        .addColumn('topic', 'text', (c) => c.notNull())
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('data', json, (c) => c.notNull())
        .addColumn('created_at', timestamp, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('topic_event_topic_seq_idx').on('topic_event').columns(['topic', 'seq']).unique().execute();
      await db.schema.createIndex('topic_event_created_idx').on('topic_event').columns(['created_at']).execute();
    },
  };
}
