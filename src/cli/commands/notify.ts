/**
 * `gatehouse notify …`: channel status, test messages, pausing and resuming channels, the outbox
 * (pending and dead deliveries, retry) and the built-in templates for operators to copy.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import type { OutboxRow } from '../../db/schema.js';
import { type Channel, CHANNELS, isChannel } from '../../notify/events.js';
import { BUILT_IN_TEMPLATES } from '../../notify/templates.js';
import { AppError } from '../../shared/errors.js';
import { positiveInt, withGatehouse } from '../context.js';
import { renderTable } from '../output.js';

function channelArg(value: string): Channel {
  if (!isChannel(value)) throw new InvalidArgumentError(`must be one of ${CHANNELS.join(', ')}`);
  return value;
}

function statusArg(value: string): OutboxRow['status'] {
  if (value !== 'pending' && value !== 'dead' && value !== 'sent') throw new InvalidArgumentError('must be pending, dead or sent');
  return value;
}

/** An outbox row as the CLI shows it (no body: it can hold sign-in links). */
function outboxView(m: OutboxRow) {
  return {
    id: m.id,
    channel: m.channel,
    recipient: m.recipient,
    template: m.template,
    status: m.status,
    attempts: m.attempts,
    next_attempt_at: m.status === 'pending' ? m.next_attempt_at : null,
    created_at: m.created_at,
    sent_at: m.sent_at,
    last_error: m.last_error,
  };
}

const OUTBOX_COLUMNS: Array<[string, keyof ReturnType<typeof outboxView>]> = [
  ['ID', 'id'],
  ['CHANNEL', 'channel'],
  ['RECIPIENT', 'recipient'],
  ['TEMPLATE', 'template'],
  ['STATUS', 'status'],
  ['ATTEMPTS', 'attempts'],
  ['NEXT ATTEMPT', 'next_attempt_at'],
  ['LAST ERROR', 'last_error'],
];

/**
 * Registers `notify channels|test|enable|disable|outbox|templates` on `program`. A failed test
 * delivery exits 1 (`error: …`), an unknown channel or message id exits 2.
 */
export function registerNotifyCommands(program: Command): void {
  const notify = program.command('notify').description('Notification channels (email, Mattermost, webhook) and the outbox.');

  notify
    .command('channels')
    .description('Show each channel: configured (environment) and enabled (notify enable|disable).')
    .option('--json', 'print JSON', false)
    .action(async (opts: { json: boolean }) => {
      await withGatehouse(async (gatehouse) => {
        const states = await gatehouse.notify.channelStates();
        if (opts.json) return console.log(JSON.stringify(states, null, 2));
        console.log(renderTable(states.map((s) => ({ ...s })), [['CHANNEL', 'channel'], ['CONFIGURED', 'configured'], ['ENABLED', 'enabled'], ['ACTIVE', 'active']]));
      });
    });

  notify
    .command('test')
    .description('Send a test message on one channel now and report the outcome (exit 1 when it failed; it stays in the outbox for retries).')
    .requiredOption('--channel <channel>', `one of ${CHANNELS.join(', ')}`, channelArg)
    .option('--to <email>', 'email recipient (default: the admin recipients: ADMIN_EMAILS and active admins whose profile has "notify_admin": true)')
    .option('--json', 'print JSON', false)
    .action(async (opts: { channel: Channel; to?: string; json: boolean }) => {
      await withGatehouse(async (gatehouse) => {
        const state = (await gatehouse.notify.channelStates()).find((s) => s.channel === opts.channel);
        if (!state?.configured) {
          throw new AppError('validation_failed', `The ${opts.channel} channel is not configured (see the README's Notifications section).`);
        }
        if (opts.channel === 'email' && !opts.to && (await gatehouse.notify.adminRecipients()).length === 0) {
          throw new AppError(
            'validation_failed',
            'No email recipient: pass --to EMAIL, set ADMIN_EMAILS, or opt an active admin in with the profile key "notify_admin": true (gatehouse users edit EMAIL --profile \'{"notify_admin":true}\' replaces their whole profile).',
          );
        }
        const results = await gatehouse.notify.sendTest(opts.channel, { to: opts.to, requestedBy: 'gatehouse notify test' });
        if (opts.json) {
          console.log(JSON.stringify(results.map(outboxView), null, 2));
        } else {
          if (!state.enabled) console.log(`Note: ${opts.channel} is disabled; the test was sent anyway. Run "gatehouse notify enable ${opts.channel}".`);
          for (const m of results.filter((r) => r.status === 'sent')) {
            console.log(`Sent a test message on ${m.channel} to ${m.recipient} (${m.id}).`);
          }
        }
        const failed = results.filter((m) => m.status !== 'sent');
        if (failed.length) {
          // main() prints the message and exits 1.
          throw new Error(
            failed
              .map((m) => `the test message on ${m.channel} to ${m.recipient} failed: ${m.last_error ?? 'unknown error'}; it stays in the outbox (${m.id}) and will be retried`)
              .join('\n'),
          );
        }
      });
    });

  for (const [name, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    notify
      .command(`${name} <channel>`)
      .description(
        enabled
          ? 'Resume deliveries on a channel (for every instance); messages queued meanwhile are sent.'
          : 'Pause deliveries on a channel (for every instance); new messages are queued and wait for "notify enable".',
      )
      .action(async (channel: string) => {
        const parsed = channelArg(channel);
        await withGatehouse(async (gatehouse) => {
          await gatehouse.notify.setChannelEnabled(parsed, enabled);
          const state = (await gatehouse.notify.channelStates()).find((s) => s.channel === parsed);
          console.log(`The ${parsed} channel is ${enabled ? 'enabled' : 'disabled'}.`);
          if (enabled && !state?.configured) console.log(`It is not configured, so nothing is sent on it until it is.`);
        });
      });
  }

  notify
    .command('outbox')
    .description('List undelivered messages (pending and dead), or retry them.')
    .option('--status <status>', 'only messages with this status: pending, dead or sent', statusArg)
    .option('--limit <n>', 'at most this many per status', positiveInt, 100)
    .option('--retry <id>', 'make this pending or dead message due now, with a fresh series of attempts')
    .option('--retry-dead', 'retry every dead message', false)
    .option('--json', 'print JSON', false)
    .action(async (opts: { status?: OutboxRow['status']; limit: number; retry?: string; retryDead: boolean; json: boolean }) => {
      await withGatehouse(async (gatehouse) => {
        if (opts.retry !== undefined || opts.retryDead) {
          let count = 0;
          if (opts.retry !== undefined) {
            if (!(await gatehouse.outbox.retry(opts.retry))) {
              throw new AppError('not_found', `No pending or dead outbox message ${opts.retry}.`);
            }
            count += 1;
          }
          if (opts.retryDead) count += await gatehouse.outbox.retryDead();
          if (opts.json) return console.log(JSON.stringify({ retried: count }));
          console.log(`${count} message${count === 1 ? '' : 's'} queued for delivery; a running server sends them within MAIL_POLL_SECONDS.`);
          return;
        }
        const statuses: OutboxRow['status'][] = opts.status ? [opts.status] : ['pending', 'dead'];
        const rows: OutboxRow[] = [];
        for (const status of statuses) rows.push(...(await gatehouse.outbox.list(status, opts.limit)));
        rows.sort((a, b) => (a.id < b.id ? 1 : -1));
        const views = rows.map(outboxView);
        if (opts.json) return console.log(JSON.stringify({ items: views }, null, 2));
        if (views.length === 0) return console.log(opts.status ? `No ${opts.status} messages.` : 'No undelivered messages.');
        console.log(renderTable(views.map((v) => ({ ...v, last_error: v.last_error?.slice(0, 80) ?? null })), OUTBOX_COLUMNS));
      });
    });

  notify
    .command('templates')
    .description('List the template names, or write the built-in templates into a directory to edit and use as TEMPLATES_DIR.')
    .option('--export <dir>', 'write every built-in template as <dir>/<name>.eta (existing files are overwritten)')
    .action((opts: { export?: string }) => {
      const names = Object.keys(BUILT_IN_TEMPLATES).sort();
      if (!opts.export) return console.log(names.join('\n'));
      const dir = path.resolve(opts.export);
      mkdirSync(dir, { recursive: true });
      for (const name of names) writeFileSync(path.join(dir, `${name}.eta`), BUILT_IN_TEMPLATES[name] ?? '');
      console.log(`Wrote ${names.length} templates to ${dir}. Keep the files you change, delete the others, and set TEMPLATES_DIR=${dir}.`);
    });
}
