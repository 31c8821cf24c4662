import { z } from 'zod';
import type { Db, Tx } from '../../../db/client.ts';
import type { Prisma, WebhookDelivery, WebhookEndpoint } from '../../../generated/prisma/client.ts';
import type { DeliveryStatus } from '../../../generated/prisma/enums.ts';
import { ForbiddenError, InvalidStateError, NotFoundError, ValidationError } from '../../kernel/errors.ts';
import { decodeId } from '../../kernel/ids.ts';
import { parse } from '../../kernel/validation.ts';
import { isMemberOf, isWorkspaceAdmin, type Viewer } from '../../kernel/viewer.ts';
import { WEBHOOK_EVENT_TYPES } from '../events.ts';
import { type AllowList, type OutboundPolicy, outboundUrl } from '../ssrf.ts';
import { AGENT_ENDPOINT_LOCK, syncAgentEndpoint } from './enqueue.ts';
import { generateSecret } from './signing.ts';

/** Webhook endpoints: who may read and manage them, and their mutations. */

/** After a rotation the previous secret keeps signing (second signature) this long. */
export const SECRET_OVERLAP_MS = 24 * 3_600_000;

/** The outbound URL policy (ssrf.ts), the same for agents' webhookUrl and apiEndpoint. */
export interface WebhookPolicy extends OutboundPolicy {
  /** WEBHOOK_ALLOW_HOSTS: IP-literal URLs in these ranges may be stored. */
  allowHosts: AllowList;
}

// ───────────── endpoints: who may do what ─────────────

type EndpointWithAgent = WebhookEndpoint & { agent: { workspaceId: string } | null };

/** Read: a workspace endpoint by its members; an agent's by the agent and its workspace's members. */
function canReadEndpoint(viewer: Viewer, endpoint: EndpointWithAgent): boolean {
  if (viewer.kind === 'platform') return true;
  if (endpoint.workspaceId) return isMemberOf(viewer, endpoint.workspaceId);
  if (viewer.kind === 'agent') return viewer.agentId === endpoint.agentId;
  return endpoint.agent !== null && isMemberOf(viewer, endpoint.agent.workspaceId);
}

/**
 * Manage (update, rotate, delete, redeliver): a workspace endpoint by its OWNER/ADMIN; an agent's
 * by the agent or a member of its workspace (who may already change its webhookUrl).
 */
function canManageEndpoint(viewer: Viewer, endpoint: EndpointWithAgent): boolean {
  if (viewer.kind === 'platform') return true;
  if (endpoint.workspaceId) return isWorkspaceAdmin(viewer, endpoint.workspaceId);
  return canReadEndpoint(viewer, endpoint);
}

/**
 * Deliveries carry event payloads, so they follow event visibility: a workspace endpoint's to the
 * workspace's members, an agent endpoint's to the agent only (its events may concern other
 * workspaces' jobs, whose execution trace its owners may not see).
 */
function canSeeDeliveries(viewer: Viewer, endpoint: EndpointWithAgent): boolean {
  if (viewer.kind === 'platform') return true;
  if (endpoint.workspaceId) return isMemberOf(viewer, endpoint.workspaceId);
  return viewer.kind === 'agent' && viewer.agentId === endpoint.agentId;
}

async function loadEndpoint(db: Db | Tx, viewer: Viewer, publicId: string, need: 'read' | 'manage') {
  const id = decodeId('WebhookEndpoint', publicId);
  const endpoint = await db.webhookEndpoint.findUnique({
    where: { id },
    include: { agent: { select: { workspaceId: true } } },
  });
  if (!endpoint || !canReadEndpoint(viewer, endpoint)) throw new NotFoundError('WebhookEndpoint', publicId);
  if (need === 'manage' && !canManageEndpoint(viewer, endpoint)) {
    throw new ForbiddenError('Only an OWNER or ADMIN of the workspace manages its webhook endpoints');
  }
  return endpoint;
}

/** Prisma `where` for the endpoints a viewer may see (`webhookEndpoints`, `node`). */
export function endpointWhere(viewer: Viewer): Prisma.WebhookEndpointWhereInput {
  switch (viewer.kind) {
    case 'platform':
      return {};
    case 'member':
      return { OR: [{ workspaceId: viewer.workspaceId }, { agent: { workspaceId: viewer.workspaceId } }] };
    case 'agent':
      return { agentId: viewer.agentId };
    default:
      return { id: '' };
  }
}

/** Prisma `where` for the deliveries a viewer may see (`webhookDeliveries`, `node`). */
export function deliveryWhere(viewer: Viewer): Prisma.WebhookDeliveryWhereInput {
  switch (viewer.kind) {
    case 'platform':
      return {};
    case 'member':
      return { endpoint: { workspaceId: viewer.workspaceId } };
    case 'agent':
      return { endpoint: { agentId: viewer.agentId } };
    default:
      return { id: '' };
  }
}

export interface DeliveryFilter {
  endpointId?: string | null;
  status?: DeliveryStatus | null;
}

/** `webhookDeliveries` filter; an endpoint the viewer may not see is NOT_FOUND. */
export async function deliveryFilter(
  db: Db,
  viewer: Viewer,
  filter: DeliveryFilter,
): Promise<Prisma.WebhookDeliveryWhereInput> {
  const where: Prisma.WebhookDeliveryWhereInput[] = [deliveryWhere(viewer)];
  if (filter.endpointId) {
    const endpoint = await loadEndpoint(db, viewer, filter.endpointId, 'read');
    if (!canSeeDeliveries(viewer, endpoint)) throw new NotFoundError('WebhookEndpoint', filter.endpointId);
    where.push({ endpointId: endpoint.id });
  }
  if (filter.status) where.push({ status: filter.status });
  return { AND: where };
}

// ───────────── endpoint mutations ─────────────

const eventTypesSchema = z
  .array(z.enum(WEBHOOK_EVENT_TYPES, { message: `must be one of ${WEBHOOK_EVENT_TYPES.join(', ')}` }))
  .max(WEBHOOK_EVENT_TYPES.length)
  .transform((types) => [...new Set(types)]);

const urlSchema = outboundUrl;

export interface CreateWebhookEndpointInput {
  url: string;
  /** Empty or omitted: every event of the workspace's jobs. */
  eventTypes?: string[] | null;
}

/**
 * OWNER/ADMIN: a workspace endpoint for the events of the workspace's jobs. Returns the endpoint
 * and its signing secret, shown this once.
 */
export async function createWebhookEndpoint(
  db: Db,
  viewer: Viewer,
  input: CreateWebhookEndpointInput,
  policy: WebhookPolicy,
): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
  if (viewer.kind !== 'member') throw new ForbiddenError('Only workspace members create webhook endpoints');
  if (!isWorkspaceAdmin(viewer)) throw new ForbiddenError('Only an OWNER or ADMIN creates webhook endpoints');
  const data = parse(z.object({ url: urlSchema(policy), eventTypes: eventTypesSchema.nullish() }), input);
  const secret = generateSecret();
  const endpoint = await db.webhookEndpoint.create({
    data: { workspaceId: viewer.workspaceId, url: data.url, eventTypes: data.eventTypes ?? [], secret },
  });
  return { endpoint, secret };
}

export interface UpdateWebhookEndpointInput {
  url?: string | null;
  eventTypes?: string[] | null;
  /** true re-enables an endpoint disabled by a 410 (or by hand); false disables it. */
  enabled?: boolean | null;
}

/** Changes an endpoint's URL, event types or enabled state (an agent's URL follows its webhookUrl). */
export async function updateWebhookEndpoint(
  db: Db,
  viewer: Viewer,
  publicId: string,
  input: UpdateWebhookEndpointInput,
  policy: WebhookPolicy,
): Promise<WebhookEndpoint> {
  const endpoint = await loadEndpoint(db, viewer, publicId, 'manage');
  const data = parse(
    z.object({
      url: urlSchema(policy).nullish(),
      eventTypes: eventTypesSchema.nullish(),
      enabled: z.boolean().nullish(),
    }),
    input,
  );
  if (data.url && endpoint.agentId) {
    throw ValidationError.single(
      ['input', 'url'],
      "an agent's endpoint follows its webhookUrl: change it with updateAgent",
    );
  }
  const update: Prisma.WebhookEndpointUpdateInput = {};
  if (data.url) update.url = data.url;
  if (data.eventTypes) update.eventTypes = data.eventTypes;
  if (data.enabled === true) Object.assign(update, { disabledAt: null, disabledReason: null });
  if (data.enabled === false && !endpoint.disabledAt) {
    Object.assign(update, { disabledAt: new Date(), disabledReason: 'disabled by a user' });
  }
  return db.$transaction(async (tx) => {
    const updated = await tx.webhookEndpoint.update({ where: { id: endpoint.id }, data: update });
    if (data.enabled === false) await disablePending(tx, endpoint.id);
    return updated;
  });
}

/**
 * New signing secret, returned this once. The previous secret keeps signing (a second
 * signature in `webhook-signature`) for 24 hours, so receivers can switch without losing messages.
 */
export async function rotateWebhookSecret(
  db: Db,
  viewer: Viewer,
  publicId: string,
  now = new Date(),
): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
  const endpoint = await loadEndpoint(db, viewer, publicId, 'manage');
  return rotate(db, endpoint, now);
}

async function rotate(db: Db | Tx, endpoint: WebhookEndpoint, now: Date) {
  const secret = generateSecret();
  const updated = await db.webhookEndpoint.update({
    where: { id: endpoint.id },
    data: { secret, previousSecret: endpoint.secret, previousExpiresAt: new Date(now.getTime() + SECRET_OVERLAP_MS) },
  });
  return { endpoint: updated, secret };
}

/**
 * The agent (or a member of its workspace): a new signing secret for the agent's webhookUrl,
 * shown this once. The first call creates the agent's endpoint; later calls rotate (the previous
 * secret keeps signing for 24 hours). Call it once after setting webhookUrl.
 */
export async function rotateAgentWebhookSecret(
  db: Db,
  viewer: Viewer,
  agentPublicId: string | undefined,
  now = new Date(),
): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
  const id = agentPublicId ? decodeId('Agent', agentPublicId) : viewer.kind === 'agent' ? viewer.agentId : null;
  if (!id) throw ValidationError.single(['agentId'], 'is required unless you call as the agent');
  const agent = await db.agent.findUnique({ where: { id }, select: { id: true, workspaceId: true, webhookUrl: true } });
  const self = viewer.kind === 'agent' && viewer.agentId === agent?.id;
  const owner = agent && isMemberOf(viewer, agent.workspaceId);
  if (!agent || (!self && !owner && viewer.kind !== 'platform')) throw new NotFoundError('Agent', agentPublicId);
  if (!agent.webhookUrl) {
    throw ValidationError.single(['agentId'], 'the agent has no webhookUrl: set one with updateAgent first');
  }
  return db.$transaction(async (tx) => {
    const existing = await tx.webhookEndpoint.findFirst({
      where: { agentId: agent.id },
      orderBy: { createdAt: 'asc' },
    });
    if (!existing) {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(${AGENT_ENDPOINT_LOCK}::int4, hashtext(${agent.id}))`;
      const raced = await tx.webhookEndpoint.findFirst({ where: { agentId: agent.id } });
      if (!raced) {
        const secret = generateSecret();
        const endpoint = await tx.webhookEndpoint.create({
          data: { agentId: agent.id, url: agent.webhookUrl!, secret, eventTypes: [] },
        });
        return { endpoint, secret };
      }
      return rotate(tx, await syncAgentEndpoint(tx, agent.id, agent.webhookUrl!, raced), now);
    }
    return rotate(tx, await syncAgentEndpoint(tx, agent.id, agent.webhookUrl!, existing), now);
  });
}

/** OWNER/ADMIN: deletes a workspace endpoint and its deliveries. */
export async function deleteWebhookEndpoint(db: Db, viewer: Viewer, publicId: string): Promise<string> {
  const endpoint = await loadEndpoint(db, viewer, publicId, 'manage');
  if (endpoint.agentId) {
    throw ValidationError.single(['id'], "an agent's endpoint follows its webhookUrl: clear it with updateAgent");
  }
  await db.webhookEndpoint.delete({ where: { id: endpoint.id } });
  return endpoint.id;
}

/**
 * Sends a delivery again now (whatever its status), with the same `webhook-id`. A delivery that
 * already used all its attempts gets one more; a PENDING one just moves its next attempt to now.
 */
export async function redeliverWebhook(
  db: Db,
  viewer: Viewer,
  deliveryPublicId: string,
  now = new Date(),
): Promise<WebhookDelivery> {
  const id = decodeId('WebhookDelivery', deliveryPublicId);
  const delivery = await db.webhookDelivery.findUnique({
    where: { id },
    include: { endpoint: { include: { agent: { select: { workspaceId: true } } } } },
  });
  if (!delivery || !canSeeDeliveries(viewer, delivery.endpoint)) {
    throw new NotFoundError('WebhookDelivery', deliveryPublicId);
  }
  if (!canManageEndpoint(viewer, delivery.endpoint)) {
    throw new ForbiddenError('Only an OWNER or ADMIN of the workspace redelivers webhooks');
  }
  if (delivery.endpoint.disabledAt) {
    throw new InvalidStateError('DISABLED', 'The endpoint is disabled: enable it with updateWebhookEndpoint first');
  }
  return db.webhookDelivery.update({
    where: { id },
    data: { status: 'PENDING', nextAttemptAt: now, lockedUntil: null },
  });
}

export async function disablePending(tx: Tx | Db, endpointId: string) {
  await tx.webhookDelivery.updateMany({
    where: { endpointId, status: 'PENDING' },
    data: { status: 'DISABLED', lockedUntil: null },
  });
}
