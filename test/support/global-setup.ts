import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { openDatabase } from '../../src/db/client.ts';
import { runMigrations } from '../../src/db/migrate.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    templateDatabaseUrl: string | null;
    /** Without DATABASE_URL: a migrated PGlite data directory (a tarball) every test database starts from. */
    templateDataDir: string | null;
  }
}

/**
 * With DATABASE_URL (CI, developers): migrate one template database per run; every test file
 * then clones it (CREATE DATABASE ... TEMPLATE), which takes milliseconds. Without it, each test
 * database is an in-memory PGlite loaded from one migrated dump made here, which skips initdb and
 * the migrations (about 10 s per database on a loaded 2-core machine, 2 s for the load).
 */
export default async function setup(project: TestProject) {
  const base = process.env.DATABASE_URL;
  if (!base) {
    project.provide('templateDatabaseUrl', null);
    const database = await openDatabase({ dataDir: 'memory://' });
    const session = await database.session();
    await runMigrations(session);
    await session.close();
    const dump = await database.dump!();
    await database.close();
    const dir = mkdtempSync(join(tmpdir(), 'aw-pglite-template-'));
    const file = join(dir, 'template.tar');
    writeFileSync(file, Buffer.from(await dump.arrayBuffer()));
    project.provide('templateDataDir', file);
    return () => rmSync(dir, { recursive: true, force: true });
  }
  project.provide('templateDataDir', null);
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  const name = `aw_tpl_${process.pid}_${Date.now().toString(36)}`;
  await admin.query(`CREATE DATABASE "${name}"`);
  const url = withDatabase(base, name);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await runMigrations({
    exec: async (sql) => void (await client.query(sql)),
    query: async (sql, params) => (await client.query(sql, params)).rows,
  });
  await client.end();
  project.provide('templateDatabaseUrl', url);
  return async () => {
    // Drop the template and every clone this run made.
    const { rows } = await admin.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname = $1 OR datname LIKE $2`,
      [name, `${name}_%`],
    );
    for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    await admin.end();
  };
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}
