/** `/api/v1/campaigns…`: HTTP only; the logic lives in CampaignService. */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { type TSchema, Type } from '@sinclair/typebox';
import { actorOf } from '../http/actor.js';
import { requirePrincipal } from '../http/authenticate.js';
import { PageOf, PageQuery, readPage, toPage } from '../http/pagination.js';
import { AUTHENTICATED, problemResponses } from '../http/schemas.js';
import { JobStateSchema } from '../jobs/job-schemas.js';
import type { CampaignService } from './campaigns.service.js';

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const Id = Type.String({ format: 'uuid' });
const Time = Type.String({ format: 'date-time' });
const StatusSchema = Type.Union([
  Type.Literal('generating'),
  Type.Literal('running'),
  Type.Literal('paused'),
  Type.Literal('complete'),
  Type.Literal('cancelled'),
  Type.Literal('failed'),
]);

const ParamsSchema = Type.Object({
  d_in: Type.Integer({ description: 'Input dimension' }),
  d_out: Type.Integer({ description: 'Output dimension' }),
  n_kraus: Type.Integer({ description: 'Number of Kraus operators' }),
  mode: Type.Literal('haar'),
  seed: Type.Integer({ description: 'Seed of the generated channel; run i uses seed + 1 + i for its starting vectors' }),
  restarts: Type.Integer({ description: 'Random starting vectors per run' }),
  max_iterations: Type.Integer({ description: 'Most iterations per start' }),
});

const CampaignSchema = Type.Object(
  {
    id: Id,
    owner_id: Nullable(Id),
    name: Type.String(),
    kind: Type.String(),
    queue: Type.String(),
    status: StatusSchema,
    objective: Type.Union([Type.Literal('min'), Type.Literal('max')], { description: 'min: the campaign keeps the lowest run value; max: the highest' }),
    params: ParamsSchema,
    input_file_id: Nullable(Id),
    generate_job_id: Nullable(Id),
    runs_requested: Type.Integer(),
    runs_spawned: Type.Integer(),
    runs_completed: Type.Integer(),
    runs_failed: Type.Integer(),
    runs_cancelled: Type.Integer(),
    best_value: Nullable(
      Type.Number({ description: 'The best value of a succeeded run by the objective (min: lowest, max: highest); channel-moe: an output entropy in bits' }),
    ),
    best_job_id: Nullable(Id),
    best_file_id: Nullable(Id),
    error: Nullable(Type.String()),
    created_at: Time,
    updated_at: Time,
    completed_at: Nullable(Time),
  },
  { $id: 'Campaign' },
);

const RunSchema = Type.Object(
  {
    job_id: Id,
    run: Nullable(Type.Integer()),
    state: JobStateSchema,
    attempt: Type.Integer(),
    worker_id: Nullable(Type.String()),
    progress: Type.Number(),
    value: Nullable(Type.Number()),
    final: Type.Boolean(),
    vector_file_id: Nullable(Id),
    checkpoint_file_id: Nullable(Id),
    started_at: Nullable(Time),
    finished_at: Nullable(Time),
  },
  { $id: 'CampaignRun' },
);

const NullableNumber = Nullable(Type.Number());
const Objective = Type.Union([Type.Literal('min'), Type.Literal('max')]);
const StatsCore = {
  objective: Type.Union([Objective, Type.Null()], { description: 'The objective (all campaigns: the one they share, null when both occur)' }),
  runs: Type.Object({
    requested: Type.Integer(),
    spawned: Type.Integer(),
    queued: Type.Integer(),
    running: Type.Integer(),
    paused: Type.Integer(),
    succeeded: Type.Integer(),
    failed: Type.Integer(),
    cancelled: Type.Integer(),
  }),
  best_value: NullableNumber,
  best_over_time: Type.Array(Type.Object({ at: Time, value: Type.Number(), job_id: Id })),
  values: Type.Object({ count: Type.Integer(), min: NullableNumber, max: NullableNumber, mean: NullableNumber }),
  run_seconds: Type.Object({ count: Type.Integer(), min: NullableNumber, median: NullableNumber, max: NullableNumber }),
  throughput_per_hour: NullableNumber,
  workers: Type.Array(
    Type.Object({ worker_id: Nullable(Type.String()), worker_name: Nullable(Type.String()), succeeded: Type.Integer(), failed: Type.Integer(), cancelled: Type.Integer() }),
  ),
};
const StatsSchema = Type.Object(StatsCore, { $id: 'CampaignStats' });
const AllStatsSchema = Type.Object(
  {
    ...StatsCore,
    best_values: Type.Object({ min: NullableNumber, max: NullableNumber }, { description: 'The lowest best of the min campaigns, the highest best of the max campaigns' }),
    campaigns: Type.Object({ total: Type.Integer(), by_status: Type.Record(Type.String(), Type.Integer()) }),
    items: Type.Array(
      Type.Object({
        id: Id,
        name: Type.String(),
        kind: Type.String(),
        status: StatusSchema,
        objective: Objective,
        runs_requested: Type.Integer(),
        runs_completed: Type.Integer(),
        runs_failed: Type.Integer(),
        best_value: NullableNumber,
      }),
    ),
  },
  { $id: 'AllCampaignStats' },
);

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
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 200 }),
            kind: Type.String({ maxLength: 50, description: 'channel-moe' }),
            queue: Type.Optional(Type.String({ pattern: '^[a-z0-9._-]{1,64}$' })),
            runs: Type.Optional(Type.Integer({ minimum: 1, description: 'Runs to spawn (default 100)' })),
            objective: Type.Optional(
              Type.Union([Type.Literal('min'), Type.Literal('max')], {
                description: 'min (default): the minimum output entropy, the best is the lowest run value; max: the maximum output entropy over pure inputs, the best is the highest',
              }),
            ),
            params: Type.Object(
              {
                d_in: Type.Integer(),
                d_out: Type.Integer(),
                n_kraus: Type.Integer(),
                mode: Type.Optional(Type.String({ maxLength: 20 })),
                seed: Type.Optional(Type.Integer()),
                restarts: Type.Optional(Type.Integer()),
                max_iterations: Type.Optional(Type.Integer()),
              },
              { additionalProperties: false },
            ),
            input_file_id: Type.Optional(Id),
          },
          { additionalProperties: false },
        ),
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
