import { z } from 'zod';
import {
  canReceiveEvent,
  canSeeJob,
  type JobAccessFacts,
  loadJobAccess,
  loadVisibleJob,
} from '../services/access/visibility.ts';
import { CATCH_UP_PAGE, type EventSource, eventsAfter } from '../services/delivery/outbox.ts';
import type { EventMessage } from '../services/delivery/pubsub.ts';
import { parsePosition, resumableEvents } from '../services/delivery/resume.ts';
import { NotFoundError } from '../services/kernel/errors.ts';
import { decodeId, encodeId } from '../services/kernel/ids.ts';
import { parse } from '../services/kernel/validation.ts';
import { nameListSchema } from '../services/marketplace/skills.ts';
import { builder } from './builder.ts';
import type { Context } from './context.ts';
import { ExecutionStatusEnum, ExecutionStepRef, InputRequestRef, ToolCallRef } from './execution.ts';
import { JobStatusEnum } from './job.ts';

/**
 * Real-time events. The outbox dispatcher publishes committed events (ids and plain JSON); these
 * types read their fields from the event itself, so fan-out costs no query per subscriber.
 */
// biome-ignore lint/suspicious/noExplicitAny: event payload fields are typed by the GraphQL field that reads them.
const data = <T = any>(m: EventMessage, key: string) => m.data[key] as T;

export const JobEventRef = builder.interfaceRef<EventMessage>('JobEvent').implement({
  description:
    'Something that happened on a job. Each subscription delivers every event once, in `seq` order, and can resume after a `seq`.',
  resolveType: (m) => (EVENT_TYPES.has(m.type) ? m.type : 'GenericJobEvent'),
  fields: (t) => ({
    eventId: t.exposeString('eventId', { description: 'Unique; clients that reconnect may dedupe on it.' }),
    seq: t.exposeString('seq', {
      description:
        'Outbox position: increasing in the order events are delivered. Pass the last one you received as `after` (or SSE `Last-Event-ID`) to resume.',
    }),
    type: t.exposeString('type'),
    at: t.field({ type: 'DateTime', resolve: (m) => m.at }),
    jobId: t.id({ nullable: true, resolve: (m) => (m.jobId ? encodeId('Job', m.jobId) : null) }),
    job: t.prismaField({
      type: 'Job',
      nullable: true,
      resolve: (query, m, _args, ctx) => (m.jobId ? ctx.db.job.findUnique({ ...query, where: { id: m.jobId } }) : null),
    }),
    data: t.field({ type: 'JSON', description: 'The raw event payload.', resolve: (m) => m.data }),
  }),
});

const EVENT_TYPES = new Set<string>();
function eventType(
  name: string,
  description: string,
  fields?: Parameters<ReturnType<typeof builder.objectRef<EventMessage>>['implement']>[0]['fields'],
) {
  EVENT_TYPES.add(name);
  return builder.objectRef<EventMessage>(name).implement({ description, interfaces: [JobEventRef], fields });
}

const bidFields: Parameters<typeof eventType>[2] = (t) => ({
  bidId: t.id({ resolve: (m) => encodeId('Bid', data<string>(m, 'bidId')) }),
  bid: t.prismaField({
    type: 'Bid',
    nullable: true,
    resolve: (query, m, _args, ctx) => ctx.db.bid.findUnique({ ...query, where: { id: data<string>(m, 'bidId') } }),
  }),
});
const executionId = (t: Parameters<NonNullable<Parameters<typeof eventType>[2]>>[0]) =>
  t.id({
    nullable: true,
    resolve: (m: EventMessage) => (m.data.executionId ? encodeId('Execution', data<string>(m, 'executionId')) : null),
  });

eventType('JobPosted', 'A job was posted.');
eventType('JobUpdated', 'An OPEN job was edited.', (t) => ({
  fields: t.stringList({ resolve: (m) => data<string[]>(m, 'fields') ?? [] }),
}));
eventType('JobStatusChanged', 'The job moved to another status.', (t) => ({
  from: t.field({ type: JobStatusEnum, resolve: (m) => data(m, 'from') }),
  to: t.field({ type: JobStatusEnum, resolve: (m) => data(m, 'to') }),
  reason: t.string({ nullable: true, resolve: (m) => data<string | null>(m, 'reason') ?? null }),
}));
eventType('BidPlaced', 'An agent bid (or updated its bid).', bidFields);
eventType('BidWithdrawn', 'The bidder withdrew its bid.', bidFields);
eventType('BidAccepted', 'A bid was accepted; the job is assigned.', bidFields);
const reason = (t: Parameters<NonNullable<Parameters<typeof eventType>[2]>>[0]) =>
  t.string({
    nullable: true,
    description: 'Why, for the bidder (e.g. "another bid was accepted", "the job was cancelled").',
    resolve: (m: EventMessage) => data<string | null>(m, 'reason') ?? null,
  });
eventType(
  'BidRejected',
  'A bid was rejected: by the poster, or because another bid was accepted or the job was cancelled.',
  (t) => ({
    ...bidFields(t),
    reason: reason(t),
  }),
);
eventType('BidExpired', 'A PENDING bid expired (its expiresAt or the job’s deadline passed).', (t) => ({
  ...bidFields(t),
  reason: reason(t),
}));
eventType('AgentInvited', 'An agent was invited to the job.');
eventType('AgentAssigned', 'An agent was assigned (bid accepted or direct hire).', (t) => ({
  credits: t.field({ type: 'SafeInt', resolve: (m) => data<number>(m, 'credits') }),
}));
eventType('ExecutionProgressed', 'Progress or status of the execution changed.', (t) => ({
  executionId: executionId(t),
  status: t.field({ type: ExecutionStatusEnum, resolve: (m) => data(m, 'status') }),
  progress: t.int({ resolve: (m) => data<number>(m, 'progress') ?? 0 }),
  reason: t.string({ nullable: true, resolve: (m) => data<string | null>(m, 'reason') ?? null }),
}));
eventType('StepAdded', 'The agent reported a step.', (t) => ({
  executionId: executionId(t),
  step: t.field({ type: ExecutionStepRef, resolve: (m) => data(m, 'step') }),
}));
eventType('ToolCallRecorded', 'The agent recorded an MCP tool call.', (t) => ({
  executionId: executionId(t),
  toolCall: t.field({ type: ToolCallRef, resolve: (m) => data(m, 'toolCall') }),
}));
eventType('InputRequested', 'The agent asked a question.', (t) => ({
  executionId: executionId(t),
  inputRequest: t.field({ type: InputRequestRef, resolve: (m) => data(m, 'inputRequest') }),
}));
eventType('InputProvided', 'Someone answered the agent’s question.', (t) => ({
  executionId: executionId(t),
  inputRequest: t.field({ type: InputRequestRef, resolve: (m) => data(m, 'inputRequest') }),
}));
eventType('ResultSubmitted', 'The agent delivered its result; the job is in REVIEW.', (t) => ({
  executionId: executionId(t),
  artifactCount: t.int({ resolve: (m) => data<number>(m, 'artifactCount') ?? 0 }),
  autoApproveAt: t.field({
    type: 'DateTime',
    nullable: true,
    resolve: (m) => data<string | null>(m, 'autoApproveAt') ?? null,
  }),
}));
eventType('ExecutionReviewed', 'The result was reviewed (accepted, changes requested or rejected).', (t) => ({
  executionId: executionId(t),
  decision: t.string({ resolve: (m) => data<string>(m, 'decision') }),
  rating: t.int({ nullable: true, resolve: (m) => data<number | null>(m, 'rating') ?? null }),
  notes: t.string({ nullable: true, resolve: (m) => data<string | null>(m, 'notes') ?? null }),
}));
eventType('ChangesRequested', 'The reviewer asked for changes; the notes say what.', (t) => ({
  executionId: executionId(t),
  notes: t.string({ nullable: true, resolve: (m) => data<string | null>(m, 'notes') ?? null }),
}));
eventType('DisputeOpened', 'A dispute was opened on the job.', (t) => ({
  disputeId: t.id({ resolve: (m) => encodeId('Dispute', data<string>(m, 'disputeId')) }),
  reason: t.string({ resolve: (m) => data<string>(m, 'reason') }),
}));
eventType('DisputeResolved', 'A dispute was resolved and the escrow settled.', (t) => ({
  disputeId: t.id({ resolve: (m) => encodeId('Dispute', data<string>(m, 'disputeId')) }),
  outcome: t.string({ resolve: (m) => data<string>(m, 'outcome') }),
}));
eventType('AgentPaid', 'Escrow was released to the agent.', (t) => ({
  credits: t.field({ type: 'SafeInt', resolve: (m) => data<number>(m, 'credits') }),
  fee: t.field({ type: 'SafeInt', resolve: (m) => data<number>(m, 'fee') ?? 0 }),
}));
eventType('BidCountered', 'The poster answered a bid with other terms; the bid is COUNTERED.', (t) => ({
  ...bidFields(t),
  counterCredits: t.field({
    type: 'SafeInt',
    resolve: (m) => data<{ requestedCredits: number }>(m, 'counter').requestedCredits,
  }),
  counterMinutes: t.int({ resolve: (m) => data<{ estimatedMinutes: number }>(m, 'counter').estimatedMinutes }),
  counterMessage: t.string({ resolve: (m) => data<{ message: string }>(m, 'counter').message }),
}));
eventType('BidStale', 'The job changed materially; the bid must be placed again before it can be accepted.', (t) => ({
  ...bidFields(t),
  reason: reason(t),
  changed: t.stringList({ resolve: (m) => data<string[]>(m, 'changed') ?? [] }),
}));
const offerFields: Parameters<typeof eventType>[2] = (t) => ({
  offerId: t.id({ resolve: (m) => encodeId('Offer', data<string>(m, 'offerId')) }),
  offer: t.prismaField({
    type: 'Offer',
    nullable: true,
    resolve: (query, m, _args, ctx) => ctx.db.offer.findUnique({ ...query, where: { id: data<string>(m, 'offerId') } }),
  }),
  credits: t.field({ type: 'SafeInt', resolve: (m) => data<number>(m, 'credits') }),
  reason: t.string({ nullable: true, resolve: (m) => data<string | null>(m, 'reason') ?? null }),
});
eventType('OfferMade', 'The poster offered the job to an agent; the credits are held in escrow.', offerFields);
eventType('OfferAccepted', 'The agent accepted the offer; the job is assigned to it.', offerFields);
eventType('OfferDeclined', 'The agent declined the offer; the credits went back.', offerFields);
eventType(
  'OfferWithdrawn',
  'The offer was withdrawn (by the poster, or the job went elsewhere or was cancelled).',
  offerFields,
);
eventType('OfferExpired', 'The offer passed its expiresAt; the credits went back.', offerFields);
eventType(
  'MessagePosted',
  'A message in the thread of the job and an agent (only those two parties receive it).',
  (t) => ({
    messageId: t.id({ resolve: (m) => encodeId('Message', data<string>(m, 'messageId')) }),
    message: t.prismaField({
      type: 'Message',
      nullable: true,
      resolve: (query, m, _args, ctx) =>
        ctx.db.message.findUnique({ ...query, where: { id: data<string>(m, 'messageId') } }),
    }),
    agentId: t.id({ nullable: true, resolve: (m) => (m.agentId ? encodeId('Agent', m.agentId) : null) }),
    authorKind: t.string({ resolve: (m) => data<string>(m, 'authorKind') }),
    body: t.string({ resolve: (m) => data<string>(m, 'body') }),
  }),
);
eventType(
  'AssignmentLapsed',
  'The agent did not start by startBy: the job is OPEN again, the escrow refunded.',
  (t) => ({
    reason: t.string({ nullable: true, resolve: (m) => data<string | null>(m, 'reason') ?? null }),
  }),
);
eventType('JobReleased', 'The assigned agent gave the job back before starting: it is OPEN again.', (t) => ({
  reason: t.string({ nullable: true, resolve: (m) => data<string | null>(m, 'reason') ?? null }),
}));
eventType(
  'JobCancelled',
  'The poster cancelled the agent’s assigned job; if work had started, the agent was paid the kill fee and may contest until `contestUntil`.',
  (t) => ({
    started: t.boolean({ resolve: (m) => data<boolean>(m, 'started') ?? false }),
    killFeePercent: t.int({ resolve: (m) => data<number>(m, 'killFeePercent') ?? 0 }),
    contestUntil: t.field({
      type: 'DateTime',
      nullable: true,
      resolve: (m) => data<string | null>(m, 'contestUntil') ?? null,
    }),
  }),
);
eventType('InputExpired', 'A question went unanswered past its expiresAt; the execution is WORKING again.', (t) => ({
  executionId: executionId(t),
  inputRequest: t.field({ type: InputRequestRef, resolve: (m) => data(m, 'inputRequest') }),
}));
builder.objectRef<EventMessage>('GenericJobEvent').implement({
  description: 'An event type this schema version does not model specifically; see `type` and `data`.',
  interfaces: [JobEventRef],
});
eventType('AccessRevoked', 'Sent last when the subscriber may no longer see the job; the subscription then ends.');

/**
 * The position of the event a subscription delivered last, per operation context: the SSE
 * transport writes it as the event's `id:` (src/app/sse.ts) and results carry it in
 * `extensions.seq`, so a client can resume even without selecting `seq`.
 */
const delivered = new WeakMap<object, string>();
export const lastDeliveredSeq = (ctx: object) => delivered.get(ctx);

/** The resume position: the `after` argument, else the SSE `Last-Event-ID` header. */
function resumeAfter(ctx: Context, after: string | null | undefined): bigint | null {
  if (after !== null && after !== undefined) return parsePosition(after, ['after']);
  return parsePosition(ctx.lastEventId, ['Last-Event-ID']);
}

/** The resumable stream of one topic, recording each delivered position for the transport. */
async function* deliverable(ctx: Context, source: EventSource, after: bigint | null) {
  for await (const message of resumableEvents(ctx.db, ctx.pubsub, source, after)) {
    delivered.set(ctx, message.seq);
    yield message;
  }
}

/** Events that can change who may see a job: re-check access when one arrives (and every 10 s). */
const ACCESS_EVENTS = new Set(['JobUpdated', 'AgentInvited', 'JobStatusChanged']);
/** Safety-net re-check period, spread per subscription so thousands of them never re-check at once. */
const RECHECK_MS = 30_000;
const recheckDelay = () => RECHECK_MS * (0.75 + Math.random() * 0.5);

/**
 * Access facts shared by every subscription of one viewer on one job in this process for a moment:
 * an access event reaching 1,000 subscribers costs one query, not 1,000.
 */
const ACCESS_TTL_MS = 1_000;
const accessCache = new Map<string, { at: number; value: ReturnType<typeof loadJobAccess> }>();
function cachedJobAccess(ctx: Context, jobId: string, notBefore: number) {
  const v = ctx.viewer;
  const key = `${jobId}:${v.kind}:${v.kind === 'member' ? v.memberId : v.kind === 'agent' ? v.agentId : ''}`;
  const now = Date.now();
  const hit = accessCache.get(key);
  // Never answer from facts loaded before the event that triggered the re-check was written.
  if (hit && now - hit.at < ACCESS_TTL_MS && hit.at > notBefore) return hit.value;
  const value = loadJobAccess(ctx.db, v, jobId);
  accessCache.set(key, { at: now, value });
  if (accessCache.size > 10_000) {
    for (const [k, entry] of accessCache) if (now - entry.at >= ACCESS_TTL_MS) accessCache.delete(k);
  }
  return value;
}

async function* jobEventStream(
  ctx: Context,
  jobId: string,
  publicId: string,
  initial: JobAccessFacts,
  after: bigint | null,
) {
  let facts = initial;
  let recheckAt = Date.now() + recheckDelay();
  // Events read from the outbox (resume, catch-up) pass through the same checks as live ones.
  for await (const message of deliverable(ctx, { topic: 'job:event', id: jobId }, after)) {
    if (ACCESS_EVENTS.has(message.type) || Date.now() > recheckAt) {
      const access = await cachedJobAccess(ctx, jobId, Date.parse(message.at));
      recheckAt = Date.now() + recheckDelay();
      if (!access || !canSeeJob(ctx.viewer, access.facts)) {
        yield { ...message, type: 'AccessRevoked', data: { jobId: publicId } };
        return;
      }
      facts = access.facts;
    }
    if (canReceiveEvent(ctx.viewer, facts, message)) yield message;
  }
}

const AFTER =
  'Resume after this event `seq` (one you received before): the events after it are read from the outbox first, then live ones follow, none twice. Over SSE the `Last-Event-ID` header does the same.';

builder.subscriptionFields((t) => ({
  jobEvents: t.field({
    type: JobEventRef,
    description:
      'Every change on one job you may see, in order. Bid events reach the posting workspace and that bidder; execution events the posting workspace and the assigned agent. Ends with AccessRevoked if you lose access.',
    authScopes: { authenticated: true },
    args: { jobId: t.arg.id({ required: true }), after: t.arg.string({ description: AFTER }) },
    // Checked before the stream opens: an invisible job fails the subscription with NOT_FOUND.
    subscribe: async (_root, { jobId, after }, ctx) => {
      const publicId = String(jobId);
      const from = resumeAfter(ctx, after);
      const { job, facts } = await loadVisibleJob(ctx.db, ctx.viewer, decodeId('Job', publicId), publicId);
      return jobEventStream(ctx, job.id, publicId, facts, from);
    },
    resolve: (message) => message,
  }),
  jobPosted: t.prismaField({
    type: 'Job',
    description:
      'New jobs you may see, as they are posted; with `skills`, only jobs requiring at least one of them (normalised).',
    authScopes: { authenticated: true },
    args: { skills: t.arg.stringList(), after: t.arg.string({ description: AFTER }) },
    subscribe: (_root, { skills, after }, ctx) => {
      const wanted = skills ? parse(nameListSchema('skill'), skills, ['skills']) : [];
      return jobPostedStream(ctx, wanted, resumeAfter(ctx, after));
    },
    resolve: (query, message, _args, ctx) =>
      ctx.db.job.findUniqueOrThrow({ ...query, where: { id: (message as unknown as EventMessage).jobId! } }),
  }),
  agentEvents: t.field({
    type: JobEventRef,
    description:
      'For the calling agent: invited, assigned, bid accepted/rejected/expired (with the reason), input provided, changes requested, reviewed, paid, disputes.',
    authScopes: { agent: true },
    args: { after: t.arg.string({ description: AFTER }) },
    subscribe: (_root, { after }, ctx) => agentEventStream(ctx, resumeAfter(ctx, after)),
    resolve: (message) => message,
  }),
}));

const INBOX_FIRST = 50;

builder.queryFields((t) => ({
  inbox: t.field({
    type: [JobEventRef],
    description: `The calling agent’s events (exactly what agentEvents delivers: offers, counters, messages, assignments, reviews, payments, ...) after the position \`after\`, oldest first, at most \`first\` (default ${INBOX_FIRST}, at most ${CATCH_UP_PAGE}). Without \`after\`: from the first. For clients that poll instead of subscribing (the MCP server’s check_inbox): pass the last \`seq\` you received as \`after\`; an empty list means nothing new.`,
    authScopes: { agent: true },
    args: {
      after: t.arg.string({ description: 'The last `seq` you received.' }),
      first: t.arg.int({ description: `1-${CATCH_UP_PAGE}, default ${INBOX_FIRST}.` }),
    },
    resolve: (_root, { after, first }, ctx) => {
      if (ctx.viewer.kind !== 'agent') throw new NotFoundError('Agent');
      const limit = parse(z.number().int().min(1).max(CATCH_UP_PAGE), first ?? INBOX_FIRST, ['first']);
      // The same outbox read the subscription catches up with: the same events, in the same order.
      return eventsAfter(
        ctx.db,
        { topic: 'agent:event', id: ctx.viewer.agentId },
        parsePosition(after, ['after']) ?? 0n,
        limit,
      );
    },
  }),
}));

async function* jobPostedStream(ctx: Context, wanted: string[], after: bigint | null) {
  const viewer = ctx.viewer;
  for await (const message of deliverable(ctx, { topic: 'job:posted', id: null }, after)) {
    if (!message.jobId || !message.workspaceId) continue;
    const invited = (message.data.invited as string[] | undefined) ?? [];
    const excluded = (message.data.excluded as string[] | undefined) ?? [];
    const facts: JobAccessFacts = {
      workspaceId: message.workspaceId,
      visibility: message.data.visibility as JobAccessFacts['visibility'],
      invited: viewer.kind === 'agent' && invited.includes(viewer.agentId),
      excluded: viewer.kind === 'agent' && excluded.includes(viewer.agentId),
    };
    if (!canSeeJob(viewer, facts)) continue;
    const required = (message.data.requiredSkills as string[] | undefined) ?? [];
    if (wanted.length && !required.some((s) => wanted.includes(s))) continue;
    yield message;
  }
}

async function* agentEventStream(ctx: Context, after: bigint | null) {
  if (ctx.viewer.kind !== 'agent') throw new NotFoundError('Agent');
  yield* deliverable(ctx, { topic: 'agent:event', id: ctx.viewer.agentId }, after);
}
