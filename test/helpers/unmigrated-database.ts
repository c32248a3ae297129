/**
 * For migration tests: a scratch database with no table yet, opened without migrating it, for
 * the whole describe block that calls {@link useUnmigratedDatabase}.
 */
import { afterAll, beforeAll } from 'vitest';
import type { DatabaseDialect } from '../../src/config.js';
import { type DatabaseHandle, openDatabase } from '../../src/db/database.js';
import { createTestDatabase, type TestDatabase } from './test-database.js';

/** What {@link useUnmigratedDatabase} gives: read its fields inside tests and hooks. */
export interface UnmigratedDatabase {
  /** The open handle (no prepared statements, two connections on PostgreSQL). */
  readonly handle: DatabaseHandle;
  readonly database: TestDatabase;
}

/**
 * Registers `beforeAll` (create the scratch database of `dialect`, open it) and `afterAll` (close
 * and drop it) in the calling describe block.
 * @throws Error when a field is read before `beforeAll` has run.
 */
export function useUnmigratedDatabase(dialect: DatabaseDialect): UnmigratedDatabase {
  let handle: DatabaseHandle | undefined;
  let database: TestDatabase | undefined;
  beforeAll(async () => {
    database = await createTestDatabase(dialect);
    handle = openDatabase({ dialect, url: database.url.replace(/^sqlite:/, ''), poolSize: 2, preparedStatements: false });
  });
  afterAll(async () => {
    await handle?.close();
    await database?.drop();
  });
  const ready = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('useUnmigratedDatabase: read inside a test or hook, after beforeAll');
    return value;
  };
  return {
    get handle() {
      return ready(handle);
    },
    get database() {
      return ready(database);
    },
  };
}
