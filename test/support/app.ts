import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { inject } from 'vitest';
import { type Config, loadConfig } from '../../src/config.ts';
import { type Database, openDatabase } from '../../src/db/client.ts';
import { runMigrations } from '../../src/db/migrate.ts';
import { type App, buildApp } from '../../src/server.ts';

export interface TestDatabase {
  database: Database;
  /** The URL of this file's own database (PostgreSQL only). */
  url: string | null;
  close(): Promise<void>;
}

/** A fresh, migrated database for one test file: a clone of the run's template, or in-memory PGlite. */
export async function createTestDatabase(options: { logQueries?: boolean } = {}): Promise<TestDatabase> {
  const template = inject('templateDatabaseUrl');
  if (!template) {
    const dumped = inject('templateDataDir');
    const database = await openDatabase({
      dataDir: 'memory://',
      logQueries: options.logQueries,
      loadDataDir: dumped ? new Blob([readFileSync(dumped)]) : undefined,
    });
    const session = await database.session();
    await runMigrations(session); // a no-op on the migrated template
    await session.close();
    return { database, url: null, close: () => database.close() };
  }
  const templateName = new URL(template).pathname.slice(1);
  const name = `${templateName}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: template.replace(`/${templateName}`, '/postgres') });
  await admin.connect();
  // Concurrent clones of one template collide ("source database is being accessed"): retry briefly.
  for (let attempt = 0; ; attempt++) {
    try {
      await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${templateName}"`);
      break;
    } catch (error) {
      if (attempt > 50) throw error;
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
    }
  }
  await admin.end();
  const u = new URL(template);
  u.pathname = `/${name}`;
  const url = u.toString();
  const database = await openDatabase({ url, poolSize: 20, logQueries: options.logQueries });
  return { database, url, close: () => database.close() };
}

export function testConfig(overrides: Partial<Config> = {}): Config {
  return loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', PORT: '0' }, overrides);
}

export interface TestApp {
  app: App;
  db: TestDatabase;
  /** POST a GraphQL operation through yoga.fetch (no socket). */
  gql<T = any>(query: string, variables?: Record<string, unknown>, apiKey?: string | null): Promise<GqlResult<T>>;
  close(): Promise<void>;
}

export interface GqlResult<T> {
  status: number;
  data: T;
  errors?: { message: string; extensions?: Record<string, any>; path?: (string | number)[] }[];
}

export async function createTestApp(
  options: { config?: Partial<Config>; database?: TestDatabase; logQueries?: boolean } = {},
): Promise<TestApp> {
  const db = options.database ?? (await createTestDatabase({ logQueries: options.logQueries }));
  const app = await buildApp(testConfig(options.config), { database: db.database, migrate: false });
  return {
    app,
    db,
    gql: (query, variables, apiKey) => gql(app, query, variables, apiKey),
    async close() {
      await app.stop();
      if (!options.database) await db.close();
    },
  };
}

export async function gql<T = any>(
  app: Pick<App, 'fetch'>,
  query: string,
  variables: Record<string, unknown> = {},
  apiKey?: string | null,
): Promise<GqlResult<T>> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  const res = await app.fetch('http://test.local/graphql', {
    method: 'POST',
    headers,
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data: T; errors?: GqlResult<T>['errors'] };
  return { status: res.status, data: body.data, errors: body.errors };
}
