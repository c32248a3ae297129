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

/** Deletes the stored events of `topics` inside the caller's write transaction (their object is gone). */
export type ForgetIn = (tx: WriteTx, topics: readonly string[]) => Promise<void>;

/** The transactional calls of `gatehouse`. */
export function platformCalls(gatehouse: Gatehouse): { enqueueIn: EnqueueIn; publish: PublishIn; forget: ForgetIn } {
  return {
    forget: async (tx, topics) => {
      if (topics.length) await gatehouse.topics.forget(tx, topics);
    },
    enqueueIn: (tx, queue, inputs, by) => gatehouse.jobs.enqueueIn(tx, queue, inputs, by),
    publish: async (tx, topic, type, data) => {
      await gatehouse.topics.publish(tx, topic, type, data);
    },
  };
}
