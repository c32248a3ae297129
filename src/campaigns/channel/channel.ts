/**
 * Quantum channels given by Kraus operators, and their minimum output entropy (MOE).
 *
 * A channel Φ: M_{d_in} → M_{d_out} with Kraus operators K_1…K_n (each d_out × d_in) acts as
 * Φ(ρ) = Σ_i K_i ρ K_i†, and is trace preserving when Σ_i K_i† K_i = I (Choi 1975; Kraus 1983).
 * Its minimum output entropy is
 *
 *     S_min(Φ) = min over unit ψ ∈ C^{d_in} of S(Φ(|ψ⟩⟨ψ|)),  S(ρ) = −tr ρ log₂ ρ,
 *
 * defined by King and Ruskai ("Minimal entropy of states emerging from noisy quantum channels",
 * IEEE Trans. Inf. Theory 47, 2001), the quantity whose additivity Shor ("Equivalence of
 * additivity questions in quantum information theory", CMP 246, 2004) showed equivalent to that of
 * the Holevo capacity (Holevo, "The additivity problem in quantum information theory", Proc. ICM
 * 2006), and which Hastings
 * ("Superadditivity of communication capacity using entangled inputs", Nature Physics 5, 2009)
 * showed is not additive for some random channels: hence the search over many random channels
 * and many starting points that campaigns run. The minimum is attained at a pure input because
 * the entropy is concave, so only unit vectors are searched. The same search also finds the
 * largest output entropy of a pure input, max over unit ψ of S(Φ(|ψ⟩⟨ψ|)) (a campaign's objective
 * `max`; over mixed inputs the maximum can be larger, up to log₂ d_out). **Entropies here are in
 * bits.**
 */
import { type CMatrix, eigh, ginibre, type HermitianEigen, orthonormalColumns, Random, zeros } from './complex.js';

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
  return applyChannel(channel, psi).rho;
}

/**
 * The images K_i ψ (one `dOut` vector per Kraus operator, in order) and ρ = Σ_i (K_i ψ)(K_i ψ)†
 * accumulated from them: the one pass both {@link outputState} and the optimiser's points use.
 */
function applyChannel(channel: KrausChannel, psi: CVector): { rho: CMatrix; images: CVector[] } {
  const { dIn, dOut } = channel;
  const rho = zeros(dOut, dOut);
  const images: CVector[] = [];
  for (const k of channel.kraus) {
    const wr = new Float64Array(dOut);
    const wi = new Float64Array(dOut);
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
    images.push({ re: wr, im: wi });
  }
  return { rho, images };
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

/** Which extremum of the output entropy over pure inputs to search for. */
export type EntropyObjective = 'min' | 'max';

/** Options of {@link minimizeOutputEntropy}. */
export interface MinimizeOptions {
  /**
   * `min` (default): the minimum output entropy S_min(Φ). `max`: the maximum of S(Φ(|ψ⟩⟨ψ|)) over
   * unit ψ (the same search on −S).
   */
  objective?: EntropyObjective;
  /** Random starting vectors (default 10). */
  restarts?: number;
  /** Most iterations (accepted or attempted line-search steps) per start (default 1000). */
  maxIterations?: number;
  /** A start has converged once the Riemannian gradient's norm is at most this, in bits per radian (default 1e-9). */
  gradientTolerance?: number;
  /** …or once 3 successive steps changed the entropy by less than this many bits (default 1e-13). */
  valueTolerance?: number;
  /** L-BFGS memory: curvature pairs kept (default 8). */
  memory?: number;
  /** Seed of the starting vectors: equal seeds give equal results. */
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

/**
 * The best point found: the entropy in bits, the unit input vector, the iterations it took in
 * all (every start), and the norm of the Riemannian gradient of the entropy (bits per radian)
 * at the returned vector.
 */
export interface MoeResult {
  value: number;
  vector: CVector;
  iterations: number;
  gradientNorm: number;
}

/**
 * Floor for the eigenvalues of ρ in the entropy's gradient. The derivative of −λ ln λ is
 * −(ln λ + 1), unbounded as λ → 0, and rounding leaves eigenvalues of a rank-deficient ρ at
 * ±1e-16 or so. Each eigenvalue's weight multiplies |⟨u_k|K_i ψ⟩|², which is itself at most
 * λ_k, so its term in the gradient is O(√λ · |ln λ|) → 0: clipping λ to this floor keeps the
 * logarithm finite (ln 1e-300 ≈ −691) without changing any term that matters.
 */
export const EIGENVALUE_FLOOR = 1e-300;

/** Armijo's sufficient-decrease constant c₁ (Absil, Mahony & Sepulchre 2008, Def. 4.2.2; Nocedal & Wright 2006, §3.1). */
const ARMIJO_C1 = 1e-4;
/** Backtracking factor β of the Armijo search. */
const BACKTRACK = 0.5;

/** A point of the search: the unit vector, S(Φ(|ψ⟩⟨ψ|)) in bits, ρ's eigen-decomposition and the K_i ψ. */
interface Point {
  psi: CVector;
  value: number;
  eig: HermitianEigen;
  images: CVector[];
}

/**
 * The extremum of the output entropy over pure inputs, in bits: by default the minimum output
 * entropy S_min(Φ) = min over unit ψ of S(Φ(|ψ⟩⟨ψ|)) (Holevo's and King & Ruskai's definition;
 * the minimum is attained at a pure input since S is concave, see the module comment), or with
 * `objective: 'max'` the maximum over pure inputs (the same search on −S).
 *
 * Method: Riemannian L-BFGS on the unit sphere of C^{d_in} (Absil, Mahony & Sepulchre,
 * "Optimization Algorithms on Matrix Manifolds", Princeton 2008: §3.6 tangent projection and
 * Riemannian gradient, Ex. 4.1.1 retraction by normalisation, §4.2 Armijo line search along
 * a descent direction, §8.1 vector transport by projection; the two-loop recursion of Nocedal
 * & Wright, "Numerical Optimization", 2nd ed., Alg. 7.4, transported as in Huang, Gallivan &
 * Absil, SIAM J. Optim. 25, 2015). Each start draws a random unit vector and repeats:
 *
 * 1. the Euclidean gradient of S at ψ (bits): ∇S = −(2/ln 2) Σ_i K_i† U diag(ln λ̃_k + 1) U† K_i ψ,
 *    with ρ = Φ(|ψ⟩⟨ψ|) = U diag(λ) U† and λ̃ = max(λ, {@link EIGENVALUE_FLOOR}) (the derivative
 *    of −λ ln λ, clipped); the Riemannian gradient is its projection (I − ψψ†)∇S, which is the
 *    sphere's tangent projection and also drops the direction iψ, along which S is constant
 *    (a global phase does not change the state: the search is in effect on CP^{d_in − 1});
 * 2. the direction d = −H·grad from the last `memory` curvature pairs (s, y), each moved to the
 *    current tangent space by projection, pairs whose curvature ⟨s, y⟩ is not positive there
 *    being dropped; when d is not a descent direction the memory is cleared and d = −grad;
 * 3. Armijo backtracking along the retraction R_ψ(t d) = (ψ + t d)/‖ψ + t d‖ from t = 1
 *    (steepest descent: t = min(1, 1/‖grad‖)), halving t until S drops by at least c₁·t·|⟨grad, d⟩|;
 *    when no step gives a decrease the arithmetic can see, the memory is cleared and steepest
 *    descent tried; if that fails too the start has converged.
 *
 * A start stops when ‖grad‖ ≤ `gradientTolerance`, when three successive steps changed S by less
 * than `valueTolerance`, or after `maxIterations`. The best start wins. The vector returned is
 * unit; its value is recomputed there, so it is exactly S of the vector reported.
 * @returns the best start's value (bits), unit vector, the total iterations and the gradient norm there.
 * @throws Error when `restarts` < 1, or what `onRestart` / `onIterations` throw.
 */
export async function minimizeOutputEntropy(channel: KrausChannel, options: MinimizeOptions): Promise<MoeResult> {
  const sign = (options.objective ?? 'min') === 'max' ? -1 : 1;
  const restarts = options.restarts ?? 10;
  const maxIterations = options.maxIterations ?? 1000;
  const gradientTolerance = options.gradientTolerance ?? 1e-9;
  const valueTolerance = options.valueTolerance ?? 1e-13;
  const memory = options.memory ?? 8;
  const yieldEvery = options.yieldEvery ?? 50;
  if (!(restarts >= 1)) throw new Error('restarts must be at least 1');
  const random = new Random(options.seed);
  const { dIn } = channel;
  let best: MoeResult | undefined;
  let iterations = 0;
  for (let restart = 0; restart < restarts; restart++) {
    const start = ginibre(dIn, 1, random);
    let x = evaluate(channel, normalized({ re: start.re, im: start.im }));
    // Everything below works on φ = sign·S, so that 'max' is a minimisation too.
    let g = scaled(riemannianGradient(channel, x), sign);
    let gNorm = norm(g);
    const pairs: Array<{ s: CVector; y: CVector; rho: number }> = [];
    let stalls = 0;
    for (let it = 0; it < maxIterations && gNorm > gradientTolerance; it++) {
      iterations++;
      if (options.onIterations && iterations % yieldEvery === 0) await options.onIterations();
      let step = lineSearch(channel, x, g, gNorm, sign, pairs.length ? lbfgsDirection(g, pairs) : undefined);
      if (!step && pairs.length) {
        pairs.length = 0;
        step = lineSearch(channel, x, g, gNorm, sign, undefined);
      }
      // No step lowers φ at working precision: this start has converged.
      if (!step) break;
      const next = step.point;
      const gNext = scaled(riemannianGradient(channel, next), sign);
      // Transport by projection onto the new tangent space: the step taken, the old gradient, the memory.
      const s = project(next.psi, step.move);
      const y = subtract(gNext, project(next.psi, g));
      const kept = pairs.splice(0).map((p) => ({ s: project(next.psi, p.s), y: project(next.psi, p.y), rho: 0 }));
      kept.push({ s, y, rho: 0 });
      for (const p of kept) {
        const sy = dot(p.s, p.y);
        // Only pairs of positive curvature keep the L-BFGS matrix positive definite.
        if (sy > 1e-12 * norm(p.s) * norm(p.y)) pairs.push({ s: p.s, y: p.y, rho: 1 / sy });
      }
      if (pairs.length > memory) pairs.splice(0, pairs.length - memory);
      const change = Math.abs(next.value - x.value);
      x = next;
      g = gNext;
      gNorm = norm(g);
      if (change < valueTolerance) {
        if (++stalls >= 3) break;
      } else stalls = 0;
    }
    const improved = !best || sign * x.value < sign * best.value;
    if (improved) best = { value: x.value, vector: x.psi, iterations, gradientNorm: gNorm };
    await options.onRestart?.({ restart: restart + 1, restarts, best: Object.assign({}, best as MoeResult, { iterations }), improved });
  }
  return Object.assign({}, best as MoeResult, { iterations });
}

/** The point at unit `psi`: ρ = Φ(|ψ⟩⟨ψ|), its eigen-decomposition, S(ρ) in bits and the images K_i ψ. */
function evaluate(channel: KrausChannel, psi: CVector): Point {
  const { rho, images } = applyChannel(channel, psi);
  const eig = eigh(rho);
  return { psi, value: entropyOfEigenvalues(eig.values), eig, images };
}

/**
 * The Riemannian gradient of S (bits) at `x`: (I − ψψ†)∇S with
 * ∇S = −(2/ln 2) Σ_i K_i† U diag(ln λ̃ + 1) U† K_i ψ (see {@link minimizeOutputEntropy}), the
 * gradient for the real inner product Re⟨a, b⟩ on C^{d_in} = R^{2 d_in}.
 */
function riemannianGradient(channel: KrausChannel, x: Point): CVector {
  const { dIn, dOut } = channel;
  const { values, vectors: u } = x.eig;
  const weight = new Float64Array(dOut);
  for (let k = 0; k < dOut; k++) weight[k] = Math.log(Math.max(values[k]!, EIGENVALUE_FLOOR)) + 1;
  const gr = new Float64Array(dIn);
  const gi = new Float64Array(dIn);
  const cr = new Float64Array(dOut);
  const ci = new Float64Array(dOut);
  const vr = new Float64Array(dOut);
  const vi = new Float64Array(dOut);
  channel.kraus.forEach((kraus, i) => {
    const w = x.images[i]!;
    // c = diag(weight) U† w
    for (let k = 0; k < dOut; k++) {
      let sr = 0;
      let si = 0;
      for (let a = 0; a < dOut; a++) {
        const ur = u.re[a * dOut + k]!;
        const ui = -u.im[a * dOut + k]!;
        sr += ur * w.re[a]! - ui * w.im[a]!;
        si += ur * w.im[a]! + ui * w.re[a]!;
      }
      cr[k] = weight[k]! * sr;
      ci[k] = weight[k]! * si;
    }
    // v = U c
    for (let a = 0; a < dOut; a++) {
      let sr = 0;
      let si = 0;
      for (let k = 0; k < dOut; k++) {
        const ur = u.re[a * dOut + k]!;
        const ui = u.im[a * dOut + k]!;
        sr += ur * cr[k]! - ui * ci[k]!;
        si += ur * ci[k]! + ui * cr[k]!;
      }
      vr[a] = sr;
      vi[a] = si;
    }
    // g += K† v
    for (let b = 0; b < dIn; b++) {
      let sr = 0;
      let si = 0;
      for (let a = 0; a < dOut; a++) {
        const kr = kraus.re[a * dIn + b]!;
        const ki = -kraus.im[a * dIn + b]!;
        sr += kr * vr[a]! - ki * vi[a]!;
        si += kr * vi[a]! + ki * vr[a]!;
      }
      gr[b]! += sr;
      gi[b]! += si;
    }
  });
  const scale = -2 / Math.LN2;
  for (let b = 0; b < dIn; b++) {
    gr[b]! *= scale;
    gi[b]! *= scale;
  }
  return project(x.psi, { re: gr, im: gi });
}

/**
 * The L-BFGS direction −H·g by the two-loop recursion (Nocedal & Wright, Alg. 7.4), oldest pair
 * first in `pairs`, with the initial matrix γI, γ = ⟨s, y⟩/⟨y, y⟩ of the newest pair.
 */
function lbfgsDirection(g: CVector, pairs: ReadonlyArray<{ s: CVector; y: CVector; rho: number }>): CVector {
  const q = { re: Float64Array.from(g.re), im: Float64Array.from(g.im) };
  const alpha = new Float64Array(pairs.length);
  for (let i = pairs.length - 1; i >= 0; i--) {
    const p = pairs[i]!;
    alpha[i] = p.rho * dot(p.s, q);
    axpy(q, -alpha[i]!, p.y);
  }
  const newest = pairs.at(-1)!;
  const gamma = dot(newest.s, newest.y) / dot(newest.y, newest.y);
  const r = scaled(q, gamma);
  for (let i = 0; i < pairs.length; i++) {
    const p = pairs[i]!;
    const beta = p.rho * dot(p.y, r);
    axpy(r, alpha[i]! - beta, p.s);
  }
  return scaled(r, -1);
}

/**
 * Armijo backtracking from `x` along `direction` (or −g when undefined, starting from
 * t = min(1, 1/‖g‖)), with the retraction by normalisation. `g` and the decrease test are of
 * φ = sign·S. @returns the accepted point and the tangent step t·d, or undefined when `direction`
 * is not a descent direction or no step lowers φ by a margin above rounding.
 */
function lineSearch(
  channel: KrausChannel,
  x: Point,
  g: CVector,
  gNorm: number,
  sign: number,
  direction: CVector | undefined,
): { point: Point; move: CVector } | undefined {
  const d = project(x.psi, direction ?? scaled(g, -1));
  const slope = dot(g, d);
  // A direction must make an angle with −grad clearly below 90°.
  if (!(slope < -1e-10 * gNorm * norm(d))) return undefined;
  const phi = sign * x.value;
  // Once the first-order decrease t·|slope| is below this, differences of φ are rounding noise.
  const noise = 8 * Number.EPSILON * Math.max(1, Math.abs(phi));
  for (let t = direction ? 1 : Math.min(1, 1 / gNorm); t * -slope > noise; t *= BACKTRACK) {
    const move = scaled(d, t);
    const point = evaluate(channel, normalized({ re: x.psi.re.map((v, i) => v + move.re[i]!), im: x.psi.im.map((v, i) => v + move.im[i]!) }));
    if (sign * point.value <= phi + ARMIJO_C1 * t * slope) return { point, move };
  }
  return undefined;
}

/** (I − ψψ†)v for unit ψ: the tangent (horizontal) part of v at ψ. */
function project(psi: CVector, v: CVector): CVector {
  // c = ψ† v
  let cr = 0;
  let ci = 0;
  for (let i = 0; i < psi.re.length; i++) {
    cr += psi.re[i]! * v.re[i]! + psi.im[i]! * v.im[i]!;
    ci += psi.re[i]! * v.im[i]! - psi.im[i]! * v.re[i]!;
  }
  const re = new Float64Array(psi.re.length);
  const im = new Float64Array(psi.re.length);
  for (let i = 0; i < psi.re.length; i++) {
    re[i] = v.re[i]! - (psi.re[i]! * cr - psi.im[i]! * ci);
    im[i] = v.im[i]! - (psi.re[i]! * ci + psi.im[i]! * cr);
  }
  return { re, im };
}

/** Re⟨a, b⟩ = Σ Re(conj(a_i) b_i): the real inner product of C^n = R^{2n}. */
function dot(a: CVector, b: CVector): number {
  let s = 0;
  for (let i = 0; i < a.re.length; i++) s += a.re[i]! * b.re[i]! + a.im[i]! * b.im[i]!;
  return s;
}

function norm(a: CVector): number {
  return Math.sqrt(dot(a, a));
}

function scaled(a: CVector, by: number): CVector {
  return { re: a.re.map((v) => v * by), im: a.im.map((v) => v * by) };
}

function subtract(a: CVector, b: CVector): CVector {
  return { re: a.re.map((v, i) => v - b.re[i]!), im: a.im.map((v, i) => v - b.im[i]!) };
}

/** y += a·x, in place. */
function axpy(y: CVector, a: number, x: CVector): void {
  for (let i = 0; i < y.re.length; i++) {
    y.re[i]! += a * x.re[i]!;
    y.im[i]! += a * x.im[i]!;
  }
}
