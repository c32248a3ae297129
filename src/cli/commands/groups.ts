/** `gatehouse groups …`: groups, their permissions and policy (session lifetime, API key lifetime, quotas). */
import type { Command } from 'commander';
import type { GroupInput, GroupView } from '../../access/access.service.js';
import { CLI_ACTOR, countOrDefault, durationOrDefault, withGatehouse } from '../context.js';
import { renderTable } from '../output.js';

interface GroupOptions {
  description?: string;
  permission?: string[];
  sessionTtl?: number | 'default';
  apiKeyMaxTtl?: number | 'default';
  quotaPerHour?: number | 'default';
  quotaPerDay?: number | 'default';
  storageQuota?: number | 'default';
  requireMfa?: boolean;
  rename?: string;
  json: boolean;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function withPolicyOptions(command: Command): Command {
  return command
    .option('--description <text>', 'what the group is for')
    .option('--permission <perm>', 'a permission members get (repeatable), e.g. users:read or jobs:*', collect)
    .option('--session-ttl <duration>', 'session lifetime for members (e.g. 365d; 0 = never expires; "default")', durationOrDefault)
    .option('--api-key-max-ttl <duration>', 'longest API key lifetime (0 = non-expiring allowed; "default")', durationOrDefault)
    .option('--quota-per-hour <n>', 'API calls per hour (0 = unlimited; "default")', countOrDefault)
    .option('--quota-per-day <n>', 'API calls per day (0 = unlimited; "default")', countOrDefault)
    .option('--storage-quota <bytes>', 'bytes of stored files each member may own (0 = unlimited; "default" = STORAGE_QUOTA_BYTES)', countOrDefault)
    .option('--require-mfa', 'members must turn on two-factor authentication (TOTP) before anything else')
    .option('--no-require-mfa', 'lift the two-factor requirement')
    .option('--json', 'print JSON', false);
}

/** `default` (from the option parsers) → null: the group sets nothing, the configured default applies. */
function orNull(value: number | 'default' | undefined): number | null | undefined {
  return value === 'default' ? null : value;
}

function toInput(options: GroupOptions): GroupInput {
  return {
    description: options.description,
    permissions: options.permission,
    session_ttl_seconds: orNull(options.sessionTtl),
    api_key_max_ttl_seconds: orNull(options.apiKeyMaxTtl),
    quota_per_hour: orNull(options.quotaPerHour),
    quota_per_day: orNull(options.quotaPerDay),
    storage_quota_bytes: orNull(options.storageQuota),
    require_mfa: options.requireMfa,
  };
}

function printGroup(group: GroupView, json: boolean): void {
  if (json) console.log(JSON.stringify(group, null, 2));
  else console.log(`${group.name} (${group.id}): permissions ${group.permissions.join(', ') || '-'}${group.require_mfa ? '; two-factor required' : ''}`);
}

/** Registers the `groups` command tree on `program`. */
export function registerGroupCommands(program: Command): void {
  const groups = program.command('groups').description('Manage groups: extra permissions and policy for their members.');

  groups
    .command('list')
    .description('List groups.')
    .option('--json', 'print JSON', false)
    .action(async (opts: { json: boolean }) => {
      await withGatehouse(async (gatehouse) => {
        const list = await gatehouse.access.listGroups();
        if (opts.json) return console.log(JSON.stringify({ items: list }, null, 2));
        if (list.length === 0) return console.log('No groups.');
        const show = (v: number | null) => (v === null ? 'default' : v === 0 ? 'unlimited' : String(v));
        console.log(
          renderTable(
            list.map((g) => ({
              name: g.name,
              permissions: g.permissions.join(',') || '-',
              session_ttl: show(g.session_ttl_seconds),
              key_ttl: show(g.api_key_max_ttl_seconds),
              per_hour: show(g.quota_per_hour),
              per_day: show(g.quota_per_day),
              mfa: g.require_mfa ? 'required' : '-',
            })),
            [
              ['NAME', 'name'],
              ['PERMISSIONS', 'permissions'],
              ['SESSION TTL (s)', 'session_ttl'],
              ['KEY MAX TTL (s)', 'key_ttl'],
              ['QUOTA/HOUR', 'per_hour'],
              ['QUOTA/DAY', 'per_day'],
              ['TWO-FACTOR', 'mfa'],
            ],
          ),
        );
      });
    });

  withPolicyOptions(groups.command('create <name>').description('Create a group.')).action(
    async (name: string, opts: GroupOptions) => {
      await withGatehouse(async (gatehouse) => {
        printGroup(await gatehouse.access.createGroup({ ...toInput(opts), name }, CLI_ACTOR), opts.json);
      });
    },
  );

  withPolicyOptions(groups.command('update <group>').description('Change a group (name or id).'))
    .option('--rename <name>', 'new name')
    .action(async (group: string, opts: GroupOptions) => {
      await withGatehouse(async (gatehouse) => {
        printGroup(await gatehouse.access.updateGroup(group, { ...toInput(opts), name: opts.rename }, CLI_ACTOR), opts.json);
      });
    });

  groups
    .command('delete <group>')
    .description('Delete a group (members lose what it granted).')
    .action(async (group: string) => {
      await withGatehouse(async (gatehouse) => {
        await gatehouse.access.deleteGroup(group, CLI_ACTOR);
        console.log(`Deleted group ${group}.`);
      });
    });

  for (const [name, member] of [
    ['add-member', true],
    ['remove-member', false],
  ] as const) {
    groups
      .command(`${name} <group> <email>`)
      .description(member ? 'Add a user (by email) to a group.' : 'Remove a user (by email) from a group.')
      .action(async (group: string, email: string) => {
        await withGatehouse(async (gatehouse) => {
          const user = await gatehouse.users.getByEmail(email);
          await gatehouse.access.setMembership(group, user.id, member, CLI_ACTOR);
          console.log(member ? `${user.email} is now in ${group}.` : `${user.email} is no longer in ${group}.`);
        });
      });
  }
}
