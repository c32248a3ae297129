/**
 * The live event log (the `event-log` core module): the `job_event` and `topic_event` tables, the
 * append-only history behind every live stream. Appending (job events with their job's new
 * `event_seq`, topic events with the next per-topic `seq`), reading (history, replay after a
 * `Last-Event-ID`, catching up with other processes), pruning (topic events by age; job events go
 * with their job, by cascade) and the one global id space both tables share (see
 * {@link insertTopicEvent}).
 *
 * A shared core repository (listed in eslint.config.js): jobs append job events inside the
 * statements and transactions that change a job, topics append inside the caller's transaction,
 * and realtime replays both.
 */
import { CompiledQuery, sql } from 'kysely';
import type { DatabaseDialect } from '../config.js';
import type { Executor } from '../db/executor.js';
import type { JobEventRow, JobEventTable } from '../db/schema.js';
import type { WriteTx } from '../db/transaction.js';
import { type JobEventMessage, type JobEventView, type LiveMessage, mergePages, type TopicEventMessage, toJobEventView, toTopicEventView } from './events.js';

// ---- job_event -----------------------------------------------------------------------------

/** One event's insert on SQLite, written once (the job protocol appends one per claim and completion). */
const SQLITE_INSERT_ONE_JOB_EVENT = 'insert into "job_event" ("job_id", "queue", "seq", "type", "data", "created_at") values (?, ?, ?, ?, ?, ?) returning *';

/**
 * Appends job events (each with its job's new `event_seq` as `seq`). With `dialect` `sqlite`, a
 * single event skips Kysely's query building (a precompiled text).
 * @returns them with their global ids.
 */
export async function insertJobEvents(db: Executor, events: Array<Omit<JobEventTable, 'id'>>, dialect?: DatabaseDialect): Promise<JobEventRow[]> {
  if (!events.length) return [];
  const [one] = events;
  if (dialect === 'sqlite' && events.length === 1 && one) {
    const parameters = [one.job_id, one.queue, one.seq, one.type, one.data, one.created_at];
    return (await db.executeQuery<JobEventRow>(CompiledQuery.raw(SQLITE_INSERT_ONE_JOB_EVENT, parameters))).rows;
  }
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
export async function findJobEventMessagesByIds(db: Executor, ids: readonly number[]): Promise<JobEventMessage[]> {
  if (!ids.length) return [];
  const rows = await eventsWithOwner(db).where('job_event.id', 'in', [...ids]).orderBy('job_event.id').execute();
  return rows.map(toMessage);
}

/** Events of every job with a global id above `afterId`, in id order, with each job's owner. */
export async function jobEventMessagesAfter(db: Executor, afterId: number, limit: number): Promise<JobEventMessage[]> {
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

/** What {@link replayJobEvents} reads: events of these jobs and/or these queues after a global id. */
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
export async function replayJobEvents(db: Executor, query: ReplayQuery): Promise<JobEventMessage[]> {
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
export async function latestJobEventId(db: Executor): Promise<number> {
  const row = await db.selectFrom('job_event').select('id').orderBy('id', 'desc').limit(1).executeTakeFirst();
  return row ? Number(row.id) : 0;
}

// ---- topic_event ---------------------------------------------------------------------------

/** One topic event to append. */
export interface NewTopicEvent {
  topic: string;
  type: string;
  /** Serialised JSON object. */
  data: string;
  created_at: string;
}

/**
 * Appends one event to its topic, inside the caller's write transaction, with the next `seq` of
 * the topic and the next global id.
 *
 * PostgreSQL: a transaction-scoped advisory lock on the topic serialises writers of one topic
 * until they commit, so `seq` order is commit order (what live replay relies on). SQLite: every
 * write transaction holds the database's write lock already.
 * @returns the stored event.
 */
export async function insertTopicEvent(tx: WriteTx, event: NewTopicEvent): Promise<TopicEventMessage> {
  const { db } = tx;
  if (tx.dialect === 'postgres') {
    await sql`select pg_advisory_xact_lock(hashtext(${`topic_event:${event.topic}`}))`.execute(db);
    const row = await db
      .insertInto('topic_event')
      .values(
        Object.assign({}, event, {
          seq: sql<number>`(select coalesce(max(seq), 0) + 1 from topic_event where topic = ${event.topic})`,
        }),
      )
      .returningAll()
      .executeTakeFirstOrThrow();
    return { event: toTopicEventView(row) };
  }
  // The next id above every job event and topic event; then job_event's AUTOINCREMENT counter
  // moves past it, so the two tables never hand out the same id.
  const next = await sql<{ id: number; seq: number }>`
    select max(
             coalesce((select seq from sqlite_sequence where name = 'job_event'), 0),
             coalesce((select max(id) from job_event), 0),
             coalesce((select max(id) from topic_event), 0)
           ) + 1 as id,
           coalesce((select max(seq) from topic_event where topic = ${event.topic}), 0) + 1 as seq`.execute(db);
  const { id, seq } = next.rows[0]!;
  const moved = await sql`update sqlite_sequence set seq = ${id} where name = 'job_event'`.execute(db);
  if (!moved.numAffectedRows) await sql`insert into sqlite_sequence (name, seq) values ('job_event', ${id})`.execute(db);
  const row = await db
    .insertInto('topic_event')
    .values(Object.assign({}, event, { id, seq }))
    .returningAll()
    .executeTakeFirstOrThrow();
  return { event: toTopicEventView(row) };
}

/** Events of these topics with a global id above `afterId`, in id order (a reconnecting stream's replay). */
export async function replayTopicEvents(db: Executor, topics: readonly string[], afterId: number, limit: number): Promise<TopicEventMessage[]> {
  if (!topics.length) return [];
  const rows = await db
    .selectFrom('topic_event')
    .selectAll()
    .where('topic', 'in', [...topics])
    .where('id', '>', afterId)
    .orderBy('id')
    .limit(limit)
    .execute();
  return rows.map((row) => ({ event: toTopicEventView(row) }));
}

/** Every topic's events with a global id above `afterId`, in id order (catching up with other processes). */
export async function topicEventsAfter(db: Executor, afterId: number, limit: number): Promise<TopicEventMessage[]> {
  const rows = await db.selectFrom('topic_event').selectAll().where('id', '>', afterId).orderBy('id').limit(limit).execute();
  return rows.map((row) => ({ event: toTopicEventView(row) }));
}

/** Events by global id, in id order (ids of job events are simply not found here). */
export async function findTopicEventsByIds(db: Executor, ids: readonly number[]): Promise<TopicEventMessage[]> {
  if (!ids.length) return [];
  const rows = await db.selectFrom('topic_event').selectAll().where('id', 'in', [...ids]).orderBy('id').execute();
  return rows.map((row) => ({ event: toTopicEventView(row) }));
}

/** The largest topic event id, or 0. */
export async function latestTopicEventId(db: Executor): Promise<number> {
  const row = await db.selectFrom('topic_event').select('id').orderBy('id', 'desc').limit(1).executeTakeFirst();
  return row ? Number(row.id) : 0;
}

/** One topic's latest `limit` events, oldest first (a page showing a topic's history). */
export async function latestTopicEvents(db: Executor, topic: string, limit: number): Promise<TopicEventMessage[]> {
  const rows = await db.selectFrom('topic_event').selectAll().where('topic', '=', topic).orderBy('seq', 'desc').limit(limit).execute();
  return rows.reverse().map((row) => ({ event: toTopicEventView(row) }));
}

/** Deletes topic events created before `beforeIso`, at most `limit` of them. @returns how many. */
export async function deleteTopicEventsBefore(db: Executor, beforeIso: string, limit: number): Promise<number> {
  const result = await db
    .deleteFrom('topic_event')
    .where('id', 'in', (eb) => eb.selectFrom('topic_event').select('id').where('created_at', '<', beforeIso).orderBy('id').limit(limit))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Deletes every event of these topics (their domain object is gone). @returns how many. */
export async function deleteTopicEvents(db: Executor, topics: readonly string[]): Promise<number> {
  if (!topics.length) return 0;
  const result = await db.deleteFrom('topic_event').where('topic', 'in', [...topics]).executeTakeFirst();
  return Number(result.numDeletedRows);
}

// ---- both, in global id order --------------------------------------------------------------

/**
 * Up to about `limit` events of either kind with a global id above `afterId`, in id order.
 * Each table is read up to `limit`; when one page is full, events past its last id are held back
 * for the next call, so the merged page never skips an id of the other table.
 */
export async function liveEventsAfter(db: Executor, afterId: number, limit: number): Promise<LiveMessage[]> {
  const [jobs, topics] = await Promise.all([jobEventMessagesAfter(db, afterId, limit), topicEventsAfter(db, afterId, limit)]);
  return mergePages([jobs, topics], limit).messages;
}

/** Events of either kind by global id, in id order. */
export async function liveEventsByIds(db: Executor, ids: readonly number[]): Promise<LiveMessage[]> {
  const [jobs, topics] = await Promise.all([findJobEventMessagesByIds(db, ids), findTopicEventsByIds(db, ids)]);
  return [...jobs, ...topics].sort((a, b) => a.event.id - b.event.id);
}

/** The largest global event id of either kind, or 0. */
export async function latestLiveEventId(db: Executor): Promise<number> {
  const [jobs, topics] = await Promise.all([latestJobEventId(db), latestTopicEventId(db)]);
  return Math.max(jobs, topics);
}
