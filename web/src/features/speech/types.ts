/** The speech module's API shapes (see /openapi.json: SpeechQuestion, SpeechSession, SpeechProgress). */

export interface Question {
  id: string;
  text: string;
  category: string | null;
  difficulty: number | null;
  /** Seconds. */
  expected_seconds: number | null;
  created_at: string;
}

/** Metric names and values: seconds (`_s`), syllables per second (`_syll_s`), dBFS, dB, Hz. */
export type Metrics = Record<string, number | null>;

export interface Session {
  id: string;
  question_id: string | null;
  state: 'analysing' | 'done' | 'failed';
  job_id: string;
  format: string;
  duration_s: number;
  audio_url: string;
  created_at: string;
  finished_at: string | null;
  score: number | null;
  error: string | null;
  metrics: Metrics | null;
  pauses: Array<{ start_s: number; end_s: number }>;
  feedback: string[];
  contours?: { step_s: number; f0_hz: Array<number | null>; loudness_dbfs: Array<number | null> };
  transcript?: string;
  words_per_minute?: number;
  filler_words?: Record<string, number>;
  transcript_note?: string;
}

export interface MonthProgress {
  month: string;
  session_count: number;
  averages: Metrics | null;
  score: number | null;
}

export interface Progress {
  from_month: string;
  to_month: string;
  months: MonthProgress[];
  session_count: number;
  best_session: { id: string; created_at: string; score: number } | null;
  biggest_improvement: { from_month: string; to_month: string; score_change: number } | null;
  highlights: string[];
}

/** How each metric is named and shown to people. */
export const METRIC_LABELS: Record<string, { label: string; unit: string; digits: number; help: string }> = {
  duration_s: { label: 'Length', unit: 's', digits: 1, help: 'How long the recording is.' },
  speech_s: { label: 'Speaking time', unit: 's', digits: 1, help: 'Time spent speaking, pauses left out.' },
  pause_count: { label: 'Pauses', unit: '', digits: 0, help: 'Silences of at least a quarter of a second between phrases.' },
  pause_mean_s: { label: 'Average pause', unit: 's', digits: 2, help: 'How long a pause lasts on average.' },
  pause_max_s: { label: 'Longest pause', unit: 's', digits: 2, help: 'The longest silence between phrases.' },
  pause_ratio: { label: 'Share of pauses', unit: '%', digits: 0, help: 'Part of the answer spent silent.' },
  speech_rate_syll_s: { label: 'Speech rate', unit: 'syll/s', digits: 2, help: 'Syllables per second over the whole answer.' },
  articulation_rate_syll_s: { label: 'Articulation rate', unit: 'syll/s', digits: 2, help: 'Syllables per second while speaking.' },
  loudness_dbfs: { label: 'Loudness', unit: 'dBFS', digits: 1, help: 'Average level of your voice (0 is the loudest a recording can be).' },
  loudness_sd_db: { label: 'Loudness variation', unit: 'dB', digits: 1, help: 'How much your level moves: some variation keeps listeners engaged.' },
  f0_median_hz: { label: 'Typical pitch', unit: 'Hz', digits: 0, help: 'The middle of your voice’s pitch.' },
  f0_p10_hz: { label: 'Low pitch', unit: 'Hz', digits: 0, help: 'Your lower pitch (10th percentile).' },
  f0_p90_hz: { label: 'High pitch', unit: 'Hz', digits: 0, help: 'Your higher pitch (90th percentile).' },
};

/** A metric's value for people: `2.35 syll/s`, `38 %`, `—` when it could not be measured. */
export function formatMetric(name: string, value: number | null | undefined): string {
  if (value === null || value === undefined) return '—';
  const meta = METRIC_LABELS[name];
  if (!meta) return String(value);
  const shown = meta.unit === '%' ? value * 100 : value;
  return `${shown.toFixed(meta.digits)}${meta.unit ? (meta.unit === '%' ? ' %' : ` ${meta.unit}`) : ''}`;
}
