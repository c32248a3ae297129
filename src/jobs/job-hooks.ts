/**
 * Durable job hooks: a module's reaction to a job's outcome, run inside the very transaction that
 * records the outcome. A job links to its domain object through `parent_type` / `parent_id` (for
 * example `submission` / the submission's id); a hook selected by that `parent_type` (or by the
 * job's `kind`) updates the domain row in the same transaction, so the two can never disagree:
 * either both changes commit or neither does, and a crash in between loses nothing.
 *
 * A hook that throws rolls the whole outcome back: the job keeps its previous state and lease,
 * and the caller gets `503 job_hook_failed` (a worker's SDK retries `complete`/`fail` on 5xx, so
 * the outcome is recorded once the hook succeeds). Hooks therefore must be idempotent only with
 * respect to their own writes being rolled back, never run twice for one committed outcome.
 */
import type { WriteTx } from '../db/transaction.js';
import type { JobRow } from '../db/schema.js';
import { AppError, isAppError } from '../shared/errors.js';
import { type JobView, toJobView } from './model.js';

/** The final states a hook can react to. */
export const JOB_OUTCOMES = ['succeeded', 'failed', 'dead', 'cancelled'] as const;

/** One of {@link JOB_OUTCOMES}. */
export type JobOutcome = (typeof JOB_OUTCOMES)[number];

/** What a hook handler receives. */
export interface JobOutcomeEvent {
  outcome: JobOutcome;
  /** The job as recorded by this transaction (state = `outcome`). */
  job: JobView;
  /** The open write transaction: write domain rows through `tx.db`; `tx.afterCommit` for side effects. */
  tx: WriteTx;
  /** The clock's time of the outcome, ISO-8601 UTC. */
  at: string;
}

/**
 * One handler for job outcomes. It is selected when the job's `kind` is in `kinds` or its
 * `parent_type` is in `parentTypes` (at least one of the two lists must be given), and the outcome
 * is in `outcomes` (default: all four).
 */
export interface JobHook {
  /** Names the hook in logs and `job_hook_failed` problems, e.g. `challenges.score`. */
  name: string;
  kinds?: readonly string[];
  parentTypes?: readonly string[];
  outcomes?: readonly JobOutcome[];
  handle(event: JobOutcomeEvent): Promise<void>;
}

/**
 * The registered hooks, looked up by a job's kind and parent type. Cheap to ask when empty, so the
 * job system's fast paths stay as they are when no module registers a hook.
 */
export class JobHooks {
  private readonly byKind = new Map<string, JobHook[]>();
  private readonly byParentType = new Map<string, JobHook[]>();

  /** @throws Error when a hook selects nothing (neither `kinds` nor `parentTypes`). */
  constructor(hooks: readonly JobHook[] = []) {
    this.add(hooks);
  }

  /**
   * Registers more hooks (modules register theirs once their services exist, after the job system).
   * @throws Error when a hook selects nothing (neither `kinds` nor `parentTypes`).
   */
  add(hooks: readonly JobHook[]): void {
    for (const hook of hooks) {
      if (!hook.kinds?.length && !hook.parentTypes?.length) throw new Error(`Job hook ${hook.name} names neither kinds nor parentTypes.`);
      for (const kind of hook.kinds ?? []) this.byKind.set(kind, [...(this.byKind.get(kind) ?? []), hook]);
      for (const type of hook.parentTypes ?? []) this.byParentType.set(type, [...(this.byParentType.get(type) ?? []), hook]);
    }
  }

  /** True when no hook is registered at all. */
  get empty(): boolean {
    return this.byKind.size === 0 && this.byParentType.size === 0;
  }

  /** The hooks selected by this job for this outcome (each once, in registration order). */
  select(job: Pick<JobRow, 'kind' | 'parent_type'>, outcome: JobOutcome): JobHook[] {
    if (this.empty) return [];
    const found = new Set<JobHook>([...(this.byKind.get(job.kind) ?? []), ...(job.parent_type ? (this.byParentType.get(job.parent_type) ?? []) : [])]);
    return [...found].filter((hook) => !hook.outcomes || hook.outcomes.includes(outcome));
  }

  /**
   * The kinds and parent types some hook selects (any outcome). A job matching neither needs no
   * outcome transaction: PostgreSQL then records its outcome in one statement.
   */
  get watched(): { kinds: readonly string[]; parentTypes: readonly string[] } {
    return { kinds: [...this.byKind.keys()], parentTypes: [...this.byParentType.keys()] };
  }

  /** True when some hook may react to this job (any outcome). */
  watches(job: Pick<JobRow, 'kind' | 'parent_type'>): boolean {
    return !this.empty && (this.byKind.has(job.kind) || (job.parent_type !== null && this.byParentType.has(job.parent_type)));
  }

  /**
   * Runs the hooks selected by `row` (whose `state` is the outcome just written by `tx`).
   * Rows in a non-final state select nothing.
   * @throws AppError `job_hook_failed` (503) wrapping what a hook threw; an AppError a hook throws
   *   on purpose is passed through unchanged. Either way the caller's transaction rolls back.
   */
  async run(tx: WriteTx, row: JobRow, at: string): Promise<void> {
    if (!(JOB_OUTCOMES as readonly string[]).includes(row.state)) return;
    const outcome = row.state as JobOutcome;
    const hooks = this.select(row, outcome);
    if (!hooks.length) return;
    const job = toJobView(row);
    for (const hook of hooks) {
      try {
        await hook.handle({ outcome, job, tx, at });
      } catch (error) {
        if (isAppError(error)) throw error;
        throw new AppError('job_hook_failed', `The ${hook.name} hook failed on job ${row.id} (${outcome}); nothing was recorded, try again.`, {
          cause: error,
          headers: { 'Retry-After': '1' },
        });
      }
    }
  }
}
