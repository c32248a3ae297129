/** Retry delays of the worker SDK: exponential backoff with jitter. */

/** First delay in ms. */
export const BACKOFF_BASE_MS = 250;
/** Longest delay in ms. */
export const BACKOFF_MAX_MS = 15_000;

/**
 * The delay before retry number `retry` (0 for the first): `250 ms · 2^retry`, capped at 15 s,
 * with "equal jitter" — half of it fixed, half random — so that many workers cut off together
 * (a server restart) do not all come back in the same instant, yet none retries too eagerly.
 * @param random a source of numbers in [0, 1) (default `Math.random`).
 * @returns milliseconds, in `[capped/2, capped)`.
 */
export function backoffDelayMs(retry: number, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(0, Math.floor(retry)), 16);
  const capped = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** exponent);
  return Math.round(capped / 2 + random() * (capped / 2));
}

/**
 * The delay before retry number `retry` after `error`: {@link backoffDelayMs}, or longer when the
 * server said how long to wait (`retryAfterSeconds`, from a 429/503 `Retry-After`), at most 60 s.
 */
export function retryDelayMs(error: unknown, retry: number, random: () => number = Math.random): number {
  const backoff = backoffDelayMs(retry, random);
  const retryAfter = (error as { retryAfterSeconds?: unknown } | null)?.retryAfterSeconds;
  return typeof retryAfter === 'number' && retryAfter > 0 ? Math.max(backoff, Math.min(60_000, retryAfter * 1000)) : backoff;
}

/**
 * Resolves after `ms`, or at once when `signal` aborts (never rejects: the caller checks what it
 * was waiting for). The timer stays referenced: a worker whose only activity is waiting to
 * retry must stay alive.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
