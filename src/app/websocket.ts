import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { execute, subscribe } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { Config } from '../config.ts';
import { isTransientError } from '../services/kernel/transient.ts';
import type { Viewer } from '../services/kernel/viewer.ts';
import type { ViewerFor, Yoga } from './graphql.ts';

type EnvelopedRoot = { execute: typeof execute; subscribe: typeof subscribe };

export interface GraphQLWebSocketServer {
  /** Closes every socket (1001) and stops accepting. */
  close(): Promise<void>;
}

/**
 * graphql-ws on `/graphql` of the HTTP server, executed by yoga's envelope (graphql-yoga's
 * graphql-ws recipe), with the same authentication as HTTP: `connectionParams.authorization`.
 */
export function attachWebSocketServer(
  server: Server,
  deps: { config: Config; yoga: Yoga; viewerFor: ViewerFor },
): GraphQLWebSocketServer {
  const { config, yoga, viewerFor } = deps;
  const wss = new WebSocketServer({ server, path: '/graphql' });
  const disposable = useServer<Record<string, unknown> | undefined, { viewer: Viewer }>(
    {
      connectionInitWaitTimeout: config.WS_INIT_TIMEOUT_MS,
      // A bad key closes with 4403.
      onConnect: async (ctx) => {
        const params = ctx.connectionParams ?? {};
        const authorization = (params.authorization ?? params.Authorization) as string | undefined;
        try {
          (ctx.extra as { viewer?: Viewer }).viewer = await viewerFor(authorization);
          return true;
        } catch (error) {
          // The key could not be checked (database unreachable): 1013 "try again later", not 4403.
          if (isTransientError(error)) ctx.extra.socket.close(1013, 'Service temporarily unavailable; retry');
          return false;
        }
      },
      // yoga's enveloped execute/subscribe travel in rootValue.
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
  return {
    async close() {
      for (const client of wss.clients) client.close(1001, 'Server shutting down');
      await disposable.dispose();
      await new Promise<void>((r) => wss.close(() => r()));
    },
  };
}
