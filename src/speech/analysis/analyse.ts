/**
 * The speech analysis: duration, voice-activity segmentation into speech and pauses, loudness,
 * F0 and syllable nuclei (→ speech and articulation rate), from mono samples in [−1, 1].
 * Every threshold is a named, documented constant or option (docs/speech.md, "How the numbers
 * are made").
 */
import { DB_FLOOR, decimate, frameMeanSquares, mean, powerToDb, quantile, standardDeviation } from './dsp.js';
import { yinPitch } from './pitch.js';

/** Frame hop and length of the energy contour, in seconds (non-overlapping 10 ms frames). */
export const FRAME_S = 0.01;

/** Tunables of {@link analyseSpeech}. */
export interface AnalysisOptions {
  /** Shortest silence counted as a pause, seconds (default 0.25); shorter gaps count as speech. */
  minPauseS?: number;
  /** Shortest stretch of sound counted as speech, seconds (default 0.1); shorter ones (clicks) count as silence. */
  minSpeechS?: number;
  /**
   * The speech threshold relative to the loud end of the recording, dB (default −25, as de Jong &
   * Wempe 2009): a frame is speech when its level is at least the 0.99 quantile of the frame levels
   * plus this, and at least {@link AnalysisOptions.noiseMarginDb} above the noise floor.
   */
  silenceDb?: number;
  /** Margin above the noise floor (the 0.10 quantile of frame levels), dB (default 6). */
  noiseMarginDb?: number;
  /** Recordings whose 0.99 quantile level is below this are taken as silent, dBFS (default −70). */
  silentBelowDbfs?: number;
  /** Least dip, dB, between two intensity peaks for both to count as syllable nuclei (default 2, as de Jong & Wempe 2009). */
  minDipDb?: number;
  /** F0 search range, Hz (default 60–500). */
  minF0Hz?: number;
  maxF0Hz?: number;
}

/** A stretch of time, in seconds from the start of the recording. */
export interface Interval {
  start_s: number;
  end_s: number;
}

/** The numbers of a report (`metrics`); seconds, syllables per second, dBFS, dB, Hz. Null where nothing could be measured (no speech, no voiced frame). */
export interface SpeechMetrics {
  duration_s: number;
  speech_s: number;
  pause_count: number;
  pause_mean_s: number;
  pause_max_s: number;
  pause_ratio: number;
  speech_rate_syll_s: number;
  articulation_rate_syll_s: number;
  loudness_dbfs: number | null;
  loudness_sd_db: number | null;
  f0_median_hz: number | null;
  f0_p10_hz: number | null;
  f0_p90_hz: number | null;
}

/**
 * Pitch and loudness over time, for plotting: one value per `step_s` seconds from 0 (at most
 * {@link CONTOUR_MAX_POINTS} points). `f0_hz[i]` is the median F0 of the voiced 10 ms frames in
 * step i (null when none is voiced); `loudness_dbfs[i]` is 10·log10 of the mean square of the
 * samples in step i (null below the silence floor).
 */
export interface Contours {
  step_s: number;
  f0_hz: Array<number | null>;
  loudness_dbfs: Array<number | null>;
}

/** Most points in a contour (a 10-minute answer is plotted at 1 s steps). */
export const CONTOUR_MAX_POINTS = 600;

/** What {@link analyseSpeech} finds. */
export interface SpeechAnalysis {
  metrics: SpeechMetrics;
  /** The pauses between speech segments (each at least `minPauseS`). */
  pauses: Interval[];
  /** The speech segments. */
  segments: Interval[];
  /** Times of the syllable nuclei found, seconds. */
  syllables: number[];
  /** The speech threshold used, dBFS. */
  threshold_dbfs: number;
  /** Pitch and loudness over time. */
  contours: Contours;
}

/** Reports a stage's start (`fraction` of the whole analysis done, 0..1). */
export type StageListener = (fraction: number, stage: string) => Promise<void> | void;

const round = (value: number, digits: number) => Number(value.toFixed(digits));

/**
 * Analyses mono `samples` at `rate` Hz.
 *
 * 1. **Duration**: samples / rate.
 * 2. **Voice activity**: levels of 10 ms frames; a frame is speech when its level is at least
 *    max(q99 + silenceDb, q10 + noiseMarginDb). Runs of speech frames separated by less than
 *    `minPauseS` are joined; runs shorter than `minSpeechS` are dropped. Boundaries are then placed
 *    to the millisecond: the first and last 1 ms sub-frames at or above the threshold around the
 *    segment's first and last frames. Pauses are
 *    the gaps between speech segments (silence before the first and after the last is not a pause).
 *    `pause_ratio` = pause time / (end of the last segment − start of the first).
 * 3. **Loudness**: `loudness_dbfs` = 10·log10 of the mean square of the samples of the frames inside
 *    speech (a frame above the threshold whose two neighbours are too), i.e. the RMS level in dBFS;
 *    `loudness_sd_db` = the standard deviation of those frames' levels.
 * 4. **F0**: YIN ({@link yinPitch}) every 10 ms on speech frames, after decimating to ~16 kHz;
 *    median, 0.10 and 0.90 quantiles of the voiced frames.
 * 5. **Syllable nuclei** (de Jong & Wempe, "Praat script to detect syllable nuclei and measure
 *    speech rate automatically", Behavior Research Methods 41(2), 2009): peaks of the intensity
 *    contour (the frame levels smoothed with a 70 ms Hann window) inside speech segments, above
 *    the threshold, separated from the previous nucleus by a dip of at least `minDipDb`, and voiced
 *    (YIN finds an F0 within 20 ms). `speech_rate_syll_s` = nuclei / duration,
 *    `articulation_rate_syll_s` = nuclei / speech time.
 */
export async function analyseSpeech(samples: Float32Array, rate: number, options: AnalysisOptions = {}, onStage?: StageListener): Promise<SpeechAnalysis> {
  const minPauseS = options.minPauseS ?? 0.25;
  const minSpeechS = options.minSpeechS ?? 0.1;
  const silenceDb = options.silenceDb ?? -25;
  const noiseMarginDb = options.noiseMarginDb ?? 6;
  const silentBelow = options.silentBelowDbfs ?? -70;
  const minDipDb = options.minDipDb ?? 2;
  const durationS = samples.length / rate;

  await onStage?.(0.1, 'voice activity');
  const hop = Math.max(1, Math.round(rate * FRAME_S));
  const frameS = hop / rate;
  const power = frameMeanSquares(samples, hop);
  const levels = Array.from(power, powerToDb);
  const top = quantile(levels, 0.99);
  const floor = quantile(levels, 0.1);
  const threshold = Number.isNaN(top) ? 0 : Math.max(top + silenceDb, floor + noiseMarginDb);
  const silent = Number.isNaN(top) || top < silentBelow;
  const isSpeech = levels.map((level) => !silent && level >= threshold && level > DB_FLOOR);

  // Runs of speech frames as [first, last] frame indices.
  let runs: Array<[number, number]> = [];
  for (let f = 0; f < isSpeech.length; f++) {
    if (!isSpeech[f]) continue;
    const last = runs.at(-1);
    if (last && last[1] === f - 1) last[1] = f;
    else runs.push([f, f]);
  }
  const gapFrames = Math.round(minPauseS / frameS);
  const joined: Array<[number, number]> = [];
  for (const run of runs) {
    const last = joined.at(-1);
    // The gap between frames a..b and c..d is (c − b − 1) frames.
    if (last && run[0] - last[1] - 1 < gapFrames) last[1] = run[1];
    else joined.push([run[0], run[1]]);
  }
  runs = joined.filter(([a, b]) => (b - a + 1) * frameS >= minSpeechS);
  const segments: Interval[] = runs.map(([a, b]) => refineBoundaries(samples, rate, hop, a, b, threshold));
  const pauses: Interval[] = [];
  for (let i = 1; i < segments.length; i++) pauses.push({ start_s: segments[i - 1]!.end_s, end_s: segments[i]!.start_s });
  const speechS = segments.reduce((sum, s) => sum + (s.end_s - s.start_s), 0);
  const pauseTotal = pauses.reduce((sum, p) => sum + (p.end_s - p.start_s), 0);
  const span = segments.length ? segments.at(-1)!.end_s - segments[0]!.start_s : 0;

  await onStage?.(0.25, 'loudness');
  const inSegment = new Uint8Array(levels.length);
  for (const [a, b] of runs) inSegment.fill(1, a, b + 1);
  const interior: number[] = [];
  for (let f = 1; f < levels.length - 1; f++) {
    if (inSegment[f] && isSpeech[f] && isSpeech[f - 1] && isSpeech[f + 1]) interior.push(f);
  }
  const loudFrames = interior.length ? interior : levels.map((_, f) => f).filter((f) => inSegment[f] && isSpeech[f]);
  const loudness = loudFrames.length ? powerToDb(mean(loudFrames.map((f) => power[f] ?? 0))) : null;
  const loudnessSd = loudFrames.length ? standardDeviation(loudFrames.map((f) => levels[f] ?? DB_FLOOR)) : null;

  await onStage?.(0.4, 'pitch');
  const factor = rate > 16_000 ? Math.max(1, Math.round(rate / 16_000)) : 1;
  const pitchSamples = decimate(samples, factor);
  const pitchRate = rate / factor;
  const f0 = new Float64Array(levels.length).fill(Number.NaN);
  const yin = { minHz: options.minF0Hz ?? 60, maxHz: options.maxF0Hz ?? 500 };
  const halfWindow = Math.floor(pitchRate / yin.minHz);
  for (let f = 0; f < levels.length; f++) {
    if (!inSegment[f] || !isSpeech[f]) continue;
    // The analysis window (two longest periods) is centred on the frame's centre.
    const centre = Math.round((f + 0.5) * frameS * pitchRate);
    const hz = yinPitch(pitchSamples, pitchRate, centre - halfWindow, yin);
    if (hz !== null) f0[f] = hz;
    if (f % 2000 === 1999) await onStage?.(0.4 + 0.4 * (f / levels.length), 'pitch');
  }
  const voiced = Array.from(f0).filter((v) => !Number.isNaN(v));

  await onStage?.(0.8, 'syllable nuclei');
  const smoothed = smoothLevels(power, 7);
  const syllables: number[] = [];
  let last = -1;
  for (let f = 1; f < smoothed.length - 1; f++) {
    const level = smoothed[f] ?? DB_FLOOR;
    if (!inSegment[f] || level < threshold || !(level > (smoothed[f - 1] ?? 0) && level >= (smoothed[f + 1] ?? 0))) continue;
    if (!voicedNear(f0, f, 2)) continue;
    if (last < 0) {
      last = f;
      syllables.push(f);
      continue;
    }
    let dip = Number.POSITIVE_INFINITY;
    for (let g = last + 1; g < f; g++) dip = Math.min(dip, smoothed[g] ?? DB_FLOOR);
    if (dip <= Math.min(level, smoothed[last] ?? DB_FLOOR) - minDipDb) {
      syllables.push(f);
      last = f;
    } else if (level > (smoothed[last] ?? DB_FLOOR)) {
      syllables[syllables.length - 1] = f;
      last = f;
    }
  }

  const metrics: SpeechMetrics = {
    duration_s: round(durationS, 4),
    speech_s: round(speechS, 3),
    pause_count: pauses.length,
    pause_mean_s: pauses.length ? round(pauseTotal / pauses.length, 3) : 0,
    pause_max_s: pauses.length ? round(Math.max(...pauses.map((p) => p.end_s - p.start_s)), 3) : 0,
    pause_ratio: span > 0 ? round(pauseTotal / span, 4) : 0,
    speech_rate_syll_s: durationS > 0 ? round(syllables.length / durationS, 3) : 0,
    articulation_rate_syll_s: speechS > 0 ? round(syllables.length / speechS, 3) : 0,
    loudness_dbfs: loudness === null ? null : round(loudness, 2),
    loudness_sd_db: loudnessSd === null ? null : round(loudnessSd, 2),
    f0_median_hz: voiced.length ? round(quantile(voiced, 0.5), 1) : null,
    f0_p10_hz: voiced.length ? round(quantile(voiced, 0.1), 1) : null,
    f0_p90_hz: voiced.length ? round(quantile(voiced, 0.9), 1) : null,
  };
  return {
    metrics,
    pauses: pauses.map((p) => ({ start_s: round(p.start_s, 3), end_s: round(p.end_s, 3) })),
    segments: segments.map((s) => ({ start_s: round(s.start_s, 3), end_s: round(s.end_s, 3) })),
    syllables: syllables.map((f) => round((f + 0.5) * frameS, 3)),
    threshold_dbfs: round(threshold, 2),
    contours: contoursOf(power, f0, frameS),
  };
}

/**
 * Groups 10 ms frames into steps of at least 50 ms (more for long recordings, so that there are at
 * most {@link CONTOUR_MAX_POINTS}); a step's loudness is the level of its frames' mean power, its
 * F0 the median of its voiced frames.
 */
function contoursOf(power: Float64Array | number[], f0: Float64Array, frameS: number): Contours {
  const frames = f0.length;
  const perStep = Math.max(5, Math.ceil(frames / CONTOUR_MAX_POINTS));
  const contours: Contours = { step_s: round(perStep * frameS, 4), f0_hz: [], loudness_dbfs: [] };
  for (let start = 0; start < frames; start += perStep) {
    const end = Math.min(frames, start + perStep);
    let sum = 0;
    const voiced: number[] = [];
    for (let f = start; f < end; f++) {
      sum += power[f] ?? 0;
      const hz = f0[f] ?? Number.NaN;
      if (!Number.isNaN(hz)) voiced.push(hz);
    }
    const level = powerToDb(sum / (end - start));
    contours.loudness_dbfs.push(level > DB_FLOOR ? round(level, 1) : null);
    contours.f0_hz.push(voiced.length ? round(quantile(voiced, 0.5), 1) : null);
  }
  return contours;
}

/**
 * Places a segment's edges to the millisecond: the first 1 ms sub-frame at or above `threshold`
 * within the frame before the first speech frame `a` and `a` itself, and the last one within the
 * last speech frame `b` and the frame after it. Falls back to the frame edges.
 */
function refineBoundaries(samples: Float32Array, rate: number, hop: number, a: number, b: number, threshold: number): Interval {
  const sub = Math.max(1, Math.round(rate / 1000));
  const level = (from: number) => {
    let sum = 0;
    for (let i = from; i < from + sub; i++) sum += (samples[i] ?? 0) ** 2;
    return powerToDb(sum / sub);
  };
  let start = a * hop;
  for (let i = Math.max(0, (a - 1) * hop); i + sub <= (a + 1) * hop; i += sub) {
    if (level(i) >= threshold) {
      start = i;
      break;
    }
  }
  let end = (b + 1) * hop;
  for (let i = Math.min(samples.length, (b + 2) * hop) - sub; i >= b * hop; i -= sub) {
    if (level(i) >= threshold) {
      end = i + sub;
      break;
    }
  }
  return { start_s: start / rate, end_s: Math.min(samples.length, end) / rate };
}

/** True when frame `f` or one within `reach` frames has an F0. */
function voicedNear(f0: Float64Array, f: number, reach: number): boolean {
  for (let g = Math.max(0, f - reach); g <= Math.min(f0.length - 1, f + reach); g++) if (!Number.isNaN(f0[g] ?? Number.NaN)) return true;
  return false;
}

/** Levels (dB) of the frame mean squares smoothed by a Hann window of `width` frames (odd). */
function smoothLevels(power: Float64Array, width: number): number[] {
  const half = Math.floor(width / 2);
  const weights = Array.from({ length: width }, (_, k) => Math.sin((Math.PI * (k + 1)) / (width + 1)) ** 2);
  const out: number[] = [];
  for (let f = 0; f < power.length; f++) {
    let sum = 0;
    let total = 0;
    for (let k = -half; k <= half; k++) {
      const g = f + k;
      if (g < 0 || g >= power.length) continue;
      const w = weights[k + half] ?? 0;
      sum += w * (power[g] ?? 0);
      total += w;
    }
    out.push(powerToDb(total > 0 ? sum / total : 0));
  }
  return out;
}
