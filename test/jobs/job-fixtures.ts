/**
 * Fixtures for the job-system tests: an admin, a job owner, worker API keys (one key = one
 * worker), queue creation and short protocol helpers. Everything goes through the real HTTP API.
 */
import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { ACCESS_ENV, bearer, call, type Headers, makePrincipals } from '../access/access-fixtures.js';
import { loginCookie, makeApiKey, makeUser, type TestContext } from '../helpers/harness.js';

export { ACCESS_ENV, bearer, call, type Headers };

/** Environment for job tests: request limits out of reach (they are test/limits' subject). */
export const JOBS_ENV: Record<string, string> = { ...ACCESS_ENV, JOB_SWEEP_SECONDS: '3600', ADMIN_EMAILS: 'ops@example.com' };

/** The scopes of a job owner's API key: enqueue, read and control their jobs, their files and live events. */
export const OWNER_SCOPES = ['account:self', 'jobs:enqueue', 'jobs:read', 'jobs:control', 'files:read', 'files:write', 'events:read'];

/** Cast of a job-system test. */
export interface Cast {
  admin: Headers;
  owner: Headers;
  ownerId: string;
  other: Headers;
  /** A fresh worker API key each call. */
  newWorker(name?: string): Promise<{ headers: Headers; id: string }>;
}

/** Creates an admin, two users and a worker-key factory. */
export async function makeCast(ctx: TestContext): Promise<Cast> {
  const admin = await makePrincipals(ctx, { role: 'admin' });
  const owner = await makePrincipals(ctx, { role: 'user', scopes: OWNER_SCOPES });
  const other = await makePrincipals(ctx, { role: 'user', scopes: OWNER_SCOPES });
  const workerUser = await makeUser(ctx, { role: 'worker' });
  const workerCookie = { cookie: await loginCookie(ctx, workerUser) };
  return {
    admin: admin.apiKey,
    owner: owner.apiKey,
    ownerId: owner.user.id,
    other: other.apiKey,
    async newWorker(name = 'w') {
      const key = await makeApiKey(ctx, workerCookie, { scopes: ['jobs:claim', 'account:self'], name });
      return { headers: key.headers, id: key.id };
    },
  };
}

/** Creates a queue as `admin`; fails the test unless 201. */
export async function createQueue(ctx: TestContext, admin: Headers, body: Record<string, unknown>): Promise<void> {
  const res = await call(ctx, 'POST', '/api/v1/queues', admin, body);
  expect(res.statusCode, res.body).toBe(201);
}

/** Enqueues one job; fails the test unless 201. @returns the job. */
export async function enqueue(ctx: TestContext, as: Headers, queue: string, body: Record<string, unknown>): Promise<JobJson> {
  const res = await call(ctx, 'POST', `/api/v1/queues/${queue}/jobs`, as, body);
  expect(res.statusCode, res.body).toBe(201);
  return res.json<JobJson>();
}

/** The job fields the tests read. */
export interface JobJson {
  id: string;
  state: string;
  attempt: number;
  failures: number;
  lease_expiries: number;
  worker_id: string | null;
  progress: number;
  progress_message: string | null;
  result: unknown;
  error: { message: string } | null;
  run_after: string;
  owner_id: string | null;
  kind: string;
  payload: unknown;
  lease_expires_at: string | null;
}

/** Claims as `worker`. */
export function claim(ctx: TestContext, worker: Headers, body: Record<string, unknown>): Promise<LightMyRequestResponse> {
  return call(ctx, 'POST', '/api/v1/worker/claim', worker, body);
}

/** Sends a worker call about job `id` (`heartbeat`, `complete`, `fail`, `release`, `log`). */
export function workerCall(
  ctx: TestContext,
  worker: Headers,
  id: string,
  action: 'heartbeat' | 'complete' | 'fail' | 'release' | 'log',
  body: Record<string, unknown>,
): Promise<LightMyRequestResponse> {
  return call(ctx, 'POST', `/api/v1/worker/jobs/${id}/${action}`, worker, body);
}

/** GET /api/v1/jobs/{id} as `as`. */
export async function getJob(ctx: TestContext, as: Headers, id: string): Promise<{ job: JobJson; events: Array<{ seq: number; type: string; data: Record<string, unknown> }> }> {
  const res = await call(ctx, 'GET', `/api/v1/jobs/${id}`, as);
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}
