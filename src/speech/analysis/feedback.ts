/**
 * Feedback sentences and the session score, derived from a report's metrics by fixed, documented
 * thresholds (docs/speech.md, "Feedback"). Pure functions.
 */
import type { SpeechMetrics } from './analyse.js';

/**
 * Average syllables per English word, used to estimate words per minute from the syllable rate
 * when no transcript exists (about 1.5 in conversational American English; Pellegrino, Coupé &
 * Marsico 2011 report 1.4–1.6 across corpora).
 */
export const SYLLABLES_PER_WORD = 1.5;

/** The thresholds behind the feedback sentences. */
export const FEEDBACK_THRESHOLDS = {
  /** Words per minute above which the pace is called fast. */
  fastWpm: 180,
  /** Words per minute below which the pace is called slow. */
  slowWpm: 110,
  /** A pause at least this long (s) is called out. */
  longPauseS: 3,
  /** Pauses taking more than this share of the speaking span are called out. */
  pauseRatio: 0.35,
  /** Speech at least this long (s) without any pause is called out. */
  unbrokenSpeechS: 15,
  /** Speech quieter than this (dBFS RMS) is called quiet. */
  quietDbfs: -35,
  /** Speech louder than this (dBFS RMS) risks clipping. */
  loudDbfs: -6,
  /** A loudness spread below this (dB) is called flat. */
  flatLoudnessSdDb: 3,
  /** A pitch span (p10 → p90) below this many semitones is called monotone. */
  monotoneSemitones: 3,
} as const;

/** Estimated words per minute: from the transcript when there is one, else syllable rate × 60 / {@link SYLLABLES_PER_WORD}. */
export function estimatedWpm(metrics: SpeechMetrics, transcriptWpm?: number | null): number {
  return transcriptWpm ?? (metrics.speech_rate_syll_s * 60) / SYLLABLES_PER_WORD;
}

/** The pitch span from p10 to p90 in semitones (12·log2(p90/p10)), or null without F0. */
export function pitchSpanSemitones(metrics: Pick<SpeechMetrics, 'f0_p10_hz' | 'f0_p90_hz'>): number | null {
  if (!metrics.f0_p10_hz || !metrics.f0_p90_hz) return null;
  return 12 * Math.log2(metrics.f0_p90_hz / metrics.f0_p10_hz);
}

const one = (value: number) => value.toFixed(1);

/**
 * Short, specific sentences about the recording, in a fixed order (pace, pauses, loudness, pitch,
 * length against the question's `expectedSeconds`); a single encouraging sentence when nothing
 * crosses a threshold, and a single warning when no speech was found. Thresholds:
 * {@link FEEDBACK_THRESHOLDS}.
 */
export function feedbackFor(metrics: SpeechMetrics, context: { expectedSeconds?: number | null; transcriptWpm?: number | null } = {}): string[] {
  const t = FEEDBACK_THRESHOLDS;
  if (metrics.speech_s <= 0) return ['No speech was detected: check the microphone and record again.'];
  const out: string[] = [];
  const wpm = estimatedWpm(metrics, context.transcriptWpm);
  if (wpm > t.fastWpm) out.push(`Your pace was about ${Math.round(wpm)} words per minute, faster than ${t.fastWpm}: slow down so each point lands.`);
  else if (wpm < t.slowWpm) out.push(`Your pace was about ${Math.round(wpm)} words per minute, slower than ${t.slowWpm}: keep the words flowing between ideas.`);
  if (metrics.pause_max_s >= t.longPauseS) out.push(`Your longest pause lasted ${one(metrics.pause_max_s)} s; pauses of ${t.longPauseS} s or more sound like a lost thread.`);
  if (metrics.pause_ratio > t.pauseRatio) {
    out.push(`Pauses took ${Math.round(metrics.pause_ratio * 100)}% of your speaking time, more than ${Math.round(t.pauseRatio * 100)}%: join related ideas without stopping.`);
  }
  if (metrics.pause_count === 0 && metrics.speech_s >= t.unbrokenSpeechS) {
    out.push(`You spoke for ${one(metrics.speech_s)} s without a single pause: pause briefly between ideas so they sink in.`);
  }
  if (metrics.loudness_dbfs !== null && metrics.loudness_dbfs < t.quietDbfs) {
    out.push(`Your voice averaged ${one(metrics.loudness_dbfs)} dBFS, which is quiet: speak up or move closer to the microphone.`);
  } else if (metrics.loudness_dbfs !== null && metrics.loudness_dbfs > t.loudDbfs) {
    out.push(`Your voice averaged ${one(metrics.loudness_dbfs)} dBFS, close to full scale: move back from the microphone to avoid distortion.`);
  }
  if (metrics.loudness_sd_db !== null && metrics.loudness_sd_db < t.flatLoudnessSdDb) {
    out.push(`Your volume hardly varied (${one(metrics.loudness_sd_db)} dB spread): stress the key words.`);
  }
  const span = pitchSpanSemitones(metrics);
  if (span !== null && span < t.monotoneSemitones) out.push(`Your pitch stayed within ${one(span)} semitones: vary your intonation to sound engaged.`);
  const expected = context.expectedSeconds;
  if (expected && metrics.duration_s < expected / 2) {
    out.push(`Your answer lasted ${Math.round(metrics.duration_s)} s, under half of the ${expected} s expected: develop it further.`);
  } else if (expected && metrics.duration_s > expected * 1.5) {
    out.push(`Your answer lasted ${Math.round(metrics.duration_s)} s, more than 1.5 times the ${expected} s expected: tighten it.`);
  }
  if (!out.length) out.push('Pace, pauses, loudness and intonation were all in a comfortable range: keep it up.');
  return out;
}

/**
 * The session score, 0–100 (used for "best session" and month-over-month improvement): 100 × the
 * mean of three parts, each 0..1:
 * - pace: 1 for 130–170 estimated words per minute, falling linearly to 0 at 60 wpm outside that band;
 * - pauses: 1 for a pause ratio up to 0.2, falling linearly to 0 at 0.6;
 * - intonation: pitch span in semitones / 4, at most 1 (0 without F0).
 * A recording without speech scores 0. Rounded to one decimal.
 */
export function sessionScore(metrics: SpeechMetrics, transcriptWpm?: number | null): number {
  if (metrics.speech_s <= 0) return 0;
  const wpm = estimatedWpm(metrics, transcriptWpm);
  const outside = wpm < 130 ? 130 - wpm : wpm > 170 ? wpm - 170 : 0;
  const pace = Math.max(0, 1 - outside / 60);
  const pauses = Math.max(0, Math.min(1, 1 - (metrics.pause_ratio - 0.2) / 0.4));
  const intonation = Math.min(1, (pitchSpanSemitones(metrics) ?? 0) / 4);
  return Number(((100 * (pace + pauses + intonation)) / 3).toFixed(1));
}
