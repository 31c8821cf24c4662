import type { Config } from '../../config.ts';
import type { Db } from '../../db/client.ts';
import type { ChatPlatform } from '../../generated/prisma/enums.ts';
import {
  bidSummaryById,
  bidsForJob,
  channelLink,
  connectChannel,
  decisionOf,
  inputRequestSummary,
  jobStatus,
  listOpenJobs,
  offerSummaryById,
  recordDecision,
  reviewSummary,
  visibleBidSummary,
  visibleInputRequest,
  visibleMessageSummary,
  visibleOfferSummary,
} from '../../services/chat/chat.ts';
import { redeemChatLinkCode, viewerForChatUser } from '../../services/chat/chat-links.ts';
import { provideInput } from '../../services/execution/executions.ts';
import { ForbiddenError, isDomainError } from '../../services/kernel/errors.ts';
import { decodeId, encodeId } from '../../services/kernel/ids.ts';
import { isWorkspaceAdmin, type MemberViewer } from '../../services/kernel/viewer.ts';
import { workspaceWallet } from '../../services/ledger/ledger.ts';
import { acceptBid, counterBid, rejectBid } from '../../services/marketplace/bids.ts';
import { postJob } from '../../services/marketplace/jobs.ts';
import { sendMessage } from '../../services/marketplace/messages.ts';
import { offerJob, withdrawOffer } from '../../services/marketplace/offers.ts';
import { reviewExecution } from '../../services/settlement/reviews.ts';
import { CommandError, parseCommand } from './commands.ts';
import type { Form, View } from './view.ts';
import {
  answerForm,
  bidCardView,
  bidsView,
  counterForm,
  helpView,
  inputRequestView,
  jobListView,
  jobPostedInChannelView,
  jobPostedView,
  liveLink,
  messageView,
  notLinkedView,
  offerCardView,
  postJobForm,
  replyForm,
  reviewCardView,
  reviewForm,
  statusView,
  walletView,
} from './views.ts';

/**
 * The chat core: everything Slack and Discord share. Adapters turn platform payloads into
 * (actor, command text | button id | form values) and render the returned views; every rule
 * (who may do what, which state allows it) lives in the services, called as the linked member.
 */
export interface ChatActor {
  platform: ChatPlatform;
  teamId: string;
  channelId: string;
  userId: string;
  /** Display name for "decided by …". */
  userName: string;
}

/** What the adapter should do with an interaction. */
export type ChatResult =
  | { kind: 'reply'; views: View[] }
  | { kind: 'form'; form: Form }
  /** Replace the message the button was on, and optionally tell the clicker something privately. */
  | { kind: 'update'; view: View; notice?: View }
  /** Form submission refused: show these errors next to the fields. */
  | { kind: 'form-errors'; errors: Record<string, string> };

export interface ChatApp {
  command(actor: ChatActor, text: string): Promise<ChatResult>;
  button(actor: ChatActor, buttonId: string): Promise<ChatResult>;
  submit(actor: ChatActor, formId: string, values: Record<string, string>): Promise<ChatResult>;
}

const reply = (...views: View[]): ChatResult => ({ kind: 'reply', views });

/** A whole number from a form field, or null. */
const wholeNumber = (value: string | undefined) => {
  const n = Number((value ?? '').trim());
  return (value ?? '').trim() !== '' && Number.isInteger(n) ? n : null;
};

/**
 * A service's ValidationError as errors next to the form's fields (`fields` maps the input's field
 * names to the form's); null for any other error (the caller rethrows it).
 */
function formErrors(error: unknown, fields: Record<string, string>, fallback: string): ChatResult | null {
  const issues = isDomainError(error) ? (error as { issues?: { path: string[]; message: string }[] }).issues : null;
  if (!issues?.length) return null;
  const errors: Record<string, string> = {};
  for (const i of issues) {
    const field = fields[String(i.path.at(-1))] ?? fallback;
    errors[field] = errors[field] ? `${errors[field]}; ${i.message}` : i.message;
  }
  return { kind: 'form-errors', errors };
}

/** Domain errors become a clear private message; anything else is rethrown for the adapter's logger. */
function explain(error: unknown): View {
  if (error instanceof CommandError) return messageView(error.message, 'warning');
  if (isDomainError(error)) {
    const issues = (error as { issues?: { path: string[]; message: string }[] }).issues;
    const detail = issues?.length ? issues.map((i) => `• ${i.path.at(-1)}: ${i.message}`).join('\n') : error.message;
    return messageView(detail, error.name === 'ForbiddenError' ? 'danger' : 'warning');
  }
  throw error;
}

export function createChatApp(deps: { db: Db; config: Config }): ChatApp {
  const { db, config } = deps;
  const policy = { feeBps: config.PLATFORM_FEE_BPS, maxChangeRequests: config.MAX_CHANGE_REQUESTS };

  async function asMember(actor: ChatActor): Promise<MemberViewer | null> {
    return viewerForChatUser(db, { platform: actor.platform, teamId: actor.teamId, userId: actor.userId });
  }

  async function guarded(actor: ChatActor, run: (viewer: MemberViewer) => Promise<ChatResult>): Promise<ChatResult> {
    const viewer = await asMember(actor);
    if (!viewer) return reply(notLinkedView());
    try {
      return await run(viewer);
    } catch (error) {
      return reply(explain(error));
    }
  }

  /**
   * The answer to a posted job. A job posted in a connected channel goes into that channel's project, and the
   * notifier posts its card there from the outbox: the poster then gets a private note, not a second card.
   */
  const posted = (
    job: Parameters<typeof jobPostedView>[0],
    connected: boolean,
    ephemeral: boolean | undefined,
  ): ChatResult => {
    const link = liveLink(config.PUBLIC_URL, job.id);
    if (connected) return reply(jobPostedInChannelView(job, link));
    return reply({ ...jobPostedView(job, link), ephemeral });
  };

  const card = (actor: ChatActor, kind: string, refId: string) => ({
    platform: actor.platform,
    channelId: actor.channelId,
    kind,
    refId,
  });

  return {
    async command(actor, text) {
      let command: ReturnType<typeof parseCommand>;
      try {
        command = parseCommand(text);
      } catch (error) {
        return reply(explain(error));
      }
      if (command.name === 'help') return reply(helpView());
      if (command.name === 'link') {
        try {
          const member = await redeemChatLinkCode(db, actor, command.code);
          return reply(messageView(`Linked: you act as ${member.name} (${member.role}) in this workspace.`, 'good'));
        } catch (error) {
          return reply(explain(error));
        }
      }
      return guarded(actor, async (viewer) => {
        const channel = await channelLink(db, actor);
        const projectId = channel && channel.workspaceId === viewer.workspaceId ? channel.projectId : null;
        switch (command.name) {
          case 'post': {
            if (!command.inline) return { kind: 'form', form: postJobForm() };
            const job = await postJob(
              db,
              viewer,
              {
                projectId: projectId ? `prj_${projectId}` : undefined,
                title: command.inline.title,
                description: command.inline.description ?? command.inline.title,
                budget: command.inline.budget,
                requiredSkills: command.inline.skills,
                visibility: command.inline.visibility,
                deadline: command.inline.deadline,
              },
              { autoApproveHours: config.AUTO_APPROVE_HOURS },
            );
            return posted({ ...job, id: `job_${job.id}` }, channel?.workspaceId === viewer.workspaceId, undefined);
          }
          case 'jobs': {
            const { jobs, hasMore } = await listOpenJobs(db, viewer, { projectId, page: command.page });
            return reply(jobListView(jobs, command.page, hasMore));
          }
          case 'bids': {
            const { jobTitle, bids } = await bidsForJob(db, viewer, command.job);
            return reply(...bidsView(jobTitle, bids));
          }
          case 'status': {
            const status = await jobStatus(db, viewer, command.job);
            return reply(statusView(status, liveLink(config.PUBLIC_URL, status.id)));
          }
          case 'connect': {
            const project = await connectChannel(db, viewer, actor, command.project);
            return reply(
              messageView(`This channel now receives the events of project “${project.name}”.`, 'good', false),
            );
          }
          case 'wallet':
            return reply(walletView(await workspaceWallet(db, viewer.workspaceId)));
          case 'offer': {
            const offer = await offerJob(db, viewer, {
              jobId: command.job,
              agentId: command.agent,
              credits: command.credits,
              message: command.message,
            });
            const o = await offerSummaryById(db, offer.id);
            return reply(
              messageView(
                `Offered “${o.jobTitle}” to ${o.agentName} for ${o.credits} credits (\`${o.id}\`), held in escrow until the agent answers or the offer expires. Its card, with Withdraw, follows in the job’s channels.`,
                'good',
              ),
            );
          }
        }
      });
    },

    async button(actor, buttonId) {
      const [area, action, ref] = buttonId.split(':');
      if (!area || !action || !ref) return reply(messageView('This button is not recognised.', 'warning'));
      return guarded(actor, async (viewer) => {
        if (area === 'jobs' && action === 'page') {
          const channel = await channelLink(db, actor);
          const { jobs, hasMore } = await listOpenJobs(db, viewer, {
            projectId: channel?.projectId ?? null,
            page: Number(ref) || 1,
          });
          return reply(jobListView(jobs, Number(ref) || 1, hasMore));
        }
        if (area === 'bid' && (action === 'accept' || action === 'reject')) {
          const bidId = decodeId('Bid', ref);
          const alreadyDecided = async () => {
            // Second click (or decided elsewhere): say who decided; change nothing.
            const summary = await bidSummaryById(db, bidId);
            const by = await decisionOf(db, 'bid', bidId);
            return {
              kind: 'update',
              view: bidCardView(summary, { status: summary.status, by }),
              notice: messageView(
                `This bid is already ${summary.status}${by ? ` (decided by ${by})` : ''}. Nothing changed.`,
              ),
            } satisfies ChatResult;
          };
          const current = await visibleBidSummary(db, viewer, bidId);
          if (current.status !== 'PENDING') return alreadyDecided();
          try {
            if (action === 'accept')
              await acceptBid(db, viewer, ref, { idempotencyKey: `chat:${actor.platform}:${bidId}:accept` });
            else await rejectBid(db, viewer, ref);
          } catch (error) {
            if (isDomainError(error) && error.name === 'InvalidStateError') return alreadyDecided();
            throw error;
          }
          const by = await recordDecision(db, card(actor, 'bid', bidId), actor.userName);
          const summary = await bidSummaryById(db, bidId);
          return { kind: 'update', view: bidCardView(summary, { status: summary.status, by }) };
        }
        if (area === 'bid' && action === 'counter') {
          const current = await visibleBidSummary(db, viewer, decodeId('Bid', ref));
          if (current.status !== 'PENDING' && current.status !== 'COUNTERED') {
            return {
              kind: 'update',
              view: bidCardView(current),
              notice: messageView(`This bid is ${current.status}: there is nothing to counter. Nothing changed.`),
            };
          }
          // Checked again by counterBid; asked here so a MEMBER is not handed a form it cannot submit.
          if (!isWorkspaceAdmin(viewer))
            throw new ForbiddenError('Only an OWNER or ADMIN of the posting workspace may counter bids');
          return { kind: 'form', form: counterForm(current) };
        }
        if (area === 'offer' && action === 'withdraw') {
          const offerId = decodeId('Offer', ref);
          try {
            await withdrawOffer(db, viewer, ref);
          } catch (error) {
            if (!(isDomainError(error) && error.name === 'InvalidStateError')) throw error;
            const o = await visibleOfferSummary(db, viewer, offerId);
            const by = await decisionOf(db, 'offer', offerId);
            return {
              kind: 'update',
              view: offerCardView(o, { by }),
              notice: messageView(`This offer is already ${o.status}. Nothing changed.`),
            };
          }
          const by = await recordDecision(db, card(actor, 'offer', offerId), actor.userName);
          return { kind: 'update', view: offerCardView(await offerSummaryById(db, offerId), { by }) };
        }
        if (area === 'msg' && action === 'reply') {
          const m = await visibleMessageSummary(db, viewer, decodeId('Message', ref));
          return { kind: 'form', form: replyForm(m) };
        }
        if (area === 'review') {
          const executionId = decodeId('Execution', ref);
          const already = await decisionOf(db, 'review', executionId);
          if (already) {
            return reply(messageView(`This result was already reviewed by ${already}. Nothing changed.`));
          }
          return { kind: 'form', form: reviewForm(ref, action) };
        }
        if (area === 'input' && action === 'answer') {
          const q = await visibleInputRequest(db, viewer, decodeId('InputRequest', ref));
          if (q.answer)
            return reply(messageView(`Already answered${q.answeredBy ? ` by ${q.answeredBy}` : ''}: ${q.answer}`));
          return { kind: 'form', form: answerForm(ref, q.question) };
        }
        return reply(messageView('This button is not recognised.', 'warning'));
      });
    },

    async submit(actor, formId, values) {
      const [area, action, ref] = formId.split(':');
      return guarded(actor, async (viewer) => {
        if (area === 'job' && action === 'post') {
          const budget = Number(values.budget);
          if (!Number.isInteger(budget) || budget < 1)
            return { kind: 'form-errors', errors: { budget: 'Enter whole credits, at least 1' } };
          const channel = await channelLink(db, actor);
          try {
            const job = await postJob(
              db,
              viewer,
              {
                projectId:
                  channel?.projectId && channel.workspaceId === viewer.workspaceId
                    ? `prj_${channel.projectId}`
                    : undefined,
                title: values.title ?? '',
                description: values.description || values.title || '',
                budget,
                requiredSkills: (values.skills ?? '')
                  .split(',')
                  .map((s) => s.trim())
                  .filter(Boolean),
                visibility: (values.visibility || 'WORKSPACE') as 'WORKSPACE',
                deadline: values.deadline ? `${values.deadline}T23:59:59Z` : undefined,
              },
              { autoApproveHours: config.AUTO_APPROVE_HOURS },
            );
            return posted({ ...job, id: `job_${job.id}` }, channel?.workspaceId === viewer.workspaceId, false);
          } catch (error) {
            const issues = (error as { issues?: { path: string[]; message: string }[] }).issues;
            if (issues?.length) {
              const map: Record<string, string> = { requiredSkills: 'skills' };
              return {
                kind: 'form-errors',
                errors: Object.fromEntries(
                  issues.map((i) => [map[i.path[1] ?? ''] ?? i.path[1] ?? 'title', i.message]),
                ),
              };
            }
            throw error;
          }
        }
        if (area === 'review' && ref) {
          const executionId = decodeId('Execution', ref);
          const rating = values.rating ? Number(values.rating) : undefined;
          await reviewExecution(
            db,
            viewer,
            ref,
            {
              decision: action as 'ACCEPT',
              rating,
              notes: values.notes ?? '',
              idempotencyKey: `chat:${actor.platform}:${executionId}:${action}:${viewer.memberId}`,
            },
            policy,
          );
          const by = await recordDecision(db, card(actor, 'review', executionId), actor.userName);
          return {
            kind: 'update',
            view: reviewCardView(await reviewSummary(db, executionId), { decision: action!, by }),
          };
        }
        if (area === 'bid' && action === 'counter' && ref) {
          const credits = wholeNumber(values.credits);
          const minutes = wholeNumber(values.minutes);
          if (credits === null || minutes === null) {
            const errors: Record<string, string> = {};
            if (credits === null) errors.credits = 'Enter whole credits';
            if (minutes === null) errors.minutes = 'Enter whole minutes';
            return { kind: 'form-errors', errors };
          }
          try {
            await counterBid(db, viewer, {
              bidId: ref,
              requestedCredits: credits,
              estimatedMinutes: minutes,
              message: values.message ?? '',
            });
          } catch (error) {
            const shown = formErrors(
              error,
              { requestedCredits: 'credits', estimatedMinutes: 'minutes', message: 'message' },
              'credits',
            );
            if (shown) return shown;
            throw error;
          }
          return { kind: 'update', view: bidCardView(await bidSummaryById(db, decodeId('Bid', ref))) };
        }
        if (area === 'msg' && action === 'reply' && ref) {
          const m = await visibleMessageSummary(db, viewer, decodeId('Message', ref));
          let sent: Awaited<ReturnType<typeof sendMessage>>;
          try {
            // The reply goes to the thread of the agent who wrote, as the linked member (same rules as the API).
            sent = await sendMessage(db, viewer, { jobId: m.jobId, agentId: m.agentId, body: values.body ?? '' });
          } catch (error) {
            const shown = formErrors(error, { body: 'body' }, 'body');
            if (shown) return shown;
            throw error;
          }
          return reply(
            messageView(
              `Sent to ${m.agentName} (\`${encodeId('Message', sent.id)}\`); it follows in the channel.`,
              'good',
            ),
          );
        }
        if (area === 'input' && ref) {
          await provideInput(db, viewer, ref, values.answer ?? '');
          const q = await inputRequestSummary(db, decodeId('InputRequest', ref));
          await recordDecision(db, card(actor, 'input', decodeId('InputRequest', ref)), actor.userName);
          return { kind: 'update', view: inputRequestView(q, { answer: q.answer ?? '', by: actor.userName }) };
        }
        return reply(messageView('This form is not recognised.', 'warning'));
      });
    },
  };
}
