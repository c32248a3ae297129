/**
 * argon2id on a pool of worker threads of its own, one per core, each calling @node-rs/argon2's
 * synchronous `hashSync` / `verifySync` on its own thread: the hashes never run on the event loop
 * nor on libuv's shared pool (file system, DNS), and each hashing thread may lower its own
 * scheduling priority (Linux: `setpriority(2)` on the thread id read from `/proc/thread-self`) so
 * that the event loop wins the CPU when both want it. Threads start at the first hash and do not
 * keep the process alive while idle.
 */
import { readlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { Worker } from 'node:worker_threads';

/** What a hashing thread is asked to do. */
type Job =
  | { op: 'hash'; password: string; options: { algorithm: number; memoryCost: number; timeCost: number; parallelism: number } }
  | { op: 'verify'; hash: string; password: string };

interface Pending {
  job: Job;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

/**
 * The code each hashing thread runs (CommonJS, evaluated): renices itself by `nice` (relative to
 * the process's niceness, at most 19), then answers `{ id, result }` or `{ id, error }` per job.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const argon2 = require(workerData.argon2Path);
if (workerData.nice > 0) {
  try {
    const os = require('node:os');
    const tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop());
    os.setPriority(tid, Math.min(19, os.getPriority(tid) + workerData.nice));
  } catch {
    // Not Linux, or not allowed: the thread keeps the process's priority.
  }
}
parentPort.on('message', ({ id, job }) => {
  try {
    const result = job.op === 'hash' ? argon2.hashSync(job.password, job.options) : argon2.verifySync(job.hash, job.password);
    parentPort.postMessage({ id, result });
  } catch (error) {
    parentPort.postMessage({ id, error: error instanceof Error ? error.message : String(error) });
  }
});
`;

/** True when this platform lets a thread change its own priority (Linux, `/proc/thread-self`). */
export function canReniceThreads(): boolean {
  try {
    readlinkSync('/proc/thread-self');
    return true;
  } catch {
    return false;
  }
}

/** A fixed-size pool of argon2 threads with a FIFO queue (see the module comment). */
export class Argon2Pool {
  private readonly idle: Worker[] = [];
  private readonly busy = new Map<Worker, Pending>();
  private readonly queue: Pending[] = [];
  private started = 0;
  private readonly argon2Path = createRequire(import.meta.url).resolve('@node-rs/argon2');

  /**
   * @param size hashing threads (default: the number of cores).
   * @param nice how much lower than the process's priority the threads run (0..19; 0 = the same).
   */
  constructor(
    readonly size: number = Math.max(1, os.availableParallelism()),
    readonly nice: number = 0,
  ) {}

  /** An argon2id PHC hash of `password` with the given cost (memory in KiB). */
  hash(password: string, options: { memoryCost: number; timeCost: number; parallelism: number }): Promise<string> {
    // 2 = Algorithm.Argon2id (a const enum of @node-rs/argon2).
    return this.run({ op: 'hash', password, options: { algorithm: 2, ...options } }) as Promise<string>;
  }

  /** Whether `password` matches the argon2 PHC string `hash`. @throws Error for a malformed hash. */
  verify(hash: string, password: string): Promise<boolean> {
    return this.run({ op: 'verify', hash, password }) as Promise<boolean>;
  }

  private run(job: Job): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.queue.push({ job, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const worker = this.idle.pop() ?? (this.started < this.size ? this.spawn() : undefined);
      if (!worker) return;
      const pending = this.queue.shift() as Pending;
      this.busy.set(worker, pending);
      worker.ref();
      worker.postMessage({ id: 0, job: pending.job });
    }
  }

  private spawn(): Worker {
    this.started++;
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { argon2Path: this.argon2Path, nice: this.nice } });
    worker.on('message', (message: { result?: unknown; error?: string }) => {
      const pending = this.busy.get(worker);
      this.busy.delete(worker);
      worker.unref();
      this.idle.push(worker);
      if (pending) {
        if (message.error !== undefined) pending.reject(new Error(message.error));
        else pending.resolve(message.result);
      }
      this.dispatch();
    });
    let dead = false;
    const lost = (error: Error) => {
      // A thread that died (out of memory, terminated) fails its job and is replaced on demand.
      if (dead) return;
      dead = true;
      const pending = this.busy.get(worker);
      this.busy.delete(worker);
      const at = this.idle.indexOf(worker);
      if (at >= 0) this.idle.splice(at, 1);
      this.started--;
      pending?.reject(error);
      this.dispatch();
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`argon2 thread exited (code ${code})`)));
    return worker;
  }
}

const pools = new Map<string, Argon2Pool>();

/** The process's shared pool for `nice` (one pool per niceness, sized to the cores). */
export function sharedArgon2Pool(nice: number): Argon2Pool {
  const key = String(nice);
  let pool = pools.get(key);
  if (!pool) {
    pool = new Argon2Pool(Math.max(1, os.availableParallelism()), nice);
    pools.set(key, pool);
  }
  return pool;
}
