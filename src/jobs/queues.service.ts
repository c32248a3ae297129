/**
 * Queues: create, change, pause and resume them, and their statistics. Settings and their
 * defaults are documented in docs/jobs.md ("Queue").
 */
import type { Kysely } from 'kysely';
import type { AuditLog, ActorContext } from '../audit/audit.service.js';
import { isValidPermission } from '../access/permissions.js';
import { isUniqueViolation } from '../db/executor.js';
import type { Database, QueueTable } from '../db/schema.js';
import { inTransaction } from '../db/transaction.js';
import type { Clock } from '../shared/clock.js';
import { AppError, isAppError } from '../shared/errors.js';
import type { JobHub } from './job-hub.js';
import { JOB_STATES, type JobState, type QueueView, toQueueView } from './model.js';
import { findQueue, insertQueue, listQueues, queueFigures, updateQueue } from './queues.repo.js';

/** A queue name: lower-case letters, digits, `.`, `_`, `-`; 1–64 characters. */
export const QUEUE_NAME_PATTERN = '^[a-z0-9][a-z0-9._-]{0,63}$';

/** Settings a queue is created with when the request leaves them out. */
export const QUEUE_DEFAULTS = {
  description: '',
  paused: false,
  lease_seconds: 60,
  max_attempts: 5,
  max_lease_expiries: 3,
  backoff_base_seconds: 10,
  backoff_max_seconds: 3600,
  enqueue_permission: 'jobs:enqueue',
  claim_permission: 'jobs:claim',
  worker_concurrency: 1,
} as const;

/** Changeable queue settings (all optional). */
export type QueueSettings = Partial<Omit<QueueView, 'name' | 'created_at' | 'updated_at'>>;

/** A queue's statistics: `GET /api/v1/queues/{name}/stats`. Durations in milliseconds, ages in seconds. */
export interface QueueStats {
  queue: string;
  paused: boolean;
  counts: Record<JobState, number>;
  /** Jobs that succeeded in the last hour. */
  succeeded_last_hour: number;
  /** Jobs that ended failed or dead in the last hour. */
  failed_last_hour: number;
  /** Mean and 95th-percentile run time (first start → finish) of the last hour's successes; null without any. */
  mean_duration_ms: number | null;
  p95_duration_ms: number | null;
  /** Age of the longest-waiting claimable job (since its run_after); null when none waits. */
  oldest_queued_age_s: number | null;
  /** Workers holding a job of this queue now. */
  active_workers: number;
}

/** Dependencies of {@link QueueService}. */
export interface QueueServiceOptions {
  db: Kysely<Database>;
  clock: Clock;
  audit: AuditLog;
  hub: JobHub;
}

/** Nearest-rank percentile (`p` in 0..1) of ascending `sorted`. */
function percentile(sorted: number[], p: number): number {
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] ?? 0;
}

/** Queue administration and statistics. */
export class QueueService {
  /** Queues {@link ensure} created or found, by name (a failed attempt is forgotten, so the next call tries again). */
  private readonly ensured = new Map<string, Promise<void>>();

  constructor(private readonly options: QueueServiceOptions) {}

  /**
   * Makes sure a queue named `name` exists, creating it with `settings` the first time (a module's
   * own queue, created at start-up or before its first enqueue). One attempt per name and process:
   * later calls share it; an existing queue (`conflict`, also when another instance created it
   * meanwhile) counts as done and keeps its settings.
   * @throws what {@link create} throws other than `conflict` (the attempt is then forgotten).
   */
  ensure(name: string, settings: QueueSettings, actor: ActorContext): Promise<void> {
    let ready = this.ensured.get(name);
    if (!ready) {
      ready = this.create(name, settings, actor).then(
        () => undefined,
        (error: unknown) => {
          if (isAppError(error, 'conflict')) return;
          this.ensured.delete(name);
          throw error;
        },
      );
      this.ensured.set(name, ready);
    }
    return ready;
  }

  /**
   * Creates a queue.
   * @throws AppError `conflict` (409) when the name exists, `validation_failed` (400) for bad settings.
   */
  async create(name: string, settings: QueueSettings, actor: ActorContext): Promise<QueueView> {
    const { db, clock, audit } = this.options;
    if (!new RegExp(QUEUE_NAME_PATTERN).test(name)) {
      throw new AppError('validation_failed', 'A queue name is 1–64 lower-case letters, digits, ".", "_" or "-".', {
        errors: [{ field: '/name', message: `must match ${QUEUE_NAME_PATTERN}` }],
      });
    }
    const merged = { ...QUEUE_DEFAULTS, ...settings };
    this.validate(merged);
    const now = clock.now().toISOString();
    const row: QueueTable = { name, ...merged, paused: merged.paused ? 1 : 0, created_at: now, updated_at: now };
    try {
      await inTransaction(db, async (tx) => {
        await insertQueue(tx.db, row);
        await audit.record(tx.db, actor, { action: 'queue.create', targetType: 'queue', targetId: name, details: { ...merged } });
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new AppError('conflict', `A queue named "${name}" already exists.`);
      throw error;
    }
    return toQueueView(row);
  }

  /** Every queue, by name. */
  async list(): Promise<QueueView[]> {
    return (await listQueues(this.options.db)).map(toQueueView);
  }

  /** One queue. @throws AppError `not_found`. */
  async get(name: string): Promise<QueueView> {
    const row = await findQueue(this.options.db, name);
    if (!row) throw new AppError('not_found', `There is no queue named "${name}".`);
    return toQueueView(row);
  }

  /**
   * Changes settings (pausing and resuming included).
   * @throws AppError `not_found`, `validation_failed`.
   */
  async update(name: string, settings: QueueSettings, actor: ActorContext): Promise<QueueView> {
    const { db, clock, audit, hub } = this.options;
    const current = await this.get(name);
    this.validate({ ...current, ...settings });
    const { paused, ...rest } = settings;
    const changes: Partial<QueueTable> = { ...rest, updated_at: clock.now().toISOString() };
    if (paused !== undefined) changes.paused = paused ? 1 : 0;
    const updated = await inTransaction(db, async (tx) => {
      const row = await updateQueue(tx.db, name, changes);
      if (!row) throw new AppError('not_found', `There is no queue named "${name}".`);
      const action = paused === true && !current.paused ? 'queue.pause' : paused === false && current.paused ? 'queue.resume' : 'queue.update';
      await audit.record(tx.db, actor, { action, targetType: 'queue', targetId: name, details: { ...settings } });
      return row;
    });
    if (current.paused && updated.paused === 0) hub.announceWork(name);
    return toQueueView(updated);
  }

  /** Stops claims from the queue (enqueueing continues). */
  pause(name: string, actor: ActorContext): Promise<QueueView> {
    return this.update(name, { paused: true }, actor);
  }

  /** Lets workers claim from the queue again. */
  resume(name: string, actor: ActorContext): Promise<QueueView> {
    return this.update(name, { paused: false }, actor);
  }

  /** Statistics of one queue. @throws AppError `not_found`. */
  async stats(name: string): Promise<QueueStats> {
    return this.statsOf(await this.get(name));
  }

  /** Statistics of every queue. */
  async allStats(): Promise<QueueStats[]> {
    const queues = await this.list();
    return Promise.all(queues.map((q) => this.statsOf(q)));
  }

  private async statsOf(queue: QueueView): Promise<QueueStats> {
    const name = queue.name;
    const now = this.options.clock.now();
    const since = new Date(now.getTime() - 3_600_000).toISOString();
    const figures = await queueFigures(this.options.db, name, since, now.toISOString());
    const counts = Object.fromEntries(JOB_STATES.map((s) => [s, figures.counts[s] ?? 0])) as Record<JobState, number>;
    const durations = figures.durations.map(([start, end]) => Date.parse(end) - Date.parse(start)).sort((a, b) => a - b);
    return {
      queue: name,
      paused: queue.paused,
      counts,
      succeeded_last_hour: figures.succeededSince,
      failed_last_hour: figures.failedSince,
      mean_duration_ms: durations.length ? Math.round(durations.reduce((a, b) => a + b, 0) / durations.length) : null,
      p95_duration_ms: durations.length ? percentile(durations, 0.95) : null,
      oldest_queued_age_s:
        figures.oldestQueuedRunAfter === null ? null : Math.max(0, Math.round((now.getTime() - Date.parse(figures.oldestQueuedRunAfter)) / 1000)),
      active_workers: figures.activeWorkers,
    };
  }

  private validate(settings: Omit<QueueView, 'name' | 'created_at' | 'updated_at'>): void {
    const errors: Array<{ field: string; message: string }> = [];
    for (const field of ['enqueue_permission', 'claim_permission'] as const) {
      if (!isValidPermission(settings[field]) || settings[field] === '*') {
        errors.push({ field: `/${field}`, message: 'must be a permission such as jobs:enqueue' });
      }
    }
    if (settings.backoff_max_seconds < settings.backoff_base_seconds) {
      errors.push({ field: '/backoff_max_seconds', message: 'must be at least backoff_base_seconds' });
    }
    if (errors.length) throw new AppError('validation_failed', errors.map((e) => `${e.field.slice(1)} ${e.message}`).join('; '), { errors });
  }
}
