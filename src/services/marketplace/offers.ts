import { z } from 'zod';
import type { Db, Tx } from '../../db/client.ts';
import type { Offer } from '../../generated/prisma/client.ts';
import { canSeeJob, isPosterSide } from '../access/visibility.ts';
import { emit } from '../delivery/events.ts';
import { ConflictError, ForbiddenError, InvalidStateError, NotEligibleError, NotFoundError } from '../kernel/errors.ts';
import { withIdempotency } from '../kernel/idempotency.ts';
import { decodeId } from '../kernel/ids.ts';
import { fields, parse } from '../kernel/validation.ts';
import type { Viewer } from '../kernel/viewer.ts';
import { transfer } from '../ledger/ledger.ts';
import { assignAgent } from './assignment.ts';
import { requireApprover } from './bids.ts';
import { availabilityReasons, eligibilityReasons, loadOwnJob } from './jobs.ts';
import { transitionOffer, transitionOffers } from './offer-state.ts';

const DEFAULT_OFFER_TTL_MS = 72 * 3600 * 1000;
const MAX_OFFER_TTL_MS = 30 * 24 * 3600 * 1000;
export const MAX_START_WITHIN_MINUTES = 30 * 24 * 60;

export const offerJobInput = z.object({
  jobId: fields.id,
  agentId: fields.id,
  credits: fields.credits,
  estimatedMinutes: z
    .number()
    .int('must be a whole number of minutes')
    .min(1, 'must be at least 1 minute')
    .max(60 * 24 * 365)
    .nullish(),
  message: z.string().trim().max(5_000, 'must be at most 5000 characters').default(''),
  expiresAt: z.coerce
    .date({ error: 'must be a date-time' })
    .refine((d) => d.getTime() > Date.now(), 'must be in the future')
    .refine((d) => d.getTime() <= Date.now() + MAX_OFFER_TTL_MS, 'must be within 30 days')
    .nullish(),
  startWithinMinutes: z
    .number()
    .int('must be a whole number of minutes')
    .min(1, 'must be at least 1 minute')
    .max(MAX_START_WITHIN_MINUTES, `must be at most ${MAX_START_WITHIN_MINUTES} minutes (30 days)`)
    .nullish(),
  idempotencyKey: z.string().max(200).nullish(),
});

/**
 * The poster's OWNER/ADMIN offers an OPEN job to one agent at a price (direct hire with consent).
 * The credits are held in the job's escrow at once, so an accepted offer never fails on funds;
 * they go back when the offer is declined, withdrawn or expires, or the job goes to someone else.
 * The agent must be available (ONLINE or BUSY, not suspended) and eligible; it is invited to the
 * job so it can see it whatever the visibility. One PENDING offer per job and agent.
 */
export async function offerJob(db: Db, viewer: Viewer, input: z.input<typeof offerJobInput>): Promise<Offer> {
  const data = parse(offerJobInput, input);
  const job = await loadOwnJob(db, viewer, data.jobId);
  requireApprover(viewer, job);
  const agentId = decodeId('Agent', data.agentId);
  const agent = await db.agent.findUnique({ where: { id: agentId } });
  if (!agent) throw new NotFoundError('Agent', data.agentId);
  const offerArgs = { jobId: job.id, agentId, credits: data.credits, minutes: data.estimatedMinutes ?? null };
  return withIdempotency(db, viewer, data.idempotencyKey, 'offerJob', offerArgs, async (tx) => {
    // The job's row lock: an acceptance of a bid or another offer waits for this one (and then
    // withdraws it), and no offer slips in after the job left OPEN.
    const [locked] = await tx.$queryRaw<
      { status: string; startWithinMinutes: number }[]
    >`SELECT "status", "startWithinMinutes" FROM "Job" WHERE "id" = ${job.id} FOR UPDATE`;
    if (locked?.status !== 'OPEN') {
      throw new InvalidStateError(
        locked?.status ?? 'UNKNOWN',
        `Offers are made on OPEN jobs; this one is ${locked?.status}`,
      );
    }
    const reasons = [
      ...availabilityReasons(agent),
      ...(await eligibilityReasons(tx, job, agentId, { forAssignment: false })),
    ];
    if (reasons.length) throw new NotEligibleError(reasons);
    const pending = await tx.offer.findFirst({ where: { jobId: job.id, agentId, status: 'PENDING' } });
    if (pending) {
      throw new ConflictError('This agent already has a PENDING offer for this job: withdraw it before making another');
    }
    const offer = await tx.offer.create({
      data: {
        jobId: job.id,
        agentId,
        workspaceId: job.workspaceId,
        offeredById: viewer.kind === 'member' ? viewer.memberId : null,
        credits: data.credits,
        estimatedMinutes: data.estimatedMinutes ?? null,
        message: data.message,
        expiresAt: data.expiresAt ?? new Date(Date.now() + DEFAULT_OFFER_TTL_MS),
        startWithinMinutes: data.startWithinMinutes ?? locked.startWithinMinutes,
      },
    });
    await transfer(tx, {
      from: { kind: 'WORKSPACE', workspaceId: job.workspaceId },
      to: { kind: 'ESCROW', jobId: job.id, workspaceId: job.workspaceId },
      amount: data.credits,
      kind: 'HOLD',
      jobId: job.id,
      memo: 'escrow hold for an offer',
      amountPath: ['input', 'credits'],
    });
    // Invited, so the agent can see the job (and its events) whatever its visibility.
    await tx.jobInvitation.upsert({
      where: { jobId_agentId: { jobId: job.id, agentId } },
      create: { jobId: job.id, agentId },
      update: {},
    });
    await emit(tx, 'OfferMade', {
      jobId: job.id,
      workspaceId: job.workspaceId,
      agentId,
      data: {
        offerId: offer.id,
        status: 'PENDING',
        credits: offer.credits,
        estimatedMinutes: offer.estimatedMinutes,
        message: offer.message,
        expiresAt: offer.expiresAt.toISOString(),
        startWithinMinutes: offer.startWithinMinutes,
      },
    });
    return offer;
  });
}

/** An offer is visible to the posting workspace and to the agent it was made to; to anyone else it does not exist. */
export function canSeeOffer(viewer: Viewer, offer: { workspaceId: string; agentId: string }): boolean {
  return isPosterSide(viewer, offer) || (viewer.kind === 'agent' && viewer.agentId === offer.agentId);
}

async function loadOffer(db: Db | Tx, viewer: Viewer, offerPublicId: string) {
  const offer = await db.offer.findUnique({ where: { id: decodeId('Offer', offerPublicId) }, include: { job: true } });
  if (!offer || !canSeeOffer(viewer, offer)) throw new NotFoundError('Offer', offerPublicId);
  return offer;
}

function requireOfferee(viewer: Viewer, offer: Offer, verb: string) {
  if (viewer.kind !== 'agent' || viewer.agentId !== offer.agentId) {
    throw new ForbiddenError(`Only the agent the offer was made to may ${verb} it: call with its API key`);
  }
}

/**
 * The agent accepts a PENDING, unexpired offer: the job becomes ASSIGNED to it at the offer's
 * credits (already in escrow), every other bid is rejected and every other offer withdrawn, in one
 * transaction. Exactly one of any number of concurrent acceptances (of bids, counters, offers, or a
 * direct hire) on one job wins. Idempotent with `idempotencyKey`.
 */
export async function acceptOffer(
  db: Db,
  viewer: Viewer,
  offerPublicId: string,
  options: { idempotencyKey?: string | null } = {},
): Promise<{ jobId: string; offerId: string }> {
  const offer = await loadOffer(db, viewer, offerPublicId);
  requireOfferee(viewer, offer, 'accept');
  return withIdempotency(db, viewer, options.idempotencyKey, 'acceptOffer', { offerId: offer.id }, async (tx) => {
    if (offer.status !== 'PENDING') throw new InvalidStateError(offer.status, `This offer is ${offer.status}`);
    const reasons = await eligibilityReasons(tx, offer.job, offer.agentId, { forAssignment: true });
    if (reasons.length) throw new NotEligibleError(reasons);
    // The job first (its lock orders everything after it), then this offer.
    await assignAgent(tx, {
      jobId: offer.jobId,
      agentId: offer.agentId,
      credits: offer.credits,
      offerId: offer.id,
      startWithinMinutes: offer.startWithinMinutes,
      reason: 'offer accepted',
    });
    await transitionOffer(tx, offer.id, 'ACCEPTED', { notExpiredAt: new Date() });
    return { jobId: offer.jobId, offerId: offer.id };
  });
}

export const declineReason = z
  .string()
  .trim()
  .max(2_000, 'must be at most 2000 characters')
  .nullish()
  .transform((v) => v || null);

/** The agent declines a PENDING offer; its credits go back to the poster. */
export async function declineOffer(db: Db, viewer: Viewer, offerPublicId: string, reason?: string | null) {
  const why = parse(declineReason, reason, ['reason']);
  const offer = await loadOffer(db, viewer, offerPublicId);
  requireOfferee(viewer, offer, 'decline');
  return db.$transaction((tx) => transitionOffer(tx, offer.id, 'DECLINED', { reason: why ?? 'declined by the agent' }));
}

/** The poster's OWNER/ADMIN withdraws a PENDING offer; its credits go back. */
export async function withdrawOffer(db: Db, viewer: Viewer, offerPublicId: string) {
  const offer = await loadOffer(db, viewer, offerPublicId);
  if (viewer.kind === 'agent')
    throw new ForbiddenError('Only the posting workspace withdraws an offer; the agent declines it');
  requireApprover(viewer, offer.job);
  return db.$transaction((tx) => transitionOffer(tx, offer.id, 'WITHDRAWN', { reason: 'withdrawn by the poster' }));
}

/**
 * PENDING offers past their `expiresAt` become EXPIRED, their credits refunded, each with
 * OfferExpired (the scheduler runs this). One offer per transaction; safe in many processes: the
 * conditional update moves each offer once, whichever process gets there first.
 */
export async function expireOffers(db: Db, now = new Date()): Promise<number> {
  const due = await db.offer.findMany({
    where: { status: 'PENDING', expiresAt: { lte: now } },
    select: { id: true },
    orderBy: { expiresAt: 'asc' },
    take: 500,
  });
  let expired = 0;
  for (const { id } of due) {
    const moved = await db.$transaction((tx) =>
      transitionOffers(tx, { ids: [id] }, 'EXPIRED', { expiredBy: now, reason: 'the offer passed its expiresAt' }),
    );
    expired += moved.length;
  }
  return expired;
}

/** Whether an agent may see a job, from the agent's side (used when the poster messages or offers). */
export async function agentCanSeeJob(
  db: Db | Tx,
  job: { id: string; workspaceId: string; visibility: 'PRIVATE' | 'WORKSPACE' | 'PUBLIC' },
  agent: { id: string; workspaceId: string },
): Promise<boolean> {
  const invited = await db.jobInvitation.findUnique({ where: { jobId_agentId: { jobId: job.id, agentId: agent.id } } });
  const excluded = await db.jobExclusion.findUnique({ where: { jobId_agentId: { jobId: job.id, agentId: agent.id } } });
  return canSeeJob(
    { kind: 'agent', agentId: agent.id, workspaceId: agent.workspaceId, apiKeyId: null },
    {
      workspaceId: job.workspaceId,
      visibility: job.visibility,
      invited: Boolean(invited),
      excluded: Boolean(excluded),
    },
  );
}
