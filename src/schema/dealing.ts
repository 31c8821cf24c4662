import {
  ConflictError,
  InsufficientCreditsError,
  InvalidStateError,
  NotEligibleError,
} from '../services/kernel/errors.ts';
import { decodeId } from '../services/kernel/ids.ts';
import { canSeeMessage, messageVisibilityWhere, sendMessage } from '../services/marketplace/messages.ts';
import { acceptOffer, canSeeOffer, declineOffer, offerJob, withdrawOffer } from '../services/marketplace/offers.ts';
import { releaseJob } from '../services/marketplace/timeouts.ts';
import { Principal } from './accounts.ts';
import { builder } from './builder.ts';
import type { Context } from './context.ts';
import { COMMON_ERRORS } from './errors.ts';
import { registerNodeLoader } from './node.ts';
import { jobPayload } from './payloads.ts';

/**
 * Dealing between strangers (api-contract.md): offers the agent accepts or declines, messages
 * between the posting workspace and an agent, and the agent giving an assignment back. Counter-
 * offers live with bids (bid.ts).
 */
export const OfferStatusEnum = builder.enumType('OfferStatus', {
  description:
    'PENDING → ACCEPTED | DECLINED | WITHDRAWN | EXPIRED. Every way out but ACCEPTED refunds the held credits.',
  values: ['PENDING', 'ACCEPTED', 'DECLINED', 'WITHDRAWN', 'EXPIRED'] as const,
});

export const OfferRef = builder.prismaNode('Offer', {
  id: { field: 'id' },
  description:
    'A direct hire with consent: the poster offers a job to one agent at a price held in escrow until the agent accepts or declines, the poster withdraws, or it expires. Visible to the posting workspace and that agent.',
  fields: (t) => ({
    job: t.relation('job'),
    agent: t.relation('agent'),
    credits: t.expose('credits', { type: 'SafeInt', description: 'Held in the job’s escrow while PENDING.' }),
    estimatedMinutes: t.exposeInt('estimatedMinutes', { nullable: true }),
    message: t.exposeString('message'),
    status: t.expose('status', { type: OfferStatusEnum }),
    reason: t.exposeString('reason', { nullable: true, description: 'Why it was declined, withdrawn or expired.' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime' }),
    startWithinMinutes: t.exposeInt('startWithinMinutes', {
      description: 'Once accepted, the agent must start within this many minutes (Job.startBy).',
    }),
    respondedAt: t.expose('respondedAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

registerNodeLoader('Offer', async (ctx, id) => {
  const offer = await ctx.db.offer.findUnique({ where: { id } });
  return offer && canSeeOffer(ctx.viewer, offer) ? offer : null;
});

const AuthorKindEnum = builder.enumType('MessageAuthorKind', { values: ['MEMBER', 'AGENT'] as const });

export const MessageRef = builder.prismaNode('Message', {
  id: { field: 'id' },
  description:
    'A message in the thread of a job and an agent, between the posting workspace and that agent. Visible to those two parties only.',
  fields: (t) => ({
    job: t.relation('job'),
    agent: t.relation('agent', { description: 'The agent whose thread this is.' }),
    authorKind: t.field({
      type: AuthorKindEnum,
      select: { authorKind: true },
      resolve: (m) => (m.authorKind === 'AGENT' ? 'AGENT' : 'MEMBER'),
    }),
    author: t.field({
      type: Principal,
      nullable: true,
      description: 'The member or the agent who wrote it (null for a member since removed).',
      select: { authorKind: true, authorMember: true, agent: true },
      resolve: (m) => (m.authorKind === 'AGENT' ? m.agent : m.authorMember),
    }),
    body: t.exposeString('body'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

registerNodeLoader('Message', async (ctx, id) => {
  const message = await ctx.db.message.findUnique({
    where: { id },
    include: { job: { select: { workspaceId: true } } },
  });
  return message && canSeeMessage(ctx.viewer, message.job, message) ? message : null;
});

builder.prismaObjectField('Job', 'messages', (t) =>
  t.relatedConnection('messages', {
    cursor: 'id',
    description:
      'Messages about this job, oldest first. The posting workspace reads every thread (or one, with `agentId`); an agent reads its own.',
    args: { agentId: t.arg.id({ description: 'The thread of this agent (poster side).' }) },
    query: (args, ctx: Context) => ({
      where: messageVisibilityWhere(ctx.viewer, args.agentId ? decodeId('Agent', String(args.agentId)) : null),
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    }),
    totalCount: true,
  }),
);

builder.prismaObjectField('Job', 'offers', (t) =>
  t.relatedConnection('offers', {
    cursor: 'id',
    description: 'Offers made on this job, newest first: all of them for the posting workspace, its own for an agent.',
    query: (_args, ctx: Context) => ({
      where: offerVisibilityWhere(ctx),
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    }),
    totalCount: true,
  }),
);

function offerVisibilityWhere(ctx: Context) {
  const v = ctx.viewer;
  if (v.kind === 'platform') return {};
  if (v.kind === 'member') return { workspaceId: v.workspaceId };
  if (v.kind === 'agent') return { agentId: v.agentId };
  return { id: '' };
}

builder.queryFields((t) => ({
  offers: t.prismaConnection({
    type: 'Offer',
    cursor: 'id',
    description:
      'Offers for the caller, newest first: made to the calling agent, or made by the calling member’s workspace. Filter by status.',
    authScopes: { authenticated: true },
    args: { status: t.arg({ type: [OfferStatusEnum] }) },
    resolve: (query, _root, { status }, ctx) =>
      ctx.db.offer.findMany({
        ...query,
        where: { ...offerVisibilityWhere(ctx), ...(status?.length ? { status: { in: status } } : {}) },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      }),
  }),
}));

const offerPayload = (name: string, description?: string) =>
  builder.objectRef<{ offerId: string }>(name).implement({
    description,
    fields: (t) => ({
      offer: t.prismaField({
        type: 'Offer',
        resolve: (query, p, _args, ctx) => ctx.db.offer.findUniqueOrThrow({ ...query, where: { id: p.offerId } }),
      }),
    }),
  });

const OfferJobInput = builder.inputType('OfferJobInput', {
  fields: (t) => ({
    jobId: t.id({ required: true }),
    agentId: t.id({ required: true }),
    credits: t.int({ required: true, description: 'The price, ≥ 1; held in escrow at once.' }),
    estimatedMinutes: t.int(),
    message: t.string({ description: 'What you want, for the agent.' }),
    expiresAt: t.field({ type: 'DateTime', description: 'Default: 72 hours from now; at most 30 days.' }),
    startWithinMinutes: t.int({ description: 'Once accepted, minutes the agent has to start (default: the job’s).' }),
    idempotencyKey: t.string({ description: 'Replays the first answer for the same key.' }),
  }),
});

const SendMessageInput = builder.inputType('SendMessageInput', {
  fields: (t) => ({
    jobId: t.id({ required: true }),
    body: t.string({ required: true, description: 'Plain text, 1-4000 characters, no control characters.' }),
    agentId: t.id({ description: 'The agent’s thread: required from the poster’s side, implied for an agent.' }),
  }),
});

const OfferJobPayload = offerPayload('OfferJobPayload', 'The PENDING offer; its credits are held in escrow.');
const AcceptOfferPayload = builder.objectRef<{ jobId: string; offerId: string }>('AcceptOfferPayload').implement({
  description: 'The ACCEPTED offer and the job, now ASSIGNED to you.',
  fields: (t) => ({
    offer: t.prismaField({
      type: 'Offer',
      resolve: (query, p, _args, ctx) => ctx.db.offer.findUniqueOrThrow({ ...query, where: { id: p.offerId } }),
    }),
    job: t.prismaField({
      type: 'Job',
      resolve: (query, p, _args, ctx) => ctx.db.job.findUniqueOrThrow({ ...query, where: { id: p.jobId } }),
    }),
  }),
});
const DeclineOfferPayload = offerPayload('DeclineOfferPayload');
const WithdrawOfferPayload = offerPayload('WithdrawOfferPayload');
const SendMessagePayload = builder.objectRef<{ messageId: string }>('SendMessagePayload').implement({
  fields: (t) => ({
    message: t.prismaField({
      type: 'Message',
      resolve: (query, p, _args, ctx) => ctx.db.message.findUniqueOrThrow({ ...query, where: { id: p.messageId } }),
    }),
  }),
});
const ReleaseJobPayload = jobPayload('ReleaseJobPayload', 'The job, OPEN again with its escrow refunded.');

builder.mutationFields((t) => ({
  offerJob: t.field({
    type: OfferJobPayload,
    description:
      'OWNER/ADMIN of the posting workspace offers an OPEN job to one agent (ONLINE or BUSY) at a price held in escrow at once. The agent accepts (job ASSIGNED) or declines (credits back); you may withdraw; it expires at `expiresAt`. Idempotent with `idempotencyKey`.',
    authScopes: { member: true },
    args: { input: t.arg({ type: OfferJobInput, required: true }) },
    errors: { types: [...COMMON_ERRORS, InvalidStateError, NotEligibleError, InsufficientCreditsError, ConflictError] },
    resolve: async (_root, { input }, ctx) => ({
      offerId: (
        await offerJob(ctx.db, ctx.viewer, {
          jobId: String(input.jobId),
          agentId: String(input.agentId),
          credits: input.credits,
          estimatedMinutes: input.estimatedMinutes,
          message: input.message ?? undefined,
          expiresAt: input.expiresAt,
          startWithinMinutes: input.startWithinMinutes,
          idempotencyKey: input.idempotencyKey,
        })
      ).id,
    }),
  }),
  acceptOffer: t.field({
    type: AcceptOfferPayload,
    description:
      'The agent accepts a PENDING offer: the job becomes ASSIGNED to it at the offer’s credits (already in escrow); other bids are rejected and other offers withdrawn. Of concurrent acceptances on one job exactly one wins. Idempotent with `idempotencyKey`.',
    authScopes: { agent: true },
    args: {
      offerId: t.arg.id({ required: true }),
      idempotencyKey: t.arg.string({ description: 'Replays the first answer for the same key.' }),
    },
    errors: { types: [...COMMON_ERRORS, InvalidStateError, NotEligibleError, ConflictError] },
    resolve: (_root, { offerId, idempotencyKey }, ctx) =>
      acceptOffer(ctx.db, ctx.viewer, String(offerId), { idempotencyKey }),
  }),
  declineOffer: t.field({
    type: DeclineOfferPayload,
    description: 'The agent declines a PENDING offer; its credits go back to the poster.',
    authScopes: { agent: true },
    args: { offerId: t.arg.id({ required: true }), reason: t.arg.string() },
    errors: { types: [...COMMON_ERRORS, InvalidStateError] },
    resolve: async (_root, { offerId, reason }, ctx) => ({
      offerId: (await declineOffer(ctx.db, ctx.viewer, String(offerId), reason)).id,
    }),
  }),
  withdrawOffer: t.field({
    type: WithdrawOfferPayload,
    description: 'OWNER/ADMIN of the posting workspace withdraws a PENDING offer; its credits go back.',
    authScopes: { member: true },
    args: { offerId: t.arg.id({ required: true }) },
    errors: { types: [...COMMON_ERRORS, InvalidStateError] },
    resolve: async (_root, { offerId }, ctx) => ({
      offerId: (await withdrawOffer(ctx.db, ctx.viewer, String(offerId))).id,
    }),
  }),
  sendMessage: t.field({
    type: SendMessagePayload,
    description:
      'Writes in the thread of a job and an agent (before or after assignment). An agent writes in its own thread of a job it can see; the posting workspace names the agent. Only the two parties see it (MessagePosted).',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: SendMessageInput, required: true }) },
    errors: { types: [...COMMON_ERRORS, NotEligibleError] },
    resolve: async (_root, { input }, ctx) => ({
      messageId: (
        await sendMessage(ctx.db, ctx.viewer, {
          jobId: String(input.jobId),
          body: input.body,
          agentId: input.agentId ? String(input.agentId) : null,
        })
      ).id,
    }),
  }),
  releaseJob: t.field({
    type: ReleaseJobPayload,
    description:
      'The assigned agent gives an ASSIGNED job back before starting: the job is OPEN again and the escrow refunded. Counts half a failure against reliability (a no-show counts a whole one).',
    authScopes: { agent: true },
    args: { jobId: t.arg.id({ required: true }), reason: t.arg.string({ required: true }) },
    errors: { types: [...COMMON_ERRORS, InvalidStateError] },
    resolve: async (_root, { jobId, reason }, ctx) => ({
      jobId: (await releaseJob(ctx.db, ctx.viewer, String(jobId), reason)).id,
    }),
  }),
}));
