/**
 * The one cursor-pagination helper every list endpoint uses: `?limit=&cursor=` in,
 * `{ items, next_cursor }` out. Cursors are opaque to clients (base64url of the last id seen;
 * ids are time-ordered UUIDv7, so they page stably while rows are added).
 */
import { type Static, Type } from '@sinclair/typebox';
import type { TSchema } from '@sinclair/typebox';
import { AppError } from '../shared/errors.js';
import { isUuid } from '../shared/ids.js';

/** Default and maximum page sizes. */
export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

/** Query-string members shared by list endpoints. */
export const PageQuery = {
  limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$', description: `Page size, 1..${MAX_PAGE_SIZE} (default ${DEFAULT_PAGE_SIZE})` })),
  cursor: Type.Optional(Type.String({ maxLength: 200, description: 'The next_cursor of the previous page' })),
};

/** `{ items: T[], next_cursor: string | null }` */
export function PageOf<T extends TSchema>(item: T) {
  return Type.Object({ items: Type.Array(item), next_cursor: Type.Union([Type.String(), Type.Null()]) });
}

/** A decoded page request. */
export interface PageRequest {
  limit: number;
  /** The id after which (in the list's order) the page starts. */
  afterId: string | undefined;
}

/**
 * Reads `limit` and `cursor`.
 * @throws AppError `validation_failed` for a limit out of range or a cursor we did not issue.
 */
export function readPage(query: { limit?: string | undefined; cursor?: string | undefined }): PageRequest {
  const limit = query.limit === undefined ? DEFAULT_PAGE_SIZE : Number(query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    throw new AppError('validation_failed', `limit must be between 1 and ${MAX_PAGE_SIZE}.`, {
      errors: [{ field: 'querystring:/limit', message: `must be between 1 and ${MAX_PAGE_SIZE}` }],
    });
  }
  if (query.cursor === undefined) return { limit, afterId: undefined };
  const id = Buffer.from(query.cursor, 'base64url').toString('utf8');
  if (!isUuid(id)) {
    throw new AppError('validation_failed', 'The cursor is not valid.', {
      errors: [{ field: 'querystring:/cursor', message: 'is not a cursor this server issued' }],
    });
  }
  return { limit, afterId: id };
}

/** Builds the response body from a service page (`next` = last id of this page, or null). */
export function toPage<T>(page: { items: T[]; next: string | null }): { items: T[]; next_cursor: string | null } {
  return { items: page.items, next_cursor: page.next === null ? null : Buffer.from(page.next, 'utf8').toString('base64url') };
}

/** Static type of a {@link PageOf} body. */
export type PageBody<T extends TSchema> = Static<ReturnType<typeof PageOf<T>>>;
