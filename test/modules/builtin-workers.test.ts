/**
 * Built-in workers: a module's worker runs in worker threads of the server, claiming over HTTP
 * with a key the server mints for itself, and its keys are revoked when it stops.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tallyModule } from '../../examples/tally/index.js';
import { MODULES } from '../../src/modules/index.js';
import { BUILTIN_WORKER_EMAIL } from '../../src/shared/service-accounts.js';
import { makePrincipals } from '../access/access-fixtures.js';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, type TestContext } from '../helpers/harness.js';
import { listen } from '../files/files-helpers.js';
import { call, type Headers, JOBS_ENV } from '../jobs/job-fixtures.js';

/** Polls `check` until it returns a value (not undefined), or fails after `timeoutMs`. */
async function until<T>(check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.each(dialects)('built-in workers on %s', (dialect) => {
  let ctx: TestContext;
  let user: Headers;

  beforeAll(async () => {
    // Only the tally worker: the shipped modules' own workers are tested with their modules.
    ctx = await createTestContext(dialect, { env: { ...JOBS_ENV, BUILTIN_WORKER_THREADS: '2', BUILTIN_WORKERS: 'tally' }, modules: [...MODULES, tallyModule] });
    const base = await listen(ctx);
    user = (await makePrincipals(ctx, { role: 'user' })).jwt;
    await ctx.gatehouse.builtinWorkers.start(base);
  }, 120_000);
  afterAll(async () => ctx?.close());

  it('the module worker computes tallies in threads, through the worker protocol', async () => {
    expect(ctx.gatehouse.builtinWorkers.names).toEqual(['tally']);
    const created = await Promise.all(
      [[1, 2, 3], [0.5, 0.25], [-4, 4, 10]].map(async (numbers) => {
        const res = await call(ctx, 'POST', '/api/v1/tallies', user, { numbers });
        expect(res.statusCode, res.body).toBe(202);
        return res.json<{ id: string; job_id: string }>();
      }),
    );
    const results = await Promise.all(
      created.map((t) =>
        until(async () => {
          const body = (await call(ctx, 'GET', `/api/v1/tallies/${t.id}`, user)).json<{ status: string; result: { sum: number } | null }>();
          return body.status === 'pending' ? undefined : body;
        }),
      ),
    );
    // By hand: 6, 0.75, 10.
    expect(results.map((r) => [r.status, r.result?.sum])).toEqual([
      ['done', 6],
      ['done', 0.75],
      ['done', 10],
    ]);
    // A worker row per thread name, as remote workers get; the jobs went through claim → complete.
    const job = (await call(ctx, 'GET', `/api/v1/jobs/${created[0]!.job_id}`, user)).json<{ job: { state: string; attempt: number; worker_id: string } }>();
    expect(job.job).toMatchObject({ state: 'succeeded', attempt: 1 });
  });

  it('stopping ends the threads and revokes the keys it minted', async () => {
    await ctx.gatehouse.builtinWorkers.stop();
    const admin = (await makePrincipals(ctx, { role: 'admin' })).jwt;
    const users = (await call(ctx, 'GET', `/api/v1/users?q=${encodeURIComponent(BUILTIN_WORKER_EMAIL)}`, admin)).json<{ items: Array<{ id: string; role: string }> }>();
    expect(users.items).toHaveLength(1);
    expect(users.items[0]?.role).toBe('worker');
    const keys = (await call(ctx, 'GET', `/api/v1/api-keys?user_id=${users.items[0]!.id}&include_revoked=true`, admin)).json<{ items: Array<{ name: string; revoked_at: string | null }> }>();
    expect(keys.items.length).toBeGreaterThan(0);
    expect(keys.items.every((k) => k.revoked_at !== null && k.name.startsWith('builtin:'))).toBe(true);
  });
});

describe('BUILTIN_WORKERS', () => {
  it('none runs no built-in worker; an unknown name stops start-up naming it', async () => {
    const none = await createTestContext('sqlite', { env: { BUILTIN_WORKERS: 'none' }, modules: [tallyModule] });
    try {
      expect(none.gatehouse.builtinWorkers.names).toEqual([]);
    } finally {
      await none.close();
    }
    await expect(createTestContext('sqlite', { env: { BUILTIN_WORKERS: 'tally,nope' }, modules: [tallyModule] })).rejects.toThrow(/BUILTIN_WORKERS: no built-in worker called nope/);
  });
});
