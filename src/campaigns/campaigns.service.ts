/**
 * Campaigns: N runs of a numerical job over one input file, tracked to the best result
 * (docs/campaigns.md). The built-in kind `channel-moe` generates (or takes) a quantum channel's
 * Kraus operators and spawns `runs` minimisations of its output entropy.
 *
 * Consistency: the campaign's counters and best are written only by the job hooks, inside the
 * transaction that records each run's outcome, and the runs a generated input needs are enqueued
 * inside the transaction that records the generation (`enqueueIn`), so the campaign row and its
 * jobs never disagree, whatever crashes when.
 */
import { randomInt } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Kysely } from 'kysely';
import { allows } from '../access/permissions.js';
import { type ActorContext, SYSTEM_ACTOR } from '../audit/audit.service.js';
import type { Principal } from '../auth/auth.service.js';
import type { Database, FileRow, JobState } from '../db/schema.js';
import type { WriteTransaction, WriteTx } from '../db/transaction.js';
import type { FileService } from '../files/files.service.js';
import type { JobOutcomeEvent } from '../jobs/job-hooks.js';
import type { EnqueueInput, JobService } from '../jobs/jobs.service.js';
import type { JobView } from '../jobs/model.js';
import type { QueueService } from '../jobs/queues.service.js';
import type { NotifyService } from '../notify/notify.service.js';
import type { Clock } from '../shared/clock.js';
import { AppError, isAppError } from '../shared/errors.js';
import { newId } from '../shared/ids.js';
import { pageOfRows } from '../shared/paging.js';
import { krausFromNpy, NpyFormatError, readNpy } from './channel/npy.js';
import type { CampaignPlatform } from './campaigns.platform.js';
import {
  addRunCounts,
  allCampaigns,
  finishIfDone,
  findCampaign,
  findCampaignOfFile,
  findRun,
  improveBest,
  insertBest,
  insertCampaign,
  listBest,
  listCampaigns,
  listRuns,
  recomputeBest,
  saveRun,
  updateCampaign,
} from './campaigns.repo.js';
import type { CampaignObjective, CampaignRow, CampaignRunRow, CampaignStatus } from './campaigns.schema.js';
import type { AllCampaignStats, CampaignRunView, CampaignStats, CampaignView, ChannelMoeParams, CreateCampaignInput, Spread } from './campaigns.views.js';

/** The one built-in kind. */
export const CHANNEL_MOE = 'channel-moe';
/** Job kinds of `channel-moe`: make the Kraus operators; minimise the output entropy once. */
export const GENERATE_KIND = 'channel-moe.generate';
export const MINIMIZE_KIND = 'channel-moe.minimize';
/** The `parent_type` of every job a campaign spawns (`parent_id` is the campaign's id). */
export const CAMPAIGN_PARENT = 'campaign';
/** Largest uploaded Kraus deviation from Σ K†K = I accepted (max absolute entry). */
export const KRAUS_TOLERANCE = 1e-8;

/** The module's settings (`CAMPAIGNS_QUEUE`, `CAMPAIGNS_MAX_RUNS`, `CAMPAIGNS_MAX_DIMENSION`). */
export interface CampaignSettings {
  /** Default queue of campaign jobs (the built-in worker claims from it). */
  queue: string;
  /** Most runs one campaign may request. */
  maxRuns: number;
  /** Largest d_in and d_out accepted; n_kraus·d_out is bounded by its square. */
  maxDimension: number;
}

export type { AllCampaignStats, CampaignRunView, CampaignStats, CampaignView, ChannelMoeParams, CreateCampaignInput, Spread };

/** Dependencies of {@link CampaignService}. */
export interface CampaignServiceOptions {
  db: Kysely<Database>;
  /** The database handle's write transaction (`gatehouse.database.write`). */
  write: WriteTransaction;
  clock: Clock;
  jobs: JobService;
  queues: QueueService;
  files: FileService;
  notify: NotifyService;
  platform: CampaignPlatform;
  /** Base URL for links in notifications. */
  publicUrl: string;
  settings: CampaignSettings;
}

const STATUSES: readonly CampaignStatus[] = ['generating', 'running', 'paused', 'complete', 'cancelled', 'failed'];
const FINISHED: readonly CampaignStatus[] = ['complete', 'cancelled', 'failed'];

/** Converts a row to its API view. */
export function toCampaignView(row: CampaignRow): CampaignView {
  return {
    id: row.id,
    owner_id: row.owner_id,
    name: row.name,
    kind: row.kind,
    queue: row.queue,
    status: row.status,
    objective: row.objective,
    params: JSON.parse(row.params) as ChannelMoeParams,
    input_file_id: row.input_file_id,
    generate_job_id: row.generate_job_id,
    runs_requested: row.runs_requested,
    runs_spawned: row.runs_spawned,
    runs_completed: row.runs_completed,
    runs_failed: row.runs_failed,
    runs_cancelled: row.runs_cancelled,
    best_value: row.best_value === null ? null : Number(row.best_value),
    best_job_id: row.best_job_id,
    best_file_id: row.best_file_id,
    error: row.error,
    created_at: row.created_at,
    updated_at: row.updated_at,
    completed_at: row.completed_at,
  };
}

function invalid(field: string, message: string): AppError {
  return new AppError('validation_failed', `${field.replace(/^\//, '')} ${message}`, { errors: [{ field, message }] });
}

/** The median of sorted numbers (mean of the middle two for an even count). */
export function median(sorted: readonly number[]): number | null {
  if (!sorted.length) return null;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function readAll(stream: Readable, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) {
      stream.destroy();
      throw new AppError('invalid_kraus', `The Kraus file is larger than ${maxBytes} bytes, more than the shape in params can need.`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Campaigns: create, read, control, statistics, and the job hooks that keep them in step with their jobs. */
export class CampaignService {

  constructor(private readonly options: CampaignServiceOptions) {}

  /**
   * Creates a campaign owned by the caller. Without `input_file_id` it starts `generating` with one
   * `channel-moe.generate` job; with one (an uploaded Kraus `.npy` the caller may read, checked for
   * shape and Σ K†K = I within {@link KRAUS_TOLERANCE}) it starts `running` with `runs`
   * `channel-moe.minimize` jobs. The row and its jobs commit in one transaction.
   * `principal` null is an operator (the CLI): the campaign has no owner and cannot take an
   * uploaded input (whose readability is checked against the caller).
   * @throws AppError `validation_failed` (bad kind, objective, params, runs or queue),
   *   `not_found` (input file), `invalid_kraus` (422: not a `.npy`, wrong shape, not trace preserving).
   */
  async create(principal: Principal | null, input: CreateCampaignInput, actor: ActorContext): Promise<CampaignView> {
    const { settings, clock } = this.options;
    if (input.kind !== CHANNEL_MOE) throw invalid('/kind', `must be "${CHANNEL_MOE}" (the only kind so far)`);
    const objective = input.objective ?? 'min';
    // channel-moe: "min" is the minimum output entropy; "max" the maximum output entropy over pure inputs.
    if (objective !== 'min' && objective !== 'max') throw invalid('/objective', 'must be "min" or "max"');
    const name = input.name.trim();
    if (!name) throw invalid('/name', 'is empty');
    const runs = input.runs ?? 100;
    if (!Number.isInteger(runs) || runs < 1 || runs > settings.maxRuns) throw invalid('/runs', `must be an integer from 1 to ${settings.maxRuns} (CAMPAIGNS_MAX_RUNS)`);
    const params = this.checkParams(input.params);
    const queue = await this.checkQueue(input.queue);
    let kraus: FileRow | undefined;
    if (input.input_file_id) {
      if (!principal) throw invalid('/input_file_id', 'needs a signed-in caller (upload the file and create the campaign through the API)');
      kraus = await this.checkKrausFile(principal, input.input_file_id, params);
    }
    const now = clock.now().toISOString();
    const id = newId();
    // Checked by the route (campaigns:manage); the jobs belong to the creator.
    const by: ActorContext = { ...actor, actorId: principal?.user.id ?? null, permissions: undefined };
    const row = await this.write(async (tx) => {
      await insertCampaign(tx.db, {
        id,
        owner_id: principal?.user.id ?? null,
        name,
        kind: CHANNEL_MOE,
        queue,
        status: kraus ? 'running' : 'generating',
        objective,
        params: JSON.stringify(params),
        input_file_id: kraus?.id ?? null,
        generate_job_id: null,
        runs_requested: runs,
        runs_spawned: 0,
        runs_completed: 0,
        runs_failed: 0,
        runs_cancelled: 0,
        best_value: null,
        best_job_id: null,
        best_file_id: null,
        error: null,
        created_at: now,
        updated_at: now,
        completed_at: null,
      });
      if (kraus) return this.spawnRuns(tx, id, now);
      const [job] = await this.options.platform.enqueueIn(
        tx,
        queue,
        [{ kind: GENERATE_KIND, payload: { campaign_id: id, d_in: params.d_in, d_out: params.d_out, n_kraus: params.n_kraus, mode: params.mode, seed: params.seed }, parent_type: CAMPAIGN_PARENT, parent_id: id }],
        by,
      );
      return updateCampaign(tx.db, id, { generate_job_id: job?.id ?? null });
    });
    if (!row) throw new Error(`campaign ${id} vanished while it was created`);
    return toCampaignView(row);
  }

  /** One campaign. @throws AppError `not_found`. */
  async get(id: string): Promise<CampaignView> {
    return toCampaignView(await this.row(id));
  }

  /** A page of campaigns, newest first, optionally of one status. */
  async list(query: { limit: number; afterId?: string | undefined; status?: CampaignStatus | undefined }): Promise<{ items: CampaignView[]; next: string | null }> {
    const rows = await listCampaigns(this.options.db, { beforeId: query.afterId, status: query.status, limit: query.limit });
    return pageOfRows(rows, query.limit, toCampaignView);
  }

  /**
   * Changes a campaign's name and/or raises its runs. Raising the runs of a `running` or
   * `complete` campaign spawns the new runs at once (a complete one runs again); a `generating` or
   * `paused` one spawns them when its input is ready or it is resumed.
   * @throws AppError `not_found`, `validation_failed` (lowering runs, past CAMPAIGNS_MAX_RUNS),
   *   `conflict` (cancelled or failed campaigns).
   */
  async update(id: string, changes: { name?: string | undefined; runs?: number | undefined }): Promise<CampaignView> {
    const { settings, clock } = this.options;
    const name = changes.name?.trim();
    if (changes.name !== undefined && !name) throw invalid('/name', 'is empty');
    const row = await this.write(async (tx) => {
      const current = await findCampaign(tx.db, id);
      if (!current) throw new AppError('not_found', `There is no campaign ${id}.`);
      const now = clock.now().toISOString();
      let updated: CampaignRow | undefined = current;
      if (name !== undefined) updated = await updateCampaign(tx.db, id, { name, updated_at: now });
      if (changes.runs !== undefined && changes.runs !== current.runs_requested) {
        if (current.status === 'cancelled' || current.status === 'failed') throw new AppError('conflict', `A ${current.status} campaign takes no more runs.`);
        if (!Number.isInteger(changes.runs) || changes.runs < current.runs_requested) {
          throw invalid('/runs', `can only be raised (it is ${current.runs_requested}; spawned runs are never taken back)`);
        }
        if (changes.runs > settings.maxRuns) throw invalid('/runs', `must be at most ${settings.maxRuns} (CAMPAIGNS_MAX_RUNS)`);
        updated = await updateCampaign(tx.db, id, { runs_requested: changes.runs, updated_at: now });
        if (current.status === 'running' || current.status === 'complete') {
          if (current.status === 'complete') await updateCampaign(tx.db, id, { status: 'running', completed_at: null });
          updated = await this.spawnRuns(tx, id, now);
        }
      }
      if (!updated) throw new Error(`campaign ${id} vanished during an update`);
      await this.publish(tx, updated, 'campaign.updated');
      return updated;
    });
    return toCampaignView(row);
  }

  /**
   * Pauses a `generating` or `running` campaign: it becomes `paused`, then each of its queued jobs is
   * held (nobody claims it) and each running one is told through its worker's next heartbeat
   * (JobService pause semantics: the worker keeps the lease and waits). Pausing a paused one changes nothing.
   * @throws AppError `not_found`, `conflict` (finished campaigns).
   */
  async pause(id: string, actor: ActorContext): Promise<CampaignView> {
    const current = await this.row(id);
    if (current.status === 'paused') return toCampaignView(current);
    if (FINISHED.includes(current.status)) throw new AppError('conflict', `A ${current.status} campaign cannot be paused.`);
    await this.write(async (tx) => {
      const row = await updateCampaign(tx.db, id, { status: 'paused', updated_at: this.options.clock.now().toISOString() }, ['generating', 'running']);
      if (!row) throw new AppError('conflict', 'The campaign changed meanwhile; try again.');
      await this.publish(tx, row, 'campaign.paused');
    });
    await this.forEachJob(id, ['queued', 'running'], (job) => this.options.jobs.pause(job.id, null, actor));
    return this.get(id);
  }

  /**
   * Resumes a paused campaign: `generating` again while its input is not made yet, else `running`;
   * runs requested meanwhile are spawned, then every paused job is resumed.
   * @throws AppError `not_found`, `conflict` (not paused).
   */
  async resume(id: string, actor: ActorContext): Promise<CampaignView> {
    const current = await this.row(id);
    if (current.status === 'running' || current.status === 'generating') return toCampaignView(current);
    if (current.status !== 'paused') throw new AppError('conflict', `A ${current.status} campaign cannot be resumed.`);
    await this.write(async (tx) => {
      const now = this.options.clock.now().toISOString();
      let row = await updateCampaign(tx.db, id, { status: current.input_file_id ? 'running' : 'generating', updated_at: now }, ['paused']);
      if (!row) throw new AppError('conflict', 'The campaign changed meanwhile; try again.');
      if (row.input_file_id) row = (await this.spawnRuns(tx, id, now)) ?? row;
      await this.publish(tx, row, 'campaign.resumed');
      // Every run may have finished while it was paused.
      const finished = await finishIfDone(tx.db, id, now);
      if (finished) await this.announceFinished(tx, finished);
    });
    await this.forEachJob(id, ['paused'], (job) => this.options.jobs.resume(job.id, null, actor));
    return this.get(id);
  }

  /**
   * Cancels a campaign: it becomes `cancelled`, then every unfinished job is cancelled (a worker
   * holding one learns through its next heartbeat); the hooks count them in `runs_cancelled`.
   * @throws AppError `not_found`, `conflict` (already complete or failed).
   */
  async cancel(id: string, actor: ActorContext): Promise<CampaignView> {
    const current = await this.row(id);
    if (current.status === 'cancelled') return toCampaignView(current);
    if (FINISHED.includes(current.status)) throw new AppError('conflict', `A ${current.status} campaign cannot be cancelled.`);
    await this.write(async (tx) => {
      const now = this.options.clock.now().toISOString();
      const row = await updateCampaign(tx.db, id, { status: 'cancelled', completed_at: now, updated_at: now }, ['generating', 'running', 'paused']);
      if (!row) throw new AppError('conflict', 'The campaign changed meanwhile; try again.');
      await this.publish(tx, row, 'campaign.cancelled');
    });
    await this.forEachJob(id, ['queued', 'running', 'paused'], (job) => this.options.jobs.cancel(job.id, null, actor));
    return this.get(id);
  }

  /**
   * The campaign's run jobs, newest first (cursor-paged), each with its value: the result's once
   * succeeded, else the best so far its worker reported in heartbeats (`metrics.value`).
   * @throws AppError `not_found`.
   */
  async runs(id: string, page: { limit: number; afterId?: string | undefined; state?: JobState | undefined }): Promise<{ items: CampaignRunView[]; next: string | null }> {
    await this.row(id);
    const jobs = await this.options.jobs.list(
      { parentType: CAMPAIGN_PARENT, parentId: id, kind: MINIMIZE_KIND, state: page.state, limit: page.limit, afterId: page.afterId },
      null,
    );
    const items = await Promise.all(
      jobs.items.map(async (job) => {
        const view = toRunView(job);
        // The run's best so far: its latest checkpoint upload (a released job names its own).
        if (!view.final && !view.checkpoint_file_id && job.state !== 'queued') view.checkpoint_file_id = (await this.options.files.jobFileIds(job.id, 'checkpoint')).at(-1) ?? null;
        return view;
      }),
    );
    return { items, next: jobs.next };
  }

  /** Statistics of one campaign (see {@link CampaignStats}). @throws AppError `not_found`. */
  async stats(id: string): Promise<CampaignStats> {
    const row = await this.row(id);
    const runs = await listRuns(this.options.db, id);
    const best = await listBest(this.options.db, id);
    const live = await this.liveCounts(id);
    return {
      objective: row.objective,
      ...(await this.summarise(runs, live, row.runs_requested, row.runs_spawned)),
      best_value: row.best_value === null ? null : Number(row.best_value),
      best_over_time: best.map((b) => ({ at: b.at, value: Number(b.value), job_id: b.job_id })),
    };
  }

  /** Statistics over every campaign (see {@link AllCampaignStats}). */
  async allStats(): Promise<AllCampaignStats> {
    const rows = await allCampaigns(this.options.db);
    const runs = await listRuns(this.options.db, null);
    const live = { queued: 0, running: 0, paused: 0 };
    for (const row of rows) {
      if (FINISHED.includes(row.status)) continue;
      const counts = await this.liveCounts(row.id);
      live.queued += counts.queued;
      live.running += counts.running;
      live.paused += counts.paused;
    }
    const sum = (f: (r: CampaignRow) => number) => rows.reduce((a, r) => a + f(r), 0);
    const summary = await this.summarise(runs, live, sum((r) => r.runs_requested), sum((r) => r.runs_spawned));
    const byStatus = Object.fromEntries(STATUSES.map((s) => [s, rows.filter((r) => r.status === s).length])) as Record<CampaignStatus, number>;
    const bestsOf = (objective: CampaignObjective) =>
      rows
        .filter((r) => r.objective === objective)
        .map((r) => r.best_value)
        .filter((v): v is number => v !== null)
        .map(Number);
    const lowest = bestsOf('min');
    const highest = bestsOf('max');
    const bestValues = { min: lowest.length ? Math.min(...lowest) : null, max: highest.length ? Math.max(...highest) : null };
    const objectives = new Set(rows.map((r) => r.objective));
    const objective = objectives.size === 1 ? rows[0]!.objective : null;
    return {
      objective,
      ...summary,
      best_value: objective ? bestValues[objective] : null,
      best_values: bestValues,
      best_over_time: [],
      campaigns: { total: rows.length, by_status: byStatus },
      items: rows.map((r) => {
        const v = toCampaignView(r);
        return { id: v.id, name: v.name, kind: v.kind, status: v.status, objective: v.objective, runs_requested: v.runs_requested, runs_completed: v.runs_completed, runs_failed: v.runs_failed, best_value: v.best_value };
      }),
    };
  }

  /**
   * Whether `principal` may watch `campaign:{id}` (needs `campaigns:read` or `campaigns:manage`).
   * @throws AppError `forbidden`, `not_found`.
   */
  async authorizeWatch(principal: Principal, id: string): Promise<void> {
    if (!allows(principal.permissions, 'campaigns:read') && !allows(principal.permissions, 'campaigns:manage')) {
      throw new AppError('forbidden', 'Watching a campaign needs the campaigns:read permission.');
    }
    await this.row(id);
  }

  /**
   * File-access rule: holders of `campaigns:read` may read a campaign's input (Kraus) file, its
   * best vector, and the files its jobs uploaded (generated Kraus sets, run vectors, checkpoints).
   */
  async mayReadFile(file: FileRow, principal: Principal): Promise<boolean> {
    if (!allows(principal.permissions, 'campaigns:read') && !allows(principal.permissions, 'campaigns:manage')) return false;
    if (await findCampaignOfFile(this.options.db, file.id, file.job_id)) return true;
    if (!file.job_id) return false;
    try {
      const { job } = await this.options.jobs.get(file.job_id, null, 0);
      return job.parent_type === CAMPAIGN_PARENT && job.parent_id !== null && (await findCampaign(this.options.db, job.parent_id)) !== undefined;
    } catch (error) {
      if (isAppError(error, 'not_found')) return false;
      throw error;
    }
  }

  /**
   * The job hook for `channel-moe.generate`: on success records the generated Kraus file as the
   * campaign's input and, while the campaign is `generating`, spawns its runs in this same
   * transaction; a failed or dead generation fails the campaign; a cancelled one cancels it.
   * @throws AppError `validation_failed` when a succeeded job's result names no Kraus file among
   *   its outputs (the outcome is then refused, and the worker told why).
   */
  async recordGeneration({ outcome, job, tx, at }: JobOutcomeEvent): Promise<void> {
    const id = job.parent_id;
    if (!id) return;
    const campaign = await findCampaign(tx.db, id);
    if (!campaign || campaign.generate_job_id !== job.id) return;
    if (outcome === 'succeeded') {
      const fileId = (job.result as { kraus_file_id?: unknown } | null)?.kraus_file_id;
      if (typeof fileId !== 'string' || !job.output_files.includes(fileId)) {
        throw new AppError('validation_failed', 'A channel-moe.generate result must be {kraus_file_id} naming one of the files the job uploaded as output.', {
          errors: [{ field: '/result/kraus_file_id', message: 'is not an output file of this job' }],
        });
      }
      let row = await updateCampaign(tx.db, id, { input_file_id: fileId, updated_at: at });
      if (campaign.status === 'generating') {
        row = await updateCampaign(tx.db, id, { status: 'running' }, ['generating']);
        row = (await this.spawnRuns(tx, id, at)) ?? row;
      }
      if (row) await this.publish(tx, row, 'campaign.generated');
      return;
    }
    if (FINISHED.includes(campaign.status)) return;
    const error = outcome === 'cancelled' ? null : `the generate job ${job.id} ended ${outcome}${job.error ? `: ${job.error.message}` : ''}`;
    const row = await updateCampaign(tx.db, id, { status: outcome === 'cancelled' ? 'cancelled' : 'failed', error, completed_at: at, updated_at: at });
    if (row) await this.publish(tx, row, outcome === 'cancelled' ? 'campaign.cancelled' : 'campaign.failed');
  }

  /**
   * The job hook for `channel-moe.minimize`: records the run's outcome (replacing the previous one
   * of a retried job), moves the counters, moves the best when a succeeded run beats it, finishes
   * the campaign when its last run ends (queueing the `campaign.completed` notification), and
   * publishes on `campaign:{id}` — all in the transaction that records the outcome.
   * @throws AppError `validation_failed` when a succeeded run's result has no finite `value`.
   */
  async recordRun({ outcome, job, tx, at }: JobOutcomeEvent): Promise<void> {
    const id = job.parent_id;
    if (!id) return;
    const campaign = await findCampaign(tx.db, id);
    if (!campaign) return;
    let value: number | null = null;
    let fileId: string | null = null;
    if (outcome === 'succeeded') {
      const result = job.result as { value?: unknown; vector_file_id?: unknown } | null;
      if (typeof result?.value !== 'number' || !Number.isFinite(result.value)) {
        throw new AppError('validation_failed', 'A channel-moe.minimize result must be {value, vector_file_id?, iterations?} with a finite number value.', {
          errors: [{ field: '/result/value', message: 'must be a finite number' }],
        });
      }
      value = result.value;
      fileId = typeof result.vector_file_id === 'string' ? result.vector_file_id : null;
    }
    const previous = await findRun(tx.db, job.id);
    const delta = { completed: 0, failed: 0, cancelled: 0 };
    const bump = (o: string, by: number) => {
      if (o === 'succeeded') delta.completed += by;
      else if (o === 'cancelled') delta.cancelled += by;
      else delta.failed += by;
    };
    if (previous) bump(previous.outcome, -1);
    bump(outcome, 1);
    const started = job.started_at;
    await saveRun(tx.db, {
      job_id: job.id,
      campaign_id: id,
      outcome,
      value,
      file_id: fileId,
      worker_id: job.worker_id,
      started_at: started,
      finished_at: at,
      run_seconds: started ? Math.max(0, (Date.parse(at) - Date.parse(started)) / 1000) : null,
    });
    let row = await addRunCounts(tx.db, id, delta, at);
    if (previous?.outcome === 'succeeded' && previous.job_id === campaign.best_job_id) row = await recomputeBest(tx.db, id, campaign.objective, at);
    if (value !== null) {
      const improved = await improveBest(tx.db, id, campaign.objective, { value, jobId: job.id, fileId }, at);
      if (improved) {
        row = improved;
        await insertBest(tx.db, { id: newId(), campaign_id: id, value, job_id: job.id, at });
        await this.publish(tx, improved, 'campaign.improved', { job_id: job.id, value });
      }
    }
    if (row) await this.publish(tx, row, 'campaign.progressed', { job_id: job.id, outcome, value });
    const finished = await finishIfDone(tx.db, id, at);
    if (finished) await this.announceFinished(tx, finished);
  }

  /** Enqueues the missing runs (runs_requested − runs_spawned) inside `tx`. @returns the updated row. */
  private async spawnRuns(tx: WriteTx, id: string, at: string): Promise<CampaignRow | undefined> {
    const row = await findCampaign(tx.db, id);
    if (!row || !row.input_file_id) return row;
    const missing = row.runs_requested - row.runs_spawned;
    if (missing <= 0) return row;
    const params = JSON.parse(row.params) as ChannelMoeParams;
    const inputs: EnqueueInput[] = [];
    for (let run = row.runs_spawned; run < row.runs_requested; run++) {
      inputs.push({
        kind: MINIMIZE_KIND,
        payload: {
          campaign_id: id,
          run,
          d_in: params.d_in,
          d_out: params.d_out,
          n_kraus: params.n_kraus,
          kraus_file_id: row.input_file_id,
          seed: params.seed + 1 + run,
          restarts: params.restarts,
          max_iterations: params.max_iterations,
          objective: row.objective,
        },
        input_files: [row.input_file_id],
        parent_type: CAMPAIGN_PARENT,
        parent_id: id,
      });
    }
    // The jobs belong to the campaign's owner; the permission checks were made when it was created.
    const by: ActorContext = { ...SYSTEM_ACTOR, actorId: row.owner_id };
    for (let i = 0; i < inputs.length; i += 1000) await this.options.platform.enqueueIn(tx, row.queue, inputs.slice(i, i + 1000), by);
    return updateCampaign(tx.db, id, { runs_spawned: row.runs_requested, updated_at: at });
  }

  /** Queues `campaign.completed` (admins) and publishes the end, inside `tx`. */
  private async announceFinished(tx: WriteTx, row: CampaignRow): Promise<void> {
    await this.publish(tx, row, row.status === 'complete' ? 'campaign.completed' : 'campaign.failed');
    if (row.status !== 'complete') return;
    await this.options.notify.enqueue(tx, 'campaign.completed', {
      campaign_id: row.id,
      campaign_name: row.name,
      runs_completed: row.runs_completed,
      best_result: row.best_value === null ? null : `${Number(row.best_value)} bits${row.objective === 'max' ? ' (highest)' : ''}`,
      url: `${this.options.publicUrl}/api/v1/campaigns/${row.id}`,
    });
  }

  private publish(tx: WriteTx, row: CampaignRow, type: string, extra: Record<string, unknown> = {}): Promise<void> {
    const v = toCampaignView(row);
    return this.options.platform.publish(tx, `campaign:${row.id}`, type, {
      campaign_id: v.id,
      status: v.status,
      runs_requested: v.runs_requested,
      runs_spawned: v.runs_spawned,
      runs_completed: v.runs_completed,
      runs_failed: v.runs_failed,
      runs_cancelled: v.runs_cancelled,
      best_value: v.best_value,
      best_job_id: v.best_job_id,
      ...extra,
    });
  }

  private async summarise(
    runs: CampaignRunRow[],
    live: { queued: number; running: number; paused: number },
    requested: number,
    spawned: number,
  ): Promise<Omit<CampaignStats, 'objective' | 'best_value' | 'best_over_time'>> {
    const succeeded = runs.filter((r) => r.outcome === 'succeeded');
    const values = succeeded.map((r) => r.value).filter((v): v is number => v !== null).map(Number);
    const seconds = succeeded.map((r) => r.run_seconds).filter((s): s is number => s !== null).map(Number).sort((a, b) => a - b);
    const starts = succeeded.map((r) => r.started_at).filter((s): s is string => s !== null).map((s) => Date.parse(s));
    const ends = succeeded.map((r) => Date.parse(r.finished_at));
    const spanHours = starts.length && ends.length ? (Math.max(...ends) - Math.min(...starts)) / 3_600_000 : 0;
    const perWorker = new Map<string | null, { succeeded: number; failed: number; cancelled: number }>();
    for (const r of runs) {
      const entry = perWorker.get(r.worker_id) ?? { succeeded: 0, failed: 0, cancelled: 0 };
      if (r.outcome === 'succeeded') entry.succeeded++;
      else if (r.outcome === 'cancelled') entry.cancelled++;
      else entry.failed++;
      perWorker.set(r.worker_id, entry);
    }
    const workers = await Promise.all(
      [...perWorker.entries()].map(async ([workerId, counts]) => ({ worker_id: workerId, worker_name: workerId ? await this.options.jobs.workerName(workerId) : null, ...counts })),
    );
    workers.sort((a, b) => b.succeeded - a.succeeded || (a.worker_id ?? '').localeCompare(b.worker_id ?? ''));
    return {
      runs: {
        requested,
        spawned,
        ...live,
        succeeded: succeeded.length,
        failed: runs.filter((r) => r.outcome === 'failed' || r.outcome === 'dead').length,
        cancelled: runs.filter((r) => r.outcome === 'cancelled').length,
      },
      values: {
        count: values.length,
        min: values.length ? Math.min(...values) : null,
        max: values.length ? Math.max(...values) : null,
        mean: values.length ? values.reduce((a, b) => a + b, 0) / values.length : null,
      },
      run_seconds: { count: seconds.length, min: seconds[0] ?? null, median: median(seconds), max: seconds.at(-1) ?? null },
      throughput_per_hour: succeeded.length && spanHours > 0 ? succeeded.length / spanHours : null,
      workers,
    };
  }

  /** How many of the campaign's jobs are queued, running and paused now. */
  private async liveCounts(id: string): Promise<{ queued: number; running: number; paused: number }> {
    const count = async (state: JobState) => {
      let n = 0;
      await this.forEachJob(id, [state], async () => {
        n++;
      });
      return n;
    };
    return { queued: await count('queued'), running: await count('running'), paused: await count('paused') };
  }

  /** Calls `act` for each job of the campaign in one of `states` (pages of 200, newest first). */
  private async forEachJob(id: string, states: readonly JobState[], act: (job: JobView) => Promise<unknown>): Promise<void> {
    for (const state of states) {
      let afterId: string | undefined;
      for (;;) {
        const page = await this.options.jobs.list({ parentType: CAMPAIGN_PARENT, parentId: id, state, limit: 200, afterId }, null);
        for (const job of page.items) {
          try {
            await act(job);
          } catch (error) {
            // The job finished meanwhile: there is nothing left to pause, resume or cancel.
            if (!isAppError(error, 'conflict')) throw error;
          }
        }
        if (!page.next) break;
        afterId = page.next;
      }
    }
  }

  private async row(id: string): Promise<CampaignRow> {
    const row = await findCampaign(this.options.db, id);
    if (!row) throw new AppError('not_found', `There is no campaign ${id}.`);
    return row;
  }

  private write<T>(work: (tx: WriteTx) => Promise<T>): Promise<T> {
    return this.options.write(work);
  }

  /** Validates and completes `channel-moe` params. @throws AppError `validation_failed`. */
  private checkParams(p: CreateCampaignInput['params']): ChannelMoeParams {
    const max = this.options.settings.maxDimension;
    const dim = (field: string, v: number, limit: number) => {
      if (!Number.isInteger(v) || v < 1 || v > limit) throw invalid(`/params/${field}`, `must be an integer from 1 to ${limit}`);
    };
    dim('d_in', p.d_in, max);
    dim('d_out', p.d_out, max);
    dim('n_kraus', p.n_kraus, max * max);
    if (p.n_kraus * p.d_out < p.d_in) throw invalid('/params/n_kraus', `times d_out must be at least d_in (${p.n_kraus}·${p.d_out} < ${p.d_in}: no trace-preserving channel has that shape)`);
    if (p.n_kraus * p.d_out > max * max) throw invalid('/params/n_kraus', `times d_out must be at most ${max * max} (CAMPAIGNS_MAX_DIMENSION squared)`);
    const mode = p.mode ?? 'haar';
    if (mode !== 'haar') throw invalid('/params/mode', 'must be "haar"');
    const seed = p.seed ?? randomInt(0, 2 ** 32);
    if (!Number.isSafeInteger(seed) || seed < 0 || seed > 2 ** 48) throw invalid('/params/seed', 'must be an integer from 0 to 2^48');
    const restarts = p.restarts ?? 10;
    if (!Number.isInteger(restarts) || restarts < 1 || restarts > 10_000) throw invalid('/params/restarts', 'must be an integer from 1 to 10000');
    const maxIterations = p.max_iterations ?? 1000;
    if (!Number.isInteger(maxIterations) || maxIterations < 1 || maxIterations > 1_000_000) throw invalid('/params/max_iterations', 'must be an integer from 1 to 1000000');
    return { d_in: p.d_in, d_out: p.d_out, n_kraus: p.n_kraus, mode, seed, restarts, max_iterations: maxIterations };
  }

  /** The queue to use: the module's (created on first use) or an existing one. @throws AppError `validation_failed`. */
  private async checkQueue(name: string | undefined): Promise<string> {
    const queue = name ?? this.options.settings.queue;
    if (queue === this.options.settings.queue) {
      await this.ensureQueue();
      return queue;
    }
    try {
      await this.options.queues.get(queue);
    } catch (error) {
      if (isAppError(error, 'not_found')) throw invalid('/queue', `names no queue ("${queue}"); create it first or leave it out for ${this.options.settings.queue}`);
      throw error;
    }
    return queue;
  }

  /**
   * Reads an uploaded Kraus `.npy` and checks it against `params`.
   * @throws AppError `not_found` (no such file the principal may read), `invalid_kraus`.
   */
  private async checkKrausFile(principal: Principal, fileId: string, params: ChannelMoeParams): Promise<FileRow> {
    const file = await this.options.files.findReadable(fileId, principal);
    const expected = [params.n_kraus, params.d_out, params.d_in];
    // Header (≤ 64 KiB) plus complex128 data of the expected shape.
    const bytes = await readAll(await this.options.files.openContent(file), 65_536 + 16 * expected.reduce((a, b) => a * b, 1));
    let channel;
    try {
      channel = krausFromNpy(readNpy(bytes));
    } catch (error) {
      if (error instanceof NpyFormatError) throw new AppError('invalid_kraus', `The input file is not a usable Kraus .npy: ${error.message}.`);
      throw error;
    }
    const got = [channel.kraus.length, channel.dOut, channel.dIn];
    if (got.some((v, i) => v !== expected[i])) {
      throw new AppError('invalid_kraus', `The Kraus file has shape (${got.join(', ')}); params say (n_kraus, d_out, d_in) = (${expected.join(', ')}).`);
    }
    // Loaded here, not at start-up: the numerics pull in ml-matrix, which only this check and the
    // channel-moe worker need.
    const { completenessDeviation } = await import('./channel/channel.js');
    const deviation = completenessDeviation(channel);
    if (!(deviation <= KRAUS_TOLERANCE)) {
      throw new AppError('invalid_kraus', `The Kraus operators are not trace preserving: the largest entry of Σ K†K − I is ${deviation.toExponential(3)} (at most ${KRAUS_TOLERANCE} allowed).`);
    }
    return file;
  }

  /**
   * Creates the module's queue (CAMPAIGNS_QUEUE) when missing: at start-up (the module's `start`,
   * so the built-in `channel-moe` worker has a queue to claim from) and on first use (a second
   * instance racing to it finds it there).
   */
  ensureQueue(): Promise<void> {
    return this.options.queues.ensure(this.options.settings.queue, {}, SYSTEM_ACTOR);
  }
}

/** A run job as {@link CampaignRunView}. */
function toRunView(job: JobView): CampaignRunView {
  const result = job.result as { value?: unknown; vector_file_id?: unknown } | null;
  const final = job.state === 'succeeded' && typeof result?.value === 'number';
  const reported = job.metrics?.value;
  return {
    job_id: job.id,
    run: typeof (job.payload as { run?: unknown } | null)?.run === 'number' ? (job.payload as { run: number }).run : null,
    state: job.state,
    attempt: job.attempt,
    worker_id: job.worker_id,
    progress: job.progress,
    value: final ? (result?.value as number) : typeof reported === 'number' ? reported : null,
    final,
    vector_file_id: final && typeof result?.vector_file_id === 'string' ? result.vector_file_id : null,
    checkpoint_file_id: job.checkpoint_file_id,
    started_at: job.started_at,
    finished_at: job.finished_at,
  };
}
