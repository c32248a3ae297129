/**
 * The worker side of the job system: claim (with long polling), heartbeat, log, complete, fail,
 * release, and the lease sweeper. A worker is the identity behind one API key (`worker.id` is the
 * key's id). Every call about a held job is fenced by `(job id, attempt)`; see docs/jobs.md.
 */
import type { Logger } from 'pino';
import { allows } from '../access/permissions.js';
import type { Principal } from '../auth/auth.service.js';
import type { JobRow, JobTable, QueueRow } from '../db/schema.js';
import type { WriteDatabase, WriteTx } from '../db/transaction.js';
import type { NotifyService } from '../notify/notify.service.js';
import type { Clock } from '../shared/clock.js';
import { AppError, isAppError } from '../shared/errors.js';
import { appendEvents, stateEvent } from './job-events.js';
import { JobHooks } from './job-hooks.js';
import type { JobHub } from './job-hub.js';
import type { JobFileLookup } from './jobs.service.js';
import {
  claimJobs,
  claimJobsForWorkersPg,
  claimJobsLockingWorkerPg,
  completeJob,
  completeJobs,
  completeJobsForWorkersPg,
  countHeldJobs,
  type Fence,
  findJob,
  findLapsedLeases,
  findQueuesWithJobsBecomingDue,
  heartbeatJob,
  type InOutcomeTransaction,
  type JobWithEvent,
  reclaimLapsedJob,
  touchWorker,
  updateFencedJob,
  upsertWorker,
  type WorkerCompletion,
} from './jobs.repo.js';
import { type JobError, type JobView, toJobEventView, toJobView } from './model.js';
import { findQueue, findQueues } from './queues.repo.js';
import { TurnBatcher } from './turn-batch.js';

/** What a claim asks for. */
export interface ClaimInput {
  queues: string[];
  kinds?: string[] | undefined;
  /** Long-poll: wait up to this many seconds for a job (0 = answer at once). */
  waitSeconds?: number | undefined;
  workerName?: string | undefined;
  /** Batch claims: at most this many jobs (default 1). */
  maxJobs?: number | undefined;
}

/** One claimed job: the job, the attempt to echo in every later call, and the lease end. */
export interface ClaimedJob {
  job: JobView;
  attempt: number;
  lease_expires_at: string;
}

/** What the worker should do after a heartbeat. */
export type WorkerCommand = 'continue' | 'pause' | 'cancel';

/** Heartbeat answer. `lease_expires_at` is null once the job was cancelled. */
export interface HeartbeatResult {
  lease_expires_at: string | null;
  command: WorkerCommand;
}

/** One item of a batched completion and its outcome. */
export interface BatchCompletion {
  id: string;
  attempt: number;
  result?: unknown;
}

/** A claim from one queue by a registered worker, batched with others on PostgreSQL. */
export interface BatchedClaim {
  workerId: string;
  queue: string;
  /** Sorted (claims with the same kinds share a statement). */
  kinds: string[] | undefined;
  /** At most this many jobs. */
  limit: number;
}

/** Dependencies of {@link WorkerProtocol}. */
export interface WorkerProtocolOptions {
  /** The database handle: reads through `db`, writes in its `write` transactions. */
  database: WriteDatabase;
  clock: Clock;
  hub: JobHub;
  logger: Logger;
  notify: Pick<NotifyService, 'enqueue'>;
  /** Largest serialised result/metrics/error, in bytes. */
  payloadMaxBytes: number;
  /** Longest long-poll wait allowed, in seconds. */
  maxWaitSeconds: number;
  /** Long-poll claims one worker key may have waiting at once in this process (JOB_MAX_WAITING_CLAIMS_PER_KEY). Default unlimited. */
  maxWaitingClaimsPerKey?: number;
  publicUrl: string;
  /** Looks up the output and checkpoint files a worker names (the `files` feature's service). */
  files: JobFileLookup;
  /** Modules' handlers for job outcomes, run inside the transaction that records each outcome. */
  hooks?: JobHooks;
}

/**
 * While claims long-poll, one query this often (for all of them together) looks for jobs of their
 * queues that became due since the previous look (delayed jobs, retry backoff), which no enqueue
 * hint announces. Nothing else runs per waiting claim: enqueues, requeues and resumes wake it.
 */
const DUE_SCAN_MS = 1000;
/** How long claims trust cached queue settings (permissions, concurrency), in ms. */
const QUEUE_CACHE_MS = 1000;
/** A worker's `last_seen_at` is written at most this often by heartbeats. */
const TOUCH_INTERVAL_MS = 10_000;

/** The lease-lost error every fenced call throws. */
function leaseLost(): AppError {
  return new AppError(
    'lease_lost',
    'This worker no longer holds the job under this attempt: its lease lapsed and it was reclaimed, it was cancelled, or it already finished.',
  );
}

/** The error of a completion refused because the job is paused. */
function jobPaused(): AppError {
  return new AppError(
    'job_paused',
    'The job is paused: it cannot complete until its owner or an admin resumes it. Keep heartbeating (the lease stays yours) and send the completion again after the heartbeat answers `continue`.',
  );
}

/**
 * Retry delay after the `failures`-th failure: `base · 2^(failures−1)` seconds capped at `max`,
 * with ±20 % jitter so a burst of failures does not come back as a burst ("Exponential Backoff
 * And Jitter", AWS Architecture Blog, 2015).
 */
export function retryDelaySeconds(failures: number, baseSeconds: number, maxSeconds: number, random = Math.random): number {
  const exponential = Math.min(maxSeconds, baseSeconds * 2 ** Math.max(0, failures - 1));
  return Math.max(0, exponential * (0.8 + 0.4 * random()));
}

/** The worker protocol. */
export class WorkerProtocol {
  /**
   * When this process last wrote each worker's `last_seen_at`, in `performance.now()` ms. This and
   * {@link lastRegistered}, {@link queueCache} are write throttles and cache ages: real elapsed time
   * on the monotonic clock, not domain time (which comes from the injected clock).
   */
  private readonly lastTouched = new Map<string, number>();
  /** Each long-poll claim now waiting: its wake function and the queues it waits for. */
  private readonly waiting = new Map<() => void, ReadonlySet<string>>();
  /** Long-poll claims in progress per worker key (for the JOB_MAX_WAITING_CLAIMS_PER_KEY cap). */
  private readonly waitingPerKey = new Map<string, number>();
  /** The shared due-job scan (see {@link DUE_SCAN_MS}); runs only while claims wait. */
  private dueScanTimer: NodeJS.Timeout | undefined;
  /** Jobs due after this time (ISO) were not yet looked for; undefined when none wait. */
  private dueScanFrom: string | undefined;
  private dueScanning = false;
  /** Claims asleep in {@link armWaiter}'s `wait`. */
  private sleeping = 0;
  /** Due-job scan ticks run so far while claims waited (for tests); a tick queries only when the clock moved. */
  dueScans = 0;
  /** Set by {@link stopWaiting}. */
  private stopped = false;
  /** When this process last upserted each worker's row (name, capabilities, last seen), in `performance.now()` ms. */
  private readonly lastRegistered = new Map<string, number>();
  /** Queue settings by name, read at most every {@link QUEUE_CACHE_MS} (claims are the hot path). */
  private readonly queueCache = new Map<string, { row: QueueRow; readAt: number }>();

  private readonly hooks: JobHooks;
  /**
   * PostgreSQL: claims of one job from one queue by registered workers, and completions, that
   * arrive in the same event-loop turn share one statement (one round trip and one commit for
   * many workers; see {@link TurnBatcher}). Undefined on SQLite, whose group commit already
   * shares one transaction between them.
   */
  private readonly claimBatcher: TurnBatcher<BatchedClaim, JobWithEvent[] | 'busy'> | undefined;
  private readonly completionBatcher: TurnBatcher<WorkerCompletion, JobWithEvent | undefined> | undefined;

  constructor(private readonly options: WorkerProtocolOptions) {
    this.hooks = options.hooks ?? new JobHooks();
    if (options.database.dialect === 'postgres') {
      const { database, clock } = options;
      this.claimBatcher = new TurnBatcher({
        groupOf: (c) => `${c.queue}\u0000${c.kinds?.join('\u0000') ?? ''}`,
        // One worker's concurrent claims run in separate statements: each must count the other's jobs.
        exclusiveOf: (c) => c.workerId,
        run: async (claims) => {
          // Worker rows are locked in id order by every batch, so two batches never deadlock.
          const order = claims.map((c, i) => i).sort((a, b) => (claims[a]!.workerId < claims[b]!.workerId ? -1 : 1));
          const { queue, kinds } = claims[0]!;
          const sorted = order.map((i) => claims[i]!);
          const outcomes = await claimJobsForWorkersPg(database.db, { queue, kinds, nowIso: clock.now().toISOString(), claims: sorted });
          const byInput: Array<JobWithEvent[] | 'busy'> = [];
          order.forEach((input, position) => (byInput[input] = outcomes[position]!));
          return byInput;
        },
      });
      this.completionBatcher = new TurnBatcher({
        groupOf: () => '',
        // Two completions of one job in one statement would both be matched against the same row.
        exclusiveOf: (c) => c.jobId,
        run: (items) => completeJobsForWorkersPg(database.db, items, clock.now().toISOString(), this.hooks.empty ? undefined : Object.assign({}, this.hooks.watched, { run: undefined })),
      });
    }
  }

  /**
   * Claims jobs, waiting up to `waitSeconds` for one to become available.
   * @returns the claimed jobs (empty after the wait: 204).
   * @throws AppError `forbidden` (not a worker API key, or a queue's claim permission missing),
   *   `not_found` (unknown queue), `worker_busy` (409: the worker holds as many jobs as it may),
   *   `too_many_waiting_claims` (429: this worker key already has `maxWaitingClaimsPerKey` long polls waiting here).
   */
  async claim(principal: Principal, input: ClaimInput, signal?: AbortSignal): Promise<ClaimedJob[]> {
    const workerId = this.workerIdOf(principal);
    const queues = [...new Set(input.queues)];
    const rows = await this.queueSettings(queues);
    const missing = queues.filter((q) => !rows.some((r) => r.name === q));
    if (missing.length) throw new AppError('not_found', `There is no queue named ${missing.map((q) => `"${q}"`).join(', ')}.`);
    const refused = rows.filter((q) => !allows(principal.permissions, q.claim_permission));
    if (refused.length) {
      throw new AppError('forbidden', `Claiming from ${refused.map((q) => `"${q.name}" needs ${q.claim_permission}`).join('; ')}.`);
    }
    const maxConcurrency = Math.max(...rows.map((r) => r.worker_concurrency));
    const waitMs = Math.min(input.waitSeconds ?? 0, this.options.maxWaitSeconds) * 1000;
    if (waitMs > 0) {
      const held = this.waitingPerKey.get(workerId) ?? 0;
      const max = this.options.maxWaitingClaimsPerKey ?? Infinity;
      if (held >= max) {
        throw new AppError('too_many_waiting_claims', `At most ${max} long-poll claims may wait at once per worker key; wait for one to answer first.`, {
          extra: { limit: max },
        });
      }
      this.waitingPerKey.set(workerId, held + 1);
      try {
        return await this.claimLoop(principal, workerId, queues, input, maxConcurrency, waitMs, signal);
      } finally {
        const left = (this.waitingPerKey.get(workerId) ?? 1) - 1;
        if (left > 0) this.waitingPerKey.set(workerId, left);
        else this.waitingPerKey.delete(workerId);
      }
    }
    return this.claimLoop(principal, workerId, queues, input, maxConcurrency, 0, signal);
  }

  /**
   * PostgreSQL: statements run by the claim and completion batchers, and the largest number of
   * claims or completions one carried (undefined on SQLite).
   */
  get batching(): { claims: TurnBatcher<BatchedClaim, unknown>['stats']; completions: TurnBatcher<WorkerCompletion, unknown>['stats'] } | undefined {
    if (!this.claimBatcher || !this.completionBatcher) return undefined;
    return { claims: this.claimBatcher.stats, completions: this.completionBatcher.stats };
  }

  /** Long-poll claims now waiting (asleep until a hint or their deadline) in this process. */
  get waitingClaims(): number {
    return this.sleeping;
  }

  /** Claims until jobs come or `waitMs` passes (see {@link claim}). */
  private async claimLoop(
    principal: Principal,
    workerId: string,
    queues: string[],
    input: ClaimInput,
    maxConcurrency: number,
    waitMs: number,
    signal: AbortSignal | undefined,
  ): Promise<ClaimedJob[]> {
    // Real (monotonic) time: the long poll waits on real timers, whatever the injected clock says.
    const deadline = performance.now() + waitMs;
    const worker = {
      id: workerId,
      api_key_id: workerId,
      user_id: principal.user.id,
      name: (input.workerName ?? principal.apiKey?.name ?? 'worker').slice(0, 100),
      capabilities: JSON.stringify({ queues, kinds: input.kinds ?? null }),
    };
    for (;;) {
      // Listen for hints before looking, so that a job enqueued while this claim looks is never
      // missed; jobs becoming due after `checkedAt` are the due-job scan's to announce.
      const checkedAt = this.options.clock.now().toISOString();
      const waiter = waitMs > 0 ? this.armWaiter(queues, checkedAt, signal) : undefined;
      let claimed: ClaimedJob[] | 'busy';
      try {
        claimed = await this.tryClaim(worker, queues, input.kinds, input.maxJobs ?? 1, maxConcurrency);
      } catch (error) {
        waiter?.cancel();
        throw error;
      }
      const remaining = deadline - performance.now();
      if (claimed === 'busy' || claimed.length || !waiter || remaining <= 0 || signal?.aborted || this.stopped) {
        waiter?.cancel();
        if (claimed === 'busy') {
          throw new AppError('worker_busy', `This worker already holds as many jobs as it may (${maxConcurrency}); finish or release one first.`);
        }
        return claimed;
      }
      await waiter.wait(remaining);
    }
  }

  /**
   * Extends the lease and records progress. Progress, message or metrics append a `progress` event.
   * @returns the new lease end and the command (`pause` while paused, `cancel` once cancelled).
   * @throws AppError `lease_lost` (409), `payload_too_large` (metrics).
   */
  async heartbeat(
    principal: Principal,
    jobId: string,
    input: { attempt: number; progress?: number | undefined; message?: string | undefined; metrics?: Record<string, number> | undefined },
  ): Promise<HeartbeatResult> {
    const { database, clock, hub } = this.options;
    const workerId = this.workerIdOf(principal);
    const nowIso = clock.now().toISOString();
    const fence: Fence = { jobId, attempt: input.attempt, workerId, nowIso };
    const metrics = input.metrics === undefined ? undefined : this.serialiseLimited(input.metrics, 'metrics');
    const done = await heartbeatJob(database, fence, { progress: input.progress, message: input.message, metrics });
    if (done?.event) hub.publish([{ event: toJobEventView(done.event), owner_id: done.row.owner_id }]);
    this.touch(workerId, nowIso);
    if (done) return { lease_expires_at: done.row.lease_expires_at, command: done.row.state === 'paused' ? 'pause' : 'continue' };
    const job = await findJob(database.db, jobId);
    if (job && job.state === 'cancelled' && job.worker_id === workerId && job.attempt === input.attempt) {
      return { lease_expires_at: null, command: 'cancel' };
    }
    throw leaseLost();
  }

  /** Appends log lines to a held job's history. @throws AppError `lease_lost`. */
  async log(principal: Principal, jobId: string, input: { attempt: number; lines: string[] }): Promise<void> {
    const { database, clock, hub } = this.options;
    const workerId = this.workerIdOf(principal);
    const nowIso = clock.now().toISOString();
    await database.write(async (tx) => {
      const row = await updateFencedJob(tx.db, { jobId, attempt: input.attempt, workerId, nowIso }, {});
      if (!row) throw leaseLost();
      await appendEvents(tx, hub, [{ row, type: 'log', data: { lines: input.lines } }], nowIso);
    });
  }

  /**
   * Finishes a held, running job successfully. Without `outputFiles`, every file the worker
   * uploaded for the job with purpose `output` is listed. A paused job cannot complete: the
   * worker keeps it (heartbeats extend the lease) and completes it once it is resumed.
   * @throws AppError `job_paused` (409) while the job is paused, `lease_lost`, `validation_failed`
   *   (output files not uploaded for this job), `payload_too_large` (result).
   */
  async complete(principal: Principal, jobId: string, input: { attempt: number; result?: unknown; outputFiles?: string[] | undefined }): Promise<JobView> {
    const { database, clock, hub } = this.options;
    const workerId = this.workerIdOf(principal);
    const result = this.serialiseLimited(input.result ?? null, 'result');
    if (input.outputFiles?.length) {
      const files = await this.options.files.findByIds(input.outputFiles);
      const bad = input.outputFiles.filter((id) => files.find((f) => f.id === id)?.job_id !== jobId);
      if (bad.length) throw new AppError('validation_failed', `These files were not uploaded for this job: ${bad.join(', ')}.`);
    }
    const nowIso = clock.now().toISOString();
    const fence: Fence = { jobId, attempt: input.attempt, workerId, nowIso, state: 'running' };
    const publish = (done: JobWithEvent) => hub.publish([{ event: toJobEventView(done.event), owner_id: done.row.owner_id }]);
    // PostgreSQL records the completion of a job no hook selects in one statement and no transaction.
    let published = false;
    const run: InOutcomeTransaction = async (tx, done) => {
      // Registered before the hooks' own after-commit work, so the job's event goes out first.
      tx.afterCommit(() => publish(done));
      published = true;
      await this.hooks.run(tx, done.row, nowIso);
    };
    const hooks = this.hooks.empty ? undefined : Object.assign({}, this.hooks.watched, { run });
    // PostgreSQL: first with the completions of other workers arriving now (one statement for all);
    // a job a hook selects, or whose fence fails, then takes the single path (which says why).
    const batched = await this.completionBatcher?.submit({ jobId, attempt: input.attempt, workerId, result, outputFiles: input.outputFiles });
    if (batched) {
      publish(batched);
      return toJobView(batched.row);
    }
    const done = await completeJob(database, fence, { result, outputFiles: input.outputFiles }, hooks);
    if (!done) throw await this.whyNotCompleted(fence);
    if (!published) publish(done);
    return toJobView(done.row);
  }

  /**
   * {@link complete}, then the worker's next claim in the same exchange: a claim of one job from
   * `next` that answers at once (no long poll), saving the worker a round trip per job (as BullMQ's
   * `moveToCompleted` with `fetchNext` does). The completion stands whatever the claim does: a
   * claim refused (unknown queue, missing permission, `worker_busy`) or failing gives `next: null`
   * with `nextError`, and the worker then claims the usual way, where such an error surfaces.
   * @returns the completed job; the claimed one or null (none available now, or `nextError`).
   * @throws as {@link complete} (nothing was claimed then).
   */
  async completeAndClaim(
    principal: Principal,
    jobId: string,
    input: { attempt: number; result?: unknown; outputFiles?: string[] | undefined },
    next: Pick<ClaimInput, 'queues' | 'kinds' | 'workerName'>,
  ): Promise<{ job: JobView; next: ClaimedJob | null; nextError?: { code: string; detail: string } }> {
    const job = await this.complete(principal, jobId, input);
    try {
      const [claimed] = await this.claim(principal, { queues: next.queues, kinds: next.kinds, workerName: next.workerName });
      return { job, next: claimed ?? null };
    } catch (error) {
      if (error instanceof AppError) return { job, next: null, nextError: { code: error.code, detail: error.detail ?? error.message } };
      this.options.logger.error({ err: error, jobId }, 'the claim after a completion failed; the completion stands');
      return { job, next: null, nextError: { code: 'internal_error', detail: 'The claim failed; claim again.' } };
    }
  }

  /**
   * Why a fenced completion changed nothing: `job_paused` when this worker still holds the job
   * under this attempt with a live lease but it is paused, else `lease_lost`.
   */
  private async whyNotCompleted(fence: Fence): Promise<AppError> {
    const job = await findJob(this.options.database.db, fence.jobId);
    const held = job?.state === 'paused' && job.worker_id === fence.workerId && job.attempt === fence.attempt && (job.lease_expires_at ?? '') > fence.nowIso;
    return held ? jobPaused() : leaseLost();
  }

  /** The ids among `ids` that `workerId` holds paused under a live lease (their completion is refused with `job_paused`). */
  private async pausedAmong(workerId: string, items: ReadonlyArray<{ id: string; attempt: number }>, nowIso: string): Promise<Set<string>> {
    const { db } = this.options.database;
    const paused = new Set<string>();
    for (const item of items) {
      const job = await findJob(db, item.id);
      if (job?.state === 'paused' && job.worker_id === workerId && job.attempt === item.attempt && (job.lease_expires_at ?? '') > nowIso) paused.add(item.id);
    }
    return paused;
  }

  /**
   * Completes many held jobs in one transaction; each item is fenced on its own, and a paused job
   * is not completed.
   * @returns per item `{id, ok}` or `{id, ok: false, code: 'lease_lost' | 'job_paused'}`.
   */
  async completeBatch(principal: Principal, items: BatchCompletion[]): Promise<Array<{ id: string; ok: boolean; code?: string }>> {
    const { database, clock, hub } = this.options;
    const workerId = this.workerIdOf(principal);
    const results = items.map((item) => ({ item, result: this.serialiseLimited(item.result ?? null, 'result') }));
    const nowIso = clock.now().toISOString();
    // PostgreSQL completes a batch no hook selects a job of in one statement (one round trip).
    const hooks = this.hooks.empty ? undefined : Object.assign({}, this.hooks.watched, { run: (tx: WriteTx, row: JobRow) => this.hooks.run(tx, row, nowIso) });
    const done = await completeJobs(database, workerId, results.map(({ item, result }) => ({ id: item.id, attempt: item.attempt, result })), nowIso, hooks);
    hub.publish(done.map((d) => ({ event: toJobEventView(d.event), owner_id: d.row.owner_id })).sort((a, b) => a.event.id - b.event.id));
    const completed = new Set(done.map((d) => d.row.id));
    const paused = await this.pausedAmong(workerId, items.filter((item) => !completed.has(item.id)), nowIso);
    return items.map((item) =>
      completed.has(item.id) ? { id: item.id, ok: true } : { id: item.id, ok: false, code: paused.has(item.id) ? 'job_paused' : 'lease_lost' },
    );
  }

  /**
   * Reports a failure. Retryable failures are re-queued after a backoff until the queue's
   * `max_attempts` failures, then the job is `dead`; others end `failed`. A paused job may fail
   * too: a retry then stays `paused` (unheld, its backoff kept) until it is resumed; a final
   * failure ends it. Admins are notified (`job.failed`) when a job ends failed or dead.
   * @throws AppError `lease_lost`, `payload_too_large`.
   */
  async fail(principal: Principal, jobId: string, input: { attempt: number; error: JobError; retryable: boolean }): Promise<JobView> {
    const workerId = this.workerIdOf(principal);
    const error = this.serialiseLimited(input.error, 'error');
    const current = await findJob(this.options.database.db, jobId);
    const queue = current ? await findQueue(this.options.database.db, current.queue) : undefined;
    if (!current || !queue) throw leaseLost();
    return this.finish(workerId, jobId, input.attempt, (row, nowIso, now) => {
      const failures = row.failures + 1;
      if (input.retryable && failures < queue.max_attempts) {
        const delay = retryDelaySeconds(failures, queue.backoff_base_seconds, queue.backoff_max_seconds);
        const runAfter = new Date(now.getTime() + delay * 1000).toISOString();
        return {
          changes: { state: row.state === 'paused' ? 'paused' : 'queued', failures, error, worker_id: null, lease_expires_at: null, run_after: runAfter },
          extra: { reason: 'failed', error: input.error, run_after: runAfter },
        };
      }
      return {
        changes: { state: input.retryable ? 'dead' : 'failed', failures, error, finished_at: nowIso, lease_expires_at: null },
        extra: { reason: input.retryable ? 'max_attempts' : 'failed', error: input.error },
      };
    }, current);
  }

  /**
   * Hands a held job back without counting a failure (graceful shutdown), optionally with a
   * checkpoint file the next claimer receives. A paused job stays paused (unheld).
   * @throws AppError `lease_lost`, `validation_failed` (checkpoint not uploaded for this job).
   */
  async release(principal: Principal, jobId: string, input: { attempt: number; checkpointFileId?: string | undefined }): Promise<JobView> {
    const workerId = this.workerIdOf(principal);
    if (input.checkpointFileId) {
      const [file] = await this.options.files.findByIds([input.checkpointFileId]);
      if (file?.job_id !== jobId) throw new AppError('validation_failed', 'The checkpoint file was not uploaded for this job.');
    }
    const released = await this.finish(workerId, jobId, input.attempt, (row, nowIso) => ({
      changes: {
        state: row.state === 'paused' ? 'paused' : 'queued',
        worker_id: null,
        lease_expires_at: null,
        run_after: nowIso,
        ...(input.checkpointFileId ? { checkpoint_file_id: input.checkpointFileId } : {}),
      },
      extra: { reason: 'released' },
    }));
    return released;
  }

  /**
   * Reclaims jobs whose lease lapsed: back to `queued` (or `paused`, unheld, when paused), or
   * `dead` once the queue's `max_lease_expiries` is reached. Safe on every instance at once.
   * @returns how many jobs this call reclaimed.
   */
  async sweep(limit = 500): Promise<number> {
    const { database, clock, hub } = this.options;
    const { db } = database;
    const now = clock.now();
    const nowIso = now.toISOString();
    const lapsed = await findLapsedLeases(db, nowIso, limit);
    if (!lapsed.length) return 0;
    const queues = new Map((await findQueues(db, [...new Set(lapsed.map((r) => r.queue))])).map((q) => [q.name, q]));
    let reclaimed = 0;
    const announce = new Set<string>();
    for (const row of lapsed) {
      const queue = queues.get(row.queue);
      const expiries = row.lease_expiries + 1;
      const dead = expiries >= (queue?.max_lease_expiries ?? 1);
      const changes: Partial<JobTable> = dead
        ? { state: 'dead', lease_expiries: expiries, lease_expires_at: null, finished_at: nowIso, error: JSON.stringify({ message: `The lease lapsed ${expiries} times (max_lease_expiries); the job is presumed to kill its workers.` }) }
        : { state: row.state === 'paused' ? 'paused' : 'queued', lease_expiries: expiries, worker_id: null, lease_expires_at: null, run_after: nowIso };
      let updated: JobRow | undefined;
      try {
        updated = await database.write(async (tx) => {
          const done = await reclaimLapsedJob(tx.db, row, nowIso, changes);
          if (!done) return undefined;
          await appendEvents(tx, hub, [stateEvent(done, row.state, { reason: 'lease_expired', lease_expiries: expiries })], nowIso);
          if (dead) await this.notifyFailed(tx, done);
          await this.hooks.run(tx, done, nowIso);
          return done;
        });
      } catch (error) {
        // A failing outcome hook leaves this job as it was; the next sweep tries again.
        if (!isAppError(error, 'job_hook_failed')) throw error;
        this.options.logger.warn({ job_id: row.id, err: error.message }, 'a job hook failed; the lapsed lease stays for the next sweep');
        continue;
      }
      if (!updated) continue;
      reclaimed++;
      if (updated.state === 'queued') announce.add(updated.queue);
    }
    for (const q of announce) hub.announceWork(q);
    if (reclaimed) this.options.logger.info({ reclaimed }, 'reclaimed jobs whose lease lapsed');
    return reclaimed;
  }

  /**
   * Settings of these queues, from a cache at most {@link QUEUE_CACHE_MS} old. Only permissions and
   * `worker_concurrency` come from here; the claim statement itself reads `paused` and the lease.
   */
  private async queueSettings(names: string[]): Promise<QueueRow[]> {
    // Cache ages are real (monotonic) elapsed time, not domain time: a frozen test clock must not pin stale settings.
    const now = performance.now();
    const fresh = names.map((n) => this.queueCache.get(n)).filter((e) => e !== undefined && now - e.readAt < QUEUE_CACHE_MS);
    if (fresh.length === names.length) return fresh.map((e) => (e as { row: QueueRow }).row);
    const rows = await findQueues(this.options.database.db, names);
    for (const row of rows) this.queueCache.set(row.name, { row, readAt: now });
    return rows;
  }

  /** The worker identity of an API-key principal. @throws AppError `forbidden` otherwise. */
  private workerIdOf(principal: Principal): string {
    if (principal.method !== 'api_key' || !principal.apiKey) {
      throw new AppError('forbidden', 'The worker protocol needs an API key (Authorization: Bearer gh_…): a worker is the identity behind one key.');
    }
    return principal.apiKey.id;
  }

  /** One claim transaction. @returns the jobs, or `busy` when the worker may hold no more. */
  private async tryClaim(
    worker: { id: string; api_key_id: string; user_id: string; name: string; capabilities: string },
    queues: string[],
    kinds: string[] | undefined,
    maxJobs: number,
    maxConcurrency: number,
  ): Promise<ClaimedJob[] | 'busy'> {
    const { database, clock, hub } = this.options;
    const nowIso = clock.now().toISOString();
    // This worker's claims must run one at a time, so its held count is exact: the first claim (and
    // one every TOUCH_INTERVAL_MS) registers the worker with an upsert, which locks its row; the
    // others lock the row first: on PostgreSQL within the claim's one statement (migration 0012),
    // on SQLite the group commit runs one unit at a time.
    const registered = performance.now() - (this.lastRegistered.get(worker.id) ?? -Infinity) < TOUCH_INTERVAL_MS;
    if (registered && database.dialect === 'postgres') {
      // One statement: the worker row's lock, the held count, the claim and its events; claims
      // from one queue share it with the other workers' claims of this event-loop turn.
      const claimed =
        queues.length === 1 && this.claimBatcher
          ? await this.claimBatcher.submit({ workerId: worker.id, queue: queues[0]!, kinds: kinds && [...kinds].sort(), limit: maxJobs })
          : await claimJobsLockingWorkerPg(database.db, { workerId: worker.id, queues, kinds, limit: maxJobs, nowIso, maxConcurrency });
      if (claimed === 'busy') return claimed;
      if (claimed.length) hub.publish(claimed.map(({ row, event }) => ({ event: toJobEventView(event), owner_id: row.owner_id })).sort((a, b) => a.event.id - b.event.id));
      this.lastTouched.set(worker.id, performance.now());
      return claimed.map(({ row }) => ({ job: toJobView(row), attempt: row.attempt, lease_expires_at: row.lease_expires_at ?? nowIso }));
    }
    const transaction = <T>(work: (tx: WriteTx) => Promise<T>): Promise<T> =>
      registered ? database.writeLocking({ table: 'worker', id: worker.id }, work) : database.write(work);
    const rows = await transaction(async (tx) => {
      if (!registered) await upsertWorker(tx.db, Object.assign({}, worker, { created_at: nowIso, last_seen_at: nowIso }));
      let limit = maxJobs;
      // Under the worker row's lock the count cannot move, so an empty claim reuses it.
      let held: number | undefined;
      if (maxJobs > 1) {
        held = await countHeldJobs(tx.db, worker.id);
        limit = Math.min(maxJobs, maxConcurrency - held);
        if (limit <= 0) return 'busy' as const;
      }
      const claimed = await claimJobs(tx, { workerId: worker.id, queues, kinds, limit, nowIso });
      if (!claimed.length) {
        return (held ?? (await countHeldJobs(tx.db, worker.id))) >= maxConcurrency ? ('busy' as const) : [];
      }
      const messages = claimed.map(({ row, event }) => ({ event: toJobEventView(event), owner_id: row.owner_id }));
      tx.afterCommit(() => hub.publish(messages.sort((a, b) => a.event.id - b.event.id)));
      return claimed.map((c) => c.row);
    });
    if (!registered) this.lastRegistered.set(worker.id, performance.now());
    if (rows === 'busy') return rows;
    this.lastTouched.set(worker.id, performance.now());
    return rows.map((row) => ({ job: toJobView(row), attempt: row.attempt, lease_expires_at: row.lease_expires_at ?? nowIso }));
  }

  /**
   * Registers a long-poll claim for work hints on `queues`: an enqueue, requeue or resume here or
   * on another instance, the shared due-job scan (jobs becoming due after `since`), an abort, or
   * {@link stopWaiting}. Armed before the claim looks, so a hint that arrives meanwhile makes
   * `wait` return at once. A waiting claim costs a hub listener and its deadline timer, never a
   * query of its own. Call `wait` or `cancel` exactly once.
   */
  private armWaiter(queues: string[], since: string, signal?: AbortSignal): { wait(ms: number): Promise<void>; cancel(): void } {
    const wanted = new Set(queues);
    let woken = false;
    let onWake: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    const wake = () => {
      woken = true;
      onWake?.();
    };
    const unsubscribe = this.options.hub.onWork((queue) => {
      if (wanted.has(queue)) wake();
    });
    signal?.addEventListener('abort', wake, { once: true });
    this.waiting.set(wake, wanted);
    let cancelled = false;
    const cancel = () => {
      if (cancelled) return;
      cancelled = true;
      clearTimeout(timer);
      unsubscribe();
      signal?.removeEventListener('abort', wake);
      this.waiting.delete(wake);
      if (!this.waiting.size) this.stopDueScan();
    };
    return {
      cancel,
      wait: (ms) =>
        new Promise<void>((resolve) => {
          if (woken) {
            cancel();
            resolve();
            return;
          }
          this.sleeping += 1;
          // Only claims that sleep need the scan; jobs due since `since` are still looked for.
          this.startDueScan(since);
          onWake = () => {
            onWake = undefined;
            this.sleeping -= 1;
            cancel();
            resolve();
          };
          timer = setTimeout(() => onWake?.(), ms);
        }),
    };
  }

  /** Starts the shared due-job scan if needed, looking for jobs due after `since` at the latest. */
  private startDueScan(since: string): void {
    if (this.dueScanFrom === undefined || since < this.dueScanFrom) this.dueScanFrom = since;
    if (this.dueScanTimer) return;
    this.dueScanTimer = setInterval(() => void this.scanDue(), DUE_SCAN_MS);
    this.dueScanTimer.unref();
  }

  private stopDueScan(): void {
    if (this.dueScanTimer) clearInterval(this.dueScanTimer);
    this.dueScanTimer = undefined;
    this.dueScanFrom = undefined;
  }

  /**
   * One query for every waiting claim: which of their queues have queued jobs whose `run_after`
   * passed since the previous scan; the claims waiting on those queues are woken.
   */
  private async scanDue(): Promise<void> {
    if (this.dueScanning || !this.waiting.size || this.dueScanFrom === undefined) return;
    this.dueScanning = true;
    const from = this.dueScanFrom;
    // Claims that start waiting during the query lower this again to their own `since`.
    this.dueScanFrom = undefined;
    const until = this.options.clock.now().toISOString();
    const queues = new Set<string>();
    for (const wanted of this.waiting.values()) for (const q of wanted) queues.add(q);
    try {
      this.dueScans += 1;
      const due = new Set(await findQueuesWithJobsBecomingDue(this.options.database.db, [...queues], from, until));
      // Set meanwhile by claims that started waiting during the query (TypeScript cannot see that).
      const pending = this.dueScanFrom as string | undefined;
      if (this.waiting.size) this.dueScanFrom = pending !== undefined && pending < until ? pending : until;
      if (due.size) {
        for (const [wake, wanted] of [...this.waiting]) if ([...wanted].some((q) => due.has(q))) wake();
      }
    } catch (error) {
      const pending = this.dueScanFrom as string | undefined;
      if (this.waiting.size) this.dueScanFrom = pending !== undefined && pending < from ? pending : from;
      this.options.logger.warn({ err: (error as Error).message }, 'could not look for jobs that became due');
    } finally {
      this.dueScanning = false;
    }
  }

  /**
   * Ends every long-poll claim now (they answer 204) and makes later claims answer at once:
   * called when the server begins a graceful shutdown, which would otherwise wait up to
   * `JOB_MAX_WAIT_SECONDS` for them.
   */
  stopWaiting(): void {
    this.stopped = true;
    for (const wake of [...this.waiting.keys()]) wake();
  }

  /**
   * A fenced final change (complete, fail, release): decide from the current row (`known`, when
   * the caller already read it, else read here), apply under the fence, append the state event,
   * notify admins of a final failure.
   */
  private async finish(
    workerId: string,
    jobId: string,
    attempt: number,
    decide: (row: JobRow, nowIso: string, now: Date) => { changes: Partial<JobTable>; extra?: Record<string, unknown> },
    known?: JobRow,
  ): Promise<JobView> {
    const { database, clock, hub } = this.options;
    const { db } = database;
    const now = clock.now();
    const nowIso = now.toISOString();
    let current = known ?? (await findJob(db, jobId));
    // The plan depends on the state (a paused job stays paused), so the update is fenced on the
    // state it was decided from; if a pause or resume slipped in between, decide again.
    for (let tries = 0; ; tries++) {
      if (!current || current.worker_id !== workerId || current.attempt !== attempt) throw leaseLost();
      if (current.state !== 'running' && current.state !== 'paused') throw leaseLost();
      const from = current.state;
      const plan = decide(current, nowIso, now);
      const row = await database.write(async (tx) => {
        const updated = await updateFencedJob(tx.db, { jobId, attempt, workerId, nowIso, state: from }, plan.changes);
        if (!updated) return undefined;
        await appendEvents(tx, hub, [stateEvent(updated, from, plan.extra)], nowIso);
        if (updated.state === 'failed' || updated.state === 'dead') await this.notifyFailed(tx, updated);
        await this.hooks.run(tx, updated, nowIso);
        return updated;
      });
      if (row) {
        if (row.state === 'queued' && row.run_after <= nowIso) hub.announceWork(row.queue);
        return toJobView(row);
      }
      const again = await findJob(db, jobId);
      // Same state as decided from: the fence failed for another reason (lapsed lease, new holder).
      if (tries >= 3 || !again || again.state === from) throw leaseLost();
      current = again;
    }
  }

  private async notifyFailed(tx: WriteTx, row: JobRow): Promise<void> {
    const error = row.error ? (JSON.parse(row.error) as JobError).message : 'unknown error';
    await this.options.notify.enqueue(tx, 'job.failed', {
      job_id: row.id,
      queue: row.queue,
      error: `${row.state}: ${error}`.slice(0, 1000),
      attempts: row.attempt,
      url: `${this.options.publicUrl}/api/v1/jobs/${row.id}`,
    });
  }

  /** JSON text of `value`, refused above the payload limit. @throws AppError `payload_too_large`. */
  private serialiseLimited(value: unknown, what: string): string {
    const text = JSON.stringify(value);
    if (Buffer.byteLength(text) > this.options.payloadMaxBytes) {
      throw new AppError('payload_too_large', `The ${what} is larger than ${this.options.payloadMaxBytes} bytes (JOB_PAYLOAD_MAX_BYTES).`);
    }
    return text;
  }

  /** Writes the worker's `last_seen_at` at most every {@link TOUCH_INTERVAL_MS}. */
  private touch(workerId: string, nowIso: string): void {
    const last = this.lastTouched.get(workerId) ?? -Infinity;
    if (performance.now() - last < TOUCH_INTERVAL_MS) return;
    this.lastTouched.set(workerId, performance.now());
    touchWorker(this.options.database.db, workerId, nowIso).catch((error: unknown) => {
      this.options.logger.warn({ err: (error as Error).message }, 'could not record worker last_seen_at');
    });
  }
}

