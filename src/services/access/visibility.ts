import type { Db, Tx } from '../../db/client.ts';
import { Prisma } from '../../generated/prisma/client.ts';
import type { JobVisibility } from '../../generated/prisma/enums.ts';
import { NotFoundError } from '../kernel/errors.ts';
import type { Viewer } from '../kernel/viewer.ts';

/**
 * Who may see a job posting. The one place the rule lives; queries, `node`, subscriptions,
 * matching and bidding all call it.
 *
 * - Members of the posting workspace: every job of their workspace.
 * - PRIVATE: also agents invited to the job.
 * - WORKSPACE: also agents owned by the posting workspace.
 * - PUBLIC: every agent and every member of any workspace.
 * - The agent assigned to the job sees it (it was hired: by its own workspace, an accepted bid or offer).
 * - Excluded agents never see the job, whatever the visibility.
 * - The platform admin sees everything; anonymous callers nothing.
 *
 * Bids and the execution trace have narrower rules (see canSeeBid / canSeeExecution).
 */
export interface JobAccessFacts {
  workspaceId: string;
  visibility: JobVisibility;
  /** Is the viewer (an agent) invited to / excluded from this job? Ignored for members. */
  invited: boolean;
  excluded: boolean;
  /** Is the viewer (an agent) the job's assigned agent? */
  assigned?: boolean;
}

export function canSeeJob(viewer: Viewer, job: JobAccessFacts): boolean {
  switch (viewer.kind) {
    case 'platform':
      return true;
    case 'anonymous':
      return false;
    case 'member':
      return viewer.workspaceId === job.workspaceId || job.visibility === 'PUBLIC';
    case 'agent':
      if (job.excluded) return false;
      if (job.visibility === 'PUBLIC' || job.invited || job.assigned) return true;
      return job.visibility === 'WORKSPACE' && viewer.workspaceId === job.workspaceId;
  }
}

/** The same rule as SQL over a `"Job"` row aliased `j`, for listings and rankings. */
export function jobVisibilitySql(viewer: Viewer): Prisma.Sql {
  switch (viewer.kind) {
    case 'platform':
      return Prisma.sql`TRUE`;
    case 'anonymous':
      return Prisma.sql`FALSE`;
    case 'member':
      return Prisma.sql`(j."workspaceId" = ${viewer.workspaceId} OR j."visibility" = 'PUBLIC')`;
    case 'agent':
      return agentSeesJobSql(Prisma.raw('j'), Prisma.sql`${viewer.agentId}`, Prisma.sql`${viewer.workspaceId}`);
  }
}

/**
 * The agent rule of canSeeJob as SQL, over any job row alias and any agent id/workspace expressions:
 * used with the viewer's ids for listings (above) and with agent columns for ranking agents (matching.ts).
 */
export function agentSeesJobSql(job: Prisma.Sql, agentId: Prisma.Sql, agentWorkspaceId: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`(
    NOT EXISTS (SELECT 1 FROM "JobExclusion" x WHERE x."jobId" = ${job}."id" AND x."agentId" = ${agentId})
    AND (
      ${job}."visibility" = 'PUBLIC'
      OR ${job}."assignedAgentId" = ${agentId}
      OR EXISTS (SELECT 1 FROM "JobInvitation" i WHERE i."jobId" = ${job}."id" AND i."agentId" = ${agentId})
      OR (${job}."visibility" = 'WORKSPACE' AND ${job}."workspaceId" = ${agentWorkspaceId})
    )
  )`;
}

/** Is the viewer a member of the workspace that posted the job (the "poster side")? */
export function isPosterSide(viewer: Viewer, job: { workspaceId: string }): boolean {
  return viewer.kind === 'platform' || (viewer.kind === 'member' && viewer.workspaceId === job.workspaceId);
}

/** Bids: the poster's workspace sees all of them; an agent sees its own. */
export function canSeeBid(viewer: Viewer, job: { workspaceId: string }, bid: { agentId: string }): boolean {
  return isPosterSide(viewer, job) || (viewer.kind === 'agent' && viewer.agentId === bid.agentId);
}

/** Execution trace (steps, tool calls, questions, results, reviews): the poster's workspace and the assigned agent. */
export function canSeeExecution(viewer: Viewer, job: { workspaceId: string }, execution: { agentId: string }): boolean {
  return isPosterSide(viewer, job) || (viewer.kind === 'agent' && viewer.agentId === execution.agentId);
}

/** Prisma `where` for bids the viewer may see on jobs it can already see. */
export function bidVisibilityWhere(viewer: Viewer): Prisma.BidWhereInput {
  if (viewer.kind === 'platform') return {};
  if (viewer.kind === 'member') return { job: { workspaceId: viewer.workspaceId } };
  if (viewer.kind === 'agent') return { agentId: viewer.agentId };
  return { id: '' };
}

/** Loads the facts the visibility rule needs for one job. */
export async function loadJobAccess(db: Db | Tx, viewer: Viewer, jobId: string) {
  const job = await db.job.findUnique({
    where: { id: jobId },
    include:
      viewer.kind === 'agent'
        ? {
            invitations: { where: { agentId: viewer.agentId }, select: { agentId: true } },
            exclusions: { where: { agentId: viewer.agentId }, select: { agentId: true } },
          }
        : undefined,
  });
  if (!job) return null;
  const withLists = job as typeof job & { invitations?: unknown[]; exclusions?: unknown[] };
  return {
    job,
    facts: {
      workspaceId: job.workspaceId,
      visibility: job.visibility,
      invited: (withLists.invitations?.length ?? 0) > 0,
      excluded: (withLists.exclusions?.length ?? 0) > 0,
      assigned: viewer.kind === 'agent' && job.assignedAgentId === viewer.agentId,
    } satisfies JobAccessFacts,
  };
}

/** The job, if the viewer may see it; otherwise NotFoundError (never Forbidden: existence is not leaked). */
export async function loadVisibleJob(db: Db | Tx, viewer: Viewer, jobId: string, publicId = jobId) {
  const access = await loadJobAccess(db, viewer, jobId);
  if (!access || !canSeeJob(viewer, access.facts)) throw new NotFoundError('Job', publicId);
  return access;
}

/** Events about the posting itself: whoever can see the job receives them. */
const POSTING_EVENTS = new Set(['JobPosted', 'JobUpdated', 'JobStatusChanged']);

/**
 * Which events on a job a viewer receives (subscriptions, and the same rule for webhooks and
 * chat): posting events for anyone who can see the job; bid events for the poster side and that
 * bidder; everything about the execution (progress, steps, tool calls, questions, results,
 * reviews, disputes, payment) for the poster side and the assigned agent only.
 */
export function canReceiveEvent(
  viewer: Viewer,
  job: JobAccessFacts,
  event: { type: string; agentId: string | null },
): boolean {
  if (!canSeeJob(viewer, job)) return false;
  if (POSTING_EVENTS.has(event.type)) return true;
  if (isPosterSide(viewer, job)) return true;
  return viewer.kind === 'agent' && event.agentId !== null && viewer.agentId === event.agentId;
}
