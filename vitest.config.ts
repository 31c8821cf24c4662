import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
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
    // The default output, then one line per skipped test with its reason (no Chromium, no Redis...).
    reporters: ['default', './test/support/skip-reporter.ts'],
    // Timeouts only bound a hang; no test asserts on time. On a loaded CI machine (two cores shared
    // by several runs) work takes many times longer than on a quiet one, and a test that fails
    // only because the machine was busy tells nothing.
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // Each file gets its own database (a copy of a migrated template: PostgreSQL's CREATE DATABASE
    // ... TEMPLATE, or a PGlite dump), so files run in parallel. Most test time is waiting (on
    // PostgreSQL, sockets, child processes), so more files than cores run at once: vitest's default
    // (cores - 1) ran them one at a time on 2 cores.
    fileParallelism: true,
    maxWorkers: Math.max(3, availableParallelism() - 1),
    env: { NODE_ENV: 'test' },
  },
});
