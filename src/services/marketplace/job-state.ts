import type { Tx } from '../../db/client.ts';
import type { Prisma } from '../../generated/prisma/client.ts';
import type { JobStatus } from '../../generated/prisma/enums.ts';
import { emit } from '../delivery/events.ts';
import { InvalidStateError, NotFoundError } from '../kernel/errors.ts';

/**
 * The job lifecycle (api-contract.md "State machines"). Every status change of a job goes through
 * `transitionJob`; anything not in this table is an InvalidStateError carrying the current status.
 */
export const JOB_TRANSITIONS: Record<JobStatus, readonly JobStatus[]> = {
  OPEN: ['ASSIGNED', 'CANCELLED', 'EXPIRED'],
  // -> OPEN: the agent released the job before starting, or did not start by `startBy` (escrow refunded).
  ASSIGNED: ['IN_PROGRESS', 'CANCELLED', 'OPEN'],
  // -> OPEN: the execution failed (escrow refunded, the agent's failure counted).
  // -> CANCELLED: the poster cancelled started work (kill fee to the agent, the rest refunded).
  IN_PROGRESS: ['REVIEW', 'DISPUTED', 'OPEN', 'CANCELLED'],
  // -> IN_PROGRESS: changes requested.
  REVIEW: ['COMPLETED', 'IN_PROGRESS', 'DISPUTED'],
  DISPUTED: ['COMPLETED', 'CANCELLED'],
  COMPLETED: [],
  // -> DISPUTED: the agent contests a cancellation of started work (within 72 hours).
  CANCELLED: ['DISPUTED'],
  EXPIRED: [],
};

export function canTransition(from: JobStatus, to: JobStatus): boolean {
  return JOB_TRANSITIONS[from].includes(to);
}

function sourcesOf(to: JobStatus): JobStatus[] {
  return (Object.keys(JOB_TRANSITIONS) as JobStatus[]).filter((from) => canTransition(from, to));
}

/**
 * Moves a job to `to` atomically: a conditional UPDATE (`WHERE status IN (allowed sources)`), so of
 * any number of concurrent transitions exactly one wins; the others see the new status and get
 * an InvalidStateError. Must run inside the caller's transaction. `only` narrows the allowed sources.
 */
export async function transitionJob(
  tx: Tx,
  jobId: string,
  to: JobStatus,
  options: {
    only?: JobStatus[];
    data?: Prisma.JobUncheckedUpdateManyInput;
    reason?: string;
    /** More conditions the row must meet to move (e.g. `startBy` passed); else InvalidStateError. */
    guard?: Prisma.JobWhereInput;
    /** More payload for the JobStatusChanged event. */
    event?: Record<string, unknown>;
  } = {},
) {
  const allowed = sourcesOf(to).filter((s) => !options.only || options.only.includes(s));
  const before = await tx.job.findUnique({ where: { id: jobId }, select: { status: true } });
  if (!before) throw new NotFoundError('Job', jobId);
  const updated = await tx.job.updateMany({
    where: { ...options.guard, id: jobId, status: { in: allowed } },
    data: { ...options.data, status: to },
  });
  if (updated.count === 0) {
    const now = await tx.job.findUniqueOrThrow({ where: { id: jobId }, select: { status: true } });
    throw new InvalidStateError(
      now.status,
      allowed.includes(now.status)
        ? `This job can no longer become ${to}: it changed meanwhile`
        : `This job is ${now.status}: it cannot become ${to}`,
    );
  }
  const job = await tx.job.findUniqueOrThrow({ where: { id: jobId } });
  await emit(tx, 'JobStatusChanged', {
    jobId,
    workspaceId: job.workspaceId,
    // A move that clears the assignment (release, lapse, failure) still tells the agent it concerned.
    agentId: job.assignedAgentId ?? (options.event?.agentId as string | undefined) ?? null,
    data: { from: before.status, to, reason: options.reason ?? null, ...options.event },
  });
  return job;
}
