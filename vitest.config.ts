import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 120_000,
    projects: [
      {
        // Parsers, SQL text, config, cron, formatting: no PostgreSQL, no build, no subprocess.
        extends: true,
        // Unit files run first, then integration files (groups run one after the other, each with its
        // own worker limit).
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], sequence: { groupOrder: 0 } },
      },
      {
        // A real PostgreSQL (TEST_DATABASE_URL, else an embedded one), the built CLI, real processes.
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/helpers/global-setup.ts'],
          setupFiles: ['test/helpers/integration-setup.ts'],
          // Integration tests start worker threads, subprocesses and PostgreSQL backends: on a 2-core
          // machine two files at a time keep them from starving each other.
          pool: 'forks',
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
