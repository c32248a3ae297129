/**
 * Throw-away databases for the bench, made like the tests make theirs
 * (`test/helpers/test-database.ts`): a SQLite file in a temporary directory, or a fresh
 * PostgreSQL database created on the given server and dropped (WITH (FORCE)) afterwards.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

/** A database that exists until `drop()`. */
export interface ScratchDatabase {
  /** Value for DATABASE_URL. */
  url: string;
  /** A scratch DATA_DIR, removed with the database. */
  dataDir: string;
  drop(): Promise<void>;
}

/** A SQLite file in a new temporary directory. */
export function scratchSqlite(): ScratchDatabase {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-'));
  return {
    url: `sqlite:${path.join(dataDir, 'bench.db')}`,
    dataDir,
    drop: async () => rmSync(dataDir, { recursive: true, force: true }),
  };
}

/** A new database on the PostgreSQL server of `serverUrl` (which must allow CREATE DATABASE). */
export async function scratchPostgres(serverUrl: string): Promise<ScratchDatabase> {
  const name = `gh_bench_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-'));
  return {
    url: url.toString(),
    dataDir,
    drop: async () => {
      const client = new pg.Client({ connectionString: serverUrl });
      await client.connect();
      try {
        // Libraries under test may end their pools a moment after their stop() resolves; FORCE
        // would terminate those connections and their pool's unhandled 'error' would crash the run.
        for (let waited = 0; waited < 5000; waited += 50) {
          const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1', [name]);
          if (Number(rows[0]?.n ?? 0) === 0) break;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
