import type { Tx } from '../../../db/client.ts';
import type { Prisma, WebhookEndpoint } from '../../../generated/prisma/client.ts';
import { canReceiveEvent, loadJobAccess } from '../../access/visibility.ts';
import type { Viewer } from '../../kernel/viewer.ts';
import { AGENT_EVENT_TYPES } from '../events.ts';
import type { EventMessage } from '../pubsub.ts';
import { generateSecret, webhookBody } from './signing.ts';

/**
 * Outbound webhooks (Standard Webhooks, https://www.standardwebhooks.com).
 *
 * - Workspace endpoints receive the events of the workspace's jobs (all, or the `eventTypes` they
 *   subscribe to); an agent's endpoint follows its `webhookUrl` and receives its own events
 *   (AGENT_EVENT_TYPES), under the same visibility rule as `agentEvents`/`jobEvents`.
 * - The outbox dispatcher calls `enqueueDeliveries` in its transaction: a WebhookDelivery row per
 *   (endpoint, event) exists if and only if the event was dispatched (unique, so a re-dispatch
 *   after a crash adds nothing).
 * - The worker claims due deliveries with `FOR UPDATE SKIP LOCKED` and a lease (`lockedUntil`), so
 *   any number of processes deliver, each delivery by one at a time; a process that dies
 *   mid-send leaves a lease that expires, and the delivery is sent again (at least once; the
 *   `webhook-id` is the same, receivers dedupe on it).
 */

export const NOTIFY_CHANNEL = 'agentwork_webhooks';
export const AGENT_ENDPOINT_LOCK = 72707372;

// ───────────── enqueue (outbox dispatcher) ─────────────

/** True when an endpoint subscribed to the event type (an empty list means all). */
const subscribed = (endpoint: Pick<WebhookEndpoint, 'eventTypes'>, type: string) =>
  endpoint.eventTypes.length === 0 || endpoint.eventTypes.includes(type);

/**
 * Called by the outbox dispatcher, in its transaction, for the events it publishes: writes one
 * PENDING delivery per interested endpoint (idempotent: a re-dispatched event adds nothing) and
 * wakes the workers at commit. Returns the number of deliveries written.
 */
export async function enqueueDeliveries(tx: Tx, events: EventMessage | EventMessage[]): Promise<number> {
  const list = Array.isArray(events) ? events : [events];
  if (list.length === 0) return 0;
  const rows: Prisma.WebhookDeliveryCreateManyInput[] = [];
  const add = (endpointId: string, message: EventMessage) =>
    rows.push({
      endpointId,
      eventId: message.eventId,
      eventType: message.type,
      payload: webhookBody(message) as Prisma.InputJsonValue,
    });

  // Workspace endpoints: the events of the workspace's own jobs.
  const workspaceIds = [...new Set(list.filter((e) => e.jobId && e.workspaceId).map((e) => e.workspaceId!))];
  if (workspaceIds.length > 0) {
    const endpoints = await tx.webhookEndpoint.findMany({
      where: { workspaceId: { in: workspaceIds }, disabledAt: null },
    });
    for (const message of list) {
      if (!message.jobId) continue;
      for (const endpoint of endpoints) {
        if (endpoint.workspaceId === message.workspaceId && subscribed(endpoint, message.type))
          add(endpoint.id, message);
      }
    }
  }

  // Agent endpoints: the agent's own events, if it has a webhookUrl and may receive the event.
  const agentEvents = list.filter((e) => e.agentId && AGENT_EVENT_TYPES.has(e.type));
  const agentIds = [...new Set(agentEvents.map((e) => e.agentId!))];
  if (agentIds.length > 0) {
    const agents = await tx.agent.findMany({
      where: { id: { in: agentIds }, webhookUrl: { not: null } },
      select: { id: true, workspaceId: true, webhookUrl: true, webhooks: { orderBy: { createdAt: 'asc' }, take: 1 } },
    });
    const byId = new Map(agents.map((a) => [a.id, a]));
    const endpointOf = new Map<string, WebhookEndpoint>();
    const access = new Map<string, Awaited<ReturnType<typeof loadJobAccess>>>();
    for (const message of agentEvents) {
      const agent = byId.get(message.agentId!);
      if (!agent) continue;
      const viewer: Viewer = { kind: 'agent', agentId: agent.id, workspaceId: agent.workspaceId, apiKeyId: null };
      if (message.jobId) {
        const key = `${agent.id}:${message.jobId}`;
        if (!access.has(key)) access.set(key, await loadJobAccess(tx, viewer, message.jobId));
        const facts = access.get(key);
        if (!facts || !canReceiveEvent(viewer, facts.facts, message)) continue;
      }
      let endpoint = endpointOf.get(agent.id);
      if (!endpoint) {
        endpoint = await syncAgentEndpoint(tx, agent.id, agent.webhookUrl!, agent.webhooks[0]);
        endpointOf.set(agent.id, endpoint);
      }
      if (!endpoint.disabledAt && subscribed(endpoint, message.type)) add(endpoint.id, message);
    }
  }

  if (rows.length === 0) return 0;
  const { count } = await tx.webhookDelivery.createMany({ data: rows, skipDuplicates: true });
  // NOTIFY is delivered at commit: workers wake when the rows are visible.
  if (count > 0) await tx.$executeRaw`SELECT pg_notify(${NOTIFY_CHANNEL}, '')`;
  return count;
}

/**
 * The agent's endpoint follows its `webhookUrl`: created on first use (with a fresh secret, which
 * the agent obtains with `rotateAgentWebhookSecret`), re-pointed (and re-enabled) when the URL
 * changes. Serialised per agent so two callers never create two endpoints.
 */
export async function syncAgentEndpoint(
  tx: Tx,
  agentId: string,
  url: string,
  existing: WebhookEndpoint | undefined,
): Promise<WebhookEndpoint> {
  let endpoint = existing;
  if (!endpoint) {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(${AGENT_ENDPOINT_LOCK}::int4, hashtext(${agentId}))`;
    endpoint =
      (await tx.webhookEndpoint.findFirst({ where: { agentId }, orderBy: { createdAt: 'asc' } })) ??
      (await tx.webhookEndpoint.create({ data: { agentId, url, secret: generateSecret(), eventTypes: [] } }));
  }
  if (endpoint.url !== url) {
    endpoint = await tx.webhookEndpoint.update({
      where: { id: endpoint.id },
      data: { url, disabledAt: null, disabledReason: null },
    });
  }
  return endpoint;
}
