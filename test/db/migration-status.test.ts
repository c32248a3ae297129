/**
 * `migrationStatus`, the cheap read that lets `gatehouse.start()` and every CLI command skip the
 * migrator on a current database, on both dialects: a new database (nothing applied, every
 * migration pending, and nothing created by the read), one migrated part way (the rest pending,
 * a module's set counted on its own), and a current one (nothing pending); it agrees with the
 * migrator's own `pendingMigrations` each time.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tallyModule } from '../../examples/tally/index.js';
import { type DatabaseHandle, openDatabase } from '../../src/db/database.js';
import { migrateTo, migrateToLatest, migrationStatus, pendingMigrations } from '../../src/db/migrate.js';
import { dialects } from '../helpers/dialects.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

/** The platform's migrations, in order (one per file in src/db/migrations). */
const PLATFORM = [
  '0001-accounts',
  '0002-access',
  '0003-scheduler',
  '0004-notify',
  '0005-email-change',
  '0006-jobs',
  '0007-storage-quota',
  '0008-job-owner-scopes',
  '0009-topic-events',
  '0010-identities',
  '0011-mfa',
  '0012-job-claim-lock',
  '0013-job-cycle-indexes',
];

describe.each(dialects)('migrationStatus (%s)', (dialect) => {
  let database: TestDatabase;
  let handle: DatabaseHandle;
  const modules = [tallyModule];

  async function tables(): Promise<string[]> {
    const result =
      dialect === 'sqlite'
        ? await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(handle.db)
        : await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = 'public'`.execute(handle.db);
    return result.rows.map((row) => row.name);
  }

  beforeAll(async () => {
    database = await createTestDatabase(dialect);
    handle = openDatabase({ dialect, url: database.url.replace(/^sqlite:/, ''), poolSize: 2, preparedStatements: false });
  });
  afterAll(async () => {
    await handle?.close();
    await database?.drop();
  });

  it('a new database: nothing applied, everything pending, and the read creates no table', async () => {
    expect(await migrationStatus(handle.db, dialect, modules)).toEqual({ applied: 0, pending: [...PLATFORM, 'tally/0001-tally'] });
    expect(await tables()).toEqual([]);
  });

  it('part way: the platform up to 0006 applied; the rest and the module pending, as the migrator says', async () => {
    await migrateTo(handle.db, dialect, '0006-jobs');
    const status = await migrationStatus(handle.db, dialect, modules);
    expect(status).toEqual({ applied: 6, pending: ['0007-storage-quota', '0008-job-owner-scopes', '0009-topic-events', '0010-identities', '0011-mfa', '0012-job-claim-lock', '0013-job-cycle-indexes', 'tally/0001-tally'] });
    expect(status.pending).toEqual(await pendingMigrations(handle.db, dialect, modules));
  });

  it('current: nothing pending; the module is counted from its own table', async () => {
    await migrateToLatest(handle.db, dialect, modules);
    expect(await migrationStatus(handle.db, dialect, modules)).toEqual({ applied: PLATFORM.length + 1, pending: [] });
    expect(await migrationStatus(handle.db, dialect)).toEqual({ applied: PLATFORM.length, pending: [] });
    expect(await pendingMigrations(handle.db, dialect, modules)).toEqual([]);
  });
});
