/**
 * Builds a complete Gatehouse for a test: an isolated database of the requested dialect, a real
 * SMTP sink receiving the mail, a manual clock, and the same `buildApp` the server uses.
 */
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import pino from 'pino';
import { buildApp } from '../../src/app.js';
import { type Config, type DatabaseDialect, loadConfig } from '../../src/config.js';
import { createGatehouse, type Gatehouse } from '../../src/container.js';
import { type DatabaseHandle, openDatabase } from '../../src/db/database.js';
import { ManualClock } from '../../src/shared/clock.js';
import type { AnyModule } from '../../src/modules/contract.js';
import { startSmtpSink, type SmtpSink, tokenFromMail } from './smtp-sink.js';
import { createTestDatabase, type TestDatabase } from './test-database.js';

/** The password every fixture user gets unless told otherwise (strong enough for zxcvbn ≥ 3). */
export const STRONG_PASSWORD = 'violet-harbour-lantern-42';
/** The origin requests come from (PUBLIC_URL of the test app). */
export const PUBLIC_URL = 'http://gatehouse.test';

/** A running test instance. */
export interface TestContext {
  app: FastifyInstance;
  gatehouse: Gatehouse;
  config: Config;
  clock: ManualClock;
  smtp: SmtpSink;
  database: TestDatabase;
  /** `app.inject` with the test origin preset for unsafe methods. */
  request(options: InjectOptions): Promise<LightMyRequestResponse>;
  /** Sends due mail now instead of waiting for the dispatcher's next poll. */
  flushMail(): Promise<void>;
  close(): Promise<void>;
}

/** Options for {@link createTestContext}. */
export interface TestContextOptions {
  /** Extra environment variables (strings, as in a real environment). */
  env?: Record<string, string>;
  /** Reuse an SMTP sink across contexts. */
  smtp?: SmtpSink;
  /** Feature modules to run instead of the shipped list (e.g. `[...MODULES, exampleModule]`). */
  modules?: readonly AnyModule[];
  /** Wraps the database handle the server gets (e.g. a Kysely plugin that counts queries). */
  wrapDatabase?: (handle: DatabaseHandle) => DatabaseHandle;
}

/** Creates an isolated Gatehouse on `dialect`. Call `close()` in `afterAll`/`afterEach`. */
export async function createTestContext(dialect: DatabaseDialect, options: TestContextOptions = {}): Promise<TestContext> {
  const database = await createTestDatabase(dialect);
  const smtp = options.smtp ?? (await startSmtpSink());
  const config = loadConfig({
    DATA_DIR: database.dataDir,
    DATABASE_URL: database.url,
    PUBLIC_URL,
    SMTP_URL: smtp.url,
    LOG_LEVEL: 'silent',
    MAIL_POLL_SECONDS: '3600',
    ...options.env,
  });
  const clock = new ManualClock();
  const gatehouse = await createGatehouse(config, {
    clock,
    logger: pino({ level: 'silent' }),
    ...(options.modules ? { modules: options.modules } : {}),
    ...(options.wrapDatabase ? { database: options.wrapDatabase(openDatabase(config.database)) } : {}),
  });
  const app = await buildApp(gatehouse);
  return {
    app,
    gatehouse,
    config,
    clock,
    smtp,
    database,
    request(opts) {
      const method = (opts.method ?? 'GET').toUpperCase();
      const headers = { ...(opts.headers ?? {}) } as Record<string, string>;
      // Unsafe requests come from the app's own origin (PUBLIC_URL, or the test's override of it).
      if (!['GET', 'HEAD', 'OPTIONS'].includes(method) && !('origin' in headers)) headers.origin = config.server.publicOrigin;
      return app.inject({ ...opts, headers });
    },
    async flushMail() {
      await gatehouse.outbox.dispatchDue();
    },
    async close() {
      await app.close();
      await gatehouse.close();
      if (!options.smtp) await smtp.stop();
      await database.drop();
    },
  };
}

/** A user created through the service layer, with credentials for logging in. */
export interface Fixture {
  id: string;
  email: string;
  password: string;
}

let counter = 0;

/** A unique email address for this test run. */
export function uniqueEmail(prefix = 'user'): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}-${Math.random().toString(36).slice(2, 7)}@example.com`;
}

/**
 * Creates a verified user directly through the accounts service (no email round trip), with the
 * fixtures' {@link STRONG_PASSWORD}. Defaults: role `user`, name `Test User` (`Worker` for a
 * `worker`), a {@link uniqueEmail}.
 */
export async function makeUser(ctx: TestContext, overrides: { email?: string; role?: 'user' | 'admin' | 'worker'; name?: string } = {}): Promise<Fixture> {
  const role = overrides.role ?? 'user';
  const email = overrides.email ?? uniqueEmail(role === 'worker' ? 'worker' : 'user');
  const user = await ctx.gatehouse.accounts.createUser({
    email,
    password: STRONG_PASSWORD,
    name: overrides.name ?? (role === 'worker' ? 'Worker' : 'Test User'),
    role,
  });
  return { id: user.id, email, password: STRONG_PASSWORD };
}

/** An API key as created through `POST /api/v1/api-keys`, with the headers that present it. */
export interface ApiKeyFixture {
  id: string;
  secret: string;
  /** `{ authorization: 'Bearer <secret>' }` */
  headers: Record<string, string>;
}

/**
 * Creates an API key through the HTTP API as the holder of `as` (request headers: a session
 * cookie or a bearer token), re-authenticating with `body.password` (default: the fixtures'
 * {@link STRONG_PASSWORD}). Throws unless the key is created (201).
 */
export async function makeApiKey(
  ctx: TestContext,
  as: Record<string, string>,
  body: { scopes: string[]; name?: string; expires_in?: number; password?: string },
): Promise<ApiKeyFixture> {
  const res = await ctx.request({ method: 'POST', url: '/api/v1/api-keys', headers: as, payload: { name: 'test key', password: STRONG_PASSWORD, ...body } });
  if (res.statusCode !== 201) throw new Error(`api key not created: ${res.statusCode} ${res.body}`);
  const created = res.json<{ key: { id: string }; secret: string }>();
  return { id: created.key.id, secret: created.secret, headers: { authorization: `Bearer ${created.secret}` } };
}

/** Logs in through the HTTP API; returns the `Cookie` header value to send. */
export async function loginCookie(ctx: TestContext, who: { email: string; password: string }): Promise<string> {
  const res = await ctx.request({ method: 'POST', url: '/api/v1/auth/login', payload: { email: who.email, password: who.password } });
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.statusCode} ${res.body}`);
  const cookie = res.cookies.find((c) => c.name === ctx.config.auth.cookieName);
  if (!cookie) throw new Error('login set no session cookie');
  return `${cookie.name}=${cookie.value}`;
}

/** Gets an access/refresh token pair through the password grant. */
export async function passwordGrant(
  ctx: TestContext,
  who: { email: string; password: string },
): Promise<{ access_token: string; refresh_token: string; expires_in: number }> {
  const res = await ctx.request({
    method: 'POST',
    url: '/api/v1/auth/token',
    payload: { grant_type: 'password', username: who.email, password: who.password },
  });
  if (res.statusCode !== 200) throw new Error(`token grant failed: ${res.statusCode} ${res.body}`);
  return res.json();
}

/** Sends the pending mail and returns the token from the newest email to `to` linking to `pathName`. */
export async function tokenFromLatestMail(ctx: TestContext, to: string, pathName: '/verify-email' | '/reset-password'): Promise<string> {
  await ctx.flushMail();
  const mail = await ctx.smtp.waitFor((m) => m.to === to.toLowerCase() && m.text.includes(pathName));
  const all = ctx.smtp.messages.filter((m) => m.to === to.toLowerCase() && m.text.includes(pathName));
  return tokenFromMail(all.at(-1) ?? mail, pathName);
}
