/**
 * The CLI says which database it uses, through the real binary on both dialects: every command
 * that changes data prints `Database: <dialect> <path or URL, password masked>` on stderr (stdout
 * stays machine-readable), read-only commands print nothing, and any command that finds a new,
 * empty database (another DATA_DIR, DATABASE_URL or .env than the server's) warns that it is
 * creating one.
 */
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { dialects } from '../helpers/dialects.js';
import { STRONG_PASSWORD, uniqueEmail } from '../helpers/harness.js';
import { cleanEnv, killAllChildren, runCli } from '../helpers/server-process.js';
import { createTestDatabase } from '../helpers/test-database.js';
import { expectExit } from './cli-helpers.js';

afterAll(killAllChildren);

vi.setConfig({ testTimeout: 180_000 });

const NEW_DATABASE = /^warning: .* was a new, empty database; creating the Gatehouse tables in it\. If you meant your server's data, check DATA_DIR, DATABASE_URL/m;

describe.concurrent.each(dialects)('the CLI names its database (%s)', (dialect) => {
  it('mutating commands print the database on stderr; a new empty database is warned about; read-only commands stay quiet', async ({ onTestFinished }) => {
    const database = await createTestDatabase(dialect);
    onTestFinished(() => database.drop());
    // PostgreSQL: a password in the URL (trust authentication ignores it) must be masked.
    const url = dialect === 'postgres' ? database.url.replace('//postgres@', '//postgres:notice-pa55word@') : database.url;
    const shown =
      dialect === 'sqlite'
        ? `sqlite ${database.url.replace(/^sqlite:/, '')}`
        : `postgres ${url.replace('notice-pa55word', '****')}`;
    const env = cleanEnv({ DATA_DIR: database.dataDir, DATABASE_URL: url });
    const cli = (args: string[], input?: string) => runCli(args, { env, timeoutMs: 90_000, ...(input === undefined ? {} : { input }) });
    const email = uniqueEmail('notice');

    const created = await cli(['users', 'create', '--email', email, '--name', 'N', '--password-stdin', '--json'], `${STRONG_PASSWORD}\n`);
    expectExit(created, 0);
    expect(JSON.parse(created.stdout)).toMatchObject({ email });
    expect(created.stderr).toContain(`Database: ${shown}\n`);
    expect(created.stderr).toMatch(NEW_DATABASE);
    expect(created.stderr).not.toContain('notice-pa55word');

    const edited = await cli(['users', 'edit', email, '--name', 'Renamed', '--json']);
    expectExit(edited, 0);
    expect(edited.stderr).toBe(`Database: ${shown}\n`);

    const listed = await cli(['users', 'list', '--json']);
    expectExit(listed, 0);
    expect(listed.stderr).toBe('');
    expect(JSON.parse(listed.stdout)).toMatchObject({ items: [expect.objectContaining({ email })] });

    // Listing commands that write with an option: notify outbox --retry-dead.
    const retried = await cli(['notify', 'outbox', '--retry-dead']);
    expectExit(retried, 0);
    expect(retried.stderr).toBe(`Database: ${shown}\n`);

    // Another environment: a different DATA_DIR and no DATABASE_URL opens (and creates) another SQLite file.
    const elsewhere = path.join(database.dataDir, 'elsewhere');
    const other = await runCli(['users', 'list'], { env: cleanEnv({ DATA_DIR: elsewhere }), cwd: database.dataDir, timeoutMs: 90_000 });
    expectExit(other, 0);
    expect(other.stdout).toMatch(/No users/);
    expect(other.stderr).toMatch(NEW_DATABASE);
    expect(other.stderr).toContain(`sqlite ${path.join(elsewhere, 'gatehouse.db')}`);
  });
});
