/**
 * `migrationStatus`, the cheap read that lets `gatehouse.start()` and every CLI command skip the
 * migrator on a current database, on both dialects: a new database (nothing applied, every
 * migration pending, and nothing created by the read), one migrated part way (the rest pending,
 * a module's set counted on its own), and a current one (nothing pending); it agrees with the
 * migrator's own `pendingMigrations` each time.
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { tallyModule } from '../../examples/tally/index.js';
import { migrateTo, migrateToLatest, migrationStatus, pendingMigrations } from '../../src/db/migrate.js';
import { dialects } from '../helpers/dialects.js';
import { useUnmigratedDatabase } from '../helpers/unmigrated-database.js';

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
  const scratch = useUnmigratedDatabase(dialect);
  const modules = [tallyModule];

  async function tables(): Promise<string[]> {
    const result =
      dialect === 'sqlite'
        ? await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(scratch.handle.db)
        : await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = 'public'`.execute(scratch.handle.db);
    return result.rows.map((row) => row.name);
  }

  it('a new database: nothing applied, everything pending, and the read creates no table', async () => {
    expect(await migrationStatus(scratch.handle.db, dialect, modules)).toEqual({ applied: 0, pending: [...PLATFORM, 'tally/0001-tally'] });
    expect(await tables()).toEqual([]);
  });

  it('part way: the platform up to 0006 applied; the rest and the module pending, as the migrator says', async () => {
    await migrateTo(scratch.handle.db, dialect, '0006-jobs');
    const status = await migrationStatus(scratch.handle.db, dialect, modules);
    expect(status).toEqual({ applied: 6, pending: ['0007-storage-quota', '0008-job-owner-scopes', '0009-topic-events', '0010-identities', '0011-mfa', '0012-job-claim-lock', '0013-job-cycle-indexes', 'tally/0001-tally'] });
    expect(status.pending).toEqual(await pendingMigrations(scratch.handle.db, dialect, modules));
  });

  it('current: nothing pending; the module is counted from its own table', async () => {
    await migrateToLatest(scratch.handle.db, dialect, modules);
    expect(await migrationStatus(scratch.handle.db, dialect, modules)).toEqual({ applied: PLATFORM.length + 1, pending: [] });
    expect(await migrationStatus(scratch.handle.db, dialect)).toEqual({ applied: PLATFORM.length, pending: [] });
    expect(await pendingMigrations(scratch.handle.db, dialect, modules)).toEqual([]);
  });
});
