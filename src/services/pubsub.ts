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
    return Object.assign(pubsub, { kind: 'memory' as const, ping: async () => {}, close: async () => {} });
  }
  const options = { maxRetriesPerRequest: 2, enableOfflineQueue: true, lazyConnect: false };
  const publishClient = new Redis(redisUrl, options);
  const subscribeClient = new Redis(redisUrl, options);
  // Connection errors are retried by ioredis; readiness reports them. Never crash on them.
  publishClient.on('error', () => {});
  subscribeClient.on('error', () => {});
  const pubsub = createYogaPubSub<PubSubChannels>({
    eventTarget: createRedisEventTarget({ publishClient, subscribeClient }),
  });
  return Object.assign(pubsub, {
    kind: 'redis' as const,
    async ping() {
      await publishClient.ping();
    },
    async close() {
      publishClient.disconnect();
      subscribeClient.disconnect();
    },
  });
}
