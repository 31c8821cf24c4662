import { defineConfig } from 'prisma/config';

// `env('DATABASE_URL')` would throw when the variable is unset, even for `prisma generate`,
// so read process.env directly. The embedded default (PGlite) does not use this URL.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/agentwork' },
});
