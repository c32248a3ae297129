/**
 * Migration 0013: the job row keeps only the indexes a claim and a completion need to rewrite
 * (the claim index, the held-job indexes) plus ones they never rewrite; jobs enqueued before the
 * migration are still claimed, listed and counted through it. On both dialects.
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { migrateTo, migrateToLatest } from '../../src/db/migrate.js';
import { dialects } from '../helpers/dialects.js';
import { useUnmigratedDatabase } from '../helpers/unmigrated-database.js';

describe.each(dialects)('job indexes after migration 0013 (%s)', (dialect) => {
  const scratch = useUnmigratedDatabase(dialect);

  async function jobIndexes(): Promise<string[]> {
    const result =
      dialect === 'sqlite'
        ? await sql<{ name: string }>`select name from sqlite_master where type = 'index' and tbl_name = 'job' and sql is not null`.execute(scratch.handle.db)
        : await sql<{ name: string }>`select indexname as name from pg_indexes where tablename = 'job' and indexname <> 'job_pkey'`.execute(scratch.handle.db);
    return result.rows.map((row) => row.name).sort();
  }

  it('replaces the indexes every claim and completion rewrote, keeping the rows', async () => {
    await migrateTo(scratch.handle.db, dialect, '0012-job-claim-lock');
    expect(await jobIndexes()).toContain('job_queue_state_idx');
    const now = new Date().toISOString();
    await sql`insert into queue (name, description, paused, lease_seconds, max_attempts, max_lease_expiries, backoff_base_seconds,
      backoff_max_seconds, enqueue_permission, claim_permission, worker_concurrency, created_at, updated_at)
      values ('q', '', 0, 60, 3, 3, 1, 60, 'jobs:enqueue', 'jobs:claim', 1, ${now}, ${now})`.execute(scratch.handle.db);
    for (const [id, state, finished] of [['j1', 'queued', null], ['j2', 'succeeded', now]] as const) {
      await sql`insert into job (id, queue, kind, payload, priority, run_after, state, attempt, failures, lease_expiries, progress,
        input_files, output_files, event_seq, created_at, updated_at, finished_at)
        values (${id}, 'q', 'k', '{}', 0, ${now}, ${state}, 0, 0, 0, 0, '[]', '[]', 0, ${now}, ${now}, ${finished})`.execute(scratch.handle.db);
    }

    await migrateToLatest(scratch.handle.db, dialect);
    expect(await jobIndexes()).toEqual(
      ['job_claim_idx', 'job_finished_at_idx', 'job_idempotency_owner_idx', 'job_lease_idx', 'job_owner_idx', 'job_parent_idx', 'job_queue_idx', 'job_worker_idx'].sort(),
    );
    const counts = await sql<{ state: string; n: number }>`select state, count(*) as n from job where queue = 'q' group by state order by state`.execute(scratch.handle.db);
    expect(counts.rows.map((r) => [r.state, Number(r.n)])).toEqual([['queued', 1], ['succeeded', 1]]);
    const finished = await sql<{ id: string }>`select id from job where queue = 'q' and finished_at >= ${now}`.execute(scratch.handle.db);
    expect(finished.rows.map((r) => r.id)).toEqual(['j2']);
  });
});
