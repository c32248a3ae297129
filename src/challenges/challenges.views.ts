/**
 * The challenge API's shapes, declared once: TypeBox schemas that validate requests and document
 * responses (OpenAPI), and the TypeScript types the service returns and takes, derived from them
 * with `Static<>` (a field added to a view is added to its schema, and the other way round).
 */
import { type Static, Type } from '@sinclair/typebox';
import { JOB_KIND_PATTERN } from '../jobs/jobs.service.js';

/** A challenge's slug: lower-case letters, digits and dashes, 1–64 characters. */
export const SLUG_PATTERN = '^[a-z0-9][a-z0-9-]{0,63}$';
/** A score's name (the leaderboard's `score`, the keys of `scores`). */
export const SCORE_NAME_PATTERN = '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$';

export const QUEUE_PATTERN = '^[a-z0-9][a-z0-9._-]{0,63}$';

export const EvaluatorSchema = Type.Object(
  { kind: Type.String({ pattern: JOB_KIND_PATTERN }), queue: Type.String({ pattern: QUEUE_PATTERN }) },
  { additionalProperties: false },
);
export const DateTimeOrNull = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);
export const LimitsSchema = Type.Object(
  {
    per_day: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 100_000 }), Type.Null()])),
    concurrent: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 10_000 }), Type.Null()])),
  },
  { additionalProperties: false },
);
export const LeaderboardRuleSchema = Type.Object(
  { score: Type.String({ pattern: SCORE_NAME_PATTERN }), direction: Type.Union([Type.Literal('asc'), Type.Literal('desc')]) },
  { additionalProperties: false },
);
export const VisibilitySchema = Type.Union([Type.Literal('public'), Type.Literal('participants')]);

export const ChallengeBody = Type.Object(
  {
    slug: Type.String({ pattern: SLUG_PATTERN }),
    title: Type.String({ minLength: 1, maxLength: 200 }),
    description: Type.Optional(Type.String({ maxLength: 20_000 })),
    url: Type.Optional(Type.Union([Type.String({ maxLength: 2000 }), Type.Null()])),
    active: Type.Optional(Type.Boolean()),
    opens_at: Type.Optional(DateTimeOrNull),
    closes_at: Type.Optional(DateTimeOrNull),
    evaluators: Type.Array(EvaluatorSchema, { minItems: 1, maxItems: 20 }),
    leaderboard: LeaderboardRuleSchema,
    limits: Type.Optional(LimitsSchema),
    visibility: Type.Optional(VisibilitySchema),
  },
  { additionalProperties: false },
);
export const ChallengePatchBody = Type.Partial(Type.Omit(ChallengeBody, ['slug']), { additionalProperties: false });

export const ChallengeSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    slug: Type.String(),
    title: Type.String(),
    description: Type.String(),
    url: Type.Union([Type.String(), Type.Null()]),
    active: Type.Boolean(),
    opens_at: DateTimeOrNull,
    closes_at: DateTimeOrNull,
    evaluators: Type.Array(EvaluatorSchema),
    leaderboard: LeaderboardRuleSchema,
    limits: Type.Object({ per_day: Type.Union([Type.Integer(), Type.Null()]), concurrent: Type.Union([Type.Integer(), Type.Null()]) }),
    visibility: VisibilitySchema,
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'Challenge' },
);

export const ResourceSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid', description: 'The file id' }),
    name: Type.String(),
    size: Type.Integer({ description: 'bytes' }),
    sha256: Type.String(),
    hidden: Type.Boolean(),
    download_url: Type.String(),
    created_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'ChallengeResource' },
);

export const ScoresSchema = Type.Record(Type.String(), Type.Number());
export const SubmissionStateSchema = Type.Union([Type.Literal('evaluating'), Type.Literal('scored'), Type.Literal('failed')]);
export const SubmissionSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    challenge: Type.String(),
    user_id: Type.String({ format: 'uuid' }),
    state: SubmissionStateSchema,
    scores: ScoresSchema,
    errors: Type.Array(Type.Object({ kind: Type.String(), message: Type.String() })),
    meta: Type.Record(Type.String(), Type.Unknown()),
    files: Type.Array(Type.String()),
    evaluations: Type.Array(
      Type.Object({
        kind: Type.String(),
        queue: Type.String(),
        job_id: Type.String({ format: 'uuid' }),
        state: Type.Union([Type.Literal('pending'), Type.Literal('succeeded'), Type.Literal('failed')]),
        scores: ScoresSchema,
        details: Type.Unknown(),
        error: Type.Union([Type.String(), Type.Null()]),
        progress: Type.Number(),
        progress_message: Type.Union([Type.String(), Type.Null()]),
        updated_at: Type.String({ format: 'date-time' }),
      }),
    ),
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
    settled_at: DateTimeOrNull,
  },
  { $id: 'Submission' },
);

/** One participant as managers see it. */
export const ParticipantSchema = Type.Object({ user_id: Type.String(), name: Type.String(), email: Type.String(), joined_at: Type.String({ format: 'date-time' }) });

export const LeaderboardItemSchema = Type.Object(
  {
    rank: Type.Integer({ minimum: 1 }),
    user: Type.Object({ id: Type.String({ format: 'uuid' }), name: Type.String(), profile: Type.Record(Type.String(), Type.Unknown()) }),
    submission_id: Type.String({ format: 'uuid' }),
    score: Type.Number(),
    scores: ScoresSchema,
    submitted_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'LeaderboardItem' },
);


/** One evaluator: a job `kind` run on `queue` for every submission. */
export type Evaluator = Static<typeof EvaluatorSchema>;
/** A challenge as the API shows it. */
export type ChallengeView = Static<typeof ChallengeSchema>;
/** What `POST /challenges` takes. */
export type ChallengeInput = Static<typeof ChallengeBody>;
/** What `PATCH /challenges/{slug}` takes: any member of {@link ChallengeInput} but the slug. */
export type ChallengePatch = Static<typeof ChallengePatchBody>;
/** A resource in the index: `id` is the file's, `size` in bytes, `sha256` lower-case hex, `download_url` `/api/v1/files/{id}`. */
export type ResourceView = Static<typeof ResourceSchema>;
/** A submission as the API shows it: `scores` merges every evaluator's (complete once `scored`); `errors` has one entry per failing evaluator. */
export type SubmissionView = Static<typeof SubmissionSchema>;
/** One evaluation of a submission (`progress` in 0..1). */
export type EvaluationView = SubmissionView['evaluations'][number];
/** One participant (managers' list). */
export type ParticipantView = Static<typeof ParticipantSchema>;
/** One leaderboard row as the API shows it (`user` is the public profile, `PUBLIC_PROFILE_FIELDS`). */
export type LeaderboardItem = Static<typeof LeaderboardItemSchema>;
