import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from '../generated/prisma/client.ts';
import { lockDataDir } from './data-dir-lock.ts';
import type { SqlSession } from './migrate.ts';

export { PrismaClient };
export type Db = PrismaClient;
/** A Prisma interactive-transaction client: what services receive inside `db.$transaction`. */
export type Tx = Parameters<Parameters<PrismaClient['$transaction']>[0]>[0];

export interface DatabaseOptions {
  /** PostgreSQL URL; when undefined the embedded PGlite is used. */
  url?: string;
  /**
   * PGlite data directory (created if missing); `memory://` keeps it in memory. One process per
   * directory: a second open (another process, or this one) throws DataDirLockedError.
   */
  dataDir?: string;
  poolSize?: number;
  /** How long a statement waits for a pooled connection (PostgreSQL only); default 15 s. */
  poolTimeoutMs?: number;
  /**
   * PGlite only: start from a dump of a data directory (PGlite's `dumpDataDir`) instead of an
   * empty cluster; the tests load a migrated template this way, which skips initdb.
   */
  loadDataDir?: Blob;
  /** Emit a `query` event per SQL statement (tests count them). */
  logQueries?: boolean;
}

export interface Database {
  prisma: PrismaClient;
  kind: 'postgres' | 'pglite';
  /** Opens a single-session connection for migrations (advisory locks need one session). */
  session(): Promise<SqlSession & { close(): Promise<void> }>;
  /**
   * LISTEN on a channel: `onNotify` runs for each NOTIFY (and once after each reconnect, to catch
   * up). Resolves to an unsubscribe function.
   */
  listen(channel: string, onNotify: () => void): Promise<() => Promise<void>>;
  /** Cheap liveness probe for /readyz. */
  ping(): Promise<void>;
  /** PGlite only: the data directory as a tarball, for `loadDataDir`. */
  dump?(): Promise<Blob>;
  close(): Promise<void>;
}

/**
 * Interactive transactions may queue for a pooled connection under load (many concurrent
 * acceptances of one job): wait up to 10 s for one, and allow 20 s of work.
 */
const TX_OPTIONS = { maxWait: 15_000, timeout: 20_000 };

/** SQLSTATE of a transaction PostgreSQL aborted to break a lock cycle or a serialization conflict. */
const RETRYABLE_SQLSTATES = new Set(['40P01', '40001']);
const MAX_TX_ATTEMPTS = 4;

export function isRetryableTransactionError(error: unknown, depth = 0): boolean {
  if (depth > 6 || typeof error !== 'object' || error === null) return false;
  const e = error as {
    code?: unknown;
    originalCode?: unknown;
    cause?: unknown;
    meta?: { driverAdapterError?: unknown };
  };
  if (typeof e.code === 'string' && RETRYABLE_SQLSTATES.has(e.code)) return true;
  if (typeof e.originalCode === 'string' && RETRYABLE_SQLSTATES.has(e.originalCode)) return true;
  return [e.cause, e.meta?.driverAdapterError].some(
    (inner) => inner !== error && isRetryableTransactionError(inner, depth + 1),
  );
}

/**
 * Interactive transactions that PostgreSQL aborted as a deadlock victim (or a serialization
 * failure) run again from the start, up to MAX_TX_ATTEMPTS times: the whole body is database work
 * (its events go to the outbox in the same transaction), so running it again is safe. Code takes
 * row locks job first, then bids/offers/executions, then ledger accounts in id order, so cycles are
 * rare; this keeps a rare one from reaching a client as an internal error.
 */
function retryDeadlocks(prisma: PrismaClient): PrismaClient {
  const original = prisma.$transaction.bind(prisma) as (arg: unknown, options?: unknown) => Promise<unknown>;
  const wrapped = async (arg: unknown, options?: unknown) => {
    if (typeof arg !== 'function') return original(arg, options);
    for (let attempt = 1; ; attempt++) {
      try {
        return await original(arg, options);
      } catch (error) {
        if (attempt >= MAX_TX_ATTEMPTS || !isRetryableTransactionError(error)) throw error;
        await new Promise((r) => setTimeout(r, Math.random() * 10 * attempt));
      }
    }
  };
  (prisma as unknown as { $transaction: typeof wrapped }).$transaction = wrapped;
  return prisma;
}

/** PostgreSQL through @prisma/adapter-pg when a URL is given, else embedded PGlite (one connection, WASM). */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const log = options.logQueries ? [{ emit: 'event' as const, level: 'query' as const }] : [];
  if (options.url) {
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: options.poolTimeoutMs ?? 15_000,
      idleTimeoutMillis: 30_000,
    });
    // A connection dropped by a restarting server must not crash the process; the pool replaces it.
    pool.on('error', () => {});
    const prisma = retryDeadlocks(
      new PrismaClient({ adapter: new PrismaPg(pool), log, transactionOptions: TX_OPTIONS }),
    );
    return {
      prisma,
      kind: 'postgres',
      async session() {
        const client = new pg.Client({ connectionString: options.url });
        client.on('error', () => {});
        await client.connect();
        return {
          exec: async (sql) => {
            await client.query(sql);
          },
          query: async <T>(sql: string, params: unknown[] = []) => (await client.query(sql, params)).rows as T[],
          close: () => client.end(),
        };
      },
      async listen(channel, onNotify) {
        let client: pg.Client | null = null;
        let closed = false;
        let retry: NodeJS.Timeout | undefined;
        const connect = async () => {
          if (closed) return;
          const c = new pg.Client({ connectionString: options.url });
          c.on('notification', () => onNotify());
          const reconnect = () => {
            if (closed || client !== c) return;
            client = null;
            c.end().catch(() => {});
            retry = setTimeout(() => void connect(), 1_000);
          };
          c.on('error', reconnect);
          c.on('end', reconnect);
          try {
            await c.connect();
            await c.query(`LISTEN "${channel}"`);
            client = c;
            onNotify();
          } catch {
            c.end().catch(() => {});
            if (!closed) retry = setTimeout(() => void connect(), 1_000);
          }
        };
        await connect();
        return async () => {
          closed = true;
          clearTimeout(retry);
          const c = client;
          client = null;
          await c?.end().catch(() => {});
        };
      },
      async ping() {
        await pool.query('SELECT 1');
      },
      async close() {
        await prisma.$disconnect();
        await pool.end();
      },
    };
  }

  const dataDir = options.dataDir ?? 'memory://';
  const inMemory = dataDir.startsWith('memory://');
  const dir = resolve(dataDir, 'pglite');
  let unlock = () => {};
  if (!inMemory) {
    mkdirSync(dir, { recursive: true });
    // Before PGlite touches its files (and before loading it: a refusal is immediate). A second
    // process on the same directory would silently lose its writes.
    unlock = lockDataDir(resolve(dataDir), dataDir);
  }
  let pglite: InstanceType<typeof import('@electric-sql/pglite').PGlite>;
  let PrismaPGlite: typeof import('pglite-prisma-adapter').PrismaPGlite;
  try {
    // Loaded lazily: deployments on PostgreSQL never pay for the WASM build.
    const [pgliteModule, adapterModule] = await Promise.all([
      import('@electric-sql/pglite'),
      import('pglite-prisma-adapter'),
    ]);
    PrismaPGlite = adapterModule.PrismaPGlite;
    pglite = new pgliteModule.PGlite(inMemory ? dataDir : dir, { loadDataDir: options.loadDataDir });
    await pglite.waitReady;
  } catch (error) {
    unlock();
    throw error;
  }
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite), log, transactionOptions: TX_OPTIONS });
  return {
    prisma,
    kind: 'pglite',
    async session() {
      return {
        exec: async (sql) => {
          await pglite.exec(sql);
        },
        query: async <T>(sql: string, params: unknown[] = []) => (await pglite.query<T>(sql, params)).rows,
        close: async () => {},
      };
    },
    async listen(channel, onNotify) {
      const unsubscribe = await pglite.listen(channel, () => onNotify());
      return async () => {
        await unsubscribe();
      };
    },
    async ping() {
      await pglite.query('SELECT 1');
    },
    async dump() {
      return pglite.dumpDataDir('none');
    },
    async close() {
      try {
        await prisma.$disconnect();
        await pglite.close();
      } finally {
        unlock();
      }
    },
  };
}
