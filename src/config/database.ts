/** The `database` configuration section and `dataDir`: where Gatehouse keeps its state (src/db/). */
import path from 'node:path';
import { z } from 'zod';
import { booleanString, type ParsedShape, positiveInt } from './schema.js';

/** Which database engine a `DATABASE_URL` selects. */
export type DatabaseDialect = 'sqlite' | 'postgres';

/** The `database` section of the configuration. */
export interface DatabaseConfig {
  dialect: DatabaseDialect;
  /** For SQLite an absolute file path (or `:memory:`); for PostgreSQL the connection string. */
  url: string;
  /** Maximum PostgreSQL pool size. */
  poolSize: number;
  /** PostgreSQL: run repeated parameterised queries as named prepared statements (src/db/pg-prepared.ts). */
  preparedStatements: boolean;
}

/** The section's environment variables (with `DATA_DIR`, which the SQLite default lives in). */
export const databaseEnvShape = {
  DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: z.string().min(1).optional(),
  DATABASE_POOL_SIZE: positiveInt(1000).default(10),
  DATABASE_PREPARED_STATEMENTS: booleanString.default(true),
};

/** `DATA_DIR` as an absolute path (`Config.dataDir`). */
export function dataDirOf(e: ParsedShape<typeof databaseEnvShape>): string {
  return path.resolve(e.DATA_DIR);
}

/**
 * Resolves `DATABASE_URL` into a dialect and a connection target.
 * `sqlite:relative/or/absolute.db`, `sqlite::memory:`, `file:…` and bare paths select SQLite;
 * `postgres://` and `postgresql://` select PostgreSQL.
 */
function resolveDatabase(url: string | undefined, dataDir: string): { dialect: DatabaseDialect; url: string } {
  if (!url) return { dialect: 'sqlite', url: path.join(dataDir, 'gatehouse.db') };
  if (/^postgres(ql)?:\/\//.test(url)) return { dialect: 'postgres', url };
  const stripped = url.replace(/^(sqlite|file):(\/\/)?/, '');
  if (stripped === ':memory:') return { dialect: 'sqlite', url: ':memory:' };
  return { dialect: 'sqlite', url: path.resolve(stripped) };
}

/**
 * Builds the section from the parsed variables.
 * @param dataDir `Config.dataDir` (see {@link dataDirOf}); the SQLite default `DATA_DIR/gatehouse.db`.
 */
export function databaseSettings(e: ParsedShape<typeof databaseEnvShape>, dataDir: string): DatabaseConfig {
  return { ...resolveDatabase(e.DATABASE_URL, dataDir), poolSize: e.DATABASE_POOL_SIZE, preparedStatements: e.DATABASE_PREPARED_STATEMENTS };
}
