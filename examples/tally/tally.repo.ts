/** SQL for the `tally` table. Every function takes an executor, so it runs inside the caller's transaction. */
import type { Executor } from '../../src/db/executor.js';
import type { TallyRow, TallyTable } from './tally.schema.js';

/** Inserts one tally. */
export async function insertTally(db: Executor, row: TallyTable): Promise<void> {
  await db.insertInto('tally').values(row).execute();
}

/** The tally `id`, or undefined. */
export async function findTally(db: Executor, id: string): Promise<TallyRow | undefined> {
  return db.selectFrom('tally').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Tallies, oldest first, optionally of one owner. */
export async function listTallies(db: Executor, ownerId: string | null, limit: number): Promise<TallyRow[]> {
  let query = db.selectFrom('tally').selectAll().orderBy('id').limit(limit);
  if (ownerId) query = query.where('owner_id', '=', ownerId);
  return query.execute();
}

/** Records the job's outcome on a pending tally. @returns the updated row, or undefined when it was not pending. */
export async function settleTally(
  db: Executor,
  id: string,
  changes: Pick<TallyTable, 'status' | 'result' | 'updated_at'>,
): Promise<TallyRow | undefined> {
  return db.updateTable('tally').set(changes).where('id', '=', id).where('status', '=', 'pending').returningAll().executeTakeFirst();
}

/** Links the tally to the job that computes it. */
export async function setTallyJob(db: Executor, id: string, jobId: string): Promise<void> {
  await db.updateTable('tally').set({ job_id: jobId }).where('id', '=', id).execute();
}

/** Deletes a tally (its job could not be enqueued). */
export async function deleteTally(db: Executor, id: string): Promise<void> {
  await db.deleteFrom('tally').where('id', '=', id).execute();
}

/** Deletes settled (done or failed) tallies last changed before `beforeIso`. @returns how many. */
export async function deleteSettledTalliesBefore(db: Executor, beforeIso: string): Promise<number> {
  const result = await db.deleteFrom('tally').where('status', '!=', 'pending').where('updated_at', '<', beforeIso).executeTakeFirst();
  return Number(result.numDeletedRows);
}
