import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Each file gets its own databases; two at a time suits our 2-core machines.
    maxWorkers: 2,
    // expect.poll's 1 s default is too short for a browser or a worker on a loaded 2-core CI box.
    expect: { poll: { timeout: 15_000, interval: 50 } },
    reporters: ['default'],
  },
});
