/** `/api/v1/worker/...`: the worker protocol over HTTP. HTTP only; logic lives in WorkerProtocol. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply } from 'fastify';
import { requirePrincipal } from '../http/authenticate.js';
import { Nullable, problemResponses } from '../http/schemas.js';
import { JOB_KIND_PATTERN } from './jobs.service.js';
import { QUEUE_NAME_PATTERN } from './queues.service.js';
import type { WorkerProtocol } from './worker-protocol.service.js';

/** Options for {@link workerRoutes}. */
export interface WorkerRoutesOptions {
  workerProtocol: WorkerProtocol;
  /** Longest long-poll wait, in seconds. */
  maxWaitSeconds: number;
}

const API_KEY_ONLY = [{ bearerAuth: [] }];
const JobId = Type.Object({ id: Type.String({ format: 'uuid' }) });
const Attempt = Type.Integer({ minimum: 1, description: 'The attempt the claim returned (fencing token)' });

/**
 * An AbortSignal that fires when the client goes away before the answer (ends a long poll early);
 * undefined when the claim does not wait (`wait_s` absent or 0): it answers at once, and the
 * controller and close listener would be a cost on every claim of a busy worker fleet.
 */
function clientGone(reply: FastifyReply, waitSeconds: number | undefined): AbortSignal | undefined {
  if (!waitSeconds) return undefined;
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}

/** `/api/v1/worker/…`: claim, claim-batch, heartbeat, log, complete, complete-batch, fail, release. */
export const workerRoutes: FastifyPluginAsyncTypebox<WorkerRoutesOptions> = async (app, { workerProtocol, maxWaitSeconds }) => {
  const JobRef = Type.Ref('Job');
  const tags = ['worker'];
  const Claimed = Type.Object({ job: JobRef, attempt: Type.Integer(), lease_expires_at: Type.String({ format: 'date-time' }) });
  const claimBody = {
    queues: Type.Array(Type.String({ pattern: QUEUE_NAME_PATTERN }), { minItems: 1, maxItems: 20 }),
    kinds: Type.Optional(Type.Array(Type.String({ pattern: JOB_KIND_PATTERN }), { minItems: 1, maxItems: 100 })),
    wait_s: Type.Optional(Type.Number({ minimum: 0, maximum: maxWaitSeconds, description: `Long poll: wait up to this many seconds (≤ ${maxWaitSeconds})` })),
    worker_name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  };
  // The protocol is bounded by itself (jobs held per worker, long polls), and a busy worker fleet
  // makes thousands of calls a minute: per-user request limits and API quotas would throttle the
  // work itself, so these routes opt out of both (failed-authentication limits still apply).
  const config = { permission: 'jobs:claim', rateLimit: false as const, quotaExempt: true };

  app.post(
    '/worker/claim',
    {
      config,
      schema: {
        tags,
        summary: 'Claim one job (long poll with wait_s)',
        description:
          '200 with the job, the attempt to echo in every later call, and the lease end; 204 when nothing was available within `wait_s`; 409 `worker_busy` when this worker (API key) already holds as many jobs as the queue\'s `worker_concurrency` allows; 429 `too_many_waiting_claims` when this worker key already has JOB_MAX_WAITING_CLAIMS_PER_KEY long polls waiting.',
        security: API_KEY_ONLY,
        body: Type.Object(claimBody, { additionalProperties: false }),
        response: { 200: Claimed, 204: Type.Null(), ...problemResponses(400, 401, 403, 404, 409, 429) },
      },
    },
    async (request, reply) => {
      const { queues, kinds, wait_s, worker_name } = request.body;
      const [claimed] = await workerProtocol.claim(
        requirePrincipal(request),
        { queues, kinds, waitSeconds: wait_s, workerName: worker_name },
        clientGone(reply, wait_s),
      );
      if (!claimed) return reply.code(204).send(null);
      return claimed;
    },
  );

  app.post(
    '/worker/claim-batch',
    {
      config,
      schema: {
        tags,
        summary: 'Claim up to max_jobs jobs at once (bounded by the queue\'s worker_concurrency)',
        security: API_KEY_ONLY,
        body: Type.Object({ ...claimBody, max_jobs: Type.Integer({ minimum: 1, maximum: 100 }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ jobs: Type.Array(Claimed) }), 204: Type.Null(), ...problemResponses(400, 401, 403, 404, 409, 429) },
      },
    },
    async (request, reply) => {
      const { queues, kinds, wait_s, worker_name, max_jobs } = request.body;
      const jobs = await workerProtocol.claim(
        requirePrincipal(request),
        { queues, kinds, waitSeconds: wait_s, workerName: worker_name, maxJobs: max_jobs },
        clientGone(reply, wait_s),
      );
      if (!jobs.length) return reply.code(204).send(null);
      return { jobs };
    },
  );

  app.post(
    '/worker/jobs/:id/heartbeat',
    {
      config,
      schema: {
        tags,
        summary: 'Extend the lease, report progress, receive pause/cancel commands',
        security: API_KEY_ONLY,
        params: JobId,
        body: Type.Object(
          {
            attempt: Attempt,
            progress: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
            message: Type.Optional(Type.String({ maxLength: 1000 })),
            metrics: Type.Optional(Type.Record(Type.String({ maxLength: 100 }), Type.Number(), { maxProperties: 100 })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            lease_expires_at: Nullable(Type.String({ format: 'date-time' })),
            command: Type.Union([Type.Literal('continue'), Type.Literal('pause'), Type.Literal('cancel')]),
          }),
          ...problemResponses(400, 401, 403, 409, 413),
        },
      },
    },
    async (request) => workerProtocol.heartbeat(requirePrincipal(request), request.params.id, request.body),
  );

  app.post(
    '/worker/jobs/:id/log',
    {
      config,
      schema: {
        tags,
        summary: 'Append log lines to the job\'s history',
        security: API_KEY_ONLY,
        params: JobId,
        body: Type.Object({ attempt: Attempt, lines: Type.Array(Type.String({ maxLength: 4000 }), { minItems: 1, maxItems: 100 }) }, { additionalProperties: false }),
        response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 409) },
      },
    },
    async (request, reply) => {
      await workerProtocol.log(requirePrincipal(request), request.params.id, request.body);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/worker/jobs/:id/complete',
    {
      config,
      schema: {
        tags,
        summary: 'Finish the job successfully (and optionally claim the next one in the same request)',
        description:
          '409 `job_paused` while the job is paused: nothing changes; keep heartbeating (the lease stays yours) and send it again once the heartbeat answers `continue`. 409 `lease_lost` when this worker no longer holds the job under this attempt. ' +
          'With `claim_next` (a claim body without `wait_s`), the answer also carries `next`: a job claimed right after the completion, as `/worker/claim` would answer, or null when none is available now; the worker then claims the usual way (with a long poll). The completion stands whatever the claim does: a claim refused (`worker_busy`, unknown queue, missing permission) gives `next: null` and `next_error` `{code, detail}`.',
        security: API_KEY_ONLY,
        params: JobId,
        body: Type.Object(
          {
            attempt: Attempt,
            result: Type.Optional(Type.Unknown()),
            output_files: Type.Optional(Type.Array(Type.String({ format: 'uuid' }), { maxItems: 100 })),
            claim_next: Type.Optional(
              Type.Object(
                { queues: claimBody.queues, kinds: claimBody.kinds, worker_name: claimBody.worker_name },
                { additionalProperties: false, description: 'Claim one job right after the completion (no long poll)' },
              ),
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            job: JobRef,
            next: Type.Optional(Object.assign(Nullable(Claimed), { description: 'Present with `claim_next`: the claimed job, or null' })),
            next_error: Type.Optional(Type.Object({ code: Type.String(), detail: Type.String() }, { description: 'Why `claim_next` claimed nothing, when it was refused' })),
          }),
          ...problemResponses(400, 401, 403, 409, 413),
        },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      const { attempt, result, output_files, claim_next } = request.body;
      const input = { attempt, result, outputFiles: output_files };
      if (!claim_next) return { job: await workerProtocol.complete(principal, request.params.id, input) };
      const done = await workerProtocol.completeAndClaim(principal, request.params.id, input, {
        queues: claim_next.queues,
        kinds: claim_next.kinds,
        workerName: claim_next.worker_name,
      });
      return { job: done.job, next: done.next, next_error: done.nextError };
    },
  );

  app.post(
    '/worker/jobs/:id/fail',
    {
      config,
      schema: {
        tags,
        summary: 'Report a failure (retryable failures are re-queued with backoff)',
        description: 'Accepted while the job is paused too: a retryable failure with attempts left then stays `paused` (unheld, with its backoff) until resumed; a final one ends the job.',
        security: API_KEY_ONLY,
        params: JobId,
        body: Type.Object(
          {
            attempt: Attempt,
            error: Type.Object({ message: Type.String({ minLength: 1, maxLength: 4000 }), details: Type.Optional(Type.Unknown()) }, { additionalProperties: false }),
            retryable: Type.Boolean(),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ job: JobRef }), ...problemResponses(400, 401, 403, 409, 413) },
      },
    },
    async (request) => ({ job: await workerProtocol.fail(requirePrincipal(request), request.params.id, request.body) }),
  );

  app.post(
    '/worker/jobs/:id/release',
    {
      config,
      schema: {
        tags,
        summary: 'Hand the job back without counting a failure (optionally with a checkpoint file)',
        security: API_KEY_ONLY,
        params: JobId,
        body: Type.Object({ attempt: Attempt, checkpoint_file_id: Type.Optional(Type.String({ format: 'uuid' })) }, { additionalProperties: false }),
        response: { 200: Type.Object({ job: JobRef }), ...problemResponses(400, 401, 403, 409) },
      },
    },
    async (request) => ({
      job: await workerProtocol.release(requirePrincipal(request), request.params.id, {
        attempt: request.body.attempt,
        checkpointFileId: request.body.checkpoint_file_id,
      }),
    }),
  );

  app.post(
    '/worker/complete-batch',
    {
      config,
      schema: {
        tags,
        summary: 'Complete many held jobs in one request; each item is fenced on its own',
        description: 'Each result is `{id, ok: true}` or `{id, ok: false, code}` with `code` `lease_lost` (not held under this attempt) or `job_paused` (paused: send it again after resume).',
        security: API_KEY_ONLY,
        body: Type.Object(
          {
            items: Type.Array(
              Type.Object({ id: Type.String({ format: 'uuid' }), attempt: Attempt, result: Type.Optional(Type.Unknown()) }, { additionalProperties: false }),
              { minItems: 1, maxItems: 1000 },
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ results: Type.Array(Type.Object({ id: Type.String(), ok: Type.Boolean(), code: Type.Optional(Type.String()) })) }),
          ...problemResponses(400, 401, 403, 413),
        },
      },
    },
    async (request) => ({ results: await workerProtocol.completeBatch(requirePrincipal(request), request.body.items) }),
  );
};
