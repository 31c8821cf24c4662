import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';

export interface Subscription<T = any> {
  events: T[];
  errors: unknown[];
  completed: boolean;
  /** Resolves when `predicate(events)` holds, or rejects after `timeoutMs`. */
  waitFor(predicate: (events: T[]) => boolean, timeoutMs?: number): Promise<T[]>;
  dispose(): Promise<void>;
}

/** A graphql-ws subscription against a running server, collecting `data[field]` of each result. */
export function subscribe<T = any>(
  baseUrl: string,
  apiKey: string | null,
  query: string,
  variables: Record<string, unknown> = {},
  options: { client?: Client } = {},
): Subscription<T> {
  const client =
    options.client ??
    createClient({
      url: `${baseUrl.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: apiKey ? { authorization: `Bearer ${apiKey}` } : {},
      retryAttempts: 0,
      lazy: false,
    });
  const sub: Subscription<T> = {
    events: [],
    errors: [],
    completed: false,
    waitFor(predicate, timeoutMs = 5_000) {
      return new Promise((resolve, reject) => {
        const started = Date.now();
        const check = () => {
          if (predicate(sub.events)) return resolve(sub.events);
          if (sub.errors.length) return reject(new Error(`subscription error: ${JSON.stringify(sub.errors)}`));
          if (Date.now() - started > timeoutMs) {
            return reject(
              new Error(
                `timed out after ${timeoutMs} ms with ${sub.events.length} events: ${JSON.stringify(sub.events.map((e: any) => e?.__typename ?? e))}`,
              ),
            );
          }
          setTimeout(check, 10);
        };
        check();
      });
    },
    async dispose() {
      unsubscribe();
      if (!options.client) await client.dispose();
    },
  };
  const unsubscribe = client.subscribe<Record<string, T>>(
    { query, variables },
    {
      next: (result) => {
        if (result.errors) sub.errors.push(...result.errors);
        if (result.data) sub.events.push(Object.values(result.data)[0] as T);
      },
      error: (error) => sub.errors.push(error),
      complete: () => {
        sub.completed = true;
      },
    },
  );
  return sub;
}

/** Waits until the server has acknowledged a subscription (the first event cannot be missed after). */
export const settle = (ms = 150) => new Promise((r) => setTimeout(r, ms));
