/** Reading a multipart/form-data request part by part (for every route that takes uploads). */
import type { MultipartFile, MultipartValue } from '@fastify/multipart';
import type { FastifyRequest } from 'fastify';
import type { AppError } from '../shared/errors.js';

/**
 * The parts of `request` one at a time (a scope with @fastify/multipart registered): each call
 * gives the next file or field, or null at the end of the body. A parser failure (a limit, a
 * malformed body) is thrown as `problem(error)`, so each route words its own 400.
 */
export function partReader(request: FastifyRequest, problem: (error: unknown) => AppError): () => Promise<MultipartFile | MultipartValue | null> {
  const parts = request.parts();
  return async () => {
    try {
      const next = await parts.next();
      return next.done ? null : next.value;
    } catch (error) {
      throw problem(error);
    }
  };
}
