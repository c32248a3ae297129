/**
 * Session lookup cost against the number of sessions stored, on a scratch SQLite database: the
 * `session` table is filled in bulk through Kysely (one INSERT … SELECT over a recursive CTE per
 * size), then the repository functions a cache miss runs (`findSessionByTokenHash` for cookies,
 * `findSessionById` for access tokens) look up random existing rows, and random absent hashes
 * (what a forged cookie costs). Indexed lookups stay about as fast at 1M rows as at 10k; for
 * contrast, one unindexed query (a full scan) is timed at each size too. Each figure is the best
 * of several passes over the same random sample: other processes can only make a pass slower.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import pino from 'pino';
import { loadConfig } from '../../src/config.js';
import { createGatehouse, type Gatehouse } from '../../src/container.js';
import { findSessionById, findSessionByTokenHash } from '../../src/sessions/sessions.repo.js';
import { scratchSqlite } from '../lib/scratch.js';
import { BENCH_PASSWORD } from '../lib/servers.js';

/** Figures for one table size. */
export interface ScaleFigures {
  rows: number;
  /** Seconds the bulk insert up to this size took. */
  insertSeconds: number;
  /** Microseconds per lookup (best of several passes over the same random sample). */
  byTokenHashUs: number;
  byIdUs: number;
  missUs: number;
  /** Milliseconds of one full-scan query (unindexed column), for contrast. */
  scanMs: number;
}

/** What {@link measureSessionScale} found. */
export interface SessionScaleFigures {
  sizes: ScaleFigures[];
  /** SQLite's plan for the two lookups. */
  plans: { byTokenHash: string; byId: string };
}

const SAMPLE = 2000;
const PASSES = 5;

async function fill(gatehouse: Gatehouse, userId: string, from: number, to: number): Promise<void> {
  const now = new Date().toISOString();
  const expires = new Date(Date.now() + 30 * 86_400_000).toISOString();
  // Ids shaped like the UUIDv7 keys Gatehouse makes (time-ordered); token hashes uniformly random
  // like SHA-256 output, so the unique index is filled in random order as in real life. A large
  // page cache while filling only makes the fill faster; lookups run with the default again.
  await sql`PRAGMA cache_size = -262144`.execute(gatehouse.database.db);
  await sql`
    WITH RECURSIVE seq(n) AS (SELECT ${from} UNION ALL SELECT n + 1 FROM seq WHERE n < ${to})
    INSERT INTO session (id, user_id, kind, token_hash, created_at, last_seen_at, expires_at)
    SELECT printf('01900000-0000-7000-8000-%012x', n), ${userId}, 'browser', lower(hex(randomblob(32))), ${now}, ${now}, ${expires}
    FROM seq`.execute(gatehouse.database.db);
  await sql`PRAGMA cache_size = -2000`.execute(gatehouse.database.db);
}

async function timeLookups(keys: string[], lookup: (key: string) => Promise<unknown>, expectFound: boolean): Promise<number> {
  const perPass: number[] = [];
  for (let pass = -1; pass < PASSES; pass++) {
    const start = performance.now();
    for (const key of keys) {
      const row = await lookup(key);
      if (Boolean(row) !== expectFound) throw new Error(`lookup of ${key} ${expectFound ? 'missed' : 'found a row'}`);
    }
    if (pass >= 0) perPass.push(((performance.now() - start) * 1000) / keys.length); // pass -1 warms up
  }
  return Math.min(...perPass);
}

async function measureAt(gatehouse: Gatehouse, rows: number, insertSeconds: number): Promise<ScaleFigures> {
  const db = gatehouse.database.db;
  const rowids = Array.from({ length: SAMPLE }, () => 1 + Math.floor(Math.random() * rows));
  const sample = await sql<{ id: string; token_hash: string }>`
    SELECT id, token_hash FROM session WHERE rowid IN (${sql.join(rowids)})`.execute(db);
  const hashes = sample.rows.map((r) => r.token_hash);
  const ids = sample.rows.map((r) => r.id);
  const absent = Array.from({ length: SAMPLE }, () => randomBytes(32).toString('hex'));
  const scanStart = performance.now();
  await sql`SELECT count(*) FROM session WHERE user_agent = 'no such agent'`.execute(db);
  const scanMs = performance.now() - scanStart;
  return {
    rows,
    insertSeconds,
    byTokenHashUs: await timeLookups(hashes, (h) => findSessionByTokenHash(db, h), true),
    byIdUs: await timeLookups(ids, (id) => findSessionById(db, id), true),
    missUs: await timeLookups(absent, (h) => findSessionByTokenHash(db, h), false),
    scanMs,
  };
}

async function plan(gatehouse: Gatehouse, column: 'token_hash' | 'id'): Promise<string> {
  const result = await sql<{ detail: string }>`
    EXPLAIN QUERY PLAN SELECT * FROM session WHERE ${sql.ref(column)} = ${'x'}`.execute(gatehouse.database.db);
  return result.rows.map((r) => r.detail).join('; ');
}

/** Fills a scratch database to each size in turn (ascending) and measures lookups at each. */
export async function measureSessionScale(sizes: number[], onProgress?: (message: string) => void): Promise<SessionScaleFigures> {
  const scratch = scratchSqlite();
  const config = loadConfig({ DATA_DIR: scratch.dataDir, DATABASE_URL: scratch.url, LOG_LEVEL: 'silent', MAIL_POLL_SECONDS: '3600' });
  const gatehouse = await createGatehouse(config, { logger: pino({ level: 'silent' }) });
  try {
    const user = await gatehouse.accounts.createUser({ email: 'scale@example.com', password: BENCH_PASSWORD, name: 'Scale' });
    const figures: ScaleFigures[] = [];
    let stored = 0;
    for (const size of [...sizes].sort((a, b) => a - b)) {
      const start = performance.now();
      await fill(gatehouse, user.id, stored + 1, size);
      await sql`ANALYZE`.execute(gatehouse.database.db);
      const insertSeconds = (performance.now() - start) / 1000;
      stored = size;
      const f = await measureAt(gatehouse, size, insertSeconds);
      onProgress?.(
        `sessions ${size}: by token hash ${f.byTokenHashUs.toFixed(1)} µs, by id ${f.byIdUs.toFixed(1)} µs, miss ${f.missUs.toFixed(1)} µs, scan ${f.scanMs.toFixed(1)} ms (filled in ${insertSeconds.toFixed(1)} s)`,
      );
      figures.push(f);
    }
    return { sizes: figures, plans: { byTokenHash: await plan(gatehouse, 'token_hash'), byId: await plan(gatehouse, 'id') } };
  } finally {
    await gatehouse.close();
    await scratch.drop();
  }
}
