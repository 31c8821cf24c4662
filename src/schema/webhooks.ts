import { WEBHOOK_EVENT_TYPES } from '../services/delivery/events.ts';
import {
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  deliveryFilter,
  deliveryWhere,
  endpointWhere,
  redeliverWebhook,
  rotateAgentWebhookSecret,
  rotateWebhookSecret,
  updateWebhookEndpoint,
  type WebhookPolicy,
} from '../services/delivery/webhooks/endpoints.ts';
import { webhookIdOf } from '../services/delivery/webhooks/signing.ts';
import { MAX_ATTEMPTS } from '../services/delivery/webhooks/worker.ts';
import { ForbiddenError, InvalidStateError, NotFoundError, ValidationError } from '../services/kernel/errors.ts';
import { encodeId } from '../services/kernel/ids.ts';
import { builder } from './builder.ts';
import type { Context } from './context.ts';
import { registerNodeLoader } from './node.ts';
import { outboundPolicyOf } from './outbound-policy.ts';

const policyOf = (ctx: Context): WebhookPolicy => outboundPolicyOf(ctx);

const DeliveryStatusEnum = builder.enumType('WebhookDeliveryStatus', {
  description:
    'PENDING: waiting for its next attempt; SUCCEEDED: a 2xx answer; FAILED: every attempt failed; DISABLED: the endpoint was disabled (a 410 answer, or by hand).',
  values: ['PENDING', 'SUCCEEDED', 'FAILED', 'DISABLED'] as const,
});

export const WebhookEndpointRef = builder.prismaNode('WebhookEndpoint', {
  id: { field: 'id' },
  description:
    'Where signed webhooks go (Standard Webhooks): a workspace endpoint receives the events of the workspace’s jobs; an agent’s endpoint follows its `webhookUrl` and receives its own events. The signing secret is never readable: it is shown once, at creation or rotation.',
  fields: (t) => ({
    url: t.exposeString('url'),
    eventTypes: t.exposeStringList('eventTypes', {
      description: 'Event types delivered (the body’s `type`); empty means all.',
    }),
    workspace: t.relation('workspace', { nullable: true, description: 'The owning workspace (workspace endpoints).' }),
    agent: t.relation('agent', {
      nullable: true,
      description: 'The agent whose webhookUrl this is (agent endpoints).',
    }),
    enabled: t.boolean({ select: { disabledAt: true }, resolve: (e) => e.disabledAt === null }),
    disabledAt: t.expose('disabledAt', { type: 'DateTime', nullable: true }),
    disabledReason: t.exposeString('disabledReason', {
      nullable: true,
      description: 'Why it was disabled, e.g. "the receiver answered 410 Gone".',
    }),
    previousSecretExpiresAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'After a rotation, the previous secret also signs (second signature) until this time.',
      select: { previousExpiresAt: true },
      resolve: (e) => e.previousExpiresAt,
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

registerNodeLoader('WebhookEndpoint', (ctx, id) =>
  ctx.db.webhookEndpoint.findFirst({ where: { AND: [{ id }, endpointWhere(ctx.viewer)] } }),
);

builder.prismaObject('WebhookAttempt', {
  description: 'One HTTP attempt of a delivery and what the receiver answered.',
  fields: (t) => ({
    attemptedAt: t.expose('attemptedAt', { type: 'DateTime' }),
    statusCode: t.exposeInt('statusCode', {
      nullable: true,
      description: 'Null when no answer came (refused, timeout).',
    }),
    responseBody: t.exposeString('responseBody', { nullable: true, description: 'The first 2 KB of the answer.' }),
    error: t.exposeString('error', {
      nullable: true,
      description: 'Why it failed without an answer, or that a redirect was not followed.',
    }),
    durationMs: t.exposeInt('durationMs'),
  }),
});

export const WebhookDeliveryRef = builder.prismaNode('WebhookDelivery', {
  id: { field: 'id' },
  description: `One event for one endpoint, delivered at least once: up to ${MAX_ATTEMPTS} attempts over about 3 days.`,
  fields: (t) => ({
    endpoint: t.relation('endpoint'),
    webhookId: t.string({
      description: 'The `webhook-id` header: the same on every retry and redelivery (dedupe on it).',
      select: { id: true },
      resolve: (d) => webhookIdOf(d.id),
    }),
    eventId: t.exposeString('eventId', { description: 'The outbox event id (also `data.eventId` in the body).' }),
    eventType: t.exposeString('eventType'),
    status: t.expose('status', { type: DeliveryStatusEnum }),
    attemptCount: t.exposeInt('attemptCount'),
    nextAttemptAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the next attempt is due; null unless PENDING.',
      select: { status: true, nextAttemptAt: true },
      resolve: (d) => (d.status === 'PENDING' ? d.nextAttemptAt : null),
    }),
    payload: t.field({
      type: 'JSON',
      description: 'The body sent.',
      select: { payload: true },
      resolve: (d) => d.payload,
    }),
    attempts: t.relation('attempts', {
      description: 'Every attempt, oldest first.',
      query: { orderBy: [{ attemptedAt: 'asc' }, { id: 'asc' }] },
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

registerNodeLoader('WebhookDelivery', (ctx, id) =>
  ctx.db.webhookDelivery.findFirst({ where: { AND: [{ id }, deliveryWhere(ctx.viewer)] } }),
);

builder.queryFields((t) => ({
  webhookEndpoints: t.prismaField({
    type: ['WebhookEndpoint'],
    description:
      'Members: the workspace’s endpoints and those of its agents; an agent: its own. Secrets are never shown here.',
    authScopes: { authenticated: true },
    resolve: (query, _root, _args, ctx) =>
      ctx.db.webhookEndpoint.findMany({
        ...query,
        where: endpointWhere(ctx.viewer),
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      }),
  }),
  webhookDeliveries: t.prismaConnection({
    type: 'WebhookDelivery',
    cursor: 'id',
    description:
      'Deliveries with their attempts and the receivers’ answers, newest first. Members see their workspace endpoints’; an agent its own.',
    authScopes: { authenticated: true },
    args: {
      endpointId: t.arg.id(),
      status: t.arg({ type: DeliveryStatusEnum }),
    },
    resolve: async (query, _root, { endpointId, status }, ctx) =>
      ctx.db.webhookDelivery.findMany({
        ...query,
        where: await deliveryFilter(ctx.db, ctx.viewer, {
          endpointId: endpointId ? String(endpointId) : null,
          status: status ?? null,
        }),
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      }),
  }),
}));

// ───────────── mutations ─────────────

const WebhookEventTypeHelp = `One of: ${WEBHOOK_EVENT_TYPES.join(', ')}.`;

const CreateWebhookEndpointInput = builder.inputType('CreateWebhookEndpointInput', {
  fields: (t) => ({
    url: t.string({
      required: true,
      description: 'https:// (http:// on localhost outside production); private and loopback addresses are refused.',
    }),
    eventTypes: t.stringList({ description: `Event types to receive; omitted or empty: all. ${WebhookEventTypeHelp}` }),
  }),
});

const UpdateWebhookEndpointInput = builder.inputType('UpdateWebhookEndpointInput', {
  fields: (t) => ({
    url: t.string({ description: 'Workspace endpoints only (an agent’s follows its webhookUrl).' }),
    eventTypes: t.stringList({ description: `Replaces the list; empty: all. ${WebhookEventTypeHelp}` }),
    enabled: t.boolean({ description: 'true re-enables an endpoint disabled by a 410; false disables it.' }),
  }),
});

const SecretPayload = (name: string, description: string) =>
  builder.objectRef<{ endpointId: string; secret: string }>(name).implement({
    description,
    fields: (t) => ({
      endpoint: t.prismaField({
        type: 'WebhookEndpoint',
        resolve: (query, p, _args, ctx) =>
          ctx.db.webhookEndpoint.findUniqueOrThrow({ ...query, where: { id: p.endpointId } }),
      }),
      secret: t.exposeString('secret', {
        description: 'The signing secret (`whsec_…`), shown this once: store it to verify `webhook-signature`.',
      }),
    }),
  });

const CreateWebhookEndpointPayload = SecretPayload('CreateWebhookEndpointPayload', 'The new endpoint and its secret.');
const RotateWebhookSecretPayload = SecretPayload(
  'RotateWebhookSecretPayload',
  'The new secret; the previous one keeps signing (second signature) for 24 hours.',
);

const EndpointPayload = builder.objectRef<{ endpointId: string }>('UpdateWebhookEndpointPayload').implement({
  fields: (t) => ({
    endpoint: t.prismaField({
      type: 'WebhookEndpoint',
      resolve: (query, p, _args, ctx) =>
        ctx.db.webhookEndpoint.findUniqueOrThrow({ ...query, where: { id: p.endpointId } }),
    }),
  }),
});

const DeleteWebhookEndpointPayload = builder.objectRef<{ id: string }>('DeleteWebhookEndpointPayload').implement({
  fields: (t) => ({ deletedId: t.id({ resolve: (p) => encodeId('WebhookEndpoint', p.id) }) }),
});

const RedeliverWebhookPayload = builder.objectRef<{ deliveryId: string }>('RedeliverWebhookPayload').implement({
  fields: (t) => ({
    delivery: t.prismaField({
      type: 'WebhookDelivery',
      resolve: (query, p, _args, ctx) =>
        ctx.db.webhookDelivery.findUniqueOrThrow({ ...query, where: { id: p.deliveryId } }),
    }),
  }),
});

builder.mutationFields((t) => ({
  createWebhookEndpoint: t.field({
    type: CreateWebhookEndpointPayload,
    description:
      'OWNER/ADMIN: an endpoint for the events of your workspace’s jobs. Returns the signing secret, shown this once.',
    authScopes: { member: true },
    args: { input: t.arg({ type: CreateWebhookEndpointInput, required: true }) },
    errors: { types: [ValidationError, ForbiddenError] },
    resolve: async (_root, { input }, ctx) => {
      const { endpoint, secret } = await createWebhookEndpoint(
        ctx.db,
        ctx.viewer,
        { url: input.url, eventTypes: input.eventTypes ? [...input.eventTypes] : null },
        policyOf(ctx),
      );
      return { endpointId: endpoint.id, secret };
    },
  }),
  updateWebhookEndpoint: t.field({
    type: EndpointPayload,
    description: 'Changes the URL or event types, or re-enables (`enabled: true`) an endpoint disabled by a 410.',
    authScopes: { authenticated: true },
    args: {
      id: t.arg.id({ required: true }),
      input: t.arg({ type: UpdateWebhookEndpointInput, required: true }),
    },
    errors: { types: [ValidationError, NotFoundError, ForbiddenError] },
    resolve: async (_root, { id, input }, ctx) => {
      const endpoint = await updateWebhookEndpoint(
        ctx.db,
        ctx.viewer,
        String(id),
        { url: input.url, eventTypes: input.eventTypes ? [...input.eventTypes] : null, enabled: input.enabled },
        policyOf(ctx),
      );
      return { endpointId: endpoint.id };
    },
  }),
  rotateWebhookSecret: t.field({
    type: RotateWebhookSecretPayload,
    description:
      'A new signing secret, shown this once. For 24 hours messages carry two signatures (new and previous secret), so receivers switch without losing any.',
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    errors: { types: [ValidationError, NotFoundError, ForbiddenError] },
    resolve: async (_root, { id }, ctx) => {
      const { endpoint, secret } = await rotateWebhookSecret(ctx.db, ctx.viewer, String(id));
      return { endpointId: endpoint.id, secret };
    },
  }),
  rotateAgentWebhookSecret: t.field({
    type: RotateWebhookSecretPayload,
    description:
      'The agent (omit `agentId`) or a member of its workspace: the signing secret for the agent’s webhookUrl, shown this once. The first call creates the endpoint; later calls rotate (the previous secret signs for 24 more hours). Call it once after setting webhookUrl.',
    authScopes: { authenticated: true },
    args: { agentId: t.arg.id() },
    errors: { types: [ValidationError, NotFoundError, ForbiddenError] },
    resolve: async (_root, { agentId }, ctx) => {
      const { endpoint, secret } = await rotateAgentWebhookSecret(
        ctx.db,
        ctx.viewer,
        agentId ? String(agentId) : undefined,
      );
      return { endpointId: endpoint.id, secret };
    },
  }),
  deleteWebhookEndpoint: t.field({
    type: DeleteWebhookEndpointPayload,
    description: 'OWNER/ADMIN: deletes a workspace endpoint and its deliveries. (An agent’s follows its webhookUrl.)',
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    errors: { types: [ValidationError, NotFoundError, ForbiddenError] },
    resolve: async (_root, { id }, ctx) => ({ id: await deleteWebhookEndpoint(ctx.db, ctx.viewer, String(id)) }),
  }),
  redeliverWebhook: t.field({
    type: RedeliverWebhookPayload,
    description:
      'Sends a delivery again now, with the same `webhook-id`; one that used all its attempts gets one more.',
    authScopes: { authenticated: true },
    args: { deliveryId: t.arg.id({ required: true }) },
    errors: { types: [NotFoundError, ForbiddenError, InvalidStateError] },
    resolve: async (_root, { deliveryId }, ctx) => {
      const delivery = await redeliverWebhook(ctx.db, ctx.viewer, String(deliveryId));
      return { deliveryId: delivery.id };
    },
  }),
}));
