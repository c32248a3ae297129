/**
 * Queries for `topic_event`: the append-only history behind module topics (migration 0009).
 * Ids come from the same global space as `job_event`'s (see the migration for how).
 */
import { sql } from 'kysely';
import type { Executor } from '../db/executor.js';
import type { WriteTx } from '../db/transaction.js';
import { type TopicEventMessage, toTopicEventView } from './live-message.js';

/** One event to append. */
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
      .values({
        ...event,
        seq: sql<number>`(select coalesce(max(seq), 0) + 1 from topic_event where topic = ${event.topic})`,
      })
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
    .values({ ...event, id, seq })
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
