/** Queries for the `queue` table and the per-queue statistics. */
import { sql } from 'kysely';
import type { Executor } from '../db/executor.js';
import type { JobState, QueueRow, QueueTable } from '../db/schema.js';
import { HELD, QUEUED } from './jobs.repo.js';

/** Inserts a queue. @throws a unique violation when the name exists. */
export async function insertQueue(db: Executor, row: QueueTable): Promise<void> {
  await db.insertInto('queue').values(row).execute();
}

/** The queue with this name. */
export async function findQueue(db: Executor, name: string): Promise<QueueRow | undefined> {
  return db.selectFrom('queue').selectAll().where('name', '=', name).executeTakeFirst();
}

/** Queues with these names. */
export async function findQueues(db: Executor, names: readonly string[]): Promise<QueueRow[]> {
  if (!names.length) return [];
  return db.selectFrom('queue').selectAll().where('name', 'in', [...names]).execute();
}

/** Every queue, by name. */
export async function listQueues(db: Executor): Promise<QueueRow[]> {
  return db.selectFrom('queue').selectAll().orderBy('name').execute();
}

/** Changes a queue. @returns the updated row, or undefined when it does not exist. */
export async function updateQueue(
  db: Executor,
  name: string,
  changes: Partial<Omit<QueueTable, 'name' | 'created_at'>>,
): Promise<QueueRow | undefined> {
  return db.updateTable('queue').set(changes).where('name', '=', name).returningAll().executeTakeFirst();
}

/** Raw figures behind a queue's statistics. */
export interface QueueFigures {
  counts: Partial<Record<JobState, number>>;
  /** `[started_at, finished_at]` of (at most the latest 10,000) jobs that succeeded since `since`. */
  durations: Array<[string, string]>;
  succeededSince: number;
  failedSince: number;
  /** Earliest `run_after` among claimable queued jobs, if any. */
  oldestQueuedRunAfter: string | null;
  activeWorkers: number;
}

/** Counts and recent durations for one queue (`since`/`now` are ISO times). */
export async function queueFigures(db: Executor, queue: string, since: string, now: string): Promise<QueueFigures> {
  const countFinished = (states: JobState[]) =>
    db
      .selectFrom('job')
      .select(sql<number>`count(*)`.as('n'))
      .where('queue', '=', queue)
      .where('state', 'in', states)
      .where('finished_at', '>=', since)
      .executeTakeFirst();
  const [counts, durations, succeeded, failed, oldest, workers] = await Promise.all([
    db
      .selectFrom('job')
      .select(['state', sql<number>`count(*)`.as('n')])
      .where('queue', '=', queue)
      .groupBy('state')
      .execute(),
    db
      .selectFrom('job')
      .select(['started_at', 'finished_at'])
      .where('queue', '=', queue)
      .where('state', '=', 'succeeded')
      .where('finished_at', '>=', since)
      .orderBy('finished_at', 'desc')
      .limit(10_000)
      .execute(),
    countFinished(['succeeded']),
    countFinished(['failed', 'dead']),
    db
      .selectFrom('job')
      .select(sql<string | null>`min(run_after)`.as('oldest'))
      .where('queue', '=', queue)
      .where(QUEUED)
      .where('run_after', '<=', now)
      .executeTakeFirst(),
    db
      .selectFrom('job')
      .select(sql<number>`count(distinct worker_id)`.as('n'))
      .where('queue', '=', queue)
      .where(HELD)
      .executeTakeFirst(),
  ]);
  const byState: Partial<Record<JobState, number>> = {};
  for (const row of counts) byState[row.state] = Number(row.n);
  const pairs = durations.filter((d): d is { started_at: string; finished_at: string } => !!d.started_at && !!d.finished_at);
  const oldestValue = oldest?.oldest ?? null;
  return {
    counts: byState,
    durations: pairs.map((d) => [d.started_at, d.finished_at]),
    succeededSince: Number(succeeded?.n ?? 0),
    failedSince: Number(failed?.n ?? 0),
    // PostgreSQL's min() over timestamptz comes back through the type parser; SQLite's is the text itself.
    oldestQueuedRunAfter: oldestValue === null ? null : new Date(oldestValue).toISOString(),
    activeWorkers: Number(workers?.n ?? 0),
  };
}
