/**
 * The HTTP bench (`bench/run.ts`) runs end to end in its smoke mode, so it cannot rot: wrk
 * against a Gatehouse started with `node bin/gatehouse.js serve` and the bare route, the login
 * scenario and the session-scale scenario, each for about a second. Asserts that every scenario
 * ran and reported its rows — never a timing (timings belong to the bench, not to tests).
 * Needs dist/ (`npm run build`) and Debian's wrk (the bench installs it with apt-get if missing).
 */
import { describe, expect, it } from 'vitest';
import { runBenchScript } from '../helpers/bench-script.js';

describe('bench smoke run', () => {
  it('measures every HTTP figure, logins and session lookups, and leaves RESULTS.md alone', async () => {
    const { code, stdout, stderr } = await runBenchScript('bench/run.ts', ['--smoke'], { BENCH_DATABASE_URL: '', TEST_DATABASE_URL: '' });
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
    for (const row of [
      'bare Fastify JSON route, SQLite run, LOG_LEVEL=info',
      'cookie session GET /api/v1/users/me, SQLite, LOG_LEVEL=info',
      'bearer JWT GET /api/v1/users/me, SQLite, LOG_LEVEL=info',
      'API key + rate limiting GET /api/v1/users/me, SQLite, LOG_LEVEL=info',
      'logins/s (POST /api/v1/auth/login',
      '/healthz latency while logins saturate the CPU',
    ]) {
      expect(stdout).toContain(row);
    }
    expect(stderr).toContain('bench/RESULTS.md left as it was');
  }, 240_000);
});
