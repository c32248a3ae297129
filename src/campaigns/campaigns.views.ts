/**
 * The campaign API's shapes, declared once: TypeBox schemas that validate requests and document
 * responses (OpenAPI), and the TypeScript types the service returns, derived from them with
 * `Static<>` (so a field added to a view is added to its schema, and the other way round).
 */
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { JobStateSchema } from '../jobs/job-schemas.js';

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
export const Id = Type.String({ format: 'uuid' });
export const Time = Type.String({ format: 'date-time' });
export const StatusSchema = Type.Union([
  Type.Literal('generating'),
  Type.Literal('running'),
  Type.Literal('paused'),
  Type.Literal('complete'),
  Type.Literal('cancelled'),
  Type.Literal('failed'),
]);

export const ParamsSchema = Type.Object({
  d_in: Type.Integer({ description: 'Input dimension' }),
  d_out: Type.Integer({ description: 'Output dimension' }),
  n_kraus: Type.Integer({ description: 'Number of Kraus operators' }),
  mode: Type.Literal('haar'),
  seed: Type.Integer({ description: 'Seed of the generated channel; run i uses seed + 1 + i for its starting vectors' }),
  restarts: Type.Integer({ description: 'Random starting vectors per run' }),
  max_iterations: Type.Integer({ description: 'Most iterations per start' }),
});

export const CampaignSchema = Type.Object(
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

export const RunSchema = Type.Object(
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
export const StatsSchema = Type.Object(StatsCore, { $id: 'CampaignStats' });
export const AllStatsSchema = Type.Object(
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

/** What `POST /campaigns` takes. */
export const CreateCampaignSchema = Type.Object(
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
);

/** What `POST /campaigns` takes. */
export type CreateCampaignInput = Static<typeof CreateCampaignSchema>;
/** `channel-moe` parameters as stored and shown (`seed` is chosen at random when not given, and stored). */
export type ChannelMoeParams = Static<typeof ParamsSchema>;
/** A campaign as the API shows it. */
export type CampaignView = Static<typeof CampaignSchema>;
/**
 * One run as `GET /campaigns/{id}/runs` shows it: the job plus its value (`value`: the final value
 * once succeeded, else the best so far from its heartbeats, `metrics.value`; `final` tells which;
 * `checkpoint_file_id`: the latest checkpoint of an unfinished run).
 */
export type CampaignRunView = Static<typeof RunSchema>;
/**
 * Statistics of one campaign or of all (`GET /campaigns/{id}/stats`, `GET /campaigns/stats`): the
 * objective (all campaigns: the one they share, or null when both occur), runs by state, the best
 * value by the objective and its improvements over time (oldest first; empty for all), values of
 * the succeeded runs, their run time in seconds, succeeded runs per hour (null with fewer than one
 * succeeded run or a zero span), finished runs per worker (most productive first).
 */
export type CampaignStats = Static<typeof StatsSchema>;
/** Minimum, median and maximum of some durations, in seconds (null when there are none). */
export type Spread = CampaignStats['run_seconds'];
/**
 * Statistics of every campaign: the same summary, plus `best_values` (the lowest best among `min`
 * campaigns, the highest among `max` ones), campaigns by status and each one's progress.
 */
export type AllCampaignStats = Static<typeof AllStatsSchema>;
