/** Appending job events inside the transaction that caused them, and publishing them after commit. */
import type { JobRow } from '../db/schema.js';
import type { WriteTx } from '../db/transaction.js';
import { insertJobEvents } from '../event-log/event-log.service.js';
import type { JobHub } from './job-hub.js';
import { type JobEventMessage, type JobEventType, toJobEventView } from './model.js';

/** One event to append: `row` is the job as updated by the same statement that bumped its `event_seq`. */
export interface PendingEvent {
  row: JobRow;
  type: JobEventType;
  data: Record<string, unknown>;
}

/**
 * Inserts the events (each with its job's new `event_seq` as `seq`) and publishes them to the hub
 * once the transaction commits. The job row lock taken by the preceding UPDATE orders one job's
 * events, so subscribers see them in `seq` order.
 * @returns the messages (with global ids).
 */
export async function appendEvents(tx: WriteTx, hub: JobHub, events: readonly PendingEvent[], nowIso: string): Promise<JobEventMessage[]> {
  if (!events.length) return [];
  const rows = await insertJobEvents(
    tx.db,
    events.map((e) => ({
      job_id: e.row.id,
      queue: e.row.queue,
      seq: e.row.event_seq,
      type: e.type,
      data: JSON.stringify(e.data),
      created_at: nowIso,
    })),
  );
  const owners = new Map(events.map((e) => [e.row.id, e.row.owner_id]));
  const messages = rows
    .map((row) => ({ event: toJobEventView(row), owner_id: owners.get(row.job_id) ?? null }))
    .sort((a, b) => a.event.id - b.event.id);
  tx.afterCommit(() => hub.publish(messages));
  return messages;
}

/** The data of a `state` event for a job that moved from `from` to its current state. */
export function stateEvent(row: JobRow, from: string | null, extra: Record<string, unknown> = {}): PendingEvent {
  return { row, type: 'state', data: { state: row.state, from, attempt: row.attempt, worker_id: row.worker_id, ...extra } };
}
