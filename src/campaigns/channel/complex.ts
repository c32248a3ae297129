/**
 * Small dense complex linear algebra for the channel-moe kind: matrices as split real and
 * imaginary parts in row-major `Float64Array`s, a seedable random source, the Haar isometry,
 * and the Hermitian eigen-decomposition (ml-matrix on the real embedding). Pure functions, no
 * I/O: they run in the built-in worker's thread and in the server (to check an uploaded Kraus set).
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

/** A dense complex matrix of `rows × cols`, row-major: entry (r, c) is `re[r*cols+c] + i·im[r*cols+c]`. */
export interface CMatrix {
  rows: number;
  cols: number;
  re: Float64Array;
  im: Float64Array;
}

/** A zero matrix of `rows × cols`. */
export function zeros(rows: number, cols: number): CMatrix {
  return { rows, cols, re: new Float64Array(rows * cols), im: new Float64Array(rows * cols) };
}

/** The `n × n` identity. */
export function identity(n: number): CMatrix {
  const m = zeros(n, n);
  for (let i = 0; i < n; i++) m.re[i * n + i] = 1;
  return m;
}

/** `a · b` (matrix product). @throws Error when the inner dimensions differ. */
export function multiply(a: CMatrix, b: CMatrix): CMatrix {
  if (a.cols !== b.rows) throw new Error(`cannot multiply ${a.rows}×${a.cols} by ${b.rows}×${b.cols}`);
  const out = zeros(a.rows, b.cols);
  for (let i = 0; i < a.rows; i++) {
    for (let k = 0; k < a.cols; k++) {
      const ar = a.re[i * a.cols + k]!;
      const ai = a.im[i * a.cols + k]!;
      if (ar === 0 && ai === 0) continue;
      for (let j = 0; j < b.cols; j++) {
        const br = b.re[k * b.cols + j]!;
        const bi = b.im[k * b.cols + j]!;
        out.re[i * b.cols + j]! += ar * br - ai * bi;
        out.im[i * b.cols + j]! += ar * bi + ai * br;
      }
    }
  }
  return out;
}

/** The conjugate transpose `a†`. */
export function adjoint(a: CMatrix): CMatrix {
  const out = zeros(a.cols, a.rows);
  for (let i = 0; i < a.rows; i++) {
    for (let j = 0; j < a.cols; j++) {
      out.re[j * a.rows + i] = a.re[i * a.cols + j]!;
      out.im[j * a.rows + i] = -a.im[i * a.cols + j]!;
    }
  }
  return out;
}

/**
 * A seedable pseudo-random source: sfc32 (Chris Doty-Humphrey's "small fast counter", PractRand),
 * seeded from a safe integer through murmur3's 32-bit finaliser. `uniform()` is in (0, 1);
 * `normal()` is a standard normal by the Box–Muller transform.
 */
export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spare: number | undefined;

  /** @param seed any safe integer; equal seeds give equal streams. */
  constructor(seed: number) {
    const lo = seed >>> 0;
    const hi = Math.floor(seed / 2 ** 32) >>> 0;
    this.a = mix(lo ^ 0x9e3779b9);
    this.b = mix(hi ^ 0x243f6a88);
    this.c = mix(lo + 0x85a308d3);
    this.d = 1;
    for (let i = 0; i < 15; i++) this.next();
  }

  /** The next 32-bit unsigned integer. */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in the open interval (0, 1), 53 bits. */
  uniform(): number {
    const hi = this.next() >>> 5;
    const lo = this.next() >>> 6;
    return (hi * 67108864 + lo + 0.5) / 9007199254740992;
  }

  /** A standard normal variate (Box–Muller). */
  normal(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    const r = Math.sqrt(-2 * Math.log(this.uniform()));
    const theta = 2 * Math.PI * this.uniform();
    this.spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }
}

function mix(x: number): number {
  let z = x >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * A complex Ginibre matrix: independent entries (x + iy)/√2 with x, y standard normal, so each
 * entry has E|z|² = 1.
 */
export function ginibre(rows: number, cols: number, random: Random): CMatrix {
  const m = zeros(rows, cols);
  for (let i = 0; i < rows * cols; i++) {
    m.re[i] = random.normal() / Math.SQRT2;
    m.im[i] = random.normal() / Math.SQRT2;
  }
  return m;
}

/**
 * The Q of the thin QR decomposition of `z` (`rows ≥ cols`, full column rank) whose R has a
 * positive real diagonal, by modified Gram–Schmidt applied twice ("twice is enough": Giraud,
 * Langou, Rozložník, 2005). Fixing R's diagonal positive is exactly the phase correction of
 * Mezzadri ("How to generate random matrices from the classical compact groups", Notices AMS
 * 54, 2007, §5: Q·Λ with Λ = diag(r_jj/|r_jj|)): the QR of a Ginibre matrix with that
 * convention gives a Haar-distributed isometry, which LAPACK's unnormalised QR does not.
 * @throws Error when `rows < cols` or a column is (numerically) dependent on the previous ones.
 */
export function orthonormalColumns(z: CMatrix): CMatrix {
  const { rows, cols } = z;
  if (rows < cols) throw new Error(`an isometry needs rows ≥ cols, got ${rows}×${cols}`);
  const q = { rows, cols, re: Float64Array.from(z.re), im: Float64Array.from(z.im) };
  for (let j = 0; j < cols; j++) {
    const original = columnNorm(q, j);
    for (let pass = 0; pass < 2; pass++) {
      for (let k = 0; k < j; k++) {
        // c = <q_k, q_j> = Σ conj(q_k) q_j; q_j -= c q_k
        let cr = 0;
        let ci = 0;
        for (let r = 0; r < rows; r++) {
          const kr = q.re[r * cols + k]!;
          const ki = q.im[r * cols + k]!;
          const jr = q.re[r * cols + j]!;
          const ji = q.im[r * cols + j]!;
          cr += kr * jr + ki * ji;
          ci += kr * ji - ki * jr;
        }
        for (let r = 0; r < rows; r++) {
          const kr = q.re[r * cols + k]!;
          const ki = q.im[r * cols + k]!;
          q.re[r * cols + j]! -= cr * kr - ci * ki;
          q.im[r * cols + j]! -= cr * ki + ci * kr;
        }
      }
    }
    const norm = columnNorm(q, j);
    if (!(norm > 1e-12 * Math.max(1, original))) throw new Error(`column ${j} is linearly dependent on the previous ones`);
    for (let r = 0; r < rows; r++) {
      q.re[r * cols + j]! /= norm;
      q.im[r * cols + j]! /= norm;
    }
  }
  return q;
}

function columnNorm(m: CMatrix, j: number): number {
  let s = 0;
  for (let r = 0; r < m.rows; r++) s += m.re[r * m.cols + j]! ** 2 + m.im[r * m.cols + j]! ** 2;
  return Math.sqrt(s);
}

/** Eigen-decomposition of a Hermitian matrix: `values` ascending, `vectors` their orthonormal eigenvectors as columns. */
export interface HermitianEigen {
  values: Float64Array;
  vectors: CMatrix;
}

/**
 * Eigenvalues and eigenvectors of a Hermitian `n × n` matrix H = A + iB, from ml-matrix's
 * `EigenvalueDecomposition` (the JAMA / EISPACK `tred2` + `tql2` Householder tridiagonalisation
 * and implicit QL, backward stable) applied to the real symmetric embedding
 * M = [[A, −B], [B, A]] of size 2n. M has every eigenvalue of H twice, and an eigenvector
 * [x; y] of M gives the eigenvector x + iy of H (A x − B y = λx and B x + A y = λy); its twin is
 * [−y; x], which is i·(x + iy), the same complex direction. After sorting the 2n real pairs
 * ascending, the eigenvalues of H are every other one (pairs 2k, 2k+1, averaged: they agree to
 * rounding), and of the real eigenvectors taken in that order the method keeps n mutually
 * orthogonal complex vectors by complex Gram–Schmidt, dropping each twin (what remains of it
 * after removing the kept vectors is ~0). Unlike "take every other vector", this also holds when
 * H has a repeated eigenvalue, where the real solver may return any basis of the 2k-dimensional
 * eigenspace. Eigenvalues are accurate to a small multiple of machine precision times ‖H‖.
 * Only the Hermitian part of `h` is read (its lower triangle and diagonal, as LAPACK's `zheev`
 * with `UPLO='L'` reads it).
 * @throws Error when `h` is not square or the pairs cannot be separated (not seen in practice).
 */
export function eigh(h: CMatrix): HermitianEigen {
  const n = h.rows;
  if (h.cols !== n) throw new Error(`eigh needs a square matrix, got ${h.rows}×${h.cols}`);
  const N = 2 * n;
  const m = new Matrix(N, N);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const a = h.re[i * n + j]!;
      const b = i === j ? 0 : h.im[i * n + j]!;
      // M = [[A, -B], [B, A]] with A symmetric, B antisymmetric (from the lower triangle).
      m.set(i, j, a);
      m.set(j, i, a);
      m.set(i + n, j + n, a);
      m.set(j + n, i + n, a);
      m.set(i + n, j, b);
      m.set(j, i + n, b);
      m.set(j + n, i, -b);
      m.set(i, j + n, -b);
    }
  }
  // M is symmetric by construction: skip ml-matrix's exact symmetry test.
  const evd = new EigenvalueDecomposition(m, { assumeSymmetric: true });
  const values = evd.realEigenvalues;
  const vectors = evd.eigenvectorMatrix;
  const order = Array.from({ length: N }, (_, i) => i).sort((p, q) => values[p]! - values[q]!);
  const outValues = new Float64Array(n);
  for (let k = 0; k < n; k++) outValues[k] = (values[order[2 * k]!]! + values[order[2 * k + 1]!]!) / 2;
  const out = zeros(n, n);
  let kept = 0;
  const vr = new Float64Array(n);
  const vi = new Float64Array(n);
  for (const col of order) {
    if (kept === n) break;
    for (let r = 0; r < n; r++) {
      vr[r] = vectors.get(r, col);
      vi[r] = vectors.get(r + n, col);
    }
    // Remove the components along the complex vectors kept so far (the twin of a kept vector is i times it).
    for (let pass = 0; pass < 2; pass++) {
      for (let k = 0; k < kept; k++) {
        let cr = 0;
        let ci = 0;
        for (let r = 0; r < n; r++) {
          const kr = out.re[r * n + k]!;
          const ki = out.im[r * n + k]!;
          cr += kr * vr[r]! + ki * vi[r]!;
          ci += kr * vi[r]! - ki * vr[r]!;
        }
        for (let r = 0; r < n; r++) {
          const kr = out.re[r * n + k]!;
          const ki = out.im[r * n + k]!;
          vr[r]! -= cr * kr - ci * ki;
          vi[r]! -= cr * ki + ci * kr;
        }
      }
    }
    let norm = 0;
    for (let r = 0; r < n; r++) norm += vr[r]! ** 2 + vi[r]! ** 2;
    norm = Math.sqrt(norm);
    // A real eigenvector of M has norm 1; what is left of a twin after removing its kept vector is ~0.
    if (norm < 0.5) continue;
    for (let r = 0; r < n; r++) {
      out.re[r * n + kept] = vr[r]! / norm;
      out.im[r * n + kept] = vi[r]! / norm;
    }
    kept++;
  }
  if (kept < n) throw new Error('eigh: could not separate the eigenvector pairs');
  return { values: outValues, vectors: out };
}
