/** The `limits` and `quota` configuration sections: rate limits, login throttling and API quotas (src/limits/). */
import { z } from 'zod';
import { nonNegativeInt, type ParsedShape, positiveInt } from './schema.js';

/** The `limits` section of the configuration. */
export interface LimitsConfig {
  /** `redis://…` for limiters shared by all instances; null = in-memory (one instance). */
  redisUrl: string | null;
  /** Requests per minute per client IP for unauthenticated requests. */
  ipPerMinute: number;
  /** Requests per minute per signed-in user. */
  userPerMinute: number;
  /** Registrations per client IP per hour (429 beyond); each address gets at most 3 registration emails per hour besides. Default 20. */
  registerPerIpPerHour: number;
  /** Consecutive failed logins per (email, IP) before lockouts start. */
  loginMaxConsecutiveFailures: number;
  /** First lockout in seconds; each further failure doubles it (capped at one day). */
  loginLockoutBaseSeconds: number;
  /** Failed logins per IP per day before that IP is blocked for the rest of the day. */
  loginMaxFailuresPerIpPerDay: number;
}

/** The `quota` section of the configuration. */
export interface QuotaConfig {
  /** Default API calls per user per hour / per day (groups may raise them); 0 = unlimited. */
  perHour: number;
  perDay: number;
  /** What happens past the quota: `block` (429 until the window resets) or `slow` (responses delayed). */
  policy: 'block' | 'slow';
  /** Delay added to each response while a user is slowed, in milliseconds. */
  slowDelayMs: number;
  /** How long a user stays slowed after exceeding, in seconds. */
  slowPeriodSeconds: number;
  /** Exceedances within a day that trigger an automatic ban; 0 = never. */
  autoBanAfter: number;
  /** Length of an automatic ban in seconds. */
  autoBanSeconds: number;
}

/** The `limits` section's environment variables. */
export const limitsEnvShape = {
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
    .optional(),
  RATE_LIMIT_IP_PER_MINUTE: positiveInt().default(300),
  RATE_LIMIT_USER_PER_MINUTE: positiveInt().default(1200),
  RATE_LIMIT_REGISTER_PER_IP_PER_HOUR: positiveInt().default(20),
  LOGIN_MAX_CONSECUTIVE_FAILURES: positiveInt(1000).default(5),
  LOGIN_LOCKOUT_BASE_SECONDS: positiveInt(86_400).default(60),
  LOGIN_MAX_FAILURES_PER_IP_PER_DAY: positiveInt().default(100),
};

/** The `quota` section's environment variables. */
export const quotaEnvShape = {
  QUOTA_PER_HOUR: nonNegativeInt().default(0),
  QUOTA_PER_DAY: nonNegativeInt().default(0),
  QUOTA_POLICY: z.enum(['block', 'slow'], { message: 'must be block or slow' }).default('block'),
  QUOTA_SLOW_DELAY_MS: nonNegativeInt(60_000).default(2000),
  QUOTA_SLOW_PERIOD_SECONDS: positiveInt().default(3600),
  QUOTA_AUTOBAN_AFTER: nonNegativeInt(1000).default(3),
  QUOTA_AUTOBAN_SECONDS: positiveInt().default(86_400),
};

/** Builds the `limits` section from the parsed variables. */
export function limitsSettings(e: ParsedShape<typeof limitsEnvShape>): LimitsConfig {
  return {
    redisUrl: e.REDIS_URL ?? null,
    ipPerMinute: e.RATE_LIMIT_IP_PER_MINUTE,
    userPerMinute: e.RATE_LIMIT_USER_PER_MINUTE,
    registerPerIpPerHour: e.RATE_LIMIT_REGISTER_PER_IP_PER_HOUR,
    loginMaxConsecutiveFailures: e.LOGIN_MAX_CONSECUTIVE_FAILURES,
    loginLockoutBaseSeconds: e.LOGIN_LOCKOUT_BASE_SECONDS,
    loginMaxFailuresPerIpPerDay: e.LOGIN_MAX_FAILURES_PER_IP_PER_DAY,
  };
}

/** Builds the `quota` section from the parsed variables. */
export function quotaSettings(e: ParsedShape<typeof quotaEnvShape>): QuotaConfig {
  return {
    perHour: e.QUOTA_PER_HOUR,
    perDay: e.QUOTA_PER_DAY,
    policy: e.QUOTA_POLICY,
    slowDelayMs: e.QUOTA_SLOW_DELAY_MS,
    slowPeriodSeconds: e.QUOTA_SLOW_PERIOD_SECONDS,
    autoBanAfter: e.QUOTA_AUTOBAN_AFTER,
    autoBanSeconds: e.QUOTA_AUTOBAN_SECONDS,
  };
}
