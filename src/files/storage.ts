/**
 * Where file bytes live. The {@link FileStorage} interface is all the rest of Gatehouse knows
 * about it (so an S3-compatible store can replace the local one); {@link LocalFileStorage}
 * keeps bytes in a directory (`FILES_DIR`, default `DATA_DIR/files`).
 *
 * Writes are atomic: bytes go to a temporary file under `<dir>/.tmp`, are flushed with fsync,
 * and only then renamed to their final name, so a crash or an aborted upload never leaves a
 * half-written file visible under a key.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream as fsCreateReadStream, createWriteStream, type ReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat as fsStat } from 'node:fs/promises';
import path from 'node:path';
import { finished, type Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError } from '../shared/errors.js';

/** What {@link FileStorage.put} stored. */
export interface StoredObject {
  /** Opaque storage key (record it; pass it back to read or delete). */
  key: string;
  /** Bytes written. */
  size: number;
  /** Lower-case hex SHA-256 of the bytes, computed while streaming. */
  sha256: string;
}

/** A byte range, both ends inclusive (as in HTTP `Range`), zero-based. */
export interface ByteRange {
  start: number;
  end: number;
}

/** A place to keep uploaded bytes. Keys are opaque strings chosen by the storage. */
export interface FileStorage {
  /**
   * Streams `source` into a new object, never holding it whole in memory.
   * @param options.maxBytes largest accepted size in bytes; beyond it the write stops, nothing
   *   is kept, and the promise rejects with AppError `payload_too_large` (413).
   * @throws AppError `payload_too_large`; AppError `bad_request` (with the source's error as
   *   `cause`) when the source fails or is destroyed before its end (nothing is kept then
   *   either); I/O errors.
   */
  put(source: Readable, options: { maxBytes: number }): Promise<StoredObject>;
  /** The object's bytes, or the inclusive `range` of them. @throws when the key does not exist. */
  createReadStream(key: string, range?: ByteRange): Readable;
  /** The object's size in bytes, or null when no object has this key. */
  stat(key: string): Promise<{ size: number } | null>;
  /** Deletes the object; deleting a missing key is not an error. */
  delete(key: string): Promise<void>;
}

/** Keys of {@link LocalFileStorage}: `<2 hex>/<uuid v4>` (the prefix fans files out over 256 folders). */
const KEY_PATTERN = /^[0-9a-f]{2}\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Counts and hashes the bytes going through; fails once more than `maxBytes` have passed. */
class HashingLimiter extends Transform {
  readonly hash = createHash('sha256');
  size = 0;

  constructor(private readonly maxBytes: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.maxBytes) {
      callback(new AppError('payload_too_large', `The file exceeds the limit of ${this.maxBytes} bytes.`, {
        extra: { max_bytes: this.maxBytes },
      }));
      return;
    }
    this.hash.update(chunk);
    callback(null, chunk);
  }
}

/** {@link FileStorage} in a local directory, created on first write. */
export class LocalFileStorage implements FileStorage {
  private readonly tmpDir: string;

  /** @param dir the root directory (absolute or relative to the working directory). */
  constructor(readonly dir: string) {
    this.tmpDir = path.join(dir, '.tmp');
  }

  /** @inheritdoc */
  async put(source: Readable, options: { maxBytes: number }): Promise<StoredObject> {
    const id = randomUUID();
    const key = `${id.slice(0, 2)}/${id}`;
    const finalPath = this.pathOf(key);
    await mkdir(this.tmpDir, { recursive: true });
    const tmpPath = path.join(this.tmpDir, `${id}.part`);
    const limiter = new HashingLimiter(options.maxBytes);
    // The source is piped by hand rather than handed to pipeline(): a failure here (the limit)
    // must not destroy it, because a multipart parser stalls the whole request when one of its
    // part streams is destroyed; instead it is left to drain into nothing.
    // A source that fails, or is destroyed before its end (a client that disconnects), fails
    // the write; pipe() alone would leave it waiting forever.
    const stopWatching = finished(source, (error) => {
      if (error) {
        limiter.destroy(new AppError('bad_request', 'The upload ended before the file was complete.', { cause: error }));
      }
    });
    source.pipe(limiter);
    try {
      await pipeline(limiter, createWriteStream(tmpPath, { flags: 'wx', mode: 0o600 }));
      // Durable before visible: the rename below must never expose bytes still in the page cache.
      await syncPath(tmpPath, 'r+');
      await mkdir(path.dirname(finalPath), { recursive: true });
      await rename(tmpPath, finalPath);
      await syncPath(path.dirname(finalPath), 'r').catch(() => undefined);
      return { key, size: limiter.size, sha256: limiter.hash.digest('hex') };
    } catch (error) {
      source.unpipe(limiter);
      if (!source.destroyed) source.resume();
      await rm(tmpPath, { force: true });
      throw error;
    } finally {
      stopWatching();
    }
  }

  /**
   * Deletes temporary files of uploads that never finished (the process was killed mid-upload)
   * and were last written more than `olderThanMs` ago; younger ones may belong to an upload still
   * running in another instance sharing the directory.
   * @returns how many were removed.
   */
  async removeStaleTemporaryFiles(olderThanMs: number, now = Date.now()): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.tmpDir);
    } catch {
      return 0;
    }
    let removed = 0;
    for (const name of names) {
      if (!name.endsWith('.part')) continue;
      const file = path.join(this.tmpDir, name);
      const info = await fsStat(file).catch(() => null);
      if (!info || now - info.mtimeMs < olderThanMs) continue;
      await rm(file, { force: true });
      removed++;
    }
    return removed;
  }

  /** @inheritdoc */
  createReadStream(key: string, range?: ByteRange): ReadStream {
    return fsCreateReadStream(this.pathOf(key), range ? { start: range.start, end: range.end } : {});
  }

  /** @inheritdoc */
  async stat(key: string): Promise<{ size: number } | null> {
    try {
      const s = await fsStat(this.pathOf(key));
      return s.isFile() ? { size: s.size } : null;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  /** @inheritdoc */
  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  /** The absolute path of `key`. @throws Error for a key this storage never issued (no path tricks). */
  private pathOf(key: string): string {
    if (!KEY_PATTERN.test(key)) throw new Error(`not a storage key: ${JSON.stringify(key)}`);
    return path.join(this.dir, key);
  }
}

/**
 * fsyncs a file or directory by path (fsync applies to the file, whichever descriptor is used).
 * Directory syncs make a rename durable; some platforms (Windows) refuse them, so callers may
 * ignore that failure.
 */
async function syncPath(target: string, flags: 'r' | 'r+'): Promise<void> {
  const handle = await open(target, flags);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
