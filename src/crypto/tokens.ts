/**
 * Random secrets and their storage form.
 *
 * Every bearer secret Gatehouse issues (session ids, refresh tokens, verification and reset
 * tokens) is 256 random bits, base64url-encoded, and only its SHA-256 hash is stored — the
 * approach of "The Copenhagen Book" (sessions) and OWASP's Session Management Cheat Sheet: a
 * database leak reveals no usable token, and a high-entropy secret needs no slow hash.
 */
import { createHash, hash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Number of random bytes in every issued secret (256 bits; the baseline asks for >= 128). */
export const TOKEN_BYTES = 32;

/** A new random secret: 43 base64url characters (256 bits). */
export function generateToken(bytes: number = TOKEN_BYTES): string {
  return randomBytes(bytes).toString('base64url');
}

/** SHA-256 of `token` as 64 lowercase hex characters: the only form a secret is stored in. */
export function hashToken(token: string): string {
  // One-shot hash: about half the cost of createHash().update().digest() on this hot path.
  return hash('sha256', token, 'hex');
}

/**
 * Compares two strings in time independent of where they differ (length differences are
 * hashed away first so the comparison itself never short-circuits).
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

/** True when `token` has the shape of a secret we issued (bounded length, base64url alphabet). */
export function looksLikeToken(token: string): boolean {
  return token.length >= 20 && token.length <= 256 && /^[A-Za-z0-9_-]+$/.test(token);
}
