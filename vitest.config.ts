import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'connectors/*/test/**/*.test.ts', 'workflows/test/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // Two cores: end-to-end tests share one Temporal dev server (globalSetup) and must not starve it.
    maxWorkers: 2,
    minWorkers: 1,
    globalSetup: ['test/global-setup.ts'],
    // Workers started by tests log JSON to stderr (not a TTY); keep test output readable unless asked.
    env: { SLUICE_LOG_LEVEL: process.env.SLUICE_LOG_LEVEL ?? 'error' },
    reporters: process.env.CI ? ['default'] : ['default'],
  },
});
