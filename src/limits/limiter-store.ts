/**
 * Where rate-limit and quota counters live: process memory for a single instance, or Redis when
 * `REDIS_URL` is set so that every instance behind a load balancer shares one count.
 *
 * Redis limiters carry an in-memory `insuranceLimiter` (rate-limiter-flexible's pattern): while
 * Redis is unreachable each instance falls back to its own counters, so an outage degrades
 * limits to per-instance ones instead of failing requests. The ioredis client runs with
 * `enableOfflineQueue: false`, as rate-limiter-flexible recommends, so a command issued while
 * disconnected fails at once (and goes to the insurance limiter) instead of queueing.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import { LimiterWindowCounter, MemoryWindowCounter, type WindowCounter } from './window-counter.js';

/** A limit: `points` actions per fixed window of `durationSeconds`, optionally blocking past it. */
export interface LimitRule {
  /** Actions allowed per window (a positive integer). */
  points: number;
  /** Window length in seconds, counted from the key's first action; at most {@link MAX_DURATION_SECONDS}. */
  durationSeconds: number;
  /** When set, a key that goes over `points` is refused for this many seconds. Default: no block. */
  blockDurationSeconds?: number;
}

/** Creates limiters on one store. */
export interface LimiterStore {
  /** `memory` (this process only) or `redis` (shared by every instance); for logs and tests. */
  readonly kind: 'memory' | 'redis';
  /**
   * The limiter named `name` (it prefixes every key, so names must be unique per purpose).
   * Calling again with the same name and rule returns the same limiter.
   * @throws Error when `name` was already created with another rule, or the rule is out of range.
   */
  create(name: string, rule: LimitRule): RateLimiterAbstract;
  /**
   * A counter for the per-request limits named `name` (same naming rule as {@link create}):
   * synchronous in memory, a Redis limiter's count with Redis. Same name and rule, same counter.
   * @throws Error when `name` was already created with another rule, or the rule is out of range.
   */
  createCounter(name: string, rule: LimitRule): WindowCounter;
  /** Quits the Redis client (no-op in memory). Safe to call twice. */
  close(): Promise<void>;
}

/** Options for {@link createLimiterStore}. */
export interface LimiterStoreOptions {
  /** `redis://` or `rediss://` URL, or null for in-memory limiters. */
  redisUrl: string | null;
  logger: Logger;
  /** Prefix of every key (tests use a unique one per run). Default `gatehouse`. */
  keyPrefix?: string;
  /** How long start-up waits for the first Redis connection before going on degraded, in ms. Default 3000. */
  connectTimeoutMs?: number;
  /** How long one Redis command may take before the insurance limiter answers instead, in ms. Default 1000. */
  commandTimeoutMs?: number;
}

/**
 * The longest window a limiter accepts: 24 days. The in-memory store expires keys with
 * `setTimeout`, whose delay overflows past 2^31-1 ms (24.8 days) and would fire at once.
 */
export const MAX_DURATION_SECONDS = 24 * 86_400;

/**
 * A fixed-length, opaque key from its parts (emails, IPs, ids). Keys are hashed so that Redis
 * never holds email addresses or IPs in clear, and attacker-chosen input cannot make keys long.
 */
export function limiterKey(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('base64url').slice(0, 22);
}

function validateRule(name: string, rule: LimitRule): void {
  const ok =
    Number.isInteger(rule.points) &&
    rule.points > 0 &&
    Number.isInteger(rule.durationSeconds) &&
    rule.durationSeconds > 0 &&
    rule.durationSeconds <= MAX_DURATION_SECONDS &&
    (rule.blockDurationSeconds === undefined ||
      (Number.isInteger(rule.blockDurationSeconds) &&
        rule.blockDurationSeconds >= 0 &&
        rule.blockDurationSeconds <= MAX_DURATION_SECONDS));
  if (!ok) throw new Error(`Invalid limit rule for "${name}": ${JSON.stringify(rule)}`);
}

function sameRule(a: LimitRule, b: LimitRule): boolean {
  return a.points === b.points && a.durationSeconds === b.durationSeconds && (a.blockDurationSeconds ?? 0) === (b.blockDurationSeconds ?? 0);
}

/**
 * RateLimiterRedis with one fix: when Redis fails, `block()` and `set()` hand the insurance
 * limiter `parseKey(rlKey)`, which in rate-limiter-flexible 7.4 keeps the `:` after the prefix
 * (`getKey` adds `prefix:`, `parseKey` strips only `prefix`), so the fallback would write a key
 * that `get()` never reads and lockouts would vanish during an outage.
 */
class SharedRateLimiter extends RateLimiterRedis {
  override parseKey(rlKey: string): string {
    return this.keyPrefix.length > 0 ? rlKey.substring(this.keyPrefix.length + 1) : rlKey;
  }
}

function memoryLimiter(keyPrefix: string, rule: LimitRule): RateLimiterMemory {
  return new RateLimiterMemory({
    keyPrefix,
    points: rule.points,
    duration: rule.durationSeconds,
    blockDuration: rule.blockDurationSeconds ?? 0,
  });
}

/** Caches limiters by name so that one name always means one set of counters. */
function limiterRegistry<L>(build: (keyPrefix: string, rule: LimitRule) => L, prefix: string) {
  const created = new Map<string, { rule: LimitRule; limiter: L }>();
  return (name: string, rule: LimitRule): L => {
    validateRule(name, rule);
    const existing = created.get(name);
    if (existing) {
      if (!sameRule(existing.rule, rule)) throw new Error(`Limiter "${name}" already exists with another rule`);
      return existing.limiter;
    }
    const limiter = build(`${prefix}:${name}`, rule);
    created.set(name, { rule: { ...rule }, limiter });
    return limiter;
  };
}

/**
 * Opens the limiter store `REDIS_URL` selects. With Redis, waits up to `connectTimeoutMs` for
 * the first connection; if Redis is down it logs a warning and starts anyway on the insurance
 * limiters (ioredis keeps reconnecting in the background and limits become shared again once
 * it is back). Connection losses and recoveries are logged once each, not per command.
 *
 * @returns a {@link LimiterStore}; never throws for an unreachable Redis.
 */
export async function createLimiterStore(options: LimiterStoreOptions): Promise<LimiterStore> {
  const prefix = options.keyPrefix ?? 'gatehouse';
  const logger = options.logger;
  if (!options.redisUrl) {
    return {
      kind: 'memory',
      create: limiterRegistry(memoryLimiter, prefix),
      createCounter: limiterRegistry((_keyPrefix, rule) => new MemoryWindowCounter(rule.durationSeconds), `${prefix}:counter`),
      close: async () => undefined,
    };
  }

  // ioredis is loaded only when Redis is configured (a third of a second of start-up otherwise).
  const { Redis } = await import('ioredis');
  const client = new Redis(options.redisUrl, {
    // Fail fast while disconnected so the insurance limiter answers (rate-limiter-flexible's advice).
    enableOfflineQueue: false,
    commandTimeout: options.commandTimeoutMs ?? 1000,
    // RESP2 keeps the reply shapes rate-limiter-flexible parses and works with any Redis version.
    protocol: 2,
    lazyConnect: true,
  });
  let available = false;
  let warned = false;
  let closing = false;
  client.on('ready', () => {
    if (!available && warned) logger.info('Redis limiter store is reachable again: limits are shared across instances');
    available = true;
    warned = false;
  });
  client.on('error', (error: Error) => {
    if (warned || closing) return;
    warned = true;
    available = false;
    logger.warn({ err: error }, 'Redis limiter store is unreachable: limits fall back to per-instance memory');
  });
  client.on('close', () => {
    if (available && !warned && !closing) {
      warned = true;
      logger.warn('Redis limiter store connection lost: limits fall back to per-instance memory');
    }
    available = false;
  });

  const timeoutMs = options.connectTimeoutMs ?? 3000;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    client.connect().catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
  if (client.status === 'ready') logger.info('rate limits and quotas use Redis (shared by all instances)');

  const build = (keyPrefix: string, rule: LimitRule): RateLimiterAbstract =>
    new SharedRateLimiter({
      storeClient: client,
      keyPrefix,
      points: rule.points,
      duration: rule.durationSeconds,
      blockDuration: rule.blockDurationSeconds ?? 0,
      // Not "ready" (connecting, reconnecting): answer from memory at once instead of erroring.
      rejectIfRedisNotReady: true,
      insuranceLimiter: memoryLimiter(`${keyPrefix}:insurance`, rule),
    });

  let closed: Promise<void> | undefined;
  return {
    kind: 'redis',
    create: limiterRegistry(build, prefix),
    // Counters never refuse by themselves (the hooks compare the count): the largest points.
    createCounter: limiterRegistry(
      (keyPrefix, rule) => new LimiterWindowCounter(build(keyPrefix, { ...rule, points: Number.MAX_SAFE_INTEGER - 1 })),
      `${prefix}:counter`,
    ),
    close: () =>
      (closed ??= (async () => {
        closing = true;
        if (client.status === 'ready') {
          await client.quit().catch(() => client.disconnect());
        } else {
          client.disconnect();
        }
      })()),
  };
}
