/**
 * Speech practice: questions, recorded sessions analysed by a background job, reports and monthly
 * progress. A session row and its `speech-analysis` job commit in one transaction; the job hook
 * writes the report (or the failure) into the row in the transaction that records the job's
 * outcome, and publishes it on the live topic `speech-session:{id}` in that same transaction.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Kysely } from 'kysely';
import { allows } from '../access/permissions.js';
import { SYSTEM_ACTOR } from '../audit/audit.service.js';
import type { Principal } from '../auth/auth.service.js';
import type { Database, FileRow } from '../db/schema.js';
import type { WriteTransaction } from '../db/transaction.js';
import type { FileAccessRule, FileService } from '../files/files.service.js';
import type { ByteRange } from '../files/storage.js';
import type { JobOutcomeEvent } from '../jobs/job-hooks.js';
import type { JobHub } from '../jobs/job-hub.js';
import type { JobService } from '../jobs/jobs.service.js';
import { isTopicMessage } from '../event-log/events.js';
import type { QueueService } from '../jobs/queues.service.js';
import type { Clock } from '../shared/clock.js';
import { AppError, isAppError } from '../shared/errors.js';
import { newId } from '../shared/ids.js';
import { pageOfRows } from '../shared/paging.js';
import type { Contours, Interval, SpeechMetrics } from './analysis/analyse.js';
import { feedbackFor, sessionScore } from './analysis/feedback.js';
import { AudioProbeError, probeAudio } from './audio/probe.js';
import type { SpeechPlatform } from './platform.js';
import { buildProgress, METRIC_NAMES, type ProgressReport, progressWindow } from './progress.js';
import {
  deleteQuestion,
  deleteSession,
  findQuestion,
  findSession,
  findSessionByFile,
  insertQuestion,
  insertSession,
  listDoneSessions,
  listQuestions,
  listSessions,
  recordSessionProgress,
  settleSession,
  updateQuestion,
} from './speech.repo.js';
import type { SpeechQuestionRow, SpeechSessionRow } from './speech.schema.js';
import type { QuestionView, SessionView } from './speech.views.js';

/** The analysis job's kind, and the `parent_type` linking it to its session. */
export const SPEECH_KIND = 'speech-analysis';
export const SPEECH_PARENT = 'speech-session';

/** The live topic of a session: `speech-session:{id}`. */
export function sessionTopic(id: string): string {
  return `${SPEECH_PARENT}:${id}`;
}

/** The module's settings (`SPEECH_QUEUE`, `SPEECH_MAX_SECONDS`, `SPEECH_MIN_PAUSE_MS`, `SPEECH_FFMPEG`). */
export interface SpeechSettings {
  queue: string;
  /** Longest recording accepted, seconds. */
  maxSeconds: number;
  /** Shortest silence counted as a pause, milliseconds. */
  minPauseMs: number;
  /** The ffmpeg executable. */
  ffmpegPath: string;
}

/** What a question is made of (create: `text` required; update: any subset; null clears an optional field). */
export interface QuestionInput {
  text?: string | undefined;
  category?: string | null | undefined;
  difficulty?: number | null | undefined;
  expected_seconds?: number | null | undefined;
}

/** The measurements a `speech-analysis` job returns (its `result`); feedback and score are derived by the server. */
export interface AnalysisResult {
  metrics: SpeechMetrics;
  pauses: Interval[];
  syllable_count: number;
  threshold_dbfs: number;
  /** `native` (WAV) or `ffmpeg`. */
  decoder: string;
  /** Pitch and loudness over time (absent from results of workers that do not compute them). */
  contours?: Contours;
  transcript?: string;
  words_per_minute?: number;
  filler_words?: Record<string, number>;
  /** Why there is no transcript, when there is none. */
  transcript_note?: string;
}

/** Stored report JSON (`speech_session.report`). */
interface StoredReport extends Omit<AnalysisResult, 'syllable_count' | 'threshold_dbfs' | 'decoder'> {
  feedback: string[];
  analysis: { syllable_count: number; threshold_dbfs: number; decoder: string };
}

/** The bytes of an uploaded recording, as the HTTP layer hands them over. */
export interface RecordingSource {
  stream: Readable;
  filename?: string | undefined;
  contentType?: string | undefined;
  /** Called after the bytes are read (the route checks nothing follows the file part). */
  afterStream?: () => Promise<void>;
  /** True when the multipart parser cut the file at its size limit. */
  truncated?: () => boolean;
}

/** Filters of {@link SpeechService.listSessions}. */
export interface SessionListQuery {
  /** Another user's sessions (`speech:manage`). */
  userId?: string | undefined;
  questionId?: string | undefined;
  /** `YYYY-MM` (UTC). */
  month?: string | undefined;
  limit: number;
  afterId?: string | undefined;
}

/** Dependencies of {@link SpeechService}. */
export interface SpeechServiceOptions {
  db: Kysely<Database>;
  /** The database handle's write transaction (`gatehouse.database.write`). */
  write: WriteTransaction;
  clock: Clock;
  files: FileService;
  jobs: JobService;
  queues: QueueService;
  platform: SpeechPlatform;
  settings: SpeechSettings;
  /** The live hub: the progress relay listens to the queue's job events on it. */
  hub: JobHub;
  /** Where a failed relay is reported. */
  logger: { warn(details: Record<string, unknown>, message: string): void };
}

/** The permission that reads and manages everyone's sessions and changes questions. */
export const MANAGE = 'speech:manage';

/** The permission to practise: list questions, record sessions, read your own reports and progress. */
export const USE = 'speech:use';

function toQuestionView(row: SpeechQuestionRow): QuestionView {
  return {
    id: row.id,
    text: row.text,
    category: row.category,
    difficulty: row.difficulty === null ? null : Number(row.difficulty),
    expected_seconds: row.expected_seconds === null ? null : Number(row.expected_seconds),
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

/** The session's stored report (`speech_session.report`), or null before the analysis is done. */
function storedReport(row: SpeechSessionRow): StoredReport | null {
  return row.report ? (JSON.parse(row.report) as StoredReport) : null;
}

/** Converts a row to its API view. */
export function toSessionView(row: SpeechSessionRow): SessionView {
  const report = storedReport(row);
  const view: SessionView = {
    id: row.id,
    owner_id: row.owner_id,
    question_id: row.question_id,
    state: row.state,
    job_id: row.job_id,
    format: row.format,
    duration_s: Number(row.duration_s),
    audio_url: `/api/v1/speech/sessions/${row.id}/audio`,
    created_at: row.created_at,
    updated_at: row.updated_at,
    finished_at: row.finished_at,
    score: row.score === null ? null : Number(row.score),
    error: row.error,
    metrics: report?.metrics ?? null,
    pauses: report?.pauses ?? [],
    feedback: report?.feedback ?? [],
  };
  if (report?.contours !== undefined) view.contours = report.contours;
  if (report?.transcript !== undefined) view.transcript = report.transcript;
  if (report?.words_per_minute !== undefined) view.words_per_minute = report.words_per_minute;
  if (report?.filler_words !== undefined) view.filler_words = report.filler_words;
  if (report?.transcript_note !== undefined) view.transcript_note = report.transcript_note;
  return view;
}

/** Counts bytes going through, refusing more than `max`. */
class ByteLimit extends Transform {
  size = 0;
  constructor(private readonly max: number) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.max) callback(new AppError('payload_too_large', `A recording may have at most ${this.max} bytes (FILE_MAX_BYTES).`));
    else callback(null, chunk);
  }
}

/** Questions, sessions, reports, progress, and the analysis job's hook. */
export class SpeechService {
  /** The progress relay's unsubscribe, while it runs. */
  private stopRelay: (() => void) | undefined;
  /** Relays run one after another, so a session's progress events keep their order. */
  private relayChain: Promise<void> = Promise.resolve();

  constructor(private readonly options: SpeechServiceOptions) {}

  /** The module's settings. */
  get settings(): SpeechSettings {
    return this.options.settings;
  }

  // ---- questions -------------------------------------------------------------------------

  /** Creates a question. @throws AppError `validation_failed` without text. */
  async createQuestion(principal: Principal | null, input: QuestionInput): Promise<QuestionView> {
    const text = input.text?.trim();
    if (!text) throw new AppError('validation_failed', 'A question needs its text.', { errors: [{ field: '/text', message: 'is required' }] });
    const now = this.options.clock.now().toISOString();
    const row = {
      id: newId(),
      text,
      category: input.category?.trim() || null,
      difficulty: input.difficulty ?? null,
      expected_seconds: input.expected_seconds ?? null,
      created_by: principal?.user.id ?? null,
      created_at: now,
      updated_at: now,
    };
    await insertQuestion(this.options.db, row);
    return toQuestionView(row);
  }

  /** A page of questions, oldest first, optionally of one category. */
  async listQuestions(query: { category?: string | undefined; limit: number; afterId?: string | undefined }): Promise<{ items: QuestionView[]; next: string | null }> {
    const rows = await listQuestions(this.options.db, { category: query.category, afterId: query.afterId }, query.limit + 1);
    return pageOfRows(rows, query.limit, toQuestionView);
  }

  /** One question. @throws AppError `not_found`. */
  async getQuestion(id: string): Promise<QuestionView> {
    const row = await findQuestion(this.options.db, id);
    if (!row) throw new AppError('not_found', `There is no question ${id}.`);
    return toQuestionView(row);
  }

  /** Changes a question. @throws AppError `not_found`, `validation_failed` for empty text. */
  async updateQuestion(id: string, input: QuestionInput): Promise<QuestionView> {
    const changes: Parameters<typeof updateQuestion>[2] = { updated_at: this.options.clock.now().toISOString() };
    if (input.text !== undefined) {
      const text = input.text.trim();
      if (!text) throw new AppError('validation_failed', 'A question needs its text.', { errors: [{ field: '/text', message: 'must not be empty' }] });
      changes.text = text;
    }
    if (input.category !== undefined) changes.category = input.category?.trim() || null;
    if (input.difficulty !== undefined) changes.difficulty = input.difficulty;
    if (input.expected_seconds !== undefined) changes.expected_seconds = input.expected_seconds;
    const row = await updateQuestion(this.options.db, id, changes);
    if (!row) throw new AppError('not_found', `There is no question ${id}.`);
    return toQuestionView(row);
  }

  /** Deletes a question; its sessions keep their reports without it. @throws AppError `not_found`. */
  async deleteQuestion(id: string): Promise<void> {
    if (!(await deleteQuestion(this.options.db, id))) throw new AppError('not_found', `There is no question ${id}.`);
  }

  // ---- sessions --------------------------------------------------------------------------

  /**
   * Takes a recording: spools it to a temporary file, checks it is audio of at most
   * `SPEECH_MAX_SECONDS`, stores it through the platform's FileService (counted in the owner's
   * storage quota), then inserts the session and enqueues its `speech-analysis` job in one
   * transaction (and publishes `speech-session.created` on its topic).
   * @throws AppError `not_found` for an unknown question; `speech_not_audio` / `speech_decoder_missing`
   *   (415); `speech_too_long` / `speech_empty_audio` (422); the FileService's `payload_too_large`,
   *   `storage_quota_exceeded`, `forbidden`.
   */
  async createSession(principal: Principal, input: { questionId?: string | undefined }, source: RecordingSource): Promise<SessionView> {
    const { db, write, clock, files, platform, settings } = this.options;
    const question = input.questionId ? await findQuestion(db, input.questionId) : undefined;
    if (input.questionId && !question) {
      source.stream.resume();
      throw new AppError('not_found', `There is no question ${input.questionId}.`);
    }
    await this.ensureQueue();
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-speech-'));
    try {
      const spooled = join(dir, 'recording');
      const limit = new ByteLimit(files.maxBytes);
      await pipeline(source.stream, limit, createWriteStream(spooled));
      if (source.truncated?.()) throw new AppError('payload_too_large', `A recording may have at most ${files.maxBytes} bytes (FILE_MAX_BYTES).`);
      await source.afterStream?.();
      let probed;
      try {
        probed = await probeAudio(spooled, { path: settings.ffmpegPath }, settings.maxSeconds);
      } catch (error) {
        throw probeProblem(error);
      }
      const file = await files.upload(principal, { purpose: 'input' }, { stream: createReadStream(spooled), filename: source.filename, contentType: source.contentType });
      try {
        const id = newId();
        const now = clock.now().toISOString();
        return await write(async (tx) => {
          const [job] = await platform.enqueueIn(
            tx,
            settings.queue,
            [
              {
                kind: SPEECH_KIND,
                payload: { session_id: id, file_id: file.id, format: probed.format, min_pause_ms: settings.minPauseMs, max_seconds: settings.maxSeconds },
                input_files: [file.id],
                parent_type: SPEECH_PARENT,
                parent_id: id,
              },
            ],
            { ...SYSTEM_ACTOR, actorId: principal.user.id },
          );
          if (!job) throw new Error('enqueueIn returned no job');
          const row: SpeechSessionRow = {
            id,
            owner_id: principal.user.id,
            question_id: question?.id ?? null,
            file_id: file.id,
            format: probed.format,
            duration_s: Number(probed.durationS.toFixed(4)),
            job_id: job.id,
            state: 'analysing',
            progress: 0,
            progress_message: null,
            report: null,
            score: null,
            error: null,
            created_at: now,
            updated_at: now,
            finished_at: null,
          };
          await insertSession(tx.db, row);
          const view = toSessionView(row);
          await platform.publish(tx, sessionTopic(id), 'speech-session.created', { session: view });
          return view;
        });
      } catch (error) {
        await files.remove(file.id);
        throw error;
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** One session with its report: the owner's, or anyone's with `speech:manage`. @throws AppError `not_found`. */
  async getSession(principal: Principal, id: string): Promise<SessionView> {
    return toSessionView(await this.visibleSession(principal, id));
  }

  /**
   * A page of sessions, newest first: the caller's own, or with `speech:manage` another user's
   * (`userId`) or everyone's.
   * @throws AppError `forbidden` for another user's sessions without `speech:manage`; `validation_failed` for a bad month.
   */
  async listSessions(principal: Principal, query: SessionListQuery): Promise<{ items: SessionView[]; next: string | null }> {
    const manager = allows(principal.permissions, MANAGE);
    if (query.userId && query.userId !== principal.user.id && !manager) {
      throw new AppError('forbidden', "Listing another user's sessions needs the speech:manage permission.", { extra: { required_permission: MANAGE } });
    }
    let from: string | undefined;
    let to: string | undefined;
    if (query.month !== undefined) {
      const match = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(query.month);
      if (!match) throw new AppError('validation_failed', 'month is YYYY-MM.', { errors: [{ field: 'querystring:/month', message: 'must be YYYY-MM' }] });
      const year = Number(match[1]);
      const month = Number(match[2]) - 1;
      from = new Date(Date.UTC(year, month, 1)).toISOString();
      to = new Date(Date.UTC(year, month + 1, 1)).toISOString();
    }
    const rows = await listSessions(
      this.options.db,
      { ownerId: query.userId ?? principal.user.id, questionId: query.questionId, from, to, beforeId: query.afterId },
      query.limit + 1,
    );
    return pageOfRows(rows, query.limit, toSessionView);
  }

  /**
   * The file record of a session's recording (size, type, SHA-256 for the ETag), for the owner or
   * `speech:manage`. @throws AppError `not_found`.
   */
  async audioFile(principal: Principal, id: string): Promise<FileRow> {
    const session = await this.visibleSession(principal, id);
    return this.options.files.findReadable(session.file_id, principal);
  }

  /** The bytes of a recording found by {@link audioFile}: whole, or the inclusive byte `range`. */
  openAudio(file: FileRow, range?: ByteRange): Promise<Readable> {
    return this.options.files.openContent(file, range);
  }

  /**
   * Deletes a session and its recording; an analysis still running is cancelled first.
   * @throws AppError `not_found`.
   */
  async deleteSession(principal: Principal, id: string): Promise<void> {
    const session = await this.visibleSession(principal, id);
    if (session.state === 'analysing') {
      try {
        await this.options.jobs.cancel(session.job_id, null, { ...SYSTEM_ACTOR, actorId: principal.user.id });
      } catch (error) {
        // Finished meanwhile (its outcome is recorded on the row we are deleting anyway), or gone.
        if (!isAppError(error, 'conflict') && !isAppError(error, 'not_found')) throw error;
      }
    }
    await deleteSession(this.options.db, id);
    await this.options.files.remove(session.file_id);
  }

  /**
   * Monthly progress of the caller's finished sessions over the last `months` calendar months
   * (the current one included), by the injected clock.
   */
  async progress(principal: Principal, months: number): Promise<ProgressReport> {
    const now = this.options.clock.now();
    const { from, to } = progressWindow(now, months);
    const rows = await listDoneSessions(this.options.db, principal.user.id, from, to);
    // The stored report, typed as the analysis wrote it (the API view allows null for every metric).
    const sessions = rows.flatMap((row) => {
      const report = storedReport(row);
      const score = row.score === null ? 0 : Number(row.score);
      return report?.metrics ? [{ id: row.id, created_at: row.created_at, metrics: report.metrics, score, words_per_minute: report.words_per_minute ?? null }] : [];
    });
    return buildProgress(sessions, months, now);
  }

  // ---- the job hook, access rules, start-up ----------------------------------------------

  /**
   * The job hook: writes the analysis outcome into the session inside the transaction recording
   * the job's outcome, and publishes `speech-session.done` (the full report) or
   * `speech-session.failed` on `speech-session:{id}` in that same transaction. A succeeded job
   * whose result is malformed marks the session failed (naming what was wrong). A session deleted
   * meanwhile is skipped.
   */
  async recordOutcome({ outcome, job, tx, at }: JobOutcomeEvent): Promise<void> {
    if (!job.parent_id) return;
    const session = await findSession(tx.db, job.parent_id);
    if (!session || session.job_id !== job.id) return;
    const topic = sessionTopic(session.id);
    if (outcome === 'succeeded') {
      const result = readResult(job.result);
      if (typeof result !== 'string') {
        const question = session.question_id ? await findQuestion(tx.db, session.question_id) : undefined;
        const feedback = feedbackFor(result.metrics, { expectedSeconds: question?.expected_seconds ?? null, transcriptWpm: result.words_per_minute ?? null });
        const { syllable_count, threshold_dbfs, decoder, ...measured } = result;
        const report: StoredReport = { ...measured, feedback, analysis: { syllable_count, threshold_dbfs, decoder } };
        // A failed session whose job was retried and then succeeded becomes done.
        const settled = await settleSession(
          tx.db,
          session.id,
          { state: 'done', report: JSON.stringify(report), score: sessionScore(result.metrics, result.words_per_minute ?? null), error: null, updated_at: at, finished_at: at },
          ['analysing', 'failed'],
        );
        if (settled) await this.options.platform.publish(tx, topic, 'speech-session.done', reportEvent(toSessionView(settled)));
        return;
      }
      const settled = await settleSession(tx.db, session.id, { state: 'failed', report: null, score: null, error: `The analysis returned a malformed result: ${result}`, updated_at: at, finished_at: at });
      if (settled) await this.options.platform.publish(tx, topic, 'speech-session.failed', { session: toSessionView(settled) });
      return;
    }
    const reason = job.error?.message ?? `The analysis job ended ${outcome}.`;
    const settled = await settleSession(tx.db, session.id, { state: 'failed', report: null, score: null, error: reason, updated_at: at, finished_at: at });
    if (settled) await this.options.platform.publish(tx, topic, 'speech-session.failed', { session: toSessionView(settled) });
  }

  /**
   * Authorises watching `speech-session:{id}`: the session's owner and `speech:manage`.
   * @throws AppError `not_found` (the same answer for a missing session and another user's).
   */
  async authorizeTopic(principal: Principal, id: string): Promise<void> {
    await this.visibleSession(principal, id);
  }

  /** The file-access rule: a session's recording is readable by the session's owner and `speech:manage`. */
  fileAccessRule(): FileAccessRule {
    return {
      name: 'speech.recordings',
      mayRead: async (file, principal) => {
        const session = await findSessionByFile(this.options.db, file.id);
        if (!session) return false;
        return (session.owner_id === principal.user.id && allows(principal.permissions, USE)) || allows(principal.permissions, MANAGE);
      },
    };
  }

  /**
   * Starts relaying analysis progress to `speech-session:{id}`: the job events of SPEECH_QUEUE are
   * watched on the live hub, and each `progress` event of a session's analysis job is recorded on
   * the session and published as `speech-session.progress` `{session_id, progress, message}` in
   * one transaction. Every instance relays, but only an update that moves the session's progress
   * forward changes the row, so each step is published once (see `recordSessionProgress`).
   */
  startProgressRelay(): void {
    if (this.stopRelay) return;
    this.stopRelay = this.options.hub.subscribe(`queue:${this.options.settings.queue}`, (live) => {
      if (isTopicMessage(live) || live.event.type !== 'progress') return;
      const { job_id: jobId, data } = live.event;
      const progress = typeof data.progress === 'number' ? data.progress : 0;
      const message = typeof data.message === 'string' ? data.message : null;
      this.relayChain = this.relayChain
        .then(() => this.relayProgress(jobId, progress, message))
        .catch((error: unknown) => this.options.logger.warn({ err: (error as Error).message, job_id: jobId }, 'could not relay speech analysis progress'));
    });
  }

  /** Stops the progress relay and waits for the relay in flight. */
  async stopProgressRelay(): Promise<void> {
    this.stopRelay?.();
    this.stopRelay = undefined;
    await this.relayChain;
  }

  /**
   * Records one progress step of a session's analysis job and publishes it on the session's topic,
   * in one transaction; nothing happens when the step is not new (see {@link startProgressRelay}).
   */
  async relayProgress(jobId: string, progress: number, message: string | null): Promise<void> {
    const { write, clock, platform } = this.options;
    await write(async (tx) => {
      const row = await recordSessionProgress(tx.db, jobId, progress, message, clock.now().toISOString());
      if (row) await platform.publish(tx, sessionTopic(row.id), 'speech-session.progress', { session_id: row.id, progress, message });
    });
  }

  /** Creates the module's queue when it is missing (start-up; a racing instance finds it there). */
  ensureQueue(): Promise<void> {
    return this.options.queues.ensure(this.options.settings.queue, { description: 'Speech-practice recordings to analyse (speech module).' }, SYSTEM_ACTOR);
  }

  private async visibleSession(principal: Principal, id: string): Promise<SpeechSessionRow> {
    const row = await findSession(this.options.db, id);
    if (!row || (row.owner_id !== principal.user.id && !allows(principal.permissions, MANAGE))) {
      throw new AppError('not_found', `There is no session ${id}.`);
    }
    return row;
  }
}

/** Largest serialised `speech-session.done` event data kept whole (topic events may hold 64 KiB). */
const MAX_EVENT_CHARS = 60_000;

/**
 * The data of `speech-session.done`: `{session}`, the full report; when that is too large for a live
 * event (a long transcript and hundreds of pauses), the report without `pauses` and `transcript`
 * and `truncated: true` (GET the session for the rest).
 */
export function reportEvent(view: SessionView): Record<string, unknown> {
  if (JSON.stringify(view).length <= MAX_EVENT_CHARS) return { session: view };
  const { transcript: _transcript, contours: _contours, ...rest } = view;
  return { session: { ...rest, pauses: [] }, truncated: true };
}

/** A job result as {@link AnalysisResult}, or a sentence saying what is wrong with it. */
function readResult(value: unknown): AnalysisResult | string {
  const result = value as Partial<AnalysisResult> | null;
  if (!result || typeof result !== 'object') return 'no result object';
  const metrics = result.metrics as Record<string, unknown> | undefined;
  if (!metrics || typeof metrics !== 'object') return 'no metrics';
  for (const name of METRIC_NAMES) {
    const v = metrics[name];
    if (!(typeof v === 'number' && Number.isFinite(v)) && v !== null) return `metrics.${name} is not a number`;
  }
  if (!Array.isArray(result.pauses) || !result.pauses.every((p) => typeof p?.start_s === 'number' && typeof p.end_s === 'number')) return 'pauses is not a list of {start_s, end_s}';
  if (typeof result.syllable_count !== 'number' || typeof result.threshold_dbfs !== 'number' || typeof result.decoder !== 'string') return 'syllable_count, threshold_dbfs or decoder is missing';
  if (result.contours !== undefined && !isContours(result.contours)) return 'contours is not {step_s, f0_hz, loudness_dbfs} with lists of equal length';
  return result as AnalysisResult;
}

function isContours(value: unknown): value is Contours {
  const c = value as Partial<Contours> | null;
  const series = (list: unknown): list is Array<number | null> =>
    Array.isArray(list) && list.length <= 10_000 && list.every((v) => v === null || (typeof v === 'number' && Number.isFinite(v)));
  return !!c && typeof c === 'object' && typeof c.step_s === 'number' && c.step_s > 0 && series(c.f0_hz) && series(c.loudness_dbfs) && c.f0_hz.length === c.loudness_dbfs.length;
}

/** Maps a probe failure to the module's problem codes. */
function probeProblem(error: unknown): unknown {
  if (!(error instanceof AudioProbeError)) return error;
  switch (error.reason) {
    case 'not_audio':
      return new AppError('speech_not_audio', error.message);
    case 'needs_ffmpeg':
      return new AppError('speech_decoder_missing', error.message, { extra: { format: error.format, install: 'ffmpeg' } });
    case 'too_long':
      return new AppError('speech_too_long', error.message);
    default:
      return new AppError('speech_empty_audio', error.message);
  }
}
