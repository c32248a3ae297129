/**
 * The real `gatehouse` binary (`node bin/gatehouse.js`) against a real database: migrate,
 * users create / list, its error messages and exit codes, Ctrl-C at a prompt inside a
 * pseudo-terminal, and a CLI-created user signing in over HTTP.
 */
import { readFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects, TEST_DATABASE_URL } from '../helpers/dialects.js';
import { STRONG_PASSWORD, uniqueEmail } from '../helpers/harness.js';
import { http, setCookie } from '../helpers/http-client.js';
import {
  BIN,
  cleanEnv,
  type CliResult,
  freePort,
  killAllChildren,
  REPO_ROOT,
  runCli,
  runInPty,
  serverEnv,
  startServerProcess,
} from '../helpers/server-process.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

/** A line that looks like a JavaScript stack frame. */
const STACK_FRAME = /^\s+at\s/m;

function expectNoStackTrace(result: { stdout?: string; stderr?: string; output?: string }): void {
  const all = `${result.stdout ?? ''}${result.stderr ?? ''}${result.output ?? ''}`;
  expect(all).not.toMatch(STACK_FRAME);
  expect(all).not.toMatch(/\b(TypeError|ReferenceError|SyntaxError)\b|node:internal/);
}

function expectOk(result: CliResult): void {
  expect(result, `exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`).toMatchObject({ code: 0, signal: null });
}

interface ListedUser {
  id: string;
  email: string;
  name: string;
  email_verified: boolean;
  role: string;
  status: string;
  created_at: string;
}

afterAll(killAllChildren);

// The three suites below run at the same time (at most three CLI processes at once on our 2 cores);
// the tests inside each suite run in order.
describe.concurrent.each(dialects)('gatehouse CLI against a real database (%s)', (dialect) => {
  let database: TestDatabase;
  let env: Record<string, string>;
  const admin = uniqueEmail('cli-admin');

  beforeAll(async () => {
    database = await createTestDatabase(dialect);
    env = cleanEnv({ DATA_DIR: database.dataDir, DATABASE_URL: database.url });
  });
  afterAll(async () => {
    await database?.drop();
  });

  it.sequential('migrate applies the migrations, then is idempotent', async () => {
    const first = await runCli(['migrate'], { env });
    expectOk(first);
    expect(first.stdout).toMatch(/^Applied: 0001-accounts\b/);
    const second = await runCli(['migrate'], { env });
    expectOk(second);
    expect(second.stdout.trim()).toBe('The database is up to date.');
  });

  it.sequential('users create --admin --password-stdin creates a verified admin that users list shows', async () => {
    const created = await runCli(['users', 'create', '--email', admin, '--name', 'Root Admin', '--admin', '--password-stdin'], {
      env,
      input: `${STRONG_PASSWORD}\n`,
    });
    expectOk(created);
    expect(created.stdout).toMatch(new RegExp(`^Created admin ${admin.replace(/[.+]/g, '\\$&')} \\([0-9a-f-]{36}\\)\\.`));
    expect(created.stdout).not.toContain(STRONG_PASSWORD);
    expect(created.stderr).not.toContain(STRONG_PASSWORD);

    const list = await runCli(['users', 'list'], { env });
    expectOk(list);
    const lines = list.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^EMAIL\s+NAME\s+VERIFIED\s+ROLE\s+GROUPS\s+STATUS\s+BANNED-UNTIL\s+CREATED$/);
    expect(lines[1]).toMatch(/^-+(\s+-+){7}$/);
    const row = lines.find((line) => line.startsWith(`${admin} `));
    expect(row, list.stdout).toBeDefined();
    expect(row?.split(/\s{2,}/)).toEqual([admin, 'Root Admin', 'yes', 'admin', '-', 'active', '-', expect.stringMatching(/^\d{4}-\d\d-\d\dT/)]);
  });

  it.sequential('users list --json prints the users as JSON', async () => {
    const list = await runCli(['users', 'list', '--json'], { env });
    expectOk(list);
    const page = JSON.parse(list.stdout) as { items: ListedUser[]; next_cursor: string | null };
    expect(page.next_cursor).toBeNull();
    expect(page.items).toEqual([
      expect.objectContaining({ email: admin, name: 'Root Admin', email_verified: true, role: 'admin', status: 'active' }),
    ]);
    expect(list.stdout).not.toMatch(/password/i);
  });

  it.sequential('refuses a duplicate email (any case) with a clear message, a non-zero exit and no stack trace', async () => {
    const duplicate = await runCli(['users', 'create', '--email', admin.toUpperCase(), '--password-stdin'], {
      env,
      input: 'a-completely-different-passphrase-81\n',
    });
    expect(duplicate.code).not.toBe(0);
    expect(duplicate.code).toBe(2);
    expect(duplicate.stderr).toMatch(/already exists/i);
    expect(duplicate.stderr).toMatch(/email_taken/);
    expectNoStackTrace(duplicate);
  });

  it.sequential('refuses a weak password with a non-zero exit and creates nothing', async () => {
    const email = uniqueEmail('cli-weak');
    const weak = await runCli(['users', 'create', '--email', email, '--password-stdin'], { env, input: 'password123\n' });
    expect(weak.code).not.toBe(0);
    expect(weak.stderr).toMatch(/weak_password/);
    expectNoStackTrace(weak);
    const short = await runCli(['users', 'create', '--email', email, '--password-stdin'], { env, input: 'short\n' });
    expect(short.code).not.toBe(0);
    expectNoStackTrace(short);
    const list = await runCli(['users', 'list', '--json'], { env });
    expect((JSON.parse(list.stdout) as { items: ListedUser[] }).items.map((u) => u.email)).toEqual([admin]);
  });

  it.sequential('the user created by the CLI signs in over HTTP on a spawned server', async () => {
    const port = await freePort();
    const server = await startServerProcess({ env: serverEnv({ port, dataDir: database.dataDir, databaseUrl: database.url }) });
    try {
      const login = await http(server.url, '/api/v1/auth/login', {
        json: { email: admin, password: STRONG_PASSWORD },
        origin: server.url,
      });
      expect(login.status).toBe(200);
      expect(login.json.user).toMatchObject({ email: admin, name: 'Root Admin', role: 'admin', email_verified: true });
      const cookie = setCookie(login, 'gh_session')?.pair ?? '';
      expect((await http(server.url, '/api/v1/users/me', { cookie })).json).toMatchObject({ email: admin, role: 'admin' });
    } finally {
      expect(await server.stop()).toEqual({ code: 0, signal: null });
    }
  });
});

describe.concurrent('gatehouse CLI without a database', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
  });
  afterAll(async () => {
    await database?.drop();
  });

  it.sequential('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-v']) {
      const result = await runCli([flag], { env: cleanEnv({ DATA_DIR: database.dataDir }) });
      expectOk(result);
      expect(result.stdout.trim()).toBe(version);
    }
  });

  it.sequential('stops on invalid configuration with a message naming the variable', { timeout: 90_000 }, async () => {
    const port = await freePort();
    const serve = await runCli(['serve'], { env: cleanEnv({ DATA_DIR: database.dataDir, PORT: 'abc' }), timeoutMs: 25_000 });
    expect(serve.code).not.toBe(0);
    expect(serve.stderr).toMatch(/PORT/);
    expectNoStackTrace(serve);
    // Several bad variables are all named at once; the server never started listening.
    const many = await runCli(['serve'], {
      env: cleanEnv({ DATA_DIR: database.dataDir, PORT: String(port), PUBLIC_URL: 'not a url', MAIL_POLL_SECONDS: '-1' }),
      timeoutMs: 25_000,
    });
    expect(many.code).not.toBe(0);
    expect(many.stderr).toMatch(/PUBLIC_URL/);
    expect(many.stderr).toMatch(/MAIL_POLL_SECONDS/);
    expectNoStackTrace(many);
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  });

  // Generous limits: the server migrates and starts its threads before it finds the port taken
  // (about 2 s on a quiet machine; more than 10 s once, with other suites running).
  it.sequential('serve on a port that is taken exits non-zero with a message naming the address', { timeout: 90_000 }, async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as AddressInfo).port;
    try {
      const result = await runCli(['serve'], { env: cleanEnv({ DATA_DIR: database.dataDir, PORT: String(port) }), timeoutMs: 60_000 });
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(`EADDRINUSE`);
      expect(result.stderr).toContain(`127.0.0.1:${port}`);
      expectNoStackTrace(result);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it.sequential('an unreachable or missing PostgreSQL database exits non-zero with the reason, no stack trace', async () => {
    const port = await freePort(); // nothing listens there
    const unreachable = await runCli(['migrate'], {
      env: cleanEnv({ DATA_DIR: database.dataDir, DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/gatehouse` }),
      timeoutMs: 15_000,
    });
    expect(unreachable.code).not.toBe(0);
    expect(unreachable.stderr).toMatch(/ECONNREFUSED/);
    expectNoStackTrace(unreachable);
    const serve = await runCli(['serve'], {
      env: cleanEnv({ DATA_DIR: database.dataDir, PORT: String(port), DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/gatehouse` }),
      timeoutMs: 15_000,
    });
    expect(serve.code).not.toBe(0);
    expect(serve.stderr).toMatch(/ECONNREFUSED/);
    expectNoStackTrace(serve);
    if (TEST_DATABASE_URL) {
      const missing = new URL(TEST_DATABASE_URL);
      missing.pathname = '/gatehouse_no_such_database';
      const result = await runCli(['migrate'], { env: cleanEnv({ DATA_DIR: database.dataDir, DATABASE_URL: missing.toString() }) });
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/gatehouse_no_such_database.*does not exist/);
      expectNoStackTrace(result);
    }
  });

  it.sequential('an unknown command or option exits non-zero with a usage hint', async () => {
    const result = await runCli(['users', 'frobnicate'], { env: cleanEnv({ DATA_DIR: database.dataDir }) });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/unknown command|error/i);
    expectNoStackTrace(result);
  });

  it.sequential('Ctrl-C at the email prompt exits cleanly (130, "Cancelled", no stack trace)', async () => {
    const result = await runInPty([process.execPath, BIN, 'users', 'create'], {
      env: cleanEnv({ DATA_DIR: database.dataDir }),
      steps: [{ waitFor: 'Email address', send: '\x03' }],
    });
    expect(result.completed, result.output).toBe(true);
    expect(result.code, result.output).toBe(130);
    expect(result.output).toContain('Cancelled');
    expectNoStackTrace(result);
  });

  it.sequential('Ctrl-C at the password prompt exits cleanly and creates nothing', async () => {
    const env = cleanEnv({ DATA_DIR: database.dataDir, DATABASE_URL: database.url });
    const email = uniqueEmail('cli-ctrl-c');
    const result = await runInPty([process.execPath, BIN, 'users', 'create'], {
      env,
      steps: [
        { waitFor: 'Email address', send: `${email}\r` },
        { waitFor: 'Display name', send: 'Ctrl C\r' },
        { waitFor: 'Password', send: '\x03' },
      ],
    });
    expect(result.completed, result.output).toBe(true);
    expect(result.code, result.output).toBe(130);
    expect(result.output).toContain('Cancelled');
    expectNoStackTrace(result);
    const list = await runCli(['users', 'list', '--json'], { env });
    expectOk(list);
    expect(list.stdout).not.toContain(email);
  });

  it.sequential('the prompts create a user when answered', async () => {
    const env = cleanEnv({ DATA_DIR: database.dataDir, DATABASE_URL: database.url });
    const email = uniqueEmail('cli-prompted');
    const result = await runInPty([process.execPath, BIN, 'users', 'create'], {
      env,
      steps: [
        { waitFor: 'Email address', send: `${email}\r` },
        { waitFor: 'Display name', send: 'Prompted Person\r' },
        { waitFor: 'Password (10', send: `${STRONG_PASSWORD}\r` },
        { waitFor: 'Repeat the password', send: `${STRONG_PASSWORD}\r` },
      ],
    });
    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain(`Created user ${email}`);
    expect(result.output).not.toContain(STRONG_PASSWORD); // not echoed
    const list = await runCli(['users', 'list', '--json'], { env });
    expect(list.stdout).toContain('Prompted Person');
  });

  it.sequential('a mistyped repeat creates nothing', async () => {
    const env = cleanEnv({ DATA_DIR: database.dataDir, DATABASE_URL: database.url });
    const email = uniqueEmail('cli-mistyped');
    const result = await runInPty([process.execPath, BIN, 'users', 'create'], {
      env,
      steps: [
        { waitFor: 'Email address', send: `${email}\r` },
        { waitFor: 'Display name', send: '\r' },
        { waitFor: 'Password (10', send: `${STRONG_PASSWORD}\r` },
        { waitFor: 'Repeat the password', send: `${STRONG_PASSWORD}x\r` },
      ],
    });
    expect(result.code, result.output).toBe(2);
    expect(result.output).toContain('differ');
    const list = await runCli(['users', 'list', '--json'], { env });
    expect(list.stdout).not.toContain(email);
  });

  it.sequential('without a terminal and without --password-stdin it refuses instead of doing nothing', async () => {
    const env = cleanEnv({ DATA_DIR: database.dataDir, DATABASE_URL: database.url });
    const email = uniqueEmail('cli-notty');
    const result = await runCli(['users', 'create', '--email', email, '--admin'], { env });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--password-stdin');
    const list = await runCli(['users', 'list', '--json'], { env });
    expect(list.stdout).not.toContain(email);
  });
});
