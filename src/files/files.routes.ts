/**
 * `/api/v1/files`: upload (multipart, streamed), download (ranges, ETag) and metadata. HTTP only;
 * the rules live in FileService. Needs @fastify/multipart registered in the same scope.
 */
import type { MultipartFile, MultipartValue } from '@fastify/multipart';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { requirePrincipal } from '../http/authenticate.js';
import { AUTHENTICATED, problemResponses } from '../http/schemas.js';
import { AppError, type FieldError } from '../shared/errors.js';
import { isUuid } from '../shared/ids.js';
import { FILE_PURPOSES, type FilePurpose, type FileService, type UploadInput } from './files.service.js';
import { replyWithContent } from './file-reply.js';
import { FileMetaSchema } from './files.views.js';
import { partReader } from './multipart-parts.js';
import { attachmentDisposition } from './http-range.js';

/** Options for {@link filesRoutes}. */
export interface FilesRoutesOptions {
  files: FileService;
}

/** Limits handed to @fastify/multipart (busboy) for the upload route; see `app.ts`. */
export function multipartLimits(maxBytes: number) {
  return {
    // One byte over the limit, so the storage sees the overflow and answers 413 (busboy would
    // silently truncate at exactly the limit).
    fileSize: maxBytes + 1,
    files: 1,
    fields: UPLOAD_FIELDS.length,
    fieldSize: 1024,
    fieldNameSize: 100,
    parts: UPLOAD_FIELDS.length + 1,
    headerPairs: 100,
  };
}

const UPLOAD_FIELDS = ['purpose', 'job_id', 'attempt'] as const;
type UploadField = (typeof UPLOAD_FIELDS)[number];

const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });

/** Maps errors of the multipart parser (limits, malformed bodies) to 400 problem documents. */
function multipartProblem(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const code = (error as { code?: string } | null)?.code;
  switch (code) {
    case 'FST_FILES_LIMIT':
      return new AppError('validation_failed', 'Send exactly one file part, named "file".', {
        errors: [{ field: '/file', message: 'must appear once' }],
      });
    case 'FST_FIELDS_LIMIT':
    case 'FST_PARTS_LIMIT':
      return new AppError('validation_failed', `Too many parts: send at most the fields ${UPLOAD_FIELDS.join(', ')} and one file.`);
    case 'FST_PROTO_VIOLATION':
    case 'FST_INVALID_JSON_FIELD_ERROR':
      return new AppError('validation_failed', 'A form field is not valid.');
    default:
      return new AppError('bad_request', 'The multipart/form-data body is malformed.', { cause: error });
  }
}

/** Turns the text fields into a typed {@link UploadInput}. @throws AppError `validation_failed`. */
function parseUploadFields(fields: Map<UploadField, string>): UploadInput {
  const errors: FieldError[] = [];
  const input: UploadInput = {};
  const purpose = fields.get('purpose');
  if (purpose !== undefined) {
    if ((FILE_PURPOSES as readonly string[]).includes(purpose)) input.purpose = purpose as FilePurpose;
    else errors.push({ field: '/purpose', message: `must be one of ${FILE_PURPOSES.join(', ')}` });
  }
  const jobId = fields.get('job_id');
  if (jobId !== undefined) {
    if (isUuid(jobId)) input.jobId = jobId.toLowerCase();
    else errors.push({ field: '/job_id', message: 'must be a job id (UUID)' });
  }
  const attempt = fields.get('attempt');
  if (attempt !== undefined) {
    const n = /^[0-9]{1,9}$/.test(attempt) ? Number(attempt) : Number.NaN;
    if (n >= 1) input.attempt = n;
    else errors.push({ field: '/attempt', message: 'must be a positive integer' });
  }
  if (errors.length) throw new AppError('validation_failed', errors.map((e) => `${e.field} ${e.message}`).join('; '), { errors });
  return input;
}

/** Records one text part. @throws AppError `validation_failed` for unknown, repeated, oversize or non-text fields. */
function readField(fields: Map<UploadField, string>, part: MultipartValue): void {
  const name = part.fieldname as UploadField;
  if (!UPLOAD_FIELDS.includes(name)) {
    throw new AppError('validation_failed', `Unknown field "${part.fieldname}"; fields are ${UPLOAD_FIELDS.join(', ')} and file.`, {
      errors: [{ field: `/${part.fieldname}`, message: 'is not a known field' }],
    });
  }
  if (fields.has(name)) {
    throw new AppError('validation_failed', `Field ${name} is repeated.`, { errors: [{ field: `/${name}`, message: 'must appear once' }] });
  }
  const value = part.value;
  if (part.valueTruncated || (typeof value !== 'string' && typeof value !== 'number')) {
    throw new AppError('validation_failed', `Field ${name} is not a short text value.`, {
      errors: [{ field: `/${name}`, message: 'must be a short text value' }],
    });
  }
  fields.set(name, String(value).trim());
}


/** Lets a file part's remaining bytes flow into nothing (so the parser reaches the end of the body). */
function discard(part: MultipartFile | MultipartValue): void {
  if (part.type === 'file') part.file.resume();
}

/** Reading a file: `files:read` (yours), `files:manage` (all), `jobs:claim` (a worker's held jobs); the service decides per file. */
const READ_FILES = ['files:read', 'files:manage', 'jobs:claim'] as const;

/**
 * `POST /files`, `GET|HEAD /files/{id}` and `GET /files/{id}/meta` (register under `/api/v1`, in
 * a scope where @fastify/multipart is registered with {@link multipartLimits}).
 */
export const filesRoutes: FastifyPluginAsyncTypebox<FilesRoutesOptions> = async (app, { files }) => {
  app.addSchema(FileMetaSchema);
  const FileMetaRef = Type.Ref('FileMeta');

  app.post(
    '/files',
    {
      // Workers upload job outputs with their `jobs:claim` key; the service checks which purpose needs what.
      config: { permission: ['files:write', 'jobs:claim'] },
      schema: {
        tags: ['files'],
        summary: 'Upload a file (multipart/form-data, streamed)',
        description:
          'A `multipart/form-data` body with optional text fields **before** one file part named `file`: `purpose` (`input` — the default — or `attachment`; workers: `output` or `checkpoint`, with `job_id` and `attempt` of the job they hold). The file is streamed to storage (at most `FILE_MAX_BYTES`, else `413`) and its SHA-256 computed on the way. Needs `files:write` (job files, `output` and `checkpoint`: `jobs:claim`). `409 lease_lost` when the worker no longer holds the job.',
        security: AUTHENTICATED,
        consumes: ['multipart/form-data'],
        response: { 201: FileMetaRef, ...problemResponses(400, 401, 403, 409, 413, 415) },
      },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request);
      if (!request.isMultipart()) {
        throw new AppError('unsupported_media_type', 'Send multipart/form-data with one file part named "file".');
      }
      
      const next = partReader(request, multipartProblem);
      const fields = new Map<UploadField, string>();
      for (let part = await next(); part; part = await next()) {
        if (part.type === 'field') {
          readField(fields, part);
          continue;
        }
        const file = part;
        try {
          if (file.fieldname !== 'file') {
            throw new AppError('validation_failed', `The file part must be named "file", not "${file.fieldname}".`, {
              errors: [{ field: '/file', message: 'is required' }],
            });
          }
          const view = await files.upload(principal, parseUploadFields(fields), {
            stream: file.file,
            filename: file.filename,
            contentType: file.mimetype,
            afterStream: async () => {
              const extra = await next();
              if (!extra) return;
              discard(extra);
              throw new AppError('validation_failed', 'Send the fields before the file, and nothing after it.', {
                errors: [{ field: `/${extra.fieldname}`, message: 'must come before the file part' }],
              });
            },
          });
          return reply.code(201).header('Location', `/api/v1/files/${view.id}`).send(view);
        } catch (error) {
          discard(file);
          throw error;
        }
      }
      throw new AppError('validation_failed', 'The body has no file part named "file".', {
        errors: [{ field: '/file', message: 'is required' }],
      });
    },
  );

  // HEAD is declared with GET (not left to Fastify's automatic HEAD route, which would read the
  // whole file and replace Content-Length).
  app.route({
    method: ['GET', 'HEAD'],
    url: '/files/:id',
    config: { permission: READ_FILES },
    schema: {
      tags: ['files'],
      summary: 'Download a file (HEAD too; single byte ranges)',
      description:
        'The bytes with `Content-Type`, `Content-Length`, `ETag: "<sha256>"`, `Content-Disposition: attachment` and `Accept-Ranges: bytes`. `Range: bytes=a-b`, `bytes=a-` or `bytes=-n` answers `206` with `Content-Range`; an unsatisfiable range `416` with `Content-Range: bytes */<size>`; several ranges are answered whole (`200`). `If-None-Match` with the ETag answers `304`; `If-Range` is honoured. Needs `files:read` (your files and those of your jobs), `files:manage` (every file) or `jobs:claim` (the files of the jobs this worker key holds); anyone else gets `404`.',
      security: AUTHENTICATED,
      params: IdParams,
      response: problemResponses(400, 401, 403, 404, 416),
    },
    handler: async (request, reply) => {
      const file = await files.findReadable(request.params.id, requirePrincipal(request));
      return replyWithContent(request, reply, file, {
        what: 'file',
        disposition: attachmentDisposition(file.name),
        open: (range) => files.openContent(file, range),
      });
    },
  });

  app.get(
    '/files/:id/meta',
    {
      config: { permission: READ_FILES },
      schema: {
        tags: ['files'],
        summary: 'A file\'s metadata',
        security: AUTHENTICATED,
        params: IdParams,
        response: { 200: FileMetaRef, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => files.meta(request.params.id, requirePrincipal(request)),
  );
};
