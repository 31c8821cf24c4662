import type { Tx } from '../../db/client.ts';
import { type Offer, Prisma } from '../../generated/prisma/client.ts';
import type { OfferStatus } from '../../generated/prisma/enums.ts';
import { type EventType, emitMany } from '../delivery/events.ts';
import { InvalidStateError, NotFoundError } from '../kernel/errors.ts';
import { transfer } from '../ledger/ledger.ts';

/**
 * The offer lifecycle (api-contract.md "Dealing between strangers"). An offer's credits are held
 * in the job's escrow from the moment it is made, so this module is also where they go back: every
 * arrival other than ACCEPTED refunds exactly the offer's credits to the posting workspace, in the
 * same transaction as the status change and its event. One conditional `UPDATE ... RETURNING`
 * moves any number of offers (an acceptance withdraws the job's other offers), so of concurrent
 * moves of one offer exactly one wins.
 *
 * Locking: callers that also move the job (acceptOffer, assignment, cancellation, expiry) move the
 * job first; offers are then locked by this UPDATE, ledger accounts last (in id order).
 */
export const OFFER_TRANSITIONS: Record<OfferStatus, readonly OfferStatus[]> = {
  PENDING: ['ACCEPTED', 'DECLINED', 'WITHDRAWN', 'EXPIRED'],
  ACCEPTED: [],
  DECLINED: [],
  WITHDRAWN: [],
  EXPIRED: [],
};

const EVENT_OF: Record<Exclude<OfferStatus, 'PENDING'>, EventType> = {
  ACCEPTED: 'OfferAccepted',
  DECLINED: 'OfferDeclined',
  WITHDRAWN: 'OfferWithdrawn',
  EXPIRED: 'OfferExpired',
};

export function canTransitionOffer(from: OfferStatus, to: OfferStatus): boolean {
  return OFFER_TRANSITIONS[from].includes(to);
}

export type OfferSelector = { ids: string[] } | { jobId: string; exceptId?: string | null };

/**
 * Moves every selected offer that may become `to` (one statement), refunds the credits of each
 * one that did not become ACCEPTED, and emits one event per moved offer (to the agent, the posting
 * workspace and the job). `expiredBy` only moves offers whose `expiresAt` passed by then.
 */
export async function transitionOffers(
  tx: Tx,
  selector: OfferSelector,
  to: Exclude<OfferStatus, 'PENDING'>,
  options: { reason?: string | null; expiredBy?: Date; notExpiredAt?: Date } = {},
): Promise<Offer[]> {
  const sources = (Object.keys(OFFER_TRANSITIONS) as OfferStatus[]).filter((from) => canTransitionOffer(from, to));
  const which =
    'ids' in selector
      ? Prisma.sql`"id" = ANY(${selector.ids}::text[])`
      : selector.exceptId
        ? Prisma.sql`"jobId" = ${selector.jobId} AND "id" <> ${selector.exceptId}`
        : Prisma.sql`"jobId" = ${selector.jobId}`;
  const due = options.expiredBy
    ? Prisma.sql`"expiresAt" <= ${options.expiredBy}::timestamp`
    : options.notExpiredAt
      ? Prisma.sql`"expiresAt" > ${options.notExpiredAt}::timestamp`
      : Prisma.sql`TRUE`;
  const now = new Date();
  const moved = await tx.$queryRaw<Offer[]>`
    UPDATE "Offer" SET "status" = ${to}::"OfferStatus", "reason" = ${options.reason ?? null},
      "respondedAt" = ${now}::timestamp, "updatedAt" = ${now}::timestamp
    WHERE ${which} AND "status"::text = ANY(${sources}::text[]) AND ${due}
    RETURNING *`;
  if (to !== 'ACCEPTED') {
    for (const offer of moved) {
      await transfer(tx, {
        from: { kind: 'ESCROW', jobId: offer.jobId, workspaceId: offer.workspaceId },
        to: { kind: 'WORKSPACE', workspaceId: offer.workspaceId },
        amount: offer.credits,
        kind: 'REFUND',
        jobId: offer.jobId,
        memo: `offer ${to.toLowerCase()}`,
      });
    }
  }
  await emitMany(
    tx,
    EVENT_OF[to],
    moved.map((offer) => ({
      jobId: offer.jobId,
      workspaceId: offer.workspaceId,
      agentId: offer.agentId,
      data: { offerId: offer.id, status: to, credits: offer.credits, reason: options.reason ?? null },
    })),
  );
  return moved;
}

/** Moves one offer, or InvalidStateError with its current status (nothing written). */
export async function transitionOffer(
  tx: Tx,
  offerId: string,
  to: Exclude<OfferStatus, 'PENDING'>,
  options: { reason?: string | null; notExpiredAt?: Date } = {},
): Promise<Offer> {
  const [moved] = await transitionOffers(tx, { ids: [offerId] }, to, options);
  if (moved) return moved;
  const now = await tx.offer.findUnique({ where: { id: offerId }, select: { status: true, expiresAt: true } });
  if (!now) throw new NotFoundError('Offer', offerId);
  if (now.status === 'PENDING' && options.notExpiredAt && now.expiresAt <= options.notExpiredAt) {
    throw new InvalidStateError('EXPIRED', 'This offer expired');
  }
  throw new InvalidStateError(now.status, `This offer is ${now.status}: it cannot become ${to}`);
}
