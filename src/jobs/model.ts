/**
 * The public shapes of the job system (what the API, the CLI, the worker SDK and the live
 * streams show) and the conversions from database rows. Protocol: docs/jobs.md.
 */
import type { Static } from '@sinclair/typebox';
import type { JobRow, JobState, QueueRow } from '../db/schema.js';
import type { JobSchema, QueueSchema } from './job-schemas.js';

export type { JobState };

/** Every job state, in life-cycle order. */
export const JOB_STATES: readonly JobState[] = ['queued', 'running', 'paused', 'succeeded', 'failed', 'cancelled', 'dead'];

/** States in which a worker holds the job (it counts against the worker's concurrency). */
export const HELD_STATES: readonly JobState[] = ['running', 'paused'];

/** States a job never leaves on its own (only `retry` moves it again). */
export const FINAL_STATES: readonly JobState[] = ['succeeded', 'failed', 'cancelled', 'dead'];

/** A queue as the API shows it (the `Queue` component of /openapi.json). */
export type QueueView = Static<typeof QueueSchema>;

/** A job as the API shows it (the `Job` component). Times are ISO-8601 UTC strings. */
export type JobView = Static<typeof JobSchema>;

/** A job's error: what the worker reported (or why the server gave up on it). */
export type JobError = NonNullable<JobView['error']>;

export type { JobEventMessage, JobEventType, JobEventView } from '../event-log/events.js';
export { toJobEventView } from '../event-log/events.js';

function parseJson<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

/** Row → API shape. */
export function toQueueView(row: QueueRow): QueueView {
  return {
    name: row.name,
    description: row.description,
    paused: row.paused === 1,
    lease_seconds: row.lease_seconds,
    max_attempts: row.max_attempts,
    max_lease_expiries: row.max_lease_expiries,
    backoff_base_seconds: row.backoff_base_seconds,
    backoff_max_seconds: row.backoff_max_seconds,
    enqueue_permission: row.enqueue_permission,
    claim_permission: row.claim_permission,
    worker_concurrency: row.worker_concurrency,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

/** Row → API shape. */
export function toJobView(row: JobRow): JobView {
  return {
    id: row.id,
    queue: row.queue,
    kind: row.kind,
    payload: parseJson(row.payload),
    priority: row.priority,
    run_after: row.run_after,
    idempotency_key: row.idempotency_key,
    state: row.state,
    attempt: row.attempt,
    failures: row.failures,
    lease_expiries: row.lease_expiries,
    lease_expires_at: row.lease_expires_at,
    worker_id: row.worker_id,
    progress: row.progress,
    progress_message: row.progress_message,
    metrics: parseJson(row.metrics),
    result: parseJson(row.result),
    error: parseJson(row.error),
    input_files: parseJson<string[]>(row.input_files) ?? [],
    output_files: parseJson<string[]>(row.output_files) ?? [],
    checkpoint_file_id: row.checkpoint_file_id,
    owner_id: row.owner_id,
    parent_type: row.parent_type,
    parent_id: row.parent_id,
    created_at: row.created_at,
    started_at: row.started_at,
    heartbeat_at: row.heartbeat_at,
    finished_at: row.finished_at,
    updated_at: row.updated_at,
  };
}

/** A live-stream topic: one job, or every job of a queue. */
export type Topic = { kind: 'job'; id: string } | { kind: 'queue'; name: string };

/**
 * Parses `job:{id}` or `queue:{name}`.
 * @returns null for anything else.
 */
export function parseTopic(text: string): Topic | null {
  const colon = text.indexOf(':');
  if (colon < 0) return null;
  const kind = text.slice(0, colon);
  const value = text.slice(colon + 1);
  if (kind === 'job' && /^[0-9a-f-]{36}$/i.test(value)) return { kind: 'job', id: value.toLowerCase() };
  if (kind === 'queue' && /^[a-z0-9][a-z0-9._-]{0,63}$/.test(value)) return { kind: 'queue', name: value };
  return null;
}

/** `job:{id}` / `queue:{name}`. */
export function topicKey(topic: Topic): string {
  return topic.kind === 'job' ? `job:${topic.id}` : `queue:${topic.name}`;
}
