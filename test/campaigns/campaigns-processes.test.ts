/**
 * The campaign of the "done when", with real processes on both dialects: a `gatehouse
 * serve` process, a generated channel-moe campaign of 20 runs, and three `gatehouse worker
 * --builtin channel-moe` processes, one killed with SIGKILL while it holds a run. The killed run's
 * lease lapses, the sweeper re-queues it, another worker finishes it; the campaign completes with
 * every run accounted for exactly once and its best equal to the minimum over the runs.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STRONG_PASSWORD } from '../helpers/harness.js';
import { dialects } from '../helpers/dialects.js';
import { http } from '../helpers/http-client.js';
import { BIN, cleanEnv, runCli } from '../helpers/server-process.js';
import { createQueue, type JobServer, startJobServer, waitUntil } from '../jobs-e2e/fixtures.js';

interface RunJson {
  job_id: string;
  state: string;
  value: number | null;
  worker_id: string | null;
}

describe.each(dialects)('a campaign over three worker processes, one killed (%s)', (dialect) => {
  let js: JobServer;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    // The server runs no built-in worker: the three processes do all the work.
    js = await startJobServer(dialect, { BUILTIN_WORKERS: 'none', JOB_SWEEP_SECONDS: '1' });
  }, 120_000);
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await js?.server.stop();
    await js?.database.drop();
  });

  /** A worker account's API keys (scope jobs:claim), with their ids. */
  async function workerKeys(count: number): Promise<Array<{ id: string; secret: string }>> {
    const email = `moe-worker-${process.pid}-${Date.now()}@example.com`;
    for (const args of [
      ['users', 'create', '--email', email, '--password-stdin'],
      ['users', 'set-role', email, 'worker'],
    ]) {
      const result = await runCli(args, { env: js.env, input: `${STRONG_PASSWORD}\n` });
      expect(result.code, result.stderr).toBe(0);
    }
    const token = await http(js.base, '/api/v1/auth/token', { json: { grant_type: 'password', username: email, password: STRONG_PASSWORD } });
    const keys = [];
    for (let i = 0; i < count; i++) {
      const res = await http(js.base, '/api/v1/api-keys', { bearer: token.json.access_token as string, json: { name: `moe ${i}`, scopes: ['jobs:claim'], password: STRONG_PASSWORD } });
      expect(res.status, res.text).toBe(201);
      keys.push({ id: (res.json.key as { id: string }).id, secret: res.json.secret as string });
    }
    return keys;
  }

  function startWorker(name: string, secret: string, queue: string): ChildProcess {
    const child = spawn(process.execPath, [BIN, 'worker', '--server', js.base, '--queue', queue, '--name', name, '--builtin', 'channel-moe', '--wait-seconds', '2'], {
      env: cleanEnv({ GATEHOUSE_API_KEY: secret }),
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    children.push(child);
    return child;
  }

  async function runs(id: string): Promise<RunJson[]> {
    const res = await http(js.base, `/api/v1/campaigns/${id}/runs?limit=200`, { bearer: js.adminToken, method: 'GET' });
    expect(res.status, res.text).toBe(200);
    return res.json.items as RunJson[];
  }

  it('completes with every run accounted for exactly once', async () => {
    await createQueue(js, { name: 'moe', lease_seconds: 5 });
    const created = await http(js.base, '/api/v1/campaigns', {
      bearer: js.adminToken,
      json: { name: 'twenty', kind: 'channel-moe', queue: 'moe', runs: 20, params: { d_in: 8, d_out: 8, n_kraus: 8, seed: 99, restarts: 40, max_iterations: 500 } },
    });
    expect(created.status, created.text).toBe(201);
    const id = created.json.id as string;
    // Runs of 40 starts at d = 8 (a few tenths of a second each): long enough to be caught running.
    const keys = await workerKeys(3);
    const processes = keys.map((key, i) => startWorker(`moe-${i + 1}`, key.secret, 'moe'));

    // Kill worker 1 while it holds a run.
    const held = await waitUntil(async () => (await runs(id)).find((r) => r.state === 'running' && r.worker_id === keys[0]!.id), {
      timeoutMs: 60_000,
      everyMs: 50,
      describe: async () => JSON.stringify(await runs(id)),
    });
    processes[0]!.kill('SIGKILL');

    const campaign = await waitUntil(
      async () => {
        const c = await http(js.base, `/api/v1/campaigns/${id}`, { bearer: js.adminToken, method: 'GET' });
        return c.json.status === 'complete' ? c.json : undefined;
      },
      { timeoutMs: 150_000, everyMs: 250, describe: async () => JSON.stringify(await runs(id)) },
    );
    expect(campaign).toMatchObject({ runs_requested: 20, runs_spawned: 20, runs_completed: 20, runs_failed: 0, runs_cancelled: 0 });

    const all = await runs(id);
    expect(all).toHaveLength(20);
    expect(new Set(all.map((r) => r.job_id)).size).toBe(20);
    expect(all.every((r) => r.state === 'succeeded' && typeof r.value === 'number')).toBe(true);
    expect(campaign.best_value).toBe(Math.min(...all.map((r) => r.value!)));
    // The killed worker's run was reclaimed once (its lease lapsed) and finished by another worker.
    const reclaimed = await http(js.base, `/api/v1/jobs/${held.job_id}`, { bearer: js.adminToken, method: 'GET' });
    const job = reclaimed.json.job as { state: string; attempt: number; lease_expiries: number; worker_id: string };
    expect(job).toMatchObject({ state: 'succeeded', attempt: 2, lease_expiries: 1 });
    expect(job.worker_id).not.toBe(keys[0]!.id);

    // Statistics agree with the runs list: 20 succeeded, one per job, split among the workers.
    const stats = await http(js.base, `/api/v1/campaigns/${id}/stats`, { bearer: js.adminToken, method: 'GET' });
    const s = stats.json as { runs: Record<string, number>; values: { count: number; min: number }; workers: Array<{ worker_id: string; succeeded: number }> };
    expect(s.runs).toMatchObject({ requested: 20, spawned: 20, queued: 0, running: 0, paused: 0, succeeded: 20, failed: 0, cancelled: 0 });
    expect(s.values).toMatchObject({ count: 20, min: campaign.best_value });
    expect(s.workers.reduce((a, w) => a + w.succeeded, 0)).toBe(20);
    const perWorker = new Map<string, number>();
    for (const r of all) perWorker.set(r.worker_id!, (perWorker.get(r.worker_id!) ?? 0) + 1);
    expect(Object.fromEntries(s.workers.map((w) => [w.worker_id, w.succeeded]))).toEqual(Object.fromEntries(perWorker));
  }, 240_000);
});
