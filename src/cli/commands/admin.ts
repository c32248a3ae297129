/**
 * Operator commands around the users: `api-keys list|revoke`, `config show|check`, `backup`,
 * `restore` and `version bump`.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Argument, type Command, Option } from 'commander';
import type { ApiKeyView } from '../../access/api-keys.service.js';
import { type Config, ConfigError, describeConfig, loadConfig, maskSecret } from '../../config.js';
import { backupDatabase, backupExtension, restoreDatabase } from '../../db/backup.js';
import { openDatabase, pingDatabase } from '../../db/database.js';
import { findRunningServers } from '../../db/server-presence.js';
import { pendingMigrations } from '../../db/migrate.js';
import { findLooseModes } from '../../shared/private-files.js';
import { PACKAGE_JSON_PATH } from '../../version.js';
import { CLI_ACTOR, describeDatabase, positiveInt, withGatehouse } from '../context.js';
import { ExitCode, ExitError, renderTable } from '../output.js';
import { confirmOrHint } from '../prompts.js';

/** How long `config check` waits for each service before calling it unreachable. */
const CHECK_TIMEOUT_MS = 5000;

/** The result of one `config check` probe. */
interface CheckResult {
  check: string;
  ok: boolean;
  /** Something to fix that does not stop Gatehouse (shown as WARN; the exit code stays 0). */
  warning?: boolean;
  detail: string;
}

/** How many loose paths `config check` names before summing up the rest. */
const LOOSE_MODES_SHOWN = 5;

/**
 * Warns about private paths others may read: DATA_DIR, its backups/ and mail/ directories and the
 * files directly in them, and the SQLite database with its -wal/-shm files wherever it lives.
 */
function checkFileModes(config: Config): CheckResult {
  const dirs = [config.dataDir, path.join(config.dataDir, 'backups'), path.join(config.dataDir, 'mail')];
  const sqlite = config.database.dialect === 'sqlite' && config.database.url !== ':memory:' ? config.database.url : null;
  const files = sqlite ? [sqlite, `${sqlite}-wal`, `${sqlite}-shm`] : [];
  const loose = findLooseModes({ dirs, files });
  if (loose.length === 0 && !existsSync(config.dataDir)) return { check: 'file modes', ok: true, detail: `${config.dataDir} does not exist yet (created 0700)` };
  if (loose.length === 0) return { check: 'file modes', ok: true, detail: `only the owner can read ${config.dataDir}${sqlite ? ` and ${sqlite}` : ''}` };
  const octal = (mode: number) => `0${mode.toString(8)}`;
  const named = loose.slice(0, LOOSE_MODES_SHOWN).map((l) => `${l.path} (${octal(l.mode)}, want ${octal(l.wanted)})`);
  if (loose.length > LOOSE_MODES_SHOWN) named.push(`and ${loose.length - LOOSE_MODES_SHOWN} more`);
  return {
    check: 'file modes',
    ok: true,
    warning: true,
    detail: `readable by other users: ${named.join(', ')}. The database holds the token signing key and backups and mail hold secrets: chmod 700 the directories and 600 the files.`,
  };
}

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not answer within ${CHECK_TIMEOUT_MS / 1000} s`)), CHECK_TIMEOUT_MS);
    }),
  ]);
}

function reason(error: unknown): string {
  const e = error as { code?: string; message?: string };
  return [e.code, e.message].filter(Boolean).join(': ') || String(error);
}

async function checkDatabase(config: Config): Promise<CheckResult[]> {
  const where = config.database.dialect === 'sqlite' ? config.database.url : maskSecret('DATABASE_URL', config.database.url);
  if (config.database.dialect === 'sqlite' && config.database.url !== ':memory:' && !existsSync(config.database.url)) {
    return [{ check: 'database', ok: true, detail: `sqlite ${where} does not exist yet (created at first start)` }];
  }
  const database = openDatabase({ ...config.database, poolSize: 1 });
  try {
    const reachable = await withTimeout(pingDatabase(database.db), 'the database');
    if (!reachable) {
      // pingDatabase swallows the reason; one more query surfaces it for the operator.
      await withTimeout(pendingMigrations(database.db, database.dialect), 'the database');
    }
    const pending = await withTimeout(pendingMigrations(database.db, database.dialect), 'the database');
    return [
      { check: 'database', ok: true, detail: `${config.database.dialect} ${where} answers` },
      {
        check: 'schema',
        ok: true,
        detail: pending.length ? `${pending.length} migration(s) pending (applied at start or by "gatehouse migrate"): ${pending.join(', ')}` : 'up to date',
      },
    ];
  } catch (error) {
    return [{ check: 'database', ok: false, detail: `${config.database.dialect} ${where}: ${reason(error)}` }];
  } finally {
    await database.close();
  }
}

async function checkRedis(url: string): Promise<CheckResult> {
  const { Redis } = await import('ioredis');
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await withTimeout(client.connect(), 'Redis');
    const pong = await withTimeout(client.ping(), 'Redis');
    return { check: 'redis', ok: pong === 'PONG', detail: `${maskSecret('REDIS_URL', url)} answers ${pong}` };
  } catch (error) {
    return { check: 'redis', ok: false, detail: `${maskSecret('REDIS_URL', url)}: ${reason(error)}` };
  } finally {
    client.disconnect();
  }
}

async function checkSmtp(url: string): Promise<CheckResult> {
  const { default: nodemailer } = await import('nodemailer');
  const transport = nodemailer.createTransport({ url, connectionTimeout: CHECK_TIMEOUT_MS, greetingTimeout: CHECK_TIMEOUT_MS });
  try {
    await withTimeout(transport.verify(), 'the SMTP server');
    return { check: 'smtp', ok: true, detail: `${maskSecret('SMTP_URL', url)} accepts connections` };
  } catch (error) {
    return { check: 'smtp', ok: false, detail: `${maskSecret('SMTP_URL', url)}: ${reason(error)}` };
  } finally {
    transport.close();
  }
}

/**
 * Rewrites the `"version"` of a package.json text (and of a package-lock.json's root entries),
 * keeping every other byte.
 * @throws Error when the current version is not `MAJOR.MINOR.PATCH`.
 */
export function bumpVersion(current: string, part: 'major' | 'minor' | 'patch'): string {
  const match = /^(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$/.exec(current);
  if (!match) throw new Error(`The current version "${current}" is not MAJOR.MINOR.PATCH.`);
  const [major, minor, patch] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (part === 'major') return `${major + 1}.0.0`;
  if (part === 'minor') return `${major}.${minor + 1}.0`;
  return `${major}.${minor}.${patch + 1}`;
}

/** Writes `text` beside `file` and renames it over, so a crash never leaves half a file. */
function replaceFile(file: string, text: string): void {
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, text);
  renameSync(temp, file);
}

/** Registers `api-keys`, `config`, `backup`, `restore` and `version` on `program`. */
export function registerAdminCommands(program: Command): void {
  const apiKeys = program.command('api-keys').description('API keys of every user.');

  apiKeys
    .command('list')
    .description('List API keys (live ones unless --all).')
    .option('--user <email>', "only this user's keys")
    .option('--all', 'include revoked keys', false)
    .option('--limit <n>', 'page size', positiveInt, 100)
    .option('--cursor <id>', 'continue after this key id')
    .option('--json', 'print JSON', false)
    .action(async (opts: { user?: string; all: boolean; limit: number; cursor?: string; json: boolean }) => {
      await withGatehouse(async (gatehouse) => {
        const owner = opts.user ? await gatehouse.users.getByEmail(opts.user) : undefined;
        const page = await gatehouse.apiKeys.list({
          userId: owner?.id,
          includeRevoked: opts.all,
          limit: Math.min(opts.limit, 1000),
          afterId: opts.cursor,
        });
        const emails = new Map<string, string>();
        for (const id of new Set(page.items.map((k) => k.user_id))) {
          emails.set(id, (await gatehouse.users.get(id)).email);
        }
        const items = page.items.map((k: ApiKeyView) => ({ ...k, user_email: emails.get(k.user_id) ?? null }));
        if (opts.json) return console.log(JSON.stringify({ items, next_cursor: page.next }, null, 2));
        if (items.length === 0) return console.log('No API keys.');
        const now = Date.now();
        console.log(
          renderTable(
            items.map((k) => ({
              ...k,
              scopes: k.scopes.join(',') || '-',
              state: k.revoked_at ? 'revoked' : k.expires_at && Date.parse(k.expires_at) <= now ? 'expired' : 'active',
            })),
            [
              ['ID', 'id'],
              ['PREFIX', 'prefix'],
              ['NAME', 'name'],
              ['USER', 'user_email'],
              ['SCOPES', 'scopes'],
              ['STATE', 'state'],
              ['CREATED', 'created_at'],
              ['LAST-USED', 'last_used_at'],
              ['EXPIRES', 'expires_at'],
            ],
          ),
        );
        if (page.next) console.log(`\nMore keys: gatehouse api-keys list --cursor ${page.next}`);
      });
    });

  apiKeys
    .command('revoke <id>')
    .description('Revoke an API key; it stops working on the next request, on every instance.')
    .action(async (id: string) => {
      await withGatehouse(async (gatehouse) => {
        await gatehouse.apiKeys.revoke(id, { userId: '', asAdmin: true }, CLI_ACTOR);
        console.log(`Revoked API key ${id}.`);
      });
    });

  const config = program.command('config').description('The configuration (environment variables and .env).');

  config
    .command('show')
    .description('Print every setting with its effective value and source; secrets are masked.')
    .option('--json', 'print JSON', false)
    .action((opts: { json: boolean }) => {
      const settings = describeConfig();
      if (opts.json) return console.log(JSON.stringify({ items: settings }, null, 2));
      console.log(
        renderTable(settings.map((s) => ({ ...s })), [
          ['VARIABLE', 'name'],
          ['VALUE', 'value'],
          ['SOURCE', 'source'],
        ]),
      );
    });

  config
    .command('check')
    .description(
      'Validate the configuration and reach the database (and Redis and SMTP when configured); warn (WARN, exit 0) about private files and directories other users may read. Exit 0: all good; 1: something is unreachable; 2: invalid configuration.',
    )
    .option('--json', 'print JSON', false)
    .action(async (opts: { json: boolean }) => {
      let loaded: Config;
      try {
        loaded = loadConfig();
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        if (opts.json) console.log(JSON.stringify({ ok: false, checks: [{ check: 'configuration', ok: false, detail: error.problems }] }, null, 2));
        else console.log(error.message);
        throw new ExitError(ExitCode.invalidInput);
      }
      const checks: CheckResult[] = [{ check: 'configuration', ok: true, detail: 'valid' }];
      checks.push(...(await checkDatabase(loaded)));
      checks.push(checkFileModes(loaded));
      if (loaded.limits.redisUrl) checks.push(await checkRedis(loaded.limits.redisUrl));
      if (loaded.mail.smtpUrl) checks.push(await checkSmtp(loaded.mail.smtpUrl));
      else checks.push({ check: 'smtp', ok: true, detail: `SMTP_URL is not set: emails are written to ${path.join(loaded.dataDir, 'mail')}` });
      const ok = checks.every((c) => c.ok);
      if (opts.json) console.log(JSON.stringify({ ok, checks }, null, 2));
      else console.log(renderTable(checks.map((c) => ({ ...c, status: !c.ok ? 'FAIL' : c.warning ? 'WARN' : 'ok' })), [['CHECK', 'check'], ['STATUS', 'status'], ['DETAIL', 'detail']]));
      if (!ok) throw new ExitError(ExitCode.failure);
    });

  program
    .command('backup')
    .description(
      'Back up the database: SQLite with its online backup API (safe while the server runs), PostgreSQL with pg_dump -Fc.',
    )
    .option('--out <file>', 'backup file (default: DATA_DIR/backups/gatehouse-<time>.db|.dump)')
    .option('--json', 'print JSON', false)
    .action(async (opts: { out?: string; json: boolean }) => {
      const loaded = loadConfig();
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      const out = opts.out ?? path.join(loaded.dataDir, 'backups', `gatehouse-${stamp}${backupExtension(loaded.database.dialect)}`);
      const report = await backupDatabase(loaded.database, out);
      if (opts.json) console.log(JSON.stringify(report));
      else console.log(`Backed up the ${loaded.database.dialect} database to ${report.file} (${report.bytes} bytes).`);
    });

  program
    .command('restore <file>')
    .description(
      'Replace ALL data with a backup made by "gatehouse backup". Refuses while a Gatehouse server uses the database (unless --force): stop every server first. SQLite: the backup is checked, then copied in with the backup API; PostgreSQL: pg_restore --clean --if-exists in one transaction.',
    )
    .option('--yes', 'do not ask for confirmation (scripts; without a terminal, pipe "yes" or pass --yes)', false)
    .option('--force', 'restore even while a server uses the database (it keeps its cached view of the old data: restart it)', false)
    .action(async (file: string, opts: { yes: boolean; force: boolean }) => {
      const loaded = loadConfig();
      if (!existsSync(file)) throw new ExitError(ExitCode.invalidInput, `There is no backup file at ${path.resolve(file)}.`);
      const target = loaded.database.dialect === 'sqlite' ? loaded.database.url : maskSecret('DATABASE_URL', loaded.database.url);
      console.error(`Database: ${describeDatabase(loaded.database)}`);
      // A live server would keep serving cached sessions of the old data and write into the new.
      const servers = await findRunningServers(loaded.database);
      if (servers.length && !opts.force) {
        throw new ExitError(
          ExitCode.failure,
          `error: a Gatehouse server is using ${target} (${servers.join('; ')}). Stop every server first, or pass --force to restore anyway.`,
        );
      }
      if (servers.length) console.error(`warning: restoring while a server uses ${target} (${servers.join('; ')}): restart it afterwards.`);
      if (!opts.yes) await confirmOrHint(`Replace every row in ${target} with ${file}?`, 'Pass --yes to restore without asking.');
      const report = await restoreDatabase(loaded.database, file);
      console.log(`Restored ${target} from ${report.file}. Run "gatehouse migrate" (or start the server) to apply newer migrations.`);
    });

  program
    .command('version')
    .description('The package version.')
    .command('bump')
    .description(
      "Raise the version in package.json (and package-lock.json). The API docs (/openapi.json, /docs) and --version read it from package.json, so they follow after a restart.",
    )
    .addArgument(new Argument('<part>', 'which part to raise').choices(['major', 'minor', 'patch']))
    .addOption(new Option('--package-json <file>', 'the package.json to rewrite').default(PACKAGE_JSON_PATH).hideHelp())
    .option('--json', 'print JSON', false)
    .action((part: 'major' | 'minor' | 'patch', opts: { packageJson: string; json: boolean }) => {
      const file = path.resolve(opts.packageJson);
      const text = readFileSync(file, 'utf8');
      const current = (JSON.parse(text) as { version?: string }).version ?? '';
      const next = bumpVersion(current, part);
      // Replace only the top-level "version" (the first one, two-space indented) to keep formatting.
      const versionLine = /^( {2}"version":\s*)"[^"]*"/m;
      replaceFile(file, text.replace(versionLine, `$1"${next}"`));
      const lock = path.join(path.dirname(file), 'package-lock.json');
      if (existsSync(lock)) {
        const lockText = readFileSync(lock, 'utf8');
        // The lock repeats the version at its top and in its root package entry ("packages" → "").
        const rootEntry = /("packages":\s*\{\s*"":\s*\{[^{}]*?"version":\s*)"[^"]*"/;
        replaceFile(lock, lockText.replace(versionLine, `$1"${next}"`).replace(rootEntry, `$1"${next}"`));
      }
      if (opts.json) return console.log(JSON.stringify({ from: current, to: next, file }));
      console.log(`Version ${current} → ${next} in ${file}.`);
      console.log('The API docs and "gatehouse --version" read package.json (src/version.ts): restart the server to publish it.');
    });
}
