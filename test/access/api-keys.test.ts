/**
 * API keys at /api/v1/api-keys: the secret is shown once (`gh_<prefix>_<secret>`, no-store)
 * and never listed; scopes are a subset of the owner's permissions, validated, enforced, and
 * shrink with the owner's; expiry (`expires_in`, group policy `api_key_max_ttl_seconds`,
 * API_KEY_MAX_TTL_SECONDS); revocation by the owner and by admins; `last_used_at`; listing for
 * admins (`?all`, `?user_id`) and cursor pagination.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, loginCookie, makeApiKey, makeUser, passwordGrant, STRONG_PASSWORD, type TestContext } from '../helpers/harness.js';
import { expectProblem, type Scenario, runScenario } from '../helpers/http-assertions.js';
import { ACCESS_ENV, bearer, call, type Headers, makeGroup, makePrincipals, type Principals, setMember, uniqueName } from './access-fixtures.js';

const KEYS = '/api/v1/api-keys';
const ME = '/api/v1/users/me';
const USERS_LIST = '/api/v1/users?limit=1';
const KEY_FORMAT = /^gh_[a-z0-9]{8}_[A-Za-z0-9_-]{43}$/;
const KEY_VIEW_FIELDS = ['created_at', 'expires_at', 'id', 'last_used_at', 'name', 'prefix', 'revoked_at', 'scopes', 'user_id'];

interface KeyView {
  id: string;
  user_id: string;
  name: string;
  prefix: string;
  scopes: string[];
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  revoked_at: string | null;
}

describe.each(dialects)('API keys (%s)', (dialect) => {
  let ctx: TestContext;
  let admin: Principals;
  let owner: Principals;

  beforeAll(async () => {
    ctx = await createTestContext(dialect, { env: ACCESS_ENV });
    admin = await makePrincipals(ctx, { role: 'admin' });
    owner = await makePrincipals(ctx);
  });
  afterAll(async () => {
    await ctx?.close();
  });

  const listKeys = async (as: Headers, query = ''): Promise<{ items: KeyView[]; next_cursor: string | null }> => {
    const res = await call(ctx, 'GET', `${KEYS}${query}`, as);
    expect(res.statusCode, res.body).toBe(200);
    return res.json();
  };

  describe('create', () => {
    it('answers 201 {key, secret} once, no-store; the secret works as a bearer credential', async () => {
      const res = await call(ctx, 'POST', KEYS, owner.cookie, { name: 'ci deploy', scopes: ['account:self'] });
      expect(res.statusCode, res.body).toBe(201);
      expect(res.headers['cache-control']).toBe('no-store');
      const body = res.json<{ key: KeyView; secret: string }>();
      expect(Object.keys(body).sort()).toEqual(['key', 'secret']);
      expect(body.secret).toMatch(KEY_FORMAT);
      expect(Object.keys(body.key).sort()).toEqual(KEY_VIEW_FIELDS);
      expect(body.key).toEqual({
        id: expect.any(String),
        user_id: owner.user.id,
        name: 'ci deploy',
        prefix: body.secret.slice(3, 11),
        scopes: ['account:self'],
        created_at: ctx.clock.now().toISOString(),
        last_used_at: null,
        expires_at: null,
        revoked_at: null,
      });
      expect(res.body).not.toMatch(/hash/);

      const me = await call(ctx, 'GET', ME, bearer(body.secret));
      expect(me.statusCode).toBe(200);
      expect(me.json().id).toBe(owner.user.id);
    });

    it('never returns the secret again: the list shows prefix, scopes, created_at, last_used_at, expires_at', async () => {
      const key = await makeApiKey(ctx, owner.cookie, { name: 'listed', scopes: ['account:self', 'jobs:enqueue'] });
      const secretPart = key.secret.slice(12);
      for (const headers of [owner.cookie, owner.jwt, key.headers]) {
        const res = await call(ctx, 'GET', KEYS, headers);
        expect(res.statusCode).toBe(200);
        expect(res.body).not.toContain(secretPart);
        expect(res.body).not.toMatch(/hash|secret/);
        const listed = res.json<{ items: KeyView[] }>().items.find((k) => k.id === key.id);
        expect(listed).toMatchObject({ name: 'listed', prefix: key.secret.slice(3, 11), scopes: ['account:self', 'jobs:enqueue'] });
        expect(Object.keys(listed ?? {}).sort()).toEqual(KEY_VIEW_FIELDS);
      }
    });

    it('gives every key a different prefix and secret', async () => {
      const a = await makeApiKey(ctx, owner.cookie, { scopes: ['account:self'] });
      const b = await makeApiKey(ctx, owner.cookie, { scopes: ['account:self'] });
      expect(a.secret.slice(3, 11)).not.toBe(b.secret.slice(3, 11));
      expect(a.secret.slice(12)).not.toBe(b.secret.slice(12));
    });

    const invalid: Scenario[] = [
      { name: 'a scope without an action', request: { method: 'POST', url: KEYS, payload: { name: 'k', scopes: ['users'] } }, status: 400, code: 'validation_failed', fields: ['/scopes/0'] },
      { name: 'a scope in capitals', request: { method: 'POST', url: KEYS, payload: { name: 'k', scopes: ['account:self', 'Account:Self'] } }, status: 400, code: 'validation_failed', fields: ['/scopes/1'] },
      { name: 'an empty scope', request: { method: 'POST', url: KEYS, payload: { name: 'k', scopes: [''] } }, status: 400, code: 'validation_failed', fields: ['/scopes/0'] },
      { name: 'no scopes', request: { method: 'POST', url: KEYS, payload: { name: 'k', scopes: [] } }, status: 400, code: 'validation_failed', fields: ['/scopes'] },
      { name: 'scopes as a string', request: { method: 'POST', url: KEYS, payload: { name: 'k', scopes: 'account:self' } }, status: 400, code: 'validation_failed', fields: ['/scopes'] },
      { name: 'no name', request: { method: 'POST', url: KEYS, payload: { scopes: ['account:self'] } }, status: 400, code: 'validation_failed', fields: ['/name'] },
      { name: 'an empty name', request: { method: 'POST', url: KEYS, payload: { name: '', scopes: ['account:self'] } }, status: 400, code: 'validation_failed', fields: ['/name'] },
      { name: 'expires_in under a minute', request: { method: 'POST', url: KEYS, payload: { name: 'k', scopes: ['account:self'], expires_in: 59 } }, status: 400, code: 'validation_failed', fields: ['/expires_in'] },
      { name: 'expires_in as a string', request: { method: 'POST', url: KEYS, payload: { name: 'k', scopes: ['account:self'], expires_in: '3600' } }, status: 400, code: 'validation_failed', fields: ['/expires_in'] },
      { name: 'a scope the user does not have', request: { method: 'POST', url: KEYS, payload: { name: 'k', scopes: ['users:read'] } }, status: 403, code: 'forbidden' },
      { name: 'the wildcard scope', request: { method: 'POST', url: KEYS, payload: { name: 'k', scopes: ['*'] } }, status: 403, code: 'forbidden' },
      { name: 'a resource wildcard beyond the user', request: { method: 'POST', url: KEYS, payload: { name: 'k', scopes: ['account:*'] } }, status: 403, code: 'forbidden' },
      { name: 'one allowed and one beyond', request: { method: 'POST', url: KEYS, payload: { name: 'k', scopes: ['account:self', 'audit:read'] } }, status: 403, code: 'forbidden' },
    ];
    it.each(invalid.map((s) => [s.name, s] as const))('rejects %s and creates nothing', async (_name, scenario) => {
      const before = (await listKeys(owner.cookie)).items.length;
      await runScenario(ctx, { ...scenario, request: { ...scenario.request, headers: owner.cookie } });
      expect((await listKeys(owner.cookie)).items.length).toBe(before);
    });

    it('needs credentials (401)', async () => {
      expectProblem(await call(ctx, 'POST', KEYS, {}, { name: 'k', scopes: ['account:self'] }), 401, 'authentication_required');
    });
  });

  describe('scopes are enforced', () => {
    it('a key with only jobs:claim cannot read /users/me (account:self)', async () => {
      const worker = await makePrincipals(ctx, { role: 'worker' });
      const claimOnly = await makeApiKey(ctx, worker.cookie, { scopes: ['jobs:claim'] });
      const res = expectProblem(await call(ctx, 'GET', ME, claimOnly.headers), 403, 'forbidden');
      expect(res.required_permission).toBe('account:self');
      expectProblem(await call(ctx, 'GET', KEYS, claimOnly.headers), 403, 'forbidden');
      // The same owner's cookie has account:self.
      expect((await call(ctx, 'GET', ME, worker.cookie)).statusCode).toBe(200);
    });

    it("an admin's key does only what its scopes say", async () => {
      const readOnly = await makeApiKey(ctx, admin.cookie, { scopes: ['users:read'] });
      const target = await makeUser(ctx);
      expect((await call(ctx, 'GET', `/api/v1/users/${target.id}`, readOnly.headers)).statusCode).toBe(200);
      expectProblem(await call(ctx, 'PATCH', `/api/v1/users/${target.id}`, readOnly.headers, { name: 'x' }), 403, 'forbidden');
      expectProblem(await call(ctx, 'GET', '/api/v1/audit', readOnly.headers), 403, 'forbidden');
      expectProblem(await call(ctx, 'GET', ME, readOnly.headers), 403, 'forbidden');

      const usersAll = await makeApiKey(ctx, admin.cookie, { scopes: ['users:*'] });
      expect((await call(ctx, 'PATCH', `/api/v1/users/${target.id}`, usersAll.headers, { name: 'Renamed' })).statusCode).toBe(200);
      expectProblem(await call(ctx, 'GET', '/api/v1/groups', usersAll.headers), 403, 'forbidden');

      const everything = await makeApiKey(ctx, admin.cookie, { scopes: ['*'] });
      for (const url of ['/api/v1/groups', '/api/v1/audit?limit=1', ME]) {
        expect((await call(ctx, 'GET', url, everything.headers)).statusCode).toBe(200);
      }
    });

    it('a scoped key cannot mint a key wider than itself, only one within its own scopes', async () => {
      const narrow = await makeApiKey(ctx, admin.cookie, { scopes: ['account:self', 'users:read'] });
      for (const scopes of [['*'], ['users:manage'], ['users:*'], ['account:self', 'audit:read']]) {
        const res = await call(ctx, 'POST', KEYS, narrow.headers, { name: 'escalation', scopes, password: STRONG_PASSWORD });
        expectProblem(res, 403, 'forbidden');
      }
      const same = await call(ctx, 'POST', KEYS, narrow.headers, { name: 'sibling', scopes: ['users:read'], password: STRONG_PASSWORD });
      expect(same.statusCode, same.body).toBe(201);
      expectProblem(await call(ctx, 'PATCH', `/api/v1/users/${owner.user.id}`, bearer(same.json().secret), { name: 'x' }), 403, 'forbidden');
      // The admin's own session may still hand out anything the admin has.
      expect((await call(ctx, 'POST', KEYS, admin.cookie, { name: 'wide', scopes: ['*'] })).statusCode).toBe(201);
    });

    it("a key loses a permission the moment its owner does (and the key's own scopes never grow)", async () => {
      const readers = await makeGroup(ctx, admin.cookie, { name: uniqueName('key-readers'), permissions: ['users:read', 'audit:read'] });
      const member = await makePrincipals(ctx);
      await setMember(ctx, admin.cookie, readers.id, member.user.id, true);
      const key = await makeApiKey(ctx, member.cookie, { scopes: ['users:read'] });
      expect((await call(ctx, 'GET', USERS_LIST, key.headers)).statusCode).toBe(200);
      // The owner has audit:read too, but the key was not given it.
      expectProblem(await call(ctx, 'GET', '/api/v1/audit', key.headers), 403, 'forbidden');

      await setMember(ctx, admin.cookie, readers.id, member.user.id, false);
      expectProblem(await call(ctx, 'GET', USERS_LIST, key.headers), 403, 'forbidden');
      await setMember(ctx, admin.cookie, readers.id, member.user.id, true);
      expect((await call(ctx, 'GET', USERS_LIST, key.headers)).statusCode).toBe(200);
    });
  });

  describe('expiry', () => {
    it('a key with expires_in works until then, then answers 401', async () => {
      const key = await makeApiKey(ctx, owner.cookie, { scopes: ['account:self'], expires_in: 3600 });
      const listed = (await listKeys(owner.cookie)).items.find((k) => k.id === key.id);
      expect(listed?.expires_at).toBe(new Date(ctx.clock.now().getTime() + 3600_000).toISOString());
      ctx.clock.advance(3599);
      expect((await call(ctx, 'GET', ME, key.headers)).statusCode).toBe(200);
      ctx.clock.advance(1);
      const res = expectProblem(await call(ctx, 'GET', ME, key.headers), 401, 'invalid_api_key');
      expect(res.detail).toMatch(/API key/);
    });

    it("a group's api_key_max_ttl_seconds requires expires_in, at most that long", async () => {
      const limited = await makeGroup(ctx, admin.cookie, { name: uniqueName('contractors'), api_key_max_ttl_seconds: 86_400 });
      const member = await makePrincipals(ctx);
      await setMember(ctx, admin.cookie, limited.id, member.user.id, true);
      const create = (extra: Record<string, unknown>) => call(ctx, 'POST', KEYS, member.cookie, { name: 'k', scopes: ['account:self'], ...extra });

      const missing = expectProblem(await create({}), 400, 'validation_failed');
      expect(missing.errors?.map((e) => e.field)).toEqual(['/expires_in']);
      expect(missing.detail).toContain('86400');
      expectProblem(await create({ expires_in: 86_401 }), 400, 'validation_failed');
      expect((await create({ expires_in: 86_400 })).statusCode).toBe(201);
      expect((await create({ expires_in: 60 })).statusCode).toBe(201);

      // Another group allowing non-expiring keys (0) is more generous and wins.
      const unlimited = await makeGroup(ctx, admin.cookie, { name: uniqueName('staff'), api_key_max_ttl_seconds: 0 });
      await setMember(ctx, admin.cookie, unlimited.id, member.user.id, true);
      const forever = await create({});
      expect(forever.statusCode, forever.body).toBe(201);
      expect(forever.json().key.expires_at).toBeNull();
    });
  });

  describe('revoke', () => {
    it('DELETE revokes: the very next request with the key is 401', async () => {
      const key = await makeApiKey(ctx, owner.cookie, { scopes: ['account:self'] });
      expect((await call(ctx, 'GET', ME, key.headers)).statusCode).toBe(200);
      expect((await call(ctx, 'GET', ME, key.headers)).statusCode).toBe(200);
      const res = await call(ctx, 'DELETE', `${KEYS}/${key.id}`, owner.cookie);
      expect(res.statusCode).toBe(204);
      expectProblem(await call(ctx, 'GET', ME, key.headers), 401, 'invalid_api_key');
      expect((await listKeys(owner.cookie)).items.map((k) => k.id)).not.toContain(key.id);
      const withRevoked = (await listKeys(owner.cookie, '?include_revoked=true')).items.find((k) => k.id === key.id);
      expect(withRevoked?.revoked_at).toBe(ctx.clock.now().toISOString());
      // Revoking again, or an unknown id: 404.
      expectProblem(await call(ctx, 'DELETE', `${KEYS}/${key.id}`, owner.cookie), 404, 'not_found');
      expectProblem(await call(ctx, 'DELETE', `${KEYS}/${randomUUID()}`, owner.cookie), 404, 'not_found');
      expectProblem(await call(ctx, 'DELETE', `${KEYS}/not-a-uuid`, owner.cookie), 400, 'validation_failed');
    });

    it('a key may revoke itself', async () => {
      const key = await makeApiKey(ctx, owner.cookie, { scopes: ['account:self'] });
      expect((await call(ctx, 'DELETE', `${KEYS}/${key.id}`, key.headers)).statusCode).toBe(204);
      expectProblem(await call(ctx, 'GET', ME, key.headers), 401, 'invalid_api_key');
    });

    it("someone else's key id is 404 for a plain user, and the key keeps working", async () => {
      const other = await makePrincipals(ctx);
      const theirs = await makeApiKey(ctx, other.cookie, { scopes: ['account:self'] });
      expectProblem(await call(ctx, 'DELETE', `${KEYS}/${theirs.id}`, owner.cookie), 404, 'not_found');
      expectProblem(await call(ctx, 'DELETE', `${KEYS}/${theirs.id}`, owner.apiKey), 404, 'not_found');
      expect((await call(ctx, 'GET', ME, theirs.headers)).statusCode).toBe(200);
    });

    it("an admin (api_keys:manage) revokes anyone's key; the next request with it is 401", async () => {
      const other = await makePrincipals(ctx);
      const theirs = await makeApiKey(ctx, other.cookie, { scopes: ['account:self'] });
      expect((await call(ctx, 'GET', ME, theirs.headers)).statusCode).toBe(200);
      const adminJwt = bearer((await passwordGrant(ctx, admin.user)).access_token);
      expect((await call(ctx, 'DELETE', `${KEYS}/${theirs.id}`, adminJwt)).statusCode).toBe(204);
      expectProblem(await call(ctx, 'GET', ME, theirs.headers), 401, 'invalid_api_key');
    });

    it('a group granting api_keys:manage lets a non-admin revoke any key', async () => {
      const keyAdmins = await makeGroup(ctx, admin.cookie, { name: uniqueName('key-admins'), permissions: ['api_keys:manage'] });
      const operator = await makePrincipals(ctx);
      await setMember(ctx, admin.cookie, keyAdmins.id, operator.user.id, true);
      const victim = await makePrincipals(ctx);
      const theirs = await makeApiKey(ctx, victim.cookie, { scopes: ['account:self'] });
      expect((await listKeys(operator.cookie, `?user_id=${victim.user.id}`)).items.map((k) => k.id)).toContain(theirs.id);
      expect((await call(ctx, 'DELETE', `${KEYS}/${theirs.id}`, operator.cookie)).statusCode).toBe(204);
      expectProblem(await call(ctx, 'GET', ME, theirs.headers), 401, 'invalid_api_key');
    });
  });

  describe('last_used_at', () => {
    it('is null until the key is used, then the time of use (written at most once a minute)', async () => {
      const key = await makeApiKey(ctx, owner.cookie, { scopes: ['account:self'] });
      const lastUsed = async () => (await listKeys(owner.cookie)).items.find((k) => k.id === key.id)?.last_used_at;
      expect(await lastUsed()).toBeNull();
      ctx.clock.advance(10);
      const firstUse = ctx.clock.now().toISOString();
      expect((await call(ctx, 'GET', ME, key.headers)).statusCode).toBe(200);
      expect(await lastUsed()).toBe(firstUse);
      ctx.clock.advance(30);
      await call(ctx, 'GET', ME, key.headers);
      expect(await lastUsed()).toBe(firstUse);
      ctx.clock.advance(31);
      await call(ctx, 'GET', ME, key.headers);
      expect(await lastUsed()).toBe(ctx.clock.now().toISOString());
    });
  });

  describe('listing', () => {
    it('lists only your own keys; ?all=true and ?user_id= of someone else need api_keys:manage (403)', async () => {
      const other = await makePrincipals(ctx);
      const mine = (await listKeys(owner.cookie)).items;
      expect(mine.length).toBeGreaterThan(0);
      expect(mine.every((k) => k.user_id === owner.user.id)).toBe(true);
      expect((await listKeys(owner.cookie, `?user_id=${owner.user.id}`)).items.map((k) => k.id)).toEqual(mine.map((k) => k.id));

      for (const query of ['?all=true', `?user_id=${other.user.id}`]) {
        const res = await call(ctx, 'GET', `${KEYS}${query}`, owner.cookie);
        expect(expectProblem(res, 403, 'forbidden').detail).toContain('api_keys:manage');
        expectProblem(await call(ctx, 'GET', `${KEYS}${query}`, owner.apiKey), 403, 'forbidden');
      }
      expectProblem(await call(ctx, 'GET', `${KEYS}?all=yes`, admin.cookie), 400, 'validation_failed');
    });

    it('an admin lists everyone (?all=true) or one user (?user_id=)', async () => {
      const other = await makePrincipals(ctx);
      const all = (await listKeys(admin.cookie, '?all=true&limit=200')).items;
      const owners = new Set(all.map((k) => k.user_id));
      for (const id of [admin.user.id, owner.user.id, other.user.id]) expect(owners.has(id)).toBe(true);

      const theirs = (await listKeys(admin.cookie, `?user_id=${other.user.id}`)).items;
      expect(theirs.map((k) => k.id)).toEqual([other.apiKeyId]);
      // Without a filter an admin sees their own keys, like anyone.
      expect((await listKeys(admin.cookie)).items.every((k) => k.user_id === admin.user.id)).toBe(true);
    });

    it('pages with limit / cursor / next_cursor in creation order', async () => {
      const pager = await makePrincipals(ctx);
      const created = [pager.apiKeyId];
      for (let i = 0; i < 4; i++) created.push((await makeApiKey(ctx, pager.cookie, { name: `page ${i}`, scopes: ['account:self'] })).id);

      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page: { items: KeyView[]; next_cursor: string | null } = await listKeys(pager.jwt, `?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
        expect(page.items.length).toBeLessThanOrEqual(2);
        seen.push(...page.items.map((k) => k.id));
        cursor = page.next_cursor;
        pages += 1;
      } while (cursor && pages < 10);
      expect(pages).toBe(3);
      expect(seen).toEqual(created);
      expect((await listKeys(pager.jwt, '?limit=5')).next_cursor).toBeNull();
    });

    const badPages: Array<[string, string]> = [
      ['a cursor we did not issue', '?cursor=not-a-cursor'],
      ['a cursor of random base64url', `?cursor=${Buffer.from('hello').toString('base64url')}`],
      ['limit 0', '?limit=0'],
      ['limit over 200', '?limit=201'],
      ['a negative limit', '?limit=-1'],
      ['a non-numeric limit', '?limit=ten'],
      ['a fractional limit', '?limit=1.5'],
    ];
    it.each(badPages)('rejects %s with 400', async (_label, query) => {
      const problem = expectProblem(await call(ctx, 'GET', `${KEYS}${query}`, owner.cookie), 400, 'validation_failed');
      expect(problem.errors?.length).toBeGreaterThan(0);
    });
  });
});

describe.each(dialects)('API_KEY_MAX_TTL_SECONDS (%s)', (dialect) => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext(dialect, { env: { ...ACCESS_ENV, API_KEY_MAX_TTL_SECONDS: '3600' } });
  });
  afterAll(async () => {
    await ctx?.close();
  });

  it('is the default limit when no group sets one; a group may relax it', async () => {
    // Admins are bound by the default too.
    const adminUser = await makeUser(ctx, { role: 'admin' });
    const cookie = { cookie: await loginCookie(ctx, adminUser) };
    const create = (as: Headers, extra: Record<string, unknown>) => call(ctx, 'POST', KEYS, as, { name: 'k', scopes: ['account:self'], ...extra });

    const missing = expectProblem(await create(cookie, {}), 400, 'validation_failed');
    expect(missing.errors?.map((e) => e.field)).toEqual(['/expires_in']);
    expectProblem(await create(cookie, { expires_in: 3601 }), 400, 'validation_failed');
    const ok = await create(cookie, { expires_in: 3600 });
    expect(ok.statusCode, ok.body).toBe(201);

    const longer = await makeGroup(ctx, cookie, { name: 'long-keys', api_key_max_ttl_seconds: 30 * 86_400 });
    await setMember(ctx, cookie, longer.id, adminUser.id, true);
    expect((await create(cookie, { expires_in: 30 * 86_400 })).statusCode).toBe(201);
    expectProblem(await create(cookie, {}), 400, 'validation_failed');
  });
});
