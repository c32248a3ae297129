/**
 * TOTP (RFC 6238) on top of the `otpauth` library, and the storage forms of the secrets around
 * it. Pure functions: the time comes from the caller (the injected clock).
 *
 * Parameters are the ones every authenticator app understands: HMAC-SHA-1, 6 digits, 30-second
 * steps (RFC 6238 §4, Google Authenticator's key URI format). A code is accepted for the current
 * step and one step either side (RFC 6238 §5.2 allows such a window for clock drift).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import { hashToken } from '../crypto/tokens.js';

/** Seconds per TOTP time step. */
export const TOTP_PERIOD_SECONDS = 30;
/** Digits per code. */
export const TOTP_DIGITS = 6;
/** Steps accepted either side of the current one. */
export const TOTP_WINDOW = 1;
/** Recovery codes issued at enrolment (and on regeneration). */
export const RECOVERY_CODE_COUNT = 10;

function totpFor(secretBase32: string, issuer = '', label = ''): TOTP {
  return new TOTP({
    issuer,
    label,
    algorithm: 'SHA1',
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
    secret: Secret.fromBase32(secretBase32),
  });
}

/** A new random TOTP secret: 160 bits (RFC 4226 §4 recommends 160), base32 without padding. */
export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

/** The `otpauth://totp/…` key URI for authenticator apps (issuer and account name in the label). */
export function totpUri(secretBase32: string, issuer: string, accountName: string): string {
  return totpFor(secretBase32, issuer, accountName).toString();
}

/** The code for `at` (tests and tools; the server only verifies). */
export function totpCode(secretBase32: string, at: Date): string {
  return totpFor(secretBase32).generate({ timestamp: at.getTime() });
}

/**
 * Checks a 6-digit code against the secret at time `at`, within ±{@link TOTP_WINDOW} steps.
 * @returns the time step the code belongs to (for replay refusal), or null when it matches none.
 */
export function matchTotpStep(secretBase32: string, code: string, at: Date): number | null {
  if (!/^\d{6}$/.test(code)) return null;
  const delta = totpFor(secretBase32).validate({ token: code, timestamp: at.getTime(), window: TOTP_WINDOW });
  if (delta === null) return null;
  return Math.floor(at.getTime() / 1000 / TOTP_PERIOD_SECONDS) + delta;
}

const RECOVERY_ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789';

/**
 * A new recovery code: 16 characters from a 32-letter alphabet without look-alikes (80 bits),
 * shown in groups of four (`abcd-efgh-jkmn-pqrs`). High entropy, so a SHA-256 hash is enough to
 * store it (like every other bearer secret here).
 */
export function newRecoveryCode(): string {
  const bytes = randomBytes(16);
  let out = '';
  for (let i = 0; i < 16; i++) {
    out += RECOVERY_ALPHABET[(bytes[i] as number) & 31];
    if (i % 4 === 3 && i < 15) out += '-';
  }
  return out;
}

/** The storage form of a recovery code: SHA-256 of its normalised form (lower case, no dashes or spaces). */
export function hashRecoveryCode(code: string): string {
  return hashToken(code.toLowerCase().replace(/[\s-]/g, ''));
}

/**
 * Encrypts a TOTP secret for storage: `v1:<iv>:<tag>:<ciphertext>` (AES-256-GCM, base64url parts)
 * with `key`, or `plain:<secret>` without a key.
 */
export function sealSecret(secret: string, key: Buffer | null): string {
  if (!key) return `plain:${secret}`;
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const ciphertext = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return `v1:${iv.toString('base64url')}:${cipher.getAuthTag().toString('base64url')}:${ciphertext.toString('base64url')}`;
}

/**
 * Recovers a secret stored by {@link sealSecret}.
 * @throws Error when it was encrypted and `key` is missing or different (MFA_ENCRYPTION_KEY changed).
 */
export function openSecret(stored: string, key: Buffer | null): string {
  if (stored.startsWith('plain:')) return stored.slice('plain:'.length);
  const [version, iv, tag, ciphertext] = stored.split(':');
  if (version !== 'v1' || !iv || !tag || !ciphertext) throw new Error('unknown TOTP secret format');
  if (!key) throw new Error('TOTP secrets are encrypted but MFA_ENCRYPTION_KEY is not set');
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
}
