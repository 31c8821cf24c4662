import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GraphQLError, getOperationAST } from 'graphql';
import { createYoga, isAsyncIterable, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import { type Config, graphiqlEnabled } from '../config.ts';
import type { Database } from '../db/client.ts';
import { securityPlugins } from '../hardening.ts';
import type { Logger } from '../log.ts';
import { requestScope } from '../request-context.ts';
import { restPlugins } from '../rest/index.ts';
import type { Context } from '../schema/context.ts';
import { clientErrorCode, maskError } from '../schema/errors-mask.ts';
import { schema } from '../schema/index.ts';
import { usePageArgs } from '../schema/page-args.ts';
import { authenticate } from '../services/accounts/api-keys.ts';
import type { PubSub } from '../services/delivery/pubsub.ts';
import { isDomainError } from '../services/kernel/errors.ts';
import { isTransientError } from '../services/kernel/transient.ts';
import type { Viewer } from '../services/kernel/viewer.ts';
import { graphiqlOptions, renderGraphiQL } from './graphiql.ts';
import { anonymousViewerHint } from './hints.ts';
import { sleep } from './http.ts';
import { type PrincipalRegistry, scopedPubSub } from './principals.ts';
import { useEventPositions } from './sse.ts';

/** What yoga gets from node:http and graphql-ws besides the Request. */
export type ServerContext = {
  req?: IncomingMessage;
  res?: ServerResponse;
  requestId?: string;
  viewer?: Viewer;
  /** graphql-ws: aborted when the socket closes. */
  signal?: AbortSignal;
};

export type Yoga = YogaServerInstance<ServerContext, Context>;

/** The principal behind an `Authorization` header (a bad key throws a domain error). */
export type ViewerFor = (authorization: string | null | undefined) => Promise<Viewer>;

export function createViewerFor(db: Database, config: Config): ViewerFor {
  return (authorization) => authenticate(db.prisma, authorization, { platformAdminKey: config.PLATFORM_ADMIN_KEY });
}

const toAuthError = (error: unknown) =>
  isDomainError(error)
    ? new GraphQLError(error.message, {
        extensions: { code: 'UNAUTHENTICATED', http: { status: 401, headers: { 'WWW-Authenticate': 'Bearer' } } },
      })
    : error;

/** Client errors (NOT_FOUND, UNAUTHENTICATED, FORBIDDEN, BAD_USER_INPUT, ...) at info; our own faults at error, with the stack. */
function logYogaError(log: Logger, args: unknown[]) {
  const err = args.find((a): a is Error => a instanceof Error);
  const code = clientErrorCode(err);
  if (err && code) log.info({ code, message: err.message }, 'client error');
  else if (err) log.error({ err: (err as GraphQLError).originalError ?? err }, 'yoga: request error');
  else log.error({ detail: args }, 'yoga');
}

const RETRY_PAUSE_MS = 200;

/**
 * Queries are idempotent: one that failed on a dropped database or Redis connection runs once
 * more (with a fresh context copy, so no loader keeps the failed read) before the failure is
 * answered as SERVICE_UNAVAILABLE. Mutations never are: the connection may have dropped after
 * their commit (clients retry them with their `idempotencyKey`, which replays the first answer).
 */
function useRetryTransientQueries(): Plugin {
  return {
    onExecute({ args, executeFn, setExecuteFn }) {
      if (getOperationAST(args.document, args.operationName)?.operation !== 'query') return;
      setExecuteFn(async (execArgs) => {
        const result = await executeFn(execArgs);
        const failed =
          !isAsyncIterable(result) && result.errors?.some((e: GraphQLError) => isTransientError(e.originalError ?? e));
        if (!failed) return result;
        await sleep(RETRY_PAUSE_MS);
        return executeFn({ ...execArgs, contextValue: { ...(execArgs.contextValue as object) } });
      });
    },
  };
}

/**
 * The GraphQL server (HTTP, SSE, and the executor graphql-ws uses): schema, GraphiQL, masked
 * errors, security and metrics plugins, the REST mirror, and the per-request context.
 */
export function createGraphQL(deps: {
  config: Config;
  db: Database;
  pubsub: PubSub;
  log: Logger;
  viewerFor: ViewerFor;
  principals: PrincipalRegistry;
  plugins: Plugin[];
}): Yoga {
  const { config, db, pubsub, log, viewerFor, principals } = deps;
  return createYoga<ServerContext, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    // CORS is answered in front of every API surface (src/app/cors.ts); yoga's would echo any
    // Origin with credentials allowed.
    cors: false,
    // Served from our own assets (src/app/graphiql.ts): works offline.
    graphiql: graphiqlEnabled(config) ? graphiqlOptions() : false,
    renderGraphiQL,
    logging: {
      debug: (...args) => log.debug({ detail: args }, 'yoga'),
      info: (...args) => log.info({ detail: args }, 'yoga'),
      warn: (...args) => log.warn({ detail: args }, 'yoga'),
      // yoga reports here every error it masks, the client's own mistakes included.
      error: (...args) => logYogaError(requestScope.getStore()?.log ?? log, args),
    },
    maskedErrors: { maskError },
    // REST mirror of the agent-facing operations + OpenAPI under /api (src/rest).
    plugins: [
      ...securityPlugins(config),
      anonymousViewerHint(),
      usePageArgs(),
      ...deps.plugins,
      useRetryTransientQueries(),
      useEventPositions(),
      ...restPlugins(),
    ],
    context: async ({ request, requestId, viewer, signal }) => {
      const scope = requestScope.getStore();
      let resolvedViewer = viewer;
      if (!resolvedViewer) {
        const authorization = request.headers.get('authorization');
        try {
          // Reading a key is idempotent: one retry rides out a dropped database connection.
          resolvedViewer = await viewerFor(authorization).catch(async (error) => {
            if (!isTransientError(error)) throw error;
            await sleep(RETRY_PAUSE_MS);
            return viewerFor(authorization);
          });
        } catch (error) {
          throw toAuthError(error);
        }
      }
      const current = resolvedViewer;
      const apiKeyId = 'apiKeyId' in current ? current.apiKeyId : null;
      return {
        viewer: current,
        db: db.prisma,
        // Subscriptions end with their socket (graphql-ws: the connection is tracked as a whole)
        // or their SSE request, and an SSE stream is tracked itself, so a revocation ends it.
        pubsub: signal
          ? scopedPubSub(pubsub, { signal })
          : scopedPubSub(pubsub, {
              signal: request.signal,
              track: apiKeyId
                ? (end) => principals.track({ apiKeyId, viewer: current, socket: false, end, update: () => {} })
                : undefined,
            }),
        config,
        log: scope?.log ?? log,
        requestId: requestId ?? scope?.requestId ?? randomUUID(),
        // graphql-ws builds its context without a Request.
        lastEventId: request?.headers?.get('last-event-id') ?? null,
      };
    },
  });
}
