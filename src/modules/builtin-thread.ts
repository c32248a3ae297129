/**
 * The body of one built-in worker thread (src/modules/builtin-workers.ts): loads the handler
 * module named in `workerData` and runs the worker SDK against the server's own HTTP address, so a
 * built-in worker claims, heartbeats and completes exactly as a remote worker does. Log lines and
 * the final state go to the parent as messages; `{type: 'stop', release}` stops it gracefully.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type JobHandler, Worker, type WorkerLogger } from '../worker/index.js';

/** What the parent hands a thread. */
export interface BuiltinThreadData {
  server: string;
  apiKey: string;
  name: string;
  queues: string[];
  kinds: string[];
  /** `file:` URL of the handler module. */
  handlers: string;
}

/** Messages a thread sends its parent. */
export type BuiltinThreadMessage =
  | { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; message: string; fields?: Record<string, unknown> | undefined }
  | { type: 'ready' }
  | { type: 'fatal'; message: string };

const port = parentPort;
if (!port) throw new Error('builtin-thread.ts runs only as a worker thread');
const data = workerData as BuiltinThreadData;
const send = (message: BuiltinThreadMessage) => port.postMessage(message);
const log =
  (level: 'debug' | 'info' | 'warn' | 'error') =>
  (message: string, fields?: Record<string, unknown>): void =>
    send({ type: 'log', level, message, fields });
const logger: WorkerLogger = { info: log('info'), warn: log('warn'), error: log('error') };

try {
  const loaded = (await import(data.handlers)) as { default?: Record<string, JobHandler> };
  const handlers = loaded.default;
  if (!handlers || typeof handlers !== 'object') throw new Error(`${data.handlers} must export default { [kind]: handler }`);
  const worker = new Worker({ server: data.server, apiKey: data.apiKey, name: data.name, queues: data.queues, kinds: data.kinds, logger });
  for (const [kind, handler] of Object.entries(handlers)) worker.handle(kind, handler);
  port.on('message', (message: { type?: string; release?: boolean }) => {
    if (message?.type === 'stop') void worker.stop({ release: message.release === true });
  });
  send({ type: 'ready' });
  await worker.run();
} catch (error) {
  send({ type: 'fatal', message: error instanceof Error ? error.message : String(error) });
} finally {
  port.close();
}
