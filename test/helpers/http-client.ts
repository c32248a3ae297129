/**
 * A tiny `fetch` wrapper for end-to-end tests against a listening Gatehouse: JSON or form
 * bodies, a cookie, an Origin, a bearer token, and the parsed response.
 */

/** A response with its body read (JSON when the content type says so, else text). */
export interface HttpResult {
  status: number;
  headers: Headers;
  contentType: string;
  /** Parsed JSON body, or undefined when the body is not JSON. */
  json: Record<string, unknown> & { code?: string; error?: string };
  text: string;
}

/** Options of {@link http}. */
export interface HttpOptions {
  method?: string;
  /** Sent as `application/json`. */
  json?: unknown;
  /** Sent as `application/x-www-form-urlencoded`. */
  form?: Record<string, string>;
  /** `Cookie` header value. */
  cookie?: string;
  origin?: string;
  bearer?: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/** Sends one request to `base + path` (redirects are not followed). */
export async function http(base: string, path: string, options: HttpOptions = {}): Promise<HttpResult> {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  let body: string | undefined;
  if (options.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.json);
  } else if (options.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(options.form).toString();
  }
  if (options.cookie) headers.cookie = options.cookie;
  if (options.origin) headers.origin = options.origin;
  if (options.bearer) headers.authorization = `Bearer ${options.bearer}`;
  const res = await fetch(`${base}${path}`, {
    method: options.method ?? (body === undefined ? 'GET' : 'POST'),
    headers,
    body,
    redirect: 'manual',
    signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
  });
  const text = await res.text();
  const contentType = res.headers.get('content-type') ?? '';
  let json = undefined as unknown as HttpResult['json'];
  if (/json/.test(contentType) && text) json = JSON.parse(text) as HttpResult['json'];
  return { status: res.status, headers: res.headers, contentType, json, text };
}

/** The `name=value` pair of the cookie `name` set by a response, or undefined. */
export function setCookie(res: HttpResult, name: string): { pair: string; attributes: string } | undefined {
  for (const header of res.headers.getSetCookie()) {
    const [pair = '', ...attributes] = header.split(';');
    if (pair.trim().startsWith(`${name}=`)) return { pair: pair.trim(), attributes: attributes.join(';') };
  }
  return undefined;
}
