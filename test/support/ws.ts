import { randomBytes } from 'node:crypto';
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import type { EventMessage } from '../../src/services/delivery/pubsub.ts';

/**
 * How long a test waits for a condition before it gives up: long enough for a loaded CI machine
 * (two cores shared by several runs), never part of what a test asserts.
 */
export const WAIT_MS = 20_000;

export interface Subscription<T = any> {
  events: T[];
  errors: unknown[];
  completed: boolean;
  /** Resolves when `predicate(events)` holds; rejects on a subscription error or after `timeoutMs`. */
  waitFor(predicate: (events: T[]) => boolean, timeoutMs?: number): Promise<T[]>;
  /**
   * Resolves once the server delivers on this subscription, so nothing published afterwards can
   * be missed: `publish(eventId)` sends a marker event straight to the pubsub, again every 100 ms
   * until one arrives. Markers never show in `events`.
   */
  ready(publish: (eventId: string) => Promise<unknown>, timeoutMs?: number): Promise<void>;
  dispose(): Promise<void>;
}

/** Marker events (see `ready`) carry ids with this prefix. */
export const PROBE_PREFIX = 'probe:';
const isProbe = (event: any) =>
  typeof event?.eventId === 'string'
    ? event.eventId.startsWith(PROBE_PREFIX)
    : typeof event?.title === 'string' && event.title.startsWith(PROBE_PREFIX);

/**
 * A marker for `Subscription.ready` on `jobEvents` / `agentEvents`: an event type no client
 * knows (delivered as GenericJobEvent) addressed to `agentId` (so an agent subscriber receives
 * it too); `seq` 0 sorts before every real event.
 */
export function probeMessage(
  eventId: string,
  target: { jobId?: string | null; workspaceId?: string | null; agentId?: string | null },
): EventMessage {
  return {
    eventId,
    seq: '0',
    type: 'TestProbe',
    jobId: target.jobId ?? null,
    workspaceId: target.workspaceId ?? null,
    agentId: target.agentId ?? null,
    at: new Date().toISOString(),
    data: {},
  };
}

/** One line for a subscription failure (a socket close is a CloseEvent, which prints as a wall of internals). */
function describeError(error: unknown): string {
  const e = error as { code?: unknown; reason?: unknown; message?: unknown };
  if (typeof e?.code === 'number' && 'reason' in (e as object)) return `socket closed ${e.code} ${String(e.reason)}`;
  if (typeof e?.message === 'string') return e.message;
  return JSON.stringify(error);
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
      // The default logs the whole CloseEvent to the console; the subscription's error callback
      // already receives it, and waitFor reports it in one line.
      onNonLazyError: () => {},
    });
  let probes = 0;
  const sub: Subscription<T> = {
    events: [],
    errors: [],
    completed: false,
    waitFor(predicate, timeoutMs = WAIT_MS) {
      return new Promise((resolve, reject) => {
        const started = Date.now();
        const check = () => {
          if (predicate(sub.events)) return resolve(sub.events);
          if (sub.errors.length) {
            return reject(new Error(`subscription error: ${sub.errors.map(describeError).join('; ')}`));
          }
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
    async ready(publish, timeoutMs = WAIT_MS) {
      const started = Date.now();
      const before = probes;
      while (probes === before) {
        if (sub.errors.length) throw new Error(`subscription error: ${sub.errors.map(describeError).join('; ')}`);
        if (Date.now() - started > timeoutMs) throw new Error(`subscription not delivering after ${timeoutMs} ms`);
        await publish(`${PROBE_PREFIX}${randomBytes(6).toString('hex')}`);
        const until = Date.now() + 100;
        while (probes === before && Date.now() < until && !sub.errors.length)
          await new Promise((r) => setTimeout(r, 5));
      }
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
        if (!result.data) return;
        const event = Object.values(result.data)[0] as T;
        if (isProbe(event)) probes++;
        else sub.events.push(event);
      },
      error: (error) => sub.errors.push(error),
      complete: () => {
        sub.completed = true;
      },
    },
  );
  return sub;
}

/**
 * Waits until the outbox dispatcher has published every committed event (of one job, or all):
 * afterwards a marker published through the same pubsub arrives after all of them, so a test
 * can assert what a subscriber did NOT receive without sleeping.
 */
export async function outboxDrained(
  prisma: { outboxEvent: { count(args: { where: Record<string, unknown> }): Promise<number> } },
  jobId?: string,
  timeoutMs = WAIT_MS,
): Promise<void> {
  const started = Date.now();
  for (;;) {
    const pending = await prisma.outboxEvent.count({ where: { publishedAt: null, ...(jobId ? { jobId } : {}) } });
    if (pending === 0) return;
    if (Date.now() - started > timeoutMs)
      throw new Error(`${pending} outbox events still unpublished after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A pause for tests that have no condition to wait on. Prefer `Subscription.ready` (the server
 * delivers) and `outboxDrained` (nothing more is coming): a pause is a guess, and a loaded
 * machine makes it wrong.
 */
export const settle = (ms = 150) => new Promise((r) => setTimeout(r, ms));
