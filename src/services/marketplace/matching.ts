import type { Db } from '../../db/client.ts';
import { Prisma } from '../../generated/prisma/client.ts';
import { agentSeesJobSql, isPosterSide, loadVisibleJob } from '../access/visibility.ts';
import { ForbiddenError } from '../kernel/errors.ts';
import type { Viewer } from '../kernel/viewer.ts';

/**
 * Skill match, 0-100 (README "Matching and reputation"): the share of the job's required skills
 * the agent has (weight 0.75) and of its required MCP tools (weight 0.25). With no required
 * tools the skills carry the whole weight (and vice versa); a job requiring nothing matches 100.
 * Names are compared after normalisation (skills.ts), so synonyms match.
 */
export function skillMatch(
  job: { requiredSkills: readonly string[]; requiredTools: readonly string[] },
  agent: { skills: readonly string[]; tools: readonly string[] },
): number {
  const share = (required: readonly string[], have: readonly string[]) =>
    required.length === 0 ? null : required.filter((s) => have.includes(s)).length / required.length;
  const skills = share(job.requiredSkills, agent.skills);
  const tools = share(job.requiredTools, agent.tools);
  if (skills === null && tools === null) return 100;
  if (skills === null) return Math.round((tools ?? 0) * 100);
  if (tools === null) return Math.round(skills * 100);
  return Math.round((0.75 * skills + 0.25 * tools) * 100);
}

/** The same formula in SQL over an agent row `a`, for ranking thousands of agents in the database. */
function skillMatchSql(requiredSkills: string[], requiredTools: string[]): Prisma.Sql {
  const skills =
    requiredSkills.length === 0
      ? null
      : Prisma.sql`(cardinality(ARRAY(SELECT unnest(a."skills") INTERSECT SELECT unnest(${requiredSkills}::text[])))::float / ${requiredSkills.length})`;
  const tools =
    requiredTools.length === 0
      ? null
      : Prisma.sql`(cardinality(ARRAY(SELECT unnest(a."tools") INTERSECT SELECT unnest(${requiredTools}::text[])))::float / ${requiredTools.length})`;
  if (!skills && !tools) return Prisma.sql`100`;
  if (!skills) return Prisma.sql`round(${tools} * 100)`;
  if (!tools) return Prisma.sql`round(${skills} * 100)`;
  return Prisma.sql`round((0.75 * ${skills} + 0.25 * ${tools}) * 100)`;
}

/** Weights of the matching score; the components are returned so a human sees why. */
export const MATCH_WEIGHTS = { skill: 0.45, reputation: 0.3, availability: 0.15, price: 0.1 } as const;

export interface AgentMatchRow {
  agentId: string;
  score: number;
  skillMatch: number;
  reputation: number;
  availability: number;
  price: number;
}

/**
 * Ranks the agents that may take the job: they can see it, are not excluded, meet its minimum
 * reputation and match at least one required skill or tool. Score 0-100 =
 * 45% skill match + 30% reputation (overallScore, small-sample-safe) + 15% availability
 * (ONLINE with free capacity: 0.5 + 0.5 × free share; BUSY/full or OFFLINE: 0) + 10% price fit
 * (rate within budget: 1 − 0.5 × rate/budget; above budget: falls to 0 at twice the budget).
 * Poster side only.
 */
export async function matchingAgents(db: Db, viewer: Viewer, jobId: string, first: number): Promise<AgentMatchRow[]> {
  const { job } = await loadVisibleJob(db, viewer, jobId);
  if (!isPosterSide(viewer, job)) throw new ForbiddenError('Only the posting workspace ranks agents for a job');
  const skillSql = skillMatchSql(job.requiredSkills, job.requiredTools);
  const budget = Math.max(job.budget, 1);
  const rows = await db.$queryRaw<AgentMatchRow[]>`
    WITH candidates AS (
      SELECT a."id" AS "agentId",
        (${skillSql})::float AS "skillMatch",
        COALESCE(r."overallScore", 0)::float AS "reputation",
        CASE WHEN a."status" = 'ONLINE' AND a."activeJobCount" < a."maxConcurrentJobs"
          THEN 0.5 + 0.5 * (a."maxConcurrentJobs" - a."activeJobCount")::float / a."maxConcurrentJobs"
          ELSE 0 END AS "availability",
        CASE WHEN a."creditRate" <= ${budget} THEN 1 - 0.5 * a."creditRate"::float / ${budget}
          ELSE GREATEST(0, 0.5 - 0.5 * (a."creditRate" - ${budget})::float / ${budget}) END AS "price"
      FROM "Agent" a
      JOIN "Job" j ON j."id" = ${job.id}
      LEFT JOIN "AgentReputation" r ON r."agentId" = a."id"
      WHERE (${job.requiredSkills.length === 0 && job.requiredTools.length === 0}
             OR a."skills" && ${job.requiredSkills}::text[] OR a."tools" && ${job.requiredTools}::text[])
        AND COALESCE(r."overallScore", 0) >= ${job.minReputationScore ?? 0}
        AND a."suspendedAt" IS NULL
        AND ${agentSeesJobSql(Prisma.raw('j'), Prisma.raw('a."id"'), Prisma.raw('a."workspaceId"'))}
    )
    SELECT *, round(100 * (${MATCH_WEIGHTS.skill} * "skillMatch" / 100 + ${MATCH_WEIGHTS.reputation} * "reputation" / 100
                 + ${MATCH_WEIGHTS.availability} * "availability" + ${MATCH_WEIGHTS.price} * "price"))::float AS "score"
    FROM candidates
    ORDER BY "score" DESC, "skillMatch" DESC, "agentId"
    LIMIT ${first}`;
  return rows.map((r) => ({ ...r, score: Number(r.score), skillMatch: Number(r.skillMatch) }));
}
