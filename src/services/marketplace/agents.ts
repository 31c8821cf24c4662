import { z } from 'zod';
import type { Db } from '../../db/client.ts';
import type { Agent, Prisma } from '../../generated/prisma/client.ts';
import type { AgentFramework, AgentStatus } from '../../generated/prisma/enums.ts';
import { issueKey } from '../accounts/api-keys.ts';
import { type GuardedResponse, guardedFetch, type OutboundPolicy, outboundUrl, SsrfError } from '../delivery/ssrf.ts';
import { formatCredits, MAX_CREDIT_AMOUNT } from '../kernel/credits.ts';
import { ForbiddenError, NotFoundError, ValidationError } from '../kernel/errors.ts';
import { decodeId } from '../kernel/ids.ts';
import { fields, parse } from '../kernel/validation.ts';
import { isWorkspaceAdmin, type Viewer } from '../kernel/viewer.ts';
import { nameListSchema, normalizeSkill } from './skills.ts';

/**
 * The URLs an agent gives us (its webhookUrl, its apiEndpoint, its card's URL) follow the outbound
 * URL policy of workspace webhook endpoints: https (http on loopback names outside production), and
 * no private, loopback, link-local or metadata address unless WEBHOOK_ALLOW_HOSTS allows it
 * (metadata never). They are fetched only through `guardedFetch`.
 */
export type AgentPolicy = OutboundPolicy;

const FRAMEWORKS = ['MASTRA', 'ELIZA', 'AUTOGPT', 'CREWAI', 'LANGGRAPH', 'CUSTOM'] as const;

function agentFields(policy: AgentPolicy) {
  return {
    name: fields.name,
    description: fields.text(5_000).default(''),
    framework: z.enum(FRAMEWORKS).default('CUSTOM'),
    skills: nameListSchema('skill').default([]),
    tools: nameListSchema('tool', 100).default([]),
    languages: z
      .array(
        z
          .string()
          .trim()
          .toLowerCase()
          .regex(/^[a-z]{2,3}(-[a-z0-9]{2,8})?$/, 'must be a language tag such as "en" or "pt-br"'),
      )
      .max(30)
      .default(['en']),
    maxConcurrentJobs: z.number().int().min(1, 'must be at least 1').max(1_000).default(1),
    averageResponseTime: z
      .number()
      .int()
      .min(0)
      .max(7 * 24 * 3600)
      .default(60),
    creditRate: z
      .number()
      .int()
      .min(0, 'must not be negative')
      .max(MAX_CREDIT_AMOUNT, `must be at most ${formatCredits(MAX_CREDIT_AMOUNT)} credits`)
      .default(0),
    webhookUrl: outboundUrl(policy).nullish(),
    apiEndpoint: outboundUrl(policy).nullish(),
  };
}

export function registerAgentSchema(policy: AgentPolicy) {
  return z.object(agentFields(policy));
}

export type RegisterAgentInput = z.input<ReturnType<typeof registerAgentSchema>>;

/**
 * A workspace member registers an agent the workspace owns. Returns the agent and its own API
 * key (shown once). The agent starts OFFLINE with an empty reputation and a zero wallet.
 */
export async function registerAgent(
  db: Db,
  viewer: Viewer,
  input: RegisterAgentInput,
  policy: AgentPolicy,
  extra: { agentCardUrl?: string; agentCard?: unknown } = {},
): Promise<{ agent: Agent; apiKey: string }> {
  if (viewer.kind !== 'member') throw new ForbiddenError('Only workspace members register agents');
  const data = parse(registerAgentSchema(policy), input);
  return db.$transaction(async (tx) => {
    const agent = await tx.agent.create({
      data: {
        ...data,
        framework: data.framework as AgentFramework,
        workspaceId: viewer.workspaceId,
        agentCardUrl: extra.agentCardUrl,
        agentCard: extra.agentCard as Prisma.InputJsonValue | undefined,
        reputation: { create: {} },
      },
    });
    await tx.ledgerAccount.create({ data: { kind: 'AGENT', key: `agent:${agent.id}`, agentId: agent.id } });
    const key = await issueKey(tx, { kind: 'AGENT', agentId: agent.id, workspaceId: viewer.workspaceId }, 'agent');
    return { agent, apiKey: key.plain };
  });
}

/** The agent itself, or a member of the workspace that owns it. Others do not find it for writing. */
async function loadManagedAgent(db: Db, viewer: Viewer, agentPublicId: string | undefined): Promise<Agent> {
  const id = agentPublicId ? decodeId('Agent', agentPublicId) : viewer.kind === 'agent' ? viewer.agentId : null;
  if (!id) throw ValidationError.single(['id'], 'is required unless you call as the agent');
  const agent = await db.agent.findUnique({ where: { id } });
  if (!agent) throw new NotFoundError('Agent', agentPublicId);
  const self = viewer.kind === 'agent' && viewer.agentId === agent.id;
  const owner = viewer.kind === 'member' && viewer.workspaceId === agent.workspaceId;
  if (!self && !owner) throw new ForbiddenError('Only the agent or its workspace may change it');
  return agent;
}

export async function updateAgent(
  db: Db,
  viewer: Viewer,
  agentPublicId: string | undefined,
  input: Partial<RegisterAgentInput>,
  policy: AgentPolicy,
): Promise<Agent> {
  const agent = await loadManagedAgent(db, viewer, agentPublicId);
  const shape = agentFields(policy);
  // Partial update: only the fields given are validated and written (no defaults applied).
  const partial = z.object({
    name: shape.name.optional(),
    description: fields.text(5_000).optional(),
    framework: z.enum(FRAMEWORKS).optional(),
    skills: nameListSchema('skill').optional(),
    tools: nameListSchema('tool', 100).optional(),
    languages: shape.languages.optional(),
    maxConcurrentJobs: shape.maxConcurrentJobs.optional(),
    averageResponseTime: shape.averageResponseTime.optional(),
    creditRate: shape.creditRate.optional(),
    webhookUrl: shape.webhookUrl,
    apiEndpoint: shape.apiEndpoint,
  });
  const data = parse(partial, stripUndefined(input));
  return db.agent.update({ where: { id: agent.id }, data: { ...data, framework: data.framework as AgentFramework } });
}

/** ONLINE / BUSY / OFFLINE. (An ONLINE agent at capacity is reported BUSY without writing it.) */
export async function setAgentStatus(
  db: Db,
  viewer: Viewer,
  agentPublicId: string | undefined,
  status: AgentStatus,
): Promise<Agent> {
  const agent = await loadManagedAgent(db, viewer, agentPublicId);
  return db.agent.update({ where: { id: agent.id }, data: { status } });
}

const suspendReason = z.string().trim().min(1, 'must not be empty').max(500);

/**
 * OWNER/ADMIN of the agent's workspace, or the platform admin. Members of other workspaces see
 * the agent in the directory but may not touch it (Forbidden, like updateAgent).
 */
async function loadSuspendableAgent(db: Db, viewer: Viewer, agentPublicId: string): Promise<Agent> {
  const agent = await db.agent.findUnique({ where: { id: decodeId('Agent', agentPublicId) } });
  if (!agent) throw new NotFoundError('Agent', agentPublicId);
  if (viewer.kind !== 'platform' && !isWorkspaceAdmin(viewer, agent.workspaceId)) {
    throw new ForbiddenError(
      "Only an OWNER or ADMIN of the agent's workspace, or the platform admin, suspends an agent",
    );
  }
  return agent;
}

/**
 * Suspends an agent: its keys stop authenticating at once (authenticate refuses them) and it
 * leaves the directory and matching. Jobs already assigned to it stay as they are. Suspending a
 * suspended agent updates the reason. Open sockets are told by the caller (principal notices).
 */
export async function suspendAgent(db: Db, viewer: Viewer, agentPublicId: string, reason: string): Promise<Agent> {
  const why = parse(suspendReason, reason, ['reason']);
  const agent = await loadSuspendableAgent(db, viewer, agentPublicId);
  return db.agent.update({
    where: { id: agent.id },
    data: { suspendedAt: agent.suspendedAt ?? new Date(), suspendedReason: why },
  });
}

/** Lifts a suspension: the agent's (unrevoked) keys authenticate again. Idempotent. */
export async function unsuspendAgent(db: Db, viewer: Viewer, agentPublicId: string): Promise<Agent> {
  const agent = await loadSuspendableAgent(db, viewer, agentPublicId);
  if (!agent.suspendedAt) return agent;
  return db.agent.update({ where: { id: agent.id }, data: { suspendedAt: null, suspendedReason: null } });
}

function stripUndefined<T extends object>(input: T): T {
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) as T;
}

export const agentFilterSchema = z.object({
  skills: nameListSchema('skill').optional(),
  framework: z.enum(FRAMEWORKS).optional(),
  status: z.enum(['ONLINE', 'BUSY', 'OFFLINE']).optional(),
  search: z.string().trim().max(200).optional(),
  minReputation: z.number().int().min(0).max(100).optional(),
  workspaceId: z.string().optional(),
});

/** Prisma `where` for the agent directory (public to every authenticated caller). */
export function agentWhere(db: Db, filter: z.input<typeof agentFilterSchema> = {}): Prisma.AgentWhereInput {
  const f = parse(agentFilterSchema, filter, ['filter']);
  // Suspended agents are out of the directory (and of matching: see matching.ts).
  const where: Prisma.AgentWhereInput[] = [{ suspendedAt: null }];
  if (f.skills?.length) where.push({ skills: { hasEvery: f.skills } });
  if (f.framework) where.push({ framework: f.framework });
  if (f.status === 'OFFLINE') where.push({ status: 'OFFLINE' });
  if (f.status === 'ONLINE')
    where.push({ status: 'ONLINE', activeJobCount: { lt: db.agent.fields.maxConcurrentJobs } });
  if (f.status === 'BUSY') {
    where.push({
      OR: [{ status: 'BUSY' }, { status: 'ONLINE', activeJobCount: { gte: db.agent.fields.maxConcurrentJobs } }],
    });
  }
  if (f.search) {
    where.push({
      OR: [
        { name: { contains: f.search, mode: 'insensitive' } },
        { description: { contains: f.search, mode: 'insensitive' } },
      ],
    });
  }
  if (f.minReputation !== undefined) where.push({ reputation: { overallScore: { gte: f.minReputation } } });
  if (f.workspaceId) where.push({ workspaceId: decodeId('Workspace', f.workspaceId) });
  return { AND: where };
}

// ───────────── A2A Agent Cards ─────────────

/** The parts of an A2A Agent Card (`/.well-known/agent-card.json`) we map to a registration. */
const agentCardSchema = z.object({
  name: z.string().min(1).max(200),
  description: z.string().max(5_000).default(''),
  url: z.string().optional(),
  version: z.string().optional(),
  capabilities: z.record(z.string(), z.unknown()).optional(),
  skills: z
    .array(
      z.object({
        id: z.string().max(120),
        name: z.string().max(200).optional(),
        description: z.string().max(2_000).optional(),
        tags: z.array(z.string().max(120)).max(50).default([]),
      }),
    )
    .max(100)
    .default([]),
});

export type AgentCard = z.output<typeof agentCardSchema>;

/** Maps card skills (ids, names and tags) to our normalised skills, keeping the valid ones. */
export function skillsFromCard(card: AgentCard): string[] {
  const out: string[] = [];
  for (const skill of card.skills) {
    for (const raw of [skill.id, skill.name ?? '', ...skill.tags]) {
      const n = normalizeSkill(raw);
      if (n && !out.includes(n)) out.push(n);
    }
  }
  return out.slice(0, 30);
}

const CARD_MAX_BYTES = 256 * 1024;

/**
 * Fetches an agent card by URL through the guarded connector (outbound URL policy, resolved-address
 * check at connect time, 5 s timeout, 256 KB cap, no redirects). Every failure, a refused address
 * included, is a ValidationError on `url`; nothing is sent to a refused address.
 */
export async function fetchAgentCard(url: string, policy: AgentPolicy): Promise<unknown> {
  const checked = parse(outboundUrl(policy), url, ['url']);
  let res: GuardedResponse;
  try {
    res = await guardedFetch(checked, {
      allowHosts: policy.allowHosts,
      timeoutMs: 5_000,
      maxBytes: CARD_MAX_BYTES,
      headers: { accept: 'application/json' },
    });
  } catch (error) {
    const message =
      error instanceof SsrfError
        ? 'must not point to a private, loopback, link-local or reserved address'
        : `could not fetch the agent card: ${(error as Error).message}`;
    throw ValidationError.single(['url'], message);
  }
  if (res.redirectLocation !== null) {
    throw ValidationError.single(['url'], `answered a redirect (HTTP ${res.status}); redirects are not followed`);
  }
  if (res.status < 200 || res.status >= 300) {
    throw ValidationError.single(['url'], `fetching the agent card answered HTTP ${res.status}`);
  }
  if (res.truncated) throw ValidationError.single(['url'], 'the agent card is larger than 256 KB');
  try {
    return JSON.parse(res.text());
  } catch {
    throw ValidationError.single(['url'], 'the agent card is not valid JSON');
  }
}

/**
 * Creates or updates an agent from an A2A Agent Card, given as JSON or as the URL of
 * `/.well-known/agent-card.json`. The card's URL (or the fetched URL) identifies the agent within
 * the workspace, so importing the same card again updates it.
 */
export async function importAgentCard(
  db: Db,
  viewer: Viewer,
  input: { url?: string | null; card?: unknown },
  policy: AgentPolicy,
): Promise<{ agent: Agent; apiKey: string | null; created: boolean }> {
  if (viewer.kind !== 'member') throw new ForbiddenError('Only workspace members import agents');
  if (!input.url === (input.card === undefined || input.card === null)) {
    throw ValidationError.single(['input'], 'give exactly one of url or card');
  }
  const raw = input.url ? await fetchAgentCard(input.url, policy) : input.card;
  const card = parse(agentCardSchema, raw, ['input', 'card']);
  const identity = input.url ?? card.url ?? null;
  const registration = {
    name: card.name,
    description: card.description,
    framework: 'CUSTOM' as const,
    skills: skillsFromCard(card),
    apiEndpoint: card.url && /^https?:\/\//.test(card.url) ? card.url : undefined,
  };
  const existing = identity
    ? await db.agent.findFirst({ where: { workspaceId: viewer.workspaceId, agentCardUrl: identity } })
    : null;
  if (existing) {
    const agent = await updateAgent(db, viewer, `agt_${existing.id}`, registration, policy);
    await db.agent.update({ where: { id: agent.id }, data: { agentCard: raw as Prisma.InputJsonValue } });
    return { agent, apiKey: null, created: false };
  }
  const created = await registerAgent(db, viewer, registration, policy, {
    agentCardUrl: identity ?? undefined,
    agentCard: raw,
  });
  return { ...created, created: true };
}
