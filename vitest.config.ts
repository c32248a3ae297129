import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Each file gets its own databases; two at a time suits our 2-core machines.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
