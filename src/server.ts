import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type execute, GraphQLError, type subscribe } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import { createChatApp } from './bots/core/chat-app.ts';
import { type ChatTransport, createChatNotifier } from './bots/core/notifier.ts';
import { createDiscordBot } from './bots/discord/bot.ts';
import { createSlackBot } from './bots/slack/app.ts';
import { type Config, graphiqlEnabled } from './config.ts';
import { type Database, openDatabase } from './db/client.ts';
import { runMigrations } from './db/migrate.ts';
import { createMetrics, createRateLimiter, rateLimitKey, securityPlugins } from './hardening.ts';
import { LIVE_ASSET_URL, liveAssetPath, livePageHtml } from './live/page.ts';
import { createLogger, type Logger } from './log.ts';
import { handleMcpHttp } from './mcp/http.ts';
import { requestScope } from './request-context.ts';
import { restPlugins } from './rest/index.ts';
import type { Context } from './schema/context.ts';
import { maskError } from './schema/errors-mask.ts';
import { schema } from './schema/index.ts';
import { authenticate } from './services/api-keys.ts';
import { isDomainError } from './services/errors.ts';
import { expireJobs } from './services/jobs.ts';
import { type Dispatcher, startDispatcher } from './services/outbox.ts';
import { createPubSub, type PubSub } from './services/pubsub.ts';
import { autoApprove } from './services/reviews.ts';
import { startScheduler } from './services/scheduler.ts';
import { parseAllowList } from './services/ssrf.ts';
import type { Viewer } from './services/viewer.ts';
import { createWebhookWorker, type WebhookWorker } from './services/webhooks.ts';

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
  yoga: YogaServerInstance<ServerContext, Context>;
  /** In-process fetch against the app (tests: no socket). */
  fetch: (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
  /** Opens the database, applies migrations, listens. Resolves with the base URL. */
  start(): Promise<{ url: string; port: number }>;
  /** Stops accepting, drains in-flight requests, closes sockets, database and Redis. */
  stop(): Promise<void>;
}

type EnvelopedRoot = { execute: typeof execute; subscribe: typeof subscribe };

type ServerContext = { req?: IncomingMessage; res?: ServerResponse; requestId?: string; viewer?: Viewer };

/**
 * Builds the whole server without starting it, so the CLI, tests and `npm start` run the same thing.
 */
export async function buildApp(config: Config, options: BuildOptions = {}): Promise<App> {
  const log = options.logger ?? createLogger(config);
  const db =
    options.database ??
    (await openDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR, poolSize: config.DATABASE_POOL_SIZE }));
  const pubsub = options.pubsub ?? createPubSub(config.REDIS_URL);
  let migrated = options.migrate === false;

  const viewerFor = (authorization: string | null | undefined) =>
    authenticate(db.prisma, authorization, { platformAdminKey: config.PLATFORM_ADMIN_KEY });

  const toAuthError = (error: unknown) =>
    isDomainError(error)
      ? new GraphQLError(error.message, {
          extensions: { code: 'UNAUTHENTICATED', http: { status: 401, headers: { 'WWW-Authenticate': 'Bearer' } } },
        })
      : error;

  const metrics = createMetrics(db);
  const rateLimiter = createRateLimiter(config);

  const yoga = createYoga<ServerContext, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    graphiql: graphiqlEnabled(config)
      ? { title: 'Agentwork GraphQL', headers: JSON.stringify({ Authorization: 'Bearer aw_live_...' }, null, 2) }
      : false,
    logging: {
      debug: (...args) => log.debug({ detail: args }, 'yoga'),
      info: (...args) => log.info({ detail: args }, 'yoga'),
      warn: (...args) => log.warn({ detail: args }, 'yoga'),
      error: (...args) => log.error({ detail: args }, 'yoga'),
    },
    maskedErrors: { maskError },
    // REST mirror of the agent-facing operations + OpenAPI under /api (src/rest).
    plugins: [...securityPlugins(config), metrics.plugin, ...restPlugins()],
    context: async ({ request, requestId, viewer }) => {
      const scope = requestScope.getStore();
      let resolvedViewer = viewer;
      if (!resolvedViewer) {
        try {
          resolvedViewer = await viewerFor(request.headers.get('authorization'));
        } catch (error) {
          throw toAuthError(error);
        }
      }
      return {
        viewer: resolvedViewer,
        db: db.prisma,
        pubsub,
        config,
        log: scope?.log ?? log,
        requestId: requestId ?? scope?.requestId ?? randomUUID(),
      };
    },
  });

  // Chat front ends: one core, one adapter per platform, one notifier fed by the outbox.
  const chat = createChatApp({ db: db.prisma, config });
  const slack = createSlackBot(config, chat, log);
  const transports: Partial<Record<'SLACK' | 'DISCORD', ChatTransport>> = {};
  if (slack) transports.SLACK = slack.transport;
  const discord = createDiscordBot(config, chat, log);
  if (discord) transports.DISCORD = discord.transport;
  let notifier: ReturnType<typeof createChatNotifier> | undefined;

  const inFlight = new Set<ServerResponse>();
  let draining = false;
  let lastRequestAt = 0;

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const requestId = (req.headers['x-request-id'] as string | undefined)?.slice(0, 100) || randomUUID();
    res.setHeader('x-request-id', requestId);
    lastRequestAt = Date.now();
    if (draining) res.setHeader('connection', 'close');
    inFlight.add(res);
    res.on('close', () => inFlight.delete(res));
    const reqLog = log.child({ requestId });
    await requestScope.run({ requestId, log: reqLog }, async () => {
      try {
        const path = (req.url ?? '/').split('?')[0] ?? '/';
        if (path === '/metrics') {
          res.writeHead(200, { 'content-type': metrics.registry.contentType });
          return res.end(await metrics.registry.metrics());
        }
        const api = path === '/graphql' || path.startsWith('/api') || path === '/mcp';
        if (api && Number(req.headers['content-length'] ?? 0) > config.MAX_BODY_BYTES) {
          res.setHeader('connection', 'close');
          return sendJson(res, 413, {
            errors: [
              {
                message: `Request body larger than ${config.MAX_BODY_BYTES} bytes`,
                extensions: { code: 'PAYLOAD_TOO_LARGE' },
              },
            ],
          });
        }
        if (api && rateLimiter) {
          const wait = await rateLimiter.hit(rateLimitKey(req.headers.authorization, req.socket.remoteAddress));
          if (wait !== null) {
            res.setHeader('retry-after', String(wait));
            return sendJson(res, 429, {
              errors: [
                {
                  message: `Rate limit of ${config.RATE_LIMIT_PER_MINUTE} requests per minute exceeded; retry in ${wait} s`,
                  extensions: { code: 'RATE_LIMITED', retryAfter: wait },
                },
              ],
            });
          }
        }
        if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
        if (path === '/readyz') {
          const checks = await readiness();
          const ok = Object.values(checks).every((c) => c === 'ok');
          return sendJson(res, ok ? 200 : 503, { status: ok ? 'ready' : 'unavailable', checks });
        }
        const live = /^\/jobs\/([A-Za-z0-9_]{1,80})\/live\/?$/.exec(path ?? '');
        if (live && req.method === 'GET') {
          // The key travels in the URL fragment (never sent here); the page asks the API itself.
          res.writeHead(200, {
            'content-type': 'text/html; charset=utf-8',
            'cache-control': 'no-store',
            'content-security-policy':
              "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'",
            'referrer-policy': 'no-referrer',
          });
          return res.end(livePageHtml(live[1]!));
        }
        if (path === '/mcp') {
          // MCP over Streamable HTTP (agent keys); tools run the GraphQL API in process (src/mcp).
          return await handleMcpHttp(req, res, {
            authenticate: viewerFor,
            fetch: async (url, init) => yoga.fetch(url, init),
          });
        }
        if (path === LIVE_ASSET_URL) {
          res.writeHead(200, {
            'content-type': 'text/javascript; charset=utf-8',
            'cache-control': 'public, max-age=3600',
          });
          return createReadStream(liveAssetPath()).pipe(res);
        }
        if (path === '/discord/interactions' && discord?.requestListener) {
          return discord.requestListener(req, res);
        }
        if (path === '/slack/events' && slack?.requestListener) {
          return slack.requestListener(req, res);
        }
        if (path === '/favicon.ico') {
          res.writeHead(204);
          return res.end();
        }
        if (path === '/') {
          return sendJson(res, 200, {
            name: 'Agentwork',
            graphql: '/graphql',
            health: '/healthz',
            ready: '/readyz',
            docs: 'https://github.com/agentwork/agentwork#readme',
          });
        }
        await yoga(req, res, { req, res, requestId });
      } catch (error) {
        reqLog.error({ err: error }, 'request failed');
        if (!res.headersSent)
          sendJson(res, 500, { errors: [{ message: 'Unexpected error.', extensions: { requestId } }] });
        else res.end();
      }
    });
  }

  async function readiness(): Promise<Record<string, string>> {
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
      ...(draining ? { shutdown: 'draining' } : {}),
    };
  }

  let scheduler: { stop(): Promise<void> } | undefined;
  let dispatcher: Dispatcher | undefined;
  let webhookWorker: WebhookWorker | undefined;
  let server: Server | undefined;
  let wss: WebSocketServer | undefined;
  let wsDispose: { dispose(): void | Promise<void> } | undefined;

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

  const app: App = {
    config,
    chatTransports: transports,
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
      if (config.OUTBOX_DISPATCHER) {
        dispatcher = await startDispatcher(db, pubsub, log, { pollMs: config.OUTBOX_POLL_MS });
      }
      if (config.WEBHOOK_WORKER) {
        webhookWorker = createWebhookWorker(db, log, { allowHosts: parseAllowList(config.WEBHOOK_ALLOW_HOSTS) });
        await webhookWorker.start();
      }
      if (Object.keys(transports).length > 0) {
        notifier = createChatNotifier({ database: db, transports, log, throttleMs: config.CHAT_PROGRESS_THROTTLE_MS });
        await notifier.start();
      }
      await slack?.start();
      await discord?.start();
      const policy = { feeBps: config.PLATFORM_FEE_BPS, maxChangeRequests: config.MAX_CHANGE_REQUESTS };
      scheduler = startScheduler(db.prisma, log, [
        { name: 'expire-jobs', everyMs: 30_000, run: (d, now) => expireJobs(d, now) },
        { name: 'auto-approve', everyMs: 30_000, run: (d, now) => autoApprove(d, policy, now) },
      ]);
      server = createServer((req, res) => void handle(req, res));
      server.keepAliveTimeout = 5_000;
      wss = new WebSocketServer({ server, path: '/graphql' });
      wsDispose = useServer<Record<string, unknown> | undefined, { viewer: Viewer }>(
        {
          connectionInitWaitTimeout: config.WS_INIT_TIMEOUT_MS,
          // Same auth as HTTP: `connectionParams.authorization`. A bad key closes with 4403.
          onConnect: async (ctx) => {
            const params = ctx.connectionParams ?? {};
            const authorization = (params.authorization ?? params.Authorization) as string | undefined;
            try {
              (ctx.extra as { viewer?: Viewer }).viewer = await viewerFor(authorization);
              return true;
            } catch {
              return false;
            }
          },
          // yoga's enveloped execute/subscribe travel in rootValue (graphql-yoga's graphql-ws recipe).
          execute: (args) => (args.rootValue as EnvelopedRoot).execute(args),
          subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args),
          onSubscribe: async (ctx, _id, payload) => {
            const {
              schema: s,
              execute,
              subscribe,
              contextFactory,
              parse,
              validate,
            } = yoga.getEnveloped({
              ...ctx,
              req: ctx.extra.request,
              socket: ctx.extra.socket,
              params: payload,
              viewer: (ctx.extra as { viewer?: Viewer }).viewer,
              requestId: randomUUID(),
            });
            const document = parse(payload.query);
            const errors = validate(s, document);
            if (errors.length > 0) return errors;
            return {
              schema: s,
              operationName: payload.operationName,
              document,
              variableValues: payload.variables,
              contextValue: await contextFactory(),
              rootValue: { execute, subscribe },
            };
          },
        },
        wss,
      );
      await new Promise<void>((resolveListen, reject) => {
        server!.once('error', reject);
        server!.listen(config.PORT, config.HOST, () => resolveListen());
      });
      const { port } = server.address() as AddressInfo;
      const url = `http://${config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST}:${port}`;
      return { url, port };
    },
    async stop() {
      draining = true;
      await scheduler?.stop();
      if (server) {
        // Drain: /readyz already answers 503 so balancers stop sending; requests still arriving
        // are served with `Connection: close`, so clients move off their keep-alive sockets. Only
        // after a quiet moment do we stop listening (Node's close() also drops idle sockets, and
        // dropping one just as a client reuses it would reset that request).
        const deadline = Date.now() + config.SHUTDOWN_TIMEOUT_MS;
        while (Date.now() < deadline && (inFlight.size > 0 || Date.now() - lastRequestAt < 300)) await sleep(25);
        const closed = new Promise<void>((r) => server!.close(() => r()));
        while (inFlight.size > 0 && Date.now() < deadline) await sleep(25);
        server.closeAllConnections();
        for (const client of wss?.clients ?? []) client.close(1001, 'Server shutting down');
        await wsDispose?.dispose();
        await new Promise<void>((r) => (wss ? wss.close(() => r()) : r()));
        await closed;
      }
      await dispatcher?.stop();
      await webhookWorker?.stop();
      await notifier?.stop();
      await slack?.stop();
      await discord?.stop();
      await yoga.dispose();
      await rateLimiter?.close();
      if (!options.pubsub) await pubsub.close();
      if (!options.database) await db.close();
    },
  };
  return app;
}

function sendJson(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
