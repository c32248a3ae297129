/**
 * `gatehouse users …` against a real database (both dialects; in the test process, the first
 * command and every terminal session through the real binary): the list
 * with its columns, filters and paging; show, edit, verify, roles, bans, sessions (with a spawned
 * server signing users in), deactivation with its triple confirmation (pseudo-terminal, piped
 * stdin, --yes, Ctrl-C at every step) and deletion. Output and exit codes are checked each time.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AdminUserView } from '../../src/access/user-admin.service.js';
import { dialects } from '../helpers/dialects.js';
import { STRONG_PASSWORD, uniqueEmail } from '../helpers/harness.js';
import { http } from '../helpers/http-client.js';
import { BIN, killAllChildren, runInPty, type ServerProcess } from '../helpers/server-process.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { cliEnv, cliFor, createUser, expectExit, expectNoStackTrace, inProcessCliFor, login, startServer } from './cli-helpers.js';

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

afterAll(killAllChildren);

// A spawned binary or server takes seconds on a loaded machine.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 180_000 });

describe.concurrent.each(dialects)('gatehouse users … (%s)', (dialect) => {
  let database: TestDatabase;
  let cli: ReturnType<typeof cliFor>;
  const admin = uniqueEmail('users-admin');
  const alice = uniqueEmail('users-alice');
  const bob = uniqueEmail('users-bob');
  let aliceId = '';
  let running: Promise<ServerProcess> | undefined;
  /** One `gatehouse serve` on this database, started by the first test that needs it and shared (a start costs seconds of CPU). */
  const server = (): Promise<ServerProcess> => (running ??= startServer(database));

  async function show(email: string): Promise<AdminUserView & { active_sessions: number }> {
    const result = await cli(['users', 'show', email, '--json']);
    expectExit(result, 0);
    return JSON.parse(result.stdout) as AdminUserView & { active_sessions: number };
  }

  beforeAll(async () => {
    database = await createTestDatabase(dialect);
    cli = inProcessCliFor(database);
    await createUser(cliFor(database), admin, { name: 'Root', admin: true });
    aliceId = await createUser(cli, alice, { name: 'Alice Liddell' });
    await createUser(cli, bob, { name: 'Bob' });
    expectExit(await cli(['groups', 'create', 'reviewers', '--permission', 'users:read']), 0);
    expectExit(await cli(['groups', 'add-member', 'reviewers', alice]), 0);
  });
  afterAll(async () => {
    if (running) expect(await (await running).stop()).toEqual({ code: 0, signal: null });
    await database?.drop();
  });

  it.sequential('list prints every column, filters and pages', async () => {
    const list = await cli(['users', 'list']);
    expectExit(list, 0);
    const lines = list.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^EMAIL\s+NAME\s+VERIFIED\s+ROLE\s+GROUPS\s+STATUS\s+BANNED-UNTIL\s+CREATED$/);
    const row = lines.find((l) => l.startsWith(`${alice} `));
    expect(row?.split(/\s{2,}/)).toEqual([alice, 'Alice Liddell', 'yes', 'user', 'reviewers', 'active', '-', expect.stringMatching(/^\d{4}-/)]);

    const filtered = async (...args: string[]) => {
      const result = await cli(['users', 'list', '--json', ...args]);
      expectExit(result, 0);
      return (JSON.parse(result.stdout) as { items: AdminUserView[] }).items.map((u) => u.email);
    };
    expect(await filtered('--role', 'admin')).toEqual([admin]);
    expect(await filtered('--q', 'LIDDELL')).toEqual([alice]);
    expect(await filtered('--group', 'reviewers')).toEqual([alice]);
    expect(await filtered('--verified', 'no')).toEqual([]);
    expect(await filtered('--verified')).toEqual([admin, alice, bob]);
    expect(await filtered('--banned')).toEqual([]);
    expect(await filtered('--status', 'deactivated')).toEqual([]);

    const first = await cli(['users', 'list', '--limit', '2', '--json']);
    const page = JSON.parse(first.stdout) as { items: AdminUserView[]; next_cursor: string };
    expect(page.items.map((u) => u.email)).toEqual([admin, alice]);
    expect(page.next_cursor).toMatch(UUID);
    expect(await filtered('--limit', '2', '--cursor', page.next_cursor)).toEqual([bob]);
    const table = await cli(['users', 'list', '--limit', '2']);
    expect(table.stdout).toContain(`More users: gatehouse users list --cursor ${page.next_cursor}`);

    expectExit(await cli(['users', 'list', '--role', 'emperor']), 2);
    expectExit(await cli(['users', 'list', '--limit', '0']), 2);
  });

  it.sequential('show finds a user by email or id; an unknown user exits 2', async () => {
    const byEmail = await cli(['users', 'show', alice.toUpperCase()]);
    expectExit(byEmail, 0);
    expect(byEmail.stdout).toMatch(new RegExp(`^ID:\\s+${aliceId}$`, 'm'));
    expect(byEmail.stdout).toMatch(/^Groups:\s+reviewers$/m);
    expect(byEmail.stdout).not.toMatch(/argon2|password/i);
    expect((await show(aliceId)).email).toBe(alice);
    const missing = await cli(['users', 'show', 'nobody@example.com']);
    expectExit(missing, 2);
    expect(missing.stderr).toMatch(/not_found/);
  });

  it.sequential('edit changes the name and the profile; bad JSON exits 2 and changes nothing', async () => {
    const edited = await cli(['users', 'edit', alice, '--name', 'Alice L.', '--profile', '{"avatar":"https://a.test/a.png"}']);
    expectExit(edited, 0);
    expect(edited.stdout.trim()).toBe(`Updated ${alice}.`);
    expect(await show(alice)).toMatchObject({ name: 'Alice L.', profile: { avatar: 'https://a.test/a.png' } });
    expectExit(await cli(['users', 'edit', alice, '--profile', '{not json']), 2);
    expectExit(await cli(['users', 'edit', alice, '--profile', '[1,2]']), 2);
    expectExit(await cli(['users', 'edit', alice]), 2);
    expect((await show(alice)).name).toBe('Alice L.');
  });

  it.sequential('verify marks an imported, unverified user verified', async () => {
    const carol = uniqueEmail('users-carol');
    const file = path.join(database.dataDir, 'carol.json');
    writeFileSync(file, JSON.stringify([{ email: carol, name: 'Carol' }]));
    expectExit(await cli(['users', 'import', file]), 0);
    expect((await show(carol)).email_verified).toBe(false);
    const verified = await cli(['users', 'verify', carol]);
    expectExit(verified, 0);
    expect(verified.stdout.trim()).toBe(`${carol} is now verified.`);
    expect((await show(carol)).email_verified).toBe(true);
    expect((await cli(['users', 'verify', carol])).stdout.trim()).toBe(`${carol} was already verified.`);
  });

  it.sequential('set-role, make-admin and remove-admin change roles; bad input exits 2', async () => {
    expectExit(await cli(['users', 'set-role', bob, 'worker']), 0);
    expect((await show(bob)).role).toBe('worker');
    const notAdmin = await cli(['users', 'remove-admin', bob]);
    expectExit(notAdmin, 2);
    expect(notAdmin.stderr).toMatch(/not an admin/);
    expect((await show(bob)).role).toBe('worker');
    const promoted = await cli(['users', 'make-admin', bob]);
    expectExit(promoted, 0);
    expect(promoted.stdout.trim()).toBe(`${bob} now has the admin role (was worker).`);
    expectExit(await cli(['users', 'remove-admin', bob]), 0);
    expect((await show(bob)).role).toBe('user');
    expectExit(await cli(['users', 'set-role', bob, 'emperor']), 2);
  });

  it.sequential('ban --for / --until / indefinitely, list --banned, unban; bad input exits 2', async () => {
    const banned = await cli(['users', 'ban', bob, '--for', '7d', '--reason', 'spam']);
    expectExit(banned, 0);
    const view = await show(bob);
    expect(Date.parse(view.banned_until ?? '') - Date.now()).toBeGreaterThan(6.9 * 86_400_000);
    expect(view.ban_reason).toBe('spam');
    const list = await cli(['users', 'list', '--banned']);
    const row = list.stdout.split('\n').find((l) => l.startsWith(`${bob} `));
    expect(row?.split(/\s{2,}/)[6]).toBe(view.banned_until);
    expectExit(await cli(['users', 'unban', bob]), 0);
    expect((await show(bob)).banned_until).toBeNull();
    const again = await cli(['users', 'unban', bob]);
    expectExit(again, 2);
    expect(again.stderr).toMatch(/not banned/);

    expectExit(await cli(['users', 'ban', bob, '--until', '2000-01-01T00:00:00Z']), 2);
    expectExit(await cli(['users', 'ban', bob, '--for', 'soon']), 2);
    expectExit(await cli(['users', 'ban', bob, '--for', '1d', '--until', '2099-01-01T00:00:00Z']), 2);
    expect((await show(bob)).banned_until).toBeNull();

    const until = await cli(['users', 'ban', bob, '--until', '2099-01-01T00:00:00Z']);
    expectExit(until, 0);
    expect(until.stdout.trim()).toBe(`Banned ${bob} until 2099-01-01T00:00:00.000Z.`);
    expectExit(await cli(['users', 'unban', bob]), 0);
    const forever = await cli(['users', 'ban', bob]);
    expectExit(forever, 0);
    expect(forever.stdout.trim()).toBe(`Banned ${bob} indefinitely.`);
    expect((await cli(['users', 'list'])).stdout.split('\n').find((l) => l.startsWith(`${bob} `))).toMatch(/\sindefinitely\s/);
    expectExit(await cli(['users', 'unban', bob]), 0);
  });

  it.sequential('sessions lists a user’s sessions and revokes one or all; revoked cookies stop working', async () => {
    const serve = await server();
    const first = await login(serve, alice, STRONG_PASSWORD);
    const second = await login(serve, alice, STRONG_PASSWORD);
    expect([first.status, second.status]).toEqual([200, 200]);
    const listed = await cli(['users', 'sessions', alice, '--json']);
    expectExit(listed, 0);
    const sessions = (JSON.parse(listed.stdout) as { items: Array<{ id: string }> }).items;
    expect(sessions).toHaveLength(2);
    const table = await cli(['users', 'sessions', alice]);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+CREATED\s+LAST-SEEN\s+EXPIRES\s+IP\s+USER-AGENT$/);

    // Newest first: sessions[0] is the second login.
    const revoked = await cli(['users', 'sessions', alice, '--revoke', sessions[0]?.id ?? '']);
    expectExit(revoked, 0);
    expect(revoked.stdout.trim()).toBe(`Revoked session ${sessions[0]?.id} of ${alice}.`);
    // The server hears of another process's revocation by LISTEN/NOTIFY on PostgreSQL (or SQLite's
    // data_version): within moments, not in the same instant the CLI returns.
    await expect.poll(async () => (await http(serve.url, '/api/v1/users/me', { cookie: second.cookie })).status).toBe(401);
    expect((await http(serve.url, '/api/v1/users/me', { cookie: first.cookie })).status).toBe(200);
    expectExit(await cli(['users', 'sessions', alice, '--revoke', sessions[0]?.id ?? '']), 2);
    expectExit(await cli(['users', 'sessions', bob, '--revoke', sessions[1]?.id ?? '']), 2);

    const all = await cli(['users', 'sessions', alice, '--revoke-all']);
    expectExit(all, 0);
    expect(all.stdout.trim()).toBe(`Revoked 1 session(s) of ${alice}.`);
    await expect.poll(async () => (await http(serve.url, '/api/v1/users/me', { cookie: first.cookie })).status).toBe(401);
    expect((await cli(['users', 'sessions', alice])).stdout.trim()).toBe(`${alice} has no active sessions.`);
  });

  it.sequential('deactivate: the triple confirmation in a terminal, then the user can no longer sign in', async () => {
    const dave = uniqueEmail('users-dave');
    await createUser(cli, dave);
    const result = await runInPty([process.execPath, BIN, 'users', 'deactivate', dave], {
      env: cliEnv(database),
      steps: [
        { waitFor: "Type the user's email", send: `${dave}\r` },
        { waitFor: 'Type "deactivate"', send: 'deactivate\r' },
        { waitFor: 'now?', send: 'y' },
      ],
      timeoutMs: 30_000,
    });
    expect(result.completed, result.output).toBe(true);
    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain(`Deactivated ${dave}`);
    expectNoStackTrace(result);
    expect((await show(dave)).status).toBe('deactivated');
    const again = await cli(['users', 'deactivate', dave, '--yes']);
    expectExit(again, 2);
    expect(again.stderr).toMatch(/already deactivated/);
    expectExit(await cli(['users', 'reactivate', dave]), 0);
    expect((await show(dave)).status).toBe('active');
  });

  it.sequential('deactivate: Ctrl-C at each of the three steps exits 130 with "Cancelled." and changes nothing', async () => {
    const erin = uniqueEmail('users-erin');
    await createUser(cli, erin);
    const attempts: Array<Array<{ waitFor: string; send: string }>> = [
      [{ waitFor: "Type the user's email", send: '\x03' }],
      [
        { waitFor: "Type the user's email", send: `${erin}\r` },
        { waitFor: 'Type "deactivate"', send: '\x03' },
      ],
      [
        { waitFor: "Type the user's email", send: `${erin}\r` },
        { waitFor: 'Type "deactivate"', send: 'deactivate\r' },
        { waitFor: 'now?', send: '\x03' },
      ],
    ];
    for (const steps of attempts) {
      const result = await runInPty([process.execPath, BIN, 'users', 'deactivate', erin], {
        env: cliEnv(database),
        steps,
        timeoutMs: 30_000,
      });
      expect(result.completed, result.output).toBe(true);
      expect(result.code, result.output).toBe(130);
      expect(result.output).toContain('Cancelled.');
      expectNoStackTrace(result);
      expect((await show(erin)).status).toBe('active');
    }
    // Answering "no" at the last step cancels too.
    const declined = await runInPty([process.execPath, BIN, 'users', 'deactivate', erin], {
      env: cliEnv(database),
      steps: [
        { waitFor: "Type the user's email", send: `${erin}\r` },
        { waitFor: 'Type "deactivate"', send: 'deactivate\r' },
        { waitFor: 'now?', send: 'n' },
      ],
      timeoutMs: 30_000,
    });
    expect(declined.code, declined.output).toBe(130);
    expect((await show(erin)).status).toBe('active');
  });

  it.sequential('deactivate: answers piped into stdin, a mistyped answer, end of input, and --yes', async () => {
    const frank = uniqueEmail('users-frank');
    await createUser(cli, frank);
    const wrongEmail = await cli(['users', 'deactivate', frank], `someone-else@example.com\ndeactivate\nyes\n`);
    expectExit(wrongEmail, 2);
    expect(wrongEmail.stderr).toMatch(/Nothing was changed/);
    const wrongWord = await cli(['users', 'deactivate', frank], `${frank}\nDeactivate please\nyes\n`);
    expectExit(wrongWord, 2);
    const ended = await cli(['users', 'deactivate', frank], `${frank}\n`);
    expectExit(ended, 130);
    expect(ended.stderr).toContain('Cancelled.');
    const declined = await cli(['users', 'deactivate', frank], `${frank}\ndeactivate\nno\n`);
    expectExit(declined, 130);
    expect((await show(frank)).status).toBe('active');

    const piped = await cli(['users', 'deactivate', frank], `${frank}\ndeactivate\nyes\n`);
    expectExit(piped, 0);
    expect(piped.stdout.trim()).toBe(`Deactivated ${frank}; their sessions and API keys are revoked.`);
    expect((await show(frank)).status).toBe('deactivated');

    const george = uniqueEmail('users-george');
    await createUser(cli, george);
    expectExit(await cli(['users', 'deactivate', george, '--yes']), 0);
    expect((await show(george)).status).toBe('deactivated');
    expect((await login(await server(), george, STRONG_PASSWORD)).status).toBe(401);
  });

  it.sequential('delete asks to confirm (stdin or terminal), --yes skips; Ctrl-C or "no" keeps the user', async () => {
    const hank = uniqueEmail('users-hank');
    await createUser(cli, hank);
    expectExit(await cli(['users', 'delete', hank], 'no\n'), 130);
    const ctrlC = await runInPty([process.execPath, BIN, 'users', 'delete', hank], {
      env: cliEnv(database),
      steps: [{ waitFor: 'permanently?', send: '\x03' }],
      timeoutMs: 30_000,
    });
    expect(ctrlC.code, ctrlC.output).toBe(130);
    expect(ctrlC.output).toContain('Cancelled.');
    expectNoStackTrace(ctrlC);
    expect((await show(hank)).email).toBe(hank);
    const deleted = await cli(['users', 'delete', hank], 'yes\n');
    expectExit(deleted, 0);
    expect(deleted.stdout.trim()).toBe(`Deleted ${hank}.`);
    expectExit(await cli(['users', 'show', hank]), 2);

    const ivy = uniqueEmail('users-ivy');
    await createUser(cli, ivy);
    expectExit(await cli(['users', 'delete', ivy, '--yes']), 0);
    expectExit(await cli(['users', 'delete', ivy, '--yes']), 2);
  });
});
