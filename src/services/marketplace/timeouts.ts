import { z } from 'zod';
import type { Db } from '../../db/client.ts';
import type { Job } from '../../generated/prisma/client.ts';
import { loadVisibleJob } from '../access/visibility.ts';
import { emit } from '../delivery/events.ts';
import { ForbiddenError, InvalidStateError } from '../kernel/errors.ts';
import { decodeId } from '../kernel/ids.ts';
import { parse } from '../kernel/validation.ts';
import type { Viewer } from '../kernel/viewer.ts';
import { applyOutcome } from '../reputation/reputation.ts';
import { unassignBeforeStart } from './assignment.ts';

const releaseReason = z.string().trim().min(1, 'must not be empty').max(2_000, 'must be at most 2000 characters');

/**
 * The assigned agent gives an ASSIGNED job back before starting: the job returns to OPEN, the
 * escrow to the poster, and the release counts half a failure against the agent's reliability
 * (lighter than a no-show, which counts a whole one). JobReleased tells the poster.
 */
export async function releaseJob(db: Db, viewer: Viewer, jobPublicId: string, reason: string): Promise<Job> {
  const why = parse(releaseReason, reason, ['reason']);
  const { job } = await loadVisibleJob(db, viewer, decodeId('Job', jobPublicId), jobPublicId);
  if (viewer.kind !== 'agent' || viewer.agentId !== job.assignedAgentId) {
    throw new ForbiddenError('Only the assigned agent releases a job');
  }
  if (job.status !== 'ASSIGNED') {
    throw new InvalidStateError(
      job.status,
      `Only an ASSIGNED job not yet started can be released; this one is ${job.status}`,
    );
  }
  const agentId = viewer.agentId;
  return db.$transaction(async (tx) => {
    const reopened = await unassignBeforeStart(tx, job.id, {
      reason: `released by the agent: ${why}`,
      guard: { assignedAgentId: agentId },
    });
    await applyOutcome(tx, agentId, job.requiredSkills, { kind: 'released' });
    await emit(tx, 'JobReleased', { jobId: job.id, workspaceId: job.workspaceId, agentId, data: { reason: why } });
    return reopened;
  });
}

/**
 * ASSIGNED jobs whose `startBy` passed return to OPEN (escrow refunded, AssignmentLapsed to the
 * agent and the poster, a no-show counted). The scheduler runs this in every process; the
 * conditional move (status ASSIGNED and startBy passed) lets exactly one of them act on each job,
 * and a job reassigned meanwhile (a new startBy) is left alone.
 */
export async function lapseAssignments(db: Db, now = new Date()): Promise<number> {
  const due = await db.job.findMany({
    where: { status: 'ASSIGNED', startBy: { lte: now } },
    select: { id: true, assignedAgentId: true },
    orderBy: { startBy: 'asc' },
    take: 500,
  });
  let lapsed = 0;
  for (const { id, assignedAgentId } of due) {
    if (!assignedAgentId) continue;
    try {
      await db.$transaction(async (tx) => {
        const job = await unassignBeforeStart(tx, id, {
          reason: 'the agent did not start in time',
          guard: { startBy: { lte: now }, assignedAgentId },
        });
        await applyOutcome(tx, assignedAgentId, job.requiredSkills, { kind: 'no_show' });
        await emit(tx, 'AssignmentLapsed', {
          jobId: id,
          workspaceId: job.workspaceId,
          agentId: assignedAgentId,
          data: { reason: 'the agent did not start by startBy' },
        });
      });
      lapsed++;
    } catch (error) {
      // Another process lapsed it, or the agent started just now.
      if (!(error instanceof InvalidStateError)) throw error;
    }
  }
  return lapsed;
}
