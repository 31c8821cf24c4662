import type { Database, Db, Tx } from '../../db/client.ts';
import type { ChatPlatform } from '../../generated/prisma/enums.ts';
import type { Logger } from '../../log.ts';
import {
  bidSummaryById,
  channelsForJob,
  decisionOf,
  findChatMessage,
  inputRequestSummary,
  messageSummaryById,
  offerSummaryById,
  progressSummary,
  reviewSummary,
  saveChatMessage,
} from '../../services/chat/chat.ts';
import type { View } from './view.ts';
import {
  bidCardView,
  inputRequestView,
  jobPostedView,
  liveLink,
  offerCardView,
  progressView,
  reviewCardView,
  threadMessageView,
} from './views.ts';

/** How a platform posts and edits channel messages (Slack Web API, Discord REST). */
export interface ChatTransport {
  /** Posts a message; with `replyTo`, in the thread of (Slack) or as a reply to (Discord) that message. */
  post(channelId: string, view: View, options?: { replyTo?: string }): Promise<string>;
  update(channelId: string, messageId: string, view: View): Promise<void>;
}

const LOCK = 72707371;
const PROGRESS_EVENTS = new Set(['ExecutionProgressed', 'StepAdded', 'ToolCallRecorded', 'ResultSubmitted']);

/**
 * Posts job events to connected channels (Slack and Discord alike) from the outbox: each event is
 * handled by one process at a time (the leader) in commit-id order, and marked (`chatAt`) once done. Cards are
 * remembered (ChatMessage) so they are updated in place, and live progress is one message per
 * execution, edited at most once per `throttleMs` (chat rate limits).
 */
export function createChatNotifier(deps: {
  database: Database;
  transports: Partial<Record<ChatPlatform, ChatTransport>>;
  log: Logger;
  throttleMs?: number;
  pollMs?: number;
  /** PUBLIC_URL: job cards and progress messages link to the job's live page. */
  publicUrl?: string;
}) {
  const { database, transports, log } = deps;
  const db = database.prisma;
  const throttleMs = deps.throttleMs ?? 3_000;
  const lastProgress = new Map<string, number>();
  // A platform outage delays notices (exponential backoff, or the platform's Retry-After), never drops them:
  // the failed event stays pending (chatAt null) and is retried in order.
  let failures = 0;
  let pausedUntil = 0;
  const pendingProgress = new Map<string, NodeJS.Timeout>();
  let stopped = false;

  async function upsertCard(
    platform: ChatPlatform,
    channelId: string,
    kind: string,
    refId: string,
    view: View,
    thread?: { kind: string; refId: string },
  ) {
    const transport = transports[platform];
    if (!transport) return;
    const existing = await findChatMessage(db, { platform, channelId, kind, refId });
    if (existing) return transport.update(channelId, existing.messageId, view);
    // Dealing (offers, messages) goes in the job card's thread when this channel has the job's card.
    const parent = thread ? await findChatMessage(db, { platform, channelId, ...thread }) : null;
    const messageId = await transport.post(channelId, view, parent ? { replyTo: parent.messageId } : undefined);
    await saveChatMessage(db, { platform, channelId, kind, refId }, messageId);
  }

  async function renderProgress(executionId: string, channels: { platform: ChatPlatform; channelId: string }[]) {
    lastProgress.set(executionId, Date.now());
    const summary = await progressSummary(db, executionId);
    const view = progressView(summary, liveLink(deps.publicUrl, summary.jobId));
    for (const c of channels) await upsertCard(c.platform, c.channelId, 'progress', executionId, view);
  }

  /** Throttled: the first update goes out now, later ones coalesce into one per window. */
  function scheduleProgress(
    executionId: string,
    channels: { platform: ChatPlatform; channelId: string }[],
    final: boolean,
  ) {
    const since = Date.now() - (lastProgress.get(executionId) ?? 0);
    if (final || since >= throttleMs) {
      clearTimeout(pendingProgress.get(executionId));
      pendingProgress.delete(executionId);
      return renderProgress(executionId, channels);
    }
    if (!pendingProgress.has(executionId)) {
      const timer = setTimeout(() => {
        pendingProgress.delete(executionId);
        if (!stopped)
          renderProgress(executionId, channels).catch((error) =>
            log.warn({ err: error }, 'chat progress update failed'),
          );
      }, throttleMs - since);
      timer.unref();
      pendingProgress.set(executionId, timer);
    }
  }

  async function handle(tx: Db | Tx, event: { type: string; jobId: string | null; payload: unknown }) {
    if (!event.jobId) return;
    const job = await tx.job.findUnique({
      where: { id: event.jobId },
      select: {
        id: true,
        workspaceId: true,
        projectId: true,
        title: true,
        status: true,
        budget: true,
        requiredSkills: true,
        visibility: true,
        deadline: true,
      },
    });
    if (!job) return;
    const channels = (await channelsForJob(tx, job)).filter((c) => transports[c.platform]);
    if (channels.length === 0) return;
    const data = (event.payload ?? {}) as Record<string, unknown>;
    const each = async (kind: string, refId: string, view: View, inJobThread = false) => {
      const thread = inJobThread ? { kind: 'job', refId: job.id } : undefined;
      for (const c of channels) await upsertCard(c.platform, c.channelId, kind, refId, view, thread);
    };
    switch (event.type) {
      case 'JobPosted':
        return each(
          'job',
          job.id,
          jobPostedView({ ...job, id: `job_${job.id}` }, liveLink(deps.publicUrl, `job_${job.id}`)),
        );
      case 'BidPlaced':
      case 'BidAccepted':
      case 'BidRejected':
      case 'BidWithdrawn':
      case 'BidExpired':
      case 'BidCountered':
      case 'BidStale': {
        // Every status change of a bid has its event (bid-state.ts): the card follows the bid's
        // current status, so a bid rejected because another was accepted loses its buttons too.
        const bidId = data.bidId as string;
        const summary = await bidSummaryById(tx, bidId);
        const reason = summary.status === data.status ? ((data.reason as string | null | undefined) ?? null) : null;
        const decided =
          summary.status === 'PENDING'
            ? undefined
            : { status: summary.status, by: await decisionOf(tx, 'bid', bidId), reason };
        return each('bid', bidId, bidCardView(summary, decided));
      }
      case 'OfferMade':
      case 'OfferAccepted':
      case 'OfferDeclined':
      case 'OfferWithdrawn':
      case 'OfferExpired': {
        // The card follows the offer's current status (a later event may arrive after a newer state).
        const offerId = data.offerId as string;
        const offer = await offerSummaryById(tx, offerId);
        return each('offer', offerId, offerCardView(offer, { by: await decisionOf(tx, 'offer', offerId) }), true);
      }
      case 'MessagePosted': {
        // Every message of every thread of the job (the channel belongs to the posting workspace, a party).
        const messageId = data.messageId as string;
        return each('message', messageId, threadMessageView(await messageSummaryById(tx, messageId)), true);
      }
      case 'InputRequested':
      case 'InputProvided': {
        const id = (data.inputRequest as { id: string }).id;
        const q = await inputRequestSummary(tx, id);
        return each('input', id, inputRequestView(q, q.answer ? { answer: q.answer, by: q.answeredBy } : undefined));
      }
      case 'ExecutionReviewed': {
        const executionId = data.executionId as string;
        const by = await decisionOf(tx, 'review', executionId);
        await each(
          'review',
          executionId,
          reviewCardView(await reviewSummary(tx, executionId), {
            decision: String(data.decision),
            by: by ?? (data.automatic ? 'auto-approval' : null),
          }),
        );
        return scheduleProgress(executionId, channels, true);
      }
      default:
        if (PROGRESS_EVENTS.has(event.type) && data.executionId) {
          const executionId = data.executionId as string;
          if (event.type === 'ResultSubmitted') {
            await each('review', executionId, reviewCardView(await reviewSummary(tx, executionId)));
          }
          const final = event.type === 'ResultSubmitted' || data.status === 'FAILED';
          return scheduleProgress(executionId, channels, final);
        }
    }
  }

  /**
   * One process at a time handles chat events (leader: a session-level advisory lock on a
   * dedicated connection, released when that process stops or dies). No transaction is held
   * while talking to Slack or Discord: a slow platform never pins a database connection.
   */
  let session: Awaited<ReturnType<Database['session']>> | null = null;
  let leader = false;
  async function ensureLeader(): Promise<boolean> {
    try {
      session ??= await database.session();
      if (leader) {
        await session.query('SELECT 1');
        return true;
      }
      const [row] = await session.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [LOCK]);
      leader = Boolean(row?.locked);
    } catch {
      // Lost the connection (and with it the lock): another process may lead now.
      await session?.close().catch(() => {});
      session = null;
      leader = false;
    }
    return leader;
  }

  /** One round: handle pending events in id order; a failing platform call is retried after a pause. */
  async function runOnce(): Promise<number> {
    if (!(await ensureLeader())) return 0;
    const events = await db.outboxEvent.findMany({ where: { chatAt: null }, orderBy: { id: 'asc' }, take: 50 });
    let handled = 0;
    for (const event of events) {
      try {
        await handle(db, event);
        failures = 0;
      } catch (error) {
        failures++;
        const retryAfter = Number((error as { retryAfter?: number }).retryAfter);
        const delay =
          Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : Math.min(60_000, 500 * 2 ** failures);
        pausedUntil = Date.now() + delay;
        log.warn(
          { err: error, eventId: event.eventId, type: event.type, retryInMs: delay },
          'chat notification failed; will retry',
        );
        break;
      }
      await db.outboxEvent.update({ where: { id: event.id }, data: { chatAt: new Date() } });
      handled++;
    }
    return handled;
  }

  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | null = null;
  let unlisten: (() => Promise<void>) | undefined;
  const kick = () => {
    if (stopped || running || Date.now() < pausedUntil) return;
    running = runOnce()
      .catch((error) => log.warn({ err: error }, 'chat notifier round failed'))
      .finally(() => {
        running = null;
      });
  };

  return {
    runOnce,
    async start() {
      unlisten = await database.listen('agentwork_outbox', kick).catch(() => undefined);
      timer = setInterval(kick, deps.pollMs ?? 1_000);
      timer.unref();
      kick();
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      for (const t of pendingProgress.values()) clearTimeout(t);
      await unlisten?.();
      await running;
      if (session) {
        if (leader) await session.query('SELECT pg_advisory_unlock($1)', [LOCK]).catch(() => {});
        await session.close().catch(() => {});
      }
    },
  };
}
