/**
 * Shared pieces of the CLI suites: assertions on a finished `gatehouse` run, and a per-dialect
 * fixture (an isolated database plus `cli()` running the real binary against it, or the same
 * command line inside the test process).
 */
import { expect } from 'vitest';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { STRONG_PASSWORD } from '../helpers/harness.js';
import { http, setCookie } from '../helpers/http-client.js';
import { cleanEnv, type CliResult, freePort, runCli, serverEnv, type ServerProcess, startServerProcess } from '../helpers/server-process.js';
import type { TestDatabase } from '../helpers/test-database.js';

/** A line that looks like a JavaScript stack frame. */
const STACK_FRAME = /^\s+at\s/m;

/** Fails when any output looks like a stack trace or an unhandled JavaScript error. */
export function expectNoStackTrace(result: { stdout?: string; stderr?: string; output?: string }): void {
  const all = `${result.stdout ?? ''}${result.stderr ?? ''}${result.output ?? ''}`;
  expect(all).not.toMatch(STACK_FRAME);
  expect(all).not.toMatch(/\b(TypeError|ReferenceError|SyntaxError)\b|node:internal/);
}

/** Expects exit code `code` (no signal, no stack trace), showing the output when it differs. */
export function expectExit(result: CliResult, code: number): void {
  expect(result, `exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`).toMatchObject({ code, signal: null });
  expectNoStackTrace(result);
}

/** The environment for the CLI against `database`. */
export function cliEnv(database: TestDatabase, extra: Record<string, string> = {}): Record<string, string> {
  return cleanEnv({ DATA_DIR: database.dataDir, DATABASE_URL: database.url, ...extra });
}

/** Runs the real binary against `database`; `input` is piped into stdin. */
export function cliFor(database: TestDatabase, extra: Record<string, string> = {}) {
  return (args: string[], input?: string): Promise<CliResult> =>
    runCli(args, { env: cliEnv(database, extra), ...(input === undefined ? {} : { input }), timeoutMs: 60_000 });
}

/**
 * Runs the CLI inside the test process against `database` (same arguments and result as
 * {@link cliFor}; see test/helpers/cli-in-process.ts for what a spawn alone can prove).
 */
export function inProcessCliFor(database: TestDatabase, extra: Record<string, string> = {}) {
  return (args: string[], input?: string): Promise<CliResult> =>
    runCliInProcess(args, { env: cliEnv(database, extra), ...(input === undefined ? {} : { input }) });
}

/** Creates a verified user through `users create` and returns its id. */
export async function createUser(
  cli: ReturnType<typeof cliFor>,
  email: string,
  options: { name?: string; admin?: boolean } = {},
): Promise<string> {
  const args = ['users', 'create', '--email', email, '--name', options.name ?? '', '--password-stdin', '--json'];
  if (options.admin) args.push('--admin');
  const result = await cli(args, `${STRONG_PASSWORD}\n`);
  expectExit(result, 0);
  return (JSON.parse(result.stdout) as { id: string }).id;
}

/** Starts `gatehouse serve` on `database` (allowing a minute to get ready: start-up takes 15 s+ on a loaded 2-core machine). */
export async function startServer(database: TestDatabase): Promise<ServerProcess> {
  const port = await freePort();
  return startServerProcess({ env: serverEnv({ port, dataDir: database.dataDir, databaseUrl: database.url }), readyTimeoutMs: 60_000 });
}

/** Signs in over HTTP with a password; returns the status and the session cookie pair (when 200). */
export async function login(server: ServerProcess, email: string, password: string): Promise<{ status: number; cookie: string }> {
  const res = await http(server.url, '/api/v1/auth/login', { json: { email, password }, origin: server.url });
  return { status: res.status, cookie: setCookie(res, 'gh_session')?.pair ?? '' };
}
