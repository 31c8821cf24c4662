import { generateKeyPairSync, sign } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../src/server.ts';
import { createTestDatabase, gql, type TestDatabase, testConfig } from './support/app.ts';
import {
  createAgentFixture,
  createMemberFixture,
  createWorkspaceFixture,
  type WorkspaceFixture,
} from './support/factories.ts';
import { interaction, startFakeDiscord } from './support/fake-discord.ts';

/**
 * The real discord.js code: the gateway Client against a local fake gateway + REST API driving a job
 * from /agentwork post to payout; and the HTTP interactions endpoint with real Ed25519 signatures.
 */
const APP_ID = 'A1';
const GUILD = 'G1';
const CHANNEL = 'C1';

let db: TestDatabase;
let ws: WorkspaceFixture;

beforeAll(async () => {
  db = await createTestDatabase();
  ws = await createWorkspaceFixture(db.database.prisma);
  await db.database.prisma.project.create({ data: { workspaceId: ws.workspaceId, name: 'Research' } });
});
afterAll(() => db.close());

const slash = (sub: string, options: Record<string, string | number> = {}) => ({
  name: 'agentwork',
  type: 1,
  options: [
    {
      name: sub,
      type: 1,
      options: Object.entries(options).map(([name, value]) => ({
        name,
        type: typeof value === 'number' ? 4 : 3,
        value,
      })),
    },
  ],
});

describe('Discord over the gateway', () => {
  let app: App;
  let discord: Awaited<ReturnType<typeof startFakeDiscord>>;
  beforeAll(async () => {
    discord = await startFakeDiscord({ applicationId: APP_ID, guildId: GUILD });
    app = await buildApp(
      testConfig({
        DISCORD_APPLICATION_ID: APP_ID,
        DISCORD_BOT_TOKEN: 'bot-token',
        DISCORD_API_URL: discord.apiUrl,
        DISCORD_MODE: 'gateway',
        CHAT_PROGRESS_THROTTLE_MS: 0,
        OUTBOX_POLL_MS: 100,
        PUBLIC_URL: 'https://agentwork.example.com',
      }),
      { database: db.database, migrate: false },
    );
    await app.start();
    const start = Date.now();
    while (!discord.connected() && Date.now() - start < 30_000) await new Promise((r) => setTimeout(r, 20));
  });
  afterAll(async () => {
    await app.stop();
    await discord.close();
  });

  /** Sends an interaction through the gateway and returns the bot's callback (interaction response). */
  async function send(
    type: number,
    data: Record<string, unknown> | undefined,
    options: { user?: string; message?: string; channel?: string } = {},
  ) {
    const raw = interaction(type, data, {
      ...options,
      guild: GUILD,
      channel: options.channel ?? CHANNEL,
      appId: APP_ID,
    });
    discord.sendInteraction(raw);
    const call = await discord.waitFor((c) => c.path === `/interactions/${raw.id}/${raw.token}/callback`);
    return { response: await discord.effectiveResponse(raw.token, call.body), raw };
  }

  it('drives a job from /agentwork post to payout with slash commands and button clicks', async () => {
    const code = (
      await gql(app, `mutation { createChatLinkCode { ... on ChatLinkCodePayload { code } } }`, {}, ws.ownerKey)
    ).data.createChatLinkCode.code;
    const linked = await send(2, slash('link', { code }));
    expect(linked.response.data.embeds[0].description).toContain('Linked');
    await send(2, slash('connect', { project: 'Research' }));

    const opened = await send(2, slash('post'));
    expect(opened.response.type).toBe(9);
    expect(opened.response.data.custom_id).toBe('job:post');
    const values = {
      title: 'Compare CRM pricing',
      description: 'Three vendors',
      skills: 'web research',
      budget: '150',
      visibility: 'PUBLIC',
      deadline: '',
    };
    const posted = await send(5, {
      custom_id: 'job:post',
      components: Object.entries(values).map(([k, v]) => ({
        type: 1,
        components: [{ type: 4, custom_id: k, value: v }],
      })),
    });
    expect(posted.response.type).toBe(4);
    const job = await db.database.prisma.job.findFirstOrThrow({ where: { title: 'Compare CRM pricing' } });
    expect(job).toMatchObject({ budget: 150, visibility: 'PUBLIC', requiredSkills: ['web-research'] });

    const agentWs = await createWorkspaceFixture(db.database.prisma);
    const agent = await createAgentFixture(db.database.prisma, agentWs, { name: 'CrmBot' });
    await gql(
      app,
      `mutation($i: PlaceBidInput!) { placeBid(input: $i) { __typename } }`,
      { i: { jobId: `job_${job.id}`, message: 'Can do', estimatedMinutes: 15, requestedCredits: 100 } },
      agent.key,
    );
    const card = await discord.waitFor(
      (c) =>
        c.method === 'POST' &&
        c.path === `/channels/${CHANNEL}/messages` &&
        JSON.stringify(c.body).includes('bid:accept:'),
    );
    expect(JSON.stringify(card.body.embeds)).toContain('CrmBot');
    const acceptId = JSON.stringify(card.body.components).match(/bid:accept:bid_[a-z0-9]+/)![0];

    const clicked = await send(3, { custom_id: acceptId, component_type: 2 }, { message: 'm1' });
    expect(clicked.response.type).toBe(7);
    expect(JSON.stringify(clicked.response.data)).toContain('ACCEPTED by <@U1>');
    expect(clicked.response.data.components).toEqual([]);
    expect((await db.database.prisma.job.findUniqueOrThrow({ where: { id: job.id } })).status).toBe('ASSIGNED');

    const again = await send(3, { custom_id: acceptId, component_type: 2 }, { message: 'm1' });
    const notice = await discord.waitFor(
      (c) => c.path === `/webhooks/${APP_ID}/${again.raw.token}` && JSON.stringify(c.body).includes('already ACCEPTED'),
    );
    expect(notice.body.flags).toBe(64);

    const exe = (
      await gql(
        app,
        `mutation($j: ID!) { startExecution(jobId: $j) { ... on StartExecutionPayload { execution { id } } } }`,
        { j: `job_${job.id}` },
        agent.key,
      )
    ).data.startExecution.execution.id;
    await gql(
      app,
      `mutation($e: ID!) { reportProgress(executionId: $e, progress: 60, step: { kind: "search", message: "Collected vendor pages" }) { __typename } }`,
      { e: exe },
      agent.key,
    );
    await discord.waitFor(
      (c) =>
        c.path.startsWith(`/channels/${CHANNEL}/messages`) &&
        JSON.stringify(c.body ?? '').includes('Collected vendor pages'),
    );
    await gql(
      app,
      `mutation($e: ID!) { submitResult(executionId: $e, result: { summary: "Vendor B is cheapest" }) { __typename } }`,
      { e: exe },
      agent.key,
    );
    await discord.waitFor((c) => c.method === 'POST' && JSON.stringify(c.body ?? '').includes(`review:ACCEPT:${exe}`));

    const reviewModal = await send(3, { custom_id: `review:ACCEPT:${exe}`, component_type: 2 }, { message: 'm2' });
    expect(reviewModal.response.type).toBe(9);
    const reviewed = await send(
      5,
      {
        custom_id: `review:ACCEPT:${exe}`,
        components: [
          { type: 1, components: [{ type: 4, custom_id: 'rating', value: '5' }] },
          { type: 1, components: [{ type: 4, custom_id: 'notes', value: 'Great' }] },
        ],
      },
      { message: 'm2' },
    );
    expect(reviewed.response.type).toBe(7);
    expect(JSON.stringify(reviewed.response.data)).toContain('ACCEPT by <@U1>');
    expect((await db.database.prisma.job.findUniqueOrThrow({ where: { id: job.id } })).status).toBe('COMPLETED');
    const paid = await db.database.prisma.ledgerAccount.findUniqueOrThrow({ where: { key: `agent:${agent.agentId}` } });
    expect(Number(paid.balance)).toBe(95);
  });

  it("a quick post in a connected channel: one job card, linked to the job's live page", async () => {
    const code = (
      await gql(app, `mutation { createChatLinkCode { ... on ChatLinkCodePayload { code } } }`, {}, ws.ownerKey)
    ).data.createChatLinkCode.code;
    await send(2, slash('link', { code }), { user: 'U-poster', channel: 'C2' });
    await send(2, slash('connect', { project: 'Research' }), { user: 'U-poster', channel: 'C2' });
    const ack = await send(2, slash('post', { title: 'Tag support tickets', budget: 30 }), {
      user: 'U-poster',
      channel: 'C2',
    });
    expect(ack.response.type).toBe(4);
    const job = await db.database.prisma.job.findFirstOrThrow({
      where: { title: 'Tag support tickets' },
      include: { project: true },
    });
    expect(job.project.name).toBe('Research');
    const live = `https://agentwork.example.com/jobs/job_${job.id}/live`;
    const card = await discord.waitFor(
      (c) =>
        c.method === 'POST' && c.path === '/channels/C2/messages' && JSON.stringify(c.body).includes('Tag support'),
    );
    expect(card.body.embeds[0].url).toBe(live);
    expect(JSON.stringify(card.body.components)).toContain(live);
    for (const start = Date.now(); Date.now() - start < 30_000; await new Promise((r) => setTimeout(r, 20))) {
      if ((await db.database.prisma.outboxEvent.count({ where: { jobId: job.id, chatAt: null } })) === 0) break;
    }
    // C1, connected to the same project, gets its own card: count what C2 and the poster saw.
    const cards = discord.calls.filter(
      (c) =>
        (!c.path.startsWith('/channels/') || c.path.startsWith('/channels/C2/')) &&
        JSON.stringify(c.body ?? '').includes('New job: Tag support tickets'),
    );
    expect(cards).toHaveLength(1);
  });

  it('answers an unlinked user and a MEMBER without approval rights clearly, changing nothing', async () => {
    const unlinked = await send(2, slash('jobs'), { user: 'U-nobody' });
    expect(unlinked.response.data.embeds[0].description).toContain('not linked');
    expect(unlinked.response.data.flags).toBe(64);

    const member = await createMemberFixture(db.database.prisma, ws.workspaceId, 'MEMBER');
    const code = (
      await gql(app, `mutation { createChatLinkCode { ... on ChatLinkCodePayload { code } } }`, {}, member.key)
    ).data.createChatLinkCode.code;
    await send(2, slash('link', { code }), { user: 'U-member' });
    const agent = await createAgentFixture(db.database.prisma, ws);
    const jobId = (
      await gql(
        app,
        `mutation { postJob(input: { title: "Label images", description: "x", budget: 30 }) { ... on PostJobPayload { job { id } } } }`,
        {},
        ws.ownerKey,
      )
    ).data.postJob.job.id;
    const bidId = (
      await gql(
        app,
        `mutation($i: PlaceBidInput!) { placeBid(input: $i) { ... on PlaceBidPayload { bid { id } } } }`,
        { i: { jobId, message: 'x', estimatedMinutes: 5, requestedCredits: 20 } },
        agent.key,
      )
    ).data.placeBid.bid.id;
    const refused = await send(
      3,
      { custom_id: `bid:accept:${bidId}`, component_type: 2 },
      { user: 'U-member', message: 'm9' },
    );
    expect(JSON.stringify(refused.response.data)).toContain('OWNER or ADMIN');
    expect((await db.database.prisma.bid.findUniqueOrThrow({ where: { id: bidId.slice(4) } })).status).toBe('PENDING');
  });
});

describe('Discord HTTP interactions endpoint', () => {
  let app: App;
  let url: string;
  let discord: Awaited<ReturnType<typeof startFakeDiscord>>;
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const rawPublicKey = publicKey.export({ format: 'der', type: 'spki' }).subarray(12).toString('hex');

  beforeAll(async () => {
    discord = await startFakeDiscord({ applicationId: APP_ID, guildId: GUILD });
    app = await buildApp(
      testConfig({
        DISCORD_APPLICATION_ID: APP_ID,
        DISCORD_BOT_TOKEN: 'bot-token',
        DISCORD_API_URL: discord.apiUrl,
        DISCORD_MODE: 'http',
        DISCORD_PUBLIC_KEY: rawPublicKey,
      }),
      { database: db.database, migrate: false },
    );
    ({ url } = await app.start());
  });
  afterAll(async () => {
    await app.stop();
    await discord.close();
  });

  function post(body: unknown, options: { key?: typeof privateKey; timestamp?: number; raw?: string } = {}) {
    const text = options.raw ?? JSON.stringify(body);
    const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
    const signature = sign(null, Buffer.from(timestamp + text), options.key ?? privateKey).toString('hex');
    return fetch(`${url}/discord/interactions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-signature-ed25519': signature,
        'x-signature-timestamp': timestamp,
      },
      body: text,
    });
  }

  it('discord:deploy registers /agentwork with its subcommands (guild)', async () => {
    const { deployCommands } = await import('../src/bots/discord/deploy.ts');
    const names = await deployCommands(
      testConfig({ DISCORD_APPLICATION_ID: APP_ID, DISCORD_BOT_TOKEN: 'bot-token', DISCORD_API_URL: discord.apiUrl }),
      GUILD,
    );
    expect(names).toEqual(['agentwork']);
    const put = await discord.waitFor(
      (c) => c.method === 'PUT' && c.path === `/applications/${APP_ID}/guilds/${GUILD}/commands`,
    );
    expect(put.body[0].options.map((o: { name: string }) => o.name)).toEqual([
      'post',
      'jobs',
      'bids',
      'status',
      'connect',
      'link',
      'wallet',
      'offer',
      'help',
    ]);
  });

  it('answers a signed PING; refuses a bad signature and a stale timestamp with 401', async () => {
    const ping = await post({ type: 1, id: 'p', token: 't' });
    expect(ping.status).toBe(200);
    expect(await ping.json()).toEqual({ type: 1 });
    const other = generateKeyPairSync('ed25519').privateKey;
    expect((await post({ type: 1 }, { key: other })).status).toBe(401);
    expect((await post({ type: 1 }, { timestamp: Math.floor(Date.now() / 1000) - 3600 })).status).toBe(401);
    const unsigned = await fetch(`${url}/discord/interactions`, { method: 'POST', body: '{"type":1}' });
    expect(unsigned.status).toBe(401);
  });

  it('handles a command and a button click; malformed interactions get 400', async () => {
    const helpInteraction = interaction(2, slash('help'), { guild: GUILD, channel: CHANNEL, appId: APP_ID });
    const help = await post(helpInteraction);
    const helpBody = await discord.effectiveResponse(helpInteraction.token as string, await help.json());
    expect(helpBody.type).toBe(4);
    expect(helpBody.data.embeds[0].title).toBe('Agentwork');

    const code = (
      await gql(app, `mutation { createChatLinkCode { ... on ChatLinkCodePayload { code } } }`, {}, ws.ownerKey)
    ).data.createChatLinkCode.code;
    await post(
      interaction(2, slash('link', { code }), { user: 'U-http', guild: GUILD, channel: CHANNEL, appId: APP_ID }),
    );
    const agent = await createAgentFixture(db.database.prisma, ws);
    const jobId = (
      await gql(
        app,
        `mutation { postJob(input: { title: "HTTP job", description: "x", budget: 30 }) { ... on PostJobPayload { job { id } } } }`,
        {},
        ws.ownerKey,
      )
    ).data.postJob.job.id;
    const bidId = (
      await gql(
        app,
        `mutation($i: PlaceBidInput!) { placeBid(input: $i) { ... on PlaceBidPayload { bid { id } } } }`,
        { i: { jobId, message: 'x', estimatedMinutes: 5, requestedCredits: 20 } },
        agent.key,
      )
    ).data.placeBid.bid.id;
    const clickInteraction = interaction(
      3,
      { custom_id: `bid:reject:${bidId}`, component_type: 2 },
      { user: 'U-http', guild: GUILD, channel: CHANNEL, appId: APP_ID, message: 'm5' },
    );
    const click = await post(clickInteraction);
    const clickBody = await discord.effectiveResponse(clickInteraction.token as string, await click.json());
    expect(clickBody.type).toBe(7);
    expect(JSON.stringify(clickBody.data)).toContain('REJECTED by <@U-http>');
    expect((await db.database.prisma.bid.findUniqueOrThrow({ where: { id: bidId.slice(4) } })).status).toBe('REJECTED');

    expect((await post(null, { raw: '{not json' })).status).toBe(400);
    expect((await post({ hello: 'world' })).status).toBe(400);
    expect(
      (
        await post({
          type: 3,
          id: 'x',
          token: 'y',
          guild_id: GUILD,
          channel_id: CHANNEL,
          member: { user: { id: 'U1', username: 'u' } },
          data: {},
        })
      ).status,
    ).toBe(400);
  });
});
