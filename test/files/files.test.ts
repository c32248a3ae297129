/**
 * The Files API (docs/jobs.md, "Files") over real HTTP: multipart uploads built by fetch's own
 * FormData encoder against a listening app, downloads with ranges and conditional requests,
 * the size limit (and nothing left behind in the storage directory), who may read what, bad
 * bodies, and files surviving a restart. On SQLite and PostgreSQL.
 */
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { createGatehouse } from '../../src/container.js';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, loginCookie, makeUser, passwordGrant, PUBLIC_URL, STRONG_PASSWORD, type TestContext } from '../helpers/harness.js';
import { expectProblemResult, type FetchResult, filesUnder, get, listen, readResult, upload } from './files-helpers.js';

const MiB = 1024 * 1024;
const MAX_BYTES = 4 * MiB;
const ENV = {
  FILE_MAX_BYTES: String(MAX_BYTES),
  RATE_LIMIT_IP_PER_MINUTE: '1000000',
  RATE_LIMIT_USER_PER_MINUTE: '1000000',
};

/** Polls `condition` every 20 ms (the server cleans up asynchronously); throws after 5 s. */
async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 250; i += 1) {
    if (condition()) return;
    await sleep(20);
  }
  throw new Error(`${what} did not happen within 5 s`);
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

describe.each(dialects)('files API (%s)', (dialect) => {
  let ctx: TestContext;
  let base: string;
  let owner: { id: string; email: string; token: string };
  let other: { token: string };
  let admin: { token: string };
  let content: Buffer;
  let fileId: string;

  beforeAll(async () => {
    ctx = await createTestContext(dialect, { env: ENV });
    base = await listen(ctx);
    const o = await makeUser(ctx);
    owner = { ...o, token: (await passwordGrant(ctx, o)).access_token };
    other = { token: (await passwordGrant(ctx, await makeUser(ctx))).access_token };
    admin = { token: (await passwordGrant(ctx, await makeUser(ctx, { role: 'admin' }))).access_token };
    content = randomBytes(3 * MiB + 12_345);
    const res = await upload(base, owner.token, [
      ['purpose', 'attachment'],
      ['file', new Blob([content], { type: 'application/x-Custom' }), 'résumé report.bin'],
    ]);
    expect(res.status, res.bytes.toString()).toBe(201);
    fileId = res.json.id as string;
  });
  afterAll(async () => {
    await ctx?.close();
  });

  describe('upload and download round trip', () => {
    it('answers 201 with the metadata: size, SHA-256 computed independently, owner, purpose, name, type', async () => {
      const meta = await get(base, `/api/v1/files/${fileId}/meta`, owner.token);
      expect(meta.status).toBe(200);
      expect(meta.json).toEqual({
        id: fileId,
        owner_id: owner.id,
        purpose: 'attachment',
        name: 'résumé report.bin',
        content_type: 'application/x-custom',
        size_bytes: content.length,
        sha256: sha256(content),
        job_id: null,
        created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      });
    });

    it('downloads the same bytes with Content-Length, Content-Type, ETag, Content-Disposition and Accept-Ranges', async () => {
      const res = await get(base, `/api/v1/files/${fileId}`, owner.token);
      expect(res.status).toBe(200);
      expect(res.bytes.length).toBe(content.length);
      expect(sha256(res.bytes)).toBe(sha256(content));
      expect(res.headers.get('content-length')).toBe(String(content.length));
      expect(res.headers.get('content-type')).toBe('application/x-custom');
      expect(res.headers.get('etag')).toBe(`"${sha256(content)}"`);
      expect(res.headers.get('accept-ranges')).toBe('bytes');
      expect(res.headers.get('content-disposition')).toBe(
        'attachment; filename="r_sum_ report.bin"; filename*=UTF-8\'\'r%C3%A9sum%C3%A9%20report.bin',
      );
      expect(res.headers.get('content-security-policy')).toContain('sandbox');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    });

    it('defaults purpose to input and records what the part says; sanitises the file name', async () => {
      const bytes = Buffer.from('hello, files\n');
      const res = await upload(base, owner.token, [['file', new Blob([bytes]), 'a\u202Egnp.exe']]);
      expect(res.status, res.bytes.toString()).toBe(201);
      expect(res.headers.get('location')).toBe(`/api/v1/files/${res.json.id as string}`);
      expect(res.json).toMatchObject({
        purpose: 'input',
        name: 'agnp.exe',
        content_type: 'application/octet-stream',
        size_bytes: bytes.length,
        sha256: sha256(bytes),
      });
      const back = await get(base, `/api/v1/files/${res.json.id as string}`, owner.token);
      expect(back.bytes.equals(bytes)).toBe(true);
    });

    it('accepts an empty file and a cookie-authenticated upload from the site origin', async () => {
      const cookie = await loginCookie(ctx, { email: owner.email, password: STRONG_PASSWORD });
      const form = new FormData();
      form.append('file', new Blob([], { type: 'text/plain' }), 'empty.txt');
      const res = await fetch(`${base}/api/v1/files`, { method: 'POST', body: form, headers: { cookie, origin: PUBLIC_URL } });
      const body = (await res.json()) as Record<string, unknown>;
      expect(res.status).toBe(201);
      expect(body).toMatchObject({ size_bytes: 0, sha256: sha256(Buffer.alloc(0)), content_type: 'text/plain', name: 'empty.txt' });
      const back = await get(base, `/api/v1/files/${body.id as string}`, owner.token);
      expect(back.status).toBe(200);
      expect(back.headers.get('content-length')).toBe('0');

      const foreign = await fetch(`${base}/api/v1/files`, { method: 'POST', body: form, headers: { cookie, origin: 'http://evil.test' } });
      expect(foreign.status).toBe(403);
    });
  });

  describe('ranges and conditional requests (RFC 9110 §13, §14)', () => {
    const range = (value: string, extra: Record<string, string> = {}): Promise<FetchResult> =>
      get(base, `/api/v1/files/${fileId}`, owner.token, { range: value, ...extra });

    it('bytes=0-99 answers 206 with the first 100 bytes and Content-Range', async () => {
      const res = await range('bytes=0-99');
      expect(res.status).toBe(206);
      expect(res.headers.get('content-range')).toBe(`bytes 0-99/${content.length}`);
      expect(res.headers.get('content-length')).toBe('100');
      expect(res.bytes.equals(content.subarray(0, 100))).toBe(true);
    });

    it('a middle range past the end is clamped', async () => {
      const start = content.length - 50;
      const res = await range(`bytes=${start}-${content.length + 1000}`);
      expect(res.status).toBe(206);
      expect(res.headers.get('content-range')).toBe(`bytes ${start}-${content.length - 1}/${content.length}`);
      expect(res.bytes.equals(content.subarray(start))).toBe(true);
    });

    it('bytes=-n answers the last n bytes (suffix)', async () => {
      const res = await range('bytes=-1000');
      expect(res.status).toBe(206);
      expect(res.headers.get('content-range')).toBe(`bytes ${content.length - 1000}-${content.length - 1}/${content.length}`);
      expect(res.bytes.equals(content.subarray(content.length - 1000))).toBe(true);
    });

    it('bytes=a- answers from a to the end (open-ended)', async () => {
      const start = 2 * MiB + 7;
      const res = await range(`bytes=${start}-`);
      expect(res.status).toBe(206);
      expect(res.headers.get('content-range')).toBe(`bytes ${start}-${content.length - 1}/${content.length}`);
      expect(res.headers.get('content-length')).toBe(String(content.length - start));
      expect(sha256(res.bytes)).toBe(sha256(content.subarray(start)));
    });

    it('a range starting at or past the end is 416 with Content-Range: bytes */size', async () => {
      for (const value of [`bytes=${content.length}-`, `bytes=${content.length + 5}-${content.length + 10}`, 'bytes=-0']) {
        const res = await range(value);
        expectProblemResult(res, 416, 'range_not_satisfiable');
        expect(res.headers.get('content-range')).toBe(`bytes */${content.length}`);
      }
    });

    it('multi-range, malformed and other-unit headers are answered whole (200)', async () => {
      for (const value of ['bytes=0-1,5-6', 'bytes=abc', 'items=0-1', 'bytes=9-3']) {
        const res = await range(value);
        expect(res.status, value).toBe(200);
        expect(res.bytes.length).toBe(content.length);
      }
    });

    it('If-None-Match with the ETag answers 304 without a body; another tag answers 200', async () => {
      const etag = `"${sha256(content)}"`;
      const hit = await get(base, `/api/v1/files/${fileId}`, owner.token, { 'if-none-match': `"nope", ${etag}` });
      expect(hit.status).toBe(304);
      expect(hit.bytes.length).toBe(0);
      expect(hit.headers.get('etag')).toBe(etag);
      expect((await get(base, `/api/v1/files/${fileId}`, owner.token, { 'if-none-match': 'W/' + etag })).status).toBe(304);
      const miss = await get(base, `/api/v1/files/${fileId}`, owner.token, { 'if-none-match': '"something-else"' });
      expect(miss.status).toBe(200);
      expect(miss.bytes.length).toBe(content.length);
    });

    it('If-Range honours the range only when the ETag still matches', async () => {
      const etag = `"${sha256(content)}"`;
      expect((await range('bytes=0-9', { 'if-range': etag })).status).toBe(206);
      const stale = await range('bytes=0-9', { 'if-range': '"old-version"' });
      expect(stale.status).toBe(200);
      expect(stale.bytes.length).toBe(content.length);
    });

    it('HEAD answers the headers (whole and ranged) without a body', async () => {
      const whole = await get(base, `/api/v1/files/${fileId}`, owner.token, {}, 'HEAD');
      expect(whole.status).toBe(200);
      expect(whole.headers.get('content-length')).toBe(String(content.length));
      expect(whole.headers.get('etag')).toBe(`"${sha256(content)}"`);
      expect(whole.bytes.length).toBe(0);
      const part = await get(base, `/api/v1/files/${fileId}`, owner.token, { range: 'bytes=10-19' }, 'HEAD');
      expect(part.status).toBe(206);
      expect(part.headers.get('content-length')).toBe('10');
      expect(part.headers.get('content-range')).toBe(`bytes 10-19/${content.length}`);
    });
  });

  describe('size limit (FILE_MAX_BYTES)', () => {
    it('accepts a file of exactly the limit', async () => {
      const exact = randomBytes(MAX_BYTES);
      const res = await upload(base, owner.token, [['file', new Blob([exact]), 'exact.bin']]);
      expect(res.status, res.bytes.toString()).toBe(201);
      expect(res.json).toMatchObject({ size_bytes: MAX_BYTES, sha256: sha256(exact) });
    });

    it('refuses one byte more with 413 and leaves nothing behind in the storage directory', async () => {
      const dir = ctx.config.files.dir;
      const before = filesUnder(dir);
      const res = await upload(base, owner.token, [['file', new Blob([randomBytes(MAX_BYTES + 1)]), 'big.bin']]);
      expectProblemResult(res, 413, 'payload_too_large');
      expect(filesUnder(dir)).toEqual(before);
      expect(before.some((f) => f.startsWith('.tmp'))).toBe(false);

      const far = await upload(base, owner.token, [['file', new Blob([randomBytes(3 * MAX_BYTES)]), 'bigger.bin']]);
      expectProblemResult(far, 413, 'payload_too_large');
      expect(filesUnder(dir)).toEqual(before);
      // The server is still healthy after refusing a body mid-stream.
      expect((await get(base, `/api/v1/files/${fileId}/meta`, owner.token)).status).toBe(200);
    });
  });

  it('a client that disconnects mid-upload leaves nothing behind, and the server keeps serving', async () => {
    const dir = ctx.config.files.dir;
    const before = filesUnder(dir);
    const boundary = 'gatehouse-test-boundary';
    const url = new URL(`${base}/api/v1/files`);
    const req = httpRequest({
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      method: 'POST',
      headers: {
        authorization: `Bearer ${owner.token}`,
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'content-length': String(3 * MiB),
      },
    });
    req.on('error', () => undefined);
    req.write(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="cut.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`);
    await new Promise<void>((resolve) => req.write(randomBytes(MiB), () => resolve()));
    // Let the server start writing the temporary file, then vanish.
    await waitFor(() => filesUnder(dir).some((f) => f.startsWith('.tmp')), 'the upload\'s temporary file');
    req.destroy();
    await waitFor(() => JSON.stringify(filesUnder(dir)) === JSON.stringify(before), 'removing the temporary file');
    expect(filesUnder(dir)).toEqual(before);
    expect((await get(base, `/api/v1/files/${fileId}/meta`, owner.token)).status).toBe(200);
  });

  describe('who may read a file', () => {
    it('another user gets 404 on download, HEAD and meta (never 403)', async () => {
      for (const [url, method] of [
        [`/api/v1/files/${fileId}`, 'GET'],
        [`/api/v1/files/${fileId}`, 'HEAD'],
        [`/api/v1/files/${fileId}/meta`, 'GET'],
      ] as const) {
        const res = await get(base, url, other.token, {}, method);
        expect(res.status, `${method} ${url}`).toBe(404);
        if (method === 'GET') expectProblemResult(res, 404, 'not_found');
      }
      // The same answer as for an id that does not exist.
      const missing = await get(base, '/api/v1/files/0190a4c6-0000-7000-8000-000000000000/meta', other.token);
      expectProblemResult(missing, 404, 'not_found');
    });

    it('an admin (files:manage through *) reads it', async () => {
      const meta = await get(base, `/api/v1/files/${fileId}/meta`, admin.token);
      expect(meta.status).toBe(200);
      const res = await get(base, `/api/v1/files/${fileId}`, admin.token);
      expect(res.status).toBe(200);
      expect(sha256(res.bytes)).toBe(sha256(content));
    });

    it('unauthenticated requests get 401 on every route', async () => {
      expectProblemResult(await get(base, `/api/v1/files/${fileId}`, undefined), 401, 'authentication_required');
      expectProblemResult(await get(base, `/api/v1/files/${fileId}/meta`, undefined), 401, 'authentication_required');
      const res = await upload(base, undefined, [['file', new Blob(['x']), 'x.txt']]);
      expectProblemResult(res, 401, 'authentication_required');
    });

    it('a malformed id is 400, not 500', async () => {
      expectProblemResult(await get(base, '/api/v1/files/not-a-uuid/meta', owner.token), 400, 'validation_failed');
    });
  });

  describe('bad uploads', () => {
    it('a body without a file part is 400 naming /file', async () => {
      const res = await upload(base, owner.token, [['purpose', 'input']]);
      const problem = expectProblemResult(res, 400, 'validation_failed');
      expect(problem.errors?.map((e) => e.field)).toContain('/file');
    });

    it('a file part under another name is 400', async () => {
      const res = await upload(base, owner.token, [['upload', new Blob(['x']), 'x.txt']]);
      expectProblemResult(res, 400, 'validation_failed');
    });

    it('JSON or no body is 415; a multipart body sent to another route is 415 too', async () => {
      const json = await fetch(`${base}/api/v1/files`, {
        method: 'POST',
        headers: { authorization: `Bearer ${owner.token}`, 'content-type': 'application/json' },
        body: '{}',
      });
      expectProblemResult(await readResult(json), 415, 'unsupported_media_type');
      const none = await fetch(`${base}/api/v1/files`, { method: 'POST', headers: { authorization: `Bearer ${owner.token}` } });
      expectProblemResult(await readResult(none), 415, 'unsupported_media_type');

      const form = new FormData();
      form.append('name', 'Mallory');
      const elsewhere = await fetch(`${base}/api/v1/users/me`, { method: 'PATCH', body: form, headers: { authorization: `Bearer ${owner.token}` } });
      expectProblemResult(await readResult(elsewhere), 415, 'unsupported_media_type');
    });

    it('a malformed multipart body is 400', async () => {
      const res = await fetch(`${base}/api/v1/files`, {
        method: 'POST',
        headers: { authorization: `Bearer ${owner.token}`, 'content-type': 'multipart/form-data' },
        body: 'not multipart at all',
      });
      expectProblemResult(await readResult(res), 400, 'bad_request');
    });

    it('a body that ends inside the file part is 400 and nothing is stored', async () => {
      const before = filesUnder(ctx.config.files.dir);
      const boundary = 'cut-boundary';
      const body = Buffer.concat([
        Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="cut.bin"\r\n\r\n`),
        randomBytes(200_000),
      ]);
      const res = await fetch(`${base}/api/v1/files`, {
        method: 'POST',
        headers: { authorization: `Bearer ${owner.token}`, 'content-type': `multipart/form-data; boundary=${boundary}` },
        body,
      });
      expectProblemResult(await readResult(res), 400, 'bad_request');
      expect(filesUnder(ctx.config.files.dir)).toEqual(before);
    });

    it.each([
      ['an unknown purpose', [['purpose', 'evil']], '/purpose'],
      ['an unknown field', [['colour', 'blue']], '/colour'],
      ['a repeated field', [['purpose', 'input'], ['purpose', 'input']], '/purpose'],
      ['a job id with a user purpose', [['purpose', 'input'], ['job_id', '0190a4c6-0000-7000-8000-000000000000']], '/job_id'],
      ['output without a job', [['purpose', 'output']], '/job_id'],
      ['checkpoint without an attempt', [['purpose', 'checkpoint'], ['job_id', '0190a4c6-0000-7000-8000-000000000000']], '/attempt'],
      ['a bad job id', [['purpose', 'output'], ['job_id', 'x'], ['attempt', '1']], '/job_id'],
      ['a bad attempt', [['purpose', 'output'], ['job_id', '0190a4c6-0000-7000-8000-000000000000'], ['attempt', '0']], '/attempt'],
    ] as Array<[string, Array<[string, string]>, string]>)('%s is 400 naming the field, and nothing is stored', async (_name, fields, field) => {
      const before = filesUnder(ctx.config.files.dir);
      const res = await upload(base, owner.token, [...fields, ['file', new Blob([randomBytes(64 * 1024)]), 'f.bin']]);
      const problem = expectProblemResult(res, 400, 'validation_failed');
      expect(problem.errors?.map((e) => e.field)).toContain(field);
      expect(filesUnder(ctx.config.files.dir)).toEqual(before);
    });

    it('a field after the file part, or a second file, is 400 and nothing is stored', async () => {
      const before = filesUnder(ctx.config.files.dir);
      const late = await upload(base, owner.token, [['file', new Blob(['abc']), 'a.txt'], ['purpose', 'input']]);
      expectProblemResult(late, 400, 'validation_failed');
      const two = await upload(base, owner.token, [
        ['file', new Blob(['abc']), 'a.txt'],
        ['file', new Blob(['def']), 'b.txt'],
      ]);
      expectProblemResult(two, 400, 'validation_failed');
      expect(filesUnder(ctx.config.files.dir)).toEqual(before);
    });

    it('a user uploading an output for a job it does not hold as a worker is refused (403) and nothing is stored', async () => {
      const before = filesUnder(ctx.config.files.dir);
      const res = await upload(base, owner.token, [
        ['purpose', 'output'],
        ['job_id', '0190a4c6-0000-7000-8000-000000000000'],
        ['attempt', '1'],
        ['file', new Blob(['result']), 'out.txt'],
      ]);
      expect(res.status, JSON.stringify(res.json)).toBe(403);
      expect(filesUnder(ctx.config.files.dir)).toEqual(before);
    });
  });
});

describe.each(dialects)('stored files survive a restart (%s)', (dialect) => {
  let ctx: TestContext;
  let rebuilt: { app: TestContext['app']; gatehouse: TestContext['gatehouse'] } | undefined;

  beforeAll(async () => {
    ctx = await createTestContext(dialect, { env: ENV });
  });
  afterAll(async () => {
    await rebuilt?.app.close();
    await rebuilt?.gatehouse.close();
    await ctx?.close();
  });

  it('closes the app and rebuilds it on the same DATA_DIR and database: the file reads back byte for byte', async () => {
    const base = await listen(ctx);
    const user = await makeUser(ctx);
    const token = (await passwordGrant(ctx, user)).access_token;
    const bytes = randomBytes(MiB + 3);
    const up = await upload(base, token, [['file', new Blob([bytes], { type: 'image/png' }), 'pic.png']]);
    expect(up.status).toBe(201);
    const id = up.json.id as string;
    expect(ctx.config.files.dir).toBe(path.join(ctx.database.dataDir, 'files'));

    await ctx.app.close();
    await ctx.gatehouse.close();
    const gatehouse = await createGatehouse(ctx.config, { clock: ctx.clock, logger: pino({ level: 'silent' }) });
    const app = await buildApp(gatehouse);
    rebuilt = { app, gatehouse };
    const base2 = await listen({ ...ctx, app, gatehouse });

    // The access token issued before the restart still works (session and signing key are in the database).
    const token2 = token;
    const res = await get(base2, `/api/v1/files/${id}`, token2);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(sha256(res.bytes)).toBe(sha256(bytes));
    const meta = await get(base2, `/api/v1/files/${id}/meta`, token2);
    expect(meta.json).toMatchObject({ id, size_bytes: bytes.length, sha256: sha256(bytes), name: 'pic.png' });
  });
});
