/**
 * `gatehouse queues …`: list, create, update, statistics, pause and resume job queues from a
 * terminal. Settings and their ranges are those of `POST /api/v1/queues` (docs/jobs.md, "Queue").
 */
import { type Command, InvalidArgumentError } from 'commander';
import type { QueueSettings, QueueStats } from '../../jobs/queues.service.js';
import type { QueueView } from '../../jobs/model.js';
import { CLI_ACTOR, intIn, parseDuration, withGatehouse } from '../context.js';
import { ExitCode, ExitError, renderTable } from '../output.js';

/** Options shared by `queues create` and `queues update` (commander's camel-cased names). */
interface QueueSettingOptions {
  description?: string;
  leaseSeconds?: number;
  maxAttempts?: number;
  maxLeaseExpiries?: number;
  backoffBase?: number;
  backoffMax?: number;
  concurrency?: number;
  enqueuePermission?: string;
  claimPermission?: string;
  json: boolean;
}

/** commander parser for seconds (or `90s`, `15m`, `12h`, `7d`, `2w`) in `min..max` seconds. */
function secondsIn(min: number, max: number) {
  return (value: string): number => {
    const seconds = parseDuration(value);
    if (seconds === null || seconds < min || seconds > max) {
      throw new InvalidArgumentError(`must be ${min}..${max} seconds (or a duration such as 90s, 15m, 12h)`);
    }
    return seconds;
  };
}

function withSettingOptions(command: Command): Command {
  return command
    .option('--description <text>', 'what the queue is for')
    .option('--lease-seconds <s>', 'how long a claim or heartbeat holds a job, 5..86400 (default 60)', secondsIn(5, 86_400))
    .option('--max-attempts <n>', 'reported failures before a retryable job ends dead, 1..1000 (default 5)', intIn(1, 1000))
    .option('--max-lease-expiries <n>', 'lapsed leases before a job ends dead, 1..1000 (default 3)', intIn(1, 1000))
    .option('--backoff-base <s>', 'first retry delay; doubles per failure, 0..86400 (default 10)', secondsIn(0, 86_400))
    .option('--backoff-max <s>', 'longest retry delay, 0..604800 (default 3600)', secondsIn(0, 7 * 86_400))
    .option('--concurrency <n>', 'jobs one worker may hold in total when it claims here, 1..1000 (default 1)', intIn(1, 1000))
    .option('--enqueue-permission <perm>', 'permission callers need to enqueue (default jobs:enqueue)')
    .option('--claim-permission <perm>', "permission a worker's API key needs to claim (default jobs:claim)")
    .option('--json', 'print the queue as JSON', false);
}

function toSettings(opts: QueueSettingOptions): QueueSettings {
  const settings: QueueSettings = {
    description: opts.description,
    lease_seconds: opts.leaseSeconds,
    max_attempts: opts.maxAttempts,
    max_lease_expiries: opts.maxLeaseExpiries,
    backoff_base_seconds: opts.backoffBase,
    backoff_max_seconds: opts.backoffMax,
    worker_concurrency: opts.concurrency,
    enqueue_permission: opts.enqueuePermission,
    claim_permission: opts.claimPermission,
  };
  if (settings.description !== undefined && settings.description.length > 1000) {
    throw new ExitError(ExitCode.invalidInput, 'error: --description is at most 1000 characters.');
  }
  // Leave out what was not given, so the defaults (create) or current values (update) apply.
  return Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined)) as QueueSettings;
}

function printQueue(queue: QueueView, json: boolean, message: string): void {
  console.log(json ? JSON.stringify(queue, null, 2) : message);
}

function describeQueue(queue: QueueView): string {
  const rows: Array<[string, string]> = [
    ['Name', queue.name],
    ['Description', queue.description || '-'],
    ['Paused', queue.paused ? 'yes' : 'no'],
    ['Lease', `${queue.lease_seconds} s`],
    ['Max attempts', String(queue.max_attempts)],
    ['Max lease expiries', String(queue.max_lease_expiries)],
    ['Backoff', `${queue.backoff_base_seconds} s doubling, at most ${queue.backoff_max_seconds} s`],
    ['Worker concurrency', String(queue.worker_concurrency)],
    ['Enqueue permission', queue.enqueue_permission],
    ['Claim permission', queue.claim_permission],
    ['Created', queue.created_at],
    ['Updated', queue.updated_at],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${`${k}:`.padEnd(width + 2)}${v}`).join('\n');
}

function describeStats(stats: QueueStats): string {
  const c = stats.counts;
  const rows: Array<[string, string]> = [
    ['Queue', stats.queue],
    ['Paused', stats.paused ? 'yes' : 'no'],
    ['Queued', String(c.queued)],
    ['Running', String(c.running)],
    ['Paused jobs', String(c.paused)],
    ['Succeeded', String(c.succeeded)],
    ['Failed', String(c.failed)],
    ['Dead', String(c.dead)],
    ['Cancelled', String(c.cancelled)],
    ['Succeeded (last hour)', String(stats.succeeded_last_hour)],
    ['Failed (last hour)', String(stats.failed_last_hour)],
    ['Mean run time', stats.mean_duration_ms === null ? '-' : `${stats.mean_duration_ms} ms`],
    ['p95 run time', stats.p95_duration_ms === null ? '-' : `${stats.p95_duration_ms} ms`],
    ['Oldest queued', stats.oldest_queued_age_s === null ? '-' : `${stats.oldest_queued_age_s} s`],
    ['Active workers', String(stats.active_workers)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${`${k}:`.padEnd(width + 2)}${v}`).join('\n');
}

function statsTable(all: QueueStats[]): string {
  return renderTable(
    all.map((s) => ({
      ...s.counts,
      ...s,
      held: s.counts.paused,
      mean: s.mean_duration_ms,
      p95: s.p95_duration_ms,
      oldest: s.oldest_queued_age_s,
    })),
    [
      ['QUEUE', 'queue'],
      ['PAUSED', 'paused'],
      ['QUEUED', 'queued'],
      ['RUNNING', 'running'],
      ['PAUSED JOBS', 'held'],
      ['SUCCEEDED', 'succeeded'],
      ['FAILED', 'failed'],
      ['DEAD', 'dead'],
      ['CANCELLED', 'cancelled'],
      ['OK/1H', 'succeeded_last_hour'],
      ['FAILED/1H', 'failed_last_hour'],
      ['MEAN MS', 'mean'],
      ['P95 MS', 'p95'],
      ['OLDEST QUEUED S', 'oldest'],
      ['WORKERS', 'active_workers'],
    ],
  );
}

/**
 * Registers `queues list|show|create|update|stats|pause|resume` on `program`. Read commands take
 * `--json`; an unknown queue or a bad setting exits 2.
 */
export function registerQueueCommands(program: Command): void {
  const queues = program.command('queues').description('Job queues: settings, statistics, pause and resume.');

  queues
    .command('list')
    .description('List the queues with their settings and how many jobs are queued and running.')
    .option('--json', 'print JSON instead of a table', false)
    .action(async (opts: { json: boolean }) => {
      await withGatehouse(async (gatehouse) => {
        const list = await gatehouse.queues.list();
        const stats = new Map((await gatehouse.queues.allStats()).map((s) => [s.queue, s]));
        const items = list.map((q) => ({ ...q, counts: stats.get(q.name)?.counts ?? null }));
        if (opts.json) return console.log(JSON.stringify({ items }, null, 2));
        if (items.length === 0) return console.log('No queues. Create one with: gatehouse queues create NAME');
        console.log(
          renderTable(
            items.map((q) => ({
              ...q,
              lease: `${q.lease_seconds}s`,
              queued: q.counts?.queued ?? 0,
              running: q.counts?.running ?? 0,
              failed: (q.counts?.failed ?? 0) + (q.counts?.dead ?? 0),
              description: q.description ? q.description.slice(0, 40) : null,
            })),
            [
              ['NAME', 'name'],
              ['PAUSED', 'paused'],
              ['LEASE', 'lease'],
              ['MAX ATTEMPTS', 'max_attempts'],
              ['CONCURRENCY', 'worker_concurrency'],
              ['QUEUED', 'queued'],
              ['RUNNING', 'running'],
              ['FAILED+DEAD', 'failed'],
              ['DESCRIPTION', 'description'],
            ],
          ),
        );
      });
    });

  queues
    .command('show <name>')
    .description("Show one queue's settings.")
    .option('--json', 'print JSON', false)
    .action(async (name: string, opts: { json: boolean }) => {
      await withGatehouse(async (gatehouse) => {
        const queue = await gatehouse.queues.get(name);
        printQueue(queue, opts.json, describeQueue(queue));
      });
    });

  withSettingOptions(queues.command('create <name>').description('Create a queue (name: lower-case letters, digits, ".", "_", "-").')).action(
    async (name: string, opts: QueueSettingOptions) => {
      const settings = toSettings(opts);
      await withGatehouse(async (gatehouse) => {
        const queue = await gatehouse.queues.create(name, settings, CLI_ACTOR);
        printQueue(queue, opts.json, `Created queue ${queue.name}.\n${describeQueue(queue)}`);
      });
    },
  );

  withSettingOptions(queues.command('update <name>').description("Change a queue's settings (only those given).")).action(
    async (name: string, opts: QueueSettingOptions) => {
      const settings = toSettings(opts);
      await withGatehouse(async (gatehouse) => {
        const queue = await gatehouse.queues.update(name, settings, CLI_ACTOR);
        printQueue(queue, opts.json, `Updated queue ${queue.name}.\n${describeQueue(queue)}`);
      });
    },
  );

  queues
    .command('stats [name]')
    .description('Statistics of one queue, or of every queue: jobs by state, last-hour successes and failures, run times, oldest queued job, active workers.')
    .option('--json', 'print JSON', false)
    .action(async (name: string | undefined, opts: { json: boolean }) => {
      await withGatehouse(async (gatehouse) => {
        if (name !== undefined) {
          const stats = await gatehouse.queues.stats(name);
          return console.log(opts.json ? JSON.stringify(stats, null, 2) : describeStats(stats));
        }
        const all = await gatehouse.queues.allStats();
        if (opts.json) return console.log(JSON.stringify({ items: all }, null, 2));
        console.log(all.length ? statsTable(all) : 'No queues.');
      });
    });

  for (const [verb, paused] of [
    ['pause', true],
    ['resume', false],
  ] as const) {
    queues
      .command(`${verb} <name>`)
      .description(paused ? 'Stop workers claiming from a queue (enqueueing continues; running jobs go on).' : 'Let workers claim from a paused queue again.')
      .option('--json', 'print the queue as JSON', false)
      .action(async (name: string, opts: { json: boolean }) => {
        await withGatehouse(async (gatehouse) => {
          const queue = paused ? await gatehouse.queues.pause(name, CLI_ACTOR) : await gatehouse.queues.resume(name, CLI_ACTOR);
          printQueue(queue, opts.json, paused ? `Paused queue ${queue.name}: nothing is claimed from it until it is resumed.` : `Resumed queue ${queue.name}.`);
        });
      });
  }
}
