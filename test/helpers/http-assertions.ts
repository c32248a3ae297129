/**
 * Assertions and small fixtures shared by the HTTP integration tests: problem documents,
 * distinct client IPs (the per-IP limits are real), received mail and scenario tables.
 */
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import type { TestContext } from './harness.js';
import type { ReceivedMail } from './smtp-sink.js';

/** The RFC 9457 members every Gatehouse error carries. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail?: string;
  instance?: string;
  errors?: Array<{ field: string; message: string }>;
  [member: string]: unknown;
}

/** Text that only a leaked stack trace or internal error would contain. */
const INTERNALS = /\bat [^\s]+ \(|node_modules|\.ts:\d+|"stack"|SQLITE_|syntax error at|violates .* constraint/i;

/**
 * Asserts that `res` is an `application/problem+json` error with `status` and `code`, without
 * internals; returns the parsed document.
 */
export function expectProblem(res: LightMyRequestResponse, status: number, code: string): Problem {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = res.json<Problem>();
  expect(body).toMatchObject({ type: `/problems/${code}`, status, code, title: expect.any(String) });
  expect(res.body).not.toMatch(INTERNALS);
  return body;
}

/** Asserts that a problem document lists a validation error for `field` (e.g. `/email`). */
export function expectFieldError(problem: Problem, field: string): void {
  expect(problem.errors?.map((e) => e.field)).toContain(field);
}

/** Asserts an RFC 6749 §5.2 token endpoint error (JSON, `error` member, `no-store`). */
export function expectOAuthError(res: LightMyRequestResponse, status: number, error: string): Record<string, unknown> {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.headers['cache-control']).toBe('no-store');
  const body = res.json<Record<string, unknown>>();
  expect(body.error).toBe(error);
  expect(typeof body.error_description).toBe('string');
  expect(res.body).not.toMatch(INTERNALS);
  return body;
}

let ipCounter = 0;

/**
 * A client address not used before in this process. Resend-verification and forgot-password are
 * limited per IP for real, so tests that are not about the limit each come from their own address.
 */
export function nextIp(): string {
  ipCounter += 1;
  return `10.${(ipCounter >> 16) & 255}.${(ipCounter >> 8) & 255}.${ipCounter & 255}`;
}

/** Delivers pending mail and returns every message received for `to` whose subject matches. */
export async function mailsTo(ctx: TestContext, to: string, subject?: RegExp): Promise<ReceivedMail[]> {
  await ctx.flushMail();
  return ctx.smtp.messages.filter((m) => m.to === to.toLowerCase() && (!subject || subject.test(m.subject)));
}

/** Delivers pending mail and waits for the first message to `to` whose subject matches. */
export async function waitForMail(ctx: TestContext, to: string, subject: RegExp): Promise<ReceivedMail> {
  await ctx.flushMail();
  return ctx.smtp.waitFor((m) => m.to === to.toLowerCase() && subject.test(m.subject), 5_000);
}

/** The value of one `Set-Cookie` for `name`, or undefined. */
export function setCookie(res: LightMyRequestResponse, name: string): string | undefined {
  const header = res.headers['set-cookie'];
  const all = Array.isArray(header) ? header : header ? [header] : [];
  return all.find((c) => c.startsWith(`${name}=`));
}

/**
 * One row of a PocketBase-style scenario table: a request, the status it must get, and what the
 * body must (and must not) contain.
 */
export interface Scenario {
  name: string;
  request: InjectOptions;
  status: number;
  /** Expected `code` of the problem document (error responses). */
  code?: string;
  /** Substrings the body must contain. */
  contains?: string[];
  /** Substrings the body must not contain. */
  excludes?: string[];
  /** Field paths the problem's `errors[]` must name. */
  fields?: string[];
}

/** Runs one scenario through `ctx.request` and checks every expectation it states. */
export async function runScenario(ctx: TestContext, scenario: Scenario): Promise<LightMyRequestResponse> {
  const res = await ctx.request(scenario.request);
  if (scenario.code) {
    const problem = expectProblem(res, scenario.status, scenario.code);
    for (const field of scenario.fields ?? []) expectFieldError(problem, field);
  } else {
    expect(res.statusCode, res.body).toBe(scenario.status);
  }
  for (const text of scenario.contains ?? []) expect(res.body).toContain(text);
  for (const text of scenario.excludes ?? []) expect(res.body).not.toContain(text);
  return res;
}
