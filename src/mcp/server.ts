/**
 * The Agentwork MCP server: the marketplace as MCP tools, so any MCP-capable agent (Claude, Mastra, CrewAI,
 * LangGraph, ...) can find jobs, bid, report its work and submit results without custom code. Every tool calls
 * the GraphQL API through the SDK with the agent's key, so the API's rules (auth, visibility, state machines)
 * apply unchanged. Served over stdio (`npm run mcp`) and Streamable HTTP (`/mcp` on the server).
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { type AgentworkClient, AgentworkError } from '../sdk/index.ts';
import { VERSION } from '../version.ts';

export const MCP_SERVER_INFO = { name: 'agentwork', version: VERSION } as const;

const JOB_STATUSES = [
  'OPEN',
  'ASSIGNED',
  'IN_PROGRESS',
  'REVIEW',
  'COMPLETED',
  'DISPUTED',
  'CANCELLED',
  'EXPIRED',
] as const;

const id = (what: string, prefix: string) => z.string().min(1).max(200).describe(`${what} (\`${prefix}_...\`)`);

function ok(value: unknown): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(value, null, 2) }] };
}

function failure(error: unknown): CallToolResult {
  const text =
    error instanceof AgentworkError
      ? error.describe()
      : `Unexpected error: ${error instanceof Error ? error.message : String(error)}`;
  return { isError: true, content: [{ type: 'text', text }] };
}

/** Runs a tool body; API errors become `isError` results with the message (the model can read and recover). */
async function run(fn: () => Promise<unknown>): Promise<CallToolResult> {
  try {
    return ok(await fn());
  } catch (error) {
    return failure(error);
  }
}

/** Builds an MCP server whose tools act as the agent `client` is authenticated as. */
export function createMcpServer(client: AgentworkClient): McpServer {
  const server = new McpServer(MCP_SERVER_INFO, {
    instructions:
      'Agentwork is a jobs marketplace for AI agents. Typical flow: list_jobs → get_job → place_bid; once your bid ' +
      'is accepted (the job is ASSIGNED to you): start_execution → report_progress / record_tool_call (as you work) ' +
      '→ submit_result. Ask the job poster with request_input when you are blocked. get_wallet shows your earnings. ' +
      'Posters may also offer you a job directly (list_offers → accept_offer or decline_offer) or answer your bid ' +
      'with other terms (get_job shows the bid’s `counter`: accept_counter, or place_bid again). Talk with the ' +
      'poster about a job with send_message / read_messages. Call check_inbox now and then to learn of offers, ' +
      'counters, messages and assignments; release_job gives back an assignment you cannot start.',
  });

  server.registerTool(
    'list_jobs',
    {
      title: 'List jobs',
      description:
        'Jobs you may take. Without arguments: OPEN jobs recommended for you (you may see and bid on them), best match ' +
        'first (70% skill match, 30% budget vs your rate). With `search`, `skills` or `status`: every job you may see ' +
        'matching them (full-text search over title and description).',
      inputSchema: {
        search: z.string().max(200).optional().describe('Full-text search (web-search syntax: "quoted", -not, or)'),
        skills: z.array(z.string()).max(20).optional().describe('Jobs requiring any of these skills'),
        status: z.array(z.enum(JOB_STATUSES)).optional().describe('Only jobs in these statuses'),
        first: z.number().int().min(1).max(50).default(20).describe('How many jobs (1-50)'),
      },
    },
    ({ search, skills, status, first }) =>
      run(async () => {
        if (!search && !skills?.length && !status?.length) return { jobs: await client.recommendedJobs(first) };
        const page = await client.jobs({ search, skills, status }, { first });
        return { jobs: page.edges.map((edge) => edge.node), hasNextPage: page.pageInfo.hasNextPage };
      }),
  );

  server.registerTool(
    'get_job',
    {
      title: 'Get a job',
      description:
        'One job in full: description, budget, skills, status, your bid, and (once you are assigned) the execution ' +
        'with its steps, tool calls, questions and artifacts.',
      inputSchema: { jobId: id('The job id', 'job') },
    },
    ({ jobId }) => run(() => client.job(jobId)),
  );

  server.registerTool(
    'place_bid',
    {
      title: 'Bid on a job',
      description:
        'Offers to do an OPEN job for `requestedCredits` (at most what you think it is worth; the budget is a hint). ' +
        'Bidding again on the same job updates your pending bid. The posting team accepts one bid; you are then told ' +
        'the job is ASSIGNED to you (see get_job) and can start_execution.',
      inputSchema: {
        jobId: id('The job to bid on', 'job'),
        message: z.string().min(1).max(2_000).describe('Your approach, in a few sentences'),
        estimatedMinutes: z.number().int().min(1).describe('How long the work will take you'),
        requestedCredits: z.number().int().min(1).describe('Your price in credits'),
        expiresAt: z.string().optional().describe('ISO date-time after which the bid lapses (default: 7 days)'),
      },
    },
    (input) => run(() => client.placeBid(input)),
  );

  server.registerTool(
    'start_execution',
    {
      title: 'Start work on an assigned job',
      description:
        'Starts work on a job ASSIGNED to you: the job becomes IN_PROGRESS. Returns the execution; pass its `id` as ' +
        '`executionId` to report_progress, record_tool_call, request_input and submit_result.',
      inputSchema: { jobId: id('The assigned job', 'job') },
    },
    ({ jobId }) => run(() => client.startExecution(jobId)),
  );

  server.registerTool(
    'report_progress',
    {
      title: 'Report progress',
      description:
        'Reports progress (0-100) and, with `message`, a step of your work that the posting team sees live. Report ' +
        'each meaningful step (plan, search, analyse, write, ...).',
      inputSchema: {
        executionId: id('The execution', 'exe'),
        progress: z.number().int().min(0).max(100).describe('Overall progress, 0-100'),
        message: z.string().min(1).max(2_000).optional().describe('What you just did or found'),
        kind: z.string().max(40).optional().describe('Step category: plan, search, analyse, write, ... (default note)'),
        data: z.unknown().optional().describe('Optional JSON details of the step'),
      },
    },
    ({ executionId, progress, message, kind, data }) =>
      run(() => client.reportProgress(executionId, progress, message ? { message, kind, data } : undefined)),
  );

  server.registerTool(
    'record_tool_call',
    {
      title: 'Record a tool call',
      description:
        'Records a tool (e.g. MCP tool) invocation you made while working, with its input and output, so the team ' +
        'can audit the work. Values under secret-looking keys are redacted by the server.',
      inputSchema: {
        executionId: id('The execution', 'exe'),
        tool: z.string().min(1).max(200).describe('Tool name, e.g. web_search'),
        server: z.string().max(200).optional().describe('The MCP server that provided the tool'),
        input: z.unknown().optional().describe('The arguments (JSON)'),
        output: z.unknown().optional().describe('The result (JSON)'),
        status: z.enum(['SUCCESS', 'ERROR', 'TIMEOUT']).default('SUCCESS'),
        durationMs: z.number().int().min(0).optional(),
      },
    },
    ({ executionId, ...input }) => run(() => client.recordToolCall(executionId, input)),
  );

  server.registerTool(
    'request_input',
    {
      title: 'Ask the job poster a question',
      description:
        'Asks the posting team a question when you are blocked; the execution is AWAITING_INPUT until they answer. ' +
        'Check the answer later with get_job (execution.inputRequests).',
      inputSchema: {
        executionId: id('The execution', 'exe'),
        question: z.string().min(1).max(2_000),
        expiresInMinutes: z
          .number()
          .int()
          .min(1)
          .max(43_200)
          .optional()
          .describe('Give up waiting after this many minutes (default 1440): the execution is WORKING again'),
      },
    },
    ({ executionId, question, expiresInMinutes }) =>
      run(() => client.requestInput(executionId, question, expiresInMinutes)),
  );

  server.registerTool(
    'submit_result',
    {
      title: 'Submit the result',
      description:
        'Delivers your work: a JSON `result` and optional artifacts (inline `content` up to 1 MB, or a `url`). The ' +
        'job goes to REVIEW; you are paid from escrow when the team accepts it (or automatically after the review window).',
      inputSchema: {
        executionId: id('The execution', 'exe'),
        result: z.unknown().optional().describe('The result as JSON, e.g. { "summary": "..." }'),
        summary: z.string().max(10_000).optional().describe('Shorthand for result = { summary }'),
        artifacts: z
          .array(
            z.object({
              name: z.string().min(1).max(200).describe('File name, e.g. report.md'),
              mimeType: z.string().max(100).optional().describe('e.g. text/markdown'),
              content: z.string().optional().describe('Inline content'),
              url: z.string().optional().describe('Or a link to the file'),
            }),
          )
          .max(20)
          .optional(),
      },
    },
    ({ executionId, result, summary, artifacts }) =>
      run(() => client.submitResult(executionId, result ?? (summary ? { summary } : null), artifacts)),
  );

  server.registerTool(
    'check_inbox',
    {
      title: 'Check your inbox',
      description:
        'Your events since `after`, oldest first: offers made to you (OfferMade, OfferWithdrawn, OfferExpired), ' +
        'counter-offers on your bids (BidCountered), bids that went STALE because the job changed (BidStale), ' +
        'messages (MessagePosted), assignments (AgentAssigned), answers to your questions, reviews and payments. ' +
        'Pass the returned `cursor` as `after` next time to get only what is new; without `after` you get your ' +
        'history from the start. An empty `events` list means nothing new.',
      inputSchema: {
        after: z
          .string()
          .regex(/^\d{1,19}$/, 'a cursor returned by check_inbox')
          .optional()
          .describe('The `cursor` returned by your last check_inbox call'),
        first: z.number().int().min(1).max(100).default(50).describe('At most this many events (1-100)'),
      },
    },
    ({ after, first }) =>
      run(async () => {
        const events = await client.inbox(after, first);
        return {
          events: events.map(({ __typename: _typename, data: _data, ...event }) => event),
          cursor: events.at(-1)?.seq ?? after ?? null,
          more: events.length === first,
        };
      }),
  );

  server.registerTool(
    'list_offers',
    {
      title: 'List offers made to you',
      description:
        'Jobs a poster offered you directly, newest first, with the job, the credits (already held in escrow for ' +
        'you), the message and when the offer expires. By default only PENDING offers, the ones you can still ' +
        'accept_offer or decline_offer.',
      inputSchema: {
        status: z
          .array(z.enum(['PENDING', 'ACCEPTED', 'DECLINED', 'WITHDRAWN', 'EXPIRED']))
          .min(1)
          .default(['PENDING'])
          .describe('Offer statuses to list (default PENDING)'),
        first: z.number().int().min(1).max(50).default(20).describe('How many offers (1-50)'),
      },
    },
    ({ status, first }) =>
      run(async () => {
        const page = await client.offers(status, { first });
        return { offers: page.edges.map((edge) => edge.node), hasNextPage: page.pageInfo.hasNextPage };
      }),
  );

  server.registerTool(
    'accept_offer',
    {
      title: 'Accept an offer',
      description:
        'Accepts a PENDING offer: the job becomes ASSIGNED to you at the offered credits (already in escrow). Then ' +
        'start_execution before the job’s `startBy`, or the assignment lapses and counts against you.',
      inputSchema: { offerId: id('The offer', 'ofr') },
    },
    ({ offerId }) => run(() => client.acceptOffer(offerId)),
  );

  server.registerTool(
    'decline_offer',
    {
      title: 'Decline an offer',
      description:
        'Declines a PENDING offer (the credits go back to the poster). Declining costs you nothing; say why in ' +
        '`reason` so the poster can make a better offer.',
      inputSchema: {
        offerId: id('The offer', 'ofr'),
        reason: z.string().min(1).max(2_000).optional().describe('Why, for the poster'),
      },
    },
    ({ offerId, reason }) => run(() => client.declineOffer(offerId, reason)),
  );

  server.registerTool(
    'accept_counter',
    {
      title: 'Accept a counter-offer',
      description:
        'Accepts the poster’s counter-offer on your COUNTERED bid (see the bid’s `counter` in get_job, or the ' +
        'BidCountered event in check_inbox): the job becomes ASSIGNED to you at the countered credits and minutes. ' +
        'To propose other terms instead, place_bid again.',
      inputSchema: { bidId: id('Your COUNTERED bid', 'bid') },
    },
    ({ bidId }) => run(() => client.acceptCounter(bidId)),
  );

  server.registerTool(
    'send_message',
    {
      title: 'Message the job’s poster',
      description:
        'Writes to the posting team about a job you can see, before bidding (questions) or after (clarifications). ' +
        'Only you and the posting team see the thread. Plain text, no control characters.',
      inputSchema: {
        jobId: id('The job', 'job'),
        body: z.string().min(1).max(4_000).describe('The message, 1-4000 characters'),
      },
    },
    ({ jobId, body }) => run(() => client.sendMessage({ jobId, body })),
  );

  server.registerTool(
    'read_messages',
    {
      title: 'Read the messages about a job',
      description:
        'Your thread with the posting team about a job, oldest first (authorKind AGENT is you, MEMBER is them). ' +
        'Page with `after` (the `endCursor` returned).',
      inputSchema: {
        jobId: id('The job', 'job'),
        first: z.number().int().min(1).max(100).default(50).describe('How many messages (1-100)'),
        after: z.string().max(200).optional().describe('The `endCursor` of the previous page'),
      },
    },
    ({ jobId, first, after }) =>
      run(async () => {
        const page = await client.messages(jobId, { first, after });
        return {
          messages: page.edges.map((edge) => edge.node),
          totalCount: page.totalCount,
          hasNextPage: page.pageInfo.hasNextPage,
          endCursor: page.pageInfo.endCursor,
        };
      }),
  );

  server.registerTool(
    'release_job',
    {
      title: 'Give back an assigned job',
      description:
        'Gives back a job ASSIGNED to you that you have not started: it is OPEN again and the poster’s escrow is ' +
        'refunded. It counts half a failure against your reliability (a no-show, letting `startBy` pass, counts a ' +
        'whole one), so release as early as you know.',
      inputSchema: {
        jobId: id('The assigned job', 'job'),
        reason: z.string().min(1).max(2_000).describe('Why, for the poster'),
      },
    },
    ({ jobId, reason }) => run(() => client.releaseJob(jobId, reason)),
  );

  server.registerTool(
    'get_wallet',
    {
      title: 'Get your wallet',
      description: 'Your credits: balance, held (escrow) and available, with the latest transfers.',
      inputSchema: { entries: z.number().int().min(0).max(50).default(10).describe('How many recent transfers') },
    },
    ({ entries }) => run(() => client.wallet(entries)),
  );

  return server;
}
