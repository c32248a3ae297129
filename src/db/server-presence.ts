/**
 * Whether a Gatehouse server is using a database, for `gatehouse restore` (which must not replace
 * a live server's data: the server would keep serving cached sessions and users of the old data,
 * and its in-flight writes would land in the restored one).
 *
 * - SQLite: a running server keeps a lock file beside the database, `<database>.server.lock`,
 *   holding `{pid, hostname, started_at}`. It is removed when the server stops; a file left by a
 *   crashed server names a process that no longer exists and is ignored.
 * - PostgreSQL: every connection of a server carries the `application_name` `gatehouse-server`
 *   (set on its `DATABASE_URL`), visible in `pg_stat_activity` from any host.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { sql } from 'kysely';
import type { Config } from '../config.js';
import { PRIVATE_FILE_MODE } from '../shared/private-files.js';
import { openDatabase } from './database.js';

/** The PostgreSQL `application_name` of a server's connections. */
export const SERVER_APPLICATION_NAME = 'gatehouse-server';

/** What a server lock file holds. */
interface ServerLock {
  pid: number;
  hostname: string;
  started_at: string;
}

/** The lock file of a SQLite database: `<database>.server.lock`. */
export function serverLockFile(databaseFile: string): string {
  return `${databaseFile}.server.lock`;
}

/**
 * The `database` section a server uses: on PostgreSQL its URL gets `application_name=gatehouse-server`
 * (replacing one given), so that every connection of the server, pool and listeners alike, shows
 * up in `pg_stat_activity` under that name. SQLite is returned as it is.
 */
export function serverDatabaseConfig(database: Config['database']): Config['database'] {
  if (database.dialect !== 'postgres') return database;
  const url = new URL(database.url);
  url.searchParams.set('application_name', SERVER_APPLICATION_NAME);
  return { ...database, url: url.toString() };
}

function readLock(file: string): ServerLock | null {
  try {
    const lock = JSON.parse(readFileSync(file, 'utf8')) as Partial<ServerLock>;
    return typeof lock.pid === 'number' && typeof lock.hostname === 'string' ? { pid: lock.pid, hostname: lock.hostname, started_at: String(lock.started_at ?? '') } : null;
  } catch {
    return null;
  }
}

/** True when process `pid` exists on this host (EPERM: it exists but belongs to another user). */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True when `lock` names a live process (one on another host cannot be checked: assumed live). */
function isLive(lock: ServerLock): boolean {
  return lock.hostname !== os.hostname() || processExists(lock.pid);
}

/**
 * SQLite: records this process as the database's server (mode 0600). A lock of another live
 * server is left in place (both are then running; the first to stop removes it).
 * @returns a release function that removes the lock file if it is still this process's. Nothing
 *   to do for PostgreSQL or `:memory:`.
 */
export function claimServerLock(database: Config['database'], now: Date): () => void {
  if (database.dialect !== 'sqlite' || database.url === ':memory:') return () => undefined;
  const file = serverLockFile(database.url);
  const existing = readLock(file);
  if (existing && existing.pid !== process.pid && isLive(existing)) return () => undefined;
  const lock: ServerLock = { pid: process.pid, hostname: os.hostname(), started_at: now.toISOString() };
  writeFileSync(file, `${JSON.stringify(lock)}\n`, { mode: PRIVATE_FILE_MODE });
  return () => {
    if (readLock(file)?.pid === process.pid) rmSync(file, { force: true });
  };
}

/**
 * The servers using `database` now, one description each (e.g. `pid 4242 on host-a since
 * 2026-12-05T03:00:00.000Z`, or `3 connection(s) from 10.0.0.5`); empty when none.
 * @throws when PostgreSQL cannot be reached.
 */
export async function findRunningServers(database: Config['database']): Promise<string[]> {
  if (database.dialect === 'sqlite') {
    if (database.url === ':memory:') return [];
    const lock = readLock(serverLockFile(database.url));
    if (!lock || lock.pid === process.pid || !isLive(lock)) return [];
    return [`pid ${lock.pid} on ${lock.hostname}${lock.started_at ? ` since ${lock.started_at}` : ''}`];
  }
  const handle = openDatabase({ ...database, poolSize: 1 });
  try {
    const { rows } = await sql<{ client: string | null; connections: number }>`
      select coalesce(host(client_addr), 'a local socket') as client, count(*)::int as connections
      from pg_stat_activity
      where datname = current_database() and application_name = ${SERVER_APPLICATION_NAME} and pid <> pg_backend_pid()
      group by 1 order by 1`.execute(handle.db);
    return rows.map((r) => `${r.connections} connection(s) from ${r.client ?? 'a local socket'}`);
  } finally {
    await handle.close();
  }
}
