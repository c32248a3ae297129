/**
 * WAL checkpoints for a SQLite file off the event loop.
 *
 * In WAL mode a commit only appends pages to the `-wal` file; copying them back into the database
 * file (a checkpoint) is left to whichever commit pushes the WAL past `wal_autocheckpoint` pages
 * (1000 by default), and that checkpoint runs inside the commit, on the thread that committed,
 * with an fsync of the WAL and of the database file. For the server that thread is the event
 * loop: every few dozen sign-ins one of them stalled it for milliseconds (the `/healthz` p99
 * under a login storm, bench/RESULTS.md). Here a worker thread with a connection of its own runs
 * `PRAGMA wal_checkpoint(PASSIVE)` every {@link CHECKPOINT_INTERVAL_MS}, and the server's
 * connection checkpoints by itself only as a backstop (see {@link BACKSTOP_AUTOCHECKPOINT_PAGES}).
 *
 * A PASSIVE checkpoint never waits for readers or writers and never blocks them; a checkpoint
 * changes no content, so it does not move other connections' `PRAGMA data_version` (the caches'
 * change signal).
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** How often the checkpointing thread copies the WAL back into the database file, in ms. */
export const CHECKPOINT_INTERVAL_MS = 200;

/**
 * `wal_autocheckpoint` of the server's own connection while a checkpointer runs: only if the
 * thread falls this far behind (or died) does a commit on the event loop checkpoint itself, as
 * SQLite does by default at 1000 pages.
 */
export const BACKSTOP_AUTOCHECKPOINT_PAGES = 20_000;

/** What the checkpointing thread runs (CommonJS, evaluated). */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driverPath);
const db = new Database(workerData.file, { fileMustExist: true });
// A PASSIVE checkpoint takes no lock that waits; a busy timeout only matters for opening.
db.pragma('busy_timeout = 1000');
// This connection never writes; the server's connection chose WAL mode already.
let frames = 0;
const checkpoint = () => {
  try {
    const [result] = db.pragma('wal_checkpoint(PASSIVE)');
    if (result && result.checkpointed > 0) frames += result.checkpointed;
  } catch {
    // SQLITE_BUSY (another checkpoint running, e.g. a CLI process's): try again next time.
  }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message === 'checkpoint') {
    checkpoint();
    parentPort.postMessage({ frames });
  } else if (message === 'stop') {
    clearInterval(timer);
    db.close();
    parentPort.close();
  }
});
`;

/** A running checkpointing thread for one SQLite file (see the module comment). */
export class SqliteCheckpointer {
  private readonly worker: Worker;
  private stopped: Promise<void> | undefined;
  private exited = false;
  /** `checkpointNow` calls run one after another (one message in flight). */
  private pending: Promise<unknown> = Promise.resolve();

  /**
   * Starts the thread. It opens `file` itself (which must exist, in WAL mode), and does not keep
   * the process alive.
   * @param intervalMs how often it checkpoints (default {@link CHECKPOINT_INTERVAL_MS}).
   */
  constructor(file: string, intervalMs: number = CHECKPOINT_INTERVAL_MS) {
    const driverPath = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, driverPath, intervalMs } });
    this.worker.unref();
    // A thread that fails (the file vanished, the addon failed to load) leaves the backstop to
    // the server's connection; it must not take the process down.
    this.worker.on('error', () => undefined);
    this.worker.on('exit', () => {
      this.exited = true;
    });
  }

  /**
   * Runs a checkpoint now on the thread (tests; a shutdown that wants the WAL short).
   * @returns how many WAL frames the thread has copied back so far, this one included.
   */
  checkpointNow(): Promise<number> {
    const next = this.pending.then(() => this.askForCheckpoint());
    this.pending = next.catch(() => undefined);
    return next;
  }

  private askForCheckpoint(): Promise<number> {
    if (this.exited) return Promise.reject(new Error('the checkpoint thread has stopped'));
    // While an answer is awaited the thread must keep the process alive, or an otherwise idle
    // process would exit in the middle of the await.
    this.worker.ref();
    return new Promise((resolve, reject) => {
      const onMessage = (message: { frames: number }) => {
        this.worker.off('exit', onExit);
        this.worker.unref();
        resolve(message.frames);
      };
      const onExit = () => {
        this.worker.off('message', onMessage);
        reject(new Error('the checkpoint thread has stopped'));
      };
      this.worker.once('message', onMessage);
      this.worker.once('exit', onExit);
      this.worker.postMessage('checkpoint');
    });
  }

  /** Stops the thread and closes its connection. Safe to call twice. */
  stop(): Promise<void> {
    this.stopped ??= new Promise<void>((resolve) => {
      if (this.exited) return resolve();
      // Referenced until it has exited: otherwise a process with nothing else left to do would
      // exit while `close()` awaits this, before whatever follows the close (an error message,
      // an exit code) has run.
      this.worker.ref();
      this.worker.once('exit', () => resolve());
      this.worker.postMessage('stop');
    });
    return this.stopped;
  }
}
