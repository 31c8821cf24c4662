import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGraphQL, createViewerFor, type Yoga } from './app/graphql.ts';
import { sleep, withTimeout } from './app/http.ts';
import { createPrincipalRegistry } from './app/principals.ts';
import { createRequestHandler, type DrainState, routes } from './app/routes.ts';
import { attachWebSocketServer, type GraphQLWebSocketServer } from './app/websocket.ts';
import { backgroundWorkers, type Worker } from './app/workers.ts';
import { createChatApp } from './bots/core/chat-app.ts';
import type { ChatTransport } from './bots/core/notifier.ts';
import { createDiscordBot } from './bots/discord/bot.ts';
import { createSlackBot } from './bots/slack/app.ts';
import type { Config } from './config.ts';
import { type Database, openDatabase } from './db/client.ts';
import { runMigrations } from './db/migrate.ts';
import { createMetrics, createRateLimiter } from './hardening.ts';
import { createLogger, type Logger } from './log.ts';
import { requestScope } from './request-context.ts';
import { createPubSub, type PubSub } from './services/delivery/pubsub.ts';

/**
 * The running process, as a table of contents: the GraphQL server (src/app/graphql.ts), the HTTP
 * routes around it (src/app/routes.ts), graphql-ws (src/app/websocket.ts), the chat bots
 * (src/bots), and the background workers (src/app/workers.ts). `buildApp` wires them; `start`
 * and `stop` run them in order.
 */

export interface BuildOptions {
  /** Use this database instead of opening one from the config (tests share one per file). */
  database?: Database;
  pubsub?: PubSub;
  logger?: Logger;
  /** Apply pending migrations on start (default true). */
  migrate?: boolean;
}

export interface App {
  config: Config;
  /** Chat transports by platform. */
  chatTransports: Partial<Record<'SLACK' | 'DISCORD', ChatTransport>>;
  db: Database;
  pubsub: PubSub;
  log: Logger;
  yoga: Yoga;
  /** In-process fetch against the app (tests: no socket). */
  fetch: (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
  /** Opens the database, applies migrations, listens. Resolves with the base URL. */
  start(): Promise<{ url: string; port: number }>;
  /** Stops accepting, drains in-flight requests, closes sockets, database and Redis. */
  stop(): Promise<void>;
}

/**
 * Builds the whole server without starting it, so the CLI, tests and `npm start` run the same thing.
 */
export async function buildApp(config: Config, options: BuildOptions = {}): Promise<App> {
  const log = options.logger ?? createLogger(config);
  const db =
    options.database ??
    (await openDatabase({
      url: config.DATABASE_URL,
      dataDir: config.DATA_DIR,
      poolSize: config.DATABASE_POOL_SIZE,
      poolTimeoutMs: config.DATABASE_POOL_TIMEOUT_MS,
    }));
  const pubsub = options.pubsub ?? createPubSub(config.REDIS_URL);
  const viewerFor = createViewerFor(db, config);
  const metrics = createMetrics(db);
  const rateLimiter = createRateLimiter(config);
  // Open sockets and SSE streams by key, re-checked when a principal changes (on any process).
  const principals = createPrincipalRegistry({ db: db.prisma, pubsub, log });
  const yoga = createGraphQL({ config, db, pubsub, log, viewerFor, principals, plugins: [metrics.plugin] });

  // Chat front ends: one core, one adapter per platform, one notifier fed by the outbox.
  const chat = createChatApp({ db: db.prisma, config });
  const slack = createSlackBot(config, chat, log);
  const discord = createDiscordBot(config, chat, log);
  const chatTransports: Partial<Record<'SLACK' | 'DISCORD', ChatTransport>> = {};
  if (slack) chatTransports.SLACK = slack.transport;
  if (discord) chatTransports.DISCORD = discord.transport;

  const workers = backgroundWorkers({ config, db, pubsub, log, chatTransports });
  const bot = (name: string, b: { start(): Promise<void>; stop(): Promise<void> } | null | undefined): Worker => ({
    name,
    start: async () => b?.start(),
    stop: async () => b?.stop(),
  });
  // Start order; the scheduler stops first (before the drain), the rest after it in this order.
  const startOrder: Worker[] = [
    workers.dispatcher,
    workers.webhooks,
    workers.chatNotifier,
    bot('slack', slack),
    bot('discord', discord),
    workers.scheduler,
  ];

  const drain: DrainState = { draining: false, lastRequestAt: 0, inFlight: new Set() };
  const readiness = async (): Promise<Record<string, string>> => {
    const check = async (fn: () => Promise<void>) => {
      try {
        await withTimeout(fn(), 2_000);
        return 'ok';
      } catch (error) {
        return `error: ${(error as Error).message}`;
      }
    };
    const [database, redis] = await Promise.all([check(() => db.ping()), check(() => pubsub.ping())]);
    return {
      database,
      [pubsub.kind === 'redis' ? 'redis' : 'pubsub']: redis,
      ...(drain.draining ? { shutdown: 'draining' } : {}),
    };
  };
  const handle = createRequestHandler({
    config,
    log,
    yoga,
    rateLimiter,
    drain,
    routes: routes({
      config,
      yoga,
      viewerFor,
      metrics,
      readiness,
      slack: slack?.requestListener ?? undefined,
      discord: discord?.requestListener ?? undefined,
    }),
  });

  let migrated = options.migrate === false;
  async function migrateOnce() {
    if (migrated) return;
    const session = await db.session();
    try {
      const result = await runMigrations(session, {
        onApply: (name) => log.info({ migration: name }, 'applying migration'),
      });
      if (result.applied.length) log.info({ applied: result.applied.length }, 'migrations applied');
    } finally {
      await session.close();
    }
    migrated = true;
  }

  let server: Server | undefined;
  let ws: GraphQLWebSocketServer | undefined;

  return {
    config,
    chatTransports,
    db,
    pubsub,
    log,
    yoga,
    fetch: async (input, init) => {
      await migrateOnce();
      return requestScope.run({ requestId: randomUUID(), log }, () => yoga.fetch(input as URL, init ?? {}));
    },
    async start() {
      await migrateOnce();
      for (const w of startOrder) await w.start();
      server = createServer(httpServerOptions(config), (req, res) => void handle(req, res));
      server.keepAliveTimeout = config.HTTP_KEEP_ALIVE_TIMEOUT_MS;
      principals.start();
      ws = attachWebSocketServer(server, { config, yoga, viewerFor, principals });
      await new Promise<void>((resolveListen, reject) => {
        server!.once('error', reject);
        server!.listen(config.PORT, config.HOST, () => resolveListen());
      });
      const { port } = server.address() as AddressInfo;
      const url = `http://${config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST}:${port}`;
      return { url, port };
    },
    async stop() {
      drain.draining = true;
      await workers.scheduler.stop();
      if (server) await drainHttp(server, ws, drain, config.SHUTDOWN_TIMEOUT_MS);
      for (const w of startOrder) if (w !== workers.scheduler) await w.stop();
      principals.stop();
      await yoga.dispose();
      await rateLimiter?.close();
      if (!options.pubsub) await pubsub.close();
      if (!options.database) await db.close();
    },
  };
}

/**
 * Deliberate timeouts against slow clients (slowloris): the request headers must arrive within
 * HTTP_HEADERS_TIMEOUT_MS and the whole request within HTTP_REQUEST_TIMEOUT_MS, else 408 and the
 * socket is closed. Both end when the request has been received, so a response that streams for
 * hours (SSE subscriptions) is never cut, and a WebSocket upgrade leaves HTTP's bookkeeping (both
 * checked in test/http-hardening.test.ts). Node checks expiry on a timer: at most a second late.
 */
export function httpServerOptions(config: Config) {
  return {
    headersTimeout: config.HTTP_HEADERS_TIMEOUT_MS,
    requestTimeout: config.HTTP_REQUEST_TIMEOUT_MS,
    connectionsCheckingInterval: Math.min(1_000, config.HTTP_HEADERS_TIMEOUT_MS),
  };
}

/**
 * Drain: /readyz already answers 503 so balancers stop sending; requests still arriving are served
 * with `Connection: close`, so clients move off their keep-alive sockets. Only after a quiet
 * moment do we stop listening (Node's close() also drops idle sockets, and dropping one just as a
 * client reuses it would reset that request).
 */
async function drainHttp(server: Server, ws: GraphQLWebSocketServer | undefined, drain: DrainState, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && (drain.inFlight.size > 0 || Date.now() - drain.lastRequestAt < 300)) await sleep(25);
  const closed = new Promise<void>((r) => server.close(() => r()));
  while (drain.inFlight.size > 0 && Date.now() < deadline) await sleep(25);
  server.closeAllConnections();
  await ws?.close();
  await closed;
}
