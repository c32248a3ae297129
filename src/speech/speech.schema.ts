/**
 * The speech module's tables, merged into Gatehouse's Kysely `Database` type by declaration merging.
 */
import type { Selectable } from 'kysely';

/** `speech_question`: a prompt users answer by speaking. */
export interface SpeechQuestionTable {
  id: string;
  text: string;
  category: string | null;
  /** 1 (easiest) … 5. */
  difficulty: number | null;
  /** How long a good answer lasts, seconds. */
  expected_seconds: number | null;
  created_by: string | null;
  created_at: string;
  updated_at: string;
}

/** States of a session: `analysing` until the job's outcome is recorded (in the same transaction). */
export type SpeechSessionState = 'analysing' | 'done' | 'failed';

/** `speech_session`: one recorded answer, its analysis job and, once done, its report. */
export interface SpeechSessionTable {
  id: string;
  owner_id: string;
  question_id: string | null;
  /** The recording, a platform file (`purpose` `input`) owned by `owner_id`. */
  file_id: string;
  /** `wav`, `ogg`, `webm`, `mp3`, `flac` or `m4a`, from the file's signature. */
  format: string;
  /** Duration measured at upload, seconds. */
  duration_s: number;
  /** The `speech-analysis` job (parent_type `speech-session`). */
  job_id: string;
  state: SpeechSessionState;
  /** JSON report (metrics, pauses, feedback, transcript…); null until done. */
  report: string | null;
  /** The session score 0–100 (docs/speech.md), null until done. */
  score: number | null;
  /** Why the analysis failed (the job's error message); null otherwise. */
  error: string | null;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
  /** The analysis' last progress, 0..1, relayed from its job's heartbeats (0 until the first). */
  progress: number;
  /** The analysis' current stage (e.g. `pitch`), or null. */
  progress_message: string | null;
}

/** Rows as read. */
export type SpeechQuestionRow = Selectable<SpeechQuestionTable>;
export type SpeechSessionRow = Selectable<SpeechSessionTable>;

declare module '../db/schema.js' {
  interface Database {
    speech_question: SpeechQuestionTable;
    speech_session: SpeechSessionTable;
  }
}
