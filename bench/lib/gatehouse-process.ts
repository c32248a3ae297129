/**
 * Gatehouse as a deployment runs it, for the HTTP figures: `node bin/gatehouse.js serve` (the
 * compiled dist/, so run `npm run build` first) in a process of its own, configured only through
 * the environment as the README says — a DATABASE_URL, a DATA_DIR, LOG_LEVEL, and the two request
 * limits raised so that the load generator is not refused — with its log lines (stdout) going to
 * a file. The bench user is made with `gatehouse users create` (a verified account), then signs in
 * over HTTP for a cookie, an access token and an API key.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, type ServerProcess, startProcess } from './processes.js';
import { BENCH_PASSWORD, BENCH_PUBLIC_URL, BENCH_REQUEST_LIMIT } from './servers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = path.join(ROOT, 'bin', 'gatehouse.js');

/** A listening Gatehouse process with one verified user and its credentials. */
export interface GatehouseProcess {
  server: ServerProcess;
  base: string;
  email: string;
  /** `Cookie` header value of a browser session. */
  cookie: string;
  /** An access JWT from the password grant. */
  accessToken: string;
  /** A `gh_…` API key with scope `account:self`. */
  apiKey: string;
  /** Bytes of the `GET /api/v1/users/me` answer body. */
  meBytes: number;
  stop(): Promise<void>;
}

/** Options for {@link startGatehouseProcess}. */
export interface GatehouseProcessOptions {
  databaseUrl: string;
  dataDir: string;
  /** LOG_LEVEL (`info` as deployed, or `silent`). */
  level: string;
  logFile: string;
  /** Extra node flags, e.g. `--cpu-prof`. */
  nodeFlags?: string[];
  /** Extra environment. */
  env?: Record<string, string>;
  /** A command that runs node (the `wrapper` of `startProcess`), e.g. valgrind. */
  wrapper?: string[];
  /** How long to wait for `/healthz`, ms (default 60 000). */
  readyTimeoutMs?: number;
  /** Another checkout (built) whose `bin/gatehouse.js` to run instead of this one's: a before/after comparison. */
  checkout?: string;
}

/** The three credentials the bench loads `GET /api/v1/users/me` with, in report order. */
export type BenchCredential = 'cookie' | 'jwt' | 'api-key';

/**
 * The request headers of each credential of `gh`: the session cookie, the access JWT and the API
 * key (both as `Authorization: Bearer`), in report order.
 */
export function credentialHeaders(gh: Pick<GatehouseProcess, 'cookie' | 'accessToken' | 'apiKey'>): Array<[BenchCredential, Record<string, string>]> {
  return [
    ['cookie', { cookie: gh.cookie }],
    ['jwt', { authorization: `Bearer ${gh.accessToken}` }],
    ['api-key', { authorization: `Bearer ${gh.apiKey}` }],
  ];
}

async function ok(response: Response, expected: number, what: string): Promise<Response> {
  if (response.status !== expected) throw new Error(`${what} failed: ${response.status} ${await response.text()}`);
  return response;
}

/** Starts Gatehouse (see the module comment). */
export async function startGatehouseProcess(options: GatehouseProcessOptions): Promise<GatehouseProcess> {
  const port = await freePort();
  const env: Record<string, string> = {
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_URL: BENCH_PUBLIC_URL,
    DATA_DIR: options.dataDir,
    DATABASE_URL: options.databaseUrl,
    LOG_LEVEL: options.level,
    RATE_LIMIT_IP_PER_MINUTE: String(BENCH_REQUEST_LIMIT),
    RATE_LIMIT_USER_PER_MINUTE: String(BENCH_REQUEST_LIMIT),
    ...options.env,
  };
  const email = `bench-${port}@example.com`;
  const bin = options.checkout ? path.join(options.checkout, 'bin', 'gatehouse.js') : BIN;
  execFileSync(process.execPath, [bin, 'users', 'create', '--email', email, '--name', 'Bench User', '--password-stdin'], {
    env: { ...process.env, ...env, LOG_LEVEL: 'warn' },
    input: BENCH_PASSWORD,
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  const server = await startProcess({
    args: [...(options.nodeFlags ?? []), bin, 'serve'],
    env,
    port,
    logFile: options.logFile,
    readyPath: '/healthz',
    ...(options.wrapper ? { wrapper: options.wrapper } : {}),
    ...(options.readyTimeoutMs ? { readyTimeoutMs: options.readyTimeoutMs } : {}),
  });
  try {
    const base = server.base;
    const login = await ok(
      await fetch(`${base}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: BENCH_PUBLIC_URL },
        body: JSON.stringify({ email, password: BENCH_PASSWORD }),
      }),
      200,
      'login',
    );
    const setCookie = login.headers.getSetCookie().find((c) => c.startsWith(`${env.AUTH_COOKIE_NAME ?? 'gh_session'}=`));
    if (!setCookie) throw new Error('login set no session cookie');
    const cookie = setCookie.split(';')[0] as string;
    const grant = await ok(
      await fetch(`${base}/api/v1/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ grant_type: 'password', username: email, password: BENCH_PASSWORD }),
      }),
      200,
      'token grant',
    );
    const { access_token: accessToken } = (await grant.json()) as { access_token: string };
    const keyResponse = await ok(
      await fetch(`${base}/api/v1/api-keys`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${accessToken}` },
        body: JSON.stringify({ name: 'bench', scopes: ['account:self'], password: BENCH_PASSWORD }),
      }),
      201,
      'API key creation',
    );
    const { secret: apiKey } = (await keyResponse.json()) as { secret: string };
    let meBytes = 0;
    for (const [, headers] of credentialHeaders({ cookie, accessToken, apiKey })) {
      const me = await ok(await fetch(`${base}/api/v1/users/me`, { headers }), 200, '/users/me');
      meBytes = Buffer.byteLength(await me.text());
    }
    return { server, base, email, cookie, accessToken, apiKey, meBytes, stop: () => server.stop() };
  } catch (error) {
    await server.stop();
    throw error;
  }
}
