/** Unit tests for `src/crypto/tokens.ts`: secret generation, storage hashes, comparisons. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { constantTimeEqual, generateToken, hashToken, looksLikeToken, TOKEN_BYTES } from '../../src/crypto/tokens.js';

describe('generateToken', () => {
  it('makes 256-bit secrets: 43 base64url characters that decode to 32 bytes', () => {
    expect(TOKEN_BYTES * 8).toBeGreaterThanOrEqual(128);
    for (let i = 0; i < 50; i++) {
      const token = generateToken();
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(token, 'base64url')).toHaveLength(32);
    }
  });

  it('never repeats and uses the whole alphabet', () => {
    const tokens = Array.from({ length: 2000 }, () => generateToken());
    expect(new Set(tokens).size).toBe(tokens.length);
    const alphabet = new Set(tokens.join(''));
    // 86 000 characters drawn from 64 symbols: every symbol appears.
    expect(alphabet.size).toBe(64);
  });

  it('has no visible bias in its bytes (each bit set about half the time)', () => {
    const bytes = Buffer.concat(Array.from({ length: 1000 }, () => Buffer.from(generateToken(), 'base64url')));
    let ones = 0;
    for (const byte of bytes) for (let bit = 0; bit < 8; bit++) ones += (byte >> bit) & 1;
    const ratio = ones / (bytes.length * 8);
    expect(ratio).toBeGreaterThan(0.49);
    expect(ratio).toBeLessThan(0.51);
  });

  it('honours a custom length', () => {
    expect(Buffer.from(generateToken(16), 'base64url')).toHaveLength(16);
    expect(generateToken(16)).toHaveLength(22);
  });
});

describe('hashToken', () => {
  it('is SHA-256 as 64 lowercase hex characters', () => {
    const token = generateToken();
    expect(hashToken(token)).toBe(createHash('sha256').update(token, 'utf8').digest('hex'));
    expect(hashToken(token)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashToken('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('is deterministic and distinguishes near-identical inputs', () => {
    expect(hashToken('token-a')).toBe(hashToken('token-a'));
    expect(hashToken('token-a')).not.toBe(hashToken('token-b'));
    expect(hashToken('é')).toBe(createHash('sha256').update(Buffer.from('é', 'utf8')).digest('hex'));
  });
});

describe('constantTimeEqual', () => {
  it.each([
    ['same', 'same', true],
    ['', '', true],
    ['same', 'Same', false],
    ['short', 'shorter', false],
    ['abc', '', false],
    ['ünï', 'ünï', true],
  ])('compare(%j, %j) is %s', (a, b, expected) => {
    expect(constantTimeEqual(a, b)).toBe(expected);
  });
});

describe('looksLikeToken', () => {
  it.each([
    [generateToken(), true],
    ['a'.repeat(20), true],
    ['a'.repeat(256), true],
    ['a'.repeat(19), false],
    ['a'.repeat(257), false],
    ['', false],
    ['abc.def.ghi-jkl-mno-pqr', false],
    ['abcdefghijklmnopqrst+/', false],
    ["abcdefghijklmnopqrst' OR 1=1", false],
    ['abcdefghijklmnopqrst\u0000', false],
  ])('%j → %s', (token, expected) => {
    expect(looksLikeToken(token)).toBe(expected);
  });
});
