/**
 * The worker SDK: claims jobs from Gatehouse over HTTP, runs a handler per job kind, keeps each
 * job's lease alive with heartbeats, reports progress, logs and files, and finishes the job —
 * following the worker protocol of docs/jobs.md. Delivery is at-least-once: make handlers
 * idempotent.
 *
 * ```ts
 * import { Worker, PermanentError } from 'gatehouse/worker';
 * const worker = new Worker({ server: 'https://gh.example', apiKey: process.env.GATEHOUSE_API_KEY!, queues: ['render'] });
 * worker.handle('thumbnail', async (job, ctx) => {
 *   await ctx.progress(0.5, 'halfway'); // waits here while the job is paused
 *   if (ctx.signal.aborted) return;
 *   return { ok: true };
 * });
 * process.once('SIGTERM', () => void worker.stop());
 * await worker.run();
 * ```
 */
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { retryDelayMs, sleep } from './backoff.js';
import {
  type ClaimedJob,
  type FileMeta,
  GatehouseApiError,
  isLeaseLost,
  isTransientError,
  type JobView,
  WorkerClient,
} from './client.js';

/** Throw it from a handler to fail the job for good (`retryable: false`): no further attempts. */
export class PermanentError extends Error {
  /** Extra JSON-serialisable facts reported with the error (`error.details.data`). */
  readonly data: unknown;

  constructor(message: string, options?: { cause?: unknown; data?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PermanentError';
    this.data = options?.data;
  }
}

/** Why a job's `ctx.signal` was aborted. */
export type JobAbortReason = 'cancelled' | 'lease_lost' | 'released';

/**
 * The reason of an aborted `ctx.signal`: the job was cancelled by its owner or an admin
 * (`cancelled`), this worker lost its lease (`lease_lost`: someone else may run it now), or the
 * worker is stopping and handed the job back (`released`). Nothing the handler returns afterwards
 * is reported.
 */
export class JobAbortedError extends Error {
  readonly reason: JobAbortReason;

  constructor(reason: JobAbortReason, jobId: string) {
    super(`job ${jobId}: ${reason === 'cancelled' ? 'cancelled' : reason === 'lease_lost' ? 'lease lost' : 'released (worker stopping)'}`);
    this.name = 'JobAbortedError';
    this.reason = reason;
  }
}

/** Where the worker writes what it does; every method is optional. Default: silent. */
export interface WorkerLogger {
  debug?(message: string, data?: Record<string, unknown>): void;
  info?(message: string, data?: Record<string, unknown>): void;
  warn?(message: string, data?: Record<string, unknown>): void;
  error?(message: string, data?: Record<string, unknown>): void;
}

/** Options of {@link Worker}. */
export interface WorkerOptions {
  /** Base URL of the Gatehouse server. */
  server: string;
  /** The worker's API key (`gh_<prefix>_<secret>`): one key per worker identity. */
  apiKey: string;
  /** Queues to claim from (at least one). */
  queues: string[];
  /**
   * Job kinds to claim. Default: the kinds with a handler, or every kind when a `'*'` handler
   * is registered.
   */
  kinds?: string[];
  /** Worker name shown by the server (default `<hostname>-<pid>`). */
  name?: string;
  /** Jobs run at the same time (default 1; above 1 claims use `claim-batch`). */
  concurrency?: number;
  /** Long-poll seconds of a claim (0..30, default 25). */
  waitSeconds?: number;
  /** Heartbeat period in seconds (default: a third of the lease the server grants). */
  heartbeatSeconds?: number;
  /** Time limit of one ordinary HTTP request in ms (default 30,000). */
  requestTimeoutMs?: number;
  logger?: WorkerLogger;
}

/** What a handler gets besides the job. */
export interface JobContext {
  /** The job as claimed. */
  readonly job: JobView;
  /** The attempt this worker holds (the fencing token sent with every call). */
  readonly attempt: number;
  /**
   * Aborted when the job is cancelled, the lease is lost, or the worker stops and releases it;
   * `signal.reason` is a {@link JobAbortedError}. Pass it to `fetch` and friends.
   */
  readonly signal: AbortSignal;
  /**
   * Reports progress (`fraction` 0..1, clamped). Updates are coalesced: at most one heartbeat
   * carries them every 250 ms per job; the latest values win.
   *
   * Pause point: resolves at once, unless the job is paused (a heartbeat answered `pause`) and
   * the handler did not opt into handling pause itself (`handle(kind, fn, { handlesPause: true })`).
   * Then it resolves when the job is resumed — heartbeats keep the lease meanwhile — and rejects
   * with the {@link JobAbortedError} if the job is cancelled, lost or released instead. `await`
   * it: a handler that does not keeps running while paused (its result is still held back until
   * resume, since the server refuses to complete a paused job). Not awaiting it is safe (the
   * promise never causes an unhandled rejection).
   */
  progress(fraction: number, message?: string, metrics?: Record<string, number>): Promise<void>;
  /** Appends lines to the job's log (its history and live streams). Never throws. */
  log(...lines: string[]): Promise<void>;
  /** True while the server asks this job to pause (the heartbeat's `pause` command). */
  paused(): boolean;
  /** Resolves once the job is not paused (at once when it is not), or when `signal` aborts. */
  waitWhilePaused(): Promise<void>;
  /**
   * Uploads a file for this job (`purpose` `output` by default, or `checkpoint`). Output files
   * are listed in the job's `output_files` when the handler succeeds.
   * @throws GatehouseApiError (`lease_lost`, `payload_too_large`, …), JobAbortedError.
   */
  upload(filePath: string, options?: { purpose?: 'output' | 'checkpoint'; contentType?: string; name?: string }): Promise<FileMeta>;
  /** Downloads a file the job may read (its `input_files`, `checkpoint_file_id`) to `destPath`; returns the bytes written. */
  download(fileId: string, destPath: string): Promise<number>;
}

/**
 * A job handler: its return value (JSON-serialisable, or undefined) is the job's `result`.
 * A function with a `handlesPause: true` property opts into handling pause itself (as the
 * `handlesPause` option of {@link Worker.handle} does; used by `gatehouse worker --handler`).
 */
export type JobHandler = ((job: JobView, ctx: JobContext) => unknown) & { handlesPause?: boolean };

/** Options of {@link Worker.handle}. */
export interface HandlerOptions {
  /**
   * `true`: the handler handles pause itself (with `ctx.paused()` and `ctx.waitWhilePaused()`),
   * so `ctx.progress()` never waits. Default `false`: `await ctx.progress()` waits while the job
   * is paused. Either way a result is reported only once the job is not paused.
   */
  handlesPause?: boolean;
}

/** The events a {@link Worker} emits (`noun` names, as in graphile-worker's event map). */
export interface WorkerEvents {
  /** A job was claimed and its handler starts. */
  claimed: [job: JobView, attempt: number];
  /** The server recorded the job as `succeeded`. */
  completed: [job: JobView];
  /** The handler threw and the server recorded it (`job.state` is `queued`, `failed` or `dead`). */
  failed: [job: JobView, error: unknown];
  /** The job was cancelled (heartbeat command `cancel`); its outcome is not reported. */
  cancelled: [job: JobView];
  /** This worker no longer holds the job under its attempt; its outcome is not reported. */
  lease_lost: [job: JobView, attempt: number];
  /** The job was handed back (graceful stop). */
  released: [job: JobView];
  /** Something went wrong that the worker survived (a rejected call, a retry given up). Emitted only when listened to. */
  error: [error: unknown];
}

/** A job claimed along with a completion (`claim_next`), with the server's clock at the answer. */
type Handover = ClaimedJob & { serverDateMs: number | undefined };

/** What a worker claims (a claim body without `wait_s`). */
type ClaimTarget = { queues: string[]; worker_name: string; kinds?: string[] };

type JobState = 'running' | 'settling' | 'lost' | 'cancelled' | 'released' | 'done';

interface PendingProgress {
  progress?: number;
  message?: string;
  metrics?: Record<string, number>;
}

/** Minimum gap between two progress heartbeats of one job, in ms (≤ 4 requests/s). */
const PROGRESS_SPACING_MS = 250;
/** Heartbeat period while a job is paused (when shorter than the usual one), so a resume is seen soon. */
const PAUSED_HEARTBEAT_MS = 2000;

/** One job this worker holds. */
class ActiveJob {
  state: JobState = 'running';
  readonly controller = new AbortController();
  pending: PendingProgress | null = null;
  lastSentAt = 0;
  inFlight: Promise<void> | null = null;
  again = false;
  paused = false;
  pauseWaiters: Array<() => void> = [];
  heartbeatTimer: NodeJS.Timeout | undefined;
  flushTimer: NodeJS.Timeout | undefined;
  /** Local time (ms) by which the lease has surely expired unless extended. */
  leaseDeadline: number;
  /** The heartbeat period, in ms. */
  heartbeatMs = 0;
  /** The handler handles pause itself: `ctx.progress()` never waits. */
  handlesPause = false;
  readonly outputFiles: string[] = [];
  /** The job its completion claimed next (`claim_next`): it takes over this slot. */
  next: Handover | undefined;
  done!: Promise<void>;

  constructor(
    readonly job: JobView,
    readonly attempt: number,
    readonly leaseMs: number,
  ) {
    this.leaseDeadline = Date.now() + leaseMs;
  }

  stopTimers(): void {
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.flushTimer);
    this.heartbeatTimer = undefined;
    this.flushTimer = undefined;
  }

  setPaused(paused: boolean): void {
    this.paused = paused;
    if (!paused) this.wakePauseWaiters();
  }

  wakePauseWaiters(): void {
    for (const wake of this.pauseWaiters.splice(0)) wake();
  }

  abort(reason: JobAbortReason): void {
    this.stopTimers();
    this.wakePauseWaiters();
    if (!this.controller.signal.aborted) this.controller.abort(new JobAbortedError(reason, this.job.id));
  }
}

/**
 * Estimates the lease length in ms from a claim or heartbeat answer, on the server's clock when
 * its `Date` header came along (1 s resolution, so one second is taken off to stay on the safe
 * side), else on ours. Clamped to 1 s .. 1 day.
 */
export function estimateLeaseMs(leaseExpiresAt: string, serverDateMs: number | undefined, now = Date.now()): number {
  const end = Date.parse(leaseExpiresAt);
  if (Number.isNaN(end)) return 60_000;
  const ms = serverDateMs === undefined ? end - now : end - serverDateMs - 1000;
  return Math.min(86_400_000, Math.max(1000, ms));
}

function errorDetails(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { thrown: safeJson(error) };
  const details: Record<string, unknown> = { name: error.name, stack: error.stack };
  if (error instanceof PermanentError && error.data !== undefined) details.data = safeJson(error.data);
  return details;
}

function safeJson(value: unknown): unknown {
  try {
    return JSON.parse(JSON.stringify(value ?? null)) as unknown;
  } catch {
    return String(value);
  }
}

/**
 * A worker: `handle(kind, fn)` for each job kind (`'*'` for any other), then `await run()` until
 * {@link Worker.stop}. `run()` rejects only when the server refuses the worker for good (a bad or
 * revoked API key, a missing permission, an invalid claim); network errors and 5xx answers are
 * retried forever with backoff (250 ms doubling to 15 s, jittered), so a restarting server is
 * simply waited for.
 */
export class Worker extends EventEmitter<WorkerEvents> {
  readonly client: WorkerClient;
  readonly name: string;
  private readonly options: WorkerOptions;
  private readonly concurrency: number;
  private readonly waitSeconds: number;
  private readonly logger: WorkerLogger;
  private readonly handlers = new Map<string, JobHandler>();
  /** Whether each kind's handler handles pause itself. */
  private readonly pauseHandlers = new Map<string, boolean>();
  private readonly active = new Map<string, ActiveJob>();
  private slotWaiters: Array<() => void> = [];
  private stopController = new AbortController();
  private stopping = false;
  private runPromise: Promise<void> | undefined;
  /** True while the claim loop runs: only then may a completion claim the next job (see {@link start}). */
  private claiming = false;
  /** The server refused `claim_next` (a version before it): complete without it from then on. */
  private claimNextRefused = false;
  /** What this run claims, by its claim loop and with each completion (set by {@link run}). */
  private target: ClaimTarget = { queues: [], worker_name: '' };
  private releasing: Promise<void> | undefined;
  private onRelease: ((done: Promise<void>) => void) | undefined;

  constructor(options: WorkerOptions) {
    super();
    if (!Array.isArray(options.queues) || options.queues.length === 0) throw new TypeError('queues: name at least one queue');
    const concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 100) throw new TypeError('concurrency must be a whole number 1..100');
    const waitSeconds = options.waitSeconds ?? 25;
    if (!Number.isInteger(waitSeconds) || waitSeconds < 0 || waitSeconds > 30) throw new TypeError('waitSeconds must be a whole number 0..30');
    if (options.heartbeatSeconds !== undefined && !(options.heartbeatSeconds > 0)) throw new TypeError('heartbeatSeconds must be > 0');
    this.options = options;
    this.concurrency = concurrency;
    this.waitSeconds = waitSeconds;
    this.name = options.name ?? `${hostname()}-${process.pid}`;
    this.logger = options.logger ?? {};
    this.client = new WorkerClient({
      server: options.server,
      apiKey: options.apiKey,
      timeoutMs: options.requestTimeoutMs,
      userAgent: `gatehouse-worker (${this.name})`,
    });
  }

  /**
   * Registers the handler of `kind` (`'*'`: every kind without its own handler). Returns `this`.
   * `options.handlesPause` (or a `handlesPause: true` property on the function): see {@link HandlerOptions}.
   */
  handle(kind: string, handler: JobHandler, options: HandlerOptions = {}): this {
    if (typeof handler !== 'function') throw new TypeError(`the handler of "${kind}" is not a function`);
    this.handlers.set(kind, handler);
    this.pauseHandlers.set(kind, options.handlesPause ?? handler.handlesPause === true);
    return this;
  }

  /** Jobs held right now. */
  get activeJobs(): number {
    return this.active.size;
  }

  /**
   * Claims and runs jobs until {@link stop}. Resolves once stopped and every held job is finished
   * (or released, with `stop({ release: true })`).
   * @throws GatehouseApiError when the server refuses the worker for good (401, 403, 400, 404).
   */
  run(): Promise<void> {
    if (this.runPromise) return Promise.reject(new Error('this worker is already running'));
    if (this.handlers.size === 0) return Promise.reject(new Error('register at least one handler with handle(kind, fn) before run()'));
    this.stopping = false;
    this.stopController = new AbortController();
    this.releasing = undefined;
    const released = new Promise<void>((resolve) => {
      this.onRelease = (done) => resolve(done);
    });
    this.runPromise = (async () => {
      let fatal: unknown;
      this.target = this.claimTarget();
      this.claiming = true;
      try {
        await this.claimLoop();
      } catch (error) {
        fatal = error;
      } finally {
        this.claiming = false;
      }
      await Promise.race([Promise.all([...this.active.values()].map((a) => a.done)), released]);
      if (this.releasing) await this.releasing;
      if (fatal !== undefined) throw fatal;
    })().finally(() => {
      this.runPromise = undefined;
      this.onRelease = undefined;
    });
    return this.runPromise;
  }

  /**
   * Stops claiming. By default waits for the running handlers to finish and report; with
   * `release: true` aborts their signals and hands their jobs back at once (a second call may
   * escalate an ordinary stop this way). A claim in flight is abandoned: should the server have
   * handed out a job at that very moment, it returns to the queue after its lease. A paused job
   * finishes only once resumed (its handler waits in `ctx.progress()`, its result is held), so
   * an ordinary stop waits for that; `release: true` hands it back at once (it stays paused).
   * Resolves when {@link run} has returned (never rejects).
   */
  async stop(options: { release?: boolean } = {}): Promise<void> {
    this.stopping = true;
    this.stopController.abort();
    this.wakeSlotWaiters();
    if (options.release && !this.releasing && this.runPromise) {
      this.releasing = this.releaseAll();
      this.onRelease?.(this.releasing);
    }
    await this.runPromise?.catch(() => undefined);
  }

  /** What this worker claims: its queues, the kinds it handles (all with a `'*'` handler) and its name. */
  private claimTarget(): ClaimTarget {
    const kinds = this.options.kinds ?? (this.handlers.has('*') ? undefined : [...this.handlers.keys()]);
    return kinds ? { queues: this.options.queues, worker_name: this.name, kinds } : { queues: this.options.queues, worker_name: this.name };
  }

  private async claimLoop(): Promise<void> {
    let retry = 0;
    while (!this.stopping) {
      if (this.active.size >= this.concurrency) {
        await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
        continue;
      }
      const free = this.concurrency - this.active.size;
      const request = Object.assign({}, this.target, { wait_s: this.waitSeconds });
      const signal = this.stopController.signal;
      let claimed: ClaimedJob[];
      let serverDateMs: number | undefined;
      try {
        if (this.concurrency > 1) {
          const batch = await this.client.claimBatch(Object.assign({}, request, { max_jobs: free }), signal);
          claimed = batch.jobs;
          serverDateMs = batch.serverDateMs;
        } else {
          const one = await this.client.claim(request, signal);
          claimed = one ? [one] : [];
          serverDateMs = one?.serverDateMs;
        }
        retry = 0;
      } catch (error) {
        if (this.stopping) break;
        if (error instanceof GatehouseApiError && error.code === 'worker_busy') {
          // The server counts more held jobs than we run (say a job we gave up on): wait for its lease.
          this.logger.debug?.('claim: worker_busy, waiting', { retry });
        } else if (isTransientError(error)) {
          this.logger.warn?.(`claim failed, retrying: ${(error as Error).message}`, { retry });
          this.emitError(error);
        } else {
          this.logger.error?.(`claim refused, stopping: ${(error as Error).message}`);
          throw error;
        }
        await sleep(retryDelayMs(error, retry++), signal);
        continue;
      }
      for (const item of claimed) this.start(item, serverDateMs);
    }
  }

  /**
   * Runs a claimed job in a slot. A successful completion may bring the next job (`claim_next`):
   * it takes over the slot at once, so the claim loop, waiting for a free slot, makes no claim of
   * its own; one that arrives once the worker is stopping is handed back.
   */
  private start(claimed: ClaimedJob, serverDateMs: number | undefined): void {
    const leaseMs = estimateLeaseMs(claimed.lease_expires_at, serverDateMs);
    const active = new ActiveJob(claimed.job, claimed.attempt, leaseMs);
    this.active.set(claimed.job.id, active);
    active.done = this.process(active).finally(async () => {
      active.stopTimers();
      this.active.delete(claimed.job.id);
      const { next } = active;
      if (next && this.wantsNext()) {
        this.start(next, next.serverDateMs);
        return;
      }
      if (next) await this.handBack(next);
      this.wakeSlotWaiters();
    });
  }

  /** Whether a completion should claim the next job: the claim loop runs, the worker is not stopping, and the server takes `claim_next`. */
  private wantsNext(): boolean {
    return this.claiming && !this.stopping && !this.claimNextRefused;
  }

  /**
   * Completes the job, asking for the next one when {@link wantsNext}. A server from before
   * `claim_next` answers 400 to it: the completion is sent again without it (should the body
   * itself be at fault, that refusal is the one thrown), and later ones leave it out. The job
   * claimed next is left in `active.next`.
   */
  private async completeJob(active: ActiveJob, body: { attempt: number; result?: unknown; output_files?: string[] }): Promise<JobView> {
    const jobId = active.job.id;
    if (!this.wantsNext()) return this.client.complete(jobId, body);
    let answer;
    try {
      answer = await this.client.completeAndClaim(jobId, Object.assign({}, body, { claim_next: this.target }));
    } catch (error) {
      if (!(error instanceof GatehouseApiError) || error.status !== 400) throw error;
      const job = await this.client.complete(jobId, body);
      this.claimNextRefused = true;
      this.logger.info?.('the server does not take claim_next; completing without it', { job_id: jobId });
      return job;
    }
    if (answer.next) active.next = answer.next;
    else if (answer.next_error) this.logger.debug?.(`the claim with the completion was refused: ${answer.next_error.detail}`, { code: answer.next_error.code });
    return answer.job;
  }

  /** Returns a job claimed by a completion that arrived as the worker stopped (its lease would otherwise hold it). */
  private async handBack(next: Handover): Promise<void> {
    try {
      await this.client.release(next.job.id, { attempt: next.attempt });
      this.logger.info?.('released a job claimed while stopping', { job_id: next.job.id, attempt: next.attempt });
    } catch (error) {
      this.logger.warn?.(`could not hand back a job claimed while stopping; it returns to its queue when its lease ends: ${(error as Error).message}`, {
        job_id: next.job.id,
      });
      this.emitError(error);
    }
  }

  private async process(active: ActiveJob): Promise<void> {
    const { job, attempt } = active;
    this.logger.info?.('claimed', { job_id: job.id, kind: job.kind, attempt });
    this.emit('claimed', job, attempt);
    active.heartbeatMs = this.options.heartbeatSeconds !== undefined ? this.options.heartbeatSeconds * 1000 : Math.max(200, active.leaseMs / 3);
    active.heartbeatTimer = setInterval(() => this.beat(active), active.heartbeatMs);
    const kindKey = this.handlers.has(job.kind) ? job.kind : '*';
    active.handlesPause = this.pauseHandlers.get(kindKey) ?? false;

    let outcome: { ok: true; value: unknown } | { ok: false; error: unknown };
    try {
      const handler = this.handlers.get(kindKey);
      if (!handler) throw new Error(`no handler for jobs of kind "${job.kind}" on worker ${this.name}`);
      outcome = { ok: true, value: await handler(job, this.contextFor(active)) };
    } catch (error) {
      outcome = { ok: false, error };
    }
    if (active.state !== 'running') return; // lost, cancelled or released meanwhile: nothing to report

    if (outcome.ok) {
      const result = outcome.value === undefined ? undefined : safeJson(outcome.value);
      const body = { attempt, ...(result === undefined ? {} : { result }), ...(active.outputFiles.length ? { output_files: active.outputFiles } : {}) };
      for (;;) {
        // A paused job may not complete (the server answers 409 job_paused): hold the result,
        // keep heartbeating (the lease stays ours), and complete once it is resumed.
        if (active.paused) this.logger.info?.('paused: the result is held until the job is resumed', { job_id: job.id, attempt });
        if (!(await this.untilResumed(active))) return;
        if (!(await this.beginSettling(active))) return;
        try {
          const finished = await this.settle(active, 'complete', () => this.completeJob(active, body));
          if (finished) {
            this.logger.info?.('succeeded', { job_id: job.id, kind: job.kind, attempt });
            this.emit('completed', finished);
          }
          return;
        } catch (error) {
          if (error instanceof GatehouseApiError && error.code === 'job_paused' && (active.state as JobState) === 'settling') {
            // Paused after our last heartbeat: back to holding the job until it is resumed.
            active.state = 'running';
            active.setPaused(true);
            this.startHeartbeats(active);
            continue;
          }
          // Refused for good (e.g. the result is too large): report that as the job's failure.
          outcome = { ok: false, error: new PermanentError(`complete refused: ${(error as Error).message}`, { cause: error }) };
          break;
        }
      }
    } else if (!(await this.beginSettling(active))) {
      return;
    }
    const error = outcome.error;
    const retryable = !(error instanceof PermanentError);
    const message = error instanceof Error ? error.message || error.name : String(error);
    try {
      const finished = await this.settle(active, 'fail', () =>
        this.client.fail(job.id, { attempt, error: { message: message.slice(0, 2000), details: errorDetails(error) }, retryable }),
      );
      if (finished) {
        this.logger.info?.('failed', { job_id: job.id, kind: job.kind, attempt, error: message, retryable, state: finished.state });
        this.emit('failed', finished, error);
      }
    } catch (refused) {
      this.logger.error?.(`fail refused: ${(refused as Error).message}`, { job_id: job.id });
      this.emitError(refused);
    }
  }

  /**
   * Stops the job's heartbeats before its final call and waits for the one in flight.
   * @returns false when the job was lost, cancelled or released meanwhile (nothing to report).
   */
  private async beginSettling(active: ActiveJob): Promise<boolean> {
    if (active.state !== 'running') return false;
    active.state = 'settling';
    active.stopTimers();
    await active.inFlight;
    return active.state === 'settling';
  }

  /** (Re)starts the job's periodic heartbeats. */
  private startHeartbeats(active: ActiveJob): void {
    clearInterval(active.heartbeatTimer);
    active.heartbeatTimer = setInterval(() => this.beat(active), active.heartbeatMs);
    this.beat(active);
  }

  /**
   * Waits while the job is paused (heartbeats go on and bring the resume).
   * @returns true once it is not paused, false when it was cancelled, lost or released instead.
   */
  private async untilResumed(active: ActiveJob): Promise<boolean> {
    while (active.paused && active.state === 'running') await new Promise<void>((resolve) => active.pauseWaiters.push(resolve));
    return active.state === 'running';
  }

  /**
   * Sends a final call (complete, fail, release), retrying transient errors with backoff until
   * the lease would have expired (then the job will be reclaimed anyway).
   * @returns the job, or null when the lease was lost or the retries were given up.
   * @throws the error of a definitive refusal other than `lease_lost`.
   */
  private async settle(active: ActiveJob, what: string, call: () => Promise<JobView>): Promise<JobView | null> {
    for (let retry = 0; ; retry++) {
      try {
        const job = await call();
        active.state = 'done';
        return job;
      } catch (error) {
        if (isLeaseLost(error)) {
          this.lose(active);
          return null;
        }
        if (!isTransientError(error)) throw error;
        const delay = retryDelayMs(error, retry);
        if (Date.now() + delay > active.leaseDeadline) {
          this.logger.warn?.(`${what} gave up: the lease has expired; the job will be reclaimed`, { job_id: active.job.id, error: (error as Error).message });
          this.emitError(error);
          active.state = 'lost';
          return null;
        }
        this.logger.debug?.(`${what} failed, retrying: ${(error as Error).message}`, { job_id: active.job.id, retry });
        await sleep(delay);
      }
    }
  }

  private contextFor(active: ActiveJob): JobContext {
    const { job, attempt } = active;
    const ensureHeld = () => {
      if (active.controller.signal.aborted) throw active.controller.signal.reason;
    };
    return {
      job,
      attempt,
      signal: active.controller.signal,
      progress: (fraction, message, metrics) => {
        if (active.state !== 'running') return Promise.resolve();
        const progress = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : undefined;
        active.pending = {
          ...active.pending,
          ...(progress === undefined ? {} : { progress }),
          ...(message === undefined ? {} : { message }),
          ...(metrics === undefined ? {} : { metrics }),
        };
        this.scheduleFlush(active);
        if (!active.paused || active.handlesPause) return Promise.resolve();
        this.logger.info?.('paused: the handler waits in ctx.progress() until the job is resumed', { job_id: job.id, attempt });
        const resumed = this.untilResumed(active).then((stillHeld) => {
          if (!stillHeld) throw (active.controller.signal.reason as unknown) ?? new JobAbortedError('lease_lost', job.id);
        });
        // Marked handled, so a handler that does not await it never sees an unhandled rejection.
        resumed.catch(() => undefined);
        return resumed;
      },
      log: async (...lines) => {
        if (active.state !== 'running' || lines.length === 0) return;
        try {
          await this.client.log(job.id, attempt, lines.map(String));
        } catch (error) {
          if (isLeaseLost(error)) this.lose(active);
          else this.logger.warn?.(`log failed: ${(error as Error).message}`, { job_id: job.id });
        }
      },
      paused: () => active.paused,
      waitWhilePaused: () =>
        active.paused && !active.controller.signal.aborted ? new Promise<void>((resolve) => active.pauseWaiters.push(resolve)) : Promise.resolve(),
      upload: async (filePath, options = {}) => {
        ensureHeld();
        const purpose = options.purpose ?? 'output';
        try {
          const meta = await this.client.uploadFile(
            filePath,
            { purpose, jobId: job.id, attempt, contentType: options.contentType, name: options.name },
            active.controller.signal,
          );
          if (purpose === 'output') active.outputFiles.push(meta.id);
          return meta;
        } catch (error) {
          if (isLeaseLost(error)) this.lose(active);
          throw error;
        }
      },
      download: async (fileId, destPath) => {
        ensureHeld();
        return this.client.downloadFile(fileId, destPath, active.controller.signal);
      },
    };
  }

  /** Sends pending progress now, or as soon as 250 ms have passed since the previous heartbeat. */
  private scheduleFlush(active: ActiveJob): void {
    if (active.flushTimer || active.state !== 'running') return;
    if (active.inFlight) {
      active.again = true;
      return;
    }
    const wait = Math.max(0, active.lastSentAt + PROGRESS_SPACING_MS - Date.now());
    active.flushTimer = setTimeout(() => {
      active.flushTimer = undefined;
      this.beat(active);
    }, wait);
  }

  /** One heartbeat (carrying any pending progress); at most one in flight per job. */
  private beat(active: ActiveJob): void {
    if (active.state !== 'running') return;
    if (active.inFlight) {
      active.again = true;
      return;
    }
    clearTimeout(active.flushTimer);
    active.flushTimer = undefined;
    const sent = active.pending;
    active.pending = null;
    active.lastSentAt = Date.now();
    const startedAt = Date.now();
    active.inFlight = (async () => {
      try {
        const answer = await this.client.heartbeat(active.job.id, { attempt: active.attempt, ...sent });
        active.leaseDeadline = startedAt + estimateLeaseMs(answer.lease_expires_at, answer.serverDateMs);
        if (answer.command === 'cancel') this.cancel(active);
        else {
          active.setPaused(answer.command === 'pause');
          // While paused, beat more often (if the usual period is longer) so a resume is seen soon.
          if (active.paused && active.state === 'running' && !active.flushTimer && active.heartbeatMs > PAUSED_HEARTBEAT_MS) {
            active.flushTimer = setTimeout(() => {
              active.flushTimer = undefined;
              this.beat(active);
            }, PAUSED_HEARTBEAT_MS);
          }
        }
      } catch (error) {
        if (isLeaseLost(error)) this.lose(active);
        else if (isTransientError(error)) {
          // Keep the progress for the next try; newer values win.
          if (sent) active.pending = { ...sent, ...active.pending };
          this.logger.warn?.(`heartbeat failed: ${(error as Error).message}`, { job_id: active.job.id });
        } else {
          this.logger.error?.(`heartbeat refused: ${(error as Error).message}`, { job_id: active.job.id });
          this.emitError(error);
        }
      } finally {
        active.inFlight = null;
        if (active.again) {
          active.again = false;
          if (active.pending) this.scheduleFlush(active);
        }
      }
    })();
  }

  private cancel(active: ActiveJob): void {
    if (active.state !== 'running') return;
    active.state = 'cancelled';
    active.abort('cancelled');
    this.logger.info?.('cancelled', { job_id: active.job.id, attempt: active.attempt });
    this.emit('cancelled', active.job);
  }

  private lose(active: ActiveJob): void {
    if (active.state === 'lost' || active.state === 'done' || active.state === 'cancelled') return;
    active.state = 'lost';
    active.abort('lease_lost');
    this.logger.warn?.('lease lost', { job_id: active.job.id, attempt: active.attempt });
    this.emit('lease_lost', active.job, active.attempt);
  }

  /** Aborts every running handler and releases its job; jobs already reporting finish reporting. */
  private async releaseAll(): Promise<void> {
    await Promise.all(
      [...this.active.values()].map(async (active) => {
        if (active.state !== 'running') return active.done;
        active.state = 'released';
        active.abort('released');
        await active.inFlight;
        try {
          const job = await this.settle(active, 'release', () => this.client.release(active.job.id, { attempt: active.attempt }));
          if (job) {
            this.logger.info?.('released', { job_id: active.job.id, attempt: active.attempt });
            this.emit('released', job);
          }
        } catch (error) {
          this.logger.error?.(`release refused: ${(error as Error).message}`, { job_id: active.job.id });
          this.emitError(error);
        }
      }),
    );
  }

  private wakeSlotWaiters(): void {
    for (const wake of this.slotWaiters.splice(0)) wake();
  }

  private emitError(error: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }
}
