/**
 * What the live hub carries: job events (`job:{id}` and `queue:{name}` topics) and module topic
 * events (`<prefix>:<id>`, declared by feature modules). Both share one global id space, so a
 * stream that mixes them resumes from a single `Last-Event-ID`.
 */
import type { TopicEventRow } from '../db/schema.js';
import type { JobEventMessage, JobEventView } from '../jobs/model.js';

/** A module topic's event as streams send it (SSE `data:`, WebSocket `event`). */
export interface TopicEventView {
  /** Global event id (shared with job events): the SSE `id:` and what `Last-Event-ID` resumes from. */
  id: number;
  /** `<prefix>:<id>`, e.g. `submission:0190…`. */
  topic: string;
  /** 1, 2, … per topic, in commit order. */
  seq: number;
  /** `noun.verb`, chosen by the module, e.g. `submission.scored`; the SSE `event:` line. */
  type: string;
  data: Record<string, unknown>;
  /** ISO-8601 UTC. */
  created_at: string;
}

/** A module topic event on its way to live subscribers. */
export interface TopicEventMessage {
  event: TopicEventView;
}

/** Either kind of message the hub fans out. */
export type LiveMessage = JobEventMessage | TopicEventMessage;

/** Either kind of event a stream sends. */
export type LiveEventView = JobEventView | TopicEventView;

/** True for a module topic's event (job events have no `topic`). */
export function isTopicEvent(event: LiveEventView): event is TopicEventView {
  return 'topic' in event;
}

/** True for a module topic's message. */
export function isTopicMessage(message: LiveMessage): message is TopicEventMessage {
  return isTopicEvent(message.event);
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

/**
 * The per-topic ordering key a subscription deduplicates on: a job event's job, or a topic
 * event's topic (each is committed and published in `seq` order).
 */
export function orderingKey(event: LiveEventView): string {
  return isTopicEvent(event) ? event.topic : `job:${event.job_id}`;
}
