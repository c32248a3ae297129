/**
 * Signal-processing helpers of the speech analysis: short-time energy, percentiles, decimation.
 * Pure functions over `Float32Array`s of samples in [−1, 1].
 */

/** Energy floor in dB: the level given to digital silence (a frame of zeros), so logs stay finite. */
export const DB_FLOOR = -120;

/** `10·log10(meanSquare)`, floored at {@link DB_FLOOR}: the level in dBFS of a frame whose mean square is given (0 dBFS = a full-scale square wave; a full-scale sine is −3.01 dBFS). */
export function powerToDb(meanSquare: number): number {
  return meanSquare > 0 ? Math.max(DB_FLOOR, 10 * Math.log10(meanSquare)) : DB_FLOOR;
}

/**
 * Mean squares of consecutive, non-overlapping frames of `hop` samples (the last, partial frame is
 * dropped, so every frame holds exactly `hop` samples).
 */
export function frameMeanSquares(samples: Float32Array, hop: number): Float64Array {
  const count = Math.floor(samples.length / hop);
  const out = new Float64Array(count);
  for (let f = 0; f < count; f++) {
    let sum = 0;
    const start = f * hop;
    for (let i = start; i < start + hop; i++) {
      const s = samples[i] ?? 0;
      sum += s * s;
    }
    out[f] = sum / hop;
  }
  return out;
}

/**
 * The `q`-quantile (0..1) of `values` by linear interpolation between closest ranks (Hyndman &
 * Fan 1996, definition 7; numpy's default `linear` method). NaN for an empty list.
 */
export function quantile(values: ArrayLike<number>, q: number): number {
  const sorted = Array.from(values).sort((a, b) => a - b);
  if (!sorted.length) return Number.NaN;
  const position = (sorted.length - 1) * Math.min(1, Math.max(0, q));
  const low = Math.floor(position);
  const high = Math.ceil(position);
  const a = sorted[low] ?? Number.NaN;
  const b = sorted[high] ?? Number.NaN;
  return a + (b - a) * (position - low);
}

/** Arithmetic mean; NaN for an empty list. */
export function mean(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] ?? 0;
  return values.length ? sum / values.length : Number.NaN;
}

/** Population standard deviation (divides by n, as numpy's `std` does by default); NaN for an empty list. */
export function standardDeviation(values: ArrayLike<number>): number {
  const m = mean(values);
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += ((values[i] ?? 0) - m) ** 2;
  return values.length ? Math.sqrt(sum / values.length) : Number.NaN;
}

/**
 * Decimates by the integer `factor` after a low-pass windowed-sinc FIR filter (Hamming window,
 * 32·factor + 1 taps, cut-off at 0.45 / factor of the input rate), so nothing above the new
 * Nyquist frequency aliases into the pitch range. `factor` 1 returns the input.
 */
export function decimate(samples: Float32Array, factor: number): Float32Array {
  if (factor <= 1) return samples;
  const half = 16 * factor;
  const cutoff = 0.45 / factor;
  const taps = new Float64Array(2 * half + 1);
  let norm = 0;
  for (let k = -half; k <= half; k++) {
    const sinc = k === 0 ? 2 * cutoff : Math.sin(2 * Math.PI * cutoff * k) / (Math.PI * k);
    const window = 0.54 + 0.46 * Math.cos((Math.PI * k) / half);
    taps[k + half] = sinc * window;
    norm += sinc * window;
  }
  for (let k = 0; k < taps.length; k++) taps[k] = (taps[k] ?? 0) / norm;
  const out = new Float32Array(Math.floor(samples.length / factor));
  for (let j = 0; j < out.length; j++) {
    const centre = j * factor;
    let acc = 0;
    const from = Math.max(-half, -centre);
    const to = Math.min(half, samples.length - 1 - centre);
    for (let k = from; k <= to; k++) acc += (taps[k + half] ?? 0) * (samples[centre + k] ?? 0);
    out[j] = acc;
  }
  return out;
}
