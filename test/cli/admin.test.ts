/**
 * The operator commands on both dialects (in the test process; the first command, `config …` and
 * `version bump` through the real binary): `api-keys list|revoke` (keys
 * made over HTTP on a spawned server), `config show` (secrets masked) and `config check` (exit
 * codes for valid, invalid and unreachable), `backup` → wipe → `restore` giving back identical
 * users, sessions and audit rows, and `version bump`.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ApiKeyView } from '../../src/access/api-keys.service.js';
import { bumpVersion } from '../../src/cli/commands/admin.js';
import { maskSecret } from '../../src/config.js';
import { dialects } from '../helpers/dialects.js';
import { STRONG_PASSWORD, uniqueEmail } from '../helpers/harness.js';
import { http } from '../helpers/http-client.js';
import { inspectDatabase } from '../helpers/inspect-database.js';
import { cleanEnv, freePort, killAllChildren, REPO_ROOT, runCli } from '../helpers/server-process.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { cliFor, createUser, expectExit, inProcessCliFor, login, startServer } from './cli-helpers.js';

afterAll(killAllChildren);

// A spawned binary or server takes seconds on a loaded machine.
vi.setConfig({ testTimeout: 180_000 });

/** Every row of the tables a restore must give back, in a stable order. */
async function snapshot(database: TestDatabase) {
  const handle = inspectDatabase(database);
  try {
    return {
      user: await handle.db.selectFrom('user').selectAll().orderBy('id').execute(),
      session: await handle.db.selectFrom('session').selectAll().orderBy('id').execute(),
      audit_log: await handle.db.selectFrom('audit_log').selectAll().orderBy('id').execute(),
      api_key: await handle.db.selectFrom('api_key').selectAll().orderBy('id').execute(),
      user_group: await handle.db.selectFrom('user_group').selectAll().orderBy('user_id').execute(),
    };
  } finally {
    await handle.close();
  }
}

describe.concurrent.each(dialects)('gatehouse api-keys, config, backup, restore (%s)', (dialect) => {
  let database: TestDatabase;
  let cli: ReturnType<typeof cliFor>;
  const owner = uniqueEmail('keys-owner');
  const other = uniqueEmail('keys-other');

  beforeAll(async () => {
    database = await createTestDatabase(dialect);
    cli = inProcessCliFor(database);
    await createUser(cliFor(database), owner, { name: 'Owner' });
    await createUser(cli, other, { name: 'Other' });
  });
  afterAll(async () => {
    await database?.drop();
  });

  it.sequential('api-keys list shows keys with their owner; revoke stops a key at once', async () => {
    const server = await startServer(database);
    try {
      const keys: string[] = [];
      for (const [email, name] of [
        [owner, 'ci'],
        [owner, 'laptop'],
        [other, 'worker'],
      ] as const) {
        const { cookie } = await login(server, email, STRONG_PASSWORD);
        const res = await http(server.url, '/api/v1/api-keys', { json: { name, scopes: ['account:self'], password: STRONG_PASSWORD }, cookie, origin: server.url });
        expect(res.status, res.text).toBe(201);
        keys.push(res.json.secret as string);
      }
      const listed = await cli(['api-keys', 'list']);
      expectExit(listed, 0);
      const lines = listed.stdout.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^ID\s+PREFIX\s+NAME\s+USER\s+SCOPES\s+STATE\s+CREATED\s+LAST-USED\s+EXPIRES$/);
      expect(lines).toHaveLength(5);
      expect(listed.stdout).not.toContain(keys[0]);

      const mine = await cli(['api-keys', 'list', '--user', owner, '--json']);
      const items = (JSON.parse(mine.stdout) as { items: Array<ApiKeyView & { user_email: string }> }).items;
      expect(items.map((k) => [k.name, k.user_email])).toEqual([
        ['ci', owner],
        ['laptop', owner],
      ]);

      expect((await http(server.url, '/api/v1/users/me', { bearer: keys[0] })).status).toBe(200);
      const revoked = await cli(['api-keys', 'revoke', items[0]?.id ?? '']);
      expectExit(revoked, 0);
      expect(revoked.stdout.trim()).toBe(`Revoked API key ${items[0]?.id}.`);
      // Another process revoked the key: the server hears of it by LISTEN/NOTIFY on PostgreSQL (or
      // SQLite's data_version) within moments, not in the same instant the CLI returns.
      await expect.poll(async () => (await http(server.url, '/api/v1/users/me', { bearer: keys[0] })).status).toBe(401);
      expect((await http(server.url, '/api/v1/users/me', { bearer: keys[1] })).status).toBe(200);
      expectExit(await cli(['api-keys', 'revoke', items[0]?.id ?? '']), 2);

      const live = await cli(['api-keys', 'list', '--user', owner, '--json']);
      expect((JSON.parse(live.stdout) as { items: ApiKeyView[] }).items.map((k) => k.name)).toEqual(['laptop']);
      const all = await cli(['api-keys', 'list', '--user', owner, '--all']);
      expect(all.stdout).toMatch(/\sci\s.*\srevoked\s/);
      expectExit(await cli(['api-keys', 'list', '--user', 'nobody@example.com']), 2);
    } finally {
      await server.stop();
    }
  });

  it.sequential('config show prints every setting with secrets masked', async () => {
    const secrets = {
      SMTP_URL: 'smtp://mailer:smtp-pa55word@127.0.0.1:2525',
      REDIS_URL: 'redis://:redis-pa55word@127.0.0.1:6379/0',
      WEBHOOK_SECRET: 'webhook-s3cret-value',
      MATTERMOST_WEBHOOK_URL: 'https://chat.example.com/hooks/mm-hook-s3cret',
      // Signed URLs carry their credential in the query under any name: every value is masked.
      WEBHOOK_URL: 'https://hooks.example.com/in?sig=webhook-sig-s3cret&expires=1893456000',
      SITE_URL: 'https://example.org/?sig=site-sig-s3cret&sig=second-sig-s3cret',
    };
    const databaseUrl = dialect === 'postgres' ? database.url.replace('//postgres@', '//postgres:db-pa55word@') : database.url;
    const result = await runCli(['config', 'show'], {
      env: cleanEnv({ DATA_DIR: database.dataDir, DATABASE_URL: databaseUrl, PORT: '4123', ...secrets }),
    });
    expectExit(result, 0);
    expect(result.stdout.split('\n')[0]).toMatch(/^VARIABLE\s+VALUE\s+SOURCE$/);
    expect(result.stdout).toMatch(/^PORT\s+4123\s+environment$/m);
    expect(result.stdout).toMatch(/^HOST\s+127\.0\.0\.1\s+default$/m);
    expect(result.stdout).toMatch(/^SMTP_URL\s+smtp:\/\/mailer:\*\*\*\*@127\.0\.0\.1:2525\s+environment$/m);
    expect(result.stdout).toMatch(/^REDIS_URL\s+redis:\/\/:\*\*\*\*@127\.0\.0\.1:6379\/0\s+environment$/m);
    expect(result.stdout).toMatch(/^SITE_URL\s+https:\/\/example\.org\/\?sig=\*\*\*\*\s+environment$/m);
    expect(result.stdout).toMatch(/^WEBHOOK_URL\s+https:\/\/hooks\.example\.com\/\*\*\*\*\?sig=\*\*\*\*&expires=\*\*\*\*\s+environment$/m);
    const leaked = ['smtp-pa55word', 'redis-pa55word', 'webhook-s3cret-value', 'mm-hook-s3cret', 'db-pa55word', 'webhook-sig-s3cret', 'site-sig-s3cret', 'second-sig-s3cret'];
    for (const secret of leaked) {
      expect(result.stdout).not.toContain(secret);
    }
    const json = await runCli(['config', 'show', '--json'], { env: cleanEnv({ DATA_DIR: database.dataDir, DATABASE_URL: database.url }) });
    const items = (JSON.parse(json.stdout) as { items: Array<{ name: string; value: string | null; source: string }> }).items;
    expect(items.find((i) => i.name === 'DATABASE_URL')).toMatchObject({ source: 'environment' });
    expect(items.find((i) => i.name === 'AUTH_SESSION_TTL_SECONDS')).toEqual({ name: 'AUTH_SESSION_TTL_SECONDS', value: '2592000', source: 'default' });
  });

  it.sequential('config check: 0 when everything answers, 1 when a service is unreachable, 2 when invalid', async () => {
    const ok = await cli(['config', 'check']);
    expectExit(ok, 0);
    expect(ok.stdout).toMatch(/^configuration\s+ok\s+valid$/m);
    expect(ok.stdout).toMatch(/^database\s+ok\s+/m);
    expect(ok.stdout).toMatch(/^schema\s+ok\s+up to date$/m);

    const port = await freePort(); // nothing listens there
    const down = await runCli(['config', 'check', '--json'], {
      env: cleanEnv({
        DATA_DIR: database.dataDir,
        DATABASE_URL: database.url,
        REDIS_URL: `redis://:hidden-pw@127.0.0.1:${port}`,
        SMTP_URL: `smtp://u:hidden-pw@127.0.0.1:${port}`,
      }),
      timeoutMs: 30_000,
    });
    expectExit(down, 1);
    const report = JSON.parse(down.stdout) as { ok: boolean; checks: Array<{ check: string; ok: boolean }> };
    expect(report.ok).toBe(false);
    expect(report.checks.map((c) => [c.check, c.ok])).toEqual([
      ['configuration', true],
      ['database', true],
      ['schema', true],
      ['file modes', true],
      ['redis', false],
      ['smtp', false],
    ]);
    expect(down.stdout).not.toContain('hidden-pw');

    const noDatabase = await runCli(['config', 'check'], {
      env: cleanEnv({ DATA_DIR: database.dataDir, DATABASE_URL: `postgres://postgres:hidden-pw@127.0.0.1:${port}/x` }),
      timeoutMs: 30_000,
    });
    expectExit(noDatabase, 1);
    expect(noDatabase.stdout).toMatch(/^database\s+FAIL\s+.*ECONNREFUSED/m);
    expect(noDatabase.stdout).not.toContain('hidden-pw');

    const invalid = await runCli(['config', 'check'], { env: cleanEnv({ DATA_DIR: database.dataDir, PORT: 'abc' }) });
    expectExit(invalid, 2);
    expect(invalid.stdout).toMatch(/PORT/);
  });

  it.sequential('backup → wipe → restore gives back identical users, sessions and audit rows', async () => {
    const server = await startServer(database);
    try {
      expect((await login(server, owner, STRONG_PASSWORD)).status).toBe(200);
    } finally {
      await server.stop();
    }
    expectExit(await cli(['groups', 'create', 'backup-group']), 0);
    expectExit(await cli(['groups', 'add-member', 'backup-group', other]), 0);
    expectExit(await cli(['users', 'ban', other, '--for', '1d', '--reason', 'before backup']), 0);
    const before = await snapshot(database);
    expect(before.user).toHaveLength(2);
    expect(before.session.length).toBeGreaterThan(0);
    expect(before.audit_log.length).toBeGreaterThan(3);

    const file = path.join(database.dataDir, 'backups', `test${dialect === 'sqlite' ? '.db' : '.dump'}`);
    const backup = await cli(['backup', '--out', file, '--json']);
    expectExit(backup, 0);
    expect(JSON.parse(backup.stdout)).toMatchObject({ file, bytes: expect.any(Number) });

    for (const email of [owner, other]) expectExit(await cli(['users', 'delete', email, '--yes']), 0);
    const wiped = await snapshot(database);
    expect(wiped.user).toEqual([]);
    expect(wiped.session).toEqual([]);

    expectExit(await cli(['restore', file], 'no\n'), 130);
    expect((await snapshot(database)).user).toEqual([]);
    const restored = await cli(['restore', file, '--yes']);
    expectExit(restored, 0);
    expect(restored.stdout).toMatch(/^Restored /);
    expect(await snapshot(database)).toEqual(before);

    // The restored database serves: the owner signs in again.
    const again = await startServer(database);
    try {
      expect((await login(again, owner, STRONG_PASSWORD)).status).toBe(200);
    } finally {
      await again.stop();
    }

    // A file that is not a backup is refused and the data stays.
    const bogus = path.join(database.dataDir, 'bogus.bin');
    writeFileSync(bogus, 'definitely not a backup');
    const refused = await cli(['restore', bogus, '--yes']);
    expectExit(refused, 1);
    expect((await snapshot(database)).user).toHaveLength(2);
    expectExit(await cli(['restore', path.join(database.dataDir, 'missing.db'), '--yes']), 2);
  });

  it.sequential('restore refuses while a server uses the database unless --force; without --yes or a terminal it exits 2 asking for --yes', async () => {
    const file = path.join(database.dataDir, 'backups', `live${dialect === 'sqlite' ? '.db' : '.dump'}`);
    expectExit(await cli(['backup', '--out', file]), 0);

    const unanswered = await cli(['restore', file]); // standard input ends at once: no terminal, no answer
    expectExit(unanswered, 2);
    expect(unanswered.stderr).toMatch(/no terminal to confirm on.*Pass --yes to restore without asking/);

    const server = await startServer(database);
    try {
      const refused = await cli(['restore', file, '--yes']);
      expectExit(refused, 1);
      expect(refused.stderr).toMatch(/^error: a Gatehouse server is using .*Stop every server first, or pass --force to restore anyway\.$/m);
      expect(refused.stderr).toContain(dialect === 'sqlite' ? `(pid ${server.pid} on ` : 'connection(s) from');
      expect(refused.stdout).not.toMatch(/Restored/);
      expect((await login(server, owner, STRONG_PASSWORD)).status).toBe(200);

      const forced = await cli(['restore', file, '--yes', '--force']);
      expectExit(forced, 0);
      expect(forced.stderr).toMatch(/^warning: restoring while a server uses /m);
      expect(forced.stdout).toMatch(/^Restored /);
    } finally {
      await server.stop();
    }
    // Once the server is gone (PostgreSQL ends its backends a moment after the client closes), no --force is needed.
    let restored = await cli(['restore', file, '--yes']);
    for (let tries = 0; restored.code === 1 && restored.stderr.includes('is using') && tries < 50; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      restored = await cli(['restore', file, '--yes']);
    }
    expectExit(restored, 0);
  });
});

describe('gatehouse version bump', () => {
  it('raises major, minor or patch in package.json and package-lock.json, keeping the rest', async ({ onTestFinished }) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-version-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const pkg = path.join(dir, 'package.json');
    const lock = path.join(dir, 'package-lock.json');
    copyFileSync(path.join(REPO_ROOT, 'package.json'), pkg);
    copyFileSync(path.join(REPO_ROOT, 'package-lock.json'), lock);
    writeFileSync(pkg, readFileSync(pkg, 'utf8').replace(/"version": "[^"]*"/, '"version": "1.4.9"'));
    const pkgBefore = readFileSync(pkg, 'utf8');
    const env = cleanEnv({ DATA_DIR: dir });
    const bump = (part: string) => runCli(['version', 'bump', part, '--package-json', pkg], { env });

    const patch = await bump('patch');
    expectExit(patch, 0);
    expect(patch.stdout).toContain(`Version 1.4.9 → 1.4.10 in ${pkg}.`);
    expect(patch.stdout).toMatch(/API docs/);
    expect(readFileSync(pkg, 'utf8')).toBe(pkgBefore.replace('"version": "1.4.9"', '"version": "1.4.10"'));
    const lockJson = JSON.parse(readFileSync(lock, 'utf8')) as { version: string; packages: Record<string, { version?: string }> };
    expect(lockJson.version).toBe('1.4.10');
    expect(lockJson.packages['']?.version).toBe('1.4.10');
    expect(lockJson.packages['node_modules/commander']?.version).toBe('14.0.3');

    expectExit(await bump('minor'), 0);
    expect((JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version).toBe('1.5.0');
    expectExit(await bump('major'), 0);
    expect((JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version).toBe('2.0.0');
    expectExit(await bump('huge'), 2);
    expect(bumpVersion('0.1.0', 'minor')).toBe('0.2.0');
  });

  it('masks URL passwords, secret query parameters, webhook paths and *_SECRET values', () => {
    expect(maskSecret('DATABASE_URL', 'postgres://u:p@h:5432/db?sslpassword=x')).toBe('postgres://u:****@h:5432/db?sslpassword=****');
    expect(maskSecret('WEBHOOK_SECRET', 'abc')).toBe('********');
    expect(maskSecret('MATTERMOST_WEBHOOK_URL', 'https://mm.example/hooks/abc')).toBe('https://mm.example/****');
    expect(maskSecret('AUTH_ACCESS_TOKEN_TTL_SECONDS', '900')).toBe('900');
    expect(maskSecret('PUBLIC_URL', 'https://example.com/app')).toBe('https://example.com/app');
    // Every query value of a *_URL setting, whatever its name (signed URLs: ?sig=, ?X-Amz-Signature=).
    expect(maskSecret('SITE_URL', 'https://example.org/?sig=abc&X-Amz-Signature=def&v=1')).toBe('https://example.org/?sig=****&X-Amz-Signature=****&v=****');
    expect(maskSecret('REDIS_URL', 'redis://h:6379/0?sig=abc&sig=def')).toBe('redis://h:6379/0?sig=****');
  });
});
