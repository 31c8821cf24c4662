import type { Database } from '../../db/client.ts';
import type { OutboxEvent } from '../../generated/prisma/client.ts';
import type { Logger } from '../../log.ts';
import { AGENT_EVENT_TYPES } from './events.ts';
import { createKickLoop } from './kick-loop.ts';
import type { EventMessage, PubSub } from './pubsub.ts';
import { enqueueDeliveries } from './webhooks/enqueue.ts';

export function toMessage(e: OutboxEvent): EventMessage {
  return {
    eventId: e.eventId,
    seq: e.id.toString(),
    type: e.type,
    jobId: e.jobId,
    workspaceId: e.workspaceId,
    agentId: e.agentId,
    at: e.createdAt.toISOString(),
    data: (e.payload ?? {}) as Record<string, unknown>,
  };
}

/** Publishes one committed event on every topic it belongs to. */
export async function publishEvent(pubsub: PubSub, message: EventMessage) {
  if (message.jobId) await pubsub.publishAwait('job:event', message.jobId, message);
  if (message.type === 'JobPosted') await pubsub.publishAwait('job:posted', null, message);
  if (message.agentId && AGENT_EVENT_TYPES.has(message.type))
    await pubsub.publishAwait('agent:event', message.agentId, message);
}

const DISPATCH_LOCK = 72707370;
const BATCH = 200;

/**
 * One dispatch round: under a transaction-scoped advisory lock (one dispatcher at a time across
 * all processes, so events leave in commit-id order), publish pending events in id order, then
 * mark them published in the same transaction. A crash after publishing but before the commit
 * publishes them again: delivery is at-least-once, and each subscription drops event ids it has
 * already delivered, so every subscriber sees each event once.
 */
export async function dispatchOnce(db: Database, pubsub: PubSub): Promise<number> {
  return db.prisma.$transaction(async (tx) => {
    const [lock] = await tx.$queryRaw<
      { locked: boolean }[]
    >`SELECT pg_try_advisory_xact_lock(${DISPATCH_LOCK}) AS locked`;
    if (!lock?.locked) return 0;
    const events = await tx.outboxEvent.findMany({ where: { publishedAt: null }, orderBy: { id: 'asc' }, take: BATCH });
    if (events.length === 0) return 0;
    const messages = events.map(toMessage);
    for (const message of messages) await publishEvent(pubsub, message);
    // Outbound webhooks: their deliveries commit with the events' `publishedAt` (see webhooks.ts).
    await enqueueDeliveries(tx, messages);
    await tx.outboxEvent.updateMany({
      where: { id: { in: events.map((e) => e.id) } },
      data: { publishedAt: new Date() },
    });
    return events.length;
  });
}

export interface Dispatcher {
  /** Dispatch now (in-process shortcut after a commit). */
  kick(): void;
  stop(): Promise<void>;
}

/**
 * Runs the dispatcher: woken by PostgreSQL NOTIFY on every outbox insert (any process), by
 * `kick()`, and by a poll every `pollMs` as a safety net. Failures (Redis or PostgreSQL down) leave
 * events pending; they go out once both answer again.
 */
export async function startDispatcher(
  db: Database,
  pubsub: PubSub,
  log: Logger,
  options: { pollMs?: number } = {},
): Promise<Dispatcher> {
  const loop = createKickLoop(() => dispatchOnce(db, pubsub), {
    batch: BATCH,
    onError: (error) => log.warn({ err: error }, 'outbox dispatch failed; events stay pending and will be retried'),
  });
  const kick = loop.kick;
  const unlisten = await db.listen('agentwork_outbox', kick).catch((error) => {
    log.warn({ err: error }, 'LISTEN unavailable; the outbox dispatcher polls only');
    return async () => {};
  });
  const timer = setInterval(kick, options.pollMs ?? 500);
  timer.unref();
  kick();
  return {
    kick,
    async stop() {
      loop.stop();
      clearInterval(timer);
      await unlisten();
      await loop.current();
    },
  };
}
