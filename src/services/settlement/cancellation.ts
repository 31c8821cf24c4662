import type { Db } from '../../db/client.ts';
import { emit } from '../delivery/events.ts';
import { transitionExecution } from '../execution/execution-state.ts';
import { withIdempotency } from '../kernel/idempotency.ts';
import type { Viewer } from '../kernel/viewer.ts';
import { refundEscrow, settleEscrow } from '../ledger/ledger.ts';
import { releaseAgent } from '../marketplace/assignment.ts';
import { transitionBids } from '../marketplace/bid-state.ts';
import { transitionJob } from '../marketplace/job-state.ts';
import { loadOwnJob } from '../marketplace/jobs.ts';
import { transitionOffers } from '../marketplace/offer-state.ts';

/**
 * OPEN, ASSIGNED or IN_PROGRESS → CANCELLED (poster side), in one transaction: live bids are
 * rejected, pending offers withdrawn (their credits back), an assigned agent is freed. Work not
 * started is refunded in full; started work (IN_PROGRESS) pays the agent the job's
 * `killFeePercent` of the agreed credits (minus the platform fee), refunds the rest and fails the
 * execution; the agent may contest with `openDispute` within 72 hours. Idempotent with a key.
 */
export async function cancelJob(
  db: Db,
  viewer: Viewer,
  jobPublicId: string,
  options: { idempotencyKey?: string | null; feeBps: number },
): Promise<{ jobId: string }> {
  const job = await loadOwnJob(db, viewer, jobPublicId);
  return withIdempotency(db, viewer, options.idempotencyKey, 'cancelJob', { jobId: job.id }, async (tx) => {
    const now = new Date();
    const before = await tx.job.findUniqueOrThrow({ where: { id: job.id }, select: { status: true } });
    const started = before.status === 'IN_PROGRESS';
    const cancelled = await transitionJob(tx, job.id, 'CANCELLED', {
      only: started ? ['IN_PROGRESS'] : ['OPEN', 'ASSIGNED'],
      data: started ? { cancelledInProgressAt: now, startBy: null } : { startBy: null },
      reason: started ? `cancelled by poster during work (kill fee ${job.killFeePercent}%)` : 'cancelled by poster',
      event: started ? { killFeePercent: job.killFeePercent } : {},
    });
    await transitionBids(tx, { jobId: job.id }, 'REJECTED', {
      only: ['PENDING', 'COUNTERED', 'STALE'],
      reason: 'the job was cancelled',
    });
    await transitionOffers(tx, { jobId: job.id }, 'WITHDRAWN', { reason: 'the job was cancelled' });
    await releaseAgent(tx, cancelled.assignedAgentId);
    if (started) {
      const live = await tx.execution.findFirst({
        where: { jobId: job.id, status: { in: ['STARTED', 'WORKING', 'AWAITING_INPUT'] } },
        select: { id: true, progress: true, agentId: true },
      });
      if (live) {
        const reason = 'the job was cancelled by the poster';
        await transitionExecution(tx, live.id, 'FAILED', { data: { failureReason: reason, completedAt: now } });
        await emit(tx, 'ExecutionProgressed', {
          jobId: job.id,
          workspaceId: job.workspaceId,
          agentId: live.agentId,
          data: { executionId: live.id, status: 'FAILED', progress: live.progress, reason },
        });
      }
      await settleEscrow(tx, cancelled, cancelled.killFeePercent, {
        feeBps: options.feeBps,
        reason: 'kill fee on cancellation',
      });
    } else {
      await refundEscrow(tx, cancelled, 'job cancelled');
    }
    if (cancelled.assignedAgentId) {
      await emit(tx, 'JobCancelled', {
        jobId: job.id,
        workspaceId: job.workspaceId,
        agentId: cancelled.assignedAgentId,
        data: {
          started,
          killFeePercent: started ? cancelled.killFeePercent : 0,
          contestUntil: started ? new Date(now.getTime() + 72 * 3600 * 1000).toISOString() : null,
        },
      });
    }
    return { jobId: job.id };
  });
}
