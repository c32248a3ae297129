/**
 * Who may watch which live topic (docs/jobs.md, "Live progress"):
 *
 * - `job:{id}`: the job's owner (with `events:read`), principals with `jobs:manage`, and the worker (the API key's
 *   worker row) currently holding the job (state `running` or `paused` under that worker).
 * - `queue:{name}`: `jobs:manage` sees every job's events; a principal holding the queue's
 *   `enqueue_permission` (and `events:read`) sees only the events of jobs it owns.
 *
 * Access is decided when a topic is subscribed; a stream keeps what it was granted until it
 * closes (a worker that loses its job keeps the events it subscribed to while connected).
 */
import { allows } from '../access/permissions.js';
import type { Principal } from '../auth/auth.service.js';
import type { Executor } from '../db/executor.js';
import { HELD_STATES, parseTopic, type Topic, topicKey } from '../jobs/model.js';
import { AppError } from '../shared/errors.js';
import { findJobAccess, findQueueEnqueuePermission } from './topic-access.repo.js';

/** A topic the caller may watch, with the filter that applies to it. */
export interface AuthorizedTopic {
  /** `job:{id}` or `queue:{name}` (the hub's topic key). */
  key: string;
  topic: Topic;
  /**
   * For `queue:` topics watched without `jobs:manage`: only events of jobs owned by this user id.
   * Null = every event of the topic.
   */
  ownerId: string | null;
}

/** The permission that shows every job's events. */
export const MANAGE_PERMISSION = 'jobs:manage';

/** The permission that shows your own jobs' events (an API key scoped otherwise does not see them). */
export const READ_PERMISSION = 'events:read';

/**
 * Parses topic strings, dropping duplicates, keeping their order.
 * @throws AppError `validation_failed` (400) for an empty list, a malformed topic, or more than
 *   `maxTopics` distinct topics.
 */
export function parseTopics(texts: readonly string[], maxTopics: number): Topic[] {
  const topics = new Map<string, Topic>();
  for (const text of texts) {
    const topic = parseTopic(text.trim());
    if (!topic) {
      throw new AppError('validation_failed', `"${text.slice(0, 100)}" is not a topic: use job:{id} or queue:{name}.`, {
        errors: [{ field: 'topics', message: `invalid topic ${JSON.stringify(text.slice(0, 100))}` }],
      });
    }
    topics.set(topicKey(topic), topic);
  }
  if (!topics.size) {
    throw new AppError('validation_failed', 'Name at least one topic.', { errors: [{ field: 'topics', message: 'is empty' }] });
  }
  if (topics.size > maxTopics) {
    throw new AppError('validation_failed', `At most ${maxTopics} topics per stream.`, {
      errors: [{ field: 'topics', message: `more than ${maxTopics} topics` }],
    });
  }
  return [...topics.values()];
}

/** Decides access to live topics; see the module comment for the rules. */
export class TopicAccess {
  constructor(private readonly db: Executor) {}

  /**
   * Authorises every topic, all or nothing.
   * @throws AppError `not_found` (404) for an unknown job or queue; `forbidden` (403) for a topic
   *   the principal may not watch.
   */
  async authorize(principal: Principal, topics: readonly Topic[]): Promise<AuthorizedTopic[]> {
    const granted: AuthorizedTopic[] = [];
    for (const topic of topics) {
      const key = topicKey(topic);
      if (topic.kind === 'queue') {
        const permission = await findQueueEnqueuePermission(this.db, topic.name);
        if (permission === undefined) throw new AppError('not_found', `There is no queue ${topic.name}.`);
        if (allows(principal.permissions, MANAGE_PERMISSION)) {
          granted.push({ key, topic, ownerId: null });
        } else if (allows(principal.permissions, READ_PERMISSION) && allows(principal.permissions, permission)) {
          granted.push({ key, topic, ownerId: principal.user.id });
        } else {
          throw new AppError('forbidden', `Watching queue ${topic.name} needs ${MANAGE_PERMISSION} or ${permission}.`);
        }
        continue;
      }
      const job = await findJobAccess(this.db, topic.id);
      if (!job) throw new AppError('not_found', `There is no job ${topic.id}.`);
      if ((job.owner_id === principal.user.id && allows(principal.permissions, READ_PERMISSION)) || allows(principal.permissions, MANAGE_PERMISSION)) {
        granted.push({ key, topic, ownerId: null });
        continue;
      }
      // A worker's id is its API key's id (the worker protocol registers it so).
      if (principal.apiKey && job.worker_id === principal.apiKey.id && HELD_STATES.includes(job.state)) {
        granted.push({ key, topic, ownerId: null });
        continue;
      }
      throw new AppError('forbidden', `You may not watch job ${topic.id}.`);
    }
    return granted;
  }
}
