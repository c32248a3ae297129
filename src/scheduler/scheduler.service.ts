/**
 * The scheduler: runs the built-in housekeeping tasks on their cron schedules, each due run
 * exactly once across every instance sharing the database.
 *
 * Exactly once: every task has a row in `scheduled_task` holding its next due time and a lease.
 * An instance runs a due run only after one atomic conditional UPDATE (see
 * {@link claimDueRun}) both took the lease and moved the due time forward; every other instance
 * (or concurrent tick) trying to claim the same run matches no row and moves on. The lease
 * (`lease_owner`, `lease_expires_at`) keeps runs of one task from overlapping and expires on its
 * own if the instance dies mid-run. A run missed while every instance was down runs once when
 * one comes back (not once per missed slot).
 *
 * Time comes from the injected {@link Clock}: {@link Scheduler.tick} runs whatever is due "now",
 * so tests drive the schedule with a ManualClock; in production {@link Scheduler.start} calls
 * `tick` from an unref'd timer (it never keeps a process alive).
 */
import { hostname } from 'node:os';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database, ScheduledTaskRow, TaskRunRow } from '../db/schema.js';
import { addSeconds, type Clock } from '../shared/clock.js';
import { AppError } from '../shared/errors.js';
import { newId } from '../shared/ids.js';
import { TimerLoop } from '../shared/timer-loop.js';
import { nextRunAfter } from './cron.js';
import {
  claimDueRun,
  claimManualRun,
  findLatestTaskRun,
  finishTaskRun,
  insertScheduledTaskIfMissing,
  insertTaskRun,
  listScheduledTasks,
  listTaskRuns,
  releaseTask,
  updateTaskSchedule,
} from './scheduler.repo.js';

/**
 * How long a claimed run's lease lasts, in seconds. Longer than any built-in task takes (a
 * backup of a large database included), so runs never overlap; short enough that a task whose
 * instance crashed mid-run is picked up again within the hour.
 */
export const LEASE_SECONDS = 3600;
/** The loop never sleeps longer than this (seconds), so a clock jump or a new row is noticed. */
const MAX_SLEEP_SECONDS = 60;

/** What a task reports: `success` (default) or `skipped` (nothing to do here), plus JSON details. */
export interface TaskResult {
  outcome?: 'success' | 'skipped';
  /** A JSON-serialisable summary (counts, file names, the reason for skipping). */
  detail?: Record<string, unknown>;
}

/** A task the scheduler can run. Throwing records a `failure` with the error's message. */
export interface SchedulerTask {
  name: string;
  /** One line for `gatehouse schedule list --json` and the docs. */
  description: string;
  /** Does the work; `now` is the clock's time when the run was claimed. */
  run(now: Date): Promise<TaskResult>;
}

/** One finished run, as {@link Scheduler.tick} and {@link Scheduler.runNow} report it. */
export interface TaskRunReport {
  id: string;
  task: string;
  trigger: 'schedule' | 'manual';
  outcome: 'success' | 'failure' | 'skipped';
  started_at: string;
  finished_at: string;
  detail: Record<string, unknown>;
}

/** A task as `gatehouse schedule list` shows it. Times are ISO-8601 UTC strings or null. */
export interface TaskStatus {
  task: string;
  description: string;
  /** Cron expression, or `off`. */
  schedule: string;
  enabled: boolean;
  next_run_at: string | null;
  last_run_at: string | null;
  /** Outcome of the latest run; `running` while it has not finished; null when it never ran. */
  last_outcome: TaskRunRow['outcome'] | 'running' | null;
  last_detail: Record<string, unknown> | null;
  /** Instance holding a live lease (a run in progress), or null. */
  running_on: string | null;
}

/** Options for {@link Scheduler}. */
export interface SchedulerOptions {
  db: Kysely<Database>;
  clock: Clock;
  logger: Logger;
  tasks: SchedulerTask[];
  /** Cron expression per task (5 fields, UTC), null = disabled (`off`). */
  schedules: Record<string, string | null>;
  /** Identifies this instance in leases and `task_run.instance`. Default `host:pid:random`. */
  instanceId?: string;
}

export class Scheduler {
  /** This instance's name in leases and run records. */
  readonly instanceId: string;
  private readonly tasks: Map<string, SchedulerTask>;
  private registered: Promise<void> | undefined;
  private readonly loop = new TimerLoop({
    pass: async () => {
      await this.tick();
      return this.sleepMs();
    },
    onError: (error) => {
      this.options.logger.error({ err: error }, 'scheduler tick failed');
      return this.sleepMs();
    },
  });

  /** Cron expression per task, null = off: the configured ones plus those of added tasks. */
  private readonly schedules: Record<string, string | null>;

  constructor(private readonly options: SchedulerOptions) {
    this.instanceId = options.instanceId ?? `${hostname()}:${process.pid}:${newId().slice(-8)}`;
    this.tasks = new Map(options.tasks.map((t) => [t.name, t]));
    this.schedules = { ...options.schedules };
  }

  /** Task names, in the order they are listed. */
  get taskNames(): string[] {
    return [...this.tasks.keys()];
  }

  /**
   * Adds tasks (feature modules', named `<module>.<task>`) with their schedules (cron, or null =
   * off), after the built-in ones. Must run before the first tick, `start` or `list`.
   * @throws Error when a name is taken or this scheduler already registered its schedules.
   */
  addTasks(tasks: readonly SchedulerTask[], schedules: Readonly<Record<string, string | null>>): void {
    if (this.registered) throw new Error('Scheduler tasks must be added before the scheduler is used.');
    for (const task of tasks) {
      if (this.tasks.has(task.name)) throw new Error(`A scheduler task named ${task.name} exists already.`);
      this.tasks.set(task.name, task);
      this.schedules[task.name] = schedules[task.name] ?? null;
    }
  }

  /**
   * Runs every task that is enabled here and due at the clock's current time, one after the
   * other; a due run already claimed by another instance (or a concurrent tick) is left to it.
   * Registers this instance's schedules on first use.
   * @returns the runs this call performed (empty when nothing was due or all were taken).
   * @throws only when the database fails; task errors become `failure` runs.
   */
  async tick(): Promise<TaskRunReport[]> {
    await this.register();
    const reports: TaskRunReport[] = [];
    const rows = new Map((await listScheduledTasks(this.options.db)).map((r) => [r.name, r]));
    for (const name of this.taskNames) {
      const schedule = this.schedules[name];
      const row = rows.get(name);
      if (!schedule || !row?.next_run_at) continue;
      const now = this.options.clock.now();
      if (Date.parse(row.next_run_at) > now.getTime()) continue;
      const claimed = await this.claim((owner, leaseExpiresAtIso) =>
        claimDueRun(this.options.db, {
          name,
          expectedNextRunAtIso: row.next_run_at as string,
          nextRunAtIso: nextRunAfter(schedule, now)?.toISOString() ?? null,
          nowIso: now.toISOString(),
          owner,
          leaseExpiresAtIso,
        }),
      );
      if (claimed) reports.push(await this.execute(name, 'schedule', now));
    }
    return reports;
  }

  /**
   * Runs one task now, whatever its schedule (also when disabled); recorded like a scheduled run.
   * @throws AppError `not_found` (no such task), `conflict` (a run of it is in progress somewhere).
   */
  async runNow(name: string): Promise<TaskRunReport> {
    const task = this.requireTask(name);
    await this.ensureRows();
    const now = this.options.clock.now();
    const claimed = await this.claim((owner, leaseExpiresAtIso) =>
      claimManualRun(this.options.db, { name: task, nowIso: now.toISOString(), owner, leaseExpiresAtIso }),
    );
    if (!claimed) throw new AppError('conflict', `${task} is running on another instance; try again when it has finished.`);
    return this.execute(task, 'manual', now);
  }

  /**
   * Every task with its schedule, next due time and latest run. Read-only: shows what the
   * instances registered in the database, or this configuration for tasks never registered.
   */
  async list(): Promise<TaskStatus[]> {
    const rows = new Map((await listScheduledTasks(this.options.db)).map((r) => [r.name, r]));
    const now = this.options.clock.now();
    const statuses: TaskStatus[] = [];
    for (const name of this.taskNames) {
      const row: ScheduledTaskRow | undefined = rows.get(name);
      const configured = this.schedules[name];
      const latest = await findLatestTaskRun(this.options.db, name);
      const leaseLive = row?.lease_owner && row.lease_expires_at && Date.parse(row.lease_expires_at) > now.getTime();
      statuses.push({
        task: name,
        description: this.tasks.get(name)?.description ?? '',
        schedule: row?.schedule ?? configured ?? 'off',
        enabled: row ? row.enabled === 1 : configured !== null,
        next_run_at: row ? row.next_run_at : configured ? (nextRunAfter(configured, now)?.toISOString() ?? null) : null,
        last_run_at: latest?.started_at ?? row?.last_run_at ?? null,
        last_outcome: latest ? (latest.outcome ?? 'running') : null,
        last_detail: latest ? (JSON.parse(latest.detail) as Record<string, unknown>) : null,
        running_on: leaseLive ? (row?.lease_owner ?? null) : null,
      });
    }
    return statuses;
  }

  /** The latest runs, newest first (optionally of one task). @throws AppError `not_found` for an unknown task. */
  async history(task: string | undefined, limit: number): Promise<TaskRunRow[]> {
    if (task !== undefined) this.requireTask(task);
    return listTaskRuns(this.options.db, { task, limit });
  }

  /** Starts the background loop (a tick now, then at each next due time, at least every minute). */
  start(): void {
    this.loop.start();
  }

  /** Stops the loop and waits for a tick in progress to finish. Safe to call twice. */
  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /**
   * Writes this instance's schedules into `scheduled_task` (once per process): missing rows are
   * created; a row whose schedule or enabled flag differs from this configuration is updated and
   * its next due time recomputed; an unchanged row keeps its due time (so a run missed while
   * down still happens once). With differing configurations the instance that started last wins.
   */
  private register(): Promise<void> {
    this.registered ??= this.syncRows(true).catch((error: unknown) => {
      this.registered = undefined;
      throw error;
    });
    return this.registered;
  }

  /** Creates missing rows only (the CLI must not overwrite the servers' schedules). */
  private ensureRows(): Promise<void> {
    return this.syncRows(false);
  }

  private async syncRows(update: boolean): Promise<void> {
    const now = this.options.clock.now();
    const nowIso = now.toISOString();
    const rows = new Map((await listScheduledTasks(this.options.db)).map((r) => [r.name, r]));
    for (const name of this.taskNames) {
      const configured = this.schedules[name];
      const schedule = configured ?? 'off';
      const enabled = configured ? 1 : 0;
      const nextRunAtIso = configured ? (nextRunAfter(configured, now)?.toISOString() ?? null) : null;
      const row = rows.get(name);
      if (!row) {
        await insertScheduledTaskIfMissing(this.options.db, {
          name,
          schedule,
          enabled,
          next_run_at: nextRunAtIso,
          last_run_at: null,
          lease_owner: null,
          lease_expires_at: null,
          updated_at: nowIso,
        });
      } else if (update && (row.schedule !== schedule || row.enabled !== enabled || (configured && !row.next_run_at))) {
        await updateTaskSchedule(this.options.db, name, { schedule, enabled, nextRunAtIso, nowIso });
      }
    }
  }

  private requireTask(name: string): string {
    if (!this.tasks.has(name)) {
      throw new AppError('not_found', `There is no task "${name}". Tasks: ${this.taskNames.join(', ')}.`);
    }
    return name;
  }

  /** Runs `claimLease` with this instance's id and a fresh lease end. */
  private claim(claimLease: (owner: string, leaseExpiresAtIso: string) => Promise<boolean>): Promise<boolean> {
    const leaseExpiresAtIso = addSeconds(this.options.clock.now(), LEASE_SECONDS).toISOString();
    return claimLease(this.instanceId, leaseExpiresAtIso);
  }

  /** Runs a claimed task: records the start, runs it, records the outcome, releases the lease. */
  private async execute(name: string, trigger: 'schedule' | 'manual', claimedAt: Date): Promise<TaskRunReport> {
    const task = this.tasks.get(name) as SchedulerTask;
    const id = newId();
    const startedAt = claimedAt.toISOString();
    const logger = this.options.logger.child({ task: name, runId: id, trigger });
    try {
      await insertTaskRun(this.options.db, {
        id,
        task: name,
        trigger,
        instance: this.instanceId,
        started_at: startedAt,
        finished_at: null,
        outcome: null,
        detail: '{}',
      });
      let outcome: TaskRunReport['outcome'];
      let detail: Record<string, unknown>;
      try {
        const result = await task.run(claimedAt);
        outcome = result.outcome ?? 'success';
        detail = result.detail ?? {};
      } catch (error) {
        outcome = 'failure';
        detail = { error: error instanceof Error ? error.message : String(error) };
      }
      const finishedAt = this.options.clock.now().toISOString();
      // Single-statement writes, no transaction spanning an await: with better-sqlite3 a second
      // connection waiting for SQLite's write lock blocks its whole thread, so a lock held across
      // an await could stall every instance in one process (and the lease covers a crash between).
      await finishTaskRun(this.options.db, id, { finishedAtIso: finishedAt, outcome, detail: JSON.stringify(detail) });
      await releaseTask(this.options.db, name, this.instanceId, startedAt);
      if (outcome === 'failure') logger.warn({ detail }, 'scheduled task failed');
      else logger.info({ outcome, detail }, 'scheduled task finished');
      return { id, task: name, trigger, outcome, started_at: startedAt, finished_at: finishedAt, detail };
    } catch (error) {
      // The run could not even be recorded (database trouble): give the lease back so it is retried.
      await releaseTask(this.options.db, name, this.instanceId, startedAt).catch(() => undefined);
      throw error;
    }
  }

  /** Milliseconds until the earliest due run of an enabled task, between 1 s and a minute. */
  private async sleepMs(): Promise<number> {
    let earliest = MAX_SLEEP_SECONDS * 1000;
    try {
      const now = this.options.clock.now().getTime();
      for (const row of await listScheduledTasks(this.options.db)) {
        if (!row.next_run_at || !this.schedules[row.name]) continue;
        earliest = Math.min(earliest, Date.parse(row.next_run_at) - now);
      }
    } catch {
      // The database is unreachable: try again in a minute.
    }
    return Math.max(1000, earliest);
  }
}
