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
import { maskError } from '../schema/errors-mask.ts';
import { schema } from '../schema/index.ts';
import { authenticate } from '../services/accounts/api-keys.ts';
import type { PubSub } from '../services/delivery/pubsub.ts';
import { isDomainError } from '../services/kernel/errors.ts';
import { isTransientError } from '../services/kernel/transient.ts';
import type { Viewer } from '../services/kernel/viewer.ts';
import { sleep } from './http.ts';
import { useEventPositions } from './sse.ts';

/** What yoga gets from node:http and graphql-ws besides the Request. */
export type ServerContext = { req?: IncomingMessage; res?: ServerResponse; requestId?: string; viewer?: Viewer };

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
  plugins: Plugin[];
}): Yoga {
  const { config, db, pubsub, log, viewerFor } = deps;
  return createYoga<ServerContext, Context>({
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
    plugins: [
      ...securityPlugins(config),
      ...deps.plugins,
      useRetryTransientQueries(),
      useEventPositions(),
      ...restPlugins(),
    ],
    context: async ({ request, requestId, viewer }) => {
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
      return {
        viewer: resolvedViewer,
        db: db.prisma,
        pubsub,
        config,
        log: scope?.log ?? log,
        requestId: requestId ?? scope?.requestId ?? randomUUID(),
        // graphql-ws builds its context without a Request.
        lastEventId: request?.headers?.get('last-event-id') ?? null,
      };
    },
  });
}
