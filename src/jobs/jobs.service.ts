/**
 * Jobs as their owners and admins see them: enqueue (single or batched, idempotent), list, read
 * with history, pause, resume, cancel and retry. The worker side lives in
 * `worker-protocol.service.ts`. Protocol and state machine: docs/jobs.md.
 */
import type { Kysely } from 'kysely';
import { allows } from '../access/permissions.js';
import type { ActorContext, AuditLog } from '../audit/audit.service.js';
import type { Principal } from '../auth/auth.service.js';
import type { Database, FileRow, JobRow, JobState, JobTable } from '../db/schema.js';
import type { Executor } from '../db/executor.js';
import type { WriteTransaction, WriteTx } from '../db/transaction.js';
import type { Clock } from '../shared/clock.js';
import { AppError } from '../shared/errors.js';
import { newId } from '../shared/ids.js';
import { pageOfRows } from '../shared/paging.js';
import { latestJobEvents, latestQueueEventId, listJobEvents, replayJobEvents } from '../event-log/event-log.service.js';
import { appendEvents, stateEvent } from './job-events.js';
import type { JobHooks } from './job-hooks.js';
import type { JobHub } from './job-hub.js';
import {
  deleteFinishedJobs,
  findHeldJobs,
  findJob,
  findJobsByIdempotencyKeys,
  findWorkerName,
  insertJobs,
  type JobQuery,
  listJobs,
  transitionJob,
} from './jobs.repo.js';
import { type JobEventView, type JobView, toJobView } from './model.js';
import { findQueue } from './queues.repo.js';

/** A job kind: letters, digits, `.`, `_`, `:`, `-`; 1–100 characters. */
export const JOB_KIND_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$';
const KIND_RE = new RegExp(JOB_KIND_PATTERN);

/** One job to enqueue (`POST /api/v1/queues/{name}/jobs`). */
export interface EnqueueInput {
  kind: string;
  payload?: unknown;
  /** Higher runs first; −1000..1000, default 0. */
  priority?: number | undefined;
  /** ISO time before which the job is not claimed. */
  run_after?: string | undefined;
  /** Alternative to `run_after`: seconds from now. */
  delay_s?: number | undefined;
  /**
   * Unique per (queue, enqueuer): enqueueing the same key with the same body again returns the
   * existing job; with a different body it is `409 idempotency_conflict`.
   */
  idempotency_key?: string | undefined;
  input_files?: string[] | undefined;
  parent_type?: string | undefined;
  parent_id?: string | undefined;
}

/** JSON text with object keys sorted, so equal values compare equal however they were stored (jsonb reorders keys). */
function canonicalJson(text: string): string {
  const sortKeys = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(sortKeys);
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]));
    }
    return value;
  };
  return JSON.stringify(sortKeys(JSON.parse(text)));
}

/**
 * True when two jobs were asked for with the same body: kind, payload, priority, input files and
 * parent. The schedule (`run_after`/`delay_s`) is not compared: `delay_s` is relative to each
 * request, so the first request's schedule stands.
 */
function sameJobRequest(a: Pick<JobTable, 'kind' | 'payload' | 'priority' | 'input_files' | 'parent_type' | 'parent_id'>, b: typeof a): boolean {
  return (
    a.kind === b.kind &&
    a.priority === b.priority &&
    a.parent_type === b.parent_type &&
    a.parent_id === b.parent_id &&
    canonicalJson(a.payload) === canonicalJson(b.payload) &&
    canonicalJson(a.input_files) === canonicalJson(b.input_files)
  );
}

/** The error for a key reused with another body; `at` names the batch item (`/jobs/3`) or is empty. */
function idempotencyConflict(key: string, at: string, existingId: string | null): AppError {
  const where = existingId ? `your job ${existingId}` : 'an earlier item of this batch';
  return new AppError(
    'idempotency_conflict',
    `The idempotency key "${key}" was already used for ${where} with a different kind, payload, priority, input files or parent.`,
    { errors: [{ field: `${at}/idempotency_key`, message: 'was used before with a different body' }] },
  );
}

/** Who enqueues: the acting user (the job's owner) and their permissions (undefined = operator). */
export type Enqueuer = ActorContext;

/** A validated batch on its way into the `job` table. */
interface PreparedBatch {
  queueName: string;
  rows: JobTable[];
  /** Idempotency key → the first row asking for it. */
  firstByKey: Map<string, JobTable>;
  /** The idempotency scope: the enqueuer's user id, `''` for the operator. */
  scope: string;
  nowIso: string;
  /** The JSON-pointer prefix of item `i` in validation errors. */
  at: (i: number) => string;
}

/** The jobs in input order, with how many were created and how many existed already. */
function batchResult(rows: readonly JobTable[], inserted: readonly JobRow[], existing: readonly JobRow[]): { items: JobView[]; created: number; existing: number } {
  const byId = new Map(inserted.map((r) => [r.id, r]));
  const byKey = new Map<string, JobRow>();
  for (const r of [...existing, ...inserted]) if (r.idempotency_key) byKey.set(r.idempotency_key, r);
  const existingIds = new Set(existing.map((r) => r.id));
  const items = rows.map((r) => {
    const row = (r.idempotency_key ? byKey.get(r.idempotency_key) : undefined) ?? byId.get(r.id);
    if (!row) throw new Error(`job ${r.id} vanished during enqueue`);
    return toJobView(row);
  });
  return { items, created: inserted.length, existing: items.filter((j) => existingIds.has(j.id)).length };
}

/** Dependencies of {@link JobService}. */
export interface JobServiceOptions {
  db: Kysely<Database>;
  /** The database handle's write transaction (`gatehouse.database.write`). */
  write: WriteTransaction;
  clock: Clock;
  hub: JobHub;
  audit: AuditLog;
  /** Looks up the files jobs name (the `files` feature's service; jobs never read its table). */
  files: JobFileLookup;
  /** Largest serialised payload, in bytes. */
  payloadMaxBytes: number;
  /** Modules' handlers for job outcomes (a cancel is one), run inside the recording transaction. */
  hooks?: JobHooks;
}

/**
 * What jobs need from the `files` feature: the stored files among some ids, to check that a job's
 * input, output and checkpoint files exist and belong to the right owner or job. `FileService`
 * implements it; jobs call it instead of the files repository.
 */
export interface JobFileLookup {
  /**
   * The files among `ids` that exist (any order; missing ids are simply absent), read through
   * `db` when given: inside a write transaction pass `tx.db` (SQLite has one connection, which
   * the transaction holds).
   */
  findByIds(ids: readonly string[], db?: Executor): Promise<FileRow[]>;
}

/** Filters for {@link JobService.list}. */
export type JobListQuery = Omit<JobQuery, 'beforeId' | 'limit'> & { limit: number; afterId?: string | undefined };

/** Owner/admin operations on jobs. */
export class JobService {
  constructor(private readonly options: JobServiceOptions) {}

  /**
   * Enqueues one job.
   * @returns the job and whether it already existed under its idempotency key.
   * @throws AppError `not_found` (queue), `forbidden` (enqueue permission), `validation_failed`,
   *   `payload_too_large` (413).
   */
  async enqueue(queue: string, input: EnqueueInput, by: Enqueuer): Promise<{ job: JobView; replayed: boolean }> {
    const result = await this.enqueueBatch(queue, [input], by);
    const job = result.items[0];
    if (!job) throw new Error('enqueueBatch returned no job');
    return { job, replayed: result.existing > 0 };
  }

  /**
   * Enqueues up to 1000 jobs in one transaction (all or nothing). Idempotency keys are scoped per
   * (queue, owner): items repeating a key of the same enqueuer — within the batch or already in the
   * queue — resolve to that enqueuer's existing job when their body (kind, payload, priority,
   * input files, parent) is the same; another user's key is never seen.
   * @returns the jobs in input order, with how many were created and how many already existed.
   * @throws as {@link enqueue}; a validation error names the item (`/jobs/3/kind`);
   *   `idempotency_conflict` (409) when a key is repeated with a different body.
   */
  async enqueueBatch(queueName: string, inputs: readonly EnqueueInput[], by: Enqueuer): Promise<{ items: JobView[]; created: number; existing: number }> {
    const { db, write, hub } = this.options;
    await this.assertMayEnqueue(db, queueName, by);
    const batch = this.prepareBatch(queueName, inputs, by);
    await this.assertFilesVisible(batch.rows, by, db);
    const { inserted, existing } = await write((tx) => this.insertBatch(tx, batch));
    if (inserted.some((r) => r.run_after <= batch.nowIso)) hub.announceWork(queueName);
    return batchResult(batch.rows, inserted, existing);
  }

  /**
   * Enqueues jobs inside the caller's write transaction (`gatehouse.database.write`, or a job hook's
   * `tx`), so a domain row and the jobs that work on it commit together or not at all: what a
   * feature module uses to spawn work (a submission's evaluations, a campaign's runs). Every read
   * goes through `tx.db`. Workers waiting on the queue are woken once `tx` commits.
   * Same rules as {@link enqueueBatch}: idempotency keys per (queue, enqueuer), at most 1000 items.
   * @param by the enqueuer; `permissions: null` is the platform itself (no permission checks).
   * @returns the jobs in input order (existing ones for repeated idempotency keys).
   * @throws as {@link enqueueBatch}; the caller's transaction should then roll back.
   */
  async enqueueIn(tx: WriteTx, queueName: string, inputs: readonly EnqueueInput[], by: Enqueuer): Promise<JobView[]> {
    await this.assertMayEnqueue(tx.db, queueName, by);
    const batch = this.prepareBatch(queueName, inputs, by);
    await this.assertFilesVisible(batch.rows, by, tx.db);
    const { inserted, existing } = await this.insertBatch(tx, batch);
    if (inserted.some((r) => r.run_after <= batch.nowIso)) tx.afterCommit(() => this.options.hub.announceWork(queueName));
    return batchResult(batch.rows, inserted, existing).items;
  }

  /** @throws AppError `not_found` (no such queue), `forbidden` (the queue's enqueue permission is missing). */
  private async assertMayEnqueue(db: Executor, queueName: string, by: Enqueuer): Promise<void> {
    const queue = await findQueue(db, queueName);
    if (!queue) throw new AppError('not_found', `There is no queue named "${queueName}".`);
    if (by.permissions && !allows(by.permissions, queue.enqueue_permission)) {
      throw new AppError('forbidden', `Enqueueing in "${queueName}" needs the ${queue.enqueue_permission} permission.`);
    }
  }

  /** Validates the inputs into rows and resolves idempotency keys repeated within the batch. */
  private prepareBatch(queueName: string, inputs: readonly EnqueueInput[], by: Enqueuer): PreparedBatch {
    if (inputs.length > 1000) throw new AppError('validation_failed', 'At most 1000 jobs per batch.', { errors: [{ field: '/jobs', message: 'more than 1000 items' }] });
    const now = this.options.clock.now();
    const at = (i: number) => (inputs.length > 1 ? `/jobs/${i}` : '');
    const rows = inputs.map((input, i) => this.toRow(queueName, input, by, now, at(i)));
    // The first item with a key wins; later ones in the same batch resolve to it if they ask the same.
    const firstByKey = new Map<string, JobTable>();
    rows.forEach((row, i) => {
      if (!row.idempotency_key) return;
      const first = firstByKey.get(row.idempotency_key);
      if (!first) firstByKey.set(row.idempotency_key, row);
      else if (!sameJobRequest(first, row)) throw idempotencyConflict(row.idempotency_key, at(i), null);
    });
    return { queueName, rows, firstByKey, scope: by.actorId ?? '', nowIso: now.toISOString(), at };
  }

  /** Inserts a prepared batch in `tx` and finds the existing jobs of repeated keys; appends the `queued` events. */
  private async insertBatch(tx: WriteTx, batch: PreparedBatch): Promise<{ inserted: JobRow[]; existing: JobRow[] }> {
    const { queueName, rows, firstByKey, scope, nowIso, at } = batch;
    const unique = rows.filter((r) => !r.idempotency_key || firstByKey.get(r.idempotency_key) === r);
    const inserted: JobRow[] = [];
    // Chunks keep every statement under SQLite's and PostgreSQL's bound-parameter limits.
    for (let i = 0; i < unique.length; i += 500) inserted.push(...(await insertJobs(tx.db, unique.slice(i, i + 500))));
    const insertedKeys = new Set(inserted.map((r) => r.idempotency_key));
    const missingKeys = [...firstByKey.keys()].filter((k) => !insertedKeys.has(k));
    const existing = await findJobsByIdempotencyKeys(tx.db, queueName, scope, missingKeys);
    for (const row of existing) {
      const asked = row.idempotency_key ? firstByKey.get(row.idempotency_key) : undefined;
      // Throwing rolls the whole batch back: all or nothing.
      if (asked && !sameJobRequest(row, asked)) throw idempotencyConflict(asked.idempotency_key ?? '', at(rows.indexOf(asked)), row.id);
    }
    for (let i = 0; i < inserted.length; i += 500) {
      await appendEvents(tx, this.options.hub, inserted.slice(i, i + 500).map((row) => stateEvent(row, null)), nowIso);
    }
    return { inserted, existing };
  }

  /**
   * A page of jobs, newest first. Non-admins (without `jobs:manage`) see only their own; a null
   * principal is an operator (CLI) and sees everything.
   * @throws AppError `forbidden` when a non-admin asks for another owner's jobs.
   */
  async list(query: JobListQuery, principal: Principal | null): Promise<{ items: JobView[]; next: string | null }> {
    const manager = !principal || this.isManager(principal);
    const ownerId = manager ? query.ownerId : principal.user.id;
    if (!manager && query.ownerId && query.ownerId !== principal.user.id) {
      throw new AppError('forbidden', 'Listing other users\' jobs needs the jobs:manage permission.');
    }
    const rows = await listJobs(this.options.db, { ...query, ownerId, beforeId: query.afterId });
    return pageOfRows(rows, query.limit, toJobView);
  }

  /**
   * One job with its latest events (oldest first); a null principal is an operator.
   * @throws AppError `not_found` when it does not exist or the principal may not see it.
   */
  async get(id: string, principal: Principal | null, eventLimit = 100): Promise<{ job: JobView; events: JobEventView[] }> {
    const row = await this.visibleJob(id, principal);
    return { job: toJobView(row), events: await latestJobEvents(this.options.db, id, eventLimit) };
  }

  /**
   * The name of the worker with this id (`JobView.worker_id`, the id of its API key): the
   * `worker_name` of its latest claim, else the key's name. Null for an id that never claimed.
   */
  async workerName(workerId: string): Promise<string | null> {
    return (await findWorkerName(this.options.db, workerId)) ?? null;
  }

  /** A job's events after `afterSeq`, oldest first. @throws AppError `not_found`. */
  async events(id: string, afterSeq: number, limit: number, principal: Principal | null): Promise<JobEventView[]> {
    await this.visibleJob(id, principal);
    return listJobEvents(this.options.db, id, afterSeq, limit);
  }

  /** The newest global event id of `queue` (0 when it has none): where an operator's queue watch starts. */
  latestQueueEventId(queue: string): Promise<number> {
    return latestQueueEventId(this.options.db, queue);
  }

  /** Events of every job of `queue` with a global id above `afterId`, in id order (operators: no owner filter). */
  async queueEvents(queue: string, afterId: number, limit: number): Promise<JobEventView[]> {
    const messages = await replayJobEvents(this.options.db, { jobIds: [], queues: [queue], afterId, limit, queueOwnerId: null });
    return messages.map((m) => m.event);
  }

  /**
   * Pauses a queued job (nobody claims it) or a running one (its worker is told through the
   * heartbeat and keeps the lease). Pausing a paused job changes nothing.
   * @throws AppError `not_found`, `conflict` for a finished job.
   */
  async pause(id: string, principal: Principal | null, actor: ActorContext): Promise<JobView> {
    return this.act(id, principal, actor, 'pause', (row) => {
      if (row.state === 'paused') return null;
      if (row.state === 'queued' || row.state === 'running') return { from: [row.state], changes: { state: 'paused' } };
      throw new AppError('conflict', `A ${row.state} job cannot be paused.`);
    });
  }

  /**
   * Resumes a paused job: back to `running` when a worker still holds it, else `queued`.
   * @throws AppError `not_found`, `conflict` for a finished job.
   */
  async resume(id: string, principal: Principal | null, actor: ActorContext): Promise<JobView> {
    return this.act(id, principal, actor, 'resume', (row) => {
      if (row.state === 'queued' || row.state === 'running') return null;
      if (row.state !== 'paused') throw new AppError('conflict', `A ${row.state} job cannot be resumed.`);
      return row.worker_id
        ? { from: ['paused'], changes: { state: 'running' }, held: true }
        : { from: ['paused'], changes: { state: 'queued' }, held: false, announce: true };
    });
  }

  /**
   * Cancels a job that has not finished. A worker holding it learns through its next heartbeat
   * (`command: "cancel"`); anything else it sends is refused.
   * @throws AppError `not_found`, `conflict` for a finished job.
   */
  async cancel(id: string, principal: Principal | null, actor: ActorContext): Promise<JobView> {
    const nowIso = this.options.clock.now().toISOString();
    return this.act(id, principal, actor, 'cancel', (row) => {
      if (row.state === 'cancelled') return null;
      if (row.state === 'succeeded' || row.state === 'failed' || row.state === 'dead') {
        throw new AppError('conflict', `A ${row.state} job cannot be cancelled.`);
      }
      return { from: [row.state], changes: { state: 'cancelled', lease_expires_at: null, finished_at: nowIso } };
    });
  }

  /**
   * Re-queues a failed, dead or cancelled job with fresh failure and lease-expiry counts (the
   * attempt number keeps counting, so fencing stays sound).
   * @throws AppError `not_found`, `conflict` for a job that has not finished or succeeded.
   */
  async retry(id: string, principal: Principal | null, actor: ActorContext): Promise<JobView> {
    const nowIso = this.options.clock.now().toISOString();
    return this.act(id, principal, actor, 'retry', (row) => {
      if (row.state !== 'failed' && row.state !== 'dead' && row.state !== 'cancelled') {
        throw new AppError('conflict', `Only failed, dead or cancelled jobs can be retried; this one is ${row.state}.`);
      }
      return {
        from: [row.state],
        changes: {
          state: 'queued',
          failures: 0,
          lease_expiries: 0,
          error: null,
          result: null,
          worker_id: null,
          lease_expires_at: null,
          finished_at: null,
          progress: 0,
          progress_message: null,
          run_after: nowIso,
        },
        announce: true,
      };
    });
  }

  /**
   * The jobs the principal's worker (its API key) holds now (`running` or `paused` under it), for
   * feature modules' file-access rules ("the worker holding an evaluation job of this challenge").
   * @returns an empty list for a principal that is not an API key.
   */
  async heldJobs(principal: Principal): Promise<JobView[]> {
    if (!principal.apiKey) return [];
    return (await findHeldJobs(this.options.db, principal.apiKey.id)).map(toJobView);
  }

  /**
   * For file downloads: true when `principal` owns the job `file` was uploaded for (and holds
   * `files:read`), or its worker (API key with `jobs:claim`) holds a job listing the file as
   * input, output or checkpoint.
   */
  async mayReadFileThroughJob(file: FileRow, principal: Principal): Promise<boolean> {
    const { db } = this.options;
    if (file.job_id && allows(principal.permissions, 'files:read')) {
      const job = await findJob(db, file.job_id);
      if (job && job.owner_id === principal.user.id) return true;
    }
    if (!principal.apiKey || !allows(principal.permissions, 'jobs:claim')) return false;
    const held = await findHeldJobs(db, principal.apiKey.id);
    // Only the two file lists are parsed (not the payload, result or metrics of every held job).
    const lists = (job: JobRow) => [job.input_files, job.output_files].flatMap((text) => JSON.parse(text) as string[]);
    return held.some((job) => job.checkpoint_file_id === file.id || file.job_id === job.id || lists(job).includes(file.id));
  }

  /**
   * For worker uploads: the principal's worker (its API key) must hold `jobId` under `attempt`.
   * @throws AppError `forbidden` without a worker API key, `lease_lost` (409) otherwise.
   */
  async assertHoldsJob(principal: Principal, jobId: string, attempt: number): Promise<void> {
    if (!principal.apiKey || !allows(principal.permissions, 'jobs:claim')) {
      throw new AppError('forbidden', 'Only a worker API key holding the job may upload files for it.');
    }
    const job = await findJob(this.options.db, jobId);
    const nowIso = this.options.clock.now().toISOString();
    const holds =
      job &&
      job.worker_id === principal.apiKey.id &&
      job.attempt === attempt &&
      (job.state === 'running' || job.state === 'paused') &&
      job.lease_expires_at !== null &&
      job.lease_expires_at > nowIso;
    if (!holds) throw new AppError('lease_lost', 'This worker does not hold the job under this attempt.');
  }

  /**
   * Deletes the jobs that finished (`succeeded`, `failed`, `dead`, `cancelled`) before `before`,
   * with their events (by cascade), oldest first, in statements of at most `batch` jobs so that no
   * single delete holds SQLite's write lock or PostgreSQL's row locks for long. Used by the
   * scheduler's `prune-jobs` task. @returns how many jobs were deleted.
   */
  async pruneFinished(before: Date, batch = 2000): Promise<number> {
    const beforeIso = before.toISOString();
    let deleted = 0;
    for (let n = batch; n === batch; deleted += n) n = await deleteFinishedJobs(this.options.db, beforeIso, batch);
    return deleted;
  }

  /** The job if the principal may see it (owner or `jobs:manage`). @throws AppError `not_found`. */
  private async visibleJob(id: string, principal: Principal | null): Promise<JobRow> {
    const row = await findJob(this.options.db, id);
    if (!row || (principal && !this.isManager(principal) && row.owner_id !== principal.user.id)) {
      throw new AppError('not_found', 'There is no such job.');
    }
    return row;
  }

  private isManager(principal: Principal): boolean {
    return allows(principal.permissions, 'jobs:manage');
  }

  /**
   * Runs one owner/admin action: decide from the current row, apply with an optimistic state check
   * (trying again, up to four times in all, if the job moved meanwhile), append the event, audit.
   */
  private async act(
    id: string,
    principal: Principal | null,
    actor: ActorContext,
    action: 'pause' | 'resume' | 'cancel' | 'retry',
    decide: (row: JobRow) => { from: JobState[]; changes: Partial<JobTable>; held?: boolean; announce?: boolean } | null,
  ): Promise<JobView> {
    const { write, clock, hub, audit } = this.options;
    for (let tries = 0; ; tries++) {
      const current = await this.visibleJob(id, principal);
      const plan = decide(current);
      if (!plan) return toJobView(current);
      const nowIso = clock.now().toISOString();
      const updated = await write(async (tx) => {
        const row = await transitionJob(tx.db, id, plan.from, plan.changes, nowIso, plan.held);
        if (!row) return undefined;
        await appendEvents(tx, hub, [stateEvent(row, current.state, { reason: action, by: actor.actorId })], nowIso);
        await audit.record(tx.db, actor, { action: `job.${action}`, targetType: 'job', targetId: id, details: { from: current.state, to: row.state } });
        await this.options.hooks?.run(tx, row, nowIso);
        return row;
      });
      if (updated) {
        if (plan.announce) hub.announceWork(updated.queue);
        return toJobView(updated);
      }
      if (tries >= 3) throw new AppError('conflict', 'The job changed while this request was handled; try again.');
    }
  }

  /** Validates one input and builds its row. @throws AppError `validation_failed`, `payload_too_large`. */
  private toRow(queue: string, input: EnqueueInput, by: Enqueuer, now: Date, at: string): JobTable {
    const nowIso = now.toISOString();
    const fail = (field: string, message: string): never => {
      throw new AppError('validation_failed', `${at}${field} ${message}`.replace(/^\//, ''), { errors: [{ field: `${at}${field}`, message }] });
    };
    if (!KIND_RE.test(input.kind)) fail('/kind', `must match ${JOB_KIND_PATTERN}`);
    const payload = JSON.stringify(input.payload ?? {});
    if (Buffer.byteLength(payload) > this.options.payloadMaxBytes) {
      throw new AppError('payload_too_large', `${at ? `${at.slice(1)}: ` : ''}the payload is larger than ${this.options.payloadMaxBytes} bytes (JOB_PAYLOAD_MAX_BYTES).`);
    }
    let runAfter = nowIso;
    if (input.run_after !== undefined && input.delay_s !== undefined) fail('/run_after', 'cannot be combined with delay_s');
    if (input.run_after !== undefined) {
      const t = Date.parse(input.run_after);
      if (Number.isNaN(t)) fail('/run_after', 'must be an ISO-8601 date-time');
      runAfter = new Date(Math.max(t, now.getTime())).toISOString();
    } else if (input.delay_s !== undefined) {
      runAfter = new Date(now.getTime() + input.delay_s * 1000).toISOString();
    }
    return {
      id: newId(),
      queue,
      kind: input.kind,
      payload,
      priority: input.priority ?? 0,
      run_after: runAfter,
      idempotency_key: input.idempotency_key ?? null,
      idempotency_owner: input.idempotency_key === undefined ? null : (by.actorId ?? ''),
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
    };
  }

  /** Input files must exist and be the enqueuer's own (or any, with `files:manage`). */
  private async assertFilesVisible(rows: JobTable[], by: Enqueuer, db: Executor): Promise<void> {
    const ids = [...new Set(rows.flatMap((r) => JSON.parse(r.input_files) as string[]))];
    if (!ids.length) return;
    const found = new Map((await this.options.files.findByIds(ids, db)).map((f) => [f.id, f]));
    const mayReadAll = !by.permissions || allows(by.permissions, 'files:manage');
    const bad = ids.filter((id) => {
      const file = found.get(id);
      return !file || (!mayReadAll && file.owner_id !== by.actorId);
    });
    if (bad.length) {
      throw new AppError('validation_failed', `Unknown input files: ${bad.join(', ')}.`, {
        errors: bad.map((id) => ({ field: '/input_files', message: `no file ${id} of yours` })),
      });
    }
  }
}
