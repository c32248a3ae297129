/**
 * The two platform calls the speech module needs inside its own write transactions:
 * `gatehouse.jobs.enqueueIn` (a session row and its analysis job commit together) and
 * `gatehouse.topics.publish` (a live event appended in the transaction that caused it).
 */
import type { Gatehouse } from '../container.js';
import type { WriteTx } from '../db/transaction.js';
import type { EnqueueInput, Enqueuer } from '../jobs/jobs.service.js';
import type { JobView } from '../jobs/model.js';

/** What {@link SpeechService} uses of the platform inside a transaction. */
export interface SpeechPlatform {
  /** Enqueues jobs inside `tx` (they exist exactly when `tx` commits). */
  enqueueIn(tx: WriteTx, queue: string, inputs: EnqueueInput[], by: Enqueuer): Promise<JobView[]>;
  /** Appends a live event on `topic` inside `tx`; delivered to SSE/WebSocket subscribers after commit. */
  publish(tx: WriteTx, topic: string, type: string, data: Record<string, unknown>): Promise<void>;
}

/** The platform's implementation. */
export function speechPlatform(gatehouse: Gatehouse): SpeechPlatform {
  return {
    enqueueIn: (tx, queue, inputs, by) => gatehouse.jobs.enqueueIn(tx, queue, inputs, by),
    publish: async (tx, topic, type, data) => {
      await gatehouse.topics.publish(tx, topic, type, data);
    },
  };
}
