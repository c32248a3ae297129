/** TypeBox schemas of the job system's API shapes (they also document /openapi.json). */
import { Type } from '@sinclair/typebox';
import { Nullable } from '../http/schemas.js';
import { JobEventSchema } from '../event-log/events.js';
import { JOB_STATES } from './model.js';
import { JOB_KIND_PATTERN } from './jobs.service.js';
import { QUEUE_NAME_PATTERN } from './queues.service.js';

const DateTime = Type.String({ format: 'date-time' });
const Permission = Type.String({ maxLength: 130, description: 'A permission such as jobs:enqueue' });

/** Job states as a schema. */
export const JobStateSchema = Type.Union(JOB_STATES.map((s) => Type.Literal(s)));

/** `Queue` component. */
export const QueueSchema = Type.Object(
  {
    name: Type.String({ pattern: QUEUE_NAME_PATTERN }),
    description: Type.String(),
    paused: Type.Boolean(),
    lease_seconds: Type.Integer(),
    max_attempts: Type.Integer(),
    max_lease_expiries: Type.Integer(),
    backoff_base_seconds: Type.Integer(),
    backoff_max_seconds: Type.Integer(),
    enqueue_permission: Type.String(),
    claim_permission: Type.String(),
    worker_concurrency: Type.Integer(),
    created_at: DateTime,
    updated_at: DateTime,
  },
  { $id: 'Queue' },
);

/** Settings accepted on create and PATCH (all optional). */
export const QueueSettingsSchema = {
  description: Type.Optional(Type.String({ maxLength: 1000 })),
  paused: Type.Optional(Type.Boolean()),
  lease_seconds: Type.Optional(Type.Integer({ minimum: 5, maximum: 86_400, description: 'seconds (default 60)' })),
  max_attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'default 5' })),
  max_lease_expiries: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'default 3' })),
  backoff_base_seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400, description: 'default 10' })),
  backoff_max_seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 7 * 86_400, description: 'default 3600' })),
  enqueue_permission: Type.Optional(Permission),
  claim_permission: Type.Optional(Permission),
  worker_concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'jobs a worker may hold in total when claiming here (default 1)' })),
};

/** `QueueStats` component. */
export const QueueStatsSchema = Type.Object(
  {
    queue: Type.String(),
    paused: Type.Boolean(),
    counts: Type.Record(Type.String(), Type.Integer()),
    succeeded_last_hour: Type.Integer(),
    failed_last_hour: Type.Integer(),
    mean_duration_ms: Nullable(Type.Number()),
    p95_duration_ms: Nullable(Type.Number()),
    oldest_queued_age_s: Nullable(Type.Number()),
    active_workers: Type.Integer(),
  },
  { $id: 'QueueStats' },
);

/** `Job` component. */
export const JobSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    queue: Type.String(),
    kind: Type.String(),
    payload: Type.Unknown(),
    priority: Type.Integer(),
    run_after: DateTime,
    idempotency_key: Nullable(Type.String()),
    state: JobStateSchema,
    attempt: Type.Integer({ description: 'Claims so far: the fencing token workers echo' }),
    failures: Type.Integer(),
    lease_expiries: Type.Integer(),
    lease_expires_at: Nullable(DateTime),
    worker_id: Nullable(Type.String()),
    progress: Type.Number({ minimum: 0, maximum: 1 }),
    progress_message: Nullable(Type.String()),
    metrics: Nullable(Type.Record(Type.String(), Type.Number())),
    result: Type.Unknown(),
    error: Nullable(Type.Object({ message: Type.String(), details: Type.Optional(Type.Unknown()) })),
    input_files: Type.Array(Type.String()),
    output_files: Type.Array(Type.String()),
    checkpoint_file_id: Nullable(Type.String()),
    owner_id: Nullable(Type.String()),
    parent_type: Nullable(Type.String()),
    parent_id: Nullable(Type.String()),
    created_at: DateTime,
    started_at: Nullable(DateTime),
    heartbeat_at: Nullable(DateTime),
    finished_at: Nullable(DateTime),
    updated_at: DateTime,
  },
  { $id: 'Job' },
);

/** One job to enqueue. */
export const EnqueueItemSchema = Type.Object(
  {
    kind: Type.String({ pattern: JOB_KIND_PATTERN, description: 'What the job is; workers register handlers by kind' }),
    payload: Type.Optional(Type.Unknown({ description: 'Any JSON, at most JOB_PAYLOAD_MAX_BYTES serialised' })),
    priority: Type.Optional(Type.Integer({ minimum: -1000, maximum: 1000, description: 'Higher first (default 0)' })),
    run_after: Type.Optional(Type.String({ format: 'date-time', description: 'Not claimed before this time' })),
    delay_s: Type.Optional(Type.Integer({ minimum: 0, maximum: 365 * 86_400, description: 'Not claimed for this many seconds' })),
    idempotency_key: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Unique per queue and owner: repeating it with the same body returns your existing job; with another body, 409 idempotency_conflict' })),
    input_files: Type.Optional(Type.Array(Type.String({ format: 'uuid' }), { maxItems: 100, description: 'Ids of your uploaded files the worker may read' })),
    parent_type: Type.Optional(Type.String({ minLength: 1, maxLength: 50 })),
    parent_id: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  },
  { additionalProperties: false },
);

/** Every job-system component schema, registered once on the app (`JobEvent` is the event log's). */
export const jobSchemas = [QueueSchema, QueueStatsSchema, JobSchema, JobEventSchema];
