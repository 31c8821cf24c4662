import { z } from 'zod';
import type { Db, Tx } from '../../db/client.ts';
import type { Job } from '../../generated/prisma/client.ts';
import { canSeeExecution, isPosterSide } from '../access/visibility.ts';
import { emit } from '../delivery/events.ts';
import { transitionExecution } from '../execution/execution-state.ts';
import { ForbiddenError, InvalidStateError, NotFoundError, ValidationError } from '../kernel/errors.ts';
import { withIdempotency } from '../kernel/idempotency.ts';
import { decodeId } from '../kernel/ids.ts';
import { parse } from '../kernel/validation.ts';
import { isWorkspaceAdmin, type Viewer } from '../kernel/viewer.ts';
import { settleEscrow } from '../ledger/ledger.ts';
import { releaseAgent } from '../marketplace/assignment.ts';
import { transitionJob } from '../marketplace/job-state.ts';
import { applyOutcome } from '../reputation/reputation.ts';
import { openDisputeTx } from './disputes.ts';

export interface ReviewPolicy {
  feeBps: number;
  maxChangeRequests: number;
}

export const reviewInput = z.object({
  decision: z.enum(['ACCEPT', 'REQUEST_CHANGES', 'REJECT']),
  rating: z.number().int('must be a whole number').min(1, 'must be 1-5').max(5, 'must be 1-5').nullish(),
  notes: z.string().trim().max(5_000, 'must be at most 5000 characters').default(''),
});

/**
 * Pays the agent for an accepted job inside the caller's transaction: job REVIEW → COMPLETED
 * (conditional: whichever of a human acceptance, the auto-approver or a racing call gets there
 * first wins, the others see COMPLETED), escrow released minus the fee, capacity given back and
 * the outcome recorded. `rating` null = no rating (automatic, or a self-review).
 */
async function completeAndPay(
  tx: Tx,
  job: Job,
  executionId: string,
  review: { reviewerId: string | null; rating: number | null; notes: string; automatic: boolean },
  policy: ReviewPolicy,
) {
  const completed = await transitionJob(tx, job.id, 'COMPLETED', {
    only: ['REVIEW'],
    data: { autoApproveAt: null },
    reason: review.automatic ? 'auto-approved' : 'result accepted',
  });
  const execution = await tx.execution.update({ where: { id: executionId }, data: { completedAt: new Date() } });
  await tx.review.create({
    data: {
      executionId,
      jobId: job.id,
      agentId: execution.agentId,
      reviewerId: review.reviewerId,
      decision: 'ACCEPT',
      rating: review.rating,
      notes: review.notes,
      automatic: review.automatic,
    },
  });
  await settleEscrow(tx, completed, 100, {
    feeBps: policy.feeBps,
    reason: review.automatic ? 'auto-approved' : 'accepted',
  });
  await releaseAgent(tx, execution.agentId);
  const bid = completed.acceptedBidId ? await tx.bid.findUnique({ where: { id: completed.acceptedBidId } }) : null;
  const actualMinutes = ((execution.submittedAt ?? new Date()).getTime() - execution.startedAt.getTime()) / 60_000;
  await applyOutcome(tx, execution.agentId, job.requiredSkills, {
    kind: 'completed',
    rating: review.rating,
    estimatedMinutes: bid?.estimatedMinutes ?? null,
    actualMinutes,
  });
  await emit(tx, 'ExecutionReviewed', {
    jobId: job.id,
    workspaceId: job.workspaceId,
    agentId: execution.agentId,
    data: { executionId, decision: 'ACCEPT', rating: review.rating, notes: review.notes, automatic: review.automatic },
  });
}

/**
 * A reviewer (OWNER/ADMIN of the posting workspace) decides on a submitted result:
 * ACCEPT completes the job and pays the agent (rating 1-5 required); REQUEST_CHANGES sends it back
 * to IN_PROGRESS with the notes (at most `maxChangeRequests` rounds); REJECT opens a dispute.
 * A rating from the agent's own workspace never moves its reputation.
 */
export async function reviewExecution(
  db: Db,
  viewer: Viewer,
  executionPublicId: string,
  input: z.input<typeof reviewInput> & { idempotencyKey?: string | null },
  policy: ReviewPolicy,
): Promise<{ executionId: string; jobId: string }> {
  const data = parse(reviewInput, input, []);
  if (data.decision === 'ACCEPT' && !data.rating)
    throw ValidationError.single(['rating'], 'is required to accept (1-5)');
  const execution = await db.execution.findUnique({
    where: { id: decodeId('Execution', executionPublicId) },
    include: { job: true, agent: { select: { workspaceId: true } } },
  });
  if (!execution || !canSeeExecution(viewer, execution.job, execution))
    throw new NotFoundError('Execution', executionPublicId);
  if (viewer.kind !== 'member' || !isPosterSide(viewer, execution.job)) {
    throw new ForbiddenError('Only the posting workspace reviews results');
  }
  if (!isWorkspaceAdmin(viewer, execution.job.workspaceId)) {
    throw new ForbiddenError('Reviewing is an approval: only an OWNER or ADMIN of the posting workspace may do it');
  }
  const job = execution.job;
  const selfReview = execution.agent.workspaceId === job.workspaceId;
  const args = { executionId: execution.id, decision: data.decision, rating: data.rating ?? null, notes: data.notes };
  return withIdempotency(db, viewer, input.idempotencyKey, 'reviewExecution', args, async (tx) => {
    const current = await tx.job.findUniqueOrThrow({ where: { id: job.id } });
    if (current.status !== 'REVIEW')
      throw new InvalidStateError(current.status, `This job is ${current.status}, not in REVIEW`);
    if (data.decision === 'ACCEPT') {
      await completeAndPay(
        tx,
        current,
        execution.id,
        {
          reviewerId: viewer.memberId,
          rating: selfReview ? null : (data.rating ?? null),
          notes: data.notes,
          automatic: false,
        },
        policy,
      );
      if (selfReview && data.rating) {
        // Keep the human's rating on the review for the record; it just does not count.
        await tx.review.updateMany({
          where: { executionId: execution.id, decision: 'ACCEPT' },
          data: { rating: data.rating },
        });
      }
    } else if (data.decision === 'REQUEST_CHANGES') {
      if (current.changeRequestCount >= policy.maxChangeRequests) {
        throw new InvalidStateError(
          current.status,
          `At most ${policy.maxChangeRequests} rounds of changes: accept or reject this result`,
        );
      }
      await transitionJob(tx, job.id, 'IN_PROGRESS', {
        only: ['REVIEW'],
        data: { autoApproveAt: null, changeRequestCount: { increment: 1 } },
        reason: 'changes requested',
      });
      await transitionExecution(tx, execution.id, 'WORKING', { only: ['COMPLETED'] });
      await tx.review.create({
        data: {
          executionId: execution.id,
          jobId: job.id,
          agentId: execution.agentId,
          reviewerId: viewer.memberId,
          decision: 'REQUEST_CHANGES',
          rating: data.rating ?? null,
          notes: data.notes,
        },
      });
      const target = { jobId: job.id, workspaceId: job.workspaceId, agentId: execution.agentId };
      await emit(tx, 'ChangesRequested', { ...target, data: { executionId: execution.id, notes: data.notes } });
      await emit(tx, 'ExecutionReviewed', {
        ...target,
        data: {
          executionId: execution.id,
          decision: 'REQUEST_CHANGES',
          rating: data.rating ?? null,
          notes: data.notes,
        },
      });
    } else {
      await tx.review.create({
        data: {
          executionId: execution.id,
          jobId: job.id,
          agentId: execution.agentId,
          reviewerId: viewer.memberId,
          decision: 'REJECT',
          rating: data.rating ?? null,
          notes: data.notes,
        },
      });
      await emit(tx, 'ExecutionReviewed', {
        jobId: job.id,
        workspaceId: job.workspaceId,
        agentId: execution.agentId,
        data: { executionId: execution.id, decision: 'REJECT', rating: data.rating ?? null, notes: data.notes },
      });
      await openDisputeTx(
        tx,
        current,
        { memberId: viewer.memberId, agentId: null },
        data.notes || 'result rejected by the reviewer',
      );
    }
    return { executionId: execution.id, jobId: job.id };
  });
}

/**
 * Accepts results whose `autoApproveAt` passed (no rating): MTurk and Upwork do the same so an
 * absent reviewer never blocks payment. Safe in every process at once: each job completes once.
 */
export async function autoApprove(db: Db, policy: ReviewPolicy, now = new Date()): Promise<number> {
  const due = await db.job.findMany({
    where: { status: 'REVIEW', autoApproveAt: { lte: now } },
    select: { id: true },
    take: 200,
  });
  let done = 0;
  for (const { id } of due) {
    try {
      await db.$transaction(async (tx) => {
        const job = await tx.job.findUniqueOrThrow({ where: { id } });
        if (job.status !== 'REVIEW' || !job.autoApproveAt || job.autoApproveAt > now) return;
        const execution = await tx.execution.findFirstOrThrow({ where: { jobId: id }, orderBy: { startedAt: 'desc' } });
        await completeAndPay(
          tx,
          job,
          execution.id,
          { reviewerId: null, rating: null, notes: 'auto-approved', automatic: true },
          policy,
        );
        done++;
      });
    } catch (error) {
      if (!(error instanceof InvalidStateError)) throw error;
    }
  }
  return done;
}
