/**
 * SQL for the campaigns module's tables. Every function takes an executor, so the job hooks run
 * them with `tx.db` inside the transaction that records a run's outcome.
 */
import type { Executor } from '../db/executor.js';
import type { CampaignBestRow, CampaignBestTable, CampaignObjective, CampaignRow, CampaignRunRow, CampaignRunTable, CampaignStatus, CampaignTable } from './campaigns.schema.js';

/** Inserts one campaign. */
export async function insertCampaign(db: Executor, row: CampaignTable): Promise<void> {
  await db.insertInto('campaign').values(row).execute();
}

/** The campaign `id`, or undefined. */
export async function findCampaign(db: Executor, id: string): Promise<CampaignRow | undefined> {
  return db.selectFrom('campaign').selectAll().where('id', '=', id).executeTakeFirst();
}

/** A page of campaigns, newest first: `limit + 1` rows with ids below `beforeId`, optionally of one status. */
export async function listCampaigns(db: Executor, query: { beforeId?: string | undefined; status?: CampaignStatus | undefined; limit: number }): Promise<CampaignRow[]> {
  let q = db.selectFrom('campaign').selectAll().orderBy('id', 'desc').limit(query.limit + 1);
  if (query.beforeId) q = q.where('id', '<', query.beforeId);
  if (query.status) q = q.where('status', '=', query.status);
  return q.execute();
}

/** Every campaign (for the all-campaigns summary), oldest first. */
export async function allCampaigns(db: Executor): Promise<CampaignRow[]> {
  return db.selectFrom('campaign').selectAll().orderBy('id').execute();
}

/**
 * Applies `changes` to the campaign when its status is one of `from` (any status when omitted).
 * @returns the updated row, or undefined when it does not exist or its status is not in `from`.
 */
export async function updateCampaign(
  db: Executor,
  id: string,
  changes: Partial<Omit<CampaignTable, 'id'>>,
  from?: readonly CampaignStatus[],
): Promise<CampaignRow | undefined> {
  let q = db.updateTable('campaign').set(changes).where('id', '=', id);
  if (from) q = q.where('status', 'in', [...from]);
  return q.returningAll().executeTakeFirst();
}

/**
 * Adds to the run counters atomically (`runs_x = runs_x + n`: concurrent outcomes on PostgreSQL
 * queue on the row lock, and each sees the other's committed count).
 * @returns the updated row.
 */
export async function addRunCounts(
  db: Executor,
  id: string,
  delta: { completed: number; failed: number; cancelled: number },
  at: string,
): Promise<CampaignRow | undefined> {
  return db
    .updateTable('campaign')
    .set((eb) => ({
      runs_completed: eb('runs_completed', '+', delta.completed),
      runs_failed: eb('runs_failed', '+', delta.failed),
      runs_cancelled: eb('runs_cancelled', '+', delta.cancelled),
      updated_at: at,
    }))
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

/**
 * Sets the best to this run when it beats the current one by `objective` (or there is none), in
 * one conditional statement. @returns the updated row, or undefined when it is not better.
 */
export async function improveBest(
  db: Executor,
  id: string,
  objective: CampaignObjective,
  best: { value: number; jobId: string; fileId: string | null },
  at: string,
): Promise<CampaignRow | undefined> {
  return db
    .updateTable('campaign')
    .set({ best_value: best.value, best_job_id: best.jobId, best_file_id: best.fileId, updated_at: at })
    .where('id', '=', id)
    .where((eb) => eb.or([eb('best_value', 'is', null), eb('best_value', objective === 'min' ? '>' : '<', best.value)]))
    .returningAll()
    .executeTakeFirst();
}

/**
 * Recomputes the best from the recorded succeeded runs (after a succeeded run was retried and its
 * new outcome replaced the old one). @returns the updated row.
 */
export async function recomputeBest(db: Executor, id: string, objective: CampaignObjective, at: string): Promise<CampaignRow | undefined> {
  const best = await db
    .selectFrom('campaign_run')
    .select(['job_id', 'value', 'file_id'])
    .where('campaign_id', '=', id)
    .where('outcome', '=', 'succeeded')
    .where('value', 'is not', null)
    .orderBy('value', objective === 'min' ? 'asc' : 'desc')
    .orderBy('finished_at')
    .limit(1)
    .executeTakeFirst();
  return db
    .updateTable('campaign')
    .set({ best_value: best?.value ?? null, best_job_id: best?.job_id ?? null, best_file_id: best?.file_id ?? null, updated_at: at })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

/**
 * Marks a `running` campaign `complete` (or `failed` when no run succeeded) once every requested
 * run was spawned and every spawned run has an outcome. @returns the row when it just finished.
 */
export async function finishIfDone(db: Executor, id: string, at: string): Promise<CampaignRow | undefined> {
  const row = await findCampaign(db, id);
  if (!row || row.status !== 'running') return undefined;
  if (row.runs_spawned < row.runs_requested || row.runs_completed + row.runs_failed + row.runs_cancelled < row.runs_spawned) return undefined;
  const failed = row.runs_completed === 0;
  return updateCampaign(
    db,
    id,
    { status: failed ? 'failed' : 'complete', completed_at: at, updated_at: at, error: failed ? 'no run succeeded' : null },
    ['running'],
  );
}

/** The recorded outcome of job `jobId`, if any. */
export async function findRun(db: Executor, jobId: string): Promise<CampaignRunRow | undefined> {
  return db.selectFrom('campaign_run').selectAll().where('job_id', '=', jobId).executeTakeFirst();
}

/** Records (or replaces) a run's outcome. */
export async function saveRun(db: Executor, row: CampaignRunTable): Promise<void> {
  await db.deleteFrom('campaign_run').where('job_id', '=', row.job_id).execute();
  await db.insertInto('campaign_run').values(row).execute();
}

/** The recorded runs of one campaign (or of every campaign when `campaignId` is null), in finishing order. */
export async function listRuns(db: Executor, campaignId: string | null): Promise<CampaignRunRow[]> {
  let q = db.selectFrom('campaign_run').selectAll().orderBy('finished_at').orderBy('job_id');
  if (campaignId) q = q.where('campaign_id', '=', campaignId);
  return q.execute();
}

/** Records one improvement of a campaign's best. */
export async function insertBest(db: Executor, row: CampaignBestTable): Promise<void> {
  await db.insertInto('campaign_best').values(row).execute();
}

/** A campaign's best values over time, oldest first. */
export async function listBest(db: Executor, campaignId: string): Promise<CampaignBestRow[]> {
  return db.selectFrom('campaign_best').selectAll().where('campaign_id', '=', campaignId).orderBy('id').execute();
}

/** The campaign that uses file `fileId` as its input or best, or whose run or generate job uploaded it (`jobId`). */
export async function findCampaignOfFile(db: Executor, fileId: string, jobId: string | null): Promise<CampaignRow | undefined> {
  const direct = await db
    .selectFrom('campaign')
    .selectAll()
    .where((eb) => eb.or([eb('input_file_id', '=', fileId), eb('best_file_id', '=', fileId), ...(jobId ? [eb('generate_job_id', '=', jobId)] : [])]))
    .executeTakeFirst();
  if (direct || !jobId) return direct;
  const run = await db.selectFrom('campaign_run').select('campaign_id').where('job_id', '=', jobId).executeTakeFirst();
  return run ? findCampaign(db, run.campaign_id) : undefined;
}
