/**
 * Read-only queries behind live-stream authorisation: who owns a job and who holds it, which
 * permission a queue asks of its enqueuers.
 */
import type { Executor } from '../db/executor.js';
import type { JobState } from '../db/schema.js';

/** What deciding access to a `job:{id}` topic needs to know about the job. */
export interface JobAccessRow {
  id: string;
  queue: string;
  owner_id: string | null;
  state: JobState;
  worker_id: string | null;
}

/** The job's owner, state and holder, or undefined when there is no such job. */
export async function findJobAccess(db: Executor, jobId: string): Promise<JobAccessRow | undefined> {
  return db
    .selectFrom('job')
    .select(['id', 'queue', 'owner_id', 'state', 'worker_id'])
    .where('id', '=', jobId)
    .executeTakeFirst();
}

/** The permission needed to enqueue into `name`, or undefined when there is no such queue. */
export async function findQueueEnqueuePermission(db: Executor, name: string): Promise<string | undefined> {
  const row = await db.selectFrom('queue').select('enqueue_permission').where('name', '=', name).executeTakeFirst();
  return row?.enqueue_permission;
}
