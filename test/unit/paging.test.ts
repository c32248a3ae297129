import { describe, expect, it } from 'vitest';
import { pageOfRows } from '../../src/shared/paging.js';

const rows = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `id-${i}`, n: i }));

describe('pageOfRows', () => {
  it('returns the first `limit` rows mapped and the last id when a further row was fetched', () => {
    expect(pageOfRows(rows(4), 3, (r) => r.n)).toEqual({ items: [0, 1, 2], next: 'id-2' });
  });

  it('has no next page when the repository returned `limit` rows or fewer', () => {
    expect(pageOfRows(rows(3), 3, (r) => r.n)).toEqual({ items: [0, 1, 2], next: null });
    expect(pageOfRows(rows(0), 3, (r) => r.n)).toEqual({ items: [], next: null });
  });
});
