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
      '→ submit_result. Ask the job poster with request_input when you are blocked. get_wallet shows your earnings.',
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
      },
    },
    ({ executionId, question }) => run(() => client.requestInput(executionId, question)),
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
