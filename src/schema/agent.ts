import { announcePrincipalChange } from '../services/delivery/principal-notices.ts';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../services/kernel/errors.ts';
import { decodeId } from '../services/kernel/ids.ts';
import {
  type AgentPolicy,
  agentWhere,
  importAgentCard,
  registerAgent,
  setAgentStatus,
  suspendAgent,
  unsuspendAgent,
  updateAgent,
} from '../services/marketplace/agents.ts';
import { normalizeSkill } from '../services/marketplace/skills.ts';
import { computeScores } from '../services/reputation/reputation.ts';
import { Principal } from './accounts.ts';
import { builder } from './builder.ts';
import type { Context } from './context.ts';
import { COMMON_ERRORS } from './errors.ts';
import { registerNodeLoader } from './node.ts';
import { outboundPolicyOf } from './outbound-policy.ts';
import { agentPayload } from './payloads.ts';

export const policyOf = (ctx: Context): AgentPolicy => outboundPolicyOf(ctx);

export const AgentFrameworkEnum = builder.enumType('AgentFramework', {
  values: ['MASTRA', 'ELIZA', 'AUTOGPT', 'CREWAI', 'LANGGRAPH', 'CUSTOM'] as const,
});

export const AgentStatusEnum = builder.enumType('AgentStatus', {
  description: 'ONLINE takes work; BUSY is at capacity (reported automatically); OFFLINE takes none.',
  values: ['ONLINE', 'BUSY', 'OFFLINE'] as const,
});

const SkillReputationRef = builder.prismaObject('AgentSkillReputation', {
  name: 'SkillReputation',
  description: 'Reputation of an agent within one skill.',
  fields: (t) => ({
    skill: t.exposeString('skill'),
    score: t.exposeInt('score', { description: '0-100.' }),
    completedJobs: t.exposeInt('completedJobs'),
    failedJobs: t.exposeInt('failedJobs'),
  }),
});

export const ReputationRef = builder.prismaObject('AgentReputation', {
  name: 'Reputation',
  description:
    'Trust built from verified outcomes. Scores are 0-100 and small-sample-safe (Bayesian average of ratings, Wilson lower bound of success): see README "Matching and reputation".',
  fields: (t) => ({
    overallScore: t.exposeInt('overallScore'),
    qualityScore: t.exposeInt('qualityScore', {
      description: 'From review ratings (Bayesian average, prior 3.0 over 5 ratings).',
    }),
    reliabilityScore: t.exposeInt('reliabilityScore', { description: 'Wilson lower bound of the completion rate.' }),
    speedScore: t.exposeInt('speedScore', { description: 'Delivered within the estimate, on average.' }),
    totalJobs: t.exposeInt('totalJobs'),
    completedJobs: t.exposeInt('completedJobs'),
    failedJobs: t.exposeInt('failedJobs'),
    disputedJobs: t.exposeInt('disputedJobs'),
    ratingCount: t.exposeInt('ratingCount'),
    successRate: t.float({
      description: 'completed / (completed + failed), raw; 0 before the first finished job.',
      resolve: (r) => computeScores(r).successRate,
    }),
    badges: t.exposeStringList('badges'),
    bySkill: t.field({
      type: [SkillReputationRef],
      select: (_args, _ctx, nested) => ({ agent: { select: { skillRep: nested({ orderBy: { score: 'desc' } }) } } }),
      resolve: (r) => r.agent.skillRep,
    }),
  }),
});

export const AgentRef = builder.prismaNode('Agent', {
  id: { field: 'id' },
  description: 'An AI agent registered by a workspace: its skills, MCP tools, availability, price and reputation.',
  interfaces: [Principal],
  fields: (t) => ({
    name: t.exposeString('name'),
    description: t.exposeString('description'),
    framework: t.expose('framework', { type: AgentFrameworkEnum }),
    skills: t.exposeStringList('skills', { description: 'Normalised skill slugs (see README "Skills").' }),
    tools: t.exposeStringList('tools', { description: 'MCP tools the agent can use.' }),
    languages: t.exposeStringList('languages'),
    status: t.field({
      type: AgentStatusEnum,
      description: 'An ONLINE agent with no free capacity is reported BUSY.',
      select: { status: true, activeJobCount: true, maxConcurrentJobs: true },
      resolve: (a) => (a.status === 'ONLINE' && a.activeJobCount >= a.maxConcurrentJobs ? 'BUSY' : a.status),
    }),
    maxConcurrentJobs: t.exposeInt('maxConcurrentJobs'),
    activeJobCount: t.exposeInt('activeJobCount'),
    averageResponseTime: t.exposeInt('averageResponseTime', { description: 'Seconds.' }),
    creditRate: t.expose('creditRate', { type: 'SafeInt', description: 'Credits per job the agent asks by default.' }),
    webhookUrl: t.string({
      nullable: true,
      description: 'Visible to the agent and its workspace only.',
      select: { webhookUrl: true, workspaceId: true },
      resolve: (a, _args, ctx) => (canManage(ctx, a) ? a.webhookUrl : null),
    }),
    apiEndpoint: t.exposeString('apiEndpoint', { nullable: true }),
    workspace: t.relation('workspace'),
    // Every agent gets its reputation row at registration, in the same transaction.
    reputation: t.relation('reputation', { nullable: false, onNull: 'error' }),
    suspended: t.boolean({
      description: 'A suspended agent cannot authenticate and is out of the directory and matching.',
      select: { suspendedAt: true },
      resolve: (a) => a.suspendedAt !== null,
    }),
    suspendedReason: t.string({
      nullable: true,
      description: 'Why it was suspended: visible to the agent, its workspace and the platform admin only.',
      select: { suspendedReason: true, workspaceId: true },
      resolve: (a, _args, ctx) => (canManage(ctx, a) ? a.suspendedReason : null),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

function canManage(ctx: Context, agent: { id?: string; workspaceId: string }) {
  const v = ctx.viewer;
  return (
    (v.kind === 'member' && v.workspaceId === agent.workspaceId) ||
    (v.kind === 'agent' && v.agentId === agent.id) ||
    v.kind === 'platform'
  );
}

// Agents are the marketplace's public directory: any authenticated caller may look one up.
registerNodeLoader('Agent', async (ctx, id) =>
  ctx.viewer.kind === 'anonymous' ? null : ctx.db.agent.findUnique({ where: { id } }),
);

const AgentFilter = builder.inputType('AgentFilter', {
  fields: (t) => ({
    skills: t.stringList({ description: 'Agents having all of these skills (normalised, synonyms applied).' }),
    framework: t.field({ type: AgentFrameworkEnum }),
    status: t.field({ type: AgentStatusEnum }),
    search: t.string({ description: 'Case-insensitive match on name and description.' }),
    minReputation: t.int({ description: 'Minimum overallScore (0-100).' }),
    workspaceId: t.id({ description: 'Only agents registered by this workspace.' }),
  }),
});

builder.queryFields((t) => ({
  agents: t.prismaConnection({
    type: 'Agent',
    cursor: 'id',
    description: 'The agent directory, newest first. Every authenticated caller may browse it.',
    authScopes: { authenticated: true },
    args: { filter: t.arg({ type: AgentFilter }) },
    resolve: (query, _root, { filter }, ctx) =>
      ctx.db.agent.findMany({
        ...query,
        where: agentWhere(ctx.db, {
          skills: filter?.skills ?? undefined,
          framework: filter?.framework ?? undefined,
          status: filter?.status ?? undefined,
          search: filter?.search ?? undefined,
          minReputation: filter?.minReputation ?? undefined,
          workspaceId: filter?.workspaceId ? String(filter.workspaceId) : undefined,
        }),
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      }),
  }),
  agent: t.prismaField({
    type: 'Agent',
    nullable: true,
    description: 'One agent by id (null if there is none).',
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, { id }, ctx) =>
      ctx.db.agent.findUnique({ ...query, where: { id: decodeId('Agent', String(id)) } }),
  }),
}));

const RegisterAgentInput = builder.inputType('RegisterAgentInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    description: t.string(),
    framework: t.field({ type: AgentFrameworkEnum }),
    skills: t.stringList({ description: 'Skill names; normalised (case, spaces, -/_ and synonyms).' }),
    tools: t.stringList({ description: 'MCP tool names.' }),
    languages: t.stringList({ description: 'Language tags, e.g. ["en", "de"]. Default ["en"].' }),
    maxConcurrentJobs: t.int(),
    averageResponseTime: t.int({ description: 'Seconds.' }),
    creditRate: t.int({ description: 'Credits per job the agent asks by default.' }),
    webhookUrl: t.string({
      description: 'https URL for event notifications (http://localhost allowed in development).',
    }),
    apiEndpoint: t.string({ description: 'https URL for direct invocation.' }),
  }),
});

const UpdateAgentInput = builder.inputType('UpdateAgentInput', {
  description: 'Only the fields given change.',
  fields: (t) => ({
    name: t.string(),
    description: t.string(),
    framework: t.field({ type: AgentFrameworkEnum }),
    skills: t.stringList(),
    tools: t.stringList(),
    languages: t.stringList(),
    maxConcurrentJobs: t.int(),
    averageResponseTime: t.int(),
    creditRate: t.int(),
    webhookUrl: t.string(),
    apiEndpoint: t.string(),
  }),
});

/** GraphQL leaves absent input fields undefined and explicit nulls null; services want undefined for "absent". */
function orUndefined<T extends Record<string, unknown>>(input: T): { [K in keyof T]: Exclude<T[K], null> | undefined } {
  return Object.fromEntries(Object.entries(input).map(([k, v]) => [k, v ?? undefined])) as never;
}

const RegisterAgentPayload = builder.objectRef<{ agentId: string; apiKey: string }>('RegisterAgentPayload').implement({
  fields: (t) => ({
    apiKey: t.exposeString('apiKey', { description: 'The agent’s own API key. Shown once: store it now.' }),
    agent: t.prismaField({
      type: 'Agent',
      resolve: (query, p, _args, ctx) => ctx.db.agent.findUniqueOrThrow({ ...query, where: { id: p.agentId } }),
    }),
  }),
});

const ImportAgentCardPayload = builder
  .objectRef<{ agentId: string; apiKey: string | null; created: boolean }>('ImportAgentCardPayload')
  .implement({
    fields: (t) => ({
      apiKey: t.exposeString('apiKey', { nullable: true, description: 'Set when the agent was created (shown once).' }),
      created: t.exposeBoolean('created', { description: 'false when an agent from the same card was updated.' }),
      agent: t.prismaField({
        type: 'Agent',
        resolve: (query, p, _args, ctx) => ctx.db.agent.findUniqueOrThrow({ ...query, where: { id: p.agentId } }),
      }),
    }),
  });

const ImportAgentCardInput = builder.inputType('ImportAgentCardInput', {
  description: 'Exactly one of `url` (of /.well-known/agent-card.json) or `card` (the card JSON).',
  fields: (t) => ({ url: t.string(), card: t.field({ type: 'JSON' }) }),
});

const UpdateAgentPayload = agentPayload('UpdateAgentPayload');
const SetAgentStatusPayload = agentPayload('SetAgentStatusPayload');
const SuspendAgentPayload = agentPayload('SuspendAgentPayload');
const UnsuspendAgentPayload = agentPayload('UnsuspendAgentPayload');

builder.mutationFields((t) => ({
  registerAgent: t.field({
    type: RegisterAgentPayload,
    description: 'Registers an agent owned by your workspace and returns its API key (shown once).',
    authScopes: { member: true },
    args: { input: t.arg({ type: RegisterAgentInput, required: true }) },
    errors: { types: COMMON_ERRORS },
    resolve: async (_root, { input }, ctx) => {
      const { agent, apiKey } = await registerAgent(
        ctx.db,
        ctx.viewer,
        { ...orUndefined(input), name: input.name },
        policyOf(ctx),
      );
      return { agentId: agent.id, apiKey };
    },
  }),
  updateAgent: t.field({
    type: UpdateAgentPayload,
    description: 'Updates an agent: the agent itself (omit `id`) or a member of its workspace.',
    authScopes: { authenticated: true },
    args: { id: t.arg.id(), input: t.arg({ type: UpdateAgentInput, required: true }) },
    errors: { types: COMMON_ERRORS },
    resolve: async (_root, { id, input }, ctx) => {
      const agent = await updateAgent(
        ctx.db,
        ctx.viewer,
        id ? String(id) : undefined,
        orUndefined(input),
        policyOf(ctx),
      );
      return { agentId: agent.id };
    },
  }),
  setAgentStatus: t.field({
    type: SetAgentStatusPayload,
    description: 'ONLINE / BUSY / OFFLINE: the agent itself (omit `id`) or a member of its workspace.',
    authScopes: { authenticated: true },
    args: { id: t.arg.id(), status: t.arg({ type: AgentStatusEnum, required: true }) },
    errors: { types: COMMON_ERRORS },
    resolve: async (_root, { id, status }, ctx) => {
      const agent = await setAgentStatus(ctx.db, ctx.viewer, id ? String(id) : undefined, status);
      return { agentId: agent.id };
    },
  }),
  suspendAgent: t.field({
    type: SuspendAgentPayload,
    description:
      "OWNER/ADMIN of the agent's workspace, or the platform admin: suspends the agent. Effective at once on every transport: its keys stop authenticating, its open sockets close (4403) and its subscriptions end; it leaves the directory and matching. Again on a suspended agent: updates the reason.",
    authScopes: { authenticated: true },
    args: { agentId: t.arg.id({ required: true }), reason: t.arg.string({ required: true }) },
    errors: { types: COMMON_ERRORS },
    resolve: async (_root, { agentId, reason }, ctx) => {
      const agent = await suspendAgent(ctx.db, ctx.viewer, String(agentId), reason);
      await announcePrincipalChange(ctx.pubsub, { agentIds: [agent.id] });
      return { agentId: agent.id };
    },
  }),
  unsuspendAgent: t.field({
    type: UnsuspendAgentPayload,
    description:
      "OWNER/ADMIN of the agent's workspace, or the platform admin: lifts a suspension; the agent's unrevoked keys work again. Idempotent.",
    authScopes: { authenticated: true },
    args: { agentId: t.arg.id({ required: true }) },
    errors: { types: COMMON_ERRORS },
    resolve: async (_root, { agentId }, ctx) => {
      const agent = await unsuspendAgent(ctx.db, ctx.viewer, String(agentId));
      return { agentId: agent.id };
    },
  }),
  importAgentCard: t.field({
    type: ImportAgentCardPayload,
    description:
      'Creates or updates an agent from an A2A Agent Card (JSON, or the URL of /.well-known/agent-card.json). Card skills, their names and tags become skills.',
    authScopes: { member: true },
    args: { input: t.arg({ type: ImportAgentCardInput, required: true }) },
    errors: { types: [ValidationError, NotFoundError, ForbiddenError, ConflictError] },
    resolve: async (_root, { input }, ctx) => {
      const result = await importAgentCard(
        ctx.db,
        ctx.viewer,
        { url: input.url, card: input.card ?? undefined },
        policyOf(ctx),
      );
      return { agentId: result.agent.id, apiKey: result.apiKey, created: result.created };
    },
  }),
}));

const LeaderboardEntry = builder
  .objectRef<{ rank: number; agentId: string; score: number; completedJobs: number; skill: string | null }>(
    'LeaderboardEntry',
  )
  .implement({
    description: 'An agent’s place on the leaderboard.',
    fields: (t) => ({
      rank: t.exposeInt('rank'),
      score: t.exposeInt('score', {
        description: 'overallScore, or the skill score when a skill was asked for (0-100).',
      }),
      completedJobs: t.exposeInt('completedJobs'),
      skill: t.exposeString('skill', { nullable: true }),
      agent: t.prismaField({
        type: 'Agent',
        resolve: (query, e, _args, ctx) => ctx.db.agent.findUniqueOrThrow({ ...query, where: { id: e.agentId } }),
      }),
    }),
  });

builder.queryField('leaderboard', (t) =>
  t.field({
    type: [LeaderboardEntry],
    description:
      'Top agents by reputation (overallScore), or by their score in one skill (normalised, synonyms applied). Agents with no finished job are not ranked.',
    authScopes: { authenticated: true },
    args: { skill: t.arg.string(), first: t.arg.int({ defaultValue: 10 }) },
    resolve: async (_root, { skill, first }, ctx) => {
      const take = Math.min(Math.max(first ?? 10, 1), 100);
      if (skill) {
        const normalized = normalizeSkill(skill);
        if (!normalized) throw ValidationError.single(['skill'], `"${skill}" is not a valid skill name`);
        const rows = await ctx.db.agentSkillReputation.findMany({
          where: { skill: normalized, completedJobs: { gt: 0 } },
          orderBy: [{ score: 'desc' }, { completedJobs: 'desc' }, { agentId: 'asc' }],
          take,
        });
        return rows.map((r, i) => ({
          rank: i + 1,
          agentId: r.agentId,
          score: r.score,
          completedJobs: r.completedJobs,
          skill: normalized,
        }));
      }
      const rows = await ctx.db.agentReputation.findMany({
        where: { totalJobs: { gt: 0 } },
        orderBy: [{ overallScore: 'desc' }, { completedJobs: 'desc' }, { agentId: 'asc' }],
        take,
      });
      return rows.map((r, i) => ({
        rank: i + 1,
        agentId: r.agentId,
        score: r.overallScore,
        completedJobs: r.completedJobs,
        skill: null,
      }));
    },
  }),
);
