/**
 * Files through jobs: a worker holding a job reads its input file and uploads outputs for it;
 * the job's owner reads the outputs; nobody else does; a worker that no longer holds the job
 * cannot upload for it; a checkpoint travels with a released job to the next claimer.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, type TestContext } from '../helpers/harness.js';
import { expectProblemResult, get, listen, upload } from '../files/files-helpers.js';
import { call, type Cast, claim, createQueue, getJob, JOBS_ENV, makeCast, workerCall } from './job-fixtures.js';

const tokenOf = (headers: Record<string, string>) => headers.authorization?.replace(/^Bearer /, '');
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe.each(dialects)('job files (%s)', (dialect) => {
  let ctx: TestContext;
  let cast: Cast;
  let base: string;

  beforeAll(async () => {
    ctx = await createTestContext(dialect, { env: JOBS_ENV });
    cast = await makeCast(ctx);
    base = await listen(ctx);
  });
  afterAll(async () => {
    await ctx?.close();
  });

  it('lets the holding worker read inputs and upload outputs that the owner then reads', async () => {
    await createQueue(ctx, cast.admin, { name: `files-${dialect}` });
    const input = Buffer.from('x,y\n1,2\n3,4\n');
    const uploaded = await upload(base, tokenOf(cast.owner), [['purpose', 'input'], ['file', new Blob([input]), 'data.csv']]);
    expect(uploaded.status, uploaded.bytes.toString()).toBe(201);
    const inputId = uploaded.json.id as string;

    const enq = await call(ctx, 'POST', `/api/v1/queues/files-${dialect}/jobs`, cast.owner, { kind: 'sum', input_files: [inputId] });
    expect(enq.statusCode, enq.body).toBe(201);
    const jobId = enq.json().id as string;
    // Someone else's file cannot be attached.
    const foreign = await call(ctx, 'POST', `/api/v1/queues/files-${dialect}/jobs`, cast.other, { kind: 'sum', input_files: [inputId] });
    expect(foreign.statusCode).toBe(400);

    const worker = await cast.newWorker();
    const bystander = await cast.newWorker();
    // Before the claim the worker holds nothing that lists the file.
    expectProblemResult(await get(base, `/api/v1/files/${inputId}`, tokenOf(worker.headers)), 404, 'not_found');
    expect((await claim(ctx, worker.headers, { queues: [`files-${dialect}`] })).json().job.input_files).toEqual([inputId]);
    const read = await get(base, `/api/v1/files/${inputId}`, tokenOf(worker.headers));
    expect(read.status).toBe(200);
    expect(read.bytes.equals(input)).toBe(true);
    expectProblemResult(await get(base, `/api/v1/files/${inputId}`, tokenOf(bystander.headers)), 404, 'not_found');

    const output = Buffer.from(JSON.stringify({ sum: [4, 6] }));
    const out = await upload(base, tokenOf(worker.headers), [
      ['purpose', 'output'],
      ['job_id', jobId],
      ['attempt', '1'],
      ['file', new Blob([output], { type: 'application/json' }), 'result.json'],
    ]);
    expect(out.status, out.bytes.toString()).toBe(201);
    expect(out.json).toMatchObject({ job_id: jobId, purpose: 'output', sha256: sha256(output) });
    // A worker that does not hold the job cannot upload for it.
    const refused = await upload(base, tokenOf(bystander.headers), [['purpose', 'output'], ['job_id', jobId], ['attempt', '1'], ['file', new Blob([output]), 'x']]);
    expect(refused.status).toBe(409);

    const done = await workerCall(ctx, worker.headers, jobId, 'complete', { attempt: 1, result: { ok: true } });
    expect(done.statusCode, done.body).toBe(200);
    expect(done.json().job.output_files).toEqual([out.json.id]);
    // The owner reads the output; another user cannot; the worker no longer can once finished.
    const mine = await get(base, `/api/v1/files/${out.json.id as string}`, tokenOf(cast.owner));
    expect(mine.status).toBe(200);
    expect(sha256(mine.bytes)).toBe(sha256(output));
    expectProblemResult(await get(base, `/api/v1/files/${out.json.id as string}`, tokenOf(cast.other)), 404, 'not_found');
    expectProblemResult(await get(base, `/api/v1/files/${inputId}`, tokenOf(worker.headers)), 404, 'not_found');
  });

  it('hands a checkpoint from a released job to the next claimer', async () => {
    await createQueue(ctx, cast.admin, { name: `ckpt-${dialect}` });
    const enq = await call(ctx, 'POST', `/api/v1/queues/ckpt-${dialect}/jobs`, cast.owner, { kind: 'long' });
    const jobId = enq.json().id as string;
    const first = await cast.newWorker();
    const second = await cast.newWorker();
    await claim(ctx, first.headers, { queues: [`ckpt-${dialect}`] });
    const state = Buffer.from('step=41');
    const ckpt = await upload(base, tokenOf(first.headers), [['purpose', 'checkpoint'], ['job_id', jobId], ['attempt', '1'], ['file', new Blob([state]), 'state.bin']]);
    expect(ckpt.status, ckpt.bytes.toString()).toBe(201);
    const released = await workerCall(ctx, first.headers, jobId, 'release', { attempt: 1, checkpoint_file_id: ckpt.json.id });
    expect(released.json().job).toMatchObject({ state: 'queued', checkpoint_file_id: ckpt.json.id });

    const again = await claim(ctx, second.headers, { queues: [`ckpt-${dialect}`] });
    expect(again.json()).toMatchObject({ attempt: 2, job: { checkpoint_file_id: ckpt.json.id } });
    const read = await get(base, `/api/v1/files/${ckpt.json.id as string}`, tokenOf(second.headers));
    expect(read.bytes.toString()).toBe('step=41');
    expect((await getJob(ctx, cast.owner, jobId)).job.state).toBe('running');
  });
});
