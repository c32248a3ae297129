/**
 * The instruction-count bench (`bench/instructions.ts`) runs end to end in its smoke mode, so it
 * cannot rot: the bare route and `gatehouse serve` under valgrind's callgrind, counted through
 * vgdb while wrk loads them. Asserts that both rows were counted (a positive count per request) —
 * never a figure. Needs dist/ (`npm run build`), Debian's wrk and valgrind (the bench installs
 * them with apt-get if missing).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('instruction-count bench smoke run', () => {
  it('counts instructions per request of the bare route and the cookie route, and leaves the results file alone', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/instructions.ts', '--smoke'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
    for (const route of ['bare', 'cookie']) {
      const row = new RegExp(`^\\| info \\| ${route} \\| ([\\d,]+) \\|`, 'm').exec(stdout);
      expect(row, `${route} row in:\n${stdout}`).not.toBeNull();
      expect(Number(row?.[1]?.replace(/,/g, ''))).toBeGreaterThan(0);
    }
    expect(stdout).toContain('bench/INSTRUCTIONS-RESULTS.md left as it was');
  }, 600_000);
});
