import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { createPubSub as createYogaPubSub } from 'graphql-yoga';
import { Redis } from 'ioredis';

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
    return Object.assign(pubsub, {
      kind: 'memory' as const,
      publishAwait: async (channel: keyof PubSubChannels, id: string | null, message: EventMessage) => {
        if (id === null) (pubsub.publish as (c: string, m: EventMessage) => void)(channel, message);
        else (pubsub.publish as (c: string, i: string, m: EventMessage) => void)(channel, id, message);
      },
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
  subscribeClient.on('ready', () => {
    subscriberReadyAt = Date.now();
  });
  for (const event of ['close', 'end', 'reconnecting'] as const) {
    subscribeClient.on(event, () => {
      subscriberReadyAt = null;
    });
  }
  const RESUBSCRIBE_GRACE_MS = 250;
  const pubsub = createYogaPubSub<PubSubChannels>({
    eventTarget: createRedisEventTarget({ publishClient, subscribeClient }),
  });
  return Object.assign(pubsub, {
    kind: 'redis' as const,
    // Same wire format as yoga's Redis event target: channel `<topic>:<id>`, JSON body.
    publishAwait: async (channel: keyof PubSubChannels, id: string | null, message: EventMessage) => {
      if (subscriberReadyAt === null || Date.now() - subscriberReadyAt < RESUBSCRIBE_GRACE_MS) {
        throw new Error('Redis subscriber is reconnecting; the event stays pending');
      }
      await publishClient.publish(id === null ? channel : `${channel}:${id}`, JSON.stringify(message));
    },
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
