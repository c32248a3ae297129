/** Queries for the `job_event` table: the append-only history behind every live stream. */
import type { Executor } from '../db/executor.js';
import type { JobEventRow, JobEventTable } from '../db/schema.js';
import { type JobEventMessage, type JobEventView, toJobEventView } from './model.js';

/** Appends events. @returns them with their global ids. */
export async function insertEvents(db: Executor, events: Array<Omit<JobEventTable, 'id'>>): Promise<JobEventRow[]> {
  if (!events.length) return [];
  return db.insertInto('job_event').values(events).returningAll().execute();
}

/** `job_event` rows joined with their job's owner: the base of every message query below. */
function eventsWithOwner(db: Executor) {
  return db.selectFrom('job_event').innerJoin('job', 'job.id', 'job_event.job_id').selectAll('job_event').select('job.owner_id');
}

function toMessage({ owner_id, ...row }: JobEventRow & { owner_id: string | null }): JobEventMessage {
  return { event: toJobEventView(row), owner_id };
}

/** Events by global id, with their job's owner, in id order (for cross-instance hints too big to carry events). */
export async function findEventMessagesByIds(db: Executor, ids: readonly number[]): Promise<JobEventMessage[]> {
  if (!ids.length) return [];
  const rows = await eventsWithOwner(db).where('job_event.id', 'in', [...ids]).orderBy('job_event.id').execute();
  return rows.map(toMessage);
}

/** Events of every job with a global id above `afterId`, in id order, with each job's owner. */
export async function eventMessagesAfter(db: Executor, afterId: number, limit: number): Promise<JobEventMessage[]> {
  const rows = await eventsWithOwner(db).where('job_event.id', '>', afterId).orderBy('job_event.id').limit(limit).execute();
  return rows.map(toMessage);
}

/** One job's events with `seq > afterSeq`, oldest first. */
export async function listJobEvents(db: Executor, jobId: string, afterSeq: number, limit: number): Promise<JobEventView[]> {
  const rows = await db
    .selectFrom('job_event')
    .selectAll()
    .where('job_id', '=', jobId)
    .where('seq', '>', afterSeq)
    .orderBy('seq')
    .limit(limit)
    .execute();
  return rows.map(toJobEventView);
}

/** One job's latest `limit` events, oldest first. */
export async function latestJobEvents(db: Executor, jobId: string, limit: number): Promise<JobEventView[]> {
  const rows = await db
    .selectFrom('job_event')
    .selectAll()
    .where('job_id', '=', jobId)
    .orderBy('seq', 'desc')
    .limit(limit)
    .execute();
  return rows.reverse().map(toJobEventView);
}

/** What {@link replayEvents} reads: events of these jobs and/or these queues after a global id. */
export interface ReplayQuery {
  jobIds: readonly string[];
  queues: readonly string[];
  /** Only events with a larger global id. */
  afterId: number;
  limit: number;
  /** For queue topics: only jobs of this owner (null = every job). Job topics are never filtered. */
  queueOwnerId?: string | null;
}

/**
 * Events for a reconnecting stream (SSE `Last-Event-ID`, WebSocket `after`), in global id order,
 * with each job's owner.
 */
export async function replayEvents(db: Executor, query: ReplayQuery): Promise<JobEventMessage[]> {
  if (!query.jobIds.length && !query.queues.length) return [];
  const rows = await eventsWithOwner(db)
    .where('job_event.id', '>', query.afterId)
    .where((eb) => {
      const ors = [];
      if (query.jobIds.length) ors.push(eb('job_event.job_id', 'in', [...query.jobIds]));
      if (query.queues.length) {
        const inQueues = eb('job_event.queue', 'in', [...query.queues]);
        ors.push(query.queueOwnerId ? eb.and([inQueues, eb('job.owner_id', '=', query.queueOwnerId)]) : inQueues);
      }
      return eb.or(ors);
    })
    .orderBy('job_event.id')
    .limit(query.limit)
    .execute();
  return rows.map(toMessage);
}

/** The largest global event id among `queue`'s events, or 0 (index `job_event (queue, id)`). */
export async function latestQueueEventId(db: Executor, queue: string): Promise<number> {
  const row = await db.selectFrom('job_event').select('id').where('queue', '=', queue).orderBy('id', 'desc').limit(1).executeTakeFirst();
  return row ? Number(row.id) : 0;
}

/** The largest global event id, or 0 when there are no events. */
export async function latestEventId(db: Executor): Promise<number> {
  const row = await db.selectFrom('job_event').select('id').orderBy('id', 'desc').limit(1).executeTakeFirst();
  return row ? Number(row.id) : 0;
}
