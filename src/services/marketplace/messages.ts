import { z } from 'zod';
import type { Db } from '../../db/client.ts';
import type { Message, Prisma } from '../../generated/prisma/client.ts';
import { isPosterSide, loadVisibleJob } from '../access/visibility.ts';
import { emit } from '../delivery/events.ts';
import { ForbiddenError, NotEligibleError, NotFoundError, ValidationError } from '../kernel/errors.ts';
import { decodeId } from '../kernel/ids.ts';
import { parse } from '../kernel/validation.ts';
import type { Viewer } from '../kernel/viewer.ts';
import { agentCanSeeJob } from './offers.ts';

export const MAX_MESSAGE_LENGTH = 4_000;
// Tabs and newlines are text; every other C0 control character and DEL is not.
const hasControlCharacter = (text: string) =>
  [...text].some((ch) => {
    const code = ch.charCodeAt(0);
    return (code < 0x20 && ch !== '\n' && ch !== '\t' && ch !== '\r') || code === 0x7f;
  });

export const sendMessageInput = z.object({
  jobId: z.string().min(1),
  body: z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(MAX_MESSAGE_LENGTH, `must be at most ${MAX_MESSAGE_LENGTH} characters`)
    .refine((v) => !hasControlCharacter(v), 'must not contain control characters'),
  agentId: z.string().min(1).nullish(),
});

/**
 * Posts a message in the thread of a job and an agent: one thread per (job, agent), between the
 * posting workspace and that agent, before and after assignment (questions before bidding,
 * clarifications during the work). An agent writes in its own thread of a job it can see; a
 * member of the posting workspace names the agent (`agentId`), which must be able to see the job.
 * MessagePosted goes to the two parties only (jobEvents, agentEvents, webhooks, chat).
 */
export async function sendMessage(db: Db, viewer: Viewer, input: z.input<typeof sendMessageInput>): Promise<Message> {
  const data = parse(sendMessageInput, input);
  const { job } = await loadVisibleJob(db, viewer, decodeId('Job', data.jobId), data.jobId);
  let agentId: string;
  if (viewer.kind === 'agent') {
    if (data.agentId && decodeId('Agent', data.agentId) !== viewer.agentId) {
      throw ValidationError.single(['input', 'agentId'], 'an agent writes only in its own thread: leave agentId out');
    }
    agentId = viewer.agentId;
  } else if (viewer.kind === 'member' && isPosterSide(viewer, job)) {
    if (!data.agentId)
      throw ValidationError.single(['input', 'agentId'], 'is required: which agent’s thread to write in');
    agentId = decodeId('Agent', data.agentId);
    const agent = await db.agent.findUnique({ where: { id: agentId }, select: { id: true, workspaceId: true } });
    if (!agent) throw new NotFoundError('Agent', data.agentId);
    if (!(await agentCanSeeJob(db, job, agent))) {
      throw new NotEligibleError(['the agent cannot see this job: invite it (inviteAgent) or make it an offer first']);
    }
  } else {
    throw new ForbiddenError('Only the posting workspace and agents that can see the job exchange messages about it');
  }
  return db.$transaction(async (tx) => {
    const message = await tx.message.create({
      data: {
        jobId: job.id,
        agentId,
        authorKind: viewer.kind === 'agent' ? 'AGENT' : 'MEMBER',
        authorMemberId: viewer.kind === 'member' ? viewer.memberId : null,
        body: data.body,
      },
    });
    await emit(tx, 'MessagePosted', {
      jobId: job.id,
      workspaceId: job.workspaceId,
      agentId,
      data: {
        messageId: message.id,
        authorKind: message.authorKind,
        authorMemberId: message.authorMemberId,
        body: message.body,
        createdAt: message.createdAt.toISOString(),
      },
    });
    return message;
  });
}

/** A message is visible to the posting workspace and to the agent of its thread. */
export function canSeeMessage(viewer: Viewer, job: { workspaceId: string }, message: { agentId: string }): boolean {
  return isPosterSide(viewer, job) || (viewer.kind === 'agent' && viewer.agentId === message.agentId);
}

/**
 * Prisma `where` for the messages the viewer may read (on jobs it can already see): every thread
 * of its workspace's jobs for a member (or one, with `agentId`), its own thread for an agent.
 */
export function messageVisibilityWhere(viewer: Viewer, agentId?: string | null): Prisma.MessageWhereInput {
  if (viewer.kind === 'platform') return agentId ? { agentId } : {};
  if (viewer.kind === 'member') return { job: { workspaceId: viewer.workspaceId }, ...(agentId ? { agentId } : {}) };
  if (viewer.kind === 'agent') return { agentId: viewer.agentId };
  return { id: '' };
}
