/**
 * Read (and, for fault tests, adjust) the database of a Gatehouse process from the test, through
 * the same `openDatabase` the server uses. Close the handle when done.
 */
import type { DatabaseHandle } from '../../src/db/database.js';
import { openDatabase } from '../../src/db/database.js';
import type { OutboxRow } from '../../src/db/schema.js';
import type { TestDatabase } from './test-database.js';

/** Opens `database` (a SQLite file or a PostgreSQL database) with a small pool. */
export function inspectDatabase(database: TestDatabase): DatabaseHandle {
  const url = database.dialect === 'sqlite' ? database.url.replace(/^sqlite:/, '') : database.url;
  return openDatabase({ dialect: database.dialect, url, poolSize: 2, preparedStatements: false });
}

/** Every outbox row addressed to `recipient` (the address exactly as registered), oldest first. */
export async function outboxFor(handle: DatabaseHandle, recipient: string): Promise<OutboxRow[]> {
  return handle.db
    .selectFrom('outbox')
    .selectAll()
    .where('recipient', '=', recipient)
    .orderBy('id', 'asc')
    .execute();
}
