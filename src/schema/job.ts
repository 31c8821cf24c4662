import { queryFromInfo } from '@pothos/plugin-prisma';
import { resolveOffsetConnection } from '@pothos/plugin-relay';
import {
  bidVisibilityWhere,
  canSeeJob,
  isPosterSide,
  loadJobAccess,
  loadVisibleJob,
} from '../services/access/visibility.ts';
import { createProject } from '../services/accounts/projects.ts';
import {
  ConflictError,
  InsufficientCreditsError,
  InvalidStateError,
  NotEligibleError,
} from '../services/kernel/errors.ts';
import { decodeId } from '../services/kernel/ids.ts';
import {
  assignJob,
  inviteAgent,
  type JobFilter,
  postJob,
  recommendedJobIds,
  searchJobIds,
  updateJob,
} from '../services/marketplace/jobs.ts';
import { MATCH_WEIGHTS, matchingAgents } from '../services/marketplace/matching.ts';
import { cancelJob } from '../services/settlement/cancellation.ts';
import { AgentRef } from './agent.ts';
import { builder } from './builder.ts';
import type { Context } from './context.ts';
import { COMMON_ERRORS } from './errors.ts';
import { registerNodeLoader } from './node.ts';
import { jobPayload } from './payloads.ts';

export const JobPriorityEnum = builder.enumType('JobPriority', {
  values: ['URGENT', 'HIGH', 'MEDIUM', 'LOW'] as const,
});
export const JobVisibilityEnum = builder.enumType('JobVisibility', {
  description:
    'PRIVATE: the posting workspace and invited agents. WORKSPACE: also agents the workspace owns. PUBLIC: every agent and member. Excluded agents never see a job.',
  values: ['PRIVATE', 'WORKSPACE', 'PUBLIC'] as const,
});
export const JobStatusEnum = builder.enumType('JobStatus', {
  description:
    'OPEN → ASSIGNED → IN_PROGRESS → REVIEW → COMPLETED, with DISPUTED, CANCELLED and EXPIRED; ASSIGNED → OPEN on release or a lapsed start (README "State machines").',
  values: ['OPEN', 'ASSIGNED', 'IN_PROGRESS', 'REVIEW', 'COMPLETED', 'DISPUTED', 'CANCELLED', 'EXPIRED'] as const,
});

export const ProjectRef = builder.prismaNode('Project', {
  id: { field: 'id' },
  description: 'A group of jobs inside a workspace.',
  fields: (t) => ({
    name: t.exposeString('name'),
    description: t.exposeString('description'),
    workspace: t.relation('workspace'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

registerNodeLoader('Project', async (ctx, id) =>
  ctx.viewer.kind === 'member'
    ? ctx.db.project.findFirst({ where: { id, workspaceId: ctx.viewer.workspaceId } })
    : null,
);

const posterOnly = (ctx: Context, job: { workspaceId: string }) => isPosterSide(ctx.viewer, job);

export const JobRef = builder.prismaNode('Job', {
  id: { field: 'id' },
  description: 'Work a team posted. Its posting follows `visibility`; bids and the execution trace are narrower.',
  fields: (t) => ({
    title: t.exposeString('title'),
    description: t.exposeString('description'),
    project: t.relation('project'),
    priority: t.expose('priority', { type: JobPriorityEnum }),
    deadline: t.expose('deadline', { type: 'DateTime', nullable: true }),
    visibility: t.expose('visibility', { type: JobVisibilityEnum }),
    requiredSkills: t.exposeStringList('requiredSkills'),
    requiredTools: t.exposeStringList('requiredTools', { description: 'MCP tools the work needs.' }),
    budget: t.expose('budget', { type: 'SafeInt', description: 'Credits the poster is willing to pay.' }),
    minReputationScore: t.exposeInt('minReputationScore', { nullable: true }),
    preferredAgents: t.field({
      type: [AgentRef],
      description: 'Invited agents. The posting workspace sees all; an invited agent sees itself.',
      select: { workspaceId: true, invitations: { select: { agent: true } } },
      resolve: (job, _args, ctx) => {
        const agents = job.invitations.map((i) => i.agent);
        if (posterOnly(ctx, job)) return agents;
        const v = ctx.viewer;
        return v.kind === 'agent' ? agents.filter((a) => a.id === v.agentId) : [];
      },
    }),
    excludedAgents: t.field({
      type: [AgentRef],
      description: 'Agents that may never see the job. Visible to the posting workspace only (empty for others).',
      select: { workspaceId: true, exclusions: { select: { agent: true } } },
      resolve: (job, _args, ctx) => (posterOnly(ctx, job) ? job.exclusions.map((e) => e.agent) : []),
    }),
    status: t.expose('status', { type: JobStatusEnum }),
    bids: t.relatedConnection('bids', {
      cursor: 'id',
      description: 'The posting workspace sees every bid; an agent sees only its own.',
      query: (_args, ctx) => ({ where: bidVisibilityWhere(ctx.viewer), orderBy: { submittedAt: 'asc' } }),
      totalCount: true,
    }),
    assignedAgent: t.relation('assignedAgent', { nullable: true }),
    acceptedBid: t.relation('acceptedBid', {
      nullable: true,
      description: 'Visible to the posting workspace and the assigned agent.',
      query: (_args, ctx) => ({ where: bidVisibilityWhere(ctx.viewer) }),
    }),
    agreedCredits: t.expose('agreedCredits', {
      type: 'SafeInt',
      nullable: true,
      description: 'The price agreed on assignment.',
    }),
    humanReviewRequired: t.exposeBoolean('humanReviewRequired'),
    killFeePercent: t.exposeInt('killFeePercent', {
      description:
        'Share of the agreed credits paid to the agent if the poster cancels started work (0-100, default 20); fixed once assigned.',
    }),
    startWithinMinutes: t.exposeInt('startWithinMinutes', {
      description: 'Minutes an assigned agent has to start (default 1440); an offer may set its own.',
    }),
    startBy: t.expose('startBy', {
      type: 'DateTime',
      nullable: true,
      description:
        'While ASSIGNED: not started by then, the job returns to OPEN with the escrow refunded (AssignmentLapsed).',
    }),
    cancelledInProgressAt: t.expose('cancelledInProgressAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the poster cancelled started work (the agent may contest with openDispute for 72 hours).',
    }),
    autoApproveAt: t.expose('autoApproveAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When a submitted result will be accepted automatically (set while in REVIEW).',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

registerNodeLoader('Job', async (ctx, id) => {
  const access = await loadJobAccess(ctx.db, ctx.viewer, id);
  return access && canSeeJob(ctx.viewer, access.facts) ? access.job : null;
});

const JobFilterInput = builder.inputType('JobFilter', {
  fields: (t) => ({
    status: t.field({ type: [JobStatusEnum], description: 'Any of these statuses (default: all).' }),
    skills: t.stringList({ description: 'Jobs requiring any of these skills.' }),
    search: t.string({
      description: 'Full-text search over title and description (web-search syntax: "quoted", -not, or).',
    }),
    projectId: t.id(),
    visibility: t.field({ type: JobVisibilityEnum }),
  }),
});

const AgentMatchComponents = builder
  .objectRef<{ skill: number; reputation: number; availability: number; price: number }>('AgentMatchComponents')
  .implement({
    description: `The parts of the match score, each 0-100. score = ${MATCH_WEIGHTS.skill}·skill + ${MATCH_WEIGHTS.reputation}·reputation + ${MATCH_WEIGHTS.availability}·availability + ${MATCH_WEIGHTS.price}·price.`,
    fields: (t) => ({
      skill: t.exposeInt('skill'),
      reputation: t.exposeInt('reputation'),
      availability: t.exposeInt('availability'),
      price: t.exposeInt('price'),
    }),
  });

const AgentMatch = builder
  .objectRef<{
    agentId: string;
    score: number;
    skillMatch: number;
    components: { skill: number; reputation: number; availability: number; price: number };
  }>('AgentMatch')
  .implement({
    description: 'An eligible agent ranked for a job, with the parts of its score.',
    fields: (t) => ({
      agent: t.prismaField({
        type: 'Agent',
        resolve: (query, m, _args, ctx) => ctx.db.agent.findUniqueOrThrow({ ...query, where: { id: m.agentId } }),
      }),
      score: t.exposeInt('score', { description: '0-100.' }),
      skillMatch: t.exposeInt('skillMatch', { description: '0-100.' }),
      components: t.field({ type: AgentMatchComponents, resolve: (m) => m.components }),
    }),
  });

function toFilter(
  filter:
    | {
        status?: readonly string[] | null;
        skills?: readonly string[] | null;
        search?: string | null;
        projectId?: string | number | null;
        visibility?: string | null;
      }
    | null
    | undefined,
): JobFilter {
  return {
    status: (filter?.status ?? undefined) as JobFilter['status'],
    skills: filter?.skills ? [...filter.skills] : undefined,
    search: filter?.search ?? undefined,
    projectId: filter?.projectId ? String(filter.projectId) : undefined,
    visibility: (filter?.visibility ?? undefined) as JobFilter['visibility'],
  };
}

builder.queryFields((t) => ({
  jobs: t.connection({
    type: JobRef,
    description:
      'Jobs you may see, most relevant first when searching, then by deadline and priority. Members see their workspace’s jobs and PUBLIC ones; agents see what visibility allows.',
    authScopes: { authenticated: true },
    args: { filter: t.arg({ type: JobFilterInput }) },
    resolve: (_root, args, ctx, info) =>
      resolveOffsetConnection({ args, defaultSize: 20, maxSize: 100 }, async ({ offset, limit }) => {
        const ids = await searchJobIds(ctx.db, ctx.viewer, toFilter(args.filter), { offset, limit });
        if (ids.length === 0) return [];
        // One query for the page with every nested selection (bids, agents, reputations) joined in.
        const query = queryFromInfo({ context: ctx, info, typeName: 'Job', path: ['edges', 'node'] });
        const jobs = await ctx.db.job.findMany({ ...query, where: { id: { in: ids } } });
        const byId = new Map(jobs.map((j) => [j.id, j]));
        return ids.map((id) => byId.get(id)).filter((j) => j !== undefined);
      }),
  }),
  job: t.prismaField({
    type: 'Job',
    nullable: true,
    description: 'One job you may see. A job you may not see is a NOT_FOUND error, exactly like a missing one.',
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, { id }, ctx) => {
      const { job } = await loadVisibleJob(ctx.db, ctx.viewer, decodeId('Job', String(id)), String(id));
      return ctx.db.job.findUnique({ ...query, where: { id: job.id } });
    },
  }),
  recommendedJobs: t.prismaField({
    type: ['Job'],
    description: 'For an agent: OPEN jobs it may see and bid on, ranked by 70% skill match and 30% budget vs its rate.',
    authScopes: { agent: true },
    args: { first: t.arg.int({ defaultValue: 20 }) },
    resolve: async (query, _root, { first }, ctx) => {
      const ranked = await recommendedJobIds(ctx.db, ctx.viewer, Math.min(Math.max(first ?? 20, 1), 100));
      const jobs = await ctx.db.job.findMany({ ...query, where: { id: { in: ranked.map((r) => r.id) } } });
      const byId = new Map(jobs.map((j) => [j.id, j]));
      return ranked.map((r) => byId.get(r.id)).filter((j) => j !== undefined);
    },
  }),
  matchingAgents: t.field({
    type: [AgentMatch],
    description:
      'For the posting workspace: eligible agents ranked for a job (score and its components). See README "Matching and reputation".',
    authScopes: { member: true },
    args: { jobId: t.arg.id({ required: true }), first: t.arg.int({ defaultValue: 10 }) },
    resolve: async (_root, { jobId, first }, ctx) => {
      const rows = await matchingAgents(
        ctx.db,
        ctx.viewer,
        decodeId('Job', String(jobId)),
        Math.min(Math.max(first ?? 10, 1), 100),
      );
      return rows.map((r) => ({
        agentId: r.agentId,
        score: Math.round(r.score),
        skillMatch: Math.round(r.skillMatch),
        components: {
          skill: Math.round(r.skillMatch),
          reputation: Math.round(r.reputation),
          availability: Math.round(r.availability * 100),
          price: Math.round(r.price * 100),
        },
      }));
    },
  }),
}));

// ───────────── mutations ─────────────

const CreateProjectInput = builder.inputType('CreateProjectInput', {
  fields: (t) => ({ name: t.string({ required: true }), description: t.string() }),
});
const CreateProjectPayload = builder.objectRef<{ projectId: string }>('CreateProjectPayload').implement({
  fields: (t) => ({
    project: t.prismaField({
      type: 'Project',
      resolve: (query, p, _args, ctx) => ctx.db.project.findUniqueOrThrow({ ...query, where: { id: p.projectId } }),
    }),
  }),
});

const PostJobInput = builder.inputType('PostJobInput', {
  fields: (t) => ({
    projectId: t.id({ description: 'Default: the workspace’s "General" project.' }),
    title: t.string({ required: true }),
    description: t.string({ required: true }),
    priority: t.field({ type: JobPriorityEnum }),
    deadline: t.field({ type: 'DateTime', description: 'Unassigned jobs expire at their deadline.' }),
    visibility: t.field({ type: JobVisibilityEnum, description: 'Default WORKSPACE.' }),
    requiredSkills: t.stringList(),
    requiredTools: t.stringList(),
    budget: t.int({ required: true, description: 'Credits, ≥ 1.' }),
    minReputationScore: t.int({ description: 'Agents below this overallScore cannot bid.' }),
    preferredAgents: t.idList({ description: 'Agents invited to the job (they see it even when PRIVATE).' }),
    excludedAgents: t.idList({ description: 'Agents that never see the job.' }),
    humanReviewRequired: t.boolean(),
    autoApproveAfterHours: t.float({
      description: 'Accept a submitted result automatically after this long (default 72).',
    }),
    killFeePercent: t.int({
      description: 'Share of the agreed credits the agent keeps if you cancel started work (0-100, default 20).',
    }),
    startWithinMinutes: t.int({ description: 'Minutes an assigned agent has to start (default 1440).' }),
  }),
});

const UpdateJobInput = builder.inputType('UpdateJobInput', {
  description: 'Only the fields given change; only while the job is OPEN.',
  fields: (t) => ({
    title: t.string(),
    description: t.string(),
    priority: t.field({ type: JobPriorityEnum }),
    deadline: t.field({ type: 'DateTime' }),
    visibility: t.field({ type: JobVisibilityEnum }),
    requiredSkills: t.stringList(),
    requiredTools: t.stringList(),
    budget: t.int(),
    minReputationScore: t.int(),
    humanReviewRequired: t.boolean(),
    autoApproveAfterHours: t.float(),
    killFeePercent: t.int(),
    startWithinMinutes: t.int(),
  }),
});

const defaultsOf = (ctx: Context) => ({ autoApproveHours: ctx.config.AUTO_APPROVE_HOURS });
const undefs = <T extends object>(o: T) =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v === null ? undefined : v])) as {
    [K in keyof T]: Exclude<T[K], null>;
  };

const PostJobPayload = jobPayload('PostJobPayload');
const UpdateJobPayload = jobPayload('UpdateJobPayload');
const CancelJobPayload = jobPayload('CancelJobPayload');
const InviteAgentPayload = jobPayload('InviteAgentPayload');
const AssignJobPayload = jobPayload('AssignJobPayload');

builder.mutationFields((t) => ({
  createProject: t.field({
    type: CreateProjectPayload,
    description: 'Creates a project in your workspace (names are unique per workspace).',
    authScopes: { member: true },
    args: { input: t.arg({ type: CreateProjectInput, required: true }) },
    errors: { types: [...COMMON_ERRORS, ConflictError] },
    resolve: async (_root, { input }, ctx) => ({
      projectId: (await createProject(ctx.db, ctx.viewer, undefs(input))).id,
    }),
  }),
  postJob: t.field({
    type: PostJobPayload,
    description: 'Posts an OPEN job. Skills are normalised; invited agents are notified.',
    authScopes: { member: true },
    args: { input: t.arg({ type: PostJobInput, required: true }) },
    errors: { types: COMMON_ERRORS },
    resolve: async (_root, { input }, ctx) => {
      const { preferredAgents, excludedAgents, projectId, ...rest } = input;
      const job = await postJob(
        ctx.db,
        ctx.viewer,
        {
          ...undefs(rest),
          budget: input.budget,
          title: input.title,
          description: input.description,
          projectId: projectId ? String(projectId) : undefined,
          preferredAgents: preferredAgents?.map(String),
          excludedAgents: excludedAgents?.map(String),
        },
        defaultsOf(ctx),
      );
      return { jobId: job.id };
    },
  }),
  updateJob: t.field({
    type: UpdateJobPayload,
    description:
      'Edits an OPEN job of your workspace. A material change (description, budget, skills, tools, an earlier deadline, a narrower visibility, a lower kill fee, less time to start) makes every PENDING or COUNTERED bid STALE (BidStale); cosmetic edits do not.',
    authScopes: { member: true },
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateJobInput, required: true }) },
    errors: { types: [...COMMON_ERRORS, InvalidStateError] },
    resolve: async (_root, { id, input }, ctx) => ({
      jobId: (await updateJob(ctx.db, ctx.viewer, String(id), undefs(input), defaultsOf(ctx))).id,
    }),
  }),
  cancelJob: t.field({
    type: CancelJobPayload,
    description:
      'Cancels a job of your workspace. OPEN or ASSIGNED: live bids are rejected, offers withdrawn, the escrow refunded. IN_PROGRESS: the agent is paid the job’s killFeePercent of the agreed credits (minus the platform fee) and the rest refunded, in one transaction; the agent may contest within 72 hours. Idempotent with `idempotencyKey`.',
    authScopes: { member: true },
    args: {
      id: t.arg.id({ required: true }),
      idempotencyKey: t.arg.string({ description: 'Replays the first answer for the same key.' }),
    },
    errors: { types: [...COMMON_ERRORS, InvalidStateError, ConflictError] },
    resolve: (_root, { id, idempotencyKey }, ctx) =>
      cancelJob(ctx.db, ctx.viewer, String(id), { idempotencyKey, feeBps: ctx.config.PLATFORM_FEE_BPS }),
  }),
  inviteAgent: t.field({
    type: InviteAgentPayload,
    description: 'Invites an agent to an OPEN job (it may then see it even when PRIVATE). Idempotent.',
    authScopes: { member: true },
    args: { jobId: t.arg.id({ required: true }), agentId: t.arg.id({ required: true }) },
    errors: { types: [...COMMON_ERRORS, InvalidStateError, NotEligibleError] },
    resolve: async (_root, { jobId, agentId }, ctx) => ({
      jobId: (await inviteAgent(ctx.db, ctx.viewer, String(jobId), String(agentId))).id,
    }),
  }),
  assignJob: t.field({
    type: AssignJobPayload,
    description:
      'Direct hire without bidding, for agents your own workspace owns (the internal case): assigns an eligible agent at `credits` (default: the budget), held in escrow. An outside agent must consent: use offerJob (NotEligibleError says so). Of concurrent assignments exactly one wins.',
    authScopes: { member: true },
    args: {
      jobId: t.arg.id({ required: true }),
      agentId: t.arg.id({ required: true }),
      credits: t.arg.int(),
      idempotencyKey: t.arg.string({ description: 'Replays the first answer for the same key.' }),
    },
    errors: { types: [...COMMON_ERRORS, InvalidStateError, NotEligibleError, ConflictError, InsufficientCreditsError] },
    resolve: (_root, { jobId, agentId, credits, idempotencyKey }, ctx) =>
      assignJob(ctx.db, ctx.viewer, { jobId: String(jobId), agentId: String(agentId), credits, idempotencyKey }),
  }),
}));
