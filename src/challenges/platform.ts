/**
 * The two platform calls the challenges module makes inside its own write transactions, in one
 * place: `gatehouse.jobs.enqueueIn` (evaluation jobs commit with their submission) and
 * `gatehouse.topics.publish` (live events commit with the change they describe).
 */
import type { Gatehouse } from '../container.js';
import type { WriteTx } from '../db/transaction.js';
import type { Enqueuer, EnqueueInput } from '../jobs/jobs.service.js';
import type { JobView } from '../jobs/model.js';

/** Enqueues jobs inside the caller's write transaction. */
export type EnqueueIn = (tx: WriteTx, queue: string, inputs: EnqueueInput[], by: Enqueuer) => Promise<JobView[]>;

/** Appends a live event to `topic` inside the caller's write transaction (delivered after commit). */
export type PublishIn = (tx: WriteTx, topic: string, type: string, data: Record<string, unknown>) => Promise<void>;

/** The transactional calls of `gatehouse`. */
export function platformCalls(gatehouse: Gatehouse): { enqueueIn: EnqueueIn; publish: PublishIn } {
  return {
    enqueueIn: (tx, queue, inputs, by) => gatehouse.jobs.enqueueIn(tx, queue, inputs, by),
    publish: (tx, topic, type, data) => gatehouse.topics.publish(tx, topic, type, data),
  };
}
