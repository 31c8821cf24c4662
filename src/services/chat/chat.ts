import type { Db, Tx } from '../../db/client.ts';
import type { ChatPlatform } from '../../generated/prisma/enums.ts';
import { bidVisibilityWhere, canSeeBid, isPosterSide, loadVisibleJob } from '../access/visibility.ts';
import { ForbiddenError, NotFoundError } from '../kernel/errors.ts';
import { decodeId, encodeId } from '../kernel/ids.ts';
import { isWorkspaceAdmin, type Viewer } from '../kernel/viewer.ts';
import { searchJobIds } from '../marketplace/jobs.ts';
import { canSeeMessage } from '../marketplace/messages.ts';
import { canSeeOffer } from '../marketplace/offers.ts';

/**
 * Read models and bookkeeping the chat bots need (src/bots never touches Prisma). Reads that serve
 * a chat user take their viewer and apply the same visibility as the API; the notifier's reads run
 * for channels of the posting workspace, which is the poster side and sees everything of its jobs.
 */
export interface ChannelRef {
  platform: ChatPlatform;
  teamId: string;
  channelId: string;
}

/** `/agentwork connect <project>`: this channel receives that project's events (OWNER/ADMIN). */
export async function connectChannel(db: Db, viewer: Viewer, channel: ChannelRef, projectName: string) {
  if (viewer.kind !== 'member' || !isWorkspaceAdmin(viewer))
    throw new ForbiddenError('Only an OWNER or ADMIN connects channels');
  const project = await db.project.findFirst({
    where: { workspaceId: viewer.workspaceId, name: { equals: projectName, mode: 'insensitive' } },
  });
  if (!project) throw new NotFoundError('Project', projectName);
  await db.chatChannelLink.upsert({
    where: {
      platform_teamId_channelId: { platform: channel.platform, teamId: channel.teamId, channelId: channel.channelId },
    },
    create: {
      platform: channel.platform,
      teamId: channel.teamId,
      channelId: channel.channelId,
      workspaceId: viewer.workspaceId,
      projectId: project.id,
    },
    update: { workspaceId: viewer.workspaceId, projectId: project.id },
  });
  return project;
}

export async function channelLink(db: Db, channel: ChannelRef) {
  if (!channel.channelId) return null;
  return db.chatChannelLink.findUnique({
    where: {
      platform_teamId_channelId: { platform: channel.platform, teamId: channel.teamId, channelId: channel.channelId },
    },
  });
}

/** Channels that receive a job's events: connected to its project, or to its whole workspace. */
export async function channelsForJob(db: Db | Tx, job: { workspaceId: string; projectId: string }) {
  return db.chatChannelLink.findMany({
    where: { workspaceId: job.workspaceId, OR: [{ projectId: job.projectId }, { projectId: null }] },
  });
}

const jobSummary = (j: {
  id: string;
  title: string;
  status: string;
  budget: number;
  requiredSkills: string[];
  visibility: string;
  deadline: Date | null;
  _count?: { bids: number };
}) => ({
  id: encodeId('Job', j.id),
  title: j.title,
  status: j.status,
  budget: j.budget,
  requiredSkills: j.requiredSkills,
  visibility: j.visibility,
  deadline: j.deadline,
  bidCount: j._count?.bids,
});

export async function listOpenJobs(
  db: Db,
  viewer: Viewer,
  options: { projectId: string | null; page: number; pageSize?: number },
) {
  const size = options.pageSize ?? 5;
  const ids = await searchJobIds(
    db,
    viewer,
    { status: ['OPEN'], projectId: options.projectId ? encodeId('Project', options.projectId) : undefined },
    { offset: (options.page - 1) * size, limit: size + 1 },
  );
  const rows = await db.job.findMany({
    where: { id: { in: ids.slice(0, size) } },
    include: { _count: { select: { bids: { where: { status: 'PENDING' } } } } },
  });
  const byId = new Map(rows.map((r) => [r.id, r]));
  return {
    jobs: ids.slice(0, size).flatMap((id) => (byId.has(id) ? [jobSummary(byId.get(id)!)] : [])),
    hasMore: ids.length > size,
  };
}

export async function jobStatus(db: Db, viewer: Viewer, jobPublicId: string) {
  const { job } = await loadVisibleJob(db, viewer, decodeId('Job', jobPublicId), jobPublicId);
  const full = await db.job.findUniqueOrThrow({
    where: { id: job.id },
    include: {
      assignedAgent: { select: { name: true } },
      executions: { orderBy: { startedAt: 'desc' }, take: 1 },
      _count: { select: { bids: { where: bidVisibilityWhere(viewer) } } },
    },
  });
  const exe = isPosterSide(viewer, job) ? full.executions[0] : undefined;
  return {
    ...jobSummary(full),
    assignedAgent: full.assignedAgent?.name ?? null,
    progress: exe?.progress ?? null,
    executionStatus: exe?.status ?? null,
  };
}

const bidInclude = {
  job: { select: { id: true, title: true, workspaceId: true } },
  agent: { select: { name: true, reputation: { select: { overallScore: true, badges: true } } } },
} as const;

type BidRow = Awaited<ReturnType<typeof loadBidRow>>;
const loadBidRow = async (db: Db | Tx, id: string) => {
  const row = await db.bid.findUniqueOrThrow({ where: { id }, include: bidInclude });
  // Bid.counteredById names a member without a relation: one lookup, only for countered bids.
  const counteredBy = row.counteredById
    ? await db.member.findUnique({ where: { id: row.counteredById }, select: { name: true } })
    : null;
  return { ...row, counteredBy };
};

export function bidSummary(b: Omit<NonNullable<BidRow>, 'counteredBy'> & { counteredBy?: { name: string } | null }) {
  return {
    id: encodeId('Bid', b.id),
    jobId: encodeId('Job', b.job.id),
    jobTitle: b.job.title,
    agentName: b.agent.name,
    reputation: b.agent.reputation?.overallScore ?? 0,
    badges: b.agent.reputation?.badges ?? [],
    skillMatch: b.skillMatch,
    requestedCredits: b.requestedCredits,
    estimatedMinutes: b.estimatedMinutes,
    message: b.message,
    status: b.status,
    // The poster's standing counter-offer (status COUNTERED), for the card.
    counter:
      b.counterCredits !== null
        ? {
            requestedCredits: b.counterCredits,
            estimatedMinutes: b.counterMinutes ?? b.estimatedMinutes,
            message: b.counterMessage ?? '',
            by: b.counteredBy?.name ?? null,
          }
        : null,
  };
}

export async function bidsForJob(db: Db, viewer: Viewer, jobPublicId: string) {
  const { job } = await loadVisibleJob(db, viewer, decodeId('Job', jobPublicId), jobPublicId);
  const bids = await db.bid.findMany({
    where: { jobId: job.id, ...bidVisibilityWhere(viewer) },
    include: bidInclude,
    orderBy: { submittedAt: 'asc' },
    take: 20,
  });
  return { jobTitle: job.title, bids: bids.map(bidSummary) };
}

/** A bid as the viewer may see it (poster side or the bidder), else NotFoundError. */
export async function visibleBidSummary(db: Db, viewer: Viewer, bidId: string) {
  const row = await db.bid.findUnique({ where: { id: bidId }, include: bidInclude });
  if (!row || !canSeeBid(viewer, row.job, row)) throw new NotFoundError('Bid', encodeId('Bid', bidId));
  return bidSummary(await loadBidRow(db, bidId));
}

/** Internal (notifier): a bid by database id. */
export async function bidSummaryById(db: Db | Tx, bidId: string) {
  return bidSummary(await loadBidRow(db, bidId));
}

/** Internal (notifier): the state of an execution for the live progress message. */
export async function progressSummary(db: Db | Tx, executionId: string) {
  const e = await db.execution.findUniqueOrThrow({
    where: { id: executionId },
    include: {
      job: { select: { id: true, title: true, status: true } },
      agent: { select: { name: true } },
      steps: { orderBy: { index: 'asc' } },
      artifacts: { select: { name: true, url: true } },
      _count: { select: { toolCalls: true } },
    },
  });
  const resultSummary =
    e.result && typeof e.result === 'object' && 'summary' in e.result
      ? String((e.result as { summary: unknown }).summary)
      : null;
  return {
    jobId: encodeId('Job', e.job.id),
    jobTitle: e.job.title,
    agentName: e.agent.name,
    status: e.job.status === 'COMPLETED' ? 'COMPLETED' : e.status,
    progress: e.progress,
    steps: e.steps.map((s) => ({ index: s.index, kind: s.kind, message: s.message })),
    toolCalls: e._count.toolCalls,
    result: e.submittedAt ? { summary: resultSummary, artifacts: e.artifacts } : null,
  };
}

export async function reviewSummary(db: Db | Tx, executionId: string) {
  const p = await progressSummary(db, executionId);
  return {
    executionId: encodeId('Execution', executionId),
    jobId: p.jobId,
    jobTitle: p.jobTitle,
    agentName: p.agentName,
    summary: p.result?.summary ?? null,
    artifacts: p.result?.artifacts.map((a) => a.name) ?? [],
  };
}

/** A question as a member of the posting workspace sees it, else NotFoundError. */
export async function visibleInputRequest(db: Db, viewer: Viewer, inputRequestId: string) {
  const r = await db.inputRequest.findUnique({
    where: { id: inputRequestId },
    select: { execution: { select: { job: { select: { workspaceId: true } } } } },
  });
  if (!r || !isPosterSide(viewer, r.execution.job))
    throw new NotFoundError('InputRequest', encodeId('InputRequest', inputRequestId));
  return inputRequestSummary(db, inputRequestId);
}

export async function inputRequestSummary(db: Db | Tx, inputRequestId: string) {
  const r = await db.inputRequest.findUniqueOrThrow({
    where: { id: inputRequestId },
    include: {
      execution: { select: { job: { select: { title: true } }, agent: { select: { name: true } } } },
      answeredBy: { select: { name: true } },
    },
  });
  return {
    id: encodeId('InputRequest', r.id),
    jobTitle: r.execution.job.title,
    agentName: r.execution.agent.name,
    question: r.question,
    answer: r.answer,
    answeredBy: r.answeredBy?.name ?? null,
  };
}

/** Internal (notifier): an offer by database id, for its card in the job's channels. */
export async function offerSummaryById(db: Db | Tx, offerId: string) {
  const o = await db.offer.findUniqueOrThrow({
    where: { id: offerId },
    include: { job: { select: { id: true, title: true } }, agent: { select: { name: true } } },
  });
  const offeredBy = o.offeredById
    ? await db.member.findUnique({ where: { id: o.offeredById }, select: { name: true } })
    : null;
  return {
    id: encodeId('Offer', o.id),
    jobId: encodeId('Job', o.job.id),
    jobTitle: o.job.title,
    agentName: o.agent.name,
    credits: o.credits,
    estimatedMinutes: o.estimatedMinutes,
    message: o.message,
    status: o.status,
    reason: o.reason,
    expiresAt: o.expiresAt,
    offeredBy: offeredBy?.name ?? null,
  };
}

/** An offer as the viewer may see it (the posting workspace or its agent), else NotFoundError. */
export async function visibleOfferSummary(db: Db, viewer: Viewer, offerId: string) {
  const o = await db.offer.findUnique({ where: { id: offerId }, select: { workspaceId: true, agentId: true } });
  if (!o || !canSeeOffer(viewer, o)) throw new NotFoundError('Offer', encodeId('Offer', offerId));
  return offerSummaryById(db, offerId);
}

/** Internal (notifier): a message of a job's thread by database id. */
export async function messageSummaryById(db: Db | Tx, messageId: string) {
  const m = await db.message.findUniqueOrThrow({
    where: { id: messageId },
    include: {
      job: { select: { id: true, title: true } },
      agent: { select: { id: true, name: true } },
      authorMember: { select: { name: true } },
    },
  });
  return {
    id: encodeId('Message', m.id),
    jobId: encodeId('Job', m.job.id),
    jobTitle: m.job.title,
    agentId: encodeId('Agent', m.agent.id),
    agentName: m.agent.name,
    authorKind: m.authorKind,
    authorName: m.authorKind === 'AGENT' ? m.agent.name : (m.authorMember?.name ?? 'the workspace'),
    body: m.body,
    createdAt: m.createdAt,
  };
}

/** A message as the viewer may read it (the posting workspace or the thread's agent), else NotFoundError. */
export async function visibleMessageSummary(db: Db, viewer: Viewer, messageId: string) {
  const m = await db.message.findUnique({
    where: { id: messageId },
    select: { agentId: true, job: { select: { workspaceId: true } } },
  });
  if (!m || !canSeeMessage(viewer, m.job, m)) throw new NotFoundError('Message', encodeId('Message', messageId));
  return messageSummaryById(db, messageId);
}

// ───────────── messages the bots posted (update in place, who decided) ─────────────

export interface ChatMessageRef extends ChannelRef {
  kind: string;
  refId: string;
}

export async function findChatMessage(db: Db | Tx, ref: Omit<ChatMessageRef, 'teamId'>) {
  return db.chatMessage.findUnique({
    where: {
      platform_channelId_kind_refId: {
        platform: ref.platform,
        channelId: ref.channelId,
        kind: ref.kind,
        refId: ref.refId,
      },
    },
  });
}

export async function saveChatMessage(db: Db | Tx, ref: Omit<ChatMessageRef, 'teamId'>, messageId: string) {
  await db.chatMessage.upsert({
    where: {
      platform_channelId_kind_refId: {
        platform: ref.platform,
        channelId: ref.channelId,
        kind: ref.kind,
        refId: ref.refId,
      },
    },
    create: { platform: ref.platform, channelId: ref.channelId, kind: ref.kind, refId: ref.refId, messageId },
    update: { messageId },
  });
}

/** Records who decided on a card (first decision wins); returns who decided first. */
export async function recordDecision(
  db: Db | Tx,
  ref: Omit<ChatMessageRef, 'teamId'>,
  decidedBy: string,
): Promise<string> {
  await db.chatMessage.updateMany({
    where: { platform: ref.platform, channelId: ref.channelId, kind: ref.kind, refId: ref.refId, decidedBy: null },
    data: { decidedBy },
  });
  const row = await findChatMessage(db, ref);
  return row?.decidedBy ?? decidedBy;
}

/** Who decided on a ref in any channel (for "already decided by …" answers). */
export async function decisionOf(db: Db | Tx, kind: string, refId: string): Promise<string | null> {
  const row = await db.chatMessage.findFirst({ where: { kind, refId, decidedBy: { not: null } } });
  return row?.decidedBy ?? null;
}

export async function memberName(db: Db, memberId: string) {
  return (await db.member.findUnique({ where: { id: memberId }, select: { name: true } }))?.name ?? null;
}
