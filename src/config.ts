/**
 * Typed settings, read once from environment variables (and an optional `.env` file).
 *
 * This module is the only reader of `process.env` in Gatehouse. Every variable is documented in
 * the README's configuration table with its default. Validation failures throw a
 * {@link ConfigError} whose message names each offending variable.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Cron } from 'croner';
import { parse as parseDotenv } from 'dotenv';
import { z } from 'zod';
import { type IdentitiesConfig, identitiesConfig, isIdentityVariable } from './identities/identities.config.js';
import { mfaEnvShape, type MfaSettings, mfaSettings } from './mfa/mfa.config.js';

/** Which database engine a `DATABASE_URL` selects. */
export type DatabaseDialect = 'sqlite' | 'postgres';

/** The scheduler's built-in tasks; each has a `SCHEDULE_<NAME>` variable (dashes become underscores). */
export const SCHEDULED_TASK_NAMES = [
  'purge-sessions',
  'purge-tokens',
  'lift-bans',
  'prune-audit',
  'retry-outbox',
  'admin-digest',
  'backup',
  'prune-jobs',
] as const;

/** Name of a built-in scheduler task, e.g. `purge-sessions`. */
export type ScheduledTaskName = (typeof SCHEDULED_TASK_NAMES)[number];

/** The complete, validated configuration of one Gatehouse process. */
export interface Config {
  server: {
    /** TCP port to listen on. Default 3000. */
    port: number;
    /** Interface to bind. Default `127.0.0.1`. */
    host: string;
    /** The externally visible base URL, without trailing slash; used in emailed links, CSRF checks and cookies. */
    publicUrl: string;
    /** Origin (scheme://host[:port]) of `publicUrl`; unsafe cookie-authenticated requests must come from it. */
    publicOrigin: string;
    /** Link to the project's website, shown on the index page; `null` hides the link. */
    siteUrl: string | null;
    /** Fastify `trustProxy` value: `false`, `true`, a hop count or a comma-separated list of addresses/CIDRs. */
    trustProxy: boolean | number | string;
    /** Maximum request body size in bytes for JSON and form bodies. */
    bodyLimitBytes: number;
    /**
     * Seconds a client has to send a whole request, headers and body (Fastify `requestTimeout`);
     * the connection is answered `408` and closed beyond. Responses are not bounded by it (SSE,
     * WebSocket, long-poll claims, downloads). Default 3600, so a `FILE_MAX_BYTES` upload fits.
     */
    requestTimeoutSeconds: number;
    /**
     * Seconds a connection may stay idle, nothing read or written (Fastify `connectionTimeout`),
     * before it is closed: a stalled request (slowloris) ends here. Greater than
     * `JOB_MAX_WAIT_SECONDS` and `REALTIME_KEEPALIVE_SECONDS`. Default 60.
     */
    connectionTimeoutSeconds: number;
    /** pino log level. */
    logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  };
  /** Directory for the SQLite file, the mail drop and other local state. Absolute path. */
  dataDir: string;
  /**
   * The variables this configuration was read from (environment over `.env`), for feature modules'
   * own config sections (src/modules/registry.ts). Read only through a module's schema.
   */
  env: Readonly<Record<string, string | undefined>>;
  database: {
    dialect: DatabaseDialect;
    /** For SQLite an absolute file path (or `:memory:`); for PostgreSQL the connection string. */
    url: string;
    /** Maximum PostgreSQL pool size. */
    poolSize: number;
    /** PostgreSQL: run repeated parameterised queries as named prepared statements (src/db/pg-prepared.ts). */
    preparedStatements: boolean;
  };
  auth: {
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
    argon2: { memoryKib: number; iterations: number; parallelism: number };
    /** Longest API key lifetime for users whose groups set none; 0 = non-expiring keys allowed. */
    apiKeyMaxTtlSeconds: number;
    /** Profile keys that `GET /users/{id}/public` reveals. */
    publicProfileFields: string[];
    /** Optional JSON file of groups to create/update at start. */
    groupsFile: string | null;
  };
  limits: {
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
  };
  quota: {
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
  };
  mail: {
    /** `smtp://` or `smtps://` URL; `null` writes each email as an .eml file under `DATA_DIR/mail`. */
    smtpUrl: string | null;
    /** Sender address, e.g. `Gatehouse <no-reply@example.com>`. */
    from: string;
    /** Attempts before an outbox message is marked dead. */
    maxAttempts: number;
    /** Seconds between outbox polls when nothing wakes the dispatcher sooner. */
    pollSeconds: number;
  };
  /** Notification channels (see `src/notify/`). Each channel is on when configured, unless its NOTIFY_*_ENABLED is false. */
  notify: {
    /** Email notifications (SMTP, or .eml files without SMTP_URL). Default true. */
    emailEnabled: boolean;
    /** Mattermost/Slack incoming webhook URL (a credential: never logged); null = channel off. */
    mattermostWebhookUrl: string | null;
    /** Generic webhook URL; null = channel off. */
    webhookUrl: string | null;
    /** Key of the webhook's HMAC-SHA256 signature; set whenever `webhookUrl` is. */
    webhookSecret: string | null;
    /** Addresses that always receive admin notifications by email. */
    adminEmails: string[];
    /** Directory of template overrides (`<template>.eta`); null = built-in templates only. Absolute path. */
    templatesDir: string | null;
  };
  scheduler: {
    /**
     * Cron expression (5 fields: minute hour day-of-month month day-of-week, evaluated in UTC)
     * per task, or null when the task's `SCHEDULE_<NAME>` is `off`.
     */
    schedules: Record<ScheduledTaskName, string | null>;
    /** Days audit-log entries are kept by `prune-audit`; 0 = forever. Default 365. */
    auditRetentionDays: number;
    /** Days login attempts are kept by `prune-audit`; 0 = forever. Default 90. */
    loginAttemptRetentionDays: number;
    /** How many backups `backup` keeps in `DATA_DIR/backups` (older ones are deleted). Default 7. */
    backupRetention: number;
  };
  jobs: {
    /** Largest job payload (serialised JSON), in bytes. Default 65536. Results and metrics share the limit. */
    payloadMaxBytes: number;
    /** Seconds between lease sweeps (on every instance). Default 5. */
    sweepSeconds: number;
    /** Longest long-poll wait a claim may ask for, in seconds. Default 30. */
    maxWaitSeconds: number;
    /** Long-poll claims one worker API key may have waiting at once on this instance; more are 429. Default 8. */
    maxWaitingClaimsPerKey: number;
    /** Days finished jobs (and their events) are kept by `prune-jobs`; 0 = forever. Default 30. */
    retentionDays: number;
    /**
     * Built-in workers the server runs in worker threads (`BUILTIN_WORKERS`): `all` (default), or
     * the names to run; an empty list (`none`) runs none, for deployments whose remote workers do the work.
     */
    builtinWorkers: 'all' | string[];
    /** Worker threads per built-in worker (`BUILTIN_WORKER_THREADS`). Default 1. */
    builtinWorkerThreads: number;
  };
  files: {
    /** Where the file storage keeps bytes. Default `DATA_DIR/files`. */
    dir: string;
    /** Largest upload, in bytes. Default 512 MiB. */
    maxBytes: number;
    /** Bytes of stored files a user may own unless a group grants more; 0 = unlimited. Default 1 GiB. */
    storageQuotaBytes: number;
  };
  /** Social sign-in: the enabled providers and the allowed `redirect` origins (src/identities/identities.config.ts). */
  identities: IdentitiesConfig;
  realtime: {
    /** Seconds between keep-alive comments on SSE streams and pings on WebSockets. Default 15. */
    keepAliveSeconds: number;
    /** Topics one stream or socket may subscribe to. Default 100. */
    maxTopics: number;
    /** Open SSE streams plus WebSockets one user may hold on this instance; more are 429. Default 20. */
    maxConnectionsPerUser: number;
  };
  /** Two-factor authentication and passkeys (src/mfa/mfa.config.ts). */
  mfa: MfaSettings;
}

/** Thrown when one or more variables are invalid; `message` lists every problem, one per line. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export const booleanString = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'], {
    message: 'must be true or false',
  })
  .transform((v) => ['true', '1', 'yes', 'on'].includes(v));

const positiveInt = (max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(1, 'must be at least 1').max(max, `must be at most ${max}`));

const nonNegativeInt = (max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(0).max(max, `must be at most ${max}`));

const httpUrl = z
  .string()
  .url('must be an absolute URL')
  .refine((u) => /^https?:\/\//.test(u), 'must start with http:// or https://')
  .transform((u) => u.replace(/\/+$/, ''));

/** A 5-field cron expression (validated by croner) or `off`. */
const cronOrOff = z.string().refine((value) => {
  if (value === 'off') return true;
  try {
    new Cron(value, { mode: '5-part', timezone: 'UTC' });
    return true;
  } catch {
    return false;
  }
}, 'must be a cron expression with 5 fields (minute hour day month weekday, UTC) or "off"');

/** The raw environment schema; keys are the exact variable names the README documents. */
const envSchema = z.object({
  PORT: z
    .string()
    .regex(/^\d+$/, 'must be a port number')
    .transform(Number)
    .pipe(z.number().int().min(0).max(65535, 'must be at most 65535'))
    .default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  // Unset: http://localhost:PORT (3000 when PORT is 0, an ephemeral port no link can name).
  PUBLIC_URL: httpUrl.optional(),
  SITE_URL: httpUrl.optional(),
  TRUST_PROXY: z.string().default('false'),
  BODY_LIMIT_BYTES: positiveInt(64 * 1024 * 1024).default(262_144),
  REQUEST_TIMEOUT_SECONDS: positiveInt(7 * 86_400).default(3600),
  CONNECTION_TIMEOUT_SECONDS: positiveInt(86_400).default(60),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: z.string().min(1).optional(),
  DATABASE_POOL_SIZE: positiveInt(1000).default(10),
  DATABASE_PREPARED_STATEMENTS: booleanString.default(true),
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
  SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\//, 'must start with smtp:// or smtps://')
    .optional(),
  MAIL_FROM: z.string().min(3).default('Gatehouse <no-reply@localhost>'),
  MAIL_MAX_ATTEMPTS: positiveInt(100).default(12),
  MAIL_POLL_SECONDS: positiveInt(3600).default(5),
  JOB_PAYLOAD_MAX_BYTES: positiveInt(16 * 1024 * 1024).default(65_536),
  JOB_SWEEP_SECONDS: positiveInt(3600).default(5),
  JOB_MAX_WAIT_SECONDS: positiveInt(30).default(30),
  JOB_MAX_WAITING_CLAIMS_PER_KEY: positiveInt(100_000).default(8),
  JOB_RETENTION_DAYS: nonNegativeInt(36_500).default(30),
  BUILTIN_WORKERS: z
    .string()
    .regex(/^\s*(all|none|[a-z][a-z0-9-]*(\s*,\s*[a-z][a-z0-9-]*)*)\s*$/, 'must be all, none, or a comma-separated list of built-in worker names')
    .default('all'),
  BUILTIN_WORKER_THREADS: positiveInt(64).default(1),
  FILES_DIR: z.string().min(1).optional(),
  FILE_MAX_BYTES: positiveInt().default(512 * 1024 * 1024),
  STORAGE_QUOTA_BYTES: nonNegativeInt().default(1024 * 1024 * 1024),
  REALTIME_KEEPALIVE_SECONDS: positiveInt(3600).default(15),
  REALTIME_MAX_TOPICS: positiveInt(10_000).default(100),
  REALTIME_MAX_CONNECTIONS_PER_USER: positiveInt(100_000).default(20),
  NOTIFY_EMAIL_ENABLED: booleanString.default(true),
  MATTERMOST_WEBHOOK_URL: z.string().url('must be an absolute URL').refine((u) => /^https?:\/\//.test(u), 'must start with http:// or https://').optional(),
  NOTIFY_MATTERMOST_ENABLED: booleanString.optional(),
  WEBHOOK_URL: z.string().url('must be an absolute URL').refine((u) => /^https?:\/\//.test(u), 'must start with http:// or https://').optional(),
  WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  NOTIFY_WEBHOOK_ENABLED: booleanString.optional(),
  ADMIN_EMAILS: z
    .string()
    .regex(/^\s*[^\s,@]+@[^\s,@]+(\s*,\s*[^\s,@]+@[^\s,@]+)*\s*,?\s*$/, 'must be a comma-separated list of email addresses')
    .optional(),
  TEMPLATES_DIR: z.string().min(1).optional(),
  API_KEY_MAX_TTL_SECONDS: nonNegativeInt().default(0),
  PUBLIC_PROFILE_FIELDS: z
    .string()
    .regex(/^[A-Za-z0-9_,-]*$/, 'must be a comma-separated list of profile keys')
    .default('avatar'),
  GROUPS_FILE: z.string().min(1).optional(),
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
  QUOTA_PER_HOUR: nonNegativeInt().default(0),
  QUOTA_PER_DAY: nonNegativeInt().default(0),
  QUOTA_POLICY: z.enum(['block', 'slow'], { message: 'must be block or slow' }).default('block'),
  QUOTA_SLOW_DELAY_MS: nonNegativeInt(60_000).default(2000),
  QUOTA_SLOW_PERIOD_SECONDS: positiveInt().default(3600),
  QUOTA_AUTOBAN_AFTER: nonNegativeInt(1000).default(3),
  QUOTA_AUTOBAN_SECONDS: positiveInt().default(86_400),
  SCHEDULE_PURGE_SESSIONS: cronOrOff.default('7 * * * *'),
  SCHEDULE_PURGE_TOKENS: cronOrOff.default('12 * * * *'),
  SCHEDULE_LIFT_BANS: cronOrOff.default('*/5 * * * *'),
  SCHEDULE_PRUNE_AUDIT: cronOrOff.default('23 3 * * *'),
  SCHEDULE_PRUNE_JOBS: cronOrOff.default('41 3 * * *'),
  SCHEDULE_RETRY_OUTBOX: cronOrOff.default('* * * * *'),
  SCHEDULE_ADMIN_DIGEST: cronOrOff.default('0 8 * * *'),
  SCHEDULE_BACKUP: cronOrOff.default('30 2 * * *'),
  AUDIT_RETENTION_DAYS: nonNegativeInt(100_000).default(365),
  LOGIN_ATTEMPT_RETENTION_DAYS: nonNegativeInt(100_000).default(90),
  BACKUP_RETENTION: positiveInt(10_000).default(7),
  ...mfaEnvShape,
});

type RawEnv = Record<string, string | undefined>;

/**
 * Reads a `.env` file if it exists. Variables already present in `env` win over the file.
 *
 * @param file path to the file (default `.env` in the working directory, or `ENV_FILE`).
 * @returns a new environment object; the input is not modified.
 */
export function withDotenv(env: RawEnv, file = env.ENV_FILE ?? '.env'): RawEnv {
  if (!existsSync(file)) return { ...env };
  const fromFile = parseDotenv(readFileSync(file));
  return { ...fromFile, ...env };
}

/** The dotenv file Gatehouse reads: `ENV_FILE`, or `.env` in the working directory. Absolute path. */
export function envFilePath(env: RawEnv = process.env): string {
  return path.resolve(env.ENV_FILE ?? '.env');
}

function parseTrustProxy(value: string): boolean | number | string {
  if (value === 'true') return true;
  if (value === 'false' || value === '') return false;
  if (/^\d+$/.test(value)) return Number(value);
  return value;
}

/**
 * Resolves `DATABASE_URL` into a dialect and a connection target.
 * `sqlite:relative/or/absolute.db`, `sqlite::memory:`, `file:…` and bare paths select SQLite;
 * `postgres://` and `postgresql://` select PostgreSQL.
 */
function resolveDatabase(url: string | undefined, dataDir: string): { dialect: DatabaseDialect; url: string } {
  if (!url) return { dialect: 'sqlite', url: path.join(dataDir, 'gatehouse.db') };
  if (/^postgres(ql)?:\/\//.test(url)) return { dialect: 'postgres', url };
  const stripped = url.replace(/^(sqlite|file):(\/\/)?/, '');
  if (stripped === ':memory:') return { dialect: 'sqlite', url: ':memory:' };
  return { dialect: 'sqlite', url: path.resolve(stripped) };
}

/**
 * The `notify` section. A channel variable set to true without its URL, or WEBHOOK_URL without
 * WEBHOOK_SECRET (unsigned webhooks could be forged), is an error.
 * @throws ConfigError naming the missing variables.
 */
function notifyConfig(e: z.infer<typeof envSchema>): Config['notify'] {
  const problems: string[] = [];
  if (e.NOTIFY_MATTERMOST_ENABLED === true && !e.MATTERMOST_WEBHOOK_URL) {
    problems.push('MATTERMOST_WEBHOOK_URL: required when NOTIFY_MATTERMOST_ENABLED is true');
  }
  if (e.NOTIFY_WEBHOOK_ENABLED === true && !e.WEBHOOK_URL) problems.push('WEBHOOK_URL: required when NOTIFY_WEBHOOK_ENABLED is true');
  if (e.WEBHOOK_URL && !e.WEBHOOK_SECRET) problems.push('WEBHOOK_SECRET: required when WEBHOOK_URL is set');
  if (problems.length) throw new ConfigError(problems);
  const mattermostOn = e.NOTIFY_MATTERMOST_ENABLED ?? true;
  const webhookOn = e.NOTIFY_WEBHOOK_ENABLED ?? true;
  return {
    emailEnabled: e.NOTIFY_EMAIL_ENABLED,
    mattermostWebhookUrl: mattermostOn ? (e.MATTERMOST_WEBHOOK_URL ?? null) : null,
    webhookUrl: webhookOn ? (e.WEBHOOK_URL ?? null) : null,
    webhookSecret: webhookOn ? (e.WEBHOOK_SECRET ?? null) : null,
    adminEmails: (e.ADMIN_EMAILS ?? '').split(',').map((a) => a.trim()).filter(Boolean),
    templatesDir: e.TEMPLATES_DIR ? path.resolve(e.TEMPLATES_DIR) : null,
  };
}

/**
 * An idle connection is cut after CONNECTION_TIMEOUT_SECONDS, so it must outlast the longest
 * silence a healthy connection has: a long-poll claim's wait and the gap between keep-alives.
 * @throws ConfigError naming CONNECTION_TIMEOUT_SECONDS.
 */
function checkTimeouts(e: z.infer<typeof envSchema>): void {
  const problems: string[] = [];
  if (e.CONNECTION_TIMEOUT_SECONDS <= e.JOB_MAX_WAIT_SECONDS) {
    problems.push(`CONNECTION_TIMEOUT_SECONDS: must be greater than JOB_MAX_WAIT_SECONDS (${e.JOB_MAX_WAIT_SECONDS}), or long-poll claims are cut off`);
  }
  if (e.CONNECTION_TIMEOUT_SECONDS <= e.REALTIME_KEEPALIVE_SECONDS) {
    problems.push(
      `CONNECTION_TIMEOUT_SECONDS: must be greater than REALTIME_KEEPALIVE_SECONDS (${e.REALTIME_KEEPALIVE_SECONDS}), or quiet event streams are cut off`,
    );
  }
  if (problems.length) throw new ConfigError(problems);
}

/**
 * Validates an environment into a {@link Config}.
 *
 * @param env variables to read; defaults to `process.env` merged with `.env`.
 * @throws ConfigError naming every invalid variable.
 */
export function loadConfig(env: RawEnv = withDotenv(process.env)): Config {
  const present: RawEnv = {};
  for (const key of Object.keys(envSchema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') present[key] = value;
  }
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const e = parsed.data;
  checkTimeouts(e);
  const dataDir = path.resolve(e.DATA_DIR);
  const publicUrlText = e.PUBLIC_URL ?? `http://localhost:${e.PORT === 0 ? 3000 : e.PORT}`;
  const publicUrl = new URL(publicUrlText);
  return {
    server: {
      port: e.PORT,
      host: e.HOST,
      publicUrl: publicUrlText,
      publicOrigin: publicUrl.origin,
      siteUrl: e.SITE_URL ?? null,
      trustProxy: parseTrustProxy(e.TRUST_PROXY),
      bodyLimitBytes: e.BODY_LIMIT_BYTES,
      requestTimeoutSeconds: e.REQUEST_TIMEOUT_SECONDS,
      connectionTimeoutSeconds: e.CONNECTION_TIMEOUT_SECONDS,
      logLevel: e.LOG_LEVEL,
    },
    dataDir,
    env: Object.freeze({ ...env }),
    database: { ...resolveDatabase(e.DATABASE_URL, dataDir), poolSize: e.DATABASE_POOL_SIZE, preparedStatements: e.DATABASE_PREPARED_STATEMENTS },
    auth: {
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
      },
      apiKeyMaxTtlSeconds: e.API_KEY_MAX_TTL_SECONDS,
      publicProfileFields: e.PUBLIC_PROFILE_FIELDS.split(',').map((f) => f.trim()).filter(Boolean),
      groupsFile: e.GROUPS_FILE ? path.resolve(e.GROUPS_FILE) : null,
    },
    limits: {
      redisUrl: e.REDIS_URL ?? null,
      ipPerMinute: e.RATE_LIMIT_IP_PER_MINUTE,
      userPerMinute: e.RATE_LIMIT_USER_PER_MINUTE,
      registerPerIpPerHour: e.RATE_LIMIT_REGISTER_PER_IP_PER_HOUR,
      loginMaxConsecutiveFailures: e.LOGIN_MAX_CONSECUTIVE_FAILURES,
      loginLockoutBaseSeconds: e.LOGIN_LOCKOUT_BASE_SECONDS,
      loginMaxFailuresPerIpPerDay: e.LOGIN_MAX_FAILURES_PER_IP_PER_DAY,
    },
    quota: {
      perHour: e.QUOTA_PER_HOUR,
      perDay: e.QUOTA_PER_DAY,
      policy: e.QUOTA_POLICY,
      slowDelayMs: e.QUOTA_SLOW_DELAY_MS,
      slowPeriodSeconds: e.QUOTA_SLOW_PERIOD_SECONDS,
      autoBanAfter: e.QUOTA_AUTOBAN_AFTER,
      autoBanSeconds: e.QUOTA_AUTOBAN_SECONDS,
    },
    mail: {
      smtpUrl: e.SMTP_URL ?? null,
      from: e.MAIL_FROM,
      maxAttempts: e.MAIL_MAX_ATTEMPTS,
      pollSeconds: e.MAIL_POLL_SECONDS,
    },
    notify: notifyConfig(e),
    scheduler: {
      schedules: {
        'purge-sessions': offToNull(e.SCHEDULE_PURGE_SESSIONS),
        'purge-tokens': offToNull(e.SCHEDULE_PURGE_TOKENS),
        'lift-bans': offToNull(e.SCHEDULE_LIFT_BANS),
        'prune-audit': offToNull(e.SCHEDULE_PRUNE_AUDIT),
        'prune-jobs': offToNull(e.SCHEDULE_PRUNE_JOBS),
        'retry-outbox': offToNull(e.SCHEDULE_RETRY_OUTBOX),
        'admin-digest': offToNull(e.SCHEDULE_ADMIN_DIGEST),
        backup: offToNull(e.SCHEDULE_BACKUP),
      },
      auditRetentionDays: e.AUDIT_RETENTION_DAYS,
      loginAttemptRetentionDays: e.LOGIN_ATTEMPT_RETENTION_DAYS,
      backupRetention: e.BACKUP_RETENTION,
    },
    jobs: {
      payloadMaxBytes: e.JOB_PAYLOAD_MAX_BYTES,
      sweepSeconds: e.JOB_SWEEP_SECONDS,
      maxWaitSeconds: e.JOB_MAX_WAIT_SECONDS,
      maxWaitingClaimsPerKey: e.JOB_MAX_WAITING_CLAIMS_PER_KEY,
      retentionDays: e.JOB_RETENTION_DAYS,
      builtinWorkers: e.BUILTIN_WORKERS.trim() === 'all' ? 'all' : e.BUILTIN_WORKERS.trim() === 'none' ? [] : e.BUILTIN_WORKERS.split(',').map((n) => n.trim()),
      builtinWorkerThreads: e.BUILTIN_WORKER_THREADS,
    },
    files: {
      dir: e.FILES_DIR ? path.resolve(e.FILES_DIR) : path.join(dataDir, 'files'),
      maxBytes: e.FILE_MAX_BYTES,
      storageQuotaBytes: e.STORAGE_QUOTA_BYTES,
    },
    identities: identitiesConfig(env),
    realtime: {
      keepAliveSeconds: e.REALTIME_KEEPALIVE_SECONDS,
      maxTopics: e.REALTIME_MAX_TOPICS,
      maxConnectionsPerUser: e.REALTIME_MAX_CONNECTIONS_PER_USER,
    },
    mfa: mfaSettings(e, publicUrl),
  };
}

function offToNull(schedule: string): string | null {
  return schedule === 'off' ? null : schedule.trim().replace(/\s+/g, ' ');
}

/** One setting as `gatehouse config show` prints it. */
export interface ConfigSetting {
  /** The environment variable. */
  name: string;
  /** The effective value, secrets masked (see {@link maskSecret}); `null` when unset and without default. */
  value: string | null;
  /** Where the value came from. */
  source: 'environment' | '.env' | 'default';
}

const SECRET_NAME = /(SECRET|PASSWORD|PASSWD|TOKEN|KEY|CREDENTIALS)$/
const SECRET_QUERY_PARAM = /pass|secret|token|key/i;

/**
 * Masks what must not be shown on a terminal: the whole value of a variable whose name says it
 * is a secret (`*_SECRET`, `*_PASSWORD`, `*_TOKEN`, `*_KEY`), the password of a URL
 * (`postgres://u:****@h/db`), every query value of a `*_URL` setting (signed URLs carry their
 * credential as `?sig=…`, `?X-Amz-Signature=…` or any other name; names stay visible) and
 * secret-looking query parameters of other URLs, and the path of `*_WEBHOOK_URL` values
 * (Mattermost and Slack webhook URLs are themselves the credential).
 */
export function maskSecret(name: string, value: string): string {
  if (value === '') return value;
  if (SECRET_NAME.test(name)) return '********';
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return value;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return value;
  }
  let masked = false;
  if (url.password) {
    url.password = '****';
    masked = true;
  }
  const maskEveryQueryValue = /_URL$/.test(name);
  for (const key of [...new Set(url.searchParams.keys())]) {
    if (maskEveryQueryValue || SECRET_QUERY_PARAM.test(key)) {
      url.searchParams.set(key, '****');
      masked = true;
    }
  }
  if (/WEBHOOK_URL$/.test(name) && url.pathname.length > 1) {
    url.pathname = '/****';
    masked = true;
  }
  return masked ? url.toString() : value;
}

/**
 * Every setting Gatehouse reads, with its effective value (defaults applied, secrets masked) and
 * its source. The environment wins over the `.env` file (see {@link withDotenv}).
 * @throws ConfigError when the configuration is invalid (as {@link loadConfig}).
 */
export function describeConfig(env: RawEnv = process.env): ConfigSetting[] {
  const merged = withDotenv(env);
  const config = loadConfig(merged);
  const parsed = envSchema.parse(
    Object.fromEntries(Object.keys(envSchema.shape).flatMap((k) => (merged[k] ? [[k, merged[k]]] : []))),
  ) as Record<string, unknown>;
  const settings = Object.keys(envSchema.shape).map((name): ConfigSetting => {
    const fromEnv = env[name] !== undefined && env[name] !== '';
    const source: ConfigSetting['source'] = fromEnv ? 'environment' : merged[name] ? '.env' : 'default';
    let effective = parsed[name];
    if (name === 'DATABASE_URL' && effective === undefined) effective = `sqlite:${config.database.url}`;
    if (name === 'DATA_DIR') effective = config.dataDir;
    const value = effective === undefined ? null : maskSecret(name, String(effective));
    return { name, value, source };
  });
  // Sign-in providers are named by their variables (OIDC_<NAME>_…): list the ones that are set.
  for (const name of Object.keys(merged).filter(isIdentityVariable).sort()) {
    const raw = merged[name];
    if (!raw) continue;
    settings.push({ name, value: maskSecret(name, raw), source: env[name] ? 'environment' : '.env' });
  }
  return settings;
}
