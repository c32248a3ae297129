/** `/api/v1/queues`, `/api/v1/stats` and enqueueing. HTTP only; logic lives in QueueService and JobService. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { actorOf } from '../http/actor.js';
import { AUTHENTICATED, problemResponses } from '../http/schemas.js';
import { EnqueueItemSchema, QueueSettingsSchema } from './job-schemas.js';
import type { JobService } from './jobs.service.js';
import { QUEUE_NAME_PATTERN, type QueueService } from './queues.service.js';

/** Options for {@link queuesRoutes}. */
export interface QueuesRoutesOptions {
  queues: QueueService;
  jobs: JobService;
}

/** Most jobs one enqueue request may carry. */
export const MAX_BATCH = 1000;

const QueueName = Type.Object({ name: Type.String({ pattern: QUEUE_NAME_PATTERN, maxLength: 64 }) });

/** `/api/v1/queues…` and `/api/v1/stats`: queue settings, pause/resume, statistics, enqueueing; logic in QueueService and JobService. */
export const queuesRoutes: FastifyPluginAsyncTypebox<QueuesRoutesOptions> = async (app, { queues, jobs }) => {
  const QueueRef = Type.Ref('Queue');
  const StatsRef = Type.Ref('QueueStats');
  const JobRef = Type.Ref('Job');
  const tags = ['queues'];

  app.post(
    '/queues',
    {
      config: { permission: 'queues:manage' },
      schema: {
        tags,
        summary: 'Create a queue',
        security: AUTHENTICATED,
        body: Type.Object({ name: Type.String({ pattern: QUEUE_NAME_PATTERN }), ...QueueSettingsSchema }, { additionalProperties: false }),
        response: { 201: QueueRef, ...problemResponses(400, 401, 403, 409) },
      },
    },
    async (request, reply) => {
      const { name, ...settings } = request.body;
      return reply.code(201).send(await queues.create(name, settings, actorOf(request)));
    },
  );

  app.get(
    '/queues',
    {
      config: { auth: 'required' },
      schema: { tags, summary: 'List queues', security: AUTHENTICATED, response: { 200: Type.Object({ items: Type.Array(QueueRef) }), ...problemResponses(401) } },
    },
    async () => ({ items: await queues.list() }),
  );

  app.get(
    '/queues/:name',
    {
      config: { auth: 'required' },
      schema: { tags, summary: 'One queue', security: AUTHENTICATED, params: QueueName, response: { 200: QueueRef, ...problemResponses(400, 401, 404) } },
    },
    async (request) => queues.get(request.params.name),
  );

  app.patch(
    '/queues/:name',
    {
      config: { permission: 'queues:manage' },
      schema: {
        tags,
        summary: 'Change a queue\'s settings',
        security: AUTHENTICATED,
        params: QueueName,
        body: Type.Object(QueueSettingsSchema, { additionalProperties: false, minProperties: 1 }),
        response: { 200: QueueRef, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => queues.update(request.params.name, request.body, actorOf(request)),
  );

  for (const action of ['pause', 'resume'] as const) {
    app.post(
      `/queues/:name/${action}`,
      {
        config: { permission: 'queues:manage' },
        schema: {
          tags,
          summary: action === 'pause' ? 'Pause a queue (no claims; enqueueing continues)' : 'Resume a paused queue',
          security: AUTHENTICATED,
          params: QueueName,
          response: { 200: QueueRef, ...problemResponses(400, 401, 403, 404) },
        },
      },
      async (request) => queues[action](request.params.name, actorOf(request)),
    );
  }

  app.get(
    '/queues/:name/stats',
    {
      config: { permission: 'queues:manage' },
      schema: {
        tags,
        summary: 'Queue statistics: counts by state, last hour\'s throughput and run times, oldest waiting job',
        security: AUTHENTICATED,
        params: QueueName,
        response: { 200: StatsRef, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => queues.stats(request.params.name),
  );

  app.get(
    '/stats',
    {
      config: { permission: 'queues:manage' },
      schema: {
        tags,
        summary: 'Statistics of every queue',
        security: AUTHENTICATED,
        response: { 200: Type.Object({ queues: Type.Array(StatsRef) }), ...problemResponses(401, 403) },
      },
    },
    async () => ({ queues: await queues.allStats() }),
  );

  app.post(
    '/queues/:name/jobs',
    {
      config: { auth: 'required' },
      schema: {
        tags: ['jobs'],
        summary: 'Enqueue one job, or a batch of up to 1000',
        description:
          'Needs the queue\'s `enqueue_permission` (default `jobs:enqueue`). Idempotency keys are scoped per (queue, owner): repeating your own `idempotency_key` with the same body returns your existing job (200 with `idempotent_replay: true`); with a different kind, payload, priority, input files or parent it is `409 idempotency_conflict`. A batch `{jobs: [...]}` is all or nothing.',
        security: AUTHENTICATED,
        params: QueueName,
        body: Type.Union([EnqueueItemSchema, Type.Object({ jobs: Type.Array(EnqueueItemSchema, { minItems: 1, maxItems: MAX_BATCH }) }, { additionalProperties: false })]),
        response: {
          200: Type.Intersect([JobRef, Type.Object({ idempotent_replay: Type.Boolean() })]),
          201: Type.Union([
            Type.Intersect([JobRef, Type.Object({ idempotent_replay: Type.Boolean() })]),
            Type.Object({ items: Type.Array(JobRef), created: Type.Integer(), existing: Type.Integer() }),
          ]),
          ...problemResponses(400, 401, 403, 404, 409, 413),
        },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      const body = request.body;
      if ('jobs' in body) {
        return reply.code(201).send(await jobs.enqueueBatch(request.params.name, body.jobs, actor));
      }
      const { job, replayed } = await jobs.enqueue(request.params.name, body, actor);
      return reply.code(replayed ? 200 : 201).send(Object.assign({}, job, { idempotent_replay: replayed }));
    },
  );
};
