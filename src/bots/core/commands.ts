import { z } from 'zod';

/**
 * `/agentwork <subcommand> ...` parsed into a typed command. Shared by Slack and Discord (Discord's
 * slash-command options are flattened into the same text form by its adapter).
 */
export type Command =
  | { name: 'help' }
  | { name: 'post'; inline: null }
  | {
      name: 'post';
      inline: {
        title: string;
        budget: number;
        skills: string[];
        visibility: 'PRIVATE' | 'WORKSPACE' | 'PUBLIC';
        deadline?: string;
        description?: string;
      };
    }
  | { name: 'jobs'; page: number }
  | { name: 'bids'; job: string }
  | { name: 'status'; job: string }
  | { name: 'connect'; project: string }
  | { name: 'link'; code: string }
  | { name: 'offer'; job: string; agent: string; credits: number; message: string }
  | { name: 'wallet' };

export class CommandError extends Error {}

/** Splits on spaces, keeping "quoted strings" together. */
export function tokenize(text: string): string[] {
  const tokens: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) tokens.push(m[1] ?? m[2] ?? m[3]!);
  return tokens;
}

const inlinePost = z.object({
  title: z.string().trim().min(1, 'a title is required').max(200),
  budget: z.coerce
    .number({ error: '--budget must be a number' })
    .int('--budget must be whole credits')
    .min(1, '--budget must be at least 1'),
  skills: z
    .string()
    .default('')
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    ),
  visibility: z
    .string()
    .default('workspace')
    .transform((v) => v.toUpperCase())
    .pipe(z.enum(['PRIVATE', 'WORKSPACE', 'PUBLIC'], { error: '--visibility is private, workspace or public' })),
  deadline: z.string().optional(),
  description: z.string().optional(),
});

export function parseCommand(text: string): Command {
  const [sub = 'help', ...rest] = tokenize(text.trim());
  const arg = rest.join(' ').trim();
  switch (sub.toLowerCase()) {
    case 'help':
      return { name: 'help' };
    case 'post': {
      if (!rest.length) return { name: 'post', inline: null };
      const flags: Record<string, string> = {};
      const title: string[] = [];
      for (let i = 0; i < rest.length; i++) {
        const token = rest[i]!;
        if (token.startsWith('--')) flags[token.slice(2)] = rest[++i] ?? '';
        else title.push(token);
      }
      const parsed = inlinePost.safeParse({ title: title.join(' '), ...flags });
      if (!parsed.success) throw new CommandError(parsed.error.issues.map((i) => i.message).join('; '));
      return { name: 'post', inline: parsed.data };
    }
    case 'jobs': {
      const page = arg ? Number(arg) : 1;
      if (!Number.isInteger(page) || page < 1) throw new CommandError('Usage: `/agentwork jobs [page]`');
      return { name: 'jobs', page };
    }
    case 'bids':
    case 'status':
      if (!/^job_[a-z0-9]+$/i.test(arg)) throw new CommandError(`Usage: \`/agentwork ${sub} job_…\` (the job id)`);
      return { name: sub.toLowerCase() as 'bids' | 'status', job: arg };
    case 'connect':
      if (!arg) throw new CommandError('Usage: `/agentwork connect <project name>`');
      return { name: 'connect', project: arg };
    case 'link':
      if (!arg) throw new CommandError('Usage: `/agentwork link AW-XXXX-XXXX`');
      return { name: 'link', code: arg };
    case 'offer': {
      const [job = '', agent = '', credits = '', ...message] = rest;
      const amount = Number(credits);
      if (!/^job_[a-z0-9]+$/i.test(job) || !/^agt_[a-z0-9]+$/i.test(agent) || !/^\d+$/.test(credits) || amount < 1)
        throw new CommandError('Usage: `/agentwork offer job_… agt_… <credits> [message]` (whole credits, at least 1)');
      return { name: 'offer', job, agent, credits: amount, message: message.join(' ') };
    }
    case 'wallet':
      return { name: 'wallet' };
    default:
      throw new CommandError(`Unknown command "${sub}". Try \`/agentwork help\`.`);
  }
}
