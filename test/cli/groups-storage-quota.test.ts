/**
 * `gatehouse groups create|update --storage-quota` through the real binary (both dialects): a
 * group's `storage_quota_bytes` is set, shown and reset to the default.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { dialects } from '../helpers/dialects.js';
import { killAllChildren } from '../helpers/server-process.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { cliFor, expectExit } from './cli-helpers.js';

afterAll(killAllChildren);

// Each step spawns the real binary (about a second each, migrations included).
vi.setConfig({ testTimeout: 120_000 });

describe.concurrent.each(dialects)('gatehouse groups --storage-quota (%s)', (dialect) => {
  let database: TestDatabase;
  let cli: ReturnType<typeof cliFor>;
  beforeAll(async () => {
    database = await createTestDatabase(dialect);
    cli = cliFor(database);
  }, 120_000);
  afterAll(async () => {
    await database?.drop();
  });

  it('sets, changes and resets a group\'s storage quota', async () => {
    const created = await cli(['groups', 'create', 'uploaders', '--storage-quota', '5000000', '--json']);
    expectExit(created, 0);
    expect(JSON.parse(created.stdout)).toMatchObject({ name: 'uploaders', storage_quota_bytes: 5_000_000 });

    const unlimited = await cli(['groups', 'update', 'uploaders', '--storage-quota', '0', '--json']);
    expectExit(unlimited, 0);
    expect(JSON.parse(unlimited.stdout)).toMatchObject({ storage_quota_bytes: 0 });

    const reset = await cli(['groups', 'update', 'uploaders', '--storage-quota', 'default', '--json']);
    expectExit(reset, 0);
    expect(JSON.parse(reset.stdout)).toMatchObject({ storage_quota_bytes: null });

    const refused = await cli(['groups', 'update', 'uploaders', '--storage-quota', 'lots']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/--storage-quota/);
  });
});
