/** Queries for the `outbox` table: a durable queue of outgoing messages. */
import type { Executor } from '../db/executor.js';
import type { OutboxRow, OutboxTable } from '../db/schema.js';

/** Inserts a message; call inside the transaction that caused it (transactional outbox). */
export async function insertOutboxMessage(db: Executor, row: OutboxTable): Promise<void> {
  await db.insertInto('outbox').values(row).execute();
}

/** Up to `limit` pending messages due at `nowIso` and not leased by another dispatcher, oldest first. */
export async function findDueMessages(db: Executor, nowIso: string, limit: number): Promise<OutboxRow[]> {
  return db
    .selectFrom('outbox')
    .selectAll()
    .where('status', '=', 'pending')
    .where('next_attempt_at', '<=', nowIso)
    .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', nowIso)]))
    .orderBy('next_attempt_at', 'asc')
    .limit(limit)
    .execute();
}

/**
 * Leases one message until `lockedUntilIso`, atomically (a conditional UPDATE), so that two
 * dispatchers — in one process or several instances — never send the same message at once.
 * @returns true when this caller holds the lease.
 */
export async function leaseMessage(db: Executor, id: string, nowIso: string, lockedUntilIso: string): Promise<boolean> {
  const result = await db
    .updateTable('outbox')
    .set({ locked_until: lockedUntilIso })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', nowIso)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Records a successful delivery. */
export async function markMessageSent(db: Executor, id: string, nowIso: string, attempts: number): Promise<void> {
  await db
    .updateTable('outbox')
    .set({ status: 'sent', sent_at: nowIso, locked_until: null, attempts, last_error: null })
    .where('id', '=', id)
    .execute();
}

/** Records a failed attempt: either schedules the next one or marks the message dead. */
export async function markMessageFailed(
  db: Executor,
  id: string,
  update: { attempts: number; error: string; nextAttemptAtIso: string; dead: boolean },
): Promise<void> {
  await db
    .updateTable('outbox')
    .set({
      status: update.dead ? 'dead' : 'pending',
      attempts: update.attempts,
      last_error: update.error.slice(0, 2000),
      next_attempt_at: update.nextAttemptAtIso,
      locked_until: null,
    })
    .where('id', '=', id)
    .execute();
}

/** Every message, newest first, optionally filtered by status (operators and tests). */
export async function listOutboxMessages(db: Executor, status?: OutboxRow['status']): Promise<OutboxRow[]> {
  let q = db.selectFrom('outbox').selectAll().orderBy('id', 'desc');
  if (status) q = q.where('status', '=', status);
  return q.execute();
}
