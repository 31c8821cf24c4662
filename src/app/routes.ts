import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Config, graphiqlEnabled } from '../config.ts';
import { type createMetrics, type createRateLimiter, rateLimitKey } from '../hardening.ts';
import { LIVE_ASSET_URL, LIVE_PAGE_CSP_HEADER, liveAssetPath, livePageHtml } from '../live/page.ts';
import type { Logger } from '../log.ts';
import { handleMcpHttp } from '../mcp/http.ts';
import { requestScope } from '../request-context.ts';
import { REST_BASE } from '../rest/index.ts';
import { isTransientError, RETRY_AFTER_SECONDS } from '../services/kernel/transient.ts';
import { VERSION } from '../version.ts';
import { createCors } from './cors.ts';
import { graphiqlAssetPath, serveGraphiqlAsset } from './graphiql.ts';
import type { ViewerFor, Yoga } from './graphql.ts';
import { sendJson } from './http.ts';

type Listener = (req: IncomingMessage, res: ServerResponse) => unknown;

/** One HTTP route: an exact path or a pattern, and what answers it. */
export interface Route {
  path: string | RegExp;
  /** Only these methods (default: any). */
  method?: string;
  /** Guarded by the body-size cap and the rate limit (the API surfaces). */
  api?: boolean;
  handle: (req: IncomingMessage, res: ServerResponse, match: RegExpExecArray | null) => unknown;
}

export interface RouteDeps {
  config: Config;
  yoga: Yoga;
  viewerFor: ViewerFor;
  metrics: ReturnType<typeof createMetrics>;
  readiness: () => Promise<Record<string, string>>;
  /** Platform adapters that take signed HTTP requests (Slack events, Discord interactions). */
  slack?: Listener;
  discord?: Listener;
}

/** The process's HTTP surface, in the order it is matched; anything else goes to yoga (/graphql). */
export function routes(deps: RouteDeps): Route[] {
  const { yoga, metrics } = deps;
  const table: Route[] = [
    {
      path: '/metrics',
      handle: async (_req, res) => {
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        res.end(await metrics.registry.metrics());
      },
    },
    { path: '/healthz', handle: (_req, res) => sendJson(res, 200, { status: 'ok' }) },
    {
      path: '/readyz',
      handle: async (_req, res) => {
        const checks = await deps.readiness();
        const ok = Object.values(checks).every((c) => c === 'ok');
        sendJson(res, ok ? 200 : 503, { status: ok ? 'ready' : 'unavailable', checks });
      },
    },
    {
      path: /^\/jobs\/([A-Za-z0-9_]{1,80})\/live\/?$/,
      method: 'GET',
      handle: (_req, res, match) => {
        // The key travels in the URL fragment (never sent here); the page asks the API itself.
        res.writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'cache-control': 'no-store',
          // Inline script and style allowed by hash only (src/live/page.ts), never 'unsafe-inline'.
          'content-security-policy': LIVE_PAGE_CSP_HEADER,
          'referrer-policy': 'no-referrer',
        });
        res.end(livePageHtml(match![1]!));
      },
    },
    {
      // MCP over Streamable HTTP (agent keys); tools run the GraphQL API in process (src/mcp).
      path: '/mcp',
      api: true,
      handle: (req, res) =>
        handleMcpHttp(req, res, { authenticate: deps.viewerFor, fetch: async (url, init) => yoga.fetch(url, init) }),
    },
    {
      path: LIVE_ASSET_URL,
      handle: (_req, res) => {
        res.writeHead(200, {
          'content-type': 'text/javascript; charset=utf-8',
          'cache-control': 'public, max-age=3600',
        });
        createReadStream(liveAssetPath()).pipe(res);
      },
    },
  ];
  if (graphiqlEnabled(deps.config))
    table.push({ path: graphiqlAssetPath, handle: (req, res, match) => serveGraphiqlAsset(req, res, match![1]!) });
  if (deps.discord) table.push({ path: '/discord/interactions', handle: deps.discord });
  if (deps.slack) table.push({ path: '/slack/events', handle: deps.slack });
  table.push(
    {
      path: '/favicon.ico',
      handle: (_req, res) => {
        res.writeHead(204);
        res.end();
      },
    },
    {
      path: '/',
      handle: (_req, res) => sendJson(res, 200, serviceIndex(deps.config)),
    },
  );
  return table;
}

/** `GET /`: what this server offers and where (paths relative to this origin). */
export function serviceIndex(config: Config) {
  return {
    name: 'Agentwork',
    version: VERSION,
    graphql: '/graphql',
    ...(graphiqlEnabled(config) ? { graphiql: '/graphql (open in a browser)' } : {}),
    subscriptions: { graphqlWs: '/graphql', sse: '/graphql (Accept: text/event-stream)' },
    rest: REST_BASE,
    openapi: `${REST_BASE}/openapi.json`,
    mcp: '/mcp',
    live: '/jobs/{jobId}/live',
    metrics: '/metrics',
    health: '/healthz',
    ready: '/readyz',
    docs: 'https://github.com/agentwork/agentwork#readme',
    api: 'https://github.com/agentwork/agentwork/blob/main/docs/api.md',
  };
}

/** The API surfaces: body cap and rate limit apply before anything is parsed. */
const isApiPath = (path: string) => path === '/graphql' || path.startsWith('/api') || path === '/mcp';

/**
 * The node:http listener: request id and log scope, drain bookkeeping, CORS, body-size cap and
 * rate limit on the API surfaces, then the first matching route, else yoga.
 */
export function createRequestHandler(deps: {
  config: Config;
  log: Logger;
  yoga: Yoga;
  routes: Route[];
  rateLimiter: ReturnType<typeof createRateLimiter>;
  drain: DrainState;
}) {
  const { config, log, yoga, rateLimiter, drain } = deps;
  const cors = createCors(config.CORS_ORIGINS);
  return async function handle(req: IncomingMessage, res: ServerResponse) {
    const requestId = (req.headers['x-request-id'] as string | undefined)?.slice(0, 100) || randomUUID();
    res.setHeader('x-request-id', requestId);
    drain.lastRequestAt = Date.now();
    if (drain.draining) res.setHeader('connection', 'close');
    drain.inFlight.add(res);
    res.on('close', () => drain.inFlight.delete(res));
    const reqLog = log.child({ requestId });
    await requestScope.run({ requestId, log: reqLog }, async () => {
      try {
        const path = (req.url ?? '/').split('?')[0] ?? '/';
        // CORS first: a preflight is answered here, before the rate limit and authentication.
        if (isApiPath(path) && cors.handle(req, res)) return;
        if (isApiPath(path) && Number(req.headers['content-length'] ?? 0) > config.MAX_BODY_BYTES) {
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
        if (isApiPath(path) && rateLimiter) {
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
        for (const route of deps.routes) {
          if (route.method && route.method !== req.method) continue;
          const match = typeof route.path === 'string' ? null : route.path.exec(path);
          if (typeof route.path === 'string' ? route.path !== path : !match) continue;
          return await route.handle(req, res, match);
        }
        await yoga(req, res, { req, res, requestId });
      } catch (error) {
        if (isTransientError(error)) {
          // A database or Redis connection failed outside GraphQL (rate limit, REST, MCP): retryable.
          reqLog.warn({ err: error }, 'database or Redis unreachable');
          if (res.headersSent) return void res.end();
          res.setHeader('retry-after', String(RETRY_AFTER_SECONDS));
          return sendJson(res, 503, {
            errors: [
              {
                message: 'Service temporarily unavailable; retry shortly.',
                extensions: { code: 'SERVICE_UNAVAILABLE', retryAfter: RETRY_AFTER_SECONDS, requestId },
              },
            ],
          });
        }
        reqLog.error({ err: error }, 'request failed');
        if (!res.headersSent)
          sendJson(res, 500, { errors: [{ message: 'Unexpected error.', extensions: { requestId } }] });
        else res.end();
      }
    });
  };
}

/** What the drain on stop needs to know about requests in flight. */
export interface DrainState {
  draining: boolean;
  lastRequestAt: number;
  inFlight: Set<ServerResponse>;
}
