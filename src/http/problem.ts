/**
 * The one error funnel: every failure becomes an RFC 9457 problem document
 * (`application/problem+json`) with `type`, `title`, `status`, `detail`, a stable `code`, the
 * request id as `instance`, and `errors[]` for validation. 5xx bodies never carry internals;
 * the cause is logged instead.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, type ErrorCode, errorDefinition, type FieldError } from '../shared/errors.js';

/** The JSON body of every error response. */
export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail?: string;
  code: ErrorCode;
  instance?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

/** Builds a problem document for `code`. `type` is a relative URI documented at `/problems/{code}`. */
export function problemFor(error: AppError, requestId?: string): ProblemDocument {
  const doc: ProblemDocument = {
    type: `/problems/${error.code}`,
    title: errorDefinition(error.code).title,
    status: error.status,
    code: error.code,
    ...(error.extra ?? {}),
  };
  if (error.detail) doc.detail = error.detail;
  if (requestId) doc.instance = `urn:request:${requestId}`;
  if (error.errors?.length) doc.errors = error.errors;
  return doc;
}

/** Sends `error` as a problem document, with its extra headers. */
export function sendProblem(reply: FastifyReply, error: AppError): FastifyReply {
  if (error.headers) reply.headers(error.headers);
  return reply.code(error.status).type('application/problem+json').send(problemFor(error, reply.request.id));
}

interface AjvError {
  instancePath: string;
  message?: string;
  keyword: string;
  params: Record<string, unknown>;
}

function fieldErrors(error: FastifyError & { validation?: AjvError[]; validationContext?: string }): FieldError[] {
  const context = error.validationContext ?? 'body';
  return (error.validation ?? []).map((v) => {
    let field = v.instancePath;
    if (v.keyword === 'required' && typeof v.params.missingProperty === 'string') {
      field = `${field}/${v.params.missingProperty}`;
    }
    return { field: context === 'body' ? field || '/' : `${context}:${field || '/'}`, message: v.message ?? 'is invalid' };
  });
}

/** Maps any thrown value to an {@link AppError}. Unknown errors become `internal_error`. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const e = error as FastifyError & { validation?: AjvError[]; type?: string };
  if (e?.validation) {
    const errors = fieldErrors(e);
    return new AppError('validation_failed', errors.map((f) => `${f.field} ${f.message}`).join('; '), { errors });
  }
  switch (e?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('payload_too_large', 'The request body exceeds the size limit.');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('unsupported_media_type', 'Send JSON (application/json).');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('malformed_json', 'The body is empty but the content type says JSON.');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new AppError('malformed_json', 'The request body is not valid JSON.');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError('bad_request', 'The Content-Length header does not match the body.');
    case 'FST_ERR_NOT_FOUND':
      return new AppError('not_found');
    default:
      break;
  }
  if (e instanceof SyntaxError || e?.type === 'entity.parse.failed') {
    return new AppError('malformed_json', 'The request body is not valid JSON.');
  }
  const status = typeof e?.statusCode === 'number' ? e.statusCode : 500;
  if (status === 413) return new AppError('payload_too_large');
  if (status === 415) return new AppError('unsupported_media_type');
  if (status === 404) return new AppError('not_found');
  if (status >= 400 && status < 500) return new AppError('bad_request', e?.message);
  return new AppError('internal_error', undefined, { cause: error });
}

/** Installs the error and not-found handlers on `app`. */
export function installProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const appError = toAppError(error);
    if (appError.status >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.info({ code: appError.code, status: appError.status }, 'request rejected');
    return sendProblem(reply, appError);
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, new AppError('not_found', `No route for ${request.method} ${request.url.split('?')[0]}.`)),
  );
}
