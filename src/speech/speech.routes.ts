/** `/api/v1/speech`: questions, sessions (multipart upload, report, audio, delete) and progress. HTTP only; logic lives in SpeechService. */
import multipart from '@fastify/multipart';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { multipartLimits } from '../files/files.routes.js';
import { replyWithContent } from '../files/file-reply.js';
import { partReader } from '../files/multipart-parts.js';
import { requirePrincipal } from '../http/authenticate.js';
import { PageOf, PageQuery, readPage, toPage } from '../http/pagination.js';
import { AUTHENTICATED, problemResponses } from '../http/schemas.js';
import { AppError } from '../shared/errors.js';
import { isUuid } from '../shared/ids.js';
import { MANAGE, type SpeechService, USE } from './speech.service.js';
import { MetricsSchema, QuestionSchema, SessionSchema } from './speech.views.js';

const USE_OR_MANAGE = { auth: 'required', permission: [USE, MANAGE] } as const;
const MANAGE_ONLY = { auth: 'required', permission: MANAGE } as const;
const tags = ['speech'];

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);

const QuestionFields = {
  text: Type.String({ minLength: 1, maxLength: 2000 }),
  category: Nullable(Type.String({ maxLength: 100 })),
  difficulty: Nullable(Type.Integer({ minimum: 1, maximum: 5 })),
  expected_seconds: Nullable(Type.Integer({ minimum: 1, maximum: 3600, description: 'seconds' })),
};

const NumberOrNull = Nullable(Type.Number());

const MonthSchema = Type.Object({
  month: Type.String({ description: 'YYYY-MM (UTC)' }),
  session_count: Type.Integer(),
  averages: Type.Union([Type.Ref('SpeechMetrics'), Type.Null()]),
  score: NumberOrNull,
});

const ProgressSchema = Type.Object(
  {
    from_month: Type.String(),
    to_month: Type.String(),
    months: Type.Array(MonthSchema),
    session_count: Type.Integer(),
    best_session: Type.Union([Type.Object({ id: Type.String(), created_at: Type.String(), score: Type.Number() }), Type.Null()]),
    biggest_improvement: Type.Union([Type.Object({ from_month: Type.String(), to_month: Type.String(), score_change: Type.Number() }), Type.Null()]),
    highlights: Type.Array(Type.String()),
  },
  { $id: 'SpeechProgress' },
);

const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });

/** Maps the multipart parser's errors to 400 problems (AppErrors pass through). */
function multipartProblem(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const code = (error as { code?: string } | null)?.code;
  if (code === 'FST_FILES_LIMIT') return new AppError('validation_failed', 'Send exactly one file part, named "audio".', { errors: [{ field: '/audio', message: 'must appear once' }] });
  if (code === 'FST_FIELDS_LIMIT' || code === 'FST_PARTS_LIMIT') return new AppError('validation_failed', 'Too many parts: send question_id (optional) and one audio file.');
  return new AppError('bad_request', 'The multipart/form-data body is malformed.', { cause: error });
}


/** Registers the speech routes on `api` (mounted under `/api/v1`, in the module's own scope). */
export async function speechRoutes(api: FastifyInstance, speech: SpeechService, maxUploadBytes: number): Promise<void> {
  // Multipart parsing in this scope only (other routes keep answering multipart bodies with 415).
  await api.register(multipart, { limits: { ...multipartLimits(maxUploadBytes), fields: 1, parts: 2 }, throwFileSizeLimit: false });
  const app = api.withTypeProvider<TypeBoxTypeProvider>();
  app.addSchema(QuestionSchema);
  app.addSchema(MetricsSchema);
  app.addSchema(SessionSchema);
  app.addSchema(ProgressSchema);

  // ---- questions ----
  app.post(
    '/speech/questions',
    {
      config: MANAGE_ONLY,
      schema: {
        tags,
        summary: 'Create a question (speech:manage)',
        security: AUTHENTICATED,
        body: Type.Object({ text: QuestionFields.text, category: Type.Optional(QuestionFields.category), difficulty: Type.Optional(QuestionFields.difficulty), expected_seconds: Type.Optional(QuestionFields.expected_seconds) }, { additionalProperties: false }),
        response: { 201: Type.Ref('SpeechQuestion'), ...problemResponses(400, 401, 403) },
      },
    },
    async (request, reply) => {
      const view = await speech.createQuestion(requirePrincipal(request), request.body);
      return reply.code(201).header('Location', `/api/v1/speech/questions/${view.id}`).send(view);
    },
  );

  app.get(
    '/speech/questions',
    {
      config: USE_OR_MANAGE,
      schema: {
        tags,
        summary: 'List questions, oldest first (any signed-in user)',
        security: AUTHENTICATED,
        querystring: Type.Object({ ...PageQuery, category: Type.Optional(Type.String({ maxLength: 100 })) }),
        response: { 200: PageOf(Type.Ref('SpeechQuestion')), ...problemResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const page = readPage(request.query);
      return toPage(await speech.listQuestions({ category: request.query.category, limit: page.limit, afterId: page.afterId }));
    },
  );

  app.get(
    '/speech/questions/:id',
    {
      config: USE_OR_MANAGE,
      schema: { tags, summary: 'One question', security: AUTHENTICATED, params: IdParams, response: { 200: Type.Ref('SpeechQuestion'), ...problemResponses(400, 401, 403, 404) } },
    },
    async (request) => speech.getQuestion(request.params.id),
  );

  app.patch(
    '/speech/questions/:id',
    {
      config: MANAGE_ONLY,
      schema: {
        tags,
        summary: 'Change a question (speech:manage); null clears category, difficulty or expected_seconds',
        security: AUTHENTICATED,
        params: IdParams,
        body: Type.Object(
          { text: Type.Optional(QuestionFields.text), category: Type.Optional(QuestionFields.category), difficulty: Type.Optional(QuestionFields.difficulty), expected_seconds: Type.Optional(QuestionFields.expected_seconds) },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: Type.Ref('SpeechQuestion'), ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => speech.updateQuestion(request.params.id, request.body),
  );

  app.delete(
    '/speech/questions/:id',
    {
      config: MANAGE_ONLY,
      schema: { tags, summary: 'Delete a question (speech:manage); its sessions keep their reports', security: AUTHENTICATED, params: IdParams, response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404) } },
    },
    async (request, reply) => {
      await speech.deleteQuestion(request.params.id);
      return reply.code(204).send(null);
    },
  );

  // ---- sessions ----
  app.post(
    '/speech/sessions',
    {
      config: USE_OR_MANAGE,
      schema: {
        tags,
        summary: 'Record a session: upload an answer to analyse',
        description:
          '`multipart/form-data` with an optional text field `question_id` **before** one file part named `audio`. WAV (PCM 8/16/24/32-bit or float, 8–48 kHz, mono or stereo) is read natively; Ogg/Opus, WebM (MediaRecorder), MP3, FLAC and M4A need ffmpeg on the server (else `415 speech_decoder_missing`). Anything else: `415 speech_not_audio`; longer than SPEECH_MAX_SECONDS: `422 speech_too_long`; no audio: `422 speech_empty_audio`. The recording is stored as one of your files (it counts toward your storage quota). Answers `202` with the session (`state: analysing`) and its `job_id`; follow `speech-session:{id}` (the final report) and `job:{job_id}` (progress) on `GET /api/v1/events` or the WebSocket.',
        security: AUTHENTICATED,
        consumes: ['multipart/form-data'],
        response: { 202: Type.Ref('SpeechSession'), ...problemResponses(400, 401, 403, 404, 413, 415, 422) },
      },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request);
      if (!request.isMultipart()) throw new AppError('unsupported_media_type', 'Send multipart/form-data with one file part named "audio".');
      const next = partReader(request, multipartProblem);
      let questionId: string | undefined;
      for (let part = await next(); part; part = await next()) {
        if (part.type === 'field') {
          if (part.fieldname !== 'question_id' || typeof part.value !== 'string' || !isUuid(part.value.trim())) {
            throw new AppError('validation_failed', 'The only field is question_id, a question id (UUID), before the audio part.', { errors: [{ field: `/${part.fieldname}`, message: 'is not a question id' }] });
          }
          questionId = part.value.trim().toLowerCase();
          continue;
        }
        const file = part;
        if (file.fieldname !== 'audio') {
          file.file.resume();
          throw new AppError('validation_failed', `The file part must be named "audio", not "${file.fieldname}".`, { errors: [{ field: '/audio', message: 'is required' }] });
        }
        try {
          const view = await speech.createSession(principal, { questionId }, {
            stream: file.file,
            filename: file.filename,
            contentType: file.mimetype,
            truncated: () => file.file.truncated,
            afterStream: async () => {
              const extra = await next();
              if (!extra) return;
              if (extra.type === 'file') extra.file.resume();
              throw new AppError('validation_failed', 'Send question_id before the audio part, and nothing after it.', { errors: [{ field: `/${extra.fieldname}`, message: 'must come before the audio part' }] });
            },
          });
          return reply.code(202).header('Location', `/api/v1/speech/sessions/${view.id}`).send(view);
        } catch (error) {
          file.file.resume();
          throw error;
        }
      }
      throw new AppError('validation_failed', 'The body has no file part named "audio".', { errors: [{ field: '/audio', message: 'is required' }] });
    },
  );

  app.get(
    '/speech/sessions',
    {
      config: USE_OR_MANAGE,
      schema: {
        tags,
        summary: 'Your sessions, newest first (another user\'s with user_id and speech:manage)',
        security: AUTHENTICATED,
        querystring: Type.Object({
          ...PageQuery,
          question_id: Type.Optional(Type.String({ format: 'uuid' })),
          month: Type.Optional(Type.String({ pattern: '^[0-9]{4}-[0-9]{2}$', description: 'YYYY-MM (UTC), by created_at' })),
          user_id: Type.Optional(Type.String({ format: 'uuid', description: 'speech:manage' })),
        }),
        response: { 200: PageOf(Type.Ref('SpeechSession')), ...problemResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const page = readPage(request.query);
      const q = request.query;
      return toPage(await speech.listSessions(requirePrincipal(request), { userId: q.user_id, questionId: q.question_id, month: q.month, limit: page.limit, afterId: page.afterId }));
    },
  );

  app.get(
    '/speech/sessions/:id',
    {
      config: USE_OR_MANAGE,
      schema: { tags, summary: 'A session and its report', security: AUTHENTICATED, params: IdParams, response: { 200: Type.Ref('SpeechSession'), ...problemResponses(400, 401, 403, 404) } },
    },
    async (request) => speech.getSession(requirePrincipal(request), request.params.id),
  );

  app.route({
    method: ['GET', 'HEAD'],
    url: '/speech/sessions/:id/audio',
    config: USE_OR_MANAGE,
    schema: {
      tags,
      summary: 'The recording (single byte ranges, ETag)',
      security: AUTHENTICATED,
      params: IdParams,
      response: problemResponses(400, 401, 403, 404, 416),
    },
    handler: async (request, reply) => {
      const file = await speech.audioFile(requirePrincipal(request), request.params.id);
      return replyWithContent(request, reply, file, { what: 'recording', open: (range) => speech.openAudio(file, range) });
    },
  });

  app.delete(
    '/speech/sessions/:id',
    {
      config: USE_OR_MANAGE,
      schema: { tags, summary: 'Delete a session and its recording (a running analysis is cancelled)', security: AUTHENTICATED, params: IdParams, response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404) } },
    },
    async (request, reply) => {
      await speech.deleteSession(requirePrincipal(request), request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/speech/progress',
    {
      config: USE_OR_MANAGE,
      schema: {
        tags,
        summary: 'Your progress month by month',
        description: 'Per-month averages of every metric over your finished sessions, session counts, your best session (by score), the biggest month-over-month rise of the average score, and highlight sentences. `months` counts calendar months (UTC) ending with the current one.',
        security: AUTHENTICATED,
        querystring: Type.Object({ months: Type.Optional(Type.String({ pattern: '^[0-9]{1,2}$', description: 'Calendar months, 1..36 (default 12)' })) }),
        response: { 200: Type.Ref('SpeechProgress'), ...problemResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const months = request.query.months === undefined ? 12 : Number(request.query.months);
      if (months < 1 || months > 36) {
        throw new AppError('validation_failed', 'months must be between 1 and 36.', { errors: [{ field: 'querystring:/months', message: 'must be between 1 and 36' }] });
      }
      return speech.progress(requirePrincipal(request), months);
    },
  );
}
