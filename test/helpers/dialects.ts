/**
 * Which database dialects the suite runs on: SQLite always, PostgreSQL when TEST_DATABASE_URL is
 * set. Under CI (`CI=true`) a missing TEST_DATABASE_URL is an error, never a silent skip.
 */
import type { DatabaseDialect } from '../../src/config.js';

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL;

if (process.env.CI === 'true' && !TEST_DATABASE_URL) {
  throw new Error('CI=true but TEST_DATABASE_URL is not set: the PostgreSQL variant of the suite would be skipped.');
}

/** The dialects to run each integration suite on. */
export const dialects: DatabaseDialect[] = TEST_DATABASE_URL ? ['sqlite', 'postgres'] : ['sqlite'];
