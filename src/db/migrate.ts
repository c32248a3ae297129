/**
 * Versioned, append-only migrations, applied on start and by `gatehouse migrate`.
 * Names are zero-padded so they sort; never edit one that has shipped, add a new one.
 */
import { DEFAULT_MIGRATION_TABLE, type Kysely, type Migration, type MigrationResultSet, Migrator } from 'kysely';
import type { DatabaseDialect } from '../config.js';
import { migration0001 } from './migrations/0001-accounts.js';
import { migration0002 } from './migrations/0002-access.js';
import { migration0003 } from './migrations/0003-scheduler.js';
import { migration0004 } from './migrations/0004-notify.js';
import { migration0005 } from './migrations/0005-email-change.js';
import { migration0006 } from './migrations/0006-jobs.js';
import { migration0007 } from './migrations/0007-storage-quota.js';
import { migration0008 } from './migrations/0008-job-owner-scopes.js';
import { migration0009 } from './migrations/0009-topic-events.js';
import { migration0010 } from './migrations/0010-identities.js';
import { migration0011 } from './migrations/0011-mfa.js';
import { migration0012 } from './migrations/0012-job-claim-lock.js';
import { migration0013 } from './migrations/0013-job-cycle-indexes.js';
import type { MigrationTypes } from './migrations/types.js';
import type { AnyModule } from '../modules/contract.js';

/** The column types of `dialect`, handed to every migration. */
export function migrationTypes(dialect: DatabaseDialect): MigrationTypes {
  return dialect === 'postgres' ? { timestamp: 'timestamptz', json: 'jsonb' } : { timestamp: 'text', json: 'text' };
}

function allMigrations(dialect: DatabaseDialect): Record<string, Migration> {
  const types = migrationTypes(dialect);
  return {
    '0001-accounts': migration0001(types),
    '0002-access': migration0002(types),
    '0003-scheduler': migration0003(types),
    '0004-notify': migration0004(types),
    '0005-email-change': migration0005(types),
    '0006-jobs': migration0006(types),
    '0007-storage-quota': migration0007(types),
    '0008-job-owner-scopes': migration0008(types),
    '0009-topic-events': migration0009(types),
    '0010-identities': migration0010(types),
    '0011-mfa': migration0011(types),
    '0012-job-claim-lock': migration0012(types),
    '0013-job-cycle-indexes': migration0013(types),
  };
}

/**
 * One set of migrations with its own bookkeeping tables: the platform's use Kysely's default
 * `kysely_migration`; each module gets `gatehouse_migrations_<name>`, so modules can be added,
 * removed or reordered without their histories colliding.
 */
interface MigrationSet {
  /** Prefix of the names reported (`''` for the platform, `<module>/` otherwise). */
  prefix: string;
  migrations: Record<string, Migration>;
  tableName?: string;
  lockTableName?: string;
}

function migrationSets(dialect: DatabaseDialect, modules: readonly Pick<AnyModule, 'name' | 'migrations'>[]): MigrationSet[] {
  const sets: MigrationSet[] = [{ prefix: '', migrations: allMigrations(dialect) }];
  for (const module of modules) {
    if (!module.migrations) continue;
    const table = `gatehouse_migrations_${module.name.replaceAll('-', '_')}`;
    sets.push({ prefix: `${module.name}/`, migrations: module.migrations(migrationTypes(dialect)), tableName: table, lockTableName: `${table}_lock` });
  }
  return sets;
}

function migratorFor(db: Kysely<any>, set: MigrationSet): Migrator {
  return new Migrator({
    db,
    provider: { getMigrations: async () => set.migrations },
    ...(set.tableName ? { migrationTableName: set.tableName, migrationLockTableName: set.lockTableName } : {}),
  });
}

/** Outcome of {@link migrateToLatest}: the names of the migrations applied by this call (`module/name` for modules). */
export interface MigrationReport {
  applied: string[];
}

/**
 * Applies every pending migration in order, each in its own transaction: the platform's first,
 * then each module's in list order.
 *
 * @throws the first migration error (the failed migration is rolled back; earlier ones stay).
 */
export async function migrateToLatest(
  db: Kysely<any>,
  dialect: DatabaseDialect,
  modules: readonly Pick<AnyModule, 'name' | 'migrations'>[] = [],
): Promise<MigrationReport> {
  const applied: string[] = [];
  for (const set of migrationSets(dialect, modules)) {
    const result: MigrationResultSet = await migratorFor(db, set).migrateToLatest();
    applied.push(...(result.results ?? []).filter((r) => r.status === 'Success').map((r) => set.prefix + r.migrationName));
    if (result.error) throw result.error;
  }
  return { applied };
}

/** What {@link migrationStatus} found. */
export interface MigrationStatus {
  /** How many migrations `db` records as applied (0: a new, empty database). */
  applied: number;
  /** The migrations not yet applied, in order (`module/name` for modules). */
  pending: string[];
}

/** True for the error of a query on a table that does not exist (SQLite's message, PostgreSQL's 42P01). */
function isMissingTable(error: unknown): boolean {
  return (error as { code?: unknown }).code === '42P01' || /no such table/i.test((error as Error).message ?? '');
}

/**
 * Which migrations `db` has applied: one read of each set's bookkeeping table, without creating
 * anything, taking the migration lock or opening a transaction (the {@link Migrator} does all
 * three even when nothing is pending). A missing table means none of that set has run.
 * Lets start-up skip the migrator when the schema is current.
 * @throws when the database cannot be queried.
 */
export async function migrationStatus(
  db: Kysely<any>,
  dialect: DatabaseDialect,
  modules: readonly Pick<AnyModule, 'name' | 'migrations'>[] = [],
): Promise<MigrationStatus> {
  let applied = 0;
  const pending: string[] = [];
  for (const set of migrationSets(dialect, modules)) {
    let names: Set<string>;
    try {
      const rows = await db
        .selectFrom(set.tableName ?? DEFAULT_MIGRATION_TABLE)
        .select('name')
        .execute();
      names = new Set(rows.map((row: { name: string }) => row.name));
    } catch (error) {
      if (!isMissingTable(error)) throw error;
      names = new Set();
    }
    applied += names.size;
    pending.push(...Object.keys(set.migrations).filter((name) => !names.has(name)).sort().map((name) => set.prefix + name));
  }
  return { applied, pending };
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
export async function pendingMigrations(
  db: Kysely<any>,
  dialect: DatabaseDialect,
  modules: readonly Pick<AnyModule, 'name' | 'migrations'>[] = [],
): Promise<string[]> {
  const pending: string[] = [];
  for (const set of migrationSets(dialect, modules)) {
    pending.push(...(await migratorFor(db, set).getMigrations()).filter((m) => !m.executedAt).map((m) => set.prefix + m.name));
  }
  return pending;
}
