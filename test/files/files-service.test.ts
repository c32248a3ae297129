/**
 * FileService methods the job system builds on, on a real database of each dialect:
 * input files named when enqueueing, output uploads recorded per job, and the JobFileAccess
 * seam — reads through a job, and uploads for a job checked before and after the bytes arrive.
 * The JobFileAccess here is a stand-in for the JobService (whose own tests cover the real one);
 * the database and the storage are real.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/auth/auth.service.js';
import type { FileRow } from '../../src/db/schema.js';
import { listJobFileIds } from '../../src/files/files.repo.js';
import { FileService, type JobFileAccess } from '../../src/files/files.service.js';
import { LocalFileStorage } from '../../src/files/storage.js';
import { AppError, isAppError } from '../../src/shared/errors.js';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, makeUser, passwordGrant, type TestContext } from '../helpers/harness.js';
import { filesUnder } from './files-helpers.js';

const JOB_A = '0190a4c6-0000-7000-8000-00000000000a';
const JOB_B = '0190a4c6-0000-7000-8000-00000000000b';

describe.each(dialects)('FileService (%s)', (dialect) => {
  let ctx: TestContext;
  let owner: Principal;
  let other: Principal;
  let admin: Principal;
  let storageDir: string;

  async function principalOf(role: 'user' | 'admin' = 'user'): Promise<Principal> {
    const user = await makeUser(ctx, { role });
    const { access_token } = await passwordGrant(ctx, user);
    const principal = await ctx.gatehouse.auth.authenticateBearer(access_token);
    if (!principal) throw new Error('no principal');
    return principal;
  }

  /** A FileService on the context's database with its own storage directory and job access. */
  function serviceWith(jobAccess: JobFileAccess): FileService {
    return new FileService({
      db: ctx.gatehouse.database.db,
      clock: ctx.clock,
      storage: new LocalFileStorage(storageDir),
      maxBytes: 1024 * 1024,
      jobAccess,
    });
  }

  const bytes = (text: string) => ({ stream: Readable.from([Buffer.from(text)]), filename: `${text}.txt`, contentType: 'text/plain' });

  beforeAll(async () => {
    ctx = await createTestContext(dialect, { env: { RATE_LIMIT_IP_PER_MINUTE: '100000' } });
    owner = await principalOf();
    other = await principalOf();
    admin = await principalOf('admin');
    storageDir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-files-svc-'));
  });
  afterAll(async () => {
    await ctx?.close();
    rmSync(storageDir, { recursive: true, force: true });
  });

  it('input files of a job must exist and be the enqueuer\'s own; every unknown or foreign id is named', async () => {
    const files = ctx.gatehouse.files;
    const mine = await files.upload(owner, {}, bytes('mine'));
    const theirs = await files.upload(other, {}, bytes('theirs'));
    const missing = '0190a4c6-0000-7000-8000-0000000000ff';
    const system = { actorId: null, ip: null, userAgent: null };
    await ctx.gatehouse.queues.create('inputs', {}, system);
    const as = (p: Principal) => ({ actorId: p.user.id, ip: null, userAgent: null, permissions: p.permissions });

    await ctx.gatehouse.jobs.enqueue('inputs', { kind: 'k', input_files: [] }, as(owner));
    await ctx.gatehouse.jobs.enqueue('inputs', { kind: 'k', input_files: [mine.id, mine.id] }, as(owner));
    const error = await ctx.gatehouse.jobs
      .enqueue('inputs', { kind: 'k', input_files: [mine.id, theirs.id, missing] }, as(owner))
      .catch((e: unknown) => e);
    expect(isAppError(error, 'validation_failed')).toBe(true);
    const appError = error as AppError;
    expect(appError.status).toBe(400);
    expect(appError.errors).toHaveLength(2);
    expect(appError.detail).toContain(theirs.id);
    expect(appError.detail).toContain(missing);
    expect(appError.detail).not.toContain(mine.id);
    // files:manage sees everything (but a missing id stays missing).
    await ctx.gatehouse.jobs.enqueue('inputs', { kind: 'k', input_files: [mine.id, theirs.id] }, as(admin));
    await expect(ctx.gatehouse.jobs.enqueue('inputs', { kind: 'k', input_files: [missing] }, as(admin))).rejects.toThrow(AppError);
  });

  it('output uploads are recorded for their job oldest first, without checkpoints or other jobs\' files', async () => {
    const holds: Array<[string, number]> = [];
    const service = serviceWith({
      mayReadThroughJob: async () => false,
      assertHoldsJob: async (_p, jobId, attempt) => {
        holds.push([jobId, attempt]);
      },
    });
    const first = await service.upload(owner, { purpose: 'output', jobId: JOB_A, attempt: 2 }, bytes('first'));
    ctx.clock.advance(1);
    await service.upload(owner, { purpose: 'checkpoint', jobId: JOB_A, attempt: 2 }, bytes('ckpt'));
    await service.upload(owner, { purpose: 'output', jobId: JOB_B, attempt: 1 }, bytes('elsewhere'));
    ctx.clock.advance(1);
    const second = await service.upload(owner, { purpose: 'output', jobId: JOB_A, attempt: 2 }, bytes('second'));
    expect(first).toMatchObject({ purpose: 'output', job_id: JOB_A });
    expect(await listJobFileIds(ctx.gatehouse.database.db, JOB_A, 'output')).toEqual([first.id, second.id]);
    expect(await listJobFileIds(ctx.gatehouse.database.db, '0190a4c6-0000-7000-8000-000000000000', 'output')).toEqual([]);
    // Checked before the bytes are read and again after they are stored.
    expect(holds.filter(([job]) => job === JOB_A)).toHaveLength(6);
  });

  it('an upload whose lease is lost while the bytes arrive keeps nothing and answers lease_lost', async () => {
    let calls = 0;
    const service = serviceWith({
      mayReadThroughJob: async () => false,
      assertHoldsJob: async () => {
        calls += 1;
        if (calls > 1) throw new AppError('lease_lost');
      },
    });
    const before = filesUnder(storageDir);
    const error = await service.upload(owner, { purpose: 'output', jobId: JOB_B, attempt: 7 }, bytes('late')).catch((e: unknown) => e);
    expect(isAppError(error, 'lease_lost')).toBe(true);
    expect(filesUnder(storageDir)).toEqual(before);
    expect(await listJobFileIds(ctx.gatehouse.database.db, JOB_B, 'output')).toHaveLength(1); // only the earlier test's file
  });

  it('job purposes need the job access to agree; user purposes refuse a job', async () => {
    const refusing = serviceWith({
      mayReadThroughJob: async () => false,
      assertHoldsJob: async () => {
        throw new AppError('forbidden');
      },
    });
    await expect(refusing.upload(owner, { purpose: 'checkpoint', jobId: JOB_A, attempt: 1 }, bytes('x'))).rejects.toMatchObject({ code: 'forbidden' });
    await expect(refusing.upload(owner, { purpose: 'output' }, bytes('x'))).rejects.toMatchObject({ code: 'validation_failed' });
    await expect(refusing.upload(owner, { purpose: 'attachment', jobId: JOB_A }, bytes('x'))).rejects.toMatchObject({ code: 'validation_failed' });
  });

  it('reads through a job are granted only when the JobFileAccess says so, and it sees the file row', async () => {
    const seen: Array<{ file: string; job: string | null; principal: string }> = [];
    const service = serviceWith({
      mayReadThroughJob: async (file: FileRow, principal: Principal) => {
        seen.push({ file: file.id, job: file.job_id, principal: principal.user.id });
        return file.job_id === JOB_A;
      },
      assertHoldsJob: async () => undefined,
    });
    const output = await service.upload(owner, { purpose: 'output', jobId: JOB_A, attempt: 1 }, bytes('shared'));
    const privateFile = await service.upload(owner, {}, bytes('private'));
    expect((await service.meta(output.id, other)).id).toBe(output.id);
    await expect(service.meta(privateFile.id, other)).rejects.toMatchObject({ code: 'not_found' });
    expect(seen).toEqual([
      { file: output.id, job: JOB_A, principal: other.user.id },
      { file: privateFile.id, job: null, principal: other.user.id },
    ]);
    // The owner and files:manage never need to ask.
    seen.length = 0;
    await service.meta(privateFile.id, owner);
    await service.meta(privateFile.id, admin);
    expect(seen).toEqual([]);
  });
});
