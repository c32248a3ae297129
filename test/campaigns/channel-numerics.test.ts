/**
 * The channel-moe numerics against independent references: NumPy and SciPy (Debian's
 * python3-numpy / python3-scipy, run as `/usr/bin/python3`), closed forms and brute force.
 * Pure functions: no database.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  completenessDeviation,
  haarChannel,
  type KrausChannel,
  type EntropyObjective,
  minimizeOutputEntropy,
  outputEntropyBits,
  outputState,
} from '../../src/campaigns/channel/channel.js';
import { type CMatrix, eigh, Random, zeros } from '../../src/campaigns/channel/complex.js';
import { krausFromNpy, krausToNpy, NpyFormatError, readNpy, vectorFromNpy, vectorToNpy } from '../../src/campaigns/channel/npy.js';

const dir = mkdtempSync(path.join(tmpdir(), 'campaigns-numerics-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs a Python script with Debian's NumPy/SciPy; its last stdout line is parsed as JSON. */
function python<T>(script: string): T {
  const out = execFileSync('/usr/bin/python3', ['-c', script], { encoding: 'utf8', timeout: 120_000 });
  return JSON.parse(out.trim().split('\n').at(-1) ?? 'null') as T;
}

let files = 0;
function saveChannel(channel: KrausChannel): string {
  const file = path.join(dir, `k${++files}.npy`);
  writeFileSync(file, krausToNpy(channel));
  return file;
}

/** Builds a channel from Kraus matrices given as nested arrays of [re, im] pairs or reals. */
function channelOf(kraus: Array<Array<Array<number | [number, number]>>>): KrausChannel {
  const dOut = kraus[0]!.length;
  const dIn = kraus[0]![0]!.length;
  return {
    dIn,
    dOut,
    kraus: kraus.map((k) => {
      const m = zeros(dOut, dIn);
      k.forEach((row, r) =>
        row.forEach((v, c) => {
          m.re[r * dIn + c] = typeof v === 'number' ? v : v[0];
          m.im[r * dIn + c] = typeof v === 'number' ? 0 : v[1];
        }),
      );
      return m;
    }),
  };
}

/** h(p) = −p log₂ p − (1−p) log₂(1−p). */
const h = (p: number) => -p * Math.log2(p) - (1 - p) * Math.log2(1 - p);

/**
 * SciPy's reference for the extremum of the output entropy: `moe(path, restarts, sign)` is the
 * best of `restarts` BFGS + Nelder–Mead minimisations of sign·S over R^{2 d_in} (normalised),
 * times sign (sign = 1: the minimum, −1: the maximum).
 */
const PY_MOE = `
import json, sys
import numpy as np
from scipy.optimize import minimize
def moe(path, restarts, sign=1, seed=0):
    K = np.load(path)
    din = K.shape[2]
    def S(x):
        psi = x[:din] + 1j * x[din:]
        psi = psi / np.linalg.norm(psi)
        W = np.stack([k @ psi for k in K], axis=1)
        rho = W @ W.conj().T
        ev = np.linalg.eigvalsh(rho)
        ev = ev[ev > 1e-300]
        return sign * float(-(ev * np.log2(ev)).sum())
    rng = np.random.default_rng(seed)
    best = np.inf
    for _ in range(restarts):
        r = minimize(S, rng.standard_normal(2 * din), method='BFGS', options={'gtol': 1e-10})
        r = minimize(S, r.x, method='Nelder-Mead', options={'xatol': 1e-12, 'fatol': 1e-14, 'maxiter': 2000})
        best = min(best, r.fun)
    return sign * best
`;

/**
 * Brute force over the Bloch sphere for a qubit input: S on a 1° grid of (θ, φ), ψ = (cos θ/2,
 * e^{iφ} sin θ/2), vectorised with NumPy, then Nelder–Mead from the 20 best grid points, for
 * the minimum and for the maximum. Prints `{"min": …, "max": …}`.
 */
const PY_BLOCH = (file: string) => `
import json, numpy as np
from scipy.optimize import minimize
K = np.load('${file}')
def S_grid(a, b):
    psi = np.stack([np.cos(a / 2), np.exp(1j * b) * np.sin(a / 2)], axis=-1)
    W = np.einsum('kij,...j->...ki', K, psi)
    rho = np.einsum('...ki,...kj->...ij', W, W.conj())
    ev = np.clip(np.linalg.eigvalsh(rho), 1e-300, None)
    return -(ev * np.log2(ev)).sum(-1)
A, B = np.meshgrid(np.linspace(0, np.pi, 181), np.linspace(0, 2 * np.pi, 361), indexing='ij')
V = S_grid(A, B).ravel()
out = {}
for name, sign in (('min', 1.0), ('max', -1.0)):
    f = lambda t: sign * float(S_grid(np.array(t[0]), np.array(t[1])))
    starts = np.argsort(sign * V)[:20]
    out[name] = sign * min(minimize(f, [A.ravel()[i], B.ravel()[i]], method='Nelder-Mead', options={'xatol': 1e-12, 'fatol': 1e-15, 'maxiter': 10000}).fun for i in starts)
print(json.dumps(out))
`;

describe('Hermitian eigen-decomposition (ml-matrix on the real 2n×2n embedding) against numpy.linalg.eigvalsh', () => {
  /** A random Hermitian `n × n` matrix, and optionally a density matrix of rank `rank` (W W†, trace 1). */
  function randomHermitian(random: Random, n: number, rank?: number): CMatrix {
    const a = zeros(n, n);
    if (rank !== undefined) {
      const w = Array.from({ length: n * rank }, () => [random.normal(), random.normal()] as const);
      let trace = 0;
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          for (let k = 0; k < rank; k++) {
            const [ar, ai] = w[i * rank + k]!;
            const [br, bi] = w[j * rank + k]!;
            a.re[i * n + j]! += ar * br + ai * bi;
            a.im[i * n + j]! += ai * br - ar * bi;
          }
        }
        trace += a.re[i * n + i]!;
      }
      return { ...a, re: a.re.map((x) => x / trace), im: a.im.map((x) => x / trace) };
    }
    for (let i = 0; i < n; i++) {
      for (let j = 0; j <= i; j++) {
        const re = random.normal();
        const im = i === j ? 0 : random.normal();
        a.re[i * n + j] = re;
        a.im[i * n + j] = im;
        a.re[j * n + i] = re;
        a.im[j * n + i] = -im;
      }
    }
    return a;
  }

  it('eigenvalues match eigvalsh within 1e-12 (random, and rank-deficient density matrices) and the vectors are orthonormal eigenvectors', () => {
    const random = new Random(11);
    const cases: Array<[number, number | undefined]> = [
      [1, undefined],
      [2, undefined],
      [3, undefined],
      [5, undefined],
      [8, undefined],
      [16, undefined],
      [8, 1],
      [8, 3],
      [6, 6],
    ];
    const matrices = cases.map(([n, rank]) => randomHermitian(random, n, rank));
    const files = matrices.map((a, i) => {
      const file = path.join(dir, `h${i}.npy`);
      writeFileSync(file, vectorToNpy({ re: a.re, im: a.im }));
      return file;
    });
    // One Python process for every matrix (NumPy's import is the slow part).
    const references = python<number[][]>(
      `import json, numpy as np; print(json.dumps([np.linalg.eigvalsh(np.load(f).reshape(n, n)).tolist() for f, n in ${JSON.stringify(files.map((f, i) => [f, cases[i]![0]]))}]))`,
    );
    matrices.forEach((a, index) => {
      const n = a.rows;
      const { values, vectors } = eigh(a);
      references[index]!.forEach((v, i) => expect(Math.abs(values[i]! - v)).toBeLessThan(1e-12 * Math.max(1, Math.abs(v))));
      // H v = λ v and V†V = I.
      for (let k = 0; k < n; k++) {
        for (let r = 0; r < n; r++) {
          let re = 0;
          let im = 0;
          for (let c = 0; c < n; c++) {
            re += a.re[r * n + c]! * vectors.re[c * n + k]! - a.im[r * n + c]! * vectors.im[c * n + k]!;
            im += a.re[r * n + c]! * vectors.im[c * n + k]! + a.im[r * n + c]! * vectors.re[c * n + k]!;
          }
          expect(Math.abs(re - values[k]! * vectors.re[r * n + k]!)).toBeLessThan(1e-10);
          expect(Math.abs(im - values[k]! * vectors.im[r * n + k]!)).toBeLessThan(1e-10);
        }
        for (let l = 0; l < n; l++) {
          let re = 0;
          let im = 0;
          for (let r = 0; r < n; r++) {
            re += vectors.re[r * n + k]! * vectors.re[r * n + l]! + vectors.im[r * n + k]! * vectors.im[r * n + l]!;
            im += vectors.re[r * n + k]! * vectors.im[r * n + l]! - vectors.im[r * n + k]! * vectors.re[r * n + l]!;
          }
          expect(Math.abs(re - (k === l ? 1 : 0))).toBeLessThan(1e-12);
          expect(Math.abs(im)).toBeLessThan(1e-12);
        }
      }
    });
  });

  it('degenerate eigenvalues (a multiple of the identity, a projector) keep n independent vectors', () => {
    const p = zeros(3, 3);
    p.re[0] = 0.5;
    p.re[1] = 0.5;
    p.re[3] = 0.5;
    p.re[4] = 0.5;
    const { values } = eigh(p);
    expect([...values].map((v) => Number(v.toFixed(12)))).toEqual([0, 0, 1]);
    expect([...eigh({ ...zeros(4, 4), re: Float64Array.from({ length: 16 }, (_, i) => (i % 5 === 0 ? 2 : 0)) }).values]).toEqual([2, 2, 2, 2]);
  });
});

describe('.npy files', () => {
  it('NumPy reads what we write, and we read what NumPy writes (C and Fortran order, complex128 and float64)', () => {
    const channel = haarChannel(2, 3, 2, 5);
    const file = saveChannel(channel);
    const fromNumpy = python<{ shape: number[]; first: [number, number]; last: [number, number]; dtype: string }>(
      `import json, numpy as np; k = np.load('${file}'); print(json.dumps({'shape': list(k.shape), 'dtype': str(k.dtype), 'first': [k[0,0,0].real, k[0,0,0].imag], 'last': [k[-1,-1,-1].real, k[-1,-1,-1].imag]}))`,
    );
    expect(fromNumpy.shape).toEqual([2, 3, 2]);
    expect(fromNumpy.dtype).toBe('complex128');
    expect(fromNumpy.first).toEqual([channel.kraus[0]!.re[0], channel.kraus[0]!.im[0]]);
    expect(fromNumpy.last).toEqual([channel.kraus[1]!.re[5], channel.kraus[1]!.im[5]]);

    const written = path.join(dir, 'numpy-written');
    python(`
import json, numpy as np
a = (np.arange(24).reshape(2, 3, 4) + 1j * np.arange(24).reshape(2, 3, 4) / 10).astype(np.complex128)
np.save('${written}-c.npy', a)
np.save('${written}-f.npy', np.asfortranarray(a))
np.save('${written}-r.npy', np.arange(5, dtype=np.float64))
print(json.dumps(True))`);
    for (const order of ['c', 'f']) {
      const array = readNpy(readFileSync(`${written}-${order}.npy`));
      expect(array.shape).toEqual([2, 3, 4]);
      // Element (1, 2, 3) in C order is index 23: 23 + 2.3i.
      expect(array.re[23]).toBe(23);
      expect(array.im[23]).toBeCloseTo(2.3, 12);
      expect(array.re[6]).toBe(6);
    }
    const real = vectorFromNpy(readNpy(readFileSync(`${written}-r.npy`)));
    expect([...real.re]).toEqual([0, 1, 2, 3, 4]);
    expect([...real.im]).toEqual([0, 0, 0, 0, 0]);
  });

  it('refuses what is not a usable .npy, naming the problem', () => {
    expect(() => readNpy(Buffer.from('hello world, not numpy'))).toThrow(/magic string/);
    const good = krausToNpy(haarChannel(2, 2, 1, 1));
    expect(() => readNpy(good.subarray(0, good.length - 8))).toThrow(/data has \d+ bytes; shape \(1, 2, 2\) of <c16 needs 64/);
    const int = Buffer.from(good);
    int.write("'<i8'", good.indexOf("'<c16'"), 'latin1');
    expect(() => readNpy(int)).toThrow(NpyFormatError);
    expect(() => krausFromNpy(readNpy(vectorToNpy({ re: new Float64Array(2), im: new Float64Array(2) })))).toThrow(/shape \(n_kraus, d_out, d_in\)/);
  });
});

describe('Haar-random channels', () => {
  it('are trace preserving (Σ K†K = I, checked by NumPy) and reproducible from their seed', () => {
    for (const [dIn, dOut, n] of [
      [2, 2, 2],
      [3, 2, 4],
      [4, 4, 1],
      [5, 3, 7],
    ] as const) {
      const channel = haarChannel(dIn, dOut, n, 1234 + dIn);
      expect(completenessDeviation(channel)).toBeLessThan(1e-13);
      const file = saveChannel(channel);
      const deviation = python<number>(
        `import json, numpy as np; K = np.load('${file}'); print(json.dumps(float(np.abs(sum(k.conj().T @ k for k in K) - np.eye(K.shape[2])).max())))`,
      );
      expect(deviation).toBeLessThan(1e-13);
      expect(krausToNpy(haarChannel(dIn, dOut, n, 1234 + dIn)).equals(krausToNpy(channel))).toBe(true);
    }
    expect(krausToNpy(haarChannel(2, 2, 2, 1)).equals(krausToNpy(haarChannel(2, 2, 2, 2)))).toBe(false);
  });

  it('a square one is a Haar unitary: E[tr U] = 0 and E|tr U|² = 1 (Diaconis–Shahshahani), which QR without the phase fix misses', () => {
    const samples = 3000;
    let sumRe = 0;
    let sumIm = 0;
    let sumAbs2 = 0;
    for (let s = 0; s < samples; s++) {
      const u = haarChannel(3, 3, 1, 10_000 + s).kraus[0]!;
      const tr = [u.re[0]! + u.re[4]! + u.re[8]!, u.im[0]! + u.im[4]! + u.im[8]!] as const;
      sumRe += tr[0];
      sumIm += tr[1];
      sumAbs2 += tr[0] ** 2 + tr[1] ** 2;
    }
    // Standard errors: about 1/sqrt(2·3000) ≈ 0.013 for each mean part, ≈ 0.018 for E|tr U|².
    expect(Math.abs(sumRe / samples)).toBeLessThan(0.06);
    expect(Math.abs(sumIm / samples)).toBeLessThan(0.06);
    expect(Math.abs(sumAbs2 / samples - 1)).toBeLessThan(0.1);
  });
});

describe('output entropy', () => {
  it('S(Φ(|ψ⟩⟨ψ|)) in bits matches NumPy eigvalsh for random channels and vectors', () => {
    const random = new Random(3);
    for (const [dIn, dOut, n] of [
      [2, 2, 3],
      [3, 4, 2],
      [4, 3, 5],
    ] as const) {
      const channel = haarChannel(dIn, dOut, n, 77 + n);
      const file = saveChannel(channel);
      const psi = { re: Float64Array.from({ length: dIn }, () => random.normal()), im: Float64Array.from({ length: dIn }, () => random.normal()) };
      const vfile = path.join(dir, `v${++files}.npy`);
      writeFileSync(vfile, vectorToNpy(psi));
      const reference = python<number>(`
import json, numpy as np
K = np.load('${file}'); psi = np.load('${vfile}'); psi = psi / np.linalg.norm(psi)
rho = sum(np.outer(k @ psi, (k @ psi).conj()) for k in K)
ev = np.linalg.eigvalsh(rho); ev = ev[ev > 0]
print(json.dumps(float(-(ev * np.log2(ev)).sum())))`);
      expect(Math.abs(outputEntropyBits(channel, psi) - reference)).toBeLessThan(1e-12);
      // The output is a density matrix: trace 1.
      const rho: CMatrix = outputState(channel, { re: psi.re.map((x, i, a) => x / Math.hypot(...a, ...psi.im)), im: psi.im.map((x) => x / Math.hypot(...psi.re, ...psi.im)) });
      let trace = 0;
      for (let i = 0; i < dOut; i++) trace += rho.re[i * dOut + i]!;
      expect(trace).toBeCloseTo(1, 12);
    }
  });
});

/** Kraus operators of the Pauli channel ρ ↦ Σ p_j σ_j ρ σ_j (σ_0 = I). */
function pauliChannel(p: readonly [number, number, number, number]): KrausChannel {
  const [a, b, c, d] = p.map(Math.sqrt) as [number, number, number, number];
  return channelOf([
    [
      [a, 0],
      [0, a],
    ],
    [
      [0, b],
      [b, 0],
    ],
    [
      [0, [0, -c]],
      [[0, c], 0],
    ],
    [
      [d, 0],
      [0, -d],
    ],
  ]);
}

/** Φ(ρ) = ⟨0|ρ|0⟩ σ₀ + ⟨1|ρ|1⟩ σ₁ with σ₀ = diag(0.9, 0.1) and σ₁ = 0.7|+⟩⟨+| + 0.3|−⟩⟨−| (entanglement breaking). */
function measurePrepare(): KrausChannel {
  const s = Math.SQRT1_2;
  return channelOf([
    [
      [Math.sqrt(0.9), 0],
      [0, 0],
    ],
    [
      [0, 0],
      [Math.sqrt(0.1), 0],
    ],
    [
      [0, Math.sqrt(0.7) * s],
      [0, Math.sqrt(0.7) * s],
    ],
    [
      [0, Math.sqrt(0.3) * s],
      [0, -Math.sqrt(0.3) * s],
    ],
  ]);
}

/** |ψ_0|² of a vector. */
const weight0 = (v: { re: Float64Array; im: Float64Array }) => v.re[0]! ** 2 + v.im[0]! ** 2;

describe('extremal output entropy over pure inputs (Riemannian L-BFGS on the sphere)', () => {
  const moe = (channel: KrausChannel, restarts = 10, seed = 1, objective: EntropyObjective = 'min') =>
    minimizeOutputEntropy(channel, { seed, restarts, maxIterations: 2000, objective });

  it('identity channel: 0, for the minimum and the maximum (every pure input stays pure)', async () => {
    const id3 = channelOf([
      [
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
      ],
    ]);
    expect((await moe(id3, 3)).value).toBeLessThan(1e-12);
    expect((await moe(id3, 3, 1, 'max')).value).toBeLessThan(1e-12);
  });

  it('completely depolarising channel on C^3: log₂ 3 for the minimum and the maximum (every output is I/3)', async () => {
    const kraus = [];
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        const k = [
          [0, 0, 0],
          [0, 0, 0],
          [0, 0, 0],
        ];
        k[i]![j] = 1 / Math.sqrt(3);
        kraus.push(k);
      }
    }
    const channel = channelOf(kraus);
    expect(completenessDeviation(channel)).toBeLessThan(1e-15);
    expect(Math.abs((await moe(channel, 3)).value - Math.log2(3))).toBeLessThan(1e-9);
    expect(Math.abs((await moe(channel, 3, 1, 'max')).value - Math.log2(3))).toBeLessThan(1e-9);
  });

  it('qubit depolarising channel Φ(ρ) = (1−p)ρ + p I/2 with p = 0.4: h(p/2) = h(0.2), the minimum and the maximum', async () => {
    const p = 0.4;
    const channel = pauliChannel([1 - (3 * p) / 4, p / 4, p / 4, p / 4]);
    expect(Math.abs((await moe(channel, 3)).value - h(0.2))).toBeLessThan(1e-9);
    expect(Math.abs((await moe(channel, 3, 1, 'max')).value - h(0.2))).toBeLessThan(1e-9);
  });

  it('anisotropic Pauli channel: min = h((1 + max|λ|)/2), max = h((1 + min|λ|)/2), at the eigenvectors of σ_y and σ_z', async () => {
    // p = (0.7, 0.1, 0.15, 0.05) shrinks the Bloch vector by λ = (0.6, 0.7, 0.5) along x, y, z;
    // the output's eigenvalues are (1 ± |Λr|)/2 for the input's Bloch vector r.
    const channel = pauliChannel([0.7, 0.1, 0.15, 0.05]);
    expect(completenessDeviation(channel)).toBeLessThan(1e-15);
    const min = await moe(channel, 5);
    expect(Math.abs(min.value - h(0.85))).toBeLessThan(1e-9);
    // An eigenvector of σ_y: |ψ_0|² = 1/2 (and ⟨σ_z⟩ = 0).
    expect(weight0(min.vector)).toBeCloseTo(0.5, 6);
    const max = await moe(channel, 5, 2, 'max');
    expect(Math.abs(max.value - h(0.75))).toBeLessThan(1e-9);
    // An eigenvector of σ_z: |0⟩ or |1⟩.
    expect(Math.abs(weight0(max.vector) - 0.5)).toBeCloseTo(0.5, 6);
    expect(max.value).toBeGreaterThan(min.value);
  });

  it('dephasing and amplitude damping qubit channels: minimum 0 (|0⟩ stays pure)', async () => {
    const dephasing = channelOf([
      [
        [Math.sqrt(0.7), 0],
        [0, Math.sqrt(0.7)],
      ],
      [
        [Math.sqrt(0.3), 0],
        [0, -Math.sqrt(0.3)],
      ],
    ]);
    expect((await moe(dephasing)).value).toBeLessThan(1e-6);
    const gamma = 0.6;
    const damping = channelOf([
      [
        [1, 0],
        [0, Math.sqrt(1 - gamma)],
      ],
      [
        [0, Math.sqrt(gamma)],
        [0, 0],
      ],
    ]);
    expect((await moe(damping)).value).toBeLessThan(1e-6);
    // Dephasing's maximum is at the equator: ⟨σ_x⟩ shrinks to 0.4, so h(0.7).
    expect(Math.abs((await moe(dephasing, 5, 1, 'max')).value - h(0.7))).toBeLessThan(1e-9);
  });

  it('entanglement-breaking measure-and-prepare channel: minimum min_k S(σ_k) = h(0.1) at |0⟩ (concavity); maximum = max over p of S(pσ₀ + (1−p)σ₁) (SciPy)', async () => {
    const channel = measurePrepare();
    expect(completenessDeviation(channel)).toBeLessThan(1e-15);
    const result = await moe(channel);
    expect(Math.abs(result.value - h(0.1))).toBeLessThan(1e-6);
    expect(weight0(result.vector)).toBeCloseTo(1, 6);
    // The output depends on ψ only through p = |ψ_0|²: a bounded 1-D maximisation.
    const reference = python<number>(`
import json, numpy as np
from scipy.optimize import minimize_scalar
s0 = np.diag([0.9, 0.1]); plus = np.array([1, 1]) / np.sqrt(2); minus = np.array([1, -1]) / np.sqrt(2)
s1 = 0.7 * np.outer(plus, plus) + 0.3 * np.outer(minus, minus)
def S(p):
    ev = np.clip(np.linalg.eigvalsh(p * s0 + (1 - p) * s1), 1e-300, None)
    return float(-(ev * np.log2(ev)).sum())
r = minimize_scalar(lambda p: -S(p), bounds=(0, 1), method='bounded', options={'xatol': 1e-12})
print(json.dumps(max(S(r.x), max(S(p) for p in np.linspace(0, 1, 10001)))))`);
    expect(Math.abs((await moe(channel, 5, 1, 'max')).value - reference)).toBeLessThan(1e-6);
  });

  it('a random-unitary qubit channel: minimum and maximum equal brute force over the Bloch sphere (NumPy + SciPy) within 1e-6 bits', async () => {
    const channel = haarChannel(2, 2, 1, 900);
    const u2 = haarChannel(2, 2, 1, 901).kraus[0]!;
    const u3 = haarChannel(2, 2, 1, 902).kraus[0]!;
    const weights = [0.5, 0.3, 0.2];
    const mixed: KrausChannel = {
      dIn: 2,
      dOut: 2,
      kraus: [channel.kraus[0]!, u2, u3].map((u, i) => ({ rows: 2, cols: 2, re: u.re.map((x) => x * Math.sqrt(weights[i]!)), im: u.im.map((x) => x * Math.sqrt(weights[i]!)) })),
    };
    expect(completenessDeviation(mixed)).toBeLessThan(1e-14);
    const brute = python<{ min: number; max: number }>(PY_BLOCH(saveChannel(mixed)));
    expect(brute.max - brute.min).toBeGreaterThan(0.05);
    expect(Math.abs((await moe(mixed)).value - brute.min)).toBeLessThan(1e-6);
    expect(Math.abs((await moe(mixed, 10, 1, 'max')).value - brute.max)).toBeLessThan(1e-6);
  }, 120_000);

  it('Haar-random channels: never worse than a 10-restart SciPy BFGS + Nelder–Mead search by more than 1e-6 bits, both ways; converged (gradient ≈ 0); reproducible from the seed', async () => {
    const cases = [
      [2, 3, 2, 41],
      [3, 3, 3, 42],
      [4, 3, 2, 43],
    ] as const;
    const files = cases.map(([dIn, dOut, n, seed]) => saveChannel(haarChannel(dIn, dOut, n, seed)));
    const references = python<Array<{ min: number; max: number }>>(`${PY_MOE}\nprint(json.dumps([{'min': moe(f, 10), 'max': moe(f, 10, -1)} for f in ${JSON.stringify(files)}]))`);
    for (const [index, [dIn, dOut, n, seed]] of cases.entries()) {
      const channel = haarChannel(dIn, dOut, n, seed);
      const min = await moe(channel, 10, seed);
      expect(min.value).toBeLessThanOrEqual(references[index]!.min + 1e-6);
      // Converged: a stationary point, or an input whose output is pure (S = 0, where the gradient
      // only falls off like t·|ln t| with the distance t, so the value is the test).
      expect(min.gradientNorm < 1e-6 || min.value < 1e-12).toBe(true);
      // The value is the entropy of the vector it reports (not an artefact of the method).
      expect(Math.abs(outputEntropyBits(channel, min.vector) - min.value)).toBeLessThan(1e-12);
      const max = await moe(channel, 10, seed, 'max');
      expect(max.value).toBeGreaterThanOrEqual(references[index]!.max - 1e-6);
      expect(max.value).toBeLessThanOrEqual(Math.log2(dOut) + 1e-12);
      expect(max.gradientNorm).toBeLessThan(1e-6);
      // Equal seeds give bit-for-bit equal results.
      const again = await moe(channel, 10, seed);
      expect(again.value).toBe(min.value);
      expect([...again.vector.re, ...again.vector.im]).toEqual([...min.vector.re, ...min.vector.im]);
      expect(again.iterations).toBe(min.iterations);
    }
  }, 120_000);

  it('d_in = d_out = n_kraus = 8 (the benchmark size): every start converges to a stationary point within the default budget', async () => {
    const channel = haarChannel(8, 8, 8, 1000);
    const starts: number[] = [];
    const result = await minimizeOutputEntropy(channel, {
      seed: 0,
      restarts: 4,
      maxIterations: 1000,
      onRestart: ({ best }) => {
        starts.push(best.value);
      },
    });
    expect(starts).toHaveLength(4);
    // The best so far never rises.
    starts.forEach((v, i) => i && expect(v).toBeLessThanOrEqual(starts[i - 1]!));
    expect(result.gradientNorm).toBeLessThan(1e-6);
    expect(result.iterations).toBeLessThan(4 * 1000);
  });
});
