/**
 * Signatures of the generic webhook (`WEBHOOK_URL`), so a receiver can check that a request
 * came from this Gatehouse and was not replayed.
 *
 * Each request carries `X-Gatehouse-Timestamp: <unix seconds>` and
 * `X-Gatehouse-Signature: sha256=<hex>`, where `<hex>` is the lower-case hex HMAC-SHA256, keyed
 * with the UTF-8 bytes of `WEBHOOK_SECRET`, of the string `<timestamp>.<raw request body>` (the
 * timestamp header's value, a full stop, then the body bytes exactly as received). Receivers
 * should compare in constant time and refuse timestamps more than five minutes away from now.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Header carrying the signature. */
export const SIGNATURE_HEADER = 'X-Gatehouse-Signature';
/** Header carrying the signing time in Unix seconds. */
export const TIMESTAMP_HEADER = 'X-Gatehouse-Timestamp';

/** The `X-Gatehouse-Signature` value for `body` sent at `timestamp` (Unix seconds). */
export function signWebhook(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * Checks a received webhook: the signature matches (constant-time comparison) and the timestamp
 * is within `toleranceSeconds` (default 300) of `nowSeconds`.
 */
export function verifyWebhookSignature(
  secret: string,
  request: { timestamp: string | undefined; signature: string | undefined; body: string },
  nowSeconds: number,
  toleranceSeconds = 300,
): boolean {
  if (!request.timestamp || !request.signature || !/^\d+$/.test(request.timestamp)) return false;
  const timestamp = Number(request.timestamp);
  if (Math.abs(nowSeconds - timestamp) > toleranceSeconds) return false;
  const expected = Buffer.from(signWebhook(secret, timestamp, request.body));
  const given = Buffer.from(request.signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
