/** Unit tests for the error funnel (`src/http/problem.ts`) and the code catalogue. */
import { describe, expect, it } from 'vitest';
import { problemFor, toAppError } from '../../src/http/problem.js';
import { AppError, errorCatalogue, isAppError } from '../../src/shared/errors.js';

function fastifyError(code: string, statusCode?: number, message = 'framework says no'): Error {
  return Object.assign(new Error(message), { code, statusCode });
}

describe('toAppError', () => {
  it('passes AppErrors through unchanged', () => {
    const error = new AppError('weak_password', 'Too short.');
    expect(toAppError(error)).toBe(error);
  });

  it('turns schema validation failures into validation_failed with field paths', () => {
    const error = Object.assign(new Error('body/email must match format "email"'), {
      validation: [
        { instancePath: '/email', keyword: 'format', params: { format: 'email' }, message: 'must match format "email"' },
        { instancePath: '', keyword: 'required', params: { missingProperty: 'password' }, message: "must have required property 'password'" },
      ],
      validationContext: 'body',
    });
    const mapped = toAppError(error);
    expect(mapped.code).toBe('validation_failed');
    expect(mapped.status).toBe(400);
    expect(mapped.errors).toEqual([
      { field: '/email', message: 'must match format "email"' },
      { field: '/password', message: "must have required property 'password'" },
    ]);
  });

  it('prefixes non-body validation paths with their part', () => {
    const error = Object.assign(new Error('x'), {
      validation: [{ instancePath: '/id', keyword: 'format', params: {}, message: 'must match format "uuid"' }],
      validationContext: 'params',
    });
    expect(toAppError(error).errors).toEqual([{ field: 'params:/id', message: 'must match format "uuid"' }]);
  });

  it.each([
    ['FST_ERR_CTP_BODY_TOO_LARGE', 413, 'payload_too_large'],
    ['FST_ERR_CTP_INVALID_MEDIA_TYPE', 415, 'unsupported_media_type'],
    ['FST_ERR_CTP_EMPTY_JSON_BODY', 400, 'malformed_json'],
    ['FST_ERR_CTP_INVALID_JSON_BODY', 400, 'malformed_json'],
    ['FST_ERR_CTP_INVALID_CONTENT_LENGTH', 400, 'bad_request'],
    ['FST_ERR_NOT_FOUND', 404, 'not_found'],
  ])('maps %s to %i %s', (code, status, expected) => {
    const mapped = toAppError(fastifyError(code, status));
    expect(mapped.code).toBe(expected);
    expect(mapped.status).toBe(status);
  });

  it.each([
    [413, 'payload_too_large'],
    [415, 'unsupported_media_type'],
    [404, 'not_found'],
    [418, 'bad_request'],
    [414, 'bad_request'],
  ])('maps any other error with statusCode %i to %s', (statusCode, expected) => {
    expect(toAppError(fastifyError('SOMETHING_ELSE', statusCode)).code).toBe(expected);
  });

  it('maps a JSON SyntaxError to malformed_json', () => {
    let syntax: unknown;
    try {
      JSON.parse('{');
    } catch (error) {
      syntax = error;
    }
    expect(toAppError(syntax).code).toBe('malformed_json');
  });

  it.each([
    ['a plain Error', new Error('connect ECONNREFUSED 10.0.0.5:5432 password=hunter2')],
    ['a 5xx framework error', fastifyError('FST_ERR_SOMETHING', 503, 'internal detail')],
    ['a string', 'boom'],
    ['null', null],
    ['undefined', undefined],
  ])('hides %s behind internal_error without detail', (_name, thrown) => {
    const mapped = toAppError(thrown);
    expect(mapped.code).toBe('internal_error');
    expect(mapped.status).toBe(500);
    expect(mapped.detail).toBeUndefined();
    const doc = problemFor(mapped, 'req-1');
    expect(JSON.stringify(doc)).not.toMatch(/ECONNREFUSED|hunter2|internal detail|boom|stack/);
  });
});

describe('problemFor', () => {
  it('builds an RFC 9457 document with code, instance and errors', () => {
    const error = new AppError('validation_failed', 'Bad email.', { errors: [{ field: '/email', message: 'is invalid' }] });
    expect(problemFor(error, 'abc')).toEqual({
      type: '/problems/validation_failed',
      title: errorCatalogue.validation_failed.title,
      status: 400,
      code: 'validation_failed',
      detail: 'Bad email.',
      instance: 'urn:request:abc',
      errors: [{ field: '/email', message: 'is invalid' }],
    });
  });

  it('omits empty members and carries extension members', () => {
    const doc = problemFor(new AppError('rate_limited', undefined, { extra: { retry_after: 30 } }));
    expect(doc).toEqual({ type: '/problems/rate_limited', title: 'Too many requests', status: 429, code: 'rate_limited', retry_after: 30 });
  });
});

describe('errorCatalogue', () => {
  it('uses snake_case codes with 4xx/5xx statuses and a title each', () => {
    for (const [code, entry] of Object.entries(errorCatalogue)) {
      expect(code).toMatch(/^[a-z]+(_[a-z]+)*$/);
      expect(entry.status).toBeGreaterThanOrEqual(400);
      expect(entry.status).toBeLessThan(600);
      expect(entry.title.length).toBeGreaterThan(3);
    }
  });

  it.each([
    ['invalid_credentials', 401],
    ['email_not_verified', 403],
    ['email_taken', 409],
    ['weak_password', 422],
    ['invalid_token', 400],
    ['invalid_grant', 400],
    ['csrf_failed', 403],
    ['payload_too_large', 413],
    ['unsupported_media_type', 415],
    ['rate_limited', 429],
    ['service_unavailable', 503],
  ] as const)('keeps the contract status of %s (%i)', (code, status) => {
    expect(errorCatalogue[code].status).toBe(status);
    expect(new AppError(code).status).toBe(status);
  });
});

describe('isAppError', () => {
  it('checks the class and optionally the code', () => {
    const error = new AppError('not_found');
    expect(isAppError(error)).toBe(true);
    expect(isAppError(error, 'not_found')).toBe(true);
    expect(isAppError(error, 'forbidden')).toBe(false);
    expect(isAppError(new Error('x'))).toBe(false);
  });
});
