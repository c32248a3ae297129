/**
 * Typed settings, read once from environment variables (and an optional `.env` file).
 *
 * This module is the only reader of `process.env` in Gatehouse. Every variable is documented in
 * the README's configuration table with its default. Validation failures throw a
 * {@link ConfigError} whose message names each offending variable.
 *
 * Each section of {@link Config} declares its variables (a zod shape) and their mapping next to
 * each other: the platform's in src/config/<section>.ts, the features' own in their folders
 * (src/identities/identities.config.ts, src/mfa/mfa.config.ts). {@link loadConfig} composes them
 * into one schema, parses once (so every invalid variable is reported together), runs the
 * cross-section checks and builds each section.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { z } from 'zod';
import { type AuthConfig, authAccountsEnvShape, authEnvShape, authSettings } from './config/auth.js';
import { type DatabaseConfig, databaseEnvShape, databaseSettings, dataDirOf } from './config/database.js';
import { type FilesConfig, filesEnvShape, filesSettings } from './config/files.js';
import { type JobsConfig, jobsEnvShape, jobsSettings } from './config/jobs.js';
import { type LimitsConfig, limitsEnvShape, limitsSettings, type QuotaConfig, quotaEnvShape, quotaSettings } from './config/limits.js';
import { type MailConfig, mailEnvShape, mailSettings } from './config/mail.js';
import { type NotifyConfig, notifyEnvShape, notifySettings } from './config/notify.js';
import { type RealtimeConfig, realtimeEnvShape, realtimeSettings } from './config/realtime.js';
import { type SchedulerConfig, schedulerEnvShape, schedulerSettings } from './config/scheduler.js';
import { ConfigError, type RawEnv } from './config/schema.js';
import { frontendUrlOf, publicUrlOf, type ServerConfig, serverEnvShape, serverSettings } from './config/server.js';
import { type IdentitiesConfig, identitiesConfig, isIdentityVariable } from './identities/identities.config.js';
import { mfaEnvShape, type MfaSettings, mfaSettings } from './mfa/mfa.config.js';

export type { AuthConfig } from './config/auth.js';
export type { DatabaseConfig, DatabaseDialect } from './config/database.js';
export type { FilesConfig } from './config/files.js';
export type { JobsConfig } from './config/jobs.js';
export type { LimitsConfig, QuotaConfig } from './config/limits.js';
export type { MailConfig } from './config/mail.js';
export type { NotifyConfig } from './config/notify.js';
export type { RealtimeConfig } from './config/realtime.js';
export { SCHEDULED_TASK_NAMES, type SchedulerConfig, type ScheduledTaskName } from './config/scheduler.js';
export { booleanString, ConfigError } from './config/schema.js';
export type { ServerConfig } from './config/server.js';

/**
 * The complete, validated configuration of one Gatehouse process. Each section is declared, with
 * its variables and their mapping, in src/config/<section>.ts or in the feature that owns it.
 */
export interface Config {
  /** HTTP listener, public URL and logging (src/config/server.ts). */
  server: ServerConfig;
  /** Directory for the SQLite file, the mail drop and other local state. Absolute path. */
  dataDir: string;
  /**
   * The variables this configuration was read from (environment over `.env`), for feature modules'
   * own config sections (src/modules/registry.ts). Read only through a module's schema.
   */
  env: Readonly<Record<string, string | undefined>>;
  /** The database the process uses (src/config/database.ts). */
  database: DatabaseConfig;
  /** Sessions, tokens, passwords, API keys, profiles, groups (src/config/auth.ts). */
  auth: AuthConfig;
  /** Rate limits and login throttling (src/config/limits.ts). */
  limits: LimitsConfig;
  /** API call quotas (src/config/limits.ts). */
  quota: QuotaConfig;
  /** Outgoing email and the outbox (src/config/mail.ts). */
  mail: MailConfig;
  /** Notification channels (see `src/notify/`, src/config/notify.ts). Each channel is on when configured, unless its NOTIFY_*_ENABLED is false. */
  notify: NotifyConfig;
  /** Built-in task schedules and retention (src/config/scheduler.ts). */
  scheduler: SchedulerConfig;
  /** The job queue and built-in workers (src/config/jobs.ts). */
  jobs: JobsConfig;
  /** File storage (src/config/files.ts). */
  files: FilesConfig;
  /** Social sign-in: the enabled providers and the allowed `redirect` origins (src/identities/identities.config.ts). */
  identities: IdentitiesConfig;
  /** SSE streams and WebSockets (src/config/realtime.ts). */
  realtime: RealtimeConfig;
  /** Two-factor authentication and passkeys (src/mfa/mfa.config.ts). */
  mfa: MfaSettings;
}

/**
 * The raw environment schema, composed of the sections' shapes; keys are the exact variable
 * names the README documents. The order of the shapes is the order zod reports problems in and
 * `gatehouse config show` lists variables in.
 */
const envSchema = z.object({
  ...serverEnvShape,
  ...databaseEnvShape,
  ...authEnvShape,
  ...mailEnvShape,
  ...jobsEnvShape,
  ...filesEnvShape,
  ...realtimeEnvShape,
  ...notifyEnvShape,
  ...authAccountsEnvShape,
  ...limitsEnvShape,
  ...quotaEnvShape,
  ...schedulerEnvShape,
  ...mfaEnvShape,
});

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
  const dataDir = dataDirOf(e);
  const publicUrl = publicUrlOf(e);
  return {
    server: serverSettings(e),
    dataDir,
    env: Object.freeze({ ...env }),
    database: databaseSettings(e, dataDir),
    auth: authSettings(e, publicUrl),
    limits: limitsSettings(e),
    quota: quotaSettings(e),
    mail: mailSettings(e),
    notify: notifySettings(e),
    scheduler: schedulerSettings(e),
    jobs: jobsSettings(e),
    files: filesSettings(e, dataDir),
    identities: identitiesConfig(env),
    realtime: realtimeSettings(e),
    mfa: mfaSettings(e, publicUrl, frontendUrlOf(e)),
  };
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
