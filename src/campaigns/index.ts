/**
 * The campaigns feature module (docs/campaigns.md): N runs of a numerical job over one input,
 * tracked to the best result, with the built-in kind `channel-moe` (the minimum output entropy of
 * a quantum channel) and its built-in worker.
 */
import { z } from 'zod';
import { defineModule } from '../modules/contract.js';
import { campaignCommands } from './campaigns.cli.js';
import { campaignMigrations } from './campaigns.migrations.js';
import { campaignPlatform } from './campaigns.platform.js';
import './campaigns.schema.js';
import { CampaignService, type CampaignSettings, GENERATE_KIND, MINIMIZE_KIND } from './campaigns.service.js';

declare module '../shared/errors.js' {
  interface ModuleErrorCodes {
    invalid_kraus: true;
  }
}

/** The campaigns module. */
export const campaignsModule = defineModule<CampaignService, CampaignSettings>({
  name: 'campaigns',
  description: 'Campaigns: N runs of a numerical job over one input, tracked to the best result; channel-moe built in.',
  migrations: campaignMigrations,
  permissions: {
    'campaigns:manage': { description: 'Create campaigns, raise their runs, pause, resume and cancel them' },
    'campaigns:read': { description: 'Read campaigns, their runs, statistics, files and live progress', roles: ['user'] },
  },
  errors: { invalid_kraus: { status: 422, title: 'The Kraus operators are not usable for this campaign' } },
  config: {
    schema: z.object({
      CAMPAIGNS_QUEUE: z.string().regex(/^[a-z0-9._-]{1,64}$/, 'must be a queue name').default('campaigns'),
      CAMPAIGNS_MAX_RUNS: z.coerce.number().int().min(1).max(1_000_000).default(100_000),
      CAMPAIGNS_MAX_DIMENSION: z.coerce.number().int().min(1).max(1024).default(64),
    }),
    settings: (v) => ({ queue: v.CAMPAIGNS_QUEUE as string, maxRuns: v.CAMPAIGNS_MAX_RUNS as number, maxDimension: v.CAMPAIGNS_MAX_DIMENSION as number }),
  },
  create: ({ gatehouse, settings }) =>
    new CampaignService({
      db: gatehouse.database.db,
      write: gatehouse.database.write,
      clock: gatehouse.clock,
      jobs: gatehouse.jobs,
      queues: gatehouse.queues,
      files: gatehouse.files,
      notify: gatehouse.notify,
      platform: campaignPlatform(gatehouse),
      publicUrl: gatehouse.config.server.publicUrl,
      settings,
    }),
  // The built-in channel-moe worker claims from CAMPAIGNS_QUEUE: it must exist before the first campaign.
  start: (campaigns) => campaigns.ensureQueue(),
  async routes(api, campaigns) {
    // Loaded on first use: CLI commands never pay for the HTTP stack.
    const { campaignRoutes } = await import('./campaigns.routes.js');
    await campaignRoutes(api, campaigns);
  },
  jobHooks: (campaigns) => [
    { name: 'campaigns.generated', kinds: [GENERATE_KIND], handle: (event) => campaigns.recordGeneration(event) },
    { name: 'campaigns.run', kinds: [MINIMIZE_KIND], handle: (event) => campaigns.recordRun(event) },
  ],
  topics: (campaigns) => [
    {
      prefix: 'campaign',
      description: "A campaign's counters, new bests and status changes (campaigns:read).",
      authorize: (principal, id) => campaigns.authorizeWatch(principal, id),
    },
  ],
  fileAccess: (campaigns) => [{ name: 'campaigns.files', mayRead: (file, principal) => campaigns.mayReadFile(file, principal) }],
  builtinWorkers: (settings) => [
    {
      name: 'channel-moe',
      description: 'Generates Haar-random channels and minimises their output entropy (channel-moe.generate, channel-moe.minimize).',
      handlers: new URL('./channel-moe.handler.js', import.meta.url),
      kinds: [GENERATE_KIND, MINIMIZE_KIND],
      queues: [settings.queue],
    },
  ],
  commands: campaignCommands,
});
