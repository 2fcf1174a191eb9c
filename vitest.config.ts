import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 120_000,
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: {
          // In-process: fakes of the layer below, no root, no sandboxes; files run side by side.
          name: 'unit',
          include: ['packages/*/test/**/*.test.ts'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          // After the unit tests, never beside them: `npm test` runs both.
          sequence: { groupOrder: 1 },
          // Integration suites start real daemons, sandboxes and pools; one file at a time keeps a
          // 2-core machine responsive and the timings of one suite independent of another.
          fileParallelism: false,
          // The first daemon of a fresh machine builds the default image (about a minute).
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
