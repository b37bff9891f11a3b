import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'packages/client/test/**/*.test.ts'],
    // Integration tests start real servers and child processes; two cores run them best two at a time.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // The JSON report lets .ci/run print one plain closing line of counts.
    reporters: ['default', ['json', { outputFile: '.vitest/results.json' }]],
  },
});
