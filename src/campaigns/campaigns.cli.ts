/**
 * `gatehouse campaigns list|show|create|pause|resume|cancel|stats|watch`: the same CampaignService
 * the routes call, as an operator (no principal). `--json` prints JSON instead of tables.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { SYSTEM_ACTOR } from '../audit/audit.service.js';
import { renderTable } from '../cli/output.js';
import { createProgressBar } from '../cli/progress.js';
import type { OpenModule } from '../modules/contract.js';
import type { CampaignService, CampaignStats, CampaignView } from './campaigns.service.js';
import type { CampaignStatus } from './campaigns.schema.js';

const CLI_ACTOR = { ...SYSTEM_ACTOR, userAgent: 'gatehouse-cli' };

function best(v: number | null): string {
  return v === null ? '' : v.toFixed(9);
}

function progressRow(c: CampaignView): Record<string, string> {
  return {
    id: c.id,
    name: c.name,
    status: c.status,
    runs: `${c.runs_completed + c.runs_failed + c.runs_cancelled}/${c.runs_requested}`,
    failed: String(c.runs_failed),
    objective: c.objective,
    best: best(c.best_value),
  };
}

const PROGRESS_COLUMNS: Array<[string, keyof ReturnType<typeof progressRow>]> = [
  ['ID', 'id'],
  ['NAME', 'name'],
  ['STATUS', 'status'],
  ['RUNS DONE', 'runs'],
  ['FAILED', 'failed'],
  ['OBJECTIVE', 'objective'],
  ['BEST (bits)', 'best'],
];

/** What "best" means under an objective. */
function bestLabel(objective: 'min' | 'max' | null): string {
  return objective === 'max' ? 'best (bits, highest)' : objective === 'min' ? 'best (bits, lowest)' : 'best (bits)';
}

function printStats(stats: CampaignStats & { best_values?: { min: number | null; max: number | null } }): void {
  const r = stats.runs;
  console.log(
    renderTable(
      [
        { what: 'runs', value: `${r.requested} requested, ${r.spawned} spawned: ${r.queued} queued, ${r.running} running, ${r.paused} paused, ${r.succeeded} succeeded, ${r.failed} failed, ${r.cancelled} cancelled` },
        ...(stats.objective === null && stats.best_values
          ? [
              { what: 'best of min campaigns (bits)', value: best(stats.best_values.min) },
              { what: 'best of max campaigns (bits)', value: best(stats.best_values.max) },
            ]
          : [{ what: bestLabel(stats.objective), value: best(stats.best_value) }]),
        { what: 'values', value: stats.values.count ? `min ${best(stats.values.min)}, mean ${best(stats.values.mean)}, max ${best(stats.values.max)}` : '' },
        {
          what: 'run time (s)',
          value: stats.run_seconds.count ? `min ${stats.run_seconds.min?.toFixed(3)}, median ${stats.run_seconds.median?.toFixed(3)}, max ${stats.run_seconds.max?.toFixed(3)}` : '',
        },
        { what: 'runs/hour', value: stats.throughput_per_hour === null ? '' : stats.throughput_per_hour.toFixed(1) },
      ],
      [
        ['', 'what'],
        ['', 'value'],
      ],
    ),
  );
  if (stats.workers.length) {
    console.log('');
    console.log(
      renderTable(
        stats.workers.map((w) => ({ worker: w.worker_name ?? w.worker_id ?? '', succeeded: String(w.succeeded), failed: String(w.failed), cancelled: String(w.cancelled) })),
        [
          ['WORKER', 'worker'],
          ['SUCCEEDED', 'succeeded'],
          ['FAILED', 'failed'],
          ['CANCELLED', 'cancelled'],
        ],
      ),
    );
  }
}

function parseInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new Error(`${value} is not an integer`);
  return n;
}

/** Adds `gatehouse campaigns …` to `program`. */
export function campaignCommands(program: Command, open: OpenModule<CampaignService>): void {
  const campaigns = program.command('campaigns').description('Campaigns of numerical runs (channel-moe built in).');

  campaigns
    .command('list')
    .description('List campaigns, newest first, with their progress and best value.')
    .option('--status <status>', 'only campaigns in this status')
    .option('--json', 'one JSON object per line')
    .action((options: { status?: CampaignStatus; json?: boolean }) =>
      open(async (service) => {
        const items: CampaignView[] = [];
        let afterId: string | undefined;
        for (;;) {
          const page = await service.list({ limit: 200, afterId, status: options.status });
          items.push(...page.items);
          if (!page.next) break;
          afterId = page.next;
        }
        if (options.json) for (const c of items) console.log(JSON.stringify(c));
        else console.log(renderTable(items.map(progressRow), PROGRESS_COLUMNS));
      }),
    );

  campaigns
    .command('show <id>')
    .description('One campaign: its progress, best value and statistics.')
    .option('--json', 'JSON output')
    .action((id: string, options: { json?: boolean }) =>
      open(async (service) => {
        const campaign = await service.get(id);
        const stats = await service.stats(id);
        if (options.json) return void console.log(JSON.stringify({ campaign, stats }));
        console.log(renderTable([progressRow(campaign)], PROGRESS_COLUMNS));
        const p = campaign.params;
        console.log(`\nkind ${campaign.kind}: d_in ${p.d_in}, d_out ${p.d_out}, n_kraus ${p.n_kraus}, seed ${p.seed}, ${p.restarts} restarts, ${p.max_iterations} iterations at most; queue ${campaign.queue}`);
        if (campaign.input_file_id) console.log(`input (Kraus) file ${campaign.input_file_id}`);
        if (campaign.best_file_id) console.log(`best vector file ${campaign.best_file_id} (job ${campaign.best_job_id})`);
        if (campaign.error) console.log(`error: ${campaign.error}`);
        console.log('');
        printStats(stats);
      }),
    );

  campaigns
    .command('create')
    .description('Create a channel-moe campaign with a generated Haar-random channel.')
    .requiredOption('--name <name>', 'campaign name')
    .requiredOption('--d-in <n>', 'input dimension', parseInteger)
    .requiredOption('--d-out <n>', 'output dimension', parseInteger)
    .requiredOption('--n-kraus <n>', 'number of Kraus operators', parseInteger)
    .option('--runs <n>', 'runs (default 100)', parseInteger)
    .option('--objective <min|max>', 'min (default): the minimum output entropy; max: the maximum over pure inputs')
    .option('--seed <n>', 'seed of the channel (default: random, stored)', parseInteger)
    .option('--restarts <n>', 'random starts per run (default 10)', parseInteger)
    .option('--max-iterations <n>', 'iterations per start at most (default 1000)', parseInteger)
    .option('--queue <name>', 'queue (default CAMPAIGNS_QUEUE)')
    .option('--json', 'JSON output')
    .action(
      (options: { name: string; dIn: number; dOut: number; nKraus: number; runs?: number; objective?: string; seed?: number; restarts?: number; maxIterations?: number; queue?: string; json?: boolean }) =>
        open(async (service) => {
          const campaign = await service.create(
            null,
            {
              name: options.name,
              kind: 'channel-moe',
              queue: options.queue,
              runs: options.runs,
              objective: options.objective as 'min' | 'max' | undefined,
              params: { d_in: options.dIn, d_out: options.dOut, n_kraus: options.nKraus, seed: options.seed, restarts: options.restarts, max_iterations: options.maxIterations },
            },
            CLI_ACTOR,
          );
          if (options.json) console.log(JSON.stringify(campaign));
          else console.log(`campaign ${campaign.id} created (${campaign.status}, ${campaign.runs_requested} runs, objective ${campaign.objective}, seed ${campaign.params.seed})`);
        }),
    );

  for (const action of ['pause', 'resume', 'cancel'] as const) {
    campaigns
      .command(`${action} <id>`)
      .description({ pause: 'Pause a campaign (queued runs held, running ones told).', resume: 'Resume a paused campaign.', cancel: 'Cancel a campaign and its unfinished runs.' }[action])
      .option('--json', 'JSON output')
      .action((id: string, options: { json?: boolean }) =>
        open(async (service) => {
          const campaign = await service[action](id, CLI_ACTOR);
          if (options.json) console.log(JSON.stringify(campaign));
          else console.log(`campaign ${campaign.id}: ${campaign.status}`);
        }),
      );
  }

  campaigns
    .command('stats [id]')
    .description("One campaign's statistics, or every campaign's.")
    .option('--json', 'JSON output')
    .action((id: string | undefined, options: { json?: boolean }) =>
      open(async (service) => {
        if (id) {
          const stats = await service.stats(id);
          if (options.json) console.log(JSON.stringify(stats));
          else printStats(stats);
          return;
        }
        const all = await service.allStats();
        if (options.json) return void console.log(JSON.stringify(all));
        console.log(`${all.campaigns.total} campaigns: ${Object.entries(all.campaigns.by_status).filter(([, n]) => n > 0).map(([s, n]) => `${n} ${s}`).join(', ') || 'none'}\n`);
        printStats(all);
        if (all.items.length) {
          console.log('');
          console.log(
            renderTable(
              all.items.map((c): Record<string, string> => ({ id: c.id, name: c.name, status: c.status, runs: `${c.runs_completed}/${c.runs_requested}`, failed: String(c.runs_failed), objective: c.objective, best: best(c.best_value) })),
              PROGRESS_COLUMNS,
            ),
          );
        }
      }),
    );

  campaigns
    .command('watch <id>')
    .description('A live progress bar of a campaign (on a terminal) until it finishes; prints each new best.')
    .option('--interval <seconds>', 'seconds between looks (default 1)', Number, 1)
    .action((id: string, options: { interval: number }) =>
      open(async (service) => {
        let campaign = await service.get(id);
        const bar = createProgressBar(campaign.name, campaign.runs_requested);
        let lastBest = campaign.best_value;
        for (;;) {
          bar.update(campaign.runs_completed + campaign.runs_failed + campaign.runs_cancelled);
          if (campaign.best_value !== lastBest) {
            bar.log(`new best ${best(campaign.best_value)} bits (${campaign.objective === 'max' ? 'highest' : 'lowest'} so far; job ${campaign.best_job_id})`);
            lastBest = campaign.best_value;
          }
          if (campaign.status === 'complete' || campaign.status === 'cancelled' || campaign.status === 'failed') break;
          await sleep(Math.max(0.1, options.interval) * 1000);
          campaign = await service.get(id);
        }
        bar.done();
        console.log(renderTable([progressRow(campaign)], PROGRESS_COLUMNS));
      }),
    );
}
