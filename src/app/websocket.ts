import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import { type execute, GraphQLError, type subscribe } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Config } from '../config.ts';
import { isTransientError } from '../services/kernel/transient.ts';
import type { Viewer } from '../services/kernel/viewer.ts';
import type { ViewerFor, Yoga } from './graphql.ts';
import type { PrincipalRegistry } from './principals.ts';

type EnvelopedRoot = { execute: typeof execute; subscribe: typeof subscribe };

export interface GraphQLWebSocketServer {
  /** Closes every socket (1001) and stops accepting. */
  close(): Promise<void>;
}

/** Close code for a key over WS_MAX_SOCKETS_PER_KEY (4429 is graphql-ws's "too many initialisation requests"). */
export const TOO_MANY_SOCKETS = 4430;
const FORBIDDEN = 4403;

/** What graphql-ws keeps per connection for us. */
type Extra = {
  socket: WebSocket;
  request: IncomingMessage;
  viewer?: Viewer;
  authorization?: string;
  /** Aborted when the socket closes (or is being closed): every subscription of the socket ends. */
  closed?: AbortController;
};

/**
 * graphql-ws on `/graphql` of the HTTP server, executed by yoga's envelope (graphql-yoga's
 * graphql-ws recipe), with the same authentication as HTTP: `connectionParams.authorization`.
 *
 * The principal is checked at connect and again at every operation (one statement), and the
 * socket is tracked in the principal registry, so a revoked key, a removed member or a suspended
 * agent loses the socket (4403) and its subscriptions at once, on every process; a changed role
 * applies from the next operation. Caps: WS_MAX_SUBSCRIPTIONS_PER_CONNECTION operations in flight
 * per socket, WS_MAX_SOCKETS_PER_KEY sockets per key per process.
 */
export function attachWebSocketServer(
  server: Server,
  deps: { config: Config; yoga: Yoga; viewerFor: ViewerFor; principals: PrincipalRegistry },
): GraphQLWebSocketServer {
  const { config, yoga, viewerFor, principals } = deps;
  const wss = new WebSocketServer({ server, path: '/graphql' });
  const forbid = (extra: Extra, reason: string) => {
    extra.closed?.abort();
    extra.socket.close(FORBIDDEN, limitReason(`Forbidden: ${reason}`));
  };
  const disposable = useServer<Record<string, unknown> | undefined, Extra>(
    {
      connectionInitWaitTimeout: config.WS_INIT_TIMEOUT_MS,
      // A bad key closes with 4403; one socket too many for a key with 4430.
      onConnect: async (ctx) => {
        const params = ctx.connectionParams ?? {};
        const authorization = (params.authorization ?? params.Authorization) as string | undefined;
        const extra = ctx.extra;
        let viewer: Viewer;
        try {
          viewer = await viewerFor(authorization);
        } catch (error) {
          // The key could not be checked (database unreachable): 1013 "try again later", not 4403.
          if (isTransientError(error)) ctx.extra.socket.close(1013, 'Service temporarily unavailable; retry');
          return false;
        }
        extra.viewer = viewer;
        extra.authorization = authorization;
        extra.closed = new AbortController();
        const apiKeyId = 'apiKeyId' in viewer ? viewer.apiKeyId : null;
        if (apiKeyId) {
          if (principals.socketsOf(apiKeyId) >= config.WS_MAX_SOCKETS_PER_KEY) {
            extra.socket.close(
              TOO_MANY_SOCKETS,
              `Too many sockets for this API key (at most ${config.WS_MAX_SOCKETS_PER_KEY} per server process)`,
            );
            return false;
          }
          const untrack = principals.track({
            apiKeyId,
            viewer,
            socket: true,
            end: (reason) => forbid(extra, reason),
            update: (current) => {
              extra.viewer = current;
            },
          });
          extra.socket.once('close', untrack);
        }
        extra.socket.once('close', () => extra.closed?.abort());
        return true;
      },
      // yoga's enveloped execute/subscribe travel in rootValue.
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args),
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args),
      onSubscribe: async (ctx, _id, payload) => {
        const extra = ctx.extra;
        // The operation being started is already counted.
        if (Object.keys(ctx.subscriptions).length > config.WS_MAX_SUBSCRIPTIONS_PER_CONNECTION) {
          return [
            new GraphQLError(
              `Too many subscriptions on this connection (at most ${config.WS_MAX_SUBSCRIPTIONS_PER_CONNECTION}): complete one first, or open another connection`,
              { extensions: { code: 'TOO_MANY_SUBSCRIPTIONS' } },
            ),
          ];
        }
        // Re-authenticate for every operation: the key may have been revoked, the member removed
        // or demoted, the agent suspended since the last one (even if no notice reached us).
        let viewer = extra.viewer;
        if (extra.authorization) {
          try {
            viewer = extra.viewer = await viewerFor(extra.authorization);
          } catch (error) {
            const message = error instanceof Error ? error.message : 'Unauthenticated';
            // Answer this operation, then close the socket (its other subscriptions end with it).
            setImmediate(() => forbid(extra, message));
            return [new GraphQLError(message, { extensions: { code: 'UNAUTHENTICATED' } })];
          }
        }
        const {
          schema: s,
          execute,
          subscribe,
          contextFactory,
          parse,
          validate,
        } = yoga.getEnveloped({
          ...ctx,
          req: extra.request,
          socket: extra.socket,
          params: payload,
          viewer,
          signal: extra.closed?.signal,
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
  return {
    async close() {
      for (const client of wss.clients) client.close(1001, 'Server shutting down');
      await disposable.dispose();
      await new Promise<void>((r) => wss.close(() => r()));
    },
  };
}

/** Close reasons are limited to 123 bytes by the WebSocket protocol. */
function limitReason(reason: string): string {
  return Buffer.byteLength(reason) <= 123 ? reason : `${Buffer.from(reason).subarray(0, 120).toString()}...`;
}
