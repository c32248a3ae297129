/**
 * Password hashing and strength rules.
 *
 * Hashing is argon2id with the OWASP Password Storage Cheat Sheet parameters (m = 19 MiB,
 * t = 2, p = 1) via @node-rs/argon2, on a pool of hashing threads of its own sized to the cores
 * (`argon2-pool.ts`) so the event loop never blocks; those threads may run at a lower priority
 * (ARGON2_THREAD_NICE) so that the event loop wins the CPU when both want it. Hashes carry their parameters (PHC string format), which lets {@link PasswordHasher.needsRehash}
 * upgrade old hashes transparently on the next successful login. Hashes imported from other
 * systems are accepted too: argon2i/argon2id PHC strings and bcrypt (`$2a$`, `$2b$`, `$2y$`,
 * checked with the pure-JS bcryptjs); they are replaced by argon2id at the next login.
 */
import { createRequire } from 'node:module';
import os from 'node:os';
import bcrypt from 'bcryptjs';
import type * as ZxcvbnCore from '@zxcvbn-ts/core';
import type * as ZxcvbnCommon from '@zxcvbn-ts/language-common';
import type * as ZxcvbnEn from '@zxcvbn-ts/language-en';
import { AppError } from '../shared/errors.js';
import { type Argon2Pool, sharedArgon2Pool } from './argon2-pool.js';

/** Allowed password length in characters (OWASP ASVS 2.1.1 / 2.1.2 allow at least 64; we allow 256). */
export const PASSWORD_MIN_LENGTH = 10;
export const PASSWORD_MAX_LENGTH = 256;

/** A bcrypt hash as other systems store it: `$2a$`, `$2b$` or `$2y$`, cost, 53 characters of salt and hash. */
const BCRYPT_HASH = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;
/** An argon2 PHC string (argon2id or argon2i; argon2d is not meant for passwords). */
const ARGON2_HASH = /^\$argon2(id|i)\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;

/**
 * True when `storedHash` is a password hash {@link PasswordHasher.verify} can check: argon2id or
 * argon2i (PHC string format) or bcrypt (`$2a$`, `$2b$`, `$2y$`). Used to validate imports.
 */
export function isSupportedPasswordHash(storedHash: string): boolean {
  return BCRYPT_HASH.test(storedHash) || ARGON2_HASH.test(storedHash);
}

/** argon2id cost parameters. */
export interface Argon2Params {
  /** Memory in KiB. */
  memoryKib: number;
  iterations: number;
  parallelism: number;
  /**
   * How much lower than the process's priority (niceness, 0..19) the hashing threads run on
   * Linux; 0 (the default) leaves them at the process's priority.
   */
  threadNice?: number;
}

/** Hashes and verifies passwords with argon2id; see the module comment for parameters. */
export class PasswordHasher {
  private dummyHash: Promise<string> | undefined;
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly pool: Argon2Pool;

  /**
   * @param maxConcurrent how many hashes of this hasher may run at once (default: the number of
   *   cores, the size of the process's shared hashing pool); extra requests wait in a queue.
   */
  constructor(
    private readonly params: Argon2Params,
    private readonly maxConcurrent: number = Math.max(1, os.availableParallelism()),
  ) {
    this.pool = sharedArgon2Pool(params.threadNice ?? 0);
  }

  /** Returns a PHC-format argon2id hash of `password` (random 16-byte salt). */
  hash(password: string): Promise<string> {
    return this.limited(() =>
      this.pool.hash(password, {
        memoryCost: this.params.memoryKib,
        timeCost: this.params.iterations,
        parallelism: this.params.parallelism,
      }),
    );
  }

  /**
   * Checks `password` against a stored hash: argon2 (PHC string) or an imported bcrypt hash.
   * Returns false (never throws) for malformed or unsupported hashes, and for `null` (an account
   * without a password, created through a sign-in provider): that costs a dummy verify, so such
   * an account answers a password exactly as a wrong password would, in the same time.
   */
  async verify(storedHash: string | null, password: string): Promise<boolean> {
    if (storedHash === null) {
      await this.dummyVerify(password);
      return false;
    }
    try {
      // bcrypt only sees the first 72 bytes of a password; acceptable for a legacy hash that is
      // replaced by argon2id (of the whole password) at this very login.
      if (BCRYPT_HASH.test(storedHash)) return await this.limited(() => bcrypt.compare(password, storedHash));
      return await this.limited(() => this.pool.verify(storedHash, password));
    } catch {
      return false;
    }
  }

  /** Runs `work` once fewer than `maxConcurrent` hashes are in flight (FIFO). */
  private async limited<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.maxConcurrent) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running++;
    try {
      return await work();
    } finally {
      // Hand the slot straight to the next waiter (running stays the same), or free it.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }

  /**
   * Spends the same time as a real verification against a throwaway hash, so that a login for an
   * unknown email takes as long as one for a known email (no account enumeration by timing).
   */
  async dummyVerify(password: string): Promise<void> {
    this.dummyHash ??= this.hash('gatehouse-dummy-password-for-timing');
    await this.verify(await this.dummyHash, password);
  }

  /**
   * True when `storedHash` was made with other parameters or another algorithm (argon2i, bcrypt)
   * than the current argon2id ones.
   */
  needsRehash(storedHash: string): boolean {
    const match = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(storedHash);
    if (!match) return true;
    return (
      Number(match[1]) !== this.params.memoryKib ||
      Number(match[2]) !== this.params.iterations ||
      Number(match[3]) !== this.params.parallelism
    );
  }
}

let zxcvbnReady: typeof ZxcvbnCore.zxcvbn | undefined;
/**
 * zxcvbn with the common and English dictionaries, loaded at the first strength check (they
 * take about a fifth of a second to load, which a command that sets no password should not pay).
 * The packages are CommonJS, so `require` keeps the check synchronous.
 */
function ensureZxcvbn(): typeof ZxcvbnCore.zxcvbn {
  if (zxcvbnReady) return zxcvbnReady;
  const require = createRequire(import.meta.url);
  const { zxcvbn, zxcvbnOptions } = require('@zxcvbn-ts/core') as typeof ZxcvbnCore;
  const zxcvbnCommon = require('@zxcvbn-ts/language-common') as typeof ZxcvbnCommon;
  const zxcvbnEn = require('@zxcvbn-ts/language-en') as typeof ZxcvbnEn;
  zxcvbnOptions.setOptions({
    dictionary: { ...zxcvbnCommon.dictionary, ...zxcvbnEn.dictionary },
    graphs: zxcvbnCommon.adjacencyGraphs,
    translations: zxcvbnEn.translations,
  });
  zxcvbnReady = zxcvbn;
  return zxcvbn;
}

/**
 * Enforces the password policy: 10..256 characters, no NUL, and a zxcvbn score of at least
 * `minScore` (0..4) given the user's own email and name as known words.
 *
 * @throws AppError `weak_password` (422) with zxcvbn's feedback as `detail`.
 */
export function assertPasswordStrength(password: string, minScore: number, userInputs: string[] = []): void {
  // Count characters (code points), not UTF-16 units: an emoji is one character to its owner.
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH || length > PASSWORD_MAX_LENGTH) {
    throw new AppError(
      'weak_password',
      `Passwords must be between ${PASSWORD_MIN_LENGTH} and ${PASSWORD_MAX_LENGTH} characters long.`,
    );
  }
  const zxcvbn = ensureZxcvbn();
  const inputs = userInputs.flatMap((v) => [v, ...v.split(/[@.\s_+-]+/)]).filter((v) => v.length >= 3);
  // zxcvbn's cost grows with length; its verdict on the first 100 characters is already decisive.
  const result = zxcvbn(password.slice(0, 100), inputs);
  if (result.score < minScore) {
    const hints = [result.feedback.warning, ...result.feedback.suggestions].filter(Boolean).join(' ');
    throw new AppError('weak_password', hints || 'Choose a longer password that is harder to guess.', {
      extra: { score: result.score, min_score: minScore },
    });
  }
}
