import type { Database, Db } from '../../db/client.ts';
import type { OutboxEvent } from '../../generated/prisma/client.ts';
import type { Logger } from '../../log.ts';
import { AGENT_EVENT_TYPES } from './events.ts';
import { createKickLoop } from './kick-loop.ts';
import type { EventMessage, PubSub } from './pubsub.ts';
import { enqueueDeliveries } from './webhooks/enqueue.ts';

/** The message of an event the dispatcher has given its position (`seq`). */
export function toMessage(e: OutboxEvent): EventMessage {
  if (e.seq === null) throw new Error(`outbox event ${e.id} has no seq yet`);
  return {
    eventId: e.eventId,
    seq: e.seq.toString(),
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
 * Gives pending events their position, in id order, above every position already given, and
 * commits it before anything is published. Two reasons: ids come from a sequence and can commit out
 * of order (a slow transaction commits id 7 after id 9 went out), positions never do; and a
 * subscriber catching up from the outbox (`eventsAfter`) then sees every event that may already be
 * on the wire, so nothing published while its Redis connection was away is missed. One statement.
 */
async function assignPositions(db: Database): Promise<boolean> {
  return db.prisma.$transaction(async (tx) => {
    const [lock] = await tx.$queryRaw<
      { locked: boolean }[]
    >`SELECT pg_try_advisory_xact_lock(${DISPATCH_LOCK}) AS locked`;
    if (!lock?.locked) return false;
    await tx.$executeRaw`
      WITH head AS (SELECT COALESCE(MAX("seq"), 0) AS m FROM "OutboxEvent"),
      pending AS (
        SELECT "id", row_number() OVER (ORDER BY "id") AS n FROM "OutboxEvent"
        WHERE "seq" IS NULL ORDER BY "id" LIMIT ${BATCH}
      )
      UPDATE "OutboxEvent" o SET "seq" = head.m + pending.n
      FROM head, pending WHERE o."id" = pending."id"`;
    return true;
  });
}

/**
 * One dispatch round: positions first (above), then, under a transaction-scoped advisory lock (one
 * dispatcher at a time across all processes, so events leave in position order), publish pending
 * events in `seq` order and mark them published in the same transaction. A crash after publishing
 * but before the commit publishes them again, with the same positions: delivery is at-least-once,
 * and each subscription drops positions it has already delivered, so every subscriber sees each
 * event once.
 */
export async function dispatchOnce(db: Database, pubsub: PubSub): Promise<number> {
  // Another dispatcher is at work: it publishes what is pending (as a failed lock below would say).
  if (!(await assignPositions(db))) return 0;
  return db.prisma.$transaction(async (tx) => {
    const [lock] = await tx.$queryRaw<
      { locked: boolean }[]
    >`SELECT pg_try_advisory_xact_lock(${DISPATCH_LOCK}) AS locked`;
    if (!lock?.locked) return 0;
    const events = await tx.outboxEvent.findMany({
      where: { publishedAt: null, seq: { not: null } },
      orderBy: { seq: 'asc' },
      take: BATCH,
    });
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

/** The topics a subscription reads (pubsub's channels), as outbox filters for catching up. */
export type EventSource =
  | { topic: 'job:event'; id: string }
  | { topic: 'agent:event'; id: string }
  | { topic: 'job:posted'; id: null };

/** Rows per catch-up read: a subscription far behind reads page after page, never all at once. */
export const CATCH_UP_PAGE = 100;

/**
 * Events of one topic with a position after `after`, in position order, at most `limit`: what a
 * subscription missed (resume, Redis reconnect). Includes events given a position but not yet
 * published: they are committed, and the live copy that follows is dropped as a duplicate.
 */
export async function eventsAfter(
  db: Db,
  source: EventSource,
  after: bigint,
  limit = CATCH_UP_PAGE,
): Promise<EventMessage[]> {
  const where =
    source.topic === 'job:event'
      ? { jobId: source.id }
      : source.topic === 'agent:event'
        ? { agentId: source.id, type: { in: [...AGENT_EVENT_TYPES] } }
        : { type: 'JobPosted' };
  const rows = await db.outboxEvent.findMany({
    where: { ...where, seq: { gt: after } },
    orderBy: { seq: 'asc' },
    take: limit,
  });
  return rows.map(toMessage);
}

/** The highest position given so far (0 when none): where a subscription without `after` starts. */
export async function headSeq(db: Db): Promise<bigint> {
  const last = await db.outboxEvent.findFirst({
    where: { seq: { not: null } },
    orderBy: { seq: 'desc' },
    select: { seq: true },
  });
  return last?.seq ?? 0n;
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
