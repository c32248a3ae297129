/**
 * The example feature module of docs/architecture.md: a table, routes, a job hook, a live topic,
 * a config section, permissions, an error code, a notification, a scheduled task, a built-in worker and a
 * CLI command, in one folder. Registered by adding it
 * to a module list (`createGatehouse(config, { modules: [...MODULES, tallyModule] })` here; a
 * shipped feature adds one line to `src/modules/index.ts`).
 */
import { z } from 'zod';
import type { NotifyUser } from '../../src/notify/events.js';
import { emailTemplates } from '../../src/notify/templates.js';
import { defineModule } from '../../src/modules/contract.js';
import { renderTable } from '../../src/cli/output.js';
import { tallyMigrations } from './tally.migrations.js';
import { tallyRoutes } from './tally.routes.js';
import './tally.schema.js';
import { TALLY_KIND, TALLY_PARENT, TALLY_TOPIC, TallyService, type TallySettings } from './tally.service.js';

declare module '../../src/shared/errors.js' {
  interface ModuleErrorCodes {
    tally_too_long: true;
  }
}

declare module '../../src/notify/events.js' {
  interface ModuleNotifyEvents {
    /** A tally's job failed for good, was cancelled or died: its owner is told. */
    'tally.failed': { user: NotifyUser; tally_id: string; outcome: string; url: string };
  }
}

/** The example module. */
export const tallyModule = defineModule<TallyService, TallySettings>({
  name: 'tally',
  description: 'Example: sums of numbers computed by workers (docs/architecture.md).',
  migrations: tallyMigrations,
  permissions: {
    'tallies:write': { description: 'Ask for tallies and read your own', roles: ['user'] },
    'tallies:manage': { description: "Read everyone's tallies" },
  },
  errors: { tally_too_long: { status: 422, title: 'Too many numbers for one tally' } },
  notifications: {
    events: { 'tally.failed': [{ audience: 'user', template: 'tally_failed' }] },
    templates: emailTemplates('tally_failed', {
      subject: 'Your tally could not be computed',
      title: "'Your tally could not be computed'",
      paragraphs: ['The job computing tally <%= it.tally_id %> ended <%= it.outcome %>.'],
      action: { label: 'See the tally', url: 'it.url' },
      footer: 'You receive this because you asked for this tally.',
    }),
  },
  config: {
    schema: z.object({
      TALLY_QUEUE: z.string().regex(/^[a-z0-9._-]{1,64}$/, 'must be a queue name').default('tally'),
      TALLY_MAX_NUMBERS: z.coerce.number().int().min(1).max(100_000).default(1000),
      TALLY_RETENTION_DAYS: z.coerce.number().int().min(1).default(30),
    }),
    settings: (v) => ({ queue: v.TALLY_QUEUE as string, maxNumbers: v.TALLY_MAX_NUMBERS as number, retentionDays: v.TALLY_RETENTION_DAYS as number }),
  },
  create: ({ gatehouse, settings }) =>
    new TallyService({
      db: gatehouse.database.db,
      write: gatehouse.database.write,
      clock: gatehouse.clock,
      jobs: gatehouse.jobs,
      queues: gatehouse.queues,
      topics: gatehouse.topics,
      notify: gatehouse.notify,
      publicUrl: gatehouse.config.server.publicUrl,
      settings,
    }),
  routes: (api, tallies) => tallyRoutes(api, tallies),
  builtinWorkers: (settings) => [
    {
      name: 'tally',
      description: 'Adds up the numbers of tally.sum jobs.',
      handlers: new URL('./tally.handler.js', import.meta.url),
      kinds: [TALLY_KIND],
      queues: [settings.queue],
    },
  ],
  tasks: (tallies) => [
    {
      name: 'prune',
      description: 'Delete settled tallies older than TALLY_RETENTION_DAYS.',
      schedule: '40 3 * * *',
      run: async (now) => ({ detail: { tallies_deleted: await tallies.prune(now) } }),
    },
  ],
  topics: (tallies) => [
    { prefix: TALLY_TOPIC, description: 'One tally: `tally.settled` when its job ends.', authorize: (principal, id) => tallies.authorizeTopic(principal, id) },
  ],
  jobHooks: (tallies) => [{ name: 'tally.record', parentTypes: [TALLY_PARENT], kinds: [TALLY_KIND], handle: (event) => tallies.recordOutcome(event) }],
  commands(program, open) {
    program
      .command('tallies')
      .description('List tallies (example module).')
      .option('--json', 'one JSON object per line')
      .action((options: { json?: boolean }) =>
        open(async (tallies) => {
          const items = await tallies.list(null);
          if (options.json) for (const t of items) console.log(JSON.stringify(t));
          else {
            const rows = items.map((t) => ({ id: t.id, status: t.status, sum: t.result ? String(t.result.sum) : '', numbers: String(t.numbers.length) }));
            console.log(renderTable(rows, [['ID', 'id'], ['STATUS', 'status'], ['NUMBERS', 'numbers'], ['SUM', 'sum']]));
          }
        }),
      );
  },
});
