/**
 * `gatehouse users …`: list, show, create, edit, verify, roles, bans, deactivation, deletion,
 * sessions, and export/import (JSON or CSV, with password hashes; imports accept bcrypt and argon2
 * hashes from other systems).
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { Argument, type Command, InvalidArgumentError, Option } from 'commander';
import type { Role } from '../../access/permissions.js';
import type { AdminUserView, UserFilters } from '../../access/user-admin.service.js';
import type { Gatehouse } from '../../container.js';
import { normalizeEmail } from '../../accounts/email.js';
import { AppError, isAppError } from '../../shared/errors.js';
import { CLI_ACTOR, parseDuration, positiveInt, withGatehouse } from '../context.js';
import { ExitCode, ExitError, renderTable } from '../output.js';
import { createProgressBar } from '../progress.js';
import { CancelledError, createAsker, promptOptionalText, promptPassword, promptText, readStdin } from '../prompts.js';
import {
  csvHeader,
  csvRecord,
  FileFormatError,
  formatOf,
  jsonRecord,
  parseUserFile,
  type UserFileFormat,
} from '../user-files.js';

const ROLES: Role[] = ['user', 'admin', 'worker'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EXPORT_PAGE = 500;

function yesNo(value: string): boolean {
  if (/^(true|yes|y|1)$/i.test(value)) return true;
  if (/^(false|no|n|0)$/i.test(value)) return false;
  throw new InvalidArgumentError('must be yes or no');
}

function duration(value: string): number {
  const seconds = parseDuration(value);
  if (seconds === null || seconds < 1) throw new InvalidArgumentError('must be a duration like 30m, 12h, 7d or 2w');
  return seconds;
}

function isoTime(value: string): string {
  if (Number.isNaN(Date.parse(value))) throw new InvalidArgumentError('must be an ISO-8601 time such as 2030-01-31T12:00:00Z');
  return new Date(value).toISOString();
}

function jsonObject(value: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new InvalidArgumentError('must be a JSON object, e.g. \'{"avatar":"https://…"}\'');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new InvalidArgumentError('must be a JSON object');
  return parsed as Record<string, unknown>;
}

/** Resolves `EMAIL` or a user id. @throws AppError `not_found`. */
async function findUser(gatehouse: Gatehouse, emailOrId: string): Promise<AdminUserView> {
  return UUID.test(emailOrId) ? gatehouse.users.get(emailOrId.toLowerCase()) : gatehouse.users.getByEmail(emailOrId);
}

/** `banned_until` when the ban is still in force, else null. */
function activeBan(user: AdminUserView): string | null {
  if (!user.banned_until || Date.parse(user.banned_until) <= Date.now()) return null;
  return user.banned_until.startsWith('9999-') ? 'indefinitely' : user.banned_until;
}

function printUser(user: AdminUserView, json: boolean, message: string): void {
  console.log(json ? JSON.stringify(user, null, 2) : message);
}

function describeUser(user: AdminUserView, extra: Array<[string, string]>): string {
  const rows: Array<[string, string]> = [
    ['ID', user.id],
    ['Email', user.email],
    ['Name', user.name || '-'],
    ['Verified', user.email_verified ? 'yes' : 'no'],
    ['Role', user.role],
    ['Groups', user.groups.join(', ') || '-'],
    ['Status', user.status],
    ['Banned until', activeBan(user) ?? '-'],
    ['Ban reason', activeBan(user) ? user.ban_reason || '-' : '-'],
    ['Profile', JSON.stringify(user.profile)],
    ['Created', user.created_at],
    ['Updated', user.updated_at],
    ...extra,
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${`${k}:`.padEnd(width + 2)}${v}`).join('\n');
}

/**
 * Asks the operator to confirm a destructive action, unless `--yes`. Steps: for each `typed`
 * text, the operator must type it exactly; then a yes/no confirmation.
 * @throws CancelledError on Ctrl-C, end of input, or "no"; AppError `validation_failed` on a mistyped answer.
 */
async function confirmAction(question: string, typed: Array<{ prompt: string; expected: string; caseInsensitive?: boolean }>): Promise<void> {
  const asker = createAsker();
  for (const step of typed) {
    const answer = await asker.text(step.prompt);
    const matches = step.caseInsensitive ? answer.toLowerCase() === step.expected.toLowerCase() : answer === step.expected;
    if (!matches) throw new AppError('validation_failed', `You typed "${answer}", not "${step.expected}". Nothing was changed.`);
  }
  if (!(await asker.confirm(question))) throw new CancelledError();
}

/** Registers the `users` command tree on `program`. */
export function registerUserCommands(program: Command): void {
  const users = program.command('users').description('Manage user accounts.');

  users
    .command('list')
    .description('List users in creation order, with filters.')
    .option('--q <text>', 'email or name contains this text (case-insensitive)')
    .addOption(new Option('--role <role>', 'only this role').choices(ROLES))
    .option('--group <group>', 'only members of this group (name or id)')
    .addOption(new Option('--status <status>', 'only this status').choices(['active', 'deactivated']))
    .option('--verified [yes|no]', 'only users whose email is (or, with "no", is not) verified', yesNo)
    .option('--banned [yes|no]', 'only users who are (or, with "no", are not) banned now', yesNo)
    .option('--limit <n>', 'page size', positiveInt, 50)
    .option('--cursor <id>', 'continue after this user id (printed at the end of the previous page)')
    .option('--json', 'print JSON instead of a table', false)
    .action(
      async (opts: {
        q?: string;
        role?: Role;
        group?: string;
        status?: UserFilters['status'];
        verified?: boolean;
        banned?: boolean;
        limit: number;
        cursor?: string;
        json: boolean;
      }) => {
        await withGatehouse(async (gatehouse) => {
          const filters: UserFilters = {
            q: opts.q,
            role: opts.role,
            group: opts.group,
            status: opts.status,
            verified: opts.verified,
            banned: opts.banned,
          };
          const page = await gatehouse.users.list(filters, { limit: Math.min(opts.limit, 1000), afterId: opts.cursor });
          if (opts.json) return console.log(JSON.stringify({ items: page.items, next_cursor: page.next }, null, 2));
          if (page.items.length === 0) return console.log('No users.');
          console.log(
            renderTable(
              page.items.map((u) => ({
                ...u,
                name: u.name || '-',
                groups: u.groups.join(',') || '-',
                banned: activeBan(u),
              })),
              [
                ['EMAIL', 'email'],
                ['NAME', 'name'],
                ['VERIFIED', 'email_verified'],
                ['ROLE', 'role'],
                ['GROUPS', 'groups'],
                ['STATUS', 'status'],
                ['BANNED-UNTIL', 'banned'],
                ['CREATED', 'created_at'],
              ],
            ),
          );
          if (page.next) console.log(`\nMore users: gatehouse users list --cursor ${page.next}`);
        });
      },
    );

  users
    .command('show <user>')
    .description('Show one user (email or id), with their active sessions, API keys and linked sign-in providers.')
    .option('--json', 'print JSON', false)
    .action(async (emailOrId: string, opts: { json: boolean }) => {
      await withGatehouse(async (gatehouse) => {
        const user = await findUser(gatehouse, emailOrId);
        const sessions = await gatehouse.users.listSessions(user.id);
        const keys = await gatehouse.apiKeys.list({ userId: user.id, limit: 1000 });
        const identities = await gatehouse.identities.listOwn(user.id);
        if (opts.json) {
          return console.log(JSON.stringify({ ...user, active_sessions: sessions.length, active_api_keys: keys.items.length, identities }, null, 2));
        }
        console.log(
          describeUser(user, [
            ['Sessions', String(sessions.length)],
            ['API keys', String(keys.items.length)],
            [
              'Sign-in providers',
              identities.length
                ? identities.map((i) => `${i.display_name} (${i.email ?? 'no email'}${i.email_verified ? ', verified' : ''}, linked ${i.linked_at})`).join('; ')
                : 'none',
            ],
          ]),
        );
      });
    });

  users
    .command('create')
    .description('Create a user whose email is already verified.')
    .option('--email <email>', 'email address (prompted when omitted)')
    .option('--name <name>', 'display name (prompted when omitted on a terminal)')
    .option('--admin', 'give the user the admin role', false)
    .option('--password-stdin', 'read the password from standard input instead of prompting', false)
    .option('--json', 'print the created user as JSON', false)
    .action(async (opts: { email?: string; name?: string; admin: boolean; passwordStdin: boolean; json: boolean }) => {
      const interactive = process.stdin.isTTY === true;
      if (!opts.passwordStdin && !interactive) {
        // Without a terminal a prompt would read nothing and the command would silently do nothing.
        throw new AppError('validation_failed', 'No terminal to prompt on: pass --email and --password-stdin (and --name).');
      }
      if (!opts.email && !interactive) throw new AppError('validation_failed', 'Pass --email when not on a terminal.');
      const email = opts.email ?? (await promptText('Email address'));
      const name = opts.name ?? (interactive && !opts.passwordStdin ? await promptOptionalText('Display name (optional)') : '');
      let password: string;
      if (opts.passwordStdin) password = await readStdin();
      else {
        password = await promptPassword('Password (10+ characters)');
        if ((await promptPassword('Repeat the password')) !== password) {
          throw new AppError('validation_failed', 'The two passwords differ; nothing was created.');
        }
      }
      await withGatehouse(async (gatehouse) => {
        const user = await gatehouse.accounts.createUser({
          email,
          password,
          name,
          role: opts.admin ? 'admin' : 'user',
        });
        if (opts.json) console.log(JSON.stringify(user, null, 2));
        else console.log(`Created ${user.role} ${user.email} (${user.id}).`);
      });
    });

  users
    .command('edit <user>')
    .description("Change a user's name and/or profile (the profile object is replaced whole).")
    .option('--name <name>', 'new display name')
    .option('--profile <json>', 'new profile, a JSON object', jsonObject)
    .option('--json', 'print the user as JSON', false)
    .action(async (emailOrId: string, opts: { name?: string; profile?: Record<string, unknown>; json: boolean }) => {
      if (opts.name === undefined && opts.profile === undefined) {
        throw new AppError('validation_failed', 'Nothing to change: give --name and/or --profile.');
      }
      await withGatehouse(async (gatehouse) => {
        const user = await findUser(gatehouse, emailOrId);
        const updated = await gatehouse.users.update(user.id, { name: opts.name, profile: opts.profile }, CLI_ACTOR);
        printUser(updated, opts.json, `Updated ${updated.email}.`);
      });
    });

  users
    .command('verify <user>')
    .description("Mark a user's email verified.")
    .option('--json', 'print the user as JSON', false)
    .action(async (emailOrId: string, opts: { json: boolean }) => {
      await withGatehouse(async (gatehouse) => {
        const user = await findUser(gatehouse, emailOrId);
        const updated = await gatehouse.users.verifyEmail(user.id, CLI_ACTOR);
        printUser(updated, opts.json, user.email_verified ? `${user.email} was already verified.` : `${updated.email} is now verified.`);
      });
    });

  const setRole = async (emailOrId: string, role: Role, json: boolean, onlyFrom?: Role) => {
    await withGatehouse(async (gatehouse) => {
      const user = await findUser(gatehouse, emailOrId);
      if (onlyFrom && user.role !== onlyFrom) throw new AppError('conflict', `${user.email} is not an ${onlyFrom} (role: ${user.role}).`);
      const updated = await gatehouse.users.update(user.id, { role }, CLI_ACTOR);
      printUser(
        updated,
        json,
        user.role === role ? `${user.email} already has the ${role} role.` : `${updated.email} now has the ${role} role (was ${user.role}).`,
      );
    });
  };

  users
    .command('set-role')
    .description("Change a user's role; takes effect on their next request.")
    .argument('<user>', 'email or id')
    .addArgument(new Argument('<role>', 'the new role').choices(ROLES))
    .option('--json', 'print the user as JSON', false)
    .action((emailOrId: string, role: Role, opts: { json: boolean }) => setRole(emailOrId, role, opts.json));

  users
    .command('make-admin <user>')
    .description('Give a user the admin role.')
    .option('--json', 'print the user as JSON', false)
    .action((emailOrId: string, opts: { json: boolean }) => setRole(emailOrId, 'admin', opts.json));

  users
    .command('remove-admin <user>')
    .description('Take the admin role away (the user becomes a plain user).')
    .option('--json', 'print the user as JSON', false)
    .action((emailOrId: string, opts: { json: boolean }) => setRole(emailOrId, 'user', opts.json, 'admin'));

  users
    .command('ban <user>')
    .description('Ban a user: every session and API key is revoked at once and they are told by email.')
    .addOption(new Option('--for <duration>', 'ban length, e.g. 12h, 7d, 2w').argParser(duration).conflicts('until'))
    .option('--until <time>', 'ban until this ISO-8601 time', isoTime)
    .option('--reason <text>', 'why (shown to the user, kept in the audit log)')
    .option('--json', 'print the user as JSON', false)
    .action(async (emailOrId: string, opts: { for?: number; until?: string; reason?: string; json: boolean }) => {
      await withGatehouse(async (gatehouse) => {
        const user = await findUser(gatehouse, emailOrId);
        const banned = await gatehouse.users.ban(
          user.id,
          { durationSeconds: opts.for, until: opts.until, reason: opts.reason },
          CLI_ACTOR,
        );
        printUser(banned, opts.json, `Banned ${banned.email} ${activeBan(banned) === 'indefinitely' ? 'indefinitely' : `until ${banned.banned_until}`}.`);
      });
    });

  users
    .command('unban <user>')
    .description('Lift a ban.')
    .option('--json', 'print the user as JSON', false)
    .action(async (emailOrId: string, opts: { json: boolean }) => {
      await withGatehouse(async (gatehouse) => {
        const user = await findUser(gatehouse, emailOrId);
        const updated = await gatehouse.users.unban(user.id, CLI_ACTOR);
        printUser(updated, opts.json, `Unbanned ${updated.email}.`);
      });
    });

  users
    .command('deactivate <user>')
    .description(
      'Deactivate a user (sessions and API keys revoked; they can no longer sign in). Asks you to type the email, then "deactivate", then to confirm.',
    )
    .option('--yes', 'skip the confirmations (scripts)', false)
    .option('--json', 'print the user as JSON', false)
    .action(async (emailOrId: string, opts: { yes: boolean; json: boolean }) => {
      await withGatehouse(async (gatehouse) => {
        const user = await findUser(gatehouse, emailOrId);
        if (user.status === 'deactivated') throw new AppError('conflict', `${user.email} is already deactivated.`);
        if (!opts.yes) {
          await confirmAction(`Deactivate ${user.email} now?`, [
            { prompt: `Type the user's email (${user.email}) to continue`, expected: user.email, caseInsensitive: true },
            { prompt: 'Type "deactivate" to continue', expected: 'deactivate' },
          ]);
        }
        const updated = await gatehouse.users.update(user.id, { status: 'deactivated' }, CLI_ACTOR);
        printUser(updated, opts.json, `Deactivated ${updated.email}; their sessions and API keys are revoked.`);
      });
    });

  users
    .command('reactivate <user>')
    .description('Let a deactivated user sign in again.')
    .option('--json', 'print the user as JSON', false)
    .action(async (emailOrId: string, opts: { json: boolean }) => {
      await withGatehouse(async (gatehouse) => {
        const user = await findUser(gatehouse, emailOrId);
        if (user.status === 'active') throw new AppError('conflict', `${user.email} is active.`);
        const updated = await gatehouse.users.update(user.id, { status: 'active' }, CLI_ACTOR);
        printUser(updated, opts.json, `Reactivated ${updated.email}.`);
      });
    });

  users
    .command('delete <user>')
    .description('Delete a user and everything that is theirs (the audit log keeps the event). Asks to confirm.')
    .option('--yes', 'skip the confirmation (scripts)', false)
    .option('--json', 'print JSON', false)
    .action(async (emailOrId: string, opts: { yes: boolean; json: boolean }) => {
      await withGatehouse(async (gatehouse) => {
        const user = await findUser(gatehouse, emailOrId);
        if (!opts.yes) await confirmAction(`Delete ${user.email} and all their data permanently?`, []);
        await gatehouse.users.delete(user.id, CLI_ACTOR);
        if (opts.json) console.log(JSON.stringify({ deleted: user.id, email: user.email }));
        else console.log(`Deleted ${user.email}.`);
      });
    });

  users
    .command('sessions <user>')
    .description("List a user's active sessions, or revoke one (--revoke ID) or all (--revoke-all).")
    .addOption(new Option('--revoke <id>', 'revoke this session').conflicts('revokeAll'))
    .option('--revoke-all', 'revoke every session (signs the user out everywhere)', false)
    .option('--json', 'print JSON', false)
    .action(async (emailOrId: string, opts: { revoke?: string; revokeAll: boolean; json: boolean }) => {
      await withGatehouse(async (gatehouse) => {
        const user = await findUser(gatehouse, emailOrId);
        if (opts.revoke !== undefined || opts.revokeAll) {
          const count = await gatehouse.users.revokeSessions(user.id, opts.revoke, CLI_ACTOR);
          if (opts.json) return console.log(JSON.stringify({ revoked: count }));
          return console.log(opts.revoke ? `Revoked session ${opts.revoke} of ${user.email}.` : `Revoked ${count} session(s) of ${user.email}.`);
        }
        const sessions = await gatehouse.users.listSessions(user.id);
        if (opts.json) return console.log(JSON.stringify({ items: sessions.map(({ current: _c, ...s }) => s) }, null, 2));
        if (sessions.length === 0) return console.log(`${user.email} has no active sessions.`);
        console.log(
          renderTable(
            sessions.map((s) => ({ ...s, user_agent: s.user_agent ? s.user_agent.slice(0, 40) : null })),
            [
              ['ID', 'id'],
              ['CREATED', 'created_at'],
              ['LAST-SEEN', 'last_seen_at'],
              ['EXPIRES', 'expires_at'],
              ['IP', 'ip'],
              ['USER-AGENT', 'user_agent'],
            ],
          ),
        );
      });
    });

  users
    .command('export')
    .description('Write every user (with password hashes: keep the file secret) as JSON or CSV.')
    .addOption(new Option('--format <format>', 'file format (default: from --out, else json)').choices(['json', 'csv']))
    .option('--out <file>', 'write to this file (created with mode 600) instead of standard output')
    .action(async (opts: { format?: UserFileFormat; out?: string }) => {
      const format = opts.out ? formatOf(opts.out, opts.format) : (opts.format ?? 'json');
      await withGatehouse(async (gatehouse) => {
        const fd = opts.out ? openSync(opts.out, 'w', 0o600) : 1;
        const write = (text: string) => writeSync(fd, text);
        let count = 0;
        const progress = opts.out ? createProgressBar('Exporting', Number.NaN) : undefined;
        try {
          write(format === 'csv' ? `${csvHeader()}\n` : '[');
          let after: string | undefined;
          for (;;) {
            const page = await gatehouse.users.exportPage({ limit: EXPORT_PAGE, afterId: after });
            for (const user of page.items) {
              write(format === 'csv' ? `${csvRecord(user)}\n` : `${count ? ',' : ''}\n${jsonRecord(user)}`);
              count++;
            }
            progress?.update(count);
            if (!page.next) break;
            after = page.next;
          }
          if (format === 'json') write('\n]\n');
        } finally {
          progress?.done();
          if (fd !== 1) closeSync(fd);
        }
        if (opts.out) console.error(`Exported ${count} user(s) to ${opts.out}. It holds password hashes: keep it secret.`);
      });
    });

  users
    .command('import <file>')
    .description(
      'Create users from a JSON or CSV file (as written by export). Accepts argon2id, argon2i and bcrypt ($2a$/$2b$/$2y$) hashes from other systems; those users keep their password, rehashed to argon2id when they next sign in.',
    )
    .addOption(new Option('--format <format>', 'file format (default: from the file name, else json)').choices(['json', 'csv']))
    .option('--dry-run', 'check every row and report errors; write nothing', false)
    .option('--json', 'print a JSON summary', false)
    .action(async (file: string, opts: { format?: UserFileFormat; dryRun: boolean; json: boolean }) => {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (error) {
        throw new AppError('validation_failed', `Cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      }
      let records;
      try {
        records = parseUserFile(text, formatOf(file, opts.format));
      } catch (error) {
        if (error instanceof FileFormatError) throw new AppError('validation_failed', `${file}: ${error.message}`);
        throw error;
      }
      await withGatehouse(async (gatehouse) => {
        const progress = createProgressBar(opts.dryRun ? 'Checking' : 'Importing', records.length);
        const errors: Array<{ line: number; email: string | null; code: string; message: string }> = [];
        const seen = new Map<string, number>();
        let imported = 0;
        try {
          for (const [index, { line, record }] of records.entries()) {
            const rawEmail = (record as { email?: unknown } | null)?.email;
            const email = typeof rawEmail === 'string' ? rawEmail.trim() : null;
            try {
              const earlier = email ? seen.get(normalizeEmail(email)) : undefined;
              if (earlier !== undefined) throw new AppError('email_taken', `${email} is also on line ${earlier}.`);
              await gatehouse.users.importUser(record, { dryRun: opts.dryRun }, CLI_ACTOR);
              if (email) seen.set(normalizeEmail(email), line);
              imported++;
            } catch (error) {
              if (!isAppError(error)) throw error;
              const entry = { line, email, code: error.code, message: error.detail ?? error.message };
              errors.push(entry);
              progress.log(`line ${line}${email ? ` (${email})` : ''}: ${entry.message} [${entry.code}]`);
            }
            progress.update(index + 1);
          }
        } finally {
          progress.done();
        }
        if (opts.json) {
          console.log(JSON.stringify({ dry_run: opts.dryRun, total: records.length, imported, failed: errors.length, errors }, null, 2));
        } else if (opts.dryRun) {
          console.log(`Checked ${records.length} row(s): ${imported} would be imported, ${errors.length} with errors. Nothing was written.`);
        } else {
          console.log(`Imported ${imported} of ${records.length} user(s); ${errors.length} row(s) failed.`);
        }
        if (errors.length) throw new ExitError(ExitCode.invalidInput);
      });
    });
}
