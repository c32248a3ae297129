/**
 * Named fixtures for the live-progress tests: queues, jobs and their events written the way the
 * JobService writes them (the job row and its `job_event` rows in one transaction, `event_seq`
 * bumped by the same UPDATE, then `hub.publish` after commit), a worker row behind an API key, and
 * real SSE / WebSocket clients.
 */
import WebSocket from 'ws';
import type { Gatehouse } from '../../src/container.js';
import type { JobEventType, JobEventView } from '../../src/jobs/model.js';
import { toJobEventView } from '../../src/jobs/model.js';
import { newId } from '../../src/shared/ids.js';

/** Creates a queue row. */
export async function makeQueue(gatehouse: Gatehouse, overrides: { name?: string; enqueuePermission?: string } = {}): Promise<string> {
  const name = overrides.name ?? `q-${Math.random().toString(36).slice(2, 10)}`;
  const now = new Date().toISOString();
  await gatehouse.database.db
    .insertInto('queue')
    .values({
      name,
      description: '',
      paused: 0,
      lease_seconds: 60,
      max_attempts: 5,
      max_lease_expiries: 3,
      backoff_base_seconds: 10,
      backoff_max_seconds: 3600,
      enqueue_permission: overrides.enqueuePermission ?? 'jobs:enqueue',
      claim_permission: 'jobs:claim',
      worker_concurrency: 1,
      created_at: now,
      updated_at: now,
    })
    .execute();
  return name;
}

/** Appends one event to a job in its own transaction and publishes it after commit. */
export async function appendEvent(
  gatehouse: Gatehouse,
  jobId: string,
  type: JobEventType,
  data: Record<string, unknown>,
  changes: { state?: 'queued' | 'running' | 'paused' | 'succeeded'; worker_id?: string | null; progress?: number } = {},
): Promise<JobEventView> {
  const now = new Date().toISOString();
  const { message } = await gatehouse.database.db.transaction().execute(async (trx) => {
    const row = await trx
      .updateTable('job')
      .set((eb) => ({ event_seq: eb('event_seq', '+', 1), updated_at: now, ...changes }))
      .where('id', '=', jobId)
      .returningAll()
      .executeTakeFirstOrThrow();
    const event = await trx
      .insertInto('job_event')
      .values({ job_id: row.id, queue: row.queue, seq: row.event_seq, type, data: JSON.stringify(data), created_at: now })
      .returningAll()
      .executeTakeFirstOrThrow();
    return { message: { event: toJobEventView(event), owner_id: row.owner_id } };
  });
  gatehouse.hub.publish([message]);
  return message.event;
}

/** Creates a queued job (with its first `state` event) owned by `ownerId`. @returns its id. */
export async function makeJob(gatehouse: Gatehouse, queue: string, ownerId: string | null): Promise<string> {
  const id = newId();
  const now = new Date().toISOString();
  await gatehouse.database.db
    .insertInto('job')
    .values({
      id,
      queue,
      kind: 'test',
      payload: '{}',
      priority: 0,
      run_after: now,
      idempotency_key: null,
      state: 'queued',
      attempt: 0,
      failures: 0,
      lease_expiries: 0,
      lease_expires_at: null,
      worker_id: null,
      progress: 0,
      progress_message: null,
      metrics: null,
      result: null,
      error: null,
      input_files: '[]',
      output_files: '[]',
      checkpoint_file_id: null,
      owner_id: ownerId,
      parent_type: null,
      parent_id: null,
      event_seq: 0,
      created_at: now,
      started_at: null,
      heartbeat_at: null,
      finished_at: null,
      updated_at: now,
    })
    .execute();
  await appendEvent(gatehouse, id, 'state', { state: 'queued', from: null, attempt: 0 });
  return id;
}

/** A progress event (`{progress, message}`) for a job. */
export function progress(gatehouse: Gatehouse, jobId: string, value: number): Promise<JobEventView> {
  return appendEvent(gatehouse, jobId, 'progress', { progress: value, message: `at ${value}` }, { progress: value });
}

/** Registers a worker row for an API key (its id is the key's id, as the worker protocol makes it). @returns the worker id. */
export async function registerWorker(gatehouse: Gatehouse, userId: string, apiKeyId: string): Promise<string> {
  const id = apiKeyId;
  const now = new Date().toISOString();
  await gatehouse.database.db
    .insertInto('worker')
    .values({ id, api_key_id: apiKeyId, user_id: userId, name: 'w', capabilities: '{"queues":[],"kinds":null}', created_at: now, last_seen_at: now })
    .execute();
  return id;
}

/** One parsed SSE message. */
export interface SseMessage {
  id?: string;
  event?: string;
  data?: string;
  retry?: string;
  /** Comment lines (`: ping`). */
  comments: string[];
}

/** Waits until `probe()` holds, polling every 5 ms, or throws after `ms`. */
export async function until(probe: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!probe()) {
    if (Date.now() - start > ms) throw new Error(`${what} not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A real SSE client over `fetch`: collects messages as they stream in. */
export class SseClient {
  readonly messages: SseMessage[] = [];
  readonly controller = new AbortController();
  status = 0;
  headers: Headers | undefined;
  body = '';
  ended = false;
  private done: Promise<void> = Promise.resolve();

  /** The job events received, parsed. */
  get events(): JobEventView[] {
    return this.messages.filter((m) => m.data !== undefined && m.event?.startsWith('job.')).map((m) => JSON.parse(m.data!) as JobEventView);
  }

  /** Opens the stream; resolves once the status line arrived (error bodies are read whole). */
  static async open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const client = new SseClient();
    const res = await fetch(url, { headers, signal: client.controller.signal });
    client.status = res.status;
    client.headers = res.headers;
    if (res.status !== 200 || !res.body) {
      client.body = await res.text();
      client.ended = true;
      return client;
    }
    client.done = client.read(res.body);
    return client;
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let pending = '';
    try {
      for await (const chunk of body) {
        pending += decoder.decode(chunk, { stream: true });
        let cut: number;
        while ((cut = pending.indexOf('\n\n')) >= 0) {
          const block = pending.slice(0, cut);
          pending = pending.slice(cut + 2);
          const message: SseMessage = { comments: [] };
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) message.comments.push(line.slice(1).trim());
            else {
              const colon = line.indexOf(':');
              const field = line.slice(0, colon);
              const value = line.slice(colon + 1).replace(/^ /, '');
              (message as unknown as Record<string, string>)[field] = value;
            }
          }
          this.messages.push(message);
        }
      }
    } catch {
      // aborted
    } finally {
      this.ended = true;
    }
  }

  /** Waits until at least `n` job events arrived. */
  async waitForEvents(n: number, ms = 10_000): Promise<JobEventView[]> {
    await until(() => this.events.length >= n, ms, `${n} events (have ${this.events.length})`);
    return this.events;
  }

  /** Disconnects. */
  async close(): Promise<void> {
    this.controller.abort();
    await this.done;
  }
}

/**
 * Opens SSE streams on `GET /api/v1/events?<query>` of the app listening at `base()` and keeps
 * every one it opened, so the test file's `afterAll` ends them with `closeAll()`.
 */
export function sseStreams(base: () => string): { open(query: string, headers?: Record<string, string>): Promise<SseClient>; closeAll(): Promise<void> } {
  const opened: SseClient[] = [];
  return {
    async open(query, headers = {}) {
      const client = await SseClient.open(`${base()}/api/v1/events?${query}`, headers);
      opened.push(client);
      return client;
    },
    async closeAll() {
      for (const client of opened.splice(0)) await client.close();
    },
  };
}

/** A `ws` client that records every server message. */
export class WsClient {
  readonly received: Array<Record<string, unknown>> = [];
  closed = false;
  /** The close code and reason the server sent (RFC 6455 §7.1.5-6), once closed. */
  closeCode: number | undefined;
  closeReason = '';

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => this.received.push(JSON.parse(String(data)) as Record<string, unknown>));
    socket.on('close', (code, reason) => {
      this.closeCode = code;
      this.closeReason = reason.toString('utf8');
      this.closed = true;
    });
  }

  /** Connects; rejects with `Unexpected server response: <status>` when the upgrade is refused. */
  static connect(url: string, headers: Record<string, string> = {}): Promise<WsClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { headers, perMessageDeflate: false });
      socket.once('open', () => resolve(new WsClient(socket)));
      socket.once('unexpected-response', (_req, res) => {
        reject(new Error(`Unexpected server response: ${res.statusCode}`));
        socket.terminate();
      });
      socket.once('error', reject);
    });
  }

  /** Sends a JSON message. */
  send(message: unknown): void {
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** Events received so far. */
  get events(): JobEventView[] {
    return this.received.filter((m) => m.type === 'event').map((m) => m.event as JobEventView);
  }

  /** Waits for the first message after index `from` matching `match`. */
  async waitFor(match: (m: Record<string, unknown>) => boolean, from = 0, ms = 5000): Promise<Record<string, unknown>> {
    let found: Record<string, unknown> | undefined;
    await until(() => (found = this.received.slice(from).find(match)) !== undefined, ms, 'websocket message');
    return found!;
  }

  close(): void {
    this.socket.close();
  }
}
