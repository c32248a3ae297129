/**
 * A module's file-access rule (the `fileAccess` member of the module contract): files the platform
 * would hide (not the reader's, no `files:manage`, no job) become readable where the module's rule
 * says so, and only there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileRow } from '../../src/db/schema.js';
import { defineModule } from '../../src/modules/contract.js';
import { MODULES } from '../../src/modules/index.js';
import { makePrincipals } from '../access/access-fixtures.js';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, type TestContext } from '../helpers/harness.js';
import { expectProblemResult, get, listen, upload } from '../files/files-helpers.js';
import { JOBS_ENV } from '../jobs/job-fixtures.js';

/** `file id → user ids` the module shares the file with (its own state; a real module keeps a table). */
type Shares = Map<string, Set<string>>;

const sharingModule = defineModule<Shares>({
  name: 'sharing',
  description: 'test: share a file with named users',
  create: () => new Map(),
  fileAccess: (shares) => [
    {
      name: 'sharing.shared-with',
      mayRead: async (file: FileRow, principal) => shares.get(file.id)?.has(principal.user.id) ?? false,
    },
  ],
});

describe.each(dialects)('module file-access rules on %s', (dialect) => {
  let ctx: TestContext;
  let base: string;

  beforeAll(async () => {
    ctx = await createTestContext(dialect, { env: JOBS_ENV, modules: [...MODULES, sharingModule] });
    base = await listen(ctx);
  }, 120_000);
  afterAll(async () => ctx?.close());

  it('a rule grants what it says and nothing else', async () => {
    const tokenOf = (headers: Record<string, string>) => headers.authorization!.slice('Bearer '.length);
    const alice = tokenOf((await makePrincipals(ctx, { role: 'user' })).jwt);
    const bobPrincipals = await makePrincipals(ctx, { role: 'user' });
    const bob = tokenOf(bobPrincipals.jwt);
    const carol = tokenOf((await makePrincipals(ctx, { role: 'user' })).jwt);
    const uploaded = await upload(base, alice, [['file', new Blob(['shared bytes']), 'notes.txt']]);
    expect(uploaded.status, uploaded.bytes.toString()).toBe(201);
    const id = uploaded.json.id as string;

    expectProblemResult(await get(base, `/api/v1/files/${id}`, bob), 404, 'not_found');
    ctx.gatehouse.moduleServices<Shares>('sharing').set(id, new Set([bobPrincipals.user.id]));
    const read = await get(base, `/api/v1/files/${id}`, bob);
    expect(read.status).toBe(200);
    expect(read.bytes.toString()).toBe('shared bytes');
    expect((await get(base, `/api/v1/files/${id}/meta`, bob)).status).toBe(200);
    expectProblemResult(await get(base, `/api/v1/files/${id}`, carol), 404, 'not_found');
  });
});
