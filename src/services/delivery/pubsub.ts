import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { createPubSub as createYogaPubSub } from 'graphql-yoga';
import { Redis } from 'ioredis';
import type { PrincipalNotice } from './principal-notices.ts';

const NOTICE_CHANNEL = 'agentwork:principal-changed';

/** Local listeners of principal notices; `emit` never lets one listener's error stop the others. */
function noticeListeners() {
  const listeners = new Set<(notice: PrincipalNotice) => void>();
  return {
    listen(listener: (notice: PrincipalNotice) => void) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    emit(notice: PrincipalNotice) {
      for (const listener of listeners) {
        try {
          listener(notice);
        } catch {
          // A listener's failure is its own; the others still hear the notice.
        }
      }
    },
  };
}

/** A committed domain event as subscribers receive it: ids and plain JSON only. */
export interface EventMessage {
  /** Outbox event id: unique, so clients can dedupe after a redelivery. */
  eventId: string;
  /** Position in the outbox; increasing per job. */
  seq: string;
  type: string;
  jobId: string | null;
  workspaceId: string | null;
  agentId: string | null;
  at: string;
  data: Record<string, unknown>;
}

/** Topics: one per job, one per agent, one for new postings. */
export type PubSubChannels = {
  'job:event': [jobId: string, message: EventMessage];
  'agent:event': [agentId: string, message: EventMessage];
  'job:posted': [message: EventMessage];
};

export type PubSub = ReturnType<typeof createYogaPubSub<PubSubChannels>> & {
  kind: 'redis' | 'memory';
  /**
   * Publishes and resolves once the broker took the message (rejects when Redis is unreachable),
   * so the outbox marks an event sent only after it really left.
   */
  publishAwait(channel: keyof PubSubChannels, id: string | null, message: EventMessage): Promise<void>;
  /**
   * "A principal changed" notices (see principal-notices.ts), on their own channel next to the
   * events: every process's socket registry listens. Publishing never throws; when Redis cannot
   * take a notice it still reaches this process's listeners (other processes rely on their
   * per-operation re-check and periodic sweep then).
   */
  notices: {
    publish(notice: PrincipalNotice): Promise<void>;
    /** Returns the unsubscribe function. */
    listen(listener: (notice: PrincipalNotice) => void): () => void;
  };

  /**
   * Resolves once every subscription opened so far is in effect at the broker (a PING on the
   * subscriber connection answers after the SUBSCRIBEs sent before it). In memory: at once.
   */
  sync(): Promise<void>;
  /**
   * Tells `listener` when this process's subscriber connection is lost (`down`: events published
   * from now on may not reach it) and when it is back with every subscription in effect again
   * (`up`): subscriptions catch up from the outbox then. Returns the unsubscribe function.
   */
  onSubscriberChange(listener: (state: 'down' | 'up') => void): () => void;
  /** Is the subscriber connection lost right now (between `down` and `up`)? */
  subscriberDown(): boolean;
  /** For /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
};

/**
 * yoga's typed pubsub. With REDIS_URL it runs over Redis (two ioredis clients, one of them in
 * subscriber mode) so every API process sees every event; otherwise in memory, for one process.
 */
export function createPubSub(redisUrl?: string): PubSub {
  if (!redisUrl) {
    const pubsub = createYogaPubSub<PubSubChannels>();
    const local = noticeListeners();
    return Object.assign(pubsub, {
      kind: 'memory' as const,
      notices: { publish: async (notice: PrincipalNotice) => local.emit(notice), listen: local.listen },
      publishAwait: async (channel: keyof PubSubChannels, id: string | null, message: EventMessage) => {
        if (id === null) (pubsub.publish as (c: string, m: EventMessage) => void)(channel, message);
        else (pubsub.publish as (c: string, i: string, m: EventMessage) => void)(channel, id, message);
      },
      sync: async () => {},
      onSubscriberChange: () => () => {},
      subscriberDown: () => false,
      ping: async () => {},
      close: async () => {},
    });
  }
  // The publisher fails fast while Redis is down (the outbox retries); the subscriber reconnects
  // and re-subscribes on its own.
  const publishClient = new Redis(redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
  const subscribeClient = new Redis(redisUrl, { maxRetriesPerRequest: null });
  // Connection errors are retried by ioredis; readiness reports them. Never crash on them.
  publishClient.on('error', () => {});
  subscribeClient.on('error', () => {});
  // Our own subscriber must be back (and re-subscribed) before we publish: a message published
  // while it reconnects reaches nobody here, and the outbox would already call it sent.
  let subscriberReadyAt: number | null = null;
  const listeners = new Set<(state: 'down' | 'up') => void>();
  const notify = (state: 'down' | 'up') => {
    for (const listener of listeners) listener(state);
  };
  let everReady = false;
  let down = false;
  const sync = () => subscribeClient.ping().then(() => {});
  subscribeClient.on('ready', () => {
    subscriberReadyAt = Date.now();
    // ioredis has re-sent the SUBSCRIBEs before emitting `ready`; the PING answers after them.
    if (everReady && down)
      sync().then(
        () => {
          if (down && subscribeClient.status === 'ready') {
            down = false;
            notify('up');
          }
        },
        () => {},
      );
    everReady = true;
  });
  for (const event of ['close', 'end', 'reconnecting'] as const) {
    subscribeClient.on(event, () => {
      subscriberReadyAt = null;
      if (everReady && !down) {
        down = true;
        notify('down');
      }
    });
  }
  const local = noticeListeners();
  subscribeClient.on('message', (channel: string, raw: string) => {
    if (channel !== NOTICE_CHANNEL) return;
    try {
      local.emit(JSON.parse(raw) as PrincipalNotice);
    } catch {
      // Not ours to understand: ignore.
    }
  });
  // ioredis re-subscribes by itself after a reconnect.
  subscribeClient.subscribe(NOTICE_CHANNEL).catch(() => {});
  const RESUBSCRIBE_GRACE_MS = 250;
  const pubsub = createYogaPubSub<PubSubChannels>({
    eventTarget: createRedisEventTarget({ publishClient, subscribeClient }),
  });
  return Object.assign(pubsub, {
    kind: 'redis' as const,
    notices: {
      async publish(notice: PrincipalNotice) {
        try {
          // Our own subscriber hears it back from Redis, like every other process.
          await publishClient.publish(NOTICE_CHANNEL, JSON.stringify(notice));
        } catch {
          local.emit(notice);
        }
      },
      listen: local.listen,
    },
    // Same wire format as yoga's Redis event target: channel `<topic>:<id>`, JSON body.
    publishAwait: async (channel: keyof PubSubChannels, id: string | null, message: EventMessage) => {
      if (subscriberReadyAt === null || Date.now() - subscriberReadyAt < RESUBSCRIBE_GRACE_MS) {
        throw new Error('Redis subscriber is reconnecting; the event stays pending');
      }
      await publishClient.publish(id === null ? channel : `${channel}:${id}`, JSON.stringify(message));
    },
    sync,
    onSubscriberChange(listener: (state: 'down' | 'up') => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    subscriberDown: () => down,
    async ping() {
      await publishClient.ping();
      if (subscribeClient.status !== 'ready') throw new Error(`Redis subscriber is ${subscribeClient.status}`);
    },
    async close() {
      publishClient.disconnect();
      subscribeClient.disconnect();
    },
  });
}
