/**
 * Input checks every route gets before schema validation.
 *
 * NUL characters are refused everywhere: PostgreSQL cannot store them in text, C libraries
 * truncate at them, and no legitimate field of ours contains one.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../shared/errors.js';

/**
 * The path of a string or key containing U+0000, or null. Walks with an explicit stack instead of
 * recursion: a depth cut-off would let a deeply nested NUL through (PostgreSQL then refuses it
 * with a 500), and recursion could overflow; the body limit bounds the work.
 */
function findNul(root: unknown, rootPath: string): string | null {
  const stack: Array<[unknown, string]> = [[root, rootPath]];
  for (let next = stack.pop(); next; next = stack.pop()) {
    const [value, path] = next;
    if (typeof value === 'string') {
      if (value.includes('\u0000')) return path || '/';
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      if (key.includes('\u0000')) return `${path}/${key.replaceAll('\u0000', '\\u0000')}`;
      stack.push([child, `${path}/${key}`]);
    }
  }
  return null;
}

/**
 * `preValidation` hook: 400 `validation_failed` when the body, query or params contain U+0000.
 * Callback style, and empty parts are skipped without a walk: it runs on every request.
 */
export function rejectNulCharacters(request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void): void {
  const parts: ReadonlyArray<readonly ['body' | 'querystring' | 'params', unknown]> = [
    ['body', request.body],
    ['querystring', request.query],
    ['params', request.params],
  ];
  for (const [part, value] of parts) {
    if (value === undefined || value === null || isEmptyObject(value)) continue;
    const at = findNul(value, '');
    if (at) {
      const field = part === 'body' ? at : `${part}:${at}`;
      done(
        new AppError('validation_failed', 'Text may not contain NUL (U+0000) characters.', {
          errors: [{ field, message: 'must not contain NUL characters' }],
        }),
      );
      return;
    }
  }
  done();
}

function isEmptyObject(value: unknown): boolean {
  if (typeof value !== 'object') return false;
  for (const _key in value as object) return false;
  return true;
}
