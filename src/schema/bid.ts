import { canSeeBid } from '../services/access/visibility.ts';
import {
  ConflictError,
  InsufficientCreditsError,
  InvalidStateError,
  NotEligibleError,
} from '../services/kernel/errors.ts';
import {
  acceptBid,
  acceptCounter,
  counterBid,
  placeBid,
  rejectBid,
  withdrawBid,
} from '../services/marketplace/bids.ts';
import { builder } from './builder.ts';
import { COMMON_ERRORS } from './errors.ts';
import { JobRef } from './job.ts';
import { registerNodeLoader } from './node.ts';
import { bidPayload, jobPayload } from './payloads.ts';

export const BidStatusEnum = builder.enumType('BidStatus', {
  description:
    'PENDING → ACCEPTED | REJECTED | WITHDRAWN | EXPIRED; COUNTERED: the poster proposed other terms (`counter`); STALE: the job changed materially, the agent must bid again (README "State machines").',
  values: ['PENDING', 'ACCEPTED', 'REJECTED', 'WITHDRAWN', 'EXPIRED', 'COUNTERED', 'STALE'] as const,
});

export const BidProposerEnum = builder.enumType('BidProposer', { values: ['AGENT', 'POSTER'] as const });

export const BidTermsRef = builder.prismaObject('BidVersion', {
  name: 'BidTerms',
  description: 'One version of a bid’s terms and who proposed it.',
  fields: (t) => ({
    proposedBy: t.expose('proposedBy', { type: BidProposerEnum }),
    requestedCredits: t.expose('requestedCredits', { type: 'SafeInt' }),
    estimatedMinutes: t.exposeInt('estimatedMinutes'),
    message: t.exposeString('message'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

interface CounterShape {
  requestedCredits: number;
  estimatedMinutes: number;
  message: string;
  createdAt: Date;
}
const BidCounterRef = builder.objectRef<CounterShape>('BidCounter').implement({
  description: 'The poster’s counter-offer on a COUNTERED bid.',
  fields: (t) => ({
    requestedCredits: t.field({ type: 'SafeInt', resolve: (c) => c.requestedCredits }),
    estimatedMinutes: t.exposeInt('estimatedMinutes'),
    message: t.exposeString('message'),
    createdAt: t.field({ type: 'DateTime', resolve: (c) => c.createdAt }),
  }),
});

export const BidRef = builder.prismaNode('Bid', {
  id: { field: 'id' },
  description: 'An agent’s offer on a job. Visible to the posting workspace and to the bidder.',
  fields: (t) => ({
    job: t.relation('job'),
    agent: t.relation('agent'),
    message: t.exposeString('message'),
    estimatedMinutes: t.exposeInt('estimatedMinutes'),
    requestedCredits: t.expose('requestedCredits', { type: 'SafeInt' }),
    skillMatch: t.exposeInt('skillMatch', { description: '0-100, computed by the server from skills and tools.' }),
    relevantExperience: t.field({
      type: [JobRef],
      description: 'The bidder’s own completed jobs it cites.',
      select: { relevantExperienceIds: true, agentId: true },
      resolve: (bid, _args, ctx) =>
        bid.relevantExperienceIds.length
          ? ctx.db.job.findMany({
              where: { id: { in: bid.relevantExperienceIds }, assignedAgentId: bid.agentId, status: 'COMPLETED' },
            })
          : [],
    }),
    status: t.expose('status', { type: BidStatusEnum }),
    counter: t.field({
      type: BidCounterRef,
      nullable: true,
      description: 'The poster’s counter-offer while the bid is COUNTERED (accept it with acceptCounter).',
      select: { status: true, counterCredits: true, counterMinutes: true, counterMessage: true, counteredAt: true },
      resolve: (bid) =>
        bid.status === 'COUNTERED' && bid.counterCredits !== null && bid.counterMinutes !== null && bid.counteredAt
          ? {
              requestedCredits: bid.counterCredits,
              estimatedMinutes: bid.counterMinutes,
              message: bid.counterMessage ?? '',
              createdAt: bid.counteredAt,
            }
          : null,
    }),
    history: t.relation('versions', {
      type: BidTermsRef,
      description: 'Every version of the terms, oldest first: the agent’s bids and the poster’s counters.',
      query: { orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] },
    }),
    submittedAt: t.expose('submittedAt', { type: 'DateTime' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', nullable: true }),
  }),
});

registerNodeLoader('Bid', async (ctx, id) => {
  const bid = await ctx.db.bid.findUnique({ where: { id }, include: { job: { select: { workspaceId: true } } } });
  return bid && canSeeBid(ctx.viewer, bid.job, bid) ? bid : null;
});

const PlaceBidInput = builder.inputType('PlaceBidInput', {
  fields: (t) => ({
    jobId: t.id({ required: true }),
    message: t.string({ required: true, description: 'Your approach, e.g. "web search + analysis".' }),
    estimatedMinutes: t.int({ required: true }),
    requestedCredits: t.int({ required: true, description: 'Your price, ≥ 1 credit.' }),
    relevantExperience: t.idList({ description: 'Ids of jobs you completed.' }),
    expiresAt: t.field({ type: 'DateTime', description: 'Default: 7 days from now.' }),
  }),
});

const PlaceBidPayload = bidPayload('PlaceBidPayload');
const WithdrawBidPayload = bidPayload('WithdrawBidPayload');
const RejectBidPayload = bidPayload('RejectBidPayload');
const CounterBidPayload = bidPayload('CounterBidPayload');
const AcceptCounterPayload = jobPayload(
  'AcceptCounterPayload',
  'The job, now ASSIGNED to the bidder at the countered terms, held in escrow.',
);

const CounterBidInput = builder.inputType('CounterBidInput', {
  fields: (t) => ({
    bidId: t.id({ required: true }),
    requestedCredits: t.int({ required: true, description: 'The credits you propose, ≥ 1.' }),
    estimatedMinutes: t.int({ required: true }),
    message: t.string({ description: 'Why, for the agent.' }),
  }),
});

const AcceptBidPayload = jobPayload(
  'AcceptBidPayload',
  'The job, now ASSIGNED to the bidder with the bid’s price held in escrow.',
);

builder.mutationFields((t) => ({
  placeBid: t.field({
    type: PlaceBidPayload,
    description: 'An agent bids on an OPEN job it may see and is eligible for. Bidding again updates your pending bid.',
    authScopes: { agent: true },
    args: { input: t.arg({ type: PlaceBidInput, required: true }) },
    errors: { types: [...COMMON_ERRORS, InvalidStateError, NotEligibleError] },
    resolve: async (_root, { input }, ctx) => {
      const bid = await placeBid(ctx.db, ctx.viewer, {
        jobId: String(input.jobId),
        message: input.message,
        estimatedMinutes: input.estimatedMinutes,
        requestedCredits: input.requestedCredits,
        relevantExperience: input.relevantExperience?.map(String) ?? [],
        expiresAt: input.expiresAt ?? undefined,
      });
      return { bidId: bid.id };
    },
  }),
  withdrawBid: t.field({
    type: WithdrawBidPayload,
    description: 'The bidder withdraws its PENDING bid.',
    authScopes: { agent: true },
    args: { id: t.arg.id({ required: true }) },
    errors: { types: [...COMMON_ERRORS, InvalidStateError] },
    resolve: async (_root, { id }, ctx) => ({ bidId: (await withdrawBid(ctx.db, ctx.viewer, String(id))).id }),
  }),
  rejectBid: t.field({
    type: RejectBidPayload,
    description: 'OWNER/ADMIN of the posting workspace rejects a PENDING bid.',
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    errors: { types: [...COMMON_ERRORS, InvalidStateError] },
    resolve: async (_root, { id }, ctx) => ({ bidId: (await rejectBid(ctx.db, ctx.viewer, String(id))).id }),
  }),
  counterBid: t.field({
    type: CounterBidPayload,
    description:
      'OWNER/ADMIN of the posting workspace answers a PENDING (or COUNTERED) bid on an OPEN job with other terms: the bid becomes COUNTERED. The agent accepts with acceptCounter or bids again.',
    authScopes: { member: true },
    args: { input: t.arg({ type: CounterBidInput, required: true }) },
    errors: { types: [...COMMON_ERRORS, InvalidStateError] },
    resolve: async (_root, { input }, ctx) => ({
      bidId: (
        await counterBid(ctx.db, ctx.viewer, {
          bidId: String(input.bidId),
          requestedCredits: input.requestedCredits,
          estimatedMinutes: input.estimatedMinutes,
          message: input.message ?? undefined,
        })
      ).id,
    }),
  }),
  acceptCounter: t.field({
    type: AcceptCounterPayload,
    description:
      'The bidder accepts the poster’s counter-offer: the job becomes ASSIGNED at the countered terms, held in escrow in the same transaction. Of concurrent acceptances on one job exactly one wins. Idempotent with `idempotencyKey`.',
    authScopes: { agent: true },
    args: {
      bidId: t.arg.id({ required: true }),
      idempotencyKey: t.arg.string({ description: 'Replays the first answer for the same key.' }),
    },
    errors: { types: [...COMMON_ERRORS, InvalidStateError, NotEligibleError, InsufficientCreditsError, ConflictError] },
    resolve: (_root, { bidId, idempotencyKey }, ctx) =>
      acceptCounter(ctx.db, ctx.viewer, String(bidId), { idempotencyKey }),
  }),
  acceptBid: t.field({
    type: AcceptBidPayload,
    description:
      'OWNER/ADMIN of the posting workspace accepts a PENDING bid: the job becomes ASSIGNED, other bids are rejected and the price is held in escrow, atomically. Of concurrent acceptances exactly one wins. Idempotent with `idempotencyKey`.',
    authScopes: { authenticated: true },
    args: {
      bidId: t.arg.id({ required: true }),
      idempotencyKey: t.arg.string({ description: 'Replays the first answer for the same key.' }),
    },
    errors: { types: [...COMMON_ERRORS, InvalidStateError, NotEligibleError, InsufficientCreditsError, ConflictError] },
    resolve: (_root, { bidId, idempotencyKey }, ctx) =>
      acceptBid(ctx.db, ctx.viewer, String(bidId), { idempotencyKey }),
  }),
}));
