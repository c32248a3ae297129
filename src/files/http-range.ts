/**
 * HTTP range and conditional-request helpers for downloads (RFC 9110 §13 and §14), pure functions
 * with no Fastify in them.
 */
import type { ByteRange } from './storage.js';

/** What to do with a `Range` header against a representation of `size` bytes. */
export type RangeDecision =
  /** Send the whole representation (200): no header, another unit, a multi-range request, or an invalid one. */
  | { kind: 'full' }
  /** Send this part (206 with `Content-Range: bytes start-end/size`). */
  | { kind: 'partial'; range: ByteRange }
  /** 416 with `Content-Range: bytes *\/size`. */
  | { kind: 'unsatisfiable' };

const SINGLE_RANGE = /^bytes[ \t]*=[ \t]*(\d*)[ \t]*-[ \t]*(\d*)[ \t]*$/i;

/**
 * Interprets a `Range` header (RFC 9110 §14.1.2) for one representation of `size` bytes.
 *
 * Only single byte ranges are served: `bytes=a-b`, `bytes=a-` and `bytes=-n`. A last position
 * past the end is clamped; a suffix longer than the representation selects all of it. Headers
 * that are malformed, use another unit, or ask for several ranges are ignored (a full answer,
 * which §14.2 allows). `bytes=a-` / `bytes=a-b` with `a >= size`, and `bytes=-0`, are
 * unsatisfiable; an empty representation answers whole to a suffix request.
 */
export function decideRange(header: string | undefined, size: number): RangeDecision {
  if (header === undefined) return { kind: 'full' };
  const match = SINGLE_RANGE.exec(header.trim());
  if (!match) return { kind: 'full' };
  const [, first, last] = match as unknown as [string, string, string];
  if (first === '' && last === '') return { kind: 'full' };
  if (first === '') {
    const suffix = Number(last);
    if (!Number.isSafeInteger(suffix)) return { kind: 'full' };
    if (suffix === 0) return { kind: 'unsatisfiable' };
    if (size === 0) return { kind: 'full' };
    return { kind: 'partial', range: { start: Math.max(0, size - suffix), end: size - 1 } };
  }
  const start = Number(first);
  const end = last === '' ? Number.POSITIVE_INFINITY : Number(last);
  if (!Number.isSafeInteger(start) || (last !== '' && !Number.isSafeInteger(end))) return { kind: 'full' };
  if (end < start) return { kind: 'full' };
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', range: { start, end: Math.min(end, size - 1) } };
}

/**
 * True when an `If-None-Match` header (RFC 9110 §13.1.2) matches the entity tag `etag` (a quoted
 * strong tag such as `"abc"`): `*`, or any listed tag equal under weak comparison (`W/` ignored).
 */
export function ifNoneMatchMatches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const value = header.trim();
  if (value === '*') return true;
  const opaque = stripWeak(etag);
  return value.split(',').some((tag) => stripWeak(tag.trim()) === opaque);
}

/**
 * True when a `Range` must be honoured under `If-Range` (RFC 9110 §13.1.5): no header, or a
 * strong entity tag equal to `etag`. A date or a different (or weak) tag means "send it all".
 */
export function ifRangeAllows(header: string | undefined, etag: string): boolean {
  if (header === undefined) return true;
  return header.trim() === etag;
}

function stripWeak(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}

/**
 * A `Content-Disposition: attachment` value for `name` (RFC 6266 with RFC 8187/5987
 * `filename*`): an ASCII fallback `filename` for old clients plus the exact UTF-8 name.
 */
export function attachmentDisposition(name: string): string {
  const fallback = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\%]/g, '_');
  // RFC 8187 attr-char is ALPHA / DIGIT / "!#$&+-.^_`|~": encodeURIComponent also leaves '()* alone.
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}
