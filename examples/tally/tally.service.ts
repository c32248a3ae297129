/**
 * The example module's logic: a user asks for a tally of numbers; a job (`tally.sum`, linked by
 * `parent_type = 'tally'`) computes it on a worker; the job hook records the outcome on the tally
 * inside the transaction that records the job's outcome, so the two never disagree.
 */
import type { Kysely } from 'kysely';
import { allows } from '../../src/access/permissions.js';
import { SYSTEM_ACTOR } from '../../src/audit/audit.service.js';
import type { Principal } from '../../src/auth/auth.service.js';
import type { Database } from '../../src/db/schema.js';
import type { JobOutcomeEvent } from '../../src/jobs/job-hooks.js';
import type { WriteTransaction } from '../../src/db/transaction.js';
import type { JobService } from '../../src/jobs/jobs.service.js';
import type { TopicEvents } from '../../src/realtime/topic-events.js';
import type { NotifyService } from '../../src/notify/notify.service.js';
import type { QueueService } from '../../src/jobs/queues.service.js';
import type { Clock } from '../../src/shared/clock.js';
import { AppError, isAppError } from '../../src/shared/errors.js';
import { newId } from '../../src/shared/ids.js';
import { deleteSettledTalliesBefore, deleteTally, findTally, insertTally, listTallies, setTallyJob, settleTally } from './tally.repo.js';
import type { TallyRow } from './tally.schema.js';

/** The job kind that computes a tally, and the `parent_type` linking it. */
export const TALLY_KIND = 'tally.sum';
export const TALLY_PARENT = 'tally';
/** The live topic family: `tally:{id}` carries `tally.settled` when the tally's job ends. */
export const TALLY_TOPIC = 'tally';

/** A tally as the API shows it. */
export interface TallyView {
  id: string;
  owner_id: string;
  numbers: number[];
  status: TallyRow['status'];
  /** `{sum, count}` once done. */
  result: { sum: number; count: number } | null;
  job_id: string | null;
  created_at: string;
  updated_at: string;
}

/** The module's settings (`TALLY_QUEUE`, `TALLY_MAX_NUMBERS`, `TALLY_RETENTION_DAYS`). */
export interface TallySettings {
  queue: string;
  maxNumbers: number;
  /** Settled tallies are deleted this many days after their last change (the `tally.prune` task). */
  retentionDays: number;
}

/** Dependencies of {@link TallyService}. */
export interface TallyServiceOptions {
  db: Kysely<Database>;
  clock: Clock;
  /** The database handle's write transaction (`gatehouse.database.write`). */
  write: WriteTransaction;
  jobs: JobService;
  queues: QueueService;
  topics: TopicEvents;
  notify: NotifyService;
  /** Base URL for links in emails. */
  publicUrl: string;
  settings: TallySettings;
}

function toView(row: TallyRow): TallyView {
  return {
    id: row.id,
    owner_id: row.owner_id,
    numbers: JSON.parse(row.numbers) as number[],
    status: row.status,
    result: row.result ? (JSON.parse(row.result) as TallyView['result']) : null,
    job_id: row.job_id,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

/** Tallies: create, read, list, and the job hook. */
export class TallyService {
  private queueReady: Promise<void> | undefined;

  constructor(private readonly options: TallyServiceOptions) {}

  /**
   * Creates a tally and enqueues its job, owned by the caller.
   * @throws AppError `tally_too_long` (422) past `TALLY_MAX_NUMBERS`, `validation_failed` for an empty list.
   */
  async create(principal: Principal, numbers: number[]): Promise<TallyView> {
    const { write, clock, jobs, settings } = this.options;
    if (!numbers.length) throw new AppError('validation_failed', 'Give at least one number.', { errors: [{ field: '/numbers', message: 'is empty' }] });
    if (numbers.length > settings.maxNumbers) throw new AppError('tally_too_long', `At most ${settings.maxNumbers} numbers (TALLY_MAX_NUMBERS).`);
    await this.ensureQueue();
    const now = clock.now().toISOString();
    const id = newId();
    // The tally and its job commit together: a crash leaves either both or neither.
    await write(async (tx) => {
      await insertTally(tx.db, { id, owner_id: principal.user.id, numbers: JSON.stringify(numbers), status: 'pending', result: null, job_id: null, created_at: now, updated_at: now });
      const [job] = await jobs.enqueueIn(
        tx,
        settings.queue,
        [{ kind: TALLY_KIND, payload: { numbers }, parent_type: TALLY_PARENT, parent_id: id }],
        { ...SYSTEM_ACTOR, actorId: principal.user.id },
      );
      await setTallyJob(tx.db, id, job!.id);
    });
    return this.get(principal, id);
  }

  /**
   * The `tally:{id}` topic's authoriser: the tally's owner, or `tallies:manage`.
   * @throws AppError `not_found` for an unknown tally or one the principal may not see.
   */
  async authorizeTopic(principal: Principal, id: string): Promise<void> {
    await this.get(principal, id);
  }

  /** Deletes a tally of the caller's (any, with `tallies:manage`) with its live events. @throws AppError `not_found`. */
  async remove(principal: Principal | null, id: string): Promise<void> {
    await this.get(principal, id);
    await this.options.write(async (tx) => {
      await deleteTally(tx.db, id);
      await this.options.topics.forget(tx, [`${TALLY_TOPIC}:${id}`]);
    });
  }

  /** One tally of the caller's (any, with `tallies:manage`; `principal` null = an operator). @throws AppError `not_found`. */
  async get(principal: Principal | null, id: string): Promise<TallyView> {
    const row = await findTally(this.options.db, id);
    if (!row || (principal && row.owner_id !== principal.user.id && !allows(principal.permissions, 'tallies:manage'))) {
      throw new AppError('not_found', `There is no tally ${id}.`);
    }
    return toView(row);
  }

  /** Tallies, oldest first (every owner's when `ownerId` is null). */
  async list(ownerId: string | null, limit = 100): Promise<TallyView[]> {
    return (await listTallies(this.options.db, ownerId, limit)).map(toView);
  }

  /** The `tally.prune` task: deletes tallies settled more than `retentionDays` before `now`. @returns how many. */
  async prune(now: Date): Promise<number> {
    const before = new Date(now.getTime() - this.options.settings.retentionDays * 86_400_000).toISOString();
    return deleteSettledTalliesBefore(this.options.db, before);
  }

  /**
   * The job hook: records the job's outcome on its tally, inside the job's outcome transaction.
   * @throws Error when a succeeded job's result is not `{sum, count}` (the outcome is then not recorded).
   */
  async recordOutcome({ outcome, job, tx, at }: JobOutcomeEvent): Promise<void> {
    if (!job.parent_id) return;
    const topic = `${TALLY_TOPIC}:${job.parent_id}`;
    if (outcome !== 'succeeded') {
      const settled = await settleTally(tx.db, job.parent_id, { status: 'failed', result: null, updated_at: at });
      if (settled) await this.options.topics.publish(tx, topic, 'tally.settled', { status: 'failed', outcome, result: null });
      // Queued in the outbox by this same transaction: the email exists exactly when the failure does.
      const user = settled ? await this.options.notify.recipient(tx, settled.owner_id) : undefined;
      if (settled && user) {
        await this.options.notify.enqueue(tx, 'tally.failed', { user, tally_id: settled.id, outcome, url: `${this.options.publicUrl}/api/v1/tallies/${settled.id}` });
      }
      return;
    }
    const result = job.result as { sum?: unknown; count?: unknown } | null;
    if (typeof result?.sum !== 'number' || typeof result.count !== 'number') throw new Error(`job ${job.id} returned no {sum, count}`);
    const settled = await settleTally(tx.db, job.parent_id, { status: 'done', result: JSON.stringify({ sum: result.sum, count: result.count }), updated_at: at });
    // Published by the same transaction: subscribers hear of it exactly when it is recorded.
    if (settled) await this.options.topics.publish(tx, topic, 'tally.settled', { status: 'done', outcome, result: { sum: result.sum, count: result.count } });
  }

  /** Creates the module's queue on first use (a second instance racing to it finds it there). */
  private ensureQueue(): Promise<void> {
    this.queueReady ??= this.options.queues.create(this.options.settings.queue, {}, SYSTEM_ACTOR).then(
      () => undefined,
      (error: unknown) => {
        if (isAppError(error, 'conflict')) return;
        this.queueReady = undefined;
        throw error;
      },
    );
    return this.queueReady;
  }
}
