import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Each file gets its own database (a copy of a migrated template on PostgreSQL).
    fileParallelism: true,
    env: { NODE_ENV: 'test' },
  },
});
