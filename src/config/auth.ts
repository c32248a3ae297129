/**
 * The `auth` configuration section: sessions, tokens, passwords (src/auth/, src/sessions/,
 * src/tokens/), API key lifetimes, public profiles and the groups file (src/accounts/, src/access/).
 */
import path from 'node:path';
import { z } from 'zod';
import { booleanString, nonNegativeInt, type ParsedShape, positiveInt } from './schema.js';

/** The `auth` section of the configuration. */
export interface AuthConfig {
  /** When true (default), new accounts must confirm their email before logging in. */
  requireEmailVerification: boolean;
  /** Browser/API session lifetime in seconds, renewed (sliding) on use. Default 30 days. */
  sessionTtlSeconds: number;
  /** Access JWT lifetime in seconds. Default 900 (15 minutes). */
  accessTokenTtlSeconds: number;
  /** Email verification token lifetime in seconds. Default 86 400 (24 hours). */
  verifyTokenTtlSeconds: number;
  /** Password reset token lifetime in seconds. Default 3 600 (1 hour). */
  resetTokenTtlSeconds: number;
  /** Name of the session cookie. */
  cookieName: string;
  /** Whether the session cookie carries the `Secure` flag (true when `PUBLIC_URL` is https). */
  cookieSecure: boolean;
  /** Minimum zxcvbn score (0..4) a new password must reach. Default 3. */
  passwordMinScore: number;
  /** argon2id parameters (OWASP Password Storage Cheat Sheet: m=19 MiB, t=2, p=1). */
  argon2: {
    memoryKib: number;
    iterations: number;
    parallelism: number;
    /** Niceness added to the hashing threads (0..19, Linux; 0 = the process's priority). */
    threadNice: number;
  };
  /** Longest API key lifetime for users whose groups set none; 0 = non-expiring keys allowed. */
  apiKeyMaxTtlSeconds: number;
  /** Profile keys that `GET /users/{id}/public` reveals. */
  publicProfileFields: string[];
  /** Optional JSON file of groups to create/update at start. */
  groupsFile: string | null;
}

/** The section's sessions, tokens and password variables. */
export const authEnvShape = {
  AUTH_REQUIRE_EMAIL_VERIFICATION: booleanString.default(true),
  AUTH_SESSION_TTL_SECONDS: positiveInt().default(30 * 24 * 3600),
  AUTH_ACCESS_TOKEN_TTL_SECONDS: positiveInt(24 * 3600).default(900),
  AUTH_VERIFY_TOKEN_TTL_SECONDS: positiveInt().default(24 * 3600),
  AUTH_RESET_TOKEN_TTL_SECONDS: positiveInt().default(3600),
  AUTH_COOKIE_NAME: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'may contain only letters, digits, _ and -')
    .default('gh_session'),
  AUTH_PASSWORD_MIN_SCORE: z
    .string()
    .regex(/^[0-4]$/, 'must be an integer from 0 to 4')
    .transform(Number)
    .default(3),
  ARGON2_MEMORY_KIB: positiveInt(4 * 1024 * 1024).default(19_456),
  ARGON2_ITERATIONS: positiveInt(100).default(2),
  ARGON2_PARALLELISM: positiveInt(16).default(1),
  ARGON2_THREAD_NICE: nonNegativeInt(19).default(0),
};

/**
 * The section's account variables: API keys, public profiles, groups. A shape of its own because
 * `gatehouse config show` has always listed them after the notification variables.
 */
export const authAccountsEnvShape = {
  API_KEY_MAX_TTL_SECONDS: nonNegativeInt().default(0),
  PUBLIC_PROFILE_FIELDS: z
    .string()
    .regex(/^[A-Za-z0-9_,-]*$/, 'must be a comma-separated list of profile keys')
    .default('avatar'),
  GROUPS_FILE: z.string().min(1).optional(),
};

/**
 * Builds the section from the parsed variables.
 * @param publicUrl PUBLIC_URL: an https URL makes the session cookie `Secure`.
 */
export function authSettings(e: ParsedShape<typeof authEnvShape & typeof authAccountsEnvShape>, publicUrl: URL): AuthConfig {
  return {
    requireEmailVerification: e.AUTH_REQUIRE_EMAIL_VERIFICATION,
    sessionTtlSeconds: e.AUTH_SESSION_TTL_SECONDS,
    accessTokenTtlSeconds: e.AUTH_ACCESS_TOKEN_TTL_SECONDS,
    verifyTokenTtlSeconds: e.AUTH_VERIFY_TOKEN_TTL_SECONDS,
    resetTokenTtlSeconds: e.AUTH_RESET_TOKEN_TTL_SECONDS,
    cookieName: e.AUTH_COOKIE_NAME,
    cookieSecure: publicUrl.protocol === 'https:',
    passwordMinScore: e.AUTH_PASSWORD_MIN_SCORE,
    argon2: {
      memoryKib: e.ARGON2_MEMORY_KIB,
      iterations: e.ARGON2_ITERATIONS,
      parallelism: e.ARGON2_PARALLELISM,
      threadNice: e.ARGON2_THREAD_NICE,
    },
    apiKeyMaxTtlSeconds: e.API_KEY_MAX_TTL_SECONDS,
    publicProfileFields: e.PUBLIC_PROFILE_FIELDS.split(',').map((f) => f.trim()).filter(Boolean),
    groupsFile: e.GROUPS_FILE ? path.resolve(e.GROUPS_FILE) : null,
  };
}
