import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../src/server.ts';
import { createTestDatabase, gql, type TestDatabase, testConfig } from './support/app.ts';
import {
  createAgentFixture,
  createMemberFixture,
  createWorkspaceFixture,
  type WorkspaceFixture,
} from './support/factories.ts';
import { slackHeaders, startFakeSlack } from './support/fake-slack.ts';

/**
 * The real Bolt app, mounted on our server, receiving locally signed slash commands, button clicks
 * and modal submissions, and calling a local fake of Slack's Web API.
 */
const SECRET = 'test-signing-secret';
const TEAM = 'T1';
const CHANNEL = 'C1';

let db: TestDatabase;
let app: App;
let url: string;
let slack: Awaited<ReturnType<typeof startFakeSlack>>;
let ws: WorkspaceFixture;

beforeAll(async () => {
  db = await createTestDatabase();
  slack = await startFakeSlack();
  app = await buildApp(
    testConfig({
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_BOT_TOKEN: 'xoxb-test',
      SLACK_API_URL: slack.apiUrl,
      CHAT_PROGRESS_THROTTLE_MS: 0,
      LOG_LEVEL: (process.env.TEST_LOG_LEVEL as 'error') ?? 'silent',
      OUTBOX_POLL_MS: 100,
      PUBLIC_URL: 'https://agentwork.example.com',
    }),
    { database: db.database, migrate: false },
  );
  ({ url } = await app.start());
  ws = await createWorkspaceFixture(db.database.prisma);
  await db.database.prisma.project.create({ data: { workspaceId: ws.workspaceId, name: 'Research' } });
});
afterAll(async () => {
  await app.stop();
  await slack.close();
  await db.close();
});

async function post(body: string, headers: Record<string, string> = slackHeaders(SECRET, body)) {
  return fetch(`${url}/slack/events`, { method: 'POST', headers, body });
}

function command(text: string, user = 'U1', extra: Record<string, string> = {}) {
  const body = new URLSearchParams({
    command: '/agentwork',
    text,
    team_id: TEAM,
    channel_id: CHANNEL,
    user_id: user,
    user_name: user.toLowerCase(),
    trigger_id: `trigger-${Math.random()}`,
    response_url: slack.responseUrl(),
    ...extra,
  }).toString();
  return post(body);
}

function payload(p: Record<string, unknown>) {
  return post(new URLSearchParams({ payload: JSON.stringify(p) }).toString());
}

function click(actionId: string, messageTs: string, user = 'U1') {
  return payload({
    type: 'block_actions',
    team: { id: TEAM },
    user: { id: user, name: user },
    channel: { id: CHANNEL },
    container: { type: 'message', message_ts: messageTs, channel_id: CHANNEL },
    message: { ts: messageTs, text: '' },
    trigger_id: `trigger-${Math.random()}`,
    response_url: slack.responseUrl(),
    actions: [{ type: 'button', action_id: actionId, block_id: 'actions_1', value: actionId, action_ts: '1' }],
  });
}

function submitModal(view: Record<string, any>, values: Record<string, string | { select: string }>, user = 'U1') {
  const state: Record<string, Record<string, unknown>> = {};
  for (const [k, v] of Object.entries(values)) {
    state[k] = {
      value:
        typeof v === 'string'
          ? { type: 'plain_text_input', value: v }
          : { type: 'static_select', selected_option: { value: v.select } },
    };
  }
  return payload({
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

async function linkUser(user: string, key: string) {
  const res = await gql(app, `mutation { createChatLinkCode { ... on ChatLinkCodePayload { code } } }`, {}, key);
  const r = await command(`link ${res.data.createChatLinkCode.code}`, user);
  expect(r.status).toBe(200);
}

const lastCall = (method: string, pred: (a: Record<string, any>) => boolean = () => true) =>
  [...slack.calls].reverse().find((c) => c.method === method && pred(c.args));

describe('Slack bot', () => {
  it('drives a job from /agentwork post through bid card, Accept, live progress, review modal and payout', async () => {
    await linkUser('U1', ws.ownerKey);
    expect((await command('connect Research')).status).toBe(200);
    await slack
      .waitFor((c) => c.method === 'chat.postMessage' && String(c.args.text).includes('Research'))
      .catch((e) => {
        throw new Error(`${e.message}; responses: ${JSON.stringify(slack.responses)}`);
      });

    // /agentwork post with no text opens the modal; submitting it posts the job.
    await command('post');
    const modal = (await slack.waitFor((c) => c.method === 'views.open')).args.view;
    expect(modal.callback_id).toBe('job:post');
    const submitted = await submitModal(modal, {
      title: 'Research competitor pricing',
      description: 'Compare three competitors',
      skills: 'web search, analytics',
      budget: '120',
      visibility: { select: 'PUBLIC' },
      deadline: '',
    });
    expect(submitted.status).toBe(200);
    const job = await db.database.prisma.job.findFirstOrThrow({
      where: { workspaceId: ws.workspaceId, title: 'Research competitor pricing' },
      include: { project: true },
    });
    expect(job).toMatchObject({ budget: 120, visibility: 'PUBLIC', requiredSkills: ['web-research', 'data-analysis'] });
    expect(job.project.name).toBe('Research');

    // An agent bids: the bid card arrives in the channel with Accept / Reject.
    const agentWs = await createWorkspaceFixture(db.database.prisma);
    const agent = await createAgentFixture(db.database.prisma, agentWs, { name: 'PriceBot' });
    await gql(
      app,
      `mutation($i: PlaceBidInput!) { placeBid(input: $i) { __typename } }`,
      { i: { jobId: `job_${job.id}`, message: 'I will compare 3 sites', estimatedMinutes: 20, requestedCredits: 100 } },
      agent.key,
    );
    const card = await slack.waitFor(
      (c) => c.method === 'chat.postMessage' && JSON.stringify(c.args.blocks ?? '').includes('bid:accept:'),
    );
    expect(JSON.stringify(card.args.blocks)).toContain('PriceBot');
    const acceptId = JSON.stringify(card.args.blocks).match(/bid:accept:bid_[a-z0-9]+/)![0];
    const cardTs = await tsOf(card);

    const accepted = await click(acceptId, cardTs);
    expect(accepted.status).toBe(200);
    const updated = await slack.waitFor(
      (c) => c.method === 'chat.update' && c.args.ts === cardTs && JSON.stringify(c.args.blocks).includes('ACCEPTED'),
    );
    expect(JSON.stringify(updated.args.blocks)).toContain('<@U1>');
    expect(JSON.stringify(updated.args.blocks)).not.toContain('bid:accept:');
    expect((await db.database.prisma.job.findUniqueOrThrow({ where: { id: job.id } })).status).toBe('ASSIGNED');

    // A second click changes nothing and says who decided.
    await click(acceptId, cardTs);
    const notice = await slack.waitForResponse((r) => String(r.text).includes('already ACCEPTED'));
    expect(notice.text).toContain('<@U1>');

    // The agent works: one progress message, updated in place.
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
      `mutation($e: ID!) { reportProgress(executionId: $e, progress: 30, step: { kind: "search", message: "Found the pricing pages" }) { __typename } }`,
      { e: exe },
      agent.key,
    );
    await gql(
      app,
      `mutation($e: ID!) { reportProgress(executionId: $e, progress: 70, step: { kind: "analyse", message: "Compared plans" }) { __typename } }`,
      { e: exe },
      agent.key,
    );
    const progressUpdate = await slack.waitFor(
      (c) =>
        (c.method === 'chat.update' || c.method === 'chat.postMessage') &&
        JSON.stringify(c.args.blocks ?? '').includes('Compared plans'),
    );
    expect(JSON.stringify(progressUpdate.args.blocks)).toContain('70%');

    // The result: a review card; Accept opens a modal for rating and notes; payout follows.
    await gql(
      app,
      `mutation($e: ID!) { submitResult(executionId: $e, result: { summary: "Competitor A is cheapest" }) { __typename } }`,
      { e: exe },
      agent.key,
    );
    const review = await slack.waitFor(
      (c) => c.method === 'chat.postMessage' && JSON.stringify(c.args.blocks ?? '').includes('review:ACCEPT:'),
    );
    const reviewTs = await tsOf(review);
    const before = slack.calls.filter((c) => c.method === 'views.open').length;
    await click(`review:ACCEPT:${exe}`, reviewTs);
    await slack.waitFor(
      (c) =>
        c.method === 'views.open' &&
        slack.calls.filter((x) => x.method === 'views.open').length > before &&
        c.args.view.callback_id === `review:ACCEPT:${exe}`,
    );
    const reviewModal = lastCall('views.open')!.args.view;
    const done = await submitModal(reviewModal, { rating: { select: '5' }, notes: 'Clear and sourced' });
    expect(done.status).toBe(200);
    await slack.waitFor(
      (c) =>
        c.method === 'chat.update' &&
        c.args.ts === reviewTs &&
        JSON.stringify(c.args.blocks).includes('ACCEPT by <@U1>'),
    );
    const finalJob = await db.database.prisma.job.findUniqueOrThrow({ where: { id: job.id } });
    expect(finalJob.status).toBe('COMPLETED');
    const agentAccount = await db.database.prisma.ledgerAccount.findUniqueOrThrow({
      where: { key: `agent:${agent.agentId}` },
    });
    expect(Number(agentAccount.balance)).toBe(95);
    const rep = await db.database.prisma.agentReputation.findUniqueOrThrow({ where: { agentId: agent.agentId } });
    expect(rep.ratingSum).toBe(5);
  });

  it('rejects bad signatures and stale timestamps with 401, changing nothing', async () => {
    const body = new URLSearchParams({
      command: '/agentwork',
      text: 'post Sneaky --budget 5',
      team_id: TEAM,
      channel_id: CHANNEL,
      user_id: 'U1',
      response_url: slack.responseUrl(),
    }).toString();
    const before = await db.database.prisma.job.count();
    const bad = await post(body, slackHeaders('wrong-secret', body));
    expect(bad.status).toBe(401);
    const stale = await post(body, slackHeaders(SECRET, body, Math.floor(Date.now() / 1000) - 600));
    expect(stale.status).toBe(401);
    const missing = await post(body, { 'content-type': 'application/x-www-form-urlencoded' });
    expect(missing.status).toBe(401);
    expect(await db.database.prisma.job.count()).toBe(before);
  });

  it('answers an unlinked user with how to link, and a malformed payload without changing anything', async () => {
    await command('jobs', 'U-stranger');
    const reply = await slack.waitForResponse((r) => String(r.text).includes('not linked'));
    expect(reply.response_type).toBe('ephemeral');
    const malformed = await post(new URLSearchParams({ payload: '{not json' }).toString());
    expect(malformed.status).toBeGreaterThanOrEqual(400);
    const ok = await fetch(`${url}/healthz`);
    expect(ok.status).toBe(200);
  });

  it('a MEMBER without approval rights clicking Accept is refused; the bid stays PENDING', async () => {
    const member = await createMemberFixture(db.database.prisma, ws.workspaceId, 'MEMBER');
    await linkUser('U-member', member.key);
    const agent = await createAgentFixture(db.database.prisma, ws);
    const posted = await gql(
      app,
      `mutation { postJob(input: { title: "Clean dataset", description: "dedupe", budget: 50 }) { ... on PostJobPayload { job { id } } } }`,
      {},
      ws.ownerKey,
    );
    const jobId = posted.data.postJob.job.id;
    const bid = await gql(
      app,
      `mutation($i: PlaceBidInput!) { placeBid(input: $i) { ... on PlaceBidPayload { bid { id } } } }`,
      { i: { jobId, message: 'ok', estimatedMinutes: 5, requestedCredits: 40 } },
      agent.key,
    );
    const bidId = bid.data.placeBid.bid.id;
    await click(`bid:accept:${bidId}`, '123.456', 'U-member');
    const refusal = await slack.waitForResponse((r) => String(r.text).includes('OWNER or ADMIN'));
    expect(refusal.response_type).toBe('ephemeral');
    expect((await db.database.prisma.bid.findUniqueOrThrow({ where: { id: bidId.slice(4) } })).status).toBe('PENDING');
  });

  it('a Slack outage delays channel notices but does not drop or duplicate them', async () => {
    slack.failNext('chat.postMessage', 3);
    const agent = await createAgentFixture(db.database.prisma, ws, { name: 'PatientBot' });
    const research = await db.database.prisma.project.findFirstOrThrow({
      where: { workspaceId: ws.workspaceId, name: 'Research' },
    });
    const posted = await gql(
      app,
      `mutation($p: ID!) { postJob(input: { projectId: $p, title: "Outage job", description: "x", budget: 20 }) { ... on PostJobPayload { job { id } } } }`,
      { p: `prj_${research.id}` },
      ws.ownerKey,
    );
    const bid = await gql(
      app,
      `mutation($i: PlaceBidInput!) { placeBid(input: $i) { __typename } }`,
      { i: { jobId: posted.data.postJob.job.id, message: 'x', estimatedMinutes: 5, requestedCredits: 10 } },
      agent.key,
    );
    expect(bid.data.placeBid.__typename).toBe('PlaceBidPayload');
    await slack.waitFor(
      (c) => c.method === 'chat.postMessage' && JSON.stringify(c.args.blocks ?? '').includes('PatientBot'),
      15_000,
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(
      slack.calls.filter(
        (c) => c.method === 'chat.postMessage' && JSON.stringify(c.args.blocks ?? '').includes('PatientBot'),
      ),
    ).toHaveLength(1);
  });

  it('inline /agentwork post, jobs, status, wallet and help answer in the channel', async () => {
    await command('post Summarise reviews --budget 40 --skills summarization --visibility public');
    await slack.waitFor((c) => c.method === 'chat.postMessage' && String(c.args.text).includes('Summarise reviews'));
    await command('post Missing budget');
    await slack.waitForResponse((r) => String(r.text).includes('--budget'));
    await command('wallet');
    await slack.waitForResponse((r) => String(r.text).startsWith('Wallet:'));
    await command('jobs');
    await slack.waitForResponse((r) => String(r.text).includes('open job'));
    await command('help');
    await slack.waitForResponse((r) => String(r.text) === 'Agentwork commands');
  });

  it('a quick post in a connected channel: one "Job posted" card, linked to the job\'s live page', async () => {
    const C2 = { channel_id: 'C2' };
    await linkUser('U-poster', ws.ownerKey);
    await command('connect Research', 'U-poster', C2);
    await slack.waitFor((c) => c.method === 'chat.postMessage' && c.args.channel === 'C2');
    expect((await command('post Translate the FAQ --budget 30', 'U-poster', C2)).status).toBe(200);
    const job = await db.database.prisma.job.findFirstOrThrow({
      where: { title: 'Translate the FAQ' },
      include: { project: true },
    });
    expect(job.project.name).toBe('Research');
    const card = await slack.waitFor(
      (c) => c.method === 'chat.postMessage' && c.args.channel === 'C2' && String(c.args.text).includes('Translate'),
    );
    expect(JSON.stringify(card.args.blocks)).toContain(`https://agentwork.example.com/jobs/job_${job.id}/live`);
    // Wait until the notifier has handled the job's events, then count what this channel and the poster saw
    // (C1, connected to the same project, gets its own card).
    for (const start = Date.now(); Date.now() - start < 30_000; await new Promise((r) => setTimeout(r, 20))) {
      if ((await db.database.prisma.outboxEvent.count({ where: { jobId: job.id, chatAt: null } })) === 0) break;
    }
    const said = (text: unknown) => String(text).includes('Job posted: Translate the FAQ');
    const posted = [
      ...slack.calls.filter((c) => c.method.startsWith('chat.post') && c.args.channel === 'C2' && said(c.args.text)),
      ...slack.responses.filter((r) => said(r.text)),
    ];
    expect(posted).toHaveLength(1);
  });
});

/** The ts the fake answered for a chat.postMessage call (postMessage answers are numbered in order). */
async function tsOf(call: { method: string; args: Record<string, any> }) {
  const index = slack.calls.filter((c) => c.method === 'chat.postMessage').indexOf(call as never);
  return `${1_700_000_000 + index + 1}.000100`;
}
