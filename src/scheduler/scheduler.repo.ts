/** Queries for the scheduler's own tables: `scheduled_task` (lease rows) and `task_run` (history). */
import type { Executor } from '../db/executor.js';
import type { ScheduledTaskRow, ScheduledTaskTable, TaskRunRow, TaskRunTable } from '../db/schema.js';

/** Every task row, by name. */
export async function listScheduledTasks(db: Executor): Promise<ScheduledTaskRow[]> {
  return db.selectFrom('scheduled_task').selectAll().orderBy('name', 'asc').execute();
}

/** One task row, or undefined. */
export async function findScheduledTask(db: Executor, name: string): Promise<ScheduledTaskRow | undefined> {
  return db.selectFrom('scheduled_task').selectAll().where('name', '=', name).executeTakeFirst();
}

/** Inserts a task row unless one exists (another instance may be registering it at the same moment). */
export async function insertScheduledTaskIfMissing(db: Executor, row: ScheduledTaskTable): Promise<void> {
  await db
    .insertInto('scheduled_task')
    .values(row)
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
}

/** Replaces a task's schedule, enabled flag and next due time (a registering instance's configuration changed). */
export async function updateTaskSchedule(
  db: Executor,
  name: string,
  changes: { schedule: string; enabled: number; nextRunAtIso: string | null; nowIso: string },
): Promise<void> {
  await db
    .updateTable('scheduled_task')
    .set({ schedule: changes.schedule, enabled: changes.enabled, next_run_at: changes.nextRunAtIso, updated_at: changes.nowIso })
    .where('name', '=', name)
    .execute();
}

/**
 * Claims the due run `expectedNextRunAtIso` of a task, atomically: one conditional UPDATE that
 * succeeds only while the row still names that due time (compare-and-swap: it also moves
 * `next_run_at` to `nextRunAtIso`, so every other claimant of the same run matches no row) and
 * no live lease exists (a previous run still in progress is never overlapped). Works the same on
 * SQLite (the write lock serialises UPDATEs) and PostgreSQL (the row lock does).
 * @returns true when this caller now holds the lease and must run the task.
 */
export async function claimDueRun(
  db: Executor,
  claim: { name: string; expectedNextRunAtIso: string; nextRunAtIso: string | null; nowIso: string; owner: string; leaseExpiresAtIso: string },
): Promise<boolean> {
  const result = await db
    .updateTable('scheduled_task')
    .set({ lease_owner: claim.owner, lease_expires_at: claim.leaseExpiresAtIso, next_run_at: claim.nextRunAtIso })
    .where('name', '=', claim.name)
    .where('next_run_at', '=', claim.expectedNextRunAtIso)
    .where('next_run_at', '<=', claim.nowIso)
    .where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<=', claim.nowIso)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/**
 * Takes a task's lease for a manual run, whatever its schedule, unless another run holds a live
 * lease. @returns true when this caller holds the lease.
 */
export async function claimManualRun(
  db: Executor,
  claim: { name: string; nowIso: string; owner: string; leaseExpiresAtIso: string },
): Promise<boolean> {
  const result = await db
    .updateTable('scheduled_task')
    .set({ lease_owner: claim.owner, lease_expires_at: claim.leaseExpiresAtIso })
    .where('name', '=', claim.name)
    .where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<=', claim.nowIso)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Ends `owner`'s lease and records when the run started; a lease taken over by someone else is left alone. */
export async function releaseTask(db: Executor, name: string, owner: string, lastRunAtIso: string): Promise<void> {
  await db
    .updateTable('scheduled_task')
    .set({ lease_owner: null, lease_expires_at: null, last_run_at: lastRunAtIso })
    .where('name', '=', name)
    .where('lease_owner', '=', owner)
    .execute();
}

/** Records the start of a run. */
export async function insertTaskRun(db: Executor, row: TaskRunTable): Promise<void> {
  await db.insertInto('task_run').values(row).execute();
}

/** Records how a run ended. */
export async function finishTaskRun(
  db: Executor,
  id: string,
  end: { finishedAtIso: string; outcome: NonNullable<TaskRunTable['outcome']>; detail: string },
): Promise<void> {
  await db
    .updateTable('task_run')
    .set({ finished_at: end.finishedAtIso, outcome: end.outcome, detail: end.detail })
    .where('id', '=', id)
    .execute();
}

/** A task's most recent run, or undefined. */
export async function findLatestTaskRun(db: Executor, task: string): Promise<TaskRunRow | undefined> {
  return db.selectFrom('task_run').selectAll().where('task', '=', task).orderBy('id', 'desc').limit(1).executeTakeFirst();
}

/** Runs (newest first), optionally of one task, at most `limit`. */
export async function listTaskRuns(db: Executor, query: { task?: string | undefined; limit: number }): Promise<TaskRunRow[]> {
  let q = db.selectFrom('task_run').selectAll().orderBy('id', 'desc').limit(query.limit);
  if (query.task) q = q.where('task', '=', query.task);
  return q.execute();
}

/** How many runs ended in failure since `sinceIso` (for the admin digest). */
export async function countFailedTaskRuns(db: Executor, sinceIso: string): Promise<number> {
  const row = await db
    .selectFrom('task_run')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('started_at', '>=', sinceIso)
    .where('outcome', '=', 'failure')
    .executeTakeFirstOrThrow();
  return Number(row.count);
}
