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
import { slackHeaders, startFakeSlack } from './support/fake-slack.ts';

/**
 * Dealing between strangers in chat (issue 14): counter-offers, offers and messages round trips on
 * Slack (real Bolt, HTTP mode, signed requests) and Discord (the HTTP interactions endpoint, real
 * Ed25519 signatures), one server, both bots, local fakes of both platforms' APIs. The agent's side
 * goes through the GraphQL API as an agent would.
 */
const SECRET = 'test-signing-secret';
const TEAM = 'T1';
const SLACK_CHANNEL = 'C-deal';
const APP_ID = 'A1';
const GUILD = 'G1';
const DISCORD_CHANNEL = 'D-deal';

let db: TestDatabase;
let app: App;
let url: string;
let slack: Awaited<ReturnType<typeof startFakeSlack>>;
let discord: Awaited<ReturnType<typeof startFakeDiscord>>;
let ws: WorkspaceFixture;
let projectId: string;
let agentWs: WorkspaceFixture;
const { publicKey, privateKey } = generateKeyPairSync('ed25519');
const rawPublicKey = publicKey.export({ format: 'der', type: 'spki' }).subarray(12).toString('hex');

beforeAll(async () => {
  db = await createTestDatabase();
  slack = await startFakeSlack();
  discord = await startFakeDiscord({ applicationId: APP_ID, guildId: GUILD });
  app = await buildApp(
    testConfig({
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_BOT_TOKEN: 'xoxb-test',
      SLACK_API_URL: slack.apiUrl,
      DISCORD_APPLICATION_ID: APP_ID,
      DISCORD_BOT_TOKEN: 'bot-token',
      DISCORD_API_URL: discord.apiUrl,
      DISCORD_MODE: 'http',
      DISCORD_PUBLIC_KEY: rawPublicKey,
      CHAT_PROGRESS_THROTTLE_MS: 0,
      LOG_LEVEL: (process.env.TEST_LOG_LEVEL as 'error') ?? 'silent',
      OUTBOX_POLL_MS: 100,
    }),
    { database: db.database, migrate: false },
  );
  ({ url } = await app.start());
  ws = await createWorkspaceFixture(db.database.prisma);
  agentWs = await createWorkspaceFixture(db.database.prisma);
  projectId = (await db.database.prisma.project.create({ data: { workspaceId: ws.workspaceId, name: 'Deals' } })).id;

  // The owner links a Slack user and a Discord user, and connects one channel on each to the project.
  expect((await slackCommand(`link ${await linkCode(ws.ownerKey)}`)).status).toBe(200);
  expect((await slackCommand('connect Deals')).status).toBe(200);
  await slack.waitFor((c) => c.method === 'chat.postMessage' && String(c.args.text).includes('Deals'));
  expect((await discordCommand('link', { code: await linkCode(ws.ownerKey) })).type).toBe(4);
  expect((await discordCommand('connect', { project: 'Deals' })).type).toBe(4);
});
afterAll(async () => {
  await app.stop();
  await slack.close();
  await discord.close();
  await db.close();
});

async function linkCode(key: string): Promise<string> {
  const res = await gql(app, `mutation { createChatLinkCode { ... on ChatLinkCodePayload { code } } }`, {}, key);
  return res.data.createChatLinkCode.code;
}

// ───────────── Slack, signed as Slack signs ─────────────

function slackPost(body: string) {
  return fetch(`${url}/slack/events`, { method: 'POST', headers: slackHeaders(SECRET, body), body });
}

function slackCommand(text: string, user = 'U1') {
  return slackPost(
    new URLSearchParams({
      command: '/agentwork',
      text,
      team_id: TEAM,
      channel_id: SLACK_CHANNEL,
      user_id: user,
      user_name: user.toLowerCase(),
      trigger_id: `trigger-${Math.random()}`,
      response_url: slack.responseUrl(),
    }).toString(),
  );
}

const slackPayload = (p: Record<string, unknown>) =>
  slackPost(new URLSearchParams({ payload: JSON.stringify(p) }).toString());

function slackClick(actionId: string, messageTs: string, user = 'U1') {
  return slackPayload({
    type: 'block_actions',
    team: { id: TEAM },
    user: { id: user, name: user },
    channel: { id: SLACK_CHANNEL },
    container: { type: 'message', message_ts: messageTs, channel_id: SLACK_CHANNEL },
    message: { ts: messageTs, text: '' },
    trigger_id: `trigger-${Math.random()}`,
    response_url: slack.responseUrl(),
    actions: [{ type: 'button', action_id: actionId, block_id: 'actions_1', value: actionId, action_ts: '1' }],
  });
}

function slackSubmit(view: Record<string, any>, values: Record<string, string>, user = 'U1') {
  const state: Record<string, Record<string, unknown>> = {};
  for (const [k, v] of Object.entries(values)) state[k] = { value: { type: 'plain_text_input', value: v } };
  return slackPayload({
    type: 'view_submission',
    team: { id: TEAM },
    user: { id: user, name: user },
    view: {
      id: 'V1',
      callback_id: view.callback_id,
      private_metadata: view.private_metadata,
      state: { values: state },
    },
  });
}

/** The ts the fake answered for a chat.postMessage call (numbered in order). */
function tsOf(call: { method: string; args: Record<string, any> }) {
  const index = slack.calls.filter((c) => c.method === 'chat.postMessage').indexOf(call as never);
  return `${1_700_000_000 + index + 1}.000100`;
}

const blocksOf = (c: { args: Record<string, any> }) => JSON.stringify(c.args.blocks ?? '');

async function openedModal(callbackId: string) {
  return (await slack.waitFor((c) => c.method === 'views.open' && c.args.view.callback_id === callbackId)).args.view;
}

// ───────────── Discord, signed with Ed25519 ─────────────

async function discordPost(body: unknown) {
  const text = JSON.stringify(body);
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = sign(null, Buffer.from(timestamp + text), privateKey).toString('hex');
  const res = await fetch(`${url}/discord/interactions`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-signature-ed25519': signature,
      'x-signature-timestamp': timestamp,
    },
    body: text,
  });
  expect(res.status).toBe(200);
  return discord.effectiveResponse((body as { token: string }).token, await res.json());
}

const discordOptions = (user = 'U1', message?: string) => ({
  user,
  guild: GUILD,
  channel: DISCORD_CHANNEL,
  appId: APP_ID,
  message,
});

function discordCommand(sub: string, options: Record<string, string | number> = {}, user = 'U1') {
  const data = {
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
  };
  return discordPost(interaction(2, data, discordOptions(user)));
}

const discordClick = (customId: string, messageId: string, user = 'U1') =>
  discordPost(interaction(3, { custom_id: customId, component_type: 2 }, discordOptions(user, messageId)));

const discordSubmit = (customId: string, values: Record<string, string>, messageId?: string, user = 'U1') =>
  discordPost(
    interaction(
      5,
      {
        custom_id: customId,
        components: Object.entries(values).map(([k, v]) => ({
          type: 1,
          components: [{ type: 4, custom_id: k, value: v }],
        })),
      },
      discordOptions(user, messageId),
    ),
  );

const channelPosts = (pred: (body: string) => boolean) =>
  discord.waitFor(
    (c) => c.method === 'POST' && c.path === `/channels/${DISCORD_CHANNEL}/messages` && pred(JSON.stringify(c.body)),
  );

// ───────────── the agent's side, through the API ─────────────

async function postJob(title: string) {
  const res = await gql(
    app,
    `mutation($p: ID!, $t: String!) { postJob(input: { projectId: $p, title: $t, description: "Compare prices", budget: 200, visibility: PUBLIC }) { ... on PostJobPayload { job { id } } } }`,
    { p: `prj_${projectId}`, t: title },
    ws.ownerKey,
  );
  return res.data.postJob.job.id as string;
}

async function placeBid(jobId: string, key: string) {
  const res = await gql(
    app,
    `mutation($i: PlaceBidInput!) { placeBid(input: $i) { ... on PlaceBidPayload { bid { id } } } }`,
    { i: { jobId, message: 'I can do it', estimatedMinutes: 30, requestedCredits: 150 } },
    key,
  );
  return res.data.placeBid.bid.id as string;
}

async function agentView(bidId: string, key: string) {
  const res = await gql(
    app,
    `query($id: ID!) { node(id: $id) { ... on Bid { status counter { requestedCredits estimatedMinutes message } } } }`,
    { id: bidId },
    key,
  );
  return res.data.node;
}

async function acceptCounter(bidId: string, key: string) {
  const res = await gql(
    app,
    `mutation($b: ID!) { acceptCounter(bidId: $b, idempotencyKey: "k") { __typename ... on AcceptCounterPayload { job { status } } } }`,
    { b: bidId },
    key,
  );
  return res.data.acceptCounter;
}

async function agentSays(jobId: string, body: string, key: string) {
  const res = await gql(
    app,
    `mutation($i: SendMessageInput!) { sendMessage(input: $i) { __typename ... on SendMessagePayload { message { id } } } }`,
    { i: { jobId, body } },
    key,
  );
  expect(res.data.sendMessage.__typename).toBe('SendMessagePayload');
  return res.data.sendMessage.message.id as string;
}

async function threadAsAgent(jobId: string, key: string) {
  const res = await gql(
    app,
    `query($id: ID!) { node(id: $id) { ... on Job { messages(first: 20) { edges { node { body authorKind } } } } } }`,
    { id: jobId },
    key,
  );
  return res.data.node.messages.edges.map((e: { node: { body: string; authorKind: string } }) => e.node);
}

/** The card the notifier recorded for a ref in the Discord channel (it is saved right after the post). */
async function discordCard(kind: string, publicId: string) {
  const where = { platform: 'DISCORD' as const, channelId: DISCORD_CHANNEL, kind, refId: publicId.slice(4) };
  for (const start = Date.now(); Date.now() - start < 30_000; await new Promise((r) => setTimeout(r, 20))) {
    const row = await db.database.prisma.chatMessage.findFirst({ where });
    if (row) return row;
  }
  throw new Error(`no ${kind} card for ${publicId}`);
}

const dbBid = (bidId: string) => db.database.prisma.bid.findUniqueOrThrow({ where: { id: bidId.slice(4) } });
const dbJob = (jobId: string) => db.database.prisma.job.findUniqueOrThrow({ where: { id: jobId.slice(4) } });

describe('Dealing in Slack', () => {
  it('counter-offer round trip: bid card → Counter → modal → COUNTERED → agent accepts → card ACCEPTED', async () => {
    const agent = await createAgentFixture(db.database.prisma, agentWs, { name: 'HaggleBot' });
    const jobId = await postJob('Slack haggle job');
    const bidId = await placeBid(jobId, agent.key);

    const card = await slack.waitFor(
      (c) => c.method === 'chat.postMessage' && blocksOf(c).includes(`bid:counter:${bidId}`),
    );
    expect(blocksOf(card)).toContain(`bid:accept:${bidId}`);
    const ts = tsOf(card);

    expect((await slackClick(`bid:counter:${bidId}`, ts)).status).toBe(200);
    const modal = await openedModal(`bid:counter:${bidId}`);
    expect(JSON.stringify(modal.blocks)).toContain('"initial_value":"150"');

    // Bad terms are shown next to the field; nothing changes.
    const refused = await slackSubmit(modal, { credits: 'lots', minutes: '45', message: '' });
    expect(await refused.json()).toEqual({ response_action: 'errors', errors: { credits: 'Enter whole credits' } });
    const zero = await slackSubmit(modal, { credits: '0', minutes: '45', message: '' });
    expect(JSON.stringify(await zero.json())).toContain('"credits"');
    expect((await dbBid(bidId)).status).toBe('PENDING');

    expect((await slackSubmit(modal, { credits: '120', minutes: '45', message: 'Would 120 work?' })).status).toBe(200);
    const countered = await slack.waitFor(
      (c) => c.method === 'chat.update' && c.args.ts === ts && blocksOf(c).includes('COUNTERED'),
    );
    expect(blocksOf(countered)).toContain('120 credits');
    expect(blocksOf(countered)).toContain('Change counter');
    expect(blocksOf(countered)).not.toContain('bid:accept:');
    expect(await agentView(bidId, agent.key)).toEqual({
      status: 'COUNTERED',
      counter: { requestedCredits: 120, estimatedMinutes: 45, message: 'Would 120 work?' },
    });

    expect((await acceptCounter(bidId, agent.key)).job.status).toBe('ASSIGNED');
    const accepted = await slack.waitFor(
      (c) => c.method === 'chat.update' && c.args.ts === ts && blocksOf(c).includes('ACCEPTED'),
    );
    expect(blocksOf(accepted)).toContain('Agreed at the counter-offer');
    expect(blocksOf(accepted)).not.toContain('bid:counter:');
    expect(blocksOf(accepted)).not.toContain('bid:reject:');
    const job = await dbJob(jobId);
    expect(job).toMatchObject({ status: 'ASSIGNED', agreedCredits: 120, assignedAgentId: agent.agentId });
  });

  it('a material job edit makes a countered bid STALE: the card keeps only Reject; a new bid brings the buttons back', async () => {
    const agent = await createAgentFixture(db.database.prisma, agentWs, { name: 'StaleBot' });
    const jobId = await postJob('Slack stale job');
    const bidId = await placeBid(jobId, agent.key);
    const card = await slack.waitFor(
      (c) => c.method === 'chat.postMessage' && blocksOf(c).includes(`bid:counter:${bidId}`),
    );
    const ts = tsOf(card);
    await slackClick(`bid:counter:${bidId}`, ts);
    await slackSubmit(await openedModal(`bid:counter:${bidId}`), { credits: '130', minutes: '30', message: '' });
    expect((await dbBid(bidId)).status).toBe('COUNTERED');

    const edited = await gql(
      app,
      `mutation($id: ID!) { updateJob(id: $id, input: { budget: 260 }) { __typename } }`,
      { id: jobId },
      ws.ownerKey,
    );
    expect(edited.data.updateJob.__typename).toBe('UpdateJobPayload');
    const stale = await slack.waitFor(
      (c) => c.method === 'chat.update' && c.args.ts === ts && blocksOf(c).includes('STALE'),
    );
    expect(blocksOf(stale)).toContain(`bid:reject:${bidId}`);
    expect(blocksOf(stale)).not.toContain(`bid:counter:${bidId}`);
    expect(blocksOf(stale)).not.toContain(`bid:accept:${bidId}`);
    // Counter on the stale card: nothing to counter, nothing changes.
    await slackClick(`bid:counter:${bidId}`, ts);
    await slack.waitForResponse((r) => String(r.text).includes('STALE: there is nothing to counter'));

    await placeBid(jobId, agent.key);
    const fresh = await slack.waitFor(
      (c) =>
        c.method === 'chat.update' &&
        c.args.ts === ts &&
        blocksOf(c).includes(`bid:accept:${bidId}`) &&
        !blocksOf(c).includes('STALE'),
    );
    expect(blocksOf(fresh)).toContain(`bid:counter:${bidId}`);
  });

  it('message round trip: agent message in the job thread with Reply → modal → the agent reads the reply', async () => {
    const agent = await createAgentFixture(db.database.prisma, agentWs, { name: 'AskBot' });
    const jobId = await postJob('Slack question job');
    const jobCard = await slack.waitFor(
      (c) => c.method === 'chat.postMessage' && String(c.args.text).includes('Slack question job'),
    );
    await agentSays(jobId, 'Which three sites?', agent.key);

    const msg = await slack.waitFor(
      (c) =>
        c.method === 'chat.postMessage' &&
        blocksOf(c).includes('msg:reply:') &&
        blocksOf(c).includes('Which three sites?'),
    );
    expect(blocksOf(msg)).toContain('AskBot');
    expect(msg.args.thread_ts).toBe(tsOf(jobCard));
    const replyId = blocksOf(msg).match(/msg:reply:msg_[a-z0-9]+/)![0];

    // An unlinked chat user is told to link first.
    await slackClick(replyId, tsOf(msg), 'U-stranger');
    await slack.waitForResponse((r) => String(r.text).includes('not linked'));

    await slackClick(replyId, tsOf(msg));
    const modal = await openedModal(replyId);
    expect((await slackSubmit(modal, { body: 'The top three by traffic' })).status).toBe(200);
    await slack.waitFor((c) => c.method === 'chat.postEphemeral' && String(c.args.text).includes('Sent to AskBot'));

    expect(await threadAsAgent(jobId, agent.key)).toEqual([
      { body: 'Which three sites?', authorKind: 'AGENT' },
      { body: 'The top three by traffic', authorKind: 'MEMBER' },
    ]);
    // The workspace's reply appears in the thread too, marked as from the workspace, without a Reply button.
    const mine = await slack.waitFor(
      (c) => c.method === 'chat.postMessage' && blocksOf(c).includes('The top three by traffic'),
    );
    expect(blocksOf(mine)).toContain('(workspace)');
    expect(blocksOf(mine)).not.toContain('msg:reply:');
  });

  it('/agentwork offer makes an offer; its card has Withdraw (OWNER/ADMIN), and withdrawing refunds', async () => {
    const agent = await createAgentFixture(db.database.prisma, agentWs, { name: 'OfferBot' });
    const jobId = await postJob('Slack offer job');
    const wallet = async () =>
      Number(
        (await db.database.prisma.ledgerAccount.findUniqueOrThrow({ where: { key: `workspace:${ws.workspaceId}` } }))
          .balance,
      );
    const before = await wallet();
    await slackCommand(`offer ${jobId} ${agent.agentGid} 90 "Start today?"`);
    await slack.waitForResponse((r) => String(r.text).includes('Offered'));
    expect(await wallet()).toBe(before - 90);
    const card = await slack.waitFor(
      (c) =>
        c.method === 'chat.postMessage' && blocksOf(c).includes('offer:withdraw:') && blocksOf(c).includes('OfferBot'),
    );
    const withdrawId = blocksOf(card).match(/offer:withdraw:ofr_[a-z0-9]+/)![0];

    // A MEMBER may not withdraw.
    const member = await createMemberFixture(db.database.prisma, ws.workspaceId, 'MEMBER');
    await slackCommand(`link ${await linkCode(member.key)}`, 'U-member');
    await slackClick(withdrawId, tsOf(card), 'U-member');
    await slack.waitForResponse((r) => String(r.text).includes('OWNER or ADMIN'));
    expect(await wallet()).toBe(before - 90);

    await slackClick(withdrawId, tsOf(card));
    const withdrawn = await slack.waitFor(
      (c) => c.method === 'chat.update' && c.args.ts === tsOf(card) && blocksOf(c).includes('WITHDRAWN'),
    );
    expect(blocksOf(withdrawn)).not.toContain('offer:withdraw:');
    expect(await wallet()).toBe(before);
  });
});

describe('Dealing in Discord', () => {
  it('counter-offer round trip: bid card → Counter → modal → COUNTERED → agent accepts → card ACCEPTED', async () => {
    const agent = await createAgentFixture(db.database.prisma, agentWs, { name: 'DiscordHaggler' });
    const jobId = await postJob('Discord haggle job');
    const bidId = await placeBid(jobId, agent.key);
    const card = await channelPosts((b) => b.includes(`bid:counter:${bidId}`));
    expect(JSON.stringify(card.body.components)).toContain(`bid:accept:${bidId}`);
    const saved = await discordCard('bid', bidId);

    // A MEMBER is refused before any form opens.
    const member = await createMemberFixture(db.database.prisma, ws.workspaceId, 'MEMBER');
    await discordCommand('link', { code: await linkCode(member.key) }, 'U-member');
    const refused = await discordClick(`bid:counter:${bidId}`, saved.messageId, 'U-member');
    expect(JSON.stringify(refused.data)).toContain('OWNER or ADMIN');

    const opened = await discordClick(`bid:counter:${bidId}`, saved.messageId);
    expect(opened.type).toBe(9);
    expect(opened.data.custom_id).toBe(`bid:counter:${bidId}`);
    const submitted = await discordSubmit(
      `bid:counter:${bidId}`,
      { credits: '110', minutes: '40', message: 'Meet at 110?' },
      saved.messageId,
    );
    expect(submitted.type).toBe(7);
    expect(JSON.stringify(submitted.data)).toContain('COUNTERED');
    expect(JSON.stringify(submitted.data)).not.toContain('bid:accept:');
    expect((await agentView(bidId, agent.key)).counter).toEqual({
      requestedCredits: 110,
      estimatedMinutes: 40,
      message: 'Meet at 110?',
    });

    expect((await acceptCounter(bidId, agent.key)).job.status).toBe('ASSIGNED');
    const updated = await discord.waitFor(
      (c) =>
        c.method === 'PATCH' &&
        c.path === `/channels/${DISCORD_CHANNEL}/messages/${saved.messageId}` &&
        JSON.stringify(c.body).includes('ACCEPTED'),
    );
    expect(JSON.stringify(updated.body)).toContain('Agreed at the counter-offer');
    expect(updated.body.components).toEqual([]);
    expect(await dbJob(jobId)).toMatchObject({ status: 'ASSIGNED', agreedCredits: 110 });
  });

  it('message round trip: agent message as a reply to the job card with Reply → modal → the agent reads it', async () => {
    const agent = await createAgentFixture(db.database.prisma, agentWs, { name: 'DiscordAsker' });
    const jobId = await postJob('Discord question job');
    const jobCard = await discordCard('job', jobId);
    await agentSays(jobId, 'Is a CSV fine?', agent.key);
    const msg = await channelPosts((b) => b.includes('msg:reply:') && b.includes('Is a CSV fine?'));
    expect(msg.body.message_reference.message_id).toBe(jobCard.messageId);
    expect(JSON.stringify(msg.body.embeds)).toContain('DiscordAsker');
    const replyId = JSON.stringify(msg.body.components).match(/msg:reply:msg_[a-z0-9]+/)![0];

    const opened = await discordClick(replyId, 'm-msg');
    expect(opened.type).toBe(9);
    const empty = await discordSubmit(replyId, { body: '   ' }, 'm-msg');
    expect(JSON.stringify(empty.data)).toContain('must not be empty');
    const sent = await discordSubmit(replyId, { body: 'CSV is perfect' }, 'm-msg');
    expect(sent.type).toBe(4);
    expect(sent.data.flags).toBe(64);
    expect(JSON.stringify(sent.data)).toContain('Sent to DiscordAsker');

    expect(await threadAsAgent(jobId, agent.key)).toEqual([
      { body: 'Is a CSV fine?', authorKind: 'AGENT' },
      { body: 'CSV is perfect', authorKind: 'MEMBER' },
    ]);
    const mine = await channelPosts((b) => b.includes('CSV is perfect'));
    expect(JSON.stringify(mine.body)).toContain('(workspace)');
  });

  it('an offer made through the API shows in the channel and follows the agent’s answer', async () => {
    const agent = await createAgentFixture(db.database.prisma, agentWs, { name: 'DiscordOfferee' });
    const jobId = await postJob('Discord offer job');
    const made = await gql(
      app,
      `mutation($i: OfferJobInput!) { offerJob(input: $i) { __typename ... on OfferJobPayload { offer { id } } } }`,
      { i: { jobId, agentId: agent.agentGid, credits: 75 } },
      ws.ownerKey,
    );
    const offerId = made.data.offerJob.offer.id as string;
    await channelPosts((b) => b.includes(`offer:withdraw:${offerId}`));
    const saved = await discordCard('offer', offerId);
    const accepted = await gql(
      app,
      `mutation($o: ID!) { acceptOffer(offerId: $o) { __typename } }`,
      { o: offerId },
      agent.key,
    );
    expect(accepted.data.acceptOffer.__typename).toBe('AcceptOfferPayload');
    const updated = await discord.waitFor(
      (c) =>
        c.method === 'PATCH' &&
        c.path === `/channels/${DISCORD_CHANNEL}/messages/${saved.messageId}` &&
        JSON.stringify(c.body).includes('ACCEPTED'),
    );
    expect(updated.body.components).toEqual([]);
  });
});
