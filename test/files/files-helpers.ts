/**
 * Fixtures for the file tests: a listening app, real multipart uploads built with FormData/Blob
 * and sent with fetch, and a look at what the storage directory holds.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import type { TestContext } from '../helpers/harness.js';

/** A response with its body read as bytes, plus the parsed JSON when it is JSON. */
export interface FetchResult {
  status: number;
  headers: Headers;
  bytes: Buffer;
  json: Record<string, unknown> & { code?: string; errors?: Array<{ field: string; message: string }> };
}

/** Reads a fetch response whole. */
export async function readResult(res: Response): Promise<FetchResult> {
  const bytes = Buffer.from(await res.arrayBuffer());
  const type = res.headers.get('content-type') ?? '';
  const json = /json/.test(type) && bytes.length ? JSON.parse(bytes.toString('utf8')) : undefined;
  return { status: res.status, headers: res.headers, bytes, json };
}

/** Starts the context's app on a free loopback port; returns its base URL. */
export async function listen(ctx: TestContext): Promise<string> {
  await ctx.app.listen({ host: '127.0.0.1', port: 0 });
  const address = ctx.app.server.address();
  if (!address || typeof address === 'string') throw new Error('no TCP address');
  return `http://127.0.0.1:${address.port}`;
}

/** One part of an upload: a text field, or the file itself. */
export type UploadPart = [name: string, value: string] | [name: string, blob: Blob, filename: string];

/** POSTs a real multipart/form-data body (fetch's own encoder) to `/api/v1/files`. */
export async function upload(base: string, token: string | undefined, parts: UploadPart[]): Promise<FetchResult> {
  const form = new FormData();
  for (const part of parts) {
    if (part.length === 2) form.append(part[0], part[1]);
    else form.append(part[0], part[1], part[2]);
  }
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  return readResult(await fetch(`${base}/api/v1/files`, { method: 'POST', body: form, headers, signal: AbortSignal.timeout(20_000) }));
}

/** GET (or HEAD) with a bearer token and extra headers. */
export async function get(base: string, url: string, token: string | undefined, headers: Record<string, string> = {}, method = 'GET'): Promise<FetchResult> {
  const all: Record<string, string> = { ...headers };
  if (token) all.authorization = `Bearer ${token}`;
  return readResult(await fetch(`${base}${url}`, { method, headers: all, signal: AbortSignal.timeout(20_000) }));
}

/** Asserts a problem document with `status` and `code`; returns it. */
export function expectProblemResult(res: FetchResult, status: number, code: string): FetchResult['json'] {
  expect(res.status, res.bytes.toString('utf8').slice(0, 500)).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.json).toMatchObject({ status, code, type: `/problems/${code}` });
  return res.json;
}

/** Every regular file under `dir` (relative paths), `.tmp` included; [] when `dir` does not exist. */
export function filesUnder(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir, { recursive: true }) as string[];
  } catch {
    return [];
  }
  return entries.filter((e) => statSync(path.join(dir, e)).isFile()).sort();
}
