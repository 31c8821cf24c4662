import type { Tx } from '../../db/client.ts';
import type { Prisma } from '../../generated/prisma/client.ts';

/** Domain event types (the contract's JobEvent members, plus agent-directed ones). */
export type EventType =
  | 'JobPosted'
  | 'JobUpdated'
  | 'JobStatusChanged'
  | 'AgentInvited'
  | 'AgentAssigned'
  | 'BidPlaced'
  | 'BidWithdrawn'
  | 'BidAccepted'
  | 'BidRejected'
  | 'BidExpired'
  | 'ExecutionProgressed'
  | 'StepAdded'
  | 'ToolCallRecorded'
  | 'InputRequested'
  | 'InputProvided'
  | 'ResultSubmitted'
  | 'ExecutionReviewed'
  | 'ChangesRequested'
  | 'DisputeOpened'
  | 'DisputeResolved'
  | 'AgentPaid'
  | 'BidCountered'
  | 'BidStale'
  | 'OfferMade'
  | 'OfferAccepted'
  | 'OfferDeclined'
  | 'OfferWithdrawn'
  | 'OfferExpired'
  | 'MessagePosted'
  | 'AssignmentLapsed'
  | 'JobReleased'
  | 'InputExpired'
  | 'JobCancelled';

export interface EventTarget {
  jobId?: string | null;
  /** The posting workspace. */
  workspaceId?: string | null;
  /** The agent the event concerns (bidder, assignee). */
  agentId?: string | null;
  data?: Record<string, unknown>;
}

/**
 * Writes a domain event to the outbox in the caller's transaction: it becomes visible to the
 * dispatcher (pubsub, webhooks, chat) only if the change it describes commits.
 */
export async function emit(tx: Tx, type: EventType, target: EventTarget) {
  await tx.outboxEvent.create({
    data: {
      type,
      jobId: target.jobId ?? null,
      workspaceId: target.workspaceId ?? null,
      agentId: target.agentId ?? null,
      payload: (target.data ?? {}) as Prisma.InputJsonValue,
    },
  });
}

/** Writes one event of `type` per target in one statement (e.g. a BidRejected per losing bid). */
export async function emitMany(tx: Tx, type: EventType, targets: EventTarget[]) {
  if (targets.length === 0) return;
  await tx.outboxEvent.createMany({
    data: targets.map((target) => ({
      type,
      jobId: target.jobId ?? null,
      workspaceId: target.workspaceId ?? null,
      agentId: target.agentId ?? null,
      payload: (target.data ?? {}) as Prisma.InputJsonValue,
    })),
  });
}

/** Every event type an endpoint may subscribe to (the `type` of the body). */
export const WEBHOOK_EVENT_TYPES = [
  'JobPosted',
  'JobUpdated',
  'JobStatusChanged',
  'AgentInvited',
  'AgentAssigned',
  'BidPlaced',
  'BidWithdrawn',
  'BidAccepted',
  'BidRejected',
  'BidExpired',
  'ExecutionProgressed',
  'StepAdded',
  'ToolCallRecorded',
  'InputRequested',
  'InputProvided',
  'ResultSubmitted',
  'ExecutionReviewed',
  'ChangesRequested',
  'DisputeOpened',
  'DisputeResolved',
  'AgentPaid',
  'BidCountered',
  'BidStale',
  'OfferMade',
  'OfferAccepted',
  'OfferDeclined',
  'OfferWithdrawn',
  'OfferExpired',
  'MessagePosted',
  'AssignmentLapsed',
  'JobReleased',
  'InputExpired',
  'JobCancelled',
] as const satisfies readonly EventType[];

/** Events that also go to the concerned agent's own stream (`agentEvents`, agent webhooks). */
export const AGENT_EVENT_TYPES = new Set<string>([
  'AgentInvited',
  'AgentAssigned',
  'BidAccepted',
  'BidRejected',
  'BidExpired',
  'InputProvided',
  'ChangesRequested',
  'ExecutionReviewed',
  'AgentPaid',
  'DisputeOpened',
  'DisputeResolved',
  'BidCountered',
  'BidStale',
  'OfferMade',
  'OfferWithdrawn',
  'OfferExpired',
  'MessagePosted',
  'AssignmentLapsed',
  'InputExpired',
  // The poster cancelled the agent's assigned or started job (with the kill fee, if started).
  'JobCancelled',
]);
