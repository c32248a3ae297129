/**
 * API key scopes apply to the job, file and event routes (hardening item 3): each route needs a
 * permission of the user role (`jobs:read`, `jobs:control`, `files:read`, `files:write`,
 * `events:read`), so a key scoped to something else — `users:read`, or `account:self` alone —
 * gets `403` there, while cookie sessions, `*` keys and keys carrying the new scopes keep working.
 * Migration 0008 gives keys created before it the scopes that keep them working. SQLite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateTo, migrateToLatest } from '../../src/db/migrate.js';
import { openDatabase } from '../../src/db/database.js';
import { createTestDatabase } from '../helpers/test-database.js';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, makeApiKey, type TestContext } from '../helpers/harness.js';
import { createQueue, enqueue, JOBS_ENV, OWNER_SCOPES } from '../jobs/job-fixtures.js';
import { call, type Headers, makePrincipals, type Principals } from './access-fixtures.js';

describe.each(dialects)('API key scopes on job, file and event routes (%s)', (dialect) => {
  let ctx: TestContext;
  let owner: Principals;
  let adminReader: Headers;
  let adminAll: Headers;
  let jobId: string;
  let fileId: string;
  const queue = `scoped-${dialect}`;

  /** Uploads a small file as `as`. */
  async function upload(as: Headers) {
    const boundary = 'scopes-boundary';
    const body = `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="a.txt"\r\ncontent-type: text/plain\r\n\r\nhello\r\n--${boundary}--\r\n`;
    return ctx.request({ method: 'POST', url: '/api/v1/files', headers: { ...as, 'content-type': `multipart/form-data; boundary=${boundary}` }, payload: body });
  }

  beforeAll(async () => {
    ctx = await createTestContext(dialect, { env: JOBS_ENV });
    const admin = await makePrincipals(ctx, { role: 'admin' });
    owner = await makePrincipals(ctx, { role: 'user', scopes: OWNER_SCOPES });
    adminReader = (await makeApiKey(ctx, admin.cookie, { scopes: ['users:read'] })).headers;
    adminAll = admin.apiKey;
    await createQueue(ctx, admin.apiKey, { name: queue });
    const uploaded = await upload(owner.apiKey);
    expect(uploaded.statusCode, uploaded.body).toBe(201);
    fileId = uploaded.json<{ id: string }>().id;
    jobId = (await enqueue(ctx, owner.apiKey, queue, { kind: 'k', input_files: [fileId] })).id;
  });
  afterAll(async () => {
    await ctx?.close();
  });

  /** Every guarded request, with the permission that opens it to the owner's own key. */
  const routes: Array<{ name: string; permission: string; send: (as: Headers) => ReturnType<typeof call>; ok: number }> = [
    { name: 'GET /jobs', permission: 'jobs:read', send: (as) => call(ctx, 'GET', '/api/v1/jobs', as), ok: 200 },
    { name: 'GET /jobs/{id}', permission: 'jobs:read', send: (as) => call(ctx, 'GET', `/api/v1/jobs/${jobId}`, as), ok: 200 },
    { name: 'GET /jobs/{id}/events', permission: 'jobs:read', send: (as) => call(ctx, 'GET', `/api/v1/jobs/${jobId}/events`, as), ok: 200 },
    { name: 'POST /jobs/{id}/pause', permission: 'jobs:control', send: (as) => call(ctx, 'POST', `/api/v1/jobs/${jobId}/pause`, as), ok: 200 },
    { name: 'POST /jobs/{id}/resume', permission: 'jobs:control', send: (as) => call(ctx, 'POST', `/api/v1/jobs/${jobId}/resume`, as), ok: 200 },
    { name: 'GET /files/{id}', permission: 'files:read', send: (as) => call(ctx, 'GET', `/api/v1/files/${fileId}`, as), ok: 200 },
    { name: 'GET /files/{id}/meta', permission: 'files:read', send: (as) => call(ctx, 'GET', `/api/v1/files/${fileId}/meta`, as), ok: 200 },
    { name: 'POST /files', permission: 'files:write', send: (as) => upload(as), ok: 201 },
    // A refused stream answers before it starts; a granted one would stay open, so it is probed with a bad Last-Event-ID (400 after the guard).
    { name: 'GET /events', permission: 'events:read', send: (as) => call(ctx, 'GET', `/api/v1/events?topics=job:${jobId}&last_event_id=x`, as), ok: 400 },
  ];

  it.each(routes)('$name: 403 for a key scoped users:read (admin) or account:self (owner); open to its permission', async ({ permission, send, ok }) => {
    const narrow = await makeApiKey(ctx, owner.cookie, { scopes: ['account:self'] });
    for (const as of [adminReader, narrow.headers]) {
      const refused = await send(as);
      expect(refused.statusCode, refused.body).toBe(403);
      expect(refused.json()).toMatchObject({ code: 'forbidden' });
    }
    const scoped = await makeApiKey(ctx, owner.cookie, { scopes: [permission] });
    expect((await send(scoped.headers)).statusCode).toBe(ok);
    expect((await send(owner.cookie)).statusCode).toBe(ok);
    // The same admin's `*` key (jobs:manage, files:manage) is not narrowed.
    expect((await send(adminAll)).statusCode).toBe(ok);
  });

  it('keeps cancel and retry behind jobs:control, and reading a job does not grant acting on it', async () => {
    const reader = await makeApiKey(ctx, owner.cookie, { scopes: ['jobs:read', 'files:read'] });
    const job = await enqueue(ctx, owner.apiKey, queue, { kind: 'k' });
    expect((await call(ctx, 'POST', `/api/v1/jobs/${job.id}/cancel`, reader.headers)).statusCode).toBe(403);
    expect((await call(ctx, 'GET', `/api/v1/jobs/${job.id}`, reader.headers)).json().job.state).toBe('queued');
    const controller = await makeApiKey(ctx, owner.cookie, { scopes: ['jobs:control'] });
    expect((await call(ctx, 'POST', `/api/v1/jobs/${job.id}/cancel`, controller.headers)).json().state).toBe('cancelled');
    expect((await call(ctx, 'POST', `/api/v1/jobs/${job.id}/retry`, reader.headers)).statusCode).toBe(403);
    // A jobs:read key does not read the owner's files.
    expect((await call(ctx, 'GET', `/api/v1/files/${fileId}`, (await makeApiKey(ctx, owner.cookie, { scopes: ['jobs:read'] })).headers)).statusCode).toBe(403);
  });

  it('migration 0008 gives existing account:self and jobs:enqueue keys the scopes that keep them working', async () => {
    const database = await createTestDatabase(dialect);
    const handle = openDatabase({ dialect, url: database.url.replace(/^sqlite:/, ''), poolSize: 2, preparedStatements: false });
    try {
      await migrateTo(handle.db, dialect, '0006-jobs');
      const now = new Date().toISOString();
      await handle.db
        .insertInto('user')
        .values({ id: 'u1', email: 'a@example.com', email_normalized: 'a@example.com', password_hash: 'x', name: 'A', profile: '{}', role: 'user', status: 'active', email_verified_at: now, banned_until: null, ban_reason: null, created_at: now, updated_at: now })
        .execute();
      const key = (id: string, scopes: string[]) => ({ id, user_id: 'u1', name: id, prefix: id, key_hash: `h-${id}`, scopes: JSON.stringify(scopes), created_at: now, last_used_at: null, expires_at: null, revoked_at: null });
      await handle.db.insertInto('api_key').values([key('k1', ['account:self']), key('k2', ['jobs:enqueue']), key('k3', ['users:read']), key('k4', ['*'])]).execute();
      await migrateToLatest(handle.db, dialect);
      const rows = await handle.db.selectFrom('api_key').select(['id', 'scopes']).orderBy('id').execute();
      const scopes = Object.fromEntries(rows.map((r) => [r.id, JSON.parse(r.scopes) as string[]]));
      expect(scopes).toEqual({
        k1: ['account:self', 'jobs:read', 'jobs:control', 'files:read', 'files:write', 'events:read'],
        k2: ['jobs:enqueue', 'jobs:read', 'jobs:control', 'events:read'],
        k3: ['users:read'],
        k4: ['*'],
      });
    } finally {
      await handle.close();
      await database.drop();
    }
  });
});
