/**
 * Quantum channels given by Kraus operators, and their minimum output entropy (MOE).
 *
 * A channel Φ: M_{d_in} → M_{d_out} with Kraus operators K_1…K_n (each d_out × d_in) acts as
 * Φ(ρ) = Σ_i K_i ρ K_i†, and is trace preserving when Σ_i K_i† K_i = I (Choi 1975; Kraus 1983).
 * Its minimum output entropy is
 *
 *     S_min(Φ) = min over unit ψ ∈ C^{d_in} of S(Φ(|ψ⟩⟨ψ|)),  S(ρ) = −tr ρ log₂ ρ,
 *
 * the quantity whose additivity King and Ruskai, Shor ("Equivalence of additivity questions in
 * quantum information theory", CMP 246, 2004) related to Holevo capacity, and which Hastings
 * ("Superadditivity of communication capacity using entangled inputs", Nature Physics 5, 2009)
 * showed is not additive for some random channels: hence the search over many random channels
 * and many starting points that campaigns run. The minimum is attained at a pure input because
 * the entropy is concave, so only unit vectors are searched. **Entropies here are in bits.**
 */
import { type CMatrix, eigh, ginibre, multiply, orthonormalColumns, Random, zeros } from './complex.js';

/** A channel as Kraus operators, each `dOut × dIn`. */
export interface KrausChannel {
  dIn: number;
  dOut: number;
  kraus: CMatrix[];
}

/** A complex vector as split parts. */
export interface CVector {
  re: Float64Array;
  im: Float64Array;
}

/**
 * Draws a Haar-random channel: an isometry V: C^{d_in} → C^{n_kraus·d_out} (the thin Q of a
 * complex Ginibre matrix with the phase correction of Mezzadri 2007, see
 * {@link orthonormalColumns}) cut into n_kraus blocks of d_out rows: K_i = rows i·d_out …
 * (i+1)·d_out − 1 of V, so Σ K_i† K_i = V†V = I. The same `seed` always gives the same channel.
 * @throws Error when n_kraus·d_out < d_in (no isometry exists).
 */
export function haarChannel(dIn: number, dOut: number, nKraus: number, seed: number): KrausChannel {
  const rows = nKraus * dOut;
  if (rows < dIn) throw new Error(`n_kraus·d_out = ${rows} is less than d_in = ${dIn}: no trace-preserving channel has that shape`);
  const v = orthonormalColumns(ginibre(rows, dIn, new Random(seed)));
  const kraus: CMatrix[] = [];
  for (let i = 0; i < nKraus; i++) {
    const k = zeros(dOut, dIn);
    k.re.set(v.re.subarray(i * dOut * dIn, (i + 1) * dOut * dIn));
    k.im.set(v.im.subarray(i * dOut * dIn, (i + 1) * dOut * dIn));
    kraus.push(k);
  }
  return { dIn, dOut, kraus };
}

/**
 * The largest absolute entry of Σ_i K_i† K_i − I: how far the set is from trace preserving.
 */
export function completenessDeviation(channel: KrausChannel): number {
  const { dIn } = channel;
  const sum = zeros(dIn, dIn);
  for (const k of channel.kraus) {
    for (let a = 0; a < dIn; a++) {
      for (let b = 0; b < dIn; b++) {
        let re = 0;
        let im = 0;
        for (let r = 0; r < k.rows; r++) {
          // conj(K[r,a]) · K[r,b]
          const ar = k.re[r * dIn + a]!;
          const ai = k.im[r * dIn + a]!;
          const br = k.re[r * dIn + b]!;
          const bi = k.im[r * dIn + b]!;
          re += ar * br + ai * bi;
          im += ar * bi - ai * br;
        }
        sum.re[a * dIn + b]! += re;
        sum.im[a * dIn + b]! += im;
      }
    }
  }
  let worst = 0;
  for (let a = 0; a < dIn; a++) {
    for (let b = 0; b < dIn; b++) {
      const re = sum.re[a * dIn + b]! - (a === b ? 1 : 0);
      worst = Math.max(worst, Math.hypot(re, sum.im[a * dIn + b]!));
    }
  }
  return worst;
}

/** Φ(|ψ⟩⟨ψ|) = Σ_i (K_i ψ)(K_i ψ)†, a `dOut × dOut` density matrix (for a unit ψ). */
export function outputState(channel: KrausChannel, psi: CVector): CMatrix {
  const { dIn, dOut } = channel;
  const rho = zeros(dOut, dOut);
  const wr = new Float64Array(dOut);
  const wi = new Float64Array(dOut);
  for (const k of channel.kraus) {
    for (let r = 0; r < dOut; r++) {
      let sr = 0;
      let si = 0;
      for (let c = 0; c < dIn; c++) {
        const kr = k.re[r * dIn + c]!;
        const ki = k.im[r * dIn + c]!;
        sr += kr * psi.re[c]! - ki * psi.im[c]!;
        si += kr * psi.im[c]! + ki * psi.re[c]!;
      }
      wr[r] = sr;
      wi[r] = si;
    }
    for (let a = 0; a < dOut; a++) {
      for (let b = 0; b < dOut; b++) {
        // w_a · conj(w_b)
        rho.re[a * dOut + b]! += wr[a]! * wr[b]! + wi[a]! * wi[b]!;
        rho.im[a * dOut + b]! += wi[a]! * wr[b]! - wr[a]! * wi[b]!;
      }
    }
  }
  return rho;
}

/**
 * The von Neumann entropy in bits, −Σ λ log₂ λ over the eigenvalues of the Hermitian `rho`
 * (0·log 0 = 0; eigenvalues below 0, from rounding, count as 0).
 */
export function vonNeumannEntropyBits(rho: CMatrix): number {
  return entropyOfEigenvalues(eigh(rho).values);
}

function entropyOfEigenvalues(values: Float64Array): number {
  let s = 0;
  for (const l of values) if (l > 0) s -= l * Math.log2(l);
  return Math.max(0, s);
}

/** S(Φ(|ψ⟩⟨ψ|)) in bits for a vector `psi` (normalised here first). */
export function outputEntropyBits(channel: KrausChannel, psi: CVector): number {
  return vonNeumannEntropyBits(outputState(channel, normalized(psi)));
}

/** `psi / ‖psi‖`. @throws Error for the zero vector. */
export function normalized(psi: CVector): CVector {
  let n = 0;
  for (let i = 0; i < psi.re.length; i++) n += psi.re[i]! ** 2 + psi.im[i]! ** 2;
  n = Math.sqrt(n);
  if (!(n > 0)) throw new Error('the zero vector has no direction');
  return { re: psi.re.map((x) => x / n), im: psi.im.map((x) => x / n) };
}

/** Options of {@link minimizeOutputEntropy}. */
export interface MinimizeOptions {
  /** Random starting vectors (default 10). */
  restarts?: number;
  /** Most iterations per start (default 1000). */
  maxIterations?: number;
  /** Stop a start once an iteration lowers the entropy by less than this many bits (default 1e-13). */
  tolerance?: number;
  /** Seed of the starting vectors. */
  seed: number;
  /**
   * Called after each start with the best so far; awaited, so the caller can report progress,
   * yield to its event loop, wait while paused, or throw to stop.
   */
  onRestart?: (info: { restart: number; restarts: number; best: MoeResult; improved: boolean }) => Promise<void> | void;
  /** Called every `yieldEvery` iterations (default 50) and awaited: lets a worker thread's heartbeats run. */
  onIterations?: () => Promise<void> | void;
  yieldEvery?: number;
}

/** The best point found: the entropy in bits, the unit input vector, and the iterations it took in all. */
export interface MoeResult {
  value: number;
  vector: CVector;
  iterations: number;
}

/** Floor for eigenvalues of σ before the logarithm: log₂ of it is about −997, finite. */
const LOG_FLOOR = 1e-300;

/**
 * The minimum output entropy of `channel` in bits, by alternating minimisation from random
 * starts. For any states, Klein's inequality gives −tr ρ log σ ≥ S(ρ) with equality at σ = ρ,
 * so S_min(Φ) = min over (ψ, σ) of F(ψ, σ) = −⟨ψ| Φ†(log σ) |ψ⟩ where Φ†(X) = Σ K_i† X K_i.
 * Each iteration sets σ = Φ(|ψ⟩⟨ψ|) (minimising over σ) and then ψ = the top eigenvector of
 * Φ†(log σ) (minimising over ψ), so S(Φ(|ψ⟩⟨ψ|)) never increases; its fixed points are exactly
 * the stationary points of S on the unit sphere (the Lagrange condition Φ†(log ρ)ψ = μψ). This
 * is the "iterative" method of the numerical MOE literature (the same update Shor and the
 * additivity studies of the 2000s used; cf. Hastings 2009); random restarts guard against local
 * minima. Eigenvalues of σ below 1e-300 are floored before the logarithm.
 * @returns the best start's value (bits), unit vector and the total iterations.
 */
export async function minimizeOutputEntropy(channel: KrausChannel, options: MinimizeOptions): Promise<MoeResult> {
  const restarts = options.restarts ?? 10;
  const maxIterations = options.maxIterations ?? 1000;
  const tolerance = options.tolerance ?? 1e-13;
  const yieldEvery = options.yieldEvery ?? 50;
  const random = new Random(options.seed);
  const { dIn } = channel;
  let best: MoeResult | undefined;
  let iterations = 0;
  for (let restart = 0; restart < restarts; restart++) {
    const start = ginibre(dIn, 1, random);
    let psi = normalized({ re: start.re, im: start.im });
    let rho = outputState(channel, psi);
    let eig = eigh(rho);
    let value = entropyOfEigenvalues(eig.values);
    let stalls = 0;
    for (let it = 0; it < maxIterations; it++) {
      iterations++;
      if (options.onIterations && iterations % yieldEvery === 0) await options.onIterations();
      const next = topEigenvector(adjointOfLog(channel, eig));
      const nextRho = outputState(channel, next);
      const nextEig = eigh(nextRho);
      const nextValue = entropyOfEigenvalues(nextEig.values);
      // Monotone in exact arithmetic; a rise means rounding noise at the minimum: keep the better point.
      if (nextValue > value) break;
      const gain = value - nextValue;
      psi = next;
      rho = nextRho;
      eig = nextEig;
      value = nextValue;
      if (gain < tolerance) {
        if (++stalls >= 3) break;
      } else stalls = 0;
    }
    const improved = !best || value < best.value;
    if (improved) best = { value, vector: psi, iterations };
    const current: MoeResult = { ...(best as MoeResult), iterations };
    await options.onRestart?.({ restart: restart + 1, restarts, best: current, improved });
  }
  if (!best) throw new Error('restarts must be at least 1');
  return { ...best, iterations };
}

/** Φ†(log σ) = Σ_i K_i† (U diag(ln λ) U†) K_i, with σ's eigen-decomposition `eig` (natural log; the scale does not move the maximiser). */
function adjointOfLog(channel: KrausChannel, eig: { values: Float64Array; vectors: CMatrix }): CMatrix {
  const { dOut, dIn } = channel;
  const u = eig.vectors;
  const log = zeros(dOut, dOut);
  for (let k = 0; k < dOut; k++) {
    const l = Math.log(Math.max(eig.values[k]!, LOG_FLOOR));
    for (let a = 0; a < dOut; a++) {
      const ar = u.re[a * dOut + k]!;
      const ai = u.im[a * dOut + k]!;
      for (let b = 0; b < dOut; b++) {
        const br = u.re[b * dOut + k]!;
        const bi = u.im[b * dOut + k]!;
        log.re[a * dOut + b]! += l * (ar * br + ai * bi);
        log.im[a * dOut + b]! += l * (ai * br - ar * bi);
      }
    }
  }
  const out = zeros(dIn, dIn);
  for (const k of channel.kraus) {
    const lk = multiply(log, k);
    // K† (L K)
    for (let a = 0; a < dIn; a++) {
      for (let b = 0; b < dIn; b++) {
        let re = 0;
        let im = 0;
        for (let r = 0; r < dOut; r++) {
          const kr = k.re[r * dIn + a]!;
          const ki = -k.im[r * dIn + a]!;
          const xr = lk.re[r * dIn + b]!;
          const xi = lk.im[r * dIn + b]!;
          re += kr * xr - ki * xi;
          im += kr * xi + ki * xr;
        }
        out.re[a * dIn + b]! += re;
        out.im[a * dIn + b]! += im;
      }
    }
  }
  return out;
}

function topEigenvector(h: CMatrix): CVector {
  const { vectors } = eigh(h);
  const n = h.rows;
  const re = new Float64Array(n);
  const im = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    re[r] = vectors.re[r * n + n - 1]!;
    im[r] = vectors.im[r * n + n - 1]!;
  }
  return normalized({ re, im });
}
