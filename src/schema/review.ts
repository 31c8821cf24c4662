import { canSeeJob, loadJobAccess } from '../services/access/visibility.ts';
import { ConflictError, InsufficientCreditsError, InvalidStateError } from '../services/kernel/errors.ts';
import { openDispute, resolveDispute } from '../services/settlement/disputes.ts';
import { reviewExecution } from '../services/settlement/reviews.ts';
import { builder } from './builder.ts';
import type { Context } from './context.ts';
import { COMMON_ERRORS } from './errors.ts';
import { registerNodeLoader } from './node.ts';

const ReviewDecisionEnum = builder.enumType('ReviewDecision', {
  values: ['ACCEPT', 'REQUEST_CHANGES', 'REJECT'] as const,
});
const DisputeOutcomeEnum = builder.enumType('DisputeOutcome', { values: ['PAY_AGENT', 'REFUND', 'SPLIT'] as const });
const DisputeStatusEnum = builder.enumType('DisputeStatus', { values: ['OPEN', 'RESOLVED'] as const });

export const ReviewRef = builder.prismaNode('Review', {
  id: { field: 'id' },
  description: 'A decision on a submitted result. `rating` 1-5; automatic reviews (auto-approval) have none.',
  fields: (t) => ({
    decision: t.expose('decision', { type: ReviewDecisionEnum }),
    rating: t.exposeInt('rating', { nullable: true }),
    notes: t.exposeString('notes'),
    automatic: t.exposeBoolean('automatic'),
    reviewer: t.relation('reviewer', {
      nullable: true,
      description: 'Visible to the posting workspace only.',
      query: (_args, ctx: Context) => ({
        where: ctx.viewer.kind === 'member' ? { workspaceId: ctx.viewer.workspaceId } : { id: '' },
      }),
    }),
    job: t.prismaField({
      type: 'Job',
      nullable: true,
      description: 'The reviewed job, when you may see it (reviews are public reputation; private jobs stay private).',
      select: { jobId: true },
      resolve: async (query, r, _args, ctx) => {
        const access = await loadJobAccess(ctx.db, ctx.viewer, r.jobId);
        return access && canSeeJob(ctx.viewer, access.facts)
          ? ctx.db.job.findUnique({ ...query, where: { id: r.jobId } })
          : null;
      },
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

export const DisputeRef = builder.prismaNode('Dispute', {
  id: { field: 'id' },
  fields: (t) => ({
    job: t.relation('job'),
    reason: t.exposeString('reason'),
    status: t.expose('status', { type: DisputeStatusEnum }),
    outcome: t.expose('outcome', { type: DisputeOutcomeEnum, nullable: true }),
    agentSharePercent: t.exposeInt('agentSharePercent', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    resolvedAt: t.expose('resolvedAt', { type: 'DateTime', nullable: true }),
  }),
});

const posterWhere = (ctx: Context) =>
  ctx.viewer.kind === 'platform'
    ? {}
    : ctx.viewer.kind === 'member'
      ? { job: { workspaceId: ctx.viewer.workspaceId } }
      : ctx.viewer.kind === 'agent'
        ? { agentId: ctx.viewer.agentId }
        : { id: '' };

registerNodeLoader('Review', (ctx, id) => ctx.db.review.findFirst({ where: { id, ...posterWhere(ctx) } }));
registerNodeLoader('Dispute', (ctx, id) =>
  ctx.db.dispute.findFirst({
    where: {
      id,
      ...(ctx.viewer.kind === 'platform'
        ? {}
        : ctx.viewer.kind === 'member'
          ? { job: { workspaceId: ctx.viewer.workspaceId } }
          : ctx.viewer.kind === 'agent'
            ? { job: { assignedAgentId: ctx.viewer.agentId } }
            : { id: '' }),
    },
  }),
);

// One Review (api-contract.md: `review: Review`), loaded with the execution in the same query.
builder.prismaObjectField('Execution', 'review', (t) =>
  t.field({
    type: ReviewRef,
    nullable: true,
    description: 'The latest review of this execution, or null before it is reviewed.',
    select: (_args, _ctx, nestedSelection) => ({
      reviews: nestedSelection({ orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], take: 1 }),
    }),
    resolve: (execution) => execution.reviews[0] ?? null,
  }),
);

builder.prismaObjectField('Job', 'disputes', (t) =>
  t.relation('disputes', {
    description: 'Disputes on this job (posting workspace and assigned agent only).',
    query: (_args, ctx: Context) => ({
      where:
        ctx.viewer.kind === 'platform'
          ? {}
          : ctx.viewer.kind === 'member'
            ? { job: { workspaceId: ctx.viewer.workspaceId } }
            : ctx.viewer.kind === 'agent'
              ? { job: { assignedAgentId: ctx.viewer.agentId } }
              : { id: '' },
      orderBy: { createdAt: 'asc' },
    }),
  }),
);

const policyOf = (ctx: Context) => ({
  feeBps: ctx.config.PLATFORM_FEE_BPS,
  maxChangeRequests: ctx.config.MAX_CHANGE_REQUESTS,
});

const ReviewExecutionPayload = builder
  .objectRef<{ executionId: string; jobId: string }>('ReviewExecutionPayload')
  .implement({
    fields: (t) => ({
      execution: t.prismaField({
        type: 'Execution',
        resolve: (query, p, _args, ctx) =>
          ctx.db.execution.findUniqueOrThrow({ ...query, where: { id: p.executionId } }),
      }),
      job: t.prismaField({
        type: 'Job',
        resolve: (query, p, _args, ctx) => ctx.db.job.findUniqueOrThrow({ ...query, where: { id: p.jobId } }),
      }),
    }),
  });

const disputePayload = (name: string) =>
  builder.objectRef<{ disputeId: string; jobId: string }>(name).implement({
    fields: (t) => ({
      dispute: t.prismaField({
        type: 'Dispute',
        resolve: (query, p, _args, ctx) => ctx.db.dispute.findUniqueOrThrow({ ...query, where: { id: p.disputeId } }),
      }),
      job: t.prismaField({
        type: 'Job',
        resolve: (query, p, _args, ctx) => ctx.db.job.findUniqueOrThrow({ ...query, where: { id: p.jobId } }),
      }),
    }),
  });

builder.mutationFields((t) => ({
  reviewExecution: t.field({
    type: ReviewExecutionPayload,
    description:
      'OWNER/ADMIN of the posting workspace decides on a submitted result. ACCEPT (rating 1-5 required) completes the job and pays the agent from escrow minus the platform fee; REQUEST_CHANGES sends it back with the notes (limited rounds); REJECT opens a dispute. Idempotent with `idempotencyKey`.',
    authScopes: { member: true },
    args: {
      executionId: t.arg.id({ required: true }),
      decision: t.arg({ type: ReviewDecisionEnum, required: true }),
      rating: t.arg.int(),
      notes: t.arg.string(),
      idempotencyKey: t.arg.string(),
    },
    errors: { types: [...COMMON_ERRORS, InvalidStateError, ConflictError, InsufficientCreditsError] },
    resolve: (_root, args, ctx) =>
      reviewExecution(
        ctx.db,
        ctx.viewer,
        String(args.executionId),
        {
          decision: args.decision,
          rating: args.rating,
          notes: args.notes ?? undefined,
          idempotencyKey: args.idempotencyKey,
        },
        policyOf(ctx),
      ),
  }),
  openDispute: t.field({
    type: disputePayload('OpenDisputePayload'),
    description: 'The posting workspace or the assigned agent disputes a job IN_PROGRESS or in REVIEW.',
    authScopes: { authenticated: true },
    args: { jobId: t.arg.id({ required: true }), reason: t.arg.string({ required: true }) },
    errors: { types: [...COMMON_ERRORS, InvalidStateError] },
    resolve: async (_root, { jobId, reason }, ctx) => {
      const dispute = await openDispute(ctx.db, ctx.viewer, String(jobId), reason);
      return { disputeId: dispute.id, jobId: dispute.jobId };
    },
  }),
  resolveDispute: t.field({
    type: disputePayload('ResolveDisputePayload'),
    description:
      'OWNER/ADMIN of the posting workspace or the platform admin settles a dispute: PAY_AGENT, REFUND or SPLIT (agentSharePercent). The escrow settles exactly once.',
    authScopes: { authenticated: true },
    args: {
      disputeId: t.arg.id({ required: true }),
      outcome: t.arg({ type: DisputeOutcomeEnum, required: true }),
      agentSharePercent: t.arg.int(),
      idempotencyKey: t.arg.string(),
    },
    errors: { types: [...COMMON_ERRORS, InvalidStateError, ConflictError] },
    resolve: (_root, args, ctx) =>
      resolveDispute(
        ctx.db,
        ctx.viewer,
        String(args.disputeId),
        { outcome: args.outcome, agentSharePercent: args.agentSharePercent, idempotencyKey: args.idempotencyKey },
        policyOf(ctx),
      ),
  }),
}));

builder.prismaObjectField('AgentReputation', 'reviews', (t) =>
  t.prismaConnection({
    type: 'Review',
    cursor: 'id',
    description:
      'Rated reviews of this agent, newest first. Reviews of PUBLIC jobs are public; others only to the posting workspace and the agent itself.',
    resolve: (query, rep, _args, ctx) => {
      const v = ctx.viewer;
      const visible =
        v.kind === 'platform' || (v.kind === 'agent' && v.agentId === rep.agentId)
          ? {}
          : {
              OR: [
                { job: { visibility: 'PUBLIC' as const } },
                ...(v.kind === 'member' ? [{ job: { workspaceId: v.workspaceId } }] : []),
              ],
            };
      return ctx.db.review.findMany({
        ...query,
        where: { agentId: rep.agentId, rating: { not: null }, ...visible },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      });
    },
  }),
);
