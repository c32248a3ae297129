/** `/api/v1/campaigns…`: HTTP only; the logic lives in CampaignService. */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { actorOf } from '../http/actor.js';
import { requirePrincipal } from '../http/authenticate.js';
import { PageOf, PageQuery, readPage, toPage } from '../http/pagination.js';
import { AUTHENTICATED, problemResponses } from '../http/schemas.js';
import { JobStateSchema } from '../jobs/job-schemas.js';
import type { CampaignService } from './campaigns.service.js';
import { AllStatsSchema, CampaignSchema, CreateCampaignSchema, Id, RunSchema, StatsSchema, StatusSchema } from './campaigns.views.js';

/** Reading campaigns; changing them. */
const READ = { auth: 'required', permission: ['campaigns:read', 'campaigns:manage'] } as const;
const MANAGE = { auth: 'required', permission: 'campaigns:manage' } as const;

/**
 * Registers the campaign routes on `api` (mounted under `/api/v1`): create, list, read, update,
 * pause/resume/cancel, runs and statistics.
 */
export async function campaignRoutes(api: FastifyInstance, campaigns: CampaignService): Promise<void> {
  const app = api.withTypeProvider<TypeBoxTypeProvider>();
  app.addSchema(CampaignSchema);
  app.addSchema(RunSchema);
  app.addSchema(StatsSchema);
  app.addSchema(AllStatsSchema);
  const tags = ['campaigns'];
  const CampaignRef = Type.Ref('Campaign');
  const params = Type.Object({ id: Id });

  app.post(
    '/campaigns',
    {
      config: MANAGE,
      schema: {
        tags,
        summary: 'Create a campaign: generate (or take) its input, then spawn its runs',
        security: AUTHENTICATED,
        body: CreateCampaignSchema,
        response: { 201: CampaignRef, ...problemResponses(400, 401, 403, 404, 422) },
      },
    },
    async (request, reply) => reply.code(201).send(await campaigns.create(requirePrincipal(request), request.body, actorOf(request))),
  );

  app.get(
    '/campaigns',
    {
      config: READ,
      schema: {
        tags,
        summary: 'List campaigns, newest first',
        security: AUTHENTICATED,
        querystring: Type.Object({ ...PageQuery, status: Type.Optional(StatusSchema) }),
        response: { 200: PageOf(CampaignRef), ...problemResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const { limit, afterId } = readPage(request.query);
      return toPage(await campaigns.list({ limit, afterId, status: request.query.status }));
    },
  );

  app.get(
    '/campaigns/stats',
    {
      config: READ,
      schema: { tags, summary: 'Statistics over every campaign', security: AUTHENTICATED, response: { 200: Type.Ref('AllCampaignStats'), ...problemResponses(401, 403) } },
    },
    async () => campaigns.allStats(),
  );

  app.get(
    '/campaigns/:id',
    {
      config: READ,
      schema: { tags, summary: 'One campaign', security: AUTHENTICATED, params, response: { 200: CampaignRef, ...problemResponses(400, 401, 403, 404) } },
    },
    async (request) => campaigns.get(request.params.id),
  );

  app.patch(
    '/campaigns/:id',
    {
      config: MANAGE,
      schema: {
        tags,
        summary: 'Rename a campaign or raise its runs',
        security: AUTHENTICATED,
        params,
        body: Type.Object(
          { name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })), runs: Type.Optional(Type.Integer({ minimum: 1 })) },
          { additionalProperties: false },
        ),
        response: { 200: CampaignRef, ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => campaigns.update(request.params.id, request.body),
  );

  for (const action of ['pause', 'resume', 'cancel'] as const) {
    app.post(
      `/campaigns/:id/${action}`,
      {
        config: MANAGE,
        schema: {
          tags,
          summary: {
            pause: 'Pause a campaign: queued runs are held, running ones told through their heartbeats',
            resume: 'Resume a paused campaign',
            cancel: 'Cancel a campaign and every unfinished run',
          }[action],
          security: AUTHENTICATED,
          params,
          response: { 200: CampaignRef, ...problemResponses(400, 401, 403, 404, 409) },
        },
      },
      async (request) => campaigns[action](request.params.id, actorOf(request)),
    );
  }

  app.get(
    '/campaigns/:id/runs',
    {
      config: READ,
      schema: {
        tags,
        summary: "A campaign's runs (jobs), newest first, with each run's value",
        security: AUTHENTICATED,
        params,
        querystring: Type.Object({ ...PageQuery, state: Type.Optional(JobStateSchema) }),
        response: { 200: PageOf(Type.Ref('CampaignRun')), ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const { limit, afterId } = readPage(request.query);
      return toPage(await campaigns.runs(request.params.id, { limit, afterId, state: request.query.state }));
    },
  );

  app.get(
    '/campaigns/:id/stats',
    {
      config: READ,
      schema: { tags, summary: "A campaign's statistics", security: AUTHENTICATED, params, response: { 200: Type.Ref('CampaignStats'), ...problemResponses(400, 401, 403, 404) } },
    },
    async (request) => campaigns.stats(request.params.id),
  );
}
