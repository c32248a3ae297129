/**
 * Publishing on feature modules' live topics (`<prefix>:<id>`): the event is appended inside the
 * caller's write transaction (so it exists exactly when the change it reports commits) and fanned
 * out to SSE and WebSocket subscribers, on this instance and others, after commit.
 */
import type { Executor } from '../db/executor.js';
import type { WriteTx } from '../db/transaction.js';
import type { JobHub } from '../jobs/job-hub.js';
import type { Clock } from '../shared/clock.js';
import { isEventName } from '../shared/event-names.js';
import type { LiveEvents } from './event-stream.js';
import { deleteTopicEvents, deleteTopicEventsBefore, insertTopicEvent, latestTopicEvents } from '../event-log/event-log.service.js';
import type { TopicEventView } from '../event-log/events.js';

/** Largest serialised `data` of one topic event, in bytes (events are notifications, not documents). */
export const TOPIC_EVENT_MAX_BYTES = 64 * 1024;


/** Dependencies of {@link TopicEvents}. */
export interface TopicEventsOptions {
  db: Executor;
  clock: Clock;
  hub: JobHub;
  /** Knows which topic families modules declared. */
  live: LiveEvents;
}

/** The service behind `gatehouse.topics`. */
export class TopicEvents {
  constructor(private readonly options: TopicEventsOptions) {}

  /**
   * Appends an event to `topic` inside `tx` and delivers it to live subscribers once `tx` commits
   * (nothing is delivered when it rolls back).
   * @param topic `<prefix>:<id>` of a topic family a module declared.
   * @param type `noun.verb`, e.g. `submission.scored` (streams show it as the SSE `event:` name).
   * @param data a JSON object, at most {@link TOPIC_EVENT_MAX_BYTES} serialised.
   * @returns the event as subscribers receive it (with its global id and per-topic `seq`).
   * @throws Error (a programming error, not a client's) for an undeclared topic family, a malformed
   *   type, or data that is too large.
   */
  async publish(tx: WriteTx, topic: string, type: string, data: Record<string, unknown>): Promise<TopicEventView> {
    const colon = topic.indexOf(':');
    const prefix = colon > 0 ? topic.slice(0, colon) : '';
    if (!this.options.live.hasModuleTopic(prefix)) throw new Error(`No module declares the topic family of "${topic}".`);
    // The one event naming scheme (src/shared/event-names.ts); `job.*` is the job system's.
    if (!isEventName(type) || type.startsWith('job.')) throw new Error(`"${type}" is not a topic event type (noun.verb, not job.*).`);
    const text = JSON.stringify(data);
    if (Buffer.byteLength(text) > TOPIC_EVENT_MAX_BYTES) throw new Error(`The ${type} event on ${topic} is over ${TOPIC_EVENT_MAX_BYTES} bytes.`);
    const message = await insertTopicEvent(tx, {
      topic,
      type,
      data: text,
      created_at: this.options.clock.now().toISOString(),
    });
    tx.afterCommit(() => this.options.hub.publish([message]));
    return message.event;
  }

  /** A topic's latest `limit` events, oldest first (what a page shows before its stream connects). */
  async latest(topic: string, limit = 100): Promise<TopicEventView[]> {
    return (await latestTopicEvents(this.options.db, topic, limit)).map((m) => m.event);
  }

  /**
   * Deletes every event of these topics, inside `tx` (their domain object is being deleted).
   * @returns how many were deleted.
   */
  async forget(tx: WriteTx, topics: readonly string[]): Promise<number> {
    return deleteTopicEvents(tx.db, topics);
  }

  /**
   * Deletes events created before `before`, in batches (retention; the `prune-jobs` task applies
   * JOB_RETENTION_DAYS to topic events as to job events). @returns how many were deleted.
   */
  async prune(before: Date, batch = 1000): Promise<number> {
    const iso = before.toISOString();
    let deleted = 0;
    for (let n = batch; n === batch; deleted += n) n = await deleteTopicEventsBefore(this.options.db, iso, batch);
    return deleted;
  }
}
