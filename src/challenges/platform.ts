/**
 * The two platform calls the challenges module makes inside its own write transactions, in one
 * place: `gatehouse.jobs.enqueueIn` (evaluation jobs commit with their submission) and
 * `gatehouse.topics.publish` (live events commit with the change they describe).
 */
import type { Gatehouse } from '../container.js';
import type { WriteTx } from '../db/transaction.js';
import { appendEvents, stateEvent } from '../jobs/job-events.js';
import { insertJobs } from '../jobs/jobs.repo.js';
import type { Enqueuer, EnqueueInput } from '../jobs/jobs.service.js';
import { type JobView, toJobView } from '../jobs/model.js';
import { newId } from '../shared/ids.js';

/** Enqueues jobs inside the caller's write transaction. */
export type EnqueueIn = (tx: WriteTx, queue: string, inputs: EnqueueInput[], by: Enqueuer) => Promise<JobView[]>;

/** Appends a live event to `topic` inside the caller's write transaction (delivered after commit). */
export type PublishIn = (tx: WriteTx, topic: string, type: string, data: Record<string, unknown>) => Promise<void>;

interface Upcoming {
  jobs: { enqueueIn?: EnqueueIn };
  topics?: { publish: PublishIn };
}

/** The transactional calls of `gatehouse`. */
export function platformCalls(gatehouse: Gatehouse): { enqueueIn: EnqueueIn; publish: PublishIn } {
  const upcoming = gatehouse as unknown as Upcoming;
  return {
    enqueueIn: (tx, queue, inputs, by) => (upcoming.jobs.enqueueIn ? upcoming.jobs.enqueueIn(tx, queue, inputs, by) : interimEnqueueIn(gatehouse, tx, queue, inputs, by)),
    publish: async (tx, topic, type, data) => {
      if (upcoming.topics) await upcoming.topics.publish(tx, topic, type, data);
    },
  };
}

/** INTERIM until the platform's enqueueIn lands: inserts queued jobs and their first events in `tx`. */
async function interimEnqueueIn(gatehouse: Gatehouse, tx: WriteTx, queue: string, inputs: EnqueueInput[], by: Enqueuer): Promise<JobView[]> {
  const nowIso = gatehouse.clock.now().toISOString();
  const rows = inputs.map((input) => ({
    id: newId(),
    queue,
    kind: input.kind,
    payload: JSON.stringify(input.payload ?? {}),
    priority: input.priority ?? 0,
    run_after: nowIso,
    idempotency_key: null,
    idempotency_owner: null,
    state: 'queued' as const,
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
}
