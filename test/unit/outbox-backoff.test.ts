/** Unit tests for the outbox retry schedule (`backoffSeconds` in `src/outbox/outbox.service.ts`). */
import { describe, expect, it } from 'vitest';
import { backoffSeconds } from '../../src/outbox/outbox.service.js';

const noJitter = () => 0;
const fullJitter = () => 0.999_999;

describe('backoffSeconds', () => {
  it('starts at 5 seconds and doubles per attempt', () => {
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffSeconds(a, noJitter))).toEqual([5, 10, 20, 40, 80, 160]);
  });

  it('grows monotonically and is capped at 3600 seconds', () => {
    let previous = 0;
    for (let attempt = 1; attempt <= 60; attempt++) {
      const delay = backoffSeconds(attempt, noJitter);
      expect(delay).toBeGreaterThanOrEqual(previous);
      expect(delay).toBeLessThanOrEqual(3600);
      previous = delay;
    }
    expect(backoffSeconds(11, noJitter)).toBe(3600);
    expect(backoffSeconds(10, noJitter)).toBe(2560);
  });

  it('stays finite and capped for absurd attempt numbers, and treats attempt ≤ 1 as the first', () => {
    expect(backoffSeconds(5000, noJitter)).toBe(3600);
    expect(backoffSeconds(Number.MAX_SAFE_INTEGER, noJitter)).toBe(3600);
    expect(backoffSeconds(0, noJitter)).toBe(5);
    expect(backoffSeconds(-3, noJitter)).toBe(5);
  });

  it('subtracts at most 20 % jitter', () => {
    expect(backoffSeconds(1, fullJitter)).toBeCloseTo(4, 3);
    expect(backoffSeconds(20, fullJitter)).toBeCloseTo(2880, 0);
    expect(backoffSeconds(3, () => 0.5)).toBe(18);
  });

  it('with real randomness stays within [0.8 × raw, raw] and actually varies', () => {
    for (const attempt of [1, 4, 12]) {
      const raw = backoffSeconds(attempt, noJitter);
      const samples = Array.from({ length: 500 }, () => backoffSeconds(attempt));
      for (const s of samples) {
        expect(s).toBeGreaterThan(raw * 0.8);
        expect(s).toBeLessThanOrEqual(raw);
      }
      expect(new Set(samples).size).toBeGreaterThan(100);
    }
  });
});
