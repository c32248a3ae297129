/**
 * The people and credentials of the job bench, made the way an operator would: an admin (the
 * producer and the subscriber, with an API key scoped `*`) and one user with the `worker` role
 * holding one API key per simulated worker (the per-worker concurrency limit counts jobs per
 * key, docs/jobs.md "Worker"). Users are created through `AccountService.createUser` (what the
 * CLI calls); tokens, keys and queues through the HTTP API.
 */
import type { RunningServer } from '../../src/server.js';
import { JsonClient } from './http-json.js';
import { BENCH_PASSWORD } from './servers.js';

/** Credentials for the job bench. */
export interface JobsFixture {
  base: string;
  /** `gh_…` key of the admin (scopes `*`): enqueues, creates queues, subscribes. */
  adminKey: string;
  /** One `gh_…` key (scope `jobs:claim`) per simulated worker, all of one `worker` user. */
  workerKeys: string[];
}

let counter = 0;

async function accessToken(base: string, email: string): Promise<string> {
  const client = new JsonClient(base, {});
  try {
    const res = await client.expect([200], 'POST', '/api/v1/auth/token', {
      grant_type: 'password',
      username: email,
      password: BENCH_PASSWORD,
    });
    return (res.body as { access_token: string }).access_token;
  } finally {
    client.close();
  }
}

async function apiKeys(base: string, token: string, scopes: string[], count: number): Promise<string[]> {
  const client = new JsonClient(base, { authorization: `Bearer ${token}` });
  try {
    const keys: string[] = [];
    for (let i = 0; i < count; i++) {
      const res = await client.expect([201], 'POST', '/api/v1/api-keys', { name: `bench-${i}`, scopes, password: BENCH_PASSWORD });
      keys.push((res.body as { secret: string }).secret);
    }
    return keys;
  } finally {
    client.close();
  }
}

/** Creates the admin and the worker user with `workerKeys` keys on a running Gatehouse. */
export async function prepareJobsFixture(server: RunningServer, workerKeys: number): Promise<JobsFixture> {
  const base = server.address;
  const tag = `${process.pid}-${++counter}`;
  const adminEmail = `bench-admin-${tag}@example.com`;
  const workerEmail = `bench-worker-${tag}@example.com`;
  await server.gatehouse.accounts.createUser({ email: adminEmail, password: BENCH_PASSWORD, name: 'Bench Admin', role: 'admin' });
  await server.gatehouse.accounts.createUser({ email: workerEmail, password: BENCH_PASSWORD, name: 'Bench Worker', role: 'worker' });
  const [adminKey] = await apiKeys(base, await accessToken(base, adminEmail), ['*'], 1);
  const keys = await apiKeys(base, await accessToken(base, workerEmail), ['jobs:claim'], workerKeys);
  return { base, adminKey: adminKey as string, workerKeys: keys };
}

/** Queue settings the bench sets (docs/jobs.md "Queue"). */
export interface BenchQueueSettings {
  worker_concurrency?: number;
  lease_seconds?: number;
}

/** Creates a queue through `POST /api/v1/queues` with the admin key. */
export async function createQueue(fixture: JobsFixture, name: string, settings: BenchQueueSettings = {}): Promise<void> {
  const client = new JsonClient(fixture.base, { authorization: `Bearer ${fixture.adminKey}` });
  try {
    await client.expect([201], 'POST', '/api/v1/queues', { name, lease_seconds: 300, ...settings });
  } finally {
    client.close();
  }
}
