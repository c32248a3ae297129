/**
 * The rate-limit response headers and the 429 error, in one place.
 *
 * Headers follow the IETF HTTPAPI draft "RateLimit header fields for HTTP"
 * (draft-ietf-httpapi-ratelimit-headers, the `RateLimit-Limit` / `RateLimit-Remaining` /
 * `RateLimit-Reset` form of drafts 00–06); `Retry-After` is RFC 9110 §10.2.3 in delta-seconds.
 */
import { AppError } from '../shared/errors.js';

/** Whole seconds until `ms` milliseconds have passed, at least 1 (a header never says 0 for a block). */
export function secondsFrom(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/**
 * `RateLimit-Limit` (points per window), `RateLimit-Remaining` (points left) and
 * `RateLimit-Reset` (seconds until the window resets).
 */
export function rateLimitHeaders(limit: number, remaining: number, resetMs: number): Record<string, string> {
  return {
    'RateLimit-Limit': String(limit),
    'RateLimit-Remaining': String(Math.max(0, remaining)),
    'RateLimit-Reset': String(secondsFrom(resetMs)),
  };
}

/**
 * The 429 `rate_limited` error: a problem document with `retry_after` (seconds), and the
 * `Retry-After` plus `RateLimit-*` headers (remaining 0).
 *
 * @param limit the limit that was hit, for `RateLimit-Limit`.
 * @param retryAfterMs time until the caller may try again, in milliseconds.
 * @param detail human explanation; `{seconds}` is replaced by the wait in seconds.
 */
export function rateLimitedError(limit: number, retryAfterMs: number, detail: string): AppError {
  const retryAfter = secondsFrom(retryAfterMs);
  return new AppError('rate_limited', detail.replace('{seconds}', String(retryAfter)), {
    extra: { retry_after: retryAfter },
    headers: { 'Retry-After': String(retryAfter), ...rateLimitHeaders(limit, 0, retryAfterMs) },
  });
}
