/**
 * `/api/v1/challenges…` and `/api/v1/submissions…`: HTTP only (schemas, guards, multipart
 * parsing); the rules live in ChallengeService, the bytes in the platform's FileService.
 */
import multipart, { type MultipartFile, type MultipartValue } from '@fastify/multipart';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Principal } from '../auth/auth.service.js';
import type { FileService } from '../files/files.service.js';
import { requirePrincipal } from '../http/authenticate.js';
import { PageOf, PageQuery, readPage, toPage } from '../http/pagination.js';
import { AUTHENTICATED, problemResponses } from '../http/schemas.js';
import { AppError } from '../shared/errors.js';
import type { ChallengeService } from './challenges.service.js';
import { ChallengeBody, ChallengePatchBody, ChallengeSchema, LeaderboardItemSchema, ParticipantSchema, ResourceSchema, SLUG_PATTERN, SubmissionSchema, SubmissionStateSchema } from './challenges.views.js';
import { partReader } from '../files/multipart-parts.js';

const SlugParams = Type.Object({ slug: Type.String({ pattern: SLUG_PATTERN }) });
const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });

/** Who reads and submits: participants; managers can do everything. */
const PARTICIPATE = ['challenges:participate', 'challenges:manage'] as const;

/** The principal of an `auth: 'optional'` route, and whether the caller is anonymous. */
function viewer(request: FastifyRequest): { principal: Principal | null; anonymous: boolean } {
  const principal = request.principal ?? null;
  return { principal, anonymous: principal === null };
}

/** Maps multipart parser failures to 400 problems. */
function multipartProblem(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const code = (error as { code?: string } | null)?.code;
  if (code === 'FST_FILES_LIMIT') return new AppError('validation_failed', 'Too many file parts.', { errors: [{ field: '/file', message: 'too many files' }] });
  if (code === 'FST_FIELDS_LIMIT' || code === 'FST_PARTS_LIMIT') return new AppError('validation_failed', 'Too many parts in the form.');
  if (code === 'FST_PROTO_VIOLATION') return new AppError('validation_failed', 'A form field is not valid.');
  return new AppError('bad_request', 'The multipart/form-data body is malformed.', { cause: error });
}

/** Iterates the parts of a multipart request; parser failures become 400 problems. */
function multipartParts(request: FastifyRequest): () => Promise<MultipartFile | MultipartValue | null> {
  if (!request.isMultipart()) throw new AppError('unsupported_media_type', 'Send multipart/form-data.');
  return partReader(request, multipartProblem);
}

/** A short text field's value. @throws AppError `validation_failed`. */
function textOf(part: MultipartValue): string {
  if (part.valueTruncated || (typeof part.value !== 'string' && typeof part.value !== 'number')) {
    throw new AppError('validation_failed', `Field ${part.fieldname} is not a short text value.`, { errors: [{ field: `/${part.fieldname}`, message: 'must be a short text value' }] });
  }
  return String(part.value);
}

/** Registers the module's routes on `api` (mounted under `/api/v1`). */
export async function challengesRoutes(api: FastifyInstance, challenges: ChallengeService, files: FileService): Promise<void> {
  const app = api.withTypeProvider<TypeBoxTypeProvider>();
  app.addSchema(ChallengeSchema);
  app.addSchema(ResourceSchema);
  app.addSchema(SubmissionSchema);
  app.addSchema(LeaderboardItemSchema);
  const tags = ['challenges'];

  app.post(
    '/challenges',
    {
      config: { permission: 'challenges:manage' },
      schema: {
        tags,
        summary: 'Create a challenge',
        description: 'Its evaluators\' queues are created when missing. `409 conflict` for a taken slug.',
        security: AUTHENTICATED,
        body: ChallengeBody,
        response: { 201: Type.Ref('Challenge'), ...problemResponses(400, 401, 403, 409) },
      },
    },
    async (request, reply) => {
      const view = await challenges.create(request.body as Static<typeof ChallengeBody>, requirePrincipal(request));
      return reply.code(201).header('Location', `/api/v1/challenges/${view.slug}`).send(view);
    },
  );

  app.get(
    '/challenges',
    {
      config: { auth: 'optional' },
      schema: {
        tags,
        summary: 'List challenges',
        description: 'Active public challenges (and those you participate in) for everyone; all of them with `challenges:manage`.',
        querystring: Type.Object(PageQuery),
        response: { 200: PageOf(Type.Ref('Challenge')), ...problemResponses(400) },
      },
    },
    async (request) => {
      const { principal, anonymous } = viewer(request);
      return toPage(await challenges.list(principal, readPage(request.query), anonymous));
    },
  );

  app.get(
    '/challenges/:slug',
    {
      config: { auth: 'optional' },
      schema: { tags, summary: 'One challenge', params: SlugParams, response: { 200: Type.Ref('Challenge'), ...problemResponses(400, 404) } },
    },
    async (request) => {
      const { principal, anonymous } = viewer(request);
      return challenges.get(request.params.slug, principal, anonymous);
    },
  );

  app.patch(
    '/challenges/:slug',
    {
      config: { permission: 'challenges:manage' },
      schema: {
        tags,
        summary: 'Change a challenge (not its slug)',
        security: AUTHENTICATED,
        params: SlugParams,
        body: ChallengePatchBody,
        response: { 200: Type.Ref('Challenge'), ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => challenges.update(request.params.slug, request.body as Static<typeof ChallengePatchBody>),
  );

  app.delete(
    '/challenges/:slug',
    {
      config: { permission: 'challenges:manage' },
      schema: {
        tags,
        summary: 'Delete a challenge with its submissions',
        description: '`409 conflict` while evaluations run, unless `?force=true`, which cancels them.',
        security: AUTHENTICATED,
        params: SlugParams,
        querystring: Type.Object({ force: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])) }),
        response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      await challenges.remove(request.params.slug, request.query.force === 'true', requirePrincipal(request));
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/challenges/:slug/resources',
    {
      config: { auth: 'optional' },
      schema: {
        tags,
        summary: "A challenge's resource index",
        description: 'Hidden resources (reference answers) are listed to managers only; download with `download_url` (`/api/v1/files/{id}`: Range, ETag).',
        params: SlugParams,
        response: { 200: Type.Object({ items: Type.Array(Type.Ref('ChallengeResource')) }), ...problemResponses(400, 404) },
      },
    },
    async (request) => {
      const { principal, anonymous } = viewer(request);
      return { items: await challenges.resources(request.params.slug, principal, anonymous) };
    },
  );

  app.post(
    '/challenges/:slug/participants',
    {
      config: { permission: PARTICIPATE },
      schema: {
        tags,
        summary: 'Join a challenge',
        description: '`201` when you joined now, `200` when you already had.',
        security: AUTHENTICATED,
        params: SlugParams,
        response: {
          200: Type.Object({ challenge: Type.String(), user_id: Type.String(), joined_at: Type.String({ format: 'date-time' }) }),
          201: Type.Object({ challenge: Type.String(), user_id: Type.String(), joined_at: Type.String({ format: 'date-time' }) }),
          ...problemResponses(400, 401, 403, 404),
        },
      },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request);
      const { joined, joined_at } = await challenges.join(request.params.slug, principal);
      return reply.code(joined ? 201 : 200).send({ challenge: request.params.slug, user_id: principal.user.id, joined_at });
    },
  );

  app.get(
    '/challenges/:slug/participants/me',
    {
      config: { permission: PARTICIPATE },
      schema: {
        tags,
        summary: 'Whether you take part in a challenge',
        description: '`200` with when you joined; `404` when you have not joined (or may not see the challenge).',
        security: AUTHENTICATED,
        params: SlugParams,
        response: {
          200: Type.Object({ challenge: Type.String(), user_id: Type.String(), joined_at: Type.String({ format: 'date-time' }) }),
          ...problemResponses(400, 401, 403, 404),
        },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      const { joined_at } = await challenges.membership(request.params.slug, principal);
      return { challenge: request.params.slug, user_id: principal.user.id, joined_at };
    },
  );

  app.delete(
    '/challenges/:slug/participants/me',
    {
      config: { permission: PARTICIPATE },
      schema: { tags, summary: 'Leave a challenge', security: AUTHENTICATED, params: SlugParams, response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404) } },
    },
    async (request, reply) => {
      await challenges.leave(request.params.slug, requirePrincipal(request));
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/challenges/:slug/participants',
    {
      config: { permission: 'challenges:manage' },
      schema: {
        tags,
        summary: "A challenge's participants",
        security: AUTHENTICATED,
        params: SlugParams,
        querystring: Type.Object(PageQuery),
        response: {
          200: PageOf(ParticipantSchema),
          ...problemResponses(400, 401, 403, 404),
        },
      },
    },
    async (request) => toPage(await challenges.participants(request.params.slug, readPage(request.query))),
  );

  app.get(
    '/challenges/:slug/submissions',
    {
      config: { permission: PARTICIPATE },
      schema: {
        tags,
        summary: "A challenge's submissions, newest first",
        description: 'Yours; with `challenges:manage` everyone\'s, filtered by `user_id` and `state`.',
        security: AUTHENTICATED,
        params: SlugParams,
        querystring: Type.Object({ ...PageQuery, user_id: Type.Optional(Type.String({ format: 'uuid' })), state: Type.Optional(SubmissionStateSchema) }),
        response: { 200: PageOf(Type.Ref('Submission')), ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const page = readPage(request.query);
      return toPage(await challenges.listSubmissions(request.params.slug, requirePrincipal(request), { ...page, userId: request.query.user_id, state: request.query.state }));
    },
  );

  app.get(
    '/challenges/:slug/leaderboard',
    {
      config: { auth: 'optional' },
      schema: {
        tags,
        summary: "A challenge's leaderboard",
        description:
          "Each participant's best scored submission by the challenge's `leaderboard.score` and `direction`; equal scores share a rank (1, 2, 2, 4), the earlier submission first. The cursor is the last row's submission.",
        params: SlugParams,
        querystring: Type.Object(PageQuery),
        response: { 200: PageOf(Type.Ref('LeaderboardItem')), ...problemResponses(400, 404) },
      },
    },
    async (request) => {
      const { principal, anonymous } = viewer(request);
      return toPage(await challenges.leaderboard(request.params.slug, principal, readPage(request.query), anonymous));
    },
  );

  app.get(
    '/submissions/:id',
    {
      config: { permission: PARTICIPATE },
      schema: { tags, summary: 'One submission (yours; any for managers)', security: AUTHENTICATED, params: IdParams, response: { 200: Type.Ref('Submission'), ...problemResponses(400, 401, 403, 404) } },
    },
    async (request) => challenges.getSubmission(request.params.id, requirePrincipal(request)),
  );

  app.post(
    '/submissions/:id/reevaluate',
    {
      config: { permission: 'challenges:manage' },
      schema: {
        tags,
        summary: 'Evaluate a submission again',
        security: AUTHENTICATED,
        params: IdParams,
        response: { 202: Type.Ref('Submission'), ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => reply.code(202).send(await challenges.reevaluate(request.params.id, requirePrincipal(request))),
  );

  app.delete(
    '/submissions/:id',
    {
      config: { permission: PARTICIPATE },
      schema: {
        tags,
        summary: 'Delete a submission',
        description: 'Yours while not scored (`409` once scored); any with `challenges:manage`. Unfinished evaluations are cancelled.',
        security: AUTHENTICATED,
        params: IdParams,
        response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      await challenges.deleteSubmission(request.params.id, requirePrincipal(request));
      return reply.code(204).send(null);
    },
  );

  // Multipart parsing only in this scope (every other route answers multipart with 415).
  await api.register(async (scope) => {
    await scope.register(multipart, {
      limits: {
        fileSize: files.maxBytes + 1,
        files: Math.max(1, challenges.settings.maxSubmissionFiles),
        fields: 4,
        fieldSize: 16 * 1024,
        fieldNameSize: 100,
        parts: challenges.settings.maxSubmissionFiles + 4,
        headerPairs: 100,
      },
      throwFileSizeLimit: false,
    });
    const upload = scope.withTypeProvider<TypeBoxTypeProvider>();

    upload.post(
      '/challenges/:slug/resources',
      {
        config: { permission: 'challenges:manage' },
        schema: {
          tags,
          summary: 'Add a resource (multipart: `name`, `hidden`, then one `file`)',
          description:
            'Text fields `name` (default: the file name) and `hidden` (`true`: readable only by the worker holding an evaluation job of this challenge, and managers) before one file part named `file`. `409` for a name taken in the challenge.',
          security: AUTHENTICATED,
          consumes: ['multipart/form-data'],
          params: SlugParams,
          response: { 201: Type.Ref('ChallengeResource'), ...problemResponses(400, 401, 403, 404, 409, 413, 415) },
        },
      },
      async (request, reply) => {
        const principal = requirePrincipal(request);
        await challenges.assertExists(request.params.slug);
        const next = multipartParts(request);
        const fields = new Map<string, string>();
        let result: Awaited<ReturnType<ChallengeService['addResource']>> | undefined;
        for (let part = await next(); part; part = await next()) {
          if (part.type === 'field') {
            if (part.fieldname !== 'name' && part.fieldname !== 'hidden') {
              throw new AppError('validation_failed', `Unknown field "${part.fieldname}"; fields are name, hidden and file.`, { errors: [{ field: `/${part.fieldname}`, message: 'is not a known field' }] });
            }
            fields.set(part.fieldname, textOf(part).trim());
            continue;
          }
          if (part.fieldname !== 'file' || result) {
            part.file.resume();
            throw new AppError('validation_failed', 'Send exactly one file part, named "file", after the fields.', { errors: [{ field: '/file', message: 'must appear once' }] });
          }
          const hiddenText = fields.get('hidden') ?? 'false';
          if (!['true', 'false', '1', '0'].includes(hiddenText)) throw new AppError('validation_failed', 'hidden must be true or false.', { errors: [{ field: '/hidden', message: 'must be true or false' }] });
          const name = (fields.get('name') || part.filename || 'resource').slice(0, 200);
          const stored = await files.upload(principal, { purpose: 'attachment' }, { stream: part.file, filename: part.filename, contentType: part.mimetype });
          result = await challenges.addResource(request.params.slug, stored, { name, hidden: hiddenText === 'true' || hiddenText === '1' });
        }
        if (!result) throw new AppError('validation_failed', 'The body has no file part named "file".', { errors: [{ field: '/file', message: 'is required' }] });
        return reply.code(201).send(result);
      },
    );

    upload.post(
      '/challenges/:slug/submissions',
      {
        config: { permission: PARTICIPATE },
        schema: {
          tags,
          summary: 'Submit (multipart: one or more `file` parts, optional `meta` JSON)',
          description:
            'One or more file parts named `file` and an optional `meta` field (a JSON object, at most 16 KiB). Answers `202` with the submission `evaluating` and one evaluation job per evaluator. `403 not_participant` before joining, `409 challenge_closed` when inactive or outside `opens_at..closes_at`, `429 submission_limit` (with `Retry-After`) past `per_day` submissions in 24 h or `concurrent` still evaluating.',
          security: AUTHENTICATED,
          consumes: ['multipart/form-data'],
          params: SlugParams,
          response: { 202: Type.Ref('Submission'), ...problemResponses(400, 401, 403, 404, 409, 413, 415, 429) },
        },
      },
      async (request, reply) => {
        const principal = requirePrincipal(request);
        const slug = request.params.slug;
        // Refuse before reading any bytes: a closed challenge or an exhausted limit costs no upload.
        await challenges.assertMaySubmit(slug, principal);
        const next = multipartParts(request);
        const fileIds: string[] = [];
        let meta: Record<string, unknown> = {};
        for (let part = await next(); part; part = await next()) {
          if (part.type === 'field') {
            if (part.fieldname !== 'meta') {
              throw new AppError('validation_failed', `Unknown field "${part.fieldname}"; send file parts and an optional meta.`, { errors: [{ field: `/${part.fieldname}`, message: 'is not a known field' }] });
            }
            let parsed: unknown;
            try {
              parsed = JSON.parse(textOf(part));
            } catch {
              throw new AppError('validation_failed', 'meta must be a JSON object.', { errors: [{ field: '/meta', message: 'must be a JSON object' }] });
            }
            if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new AppError('validation_failed', 'meta must be a JSON object.', { errors: [{ field: '/meta', message: 'must be a JSON object' }] });
            meta = parsed as Record<string, unknown>;
            continue;
          }
          if (part.fieldname !== 'file') {
            part.file.resume();
            throw new AppError('validation_failed', `File parts must be named "file", not "${part.fieldname}".`, { errors: [{ field: '/file', message: 'must be named file' }] });
          }
          const stored = await files.upload(principal, { purpose: 'input' }, { stream: part.file, filename: part.filename, contentType: part.mimetype });
          fileIds.push(stored.id);
        }
        const view = await challenges.submit(slug, principal, fileIds, meta);
        return reply.code(202).header('Location', `/api/v1/submissions/${view.id}`).send(view);
      },
    );
  });
}
