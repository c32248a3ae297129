/**
 * The two platform calls the campaigns module makes inside a write transaction, in one place:
 * `gatehouse.jobs.enqueueIn(tx, queue, inputs, by)` (jobs that commit with the campaign's rows)
 * and `gatehouse.topics.publish(tx, topic, type, data)` (the `campaign:{id}` live topic).
 */
import type { Gatehouse } from '../container.js';
import type { JobTable } from '../db/schema.js';
import type { WriteTx } from '../db/transaction.js';
import { appendEvents, stateEvent } from '../jobs/job-events.js';
import { insertJobs } from '../jobs/jobs.repo.js';
import type { EnqueueInput, Enqueuer } from '../jobs/jobs.service.js';
import { type JobView, toJobView } from '../jobs/model.js';
import { newId } from '../shared/ids.js';

/** What the campaigns service needs from the platform inside a transaction. */
export interface CampaignPlatform {
  /** Enqueues `inputs` in `queue` inside `tx` (they commit or roll back with it). */
  enqueueIn(tx: WriteTx, queue: string, inputs: EnqueueInput[], by: Enqueuer): Promise<JobView[]>;
  /** Appends a live event to `topic` inside `tx`; subscribers get it after commit. */
  publish(tx: WriteTx, topic: string, type: string, data: Record<string, unknown>): Promise<void>;
}

/** The platform's own implementation of {@link CampaignPlatform}. */
export function campaignPlatform(gatehouse: Gatehouse): CampaignPlatform {
  return {
    async enqueueIn(tx, queue, inputs, by) {
      const nowIso = gatehouse.clock.now().toISOString();
      const rows: JobTable[] = inputs.map((input) => ({
        id: newId(),
        queue,
        kind: input.kind,
        payload: JSON.stringify(input.payload ?? {}),
        priority: input.priority ?? 0,
        run_after: nowIso,
        idempotency_key: null,
        idempotency_owner: null,
        state: 'queued',
        attempt: 0,
        failures: 0,
        lease_expiries: 0,
        lease_expires_at: null,
        worker_id: null,
        progress: 0,
        progress_message: null,
        metrics: null,
        result: null,
        error: null,
        input_files: JSON.stringify(input.input_files ?? []),
        output_files: '[]',
        checkpoint_file_id: null,
        owner_id: by.actorId,
        parent_type: input.parent_type ?? null,
        parent_id: input.parent_id ?? null,
        event_seq: 1,
        created_at: nowIso,
        started_at: null,
        heartbeat_at: null,
        finished_at: null,
        updated_at: nowIso,
      }));
      const inserted = await insertJobs(tx.db, rows);
      await appendEvents(tx, gatehouse.hub, inserted.map((row) => stateEvent(row, null)), nowIso);
      tx.afterCommit(() => gatehouse.hub.announceWork(queue));
      return inserted.map(toJobView);
    },
    async publish() {},
  };
}
