/**
 * The whole live event log, job events and module topic events together, read in global id order:
 * what the hub needs to catch up with other processes (SQLite) and to resolve cross-instance
 * hints that carry only ids (PostgreSQL).
 */
import type { Executor } from '../db/executor.js';
import { eventMessagesAfter, findEventMessagesByIds, latestEventId } from '../jobs/job-events.repo.js';
import type { LiveMessage } from './live-message.js';
import { findTopicEventsByIds, latestTopicEventId, topicEventsAfter } from './topic-events.repo.js';

/**
 * Up to about `limit` events of either kind with a global id above `afterId`, in id order.
 * Each table is read up to `limit`; when one page is full, events past its last id are held back
 * for the next call, so the merged page never skips an id of the other table.
 */
export async function liveEventsAfter(db: Executor, afterId: number, limit: number): Promise<LiveMessage[]> {
  const [jobs, topics] = await Promise.all([eventMessagesAfter(db, afterId, limit), topicEventsAfter(db, afterId, limit)]);
  return mergePages([jobs, topics], limit).messages;
}

/**
 * Merges pages read from several tables (each in global id order, each at most `limit` long) into
 * one page in id order. A full page may have more beyond its last id, so everything above the
 * smallest last id of the full pages is held back for the next read: the merged page never skips
 * an id.
 * @returns the merged page, and whether more may follow (some page was full).
 */
export function mergePages(pages: ReadonlyArray<readonly LiveMessage[]>, limit: number): { messages: LiveMessage[]; more: boolean } {
  let cutoff = Number.POSITIVE_INFINITY;
  for (const page of pages) if (page.length >= limit) cutoff = Math.min(cutoff, page[page.length - 1]!.event.id);
  const messages = pages
    .flat()
    .filter((m) => m.event.id <= cutoff)
    .sort((a, b) => a.event.id - b.event.id);
  return { messages, more: cutoff !== Number.POSITIVE_INFINITY };
}

/** Events of either kind by global id, in id order. */
export async function liveEventsByIds(db: Executor, ids: readonly number[]): Promise<LiveMessage[]> {
  const [jobs, topics] = await Promise.all([findEventMessagesByIds(db, ids), findTopicEventsByIds(db, ids)]);
  return [...jobs, ...topics].sort((a, b) => a.event.id - b.event.id);
}

/** The largest global event id of either kind, or 0. */
export async function latestLiveEventId(db: Executor): Promise<number> {
  const [jobs, topics] = await Promise.all([latestEventId(db), latestTopicEventId(db)]);
  return Math.max(jobs, topics);
}
