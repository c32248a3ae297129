/**
 * The one way the web app talks to Gatehouse: `api()` calls `/api/v1/…` on the same origin with
 * the session cookie, sends JSON (or FormData for uploads) and turns RFC 9457 problem documents
 * into {@link ApiError}s that pages show inline. Cookie-authenticated unsafe requests pass the
 * server's `Origin` check because the browser sends the page's own origin.
 */

/** One field-level message of a `validation_failed` problem (`field` is a JSON pointer such as `/email`). */
export interface FieldError {
  field: string;
  message: string;
}

/** An RFC 9457 problem document as Gatehouse sends it (`code` is stable; `detail` is for people). */
export interface Problem {
  type?: string;
  title?: string;
  status: number;
  code: string;
  detail?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

/** A failed API call: the problem document, or a made-up one when the network or server failed. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly problem: Problem;

  constructor(problem: Problem) {
    super(problem.detail ?? problem.title ?? problem.code);
    this.name = 'ApiError';
    this.status = problem.status;
    this.code = problem.code;
    this.problem = problem;
  }

  /** The message for one field (`/email`), when the server named it. */
  fieldMessage(field: string): string | undefined {
    return this.problem.errors?.find((error) => error.field === field || error.field === `/${field}`)?.message;
  }
}

/** True for an {@link ApiError} with this HTTP status (e.g. 401 when the session has ended). */
export function isApiError(error: unknown, status?: number): error is ApiError {
  return error instanceof ApiError && (status === undefined || error.status === status);
}

/** Options of {@link api}. */
export interface ApiOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** A JSON body, or FormData for multipart uploads. */
  body?: unknown;
  /** Query parameters; `undefined` and `null` values are left out. */
  query?: Record<string, string | number | boolean | undefined | null>;
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

/** The API's base path. */
export const API_BASE = '/api/v1';

/** Builds `/api/v1{path}?{query}`. */
export function apiUrl(path: string, query?: ApiOptions['query']): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  }
  const search = params.toString();
  return `${API_BASE}${path}${search ? `?${search}` : ''}`;
}

/**
 * Calls the API. Resolves the parsed JSON body (`undefined` for 204 and empty bodies).
 * @throws ApiError with the server's problem document, or status 0 `network_error` when the
 *   request never got an answer.
 */
export async function api<T>(path: string, options: ApiOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json, application/problem+json', ...options.headers };
  let body: BodyInit | undefined;
  if (options.body instanceof FormData) {
    body = options.body;
  } else if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  let response: Response;
  try {
    response = await fetch(apiUrl(path, options.query), {
      method: options.method ?? (body === undefined ? 'GET' : 'POST'),
      headers,
      body,
      credentials: 'same-origin',
      signal: options.signal,
    });
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw new ApiError({ status: 0, code: 'network_error', detail: 'The server could not be reached. Check your connection and try again.' });
  }
  const text = await response.text();
  const parsed: unknown = text ? safeJson(text) : undefined;
  if (!response.ok) {
    const problem = (parsed && typeof parsed === 'object' ? parsed : {}) as Partial<Problem>;
    throw new ApiError({
      ...problem,
      status: response.status,
      code: problem.code ?? `http_${response.status}`,
      detail: problem.detail ?? problem.title ?? `The server answered ${response.status} ${response.statusText}.`,
    });
  }
  return parsed as T;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A page of a cursor-paged list (`GET …?cursor=&limit=`): the items and the cursor of the next page, `null` at the end. */
export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

/**
 * POSTs `form` (multipart) to `/api/v1{path}` with the session cookie and reports the fraction of
 * bytes sent (0..1) to `onProgress`: XMLHttpRequest, because `fetch` reports no upload progress.
 * Resolves the parsed JSON body of a 2xx answer.
 * @throws ApiError with the server's problem document (413 too large, 415, 422 …), status 0
 *   `network_error` when the upload never got an answer, or a DOMException `AbortError` when
 *   `signal` aborts it.
 */
export function uploadWithProgress<T>(path: string, form: FormData, onProgress: (fraction: number) => void, signal?: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', apiUrl(path));
    xhr.setRequestHeader('accept', 'application/json, application/problem+json');
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable && event.total > 0) onProgress(event.loaded / event.total);
    };
    xhr.onload = () => {
      const body: unknown = xhr.responseText ? safeJson(xhr.responseText) : undefined;
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolve(body as T);
        return;
      }
      const problem = (body && typeof body === 'object' ? body : {}) as Partial<Problem>;
      reject(
        new ApiError({
          ...problem,
          status: xhr.status,
          code: problem.code ?? `http_${xhr.status}`,
          detail: problem.detail ?? problem.title ?? `The server answered ${xhr.status} ${xhr.statusText}.`,
        }),
      );
    };
    xhr.onerror = () => reject(new ApiError({ status: 0, code: 'network_error', detail: 'The upload did not reach the server. Check your connection and try again.' }));
    xhr.onabort = () => reject(new DOMException('The upload was cancelled.', 'AbortError'));
    signal?.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(form);
  });
}
