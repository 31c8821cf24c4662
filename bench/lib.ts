import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { loadConfig } from '../src/config.ts';
import { openDatabase } from '../src/db/client.ts';
import { runMigrations } from '../src/db/migrate.ts';
import { buildApp } from '../src/server.ts';

/** A fresh, migrated PostgreSQL database for one benchmark run (dropped by `cleanup`). */
export async function benchDatabase(prefix: string) {
  const base = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
  const name = `${prefix}_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  const u = new URL(base);
  u.pathname = `/${name}`;
  const url = u.toString();
  const database = await openDatabase({ url, poolSize: 10 });
  const session = await database.session();
  await runMigrations(session);
  await session.close();
  return {
    url,
    database,
    async cleanup() {
      await database.close();
      await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await admin.end();
    },
  };
}

export async function benchApp(database: Awaited<ReturnType<typeof benchDatabase>>['database']) {
  return buildApp(loadConfig({ NODE_ENV: 'production', LOG_LEVEL: 'silent' }), { database, migrate: false });
}

export interface Stats {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  mean: number;
}

export function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { n: s.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), mean: s.reduce((a, b) => a + b, 0) / s.length };
}

/** Runs `fn` sequentially `n` times after `warmup` runs; returns latency stats in milliseconds. */
export async function measure(n: number, fn: (i: number) => Promise<void>, warmup = 20): Promise<Stats> {
  for (let i = 0; i < warmup; i++) await fn(i);
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await fn(i);
    samples.push(performance.now() - start);
  }
  return stats(samples);
}

export const ms = (v: number) => `${v.toFixed(1)} ms`;

export function progress(label: string) {
  const start = Date.now();
  return (message: string) =>
    process.stderr.write(`[${label} ${((Date.now() - start) / 1000).toFixed(1)}s] ${message}\n`);
}
