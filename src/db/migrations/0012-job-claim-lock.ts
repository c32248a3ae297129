/**
 * Migration 0012: `gatehouse_worker_held_jobs(worker_id)`, PostgreSQL only (SQLite: nothing).
 *
 * A worker's claim must count the jobs it holds exactly, even when the same worker key sends
 * claims concurrently (possibly to several instances): each claim locks the worker's row first.
 * Inside one statement, a row lock alone is not enough: under READ COMMITTED the statement's
 * snapshot predates the lock wait, so it would not see the jobs the claim it waited for took.
 * A VOLATILE function takes a fresh snapshot for each query it runs (PostgreSQL docs, "Function
 * Volatility Categories"), so this one locks the row and then counts with a snapshot taken after
 * the lock: the claim becomes one statement (one round trip, no explicit transaction) instead of
 * `begin; select … for update` + the claim + `commit`. The lock lasts until the claim's statement
 * commits. A missing worker row locks nothing.
 *
 * Frozen in time: it takes `Kysely<any>` and imports no application code.
 */
import { type Kysely, sql } from 'kysely';
import type { MigrationTypes } from './types.js';

/** Builds migration 0012 for one dialect's column types. */
export function migration0012({ json }: MigrationTypes) {
  const postgres = json === 'jsonb';
  return {
    async up(db: Kysely<any>): Promise<void> {
      if (!postgres) return;
      await sql`
        create or replace function gatehouse_worker_held_jobs(p_worker_id text) returns bigint
        language plpgsql volatile as $$
        begin
          perform 1 from worker where id = p_worker_id for update;
          return (select count(*) from job where worker_id = p_worker_id and state in ('running', 'paused'));
        end
        $$`.execute(db);
    },
    async down(db: Kysely<any>): Promise<void> {
      if (!postgres) return;
      await sql`drop function if exists gatehouse_worker_held_jobs(text)`.execute(db);
    },
  };
}
