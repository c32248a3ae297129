/**
 * Isolated databases for tests: a fresh SQLite file in a temporary directory, or a fresh
 * PostgreSQL database created on TEST_DATABASE_URL's server and dropped afterwards.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { DatabaseDialect } from '../../src/config.js';
import { TEST_DATABASE_URL } from './dialects.js';

/** A database that exists until `drop()` is called. */
export interface TestDatabase {
  dialect: DatabaseDialect;
  /** Value for DATABASE_URL. */
  url: string;
  /** A scratch directory (DATA_DIR) that is removed with the database. */
  dataDir: string;
  drop(): Promise<void>;
}

/** Creates an empty database of the given dialect. */
export async function createTestDatabase(dialect: DatabaseDialect): Promise<TestDatabase> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-test-'));
  if (dialect === 'sqlite') {
    return {
      dialect,
      url: `sqlite:${path.join(dataDir, 'test.db')}`,
      dataDir,
      drop: async () => rmSync(dataDir, { recursive: true, force: true }),
    };
  }
  if (!TEST_DATABASE_URL) throw new Error('TEST_DATABASE_URL is not set');
  const name = `gh_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    dialect,
    url: url.toString(),
    dataDir,
    drop: async () => {
      const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
