/**
 * The two platform calls the campaigns module makes inside a write transaction, in one place:
 * `gatehouse.jobs.enqueueIn(tx, queue, inputs, by)` (jobs that commit with the campaign's rows)
 * and `gatehouse.topics.publish(tx, topic, type, data)` (the `campaign:{id}` live topic).
 */
import type { Gatehouse } from '../container.js';
import type { WriteTx } from '../db/transaction.js';
import type { EnqueueInput, Enqueuer } from '../jobs/jobs.service.js';
import type { JobView } from '../jobs/model.js';

/** What the campaigns service needs from the platform inside a transaction. */
export interface CampaignPlatform {
  /** Enqueues `inputs` (at most 1000) in `queue` inside `tx`: they commit or roll back with it. */
  enqueueIn(tx: WriteTx, queue: string, inputs: EnqueueInput[], by: Enqueuer): Promise<JobView[]>;
  /** Appends a live event to `topic` inside `tx`; subscribers get it after commit. */
  publish(tx: WriteTx, topic: string, type: string, data: Record<string, unknown>): Promise<void>;
}

/** The platform's implementation of {@link CampaignPlatform}. */
export function campaignPlatform(gatehouse: Gatehouse): CampaignPlatform {
  return {
    enqueueIn: (tx, queue, inputs, by) => gatehouse.jobs.enqueueIn(tx, queue, inputs, by),
    publish: async (tx, topic, type, data) => {
      await gatehouse.topics.publish(tx, topic, type, data);
    },
  };
}
