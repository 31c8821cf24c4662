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
  ASSIGNED: ['IN_PROGRESS', 'CANCELLED'],
  // -> OPEN: the execution failed (escrow refunded, the agent's failure counted).
  IN_PROGRESS: ['REVIEW', 'DISPUTED', 'OPEN'],
  // -> IN_PROGRESS: changes requested.
  REVIEW: ['COMPLETED', 'IN_PROGRESS', 'DISPUTED'],
  DISPUTED: ['COMPLETED', 'CANCELLED'],
  COMPLETED: [],
  CANCELLED: [],
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
  options: { only?: JobStatus[]; data?: Prisma.JobUncheckedUpdateManyInput; reason?: string } = {},
) {
  const allowed = sourcesOf(to).filter((s) => !options.only || options.only.includes(s));
  const before = await tx.job.findUnique({ where: { id: jobId }, select: { status: true } });
  if (!before) throw new NotFoundError('Job', jobId);
  const updated = await tx.job.updateMany({
    where: { id: jobId, status: { in: allowed } },
    data: { ...options.data, status: to },
  });
  if (updated.count === 0) {
    const now = await tx.job.findUniqueOrThrow({ where: { id: jobId }, select: { status: true } });
    throw new InvalidStateError(now.status, `This job is ${now.status}: it cannot become ${to}`);
  }
  const job = await tx.job.findUniqueOrThrow({ where: { id: jobId } });
  await emit(tx, 'JobStatusChanged', {
    jobId,
    workspaceId: job.workspaceId,
    agentId: job.assignedAgentId,
    data: { from: before.status, to, reason: options.reason ?? null },
  });
  return job;
}
