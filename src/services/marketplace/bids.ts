import { z } from 'zod';
import type { Db, Tx } from '../../db/client.ts';
import type { Bid, Job } from '../../generated/prisma/client.ts';
import { canSeeBid, loadVisibleJob } from '../access/visibility.ts';
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
import { isWorkspaceAdmin, type Viewer } from '../kernel/viewer.ts';
import { assignAgent } from './assignment.ts';
import { counterBidRow, placeBidRow, transitionBid, transitionBids } from './bid-state.ts';
import { availabilityReasons, eligibilityReasons } from './jobs.ts';
import { skillMatch } from './matching.ts';

const DEFAULT_BID_TTL_MS = 7 * 24 * 3600 * 1000;
const BID_TTL_REASON = 'the bid passed its expiresAt';

export const placeBidInput = z.object({
  jobId: z.string().min(1),
  message: z.string().trim().min(1, 'must not be empty').max(5_000, 'must be at most 5000 characters'),
  estimatedMinutes: z
    .number()
    .int()
    .min(1, 'must be at least 1 minute')
    .max(60 * 24 * 365),
  requestedCredits: fields.credits,
  relevantExperience: z.array(z.string().max(100)).max(20).default([]),
  expiresAt: z.coerce
    .date({ error: 'must be a date-time' })
    .refine((d) => d.getTime() > Date.now(), 'must be in the future')
    .nullish(),
});

/**
 * An agent bids on an OPEN job it may see and is eligible for. One bid per agent per job:
 * bidding again updates it and makes it PENDING again (a job reopened after a failed execution
 * can be bid on by everyone, including agents whose earlier bids were rejected). `skillMatch` is computed here, never taken from the agent;
 * `relevantExperience` may only cite the agent's own completed jobs.
 */
export async function placeBid(db: Db, viewer: Viewer, input: z.input<typeof placeBidInput>): Promise<Bid> {
  if (viewer.kind !== 'agent') throw new ForbiddenError('Only agents bid: call with the agent’s API key');
  const data = parse(placeBidInput, input);
  const jobId = decodeId('Job', data.jobId);
  const { job } = await loadVisibleJob(db, viewer, jobId, data.jobId);
  const experienceIds = data.relevantExperience.map((id, i) => {
    try {
      return decodeId('Job', id);
    } catch {
      throw ValidationError.single(['input', 'relevantExperience', String(i)], `"${id}" is not a job id`);
    }
  });
  if (experienceIds.length) {
    const own = await db.job.findMany({
      where: { id: { in: experienceIds }, status: 'COMPLETED', assignedAgentId: viewer.agentId },
      select: { id: true },
    });
    const ownIds = new Set(own.map((j) => j.id));
    const bad = experienceIds.findIndex((id) => !ownIds.has(id));
    if (bad >= 0) {
      throw ValidationError.single(['input', 'relevantExperience', String(bad)], 'must be a job this agent completed');
    }
  }
  return db.$transaction(async (tx) => {
    // Share-lock the job row: an acceptance waits for this bid to commit (and then rejects it),
    // and a bid cannot slip in after the job left OPEN.
    const [locked] = await tx.$queryRaw<
      { status: string }[]
    >`SELECT "status" FROM "Job" WHERE "id" = ${jobId} FOR SHARE`;
    if (locked?.status !== 'OPEN') {
      throw new InvalidStateError(
        locked?.status ?? 'UNKNOWN',
        `Bids are only accepted on OPEN jobs; this one is ${locked?.status}`,
      );
    }
    const agent = await tx.agent.findUniqueOrThrow({ where: { id: viewer.agentId } });
    const reasons = [
      ...availabilityReasons(agent),
      ...(await eligibilityReasons(tx, job, viewer.agentId, { forAssignment: false })),
    ];
    if (reasons.length) throw new NotEligibleError(reasons);
    // One statement whatever the race: identical concurrent bids all land on the one row.
    return placeBidRow(
      tx,
      { jobId, agentId: viewer.agentId, workspaceId: job.workspaceId },
      {
        message: data.message,
        estimatedMinutes: data.estimatedMinutes,
        requestedCredits: data.requestedCredits,
        skillMatch: skillMatch(job, agent),
        relevantExperienceIds: [...new Set(experienceIds)],
        expiresAt: data.expiresAt ?? new Date(Date.now() + DEFAULT_BID_TTL_MS),
      },
    );
  });
}

async function loadBid(db: Db | Tx, viewer: Viewer, bidPublicId: string) {
  const bid = await db.bid.findUnique({ where: { id: decodeId('Bid', bidPublicId) }, include: { job: true } });
  if (!bid) throw new NotFoundError('Bid', bidPublicId);
  // A bid is visible only to the poster's workspace and the bidder; to anyone else it does not exist.
  if (!canSeeBid(viewer, bid.job, bid)) throw new NotFoundError('Bid', bidPublicId);
  return bid;
}

/** Accepting, countering or rejecting bids and making offers is an approval: OWNER or ADMIN of the posting workspace. */
export function requireApprover(viewer: Viewer, job: Job) {
  if (viewer.kind === 'platform') return;
  if (!isWorkspaceAdmin(viewer, job.workspaceId)) {
    throw new ForbiddenError('Only an OWNER or ADMIN of the posting workspace may approve or reject bids');
  }
}

/** The bidding agent withdraws its live (PENDING, COUNTERED or STALE) bid. */
export async function withdrawBid(db: Db, viewer: Viewer, bidPublicId: string): Promise<Bid> {
  const bid = await loadBid(db, viewer, bidPublicId);
  if (viewer.kind !== 'agent' || viewer.agentId !== bid.agentId)
    throw new ForbiddenError('Only the bidder withdraws its bid');
  return db.$transaction((tx) => transitionBid(tx, bid.id, 'WITHDRAWN', { only: ['PENDING', 'COUNTERED', 'STALE'] }));
}

/** The poster's OWNER/ADMIN rejects a live (PENDING, COUNTERED or STALE) bid. */
export async function rejectBid(db: Db, viewer: Viewer, bidPublicId: string): Promise<Bid> {
  const bid = await loadBid(db, viewer, bidPublicId);
  requireApprover(viewer, bid.job);
  return db.$transaction((tx) =>
    transitionBid(tx, bid.id, 'REJECTED', {
      only: ['PENDING', 'COUNTERED', 'STALE'],
      reason: 'rejected by the poster',
    }),
  );
}

export const counterBidInput = z.object({
  bidId: z.string().min(1),
  requestedCredits: fields.credits,
  estimatedMinutes: z
    .number()
    .int('must be a whole number of minutes')
    .min(1, 'must be at least 1 minute')
    .max(60 * 24 * 365),
  message: z.string().trim().max(5_000, 'must be at most 5000 characters').default(''),
});

/**
 * The poster's OWNER/ADMIN answers a PENDING (or already COUNTERED) bid on an OPEN job with other
 * terms: the bid becomes COUNTERED with `counter`, a version is added to its history, and the
 * bidder hears BidCountered. Nothing is held yet: the escrow is taken when the agent accepts.
 */
export async function counterBid(db: Db, viewer: Viewer, input: z.input<typeof counterBidInput>): Promise<Bid> {
  const data = parse(counterBidInput, input);
  const bid = await loadBid(db, viewer, data.bidId);
  if (viewer.kind === 'agent')
    throw new ForbiddenError('Only the posting workspace counters a bid; the agent bids again');
  requireApprover(viewer, bid.job);
  return db.$transaction(async (tx) => {
    const [locked] = await tx.$queryRaw<
      { status: string }[]
    >`SELECT "status" FROM "Job" WHERE "id" = ${bid.jobId} FOR SHARE`;
    if (locked?.status !== 'OPEN') {
      throw new InvalidStateError(
        locked?.status ?? 'UNKNOWN',
        `Bids are countered on OPEN jobs; this one is ${locked?.status}`,
      );
    }
    return counterBidRow(tx, bid.id, {
      requestedCredits: data.requestedCredits,
      estimatedMinutes: data.estimatedMinutes,
      message: data.message,
      memberId: viewer.kind === 'member' ? viewer.memberId : null,
    });
  });
}

/**
 * The bidder accepts the poster's counter: the job becomes ASSIGNED to it at the countered credits,
 * held in escrow in the same transaction (InsufficientCreditsError if the poster cannot cover them:
 * nothing changes). Exactly one of any number of concurrent acceptances on one job wins.
 * Idempotent with `idempotencyKey`.
 */
export async function acceptCounter(
  db: Db,
  viewer: Viewer,
  bidPublicId: string,
  options: { idempotencyKey?: string | null } = {},
): Promise<{ jobId: string }> {
  const bid = await loadBid(db, viewer, bidPublicId);
  if (viewer.kind !== 'agent' || viewer.agentId !== bid.agentId) {
    throw new ForbiddenError('Only the bidder accepts a counter-offer on its bid');
  }
  return withIdempotency(db, viewer, options.idempotencyKey, 'acceptCounter', { bidId: bid.id }, async (tx) => {
    if (bid.status !== 'COUNTERED' || bid.counterCredits === null) {
      throw new InvalidStateError(bid.status, `This bid is ${bid.status}: there is no counter-offer to accept`);
    }
    const reasons = await eligibilityReasons(tx, bid.job, bid.agentId, { forAssignment: true });
    if (reasons.length) throw new NotEligibleError(reasons);
    await assignAgent(tx, {
      jobId: bid.jobId,
      agentId: bid.agentId,
      credits: bid.counterCredits,
      bidId: bid.id,
      bidFrom: 'COUNTERED',
      reason: 'counter-offer accepted',
    });
    return { jobId: bid.jobId };
  });
}

/**
 * The poster's OWNER/ADMIN accepts a PENDING, unexpired bid: in one transaction the job becomes
 * ASSIGNED to the bidder, this bid ACCEPTED, every other pending bid REJECTED, and the bid's price
 * held in escrow (`hooks.hold`). Of any number of concurrent acceptances on one job exactly one wins;
 * the others get InvalidStateError.
 */
export async function acceptBid(
  db: Db,
  viewer: Viewer,
  bidPublicId: string,
  options: { idempotencyKey?: string | null } = {},
): Promise<{ jobId: string }> {
  const bid = await loadBid(db, viewer, bidPublicId);
  requireApprover(viewer, bid.job);
  if (bid.status === 'PENDING' && bid.expiresAt && bid.expiresAt.getTime() <= Date.now()) {
    // Expire it now (its bidder hears BidExpired), then refuse; a racing change wins and is reported.
    await db.$transaction((tx) => transitionBid(tx, bid.id, 'EXPIRED', { only: ['PENDING'], reason: BID_TTL_REASON }));
    throw new InvalidStateError('EXPIRED', 'This bid expired and can no longer be accepted');
  }
  return withIdempotency(db, viewer, options.idempotencyKey, 'acceptBid', { bidId: bid.id }, async (tx) => {
    await acceptLoadedBid(tx, bid);
    return { jobId: bid.jobId };
  });
}

/** Inside the transaction: every read uses `tx` (a second pooled connection per request could exhaust the pool). */
async function acceptLoadedBid(tx: Tx, bid: Bid & { job: Job }) {
  if (bid.status !== 'PENDING') throw new InvalidStateError(bid.status, `This bid is ${bid.status}`);
  const reasons = await eligibilityReasons(tx, bid.job, bid.agentId, { forAssignment: true });
  if (reasons.length) throw new NotEligibleError(reasons);
  await assignAgent(tx, {
    jobId: bid.jobId,
    agentId: bid.agentId,
    credits: bid.requestedCredits,
    bidId: bid.id,
    bidFrom: 'PENDING',
    reason: 'bid accepted',
  });
}

/**
 * PENDING bids past their `expiresAt` become EXPIRED, each with BidExpired to its bidder (the
 * scheduler runs this). One bid per transaction, so the sweep never holds several bids' locks
 * against an acceptance moving them. Safe in many processes: a bid that moved meanwhile is skipped.
 */
export async function expireBids(db: Db, now = new Date()): Promise<number> {
  const due = await db.bid.findMany({
    // STALE bids expire too (BID_TRANSITIONS allows STALE -> EXPIRED): a bid the agent never placed
    // again must not linger past its expiresAt.
    where: { status: { in: ['PENDING', 'STALE'] }, expiresAt: { lte: now } },
    select: { id: true },
    orderBy: { expiresAt: 'asc' },
    take: 500,
  });
  let expired = 0;
  for (const { id } of due) {
    const moved = await db.$transaction((tx) =>
      transitionBids(tx, { ids: [id] }, 'EXPIRED', {
        only: ['PENDING', 'STALE'],
        reason: BID_TTL_REASON,
        expiredBy: now,
      }),
    );
    expired += moved.length;
  }
  return expired;
}
