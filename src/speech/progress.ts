/**
 * Monthly progress over a user's analysed sessions (`GET /speech/progress`): per-month averages,
 * the best session, the biggest month-over-month improvement and highlight sentences. Pure.
 */
import type { SpeechMetrics } from './analysis/analyse.js';
import { estimatedWpm } from './analysis/feedback.js';

/** The metric names averaged per month (the report's `metrics`). */
export const METRIC_NAMES = [
  'duration_s',
  'speech_s',
  'pause_count',
  'pause_mean_s',
  'pause_max_s',
  'pause_ratio',
  'speech_rate_syll_s',
  'articulation_rate_syll_s',
  'loudness_dbfs',
  'loudness_sd_db',
  'f0_median_hz',
  'f0_p10_hz',
  'f0_p90_hz',
] as const satisfies ReadonlyArray<keyof SpeechMetrics>;

/** A finished session as the progress sees it. */
export interface ProgressSession {
  id: string;
  /** ISO-8601 UTC. */
  created_at: string;
  metrics: SpeechMetrics;
  score: number;
  /** Words per minute from a transcript, when one was made. */
  words_per_minute?: number | null | undefined;
}

/** One calendar month (UTC). */
export interface MonthProgress {
  /** `YYYY-MM`. */
  month: string;
  session_count: number;
  /** Mean of each metric over the month's sessions (nulls skipped), rounded to 3 decimals; null without sessions. */
  averages: Record<(typeof METRIC_NAMES)[number], number | null> | null;
  /** Mean session score, one decimal; null without sessions. */
  score: number | null;
}

/** `GET /speech/progress`. */
export interface ProgressReport {
  /** The first month shown, `YYYY-MM`, and the last (the current one). */
  from_month: string;
  to_month: string;
  /** Oldest first, every month of the window (empty ones with `session_count` 0). */
  months: MonthProgress[];
  session_count: number;
  /** The highest-scoring session (the earliest of equals). */
  best_session: { id: string; created_at: string; score: number } | null;
  /** The largest rise of the mean score from one month with sessions to the next month with sessions. */
  biggest_improvement: { from_month: string; to_month: string; score_change: number } | null;
  highlights: string[];
}

/** `YYYY-MM` of a date, UTC. */
export function monthOf(date: Date): string {
  return date.toISOString().slice(0, 7);
}

/** The window of `months` calendar months ending with the month of `now`: `[from, to)` as ISO times. */
export function progressWindow(now: Date, months: number): { from: string; to: string } {
  const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - (months - 1), 1));
  const to = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
  return { from: from.toISOString(), to: to.toISOString() };
}

const round = (value: number, digits: number) => Number(value.toFixed(digits));

/**
 * Builds the progress report of `sessions` (finished ones, inside the window) for the `months`
 * calendar months ending with the month of `now`.
 */
export function buildProgress(sessions: readonly ProgressSession[], months: number, now: Date): ProgressReport {
  const window = progressWindow(now, months);
  const start = new Date(window.from);
  const labels = Array.from({ length: months }, (_, i) => monthOf(new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + i, 1))));
  const byMonth = new Map<string, ProgressSession[]>(labels.map((m) => [m, []]));
  for (const s of sessions) byMonth.get(s.created_at.slice(0, 7))?.push(s);

  const monthRows: MonthProgress[] = labels.map((month) => {
    const list = byMonth.get(month) ?? [];
    if (!list.length) return { month, session_count: 0, averages: null, score: null };
    const averages = Object.fromEntries(
      METRIC_NAMES.map((name) => {
        const values = list.map((s) => s.metrics[name]).filter((v): v is number => typeof v === 'number');
        return [name, values.length ? round(values.reduce((a, b) => a + b, 0) / values.length, 3) : null];
      }),
    ) as MonthProgress['averages'];
    return { month, session_count: list.length, averages, score: round(list.reduce((a, s) => a + s.score, 0) / list.length, 1) };
  });

  const inWindow = sessions.filter((s) => byMonth.has(s.created_at.slice(0, 7)));
  let best: ProgressReport['best_session'] = null;
  for (const s of inWindow) if (!best || s.score > best.score) best = { id: s.id, created_at: s.created_at, score: s.score };

  const active = monthRows.filter((m) => m.session_count > 0);
  let improvement: ProgressReport['biggest_improvement'] = null;
  for (let i = 1; i < active.length; i++) {
    const change = round((active[i]!.score ?? 0) - (active[i - 1]!.score ?? 0), 1);
    if (change > 0 && (!improvement || change > improvement.score_change)) {
      improvement = { from_month: active[i - 1]!.month, to_month: active[i]!.month, score_change: change };
    }
  }

  const highlights: string[] = [];
  if (!inWindow.length) {
    highlights.push(`No analysed sessions in the last ${months} month${months === 1 ? '' : 's'}: record an answer to start tracking your progress.`);
  } else {
    const busiest = active.reduce((a, b) => (b.session_count > a.session_count ? b : a));
    highlights.push(`You practised ${inWindow.length} time${inWindow.length === 1 ? '' : 's'} in the last ${months} month${months === 1 ? '' : 's'}, most in ${busiest.month} (${busiest.session_count}).`);
    if (best) highlights.push(`Your best session was on ${best.created_at.slice(0, 10)}, scoring ${best.score} out of 100.`);
    if (improvement) highlights.push(`Your biggest improvement came from ${improvement.from_month} to ${improvement.to_month}: your average score rose by ${improvement.score_change} points.`);
    if (active.length >= 2) {
      const [previous, latest] = [active.at(-2)!, active.at(-1)!];
      const wpm = (month: string) => {
        const list = byMonth.get(month) ?? [];
        return list.reduce((a, s) => a + estimatedWpm(s.metrics, s.words_per_minute), 0) / list.length;
      };
      highlights.push(`Your pace went from about ${Math.round(wpm(previous.month))} to ${Math.round(wpm(latest.month))} words per minute between ${previous.month} and ${latest.month}.`);
      const before = previous.averages?.pause_ratio;
      const after = latest.averages?.pause_ratio;
      if (typeof before === 'number' && typeof after === 'number' && Math.abs(after - before) >= 0.02) {
        highlights.push(`Pauses ${after < before ? 'fell' : 'rose'} from ${Math.round(before * 100)}% to ${Math.round(after * 100)}% of your speaking time between ${previous.month} and ${latest.month}.`);
      }
    }
  }
  return {
    from_month: labels[0] ?? monthOf(now),
    to_month: labels.at(-1) ?? monthOf(now),
    months: monthRows,
    session_count: inWindow.length,
    best_session: best,
    biggest_improvement: improvement,
    highlights,
  };
}
