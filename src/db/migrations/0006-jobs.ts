/**
 * Migration 0006: the job system — queues, jobs, their append-only events, registered workers and
 * stored files. Frozen in time: it takes `Kysely<any>` and imports no application code.
 */
import { type Kysely, sql } from 'kysely';
import type { MigrationTypes } from './types.js';

/** Builds migration 0006 for one dialect's column types. */
export function migration0006({ timestamp, json }: MigrationTypes) {
  const postgres = timestamp === 'timestamptz';
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('queue')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('paused', 'integer', (c) => c.notNull())
        .addColumn('lease_seconds', 'integer', (c) => c.notNull())
        .addColumn('max_attempts', 'integer', (c) => c.notNull())
        .addColumn('max_lease_expiries', 'integer', (c) => c.notNull())
        .addColumn('backoff_base_seconds', 'integer', (c) => c.notNull())
        .addColumn('backoff_max_seconds', 'integer', (c) => c.notNull())
        .addColumn('enqueue_permission', 'text', (c) => c.notNull())
        .addColumn('claim_permission', 'text', (c) => c.notNull())
        .addColumn('worker_concurrency', 'integer', (c) => c.notNull())
        .addColumn('created_at', timestamp, (c) => c.notNull())
        .addColumn('updated_at', timestamp, (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('worker')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('api_key_id', 'text', (c) => c.notNull().unique().references('api_key.id').onDelete('cascade'))
        .addColumn('user_id', 'text', (c) => c.notNull().references('user.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('capabilities', json, (c) => c.notNull())
        .addColumn('created_at', timestamp, (c) => c.notNull())
        .addColumn('last_seen_at', timestamp, (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('file')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('owner_id', 'text', (c) => c.references('user.id').onDelete('set null'))
        .addColumn('purpose', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('content_type', 'text', (c) => c.notNull())
        .addColumn('size_bytes', 'bigint', (c) => c.notNull())
        .addColumn('sha256', 'text', (c) => c.notNull())
        .addColumn('storage_key', 'text', (c) => c.notNull())
        .addColumn('job_id', 'text')
        .addColumn('created_at', timestamp, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('file_owner_idx').on('file').columns(['owner_id', 'id']).execute();
      await db.schema.createIndex('file_job_idx').on('file').column('job_id').execute();

      await db.schema
        .createTable('job')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('queue', 'text', (c) => c.notNull().references('queue.name').onDelete('cascade'))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('payload', json, (c) => c.notNull())
        .addColumn('priority', 'integer', (c) => c.notNull())
        .addColumn('run_after', timestamp, (c) => c.notNull())
        .addColumn('idempotency_key', 'text')
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('failures', 'integer', (c) => c.notNull())
        .addColumn('lease_expiries', 'integer', (c) => c.notNull())
        .addColumn('lease_expires_at', timestamp)
        .addColumn('worker_id', 'text', (c) => c.references('worker.id').onDelete('set null'))
        .addColumn('progress', 'real', (c) => c.notNull())
        .addColumn('progress_message', 'text')
        .addColumn('metrics', json)
        .addColumn('result', json)
        .addColumn('error', json)
        .addColumn('input_files', json, (c) => c.notNull())
        .addColumn('output_files', json, (c) => c.notNull())
        .addColumn('checkpoint_file_id', 'text')
        .addColumn('owner_id', 'text', (c) => c.references('user.id').onDelete('set null'))
        .addColumn('parent_type', 'text')
        .addColumn('parent_id', 'text')
        .addColumn('event_seq', 'integer', (c) => c.notNull())
        .addColumn('created_at', timestamp, (c) => c.notNull())
        .addColumn('started_at', timestamp)
        .addColumn('heartbeat_at', timestamp)
        .addColumn('finished_at', timestamp)
        .addColumn('updated_at', timestamp, (c) => c.notNull())
        .execute();
      // Claims read queued jobs of one queue in priority order; the partial index holds only those.
      await db.schema
        .createIndex('job_claim_idx')
        .on('job')
        .columns(['queue', 'priority desc', 'run_after', 'id'])
        .where(sql.ref('state'), '=', 'queued')
        .execute();
      // The lease sweeper and the per-worker limit read only held jobs.
      await db.schema
        .createIndex('job_lease_idx')
        .on('job')
        .column('lease_expires_at')
        .where(sql<boolean>`state in ('running', 'paused')`)
        .execute();
      await db.schema
        .createIndex('job_worker_idx')
        .on('job')
        .column('worker_id')
        .where(sql<boolean>`state in ('running', 'paused')`)
        .execute();
      await db.schema
        .createIndex('job_idempotency_idx')
        .on('job')
        .columns(['queue', 'idempotency_key'])
        .unique()
        .where(sql.ref('idempotency_key'), 'is not', null)
        .execute();
      await db.schema.createIndex('job_queue_state_idx').on('job').columns(['queue', 'state', 'id']).execute();
      await db.schema.createIndex('job_owner_idx').on('job').columns(['owner_id', 'id']).execute();
      await db.schema.createIndex('job_parent_idx').on('job').columns(['parent_type', 'parent_id']).execute();
      await db.schema.createIndex('job_finished_idx').on('job').columns(['queue', 'finished_at']).execute();

      await db.schema
        .createTable('job_event')
        .addColumn('id', postgres ? 'bigserial' : 'integer', (c) => (postgres ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('job_id', 'text', (c) => c.notNull().references('job.id').onDelete('cascade'))
        .addColumn('queue', 'text', (c) => c.notNull())
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('data', json, (c) => c.notNull())
        .addColumn('created_at', timestamp, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('job_event_job_seq_idx').on('job_event').columns(['job_id', 'seq']).unique().execute();
      await db.schema.createIndex('job_event_queue_idx').on('job_event').columns(['queue', 'id']).execute();
    },
  };
}
