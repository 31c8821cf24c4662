import { z } from 'zod';
import type { Db } from '../../db/client.ts';
import { parse } from '../kernel/validation.ts';
import { CATCH_UP_PAGE, type EventSource, eventsAfter, headSeq } from './outbox.ts';
import type { EventMessage, PubSub } from './pubsub.ts';

/**
 * A subscription's events, each exactly once and in position (`seq`) order, with no gap:
 *
 * - it starts after `after` (a position the client received before) or, without one, after the
 *   newest position when it opens;
 * - live events come from pubsub; what the live feed cannot carry is read from the outbox
 *   (`eventsAfter`, pages of CATCH_UP_PAGE rows): the events between `after` and now, anything
 *   published while the SUBSCRIBE was on its way to Redis, and, each time this process's Redis
 *   subscriber comes back from a lost connection, everything after the last position delivered;
 * - an event seen twice (live and read, or re-published after a dispatcher crash) is dropped: a
 *   position at or below the last delivered one is never delivered again.
 *
 * It yields raw events: callers apply exactly the visibility rules they apply to live events,
 * because every event goes through the same loop.
 */
export async function* resumableEvents(
  db: Db,
  pubsub: PubSub,
  source: EventSource,
  after: bigint | null,
  options: { pageSize?: number } = {},
): AsyncGenerator<EventMessage> {
  const pageSize = options.pageSize ?? CATCH_UP_PAGE;
  let last = after ?? 0n;
  const queue: EventMessage[] = [];
  let wake: (() => void) | null = null;
  const signal = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  // Catch up before the first live event, and again after every lost subscriber connection.
  let gap = true;
  let down = pubsub.subscriberDown();
  const off = pubsub.onSubscriberChange((state) => {
    down = state === 'down';
    if (down) gap = true;
    signal();
  });
  const live =
    source.topic === 'job:posted' ? pubsub.subscribe('job:posted') : pubsub.subscribe(source.topic, source.id);
  const iterator = live[Symbol.asyncIterator]();
  let ended = false;
  let failure: unknown = null;
  // Calling next() starts the subscription (sends SUBSCRIBE) synchronously.
  const pump = (async () => {
    try {
      for (;;) {
        const r = await iterator.next();
        if (r.done) break;
        queue.push(r.value);
        signal();
      }
    } catch (error) {
      failure = error;
    } finally {
      ended = true;
      signal();
    }
  })();
  try {
    // Without `after`, start at the newest position, read once the live subscription is on its way
    // (live events at or below it are older than the subscription and dropped).
    if (after === null) last = await headSeq(db);
    if (!down) await pubsub.sync();
    for (;;) {
      if (gap && !down) {
        gap = false;
        for (;;) {
          const page = await eventsAfter(db, source, last, pageSize);
          for (const message of page) {
            last = BigInt(message.seq);
            yield message;
          }
          if (page.length < pageSize) break;
        }
        continue;
      }
      const next = queue.shift();
      if (next) {
        const seq = BigInt(next.seq);
        // seq 0: a message with no outbox position (never stored, e.g. a test marker): passed on as
        // it comes, without moving the position.
        if (seq === 0n) {
          yield next;
          continue;
        }
        if (seq > last) {
          last = seq;
          yield next;
        }
        continue;
      }
      if (ended) {
        if (failure) throw failure;
        return;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    off();
    await iterator.return?.();
    await pump;
  }
}

/** A client's resume position (`after`, `Last-Event-ID`): a decimal outbox position. */
const positionSchema = z
  .string()
  .trim()
  .regex(/^\d{1,19}$/, 'must be an event `seq` (digits)');

/** Parses a resume position; a bad one is a ValidationError at `path`. */
export function parsePosition(value: string | null | undefined, path: string[]): bigint | null {
  if (value === null || value === undefined || value === '') return null;
  return BigInt(parse(positionSchema, value, path));
}
