/**
 * The challenges module's tables, added to Gatehouse's Kysely `Database` type by declaration
 * merging (the platform's schema file is not edited). Times are ISO-8601 UTC strings; JSON
 * columns are serialised text (jsonb on PostgreSQL, read back as text).
 */
import type { Selectable } from 'kysely';

/** `challenge`: one competition, with its evaluators, leaderboard rule and submission limits. */
export interface ChallengeTable {
  id: string;
  /** `[a-z0-9][a-z0-9-]{0,63}`, unique, never changed once created (topics and payloads name it). */
  slug: string;
  title: string;
  description: string;
  url: string | null;
  /** 1 = accepts submissions (within `opens_at..closes_at`) and is listed to everyone when public. */
  active: number;
  opens_at: string | null;
  closes_at: string | null;
  /** JSON `[{kind, queue}]`: one evaluation job per entry for every submission. */
  evaluators: string;
  /** The score name the leaderboard ranks by. */
  leaderboard_score: string;
  leaderboard_direction: 'asc' | 'desc';
  /** Most submissions per participant in any 24 h window; null = unlimited. */
  per_day: number | null;
  /** Most submissions of one participant still evaluating; null = unlimited. */
  concurrent: number | null;
  visibility: 'public' | 'participants';
  /** Bumped (in the same transaction) whenever the leaderboard may have changed; keys the in-process cache. */
  leaderboard_version: number;
  created_by: string | null;
  created_at: string;
  updated_at: string;
}

/** `challenge_resource`: a file of a challenge (data, baselines; hidden ones are reference answers). The id is the file's. */
export interface ChallengeResourceTable {
  /** The stored file's id (`GET /api/v1/files/{id}` downloads it). */
  id: string;
  challenge_id: string;
  name: string;
  /** 1 = readable only by managers and by the worker holding an evaluation job of this challenge. */
  hidden: number;
  /** The file's size in bytes and SHA-256 (lower-case hex), copied at upload for the index. */
  size_bytes: number;
  sha256: string;
  created_at: string;
}

/** `challenge_participant`: a user who joined a challenge (only participants submit). */
export interface ChallengeParticipantTable {
  id: string;
  challenge_id: string;
  user_id: string;
  joined_at: string;
  /** Written at the start of every submission transaction: serialises one participant's submissions (limits). */
  last_submitted_at: string | null;
}

/** The states of a submission. */
export type SubmissionState = 'evaluating' | 'scored' | 'failed';

/** `challenge_submission`: one upload of a participant, scored by the challenge's evaluators. */
export interface SubmissionTable {
  id: string;
  challenge_id: string;
  user_id: string;
  state: SubmissionState;
  /** JSON array of file ids (the participant's uploads). */
  files: string;
  /** JSON object from the optional `meta` part. */
  meta: string;
  /** JSON `{name: number}`: every evaluator's scores merged once scored. */
  scores: string;
  /** JSON `[{kind, message}]`: why it failed (empty otherwise). */
  errors: string;
  created_at: string;
  updated_at: string;
  /** When the last evaluation settled it (scored or failed). */
  settled_at: string | null;
}

/** The states of one evaluation (one evaluator's job for one submission). */
export type EvaluationState = 'pending' | 'succeeded' | 'failed';

/** `challenge_evaluation`: one evaluator's job for one submission and what it reported. */
export interface EvaluationTable {
  id: string;
  submission_id: string;
  kind: string;
  queue: string;
  /** The current job (a re-evaluation replaces it; outcomes of older jobs are ignored). */
  job_id: string;
  state: EvaluationState;
  /** JSON `{name: number}` from the job's result. */
  scores: string;
  /** JSON `details` from the job's result, or null. */
  details: string | null;
  error: string | null;
  /** 0..1, relayed from the job's heartbeats. */
  progress: number;
  progress_message: string | null;
  updated_at: string;
}

/** Rows as read. */
export type ChallengeRow = Selectable<ChallengeTable>;
export type ChallengeResourceRow = Selectable<ChallengeResourceTable>;
export type ChallengeParticipantRow = Selectable<ChallengeParticipantTable>;
export type SubmissionRow = Selectable<SubmissionTable>;
export type EvaluationRow = Selectable<EvaluationTable>;

declare module '../db/schema.js' {
  interface Database {
    challenge: ChallengeTable;
    challenge_resource: ChallengeResourceTable;
    challenge_participant: ChallengeParticipantTable;
    challenge_submission: SubmissionTable;
    challenge_evaluation: EvaluationTable;
  }
}
