/**
 * The `mfa` configuration section: two-factor authentication (TOTP) and passkeys (WebAuthn).
 * Its variables are composed with the other sections into the one environment schema of
 * `config.ts` (the only reader of `process.env`), so an invalid value stops start-up with a
 * message naming the variable.
 */
import { z } from 'zod';

/** The `mfa` section of the configuration. */
export interface MfaSettings {
  /** Issuer shown by authenticator apps (`otpauth://totp/<issuer>:<email>?issuer=…`). Default `Gatehouse`. */
  issuer: string;
  /**
   * AES-256-GCM key (32 bytes) that encrypts TOTP secrets at rest, from MFA_ENCRYPTION_KEY
   * (64 hex characters or 43/44 base64 characters); null stores them unencrypted (`plain:`),
   * like the JWT signing keys.
   */
  encryptionKey: Buffer | null;
  /** Lifetime of an `mfa` challenge token, in seconds (MFA_CHALLENGE_TTL_SECONDS, default 300). */
  challengeTtlSeconds: number;
  /** Wrong codes one `mfa` token accepts before it is burnt (MFA_MAX_ATTEMPTS, default 5). */
  maxAttempts: number;
  /** WebAuthn relying party id: the host name of PUBLIC_URL (WebAuthn §5.1.2), unless WEBAUTHN_RP_ID overrides it. */
  rpId: string;
  /** Relying party name shown by the browser (WEBAUTHN_RP_NAME, default `Gatehouse`). */
  rpName: string;
  /** Origins a WebAuthn response may come from: PUBLIC_URL's origin. */
  origins: string[];
  /** Lifetime of a WebAuthn ceremony challenge, in seconds (the `timeout` given to the browser is the same). Default 300. */
  ceremonyTtlSeconds: number;
}

const secondsWithin = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

/** The section's environment variables (merged into `config.ts`'s schema). */
export const mfaEnvShape = {
  MFA_ISSUER: z.string().min(1).max(100).default('Gatehouse'),
  MFA_ENCRYPTION_KEY: z
    .string()
    .refine((v) => decodeKey(v) !== null, 'must be 32 bytes as 64 hex characters or base64')
    .optional(),
  MFA_CHALLENGE_TTL_SECONDS: secondsWithin(30, 3600).default(300),
  MFA_MAX_ATTEMPTS: secondsWithin(1, 100).default(5),
  WEBAUTHN_RP_ID: z.string().min(1).max(253).optional(),
  WEBAUTHN_RP_NAME: z.string().min(1).max(100).default('Gatehouse'),
};

function decodeKey(value: string): Buffer | null {
  if (/^[0-9a-f]{64}$/i.test(value)) return Buffer.from(value, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(value)) {
    const bytes = Buffer.from(value, value.includes('-') || value.includes('_') ? 'base64url' : 'base64');
    return bytes.length === 32 ? bytes : null;
  }
  return null;
}

/**
 * Builds the section from the parsed variables and PUBLIC_URL.
 * @param e the parsed environment (only this section's keys are read).
 * @param publicUrl PUBLIC_URL, the source of the WebAuthn RP id and origin.
 * @param frontendUrl FRONTEND_URL or null: its origin may run ceremonies too (the RP id must then
 *   be a registrable suffix of both hosts: set WEBAUTHN_RP_ID, e.g. `example.org`).
 */
export function mfaSettings(
  e: z.infer<z.ZodObject<typeof mfaEnvShape>>,
  publicUrl: URL,
  frontendUrl: URL | null = null,
): MfaSettings {
  return {
    issuer: e.MFA_ISSUER,
    encryptionKey: e.MFA_ENCRYPTION_KEY ? decodeKey(e.MFA_ENCRYPTION_KEY) : null,
    challengeTtlSeconds: e.MFA_CHALLENGE_TTL_SECONDS,
    maxAttempts: e.MFA_MAX_ATTEMPTS,
    rpId: e.WEBAUTHN_RP_ID ?? publicUrl.hostname,
    rpName: e.WEBAUTHN_RP_NAME,
    origins: [...new Set([publicUrl.origin, ...(frontendUrl ? [frontendUrl.origin] : [])])],
    ceremonyTtlSeconds: 300,
  };
}
