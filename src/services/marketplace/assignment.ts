import type { Tx } from '../../db/client.ts';
import type { Job } from '../../generated/prisma/client.ts';
import { emit } from '../delivery/events.ts';
import { NotEligibleError } from '../kernel/errors.ts';
import { holdEscrow } from '../ledger/ledger.ts';
import { transitionBid, transitionBids } from './bid-state.ts';
import { transitionJob } from './job-state.ts';

/**
 * Assigns a job to an agent inside the caller's transaction; used by acceptBid and assignJob alike.
 * The job moves OPEN → ASSIGNED with a conditional update (exactly one concurrent caller wins), the
 * agent's capacity is taken with another conditional update, every other pending bid is rejected,
 * and the agreed credits are held in escrow in the same transaction: no hold (InsufficientCreditsError),
 * no assignment.
 */
export async function assignAgent(
  tx: Tx,
  params: {
    jobId: string;
    agentId: string;
    credits: number;
    bidId?: string | null;
  },
): Promise<Job> {
  const job = await transitionJob(tx, params.jobId, 'ASSIGNED', {
    only: ['OPEN'],
    data: { assignedAgentId: params.agentId, acceptedBidId: params.bidId ?? null, agreedCredits: params.credits },
    reason: params.bidId ? 'bid accepted' : 'direct hire',
  });
  const took = await tx.agent.updateMany({
    where: { id: params.agentId, activeJobCount: { lt: tx.agent.fields.maxConcurrentJobs } },
    data: { activeJobCount: { increment: 1 } },
  });
  if (took.count === 0) throw new NotEligibleError(['the agent is at capacity (maxConcurrentJobs)']);
  // The bids move in the job's lock (taken above): the winner ACCEPTED, every other pending bid
  // REJECTED, each with its event to its bidder, in this transaction.
  if (params.bidId) {
    await transitionBid(tx, params.bidId, 'ACCEPTED', { only: ['PENDING'], data: { credits: params.credits } });
  }
  await transitionBids(tx, { jobId: params.jobId, exceptId: params.bidId }, 'REJECTED', {
    only: ['PENDING'],
    reason: params.bidId ? 'another bid was accepted' : 'the job was assigned without bidding',
  });
  await holdEscrow(tx, job);
  await emit(tx, 'AgentAssigned', {
    jobId: job.id,
    workspaceId: job.workspaceId,
    agentId: params.agentId,
    data: { credits: params.credits, bidId: params.bidId ?? null },
  });
  return job;
}

/** Gives the agent's capacity back when its job leaves the active states (done, cancelled, failed). */
export async function releaseAgent(tx: Tx, agentId: string | null) {
  if (!agentId) return;
  await tx.agent.updateMany({
    where: { id: agentId, activeJobCount: { gt: 0 } },
    data: { activeJobCount: { decrement: 1 } },
  });
}
