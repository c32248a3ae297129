/**
 * The campaigns module's tables, added to Gatehouse's Kysely `Database` type by declaration
 * merging (the platform's schema file is not edited).
 */
import type { Selectable } from 'kysely';

/** A campaign's life: `generating` (its input is being made) → `running` → `complete`; or `paused`, `cancelled`, `failed`. */
export type CampaignStatus = 'generating' | 'running' | 'paused' | 'complete' | 'cancelled' | 'failed';

/** What a run's value is compared by: the campaign keeps the smallest (`min`) or the largest (`max`). */
export type CampaignObjective = 'min' | 'max';

/**
 * `campaign`: N runs of a numerical job over one input file, tracked to the best result. Every
 * counter and the best are written by the job hooks inside the transaction that records a run's
 * outcome, so they never disagree with the jobs.
 */
export interface CampaignTable {
  id: string;
  /** The user who created it (the owner of its jobs); null once that account is deleted. */
  owner_id: string | null;
  name: string;
  /** `channel-moe`. */
  kind: string;
  /** The queue its jobs go to. */
  queue: string;
  status: CampaignStatus;
  objective: CampaignObjective;
  /** JSON object: the kind's parameters (channel-moe: d_in, d_out, n_kraus, mode, seed, restarts, max_iterations). */
  params: string;
  /** The uploaded, or once generated the generated, input file (channel-moe: the Kraus `.npy`). */
  input_file_id: string | null;
  /** The job generating the input (null when it was uploaded). */
  generate_job_id: string | null;
  runs_requested: number;
  runs_spawned: number;
  /** Runs that succeeded. */
  runs_completed: number;
  /** Runs that failed for good or died (lease lapsed with no attempts left). */
  runs_failed: number;
  /** Runs cancelled (the campaign's cancel, or one run by an admin). */
  runs_cancelled: number;
  /** Best value among succeeded runs (by `objective`); null until one succeeds. */
  best_value: number | null;
  best_job_id: string | null;
  /** The best run's output file (channel-moe: the minimising vector `.npy`). */
  best_file_id: string | null;
  /** Why it failed (`status = failed`), else null. */
  error: string | null;
  created_at: string;
  updated_at: string;
  /** When it became `complete`, `cancelled` or `failed`. */
  completed_at: string | null;
}

/** A `campaign` row as read. */
export type CampaignRow = Selectable<CampaignTable>;

/** `campaign_run`: the recorded outcome of one run job (one row per job; a retried job's next outcome replaces it). */
export interface CampaignRunTable {
  job_id: string;
  campaign_id: string;
  /** `succeeded`, `failed`, `dead` or `cancelled`. */
  outcome: string;
  /** The run's reported value (succeeded runs only). */
  value: number | null;
  /** The run's output file (the vector), succeeded runs only. */
  file_id: string | null;
  /** The worker (its API key id) that last held the job. */
  worker_id: string | null;
  started_at: string | null;
  finished_at: string;
  /** finished_at − started_at, in seconds (null when it never started). */
  run_seconds: number | null;
}

/** A `campaign_run` row as read. */
export type CampaignRunRow = Selectable<CampaignRunTable>;

/** `campaign_best`: each time a campaign's best value improved, for "best value over time". */
export interface CampaignBestTable {
  id: string;
  campaign_id: string;
  value: number;
  job_id: string;
  at: string;
}

/** A `campaign_best` row as read. */
export type CampaignBestRow = Selectable<CampaignBestTable>;

declare module '../db/schema.js' {
  interface Database {
    campaign: CampaignTable;
    campaign_run: CampaignRunTable;
    campaign_best: CampaignBestTable;
  }
}
