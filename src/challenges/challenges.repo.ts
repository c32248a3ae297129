/**
 * SQL for the challenges module's tables. Every function takes an executor, so it runs inside the
 * caller's transaction (a job hook's `tx.db`) or on the database.
 */
import type { Executor } from '../db/executor.js';
import type {
  ChallengeParticipantRow,
  ChallengeResourceRow,
  ChallengeRow,
  ChallengeTable,
  EvaluationRow,
  EvaluationTable,
  SubmissionRow,
  SubmissionState,
  SubmissionTable,
} from './challenges.schema.js';

// ---- challenges --------------------------------------------------------------------------------

/** Inserts one challenge. @throws the driver's unique violation for a taken slug. */
export async function insertChallenge(db: Executor, row: ChallengeTable): Promise<void> {
  await db.insertInto('challenge').values(row).execute();
}

/** The challenge with this slug, or undefined. */
export async function findChallengeBySlug(db: Executor, slug: string): Promise<ChallengeRow | undefined> {
  return db.selectFrom('challenge').selectAll().where('slug', '=', slug).executeTakeFirst();
}

/** The challenge with this id, or undefined. */
export async function findChallengeById(db: Executor, id: string): Promise<ChallengeRow | undefined> {
  return db.selectFrom('challenge').selectAll().where('id', '=', id).executeTakeFirst();
}

/**
 * Challenges in id (creation) order after `afterId`, `limit + 1` rows. `viewerId` undefined: all
 * of them (managers); otherwise only active ones that are public or that the viewer (null:
 * anonymous) participates in.
 */
export async function listChallenges(db: Executor, options: { viewerId?: string | null; afterId?: string | undefined; limit: number }): Promise<ChallengeRow[]> {
  let query = db.selectFrom('challenge').selectAll().orderBy('id').limit(options.limit + 1);
  if (options.afterId) query = query.where('id', '>', options.afterId);
  if (options.viewerId !== undefined) {
    const viewerId = options.viewerId;
    query = query.where('active', '=', 1);
    query = viewerId
      ? query.where((eb) =>
          eb.or([
            eb('visibility', '=', 'public'),
            eb('id', 'in', eb.selectFrom('challenge_participant').select('challenge_id').where('user_id', '=', viewerId)),
          ]),
        )
      : query.where('visibility', '=', 'public');
  }
  return query.execute();
}

/** Applies changes to a challenge. @returns the updated row, or undefined when it does not exist. */
export async function updateChallenge(db: Executor, id: string, changes: Partial<ChallengeTable>): Promise<ChallengeRow | undefined> {
  return db.updateTable('challenge').set(changes).where('id', '=', id).returningAll().executeTakeFirst();
}

/** Bumps the leaderboard version (the cache key) of a challenge. */
export async function bumpLeaderboardVersion(db: Executor, id: string, at: string): Promise<void> {
  await db
    .updateTable('challenge')
    .set((eb) => ({ leaderboard_version: eb('leaderboard_version', '+', 1), updated_at: at }))
    .where('id', '=', id)
    .execute();
}

/** The ids of a challenge's submissions. */
export async function listSubmissionIds(db: Executor, challengeId: string): Promise<string[]> {
  return (await db.selectFrom('challenge_submission').select('id').where('challenge_id', '=', challengeId).execute()).map((r) => r.id);
}

/** Deletes a challenge (its resources, participants, submissions and evaluations cascade). */
export async function deleteChallenge(db: Executor, id: string): Promise<void> {
  await db.deleteFrom('challenge').where('id', '=', id).execute();
}

// ---- resources ---------------------------------------------------------------------------------

/** Inserts one resource. @throws the driver's unique violation for a name taken in the challenge. */
export async function insertResource(db: Executor, row: ChallengeResourceRow): Promise<void> {
  await db.insertInto('challenge_resource').values(row).execute();
}

/** A challenge's resources in name order, without hidden ones unless `includeHidden`. */
export async function listResources(db: Executor, challengeId: string, includeHidden: boolean): Promise<ChallengeResourceRow[]> {
  let query = db.selectFrom('challenge_resource').selectAll().where('challenge_id', '=', challengeId).orderBy('name');
  if (!includeHidden) query = query.where('hidden', '=', 0);
  return query.execute();
}

/** The resource whose file is `fileId`, or undefined (the file is not a challenge resource). */
export async function findResource(db: Executor, fileId: string): Promise<ChallengeResourceRow | undefined> {
  return db.selectFrom('challenge_resource').selectAll().where('id', '=', fileId).executeTakeFirst();
}

// ---- participants ------------------------------------------------------------------------------

/** Adds a participant unless already there. @returns true when added. */
export async function insertParticipant(db: Executor, row: ChallengeParticipantRow): Promise<boolean> {
  const result = await db
    .insertInto('challenge_participant')
    .values(row)
    .onConflict((oc) => oc.columns(['challenge_id', 'user_id']).doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
}

/** The participation of `userId` in a challenge, or undefined. */
export async function findParticipant(db: Executor, challengeId: string, userId: string): Promise<ChallengeParticipantRow | undefined> {
  return db.selectFrom('challenge_participant').selectAll().where('challenge_id', '=', challengeId).where('user_id', '=', userId).executeTakeFirst();
}

/** Removes a participant. @returns true when there was one. */
export async function deleteParticipant(db: Executor, challengeId: string, userId: string): Promise<boolean> {
  const result = await db.deleteFrom('challenge_participant').where('challenge_id', '=', challengeId).where('user_id', '=', userId).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** A challenge's participants in joining order after `afterId`, `limit + 1` rows, with their names. */
export async function listParticipants(
  db: Executor,
  challengeId: string,
  afterId: string | undefined,
  limit: number,
): Promise<Array<ChallengeParticipantRow & { name: string; email: string }>> {
  let query = db
    .selectFrom('challenge_participant as p')
    .innerJoin('user as u', 'u.id', 'p.user_id')
    .selectAll('p')
    .select(['u.name', 'u.email'])
    .where('p.challenge_id', '=', challengeId)
    .orderBy('p.id')
    .limit(limit + 1);
  if (afterId) query = query.where('p.id', '>', afterId);
  return query.execute();
}

/**
 * Marks the start of a submission by `userId`: the row write takes the participant's row lock on
 * PostgreSQL (SQLite serialises every write transaction), so two concurrent submissions of one
 * participant check their limits one after the other. @returns false when not a participant.
 */
export async function lockParticipant(db: Executor, challengeId: string, userId: string, at: string): Promise<boolean> {
  const result = await db
    .updateTable('challenge_participant')
    .set({ last_submitted_at: at })
    .where('challenge_id', '=', challengeId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

// ---- submissions -------------------------------------------------------------------------------

/** Inserts one submission. */
export async function insertSubmission(db: Executor, row: SubmissionTable): Promise<void> {
  await db.insertInto('challenge_submission').values(row).execute();
}

/** The submission with this id, or undefined. */
export async function findSubmission(db: Executor, id: string): Promise<SubmissionRow | undefined> {
  return db.selectFrom('challenge_submission').selectAll().where('id', '=', id).executeTakeFirst();
}

/** A challenge's submissions, newest first, before `beforeId`, optionally of one user and state; `limit + 1` rows. */
export async function listSubmissions(
  db: Executor,
  query: { challengeId: string; userId?: string | undefined; state?: SubmissionState | undefined; beforeId?: string | undefined; limit: number },
): Promise<SubmissionRow[]> {
  let q = db.selectFrom('challenge_submission').selectAll().where('challenge_id', '=', query.challengeId).orderBy('id', 'desc').limit(query.limit + 1);
  if (query.userId) q = q.where('user_id', '=', query.userId);
  if (query.state) q = q.where('state', '=', query.state);
  if (query.beforeId) q = q.where('id', '<', query.beforeId);
  return q.execute();
}

/** How many submissions `userId` made in a challenge after `sinceIso` (exclusive), and the earliest of them. */
export async function submissionsSince(db: Executor, challengeId: string, userId: string, sinceIso: string): Promise<{ count: number; earliest: string | null }> {
  const row = await db
    .selectFrom('challenge_submission')
    .select((eb) => [eb.fn.countAll<string | number>().as('count'), eb.fn.min('created_at').as('earliest')])
    .where('challenge_id', '=', challengeId)
    .where('user_id', '=', userId)
    .where('created_at', '>', sinceIso)
    .executeTakeFirstOrThrow();
  return { count: Number(row.count), earliest: (row.earliest as string | null) ?? null };
}

/** How many submissions are evaluating in a challenge (of one user, when given). */
export async function countEvaluating(db: Executor, challengeId: string, userId?: string): Promise<number> {
  let query = db
    .selectFrom('challenge_submission')
    .select((eb) => eb.fn.countAll<string | number>().as('count'))
    .where('challenge_id', '=', challengeId)
    .where('state', '=', 'evaluating');
  if (userId) query = query.where('user_id', '=', userId);
  return Number((await query.executeTakeFirstOrThrow()).count);
}

/** Settles an evaluating submission. @returns the updated row, or undefined when it was not evaluating. */
export async function settleSubmission(
  db: Executor,
  id: string,
  changes: Pick<SubmissionTable, 'state' | 'scores' | 'errors' | 'updated_at' | 'settled_at'>,
): Promise<SubmissionRow | undefined> {
  return db.updateTable('challenge_submission').set(changes).where('id', '=', id).where('state', '=', 'evaluating').returningAll().executeTakeFirst();
}

/** Puts a submission back to `evaluating` with no scores (a re-evaluation). */
export async function restartSubmission(db: Executor, id: string, at: string): Promise<SubmissionRow | undefined> {
  return db
    .updateTable('challenge_submission')
    .set({ state: 'evaluating', scores: '{}', errors: '[]', updated_at: at, settled_at: null })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

/** Deletes one evaluation (an evaluator removed from the challenge before a re-evaluation). */
export async function deleteEvaluation(db: Executor, id: string): Promise<void> {
  await db.deleteFrom('challenge_evaluation').where('id', '=', id).execute();
}

/** The `evaluators` JSON of every challenge. */
export async function listEvaluatorColumns(db: Executor): Promise<string[]> {
  return (await db.selectFrom('challenge').select('evaluators').execute()).map((r) => r.evaluators);
}

/** Deletes a submission (its evaluations cascade). */
export async function deleteSubmission(db: Executor, id: string): Promise<void> {
  await db.deleteFrom('challenge_submission').where('id', '=', id).execute();
}

/** Every scored submission of a challenge (what the leaderboard ranks). */
export async function scoredSubmissions(db: Executor, challengeId: string): Promise<Array<Pick<SubmissionRow, 'id' | 'user_id' | 'scores' | 'created_at'>>> {
  return db
    .selectFrom('challenge_submission')
    .select(['id', 'user_id', 'scores', 'created_at'])
    .where('challenge_id', '=', challengeId)
    .where('state', '=', 'scored')
    .execute();
}

// ---- evaluations -------------------------------------------------------------------------------

/** Inserts evaluations. */
export async function insertEvaluations(db: Executor, rows: EvaluationTable[]): Promise<void> {
  if (rows.length) await db.insertInto('challenge_evaluation').values(rows).execute();
}

/** The evaluations of these submissions, in evaluator order (id order). */
export async function listEvaluations(db: Executor, submissionIds: readonly string[]): Promise<EvaluationRow[]> {
  if (!submissionIds.length) return [];
  return db.selectFrom('challenge_evaluation').selectAll().where('submission_id', 'in', submissionIds).orderBy('id').execute();
}

/** The evaluation whose current job is `jobId`, or undefined (a replaced job, or not an evaluation). */
export async function findEvaluationByJob(db: Executor, jobId: string): Promise<EvaluationRow | undefined> {
  return db.selectFrom('challenge_evaluation').selectAll().where('job_id', '=', jobId).executeTakeFirst();
}

/** Records a pending evaluation's outcome. @returns the updated row, or undefined when it was not pending under this job. */
export async function settleEvaluation(
  db: Executor,
  id: string,
  jobId: string,
  changes: Pick<EvaluationTable, 'state' | 'scores' | 'details' | 'error' | 'updated_at'> & Partial<Pick<EvaluationTable, 'progress'>>,
): Promise<EvaluationRow | undefined> {
  return db
    .updateTable('challenge_evaluation')
    .set(changes)
    .where('id', '=', id)
    .where('job_id', '=', jobId)
    .where('state', '=', 'pending')
    .returningAll()
    .executeTakeFirst();
}

/** Points an evaluation at a new job, pending again (a re-evaluation). */
export async function restartEvaluation(db: Executor, id: string, jobId: string, at: string): Promise<void> {
  await db
    .updateTable('challenge_evaluation')
    .set({ job_id: jobId, state: 'pending', scores: '{}', details: null, error: null, progress: 0, progress_message: null, updated_at: at })
    .where('id', '=', id)
    .execute();
}

/**
 * Records a pending evaluation's progress, only when it changes (so instances relaying the same
 * heartbeat write it once). @returns the updated row, or undefined when nothing changed.
 */
export async function recordEvaluationProgress(
  db: Executor,
  jobId: string,
  progress: number,
  message: string | null,
  at: string,
): Promise<EvaluationRow | undefined> {
  return db
    .updateTable('challenge_evaluation')
    .set({ progress, progress_message: message, updated_at: at })
    .where('job_id', '=', jobId)
    .where('state', '=', 'pending')
    .where((eb) => eb.or([eb('progress', '!=', progress), message === null ? eb('progress_message', 'is not', null) : eb.or([eb('progress_message', 'is', null), eb('progress_message', '!=', message)])]))
    .returningAll()
    .executeTakeFirst();
}
