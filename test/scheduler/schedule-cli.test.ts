/**
 * `gatehouse schedule list|run TASK` against a real database: the table and JSON listings and a
 * manual run recorded in the history (the command line in the test process), and the exit codes
 * through the real binary (`node bin/gatehouse.js`, built by `npm run build`): 0 ok, 1 the task
 * failed, 2 unknown task.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCHEDULED_TASK_NAMES } from '../../src/config.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { dialects } from '../helpers/dialects.js';
import { cleanEnv, type CliResult, killAllChildren, REPO_ROOT, runCli } from '../helpers/server-process.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

function describeResult(result: CliResult): string {
  return `exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`;
}

describe('the README', () => {
  it('names every task that "gatehouse schedule run" accepts', () => {
    const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    const line = readme.split('\n').find((l) => l.startsWith('| `gatehouse schedule run TASK'));
    const listed = [...(/Tasks: (.*?)\. \|$/.exec(line ?? '')?.[1] ?? '').matchAll(/`([a-z-]+)`/g)].map((m) => m[1]);
    expect(listed).toEqual([...SCHEDULED_TASK_NAMES]);
  });
});

describe.each(dialects)('gatehouse schedule (%s)', (dialect) => {
  let database: TestDatabase;
  let env: Record<string, string>;
  /** The command line in this process (the exit-code checks below spawn the binary). */
  const cli = (args: string[]) => runCliInProcess(args, { env });

  beforeAll(async () => {
    database = await createTestDatabase(dialect);
    env = cleanEnv({
      DATA_DIR: database.dataDir,
      DATABASE_URL: database.url,
      LOG_LEVEL: 'warn',
      SCHEDULE_BACKUP: 'off',
      SCHEDULE_PURGE_TOKENS: '0 */6 * * *',
    });
  });
  afterAll(async () => {
    await killAllChildren();
    await database?.drop();
  });

  it('lists every task as a table with its schedule, and as JSON', async () => {
    const table = await cli(['schedule', 'list']);
    expect(table, describeResult(table)).toMatchObject({ code: 0, signal: null });
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^TASK\s+SCHEDULE\s+ENABLED\s+LAST RUN\s+OUTCOME\s+NEXT RUN$/);
    for (const task of SCHEDULED_TASK_NAMES) expect(table.stdout).toMatch(new RegExp(`^${task}\\s`, 'm'));
    expect(lines.find((l) => l.startsWith('purge-tokens'))).toMatch(/^purge-tokens\s+0 \*\/6 \* \* \*\s+yes\s+-\s+-\s+\d{4}-\d\d-\d\dT(00|06|12|18):00:00\.000Z$/);
    expect(lines.find((l) => l.startsWith('backup'))).toMatch(/^backup\s+off\s+no\s+-\s+-\s+-$/);

    const json = await cli(['schedule', 'list', '--json']);
    expect(json.code, describeResult(json)).toBe(0);
    const { items } = JSON.parse(json.stdout) as { items: Array<{ task: string; enabled: boolean; schedule: string }> };
    expect(items.map((i) => i.task)).toEqual([...SCHEDULED_TASK_NAMES]);
    expect(items.find((i) => i.task === 'lift-bans')).toMatchObject({ enabled: true, schedule: '*/5 * * * *' });
  });

  it('runs a task now, records the run, and shows it in the list', async () => {
    const run = await cli(['schedule', 'run', 'purge-tokens', '--json']);
    expect(run, describeResult(run)).toMatchObject({ code: 0, signal: null });
    expect(JSON.parse(run.stdout)).toMatchObject({ task: 'purge-tokens', trigger: 'manual', outcome: 'success', detail: { tokens_deleted: 0 } });

    const plain = await cli(['schedule', 'run', 'purge-sessions']);
    expect(plain.code, describeResult(plain)).toBe(0);
    expect(plain.stdout).toMatch(/^purge-sessions: success \{"sessions_deleted":0,"refresh_tokens_deleted":0\}/);

    const list = await cli(['schedule', 'list', '--json']);
    const { items } = JSON.parse(list.stdout) as { items: Array<{ task: string; last_outcome: string | null; last_run_at: string | null }> };
    expect(items.find((i) => i.task === 'purge-tokens')).toMatchObject({ last_outcome: 'success', last_run_at: expect.any(String) });
    expect(items.find((i) => i.task === 'prune-audit')).toMatchObject({ last_outcome: null, last_run_at: null });
    const table = await cli(['schedule', 'list']);
    expect(table.stdout).toMatch(/^purge-sessions\s+7 \* \* \* \*\s+yes\s+\S+Z\s+success\s+\S+Z$/m);
  });

  it('exits 1 when the task fails and 2 for an unknown task, without a stack trace', async () => {
    // A file where the backup directory should be: the backup task cannot write.
    writeFileSync(path.join(database.dataDir, 'backups'), 'not a directory');
    const failed = await runCli(['schedule', 'run', 'backup'], { env });
    if (dialect === 'postgres' && failed.code === 0) {
      expect(failed.stdout).toMatch(/^backup: skipped/);
    } else {
      expect(failed, describeResult(failed)).toMatchObject({ code: 1, signal: null });
      expect(failed.stdout).toMatch(/^backup: failure/);
      expect(failed.stderr).toMatch(/task backup failed/);
    }
    const list = await cli(['schedule', 'list', '--json']);
    const { items } = JSON.parse(list.stdout) as { items: Array<{ task: string; last_outcome: string | null }> };
    expect(items.find((i) => i.task === 'backup')?.last_outcome).toMatch(/^(failure|skipped)$/);

    const unknown = await runCli(['schedule', 'run', 'make-coffee'], { env });
    expect(unknown, describeResult(unknown)).toMatchObject({ code: 2, signal: null });
    expect(unknown.stderr).toContain('There is no task "make-coffee"');
    expect(`${unknown.stdout}${unknown.stderr}${failed.stderr}`).not.toMatch(/^\s+at\s/m);
  });
});
