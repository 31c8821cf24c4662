import { z } from 'zod';
import type { Db, Tx } from '../../db/client.ts';
import { type Job, Prisma } from '../../generated/prisma/client.ts';
import type { JobPriority, JobStatus, JobVisibility } from '../../generated/prisma/enums.ts';
import { isPosterSide, jobVisibilitySql, loadVisibleJob } from '../access/visibility.ts';
import { resolveProject } from '../accounts/projects.ts';
import { emit } from '../delivery/events.ts';
import { formatCredits, MAX_CREDIT_AMOUNT } from '../kernel/credits.ts';
import {
  ForbiddenError,
  InvalidStateError,
  NotEligibleError,
  NotFoundError,
  ValidationError,
} from '../kernel/errors.ts';
import { withIdempotency } from '../kernel/idempotency.ts';
import { decodeId } from '../kernel/ids.ts';
import { fields, parse } from '../kernel/validation.ts';
import type { Viewer } from '../kernel/viewer.ts';
import { assignAgent } from './assignment.ts';
import { transitionBids } from './bid-state.ts';
import { transitionJob } from './job-state.ts';
import { transitionOffers } from './offer-state.ts';
import { nameListSchema } from './skills.ts';

const PRIORITIES = ['URGENT', 'HIGH', 'MEDIUM', 'LOW'] as const;
const VISIBILITIES = ['PRIVATE', 'WORKSPACE', 'PUBLIC'] as const;
const STATUSES = [
  'OPEN',
  'ASSIGNED',
  'IN_PROGRESS',
  'REVIEW',
  'COMPLETED',
  'DISPUTED',
  'CANCELLED',
  'EXPIRED',
] as const;

const futureDate = z.coerce
  .date({ error: 'must be a date-time' })
  .refine((d) => d.getTime() > Date.now(), 'must be in the future');

const agentIdList = z.array(z.string().max(100)).max(100, 'at most 100 agents').default([]);

export function jobFields(defaults: { autoApproveHours: number }) {
  return {
    projectId: z.string().nullish(),
    title: fields.name,
    description: z.string().trim().min(1, 'must not be empty').max(20_000, 'must be at most 20000 characters'),
    priority: z.enum(PRIORITIES).default('MEDIUM'),
    deadline: futureDate.nullish(),
    visibility: z.enum(VISIBILITIES).default('WORKSPACE'),
    requiredSkills: nameListSchema('skill').default([]),
    requiredTools: nameListSchema('tool', 50).default([]),
    budget: z
      .number()
      .int('must be a whole number of credits')
      .min(1, 'must be at least 1 credit')
      .max(MAX_CREDIT_AMOUNT, `must be at most ${formatCredits(MAX_CREDIT_AMOUNT)} credits`),
    minReputationScore: z.number().int().min(0, 'must be 0-100').max(100, 'must be 0-100').nullish(),
    preferredAgents: agentIdList,
    excludedAgents: agentIdList,
    humanReviewRequired: z.boolean().default(true),
    autoApproveAfterHours: z
      .number()
      .min(0)
      .max(24 * 90)
      .default(defaults.autoApproveHours),
    killFeePercent: z
      .number()
      .int('must be a whole percentage')
      .min(0, 'must be 0-100')
      .max(100, 'must be 0-100')
      .default(DEFAULT_KILL_FEE_PERCENT),
    startWithinMinutes: z
      .number()
      .int('must be a whole number of minutes')
      .min(1, 'must be at least 1 minute')
      .max(MAX_START_WITHIN_MINUTES, `must be at most ${MAX_START_WITHIN_MINUTES} minutes (30 days)`)
      .default(DEFAULT_START_WITHIN_MINUTES),
  };
}

export const DEFAULT_KILL_FEE_PERCENT = 20;
export const DEFAULT_START_WITHIN_MINUTES = 1440;
export const MAX_START_WITHIN_MINUTES = 30 * 24 * 60;

/** Only ONLINE or BUSY agents that are not suspended bid or receive offers (empty when it may). */
export function availabilityReasons(agent: { status: string; suspendedAt: Date | null }): string[] {
  if (agent.suspendedAt) return ['the agent is suspended'];
  if (agent.status === 'OFFLINE') return ['the agent is OFFLINE: only ONLINE or BUSY agents bid or receive offers'];
  return [];
}

export type PostJobInput = z.input<z.ZodObject<ReturnType<typeof jobFields>>>;

/** Resolves public agent ids to existing agents; an unknown one is a ValidationError at its index. */
async function resolveAgents(tx: Tx, ids: string[], field: string): Promise<string[]> {
  const decoded = ids.map((id, i) => {
    try {
      return decodeId('Agent', id);
    } catch {
      throw ValidationError.single(['input', field, String(i)], `"${id}" is not an agent id`);
    }
  });
  const found = new Set(
    (await tx.agent.findMany({ where: { id: { in: decoded } }, select: { id: true } })).map((a) => a.id),
  );
  const missing = decoded.findIndex((id) => !found.has(id));
  if (missing >= 0) throw ValidationError.single(['input', field, String(missing)], `agent ${ids[missing]} not found`);
  return [...new Set(decoded)];
}

/** A member posts a job (OPEN) in one of their projects (default: "General"). Emits JobPosted. */
export async function postJob(
  db: Db,
  viewer: Viewer,
  input: PostJobInput,
  defaults: { autoApproveHours: number },
): Promise<Job> {
  if (viewer.kind !== 'member') throw new ForbiddenError('Only workspace members post jobs');
  const data = parse(z.object(jobFields(defaults)), input);
  const overlap = data.preferredAgents.find((a) => data.excludedAgents.includes(a));
  if (overlap)
    throw ValidationError.single(['input', 'excludedAgents'], `agent ${overlap} is both invited and excluded`);
  return db.$transaction(async (tx) => {
    const project = await resolveProject(tx, viewer.workspaceId, data.projectId);
    const invited = await resolveAgents(tx, data.preferredAgents, 'preferredAgents');
    const excluded = await resolveAgents(tx, data.excludedAgents, 'excludedAgents');
    const job = await tx.job.create({
      data: {
        workspaceId: viewer.workspaceId,
        projectId: project.id,
        postedById: viewer.memberId,
        title: data.title,
        description: data.description,
        priority: data.priority as JobPriority,
        deadline: data.deadline ?? null,
        visibility: data.visibility as JobVisibility,
        requiredSkills: data.requiredSkills,
        requiredTools: data.requiredTools,
        budget: data.budget,
        minReputationScore: data.minReputationScore ?? null,
        humanReviewRequired: data.humanReviewRequired,
        autoApproveAfterSecs: Math.round(data.autoApproveAfterHours * 3600),
        killFeePercent: data.killFeePercent,
        startWithinMinutes: data.startWithinMinutes,
        invitations: { create: invited.map((agentId) => ({ agentId })) },
        exclusions: { create: excluded.map((agentId) => ({ agentId })) },
      },
    });
    // Carries the visibility facts so `jobPosted` subscribers are filtered without a query per event.
    await emit(tx, 'JobPosted', {
      jobId: job.id,
      workspaceId: job.workspaceId,
      data: {
        title: job.title,
        visibility: job.visibility,
        requiredSkills: job.requiredSkills,
        budget: job.budget,
        invited,
        excluded,
      },
    });
    for (const agentId of invited)
      await emit(tx, 'AgentInvited', { jobId: job.id, workspaceId: job.workspaceId, agentId });
    return job;
  });
}

/** Loads a job the viewer may see and requires the viewer to be on the posting side. */
export async function loadOwnJob(db: Db | Tx, viewer: Viewer, jobPublicId: string) {
  const { job } = await loadVisibleJob(db, viewer, decodeId('Job', jobPublicId), jobPublicId);
  if (!isPosterSide(viewer, job)) throw new ForbiddenError('Only the posting workspace may do this');
  return job;
}

/** Edits a job while it is OPEN (poster side). Only the given fields change. */
export async function updateJob(
  db: Db,
  viewer: Viewer,
  jobPublicId: string,
  input: Partial<PostJobInput>,
  defaults: { autoApproveHours: number },
): Promise<Job> {
  const job = await loadOwnJob(db, viewer, jobPublicId);
  const f = jobFields(defaults);
  const schema = z.object({
    title: f.title.optional(),
    description: f.description.optional(),
    priority: z.enum(PRIORITIES).optional(),
    deadline: futureDate.nullish(),
    visibility: z.enum(VISIBILITIES).optional(),
    requiredSkills: nameListSchema('skill').optional(),
    requiredTools: nameListSchema('tool', 50).optional(),
    budget: f.budget.optional(),
    minReputationScore: f.minReputationScore,
    humanReviewRequired: z.boolean().optional(),
    autoApproveAfterHours: z
      .number()
      .min(0)
      .max(24 * 90)
      .optional(),
    killFeePercent: f.killFeePercent.optional(),
    startWithinMinutes: f.startWithinMinutes.optional(),
  });
  const given = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
  const data = parse(schema, given);
  const { autoApproveAfterHours, ...rest } = data;
  const material = materialChanges(job, data);
  return db.$transaction(async (tx) => {
    const updated = await tx.job.updateMany({
      where: { id: job.id, status: 'OPEN' },
      data: {
        ...rest,
        priority: rest.priority as JobPriority | undefined,
        visibility: rest.visibility as JobVisibility | undefined,
        ...(autoApproveAfterHours !== undefined
          ? { autoApproveAfterSecs: Math.round(autoApproveAfterHours * 3600) }
          : {}),
      },
    });
    if (updated.count === 0) {
      const now = await tx.job.findUniqueOrThrow({ where: { id: job.id } });
      throw new InvalidStateError(now.status, `Only OPEN jobs can be edited; this one is ${now.status}`);
    }
    await emit(tx, 'JobUpdated', {
      jobId: job.id,
      workspaceId: job.workspaceId,
      data: { fields: Object.keys(data), material },
    });
    // Terms an agent priced against changed: its bid no longer stands until it places it again.
    if (material.length) {
      await transitionBids(tx, { jobId: job.id }, 'STALE', {
        only: ['PENDING', 'COUNTERED'],
        reason: `the job changed: ${material.join(', ')}`,
        data: { changed: material },
      });
    }
    return tx.job.findUniqueOrThrow({ where: { id: job.id } });
  });
}

const VISIBILITY_WIDTH: Record<string, number> = { PRIVATE: 0, WORKSPACE: 1, PUBLIC: 2 };

/**
 * The fields of an edit that change what an agent priced (README "Stale bids"): description,
 * budget, skills, tools, an earlier deadline, a narrower visibility, a lower kill fee or less time
 * to start. A typo fixed in the title, a priority or a later deadline are cosmetic.
 */
export function materialChanges(
  job: Job,
  edit: {
    description?: string;
    budget?: number;
    requiredSkills?: string[];
    requiredTools?: string[];
    deadline?: Date | null;
    visibility?: string;
    killFeePercent?: number;
    startWithinMinutes?: number;
  },
): string[] {
  const changed: string[] = [];
  const sameList = (a: string[], b: string[]) => a.length === b.length && [...a].sort().join() === [...b].sort().join();
  if (edit.description !== undefined && edit.description !== job.description) changed.push('description');
  if (edit.budget !== undefined && edit.budget !== job.budget) changed.push('budget');
  if (edit.requiredSkills && !sameList(edit.requiredSkills, job.requiredSkills)) changed.push('requiredSkills');
  if (edit.requiredTools && !sameList(edit.requiredTools, job.requiredTools)) changed.push('requiredTools');
  if (edit.deadline && (!job.deadline || edit.deadline.getTime() < job.deadline.getTime())) changed.push('deadline');
  if (edit.visibility && VISIBILITY_WIDTH[edit.visibility]! < VISIBILITY_WIDTH[job.visibility]!)
    changed.push('visibility');
  if (edit.killFeePercent !== undefined && edit.killFeePercent < job.killFeePercent) changed.push('killFeePercent');
  if (edit.startWithinMinutes !== undefined && edit.startWithinMinutes < job.startWithinMinutes)
    changed.push('startWithinMinutes');
  return changed;
}

/** Invites an agent to an OPEN job (it may then see a PRIVATE job and bid). Idempotent. */
export async function inviteAgent(db: Db, viewer: Viewer, jobPublicId: string, agentPublicId: string): Promise<Job> {
  const job = await loadOwnJob(db, viewer, jobPublicId);
  const agentId = decodeId('Agent', agentPublicId);
  return db.$transaction(async (tx) => {
    const agent = await tx.agent.findUnique({ where: { id: agentId } });
    if (!agent) throw new NotFoundError('Agent', agentPublicId);
    const current = await tx.job.findUniqueOrThrow({ where: { id: job.id } });
    if (current.status !== 'OPEN')
      throw new InvalidStateError(current.status, 'Agents can only be invited to OPEN jobs');
    const excluded = await tx.jobExclusion.findUnique({ where: { jobId_agentId: { jobId: job.id, agentId } } });
    if (excluded) throw new NotEligibleError(['the agent is excluded from this job']);
    const already = await tx.jobInvitation.findUnique({ where: { jobId_agentId: { jobId: job.id, agentId } } });
    if (!already) {
      await tx.jobInvitation.create({ data: { jobId: job.id, agentId } });
      await emit(tx, 'AgentInvited', { jobId: job.id, workspaceId: job.workspaceId, agentId });
    }
    return current;
  });
}

/** Why an agent may not take part in a job (empty when it may). */
export async function eligibilityReasons(tx: Db | Tx, job: Job, agentId: string, opts: { forAssignment: boolean }) {
  const agent = await tx.agent.findUnique({ where: { id: agentId }, include: { reputation: true } });
  if (!agent) return ['the agent does not exist'];
  const reasons: string[] = [];
  const excluded = await tx.jobExclusion.findUnique({ where: { jobId_agentId: { jobId: job.id, agentId } } });
  if (excluded) reasons.push('the agent is excluded from this job');
  const score = agent.reputation?.overallScore ?? 0;
  if (job.minReputationScore !== null && score < job.minReputationScore) {
    reasons.push(`reputation ${score} is below the job's minimum of ${job.minReputationScore}`);
  }
  if (opts.forAssignment && agent.activeJobCount >= agent.maxConcurrentJobs) {
    reasons.push(`the agent is at capacity (${agent.activeJobCount}/${agent.maxConcurrentJobs} jobs)`);
  }
  return reasons;
}

/**
 * Direct hire without bidding (poster side): the agent must be eligible; the job's budget (or the
 * given credits) is the agreed price and is held in escrow by `hooks.hold`.
 */
export async function assignJob(
  db: Db,
  viewer: Viewer,
  input: { jobId: string; agentId: string; credits?: number | null; idempotencyKey?: string | null },
): Promise<{ jobId: string }> {
  const job = await loadOwnJob(db, viewer, input.jobId);
  const agentId = decodeId('Agent', input.agentId);
  const credits = input.credits ?? job.budget;
  parse(z.object({ credits: fields.credits }), { credits }, []);
  const agent = await db.agent.findUnique({ where: { id: agentId }, select: { id: true, workspaceId: true } });
  if (!agent) throw new NotFoundError('Agent', input.agentId);
  if (agent.workspaceId !== job.workspaceId) {
    throw new NotEligibleError([
      'assignJob hires only agents your workspace owns; an outside agent must consent: make it an offer with offerJob (the credits are held until it accepts or declines)',
    ]);
  }
  return withIdempotency(
    db,
    viewer,
    input.idempotencyKey,
    'assignJob',
    { jobId: job.id, agentId, credits },
    async (tx) => {
      const reasons = await eligibilityReasons(tx, job, agentId, { forAssignment: true });
      if (reasons.length) throw new NotEligibleError(reasons);
      await assignAgent(tx, { jobId: job.id, agentId, credits, reason: 'direct hire' });
      return { jobId: job.id };
    },
  );
}

// ───────────── discovery ─────────────

export const jobFilterSchema = z.object({
  status: z.array(z.enum(STATUSES)).max(8).optional(),
  skills: nameListSchema('skill').optional(),
  search: z.string().trim().max(200, 'must be at most 200 characters').optional(),
  projectId: z.string().optional(),
  visibility: z.enum(VISIBILITIES).optional(),
});
export type JobFilter = z.input<typeof jobFilterSchema>;

const PRIORITY_RANK = Prisma.sql`CASE j."priority" WHEN 'URGENT' THEN 0 WHEN 'HIGH' THEN 1 WHEN 'MEDIUM' THEN 2 ELSE 3 END`;

/**
 * Ids of the jobs the viewer may see that match the filter, in discovery order: text relevance
 * (Postgres full-text search over title and description) when searching, then deadline (soonest
 * first), priority, newest. Offset pagination (relevance order has no stable keyset).
 */
export async function searchJobIds(
  db: Db,
  viewer: Viewer,
  filter: JobFilter,
  page: { offset: number; limit: number },
): Promise<string[]> {
  const f = parse(jobFilterSchema, filter, ['filter']);
  const conditions: Prisma.Sql[] = [jobVisibilitySql(viewer)];
  if (f.status?.length) conditions.push(Prisma.sql`j."status"::text = ANY(${f.status}::text[])`);
  if (f.skills?.length) conditions.push(Prisma.sql`j."requiredSkills" && ${f.skills}::text[]`);
  if (f.projectId) conditions.push(Prisma.sql`j."projectId" = ${decodeId('Project', f.projectId)}`);
  if (f.visibility) conditions.push(Prisma.sql`j."visibility"::text = ${f.visibility}`);
  const search = f.search ? Prisma.sql`websearch_to_tsquery('english', ${f.search})` : null;
  if (search) conditions.push(Prisma.sql`j."searchVector" @@ ${search}`);
  const rank = search ? Prisma.sql`ts_rank(j."searchVector", ${search}) DESC,` : Prisma.empty;
  const rows = await db.$queryRaw<{ id: string }[]>`
    SELECT j."id" FROM "Job" j
    WHERE ${Prisma.join(conditions, ' AND ')}
    ORDER BY ${rank} j."deadline" ASC NULLS LAST, ${PRIORITY_RANK}, j."createdAt" DESC, j."id"
    LIMIT ${page.limit} OFFSET ${page.offset}`;
  return rows.map((r) => r.id);
}

/**
 * Open jobs for the calling agent, ranked by 70% skill match and 30% budget fit (budget ≥ the
 * agent's rate: 1, else budget / rate). Only jobs it may see and bid on (reputation minimum met).
 */
export async function recommendedJobIds(
  db: Db,
  viewer: Viewer,
  limit: number,
): Promise<{ id: string; score: number }[]> {
  if (viewer.kind !== 'agent') throw new ForbiddenError('recommendedJobs is for agents: call it with an agent key');
  const agent = await db.agent.findUniqueOrThrow({ where: { id: viewer.agentId }, include: { reputation: true } });
  const rep = agent.reputation?.overallScore ?? 0;
  const rate = Math.max(agent.creditRate, 1);
  const rows = await db.$queryRaw<{ id: string; score: number }[]>`
    WITH m AS (
      SELECT j."id", j."deadline", j."createdAt", j."budget",
        CASE WHEN cardinality(j."requiredSkills") = 0 THEN 1
          ELSE cardinality(ARRAY(SELECT unnest(j."requiredSkills") INTERSECT SELECT unnest(${agent.skills}::text[])))::float
               / cardinality(j."requiredSkills") END AS skill
      FROM "Job" j
      WHERE j."status" = 'OPEN' AND ${jobVisibilitySql(viewer)}
        AND COALESCE(j."minReputationScore", 0) <= ${rep}
        AND (cardinality(j."requiredSkills") = 0 OR j."requiredSkills" && ${agent.skills}::text[])
    )
    SELECT "id", round(100 * (0.7 * skill + 0.3 * LEAST(1, "budget"::float / ${rate})))::float AS score
    FROM m ORDER BY score DESC, "deadline" ASC NULLS LAST, "createdAt" DESC, "id" LIMIT ${limit}`;
  return rows.map((r) => ({ id: r.id, score: Number(r.score) }));
}

/** OPEN jobs whose deadline passed become EXPIRED (pending bids expire too). Safe in many processes. */
export async function expireJobs(db: Db, now = new Date()): Promise<number> {
  const due = await db.job.findMany({
    where: { status: 'OPEN', deadline: { lte: now } },
    select: { id: true },
    take: 500,
  });
  let expired = 0;
  for (const { id } of due) {
    try {
      await db.$transaction(async (tx) => {
        await transitionJob(tx, id, 'EXPIRED', { only: ['OPEN'], reason: 'deadline passed' });
        await transitionBids(tx, { jobId: id }, 'EXPIRED', {
          only: ['PENDING', 'STALE'],
          reason: 'the job passed its deadline',
        });
        await transitionBids(tx, { jobId: id }, 'REJECTED', {
          only: ['COUNTERED'],
          reason: 'the job passed its deadline',
        });
        await transitionOffers(tx, { jobId: id }, 'EXPIRED', { reason: 'the job passed its deadline' });
      });
      expired++;
    } catch (error) {
      if (!(error instanceof InvalidStateError)) throw error;
    }
  }
  return expired;
}

export type { JobStatus };
