/**
 * The `gatehouse` command line for access control and secrets (the real binary, `node
 * bin/gatehouse.js`, for the first command of each kind and for `secrets rotate`; the same command
 * line in the test process for the rest, see test/helpers/cli-in-process.ts):
 * `keys rotate` (and a server started afterwards serving every key still needed, the audit log
 * recording it), `secrets rotate NAME` rewriting a dotenv file, and `groups …` (create, list,
 * update, membership, delete, validation, duration parsing), with the effect of memberships
 * checked on a spawned server over HTTP.
 */
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { createLocalJWKSet, decodeProtectedHeader, type JWK, jwtVerify } from 'jose';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { GroupView } from '../../src/access/access.service.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { dialects } from '../helpers/dialects.js';
import { STRONG_PASSWORD, uniqueEmail } from '../helpers/harness.js';
import { http, setCookie } from '../helpers/http-client.js';
import {
  cleanEnv,
  type CliResult,
  freePort,
  killAllChildren,
  runCli,
  serverEnv,
  type ServerProcess,
  startServerProcess,
} from '../helpers/server-process.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

/** A line that looks like a JavaScript stack frame. */
const STACK_FRAME = /^\s+at\s/m;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;
/** 256 random bits, base64url without padding. */
const SECRET_VALUE = /^[A-Za-z0-9_-]{43}$/;
/** Access-token lifetime given to the CLI and the servers (not the default, so the output must come from the config). */
const ACCESS_TOKEN_TTL = '600';

function expectNoStackTrace(result: CliResult): void {
  const all = `${result.stdout}${result.stderr}`;
  expect(all).not.toMatch(STACK_FRAME);
  expect(all).not.toMatch(/\b(TypeError|ReferenceError|SyntaxError)\b|node:internal/);
}

function expectOk(result: CliResult): void {
  expect(result, `exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`).toMatchObject({ code: 0, signal: null });
}

function expectInvalid(result: CliResult): void {
  expect(result, `exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`).toMatchObject({ code: 2, signal: null });
  expectNoStackTrace(result);
}

/** Polls `probe` until it returns true, for at most `ms`. */
async function within(ms: number, probe: () => Promise<boolean>): Promise<void> {
  const start = performance.now();
  for (;;) {
    if (await probe()) return;
    if (performance.now() - start > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

afterAll(killAllChildren);

// Servers and some commands are spawned; tests without a limit of their own get the CLI suites' generous one.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 180_000 });

// One suite per dialect, run at the same time; the tests inside each suite run in order.
describe.concurrent.each(dialects)('gatehouse keys and groups commands against a real database (%s)', (dialect) => {
  let database: TestDatabase;
  let env: Record<string, string>;
  const admin = uniqueEmail('cli-keys-admin');
  const member = uniqueEmail('cli-member');

  /** The real binary. */
  const binary = (args: string[], input?: string) => runCli(args, { env, timeoutMs: 60_000, ...(input === undefined ? {} : { input }) });
  /** The same command line in this process. */
  const cli = (args: string[], input?: string) => runCliInProcess(args, { env, ...(input === undefined ? {} : { input }) });

  async function startServer(): Promise<ServerProcess> {
    const port = await freePort();
    return startServerProcess({
      env: serverEnv({
        port,
        dataDir: database.dataDir,
        databaseUrl: database.url,
        extra: { AUTH_ACCESS_TOKEN_TTL_SECONDS: ACCESS_TOKEN_TTL, LOG_LEVEL: 'warn' },
      }),
      // Start-up takes 15 s+ on a loaded 2-core machine (the same minute the CLI suites allow).
      readyTimeoutMs: 60_000,
    });
  }

  async function listGroups(): Promise<GroupView[]> {
    const list = await cli(['groups', 'list', '--json']);
    expectOk(list);
    return (JSON.parse(list.stdout) as { items: GroupView[] }).items;
  }

  beforeAll(async () => {
    database = await createTestDatabase(dialect);
    env = cleanEnv({ DATA_DIR: database.dataDir, DATABASE_URL: database.url, AUTH_ACCESS_TOKEN_TTL_SECONDS: ACCESS_TOKEN_TTL });
    expectOk(await binary(['users', 'create', '--email', admin, '--admin', '--password-stdin'], `${STRONG_PASSWORD}\n`));
  });
  afterAll(async () => {
    // Not killAllChildren() here: it would also kill the other dialect's server (same module, same process).
    await database?.drop();
  });

  it.sequential(
    'keys rotate activates a new key; a server started afterwards serves every key still needed; the audit log records it',
    async () => {
      // Commands generate no signing key (only a server's start or a rotation does): the first
      // rotation on this database creates its first key and retires nothing.
      const first = await binary(['keys', 'rotate']);
      expectOk(first);
      const kid0 = new RegExp(`^New signing key (${UUID.source}) is active\\.$`, 'm').exec(first.stdout)?.[1];
      expect(kid0, first.stdout).toBeDefined();
      expect(first.stdout).not.toMatch(/Retired/);

      const rotated = await cli(['keys', 'rotate']);
      expectOk(rotated);
      const kid1 = new RegExp(`^New signing key (${UUID.source}) is active\\.$`, 'm').exec(rotated.stdout)?.[1];
      expect(kid1, rotated.stdout).toBeDefined();
      // The first key is the one retired.
      const retired0 = new RegExp(`^Retired (${UUID.source}): still in the JWKS for 660 s, until the tokens they signed expire\\.$`, 'm').exec(
        rotated.stdout,
      )?.[1];
      expect(retired0, rotated.stdout).toBe(kid0);
      expect(kid0).not.toBe(kid1);
      expect(rotated.stdout).toMatch(/no restart is needed/);
      // stderr names the database a changing command uses (stdout stays the command's output).
      expect(rotated.stderr).toBe(`Database: ${dialect} ${dialect === 'sqlite' ? database.url.replace(/^sqlite:/, '') : database.url}\n`);

      const json = await cli(['keys', 'rotate', '--json']);
      expectOk(json);
      const second = JSON.parse(json.stdout) as { kid: string; retired: string[]; retired_keys_verify_for_seconds: number };
      expect(second).toStrictEqual({ kid: expect.stringMatching(UUID), retired: [kid1], retired_keys_verify_for_seconds: 660 });
      const kid2 = second.kid;
      expect([kid0, kid1]).not.toContain(kid2);

      const server = await startServer();
      try {
        const jwks = await http(server.url, '/.well-known/jwks.json');
        expect(jwks.status).toBe(200);
        const keys = (jwks.json as { keys: JWK[] }).keys;
        // Both retired keys were retired less than one token lifetime ago: all three verify.
        expect(keys.map((k) => k.kid).sort()).toEqual([kid0, kid1, kid2].sort());
        for (const key of keys) {
          expect(key).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
          expect(key).not.toHaveProperty('d');
        }

        // The server signs with the key the last rotation activated; the token verifies against its JWKS.
        const grant = await http(server.url, '/api/v1/auth/token', {
          json: { grant_type: 'password', username: admin, password: STRONG_PASSWORD },
        });
        expect(grant.status, grant.text).toBe(200);
        const accessToken = grant.json.access_token as string;
        expect(decodeProtectedHeader(accessToken).kid).toBe(kid2);
        const { payload } = await jwtVerify(accessToken, createLocalJWKSet({ keys }), {
          issuer: server.url,
          audience: server.url,
          algorithms: ['EdDSA'],
        });
        expect(payload.exp).toBe((payload.iat ?? 0) + 600);

        const audit = await http(server.url, '/api/v1/audit?action=keys.rotate', { bearer: accessToken });
        expect(audit.status, audit.text).toBe(200);
        const entries = audit.json.items as Array<Record<string, unknown>>;
        expect(entries).toEqual([
          expect.objectContaining({
            action: 'keys.rotate',
            actor_id: null,
            target_type: 'signing_key',
            target_id: kid2,
            ip: null,
            user_agent: 'gatehouse-cli',
            details: { retired: [kid1] },
          }),
          expect.objectContaining({ action: 'keys.rotate', target_id: kid1, user_agent: 'gatehouse-cli', details: { retired: [kid0] } }),
          expect.objectContaining({ action: 'keys.rotate', target_id: kid0, user_agent: 'gatehouse-cli', details: { retired: [] } }),
        ]);
      } finally {
        expect(await server.stop()).toEqual({ code: 0, signal: null });
      }
    },
    180_000,
  );

  it.sequential('groups create takes permissions and policy; groups list shows them as a table and as JSON', async () => {
    const created = await binary(['groups', 'create', 'premium', '--permission', 'users:read', '--session-ttl', '365d', '--quota-per-hour', '0']);
    expectOk(created);
    expect(created.stdout.trim()).toMatch(new RegExp(`^premium \\(${UUID.source}\\): permissions users:read$`));

    const table = await cli(['groups', 'list']);
    expectOk(table);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+PERMISSIONS\s+SESSION TTL \(s\)\s+KEY MAX TTL \(s\)\s+QUOTA\/HOUR\s+QUOTA\/DAY\s+TWO-FACTOR$/);
    expect(lines[1]).toMatch(/^-+(\s+-+){6}$/);
    expect(lines.slice(2).map((line) => line.split(/\s{2,}/))).toEqual([
      ['premium', 'users:read', '31536000', 'default', 'unlimited', 'default', '-'],
    ]);

    expect(await listGroups()).toEqual([
      {
        id: expect.stringMatching(UUID),
        name: 'premium',
        description: '',
        permissions: ['users:read'],
        session_ttl_seconds: 31_536_000,
        api_key_max_ttl_seconds: null,
        quota_per_hour: 0,
        quota_per_day: null,
        storage_quota_bytes: null,
        require_mfa: false,
        created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        updated_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      },
    ]);
  });

  it.sequential('groups update changes the policy and renames; the old name is gone', async () => {
    const [before] = await listGroups();
    const updated = await cli(['groups', 'update', 'premium', '--quota-per-day', '500', '--rename', 'gold', '--json']);
    expectOk(updated);
    const group = JSON.parse(updated.stdout) as GroupView;
    expect(group).toMatchObject({
      id: before?.id,
      name: 'gold',
      permissions: ['users:read'],
      session_ttl_seconds: 31_536_000,
      api_key_max_ttl_seconds: null,
      quota_per_hour: 0,
      quota_per_day: 500,
    });

    const table = await cli(['groups', 'list']);
    expectOk(table);
    expect(table.stdout.trimEnd().split('\n').slice(2).map((line) => line.split(/\s{2,}/))).toEqual([
      ['gold', 'users:read', '31536000', 'default', 'unlimited', '500', '-'],
    ]);

    const stale = await cli(['groups', 'update', 'premium', '--quota-per-day', '1']);
    expectInvalid(stale);
    expect(stale.stderr).toMatch(/No such group\..*not_found/);
  });

  it.sequential('invalid group names and permissions exit 2 with the validation message and change nothing', async () => {
    const badName = await cli(['groups', 'create', 'Bad Name']);
    expectInvalid(badName);
    expect(badName.stderr).toContain('/name must be 1-64 lowercase letters, digits, _ . or -');
    expect(badName.stderr).toContain('validation_failed');
    expect(badName.stdout).toBe('');

    const badRename = await cli(['groups', 'update', 'gold', '--rename', 'Gold!']);
    expectInvalid(badRename);
    expect(badRename.stderr).toContain('/name must be 1-64 lowercase letters, digits, _ . or -');

    const badPermission = await cli(['groups', 'create', 'helpers', '--permission', 'users:read', '--permission', 'read all users']);
    expectInvalid(badPermission);
    expect(badPermission.stderr).toContain('/permissions/1 must look like resource:action');

    const taken = await cli(['groups', 'create', 'gold']);
    expectInvalid(taken);
    expect(taken.stderr).toMatch(/already exists.*conflict/);

    const badQuota = await cli(['groups', 'create', 'helpers', '--quota-per-hour', '-1']);
    expectInvalid(badQuota);
    expect(badQuota.stderr).toMatch(/--quota-per-hour/);

    expect((await listGroups()).map((g) => g.name)).toEqual(['gold']);
  }, 180_000);

  it.sequential('--session-ttl accepts seconds, 90s, 15m, 12h, 7d, 2w and default; rejects 5y with exit 2', async () => {
    expectOk(await cli(['groups', 'create', 'ttl-probe']));
    const cases: Array<[string, number | null]> = [
      ['90s', 90],
      ['15m', 900],
      ['12h', 43_200],
      ['7d', 604_800],
      ['2w', 1_209_600],
      ['3600', 3600],
      ['0', 0],
      ['default', null],
    ];
    for (const [value, seconds] of cases) {
      const result = await cli(['groups', 'update', 'ttl-probe', '--session-ttl', value, '--json']);
      expectOk(result);
      expect((JSON.parse(result.stdout) as GroupView).session_ttl_seconds, value).toBe(seconds);
    }
    expectOk(await cli(['groups', 'update', 'ttl-probe', '--session-ttl', '7d']));

    const rejected = await cli(['groups', 'update', 'ttl-probe', '--session-ttl', '5y']);
    expectInvalid(rejected);
    expect(rejected.stderr).toMatch(/--session-ttl.*'5y' is invalid/);
    expect(rejected.stderr).toMatch(/duration like/);
    expect((await listGroups()).find((g) => g.name === 'ttl-probe')?.session_ttl_seconds).toBe(604_800);

    const deleted = await cli(['groups', 'delete', 'ttl-probe']);
    expectOk(deleted);
    expect(deleted.stdout.trim()).toBe('Deleted group ttl-probe.');
  }, 180_000);

  it.sequential(
    'add-member and remove-member decide what a user may do on a running server; deleting the group takes it away',
    async () => {
      const created = await cli(['users', 'create', '--email', member, '--password-stdin'], `${STRONG_PASSWORD}\n`);
      expectOk(created);
      const server = await startServer();
      try {
        const login = await http(server.url, '/api/v1/auth/login', {
          json: { email: member, password: STRONG_PASSWORD },
          origin: server.url,
        });
        expect(login.status, login.text).toBe(200);
        const cookie = setCookie(login, 'gh_session')?.pair ?? '';
        expect(cookie).not.toBe('');
        const grant = await http(server.url, '/api/v1/auth/token', {
          json: { grant_type: 'password', username: member, password: STRONG_PASSWORD },
        });
        expect(grant.status, grant.text).toBe(200);
        const bearer = grant.json.access_token as string;

        const listUsers = async () => {
          const [byCookie, byToken] = await Promise.all([
            http(server.url, '/api/v1/users?group=gold', { cookie }),
            http(server.url, '/api/v1/users?group=gold', { bearer }),
          ]);
          return { byCookie, byToken, statuses: [byCookie.status, byToken.status] };
        };
        /** Membership changes made by the CLI (another process) reach the server's caches: at once on SQLite, by NOTIFY on PostgreSQL. */
        const expectStatuses = async (status: number) => {
          if (dialect === 'sqlite') expect((await listUsers()).statuses).toEqual([status, status]);
          else await within(3000, async () => (await listUsers()).statuses.every((s) => s === status));
          return listUsers();
        };

        const denied = await listUsers();
        expect(denied.statuses).toEqual([403, 403]);
        expect(denied.byCookie.contentType).toMatch(/^application\/problem\+json/);

        const added = await binary(['groups', 'add-member', 'gold', member]);
        expectOk(added);
        expect(added.stdout.trim()).toBe(`${member} is now in gold.`);
        const allowed = await expectStatuses(200);
        expect(allowed.statuses).toEqual([200, 200]);
        expect((allowed.byToken.json.items as Array<{ email: string; groups: string[] }>).map((u) => [u.email, u.groups])).toEqual([
          [member, ['gold']],
        ]);

        const removed = await cli(['groups', 'remove-member', 'gold', member]);
        expectOk(removed);
        expect(removed.stdout.trim()).toBe(`${member} is no longer in gold.`);
        expect((await expectStatuses(403)).statuses).toEqual([403, 403]);

        // Unknown user or group: exit 2, a message, no stack trace.
        const nobody = await cli(['groups', 'add-member', 'gold', uniqueEmail('nobody')]);
        expectInvalid(nobody);
        expect(nobody.stderr).toMatch(/not_found/);
        const noGroup = await cli(['groups', 'add-member', 'no-such-group', member]);
        expectInvalid(noGroup);
        expect(noGroup.stderr).toMatch(/No such group\..*not_found/);

        // Deleting a group takes away what it granted.
        expectOk(await cli(['groups', 'add-member', 'gold', member]));
        expect((await expectStatuses(200)).statuses).toEqual([200, 200]);
        const deleted = await cli(['groups', 'delete', 'gold']);
        expectOk(deleted);
        expect(deleted.stdout.trim()).toBe('Deleted group gold.');
        expect((await expectStatuses(403)).statuses).toEqual([403, 403]);

        const table = await cli(['groups', 'list']);
        expectOk(table);
        expect(table.stdout.trim()).toBe('No groups.');
        expect(await listGroups()).toEqual([]);
        const again = await cli(['groups', 'delete', 'gold']);
        expectInvalid(again);
        expect(again.stderr).toMatch(/No such group\..*not_found/);
      } finally {
        expect(await server.stop()).toEqual({ code: 0, signal: null });
      }
    },
    180_000,
  );
});

describe.concurrent('gatehouse secrets rotate', () => {
  let dir: string;
  let env: Record<string, string>;

  const rotate = (args: string[], extraEnv: Record<string, string> = {}) =>
    runCli(['secrets', 'rotate', ...args], { env: { ...env, ...extraEnv }, cwd: dir });
  const valueIn = (text: string, name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(text)?.[1];
  const modeOf = (file: string) => statSync(file).mode & 0o777;

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-secrets-'));
    env = cleanEnv({ DATA_DIR: dir });
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  // The option is `--dotenv-file`, not `--env-file`: node itself reads `--env-file` anywhere in argv,
  // after the script name too (nodejs/node#54232), and would stop before Gatehouse runs.
  it.sequential('--dotenv-file creates a missing file, mode 0600, holding a 43-character base64url value', async () => {
    const file = path.join(dir, '.env');
    const result = await rotate(['WEBHOOK_SECRET', '--dotenv-file', file]);
    expectOk(result);
    expect(result.stdout).toContain(`WEBHOOK_SECRET rotated in ${file}.`);
    expect(result.stdout).toMatch(/Restart Gatehouse/);
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/^WEBHOOK_SECRET=[A-Za-z0-9_-]{43}\n$/);
    expect(modeOf(file)).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['.env']); // no temporary file left behind
  }, 180_000);

  it.sequential('without --dotenv-file it writes ENV_FILE (created when missing, mode 0600)', async () => {
    const file = path.join(dir, 'gatehouse.env');
    const result = await rotate(['SESSION_SECRET'], { ENV_FILE: file });
    expectOk(result);
    expect(result.stdout).toContain(`SESSION_SECRET rotated in ${file}.`);
    expect(valueIn(readFileSync(file, 'utf8'), 'SESSION_SECRET')).toMatch(SECRET_VALUE);
    expect(modeOf(file)).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['gatehouse.env']);
  }, 180_000);

  it.sequential('keeps other lines and comments, replaces `export NAME=` or `NAME=`, and a second rotation changes the value', async () => {
    const file = path.join(dir, '.env');
    const lines = (secretLine: string) => [
      '# Gatehouse settings',
      'PUBLIC_URL=https://accounts.example.com',
      '',
      '# Webhooks (rotate with: gatehouse secrets rotate WEBHOOK_SECRET)',
      secretLine,
      'OTHER_WEBHOOK_SECRET=keep-me',
      'WEBHOOK_SECRET_OLD=also-kept',
      '',
    ];
    writeFileSync(file, lines('export WEBHOOK_SECRET=old-value').join('\n'));
    chmodSync(file, 0o644);

    const first = await rotate(['WEBHOOK_SECRET', '--dotenv-file', file]);
    expectOk(first);
    const afterFirst = readFileSync(file, 'utf8');
    const value1 = valueIn(afterFirst, 'WEBHOOK_SECRET') ?? '';
    expect(value1).toMatch(SECRET_VALUE);
    expect(afterFirst).toBe(lines(`WEBHOOK_SECRET=${value1}`).join('\n'));
    expect(modeOf(file)).toBe(0o600);

    const second = await rotate(['WEBHOOK_SECRET', '--dotenv-file', file]);
    expectOk(second);
    const afterSecond = readFileSync(file, 'utf8');
    const value2 = valueIn(afterSecond, 'WEBHOOK_SECRET') ?? '';
    expect(value2).toMatch(SECRET_VALUE);
    expect(value2).not.toBe(value1);
    expect(afterSecond).toBe(lines(`WEBHOOK_SECRET=${value2}`).join('\n'));
    expect(readdirSync(dir)).toEqual(['.env']);

    // A name not yet in the file is appended, on its own line even when the file lacks a final newline.
    writeFileSync(file, '# only a comment\nA=1');
    expectOk(await rotate(['WEBHOOK_SECRET', '--dotenv-file', file]));
    const appended = readFileSync(file, 'utf8');
    expect(appended).toMatch(/^# only a comment\nA=1\nWEBHOOK_SECRET=[A-Za-z0-9_-]{43}\n$/);

    // A name assigned twice: the value Gatehouse reads (dotenv: the last assignment) is the new one.
    writeFileSync(file, 'WEBHOOK_SECRET=first\nA=1\nexport WEBHOOK_SECRET=second\n');
    const twice = await rotate(['WEBHOOK_SECRET', '--dotenv-file', file]);
    expectOk(twice);
    const rewritten = readFileSync(file, 'utf8');
    const effective = parseDotenv(rewritten).WEBHOOK_SECRET ?? '';
    expect(effective).toMatch(SECRET_VALUE);
    expect(rewritten).toBe(`WEBHOOK_SECRET=${effective}\nA=1\nWEBHOOK_SECRET=${effective}\n`);
  }, 180_000);

  it.sequential('an invalid name exits 2 with a message and writes nothing', async () => {
    const file = path.join(dir, '.env');
    writeFileSync(file, 'A=1\n');
    const result = await rotate(['bad-name', '--dotenv-file', file]);
    expectInvalid(result);
    expect(result.stderr).toContain('"bad-name" is not an environment variable name such as WEBHOOK_SECRET.');
    expect(readFileSync(file, 'utf8')).toBe('A=1\n');

    const missing = path.join(dir, 'missing.env');
    const lower = await rotate(['webhook_secret'], { ENV_FILE: missing });
    expectInvalid(lower);
    expect(lower.stderr).toMatch(/"webhook_secret" is not an environment variable name/);
    expect(existsSync(missing)).toBe(false);
    expect(readdirSync(dir)).toEqual(['.env']);
  }, 180_000);
});
