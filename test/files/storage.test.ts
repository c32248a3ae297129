/**
 * LocalFileStorage on a real temporary directory: streaming writes with SHA-256, the byte limit,
 * a failing source leaving nothing behind, ranged reads, deletes, and keys it never issued.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalFileStorage } from '../../src/files/storage.js';
import { isAppError } from '../../src/shared/errors.js';
import { filesUnder } from './files-helpers.js';

function chunksOf(bytes: Buffer, size = 64 * 1024): Readable {
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return Readable.from(chunks);
}

describe('LocalFileStorage', () => {
  let dir: string;
  let storage: LocalFileStorage;

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-storage-'));
    storage = new LocalFileStorage(path.join(dir, 'files'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('streams a file in, with its size and SHA-256, and reads it back whole and in ranges', async () => {
    const bytes = randomBytes(1024 * 1024 + 17);
    const stored = await storage.put(chunksOf(bytes), { maxBytes: 2 * 1024 * 1024 });
    expect(stored.size).toBe(bytes.length);
    expect(stored.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(stored.key).toMatch(/^[0-9a-f]{2}\/[0-9a-f-]{36}$/);
    expect(await storage.stat(stored.key)).toEqual({ size: bytes.length });
    expect((await buffer(storage.createReadStream(stored.key))).equals(bytes)).toBe(true);
    expect((await buffer(storage.createReadStream(stored.key, { start: 5, end: 9 }))).equals(bytes.subarray(5, 10))).toBe(true);
    expect(filesUnder(storage.dir)).toEqual([stored.key]);
  });

  it('two puts get different keys', async () => {
    const a = await storage.put(Readable.from([Buffer.from('a')]), { maxBytes: 10 });
    const b = await storage.put(Readable.from([Buffer.from('a')]), { maxBytes: 10 });
    expect(a.key).not.toBe(b.key);
    expect(a.sha256).toBe(b.sha256);
  });

  it('refuses more than maxBytes with payload_too_large and keeps nothing', async () => {
    const error = await storage.put(chunksOf(randomBytes(300_000)), { maxBytes: 299_999 }).catch((e: unknown) => e);
    expect(isAppError(error, 'payload_too_large')).toBe(true);
    expect(filesUnder(storage.dir)).toEqual([]);
    const exact = await storage.put(chunksOf(randomBytes(300_000)), { maxBytes: 300_000 });
    expect(exact.size).toBe(300_000);
  });

  it('a source failing mid-stream rejects and leaves no half file, visible or temporary', async () => {
    async function* failing(): AsyncGenerator<Buffer> {
      yield randomBytes(100_000);
      yield randomBytes(100_000);
      throw new Error('connection reset');
    }
    const error = await storage.put(Readable.from(failing()), { maxBytes: 10_000_000 }).catch((e: unknown) => e);
    expect(isAppError(error, 'bad_request')).toBe(true);
    expect(((error as Error).cause as Error).message).toBe('connection reset');
    expect(filesUnder(storage.dir)).toEqual([]);
  });

  it('a source destroyed before its end (a client that went away) rejects and leaves nothing', async () => {
    const source = new Readable({ read() {} });
    source.push(randomBytes(50_000));
    const pending = storage.put(source, { maxBytes: 10_000_000 }).catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 20));
    source.destroy();
    expect(isAppError(await pending, 'bad_request')).toBe(true);
    expect(filesUnder(storage.dir)).toEqual([]);
  });

  it('delete removes the object; deleting twice is fine; stat of a missing key is null', async () => {
    const stored = await storage.put(Readable.from([Buffer.from('bye')]), { maxBytes: 10 });
    await storage.delete(stored.key);
    await storage.delete(stored.key);
    expect(await storage.stat(stored.key)).toBeNull();
    expect(filesUnder(storage.dir)).toEqual([]);
  });

  it('refuses keys it never issued (no path tricks)', async () => {
    for (const key of ['../../etc/passwd', '/etc/passwd', 'ab/../../x', '']) {
      expect(() => storage.createReadStream(key)).toThrow(/not a storage key/);
      await expect(storage.stat(key)).rejects.toThrow(/not a storage key/);
      await expect(storage.delete(key)).rejects.toThrow(/not a storage key/);
    }
  });
});

describe('LocalFileStorage.removeStaleTemporaryFiles', () => {
  it('removes only temporary files older than the limit', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gh-storage-'));
    mkdirSync(path.join(dir, '.tmp'));
    const old = path.join(dir, '.tmp', 'old.part');
    const fresh = path.join(dir, '.tmp', 'fresh.part');
    writeFileSync(old, 'x');
    writeFileSync(fresh, 'y');
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    utimesSync(old, twoDaysAgo, twoDaysAgo);
    const storage = new LocalFileStorage(dir);
    expect(await storage.removeStaleTemporaryFiles(86_400_000)).toBe(1);
    expect(existsSync(old)).toBe(false);
    expect(existsSync(fresh)).toBe(true);
    expect(await new LocalFileStorage(path.join(dir, 'missing')).removeStaleTemporaryFiles(0)).toBe(0);
  });
});
