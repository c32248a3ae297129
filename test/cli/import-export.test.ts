/**
 * `gatehouse users export|import` on both dialects (in the test process; an export and an import
 * through the real binary): an export → wipe →
 * import round trip (JSON and CSV) that gives back the same users, and imports of bcrypt and
 * argon2 hashes from another system whose owners then sign in over HTTP with their old password
 * (the stored hash becoming argon2id at that login). Per-row errors carry line numbers;
 * `--dry-run` writes nothing.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Algorithm, hash as argon2Hash } from '@node-rs/argon2';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AdminUserView, ExportedUser } from '../../src/access/user-admin.service.js';
import { dialects } from '../helpers/dialects.js';
import { STRONG_PASSWORD, uniqueEmail } from '../helpers/harness.js';
import { killAllChildren } from '../helpers/server-process.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { cliFor, createUser, expectExit, inProcessCliFor, login, startServer } from './cli-helpers.js';

afterAll(killAllChildren);

// A spawned binary or server takes seconds on a loaded machine.
vi.setConfig({ testTimeout: 180_000 });

/** The fields an import must give back exactly (updated_at is the import's own time). */
function comparable(user: ExportedUser): Omit<ExportedUser, 'updated_at'> {
  const { updated_at: _updated, ...rest } = user;
  return rest;
}

describe.concurrent.each(dialects)('gatehouse users export / import (%s)', (dialect) => {
  let database: TestDatabase;
  /** The command line in this process. */
  let cli: ReturnType<typeof cliFor>;
  /** The real binary. */
  let binary: ReturnType<typeof cliFor>;

  let exports = 0;
  /** Every user, through `users export --out` (an export to standard output is written straight to file descriptor 1, which only a spawned run captures). */
  async function exportAll(): Promise<ExportedUser[]> {
    const file = path.join(database.dataDir, `export-${++exports}.json`);
    expectExit(await cli(['users', 'export', '--out', file]), 0);
    return JSON.parse(readFileSync(file, 'utf8')) as ExportedUser[];
  }

  async function wipe(): Promise<void> {
    for (const user of await exportAll()) expectExit(await cli(['users', 'delete', user.email, '--yes']), 0);
    expect(await exportAll()).toEqual([]);
  }

  beforeAll(async () => {
    database = await createTestDatabase(dialect);
    cli = inProcessCliFor(database);
    binary = cliFor(database);
  });
  afterAll(async () => {
    await database?.drop();
  });

  it.sequential('export → wipe → import gives back the same users (JSON, then CSV)', async () => {
    expectExit(await cli(['groups', 'create', 'team-a']), 0);
    expectExit(await cli(['groups', 'create', 'team-b']), 0);
    const ann = uniqueEmail('rt-ann');
    const ben = uniqueEmail('rt-ben');
    await createUser(cli, ann, { name: 'Ann, "the" first', admin: true });
    await createUser(cli, ben, { name: 'Ben\nNewline' });
    expectExit(await cli(['users', 'edit', ben, '--profile', '{"avatar":"x,y","n":[1,2]}']), 0);
    expectExit(await cli(['groups', 'add-member', 'team-a', ben]), 0);
    expectExit(await cli(['groups', 'add-member', 'team-b', ben]), 0);
    expectExit(await cli(['users', 'ban', ben, '--for', '2d', '--reason', 'cool off']), 0);
    const before = (await exportAll()).map(comparable);
    expect(before).toHaveLength(2);
    // Without --out the export goes to standard output (JSON by default).
    const toStdout = await binary(['users', 'export']);
    expectExit(toStdout, 0);
    expect((JSON.parse(toStdout.stdout) as ExportedUser[]).map(comparable)).toEqual(before);
    expect(before[1]).toMatchObject({ email: ben, groups: ['team-a', 'team-b'], profile: { avatar: 'x,y', n: [1, 2] } });

    for (const format of ['json', 'csv'] as const) {
      const file = path.join(database.dataDir, `users.${format}`);
      const exported = await (format === 'json' ? binary : cli)(['users', 'export', '--out', file]);
      expectExit(exported, 0);
      expect(exported.stderr).toContain(`Exported 2 user(s) to ${file}`);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      if (format === 'csv') expect(readFileSync(file, 'utf8').split('\n')[0]).toMatch(/^id,email,name,/);
      await wipe();
      const imported = await (format === 'csv' ? binary : cli)(['users', 'import', file]);
      expectExit(imported, 0);
      expect(imported.stdout.trim()).toBe('Imported 2 of 2 user(s); 0 row(s) failed.');
      expect((await exportAll()).map(comparable)).toEqual(before);
    }

    // The imported admin signs in with the same password as before.
    const server = await startServer(database);
    try {
      expect((await login(server, ann, STRONG_PASSWORD)).status).toBe(200);
    } finally {
      await server.stop();
    }
  });

  it.sequential('bcrypt and argon2 hashes from another system: old passwords sign in and are rehashed to argon2id', async () => {
    const legacy = [
      { email: uniqueEmail('bcrypt-2b'), password: 'old-bcrypt-passphrase-1', hash: bcrypt.hashSync('old-bcrypt-passphrase-1', 8) },
      {
        email: uniqueEmail('bcrypt-2y'),
        password: 'old-php-passphrase-2',
        hash: bcrypt.hashSync('old-php-passphrase-2', 8).replace(/^\$2b\$/, '$2y$'),
      },
      {
        email: uniqueEmail('argon2i'),
        password: 'old-argon2i-passphrase-3',
        hash: await argon2Hash('old-argon2i-passphrase-3', { algorithm: Algorithm.Argon2i, memoryCost: 4096, timeCost: 3 }),
      },
      {
        email: uniqueEmail('argon2id-weak'),
        password: 'old-argon2id-passphrase-4',
        hash: await argon2Hash('old-argon2id-passphrase-4', { algorithm: Algorithm.Argon2id, memoryCost: 4096, timeCost: 1 }),
      },
    ];
    const file = path.join(database.dataDir, 'legacy.csv');
    writeFileSync(
      file,
      ['email,name,email_verified,password_hash', ...legacy.map((u) => `${u.email},Legacy,true,"${u.hash}"`)].join('\r\n'),
    );
    const imported = await cli(['users', 'import', file, '--json']);
    expectExit(imported, 0);
    expect(JSON.parse(imported.stdout)).toMatchObject({ imported: 4, failed: 0 });

    const server = await startServer(database);
    try {
      for (const user of legacy) {
        expect((await login(server, user.email, `${user.password}-wrong`)).status, user.email).toBe(401);
        expect((await login(server, user.email, user.password)).status, user.email).toBe(200);
      }
    } finally {
      await server.stop();
    }
    const after = new Map((await exportAll()).map((u) => [u.email, u.password_hash]));
    for (const user of legacy) expect(after.get(user.email), user.email).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });

  it.sequential('reports per-row errors with line numbers, exits 2, and --dry-run writes nothing', async () => {
    const good = uniqueEmail('rows-good');
    const dup = uniqueEmail('rows-dup');
    const taken = (await exportAll())[0]?.email ?? '';
    const lines = [
      '[',
      `{"email":"${good}","name":"Good","email_verified":true},`,
      `{"email":"not-an-email"},`,
      `{"email":"${dup}","password_hash":"md5:abcdef"},`,
      `{"email":"${taken}"},`,
      `{"email":"${dup}","role":"emperor"},`,
      `{"email":"${dup}","groups":["no-such-group"]},`,
      `{"email":"${dup}"},`,
      `{"email":"${dup.toUpperCase()}"}`,
      ']',
    ];
    const file = path.join(database.dataDir, 'rows.json');
    writeFileSync(file, lines.join('\n'));

    const dry = await cli(['users', 'import', file, '--dry-run']);
    expectExit(dry, 2);
    expect(dry.stdout.trim()).toBe('Checked 8 row(s): 2 would be imported, 6 with errors. Nothing was written.');
    expect(dry.stderr).toMatch(/^line 3 \(not-an-email\): email: must be an email address \[validation_failed\]$/m);
    expect(dry.stderr).toMatch(/^line 4 .*password_hash: must be an argon2id, argon2i or bcrypt/m);
    expect(dry.stderr).toMatch(/^line 5 .*already exists\. \[email_taken\]$/m);
    expect(dry.stderr).toMatch(/^line 6 .*role/m);
    expect(dry.stderr).toMatch(/^line 7 .*No group "no-such-group"\. \[not_found\]$/m);
    expect(dry.stderr).toMatch(/^line 9 .*is also on line 8\. \[email_taken\]$/m);
    expect((await exportAll()).map((u) => u.email)).not.toContain(good);

    const real = await cli(['users', 'import', file, '--json']);
    expectExit(real, 2);
    const summary = JSON.parse(real.stdout) as { imported: number; failed: number; errors: Array<{ line: number; code: string }> };
    expect(summary).toMatchObject({ imported: 2, failed: 6 });
    expect(summary.errors.map((e) => e.line)).toEqual([3, 4, 5, 6, 7, 9]);
    const list = await cli(['users', 'list', '--json', '--q', 'rows-']);
    const users = (JSON.parse(list.stdout) as { items: AdminUserView[] }).items;
    expect(users.map((u) => [u.email, u.email_verified])).toEqual([
      [good, true],
      [dup, false],
    ]);

    const broken = path.join(database.dataDir, 'broken.json');
    writeFileSync(broken, '[{"email": ');
    const whole = await cli(['users', 'import', broken]);
    expectExit(whole, 2);
    expect(whole.stderr).toMatch(/not valid JSON/);
    expectExit(await cli(['users', 'import', path.join(database.dataDir, 'missing.json')]), 2);
  });
});
