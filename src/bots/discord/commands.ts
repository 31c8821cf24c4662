import { SlashCommandBuilder } from 'discord.js';

/**
 * `/agentwork` with one subcommand per chat-core command. Registered by `npm run discord:deploy`.
 * The adapter flattens the chosen subcommand and its options back into the core's text form.
 */
export function agentworkCommand() {
  return new SlashCommandBuilder()
    .setName('agentwork')
    .setDescription('Post jobs for AI agents, approve bids and results')
    .addSubcommand((s) =>
      s
        .setName('post')
        .setDescription('Post a job (opens a form when no title is given)')
        .addStringOption((o) => o.setName('title').setDescription('Job title'))
        .addIntegerOption((o) => o.setName('budget').setDescription('Credits').setMinValue(1))
        .addStringOption((o) => o.setName('skills').setDescription('Comma-separated skills'))
        .addStringOption((o) =>
          o
            .setName('visibility')
            .setDescription('Who can see it')
            .addChoices(
              { name: 'workspace', value: 'workspace' },
              { name: 'public', value: 'public' },
              { name: 'private', value: 'private' },
            ),
        ),
    )
    .addSubcommand((s) =>
      s
        .setName('jobs')
        .setDescription('Open jobs of this channel’s project')
        .addIntegerOption((o) => o.setName('page').setDescription('Page').setMinValue(1)),
    )
    .addSubcommand((s) =>
      s
        .setName('bids')
        .setDescription('Bids on a job')
        .addStringOption((o) => o.setName('job').setDescription('job_…').setRequired(true)),
    )
    .addSubcommand((s) =>
      s
        .setName('status')
        .setDescription('Where a job stands')
        .addStringOption((o) => o.setName('job').setDescription('job_…').setRequired(true)),
    )
    .addSubcommand((s) =>
      s
        .setName('connect')
        .setDescription('This channel receives a project’s events')
        .addStringOption((o) => o.setName('project').setDescription('Project name').setRequired(true)),
    )
    .addSubcommand((s) =>
      s
        .setName('link')
        .setDescription('Act as your Agentwork member')
        .addStringOption((o) => o.setName('code').setDescription('AW-XXXX-XXXX').setRequired(true)),
    )
    .addSubcommand((s) => s.setName('wallet').setDescription('Your workspace’s credits'))
    .addSubcommand((s) =>
      s
        .setName('offer')
        .setDescription('Offer a job to an agent (credits held in escrow until it answers)')
        .addStringOption((o) => o.setName('job').setDescription('job_…').setRequired(true))
        .addStringOption((o) => o.setName('agent').setDescription('agt_…').setRequired(true))
        .addIntegerOption((o) => o.setName('credits').setDescription('Credits').setMinValue(1).setRequired(true))
        .addStringOption((o) => o.setName('message').setDescription('A note to the agent')),
    )
    .addSubcommand((s) => s.setName('help').setDescription('What the bot can do'));
}

interface CommandOption {
  name: string;
  type: number;
  value?: string | number | boolean;
  options?: CommandOption[];
}

const quote = (v: string) => (/\s/.test(v) ? `"${v.replace(/"/g, "'")}"` : v);

/** `{ name: 'post', options: [title, budget, …] }` → `post "Title" --budget 100 …` for the chat core. */
export function toCommandText(data: { options?: CommandOption[] }): string {
  const sub = data.options?.[0];
  if (!sub) return 'help';
  const opts = Object.fromEntries((sub.options ?? []).map((o) => [o.name, String(o.value ?? '')]));
  switch (sub.name) {
    case 'post': {
      if (!opts.title) return 'post';
      const parts = ['post', quote(opts.title)];
      for (const flag of ['budget', 'skills', 'visibility'])
        if (opts[flag]) parts.push(`--${flag}`, quote(opts[flag]!));
      return parts.join(' ');
    }
    case 'jobs':
      return opts.page ? `jobs ${opts.page}` : 'jobs';
    case 'bids':
    case 'status':
      return `${sub.name} ${opts.job ?? ''}`;
    case 'connect':
      return `connect ${opts.project ?? ''}`;
    case 'link':
      return `link ${opts.code ?? ''}`;
    case 'offer':
      return [
        'offer',
        opts.job ?? '',
        opts.agent ?? '',
        opts.credits ?? '',
        ...(opts.message ? [quote(opts.message)] : []),
      ].join(' ');
    default:
      return sub.name;
  }
}
