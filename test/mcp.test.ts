import { resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../src/server.ts';
import { createTestDatabase, gql, type TestDatabase, testConfig } from './support/app.ts';
import { createAgentFixture, createWorkspaceFixture, postJobFixture } from './support/factories.ts';

const root = resolve(import.meta.dirname, '..');
const TOOLS = [
  'get_job',
  'get_wallet',
  'list_jobs',
  'place_bid',
  'record_tool_call',
  'report_progress',
  'request_input',
  'start_execution',
  'submit_result',
];

let db: TestDatabase;
let app: App;
let url: string;
beforeAll(async () => {
  db = await createTestDatabase();
  app = await buildApp(testConfig(), { database: db.database, migrate: false });
  ({ url } = await app.start());
});
afterAll(async () => {
  await app.stop();
  await db.close();
});

type ToolResult = { isError?: boolean; content: { type: string; text: string }[] };

async function call(client: Client, name: string, args: Record<string, unknown> = {}) {
  const result = (await client.callTool({ name, arguments: args })) as ToolResult;
  const text = result.content[0]?.text ?? '';
  return { isError: Boolean(result.isError), text, json: () => JSON.parse(text) };
}

async function setup() {
  const poster = await createWorkspaceFixture(db.database.prisma);
  const developer = await createWorkspaceFixture(db.database.prisma, { credits: 0 });
  const agent = await createAgentFixture(db.database.prisma, developer);
  const job = await postJobFixture(db.database.prisma, poster, {
    visibility: 'PUBLIC',
    title: 'Summarise the pricing pages',
    budget: 90,
  });
  return { poster, agent, job };
}

describe('MCP server', () => {
  it('driven by the MCP SDK client over stdio, completes a job end to end', async () => {
    const { poster, agent, job } = await setup();
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: ['--import', 'tsx', 'src/mcp/stdio.ts'],
      cwd: root,
      env: { PATH: process.env.PATH ?? '', AGENTWORK_URL: url, AGENTWORK_API_KEY: agent.key },
      stderr: 'pipe',
    });
    const client = new Client({ name: 'agentwork-test', version: '1.0.0' });
    await client.connect(transport);
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(TOOLS);
      for (const tool of tools) {
        expect(tool.description?.length, tool.name).toBeGreaterThan(40);
        expect(tool.inputSchema.type).toBe('object');
      }
      expect(tools.find((t) => t.name === 'place_bid')?.inputSchema.required).toEqual(
        expect.arrayContaining(['jobId', 'message', 'estimatedMinutes', 'requestedCredits']),
      );

      const listed = await call(client, 'list_jobs');
      expect(listed.isError).toBe(false);
      expect(listed.json().jobs.map((j: { id: string }) => j.id)).toContain(job.jobGid);
      const searched = await call(client, 'list_jobs', { search: 'pricing', status: ['OPEN'] });
      expect(searched.json().jobs.map((j: { id: string }) => j.id)).toContain(job.jobGid);

      const detail = await call(client, 'get_job', { jobId: job.jobGid });
      expect(detail.json()).toMatchObject({ id: job.jobGid, title: 'Summarise the pricing pages', status: 'OPEN' });

      const invalid = await call(client, 'place_bid', {
        jobId: job.jobGid,
        message: 'x',
        estimatedMinutes: 5,
        requestedCredits: 0,
      });
      expect(invalid.isError).toBe(true); // rejected by the tool's input schema (or the API)

      const bid = await call(client, 'place_bid', {
        jobId: job.jobGid,
        message: 'I read pricing pages for a living',
        estimatedMinutes: 15,
        requestedCredits: 70,
      });
      expect(bid.isError).toBe(false);
      const bidId = bid.json().id;
      expect(bid.json()).toMatchObject({ status: 'PENDING', requestedCredits: 70 });

      const tooEarly = await call(client, 'start_execution', { jobId: job.jobGid });
      expect(tooEarly.isError).toBe(true);
      expect(tooEarly.text).toMatch(/Error/);

      const accepted = await gql(
        app,
        `mutation($id: ID!) { acceptBid(bidId: $id) { __typename } }`,
        { id: bidId },
        poster.ownerKey,
      );
      expect(accepted.data.acceptBid.__typename).toBe('AcceptBidPayload');

      const started = await call(client, 'start_execution', { jobId: job.jobGid });
      expect(started.isError).toBe(false);
      const executionId = started.json().id as string;
      expect(executionId).toMatch(/^exe_/);

      expect(
        (await call(client, 'report_progress', { executionId, progress: 30, kind: 'search', message: 'Found 3 pages' }))
          .isError,
      ).toBe(false);
      const tool = await call(client, 'record_tool_call', {
        executionId,
        tool: 'web_search',
        server: 'brave',
        input: { q: 'pricing', apiKey: 'sk-secret' },
        output: { hits: 3 },
        durationMs: 210,
      });
      expect(tool.json()).toMatchObject({ tool: 'web_search', status: 'SUCCESS' });

      const asked = await call(client, 'request_input', { executionId, question: 'Monthly or yearly prices?' });
      const inputRequestId = asked.json().id;
      await gql(
        app,
        `mutation($i: ID!) { provideInput(inputRequestId: $i, answer: "Monthly") { __typename } }`,
        { i: inputRequestId },
        poster.ownerKey,
      );
      await call(client, 'report_progress', { executionId, progress: 80, message: 'Compared monthly prices' });

      const submitted = await call(client, 'submit_result', {
        executionId,
        summary: 'A is cheapest monthly.',
        artifacts: [{ name: 'report.md', mimeType: 'text/markdown', content: '# Pricing\nA < B < C' }],
      });
      expect(submitted.isError).toBe(false);
      expect(submitted.json().job.status).toBe('REVIEW');

      const wallet = await call(client, 'get_wallet');
      expect(wallet.json()).toMatchObject({ balance: 0, held: 0 });

      const after = await call(client, 'get_job', { jobId: job.jobGid });
      const execution = after.json().execution;
      expect(execution.steps.map((s: { message: string }) => s.message)).toEqual([
        'Found 3 pages',
        'Compared monthly prices',
      ]);
      expect(execution.inputRequests[0]).toMatchObject({ question: 'Monthly or yearly prices?', answer: 'Monthly' });

      // The database agrees.
      const row = await db.database.prisma.job.findUnique({
        where: { id: job.jobId },
        include: { executions: { include: { toolCalls: true, artifacts: true } } },
      });
      expect(row?.status).toBe('REVIEW');
      expect(row?.executions[0]?.status).toBe('COMPLETED');
      expect(row?.executions[0]?.result).toEqual({ summary: 'A is cheapest monthly.' });
      expect(row?.executions[0]?.toolCalls[0]?.input).toEqual({ q: 'pricing', apiKey: '[redacted]' });
      expect(row?.executions[0]?.artifacts.map((a) => a.name)).toEqual(['report.md']);
    } finally {
      await client.close();
    }
  }, 60_000);

  it('serves Streamable HTTP at /mcp with an agent key, and refuses without one', async () => {
    const { agent, job, poster } = await setup();
    const client = new Client({ name: 'agentwork-http-test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${agent.key}` } },
      }),
    );
    try {
      const listed = await call(client, 'list_jobs', { first: 10 });
      expect(listed.isError).toBe(false);
      expect(listed.json().jobs.map((j: { id: string }) => j.id)).toContain(job.jobGid);
    } finally {
      await client.close();
    }

    const anonymous = new Client({ name: 'anonymous', version: '1.0.0' });
    await expect(anonymous.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`)))).rejects.toThrow();

    const initialize = (authorization?: string) =>
      fetch(`${url}/mcp`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...(authorization ? { authorization } : {}),
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
        }),
      });
    const none = await initialize();
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect((await initialize('Bearer aw_live_unknown')).status).toBe(401);
    expect((await initialize(`Bearer ${poster.ownerKey}`)).status).toBe(403);
    expect((await initialize(`Bearer ${agent.key}`)).status).toBe(200);
  });
});
