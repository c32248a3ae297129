/** Monthly progress (src/speech/progress.ts) against figures computed by hand. Pure: no database. */
import { describe, expect, it } from 'vitest';
import type { SpeechMetrics } from '../../src/speech/analysis/analyse.js';
import { buildProgress, progressWindow } from '../../src/speech/progress.js';

const metrics = (over: Partial<SpeechMetrics>): SpeechMetrics => ({
  duration_s: 60, speech_s: 45, pause_count: 10, pause_mean_s: 1, pause_max_s: 2, pause_ratio: 0.3,
  speech_rate_syll_s: 3, articulation_rate_syll_s: 4, loudness_dbfs: -20, loudness_sd_db: 6,
  f0_median_hz: 120, f0_p10_hz: 100, f0_p90_hz: 150, ...over,
});

describe('monthly progress', () => {
  const now = new Date('2026-12-05T10:00:00Z');

  it('windows whole UTC calendar months ending with the current one', () => {
    expect(progressWindow(now, 12)).toEqual({ from: '2026-01-01T00:00:00.000Z', to: '2027-01-01T00:00:00.000Z' });
    expect(progressWindow(new Date('2027-01-31T23:59:59Z'), 2)).toEqual({ from: '2026-12-01T00:00:00.000Z', to: '2027-02-01T00:00:00.000Z' });
  });

  it('averages per month, finds the best session and the biggest month-over-month rise, and says so', () => {
    const sessions = [
      { id: 'a', created_at: '2026-09-10T08:00:00.000Z', metrics: metrics({ pause_ratio: 0.4, speech_rate_syll_s: 2 }), score: 40 },
      // October: none.
      { id: 'b', created_at: '2026-11-02T08:00:00.000Z', metrics: metrics({ pause_ratio: 0.3, speech_rate_syll_s: 3, f0_median_hz: 110 }), score: 60 },
      { id: 'c', created_at: '2026-11-20T08:00:00.000Z', metrics: metrics({ pause_ratio: 0.2, speech_rate_syll_s: 4, f0_median_hz: 131, loudness_dbfs: null }), score: 71 },
      { id: 'd', created_at: '2026-12-01T00:00:00.000Z', metrics: metrics({ pause_ratio: 0.1, speech_rate_syll_s: 3.5 }), score: 70 },
      { id: 'old', created_at: '2025-11-30T23:59:59.000Z', metrics: metrics({}), score: 99 },
    ];
    const report = buildProgress(sessions, 4, now);
    expect(report.from_month).toBe('2026-09');
    expect(report.to_month).toBe('2026-12');
    expect(report.months.map((m) => [m.month, m.session_count, m.score])).toEqual([
      ['2026-09', 1, 40],
      ['2026-10', 0, null],
      ['2026-11', 2, 65.5], // (60 + 71) / 2
      ['2026-12', 1, 70],
    ]);
    const november = report.months[2]!.averages!;
    expect(november.pause_ratio).toBe(0.25); // (0.3 + 0.2) / 2
    expect(november.f0_median_hz).toBe(120.5); // (110 + 131) / 2
    expect(november.loudness_dbfs).toBe(-20); // the null is skipped
    expect(report.months[1]!.averages).toBeNull();
    expect(report.session_count).toBe(4); // 'old' is outside the window
    expect(report.best_session).toEqual({ id: 'c', created_at: '2026-11-20T08:00:00.000Z', score: 71 });
    // September → November (the next month with sessions): +25.5; November → December: +4.5.
    expect(report.biggest_improvement).toEqual({ from_month: '2026-09', to_month: '2026-11', score_change: 25.5 });
    expect(report.highlights).toEqual([
      'You practised 4 times in the last 4 months, most in 2026-11 (2).',
      'Your best session was on 2026-11-20, scoring 71 out of 100.',
      'Your biggest improvement came from 2026-09 to 2026-11: your average score rose by 25.5 points.',
      // November: (3 + 4) / 2 syll/s × 40 = 140 wpm; December 3.5 × 40 = 140 wpm.
      'Your pace went from about 140 to 140 words per minute between 2026-11 and 2026-12.',
      'Pauses fell from 25% to 10% of your speaking time between 2026-11 and 2026-12.',
    ]);
  });

  it('with no sessions: empty months, nulls, one sentence', () => {
    const report = buildProgress([], 2, now);
    expect(report.months).toEqual([
      { month: '2026-11', session_count: 0, averages: null, score: null },
      { month: '2026-12', session_count: 0, averages: null, score: null },
    ]);
    expect(report).toMatchObject({ session_count: 0, best_session: null, biggest_improvement: null });
    expect(report.highlights).toEqual(['No analysed sessions in the last 2 months: record an answer to start tracking your progress.']);
  });
});

describe('the final live event', () => {
  it('carries the whole report, or, past 60 000 characters, the report without pauses and transcript', async () => {
    const { reportEvent } = await import('../../src/speech/speech.service.js');
    const view = {
      id: 's', owner_id: 'u', question_id: null, state: 'done' as const, job_id: 'j', format: 'wav', duration_s: 600, audio_url: '/a',
      created_at: 't', updated_at: 't', finished_at: 't', score: 50, error: null, metrics: null, feedback: ['ok'],
      pauses: [{ start_s: 1, end_s: 2 }], transcript: 'hello',
    };
    expect(reportEvent(view)).toEqual({ session: view });
    const big = { ...view, pauses: Array.from({ length: 400 }, (_, i) => ({ start_s: i, end_s: i + 0.5 })), transcript: 'word '.repeat(10_000) };
    const data = reportEvent(big) as { session: Record<string, unknown>; truncated: boolean };
    expect(data.truncated).toBe(true);
    expect(data.session.pauses).toEqual([]);
    expect(data.session).not.toHaveProperty('transcript');
    expect(data.session.feedback).toEqual(['ok']);
    expect(JSON.stringify(data).length).toBeLessThan(60_000);
  });
});
