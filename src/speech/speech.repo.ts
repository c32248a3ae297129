/** SQL for the speech tables. Every function takes an executor, so it can run inside the caller's transaction. */
import type { Executor } from '../db/executor.js';
import type { SpeechQuestionRow, SpeechQuestionTable, SpeechSessionRow, SpeechSessionTable } from './speech.schema.js';

/** Inserts one question. */
export async function insertQuestion(db: Executor, row: SpeechQuestionTable): Promise<void> {
  await db.insertInto('speech_question').values(row).execute();
}

/** The question `id`, or undefined. */
export async function findQuestion(db: Executor, id: string): Promise<SpeechQuestionRow | undefined> {
  return db.selectFrom('speech_question').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Up to `limit` questions after `afterId` in id (creation) order, optionally of one category. */
export async function listQuestions(db: Executor, filter: { category?: string | undefined; afterId?: string | undefined }, limit: number): Promise<SpeechQuestionRow[]> {
  let query = db.selectFrom('speech_question').selectAll().orderBy('id').limit(limit);
  if (filter.category !== undefined) query = query.where('category', '=', filter.category);
  if (filter.afterId) query = query.where('id', '>', filter.afterId);
  return query.execute();
}

/** Applies `changes` to question `id`. @returns the updated row, or undefined when there is none. */
export async function updateQuestion(
  db: Executor,
  id: string,
  changes: Partial<Pick<SpeechQuestionTable, 'text' | 'category' | 'difficulty' | 'expected_seconds' | 'updated_at'>>,
): Promise<SpeechQuestionRow | undefined> {
  return db.updateTable('speech_question').set(changes).where('id', '=', id).returningAll().executeTakeFirst();
}

/** Deletes question `id` (its sessions keep their reports, with `question_id` set to null). @returns whether it existed. */
export async function deleteQuestion(db: Executor, id: string): Promise<boolean> {
  const result = await db.deleteFrom('speech_question').where('id', '=', id).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** Inserts one session. */
export async function insertSession(db: Executor, row: SpeechSessionTable): Promise<void> {
  await db.insertInto('speech_session').values(row).execute();
}

/** The session `id`, or undefined. */
export async function findSession(db: Executor, id: string): Promise<SpeechSessionRow | undefined> {
  return db.selectFrom('speech_session').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Filters of {@link listSessions}. */
export interface SessionFilter {
  /** One owner's sessions; undefined = everyone's. */
  ownerId?: string | undefined;
  questionId?: string | undefined;
  /** `created_at` at or after this ISO time. */
  from?: string | undefined;
  /** `created_at` before this ISO time. */
  to?: string | undefined;
  /** Only sessions in this state. */
  state?: SpeechSessionTable['state'] | undefined;
  /** Newest first: ids below this one. */
  beforeId?: string | undefined;
}

/** Up to `limit` sessions, newest (highest id) first. */
export async function listSessions(db: Executor, filter: SessionFilter, limit: number): Promise<SpeechSessionRow[]> {
  let query = db.selectFrom('speech_session').selectAll().orderBy('id', 'desc').limit(limit);
  if (filter.ownerId !== undefined) query = query.where('owner_id', '=', filter.ownerId);
  if (filter.questionId !== undefined) query = query.where('question_id', '=', filter.questionId);
  if (filter.from !== undefined) query = query.where('created_at', '>=', filter.from);
  if (filter.to !== undefined) query = query.where('created_at', '<', filter.to);
  if (filter.state !== undefined) query = query.where('state', '=', filter.state);
  if (filter.beforeId) query = query.where('id', '<', filter.beforeId);
  return query.execute();
}

/** Finished sessions of one owner created in [from, to), oldest first (the monthly progress). */
export async function listDoneSessions(db: Executor, ownerId: string, from: string, to: string): Promise<SpeechSessionRow[]> {
  return db
    .selectFrom('speech_session')
    .selectAll()
    .where('owner_id', '=', ownerId)
    .where('state', '=', 'done')
    .where('created_at', '>=', from)
    .where('created_at', '<', to)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

/**
 * Records the analysis outcome on a session in one of `from` (`analysing`; a retried job's success
 * may also settle a `failed` one). @returns the updated row, or undefined when it was in another state (or is gone).
 */
export async function settleSession(
  db: Executor,
  id: string,
  changes: Pick<SpeechSessionTable, 'state' | 'report' | 'score' | 'error' | 'updated_at' | 'finished_at'>,
  from: ReadonlyArray<SpeechSessionTable['state']> = ['analysing'],
): Promise<SpeechSessionRow | undefined> {
  return db.updateTable('speech_session').set(changes).where('id', '=', id).where('state', 'in', [...from]).returningAll().executeTakeFirst();
}

/** Deletes session `id`. @returns whether it existed. */
export async function deleteSession(db: Executor, id: string): Promise<boolean> {
  const result = await db.deleteFrom('speech_session').where('id', '=', id).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** The session whose recording is file `fileId`, or undefined. */
export async function findSessionByFile(db: Executor, fileId: string): Promise<SpeechSessionRow | undefined> {
  return db.selectFrom('speech_session').selectAll().where('file_id', '=', fileId).executeTakeFirst();
}

/**
 * Records an analysing session's progress from its job's heartbeat, only when it moves forward or
 * names a new stage: every instance relays the same heartbeat event, and only the first one's
 * update changes the row (so the live event is published once).
 * @returns the updated row, or undefined when nothing changed (or no analysing session has `jobId`).
 */
export async function recordSessionProgress(
  db: Executor,
  jobId: string,
  progress: number,
  message: string | null,
  updatedAt: string,
): Promise<SpeechSessionRow | undefined> {
  return db
    .updateTable('speech_session')
    .set({ progress, progress_message: message, updated_at: updatedAt })
    .where('job_id', '=', jobId)
    .where('state', '=', 'analysing')
    .where((eb) =>
      eb.or([
        eb('progress', '<', progress),
        eb.and([eb('progress', '=', progress), eb(eb.fn.coalesce('progress_message', eb.val('')), '<>', message ?? '')]),
      ]),
    )
    .returningAll()
    .executeTakeFirst();
}
