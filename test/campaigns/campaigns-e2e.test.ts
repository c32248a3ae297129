/**
 * End to end, on both dialects: the `channel-moe` built-in worker, in two worker threads of the
 * server claiming over HTTP, runs real campaigns to `complete`: a generated Haar channel (its Kraus
 * file and best vector checked with NumPy, its best against SciPy) and an uploaded channel whose
 * minimum output entropy has a closed form. Also the `gatehouse campaigns` CLI on the same database.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type KrausChannel } from '../../src/campaigns/channel/channel.js';
import { zeros } from '../../src/campaigns/channel/complex.js';
import { krausToNpy } from '../../src/campaigns/channel/npy.js';
import { main } from '../../src/cli/main.js';
import { makePrincipals } from '../access/access-fixtures.js';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, type TestContext } from '../helpers/harness.js';
import { listen, upload } from '../files/files-helpers.js';
import { call, type Headers, JOBS_ENV } from '../jobs/job-fixtures.js';

const dir = mkdtempSync(path.join(tmpdir(), 'campaigns-e2e-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Polls `check` until it returns a value (not undefined), or fails after `timeoutMs`. */
async function until<T>(check: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function python<T>(script: string): T {
  const out = execFileSync('/usr/bin/python3', ['-c', script], { encoding: 'utf8', timeout: 120_000 });
  return JSON.parse(out.trim().split('\n').at(-1) ?? 'null') as T;
}

/** h(p) in bits. */
const h = (p: number) => -p * Math.log2(p) - (1 - p) * Math.log2(1 - p);

/** Φ(ρ) = ⟨0|ρ|0⟩ σ₀ + ⟨1|ρ|1⟩ σ₁, σ₀ = diag(0.9, 0.1), σ₁ = 0.7|+⟩⟨+| + 0.3|−⟩⟨−|: S_min = h(0.1) by concavity. */
function measurePrepare(): KrausChannel {
  const s = Math.SQRT1_2;
  const values = [
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
  ];
  return {
    dIn: 2,
    dOut: 2,
    kraus: values.map((k) => {
      const m = zeros(2, 2);
      m.re.set(k.flat());
      return m;
    }),
  };
}

/** The Pauli channel ρ ↦ 0.7ρ + 0.1XρX + 0.15YρY + 0.05ZρZ: Bloch vector shrunk by (0.6, 0.7, 0.5), so max S over pure inputs = h(0.75), min = h(0.85). */
function pauli(): KrausChannel {
  const [a, b, c, d] = [0.7, 0.1, 0.15, 0.05].map(Math.sqrt) as [number, number, number, number];
  const ks = [
    { re: [a, 0, 0, a], im: [0, 0, 0, 0] },
    { re: [0, b, b, 0], im: [0, 0, 0, 0] },
    { re: [0, 0, 0, 0], im: [0, -c, c, 0] },
    { re: [d, 0, 0, -d], im: [0, 0, 0, 0] },
  ];
  return {
    dIn: 2,
    dOut: 2,
    kraus: ks.map((k) => {
      const m = zeros(2, 2);
      m.re.set(k.re);
      m.im.set(k.im);
      return m;
    }),
  };
}

interface CampaignJson {
  id: string;
  name: string;
  objective: string;
  status: string;
  input_file_id: string | null;
  runs_completed: number;
  runs_failed: number;
  best_value: number | null;
  best_job_id: string | null;
  best_file_id: string | null;
}

describe.each(dialects)('channel-moe campaigns end to end on %s', (dialect) => {
  let ctx: TestContext;
  let base: string;
  let admin: Headers;

  beforeAll(async () => {
    ctx = await createTestContext(dialect, { env: { ...JOBS_ENV, BUILTIN_WORKER_THREADS: '2', BUILTIN_WORKERS: 'channel-moe' } });
    base = await listen(ctx);
    admin = (await makePrincipals(ctx, { role: 'admin' })).jwt;
    await ctx.gatehouse.builtinWorkers.start(base);
  }, 120_000);
  afterAll(async () => {
    await ctx?.gatehouse.builtinWorkers.stop();
    await ctx?.close();
  });

  async function finished(id: string): Promise<CampaignJson> {
    return until(async () => {
      const c = (await call(ctx, 'GET', `/api/v1/campaigns/${id}`, admin)).json<CampaignJson>();
      return c.status === 'complete' || c.status === 'failed' || c.status === 'cancelled' ? c : undefined;
    });
  }

  async function download(fileId: string, name: string): Promise<string> {
    const res = await call(ctx, 'GET', `/api/v1/files/${fileId}`, admin);
    expect(res.statusCode).toBe(200);
    const file = path.join(dir, `${dialect}-${name}`);
    writeFileSync(file, res.rawPayload);
    return file;
  }

  it('a generated campaign runs to complete in the built-in worker; best = min over the runs, checked with NumPy and SciPy', async () => {
    expect(ctx.gatehouse.builtinWorkers.names).toEqual(['channel-moe']);
    const created = await call(ctx, 'POST', '/api/v1/campaigns', admin, {
      name: 'tiny',
      kind: 'channel-moe',
      runs: 3,
      params: { d_in: 2, d_out: 2, n_kraus: 2, seed: 2026, restarts: 3, max_iterations: 500 },
    });
    expect(created.statusCode, created.body).toBe(201);
    const campaign = await finished(created.json<CampaignJson>().id);
    expect(campaign).toMatchObject({ status: 'complete', runs_completed: 3, runs_failed: 0 });

    const runs = (await call(ctx, 'GET', `/api/v1/campaigns/${campaign.id}/runs`, admin)).json<{
      items: Array<{ job_id: string; state: string; value: number; final: boolean; vector_file_id: string; checkpoint_file_id: string | null }>;
    }>().items;
    expect(runs).toHaveLength(3);
    expect(runs.every((r) => r.state === 'succeeded' && r.final)).toBe(true);
    const values = runs.map((r) => r.value);
    expect(campaign.best_value).toBe(Math.min(...values));
    const bestRun = runs.find((r) => r.job_id === campaign.best_job_id)!;
    expect(campaign.best_file_id).toBe(bestRun.vector_file_id);
    // An entropy of a qubit output: within [0, 1] bit.
    expect(campaign.best_value!).toBeGreaterThanOrEqual(0);
    expect(campaign.best_value!).toBeLessThanOrEqual(1);

    // NumPy reads both files: the generated channel is trace preserving, and the best vector's output entropy is the best value.
    const kraus = await download(campaign.input_file_id!, 'kraus.npy');
    const vector = await download(campaign.best_file_id!, 'vector.npy');
    const checked = python<{ deviation: number; entropy: number; norm: number; reference: number }>(`
import json, numpy as np
from scipy.optimize import minimize
K = np.load('${kraus}'); psi = np.load('${vector}')
dev = float(np.abs(sum(k.conj().T @ k for k in K) - np.eye(K.shape[2])).max())
def S(psi):
    psi = psi / np.linalg.norm(psi)
    rho = sum(np.outer(k @ psi, (k @ psi).conj()) for k in K)
    ev = np.linalg.eigvalsh(rho); ev = ev[ev > 1e-300]
    return float(-(ev * np.log2(ev)).sum())
# Brute force over the Bloch sphere (d_in = 2): a 1° grid of (θ, φ), vectorised, then Nelder–Mead from the 10 best points.
def S_grid(a, b):
    v = np.stack([np.cos(a / 2), np.exp(1j * b) * np.sin(a / 2)], axis=-1)
    W = np.einsum('kij,...j->...ki', K, v)
    ev = np.clip(np.linalg.eigvalsh(np.einsum('...ki,...kj->...ij', W, W.conj())), 1e-300, None)
    return -(ev * np.log2(ev)).sum(-1)
A, B = np.meshgrid(np.linspace(0, np.pi, 181), np.linspace(0, 2 * np.pi, 361), indexing='ij')
V = S_grid(A, B).ravel()
f = lambda t: float(S_grid(np.array(t[0]), np.array(t[1])))
ref = min(minimize(f, [A.ravel()[i], B.ravel()[i]], method='Nelder-Mead', options={'xatol': 1e-12, 'fatol': 1e-15, 'maxiter': 10000}).fun for i in np.argsort(V)[:10])
print(json.dumps({'deviation': dev, 'entropy': S(psi), 'norm': float(np.linalg.norm(psi)), 'reference': ref}))`);
    expect(checked.deviation).toBeLessThan(1e-13);
    expect(checked.norm).toBeCloseTo(1, 12);
    expect(Math.abs(checked.entropy - campaign.best_value!)).toBeLessThan(1e-9);
    expect(campaign.best_value!).toBeLessThanOrEqual(checked.reference + 1e-6);

    // The worker reported its best so far in heartbeats (metrics.value), never below its final value (the best only falls).
    const history = (await call(ctx, 'GET', `/api/v1/jobs/${bestRun.job_id}`, admin)).json<{ events: Array<{ type: string; data: { metrics?: { value?: number } } }> }>();
    const reported = history.events.filter((e) => e.type === 'progress' && typeof e.data.metrics?.value === 'number').map((e) => e.data.metrics!.value!);
    expect(reported.length).toBeGreaterThan(0);
    expect(Math.min(...reported)).toBeGreaterThanOrEqual(bestRun.value - 1e-12);
    expect(reported.at(-1)).toBeCloseTo(bestRun.value, 12);

    // It uploaded its best vector as a checkpoint (the last one is the final best), which campaigns:read holders may download.
    const checkpoints = await ctx.gatehouse.files.jobFileIds(bestRun.job_id, 'checkpoint');
    expect(checkpoints.length).toBeGreaterThan(0);
    const lastCheckpoint = await call(ctx, 'GET', `/api/v1/files/${checkpoints.at(-1)!}`, admin);
    expect(lastCheckpoint.statusCode).toBe(200);
    const finalVector = await call(ctx, 'GET', `/api/v1/files/${campaign.best_file_id!}`, admin);
    expect(Buffer.from(lastCheckpoint.rawPayload).equals(Buffer.from(finalVector.rawPayload))).toBe(true);

    const stats = (await call(ctx, 'GET', `/api/v1/campaigns/${campaign.id}/stats`, admin)).json<{ runs: { succeeded: number }; values: { min: number }; workers: Array<{ worker_name: string; succeeded: number }> }>();
    expect(stats.runs.succeeded).toBe(3);
    expect(stats.values.min).toBe(campaign.best_value);
    expect(stats.workers.reduce((a, w) => a + w.succeeded, 0)).toBe(3);
    expect(stats.workers.every((w) => w.worker_name.startsWith('channel-moe-'))).toBe(true);
  }, 120_000);

  it('uploaded channels with closed forms: a min campaign finds the MOE h(0.1), a max campaign the maximum h(0.75), within 1e-6 bits', async () => {
    const token = admin.authorization!.slice('Bearer '.length);
    const uploaded = await upload(base, token, [['file', new Blob([krausToNpy(measurePrepare())]), 'kraus.npy']]);
    expect(uploaded.status).toBe(201);
    const created = await call(ctx, 'POST', '/api/v1/campaigns', admin, {
      name: 'known',
      kind: 'channel-moe',
      runs: 2,
      params: { d_in: 2, d_out: 2, n_kraus: 4, seed: 5, restarts: 4 },
      input_file_id: uploaded.json.id,
    });
    expect(created.statusCode, created.body).toBe(201);
    const campaign = await finished(created.json<CampaignJson>().id);
    expect(campaign.status).toBe('complete');
    expect(Math.abs(campaign.best_value! - h(0.1))).toBeLessThan(1e-6);

    // objective "max": the built-in worker maximises, and the campaign's best is the highest run value.
    const pauliFile = await upload(base, token, [['file', new Blob([krausToNpy(pauli())]), 'pauli.npy']]);
    expect(pauliFile.status).toBe(201);
    const createdMax = await call(ctx, 'POST', '/api/v1/campaigns', admin, {
      name: 'highest',
      kind: 'channel-moe',
      runs: 2,
      objective: 'max',
      params: { d_in: 2, d_out: 2, n_kraus: 4, seed: 6, restarts: 3 },
      input_file_id: pauliFile.json.id,
    });
    expect(createdMax.statusCode, createdMax.body).toBe(201);
    const highest = await finished(createdMax.json<CampaignJson>().id);
    expect(highest).toMatchObject({ status: 'complete', objective: 'max' });
    expect(Math.abs(highest.best_value! - h(0.75))).toBeLessThan(1e-6);
    const maxRuns = (await call(ctx, 'GET', `/api/v1/campaigns/${highest.id}/runs`, admin)).json<{ items: Array<{ value: number }> }>().items;
    expect(highest.best_value).toBe(Math.max(...maxRuns.map((r) => r.value)));
    // Every pure input of this channel has S ≤ h(0.75) < 1 bit, far above the minimum h(0.85).
    expect(maxRuns.every((r) => r.value > h(0.85) + 0.1)).toBe(true);
  }, 120_000);

  it('gatehouse campaigns list/show/stats/watch/create/pause/resume/cancel use the same database', async () => {
    // No built-in worker may take the CLI's campaign before it is cancelled.
    await ctx.gatehouse.builtinWorkers.stop();
    const saved = { ...process.env };
    Object.assign(process.env, { DATABASE_URL: ctx.config.database.dialect === 'sqlite' ? `sqlite:${ctx.config.database.url}` : ctx.config.database.url, DATA_DIR: ctx.config.dataDir, LOG_LEVEL: 'silent', BUILTIN_WORKERS: 'none' });
    const lines: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((line: unknown) => void lines.push(String(line)));
    try {
      expect(await main(['node', 'gatehouse', 'campaigns', 'list', '--json'])).toBe(0);
      const listed = lines.map((l) => JSON.parse(l) as CampaignJson);
      expect(listed.map((c) => [c.name, c.status])).toEqual([
        ['highest', 'complete'],
        ['known', 'complete'],
        ['tiny', 'complete'],
      ]);
      lines.length = 0;
      expect(await main(['node', 'gatehouse', 'campaigns', 'show', listed[1]!.id])).toBe(0);
      expect(lines.join('\n')).toMatch(/known\s+complete\s+2\/2\s+0\s+min/);
      expect(lines.join('\n')).toContain(listed[1]!.best_value!.toFixed(9));
      expect(lines.join('\n')).toMatch(/best \(bits, lowest\)/);
      lines.length = 0;
      expect(await main(['node', 'gatehouse', 'campaigns', 'show', listed[0]!.id])).toBe(0);
      expect(lines.join('\n')).toMatch(/highest\s+complete\s+2\/2\s+0\s+max/);
      expect(lines.join('\n')).toMatch(/best \(bits, highest\)\s+0\.81127812/);
      lines.length = 0;
      // watch on a finished campaign prints its final row at once; stats ID prints the summary table.
      expect(await main(['node', 'gatehouse', 'campaigns', 'watch', listed[2]!.id])).toBe(0);
      expect(lines.join('\n')).toMatch(/tiny\s+complete\s+3\/3/);
      lines.length = 0;
      expect(await main(['node', 'gatehouse', 'campaigns', 'stats', listed[2]!.id])).toBe(0);
      expect(lines.join('\n')).toMatch(/runs\s+3 requested, 3 spawned: 0 queued, 0 running, 0 paused, 3 succeeded, 0 failed, 0 cancelled/);
      lines.length = 0;
      expect(await main(['node', 'gatehouse', 'campaigns', 'stats', '--json'])).toBe(0);
      const all = JSON.parse(lines.join('')) as { objective: string | null; best_value: number | null; best_values: { min: number; max: number }; campaigns: { total: number }; runs: { succeeded: number } };
      expect(all.campaigns.total).toBe(3);
      expect(all.runs.succeeded).toBe(7);
      // Both objectives occur: no single best; the best of each kind instead.
      expect(all).toMatchObject({ objective: null, best_value: null, best_values: { min: Math.min(listed[1]!.best_value!, listed[2]!.best_value!), max: listed[0]!.best_value } });
      lines.length = 0;
      expect(await main(['node', 'gatehouse', 'campaigns', 'stats'])).toBe(0);
      expect(lines.join('\n')).toMatch(/best of max campaigns \(bits\)\s+0\.81127812/);
      lines.length = 0;
      expect(await main(['node', 'gatehouse', 'campaigns', 'create', '--name', 'cli', '--d-in', '2', '--d-out', '2', '--n-kraus', '2', '--runs', '1', '--objective', 'max', '--json'])).toBe(0);
      const made = JSON.parse(lines.join('')) as CampaignJson & { params: { seed: number }; objective: string };
      expect(made).toMatchObject({ status: 'generating', objective: 'max' });
      lines.length = 0;
      expect(await main(['node', 'gatehouse', 'campaigns', 'pause', made.id, '--json'])).toBe(0);
      expect(JSON.parse(lines.join(''))).toMatchObject({ id: made.id, status: 'paused' });
      lines.length = 0;
      expect(await main(['node', 'gatehouse', 'campaigns', 'resume', made.id])).toBe(0);
      expect(lines.join('\n')).toContain(`campaign ${made.id}: generating`);
      lines.length = 0;
      expect(await main(['node', 'gatehouse', 'campaigns', 'cancel', made.id])).toBe(0);
      expect(lines.join('\n')).toContain('cancelled');
    } finally {
      log.mockRestore();
      process.env = saved;
    }
  }, 120_000);
});
