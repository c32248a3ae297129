/**
 * The shapes of the live event log (the `event-log` core module): job events (`job:{id}` and
 * `queue:{name}` topics) and module topic events (`<prefix>:<id>`, declared by feature modules).
 * Both share one global id space, so a stream that mixes them resumes from a single
 * `Last-Event-ID`. These are wire shapes: SSE `data:`, WebSocket `event`, job history pages.
 */
import { type Static, Type } from '@sinclair/typebox';
import type { JobEventRow, TopicEventRow } from '../db/schema.js';

const DateTime = Type.String({ format: 'date-time' });

/**
 * `JobEvent` component: one job event as streams and history show it. `id` is global (the SSE
 * `id:`), `seq` counts per job from 1 without gaps; `created_at` ISO-8601 UTC.
 */
export const JobEventSchema = Type.Object(
  {
    id: Type.Integer({ description: 'Global, increasing: the SSE event id' }),
    job_id: Type.String(),
    queue: Type.String(),
    seq: Type.Integer({ description: 'Per job, from 1, without gaps' }),
    type: Type.Union([Type.Literal('state'), Type.Literal('progress'), Type.Literal('log')]),
    data: Type.Record(Type.String(), Type.Unknown()),
    created_at: DateTime,
  },
  { $id: 'JobEvent' },
);

/**
 * A module topic's event as streams send it (SSE `data:`, WebSocket `event`). Not an OpenAPI
 * component: no JSON route returns it, it only travels on the streams.
 */
export const TopicEventSchema = Type.Object({
  id: Type.Integer({ description: 'Global event id (shared with job events): the SSE id and what Last-Event-ID resumes from' }),
  topic: Type.String({ description: '<prefix>:<id>, e.g. submission:0190…' }),
  seq: Type.Integer({ description: 'Per topic, from 1, in commit order' }),
  type: Type.String({ description: '<object>.<past-tense verb>, chosen by the module, e.g. submission.scored; the SSE event line' }),
  data: Type.Record(Type.String(), Type.Unknown()),
  created_at: DateTime,
});

/** One job event as streams and history show it (schema {@link JobEventSchema}). */
export type JobEventView = Static<typeof JobEventSchema>;

/** The kinds of job event. */
export type JobEventType = JobEventView['type'];

/** A module topic's event as streams send it (schema {@link TopicEventSchema}). */
export type TopicEventView = Static<typeof TopicEventSchema>;

/**
 * A job event on its way to live subscribers: the view plus the job's owner, so a `queue:` topic
 * can show each user only their own jobs without another query.
 */
export interface JobEventMessage {
  event: JobEventView;
  owner_id: string | null;
}

/** A module topic event on its way to live subscribers. */
export interface TopicEventMessage {
  event: TopicEventView;
}

/** Either kind of message the hub fans out. */
export type LiveMessage = JobEventMessage | TopicEventMessage;

/** Either kind of event a stream sends. */
export type LiveEventView = JobEventView | TopicEventView;

/** Row → API shape. */
export function toJobEventView(row: JobEventRow): JobEventView {
  return {
    id: Number(row.id),
    job_id: row.job_id,
    queue: row.queue,
    seq: row.seq,
    type: row.type as JobEventType,
    data: JSON.parse(row.data) as Record<string, unknown>,
    created_at: row.created_at,
  };
}

/** Row → API shape. */
export function toTopicEventView(row: TopicEventRow): TopicEventView {
  return {
    id: Number(row.id),
    topic: row.topic,
    seq: row.seq,
    type: row.type,
    data: (typeof row.data === 'string' ? JSON.parse(row.data) : row.data) as Record<string, unknown>,
    created_at: row.created_at,
  };
}

/** True for a module topic's event (job events have no `topic`). */
export function isTopicEvent(event: LiveEventView): event is TopicEventView {
  return 'topic' in event;
}

/** True for a module topic's message. */
export function isTopicMessage(message: LiveMessage): message is TopicEventMessage {
  return isTopicEvent(message.event);
}

/**
 * The per-topic ordering key a subscription deduplicates on: a job event's job, or a topic
 * event's topic (each is committed and published in `seq` order).
 */
export function orderingKey(event: LiveEventView): string {
  return isTopicEvent(event) ? event.topic : `job:${event.job_id}`;
}

/**
 * Merges pages read from several tables (each in global id order, each at most `limit` long) into
 * one page in id order. A full page may have more beyond its last id, so everything above the
 * smallest last id of the full pages is held back for the next read: the merged page never skips
 * an id.
 * @returns the merged page, and whether more may follow (some page was full).
 */
export function mergePages(pages: ReadonlyArray<readonly LiveMessage[]>, limit: number): { messages: LiveMessage[]; more: boolean } {
  let cutoff = Number.POSITIVE_INFINITY;
  for (const page of pages) if (page.length >= limit) cutoff = Math.min(cutoff, page[page.length - 1]!.event.id);
  const messages = pages
    .flat()
    .filter((m) => m.event.id <= cutoff)
    .sort((a, b) => a.event.id - b.event.id);
  return { messages, more: cutoff !== Number.POSITIVE_INFINITY };
}
