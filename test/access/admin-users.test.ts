/**
 * Admin user management: GET /api/v1/users with filters (q on email or name, case-insensitive,
 * `%` and `_` matched literally; role, group, status, verified, banned) and cursor pagination;
 * GET/PATCH/DELETE /api/v1/users/{id}; verifying an email by hand; deleting a user (every
 * credential 401 at once, never 500); public profiles limited to PUBLIC_PROFILE_FIELDS.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, makeUser, STRONG_PASSWORD, type TestContext } from '../helpers/harness.js';
import { expectOAuthError, expectProblem } from '../helpers/http-assertions.js';
import {
  ACCESS_ENV,
  allStatuses,
  call,
  type Headers,
  login,
  makeGroup,
  makePrincipals,
  type Principals,
  refreshGrant,
  setMember,
  statusesOf,
  uniqueName,
} from './access-fixtures.js';

const USERS = '/api/v1/users';
const ADMIN_USER_FIELDS = [
  'ban_reason',
  'banned_until',
  'created_at',
  'email',
  'email_verified',
  'groups',
  'id',
  'name',
  'profile',
  'role',
  'status',
  'updated_at',
];

interface AdminUser {
  id: string;
  email: string;
  name: string;
  role: string;
  status: string;
  groups: string[];
  email_verified: boolean;
  banned_until: string | null;
}

describe.each(dialects)('admin user management (%s)', (dialect) => {
  let ctx: TestContext;
  let admin: Principals;
  let adminH: Headers;

  beforeAll(async () => {
    ctx = await createTestContext(dialect, { env: { ...ACCESS_ENV, PUBLIC_PROFILE_FIELDS: 'avatar,bio' } });
    admin = await makePrincipals(ctx, { role: 'admin' });
    adminH = admin.cookie;
  });
  afterAll(async () => {
    await ctx?.close();
  });

  const page = async (query: string): Promise<{ items: AdminUser[]; next_cursor: string | null }> => {
    const res = await call(ctx, 'GET', `${USERS}?${query}`, adminH);
    expect(res.statusCode, res.body).toBe(200);
    return res.json();
  };

  describe('GET /users with filters', () => {
    /** A token only this describe's users carry in their email, so filters can be checked exactly. */
    const tag = uniqueName('flt').replace('-', '');
    const ids: Record<string, string> = {};
    let groupName = '';

    beforeAll(async () => {
      const create = async (key: string, local: string, name: string, extra: { role?: 'admin' | 'user'; verified?: boolean } = {}) => {
        const user = await ctx.gatehouse.accounts.createUser({ email: `${tag}-${local}@example.com`, password: STRONG_PASSWORD, name, ...extra });
        ids[key] = user.id;
      };
      await create('alice', 'alice', 'Alice 100% Real');
      await create('underscore', 'a_b', 'Bob Admin', { role: 'admin' });
      await create('lookalike', 'axb', 'Carol Unverified', { verified: false });
      await create('banned', 'dave', 'Dave Banned');
      await create('gone', 'erin', 'ERIN Upper');
      const worker = await ctx.gatehouse.accounts.createUser({ email: `${tag}-frank@example.com`, password: STRONG_PASSWORD, name: 'Frank', role: 'worker' });
      ids.worker = worker.id;

      groupName = uniqueName('filter-group');
      const group = await makeGroup(ctx, adminH, { name: groupName });
      await setMember(ctx, adminH, group.id, ids.banned as string, true);
      expect((await call(ctx, 'POST', `${USERS}/${ids.banned}/ban`, adminH, { duration_s: 3600, reason: 'filters' })).statusCode).toBe(200);
      expect((await call(ctx, 'PATCH', `${USERS}/${ids.gone}`, adminH, { status: 'deactivated' })).statusCode).toBe(200);
    });

    const names = async (query: string) => (await page(`limit=200&${query}`)).items.map((u) => u.name).sort();

    it('q matches a substring of the email or the name, case-insensitively', async () => {
      expect(await names(`q=${tag}`)).toEqual(['Alice 100% Real', 'Bob Admin', 'Carol Unverified', 'Dave Banned', 'ERIN Upper', 'Frank']);
      expect(await names(`q=${tag.toUpperCase()}`)).toHaveLength(6);
      expect(await names('q=erin%20upper')).toEqual(['ERIN Upper']);
      expect(await names(`q=${encodeURIComponent(`${tag}-ALICE@EXAMPLE`)}`)).toEqual(['Alice 100% Real']);
      expect(await names(`q=${tag}-nobody`)).toEqual([]);
    });

    it('q treats SQL wildcards % and _ literally', async () => {
      expect(await names(`q=${encodeURIComponent('100%')}`)).toEqual(['Alice 100% Real']);
      expect(await names(`q=${encodeURIComponent('%')}`)).toEqual(['Alice 100% Real']);
      expect(await names(`q=${encodeURIComponent(`${tag}-a_b`)}`)).toEqual(['Bob Admin']);
      expect(await names(`q=${encodeURIComponent(`${tag}-_`)}`)).toEqual([]);
      expect(await names(`q=${encodeURIComponent('\\')}`)).toEqual([]);
    });

    it('filters by role, group, status, verified and banned (combined with q)', async () => {
      expect(await names(`q=${tag}&role=admin`)).toEqual(['Bob Admin']);
      expect(await names(`q=${tag}&role=worker`)).toEqual(['Frank']);
      expect(await names(`q=${tag}&role=user`)).toEqual(['Alice 100% Real', 'Carol Unverified', 'Dave Banned', 'ERIN Upper']);
      expect(await names(`group=${groupName}`)).toEqual(['Dave Banned']);
      const group = (await call(ctx, 'GET', `/api/v1/groups/${groupName}`, adminH)).json();
      expect(await names(`group=${group.id}`)).toEqual(['Dave Banned']);
      expect(await names('group=no-such-group')).toEqual([]);
      expect(await names(`q=${tag}&status=deactivated`)).toEqual(['ERIN Upper']);
      expect(await names(`q=${tag}&status=active`)).toHaveLength(5);
      expect(await names(`q=${tag}&verified=false`)).toEqual(['Carol Unverified']);
      expect(await names(`q=${tag}&verified=true`)).toHaveLength(5);
      expect(await names(`q=${tag}&banned=true`)).toEqual(['Dave Banned']);
      expect(await names(`q=${tag}&banned=false`)).toHaveLength(5);
      expect(await names(`q=${tag}&role=user&verified=true&banned=false&status=active`)).toEqual(['Alice 100% Real']);

      const dave = (await page(`group=${groupName}`)).items[0];
      expect(Object.keys(dave ?? {}).sort()).toEqual(ADMIN_USER_FIELDS);
      expect(dave).toMatchObject({ groups: [groupName], status: 'active', ban_reason: 'filters' });
      expect(JSON.stringify(await page(`q=${tag}`))).not.toMatch(/argon2|password|hash/);
    });

    it('pages through more than one page with limit/cursor, without gaps or repeats', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const result: { items: AdminUser[]; next_cursor: string | null } = await page(`q=${tag}&limit=4${cursor ? `&cursor=${cursor}` : ''}`);
        seen.push(...result.items.map((u) => u.id));
        cursor = result.next_cursor;
        pages += 1;
      } while (cursor && pages < 10);
      expect(pages).toBe(2);
      expect(seen).toEqual([ids.alice, ids.underscore, ids.lookalike, ids.banned, ids.gone, ids.worker]);
      // An exact fit has no next page.
      expect((await page(`q=${tag}&limit=6`)).next_cursor).toBeNull();
      // Filters apply across pages too.
      const first = await page(`q=${tag}&role=user&limit=2`);
      expect(first.items.map((u) => u.id)).toEqual([ids.alice, ids.lookalike]);
      const second = await page(`q=${tag}&role=user&limit=2&cursor=${first.next_cursor}`);
      expect(second.items.map((u) => u.id)).toEqual([ids.banned, ids.gone]);
    });

    it('a timed ban stops counting as banned once it is over', async () => {
      ctx.clock.advance(3601);
      expect(await names(`q=${tag}&banned=true`)).toEqual([]);
      expect(await names(`q=${tag}&banned=false`)).toHaveLength(6);
    });

    const badQueries: Array<[string, string]> = [
      ['an unknown role', 'role=superuser'],
      ['an unknown status', 'status=banned'],
      ['verified=yes', 'verified=yes'],
      ['banned=1', 'banned=1'],
      ['a bad cursor', 'cursor=%21%21'],
      ['a cursor that decodes to something else', `cursor=${Buffer.from('1 OR 1=1').toString('base64url')}`],
      ['limit 0', 'limit=0'],
      ['limit 500', 'limit=500'],
      ['q over 200 characters', `q=${'x'.repeat(201)}`],
    ];
    it.each(badQueries)('rejects %s with 400', async (_label, query) => {
      const problem = expectProblem(await call(ctx, 'GET', `${USERS}?${query}`, adminH), 400, 'validation_failed');
      expect(problem.errors?.length).toBeGreaterThan(0);
    });
  });

  describe('GET / PATCH /users/{id}', () => {
    it('shows the admin view of one user; unknown ids are 404 and malformed ones 400', async () => {
      const user = await makeUser(ctx, { name: 'Viewed' });
      const res = await call(ctx, 'GET', `${USERS}/${user.id}`, adminH);
      expect(res.statusCode).toBe(200);
      expect(Object.keys(res.json()).sort()).toEqual(ADMIN_USER_FIELDS);
      expect(res.json()).toMatchObject({
        id: user.id,
        email: user.email,
        name: 'Viewed',
        role: 'user',
        status: 'active',
        email_verified: true,
        groups: [],
        banned_until: null,
        ban_reason: null,
        profile: {},
      });
      expect(res.body).not.toMatch(/argon2|password/);
      expectProblem(await call(ctx, 'GET', `${USERS}/${randomUUID()}`, adminH), 404, 'not_found');
      expectProblem(await call(ctx, 'GET', `${USERS}/not-a-uuid`, adminH), 400, 'validation_failed');
    });

    it('changes name, profile and role; the user sees it on their next request', async () => {
      const target = await makePrincipals(ctx);
      const res = await call(ctx, 'PATCH', `${USERS}/${target.user.id}`, adminH, { name: '  New Name ', profile: { avatar: 'a.png' }, role: 'worker' });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ name: 'New Name', profile: { avatar: 'a.png' }, role: 'worker' });
      const me = await call(ctx, 'GET', '/api/v1/users/me', target.cookie);
      expect(me.json()).toMatchObject({ name: 'New Name', profile: { avatar: 'a.png' }, role: 'worker' });
      expectProblem(await call(ctx, 'PATCH', `${USERS}/${randomUUID()}`, adminH, { name: 'x' }), 404, 'not_found');
      expectProblem(await call(ctx, 'PATCH', `${USERS}/${target.user.id}`, adminH, { profile: [] }), 400, 'validation_failed');
      expectProblem(await call(ctx, 'PATCH', `${USERS}/${target.user.id}`, adminH, { status: 'banned' }), 400, 'validation_failed');
    });
  });

  describe('POST /users/{id}/verify-email', () => {
    it('lets an unverified user log in (AUTH_REQUIRE_EMAIL_VERIFICATION is on)', async () => {
      expect(ctx.config.auth.requireEmailVerification).toBe(true);
      const email = `unverified-${uniqueName('u')}@example.com`;
      const created = await ctx.gatehouse.accounts.createUser({ email, password: STRONG_PASSWORD, name: 'Unverified', verified: false });
      const who = { email, password: STRONG_PASSWORD };
      expectProblem(await login(ctx, who), 403, 'email_not_verified');

      const res = await call(ctx, 'POST', `${USERS}/${created.id}/verify-email`, adminH);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ id: created.id, email_verified: true });
      expect((await login(ctx, who)).statusCode).toBe(200);
      // Idempotent.
      expect((await call(ctx, 'POST', `${USERS}/${created.id}/verify-email`, adminH)).json().email_verified).toBe(true);
      expectProblem(await call(ctx, 'POST', `${USERS}/${randomUUID()}/verify-email`, adminH), 404, 'not_found');
    });
  });

  describe('DELETE /users/{id}', () => {
    it('deletes: cookie, JWT and API key get 401 on the next request (never 500), refresh and login fail, GET is 404', async () => {
      const doomed = await makePrincipals(ctx);
      // Warm the caches so the next requests would be served from memory.
      expect(await statusesOf(ctx, doomed, '/api/v1/users/me')).toEqual(allStatuses(200));
      expect(await statusesOf(ctx, doomed, '/api/v1/users/me')).toEqual(allStatuses(200));

      expect((await call(ctx, 'DELETE', `${USERS}/${doomed.user.id}`, adminH)).statusCode).toBe(204);

      for (const url of ['/api/v1/users/me', '/api/v1/api-keys', '/api/v1/auth/sessions']) {
        expect(await statusesOf(ctx, doomed, url)).toEqual(allStatuses(401));
      }
      expectProblem(await call(ctx, 'PATCH', '/api/v1/users/me', doomed.cookie, { name: 'ghost' }), 401, 'session_expired');
      expectOAuthError(await refreshGrant(ctx, doomed.refreshToken), 400, 'invalid_grant');
      expectProblem(await login(ctx, doomed.user), 401, 'invalid_credentials');
      expectProblem(await call(ctx, 'GET', `${USERS}/${doomed.user.id}`, adminH), 404, 'not_found');
      expectProblem(await call(ctx, 'GET', `${USERS}/${doomed.user.id}/public`), 404, 'not_found');
      expectProblem(await call(ctx, 'DELETE', `${USERS}/${doomed.user.id}`, adminH), 404, 'not_found');
      expect((await page(`q=${encodeURIComponent(doomed.user.email)}`)).items).toEqual([]);
    });

    it('deletes a user with group memberships, API keys and a ban', async () => {
      const doomed = await makePrincipals(ctx);
      const group = await makeGroup(ctx, adminH, { name: uniqueName('doomed-group') });
      await setMember(ctx, adminH, group.id, doomed.user.id, true);
      expect((await call(ctx, 'POST', `${USERS}/${doomed.user.id}/ban`, adminH, { duration_s: 60 })).statusCode).toBe(200);
      expect((await call(ctx, 'DELETE', `${USERS}/${doomed.user.id}`, adminH)).statusCode).toBe(204);
      expect((await page(`group=${group.id}`)).items).toEqual([]);
      expect(await statusesOf(ctx, doomed, '/api/v1/users/me')).toEqual(allStatuses(401));
    });

    it('an administrator cannot delete themselves through this route (403)', async () => {
      expectProblem(await call(ctx, 'DELETE', `${USERS}/${admin.user.id}`, adminH), 403, 'forbidden');
      expect((await call(ctx, 'GET', '/api/v1/users/me', adminH)).statusCode).toBe(200);
    });
  });

  describe('GET /users/{id}/public', () => {
    it('returns only id, name and the PUBLIC_PROFILE_FIELDS keys, without credentials', async () => {
      const person = await makePrincipals(ctx, { name: 'Public Person' });
      const profile = { avatar: 'https://cdn.example/p.png', bio: 'Hello', secret: 'do-not-leak-4711', phone: '+1 555 0100' };
      expect((await call(ctx, 'PATCH', '/api/v1/users/me', person.cookie, { profile })).statusCode).toBe(200);

      const res = await call(ctx, 'GET', `${USERS}/${person.user.id}/public`);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toEqual({ id: person.user.id, name: 'Public Person', profile: { avatar: profile.avatar, bio: 'Hello' } });
      expect(res.body).not.toContain('do-not-leak-4711');
      expect(res.body).not.toContain(person.user.email);
      expect(res.body).not.toMatch(/phone|role|status|created_at/);

      // Missing keys are simply absent.
      expect((await call(ctx, 'PATCH', '/api/v1/users/me', person.cookie, { profile: { bio: 'Only bio', secret: 'x' } })).statusCode).toBe(200);
      expect((await call(ctx, 'GET', `${USERS}/${person.user.id}/public`)).json().profile).toEqual({ bio: 'Only bio' });
      // Credentials change nothing about what is shown.
      expect((await call(ctx, 'GET', `${USERS}/${person.user.id}/public`, adminH)).json()).toEqual({ id: person.user.id, name: 'Public Person', profile: { bio: 'Only bio' } });
    });

    it('is 404 for a deactivated or unknown user, 400 for a malformed id', async () => {
      const worker = await makeUser(ctx, { role: 'worker', name: 'Soon Gone' });
      expect((await call(ctx, 'GET', `${USERS}/${worker.id}/public`)).statusCode).toBe(200);
      expect((await call(ctx, 'PATCH', `${USERS}/${worker.id}`, adminH, { status: 'deactivated' })).statusCode).toBe(200);
      expectProblem(await call(ctx, 'GET', `${USERS}/${worker.id}/public`), 404, 'not_found');
      expectProblem(await call(ctx, 'GET', `${USERS}/${randomUUID()}/public`), 404, 'not_found');
      expectProblem(await call(ctx, 'GET', `${USERS}/nope/public`), 400, 'validation_failed');
    });
  });
});
