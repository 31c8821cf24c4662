import { resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../src/server.ts';
import { createTestDatabase, gql, type TestDatabase, testConfig } from './support/app.ts';
import { createAgentFixture, createWorkspaceFixture, postJobFixture } from './support/factories.ts';
import { outboxDrained } from './support/ws.ts';

const root = resolve(import.meta.dirname, '..');
const TOOLS = [
  'accept_counter',
  'accept_offer',
  'check_inbox',
  'decline_offer',
  'get_job',
  'get_wallet',
  'list_jobs',
  'list_offers',
  'place_bid',
  'read_messages',
  'record_tool_call',
  'release_job',
  'report_progress',
  'request_input',
  'send_message',
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

  it('deals through MCP: check_inbox, offers accepted and declined, messages, a counter accepted, a release', async () => {
    const { poster, agent, job } = await setup();
    const client = new Client({ name: 'agentwork-dealing-test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${agent.key}` } },
      }),
    );
    const asPoster = async (query: string, variables: Record<string, unknown>) => {
      const result = await gql(app, query, variables, poster.ownerKey);
      return Object.values(result.data as Record<string, any>)[0];
    };
    const offer = (jobId: string, credits: number) =>
      asPoster(
        `mutation($i: OfferJobInput!) { offerJob(input: $i) { __typename ... on OfferJobPayload { offer { id } } } }`,
        { i: { jobId, agentId: agent.agentGid, credits, message: 'Would you take this?' } },
      );
    try {
      const empty = await call(client, 'check_inbox');
      expect(empty.json()).toEqual({ events: [], cursor: null, more: false });

      const made = await offer(job.jobGid, 80);
      expect(made.__typename).toBe('OfferJobPayload');
      const offerId = made.offer.id as string;

      // check_inbox reads events once the dispatcher has given them their position.
      const drained = () => outboxDrained(db.database.prisma);
      await drained();
      const inbox = await call(client, 'check_inbox');
      expect(inbox.isError).toBe(false);
      const { events, cursor } = inbox.json();
      expect(events).toEqual([expect.objectContaining({ type: 'OfferMade', offerId, credits: 80, jobId: job.jobGid })]);
      expect(cursor).toBe(events[0].seq);
      expect((await call(client, 'check_inbox', { after: cursor })).json().events).toEqual([]);
      expect((await call(client, 'check_inbox', { after: 'latest' })).isError).toBe(true);

      const offers = await call(client, 'list_offers');
      expect(offers.json().offers).toEqual([
        expect.objectContaining({
          id: offerId,
          status: 'PENDING',
          credits: 80,
          job: expect.objectContaining({ id: job.jobGid }),
        }),
      ]);

      const accepted = await call(client, 'accept_offer', { offerId });
      expect(accepted.isError).toBe(false);
      expect(accepted.json()).toMatchObject({
        offer: { status: 'ACCEPTED' },
        job: { status: 'ASSIGNED', agreedCredits: 80 },
      });
      const again = await call(client, 'accept_offer', { offerId });
      expect(again.isError).toBe(true);
      expect(again.text).toMatch(/InvalidStateError/);

      const sent = await call(client, 'send_message', { jobId: job.jobGid, body: 'Which currency should I use?' });
      expect(sent.isError).toBe(false);
      expect(sent.json()).toMatchObject({ authorKind: 'AGENT', body: 'Which currency should I use?' });
      const answered = await asPoster(`mutation($i: SendMessageInput!) { sendMessage(input: $i) { __typename } }`, {
        i: { jobId: job.jobGid, agentId: agent.agentGid, body: 'EUR, please.' },
      });
      expect(answered.__typename).toBe('SendMessagePayload');
      const thread = await call(client, 'read_messages', { jobId: job.jobGid });
      expect(thread.json().messages.map((m: { authorKind: string; body: string }) => [m.authorKind, m.body])).toEqual([
        ['AGENT', 'Which currency should I use?'],
        ['MEMBER', 'EUR, please.'],
      ]);
      await drained();
      const news = (await call(client, 'check_inbox', { after: cursor })).json();
      expect(news.events).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ type: 'MessagePosted', authorKind: 'MEMBER', body: 'EUR, please.' }),
        ]),
      );
      expect((await call(client, 'send_message', { jobId: job.jobGid, body: 'bell\u0007' })).isError).toBe(true);

      const released = await call(client, 'release_job', { jobId: job.jobGid, reason: 'Cannot start this week' });
      expect(released.isError).toBe(false);
      expect(released.json().status).toBe('OPEN');
      const rows = await db.database.prisma.offer.findMany({ where: { jobId: job.jobId } });
      expect(rows.map((o) => o.status)).toEqual(['ACCEPTED']);

      // A second offer declined; then a bid countered by the poster and the counter accepted.
      const second = await postJobFixture(db.database.prisma, poster, { visibility: 'PUBLIC', budget: 60 });
      const declinedOffer = (await offer(second.jobGid, 40)).offer.id as string;
      const declined = await call(client, 'decline_offer', {
        offerId: declinedOffer,
        reason: 'Too little for the work',
      });
      expect(declined.json()).toMatchObject({
        id: declinedOffer,
        status: 'DECLINED',
        reason: 'Too little for the work',
      });
      const bid = await call(client, 'place_bid', {
        jobId: second.jobGid,
        message: 'I would do it for 58',
        estimatedMinutes: 20,
        requestedCredits: 58,
      });
      const bidId = bid.json().id as string;
      const countered = await asPoster(`mutation($i: CounterBidInput!) { counterBid(input: $i) { __typename } }`, {
        i: { bidId, requestedCredits: 50, estimatedMinutes: 25, message: 'Meet at 50?' },
      });
      expect(countered.__typename).toBe('CounterBidPayload');
      const detail = (await call(client, 'get_job', { jobId: second.jobGid })).json();
      expect(detail.bids.edges[0].node.counter).toMatchObject({ requestedCredits: 50, message: 'Meet at 50?' });
      const counter = await call(client, 'accept_counter', { bidId });
      expect(counter.isError).toBe(false);
      expect(counter.json()).toMatchObject({ id: second.jobGid, status: 'ASSIGNED', agreedCredits: 50 });
      await drained();
      const types = (await call(client, 'check_inbox', { after: news.cursor }))
        .json()
        .events.map((e: { type: string }) => e.type);
      expect(types).toEqual(expect.arrayContaining(['BidCountered']));
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
