/**
 * The instruction-count bench (`bench/instructions.ts`) runs end to end in its smoke mode, so it
 * cannot rot: the bare route and `gatehouse serve` under valgrind's callgrind, counted through
 * vgdb while wrk loads them. Asserts that both rows were counted (a positive count per request) —
 * never a figure. Needs dist/ (`npm run build`), Debian's wrk and valgrind (the bench installs
 * them with apt-get if missing).
 */
import { describe, expect, it } from 'vitest';
import { runBenchScript } from '../helpers/bench-script.js';

describe('instruction-count bench smoke run', () => {
  it('counts instructions per request of the bare route and the cookie route, and leaves the results file alone', async () => {
    const { code, stdout, stderr } = await runBenchScript('bench/instructions.ts', ['--smoke']);
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
    for (const route of ['bare', 'cookie']) {
      const row = new RegExp(`^\\| info \\| ${route} \\| ([\\d,]+) \\|`, 'm').exec(stdout);
      expect(row, `${route} row in:\n${stdout}`).not.toBeNull();
      expect(Number(row?.[1]?.replace(/,/g, ''))).toBeGreaterThan(0);
    }
    expect(stdout).toContain('bench/INSTRUCTIONS-RESULTS.md left as it was');
  }, 600_000);
});
