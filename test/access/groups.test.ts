/**
 * Groups: CRUD at /api/v1/groups, memberships, name and permission validation, duplicate
 * names; a group's permissions apply to its members on their very next request (and stop when
 * the membership, the group or its permissions go); session lifetime per group ("most generous
 * wins"); seeding from GROUPS_FILE at start.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createGatehouse } from '../../src/container.js';
import { ManualClock } from '../../src/shared/clock.js';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, loginCookie, makeApiKey, makeUser, passwordGrant, PUBLIC_URL, type TestContext } from '../helpers/harness.js';
import { expectProblem, type Scenario, runScenario } from '../helpers/http-assertions.js';
import { createTestDatabase } from '../helpers/test-database.js';
import { ACCESS_ENV, allStatuses, bearer, call, type Headers, login, makeGroup, makePrincipals, type Principals, setMember, statusesOf, uniqueName } from './access-fixtures.js';

const GROUPS = '/api/v1/groups';
const USERS_LIST = '/api/v1/users?limit=1';
const GROUP_KEYS = [
  'api_key_max_ttl_seconds',
  'created_at',
  'description',
  'id',
  'name',
  'permissions',
  'quota_per_day',
  'quota_per_hour',
  'require_mfa',
  'session_ttl_seconds',
  'storage_quota_bytes',
  'updated_at',
];
const HUNDRED_YEARS_S = 100 * 365 * 24 * 3600;

describe.each(dialects)('groups (%s)', (dialect) => {
  let ctx: TestContext;
  let admin: Principals;
  let adminH: Headers;

  beforeAll(async () => {
    ctx = await createTestContext(dialect, { env: ACCESS_ENV });
    admin = await makePrincipals(ctx, { role: 'admin' });
    adminH = admin.cookie;
  });
  afterAll(async () => {
    await ctx?.close();
  });

  describe('CRUD', () => {
    it('creates, lists, reads (by id and by name), changes and deletes a group', async () => {
      const name = uniqueName('support');
      const created = await call(ctx, 'POST', GROUPS, adminH, {
        name,
        description: 'Front-line support',
        permissions: ['users:read', 'audit:read'],
        session_ttl_seconds: 3600,
        api_key_max_ttl_seconds: 86_400,
        quota_per_hour: 100,
        quota_per_day: null,
      });
      expect(created.statusCode, created.body).toBe(201);
      const group = created.json();
      expect(Object.keys(group).sort()).toEqual(GROUP_KEYS);
      expect(group).toMatchObject({
        name,
        description: 'Front-line support',
        permissions: ['users:read', 'audit:read'],
        session_ttl_seconds: 3600,
        api_key_max_ttl_seconds: 86_400,
        quota_per_hour: 100,
        quota_per_day: null,
        created_at: ctx.clock.now().toISOString(),
      });

      const list = await call(ctx, 'GET', GROUPS, adminH);
      expect(list.statusCode).toBe(200);
      expect(list.json().items.map((g: { name: string }) => g.name)).toContain(name);

      for (const ref of [group.id, name]) {
        const one = await call(ctx, 'GET', `${GROUPS}/${ref}`, adminH);
        expect(one.statusCode).toBe(200);
        expect(one.json()).toEqual(group);
      }

      ctx.clock.advance(5);
      const renamed = `${name}-2`;
      const patched = await call(ctx, 'PATCH', `${GROUPS}/${name}`, adminH, { name: renamed, permissions: ['users:*'], quota_per_hour: null });
      expect(patched.statusCode, patched.body).toBe(200);
      expect(patched.json()).toMatchObject({
        id: group.id,
        name: renamed,
        description: 'Front-line support',
        permissions: ['users:*'],
        session_ttl_seconds: 3600,
        quota_per_hour: null,
        created_at: group.created_at,
        updated_at: ctx.clock.now().toISOString(),
      });
      expectProblem(await call(ctx, 'GET', `${GROUPS}/${name}`, adminH), 404, 'not_found');

      expect((await call(ctx, 'DELETE', `${GROUPS}/${group.id}`, adminH)).statusCode).toBe(204);
      expectProblem(await call(ctx, 'GET', `${GROUPS}/${group.id}`, adminH), 404, 'not_found');
      expectProblem(await call(ctx, 'DELETE', `${GROUPS}/${group.id}`, adminH), 404, 'not_found');
      expectProblem(await call(ctx, 'PATCH', `${GROUPS}/${renamed}`, adminH, { description: 'x' }), 404, 'not_found');
      expect((await call(ctx, 'GET', GROUPS, adminH)).json().items.map((g: { name: string }) => g.name)).not.toContain(renamed);
    });

    it('refuses a duplicate name with 409, on create and on rename', async () => {
      const first = await makeGroup(ctx, adminH, { name: uniqueName('dup') });
      const second = await makeGroup(ctx, adminH, { name: uniqueName('dup') });
      expectProblem(await call(ctx, 'POST', GROUPS, adminH, { name: first.name }), 409, 'conflict');
      expectProblem(await call(ctx, 'PATCH', `${GROUPS}/${second.id}`, adminH, { name: first.name }), 409, 'conflict');
      expect((await call(ctx, 'GET', `${GROUPS}/${second.id}`, adminH)).json().name).toBe(second.name);
    });

    const invalid: Scenario[] = [
      { name: 'name with a space', request: { method: 'POST', url: GROUPS, payload: { name: 'night shift' } }, status: 400, code: 'validation_failed', fields: ['/name'] },
      { name: 'name in capitals', request: { method: 'POST', url: GROUPS, payload: { name: 'Premium' } }, status: 400, code: 'validation_failed', fields: ['/name'] },
      { name: 'name starting with a dash', request: { method: 'POST', url: GROUPS, payload: { name: '-premium' } }, status: 400, code: 'validation_failed', fields: ['/name'] },
      { name: 'name with a slash', request: { method: 'POST', url: GROUPS, payload: { name: 'a/b' } }, status: 400, code: 'validation_failed', fields: ['/name'] },
      { name: 'empty name', request: { method: 'POST', url: GROUPS, payload: { name: '' } }, status: 400, code: 'validation_failed', fields: ['/name'] },
      { name: 'name over 64 characters', request: { method: 'POST', url: GROUPS, payload: { name: 'g'.repeat(65) } }, status: 400, code: 'validation_failed', fields: ['/name'] },
      { name: 'no name', request: { method: 'POST', url: GROUPS, payload: { permissions: [] } }, status: 400, code: 'validation_failed', fields: ['/name'] },
      { name: 'permission without action', request: { method: 'POST', url: GROUPS, payload: { name: 'perm-a', permissions: ['users'] } }, status: 400, code: 'validation_failed', fields: ['/permissions/0'] },
      { name: 'permission in capitals', request: { method: 'POST', url: GROUPS, payload: { name: 'perm-b', permissions: ['users:read', 'Users:Read'] } }, status: 400, code: 'validation_failed', fields: ['/permissions/1'] },
      { name: 'permission with a space', request: { method: 'POST', url: GROUPS, payload: { name: 'perm-c', permissions: ['users: read'] } }, status: 400, code: 'validation_failed', fields: ['/permissions/0'] },
      { name: 'negative session lifetime', request: { method: 'POST', url: GROUPS, payload: { name: 'ttl-a', session_ttl_seconds: -1 } }, status: 400, code: 'validation_failed', fields: ['/session_ttl_seconds'] },
      { name: 'fractional quota', request: { method: 'POST', url: GROUPS, payload: { name: 'quota-a', quota_per_hour: 1.5 } }, status: 400, code: 'validation_failed', fields: ['/quota_per_hour'] },
      { name: 'rename to an invalid name', request: { method: 'PATCH', url: `${GROUPS}/guard-rename`, payload: { name: 'Bad Name' } }, status: 400, code: 'validation_failed', fields: ['/name'] },
    ];
    it.each(invalid.map((s) => [s.name, s] as const))('rejects %s with 400 and errors[]', async (_name, scenario) => {
      if (scenario.request.method === 'PATCH') await call(ctx, 'POST', GROUPS, adminH, { name: 'guard-rename' });
      await runScenario(ctx, { ...scenario, request: { ...scenario.request, headers: adminH } });
      const names = (await call(ctx, 'GET', GROUPS, adminH)).json().items.map((g: { name: string }) => g.name);
      expect(names.filter((n: string) => /^(perm|ttl|quota)-|night|premium|Bad/i.test(n))).toEqual([]);
    });

    it('accepts names with digits, dots, dashes and underscores, and wildcard grants', async () => {
      const group = await makeGroup(ctx, adminH, { name: `team_2.${uniqueName('ops')}`, permissions: ['*', 'jobs:*', 'custom-app:do_thing'] });
      expect((await call(ctx, 'GET', `${GROUPS}/${group.id}`, adminH)).json().permissions).toEqual(['*', 'jobs:*', 'custom-app:do_thing']);
    });
  });

  describe('memberships and their permissions', () => {
    it('a group grants its permissions to a member on the very next request, and stops when the membership ends', async () => {
      const member = await makePrincipals(ctx);
      const group = await makeGroup(ctx, adminH, { name: uniqueName('readers'), permissions: ['users:read'] });
      expect(await statusesOf(ctx, member, USERS_LIST)).toEqual(allStatuses(403));

      await setMember(ctx, adminH, group.name, member.user.id, true);
      expect((await call(ctx, 'GET', USERS_LIST, member.cookie)).statusCode).toBe(200);
      expect((await call(ctx, 'GET', USERS_LIST, member.jwt)).statusCode).toBe(200);
      // The member may now put the group's permission on a key.
      const key = await makeApiKey(ctx, member.cookie, { scopes: ['users:read'] });
      expect((await call(ctx, 'GET', USERS_LIST, key.headers)).statusCode).toBe(200);
      // The admin view and the group filter show the membership.
      expect((await call(ctx, 'GET', `/api/v1/users/${member.user.id}`, adminH)).json().groups).toEqual([group.name]);

      await setMember(ctx, adminH, group.id, member.user.id, false);
      for (const headers of [member.cookie, member.jwt, key.headers]) {
        expectProblem(await call(ctx, 'GET', USERS_LIST, headers), 403, 'forbidden');
      }
      expect((await call(ctx, 'GET', `/api/v1/users/${member.user.id}`, adminH)).json().groups).toEqual([]);
      // The role's own permissions were never affected.
      expect(await statusesOf(ctx, member, '/api/v1/users/me')).toEqual(allStatuses(200));
    });

    it("changing the group's permissions applies to every member at once (both ways)", async () => {
      const group = await makeGroup(ctx, adminH, { name: uniqueName('auditors'), permissions: ['audit:read'] });
      const a = await makePrincipals(ctx);
      const b = await makePrincipals(ctx);
      for (const m of [a, b]) await setMember(ctx, adminH, group.id, m.user.id, true);
      const keyA = await makeApiKey(ctx, a.cookie, { scopes: ['audit:read'] });
      const AUDIT = '/api/v1/audit?limit=1';
      for (const headers of [a.cookie, a.jwt, keyA.headers, b.cookie, b.jwt]) expect((await call(ctx, 'GET', AUDIT, headers)).statusCode).toBe(200);

      expect((await call(ctx, 'PATCH', `${GROUPS}/${group.id}`, adminH, { permissions: ['users:read'] })).statusCode).toBe(200);
      for (const headers of [a.cookie, a.jwt, keyA.headers, b.cookie, b.jwt]) {
        expectProblem(await call(ctx, 'GET', AUDIT, headers), 403, 'forbidden');
      }
      expect((await call(ctx, 'GET', USERS_LIST, b.jwt)).statusCode).toBe(200);

      expect((await call(ctx, 'PATCH', `${GROUPS}/${group.id}`, adminH, { permissions: ['audit:read'] })).statusCode).toBe(200);
      // The key's scope applies again once the owner has it again.
      for (const headers of [a.cookie, keyA.headers, b.jwt]) expect((await call(ctx, 'GET', AUDIT, headers)).statusCode).toBe(200);
    });

    it('deleting a group takes its permissions away from its members at once', async () => {
      const group = await makeGroup(ctx, adminH, { name: uniqueName('temp'), permissions: ['users:read'] });
      const member = await makePrincipals(ctx);
      await setMember(ctx, adminH, group.id, member.user.id, true);
      expect((await call(ctx, 'GET', USERS_LIST, member.jwt)).statusCode).toBe(200);
      expect((await call(ctx, 'DELETE', `${GROUPS}/${group.id}`, adminH)).statusCode).toBe(204);
      expect(await statusesOf(ctx, member, USERS_LIST)).toEqual(allStatuses(403));
      expect((await call(ctx, 'GET', `/api/v1/users/${member.user.id}`, adminH)).json().groups).toEqual([]);
    });

    it('membership changes are idempotent, and unknown groups or users are 404', async () => {
      const group = await makeGroup(ctx, adminH, { name: uniqueName('idem') });
      const user = await makeUser(ctx);
      await setMember(ctx, adminH, group.name, user.id, true);
      await setMember(ctx, adminH, group.name, user.id, true);
      expect((await call(ctx, 'GET', `/api/v1/users/${user.id}`, adminH)).json().groups).toEqual([group.name]);
      await setMember(ctx, adminH, group.name, user.id, false);
      await setMember(ctx, adminH, group.name, user.id, false);

      expectProblem(await call(ctx, 'PUT', `${GROUPS}/no-such-group/members/${user.id}`, adminH), 404, 'not_found');
      expectProblem(await call(ctx, 'PUT', `${GROUPS}/${group.id}/members/${randomUUID()}`, adminH), 404, 'not_found');
      const bad = expectProblem(await call(ctx, 'PUT', `${GROUPS}/${group.id}/members/not-a-uuid`, adminH), 400, 'validation_failed');
      expect(bad.errors?.map((e) => e.field)).toContain('params:/user_id');
    });

    it('membership needs users:manage; a groups:manage-only operator may edit groups but not memberships', async () => {
      const operators = await makeGroup(ctx, adminH, { name: uniqueName('group-admins'), permissions: ['groups:manage'] });
      const operator = await makePrincipals(ctx);
      await setMember(ctx, adminH, operators.id, operator.user.id, true);
      const group = await makeGroup(ctx, operator.cookie, { name: uniqueName('made-by-operator') });
      const res = await call(ctx, 'PUT', `${GROUPS}/${group.id}/members/${operator.user.id}`, operator.cookie);
      expect(expectProblem(res, 403, 'forbidden').required_permission).toBe('users:manage');
    });
  });

  describe('session lifetime per group', () => {
    // These tests move the clock by years: the admin signs in afresh for each.
    beforeEach(async () => {
      adminH = { cookie: await loginCookie(ctx, admin.user) };
    });

    /** The session expiry of a fresh cookie login and of a fresh password grant, in seconds from now. */
    async function sessionLifetimes(who: { email: string; password: string }): Promise<{ cookie: number; api: number }> {
      const res = await login(ctx, who);
      expect(res.statusCode, res.body).toBe(200);
      const now = ctx.clock.now().getTime();
      const cookieExpiry = Date.parse(res.json().session.expires_at);
      const cookieHeader = res.cookies.find((c) => c.name === ctx.config.auth.cookieName);
      expect(cookieHeader?.expires?.getTime()).toBe(Math.floor(cookieExpiry / 1000) * 1000);
      const { access_token } = await passwordGrant(ctx, who);
      const sessions = (await call(ctx, 'GET', '/api/v1/auth/sessions', bearer(access_token))).json().items as Array<{ current: boolean; expires_at: string }>;
      const apiExpiry = Date.parse(sessions.find((s) => s.current)?.expires_at ?? '');
      return { cookie: (cookieExpiry - now) / 1000, api: (apiExpiry - now) / 1000 };
    }

    it('without a group, sessions last AUTH_SESSION_TTL_SECONDS (30 days)', async () => {
      const user = await makeUser(ctx);
      expect(await sessionLifetimes(user)).toEqual({ cookie: 30 * 86_400, api: 30 * 86_400 });
    });

    it('a group with session_ttl_seconds 0: sessions never expire (~100 years)', async () => {
      const owners = await makeGroup(ctx, adminH, { name: uniqueName('owners'), session_ttl_seconds: 0 });
      const user = await makeUser(ctx);
      await setMember(ctx, adminH, owners.id, user.id, true);
      expect(await sessionLifetimes(user)).toEqual({ cookie: HUNDRED_YEARS_S, api: HUNDRED_YEARS_S });
      const cookie = { cookie: await loginCookie(ctx, user) };
      ctx.clock.advance(5 * 365 * 86_400);
      expect((await call(ctx, 'GET', '/api/v1/users/me', cookie)).statusCode).toBe(200);
    });

    it('a group with 3600: one hour, and the session really ends then', async () => {
      const short = await makeGroup(ctx, adminH, { name: uniqueName('kiosk'), session_ttl_seconds: 3600 });
      const user = await makeUser(ctx);
      await setMember(ctx, adminH, short.id, user.id, true);
      expect(await sessionLifetimes(user)).toEqual({ cookie: 3600, api: 3600 });
      const cookie = { cookie: await loginCookie(ctx, user) };
      ctx.clock.advance(3599);
      expect((await call(ctx, 'GET', '/api/v1/users/me', cookie)).statusCode).toBe(200);
      // Used once past half its life, the session slid forward by another hour.
      ctx.clock.advance(3599);
      expect((await call(ctx, 'GET', '/api/v1/users/me', cookie)).statusCode).toBe(200);
      ctx.clock.advance(3601);
      expectProblem(await call(ctx, 'GET', '/api/v1/users/me', cookie), 401, 'session_expired');
    });

    it('across several groups the most generous lifetime wins', async () => {
      const hour = await makeGroup(ctx, adminH, { name: uniqueName('hour'), session_ttl_seconds: 3600 });
      const day = await makeGroup(ctx, adminH, { name: uniqueName('day'), session_ttl_seconds: 86_400 });
      const never = await makeGroup(ctx, adminH, { name: uniqueName('never'), session_ttl_seconds: 0 });
      const unset = await makeGroup(ctx, adminH, { name: uniqueName('unset'), permissions: ['audit:read'] });
      const user = await makeUser(ctx);

      await setMember(ctx, adminH, hour.id, user.id, true);
      await setMember(ctx, adminH, unset.id, user.id, true);
      expect(await sessionLifetimes(user)).toEqual({ cookie: 3600, api: 3600 });
      await setMember(ctx, adminH, day.id, user.id, true);
      expect(await sessionLifetimes(user)).toEqual({ cookie: 86_400, api: 86_400 });
      await setMember(ctx, adminH, never.id, user.id, true);
      expect(await sessionLifetimes(user)).toEqual({ cookie: HUNDRED_YEARS_S, api: HUNDRED_YEARS_S });
      await setMember(ctx, adminH, never.id, user.id, false);
      // A group's policy change applies to the next login too.
      expect((await call(ctx, 'PATCH', `${GROUPS}/${day.id}`, adminH, { session_ttl_seconds: 7200 })).statusCode).toBe(200);
      expect(await sessionLifetimes(user)).toEqual({ cookie: 7200, api: 7200 });
    });
  });
});

describe.each(dialects)('GROUPS_FILE (%s)', (dialect) => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-groups-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function writeGroups(name: string, content: unknown): string {
    const file = path.join(dir, name);
    writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
    return file;
  }

  it('creates the listed groups at start and updates them (same id) when the file changes', async () => {
    const file = writeGroups('groups.json', [
      { name: 'premium', description: 'Paying users', permissions: ['jobs:claim'], session_ttl_seconds: 0, quota_per_hour: 10_000 },
      { name: 'support', permissions: ['users:read', 'audit:read'], api_key_max_ttl_seconds: 86_400 },
    ]);
    const ctx = await createTestContext(dialect, { env: { ...ACCESS_ENV, GROUPS_FILE: file } });
    try {
      const admin = await makePrincipals(ctx, { role: 'admin' });
      const items = (await call(ctx, 'GET', GROUPS, admin.cookie)).json().items as Array<Record<string, unknown>>;
      expect(items.map((g) => g.name)).toEqual(['premium', 'support']);
      expect(items[0]).toMatchObject({ description: 'Paying users', permissions: ['jobs:claim'], session_ttl_seconds: 0, quota_per_hour: 10_000, quota_per_day: null });
      expect(items[1]).toMatchObject({ description: '', permissions: ['users:read', 'audit:read'], api_key_max_ttl_seconds: 86_400, session_ttl_seconds: null });

      // Seeded groups work like any other: a member of support may read users.
      const member = await makePrincipals(ctx);
      await setMember(ctx, admin.cookie, 'support', member.user.id, true);
      expect((await call(ctx, 'GET', USERS_LIST, member.cookie)).statusCode).toBe(200);

      // A restart with an edited file updates the group in place and keeps its memberships.
      writeGroups('groups.json', [{ name: 'support', permissions: ['audit:read'] }, { name: 'night-shift' }]);
      const second = await createGatehouse(ctx.config, { clock: ctx.clock, logger: pino({ level: 'silent' }) });
      await second.close();
      const after = (await call(ctx, 'GET', GROUPS, admin.cookie)).json().items as Array<Record<string, unknown>>;
      expect(after.map((g) => g.name)).toEqual(['night-shift', 'premium', 'support']);
      expect(after.find((g) => g.name === 'support')).toMatchObject({ id: items[1]?.id, permissions: ['audit:read'], api_key_max_ttl_seconds: 86_400 });
      expect((await call(ctx, 'GET', `/api/v1/users/${member.user.id}`, admin.cookie)).json().groups).toEqual(['support']);
      // The change reached this instance's cached permissions too.
      expectProblem(await call(ctx, 'GET', USERS_LIST, member.cookie), 403, 'forbidden');
    } finally {
      await ctx.close();
    }
  });

  const invalidFiles: Array<[string, unknown]> = [
    ['not JSON', '{"name": '],
    ['an object instead of a list', { name: 'premium' }],
    ['a group without a name', [{ permissions: ['users:read'] }]],
    ['a negative lifetime', [{ name: 'premium', session_ttl_seconds: -5 }]],
    ['an invalid group name', [{ name: 'Premium Users' }]],
    ['an invalid permission after a valid group', [{ name: 'fine' }, { name: 'premium', permissions: ['everything'] }]],
    ['nothing (the file does not exist)', undefined],
  ];
  it('refuses to start with an invalid file, naming GROUPS_FILE and applying nothing of it', async () => {
    // createTestContext's own steps, so the one database can be dropped after the refused starts.
    const database = await createTestDatabase(dialect);
    const env = { DATA_DIR: database.dataDir, DATABASE_URL: database.url, PUBLIC_URL, LOG_LEVEL: 'silent' };
    const start = (extra: Record<string, string> = {}) =>
      createGatehouse(loadConfig({ ...env, ...extra }), { clock: new ManualClock(), logger: pino({ level: 'silent' }) });
    try {
      for (const [label, content] of invalidFiles) {
        const file = path.join(dir, `${label.replace(/\W+/g, '-')}.json`);
        if (content !== undefined) writeGroups(path.basename(file), content);
        const error = await start({ GROUPS_FILE: file }).then(
          () => new Error(`started with ${label}`),
          (e: Error) => e,
        );
        expect(error.message, label).toMatch(/^GROUPS_FILE /);
        expect(error.message, label).toContain(file);
      }
      const plain = await start();
      try {
        expect(await plain.access.listGroups()).toEqual([]);
      } finally {
        await plain.close();
      }
    } finally {
      await database.drop();
    }
  });
});
