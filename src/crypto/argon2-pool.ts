/**
 * argon2id off the event loop, on worker threads of their own, one per core, each running at a
 * lower scheduling priority (nice +10) than the event loop.
 *
 * @node-rs/argon2's async calls run on libuv's thread pool at the event loop's priority: while
 * logins saturate the cores, every other request (a `/healthz` probe, an API call) waits for the
 * kernel to give the event loop a turn between hash threads. In its own worker a hash runs as a
 * synchronous call of that thread, whose priority can be lowered on Linux (`setpriority` acts on
 * the calling thread there): the event loop then gets the CPU as soon as it has work, and
 * hashing uses whatever is left, so logins keep the throughput of raw verifies while the server
 * stays responsive.
 *
 * Workers start on first use and are unreferenced while idle, so they never keep a process (the
 * CLI, a test) alive. The worker's code is plain JavaScript evaluated in the worker, so it runs
 * the same from dist/ and from sources loaded by a TypeScript loader.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const os = require('node:os');
const argon2 = require(workerData.argon2Path);
try { os.setPriority(0, workerData.nice); } catch {}
parentPort.on('message', (task) => {
  let result;
  let error = null;
  try {
    result = task.op === 'hash'
      ? argon2.hashSync(task.password, task.options)
      : argon2.verifySync(task.hash, task.password);
  } catch (e) {
    error = e instanceof Error ? e.message : String(e);
  }
  parentPort.postMessage({ id: task.id, result, error });
});
`;

/** argon2 options as @node-rs/argon2 takes them. */
export interface Argon2Options {
  algorithm: number;
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

type Task =
  | { op: 'hash'; password: string; options: Argon2Options }
  | { op: 'verify'; hash: string; password: string };

interface Pending {
  slot: PoolWorker;
  resolve(value: string | boolean): void;
  reject(error: Error): void;
}

interface PoolWorker {
  worker: Worker;
  busy: number;
}

/** Niceness of the hash threads: below the event loop, which keeps the default 0. */
const HASH_THREAD_NICE = 10;

/** A fixed set of argon2 worker threads (see the module comment). */
export class Argon2Pool {
  private readonly workers: PoolWorker[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private next = 0;

  /** @param size threads (and so hashes running at once); callers queue beyond it. */
  constructor(private readonly size: number) {}

  /** PHC-format hash of `password`. */
  hash(password: string, options: Argon2Options): Promise<string> {
    return this.run({ op: 'hash', password, options }) as Promise<string>;
  }

  /** Whether `password` matches the PHC string `hash`. @throws for a malformed hash. */
  verify(hash: string, password: string): Promise<boolean> {
    return this.run({ op: 'verify', hash, password }) as Promise<boolean>;
  }

  private run(task: Task): Promise<string | boolean> {
    const slot = this.pick();
    const id = this.nextId++;
    slot.busy++;
    if (slot.busy === 1) slot.worker.ref();
    return new Promise((resolve, reject) => {
      this.pending.set(id, {
        slot,
        resolve: (value) => {
          this.settle(slot);
          resolve(value);
        },
        reject: (error) => {
          this.settle(slot);
          reject(error);
        },
      });
      slot.worker.postMessage({ ...task, id });
    });
  }

  private settle(slot: PoolWorker): void {
    slot.busy--;
    if (slot.busy === 0) slot.worker.unref();
  }

  /** The least busy worker, starting one while fewer than `size` run. */
  private pick(): PoolWorker {
    const idle = this.workers.find((w) => w.busy === 0);
    if (idle) return idle;
    if (this.workers.length < this.size) return this.start();
    this.next = (this.next + 1) % this.workers.length;
    return this.workers.reduce((a, b) => (b.busy < a.busy ? b : a), this.workers[this.next] as PoolWorker);
  }

  private start(): PoolWorker {
    const argon2Path = createRequire(import.meta.url).resolve('@node-rs/argon2');
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { argon2Path, nice: HASH_THREAD_NICE } });
    worker.unref();
    const slot: PoolWorker = { worker, busy: 0 };
    worker.on('message', (message: { id: number; result: string | boolean; error: string | null }) => {
      const pending = this.pending.get(message.id);
      if (!pending) return;
      this.pending.delete(message.id);
      if (message.error !== null) pending.reject(new Error(message.error));
      else pending.resolve(message.result);
    });
    worker.on('error', (error) => {
      // A crashed worker fails the work it had; a new one replaces it on the next call.
      const index = this.workers.indexOf(slot);
      if (index >= 0) this.workers.splice(index, 1);
      for (const [id, pending] of this.pending) {
        if (pending.slot !== slot) continue;
        this.pending.delete(id);
        pending.reject(error);
      }
    });
    this.workers.push(slot);
    return slot;
  }
}
