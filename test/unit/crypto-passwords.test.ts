/** Unit tests for `src/crypto/passwords.ts`: argon2id hashing, rehash detection, the strength policy. */
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { canReniceThreads } from '../../src/crypto/argon2-pool.js';
import { assertPasswordStrength, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, PasswordHasher } from '../../src/crypto/passwords.js';
import { AppError } from '../../src/shared/errors.js';

/** Cheap parameters so the unit tests stay fast; production parameters are tested once below. */
const CHEAP = { memoryKib: 1024, iterations: 1, parallelism: 1 };
const OWASP = { memoryKib: 19_456, iterations: 2, parallelism: 1 };

function weakness(password: string, minScore = 3, inputs: string[] = []): AppError | undefined {
  try {
    assertPasswordStrength(password, minScore, inputs);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
}

describe('PasswordHasher', () => {
  it('hashes to a PHC argon2id string carrying its parameters and verifies round trip (OWASP parameters)', async () => {
    const hasher = new PasswordHasher(OWASP);
    const hash = await hasher.hash('violet-harbour-lantern-42');
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
    expect(await hasher.verify(hash, 'violet-harbour-lantern-42')).toBe(true);
    expect(await hasher.verify(hash, 'violet-harbour-lantern-43')).toBe(false);
    expect(hasher.needsRehash(hash)).toBe(false);
  });

  it.runIf(canReniceThreads())('ARGON2_THREAD_NICE: the hashing threads run that much below the process priority, the main thread keeps its own', async () => {
    const hasher = new PasswordHasher({ ...CHEAP, threadNice: 7 });
    const hash = await hasher.hash('niced thread password');
    expect(await hasher.verify(hash, 'niced thread password')).toBe(true);
    // Field 19 of /proc/<pid>/task/<tid>/stat is the thread's nice value (after the `(comm)` field).
    const niceOf = (tid: string) => Number(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]?.split(' ')[16]);
    const base = os.getPriority();
    const nices = readdirSync('/proc/self/task').map(niceOf);
    expect(niceOf(String(process.pid))).toBe(base);
    expect(nices).toContain(Math.min(19, base + 7));
  });

  it('salts: two hashes of one password differ and both verify', async () => {
    const hasher = new PasswordHasher(CHEAP);
    const [a, b] = await Promise.all([hasher.hash('same password!'), hasher.hash('same password!')]);
    expect(a).not.toBe(b);
    expect(await hasher.verify(a, 'same password!')).toBe(true);
    expect(await hasher.verify(b, 'same password!')).toBe(true);
  });

  it('verifies unicode passwords exactly (no normalisation surprises within one form)', async () => {
    const hasher = new PasswordHasher(CHEAP);
    const hash = await hasher.hash('pässwörd-日本語-🔒');
    expect(await hasher.verify(hash, 'pässwörd-日本語-🔒')).toBe(true);
    expect(await hasher.verify(hash, 'passwort-日本語-🔒')).toBe(false);
  });

  it.each([
    ['memory', { ...CHEAP, memoryKib: 2048 }],
    ['iterations', { ...CHEAP, iterations: 2 }],
    ['parallelism', { ...CHEAP, parallelism: 2 }],
  ])('needsRehash when the %s parameter changes, and a rehash with the new parameters satisfies it', async (_name, next) => {
    const old = new PasswordHasher(CHEAP);
    const current = new PasswordHasher(next);
    const oldHash = await old.hash('correct horse battery staple');
    expect(old.needsRehash(oldHash)).toBe(false);
    expect(current.needsRehash(oldHash)).toBe(true);
    // The old hash still verifies under the new hasher (parameters travel with the hash)...
    expect(await current.verify(oldHash, 'correct horse battery staple')).toBe(true);
    // ...and the rehash carries the new parameters.
    const rehashed = await current.hash('correct horse battery staple');
    expect(current.needsRehash(rehashed)).toBe(false);
    expect(rehashed).toContain(`m=${next.memoryKib},t=${next.iterations},p=${next.parallelism}$`);
    expect(await current.verify(rehashed, 'correct horse battery staple')).toBe(true);
  });

  it.each([
    ['bcrypt', '$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy'],
    ['argon2i', '$argon2i$v=19$m=1024,t=1,p=1$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A'],
    ['garbage', 'not a hash'],
    ['empty', ''],
  ])('treats a %s hash as needing a rehash and never verifies it', async (_name, stored) => {
    const hasher = new PasswordHasher(CHEAP);
    expect(hasher.needsRehash(stored)).toBe(true);
    await expect(hasher.verify(stored, 'anything')).resolves.toBe(false);
  });

  it('dummyVerify resolves without revealing anything', async () => {
    const hasher = new PasswordHasher(CHEAP);
    await expect(hasher.dummyVerify('whatever')).resolves.toBeUndefined();
    await expect(hasher.dummyVerify('gatehouse-dummy-password-for-timing')).resolves.toBeUndefined();
  });
});

describe('assertPasswordStrength', () => {
  it('publishes the 10..256 bounds', () => {
    expect(PASSWORD_MIN_LENGTH).toBe(10);
    expect(PASSWORD_MAX_LENGTH).toBe(256);
  });

  it('refuses fewer than 10 characters and more than 256, whatever the score', () => {
    const short = weakness('Xk#9vQ!2z', 0);
    expect(short?.code).toBe('weak_password');
    expect(short?.status).toBe(422);
    expect(short?.detail).toMatch(/10 and 256/);
    expect(weakness('Xk#9vQ!2zL', 0)).toBeUndefined();
    const strong256 = 'Xk#9vQ!2zL'.repeat(25) + 'abcdef';
    expect(strong256).toHaveLength(256);
    expect(weakness(strong256)).toBeUndefined();
    expect(weakness(`${strong256}g`, 0)?.detail).toMatch(/10 and 256/);
  });

  it.each(['aaaaaaaaaa', 'password12', 'qwertyuiop', '1234567890', 'Password123!', 'iloveyou2024'])(
    'refuses the guessable %j at the default minimum score 3, with zxcvbn feedback',
    (password) => {
      const error = weakness(password);
      expect(error?.code).toBe('weak_password');
      expect(error?.detail).toEqual(expect.any(String));
      expect(error?.extra).toMatchObject({ min_score: 3 });
      expect(error?.extra?.score).toBeLessThan(3);
    },
  );

  it.each(['violet-harbour-lantern-42', 'correct horse battery staple', 'Xk#9vQ!2zL', 'Tr0ub4dor&3'])('accepts %j', (password) => {
    expect(weakness(password)).toBeUndefined();
  });

  it('respects the configured minimum score', () => {
    expect(weakness('password12', 0)).toBeUndefined();
    expect(weakness('password12', 2)?.code).toBe('weak_password');
    expect(weakness('Xk#9vQ!2zL', 4)?.code).toBe('weak_password');
  });

  it('uses the email and name as known words', () => {
    expect(weakness('xkqvbrtmwzplfg1')).toBeUndefined();
    expect(weakness('xkqvbrtmwzplfg1', 3, ['xkqvbrtmwzplfg@example.com', ''])?.code).toBe('weak_password');
    expect(weakness('WolfgangQuixtonbury')).toBeUndefined();
    expect(weakness('WolfgangQuixtonbury', 3, ['w@example.com', 'Wolfgang Quixtonbury'])?.code).toBe('weak_password');
    expect(weakness('wolfgangquixtonbury', 3, ['w@example.com', 'Wolfgang Quixtonbury'])?.code).toBe('weak_password');
  });

  it('judges 256-character passwords (zxcvbn sees a bounded prefix)', () => {
    expect(weakness('a'.repeat(256))?.code).toBe('weak_password');
    expect(weakness('Zq8#mV2!'.repeat(32))).toBeUndefined();
  });
});
