import type { Block, Form, View } from './view.ts';

/** Pure builders from domain data to views (no I/O, unit-testable, shared by Slack and Discord). */

export interface JobSummary {
  id: string;
  title: string;
  status: string;
  budget: number;
  requiredSkills: string[];
  visibility: string;
  deadline: Date | null;
  bidCount?: number;
}

/**
 * A job's live page, `${PUBLIC_URL}/jobs/<jobId>/live`, as a view link; none when PUBLIC_URL is unset (chat
 * platforms cannot open the server's loopback address).
 */
export function liveLink(publicUrl: string | undefined, jobId: string): View['link'] {
  if (!publicUrl) return undefined;
  return { url: `${publicUrl.replace(/\/+$/, '')}/jobs/${encodeURIComponent(jobId)}/live`, label: 'Watch it live' };
}

const money = (credits: number) => `${credits.toLocaleString('en')} credits`;
const when = (d: Date | null) => (d ? d.toISOString().slice(0, 16).replace('T', ' ') + ' UTC' : 'no deadline');

export function helpView(): View {
  return {
    text: 'Agentwork commands',
    ephemeral: true,
    blocks: [
      { kind: 'header', text: 'Agentwork' },
      {
        kind: 'list',
        items: [
          '`/agentwork post` – post a job (opens a form), or `/agentwork post Title --budget 100 --skills web-research,analytics --visibility public`',
          '`/agentwork jobs [page]` – open jobs of this channel’s project',
          '`/agentwork bids <job>` – bids on a job, with Accept / Counter / Reject',
          '`/agentwork offer <job> <agent> <credits>` – offer a job to an agent (credits held in escrow until it answers; OWNER/ADMIN)',
          '`/agentwork status <job>` – where a job stands',
          '`/agentwork connect <project>` – this channel gets that project’s events (OWNER/ADMIN)',
          '`/agentwork link <code>` – act as your Agentwork member (code from `createChatLinkCode`)',
          '`/agentwork wallet` – your workspace’s credits',
        ],
      },
    ],
  };
}

export function messageView(text: string, tone: View['tone'] = 'neutral', ephemeral = true): View {
  return { text, tone, ephemeral, blocks: [{ kind: 'text', text }] };
}

export function notLinkedView(): View {
  return messageView(
    'Your chat account is not linked to an Agentwork member yet. Ask for a code (GraphQL `mutation { createChatLinkCode { ... on ChatLinkCodePayload { code } } }`) and send `/agentwork link AW-XXXX-XXXX`.',
    'warning',
  );
}

export function jobListView(jobs: JobSummary[], page: number, hasMore: boolean): View {
  const blocks: Block[] = [{ kind: 'header', text: `Open jobs (page ${page})` }];
  if (jobs.length === 0) blocks.push({ kind: 'text', text: 'No open jobs.' });
  for (const job of jobs) {
    blocks.push({
      kind: 'text',
      text: `*${job.title}*  \`${job.id}\`\n${money(job.budget)} · ${job.requiredSkills.join(', ') || 'any skills'} · ${job.visibility.toLowerCase()} · ${when(job.deadline)}${job.bidCount !== undefined ? ` · ${job.bidCount} bid(s)` : ''}`,
    });
  }
  if (hasMore) blocks.push({ kind: 'buttons', buttons: [{ id: `jobs:page:${page + 1}`, label: 'Next page' }] });
  return { text: `${jobs.length} open job(s)`, ephemeral: true, blocks };
}

export function jobPostedView(job: JobSummary, link?: View['link']): View {
  return {
    text: `Job posted: ${job.title}`,
    tone: 'good',
    link,
    blocks: [
      { kind: 'header', text: `New job: ${job.title}` },
      {
        kind: 'fields',
        fields: [
          { label: 'Budget', value: money(job.budget) },
          { label: 'Skills', value: job.requiredSkills.join(', ') || 'any' },
          { label: 'Visibility', value: job.visibility },
          { label: 'Deadline', value: when(job.deadline) },
        ],
      },
      { kind: 'context', text: `\`${job.id}\` · agents can bid now` },
    ],
  };
}

/**
 * The poster's private answer to a post from a connected channel: the job went into the channel's project,
 * and the job card itself comes from the channel notifier (once, for everyone), so it is not repeated here.
 */
export function jobPostedInChannelView(job: Pick<JobSummary, 'id' | 'title'>, link?: View['link']): View {
  const text = `Posted “${job.title}” (\`${job.id}\`) to this channel’s project; its card follows in this channel.`;
  return { text, tone: 'good', ephemeral: true, link, blocks: [{ kind: 'text', text }] };
}

export interface BidSummary {
  id: string;
  jobId: string;
  jobTitle: string;
  agentName: string;
  reputation: number;
  badges: string[];
  skillMatch: number;
  requestedCredits: number;
  estimatedMinutes: number;
  message: string;
  status: string;
  /** The poster's standing counter-offer, if any. */
  counter?: { requestedCredits: number; estimatedMinutes: number; message: string; by: string | null } | null;
}

/** Bid statuses the poster can still act on, and the buttons each offers (OWNER/ADMIN; the services check). */
const BID_ACTIONS: Record<string, ('accept' | 'counter' | 'reject')[]> = {
  PENDING: ['accept', 'counter', 'reject'],
  // Waiting for the agent: the poster may change its counter or reject; accepting is the agent's move.
  COUNTERED: ['counter', 'reject'],
  // The job changed materially: nothing to accept until the agent bids again.
  STALE: ['reject'],
};

/**
 * A bid card. Its buttons follow the bid's status (`BID_ACTIONS`); a countered bid shows the counter
 * and who made it; once decided, the outcome (who decided, or why) replaces the buttons.
 */
export function bidCardView(
  bid: BidSummary,
  decided?: { status: string; by: string | null; reason?: string | null },
): View {
  const status = decided?.status ?? bid.status;
  const blocks: Block[] = [
    { kind: 'header', text: `Bid from ${bid.agentName}` },
    { kind: 'text', text: `on *${bid.jobTitle}*\n> ${bid.message || '(no message)'}` },
    {
      kind: 'fields',
      fields: [
        { label: 'Price', value: money(bid.requestedCredits) },
        { label: 'Estimate', value: `${bid.estimatedMinutes} min` },
        { label: 'Skill match', value: `${bid.skillMatch}%` },
        {
          label: 'Reputation',
          value: `${bid.reputation}/100${bid.badges.length ? ` · ${bid.badges.join(', ')}` : ''}`,
        },
      ],
    },
  ];
  const c = bid.counter;
  if (c && (status === 'COUNTERED' || status === 'ACCEPTED')) {
    const terms = `${money(c.requestedCredits)} · ${c.estimatedMinutes} min`;
    blocks.push({
      kind: 'text',
      text:
        status === 'COUNTERED'
          ? `*Counter-offer${c.by ? ` by ${c.by}` : ''}:* ${terms}${c.message ? `\n> ${c.message}` : ''}`
          : `*Agreed at the counter-offer:* ${terms}`,
    });
  }
  const actions = BID_ACTIONS[status];
  const why = decided?.by ? ` by ${decided.by}` : decided?.reason ? ` · ${decided.reason}` : '';
  if (status === 'COUNTERED') blocks.push({ kind: 'context', text: `COUNTERED${why} · waiting for the agent` });
  else if (status === 'STALE')
    blocks.push({
      kind: 'context',
      text: 'STALE · the job changed; the agent must bid again before it can be accepted',
    });
  else if (!actions) blocks.push({ kind: 'context', text: `${status}${why}` });
  if (actions) {
    const button = {
      accept: { id: `bid:accept:${bid.id}`, label: 'Accept', style: 'primary' as const },
      counter: { id: `bid:counter:${bid.id}`, label: status === 'COUNTERED' ? 'Change counter' : 'Counter' },
      reject: { id: `bid:reject:${bid.id}`, label: 'Reject', style: 'danger' as const },
    };
    blocks.push({ kind: 'buttons', buttons: actions.map((a) => button[a]) });
  }
  return {
    text: `Bid from ${bid.agentName}: ${money(bid.requestedCredits)}${status === 'PENDING' ? '' : ` (${status})`}`,
    tone: status === 'ACCEPTED' ? 'good' : 'neutral',
    blocks,
  };
}

/** The poster's counter-offer on a bid: starts from the bid's terms (or the standing counter). */
export function counterForm(bid: BidSummary): Form {
  return {
    id: `bid:counter:${bid.id}`,
    title: 'Counter-offer',
    submitLabel: 'Send counter',
    fields: [
      {
        id: 'credits',
        label: 'Credits',
        kind: 'number',
        initial: String(bid.counter?.requestedCredits ?? bid.requestedCredits),
      },
      {
        id: 'minutes',
        label: 'Estimated minutes',
        kind: 'number',
        initial: String(bid.counter?.estimatedMinutes ?? bid.estimatedMinutes),
      },
      { id: 'message', label: 'Message to the agent', kind: 'multiline', optional: true },
    ],
  };
}

export interface OfferSummary {
  id: string;
  jobId: string;
  jobTitle: string;
  agentName: string;
  credits: number;
  estimatedMinutes: number | null;
  message: string;
  status: string;
  reason: string | null;
  expiresAt: Date;
  offeredBy: string | null;
}

/** An offer card in the job's channels: Withdraw while PENDING (OWNER/ADMIN; the service checks). */
export function offerCardView(o: OfferSummary, decided?: { by: string | null }): View {
  const blocks: Block[] = [
    { kind: 'header', text: `Offer to ${o.agentName}` },
    { kind: 'text', text: `on *${o.jobTitle}*${o.message ? `\n> ${o.message}` : ''}` },
    {
      kind: 'fields',
      fields: [
        { label: 'Credits', value: `${money(o.credits)} (in escrow while pending)` },
        { label: 'Estimate', value: o.estimatedMinutes ? `${o.estimatedMinutes} min` : '—' },
        { label: 'Expires', value: when(o.expiresAt) },
        { label: 'Status', value: o.status },
      ],
    },
  ];
  if (o.status === 'PENDING') {
    blocks.push({ kind: 'context', text: `Offered${o.offeredBy ? ` by ${o.offeredBy}` : ''} · waiting for the agent` });
    blocks.push({ kind: 'buttons', buttons: [{ id: `offer:withdraw:${o.id}`, label: 'Withdraw', style: 'danger' }] });
  } else {
    const why = decided?.by ? ` by ${decided.by}` : o.reason ? ` · ${o.reason}` : '';
    blocks.push({ kind: 'context', text: `${o.status}${why}` });
  }
  return {
    text: `Offer to ${o.agentName}: ${money(o.credits)} (${o.status})`,
    tone: o.status === 'ACCEPTED' ? 'good' : 'neutral',
    blocks,
  };
}

export interface MessageSummary {
  id: string;
  jobId: string;
  jobTitle: string;
  agentId: string;
  agentName: string;
  authorKind: string;
  authorName: string;
  body: string;
}

/**
 * A message of a job's thread with one agent. From the agent: its name and a Reply button (opens a
 * form; the reply goes to that agent's thread). From the workspace: marked as such, no button.
 */
export function threadMessageView(m: MessageSummary): View {
  const fromAgent = m.authorKind === 'AGENT';
  const blocks: Block[] = [
    {
      kind: 'text',
      text: fromAgent
        ? `💬 *${m.agentName}* (agent) on *${m.jobTitle}*:\n> ${m.body.replace(/\n/g, '\n> ')}`
        : `↩️ *${m.authorName}* (workspace) to *${m.agentName}* on *${m.jobTitle}*:\n> ${m.body.replace(/\n/g, '\n> ')}`,
    },
    { kind: 'context', text: `\`${m.jobId}\` · thread with ${m.agentName}` },
  ];
  if (fromAgent) blocks.push({ kind: 'buttons', buttons: [{ id: `msg:reply:${m.id}`, label: 'Reply' }] });
  return {
    text: fromAgent ? `${m.agentName}: ${m.body}` : `${m.authorName} (workspace) to ${m.agentName}: ${m.body}`,
    blocks,
  };
}

export function replyForm(m: Pick<MessageSummary, 'id' | 'agentName'>): Form {
  return {
    id: `msg:reply:${m.id}`,
    title: `Reply to ${m.agentName}`.slice(0, 24),
    submitLabel: 'Send',
    fields: [{ id: 'body', label: 'Message', kind: 'multiline' }],
  };
}

export function bidsView(jobTitle: string, bids: BidSummary[]): View[] {
  if (bids.length === 0) return [messageView(`No bids on ${jobTitle} yet.`)];
  return bids.map((b) => ({
    ...bidCardView(b),
    ephemeral: true,
  }));
}

export interface ProgressSummary {
  jobId: string;
  jobTitle: string;
  agentName: string;
  status: string;
  progress: number;
  steps: { index: number; kind: string; message: string }[];
  toolCalls: number;
  result?: { summary: string | null; artifacts: { name: string; url: string | null }[] } | null;
}

/** One message per running job, updated in place; the final version summarises the result. */
export function progressView(p: ProgressSummary, link?: View['link']): View {
  const recent = p.steps.slice(-5).map((s) => `${s.index + 1}. _${s.kind}_ ${s.message}`);
  const blocks: Block[] = [
    { kind: 'header', text: `${p.jobTitle}` },
    { kind: 'progress', percent: p.progress, label: `${p.status} · ${p.agentName}` },
  ];
  if (recent.length) blocks.push({ kind: 'list', items: recent });
  blocks.push({ kind: 'context', text: `\`${p.jobId}\` · ${p.steps.length} step(s) · ${p.toolCalls} tool call(s)` });
  if (p.result) {
    blocks.push({ kind: 'divider' });
    if (p.result.summary) blocks.push({ kind: 'text', text: p.result.summary });
    for (const a of p.result.artifacts)
      blocks.push({ kind: 'text', text: a.url ? `📎 <${a.url}|${a.name}>` : `📎 ${a.name}` });
  }
  return {
    text: `${p.jobTitle}: ${p.status} ${p.progress}%`,
    tone: p.status === 'FAILED' ? 'danger' : p.status === 'COMPLETED' ? 'good' : 'neutral',
    link,
    blocks,
  };
}

export function reviewCardView(
  r: {
    executionId: string;
    jobId: string;
    jobTitle: string;
    agentName: string;
    summary: string | null;
    artifacts: string[];
  },
  decided?: { decision: string; by: string | null },
): View {
  const blocks: Block[] = [
    { kind: 'header', text: `Result ready: ${r.jobTitle}` },
    { kind: 'text', text: `${r.agentName} submitted a result.${r.summary ? `\n> ${r.summary}` : ''}` },
  ];
  if (r.artifacts.length) blocks.push({ kind: 'context', text: `Artifacts: ${r.artifacts.join(', ')}` });
  if (decided) blocks.push({ kind: 'context', text: `${decided.decision}${decided.by ? ` by ${decided.by}` : ''}` });
  else {
    blocks.push({
      kind: 'buttons',
      buttons: [
        { id: `review:ACCEPT:${r.executionId}`, label: 'Accept', style: 'primary' },
        { id: `review:REQUEST_CHANGES:${r.executionId}`, label: 'Request changes' },
        { id: `review:REJECT:${r.executionId}`, label: 'Reject', style: 'danger' },
      ],
    });
  }
  return { text: `Result ready for review: ${r.jobTitle}`, blocks };
}

export function reviewForm(executionId: string, decision: string): Form {
  return {
    id: `review:${decision}:${executionId}`,
    title: decision === 'ACCEPT' ? 'Accept and pay' : decision === 'REJECT' ? 'Reject result' : 'Request changes',
    submitLabel: decision === 'ACCEPT' ? 'Accept' : 'Send',
    fields: [
      ...(decision === 'ACCEPT'
        ? [
            {
              id: 'rating',
              label: 'Rating',
              kind: 'select' as const,
              options: ['5', '4', '3', '2', '1'].map((v) => ({ value: v, label: `${'★'.repeat(Number(v))} ${v}` })),
            },
          ]
        : []),
      {
        id: 'notes',
        label: decision === 'REQUEST_CHANGES' ? 'What should change?' : 'Notes',
        kind: 'multiline' as const,
        optional: decision === 'ACCEPT',
      },
    ],
  };
}

export function inputRequestView(
  q: { id: string; jobTitle: string; agentName: string; question: string },
  answered?: { answer: string; by: string | null },
): View {
  const blocks: Block[] = [
    { kind: 'header', text: `${q.agentName} has a question` },
    { kind: 'text', text: `on *${q.jobTitle}*\n> ${q.question}` },
  ];
  if (answered)
    blocks.push({ kind: 'context', text: `Answered${answered.by ? ` by ${answered.by}` : ''}: ${answered.answer}` });
  else blocks.push({ kind: 'buttons', buttons: [{ id: `input:answer:${q.id}`, label: 'Answer', style: 'primary' }] });
  return { text: `${q.agentName} asks: ${q.question}`, blocks };
}

export function answerForm(inputRequestId: string, question: string): Form {
  return {
    id: `input:answer:${inputRequestId}`,
    title: 'Answer the agent',
    submitLabel: 'Send',
    fields: [{ id: 'answer', label: question.slice(0, 45), kind: 'multiline' }],
  };
}

export function postJobForm(): Form {
  return {
    id: 'job:post',
    title: 'Post a job',
    submitLabel: 'Post',
    fields: [
      { id: 'title', label: 'Title', kind: 'text', placeholder: 'Research competitor pricing' },
      { id: 'description', label: 'Description', kind: 'multiline' },
      {
        id: 'skills',
        label: 'Skills (comma-separated)',
        kind: 'text',
        optional: true,
        placeholder: 'web-research, analytics',
      },
      { id: 'budget', label: 'Budget (credits)', kind: 'number', initial: '100' },
      {
        id: 'visibility',
        label: 'Visibility',
        kind: 'select',
        options: [
          { value: 'WORKSPACE', label: 'Workspace' },
          { value: 'PUBLIC', label: 'Public' },
          { value: 'PRIVATE', label: 'Private' },
        ],
      },
      { id: 'deadline', label: 'Deadline (YYYY-MM-DD, optional)', kind: 'text', optional: true },
    ],
  };
}

export function walletView(w: { balance: number; held: number; available: number }): View {
  return {
    text: `Wallet: ${money(w.available)} available`,
    ephemeral: true,
    blocks: [
      { kind: 'header', text: 'Workspace wallet' },
      {
        kind: 'fields',
        fields: [
          { label: 'Available', value: money(w.available) },
          { label: 'In escrow', value: money(w.held) },
          { label: 'Total', value: money(w.balance) },
        ],
      },
    ],
  };
}

export function statusView(
  job: JobSummary & { assignedAgent: string | null; progress: number | null; executionStatus: string | null },
  link?: View['link'],
): View {
  const blocks: Block[] = [
    { kind: 'header', text: job.title },
    {
      kind: 'fields',
      fields: [
        { label: 'Status', value: job.status },
        { label: 'Budget', value: money(job.budget) },
        { label: 'Agent', value: job.assignedAgent ?? '—' },
        { label: 'Bids', value: String(job.bidCount ?? 0) },
      ],
    },
  ];
  if (job.progress !== null) blocks.push({ kind: 'progress', percent: job.progress, label: job.executionStatus ?? '' });
  blocks.push({ kind: 'context', text: `\`${job.id}\`` });
  return { text: `${job.title}: ${job.status}`, ephemeral: true, link, blocks };
}
