/**
 * The event log's public interface for other features: appending job events and topic events,
 * and reading them back for history, replay (`Last-Event-ID`) and live delivery. Every function
 * takes the executor to run on (`Kysely` or a transaction), so jobs append their events inside the
 * statement or transaction that changes a job, and topics inside the caller's transaction; the
 * shapes, units and errors are documented on each function in event-log.repo.ts. Other features
 * import from here, never from the repository (ESLint's feature-boundary rule).
 */
export {
  deleteTopicEvents,
  deleteTopicEventsBefore,
  insertJobEvents,
  insertTopicEvent,
  latestJobEvents,
  latestLiveEventId,
  latestQueueEventId,
  latestTopicEvents,
  listJobEvents,
  liveEventsAfter,
  liveEventsByIds,
  replayJobEvents,
  replayTopicEvents,
} from './event-log.repo.js';
export type { NewTopicEvent, ReplayQuery } from './event-log.repo.js';
