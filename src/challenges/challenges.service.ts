/**
 * Challenges: a competition with resources, participants, submissions scored by remote
 * evaluators (jobs linked by `parent_type = 'submission'`) and a leaderboard (docs/challenges.md).
 *
 * Consistency: a submission and its evaluation jobs commit in one transaction
 * (`gatehouse.jobs.enqueueIn`); each evaluation's outcome, the submission's state, the leaderboard
 * version, notifications and live events commit in the transaction that records the job's outcome
 * (the job hook). Nothing here can leave a submission and its jobs disagreeing.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { allows } from '../access/permissions.js';
import type { UserAdminService } from '../access/user-admin.service.js';
import { SYSTEM_ACTOR } from '../audit/audit.service.js';
import type { Principal } from '../auth/auth.service.js';
import { isUniqueViolation } from '../db/executor.js';
import type { Database, FileRow } from '../db/schema.js';
import type { WriteTransaction, WriteTx } from '../db/transaction.js';
import type { JobHub } from '../jobs/job-hub.js';
import { isTopicMessage } from '../event-log/events.js';
import type { JobOutcomeEvent } from '../jobs/job-hooks.js';
import type { JobService } from '../jobs/jobs.service.js';
import type { JobView } from '../jobs/model.js';
import type { QueueService } from '../jobs/queues.service.js';
import type { NotifyService } from '../notify/notify.service.js';
import type { Clock } from '../shared/clock.js';
import { AppError, isAppError } from '../shared/errors.js';
import { newId } from '../shared/ids.js';
import { pageOfRows } from '../shared/paging.js';
import {
  bumpLeaderboardVersion,
  countEvaluating,
  deleteChallenge,
  deleteEvaluation,
  deleteParticipant,
  deleteSubmission,
  findChallengeById,
  findChallengeBySlug,
  findEvaluationByJob,
  findParticipant,
  findResource,
  findSubmission,
  insertChallenge,
  insertEvaluations,
  insertParticipant,
  insertResource,
  insertSubmission,
  listChallenges,
  listEvaluations,
  listEvaluatorColumns,
  listParticipants,
  listResources,
  listSubmissionIds,
  listSubmissions,
  lockParticipant,
  recordEvaluationProgress,
  restartEvaluation,
  restartSubmission,
  scoredSubmissions,
  settleEvaluation,
  settleSubmission,
  submissionsSince,
  updateChallenge,
} from './challenges.repo.js';
import type { ChallengeRow, ChallengeTable, EvaluationRow, SubmissionRow, SubmissionState } from './challenges.schema.js';
import { type RankedEntry, rankSubmissions } from './leaderboard.js';
import {
  type ChallengeInput,
  type ChallengePatch,
  type ChallengeView,
  type EvaluationView,
  type Evaluator,
  type LeaderboardItem,
  type ParticipantView,
  type ResourceView,
  SCORE_NAME_PATTERN,
  SLUG_PATTERN,
  type SubmissionView,
} from './challenges.views.js';
import type { EnqueueIn, ForgetIn, PublishIn } from './platform.js';

/** `parent_type` of evaluation jobs. */
export const SUBMISSION_PARENT = 'submission';

/** A challenge slug: lower-case letters, digits and `-`, 1–64 characters, starting with a letter or digit. */
const SLUG_RE = new RegExp(SLUG_PATTERN);
/** A score name: letters, digits, `_`, `.`, `-`; 1–64 characters. */
const SCORE_RE = new RegExp(SCORE_NAME_PATTERN);

/** Length of the submission-limit window, in milliseconds (24 h). */
export const DAY_MS = 86_400_000;

/** The module's settings (`CHALLENGES_*`). */
export interface ChallengesSettings {
  /** Queue of the built-in `score-predictions` evaluator (`CHALLENGES_EVALUATION_QUEUE`, default `evaluations`). */
  evaluationQueue: string;
  /** Most files in one submission (`CHALLENGES_MAX_SUBMISSION_FILES`, default 10). */
  maxSubmissionFiles: number;
}

/** Dependencies of {@link ChallengeService}. */
export interface ChallengeServiceOptions {
  db: Kysely<Database>;
  /** The database handle's write transaction (`gatehouse.database.write`). */
  write: WriteTransaction;
  clock: Clock;
  jobs: JobService;
  queues: QueueService;
  /** Public profiles of leaderboard users. */
  profiles: Pick<UserAdminService, 'publicProfile'>;
  notify: NotifyService;
  enqueueIn: EnqueueIn;
  publish: PublishIn;
  forget: ForgetIn;
  /** Job events, for relaying evaluation progress. */
  hub: Pick<JobHub, 'subscribe'>;
  logger: Logger;
  /**
   * Where people open the web app (FRONTEND_URL, else the built-in app at PUBLIC_URL): links in
   * notifications go to its challenge page, `/challenges/{slug}`, not to the API.
   */
  appUrl: string;
  settings: ChallengesSettings;
}

function parseJson<T>(text: string | null, fallback: T): T {
  return text === null ? fallback : (JSON.parse(text) as T);
}

/** Row → API shape. */
export function toChallengeView(row: ChallengeRow): ChallengeView {
  return {
    id: row.id,
    slug: row.slug,
    title: row.title,
    description: row.description,
    url: row.url,
    active: row.active === 1,
    opens_at: row.opens_at,
    closes_at: row.closes_at,
    evaluators: parseJson<Evaluator[]>(row.evaluators, []),
    leaderboard: { score: row.leaderboard_score, direction: row.leaderboard_direction },
    limits: { per_day: row.per_day, concurrent: row.concurrent },
    visibility: row.visibility,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

function toEvaluationView(row: EvaluationRow): EvaluationView {
  return {
    kind: row.kind,
    queue: row.queue,
    job_id: row.job_id,
    state: row.state,
    scores: parseJson<Record<string, number>>(row.scores, {}),
    details: parseJson<unknown>(row.details, null),
    error: row.error,
    progress: Number(row.progress),
    progress_message: row.progress_message,
    updated_at: row.updated_at,
  };
}

function toSubmissionView(row: SubmissionRow, slug: string, evaluations: EvaluationRow[]): SubmissionView {
  return {
    id: row.id,
    challenge: slug,
    user_id: row.user_id,
    state: row.state,
    scores: parseJson<Record<string, number>>(row.scores, {}),
    errors: parseJson<Array<{ kind: string; message: string }>>(row.errors, []),
    meta: parseJson<Record<string, unknown>>(row.meta, {}),
    files: parseJson<string[]>(row.files, []),
    evaluations: evaluations.filter((e) => e.submission_id === row.id).map(toEvaluationView),
    created_at: row.created_at,
    updated_at: row.updated_at,
    settled_at: row.settled_at,
  };
}

/** The topic of a submission's live events. */
export function submissionTopic(id: string): string {
  return `submission:${id}`;
}

/** The topic of a challenge's live events (leaderboard changes). */
export function challengeTopic(slug: string): string {
  return `challenge:${slug}`;
}

/** Validates a job result `{scores: {name: finite number}, details?}`. @returns the scores, or a reason. */
function readScores(result: unknown): { scores: Record<string, number>; details: unknown } | { problem: string } {
  const r = result as { scores?: unknown; details?: unknown } | null;
  if (!r || typeof r !== 'object' || !r.scores || typeof r.scores !== 'object' || Array.isArray(r.scores)) {
    return { problem: 'The evaluator returned no {scores: {name: number}} object.' };
  }
  const scores: Record<string, number> = {};
  for (const [name, value] of Object.entries(r.scores as Record<string, unknown>)) {
    if (!SCORE_RE.test(name)) return { problem: `The evaluator returned a score named "${name.slice(0, 64)}", which is not a score name.` };
    if (typeof value !== 'number' || !Number.isFinite(value)) return { problem: `The evaluator's score "${name}" is not a finite number.` };
    scores[name] = value;
  }
  return { scores, details: r.details ?? null };
}

/** The validated, normalised columns of a challenge input. @throws AppError `validation_failed`. */
function challengeColumns(input: ChallengePatch): Partial<ChallengeTable> {
  const errors: Array<{ field: string; message: string }> = [];
  const columns: Partial<ChallengeTable> = {};
  if (input.title !== undefined) {
    if (!input.title.trim()) errors.push({ field: '/title', message: 'must not be empty' });
    columns.title = input.title.trim();
  }
  if (input.description !== undefined) columns.description = input.description;
  if (input.url !== undefined) {
    if (input.url !== null && !/^https?:\/\/[^\s]+$/.test(input.url)) errors.push({ field: '/url', message: 'must be an http(s) URL' });
    columns.url = input.url;
  }
  if (input.active !== undefined) columns.active = input.active ? 1 : 0;
  for (const key of ['opens_at', 'closes_at'] as const) {
    const value = input[key];
    if (value === undefined) continue;
    if (value !== null && Number.isNaN(Date.parse(value))) errors.push({ field: `/${key}`, message: 'must be an ISO-8601 date-time' });
    columns[key] = value === null ? null : Number.isNaN(Date.parse(value)) ? value : new Date(value).toISOString();
  }
  if (input.evaluators !== undefined) {
    if (!input.evaluators.length) errors.push({ field: '/evaluators', message: 'must name at least one evaluator' });
    const kinds = new Set<string>();
    input.evaluators.forEach((e, i) => {
      if (kinds.has(e.kind)) errors.push({ field: `/evaluators/${i}/kind`, message: 'is repeated' });
      kinds.add(e.kind);
    });
    columns.evaluators = JSON.stringify(input.evaluators.map((e) => ({ kind: e.kind, queue: e.queue })));
  }
  if (input.leaderboard !== undefined) {
    if (!SCORE_RE.test(input.leaderboard.score)) errors.push({ field: '/leaderboard/score', message: `must match ${SCORE_NAME_PATTERN}` });
    columns.leaderboard_score = input.leaderboard.score;
    columns.leaderboard_direction = input.leaderboard.direction;
  }
  if (input.limits !== undefined) {
    if (input.limits.per_day !== undefined) columns.per_day = input.limits.per_day;
    if (input.limits.concurrent !== undefined) columns.concurrent = input.limits.concurrent;
  }
  if (input.visibility !== undefined) columns.visibility = input.visibility;
  if (errors.length) throw new AppError('validation_failed', errors.map((e) => `${e.field} ${e.message}`).join('; '), { errors });
  return columns;
}

/** Cached leaderboard of one challenge, valid while its version and rule are unchanged. */
interface CachedLeaderboard {
  version: number;
  score: string;
  direction: 'asc' | 'desc';
  items: LeaderboardItem[];
}

/** Challenges, resources, participants, submissions, the evaluation hook and leaderboards. */
export class ChallengeService {
  private readonly leaderboards = new Map<string, CachedLeaderboard>();
  /** Queue topics the progress relay listens to, with their unsubscribe functions (empty until started). */
  private relayed: Map<string, () => void> | undefined;
  private relayChain: Promise<void> = Promise.resolve();

  constructor(private readonly options: ChallengeServiceOptions) {}

  /** The module's settings. */
  get settings(): ChallengesSettings {
    return this.options.settings;
  }

  /** True for operators (null) and holders of `challenges:manage`. */
  isManager(principal: Principal | null): boolean {
    return !principal || allows(principal.permissions, 'challenges:manage');
  }

  // ---- challenges ------------------------------------------------------------------------------

  /**
   * Creates a challenge (and its evaluators' queues when missing).
   * @throws AppError `validation_failed`, `conflict` (409) for a taken slug.
   */
  async create(input: ChallengeInput, by: Principal | null): Promise<ChallengeView> {
    if (!SLUG_RE.test(input.slug)) {
      throw new AppError('validation_failed', `slug must match ${SLUG_PATTERN}`, { errors: [{ field: '/slug', message: `must match ${SLUG_PATTERN}` }] });
    }
    const columns = challengeColumns({ description: '', visibility: 'public', active: true, ...input });
    this.assertWindow(columns.opens_at ?? null, columns.closes_at ?? null);
    await this.ensureQueues(input.evaluators);
    const now = this.options.clock.now().toISOString();
    const row: ChallengeTable = {
      id: newId(),
      slug: input.slug,
      title: columns.title ?? input.title,
      description: columns.description ?? '',
      url: columns.url ?? null,
      active: columns.active ?? 1,
      opens_at: columns.opens_at ?? null,
      closes_at: columns.closes_at ?? null,
      evaluators: columns.evaluators ?? '[]',
      leaderboard_score: input.leaderboard.score,
      leaderboard_direction: input.leaderboard.direction,
      per_day: columns.per_day ?? null,
      concurrent: columns.concurrent ?? null,
      visibility: columns.visibility ?? 'public',
      leaderboard_version: 0,
      created_by: by?.user.id ?? null,
      created_at: now,
      updated_at: now,
    };
    try {
      await insertChallenge(this.options.db, row);
    } catch (error) {
      if (isUniqueViolation(error)) throw new AppError('conflict', `There is already a challenge "${input.slug}".`, { errors: [{ field: '/slug', message: 'is taken' }] });
      throw error;
    }
    return toChallengeView(row);
  }

  /**
   * Challenges in creation order: managers (and operators, `principal` null) see all; others the
   * active public ones and those they participate in.
   */
  async list(principal: Principal | null, page: { limit: number; afterId?: string | undefined }, anonymous = false): Promise<{ items: ChallengeView[]; next: string | null }> {
    const viewerId = anonymous ? null : this.isManager(principal) ? undefined : (principal?.user.id ?? null);
    const rows = await listChallenges(this.options.db, { viewerId, afterId: page.afterId, limit: page.limit });
    return pageOfRows(rows, page.limit, toChallengeView);
  }

  /** One challenge the viewer may see (`anonymous`: no principal). @throws AppError `not_found`. */
  async get(slug: string, principal: Principal | null, anonymous = false): Promise<ChallengeView> {
    return toChallengeView(await this.visibleChallenge(slug, principal, anonymous));
  }

  /**
   * Changes a challenge (the slug never changes). A new leaderboard rule re-ranks at the next read.
   * @throws AppError `not_found`, `validation_failed`.
   */
  async update(slug: string, patch: ChallengePatch): Promise<ChallengeView> {
    const current = await this.requireChallenge(slug);
    const columns = challengeColumns(patch);
    this.assertWindow(columns.opens_at !== undefined ? columns.opens_at : current.opens_at, columns.closes_at !== undefined ? columns.closes_at : current.closes_at);
    if (patch.evaluators) await this.ensureQueues(patch.evaluators);
    const updated = await updateChallenge(this.options.db, current.id, { ...columns, updated_at: this.options.clock.now().toISOString() });
    if (!updated) throw new AppError('not_found', `There is no challenge "${slug}".`);
    return toChallengeView(updated);
  }

  /**
   * Deletes a challenge with its resources' records, participants and submissions.
   * @throws AppError `not_found`; `conflict` (409) while evaluations run, unless `force`, which
   *   cancels their jobs first (their outcomes then find nothing to update).
   */
  async remove(slug: string, force: boolean, principal: Principal | null): Promise<{ cancelled: number }> {
    const challenge = await this.requireChallenge(slug);
    const evaluating = await countEvaluating(this.options.db, challenge.id);
    if (evaluating > 0 && !force) {
      throw new AppError('conflict', `${evaluating} submission(s) of "${slug}" are still evaluating; wait, or delete with ?force=true to cancel them.`);
    }
    let cancelled = 0;
    if (evaluating > 0) {
      for (;;) {
        const page = await listSubmissions(this.options.db, { challengeId: challenge.id, state: 'evaluating', limit: 200 });
        if (!page.length) break;
        for (const submission of page) cancelled += await this.cancelEvaluations(submission.id, principal);
        if (page.length <= 200) break;
      }
    }
    await this.options.write(async (tx) => {
      const ids = await listSubmissionIds(tx.db, challenge.id);
      await deleteChallenge(tx.db, challenge.id);
      // Their objects are gone: so are their stored live events.
      await this.options.forget(tx, [challengeTopic(challenge.slug), ...ids.map(submissionTopic)]);
    });
    this.leaderboards.delete(challenge.id);
    return { cancelled };
  }

  // ---- resources -------------------------------------------------------------------------------

  /**
   * Records an uploaded file as a resource of the challenge.
   * @throws AppError `not_found`, `conflict` (409) for a name taken in the challenge.
   */
  async addResource(slug: string, file: { id: string; size_bytes: number; sha256: string }, input: { name: string; hidden: boolean }): Promise<ResourceView> {
    const challenge = await this.requireChallenge(slug);
    const row = {
      id: file.id,
      challenge_id: challenge.id,
      name: input.name,
      hidden: input.hidden ? 1 : 0,
      size_bytes: file.size_bytes,
      sha256: file.sha256,
      created_at: this.options.clock.now().toISOString(),
    };
    try {
      await insertResource(this.options.db, row);
    } catch (error) {
      if (isUniqueViolation(error)) throw new AppError('conflict', `"${slug}" already has a resource named "${input.name}".`, { errors: [{ field: '/name', message: 'is taken' }] });
      throw error;
    }
    return { id: file.id, name: input.name, size: file.size_bytes, sha256: file.sha256, hidden: input.hidden, download_url: `/api/v1/files/${file.id}`, created_at: row.created_at };
  }

  /** Checks that a challenge exists before its upload is read. @throws AppError `not_found`. */
  async assertExists(slug: string): Promise<void> {
    await this.requireChallenge(slug);
  }

  /** The resource index: hidden resources only for managers. @throws AppError `not_found`. */
  async resources(slug: string, principal: Principal | null, anonymous = false): Promise<ResourceView[]> {
    const challenge = await this.visibleChallenge(slug, principal, anonymous);
    const rows = await listResources(this.options.db, challenge.id, !anonymous && this.isManager(principal));
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      size: Number(r.size_bytes),
      sha256: r.sha256,
      hidden: r.hidden === 1,
      download_url: `/api/v1/files/${r.id}`,
      created_at: r.created_at,
    }));
  }

  /**
   * The file-access rule: a visible resource is readable by whoever may see its challenge; a
   * hidden one only by a worker key currently holding an evaluation job of a submission to that
   * challenge (managers and the uploader read every file through the platform's own rules).
   */
  async mayReadResource(file: FileRow, principal: Principal): Promise<boolean> {
    const resource = await findResource(this.options.db, file.id);
    if (!resource) return false;
    const challenge = await findChallengeById(this.options.db, resource.challenge_id);
    if (!challenge) return false;
    if (resource.hidden === 0) return this.mayView(challenge, principal);
    const held = await this.options.jobs.heldJobs(principal);
    for (const job of held) {
      if (job.parent_type !== SUBMISSION_PARENT || !job.parent_id) continue;
      const submission = await findSubmission(this.options.db, job.parent_id);
      if (submission?.challenge_id === challenge.id) return true;
    }
    return false;
  }

  // ---- participants ----------------------------------------------------------------------------

  /** Joins a challenge (idempotent). @throws AppError `not_found`, `challenge_closed` (409) when inactive. */
  async join(slug: string, principal: Principal): Promise<{ joined: boolean; joined_at: string }> {
    const challenge = await findChallengeBySlug(this.options.db, slug);
    // A participants-only challenge is still joinable by slug: visibility hides it from listings, not from invitees.
    if (!challenge || (challenge.active !== 1 && !this.isManager(principal))) throw new AppError('not_found', `There is no challenge "${slug}".`);
    const now = this.options.clock.now().toISOString();
    const joined = await insertParticipant(this.options.db, { id: newId(), challenge_id: challenge.id, user_id: principal.user.id, joined_at: now, last_submitted_at: null });
    const row = await findParticipant(this.options.db, challenge.id, principal.user.id);
    return { joined, joined_at: row?.joined_at ?? now };
  }

  /**
   * Whether `principal` takes part in a challenge they may see: when they joined (ISO-8601 UTC).
   * @throws AppError `not_found` when the challenge is not visible to them or they have not joined.
   */
  async membership(slug: string, principal: Principal): Promise<{ joined_at: string }> {
    const challenge = await this.visibleChallenge(slug, principal);
    const row = await findParticipant(this.options.db, challenge.id, principal.user.id);
    if (!row) throw new AppError('not_found', `You are not a participant of "${slug}".`);
    return { joined_at: row.joined_at };
  }

  /** Leaves a challenge (submissions stay on the leaderboard). @throws AppError `not_found` when not a participant. */
  async leave(slug: string, principal: Principal): Promise<void> {
    const challenge = await this.visibleChallenge(slug, principal);
    if (!(await deleteParticipant(this.options.db, challenge.id, principal.user.id))) {
      throw new AppError('not_found', `You are not a participant of "${slug}".`);
    }
  }

  /** A page of participants in joining order. @throws AppError `not_found`. */
  async participants(slug: string, page: { limit: number; afterId?: string | undefined }): Promise<{ items: ParticipantView[]; next: string | null }> {
    const challenge = await this.requireChallenge(slug);
    const rows = await listParticipants(this.options.db, challenge.id, page.afterId, page.limit);
    return pageOfRows(rows, page.limit, (r) => ({ user_id: r.user_id, name: r.name, email: r.email, joined_at: r.joined_at }));
  }

  // ---- submissions -----------------------------------------------------------------------------

  /**
   * Checks, before the files are read, that `principal` may submit to the challenge now.
   * @throws AppError `not_found`, `challenge_closed` (409), `not_participant` (403), `submission_limit` (429).
   */
  async assertMaySubmit(slug: string, principal: Principal): Promise<void> {
    const challenge = await this.visibleChallenge(slug, principal);
    this.assertOpen(challenge);
    if (!(await findParticipant(this.options.db, challenge.id, principal.user.id))) throw notParticipant(slug);
    await this.assertWithinLimits(this.options.db, challenge, principal.user.id, this.options.clock.now());
  }

  /**
   * Records a submission of uploaded files (the principal's own) and enqueues one evaluation job
   * per evaluator, all in one transaction. Payload: `{submission_id, challenge, files, references}`
   * (`references`: the challenge's hidden resources' file ids); the files are the jobs' `input_files`.
   * @throws as {@link assertMaySubmit} (checked again inside the transaction, under the participant's row lock).
   */
  async submit(slug: string, principal: Principal, fileIds: string[], meta: Record<string, unknown>): Promise<SubmissionView> {
    const { write, clock, enqueueIn, publish } = this.options;
    if (!fileIds.length) throw new AppError('validation_failed', 'A submission needs at least one file part named "file".', { errors: [{ field: '/file', message: 'is required' }] });
    const challengeRow = await this.visibleChallenge(slug, principal);
    const evaluators = parseJson<Evaluator[]>(challengeRow.evaluators, []);
    await this.ensureQueues(evaluators);
    const id = newId();
    return write(async (tx) => {
      const now = clock.now();
      const nowIso = now.toISOString();
      const challenge = await findChallengeById(tx.db, challengeRow.id);
      if (!challenge) throw new AppError('not_found', `There is no challenge "${slug}".`);
      this.assertOpen(challenge);
      if (!(await lockParticipant(tx.db, challenge.id, principal.user.id, nowIso))) throw notParticipant(slug);
      await this.assertWithinLimits(tx.db, challenge, principal.user.id, now);
      const references = (await listResources(tx.db, challenge.id, true)).filter((r) => r.hidden === 1).map((r) => r.id);
      const row: SubmissionRow = {
        id,
        challenge_id: challenge.id,
        user_id: principal.user.id,
        state: 'evaluating',
        files: JSON.stringify(fileIds),
        meta: JSON.stringify(meta),
        scores: '{}',
        errors: '[]',
        created_at: nowIso,
        updated_at: nowIso,
        settled_at: null,
      };
      await insertSubmission(tx.db, row);
      const evaluations: EvaluationRow[] = [];
      for (const evaluator of evaluators) {
        const [job] = await enqueueIn(
          tx,
          evaluator.queue,
          [{ kind: evaluator.kind, payload: { submission_id: id, challenge: challenge.slug, files: fileIds, references }, input_files: fileIds, parent_type: SUBMISSION_PARENT, parent_id: id }],
          // Owned by the system, not the participant: participants cannot cancel or retry evaluations past the limits.
          SYSTEM_ACTOR,
        );
        if (!job) throw new Error('enqueueIn returned no job');
        evaluations.push(this.newEvaluation(id, evaluator, job, nowIso));
      }
      await insertEvaluations(tx.db, evaluations);
      const view = toSubmissionView(row, challenge.slug, evaluations);
      await publish(tx, submissionTopic(id), 'submission.created', { submission: view });
      return view;
    });
  }

  /** One submission: its owner's, or any for managers. @throws AppError `not_found`. */
  async getSubmission(id: string, principal: Principal | null): Promise<SubmissionView> {
    const { row, challenge } = await this.visibleSubmission(id, principal);
    return toSubmissionView(row, challenge.slug, await listEvaluations(this.options.db, [row.id]));
  }

  /**
   * A page of a challenge's submissions, newest first: the principal's own, or (managers) anyone's,
   * optionally of one user and one state.
   * @throws AppError `not_found`, `forbidden` when a non-manager asks for another user's.
   */
  async listSubmissions(
    slug: string,
    principal: Principal | null,
    query: { userId?: string | undefined; state?: SubmissionState | undefined; limit: number; afterId?: string | undefined },
  ): Promise<{ items: SubmissionView[]; next: string | null }> {
    const challenge = await this.visibleChallenge(slug, principal);
    const manager = this.isManager(principal);
    if (!manager && query.userId && query.userId !== principal?.user.id) throw new AppError('forbidden', "Listing other participants' submissions needs challenges:manage.");
    const userId = manager ? query.userId : principal?.user.id;
    const rows = await listSubmissions(this.options.db, { challengeId: challenge.id, userId, state: query.state, beforeId: query.afterId, limit: query.limit });
    const evaluations = await listEvaluations(this.options.db, rows.slice(0, query.limit).map((r) => r.id));
    return pageOfRows(rows, query.limit, (r) => toSubmissionView(r, challenge.slug, evaluations));
  }

  /**
   * Evaluates a submission again (managers): cancels its unfinished jobs, enqueues new ones for the
   * challenge's current evaluators' kinds, and puts it back to `evaluating` (the leaderboard drops
   * it until it is scored again), all in one transaction.
   * @throws AppError `not_found`.
   */
  async reevaluate(id: string, principal: Principal | null): Promise<SubmissionView> {
    const { write, clock, enqueueIn, publish } = this.options;
    const { row, challenge } = await this.visibleSubmission(id, principal);
    await this.cancelEvaluations(row.id, principal);
    const evaluators = parseJson<Evaluator[]>(challenge.evaluators, []);
    await this.ensureQueues(evaluators);
    return write(async (tx) => {
      const nowIso = clock.now().toISOString();
      const restarted = await restartSubmission(tx.db, row.id, nowIso);
      if (!restarted) throw new AppError('not_found', 'There is no such submission.');
      const existing = await listEvaluations(tx.db, [row.id]);
      const references = (await listResources(tx.db, challenge.id, true)).filter((r) => r.hidden === 1).map((r) => r.id);
      const files = parseJson<string[]>(row.files, []);
      const fresh: EvaluationRow[] = [];
      for (const evaluator of evaluators) {
        const [job] = await enqueueIn(
          tx,
          evaluator.queue,
          [{ kind: evaluator.kind, payload: { submission_id: row.id, challenge: challenge.slug, files, references }, input_files: files, parent_type: SUBMISSION_PARENT, parent_id: row.id }],
          SYSTEM_ACTOR,
        );
        if (!job) throw new Error('enqueueIn returned no job');
        const same = existing.find((e) => e.kind === evaluator.kind);
        if (same) await restartEvaluation(tx.db, same.id, job.id, nowIso);
        else fresh.push(this.newEvaluation(row.id, evaluator, job, nowIso));
      }
      await insertEvaluations(tx.db, fresh);
      // Evaluators removed from the challenge since: their old results no longer count.
      const kinds = new Set(evaluators.map((e) => e.kind));
      for (const stale of existing.filter((e) => !kinds.has(e.kind))) await deleteEvaluation(tx.db, stale.id);
      if (row.state === 'scored') await bumpLeaderboardVersion(tx.db, challenge.id, nowIso);
      const view = toSubmissionView(restarted, challenge.slug, await listEvaluations(tx.db, [row.id]));
      await publish(tx, submissionTopic(row.id), 'submission.reevaluating', { submission: view });
      if (row.state === 'scored') await publish(tx, challengeTopic(challenge.slug), 'leaderboard.changed', { submission_id: row.id, reason: 'reevaluating' });
      return view;
    });
  }

  /**
   * Deletes a submission: the owner's while not scored, any for managers. Unfinished evaluation
   * jobs are cancelled first.
   * @throws AppError `not_found`, `conflict` (409) when the owner deletes a scored one.
   */
  async deleteSubmission(id: string, principal: Principal | null): Promise<void> {
    const { row, challenge } = await this.visibleSubmission(id, principal);
    if (!this.isManager(principal) && row.state === 'scored') throw new AppError('conflict', 'A scored submission stays on the leaderboard; ask the organisers to remove it.');
    await this.cancelEvaluations(row.id, principal);
    await this.options.write(async (tx) => {
      const nowIso = this.options.clock.now().toISOString();
      const current = await findSubmission(tx.db, row.id);
      if (!current) return;
      await deleteSubmission(tx.db, row.id);
      if (current.state === 'scored') {
        await bumpLeaderboardVersion(tx.db, challenge.id, nowIso);
        await this.options.publish(tx, challengeTopic(challenge.slug), 'leaderboard.changed', { submission_id: row.id, reason: 'deleted' });
      }
      await this.options.forget(tx, [submissionTopic(row.id)]);
    });
  }

  // ---- leaderboard -----------------------------------------------------------------------------

  /**
   * A page of the leaderboard: each participant's best scored submission by the challenge's score
   * and direction, competition-ranked, earlier submission first among equals. Cached per
   * challenge until its leaderboard version (bumped in every scoring transaction) or rule changes.
   * The cursor is the last row's submission id.
   * @throws AppError `not_found`; `validation_failed` for a cursor that is no longer on the board.
   */
  async leaderboard(slug: string, principal: Principal | null, page: { limit: number; afterId?: string | undefined }, anonymous = false): Promise<{ items: LeaderboardItem[]; next: string | null }> {
    const challenge = await this.visibleChallenge(slug, principal, anonymous);
    const items = await this.rankedItems(challenge);
    let start = 0;
    if (page.afterId) {
      const index = items.findIndex((i) => i.submission_id === page.afterId);
      if (index < 0) throw new AppError('validation_failed', 'The leaderboard changed since this cursor was issued; start again.', { errors: [{ field: 'querystring:/cursor', message: 'is stale' }] });
      start = index + 1;
    }
    const slice = items.slice(start, start + page.limit);
    const next = start + page.limit < items.length ? (slice.at(-1)?.submission_id ?? null) : null;
    return { items: slice, next };
  }

  // ---- the job hook ----------------------------------------------------------------------------

  /**
   * The job hook (selected by `parent_type = 'submission'`), inside the transaction recording the
   * job's outcome: records the evaluation (scores from a succeeded job's `{scores, details?}`; the
   * job's error otherwise), then settles the submission — `scored` with every evaluator's scores
   * merged once all succeeded, `failed` with each failing evaluator's message as soon as one
   * fails — bumps the leaderboard version, queues the participant's email (and `challenge.new_leader`
   * for admins) and publishes live events. Outcomes of jobs an evaluation no longer points at
   * (replaced by a re-evaluation) change nothing.
   */
  async recordOutcome({ outcome, job, tx, at }: JobOutcomeEvent): Promise<void> {
    const evaluation = await findEvaluationByJob(tx.db, job.id);
    if (!evaluation || evaluation.state !== 'pending') return;
    let changes: Parameters<typeof settleEvaluation>[3];
    if (outcome === 'succeeded') {
      const read = readScores(job.result);
      changes =
        'problem' in read
          ? { state: 'failed', scores: '{}', details: null, error: read.problem, updated_at: at }
          : { state: 'succeeded', scores: JSON.stringify(read.scores), details: read.details === null ? null : JSON.stringify(read.details), error: null, updated_at: at, progress: 1 };
    } else {
      changes = { state: 'failed', scores: '{}', details: null, error: outcomeMessage(outcome, job), updated_at: at };
    }
    const settled = await settleEvaluation(tx.db, evaluation.id, job.id, changes);
    if (!settled) return;
    const { publish } = this.options;
    await publish(tx, submissionTopic(settled.submission_id), `evaluation.${settled.state}`, { evaluation: toEvaluationView(settled) });

    const submission = await findSubmission(tx.db, settled.submission_id);
    if (!submission || submission.state !== 'evaluating') return;
    const challenge = await findChallengeById(tx.db, submission.challenge_id);
    if (!challenge) return;
    const evaluations = await listEvaluations(tx.db, [submission.id]);
    const failed = evaluations.filter((e) => e.state === 'failed');
    // The participant's challenge page, at this submission (the web app's `/challenges/{slug}`).
    const url = `${this.options.appUrl}/challenges/${encodeURIComponent(challenge.slug)}#submission-${submission.id}`;
    if (failed.length) {
      const errors = failed.map((e) => ({ kind: e.kind, message: e.error ?? 'failed' }));
      const done = await settleSubmission(tx.db, submission.id, { state: 'failed', scores: '{}', errors: JSON.stringify(errors), updated_at: at, settled_at: at });
      if (!done) return;
      await publish(tx, submissionTopic(submission.id), 'submission.failed', { submission: toSubmissionView(done, challenge.slug, evaluations) });
      const user = await this.options.notify.recipient(tx, submission.user_id);
      if (user) {
        await this.options.notify.enqueue(tx, 'submission.failed', {
          user,
          challenge: challenge.slug,
          challenge_title: challenge.title,
          submission_id: submission.id,
          errors: errors.map((e) => `${e.kind}: ${e.message}`).join('; '),
          url,
        });
      }
      return;
    }
    if (evaluations.some((e) => e.state !== 'succeeded')) return;
    const scores: Record<string, number> = {};
    for (const e of evaluations) Object.assign(scores, parseJson<Record<string, number>>(e.scores, {}));
    const leaderBefore = await this.leaderOf(tx, challenge);
    const done = await settleSubmission(tx.db, submission.id, { state: 'scored', scores: JSON.stringify(scores), errors: '[]', updated_at: at, settled_at: at });
    if (!done) return;
    await bumpLeaderboardVersion(tx.db, challenge.id, at);
    const leaderAfter = await this.leaderOf(tx, challenge);
    await publish(tx, submissionTopic(submission.id), 'submission.scored', { submission: toSubmissionView(done, challenge.slug, evaluations) });
    const entry = leaderAfter.ranked.find((e) => e.submission_id === submission.id);
    await publish(tx, challengeTopic(challenge.slug), 'leaderboard.changed', {
      submission_id: submission.id,
      user_id: submission.user_id,
      reason: 'scored',
      rank: entry?.rank ?? null,
      score: entry?.score ?? null,
    });
    const user = await this.options.notify.recipient(tx, submission.user_id);
    if (user) {
      await this.options.notify.enqueue(tx, 'submission.scored', {
        user,
        challenge: challenge.slug,
        challenge_title: challenge.title,
        submission_id: submission.id,
        scores: Object.entries(scores).map(([k, v]) => `${k} = ${v}`).join(', '),
        rank: entry?.rank ?? null,
        url,
      });
    }
    const top = leaderAfter.ranked[0];
    if (top && top.submission_id === submission.id && leaderBefore.ranked[0]?.user_id !== top.user_id) {
      const leader = await this.options.notify.recipient(tx, top.user_id);
      await this.options.notify.enqueue(tx, 'challenge.new_leader', {
        challenge: challenge.slug,
        challenge_title: challenge.title,
        leader_name: leader?.name || leader?.email || top.user_id,
        score_name: challenge.leaderboard_score,
        score: top.score,
        previous_score: leaderBefore.ranked[0]?.score ?? null,
        url: `${this.options.appUrl}/challenges/${encodeURIComponent(challenge.slug)}`,
      });
    }
  }

  /**
   * Relays an evaluation job's progress (from its heartbeat events) to the submission's topic and
   * row. Idempotent: only a change is written and published, so instances relaying one heartbeat
   * publish it once.
   */
  async relayProgress(jobId: string, progress: number, message: string | null): Promise<void> {
    await this.options.write(async (tx) => {
      const updated = await recordEvaluationProgress(tx.db, jobId, progress, message, this.options.clock.now().toISOString());
      if (updated) await this.options.publish(tx, submissionTopic(updated.submission_id), 'evaluation.progress', { evaluation: toEvaluationView(updated) });
    });
  }

  /**
   * Starts relaying evaluation progress: listens to the job events of every evaluation queue (and
   * of queues named later by challenges created or changed here) and relays `progress` events of
   * evaluation jobs with {@link relayProgress}, one at a time.
   */
  async startProgressRelay(): Promise<void> {
    this.relayed = new Map();
    for (const queue of await this.evaluationQueues()) this.relayQueue(queue);
  }

  /** Stops the progress relay and waits for the relay in flight. */
  async stopProgressRelay(): Promise<void> {
    for (const unsubscribe of this.relayed?.values() ?? []) unsubscribe();
    this.relayed = undefined;
    await this.relayChain;
  }

  private relayQueue(queue: string): void {
    if (!this.relayed || this.relayed.has(queue)) return;
    this.relayed.set(
      queue,
      this.options.hub.subscribe(`queue:${queue}`, (live) => {
        if (isTopicMessage(live) || live.event.type !== 'progress') return;
        const { event } = live;
        const progress = typeof event.data.progress === 'number' ? event.data.progress : 0;
        const message = typeof event.data.message === 'string' ? event.data.message : null;
        this.relayChain = this.relayChain
          .then(() => this.relayProgress(event.job_id, progress, message))
          .catch((error: unknown) => this.options.logger.warn({ err: error, job_id: event.job_id }, 'could not relay evaluation progress'));
      }),
    );
  }

  /** The evaluation queues of every challenge (what the progress relay listens to). */
  async evaluationQueues(): Promise<string[]> {
    const columns = await listEvaluatorColumns(this.options.db);
    return [...new Set([this.options.settings.evaluationQueue, ...columns.flatMap((c) => parseJson<Evaluator[]>(c, []).map((e) => e.queue))])];
  }

  /**
   * Authorises following `submission:{id}`: its owner, managers, and the worker holding one of its
   * evaluation jobs. @throws AppError `not_found` for anyone else (ids cannot be probed).
   */
  async authorizeSubmissionTopic(principal: Principal, id: string): Promise<void> {
    const row = await findSubmission(this.options.db, id);
    if (row && (row.user_id === principal.user.id || this.isManager(principal))) return;
    if (row && (await this.options.jobs.heldJobs(principal)).some((j) => j.parent_type === SUBMISSION_PARENT && j.parent_id === id)) return;
    throw new AppError('not_found', 'There is no such submission.');
  }

  /** Authorises following `challenge:{slug}`: whoever may see the challenge. @throws AppError `not_found`. */
  async authorizeChallengeTopic(principal: Principal, slug: string): Promise<void> {
    await this.visibleChallenge(slug, principal);
  }

  // ---- internals -------------------------------------------------------------------------------

  private newEvaluation(submissionId: string, evaluator: Evaluator, job: JobView, at: string): EvaluationRow {
    return {
      id: newId(),
      submission_id: submissionId,
      kind: evaluator.kind,
      queue: evaluator.queue,
      job_id: job.id,
      state: 'pending',
      scores: '{}',
      details: null,
      error: null,
      progress: 0,
      progress_message: null,
      updated_at: at,
    };
  }

  /** The ranking as committed so far in `tx` (for the new-leader check). */
  private async leaderOf(tx: WriteTx, challenge: ChallengeRow): Promise<{ ranked: RankedEntry[] }> {
    const rows = await scoredSubmissions(tx.db, challenge.id);
    return {
      ranked: rankSubmissions(
        rows.map((r) => ({ submission_id: r.id, user_id: r.user_id, scores: parseJson<Record<string, number>>(r.scores, {}), created_at: r.created_at })),
        { score: challenge.leaderboard_score, direction: challenge.leaderboard_direction },
      ),
    };
  }

  private async rankedItems(challenge: ChallengeRow): Promise<LeaderboardItem[]> {
    const cached = this.leaderboards.get(challenge.id);
    if (cached && cached.version === challenge.leaderboard_version && cached.score === challenge.leaderboard_score && cached.direction === challenge.leaderboard_direction) {
      return cached.items;
    }
    const rows = await scoredSubmissions(this.options.db, challenge.id);
    const ranked = rankSubmissions(
      rows.map((r) => ({ submission_id: r.id, user_id: r.user_id, scores: parseJson<Record<string, number>>(r.scores, {}), created_at: r.created_at })),
      { score: challenge.leaderboard_score, direction: challenge.leaderboard_direction },
    );
    const users = new Map<string, LeaderboardItem['user']>();
    await Promise.all(
      [...new Set(ranked.map((r) => r.user_id))].map(async (userId) => {
        try {
          users.set(userId, await this.options.profiles.publicProfile(userId));
        } catch (error) {
          // A deactivated account keeps its place, anonymously.
          if (!isAppError(error, 'not_found')) throw error;
        }
      }),
    );
    const items = ranked.map((r) => ({
      rank: r.rank,
      user: users.get(r.user_id) ?? { id: r.user_id, name: '', profile: {} },
      submission_id: r.submission_id,
      score: r.score,
      scores: r.scores,
      submitted_at: r.created_at,
    }));
    this.leaderboards.set(challenge.id, { version: challenge.leaderboard_version, score: challenge.leaderboard_score, direction: challenge.leaderboard_direction, items });
    return items;
  }

  /** Cancels a submission's unfinished evaluation jobs. @returns how many were cancelled. */
  private async cancelEvaluations(submissionId: string, principal: Principal | null): Promise<number> {
    const evaluations = await listEvaluations(this.options.db, [submissionId]);
    let cancelled = 0;
    for (const e of evaluations.filter((x) => x.state === 'pending')) {
      try {
        await this.options.jobs.cancel(e.job_id, null, { ...SYSTEM_ACTOR, actorId: principal?.user.id ?? null });
        cancelled++;
      } catch (error) {
        // Finished meanwhile: its outcome was recorded by the hook.
        if (!isAppError(error, 'conflict') && !isAppError(error, 'not_found')) throw error;
      }
    }
    return cancelled;
  }

  private async requireChallenge(slug: string): Promise<ChallengeRow> {
    const row = await findChallengeBySlug(this.options.db, slug);
    if (!row) throw new AppError('not_found', `There is no challenge "${slug}".`);
    return row;
  }

  /** Managers see everything; others active public challenges and those they participate in. */
  private async mayView(challenge: ChallengeRow, principal: Principal | null, anonymous = false): Promise<boolean> {
    if (anonymous) return challenge.active === 1 && challenge.visibility === 'public';
    if (this.isManager(principal)) return true;
    if (challenge.active === 1 && challenge.visibility === 'public') return true;
    return principal !== null && (await findParticipant(this.options.db, challenge.id, principal.user.id)) !== undefined;
  }

  private async visibleChallenge(slug: string, principal: Principal | null, anonymous = false): Promise<ChallengeRow> {
    const row = await findChallengeBySlug(this.options.db, slug);
    if (!row || !(await this.mayView(row, principal, anonymous))) throw new AppError('not_found', `There is no challenge "${slug}".`);
    return row;
  }

  private async visibleSubmission(id: string, principal: Principal | null): Promise<{ row: SubmissionRow; challenge: ChallengeRow }> {
    const row = await findSubmission(this.options.db, id);
    const challenge = row ? await findChallengeById(this.options.db, row.challenge_id) : undefined;
    if (!row || !challenge || (!this.isManager(principal) && row.user_id !== principal?.user.id)) throw new AppError('not_found', 'There is no such submission.');
    return { row, challenge };
  }

  private assertWindow(opensAt: string | null, closesAt: string | null): void {
    if (opensAt && closesAt && opensAt >= closesAt) {
      throw new AppError('validation_failed', 'closes_at must be after opens_at.', { errors: [{ field: '/closes_at', message: 'must be after opens_at' }] });
    }
  }

  /** @throws AppError `challenge_closed` when inactive or outside `opens_at..closes_at`. */
  private assertOpen(challenge: ChallengeRow): void {
    const now = this.options.clock.now().toISOString();
    if (challenge.active !== 1) throw new AppError('challenge_closed', `"${challenge.slug}" is not active.`);
    if (challenge.opens_at && now < challenge.opens_at) throw new AppError('challenge_closed', `"${challenge.slug}" opens at ${challenge.opens_at}.`, { extra: { opens_at: challenge.opens_at } });
    if (challenge.closes_at && now >= challenge.closes_at) throw new AppError('challenge_closed', `"${challenge.slug}" closed at ${challenge.closes_at}.`, { extra: { closes_at: challenge.closes_at } });
  }

  /** @throws AppError `submission_limit` (429, `Retry-After` in seconds) past `per_day` or `concurrent`. */
  private async assertWithinLimits(db: WriteTx['db'] | Kysely<Database>, challenge: ChallengeRow, userId: string, now: Date): Promise<void> {
    if (challenge.per_day !== null) {
      const since = new Date(now.getTime() - DAY_MS).toISOString();
      const { count, earliest } = await submissionsSince(db, challenge.id, userId, since);
      if (count >= challenge.per_day) {
        // The window frees a slot when its earliest submission turns 24 h old.
        const retry = earliest ? Math.max(1, Math.ceil((Date.parse(earliest) + DAY_MS - now.getTime()) / 1000)) : 60;
        throw new AppError('submission_limit', `At most ${challenge.per_day} submissions in 24 hours to "${challenge.slug}"; the next is possible in ${retry} s.`, {
          headers: { 'Retry-After': String(retry) },
          extra: { limit: 'per_day', per_day: challenge.per_day, retry_after_s: retry },
        });
      }
    }
    if (challenge.concurrent !== null) {
      const evaluating = await countEvaluating(db, challenge.id, userId);
      if (evaluating >= challenge.concurrent) {
        throw new AppError('submission_limit', `At most ${challenge.concurrent} of your submissions to "${challenge.slug}" may be evaluating at once; wait for one to finish.`, {
          headers: { 'Retry-After': '30' },
          extra: { limit: 'concurrent', concurrent: challenge.concurrent, retry_after_s: 30 },
        });
      }
    }
  }

  /**
   * Creates the built-in evaluator's queue (CHALLENGES_EVALUATION_QUEUE) when missing, so the
   * server's `score-predictions` worker has a queue to claim from before the first challenge
   * names it. Called by the module's `start`.
   */
  async ensureEvaluationQueue(): Promise<void> {
    await this.ensureQueues([{ kind: 'score-predictions', queue: this.options.settings.evaluationQueue }]);
  }

  /** Creates the evaluators' queues on first use (another instance racing to it finds it there). */
  private async ensureQueues(evaluators: readonly Evaluator[]): Promise<void> {
    for (const { queue } of evaluators) {
      this.relayQueue(queue);
      await this.options.queues.ensure(queue, { description: 'Challenge evaluations' }, SYSTEM_ACTOR);
    }
  }
}

/** `403 not_participant`. */
function notParticipant(slug: string): AppError {
  return new AppError('not_participant', `Join "${slug}" first: POST /api/v1/challenges/${slug}/participants.`);
}

/** Why an evaluation job ended without a result. */
function outcomeMessage(outcome: string, job: JobView): string {
  if (job.error?.message) return job.error.message;
  if (outcome === 'cancelled') return 'The evaluation was cancelled.';
  if (outcome === 'dead') return "The evaluation's workers stopped answering too often (its lease expired).";
  return `The evaluation ended ${outcome}.`;
}
