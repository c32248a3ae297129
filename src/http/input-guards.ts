/**
 * Input checks every route gets before schema validation.
 *
 * NUL characters are refused everywhere: PostgreSQL cannot store them in text, C libraries
 * truncate at them, and no legitimate field of ours contains one.
 */
import type { FastifyRequest } from 'fastify';
import { AppError } from '../shared/errors.js';

function findNul(value: unknown, path: string, depth = 0): string | null {
  if (typeof value === 'string') return value.includes('\u0000') ? path || '/' : null;
  if (depth > 32 || value === null || typeof value !== 'object') return null;
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    if (key.includes('\u0000')) return `${path}/${key.replaceAll('\u0000', '\\u0000')}`;
    const found = findNul(child, `${path}/${key}`, depth + 1);
    if (found) return found;
  }
  return null;
}

/** `preValidation` hook: 400 `validation_failed` when the body, query or params contain U+0000. */
export async function rejectNulCharacters(request: FastifyRequest): Promise<void> {
  for (const [part, value] of [
    ['body', request.body],
    ['querystring', request.query],
    ['params', request.params],
  ] as const) {
    const at = findNul(value, '');
    if (at) {
      const field = part === 'body' ? at : `${part}:${at}`;
      throw new AppError('validation_failed', 'Text may not contain NUL (U+0000) characters.', {
        errors: [{ field, message: 'must not contain NUL characters' }],
      });
    }
  }
}
