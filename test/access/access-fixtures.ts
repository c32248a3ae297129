/**
 * Named fixtures for the access-control tests (issue 3): users of each role with a live
 * credential of every kind (cookie session, bearer JWT + refresh token, API key), API keys,
 * groups, and short request helpers. Everything goes through the real HTTP API or the service
 * layer; nothing is mocked.
 */
import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { type Fixture, loginCookie, makeApiKey, makeUser, passwordGrant, type TestContext } from '../helpers/harness.js';

/** Request headers. */
export type Headers = Record<string, string>;

/**
 * Environment every access test context uses. The per-IP and per-user request limits are the
 * subject of test/limits; every injected request here comes from the same address, so they are
 * set out of reach to keep these tests about permissions only.
 */
export const ACCESS_ENV: Record<string, string> = {
  RATE_LIMIT_IP_PER_MINUTE: '1000000',
  RATE_LIMIT_USER_PER_MINUTE: '1000000',
  LOGIN_MAX_FAILURES_PER_IP_PER_DAY: '1000000',
};

/** `Authorization: Bearer <token>` */
export function bearer(token: string): Headers {
  return { authorization: `Bearer ${token}` };
}

/** Sends one request as `headers` (the test origin is added to unsafe methods by `ctx.request`). */
export function call(
  ctx: TestContext,
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  url: string,
  headers: Headers = {},
  payload?: unknown,
): Promise<LightMyRequestResponse> {
  return ctx.request({ method, url, headers, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
}

/** A user with one live credential of every kind. */
export interface Principals {
  user: Fixture;
  cookie: Headers;
  jwt: Headers;
  refreshToken: string;
  apiKey: Headers;
  apiKeyId: string;
}

/**
 * Makes a user of `role` and signs them in three ways. The API key's scopes default to
 * everything the role has (`*` for admins, `account:self` otherwise).
 */
export async function makePrincipals(
  ctx: TestContext,
  options: { role?: 'admin' | 'user' | 'worker'; scopes?: string[]; name?: string } = {},
): Promise<Principals> {
  const role = options.role ?? 'user';
  const user = await makeUser(ctx, { role, ...(options.name ? { name: options.name } : {}) });
  return withCredentials(ctx, user, options.scopes ?? (role === 'admin' ? ['*'] : ['account:self']));
}

/** Signs an existing user in by cookie, password grant and a new API key with `scopes`. */
export async function withCredentials(ctx: TestContext, user: Fixture, scopes: string[]): Promise<Principals> {
  const cookie = { cookie: await loginCookie(ctx, user) };
  const tokens = await passwordGrant(ctx, user);
  const key = await makeApiKey(ctx, cookie, { scopes });
  return { user, cookie, jwt: bearer(tokens.access_token), refreshToken: tokens.refresh_token, apiKey: key.headers, apiKeyId: key.id };
}

/** The three request credentials of `p`, labelled, for `for…of` checks. */
export function credentialsOf(p: Principals): Array<[label: 'cookie' | 'jwt' | 'api key', headers: Headers]> {
  return [
    ['cookie', p.cookie],
    ['jwt', p.jwt],
    ['api key', p.apiKey],
  ];
}

/** Status codes of a GET of `url` with each of `p`'s credentials, keyed by credential. */
export async function statusesOf(ctx: TestContext, p: Principals, url: string): Promise<Record<string, number>> {
  const result: Record<string, number> = {};
  for (const [label, headers] of credentialsOf(p)) result[label] = (await call(ctx, 'GET', url, headers)).statusCode;
  return result;
}

/** `{cookie: s, jwt: s, 'api key': s}` — the expected value for {@link statusesOf}. */
export function allStatuses(status: number): Record<string, number> {
  return { cookie: status, jwt: status, 'api key': status };
}

/** Exchanges a refresh token (RFC 6749 §6). */
export function refreshGrant(ctx: TestContext, refreshToken: string): Promise<LightMyRequestResponse> {
  return ctx.request({ method: 'POST', url: '/api/v1/auth/token', payload: { grant_type: 'refresh_token', refresh_token: refreshToken } });
}

/** Logs in with email and password; returns the raw response (for refusals). */
export function login(ctx: TestContext, who: { email: string; password: string }, remoteAddress?: string): Promise<LightMyRequestResponse> {
  return ctx.request({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload: { email: who.email, password: who.password },
    ...(remoteAddress ? { remoteAddress } : {}),
  });
}

/** Creates a group through the API as `admin`; fails the test unless it is created. */
export async function makeGroup(
  ctx: TestContext,
  admin: Headers,
  body: { name: string; permissions?: string[]; [policy: string]: unknown },
): Promise<{ id: string; name: string }> {
  const res = await call(ctx, 'POST', '/api/v1/groups', admin, body);
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

/** Adds (`true`) or removes (`false`) a membership through the API; expects 204. */
export async function setMember(ctx: TestContext, admin: Headers, group: string, userId: string, member: boolean): Promise<void> {
  const res = await call(ctx, member ? 'PUT' : 'DELETE', `/api/v1/groups/${group}/members/${userId}`, admin);
  expect(res.statusCode, res.body).toBe(204);
}

/** A short name unique to this run, usable as a group name or a search token. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
}
