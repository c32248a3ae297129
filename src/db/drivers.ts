/**
 * The database drivers, loaded on first use (both are CommonJS packages, so `require` keeps
 * `openDatabase` synchronous). A process pays only for the driver its `DATABASE_URL` selects:
 * a SQLite command never loads `pg`, a PostgreSQL one never loads the SQLite addon.
 */
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import type Pg from 'pg';

const require = createRequire(import.meta.url);

/** The `pg` module (node-postgres): `Pool`, `Client`, `types`. */
export function loadPg(): typeof Pg {
  return require('pg') as typeof Pg;
}

/** The `better-sqlite3` constructor. */
export function loadBetterSqlite3(): typeof BetterSqlite3 {
  return require('better-sqlite3') as typeof BetterSqlite3;
}
