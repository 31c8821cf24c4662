import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  // Node resolves `graphql` to its CommonJS build (no "exports" map); Vite would pick the ESM
  // build for our sources while dependencies get the CommonJS one, and two graphql instances
  // break in production mode ("from another module or realm"). One instance, as at run time.
  resolve: { alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }] },
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
