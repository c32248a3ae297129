/** Queries for the `outbox` table: a durable queue of outgoing messages. */
import type { Executor } from '../db/executor.js';
import type { OutboxRow, OutboxTable } from '../db/schema.js';

/** Inserts a message; call inside the transaction that caused it (transactional outbox). */
export async function insertOutboxMessage(db: Executor, row: OutboxTable): Promise<void> {
  await db.insertInto('outbox').values(row).execute();
}

/**
 * Up to `limit` pending messages of `channels` due at `nowIso` and not leased by another
 * dispatcher, oldest first. No channels: none.
 */
export async function findDueMessages(
  db: Executor,
  nowIso: string,
  limit: number,
  channels: readonly OutboxRow['channel'][],
): Promise<OutboxRow[]> {
  if (channels.length === 0) return [];
  return db
    .selectFrom('outbox')
    .selectAll()
    .where('status', '=', 'pending')
    .where('channel', 'in', channels)
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

/** Messages, newest first, optionally filtered by status and capped at `limit` (operators and tests). */
export async function listOutboxMessages(db: Executor, status?: OutboxRow['status'], limit?: number): Promise<OutboxRow[]> {
  let q = db.selectFrom('outbox').selectAll().orderBy('id', 'desc');
  if (status) q = q.where('status', '=', status);
  if (limit !== undefined) q = q.limit(limit);
  return q.execute();
}

/**
 * One page of messages, newest first (ids are time-ordered UUIDv7): those with an id below
 * `beforeId` when given, optionally of one status; at most `limit` rows.
 */
export async function listOutboxPage(
  db: Executor,
  query: { status?: OutboxRow['status'] | undefined; beforeId?: string | undefined; limit: number },
): Promise<OutboxRow[]> {
  let q = db.selectFrom('outbox').selectAll().orderBy('id', 'desc').limit(query.limit);
  if (query.status) q = q.where('status', '=', query.status);
  if (query.beforeId) q = q.where('id', '<', query.beforeId);
  return q.execute();
}

/** One message by id, or undefined. */
export async function findOutboxMessage(db: Executor, id: string): Promise<OutboxRow | undefined> {
  return db.selectFrom('outbox').selectAll().where('id', '=', id).executeTakeFirst();
}

/**
 * Makes unsent messages due at `nowIso` with a fresh series of attempts: one by id
 * (`ids`), or every dead one (`ids` = 'dead'). Sent messages are never touched.
 * @returns how many messages were reset.
 */
export async function resetMessagesForRetry(db: Executor, ids: string[] | 'dead', nowIso: string): Promise<number> {
  let q = db
    .updateTable('outbox')
    .set({ status: 'pending', attempts: 0, next_attempt_at: nowIso, locked_until: null })
    .where('status', '!=', 'sent');
  q = ids === 'dead' ? q.where('status', '=', 'dead') : q.where('id', 'in', ids.length ? ids : ['']);
  const result = await q.executeTakeFirst();
  return Number(result.numUpdatedRows);
}
