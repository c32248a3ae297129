/**
 * Which limiter stores the limits suites run on: memory always, Redis when TEST_REDIS_URL is set.
 * Under CI (`CI=true`) a missing TEST_REDIS_URL is an error, never a silent skip.
 */
import pino from 'pino';
import { createLimiterStore, type LimiterStore } from '../../src/limits/limiter-store.js';

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL;

if (process.env.CI === 'true' && !TEST_REDIS_URL) {
  throw new Error('CI=true but TEST_REDIS_URL is not set: the Redis variant of the limits suite would be skipped.');
}
if (!TEST_REDIS_URL) {
  console.warn('TEST_REDIS_URL is not set: skipping the Redis variants of the limits tests (memory only).');
}

/** The store kinds to run each limits suite on. */
export const storeKinds: Array<'memory' | 'redis'> = TEST_REDIS_URL ? ['memory', 'redis'] : ['memory'];

/** A key prefix no other test run uses, so runs on one Redis never see each other's counters. */
export function uniquePrefix(label = 'test'): string {
  return `gh-${label}-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** A fresh store of `kind` with a unique key prefix. Close it after the test. */
export function openStore(kind: 'memory' | 'redis'): Promise<LimiterStore> {
  return createLimiterStore({
    redisUrl: kind === 'redis' ? (TEST_REDIS_URL as string) : null,
    logger: pino({ level: 'silent' }),
    keyPrefix: uniquePrefix(kind),
  });
}

/** A random IPv4 address in 10/8, unique enough that runs sharing one Redis do not collide. */
export function randomIp(): string {
  const octet = () => Math.floor(Math.random() * 254) + 1;
  return `10.${octet()}.${octet()}.${octet()}`;
}
