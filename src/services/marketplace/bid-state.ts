import type { Tx } from '../../db/client.ts';
import { type Bid, Prisma } from '../../generated/prisma/client.ts';
import type { BidStatus } from '../../generated/prisma/enums.ts';
import { type EventTarget, type EventType, emitMany } from '../delivery/events.ts';
import { InvalidStateError, NotFoundError } from '../kernel/errors.ts';
import { newId } from '../kernel/ids.ts';

/**
 * The bid lifecycle (api-contract.md "State machines"). Every status change of a bid goes through
 * this module, which writes the change and its outbox event in the caller's transaction: one
 * conditional `UPDATE ... RETURNING` (or `INSERT ... ON CONFLICT DO UPDATE ... RETURNING` for a
 * bid placed again), guarded by the statuses allowed to move, and one event per bid that moved.
 * Many bids move in one statement (the losers of an acceptance), each with its own event naming
 * its bidder. Extend the table, never add an `if` elsewhere.
 *
 * Locking: callers that move several bids of a job (acceptance, cancellation, expiry) have
 * already taken the job's row lock by moving the job first (`transitionJob`), so they never
 * interleave; placing a bid share-locks the job first; the bid expiry sweep moves one bid per
 * transaction. No two transactions lock bids of one job in different orders.
 */
export const BID_TRANSITIONS: Record<BidStatus, readonly BidStatus[]> = {
  // -> PENDING: the agent bids again (new terms, same row). -> COUNTERED: the poster proposes other
  // terms. -> STALE: the job changed materially.
  PENDING: ['PENDING', 'ACCEPTED', 'REJECTED', 'WITHDRAWN', 'EXPIRED', 'COUNTERED', 'STALE'],
  // -> ACCEPTED: the agent accepts the counter (acceptCounter). -> PENDING: it bids new terms instead.
  // -> COUNTERED: the poster counters again.
  COUNTERED: ['PENDING', 'ACCEPTED', 'REJECTED', 'WITHDRAWN', 'COUNTERED', 'STALE'],
  // A STALE bid cannot be accepted or countered: the agent places it again (-> PENDING) first.
  STALE: ['PENDING', 'REJECTED', 'WITHDRAWN', 'EXPIRED'],
  // -> PENDING: the job reopened (failed execution, released or lapsed assignment) and the agent bids again.
  ACCEPTED: ['PENDING'],
  REJECTED: ['PENDING'],
  WITHDRAWN: ['PENDING'],
  EXPIRED: ['PENDING'],
};

/** The event each arrival status writes (`reason` and the bid's terms go in its payload). */
const EVENT_OF: Record<BidStatus, EventType> = {
  PENDING: 'BidPlaced',
  ACCEPTED: 'BidAccepted',
  REJECTED: 'BidRejected',
  WITHDRAWN: 'BidWithdrawn',
  EXPIRED: 'BidExpired',
  COUNTERED: 'BidCountered',
  STALE: 'BidStale',
};

export function canTransitionBid(from: BidStatus, to: BidStatus): boolean {
  return BID_TRANSITIONS[from].includes(to);
}

function sourcesOf(to: BidStatus, only?: readonly BidStatus[]): BidStatus[] {
  return (Object.keys(BID_TRANSITIONS) as BidStatus[]).filter(
    (from) => canTransitionBid(from, to) && (!only || only.includes(from)),
  );
}

/** Which bids a transition considers: some ids, or a job's bids (optionally but one). */
export type BidSelector = { ids: string[] } | { jobId: string; exceptId?: string | null };

export interface BidTransitionOptions {
  /** Narrows the allowed source statuses. */
  only?: readonly BidStatus[];
  /** Why, for the bidder (e.g. 'another bid was accepted'); in the event's payload. */
  reason?: string | null;
  /** More payload for the event (e.g. the agreed credits of an acceptance). */
  data?: Record<string, unknown>;
  /** Only bids whose `expiresAt` has passed by then (expiry: a bid placed again meanwhile is spared). */
  expiredBy?: Date;
}

type MovedBid = Bid & { workspaceId: string };

/**
 * Moves every selected bid whose status may become `to` in one statement and emits one event per
 * moved bid (to its bidder, the posting workspace and the job). Returns the moved bids; bids in
 * other statuses are left alone (none moved is not an error here: see `transitionBid`).
 */
export async function transitionBids(
  tx: Tx,
  selector: BidSelector,
  to: Exclude<BidStatus, 'PENDING' | 'COUNTERED'>,
  options: BidTransitionOptions = {},
): Promise<Bid[]> {
  const sources = sourcesOf(to, options.only);
  if (sources.length === 0) return [];
  const which =
    'ids' in selector
      ? Prisma.sql`b."id" = ANY(${selector.ids}::text[])`
      : selector.exceptId
        ? Prisma.sql`b."jobId" = ${selector.jobId} AND b."id" <> ${selector.exceptId}`
        : Prisma.sql`b."jobId" = ${selector.jobId}`;
  const due = options.expiredBy ? Prisma.sql`b."expiresAt" <= ${options.expiredBy}::timestamp` : Prisma.sql`TRUE`;
  const moved = await tx.$queryRaw<MovedBid[]>`
    UPDATE "Bid" b SET "status" = ${to}::"BidStatus", "updatedAt" = ${new Date()}::timestamp
    FROM "Job" j
    WHERE j."id" = b."jobId" AND ${which} AND b."status"::text = ANY(${sources}::text[]) AND ${due}
    RETURNING b.*, j."workspaceId"`;
  await emitMany(
    tx,
    EVENT_OF[to],
    moved.map((bid) => eventTarget(bid, { reason: options.reason ?? null, ...options.data })),
  );
  return moved.map(stripWorkspace);
}

/**
 * Moves one bid; if it may not move (its status is not a source of `to`), InvalidStateError with
 * its current status, and nothing is written.
 */
export async function transitionBid(
  tx: Tx,
  bidId: string,
  to: Exclude<BidStatus, 'PENDING' | 'COUNTERED'>,
  options: BidTransitionOptions = {},
): Promise<Bid> {
  const [moved] = await transitionBids(tx, { ids: [bidId] }, to, options);
  if (moved) return moved;
  return refuse(tx, bidId, to);
}

async function refuse(tx: Tx, bidId: string, to: BidStatus): Promise<never> {
  const now = await tx.bid.findUnique({ where: { id: bidId }, select: { status: true } });
  if (!now) throw new NotFoundError('Bid', bidId);
  const hint =
    now.status === 'STALE' ? ': the job changed since it was placed, so the agent must place it again first' : '';
  throw new InvalidStateError(now.status, `This bid is ${now.status}${hint}; it cannot become ${to}`);
}

export interface CounterTerms {
  requestedCredits: number;
  estimatedMinutes: number;
  message: string;
  memberId: string | null;
}

/**
 * The poster counters a bid (PENDING or COUNTERED -> COUNTERED): one conditional `UPDATE ...
 * RETURNING` writes the counter terms, a BidVersion records them (proposed by the poster), and
 * BidCountered tells the bidder. InvalidStateError (nothing written) from any other status.
 */
export async function counterBidRow(tx: Tx, bidId: string, terms: CounterTerms): Promise<Bid> {
  const sources = sourcesOf('COUNTERED');
  const now = new Date();
  const [moved] = await tx.$queryRaw<MovedBid[]>`
    UPDATE "Bid" b SET "status" = 'COUNTERED', "counterCredits" = ${terms.requestedCredits},
      "counterMinutes" = ${terms.estimatedMinutes}, "counterMessage" = ${terms.message},
      "counteredAt" = ${now}::timestamp, "counteredById" = ${terms.memberId}, "updatedAt" = ${now}::timestamp
    FROM "Job" j
    WHERE j."id" = b."jobId" AND b."id" = ${bidId} AND b."status"::text = ANY(${sources}::text[])
    RETURNING b.*, j."workspaceId"`;
  if (!moved) return refuse(tx, bidId, 'COUNTERED');
  await tx.bidVersion.create({
    data: {
      bidId,
      proposedBy: 'POSTER',
      memberId: terms.memberId,
      requestedCredits: terms.requestedCredits,
      estimatedMinutes: terms.estimatedMinutes,
      message: terms.message,
      createdAt: now,
    },
  });
  await emitMany(tx, 'BidCountered', [
    eventTarget(moved, {
      counter: {
        requestedCredits: terms.requestedCredits,
        estimatedMinutes: terms.estimatedMinutes,
        message: terms.message,
      },
    }),
  ]);
  return stripWorkspace(moved);
}

export interface BidTerms {
  message: string;
  estimatedMinutes: number;
  requestedCredits: number;
  skillMatch: number;
  relevantExperienceIds: string[];
  expiresAt: Date;
}

/**
 * Places a bid: one `INSERT ... ON CONFLICT (jobId, agentId) DO UPDATE ... RETURNING`, so any
 * number of identical concurrent calls all succeed on one row (one inserts, the others update it
 * in turn); bidding again replaces the terms and makes the bid PENDING from any status the table
 * allows. Emits BidPlaced (`updated` tells a new bid from a revised one).
 */
export async function placeBidRow(
  tx: Tx,
  params: { jobId: string; agentId: string; workspaceId: string },
  terms: BidTerms,
): Promise<Bid> {
  const sources = sourcesOf('PENDING');
  const now = new Date();
  const [row] = await tx.$queryRaw<(Bid & { inserted: boolean })[]>`
    INSERT INTO "Bid" ("id", "jobId", "agentId", "message", "estimatedMinutes", "requestedCredits", "skillMatch",
      "relevantExperienceIds", "status", "submittedAt", "expiresAt", "updatedAt")
    VALUES (${newId()}, ${params.jobId}, ${params.agentId}, ${terms.message}, ${terms.estimatedMinutes},
      ${terms.requestedCredits}, ${terms.skillMatch}, ${terms.relevantExperienceIds}::text[], 'PENDING',
      ${now}::timestamp, ${terms.expiresAt}::timestamp, ${now}::timestamp)
    ON CONFLICT ("jobId", "agentId") DO UPDATE SET
      "message" = EXCLUDED."message",
      "estimatedMinutes" = EXCLUDED."estimatedMinutes",
      "requestedCredits" = EXCLUDED."requestedCredits",
      "skillMatch" = EXCLUDED."skillMatch",
      "relevantExperienceIds" = EXCLUDED."relevantExperienceIds",
      "status" = 'PENDING',
      "submittedAt" = EXCLUDED."submittedAt",
      "expiresAt" = EXCLUDED."expiresAt",
      "counterCredits" = NULL,
      "counterMinutes" = NULL,
      "counterMessage" = NULL,
      "counteredAt" = NULL,
      "counteredById" = NULL,
      "updatedAt" = EXCLUDED."updatedAt"
    WHERE "Bid"."status"::text = ANY(${sources}::text[])
    RETURNING *, (xmax = 0) AS "inserted"`;
  if (!row) {
    const current = await tx.bid.findUniqueOrThrow({
      where: { jobId_agentId: { jobId: params.jobId, agentId: params.agentId } },
      select: { status: true },
    });
    throw new InvalidStateError(current.status, `Your bid is ${current.status}: it cannot be placed again`);
  }
  const { inserted, ...bid } = row;
  await tx.bidVersion.create({
    data: {
      bidId: bid.id,
      proposedBy: 'AGENT',
      requestedCredits: terms.requestedCredits,
      estimatedMinutes: terms.estimatedMinutes,
      message: terms.message,
      createdAt: now,
    },
  });
  await emitMany(tx, 'BidPlaced', [eventTarget({ ...bid, workspaceId: params.workspaceId }, { updated: !inserted })]);
  return bid;
}

function eventTarget(bid: MovedBid, extra: Record<string, unknown>): EventTarget {
  return {
    jobId: bid.jobId,
    workspaceId: bid.workspaceId,
    agentId: bid.agentId,
    data: { bidId: bid.id, status: bid.status, requestedCredits: bid.requestedCredits, ...extra },
  };
}

function stripWorkspace({ workspaceId: _, ...bid }: MovedBid): Bid {
  return bid;
}
