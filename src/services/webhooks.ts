import { createHmac, randomBytes } from 'node:crypto';
import { type Dispatcher, fetch as undiciFetch } from 'undici';
import { z } from 'zod';
import type { Database, Db, Tx } from '../db/client.ts';
import type { Prisma, WebhookDelivery, WebhookEndpoint } from '../generated/prisma/client.ts';
import type { DeliveryStatus } from '../generated/prisma/enums.ts';
import type { Logger } from '../log.ts';
import { ForbiddenError, InvalidStateError, NotFoundError, ValidationError } from './errors.ts';
import type { EventType } from './events.ts';
import { decodeId, encodeId, type IdType } from './ids.ts';
import { createKickLoop } from './kick-loop.ts';
import { AGENT_EVENT_TYPES } from './outbox.ts';
import type { EventMessage } from './pubsub.ts';
import { type AllowList, checkUrlPolicy, createGuardedAgent, rootCause, SsrfError } from './ssrf.ts';
import { callbackUrl, parse } from './validation.ts';
import { isMemberOf, isWorkspaceAdmin, type Viewer } from './viewer.ts';
import { canReceiveEvent, loadJobAccess } from './visibility.ts';

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
] as const satisfies readonly EventType[];

/**
 * Delay before retry n (after failed attempt n): 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, 14 h,
 * 30 h, each ±20% jitter; 10 attempts over about 3 days (71.6 h), then FAILED.
 */
export const RETRY_SCHEDULE_MS = [
  5_000,
  5 * 60_000,
  30 * 60_000,
  2 * 3_600_000,
  5 * 3_600_000,
  10 * 3_600_000,
  10 * 3_600_000,
  14 * 3_600_000,
  30 * 3_600_000,
];
export const MAX_ATTEMPTS = RETRY_SCHEDULE_MS.length + 1;
export const JITTER = 0.2;
/** A `Retry-After` longer than this is capped (the whole schedule is about 3 days). */
const MAX_RETRY_AFTER_MS = 24 * 3_600_000;
export const REQUEST_TIMEOUT_MS = 15_000;
/** How much of a response body is kept on the attempt. */
export const RESPONSE_BODY_LIMIT = 2_048;
/** After a rotation the previous secret keeps signing (second signature) this long. */
export const SECRET_OVERLAP_MS = 24 * 3_600_000;
const NOTIFY_CHANNEL = 'agentwork_webhooks';
const AGENT_ENDPOINT_LOCK = 72707372;

export interface WebhookPolicy {
  /** http:// on loopback accepted (outside production), as for other callback URLs. */
  allowLoopbackHttp: boolean;
  /** WEBHOOK_ALLOW_HOSTS: IP-literal URLs in these ranges may be stored. */
  allowHosts: AllowList;
}

// ───────────── signing ─────────────

/** A new signing secret: `whsec_` + base64 of 32 random bytes (the Standard Webhooks format). */
export function generateSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">` with the secret's decoded key. */
export function sign(secret: string, msgId: string, timestampSeconds: number, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const mac = createHmac('sha256', key).update(`${msgId}.${timestampSeconds}.${body}`).digest('base64');
  return `v1,${mac}`;
}

/** The three Standard Webhooks headers; several secrets give space-separated signatures. */
export function signatureHeaders(secrets: string[], msgId: string, timestampSeconds: number, body: string) {
  return {
    'webhook-id': msgId,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': secrets.map((s) => sign(s, msgId, timestampSeconds, body)).join(' '),
  };
}

/** The secrets that sign now: the current one, and the previous one during its overlap. */
export function signingSecrets(
  endpoint: Pick<WebhookEndpoint, 'secret' | 'previousSecret' | 'previousExpiresAt'>,
  now: Date,
) {
  const secrets = [endpoint.secret];
  if (endpoint.previousSecret && endpoint.previousExpiresAt && endpoint.previousExpiresAt > now) {
    secrets.push(endpoint.previousSecret);
  }
  return secrets;
}

/** The `webhook-id`: one per delivery, the same on every retry and redelivery. */
export const webhookIdOf = (deliveryId: string) => `msg_${deliveryId}`;

// ───────────── the body ─────────────

const ID_FIELDS: Record<string, IdType> = { bidId: 'Bid', executionId: 'Execution', disputeId: 'Dispute' };
const NESTED_ID_FIELDS: Record<string, IdType> = {
  inputRequest: 'InputRequest',
  toolCall: 'ToolCall',
  step: 'ExecutionStep',
};

/** The event's payload with public ids (`bid_…`, `exe_…`) in place of database ids. */
function publicData(message: EventMessage): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(message.data ?? {})) {
    const idType = ID_FIELDS[key];
    const nestedType = NESTED_ID_FIELDS[key];
    if (idType && typeof value === 'string') out[key] = encodeId(idType, value);
    else if (nestedType && value && typeof value === 'object' && 'id' in value) {
      out[key] = { ...(value as object), id: encodeId(nestedType, String((value as { id: unknown }).id)) };
    } else if ((key === 'invited' || key === 'excluded') && Array.isArray(value)) {
      out[key] = value.map((id) => encodeId('Agent', String(id)));
    } else out[key] = value;
  }
  return out;
}

/** The JSON body: `{ type, timestamp, data: { eventId, jobId, workspaceId, agentId, … } }`. */
export function webhookBody(message: EventMessage) {
  return {
    type: message.type,
    timestamp: message.at,
    data: {
      eventId: message.eventId,
      jobId: message.jobId ? encodeId('Job', message.jobId) : null,
      workspaceId: message.workspaceId ? encodeId('Workspace', message.workspaceId) : null,
      agentId: message.agentId ? encodeId('Agent', message.agentId) : null,
      ...publicData(message),
    },
  };
}

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
async function syncAgentEndpoint(
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

function urlSchema(policy: WebhookPolicy) {
  return callbackUrl(policy).superRefine((value, ctx) => {
    const problem = checkUrlPolicy(value, policy.allowHosts);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
}

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

async function disablePending(tx: Tx | Db, endpointId: string) {
  await tx.webhookDelivery.updateMany({
    where: { endpointId, status: 'PENDING' },
    data: { status: 'DISABLED', lockedUntil: null },
  });
}

// ───────────── the delivery worker ─────────────

/** `Retry-After`: delay-seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: Date): number | null {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1_000;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - now.getTime());
}

/**
 * Delay before the next attempt after `attempts` failed ones: the schedule with ±20% jitter, but
 * never sooner than the receiver's `Retry-After` (capped at 24 h). Null when none is left.
 */
export function nextDelay(attempts: number, retryAfterMs: number | null, random = Math.random): number | null {
  if (attempts >= MAX_ATTEMPTS) return null;
  const base = RETRY_SCHEDULE_MS[attempts - 1] ?? RETRY_SCHEDULE_MS[RETRY_SCHEDULE_MS.length - 1]!;
  const jittered = Math.round(base * (1 - JITTER + 2 * JITTER * random()));
  return retryAfterMs === null ? jittered : Math.max(jittered, Math.min(retryAfterMs, MAX_RETRY_AFTER_MS));
}

export interface WebhookWorkerOptions {
  /** WEBHOOK_ALLOW_HOSTS, parsed. */
  allowHosts?: AllowList;
  /** The HTTP dispatcher (default: the SSRF-guarded agent). */
  dispatcher?: Dispatcher;
  timeoutMs?: number;
  /** How long a claimed delivery stays locked (must exceed the request timeout). */
  leaseMs?: number;
  /** Deliveries claimed per round, and sent at once. */
  batch?: number;
  concurrency?: number;
  pollMs?: number;
  /** On stop, how long in-flight requests may finish before they are aborted. */
  stopGraceMs?: number;
  random?: () => number;
}

export interface WebhookWorker {
  /** One round at `now` (default: the clock): claim due deliveries, send them, record the outcome. */
  runOnce(now?: Date): Promise<number>;
  kick(): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

interface AttemptOutcome {
  statusCode: number | null;
  responseBody: string | null;
  error: string | null;
  durationMs: number;
  retryAfterMs: number | null;
}

export function createWebhookWorker(
  database: Database,
  log: Logger,
  options: WebhookWorkerOptions = {},
): WebhookWorker {
  const db = database.prisma;
  const timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS;
  const leaseMs = options.leaseMs ?? timeoutMs + 45_000;
  const batch = options.batch ?? 20;
  const concurrency = options.concurrency ?? 8;
  const random = options.random ?? Math.random;
  const ownDispatcher = options.dispatcher ? null : createGuardedAgent({ allow: options.allowHosts });
  const dispatcher = options.dispatcher ?? ownDispatcher!;

  /** Claims due deliveries: PENDING, due, not leased by a live worker. */
  async function claim(now: Date): Promise<{ id: string; lease: Date }[]> {
    const lease = new Date(now.getTime() + leaseMs);
    return db.$transaction(async (tx) => {
      // ISO text cast to `timestamp` is the UTC wall time Prisma stores, whatever the session zone.
      const at = now.toISOString();
      const due = await tx.$queryRaw<{ id: string }[]>`
        SELECT "id" FROM "WebhookDelivery"
        WHERE "status" = 'PENDING' AND "nextAttemptAt" <= ${at}::timestamp
          AND ("lockedUntil" IS NULL OR "lockedUntil" <= ${at}::timestamp)
        ORDER BY "nextAttemptAt", "id"
        LIMIT ${batch}
        FOR UPDATE SKIP LOCKED`;
      if (due.length === 0) return [];
      await tx.webhookDelivery.updateMany({
        where: { id: { in: due.map((d) => d.id) } },
        data: { lockedUntil: lease },
      });
      return due.map((d) => ({ id: d.id, lease }));
    });
  }

  async function send(url: string, secrets: string[], msgId: string, body: string): Promise<AttemptOutcome> {
    const started = performance.now();
    const duration = () => Math.round(performance.now() - started);
    // The signature's timestamp is the real send time, so receivers' 5-minute tolerance holds on retries.
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'Agentwork-Webhooks/1.0 (+https://www.standardwebhooks.com)',
      ...signatureHeaders(secrets, msgId, Math.floor(Date.now() / 1_000), body),
    };
    try {
      const res = await undiciFetch(url, {
        method: 'POST',
        headers,
        body,
        redirect: 'manual',
        dispatcher,
        signal: AbortSignal.timeout(timeoutMs),
      });
      const responseBody = await readPrefix(res.body, RESPONSE_BODY_LIMIT);
      const redirect = res.status >= 300 && res.status < 400;
      return {
        statusCode: res.status,
        responseBody,
        error: redirect ? `redirect to ${res.headers.get('location') ?? '(no location)'} not followed` : null,
        durationMs: duration(),
        retryAfterMs: parseRetryAfter(res.headers.get('retry-after'), new Date()),
      };
    } catch (error) {
      const cause = rootCause(error);
      const message =
        cause instanceof SsrfError
          ? `${cause.message} (SSRF guard: nothing was sent)`
          : cause.name === 'TimeoutError' || cause.name === 'AbortError'
            ? `timed out after ${timeoutMs} ms`
            : cause.message || String(cause);
      return { statusCode: null, responseBody: null, error: message, durationMs: duration(), retryAfterMs: null };
    }
  }

  async function deliver(id: string, lease: Date, now: Date) {
    const delivery = await db.webhookDelivery.findUnique({
      where: { id },
      include: { endpoint: { include: { agent: { select: { webhookUrl: true } } } } },
    });
    if (delivery?.status !== 'PENDING') return;
    const endpoint = delivery.endpoint;
    // An agent's endpoint follows its webhookUrl, also for deliveries queued before a change.
    const url = endpoint.agentId ? endpoint.agent?.webhookUrl : endpoint.url;
    if (endpoint.disabledAt || !url) {
      await db.webhookDelivery.updateMany({
        where: { id, lockedUntil: lease },
        data: { status: 'DISABLED', lockedUntil: null },
      });
      return;
    }
    if (url !== endpoint.url) {
      await db.webhookEndpoint.update({ where: { id: endpoint.id }, data: { url } });
    }
    const outcome = await send(url, signingSecrets(endpoint, now), webhookIdOf(id), JSON.stringify(delivery.payload));
    const attempts = delivery.attemptCount + 1;
    const ok = outcome.statusCode !== null && outcome.statusCode >= 200 && outcome.statusCode < 300;
    const gone = outcome.statusCode === 410;
    const delay = ok || gone ? null : nextDelay(attempts, outcome.retryAfterMs, random);
    const status: DeliveryStatus = ok ? 'SUCCEEDED' : gone ? 'DISABLED' : delay === null ? 'FAILED' : 'PENDING';
    await db.$transaction(async (tx) => {
      await tx.webhookAttempt.create({
        data: {
          deliveryId: id,
          attemptedAt: now,
          statusCode: outcome.statusCode,
          responseBody: outcome.responseBody,
          error: outcome.error,
          durationMs: outcome.durationMs,
        },
      });
      // Only while we still hold the lease (a redelivery or an expired lease hands it on).
      await tx.webhookDelivery.updateMany({
        where: { id, lockedUntil: lease },
        data: {
          status,
          attemptCount: attempts,
          lockedUntil: null,
          ...(delay !== null ? { nextAttemptAt: new Date(now.getTime() + delay) } : {}),
        },
      });
      if (gone) {
        await tx.webhookEndpoint.update({
          where: { id: endpoint.id },
          data: { disabledAt: now, disabledReason: 'the receiver answered 410 Gone' },
        });
        await disablePending(tx, endpoint.id);
      }
    });
    if (gone) log.warn({ endpointId: endpoint.id }, 'webhook endpoint answered 410 Gone: disabled');
  }

  async function runOnce(now = new Date()): Promise<number> {
    const claimed = await claim(now);
    let next = 0;
    const lane = async () => {
      while (next < claimed.length) {
        const item = claimed[next++]!;
        try {
          await deliver(item.id, item.lease, now);
        } catch (error) {
          // The lease expires and another round tries again.
          log.warn({ err: error, deliveryId: item.id }, 'webhook delivery failed unexpectedly');
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, claimed.length) }, lane));
    return claimed.length;
  }

  let timer: NodeJS.Timeout | undefined;
  let unlisten: (() => Promise<void>) | undefined;
  let stopping: Promise<void> | undefined;
  const loop = createKickLoop(() => runOnce(), {
    batch,
    onError: (error) => log.warn({ err: error }, 'webhook round failed; will retry'),
  });
  const kick = loop.kick;

  return {
    runOnce,
    kick,
    async start() {
      unlisten = await database.listen(NOTIFY_CHANNEL, kick).catch((error) => {
        log.warn({ err: error }, 'LISTEN unavailable; the webhook worker polls only');
        return undefined;
      });
      timer = setInterval(kick, options.pollMs ?? 1_000);
      timer.unref();
      kick();
    },
    /** Idempotent. */
    stop() {
      stopping ??= (async () => {
        loop.stop();
        clearInterval(timer);
        const running = loop.current();
        await unlisten?.();
        // Let in-flight requests finish for a moment, then abort them: each is then recorded as a
        // failed attempt and retried later (at least once), rather than holding up the shutdown.
        let grace: NodeJS.Timeout | undefined;
        await Promise.race([running, new Promise((r) => (grace = setTimeout(r, options.stopGraceMs ?? 5_000)))]);
        clearTimeout(grace);
        if (loop.current() && ownDispatcher) {
          await ownDispatcher.destroy();
          await running;
        } else {
          await running;
          await ownDispatcher?.close();
        }
      })();
      return stopping;
    },
  };
}

/** Up to `limit` bytes of a body as text; the rest is not read (leaving the loop cancels the stream). */
async function readPrefix(body: AsyncIterable<Uint8Array> | null, limit: number): Promise<string | null> {
  if (!body) return null;
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.byteLength;
    if (size >= limit) break;
  }
  // PostgreSQL text cannot hold NUL.
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8').replaceAll('\0', '');
}
