/**
 * The per-user storage quota on uploads (STORAGE_QUOTA_BYTES, raised by a group's
 * `storage_quota_bytes`): `413 storage_quota_exceeded` with nothing kept, concurrent uploads that
 * cannot overshoot together, and the usage in `GET /api/v1/users/me/quota`. Real multipart
 * uploads over HTTP, on both dialects.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, makeUser, passwordGrant, type TestContext } from '../helpers/harness.js';
import { call, claim, createQueue, JOBS_ENV, makeCast } from '../jobs/job-fixtures.js';
import { expectProblemResult, filesUnder, get, listen, upload } from './files-helpers.js';

const QUOTA = 1000;

describe.each(dialects)('storage quota (%s)', (dialect) => {
  let ctx: TestContext;
  let base: string;
  let adminToken: string;
  beforeAll(async () => {
    ctx = await createTestContext(dialect, { env: { STORAGE_QUOTA_BYTES: String(QUOTA) } });
    base = await listen(ctx);
    adminToken = (await passwordGrant(ctx, await makeUser(ctx, { role: 'admin' }))).access_token;
  });
  afterAll(async () => {
    await ctx?.close();
  });

  const newUser = async () => {
    const user = await makeUser(ctx);
    return { id: user.id, token: (await passwordGrant(ctx, user)).access_token };
  };
  const bytes = (n: number) => new Blob([Buffer.alloc(n, 7)]);
  const storage = async (token: string) =>
    (await get(base, '/api/v1/users/me/quota', token)).json.storage as { limit_bytes: number; used_bytes: number; remaining_bytes: number | null };

  it('reports the quota, refuses an upload that would exceed it with 413 storage_quota_exceeded, and keeps nothing', async () => {
    const user = await newUser();
    expect(await storage(user.token)).toEqual({ limit_bytes: QUOTA, used_bytes: 0, remaining_bytes: QUOTA });

    expect((await upload(base, user.token, [['file', bytes(600), 'a.bin']])).status).toBe(201);
    expect(await storage(user.token)).toEqual({ limit_bytes: QUOTA, used_bytes: 600, remaining_bytes: 400 });

    const before = filesUnder(ctx.config.files.dir);
    const refused = expectProblemResult(await upload(base, user.token, [['file', bytes(500), 'b.bin']]), 413, 'storage_quota_exceeded');
    expect(refused).toMatchObject({ limit_bytes: QUOTA, used_bytes: 600 });
    expect(filesUnder(ctx.config.files.dir)).toEqual(before);
    expect(await storage(user.token)).toEqual({ limit_bytes: QUOTA, used_bytes: 600, remaining_bytes: 400 });

    // Exactly filling the quota is allowed; after that even one byte is refused before it is read.
    expect((await upload(base, user.token, [['file', bytes(400), 'c.bin']])).status).toBe(201);
    expect(await storage(user.token)).toEqual({ limit_bytes: QUOTA, used_bytes: QUOTA, remaining_bytes: 0 });
    expectProblemResult(await upload(base, user.token, [['file', bytes(1), 'd.bin']]), 413, 'storage_quota_exceeded');

    // Another user's quota is their own.
    const other = await newUser();
    expect((await upload(base, other.token, [['file', bytes(900), 'e.bin']])).status).toBe(201);
  });

  it('concurrent uploads cannot overshoot the quota together', async () => {
    const user = await newUser();
    const results = await Promise.all([0, 1, 2].map((i) => upload(base, user.token, [['file', bytes(600), `${i}.bin`]])));
    const created = results.filter((r) => r.status === 201);
    for (const r of results) if (r.status !== 201) expectProblemResult(r, 413, 'storage_quota_exceeded');
    expect(created.length).toBeLessThanOrEqual(1);
    const usage = await storage(user.token);
    expect(usage.used_bytes).toBe(created.length * 600);
    expect(usage.used_bytes).toBeLessThanOrEqual(QUOTA);
  });

  it('a group raises the quota (the most generous group wins; 0 = unlimited)', async () => {
    const user = await newUser();
    const auth = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };
    const name = `big-storage-${dialect}`;
    const created = await fetch(`${base}/api/v1/groups`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ name, storage_quota_bytes: 5000 }),
    });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ name, storage_quota_bytes: 5000 });
    const member = await fetch(`${base}/api/v1/groups/${name}/members/${user.id}`, { method: 'PUT', headers: { authorization: auth.authorization } });
    expect(member.status).toBeLessThan(300);

    expect(await storage(user.token)).toMatchObject({ limit_bytes: 5000, used_bytes: 0 });
    expect((await upload(base, user.token, [['file', bytes(3000), 'big.bin']])).status).toBe(201);
    expectProblemResult(await upload(base, user.token, [['file', bytes(2500), 'more.bin']]), 413, 'storage_quota_exceeded');

    const unlimited = await fetch(`${base}/api/v1/groups/${name}`, { method: 'PATCH', headers: auth, body: JSON.stringify({ storage_quota_bytes: 0 }) });
    expect(unlimited.status).toBe(200);
    expect(await storage(user.token)).toEqual({ limit_bytes: 0, used_bytes: 3000, remaining_bytes: null });
    expect((await upload(base, user.token, [['file', bytes(2500), 'more.bin']])).status).toBe(201);
  });
});

describe.each(dialects)('storage quota and job files (%s)', (dialect) => {
  let ctx: TestContext;
  let base: string;
  beforeAll(async () => {
    ctx = await createTestContext(dialect, { env: { ...JOBS_ENV, STORAGE_QUOTA_BYTES: '100' } });
    base = await listen(ctx);
  });
  afterAll(async () => {
    await ctx?.close();
  });

  it('a worker\'s output for the job it holds is never refused (it counts towards the worker\'s usage); user uploads are', async () => {
    const cast = await makeCast(ctx);
    const tokenOf = (headers: Record<string, string>) => headers.authorization!.replace(/^Bearer /, '');
    await createQueue(ctx, cast.admin, { name: `quota-${dialect}` });
    expectProblemResult(await upload(base, tokenOf(cast.owner), [['file', new Blob([Buffer.alloc(500)]), 'in.bin']]), 413, 'storage_quota_exceeded');

    const enq = await call(ctx, 'POST', `/api/v1/queues/quota-${dialect}/jobs`, cast.owner, { kind: 'k' });
    expect(enq.statusCode, enq.body).toBe(201);
    const jobId = enq.json().id as string;
    const worker = await cast.newWorker();
    expect((await claim(ctx, worker.headers, { queues: [`quota-${dialect}`] })).statusCode).toBe(200);
    const out = await upload(base, tokenOf(worker.headers), [
      ['purpose', 'output'],
      ['job_id', jobId],
      ['attempt', '1'],
      ['file', new Blob([Buffer.alloc(500)]), 'out.bin'],
    ]);
    expect(out.status, out.bytes.toString()).toBe(201);
    const usage = (await get(base, '/api/v1/users/me/quota', tokenOf(worker.headers))).json.storage;
    expect(usage).toEqual({ limit_bytes: 100, used_bytes: 500, remaining_bytes: 0 });
  });
});
