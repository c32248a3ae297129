/**
 * The `server` configuration section: the HTTP listener (src/server.ts, src/app.ts), the public
 * URL and logging.
 */
import { z } from 'zod';
import { httpUrl, type ParsedShape, positiveInt } from './schema.js';

/** The `server` section of the configuration. */
export interface ServerConfig {
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
  /** The deployment's name (APP_NAME): the web app's title, emails, the OpenAPI title. Default `Gatehouse`. */
  appName: string;
  /** One or two sentences on what this deployment is for (APP_DESCRIPTION), shown on the home page; `null` when unset. */
  appDescription: string | null;
  /**
   * FRONTEND_URL: the base URL of an external frontend. When set, Gatehouse serves no built-in web
   * app, emailed links and sign-in redirects point there, and CORS admits its origin with
   * credentials. `null`: the built-in app at `/`.
   */
  frontendUrl: string | null;
  /** Where people's pages live: FRONTEND_URL, else PUBLIC_URL. Emailed links and sign-in redirects start here. */
  appUrl: string;
  /**
   * Origins allowed to make cookie-authenticated unsafe requests and WebSocket upgrades: PUBLIC_URL's,
   * plus FRONTEND_URL's when set.
   */
  trustedOrigins: string[];
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
}

/** The section's environment variables. */
export const serverEnvShape = {
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
  APP_NAME: z.string().trim().min(1).max(80).default('Gatehouse'),
  APP_DESCRIPTION: z.string().trim().max(500).optional(),
  FRONTEND_URL: httpUrl.optional(),
  TRUST_PROXY: z.string().default('false'),
  BODY_LIMIT_BYTES: positiveInt(64 * 1024 * 1024).default(262_144),
  REQUEST_TIMEOUT_SECONDS: positiveInt(7 * 86_400).default(3600),
  CONNECTION_TIMEOUT_SECONDS: positiveInt(86_400).default(60),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
};

function parseTrustProxy(value: string): boolean | number | string {
  if (value === 'true') return true;
  if (value === 'false' || value === '') return false;
  if (/^\d+$/.test(value)) return Number(value);
  return value;
}

/**
 * PUBLIC_URL as a URL: the variable, or `http://localhost:PORT` (port 3000 when PORT is 0).
 * Other sections derive from it (cookie `Secure` flag, WebAuthn relying party).
 */
export function publicUrlOf(e: ParsedShape<typeof serverEnvShape>): URL {
  return new URL(publicUrlText(e));
}

function publicUrlText(e: ParsedShape<typeof serverEnvShape>): string {
  return e.PUBLIC_URL ?? `http://localhost:${e.PORT === 0 ? 3000 : e.PORT}`;
}

function frontendUrlText(e: ParsedShape<typeof serverEnvShape>): string | null {
  return e.FRONTEND_URL ? e.FRONTEND_URL.replace(/\/+$/, '') : null;
}

/** FRONTEND_URL as a URL, or null: other sections admit its origin (WebAuthn). */
export function frontendUrlOf(e: ParsedShape<typeof serverEnvShape>): URL | null {
  return e.FRONTEND_URL ? new URL(e.FRONTEND_URL) : null;
}

/** Builds the section from the parsed variables. */
export function serverSettings(e: ParsedShape<typeof serverEnvShape>): ServerConfig {
  return {
    port: e.PORT,
    host: e.HOST,
    publicUrl: publicUrlText(e),
    publicOrigin: publicUrlOf(e).origin,
    siteUrl: e.SITE_URL ?? null,
    appName: e.APP_NAME,
    appDescription: e.APP_DESCRIPTION || null,
    frontendUrl: frontendUrlText(e),
    appUrl: frontendUrlText(e) ?? publicUrlText(e),
    trustedOrigins: [...new Set([publicUrlOf(e).origin, ...(e.FRONTEND_URL ? [new URL(e.FRONTEND_URL).origin] : [])])],
    trustProxy: parseTrustProxy(e.TRUST_PROXY),
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    requestTimeoutSeconds: e.REQUEST_TIMEOUT_SECONDS,
    connectionTimeoutSeconds: e.CONNECTION_TIMEOUT_SECONDS,
    logLevel: e.LOG_LEVEL,
  };
}
