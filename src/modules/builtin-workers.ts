/**
 * Built-in workers in the server: each module's {@link BuiltinWorker} runs in worker threads
 * (`BUILTIN_WORKER_THREADS` each) that claim over the server's own HTTP address with an API key the
 * server mints for its service identity, so they go through the same protocol, leases and fencing
 * as remote workers, and CPU-heavy handlers never block the server's event loop.
 *
 * Identity: one `worker` account (`builtin-workers@gatehouse.invalid`, random password), one key per
 * built-in worker and server process, named `builtin:<host>:<pid>:<worker>`, scoped `jobs:claim`,
 * revoked when the server stops. Keys of earlier processes on the same host (a crash) are revoked at
 * start.
 */
import { hostname } from 'node:os';
import { Worker as Thread } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { AccountService } from '../accounts/accounts.service.js';
import type { ApiKeyService } from '../access/api-keys.service.js';
import { SYSTEM_ACTOR } from '../audit/audit.service.js';
import { ConfigError } from '../config.js';
import { BUILTIN_WORKER_EMAIL } from '../shared/service-accounts.js';
import type { BuiltinThreadData, BuiltinThreadMessage } from './builtin-thread.js';
import type { BuiltinWorker } from './contract.js';

/** The service account built-in workers act as. */
/** How long stopping threads may take to finish their jobs before they are released and ended, in ms. */
const STOP_GRACE_MS = 30_000;

/**
 * Picks the built-in workers `BUILTIN_WORKERS` names among those the modules ship.
 * @throws Error when two modules ship workers of one name; ConfigError naming an unknown worker.
 */
export function selectBuiltinWorkers(available: readonly BuiltinWorker[], wanted: 'all' | readonly string[]): BuiltinWorker[] {
  const byName = new Map<string, BuiltinWorker>();
  for (const worker of available) {
    if (!/^[a-z][a-z0-9-]{0,39}$/.test(worker.name)) throw new Error(`Built-in worker name "${worker.name}" must match [a-z][a-z0-9-]*.`);
    if (byName.has(worker.name)) throw new Error(`Two modules ship a built-in worker called ${worker.name}.`);
    byName.set(worker.name, worker);
  }
  if (wanted === 'all') return [...byName.values()];
  const unknown = wanted.filter((name) => !byName.has(name));
  if (unknown.length) {
    throw new ConfigError([`BUILTIN_WORKERS: no built-in worker called ${unknown.join(', ')} (there are: ${[...byName.keys()].join(', ') || 'none'})`]);
  }
  return wanted.map((name) => byName.get(name)!);
}

/** Options for {@link BuiltinWorkers}. */
export interface BuiltinWorkersOptions {
  workers: readonly BuiltinWorker[];
  /** Threads per worker. */
  threads: number;
  accounts: Pick<AccountService, 'ensureServiceUser'>;
  apiKeys: Pick<ApiKeyService, 'createForService' | 'list' | 'revoke'>;
  logger: Logger;
}

interface Running {
  worker: BuiltinWorker;
  keyId: string;
  threads: Array<{ thread: Thread; exited: Promise<void> }>;
}

/** The threads of the server's built-in workers. */
export class BuiltinWorkers {
  private running: Running[] = [];
  private userId: string | undefined;

  constructor(private readonly options: BuiltinWorkersOptions) {}

  /** Names of the built-in workers this server runs (once started). */
  get names(): string[] {
    return this.options.workers.map((w) => w.name);
  }

  /**
   * Starts every selected worker's threads against `serverUrl` (the server's own address).
   * @throws when the service account or a key cannot be created (the server should not start half-staffed).
   */
  async start(serverUrl: string): Promise<void> {
    if (!this.options.workers.length || this.running.length) return;
    const { accounts, apiKeys, logger } = this.options;
    const user = await accounts.ensureServiceUser({ email: BUILTIN_WORKER_EMAIL, name: 'Built-in workers', role: 'worker' });
    this.userId = user.id;
    const prefix = `builtin:${hostname()}:`;
    await this.revokeKeys((name) => name.startsWith(prefix));
    for (const worker of this.options.workers) {
      const { key, secret } = await apiKeys.createForService(user.id, { name: `${prefix}${process.pid}:${worker.name}`, scopes: ['jobs:claim'] }, SYSTEM_ACTOR);
      const entry: Running = { worker, keyId: key.id, threads: [] };
      this.running.push(entry);
      for (let i = 0; i < this.options.threads; i++) entry.threads.push(this.spawn(worker, serverUrl, secret, i));
      logger.info({ worker: worker.name, threads: this.options.threads, queues: worker.queues }, 'built-in worker started');
    }
  }

  /**
   * Stops claiming, lets running jobs finish for `graceMs`, then releases them and ends the
   * threads; revokes the keys. Safe to call twice.
   */
  async stop(graceMs = STOP_GRACE_MS): Promise<void> {
    const running = this.running;
    this.running = [];
    const threads = running.flatMap((r) => r.threads);
    for (const { thread } of threads) thread.postMessage({ type: 'stop', release: false });
    const release = setTimeout(() => {
      for (const { thread } of threads) thread.postMessage({ type: 'stop', release: true });
    }, graceMs);
    // A handler that ignores its abort signal must not hold the shutdown forever.
    const end = setTimeout(() => void Promise.all(threads.map(({ thread }) => thread.terminate())), graceMs + 5000);
    try {
      await Promise.all(threads.map((t) => t.exited));
    } finally {
      clearTimeout(release);
      clearTimeout(end);
    }
    const keys = new Set(running.map((r) => r.keyId));
    if (keys.size) await this.revokeKeys((_name, id) => keys.has(id));
  }

  private spawn(worker: BuiltinWorker, server: string, apiKey: string, index: number): { thread: Thread; exited: Promise<void> } {
    const { logger } = this.options;
    // Run from source (tests, tsx): the thread and a TypeScript handler module need tsx's loader.
    const fromSource = import.meta.url.endsWith('.ts') || worker.handlers.pathname.endsWith('.ts');
    const data: BuiltinThreadData = {
      server,
      apiKey,
      name: `${worker.name}-${index + 1}@${hostname()}`,
      queues: [...worker.queues],
      kinds: [...worker.kinds],
      handlers: worker.handlers.href,
    };
    const threadUrl = new URL(import.meta.url.endsWith('.ts') ? './builtin-thread.ts' : './builtin-thread.js', import.meta.url);
    const thread = fromSource
      ? // tsx's loader (a dev dependency) registered inside the thread, then the TypeScript thread body.
        new Thread(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(threadUrl.href)}); });`, { eval: true, workerData: data })
      : new Thread(threadUrl, { workerData: data });
    const log = logger.child({ component: 'builtin-worker', worker: data.name });
    thread.on('message', (message: BuiltinThreadMessage) => {
      if (message.type === 'log') log[message.level === 'debug' ? 'debug' : message.level]({ ...message.fields }, message.message);
      else if (message.type === 'fatal') log.error({ err: message.message }, 'built-in worker stopped on an error');
    });
    thread.on('error', (error) => log.error({ err: error.message }, 'built-in worker thread crashed'));
    const exited = new Promise<void>((resolve) => thread.once('exit', () => resolve()));
    return { thread, exited };
  }

  private async revokeKeys(select: (name: string, id: string) => boolean): Promise<void> {
    if (!this.userId) return;
    const { apiKeys, logger } = this.options;
    let afterId: string | undefined;
    for (;;) {
      const page = await apiKeys.list({ userId: this.userId, limit: 200, afterId });
      for (const key of page.items) {
        if (!select(key.name, key.id)) continue;
        try {
          await apiKeys.revoke(key.id, { userId: this.userId, asAdmin: true }, SYSTEM_ACTOR);
        } catch (error) {
          logger.warn({ key: key.id, err: (error as Error).message }, 'could not revoke a built-in worker key');
        }
      }
      if (!page.next) return;
      afterId = page.next;
    }
  }
}
