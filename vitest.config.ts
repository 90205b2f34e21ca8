import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 120_000,
    projects: [
      {
        // Parsers, SQL text, config, cron, formatting: no PostgreSQL, no build, no subprocess.
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'] },
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
        },
      },
    ],
  },
});
