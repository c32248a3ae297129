/**
 * `JobService.enqueueIn`: jobs enqueued inside a caller's write transaction commit with the
 * caller's own rows or not at all, and wake waiting workers only after the commit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../src/audit/audit.service.js';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, type TestContext } from '../helpers/harness.js';
import { makeQueue } from '../realtime/fixtures.js';

describe.each(dialects)('enqueue inside a caller transaction (%s)', (dialect) => {
  let ctx: TestContext;
  let queue: string;

  beforeAll(async () => {
    ctx = await createTestContext(dialect);
    queue = await makeQueue(ctx.gatehouse);
  }, 120_000);
  afterAll(async () => ctx?.close());

  const countJobs = async (parentId: string) =>
    Number((await ctx.gatehouse.database.db.selectFrom('job').select((eb) => eb.fn.countAll().as('n')).where('parent_id', '=', parentId).executeTakeFirstOrThrow()).n);

  it('commits the jobs with the caller and announces work only after commit', async () => {
    const woken: string[] = [];
    const stop = ctx.gatehouse.hub.onWork((q) => woken.push(q));
    try {
      const jobs = await ctx.gatehouse.database.write(async (tx) => {
        const made = await ctx.gatehouse.jobs.enqueueIn(tx, queue, [
          { kind: 'a', parent_type: 'thing', parent_id: 'p-commit' },
          { kind: 'b', parent_type: 'thing', parent_id: 'p-commit', idempotency_key: 'k1' },
          { kind: 'b', parent_type: 'thing', parent_id: 'p-commit', idempotency_key: 'k1' },
        ], SYSTEM_ACTOR);
        // Visible inside the transaction, not yet announced.
        expect(Number((await tx.db.selectFrom('job').select((eb) => eb.fn.countAll().as('n')).where('parent_id', '=', 'p-commit').executeTakeFirstOrThrow()).n)).toBe(2);
        expect(woken).toEqual([]);
        return made;
      });
      expect(jobs.map((j) => j.kind)).toEqual(['a', 'b', 'b']);
      expect(jobs[1]!.id).toBe(jobs[2]!.id);
      expect(jobs.every((j) => j.state === 'queued')).toBe(true);
      expect(await countJobs('p-commit')).toBe(2);
      expect(woken).toEqual([queue]);
    } finally {
      stop();
    }
  });

  it('leaves nothing behind when the caller rolls back', async () => {
    await expect(
      ctx.gatehouse.database.write(async (tx) => {
        await ctx.gatehouse.jobs.enqueueIn(tx, queue, [{ kind: 'a', parent_type: 'thing', parent_id: 'p-rollback' }], SYSTEM_ACTOR);
        throw new Error('domain write failed');
      }),
    ).rejects.toThrow('domain write failed');
    expect(await countJobs('p-rollback')).toBe(0);
  });

  it('refuses an unknown queue and a missing enqueue permission with problems', async () => {
    await expect(ctx.gatehouse.database.write((tx) => ctx.gatehouse.jobs.enqueueIn(tx, 'no-such-queue', [{ kind: 'a' }], SYSTEM_ACTOR))).rejects.toMatchObject({ code: 'not_found' });
    await expect(
      ctx.gatehouse.database.write((tx) => ctx.gatehouse.jobs.enqueueIn(tx, queue, [{ kind: 'a' }], { ...SYSTEM_ACTOR, permissions: new Set<string>() })),
    ).rejects.toMatchObject({ code: 'forbidden' });
  });
});
