/**
 * SQLite WAL checkpoints on a thread of their own (`openDatabase(…, { checkpointInBackground })`,
 * what the server's container uses): the event loop's connection no longer checkpoints at 1000
 * pages (only as a far backstop), committed rows still reach the database file by themselves, the
 * caches' change signal (`data_version`) does not move for a checkpoint, closing leaves no WAL
 * behind, and a process with nothing else to do does not exit while it closes (what follows the
 * close, e.g. a start-up error's message and exit code, still runs). SQLite only: PostgreSQL has no such thing, and its handle has no `checkpointNow`.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { type DatabaseHandle, openDatabase } from '../../src/db/database.js';
import { BACKSTOP_AUTOCHECKPOINT_PAGES } from '../../src/db/sqlite-checkpointer.js';
import { dialects } from '../helpers/dialects.js';
import { createTestContext } from '../helpers/harness.js';
import { until } from '../realtime/fixtures.js';

/** Rows of `item` in the database FILE alone (a copy without its -wal), or -1 while the table is not there yet. */
function rowsInMainFile(file: string, scratch: string): number {
  const copy = path.join(scratch, `copy-${Math.random().toString(36).slice(2)}.db`);
  copyFileSync(file, copy);
  try {
    const reader = new Database(copy, { readonly: true });
    try {
      return Number(reader.prepare('select count(*) from item').pluck().get());
    } finally {
      reader.close();
    }
  } catch {
    // No table yet (still only in the WAL), or a copy taken in the middle of a checkpoint.
    return -1;
  } finally {
    rmSync(copy, { force: true });
  }
}

describe('SQLite checkpoints in the background', () => {
  let dir: string;
  let handle: DatabaseHandle | undefined;
  const open = (checkpointInBackground: boolean) => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-checkpoint-'));
    handle = openDatabase({ dialect: 'sqlite', url: path.join(dir, 'c.db'), poolSize: 1, preparedStatements: false }, { checkpointInBackground });
    return handle;
  };
  const autocheckpoint = async (h: DatabaseHandle) => Number((await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(h.db)).rows[0]?.wal_autocheckpoint);
  const writeRows = async (h: DatabaseHandle, count: number) => {
    await sql`create table if not exists item (id integer primary key, body text)`.execute(h.db);
    for (let i = 0; i < count; i++) await sql`insert into item (body) values (${'x'.repeat(500)})`.execute(h.db);
  };

  afterEach(async () => {
    await handle?.close();
    handle = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('by default (CLI commands) SQLite checkpoints in the committing connection, at 1000 pages', async () => {
    const h = open(false);
    expect(await autocheckpoint(h)).toBe(1000);
    expect(h.checkpointNow).toBeUndefined();
  });

  it('the event loop connection only keeps a far backstop, and committed rows reach the database file without it', async () => {
    const h = open(true);
    expect(await autocheckpoint(h)).toBe(BACKSTOP_AUTOCHECKPOINT_PAGES);
    await writeRows(h, 50);
    // Nobody asks for a checkpoint here: the thread's own interval copies the WAL back.
    await until(() => rowsInMainFile(path.join(dir, 'c.db'), dir) === 50, 10_000, 'rows in the database file');
  });

  it('a checkpoint leaves data_version alone (no cache flush) and closing removes the WAL', async () => {
    const h = open(true);
    await writeRows(h, 20);
    const version = h.dataVersion?.();
    expect(await h.checkpointNow?.()).toBeGreaterThan(0);
    expect(h.dataVersion?.()).toBe(version);
    expect(rowsInMainFile(path.join(dir, 'c.db'), dir)).toBe(20);
    await h.close();
    handle = undefined;
    expect(existsSync(path.join(dir, 'c.db-wal'))).toBe(false);
    await h.close();
  });

  it('an otherwise idle process runs what follows close() (the thread keeps it alive until it has stopped)', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-checkpoint-'));
    const script = path.join(dir, 'close.mts');
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const database = path.join(root, 'src', 'db', 'database.ts');
    writeFileSync(
      script,
      `import { openDatabase } from ${JSON.stringify(database)};
const h = openDatabase({ dialect: 'sqlite', url: ${JSON.stringify(path.join(dir, 'p.db'))}, poolSize: 1, preparedStatements: false }, { checkpointInBackground: true });
await h.close();
console.log('after close');
process.exitCode = 3;
`,
    );
    const outcome = await promisify(execFile)(process.execPath, ['--import', 'tsx', script], { cwd: root, timeout: 60_000 }).then(
      (r) => ({ code: 0, stdout: r.stdout }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout + e.stderr }),
    );
    expect(outcome).toEqual({ code: 3, stdout: 'after close\n' });
  });

  it.each(dialects)("the server's database handle (%s) checkpoints in the background on SQLite", async (dialect) => {
    const ctx = await createTestContext(dialect);
    try {
      if (dialect === 'sqlite') expect(await ctx.gatehouse.database.checkpointNow?.()).toBeGreaterThan(0);
      else expect(ctx.gatehouse.database.checkpointNow).toBeUndefined();
    } finally {
      await ctx.close();
    }
  });
});
