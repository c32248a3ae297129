/**
 * Private files on disk, checked on the real modes after a real start-up, mail and backup (with
 * the usual umask 022, which would leave them world-readable): `DATA_DIR` and the directories in
 * it 0700; the SQLite database with its -wal/-shm files, `.eml` mail and backups 0600; and
 * `gatehouse config check` warning (exit 0) about looser modes it finds.
 */
import { chmodSync, existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectExit } from '../cli/cli-helpers.js';
import { dialects } from '../helpers/dialects.js';
import { STRONG_PASSWORD, uniqueEmail } from '../helpers/harness.js';
import { http } from '../helpers/http-client.js';
import { cleanEnv, freePort, killAllChildren, runCli, startServerProcess } from '../helpers/server-process.js';
import { createTestDatabase } from '../helpers/test-database.js';

/** Permission bits of `file`, e.g. 0o600. */
function modeOf(file: string): number {
  return statSync(file).mode & 0o777;
}

async function waitFor<T>(probe: () => T | undefined, what: string, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface CheckReport {
  ok: boolean;
  checks: Array<{ check: string; ok: boolean; warning?: boolean; detail: string }>;
}

let umask: number;
beforeAll(() => {
  // The common default: without explicit modes, new files would be 0644 and directories 0755.
  umask = process.umask(0o022);
});
afterAll(async () => {
  process.umask(umask);
  await killAllChildren();
});

describe.concurrent.each(dialects)('private files on disk (%s)', (dialect) => {
  it('DATA_DIR, the database, mail and backups are owner-only; config check warns about looser modes', async ({ onTestFinished }) => {
    const database = await createTestDatabase(dialect);
    onTestFinished(() => database.drop());
    // A DATA_DIR that does not exist yet: the server creates it. SQLite: the default database in it.
    const dataDir = path.join(database.dataDir, 'data');
    const port = await freePort();
    const env = cleanEnv({
      DATA_DIR: dataDir,
      DATABASE_URL: dialect === 'postgres' ? database.url : undefined,
      PORT: String(port),
      HOST: '127.0.0.1',
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      MAIL_POLL_SECONDS: '1',
      LOG_LEVEL: 'warn',
    });
    const server = await startServerProcess({ env, cwd: database.dataDir, readyTimeoutMs: 60_000 });
    try {
      expect(modeOf(dataDir)).toBe(0o700);
      if (dialect === 'sqlite') {
        const db = path.join(dataDir, 'gatehouse.db');
        for (const file of [db, `${db}-wal`, `${db}-shm`]) expect([file, modeOf(file)]).toEqual([file, 0o600]);
      }

      // Mail without SMTP_URL: an .eml file carrying the verification link.
      const registered = await http(server.url, '/api/v1/auth/register', { json: { email: uniqueEmail('modes'), password: STRONG_PASSWORD } });
      expect(registered.status).toBe(202);
      const mailDir = path.join(dataDir, 'mail');
      const eml = await waitFor(() => {
        const found = existsSync(mailDir) ? readdirSync(mailDir).find((f) => f.endsWith('.eml')) : undefined;
        return found && path.join(mailDir, found);
      }, 'the verification email file');
      expect(modeOf(mailDir)).toBe(0o700);
      expect(modeOf(eml)).toBe(0o600);

      // A backup taken beside the running server.
      const cli = (args: string[]) => runCli(args, { env, cwd: database.dataDir, timeoutMs: 90_000 });
      const backup = await cli(['backup', '--json']);
      expectExit(backup, 0);
      const backupFile = (JSON.parse(backup.stdout) as { file: string }).file;
      expect(path.dirname(backupFile)).toBe(path.join(dataDir, 'backups'));
      expect(modeOf(path.dirname(backupFile))).toBe(0o700);
      expect(modeOf(backupFile)).toBe(0o600);

      const clean = await cli(['config', 'check', '--json']);
      expectExit(clean, 0);
      expect((JSON.parse(clean.stdout) as CheckReport).checks.find((c) => c.check === 'file modes')).toMatchObject({ ok: true });
      expect((JSON.parse(clean.stdout) as CheckReport).checks.find((c) => c.check === 'file modes')).not.toHaveProperty('warning');

      chmodSync(dataDir, 0o755);
      chmodSync(eml, 0o644);
      chmodSync(backupFile, 0o640);
      const loose = await cli(['config', 'check', '--json']);
      expectExit(loose, 0); // a warning, not a failure
      const row = (JSON.parse(loose.stdout) as CheckReport).checks.find((c) => c.check === 'file modes');
      expect(row).toMatchObject({ ok: true, warning: true });
      expect(row?.detail).toContain(`${dataDir} (0755, want 0700)`);
      expect(row?.detail).toContain(`${eml} (0644, want 0600)`);
      expect(row?.detail).toContain(`${backupFile} (0640, want 0600)`);
      const table = await cli(['config', 'check']);
      expectExit(table, 0);
      expect(table.stdout).toMatch(/^file modes\s+WARN\s+readable by other users: /m);
    } finally {
      await server.stop();
    }
  }, 180_000);
});
