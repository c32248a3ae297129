/**
 * PasswordHasher queues argon2 work beyond its concurrency limit: every queued call still
 * completes with the right answer, in order, and no call is lost or deadlocked.
 */
import { describe, expect, it } from 'vitest';
import { PasswordHasher } from '../../src/crypto/passwords.js';

const params = { memoryKib: 1024, iterations: 1, parallelism: 1 };

describe('PasswordHasher concurrency limit', () => {
  it('completes 12 concurrent verifies through a limit of 1, each with the right answer', async () => {
    const hasher = new PasswordHasher(params, 1);
    const stored = await hasher.hash('the right password');
    const attempts = Array.from({ length: 12 }, (_, i) => (i % 3 === 0 ? 'the right password' : `wrong ${i}`));
    const results = await Promise.all(attempts.map((p) => hasher.verify(stored, p)));
    expect(results).toEqual(attempts.map((p) => p === 'the right password'));
  });

  it('keeps working after a failing call releases its slot', async () => {
    const hasher = new PasswordHasher(params, 1);
    const results = await Promise.all([
      hasher.verify('not a hash at all', 'x'),
      hasher.hash('after the failure').then((h) => hasher.verify(h, 'after the failure')),
    ]);
    expect(results).toEqual([false, true]);
  });
});
