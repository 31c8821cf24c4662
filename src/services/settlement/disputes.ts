import { z } from 'zod';
import type { Db, Tx } from '../../db/client.ts';
import type { Job } from '../../generated/prisma/client.ts';
import { isPosterSide, loadVisibleJob } from '../access/visibility.ts';
import { emit } from '../delivery/events.ts';
import { ForbiddenError, InvalidStateError, NotFoundError } from '../kernel/errors.ts';
import { withIdempotency } from '../kernel/idempotency.ts';
import { decodeId } from '../kernel/ids.ts';
import { parse } from '../kernel/validation.ts';
import { isWorkspaceAdmin, type Viewer } from '../kernel/viewer.ts';
import { settleEscrow, transfer } from '../ledger/ledger.ts';
import { releaseAgent } from '../marketplace/assignment.ts';
import { transitionJob } from '../marketplace/job-state.ts';
import { applyOutcome } from '../reputation/reputation.ts';

/** Opens a dispute inside the caller's transaction: job IN_PROGRESS | REVIEW → DISPUTED. */
export async function openDisputeTx(
  tx: Tx,
  job: Job,
  opener: { memberId: string | null; agentId: string | null },
  reason: string,
) {
  await transitionJob(tx, job.id, 'DISPUTED', {
    only: ['IN_PROGRESS', 'REVIEW'],
    data: { autoApproveAt: null },
    reason: 'dispute opened',
  });
  const dispute = await tx.dispute.create({
    data: { jobId: job.id, reason, openedByMemberId: opener.memberId, openedByAgentId: opener.agentId },
  });
  await emit(tx, 'DisputeOpened', {
    jobId: job.id,
    workspaceId: job.workspaceId,
    agentId: job.assignedAgentId,
    data: { disputeId: dispute.id, reason },
  });
  return dispute;
}

/** How long an agent may contest the cancellation of its started work. */
export const CONTEST_WINDOW_MS = 72 * 3600 * 1000;

/**
 * The agent contests the cancellation of its started work (job CANCELLED with a kill fee, within
 * 72 hours): CANCELLED → DISPUTED, and the rest of the agreed credits (what the kill fee did not
 * pay) is held in the job's escrow again from the poster's wallet, as much as it has available, so
 * the resolution has something to divide. The dispute then resolves like any other.
 */
async function contestCancellation(tx: Tx, job: Job, agentId: string, reason: string) {
  const since = new Date(Date.now() - CONTEST_WINDOW_MS);
  await transitionJob(tx, job.id, 'DISPUTED', {
    only: ['CANCELLED'],
    guard: { cancelledInProgressAt: { gte: since }, assignedAgentId: agentId },
    reason: 'the agent contests the cancellation',
  });
  const agreed = job.agreedCredits ?? job.budget;
  const rest = agreed - Math.floor((agreed * job.killFeePercent) / 100);
  const wallet = await tx.ledgerAccount.findUnique({ where: { key: `workspace:${job.workspaceId}` } });
  const amount = Math.min(rest, Number(wallet?.balance ?? 0n));
  if (amount > 0) {
    await transfer(tx, {
      from: { kind: 'WORKSPACE', workspaceId: job.workspaceId },
      to: { kind: 'ESCROW', jobId: job.id, workspaceId: job.workspaceId },
      amount,
      kind: 'HOLD',
      jobId: job.id,
      memo: 'held again for a contested cancellation',
    });
  }
  const dispute = await tx.dispute.create({ data: { jobId: job.id, reason, openedByAgentId: agentId } });
  await emit(tx, 'DisputeOpened', {
    jobId: job.id,
    workspaceId: job.workspaceId,
    agentId,
    data: { disputeId: dispute.id, reason, contestedCancellation: true, held: amount },
  });
  return dispute;
}

/**
 * The poster's members or the assigned agent open a dispute on a job in progress or in review;
 * the agent may also contest a cancellation of its started work within 72 hours.
 */
export async function openDispute(db: Db, viewer: Viewer, jobPublicId: string, reason: string) {
  const why = parse(z.string().trim().min(1, 'must not be empty').max(5_000), reason, ['reason']);
  const { job } = await loadVisibleJob(db, viewer, decodeId('Job', jobPublicId), jobPublicId);
  const poster = viewer.kind === 'member' && isPosterSide(viewer, job);
  const agent = viewer.kind === 'agent' && viewer.agentId === job.assignedAgentId;
  if (!poster && !agent) throw new ForbiddenError('Only the posting workspace or the assigned agent opens a dispute');
  if (job.status === 'CANCELLED' && viewer.kind === 'agent' && agent) {
    if (!job.cancelledInProgressAt) {
      throw new InvalidStateError('CANCELLED', 'Only a cancellation of started work (IN_PROGRESS) can be contested');
    }
    if (job.cancelledInProgressAt.getTime() < Date.now() - CONTEST_WINDOW_MS) {
      throw new InvalidStateError('CANCELLED', 'The 72 hours to contest this cancellation have passed');
    }
    // One contest per cancellation: a resolved contest is final (it would otherwise tie up the
    // poster's credits again and again).
    const contested = await db.dispute.count({
      where: { jobId: job.id, createdAt: { gte: job.cancelledInProgressAt } },
    });
    if (contested > 0) throw new InvalidStateError('CANCELLED', 'This cancellation was already contested and resolved');
    return db.$transaction((tx) => contestCancellation(tx, job, viewer.agentId, why));
  }
  return db.$transaction((tx) =>
    openDisputeTx(
      tx,
      job,
      {
        memberId: viewer.kind === 'member' ? viewer.memberId : null,
        agentId: viewer.kind === 'agent' ? viewer.agentId : null,
      },
      why,
    ),
  );
}

export const resolveInput = z
  .object({
    outcome: z.enum(['PAY_AGENT', 'REFUND', 'SPLIT']),
    agentSharePercent: z.number().int('must be a whole percentage').min(0).max(100).nullish(),
  })
  .superRefine((v, ctx) => {
    if (v.outcome === 'SPLIT' && (v.agentSharePercent === null || v.agentSharePercent === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['agentSharePercent'], message: 'is required for SPLIT (0-100)' });
    }
  });

/**
 * Resolves an OPEN dispute (OWNER/ADMIN of the posting workspace, or the platform admin):
 * PAY_AGENT releases the escrow to the agent (minus the fee) and completes the job; REFUND returns
 * it and cancels the job; SPLIT gives `agentSharePercent` to the agent and the rest back. The
 * dispute and the escrow settle exactly once (conditional update on the dispute, then the job).
 */
export async function resolveDispute(
  db: Db,
  viewer: Viewer,
  disputePublicId: string,
  input: z.input<typeof resolveInput> & { idempotencyKey?: string | null },
  policy: { feeBps: number },
) {
  const data = parse(resolveInput, input, []);
  const dispute = await db.dispute.findUnique({
    where: { id: decodeId('Dispute', disputePublicId) },
    include: { job: true },
  });
  if (!dispute) throw new NotFoundError('Dispute', disputePublicId);
  const platform = viewer.kind === 'platform';
  if (!platform && !isPosterSide(viewer, dispute.job)) throw new NotFoundError('Dispute', disputePublicId);
  if (!platform && !isWorkspaceAdmin(viewer, dispute.job.workspaceId)) {
    throw new ForbiddenError(
      'Only an OWNER or ADMIN of the posting workspace, or the platform admin, resolves disputes',
    );
  }
  const share = data.outcome === 'PAY_AGENT' ? 100 : data.outcome === 'REFUND' ? 0 : (data.agentSharePercent ?? 0);
  const args = { disputeId: dispute.id, outcome: data.outcome, share };
  return withIdempotency(db, viewer, input.idempotencyKey, 'resolveDispute', args, async (tx) => {
    const claimed = await tx.dispute.updateMany({
      where: { id: dispute.id, status: 'OPEN' },
      data: {
        status: 'RESOLVED',
        outcome: data.outcome,
        agentSharePercent: share,
        resolvedAt: new Date(),
        resolvedById: viewer.kind === 'member' ? viewer.memberId : null,
        resolvedByPlatform: platform,
      },
    });
    if (claimed.count === 0) throw new InvalidStateError('RESOLVED', 'This dispute is already resolved');
    const job = await transitionJob(tx, dispute.jobId, share > 0 ? 'COMPLETED' : 'CANCELLED', {
      only: ['DISPUTED'],
      reason: `dispute resolved: ${data.outcome}`,
    });
    // A contested cancellation: the kill fee was paid and the agent freed at cancellation; what is
    // divided is what the contest held again (possibly nothing), and no outcome is counted twice.
    const contested = job.cancelledInProgressAt !== null;
    const settlement = await settleEscrow(tx, job, share, {
      feeBps: policy.feeBps,
      reason: `dispute ${data.outcome}`,
      allowEmpty: contested,
    });
    if (!contested) await releaseAgent(tx, job.assignedAgentId);
    if (job.assignedAgentId && !contested) {
      await applyOutcome(
        tx,
        job.assignedAgentId,
        job.requiredSkills,
        data.outcome === 'PAY_AGENT'
          ? { kind: 'completed', rating: null, estimatedMinutes: null, actualMinutes: 1 }
          : { kind: 'disputed' },
      );
    }
    await emit(tx, 'DisputeResolved', {
      jobId: job.id,
      workspaceId: job.workspaceId,
      agentId: job.assignedAgentId,
      data: { disputeId: dispute.id, outcome: data.outcome, agentSharePercent: share, ...settlement },
    });
    return { disputeId: dispute.id, jobId: job.id };
  });
}
