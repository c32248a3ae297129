/**
 * Backups and restores of the whole database, for `gatehouse backup` / `gatehouse restore` (and
 * any scheduled backup task).
 *
 * - SQLite: SQLite's online backup API (better-sqlite3 `db.backup()`), a consistent copy taken
 *   while the server keeps running. Restoring copies the backup's pages into the live file with
 *   the same API, under SQLite's locks, so the file is never half-written; stop the server first
 *   all the same (it would keep cached sessions and users of the old data and its in-flight writes
 *   would be lost).
 * - PostgreSQL: `pg_dump -Fc` (custom format) and `pg_restore --clean --if-exists
 *   --single-transaction` (all or nothing). The client tools must be installed and at least as
 *   new as the server. The password is passed in `PGPASSWORD`, never on the command line where
 *   other users could read it in the process list.
 */
import { spawn } from 'node:child_process';
import { existsSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type SqliteDatabase from 'better-sqlite3';
import type { Config } from '../config.js';
import { ensurePrivateDir, preparePrivateFile } from '../shared/private-files.js';
import { openDatabase } from './database.js';
import { loadBetterSqlite3 } from './drivers.js';

/** What a backup or restore did. */
export interface BackupReport {
  /** Absolute path of the backup file. */
  file: string;
  /** Size of the backup file in bytes. */
  bytes: number;
}

/** The file name extension of a backup for each dialect: `.db` (SQLite file) or `.dump` (pg_dump custom format). */
export function backupExtension(dialect: Config['database']['dialect']): string {
  return dialect === 'sqlite' ? '.db' : '.dump';
}

/**
 * Writes a backup of the configured database to `destination`, mode 0600 (its directory is
 * created 0700): a backup holds every password hash and the token signing private key.
 * @throws Error when the SQLite file does not exist, `:memory:` is configured, or pg_dump fails
 *   (its message is included).
 */
export async function backupDatabase(config: Config['database'], destination: string): Promise<BackupReport> {
  const file = path.resolve(destination);
  ensurePrivateDir(path.dirname(file));
  if (config.dialect === 'sqlite') {
    if (config.url === ':memory:') throw new Error('An in-memory database cannot be backed up.');
    if (!existsSync(config.url)) throw new Error(`There is no database at ${config.url}.`);
    if (path.resolve(config.url) === file) throw new Error('The backup file must not be the database itself.');
    // Created 0600 before SQLite writes into it, so the copy is never readable by others.
    preparePrivateFile(file);
    const handle = openDatabase(config);
    try {
      await handle.backup?.(file);
    } finally {
      await handle.close();
    }
  } else {
    const existed = existsSync(file);
    // pg_dump keeps the mode of the file it truncates: 0600.
    preparePrivateFile(file);
    try {
      await runPgTool('pg_dump', ['--format=custom', `--file=${file}`], config.url);
    } catch (error) {
      if (!existed) rmSync(file, { force: true });
      throw error;
    }
  }
  return { file, bytes: statSync(file).size };
}

/**
 * Replaces the configured database's contents with a backup made by {@link backupDatabase}.
 * SQLite: the backup is checked first (`PRAGMA integrity_check`, and it must hold a Gatehouse
 * schema), so a wrong or damaged file never replaces good data.
 * @throws Error when the backup is missing, is not a Gatehouse backup, or pg_restore fails.
 */
export async function restoreDatabase(config: Config['database'], source: string): Promise<BackupReport> {
  const file = path.resolve(source);
  if (!existsSync(file)) throw new Error(`There is no backup file at ${file}.`);
  if (config.dialect === 'sqlite') {
    if (config.url === ':memory:') throw new Error('An in-memory database cannot be restored into.');
    if (path.resolve(config.url) === file) throw new Error('The backup file is the database itself.');
    let backup: SqliteDatabase.Database;
    try {
      backup = new (loadBetterSqlite3())(file, { readonly: true, fileMustExist: true });
    } catch (error) {
      throw new Error(`${file} is not a SQLite database: ${(error as Error).message}`);
    }
    try {
      let check: unknown;
      let hasSchema = false;
      try {
        check = backup.pragma('integrity_check', { simple: true });
        hasSchema = Boolean(
          backup.prepare("select 1 from sqlite_master where type = 'table' and name = 'user'").pluck().get(),
        );
      } catch (error) {
        throw new Error(`${file} is not a SQLite database: ${(error as Error).message}`);
      }
      if (check !== 'ok') throw new Error(`${file} is damaged (integrity check: ${String(check)}).`);
      if (!hasSchema) throw new Error(`${file} is not a Gatehouse backup (it has no user table).`);
      // A database restored to a new place is created 0600, as openDatabase creates one.
      if (!existsSync(config.url)) preparePrivateFile(config.url);
      await backup.backup(config.url);
    } finally {
      backup.close();
    }
  } else {
    await runPgTool(
      'pg_restore',
      ['--clean', '--if-exists', '--no-owner', '--no-privileges', '--single-transaction', '--exit-on-error', file],
      config.url,
    );
  }
  return { file, bytes: statSync(file).size };
}

/** Runs a PostgreSQL client tool against `url`, the password moved from the URL into `PGPASSWORD`. */
async function runPgTool(tool: 'pg_dump' | 'pg_restore', args: string[], url: string): Promise<void> {
  const target = new URL(url);
  const password = decodeURIComponent(target.password);
  target.password = '';
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (password) env.PGPASSWORD = password;
  await new Promise<void>((resolve, reject) => {
    const child = spawn(tool, [`--dbname=${target.toString()}`, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        new Error(
          error.code === 'ENOENT'
            ? `${tool} was not found: install the PostgreSQL client tools (the server's major version or newer).`
            : `${tool} failed to start: ${error.message}`,
        ),
      );
    });
    child.once('close', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`${tool} failed (exit ${code}): ${stderr.trim()}`));
    });
  });
}
