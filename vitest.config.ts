import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    // Integration suites start real daemons, sandboxes and pools; one file at a time keeps a
    // 2-core machine responsive and the timings of one suite independent of another.
    fileParallelism: false,
    testTimeout: 120_000,
    // The first daemon of a fresh machine builds the default image (about a minute).
    hookTimeout: 600_000,
    reporters: ['default'],
  },
});
