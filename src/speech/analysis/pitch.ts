/**
 * Fundamental frequency by YIN (A. de Cheveigné and H. Kawahara, "YIN, a fundamental frequency
 * estimator for speech and music", J. Acoust. Soc. Am. 111(4), 2002): steps 2–5 of the paper
 * (difference function, cumulative mean normalised difference, absolute threshold, parabolic
 * interpolation), per frame.
 */

/** Settings of {@link yinPitch}. */
export interface YinOptions {
  /** Lowest F0 searched, Hz (default 60). */
  minHz?: number;
  /** Highest F0 searched, Hz (default 500). */
  maxHz?: number;
  /** YIN's absolute threshold on the normalised difference (step 4; default 0.15). */
  threshold?: number;
  /** A frame is unvoiced when the normalised difference at its best lag is above this (default 0.35). */
  voicingLimit?: number;
}

/**
 * The F0 of the frame of `samples` starting at `start`, in Hz, or null when the frame is unvoiced
 * (no dip of the cumulative mean normalised difference below `voicingLimit`) or too close to the
 * end. The integration window is one longest period (`rate / minHz` samples), so a frame reads
 * two longest periods.
 */
export function yinPitch(samples: Float32Array, rate: number, start: number, options: YinOptions = {}): number | null {
  const minHz = options.minHz ?? 60;
  const maxHz = options.maxHz ?? 500;
  const threshold = options.threshold ?? 0.15;
  const voicingLimit = options.voicingLimit ?? 0.35;
  const tauMax = Math.floor(rate / minHz);
  const tauMin = Math.max(2, Math.floor(rate / maxHz));
  const window = tauMax;
  if (start < 0 || start + window + tauMax + 1 > samples.length) return null;
  // Step 2: difference function d(τ) = Σ_j (x_j − x_{j+τ})², j over the integration window.
  const d = new Float64Array(tauMax + 2);
  for (let tau = 1; tau <= tauMax + 1; tau++) {
    let sum = 0;
    for (let j = start; j < start + window; j++) {
      const diff = (samples[j] ?? 0) - (samples[j + tau] ?? 0);
      sum += diff * diff;
    }
    d[tau] = sum;
  }
  // Step 3: cumulative mean normalised difference d'(τ) = d(τ) · τ / Σ_{k=1..τ} d(k), d'(0) = 1.
  const cmnd = new Float64Array(tauMax + 2);
  cmnd[0] = 1;
  let running = 0;
  for (let tau = 1; tau <= tauMax + 1; tau++) {
    running += d[tau] ?? 0;
    cmnd[tau] = running > 0 ? ((d[tau] ?? 0) * tau) / running : 1;
  }
  // Step 4: the first lag whose d' dips below the threshold, followed down to its local minimum;
  // failing that, the global minimum in range.
  let best = -1;
  for (let tau = tauMin; tau <= tauMax; tau++) {
    if ((cmnd[tau] ?? 1) < threshold) {
      while (tau + 1 <= tauMax && (cmnd[tau + 1] ?? 1) < (cmnd[tau] ?? 1)) tau++;
      best = tau;
      break;
    }
  }
  if (best < 0) {
    let lowest = Number.POSITIVE_INFINITY;
    for (let tau = tauMin; tau <= tauMax; tau++) {
      if ((cmnd[tau] ?? 1) < lowest) {
        lowest = cmnd[tau] ?? 1;
        best = tau;
      }
    }
  }
  if (best < 0 || (cmnd[best] ?? 1) > voicingLimit) return null;
  // Step 5: parabolic interpolation of d' around the chosen lag.
  const a = cmnd[best - 1] ?? cmnd[best] ?? 0;
  const b = cmnd[best] ?? 0;
  const c = cmnd[best + 1] ?? b;
  const denominator = a - 2 * b + c;
  const shift = denominator > 0 ? (0.5 * (a - c)) / denominator : 0;
  const period = best + Math.max(-0.5, Math.min(0.5, shift));
  return rate / period;
}
