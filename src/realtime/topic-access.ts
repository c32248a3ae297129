/**
 * Who may watch which live topic (docs/jobs.md, "Live progress"):
 *
 * - `job:{id}`: the job's owner (with `events:read`), principals with `jobs:manage`, and the worker (the API key's
 *   worker row) currently holding the job (state `running` or `paused` under that worker).
 * - `queue:{name}`: `jobs:manage` sees every job's events; a principal holding the queue's
 *   `enqueue_permission` (and `events:read`) sees only the events of jobs it owns.
 * - `<prefix>:<id>` of a feature module ({@link ModuleTopic}): whoever the module's authoriser admits.
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

/**
 * A family of live topics a feature module owns, `<prefix>:<id>` (e.g. `submission:{id}`). Its
 * events are published with `gatehouse.topics.publish(tx, topic, type, data)` inside the
 * transaction that causes them and reach SSE and WebSocket subscribers after commit, with the
 * same `Last-Event-ID` replay as job events.
 */
export interface ModuleTopic {
  /** `[a-z][a-z0-9-]*`, unique across modules; `job` and `queue` are the platform's. */
  prefix: string;
  /** One line for the docs. */
  description: string;
  /**
   * Decides whether `principal` may watch `<prefix>:<id>` (when a stream subscribes; a stream
   * keeps what it was granted until it closes). Resolves when allowed.
   * @throws AppError `not_found` (404) for an unknown object, `forbidden` (403) otherwise.
   */
  authorize(principal: Principal, id: string): Promise<void>;
}

/** What a module topic id may look like: ids, slugs, numbers (no `,` so topic lists stay splittable). */
const MODULE_TOPIC_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** A module topic prefix. */
export const MODULE_TOPIC_PREFIX = /^[a-z][a-z0-9-]{0,31}$/;

/** A live topic: a job, a queue, or one object of a module's topic family. */
export type LiveTopic = Topic | { kind: 'module'; prefix: string; id: string };

/** `job:{id}`, `queue:{name}` or `<prefix>:<id>`: the hub's key for the topic. */
export function liveTopicKey(topic: LiveTopic): string {
  return topic.kind === 'module' ? `${topic.prefix}:${topic.id}` : topicKey(topic);
}

/**
 * Parses one topic string against the platform's topics and the modules' prefixes.
 * @returns null when it is none of them.
 */
export function parseLiveTopic(text: string, modulePrefixes: ReadonlySet<string>): LiveTopic | null {
  const platform = parseTopic(text);
  if (platform) return platform;
  const colon = text.indexOf(':');
  if (colon < 0) return null;
  const prefix = text.slice(0, colon);
  const id = text.slice(colon + 1);
  return modulePrefixes.has(prefix) && MODULE_TOPIC_ID.test(id) ? { kind: 'module', prefix, id } : null;
}

/** A topic the caller may watch, with the filter that applies to it. */
export interface AuthorizedTopic {
  /** `job:{id}`, `queue:{name}` or `<prefix>:<id>` (the hub's topic key). */
  key: string;
  topic: LiveTopic;
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
 * @param modulePrefixes the prefixes feature modules declared (besides `job` and `queue`).
 * @throws AppError `validation_failed` (400) for an empty list, a malformed topic, or more than
 *   `maxTopics` distinct topics.
 */
export function parseTopics(texts: readonly string[], maxTopics: number, modulePrefixes: ReadonlySet<string> = new Set()): LiveTopic[] {
  const topics = new Map<string, LiveTopic>();
  for (const text of texts) {
    const topic = parseLiveTopic(text.trim(), modulePrefixes);
    if (!topic) {
      const kinds = ['job:{id}', 'queue:{name}', ...[...modulePrefixes].map((p) => `${p}:{id}`)].join(', ');
      throw new AppError('validation_failed', `"${text.slice(0, 100)}" is not a topic: use one of ${kinds}.`, {
        errors: [{ field: 'topics', message: `invalid topic ${JSON.stringify(text.slice(0, 100))}` }],
      });
    }
    topics.set(liveTopicKey(topic), topic);
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
  private readonly moduleTopics = new Map<string, ModuleTopic>();

  constructor(private readonly db: Executor) {}

  /** The prefixes of the registered module topics. */
  get modulePrefixes(): ReadonlySet<string> {
    return new Set(this.moduleTopics.keys());
  }

  /** True when `prefix` names a registered module topic family. */
  hasModulePrefix(prefix: string): boolean {
    return this.moduleTopics.has(prefix);
  }

  /**
   * Registers module topic families (when the modules' services exist).
   * @throws Error for a malformed prefix, `job`/`queue`, or a prefix registered twice.
   */
  addModuleTopics(topics: readonly ModuleTopic[]): void {
    for (const topic of topics) {
      if (!MODULE_TOPIC_PREFIX.test(topic.prefix) || topic.prefix === 'job' || topic.prefix === 'queue') {
        throw new Error(`Topic prefix "${topic.prefix}" is not allowed: use [a-z][a-z0-9-]* other than job and queue.`);
      }
      if (this.moduleTopics.has(topic.prefix)) throw new Error(`Topic prefix "${topic.prefix}" is declared twice.`);
      this.moduleTopics.set(topic.prefix, topic);
    }
  }

  /**
   * Authorises every topic, all or nothing.
   * @throws AppError `not_found` (404) for an unknown job or queue; `forbidden` (403) for a topic
   *   the principal may not watch.
   */
  async authorize(principal: Principal, topics: readonly LiveTopic[]): Promise<AuthorizedTopic[]> {
    const granted: AuthorizedTopic[] = [];
    for (const topic of topics) {
      const key = liveTopicKey(topic);
      if (topic.kind === 'module') {
        const owner = this.moduleTopics.get(topic.prefix);
        if (!owner) throw new AppError('validation_failed', `There is no topic family ${topic.prefix}.`);
        await owner.authorize(principal, topic.id);
        granted.push({ key, topic, ownerId: null });
        continue;
      }
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
