/**
 * Files only the server's own user may read. `DATA_DIR` holds the database (with the token signing
 * private key), backups of it and the mail drop (sign-in and reset links), so Gatehouse creates
 * its directories `0700` and those files `0600`, whatever the process umask. Existing files and
 * directories keep their mode (an operator may have chosen it); `gatehouse config check` warns
 * about looser ones ({@link findLooseModes}).
 */
import { closeSync, existsSync, fchmodSync, mkdirSync, openSync, readdirSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';

/** Mode of directories Gatehouse creates for private data: owner only. */
export const PRIVATE_DIR_MODE = 0o700;
/** Mode of private files Gatehouse creates: owner read/write only. */
export const PRIVATE_FILE_MODE = 0o600;

/** Creates `dir` (and missing parents) with mode 0700; an existing directory is left as it is. */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
}

/** {@link ensurePrivateDir} without blocking the event loop. */
export async function ensurePrivateDirAsync(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
}

/**
 * Makes sure `file` exists with mode 0600 before another library writes into it: an absent file is
 * created empty, 0600 (its directory 0700); an existing file is set to 0600. Used before SQLite
 * creates a database or a backup (SQLite gives its `-wal`, `-shm` and `-journal` files the mode of
 * the database file) and before `pg_dump` writes a dump (it keeps an existing file's mode).
 */
export function preparePrivateFile(file: string): void {
  ensurePrivateDir(path.dirname(file));
  const fd = openSync(file, 'a', PRIVATE_FILE_MODE);
  try {
    fchmodSync(fd, PRIVATE_FILE_MODE);
  } finally {
    closeSync(fd);
  }
}

/** A file or directory that other users may read or enter. */
export interface LooseMode {
  /** Absolute path. */
  path: string;
  /** Its permission bits, e.g. `0o644`. */
  mode: number;
  /** The mode it should have: 0700 for a directory, 0600 for a file. */
  wanted: number;
}

/**
 * The private paths among `dirs` (each directory, and every file directly in it) and `files`
 * whose mode gives the group or others any access. Missing paths are skipped.
 */
export function findLooseModes(options: { dirs: string[]; files: string[] }): LooseMode[] {
  const loose: LooseMode[] = [];
  const seen = new Set<string>();
  const check = (target: string, wanted: number) => {
    const absolute = path.resolve(target);
    if (seen.has(absolute)) return;
    seen.add(absolute);
    const mode = statSync(target).mode & 0o777;
    if (mode & 0o077) loose.push({ path: absolute, mode, wanted });
  };
  for (const dir of options.dirs) {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) continue;
    check(dir, PRIVATE_DIR_MODE);
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isFile()) check(path.join(dir, entry.name), PRIVATE_FILE_MODE);
    }
  }
  for (const file of options.files) if (existsSync(file)) check(file, PRIVATE_FILE_MODE);
  return loose;
}
