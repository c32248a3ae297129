/**
 * Migration 0013: job-row indexes that a claim and a completion no longer rewrite.
 *
 * Every index whose key (or partial-index condition) reads a column an UPDATE changes is
 * rewritten by that UPDATE: a delete of the old entry and an insert of the new one, each a
 * B-tree descent that may rebalance pages. A claim changes `state`, `worker_id` and the lease; a
 * completion changes `state`, `finished_at` and the lease. Measured on SQLite with 60k jobs
 * (claim + `state` event + completion + `state` event, in group commits of 50, 2 cores), dropping
 * the two indexes below roughly halved the database time of a job's cycle.
 *
 * - `job_queue_state_idx (queue, state, id)`: rewritten on every claim and every completion.
 *   Replaced by `job_queue_idx (queue, id)`, which neither ever changes (queue and id are fixed at
 *   enqueue); lists and per-state counts of a queue read it and check `state` on the row.
 * - `job_finished_idx (queue, finished_at)`: rewritten on every completion (null → time).
 *   Replaced by the partial `job_finished_at_idx (queue, finished_at) where finished_at is not
 *   null`: a completion inserts one entry, a claim touches none. Its readers (recent durations,
 *   finished counts) all filter `finished_at >= …`, which implies the condition on both engines.
 *
 * The claim index (`job_claim_idx`, queued jobs) and the held-job indexes (`job_lease_idx` for the
 * sweeper, `job_worker_idx` for the per-worker limit) stay: claims need them.
 *
 * Frozen in time: it takes `Kysely<any>` and imports no application code.
 */
import { type Kysely, sql } from 'kysely';
import type { MigrationTypes } from './types.js';

/** Builds migration 0013 (the same on both dialects). */
export function migration0013(_types: MigrationTypes) {
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema.createIndex('job_queue_idx').on('job').columns(['queue', 'id']).execute();
      await db.schema
        .createIndex('job_finished_at_idx')
        .on('job')
        .columns(['queue', 'finished_at'])
        .where(sql.ref('finished_at'), 'is not', null)
        .execute();
      await db.schema.dropIndex('job_queue_state_idx').execute();
      await db.schema.dropIndex('job_finished_idx').execute();
    },
    async down(db: Kysely<any>): Promise<void> {
      await db.schema.createIndex('job_queue_state_idx').on('job').columns(['queue', 'state', 'id']).execute();
      await db.schema.createIndex('job_finished_idx').on('job').columns(['queue', 'finished_at']).execute();
      await db.schema.dropIndex('job_finished_at_idx').execute();
      await db.schema.dropIndex('job_queue_idx').execute();
    },
  };
}
