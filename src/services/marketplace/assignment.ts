import type { Tx } from '../../db/client.ts';
import type { Job, Prisma } from '../../generated/prisma/client.ts';
import { emit } from '../delivery/events.ts';
import { ConflictError, NotEligibleError } from '../kernel/errors.ts';
import { holdEscrow, refundEscrow } from '../ledger/ledger.ts';
import { transitionBid, transitionBids } from './bid-state.ts';
import { transitionJob } from './job-state.ts';
import { transitionOffers } from './offer-state.ts';

/**
 * Assigns a job to an agent inside the caller's transaction: acceptBid, acceptCounter, acceptOffer
 * and assignJob all come here. The job moves OPEN → ASSIGNED first (a conditional update on its row,
 * so exactly one concurrent caller wins and every later lock is taken under the job's lock); the
 * agent's capacity is taken with another conditional update; the winning bid (if any) becomes
 * ACCEPTED and every other live bid REJECTED; every other PENDING offer is WITHDRAWN with its
 * credits refunded; and the agreed credits are held in escrow (an accepted offer's already are).
 * No hold (InsufficientCreditsError), no assignment.
 */
export async function assignAgent(
  tx: Tx,
  params: {
    jobId: string;
    agentId: string;
    credits: number;
    bidId?: string | null;
    /** acceptCounter accepts a COUNTERED bid; acceptBid a PENDING one. */
    bidFrom?: 'PENDING' | 'COUNTERED';
    /** The accepted offer: its credits are already in escrow. */
    offerId?: string | null;
    startWithinMinutes?: number | null;
    reason: string;
  },
): Promise<Job> {
  const now = new Date();
  const current = await tx.job.findUnique({ where: { id: params.jobId }, select: { startWithinMinutes: true } });
  const startWithin = params.startWithinMinutes ?? current?.startWithinMinutes ?? 1440;
  const job = await transitionJob(tx, params.jobId, 'ASSIGNED', {
    only: ['OPEN'],
    data: {
      assignedAgentId: params.agentId,
      acceptedBidId: params.bidId ?? null,
      agreedCredits: params.credits,
      startBy: new Date(now.getTime() + startWithin * 60_000),
    },
    reason: params.reason,
  });
  const took = await tx.agent.updateMany({
    where: { id: params.agentId, activeJobCount: { lt: tx.agent.fields.maxConcurrentJobs } },
    data: { activeJobCount: { increment: 1 } },
  });
  if (took.count === 0) throw new NotEligibleError(['the agent is at capacity (maxConcurrentJobs)']);
  // The bids and offers move in the job's lock (taken above), each with its event to its agent.
  if (params.bidId) {
    const won = await transitionBid(tx, params.bidId, 'ACCEPTED', {
      only: [params.bidFrom ?? 'PENDING'],
      data: { credits: params.credits },
    });
    // The terms were read before the job's lock: a bid placed again (or a counter made again) in
    // between must not be accepted at the old price.
    const terms = params.bidFrom === 'COUNTERED' ? won.counterCredits : won.requestedCredits;
    if (terms !== params.credits) {
      throw new ConflictError(
        `The ${params.bidFrom === 'COUNTERED' ? 'counter-offer' : 'bid'} changed meanwhile (now ${terms} credits): read its new terms and accept again`,
      );
    }
  }
  await transitionBids(tx, { jobId: params.jobId, exceptId: params.bidId }, 'REJECTED', {
    only: ['PENDING', 'COUNTERED', 'STALE'],
    reason: params.bidId ? 'another bid was accepted' : 'the job was assigned without bidding',
  });
  await transitionOffers(tx, { jobId: params.jobId, exceptId: params.offerId }, 'WITHDRAWN', {
    reason: 'the job was assigned to another agent',
  });
  if (!params.offerId) await holdEscrow(tx, job);
  await emit(tx, 'AgentAssigned', {
    jobId: job.id,
    workspaceId: job.workspaceId,
    agentId: params.agentId,
    data: {
      credits: params.credits,
      bidId: params.bidId ?? null,
      offerId: params.offerId ?? null,
      startBy: job.startBy?.toISOString() ?? null,
    },
  });
  return job;
}

/**
 * ASSIGNED → OPEN before work started, in the caller's transaction: the agent released the job or
 * let `startBy` pass. The escrow goes back, the assignment is cleared, the agent's capacity freed,
 * and the outcome counted (a release lighter than a no-show). `guard` narrows the move (the lapse
 * sweep only moves jobs whose `startBy` passed).
 */
export async function unassignBeforeStart(
  tx: Tx,
  jobId: string,
  options: { reason: string; guard?: Prisma.JobWhereInput },
): Promise<Job> {
  const before = await tx.job.findUnique({ where: { id: jobId }, select: { assignedAgentId: true } });
  const job = await transitionJob(tx, jobId, 'OPEN', {
    only: ['ASSIGNED'],
    guard: options.guard,
    data: { assignedAgentId: null, acceptedBidId: null, agreedCredits: null, startBy: null },
    reason: options.reason,
    event: { agentId: before?.assignedAgentId ?? null },
  });
  await refundEscrow(tx, job, options.reason);
  await releaseAgent(tx, before?.assignedAgentId ?? null);
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
