/**
 * Versioned, append-only migrations, applied on start and by `gatehouse migrate`.
 * Names are zero-padded so they sort; never edit one that has shipped, add a new one.
 */
import { type Kysely, type Migration, type MigrationResultSet, Migrator } from 'kysely';
import type { DatabaseDialect } from '../config.js';
import { migration0001 } from './migrations/0001-accounts.js';
import { migration0002 } from './migrations/0002-access.js';
import { migration0003 } from './migrations/0003-scheduler.js';
import { migration0004 } from './migrations/0004-notify.js';
import { migration0005 } from './migrations/0005-email-change.js';
import { migration0006 } from './migrations/0006-jobs.js';
import { migration0007 } from './migrations/0007-job-owner-scopes.js';
import type { MigrationTypes } from './migrations/types.js';

function allMigrations(dialect: DatabaseDialect): Record<string, Migration> {
  const types: MigrationTypes =
    dialect === 'postgres' ? { timestamp: 'timestamptz', json: 'jsonb' } : { timestamp: 'text', json: 'text' };
  return {
    '0001-accounts': migration0001(types),
    '0002-access': migration0002(types),
    '0003-scheduler': migration0003(types),
    '0004-notify': migration0004(types),
    '0005-email-change': migration0005(types),
    '0006-jobs': migration0006(types),
    '0007-job-owner-scopes': migration0007(types),
  };
}

/** Outcome of {@link migrateToLatest}: the names of the migrations applied by this call. */
export interface MigrationReport {
  applied: string[];
}

/**
 * Applies every pending migration in order, each in its own transaction.
 *
 * @throws the first migration error (the failed migration is rolled back; earlier ones stay).
 */
export async function migrateToLatest(db: Kysely<any>, dialect: DatabaseDialect): Promise<MigrationReport> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => allMigrations(dialect) },
  });
  const result: MigrationResultSet = await migrator.migrateToLatest();
  if (result.error) throw result.error;
  return { applied: (result.results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName) };
}

/**
 * Applies pending migrations up to and including `name` (tests of a migration's data changes
 * start from the schema before it).
 * @throws the first migration error.
 */
export async function migrateTo(db: Kysely<any>, dialect: DatabaseDialect, name: string): Promise<void> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => allMigrations(dialect) } });
  const result = await migrator.migrateTo(name);
  if (result.error) throw result.error;
}

/** The names of the migrations not yet applied to `db`, in order (for `gatehouse config check`). */
export async function pendingMigrations(db: Kysely<any>, dialect: DatabaseDialect): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => allMigrations(dialect) },
  });
  return (await migrator.getMigrations()).filter((m) => !m.executedAt).map((m) => m.name);
}
