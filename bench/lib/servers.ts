/**
 * The servers under test, all in this process: a bare Fastify JSON route (the baseline) and
 * Gatehouse itself, started through `startServer` exactly as `gatehouse serve` starts it
 * (createGatehouse + buildApp + listen), on 127.0.0.1 and an ephemeral port.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { loadConfig } from '../../src/config.js';
import { type RunningServer, startServer } from '../../src/server.js';
import { REDACTED_PATHS, redactUrl } from '../../src/shared/logger.js';

/** `silent`, or `info` written to /dev/null; the same for the baseline and for Gatehouse. */
export type BenchLogLevel = 'silent' | 'info';

/** The public URL Gatehouse is told it has (cookie-authenticated POSTs must come from it). */
export const BENCH_PUBLIC_URL = 'http://127.0.0.1';
/** Requests per minute allowed per IP and per user in the bench (far above what it sends). */
export const BENCH_REQUEST_LIMIT = 1_000_000_000;
/** A password that passes Gatehouse's strength check. */
export const BENCH_PASSWORD = 'violet-harbour-lantern-42';

/**
 * A logger with the production logger's options (redaction, request serializer: see
 * `src/shared/logger.ts`) writing to /dev/null, so log formatting is paid but nothing is printed.
 */
export function benchLogger(level: BenchLogLevel): Logger {
  return pino(
    {
      level,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      serializers: {
        req(req: { method: string; url: string; ip?: string; headers?: Record<string, unknown> }) {
          return { method: req.method, url: redactUrl(req.url), ip: req.ip, userAgent: req.headers?.['user-agent'] };
        },
      },
    },
    pino.destination({ dest: '/dev/null', sync: false }),
  );
}

/** A listening baseline server. */
export interface BareServer {
  url: string;
  busyUrl: string;
  close(): Promise<void>;
}

/** Microseconds of busy work `GET /busy` adds to the bare route (the calibration row). */
export const CALIBRATION_BUSY_US = 10;

/**
 * A minimal Fastify app with one JSON route, `GET /` → `{"hello":"world"}`, and the same route
 * plus {@link CALIBRATION_BUSY_US} µs of busy-waiting at `GET /busy`: what a fixed amount of
 * extra JavaScript per request does to the ratio on this machine.
 */
export async function startBare(level: BenchLogLevel): Promise<BareServer> {
  const app: FastifyInstance = Fastify({ loggerInstance: benchLogger(level) as FastifyBaseLogger });
  app.get('/', async () => ({ hello: 'world' }));
  app.get('/busy', async () => {
    const end = performance.now() + CALIBRATION_BUSY_US / 1000;
    while (performance.now() < end);
    return { hello: 'world' };
  });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  return { url: `${address}/`, busyUrl: `${address}/busy`, close: () => app.close() };
}

/** A listening Gatehouse with one verified user and its credentials. */
export interface BenchGatehouse {
  server: RunningServer;
  base: string;
  email: string;
  /** `Cookie` header value of a browser session. */
  cookie: string;
  /** An access JWT from the password grant. */
  accessToken: string;
  /** A `gh_…` API key with scope `account:self`. */
  apiKey: string;
  close(): Promise<void>;
}

/** Options for {@link startGatehouse}. */
export interface StartGatehouseOptions {
  /** DATABASE_URL (`sqlite:/path` or `postgres://…`). */
  databaseUrl: string;
  dataDir: string;
  level: BenchLogLevel;
  /** Extra environment variables. */
  env?: Record<string, string>;
}

/** Starts Gatehouse, creates a verified user, logs in (cookie) and gets an access token. */
export async function startGatehouse(options: StartGatehouseOptions): Promise<BenchGatehouse> {
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    PUBLIC_URL: BENCH_PUBLIC_URL,
    DATA_DIR: options.dataDir,
    DATABASE_URL: options.databaseUrl,
    LOG_LEVEL: options.level,
    MAIL_POLL_SECONDS: '3600',
    // The request limiters stay on (their cost is part of every request) but are set so high
    // that no bench request is refused: the defaults allow 300 requests/min per IP, 1200 per user.
    RATE_LIMIT_IP_PER_MINUTE: String(BENCH_REQUEST_LIMIT),
    RATE_LIMIT_USER_PER_MINUTE: String(BENCH_REQUEST_LIMIT),
    ...options.env,
  });
  const server = await startServer(config, { logger: benchLogger(options.level) });
  try {
    const base = server.address;
    const email = `bench-${process.pid}@example.com`;
    await server.gatehouse.accounts.createUser({ email, password: BENCH_PASSWORD, name: 'Bench User' });
    const login = await fetch(`${base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: BENCH_PUBLIC_URL },
      body: JSON.stringify({ email, password: BENCH_PASSWORD }),
    });
    if (login.status !== 200) throw new Error(`login failed: ${login.status} ${await login.text()}`);
    const setCookie = login.headers.getSetCookie().find((c) => c.startsWith(`${config.auth.cookieName}=`));
    if (!setCookie) throw new Error('login set no session cookie');
    const cookie = setCookie.split(';')[0] as string;
    const grant = await fetch(`${base}/api/v1/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'password', username: email, password: BENCH_PASSWORD }),
    });
    if (grant.status !== 200) throw new Error(`token grant failed: ${grant.status} ${await grant.text()}`);
    const { access_token: accessToken } = (await grant.json()) as { access_token: string };
    const keyResponse = await fetch(`${base}/api/v1/api-keys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${accessToken}` },
      body: JSON.stringify({ name: 'bench', scopes: ['account:self'], password: BENCH_PASSWORD }),
    });
    if (keyResponse.status !== 201) throw new Error(`API key creation failed: ${keyResponse.status} ${await keyResponse.text()}`);
    const { secret: apiKey } = (await keyResponse.json()) as { secret: string };
    const credentials: Array<Record<string, string>> = [
      { cookie },
      { authorization: `Bearer ${accessToken}` },
      { authorization: `Bearer ${apiKey}` },
    ];
    for (const headers of credentials) {
      const me = await fetch(`${base}/api/v1/users/me`, { headers });
      if (me.status !== 200) throw new Error(`/users/me failed: ${me.status} ${await me.text()}`);
    }
    return { server, base, email, cookie, accessToken, apiKey, close: () => server.stop() };
  } catch (error) {
    await server.stop();
    throw error;
  }
}
