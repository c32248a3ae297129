/**
 * A thin typed HTTP client for Gatehouse's worker protocol (docs/jobs.md, "Worker protocol") and
 * the file calls a worker needs. Uses the global `fetch` (Node ≥ 20); no retries here: the
 * {@link Worker} decides what to retry. Every non-2xx answer becomes a {@link GatehouseApiError}
 * carrying the problem document's stable `code` (RFC 9457); a failure to reach the server at all
 * becomes a {@link GatehouseNetworkError}.
 */
import { createWriteStream } from 'node:fs';
import { openAsBlob } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { JobView } from '../jobs/model.js';

export type { JobView };

/** A job handed to this worker: the job, the attempt (fencing token) and the lease end (ISO-8601 UTC). */
export interface ClaimedJob {
  job: JobView;
  attempt: number;
  lease_expires_at: string;
}

/** What a heartbeat answers: the new lease end and what the owner or an admin asked for. */
export interface HeartbeatAnswer {
  lease_expires_at: string;
  command: 'continue' | 'pause' | 'cancel';
}

/** Body of a claim (`wait_s`: long-poll seconds, 0..30). */
export interface ClaimRequest {
  queues: string[];
  kinds?: string[];
  wait_s?: number;
  worker_name?: string;
}

/** Body of a heartbeat (`progress` 0..1; `metrics` a flat object of numbers). */
export interface HeartbeatRequest {
  attempt: number;
  progress?: number;
  message?: string;
  metrics?: Record<string, number>;
}

/** A job's error as a worker reports it. */
export interface ReportedError {
  message: string;
  details?: unknown;
}

/** File metadata as `POST /api/v1/files` and `GET /api/v1/files/{id}/meta` answer it. */
export interface FileMeta {
  id: string;
  owner_id: string | null;
  purpose: string;
  name: string;
  content_type: string;
  /** bytes */
  size_bytes: number;
  /** lower-case hex SHA-256 of the content */
  sha256: string;
  job_id: string | null;
  created_at: string;
}

/** One result of `complete-batch`: `ok`, or the error `code` (e.g. `lease_lost`). */
export interface CompleteBatchResult {
  id: string;
  ok: boolean;
  code?: string;
}

/** An RFC 9457 problem document as Gatehouse sends it. */
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  code?: string;
  errors?: Array<{ field: string; message: string }>;
  [member: string]: unknown;
}

/**
 * The server answered with an error status. `code` is the problem document's stable code
 * (`lease_lost`, `worker_busy`, `forbidden`, `validation_failed`, …; `http_<status>` when the body
 * was not a problem document).
 */
export class GatehouseApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly problem: Problem | undefined;
  /** Seconds from a `Retry-After` header, when there was one. */
  readonly retryAfterSeconds: number | undefined;

  constructor(status: number, problem: Problem | undefined, retryAfterSeconds?: number) {
    const code = typeof problem?.code === 'string' ? problem.code : `http_${status}`;
    super(`${status} ${code}${problem?.detail ? `: ${problem.detail}` : problem?.title ? `: ${problem.title}` : ''}`);
    this.name = 'GatehouseApiError';
    this.status = status;
    this.code = code;
    this.problem = problem;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** The server could not be reached, or the connection broke or timed out before an answer. */
export class GatehouseNetworkError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GatehouseNetworkError';
  }
}

/** True for the code `lease_lost` (409): this worker no longer holds the job under that attempt. */
export function isLeaseLost(error: unknown): boolean {
  return error instanceof GatehouseApiError && error.code === 'lease_lost';
}

/**
 * True when trying again later may succeed: a network failure, a 5xx (the server restarting or
 * overloaded), `429` or a `408`. Anything else (4xx) is an answer that will not change.
 */
export function isTransientError(error: unknown): boolean {
  if (error instanceof GatehouseNetworkError) return true;
  if (error instanceof GatehouseApiError) return error.status >= 500 || error.status === 429 || error.status === 408;
  return false;
}

/** Options of {@link WorkerClient}. */
export interface WorkerClientOptions {
  /** Base URL of the server, e.g. `https://gatehouse.example.com` (a trailing `/` is fine). */
  server: string;
  /** The worker's API key, `gh_<prefix>_<secret>`. */
  apiKey: string;
  /** Time limit of one ordinary request in ms (default 30,000; long polls add their `wait_s`). */
  timeoutMs?: number;
  /** `User-Agent` header (default `gatehouse-worker`). */
  userAgent?: string;
}

/** An answer with its body parsed, plus the server's `Date` (ms since the epoch) when sent. */
interface Answer<T> {
  status: number;
  body: T;
  serverDateMs: number | undefined;
}

/** Common content types by file extension; anything else is `application/octet-stream`. */
const CONTENT_TYPES: Record<string, string> = {
  '.json': 'application/json',
  '.txt': 'text/plain',
  '.csv': 'text/csv',
  '.html': 'text/html',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.svg': 'image/svg+xml',
  '.pdf': 'application/pdf',
  '.wav': 'audio/wav',
  '.mp3': 'audio/mpeg',
  '.ogg': 'audio/ogg',
  '.zip': 'application/zip',
  '.gz': 'application/gzip',
};

/** The content type an upload of `filePath` is recorded with when none is given. */
export function contentTypeOf(filePath: string): string {
  const dot = filePath.lastIndexOf('.');
  return (dot >= 0 && CONTENT_TYPES[filePath.slice(dot).toLowerCase()]) || 'application/octet-stream';
}

/**
 * Typed calls of the worker protocol. Every method throws {@link GatehouseApiError} for an error
 * status and {@link GatehouseNetworkError} when no answer came; `signal` aborts a call (the abort
 * reason is thrown as is).
 */
export class WorkerClient {
  readonly server: string;
  private readonly apiKey: string;
  private readonly timeoutMs: number;
  private readonly userAgent: string;

  constructor(options: WorkerClientOptions) {
    if (!/^https?:\/\//.test(options.server)) throw new TypeError(`server must be an http(s) URL, got "${options.server}"`);
    if (!options.apiKey) throw new TypeError('apiKey is required');
    this.server = options.server.replace(/\/+$/, '');
    this.apiKey = options.apiKey;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.userAgent = options.userAgent ?? 'gatehouse-worker';
  }

  /**
   * `POST /api/v1/worker/claim`: one job, or null when none came within `wait_s` (204).
   * `serverDateMs` is the server's clock (the `Date` header, 1 s resolution) when it answered.
   * @throws GatehouseApiError `worker_busy` (409) when this worker already holds its limit.
   */
  async claim(request: ClaimRequest, signal?: AbortSignal): Promise<(ClaimedJob & { serverDateMs: number | undefined }) | null> {
    const answer = await this.send<ClaimedJob>('POST', '/api/v1/worker/claim', request, { signal, extraMs: (request.wait_s ?? 0) * 1000 });
    return answer.status === 204 ? null : Object.assign({}, answer.body, { serverDateMs: answer.serverDateMs });
  }

  /** `POST /api/v1/worker/claim-batch`: up to `max_jobs` (1..100) jobs; `[]` when none came within `wait_s`. */
  async claimBatch(
    request: ClaimRequest & { max_jobs: number },
    signal?: AbortSignal,
  ): Promise<{ jobs: ClaimedJob[]; serverDateMs: number | undefined }> {
    const answer = await this.send<{ jobs: ClaimedJob[] }>('POST', '/api/v1/worker/claim-batch', request, {
      signal,
      extraMs: (request.wait_s ?? 0) * 1000,
    });
    return { jobs: answer.status === 204 ? [] : answer.body.jobs, serverDateMs: answer.serverDateMs };
  }

  /** `POST /api/v1/worker/jobs/{id}/heartbeat`: extends the lease, reports progress. @throws `lease_lost` (409). */
  async heartbeat(jobId: string, request: HeartbeatRequest, signal?: AbortSignal): Promise<HeartbeatAnswer & { serverDateMs: number | undefined }> {
    const answer = await this.send<HeartbeatAnswer>('POST', `/api/v1/worker/jobs/${encodeURIComponent(jobId)}/heartbeat`, request, { signal });
    return Object.assign({}, answer.body, { serverDateMs: answer.serverDateMs });
  }

  /** `POST /api/v1/worker/jobs/{id}/log`: appends log lines to the job's history. @throws `lease_lost` (409). */
  async log(jobId: string, attempt: number, lines: string[], signal?: AbortSignal): Promise<void> {
    await this.send('POST', `/api/v1/worker/jobs/${encodeURIComponent(jobId)}/log`, { attempt, lines }, { signal });
  }

  /** `POST /api/v1/worker/jobs/{id}/complete`: the job succeeded. @throws `lease_lost` (409). */
  async complete(
    jobId: string,
    request: { attempt: number; result?: unknown; output_files?: string[] },
    signal?: AbortSignal,
  ): Promise<JobView> {
    const answer = await this.send<{ job: JobView }>('POST', `/api/v1/worker/jobs/${encodeURIComponent(jobId)}/complete`, request, { signal });
    return answer.body.job;
  }

  /**
   * `POST /api/v1/worker/jobs/{id}/complete` with `claim_next`: the job succeeded, and the server
   * claims this worker's next job in the same exchange (no long poll). `next` is that job (with
   * `serverDateMs`, as {@link claim} gives it) or null: none was available now, or the claim was
   * refused (`next_error` says why; the completion stands either way).
   * @throws as {@link complete} (then nothing was claimed).
   */
  async completeAndClaim(
    jobId: string,
    request: { attempt: number; result?: unknown; output_files?: string[]; claim_next: Omit<ClaimRequest, 'wait_s'> },
    signal?: AbortSignal,
  ): Promise<{ job: JobView; next: (ClaimedJob & { serverDateMs: number | undefined }) | null; next_error?: { code: string; detail: string } }> {
    const answer = await this.send<{ job: JobView; next?: ClaimedJob | null; next_error?: { code: string; detail: string } }>(
      'POST',
      `/api/v1/worker/jobs/${encodeURIComponent(jobId)}/complete`,
      request,
      { signal },
    );
    const { job, next, next_error } = answer.body;
    return { job, next: next ? Object.assign({}, next, { serverDateMs: answer.serverDateMs }) : null, next_error };
  }

  /** `POST /api/v1/worker/jobs/{id}/fail`: the job is now `queued` (retry later), `failed` or `dead`. @throws `lease_lost` (409). */
  async fail(
    jobId: string,
    request: { attempt: number; error: ReportedError; retryable: boolean },
    signal?: AbortSignal,
  ): Promise<JobView> {
    const answer = await this.send<{ job: JobView }>('POST', `/api/v1/worker/jobs/${encodeURIComponent(jobId)}/fail`, request, { signal });
    return answer.body.job;
  }

  /** `POST /api/v1/worker/jobs/{id}/release`: hands the job back without counting a failure. @throws `lease_lost` (409). */
  async release(jobId: string, request: { attempt: number; checkpoint_file_id?: string }, signal?: AbortSignal): Promise<JobView> {
    const answer = await this.send<{ job: JobView }>('POST', `/api/v1/worker/jobs/${encodeURIComponent(jobId)}/release`, request, { signal });
    return answer.body.job;
  }

  /** `POST /api/v1/worker/complete-batch` (≤ 1000 items): one result per item, in order. */
  async completeBatch(items: Array<{ id: string; attempt: number; result?: unknown }>, signal?: AbortSignal): Promise<CompleteBatchResult[]> {
    const answer = await this.send<{ results: CompleteBatchResult[] }>('POST', '/api/v1/worker/complete-batch', { items }, { signal });
    return answer.body.results;
  }

  /**
   * `POST /api/v1/files`: streams the file at `filePath` (read through `fs.openAsBlob`, never
   * whole in memory) as a `multipart/form-data` part named `file`, after the fields `purpose`,
   * `job_id` and `attempt`.
   * @throws GatehouseApiError `payload_too_large` (413), `lease_lost` (409), `forbidden` (403).
   */
  async uploadFile(
    filePath: string,
    options: { purpose?: string; jobId?: string; attempt?: number; contentType?: string; name?: string },
    signal?: AbortSignal,
  ): Promise<FileMeta> {
    let blob: Blob;
    try {
      blob = await openAsBlob(filePath, { type: options.contentType ?? contentTypeOf(filePath) });
    } catch (error) {
      throw new Error(`cannot read ${filePath} to upload it: ${(error as Error).message}`, { cause: error });
    }
    const form = new FormData();
    if (options.purpose !== undefined) form.append('purpose', options.purpose);
    if (options.jobId !== undefined) form.append('job_id', options.jobId);
    if (options.attempt !== undefined) form.append('attempt', String(options.attempt));
    form.append('file', blob, options.name ?? path.basename(filePath));
    // No time limit: a large upload may take long; the caller's signal still aborts it.
    const answer = await this.send<FileMeta>('POST', '/api/v1/files', form, { signal, noTimeout: true });
    return answer.body;
  }

  /**
   * `GET /api/v1/files/{id}`: streams the file to `destPath` (written beside it, then renamed,
   * so a broken download never leaves a partial file under that name).
   * @returns the number of bytes written.
   */
  async downloadFile(fileId: string, destPath: string, signal?: AbortSignal): Promise<number> {
    const res = await this.fetch('GET', `/api/v1/files/${encodeURIComponent(fileId)}`, undefined, { signal, noTimeout: true });
    if (!res.ok) throw await errorFrom(res);
    if (!res.body) throw new GatehouseNetworkError('the download has no body');
    const temp = `${destPath}.${process.pid}.part`;
    let bytes = 0;
    try {
      const source = Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
      source.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      await pipeline(source, createWriteStream(temp));
      await rename(temp, destPath);
      return bytes;
    } catch (error) {
      await rm(temp, { force: true });
      throw error instanceof GatehouseApiError || error === signal?.reason
        ? error
        : new GatehouseNetworkError(`download of file ${fileId} broke: ${(error as Error).message}`, { cause: error });
    }
  }

  private async fetch(
    method: string,
    urlPath: string,
    body: unknown,
    options: { signal?: AbortSignal; extraMs?: number; noTimeout?: boolean },
  ): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.apiKey}`, 'user-agent': this.userAgent };
    let payload: string | FormData | undefined;
    if (body instanceof FormData) payload = body;
    else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const signals: AbortSignal[] = [];
    if (options.signal) signals.push(options.signal);
    if (!options.noTimeout) signals.push(AbortSignal.timeout(this.timeoutMs + (options.extraMs ?? 0)));
    const signal = signals.length === 0 ? undefined : signals.length === 1 ? signals[0] : AbortSignal.any(signals);
    try {
      return await fetch(`${this.server}${urlPath}`, { method, headers, body: payload, signal, redirect: 'error' });
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (error as Error).message;
      throw new GatehouseNetworkError(`${method} ${urlPath}: ${why}`, { cause: error });
    }
  }

  private async send<T>(
    method: string,
    urlPath: string,
    body: unknown,
    options: { signal?: AbortSignal; extraMs?: number; noTimeout?: boolean } = {},
  ): Promise<Answer<T>> {
    const res = await this.fetch(method, urlPath, body, options);
    if (!res.ok) throw await errorFrom(res);
    const dateHeader = res.headers.get('date');
    const serverDateMs = dateHeader ? Date.parse(dateHeader) : Number.NaN;
    let text: string;
    try {
      text = await res.text();
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      throw new GatehouseNetworkError(`${method} ${urlPath}: the answer broke off`, { cause: error });
    }
    let parsed: unknown;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch (error) {
        throw new GatehouseNetworkError(`${method} ${urlPath}: the answer is not JSON`, { cause: error });
      }
    }
    return { status: res.status, body: parsed as T, serverDateMs: Number.isNaN(serverDateMs) ? undefined : serverDateMs };
  }
}

/** Builds the typed error for a non-2xx response (reads the problem document when there is one). */
async function errorFrom(res: Response): Promise<GatehouseApiError> {
  let problem: Problem | undefined;
  try {
    const text = await res.text();
    if (text && /json/.test(res.headers.get('content-type') ?? '')) problem = JSON.parse(text) as Problem;
  } catch {
    // a body that broke off or is not JSON: the status alone tells what happened
  }
  const retryAfter = Number(res.headers.get('retry-after'));
  return new GatehouseApiError(res.status, problem, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined);
}
