/**
 * Turns the `limit + 1` rows a repository fetched into one page: the first `limit` items and the
 * id to continue after (null on the last page). Every list in Gatehouse pages this way (ids are
 * time-ordered UUIDv7); `src/http/pagination.ts` encodes the id as the client's cursor.
 */
export function pageOfRows<R extends { id: string }, V>(
  rows: R[],
  limit: number,
  map: (row: R) => V,
): { items: V[]; next: string | null } {
  const page = rows.slice(0, limit);
  return { items: page.map(map), next: rows.length > limit ? (page.at(-1)?.id ?? null) : null };
}
