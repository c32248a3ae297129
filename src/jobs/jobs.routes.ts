/** `/api/v1/jobs`: list, read and act on jobs. HTTP only; logic lives in JobService. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { actorOf } from '../http/actor.js';
import { requirePrincipal } from '../http/authenticate.js';
import { PageOf, PageQuery, readPage, toPage } from '../http/pagination.js';
import { AUTHENTICATED, problemResponses } from '../http/schemas.js';
import { JobStateSchema } from './job-schemas.js';
import type { JobService } from './jobs.service.js';

/** Options for {@link jobsRoutes}. */
export interface JobsRoutesOptions {
  jobs: JobService;
}

const JobId = Type.Object({ id: Type.String({ format: 'uuid' }) });

/** Reading jobs: your own with `jobs:read`, everyone's with `jobs:manage` (API key scopes narrow both). */
const READ = { permission: ['jobs:read', 'jobs:manage'] } as const;
/** Pause, resume, cancel, retry: your own with `jobs:control`, everyone's with `jobs:manage`. */
const CONTROL = { permission: ['jobs:control', 'jobs:manage'] } as const;

/**
 * `/api/v1/jobs…`: list, show, events (`jobs:read`: your own; `jobs:manage`: all), pause, resume,
 * cancel and retry (`jobs:control`: your own; `jobs:manage`: all); logic in JobService.
 */
export const jobsRoutes: FastifyPluginAsyncTypebox<JobsRoutesOptions> = async (app, { jobs }) => {
  const JobRef = Type.Ref('Job');
  const EventRef = Type.Ref('JobEvent');
  const tags = ['jobs'];

  app.get(
    '/jobs',
    {
      config: READ,
      schema: {
        tags,
        summary: 'List jobs, newest first (yours; with jobs:manage, anyone\'s)',
        security: AUTHENTICATED,
        querystring: Type.Object({
          ...PageQuery,
          queue: Type.Optional(Type.String({ maxLength: 64 })),
          state: Type.Optional(JobStateSchema),
          kind: Type.Optional(Type.String({ maxLength: 100 })),
          owner_id: Type.Optional(Type.String({ format: 'uuid' })),
          parent_type: Type.Optional(Type.String({ maxLength: 50 })),
          parent_id: Type.Optional(Type.String({ maxLength: 100 })),
        }),
        response: { 200: PageOf(JobRef), ...problemResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const { limit, afterId } = readPage(request.query);
      const q = request.query;
      return toPage(
        await jobs.list(
          { queue: q.queue, state: q.state, kind: q.kind, ownerId: q.owner_id, parentType: q.parent_type, parentId: q.parent_id, limit, afterId },
          requirePrincipal(request),
        ),
      );
    },
  );

  app.get(
    '/jobs/:id',
    {
      config: READ,
      schema: {
        tags,
        summary: 'One job with its latest 100 events',
        security: AUTHENTICATED,
        params: JobId,
        response: { 200: Type.Object({ job: JobRef, events: Type.Array(EventRef) }), ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => jobs.get(request.params.id, requirePrincipal(request)),
  );

  app.get(
    '/jobs/:id/events',
    {
      config: READ,
      schema: {
        tags,
        summary: 'A job\'s events after a sequence number, oldest first',
        security: AUTHENTICATED,
        params: JobId,
        querystring: Type.Object({
          after_seq: Type.Optional(Type.String({ pattern: '^[0-9]{1,9}$' })),
          limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$', description: '1..1000, default 200' })),
        }),
        response: { 200: Type.Object({ items: Type.Array(EventRef) }), ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const limit = Math.min(1000, Math.max(1, Number(request.query.limit ?? 200)));
      return { items: await jobs.events(request.params.id, Number(request.query.after_seq ?? 0), limit, requirePrincipal(request)) };
    },
  );

  const summaries = {
    pause: 'Pause a job (a running job\'s worker is told through its heartbeat)',
    resume: 'Resume a paused job',
    cancel: 'Cancel a job that has not finished',
    retry: 'Re-queue a failed, dead or cancelled job',
  } as const;
  for (const action of ['pause', 'resume', 'cancel', 'retry'] as const) {
    app.post(
      `/jobs/:id/${action}`,
      {
        config: CONTROL,
        schema: {
          tags,
          summary: summaries[action],
          security: AUTHENTICATED,
          params: JobId,
          response: { 200: JobRef, ...problemResponses(400, 401, 403, 404, 409) },
        },
      },
      async (request) => jobs[action](request.params.id, requirePrincipal(request), actorOf(request)),
    );
  }
};
