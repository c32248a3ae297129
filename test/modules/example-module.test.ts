/**
 * The example module (examples/tally) through the module contract, on both dialects: its
 * migrations, table, permission, error code, config section, routes, CLI command, and above all
 * its job hook sharing the transaction that records a job's outcome.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { tallyModule } from '../../examples/tally/index.js';
import { TALLY_KIND } from '../../examples/tally/tally.service.js';
import { main } from '../../src/cli/main.js';
import { pendingMigrations } from '../../src/db/migrate.js';
import { defineModule } from '../../src/modules/contract.js';
import { MODULES } from '../../src/modules/index.js';
import { makePrincipals } from '../access/access-fixtures.js';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, type TestContext } from '../helpers/harness.js';
import { call, claim, createQueue, enqueue, type Headers, JOBS_ENV, makeCast, workerCall } from '../jobs/job-fixtures.js';

/** A second module whose hook on tallies fails while `failNext` is set (fault injection). */
const faults = { failNext: false, calls: 0 };
const faultyModule = defineModule<typeof faults>({
  name: 'faulty-hook',
  description: 'test: a job hook that throws on demand',
  create: () => faults,
  jobHooks: (state) => [
    {
      name: 'faulty',
      parentTypes: ['tally'],
      async handle() {
        state.calls++;
        if (state.failNext) {
          state.failNext = false;
          throw new Error('injected hook failure');
        }
      },
    },
  ],
});

interface TallyJson {
  id: string;
  status: string;
  numbers: number[];
  result: { sum: number; count: number } | null;
  job_id: string;
}

describe.each(dialects)('example module (tally) on %s', (dialect) => {
  let ctx: TestContext;
  let user: Headers;
  let userEmail: string;
  let worker: Headers;

  beforeAll(async () => {
    ctx = await createTestContext(dialect, { env: { ...JOBS_ENV, TALLY_MAX_NUMBERS: '5' }, modules: [...MODULES, tallyModule, faultyModule] });
    const owner = await makePrincipals(ctx, { role: 'user' });
    user = owner.jwt;
    userEmail = owner.user.email;
    worker = (await makeCast(ctx).then((cast) => cast.newWorker('tally-worker'))).headers;
  }, 120_000);
  afterAll(async () => ctx?.close());

  async function newTally(numbers: number[]): Promise<TallyJson> {
    const res = await call(ctx, 'POST', '/api/v1/tallies', user, { numbers });
    expect(res.statusCode, res.body).toBe(202);
    return res.json<TallyJson>();
  }

  async function getTally(id: string): Promise<TallyJson> {
    const res = await call(ctx, 'GET', `/api/v1/tallies/${id}`, user);
    expect(res.statusCode, res.body).toBe(200);
    return res.json<TallyJson>();
  }

  /** Claims the tally's job as the worker. @returns its attempt and payload. */
  async function claimJob(jobId: string): Promise<{ attempt: number; payload: { numbers: number[] } }> {
    const res = await claim(ctx, worker, { queues: ['tally'], wait_s: 0 });
    expect(res.statusCode, res.body).toBe(200);
    const { job, attempt } = res.json<{ job: { id: string; kind: string; payload: { numbers: number[] } }; attempt: number }>();
    expect(job.id).toBe(jobId);
    expect(job.kind).toBe(TALLY_KIND);
    return { attempt, payload: job.payload };
  }

  async function jobState(jobId: string): Promise<{ state: string; events: Array<{ type: string; data: { state?: string } }> }> {
    const res = await call(ctx, 'GET', `/api/v1/jobs/${jobId}`, user);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json<{ job: { state: string }; events: Array<{ type: string; data: { state?: string } }> }>();
    return { state: body.job.state, events: body.events };
  }

  it('applies its migrations in a table of its own', async () => {
    expect(await pendingMigrations(ctx.gatehouse.database.db, dialect, [tallyModule])).toEqual([]);
    const rows = await sql<{ name: string }>`select name from gatehouse_migrations_tally`.execute(ctx.gatehouse.database.db);
    expect(rows.rows.map((r) => r.name)).toEqual(['0001-tally']);
  });

  it('a worker computes the tally and the hook records it with the job', async () => {
    const tally = await newTally([1, 2, 3.5]);
    expect(tally.status).toBe('pending');
    const { attempt, payload } = await claimJob(tally.job_id);
    expect(payload.numbers).toEqual([1, 2, 3.5]);
    const sum = payload.numbers.reduce((a, b) => a + b, 0);
    const done = await workerCall(ctx, worker, tally.job_id, 'complete', { attempt, result: { sum, count: payload.numbers.length } });
    expect(done.statusCode, done.body).toBe(200);
    // 1 + 2 + 3.5, by hand.
    expect(await getTally(tally.id)).toMatchObject({ status: 'done', result: { sum: 6.5, count: 3 } });
  });

  it('a hook that throws leaves the job and the domain row as they were; the retried complete then succeeds once', async () => {
    const tally = await newTally([4, 5]);
    const { attempt } = await claimJob(tally.job_id);
    faults.failNext = true;
    const callsBefore = faults.calls;
    const failed = await workerCall(ctx, worker, tally.job_id, 'complete', { attempt, result: { sum: 9, count: 2 } });
    expect(failed.statusCode, failed.body).toBe(503);
    expect(failed.headers['content-type']).toContain('application/problem+json');
    expect(failed.json()).toMatchObject({ code: 'job_hook_failed' });
    expect(faults.calls).toBe(callsBefore + 1);
    // The tally hook ran before the faulty one in the same transaction: its write was rolled back too.
    expect(await getTally(tally.id)).toMatchObject({ status: 'pending', result: null });
    const during = await jobState(tally.job_id);
    expect(during.state).toBe('running');
    expect(during.events.filter((e) => e.data.state === 'succeeded')).toHaveLength(0);

    const retried = await workerCall(ctx, worker, tally.job_id, 'complete', { attempt, result: { sum: 9, count: 2 } });
    expect(retried.statusCode, retried.body).toBe(200);
    expect(await getTally(tally.id)).toMatchObject({ status: 'done', result: { sum: 9, count: 2 } });
    const after = await jobState(tally.job_id);
    expect(after.state).toBe('succeeded');
    expect(after.events.filter((e) => e.data.state === 'succeeded')).toHaveLength(1);
    // A third complete finds the job finished: no second outcome, no second hook run.
    const again = await workerCall(ctx, worker, tally.job_id, 'complete', { attempt, result: { sum: 9, count: 2 } });
    expect(again.statusCode).toBe(409);
    expect(faults.calls).toBe(callsBefore + 2);
  });

  it('a failing hook after a notification was queued leaves no email behind', async () => {
    const tally = await newTally([8]);
    const { attempt } = await claimJob(tally.job_id);
    faults.failNext = true;
    const refused = await workerCall(ctx, worker, tally.job_id, 'fail', { attempt, error: { message: 'boom' }, retryable: false });
    expect(refused.statusCode, refused.body).toBe(503);
    await ctx.flushMail();
    expect(ctx.smtp.messages.filter((m) => m.text.includes(tally.id))).toHaveLength(0);
    const failed = await workerCall(ctx, worker, tally.job_id, 'fail', { attempt, error: { message: 'boom' }, retryable: false });
    expect(failed.statusCode, failed.body).toBe(200);
    await ctx.flushMail();
    await ctx.smtp.waitFor((m) => m.text.includes(tally.id));
    expect(ctx.smtp.messages.filter((m) => m.text.includes(tally.id))).toHaveLength(1);
  });

  it('a result the hook cannot accept is refused as a whole (503), the job stays held', async () => {
    const tally = await newTally([7]);
    const { attempt } = await claimJob(tally.job_id);
    const bad = await workerCall(ctx, worker, tally.job_id, 'complete', { attempt, result: { total: 7 } });
    expect(bad.statusCode, bad.body).toBe(503);
    expect((await jobState(tally.job_id)).state).toBe('running');
    const good = await workerCall(ctx, worker, tally.job_id, 'complete', { attempt, result: { sum: 7, count: 1 } });
    expect(good.statusCode, good.body).toBe(200);
    expect((await getTally(tally.id)).status).toBe('done');
  });

  it('a failed job and a cancelled job fail their tally in the same transaction', async () => {
    const failing = await newTally([1]);
    const { attempt } = await claimJob(failing.job_id);
    const res = await workerCall(ctx, worker, failing.job_id, 'fail', { attempt, error: { message: 'no' }, retryable: false });
    expect(res.statusCode, res.body).toBe(200);
    expect((await getTally(failing.id)).status).toBe('failed');
    // The module's notification was queued by the same transaction; the owner gets it.
    await ctx.flushMail();
    const mail = await ctx.smtp.waitFor((m) => m.to === userEmail && m.text.includes(failing.id));
    expect(mail.subject).toMatch(/^Your tally could not be computed/);
    expect(mail.text).toContain('ended failed');
    expect(mail.html).toContain(`/api/v1/tallies/${failing.id}`);

    const cancelled = await newTally([2]);
    const cancel = await call(ctx, 'POST', `/api/v1/jobs/${cancelled.job_id}/cancel`, user);
    expect(cancel.statusCode, cancel.body).toBe(200);
    expect((await getTally(cancelled.id)).status).toBe('failed');
    await ctx.flushMail();
    expect((await ctx.smtp.waitFor((m) => m.to === userEmail && m.text.includes(cancelled.id))).text).toContain('ended cancelled');
  });

  it('complete-batch runs the hooks of every item in its one transaction', async () => {
    const a = await newTally([10, 20]);
    const first = await claimJob(a.job_id);
    const batch = await call(ctx, 'POST', '/api/v1/worker/complete-batch', worker, { items: [{ id: a.job_id, attempt: first.attempt, result: { sum: 30, count: 2 } }] });
    expect(batch.statusCode, batch.body).toBe(200);
    expect((await getTally(a.id)).result).toEqual({ sum: 30, count: 2 });
  });

  it('a job no hook selects completes without the hooks, alone and in a batch with a tally job, whose hooks still run', async () => {
    const admin = (await makePrincipals(ctx, { role: 'admin' })).jwt;
    const plainQueue = `plain-${dialect}`;
    await createQueue(ctx, admin, { name: plainQueue, worker_concurrency: 2 });
    const claimPlain = async () => {
      const res = await claim(ctx, worker, { queues: [plainQueue], wait_s: 0 });
      expect(res.statusCode, res.body).toBe(200);
      return res.json<{ job: { id: string }; attempt: number }>();
    };
    const stateOf = async (id: string) => (await call(ctx, 'GET', `/api/v1/jobs/${id}`, admin)).json<{ job: { state: string; result: unknown } }>().job;

    // A batch mixing a job the hooks select with one they do not: one outcome transaction for both.
    const tally = await newTally([4, 5]);
    const held = await claimJob(tally.job_id);
    await enqueue(ctx, admin, plainQueue, { kind: 'plain' });
    const plain = await claimPlain();
    const calls = faults.calls;
    const batch = await call(ctx, 'POST', '/api/v1/worker/complete-batch', worker, {
      items: [
        { id: tally.job_id, attempt: held.attempt, result: { sum: 9, count: 2 } },
        { id: plain.job.id, attempt: plain.attempt, result: { plain: 1 } },
      ],
    });
    expect(batch.statusCode, batch.body).toBe(200);
    expect(batch.json<{ results: Array<{ ok: boolean }> }>().results.map((r) => r.ok)).toEqual([true, true]);
    expect((await getTally(tally.id)).result).toEqual({ sum: 9, count: 2 });
    expect(faults.calls).toBe(calls + 1);
    expect(await stateOf(plain.job.id)).toMatchObject({ state: 'succeeded', result: { plain: 1 } });

    // A job no hook selects, alone: completed (on PostgreSQL in one statement), no hook runs; a second complete is fenced out.
    await enqueue(ctx, admin, plainQueue, { kind: 'plain' });
    const alone = await claimPlain();
    const done = await workerCall(ctx, worker, alone.job.id, 'complete', { attempt: alone.attempt, result: { plain: 2 } });
    expect(done.statusCode, done.body).toBe(200);
    expect(faults.calls).toBe(calls + 1);
    expect(await stateOf(alone.job.id)).toMatchObject({ state: 'succeeded', result: { plain: 2 } });
    const again = await workerCall(ctx, worker, alone.job.id, 'complete', { attempt: alone.attempt, result: { plain: 3 } });
    expect(again.json()).toMatchObject({ code: 'lease_lost' });
  });

  it('a lease swept to dead fails the tally; a failing hook leaves it for the next sweep', async () => {
    const admin = (await makePrincipals(ctx, { role: 'admin' })).jwt;
    const patch = await call(ctx, 'PATCH', '/api/v1/queues/tally', admin, { max_lease_expiries: 1 });
    expect(patch.statusCode, patch.body).toBe(200);
    const tally = await newTally([5]);
    await claimJob(tally.job_id);
    ctx.clock.advance(61);
    faults.failNext = true;
    expect(await ctx.gatehouse.workerProtocol.sweep()).toBe(0);
    expect((await jobState(tally.job_id)).state).toBe('running');
    expect((await getTally(tally.id)).status).toBe('pending');
    expect(await ctx.gatehouse.workerProtocol.sweep()).toBe(1);
    expect((await jobState(tally.job_id)).state).toBe('dead');
    expect((await getTally(tally.id)).status).toBe('failed');
  });

  it('its config section, error code and permission apply', async () => {
    const tooLong = await call(ctx, 'POST', '/api/v1/tallies', user, { numbers: [1, 2, 3, 4, 5, 6] });
    expect(tooLong.statusCode).toBe(422);
    expect(tooLong.json()).toMatchObject({ code: 'tally_too_long', type: '/problems/tally_too_long' });
    expect(tooLong.json<{ detail: string }>().detail).toContain('At most 5');
    const page = await ctx.request({ url: '/problems/tally_too_long' });
    expect(page.statusCode).toBe(200);
    // A key scoped to account:self cannot use a module permission its scopes leave out.
    const narrow = await makePrincipals(ctx, { role: 'user', scopes: ['account:self'] });
    expect((await call(ctx, 'POST', '/api/v1/tallies', narrow.apiKey, { numbers: [1] })).statusCode).toBe(403);
    // Another user's tally is not found.
    const mine = await newTally([3]);
    expect((await call(ctx, 'GET', `/api/v1/tallies/${mine.id}`, narrow.jwt)).statusCode).toBe(404);
    // The routes are in the OpenAPI document.
    const openapi = (await ctx.request({ url: '/openapi.json' })).json<{ paths: Record<string, unknown> }>();
    expect(Object.keys(openapi.paths)).toEqual(expect.arrayContaining(['/api/v1/tallies', '/api/v1/tallies/{id}']));
  });

  it('its CLI command runs against the same database', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, { DATABASE_URL: ctx.config.database.dialect === 'sqlite' ? `sqlite:${ctx.config.database.url}` : ctx.config.database.url, DATA_DIR: ctx.config.dataDir, LOG_LEVEL: 'silent' });
    const lines: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((line: unknown) => void lines.push(String(line)));
    try {
      expect(await main(['node', 'gatehouse', 'tallies', '--json'], { modules: [...MODULES, tallyModule] })).toBe(0);
    } finally {
      log.mockRestore();
      process.env = saved;
    }
    const listed = lines.map((l) => JSON.parse(l) as TallyJson);
    expect(listed.length, lines.join('\n')).toBeGreaterThan(0);
    expect(listed.length).toBeGreaterThanOrEqual(5);
    expect(listed.some((t) => t.status === 'done' && t.result?.sum === 6.5)).toBe(true);
  });

  it('its scheduled task runs on the platform scheduler', async () => {
    const listed = await ctx.gatehouse.scheduler.list();
    expect(listed.find((t) => t.task === 'tally.prune')).toMatchObject({ schedule: '40 3 * * *', enabled: true });
    const settled = (await ctx.gatehouse.moduleServices<{ list(o: null): Promise<TallyJson[]> }>('tally').list(null)).filter((t) => t.status !== 'pending');
    expect(settled.length).toBeGreaterThan(0);
    // Nothing is old enough yet; 31 days on (TALLY_RETENTION_DAYS defaults to 30) every settled tally goes.
    expect((await ctx.gatehouse.scheduler.runNow('tally.prune')).detail).toEqual({ tallies_deleted: 0 });
    ctx.clock.advance(31 * 86_400);
    expect((await ctx.gatehouse.scheduler.runNow('tally.prune')).detail).toEqual({ tallies_deleted: settled.length });
    ctx.clock.advance(-31 * 86_400);
  });
});

describe('module registry', () => {
  it('refuses a bad module config with the variable named, before opening anything', async () => {
    await expect(createTestContext('sqlite', { env: { TALLY_MAX_NUMBERS: 'lots' }, modules: [tallyModule] })).rejects.toThrow(/TALLY_MAX_NUMBERS/);
  });

  it('refuses a module task schedule that is not cron, naming its variable', async () => {
    await expect(createTestContext('sqlite', { env: { SCHEDULE_TALLY_PRUNE: 'sometimes' }, modules: [tallyModule] })).rejects.toThrow(/SCHEDULE_TALLY_PRUNE/);
  });

  it('refuses two modules claiming one permission', async () => {
    const twin = defineModule({ name: 'twin', description: 'test', permissions: { 'tallies:write': { description: 'again' } }, create: () => undefined });
    await expect(createTestContext('sqlite', { modules: [tallyModule, twin] })).rejects.toThrow(/tallies:write is already declared by tally/);
  });
});

