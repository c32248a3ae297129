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

const PY_MOE = `
import json, sys
import numpy as np
from scipy.optimize import minimize
def moe(path, restarts, seed=0):
    K = np.load(path)
    din = K.shape[2]
    def S(x):
        psi = x[:din] + 1j * x[din:]
        psi = psi / np.linalg.norm(psi)
        w = np.concatenate([k @ psi for k in K])
        W = np.stack([k @ psi for k in K], axis=1)
        rho = W @ W.conj().T
        ev = np.linalg.eigvalsh(rho)
        ev = ev[ev > 1e-300]
        return float(-(ev * np.log2(ev)).sum())
    rng = np.random.default_rng(seed)
    best = np.inf
    for _ in range(restarts):
        r = minimize(S, rng.standard_normal(2 * din), method='BFGS', options={'gtol': 1e-10})
        r = minimize(S, r.x, method='Nelder-Mead', options={'xatol': 1e-12, 'fatol': 1e-14, 'maxiter': 20000})
        best = min(best, r.fun)
    return best
`;

describe('Hermitian eigen-decomposition (Jacobi) against numpy.linalg.eigh', () => {
  it('eigenvalues match eigvalsh and the vectors are orthonormal eigenvectors', () => {
    const random = new Random(11);
    for (const n of [1, 2, 3, 5, 8]) {
      const a = zeros(n, n);
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
      const file = path.join(dir, `h${n}.npy`);
      writeFileSync(file, vectorToNpy({ re: a.re, im: a.im }));
      const reference = python<number[]>(`import json, numpy as np; a = np.load('${file}').reshape(${n}, ${n}); print(json.dumps(np.linalg.eigvalsh(a).tolist()))`);
      const { values, vectors } = eigh(a);
      reference.forEach((v, i) => expect(values[i]).toBeCloseTo(v, 11));
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
    }
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

describe('minimum output entropy', () => {
  const moe = (channel: KrausChannel, restarts = 10, seed = 1) => minimizeOutputEntropy(channel, { seed, restarts, maxIterations: 2000 });

  it('identity channel: 0', async () => {
    const id3 = channelOf([
      [
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
      ],
    ]);
    expect((await moe(id3, 3)).value).toBeLessThan(1e-12);
  });

  it('completely depolarising channel on C^3: log₂ 3 (every output is I/3)', async () => {
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
  });

  it('qubit depolarising channel Φ(ρ) = (1−p)ρ + p I/2 with p = 0.4: h(p/2) = h(0.2)', async () => {
    const p = 0.4;
    const a = Math.sqrt(1 - (3 * p) / 4);
    const b = Math.sqrt(p / 4);
    const channel = channelOf([
      [
        [a, 0],
        [0, a],
      ],
      [
        [0, b],
        [b, 0],
      ],
      [
        [0, [0, -b]],
        [[0, b], 0],
      ],
      [
        [b, 0],
        [0, -b],
      ],
    ]);
    expect(Math.abs((await moe(channel, 3)).value - h(0.2))).toBeLessThan(1e-9);
  });

  it('dephasing and amplitude damping qubit channels: 0 (|0⟩ stays pure)', async () => {
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
  });

  it('entanglement-breaking measure-and-prepare channel: min_k S(σ_k) = h(0.1) (concavity), found at |0⟩', async () => {
    // Φ(ρ) = ⟨0|ρ|0⟩ σ₀ + ⟨1|ρ|1⟩ σ₁ with σ₀ = diag(0.9, 0.1) and σ₁ = 0.7|+⟩⟨+| + 0.3|−⟩⟨−|.
    const s = Math.SQRT1_2;
    const channel = channelOf([
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
    expect(completenessDeviation(channel)).toBeLessThan(1e-15);
    const result = await moe(channel);
    expect(Math.abs(result.value - h(0.1))).toBeLessThan(1e-6);
    expect(result.vector.re[0]! ** 2 + result.vector.im[0]! ** 2).toBeCloseTo(1, 6);
  });

  it('a random-unitary qubit channel: equal to brute force over the Bloch sphere (SciPy) within 1e-6 bits', async () => {
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
    const file = saveChannel(mixed);
    const brute = python<number>(`
import json, numpy as np
from scipy.optimize import minimize
K = np.load('${file}')
def S(t):
    psi = np.array([np.cos(t[0] / 2), np.exp(1j * t[1]) * np.sin(t[0] / 2)])
    rho = sum(np.outer(k @ psi, (k @ psi).conj()) for k in K)
    ev = np.linalg.eigvalsh(rho); ev = ev[ev > 1e-300]
    return float(-(ev * np.log2(ev)).sum())
grid = [(S((a, b)), a, b) for a in np.linspace(0, np.pi, 181) for b in np.linspace(0, 2 * np.pi, 361)]
grid.sort()
best = min(minimize(S, [a, b], method='Nelder-Mead', options={'xatol': 1e-12, 'fatol': 1e-15, 'maxiter': 10000}).fun for _, a, b in grid[:20])
print(json.dumps(best))`);
    const ours = (await moe(mixed)).value;
    expect(Math.abs(ours - brute)).toBeLessThan(1e-6);
  }, 120_000);

  it('Haar-random channels: never worse than a many-restart SciPy minimisation by more than 1e-6 bits', async () => {
    for (const [dIn, dOut, n, seed] of [
      [2, 3, 2, 41],
      [3, 3, 3, 42],
      [4, 3, 2, 43],
    ] as const) {
      const channel = haarChannel(dIn, dOut, n, seed);
      const file = saveChannel(channel);
      const reference = python<number>(`${PY_MOE}\nprint(json.dumps(moe('${file}', 20)))`);
      const ours = (await moe(channel, 10, seed)).value;
      expect(ours).toBeLessThanOrEqual(reference + 1e-6);
      // And the value is the entropy of the vector it reports (not an artefact of the method).
      const result = await moe(channel, 2, seed);
      expect(Math.abs(outputEntropyBits(channel, result.vector) - result.value)).toBeLessThan(1e-12);
    }
  }, 120_000);
});
