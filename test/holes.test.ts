import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChatTransport, createChatNotifier } from '../src/bots/core/notifier.ts';
import type { View } from '../src/bots/core/view.ts';
import { expireBids, placeBid } from '../src/services/marketplace/bids.ts';
import { expireJobs } from '../src/services/marketplace/jobs.ts';
import { createTestApp, type TestApp } from './support/app.ts';
import {
  createAgentFixture,
  createWorkspaceFixture,
  postJobFixture,
  uid,
  type WorkspaceFixture,
} from './support/factories.ts';
import { type Subscription, settle, subscribe } from './support/ws.ts';

/**
 * Holes found by attacking the running server from outside (issue 13, items 6, 9 and 10):
 * rejections nobody heard of, concurrent identical bids, bad input that reached the database,
 * and two schema answers that did not match the contract. Real PostgreSQL and Redis.
 */
let t: TestApp;
let url: string;
beforeAll(async () => {
  t = await createTestApp({ config: { OUTBOX_POLL_MS: 50 } });
  ({ url } = await t.app.start());
});
afterAll(() => t.close());
const db = () => t.app.db.prisma;

const PLACE_BID = `mutation($input: PlaceBidInput!) { placeBid(input: $input) {
  __typename ... on PlaceBidPayload { bid { id status requestedCredits } }
  ... on ValidationError { issues { path message } } ... on Error { message } } }`;
const bidInput = (jobId: string, extra: Record<string, unknown> = {}) => ({
  input: { jobId, message: 'web search, then a summary', estimatedMinutes: 30, requestedCredits: 40, ...extra },
});
const ACCEPT = `mutation($id: ID!) { acceptBid(bidId: $id) { __typename ... on Error { message } } }`;
const EVENT = `__typename seq type ... on BidRejected { bidId reason } ... on BidExpired { bidId }`;

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Every outbox event of the given type and job, oldest first. */
const eventsOf = (type: string, jobId: string) =>
  db().outboxEvent.findMany({ where: { type, jobId }, orderBy: { id: 'asc' } });

async function jobWithBids(ws: WorkspaceFixture, bidders: number) {
  const job = await postJobFixture(db(), ws, { visibility: 'PUBLIC' });
  const agents = [];
  const bids: string[] = [];
  for (let i = 0; i < bidders; i++) {
    const agent = await createAgentFixture(db(), ws, { webhookUrl: `https://hooks.example.com/${uid()}` });
    const res = await t.gql(PLACE_BID, bidInput(job.jobGid), agent.key);
    expect(res.data.placeBid.__typename).toBe('PlaceBidPayload');
    agents.push(agent);
    bids.push(res.data.placeBid.bid.id);
  }
  return { ...job, agents, bids };
}

describe('item 6: every bid status change emits its event', () => {
  it('losing bidders hear BidRejected on agentEvents, jobEvents and their webhooks when another bid is accepted', async () => {
    const ws = await createWorkspaceFixture(db());
    const { jobId, jobGid, agents, bids } = await jobWithBids(ws, 3);
    const [winner, ...losers] = agents;
    // The losers' own webhook endpoints (created with the signing secret).
    for (const loser of losers) {
      const rotated = await t.gql(`mutation { rotateAgentWebhookSecret { __typename } }`, {}, loser.key);
      expect(rotated.data.rotateAgentWebhookSecret.__typename).toBe('RotateWebhookSecretPayload');
    }
    const streams: Subscription[] = [];
    for (const loser of losers) {
      streams.push(subscribe(url, loser.key, `subscription { agentEvents { ${EVENT} } }`));
      streams.push(
        subscribe(url, loser.key, `subscription($j: ID!) { jobEvents(jobId: $j) { ${EVENT} } }`, { j: jobGid }),
      );
    }
    const posterStream = subscribe(url, ws.ownerKey, `subscription($j: ID!) { jobEvents(jobId: $j) { ${EVENT} } }`, {
      j: jobGid,
    });
    try {
      await settle(300);
      const accepted = await t.gql(ACCEPT, { id: bids[0] }, ws.ownerKey);
      expect(accepted.data.acceptBid.__typename).toBe('AcceptBidPayload');

      // One BidRejected per losing bid, in the acceptance's transaction, naming the bidder and why.
      const rejected = await eventsOf('BidRejected', jobId);
      expect(rejected.map((e) => e.agentId).sort()).toEqual(losers.map((a) => a.agentId).sort());
      for (const e of rejected) expect(e.payload).toMatchObject({ reason: 'another bid was accepted' });
      expect((await db().bid.findMany({ where: { jobId, status: 'REJECTED' } })).length).toBe(2);

      for (const [i, loser] of losers.entries()) {
        const own = bids[i + 1];
        for (const stream of streams.slice(i * 2, i * 2 + 2)) {
          const events = await stream.waitFor((es) => es.some((e) => e.__typename === 'BidRejected'));
          const got = events.filter((e) => e.__typename === 'BidRejected');
          // A bidder hears only of its own bid.
          expect(got.map((e) => e.bidId)).toEqual([own]);
          expect(got[0].reason).toBe('another bid was accepted');
        }
        // Their webhook: one delivery of BidRejected to the loser's own endpoint.
        const deliveries = await waitFor('webhook deliveries', async () => {
          const rows = await db().webhookDelivery.findMany({
            where: { eventType: 'BidRejected', endpoint: { agentId: loser.agentId } },
            include: { endpoint: true },
          });
          return rows.length ? rows : null;
        });
        expect(deliveries).toHaveLength(1);
        expect((deliveries[0]!.payload as any).data).toMatchObject({ bidId: own, agentId: loser.agentGid });
      }
      // The poster's stream sees both rejections; the winner heard nothing of them.
      await posterStream.waitFor((es) => es.filter((e) => e.__typename === 'BidRejected').length === 2);
      expect(winner).toBeDefined();
    } finally {
      await Promise.all([...streams, posterStream].map((s) => s.dispose()));
    }
  });

  it('cancelJob rejects pending bids with an event each; expiry expires them with BidExpired each', async () => {
    const ws = await createWorkspaceFixture(db());
    const cancelled = await jobWithBids(ws, 2);
    const res = await t.gql(
      `mutation($id: ID!) { cancelJob(id: $id) { __typename } }`,
      { id: cancelled.jobGid },
      ws.ownerKey,
    );
    expect(res.data.cancelJob.__typename).toBe('CancelJobPayload');
    const rejected = await eventsOf('BidRejected', cancelled.jobId);
    expect(rejected.map((e) => e.agentId).sort()).toEqual(cancelled.agents.map((a) => a.agentId).sort());
    for (const e of rejected) expect(e.payload).toMatchObject({ reason: 'the job was cancelled' });

    const expiring = await jobWithBids(ws, 2);
    await db().job.update({ where: { id: expiring.jobId }, data: { deadline: new Date(Date.now() - 1000) } });
    expect(await expireJobs(db())).toBeGreaterThanOrEqual(1);
    const expired = await eventsOf('BidExpired', expiring.jobId);
    expect(expired.map((e) => e.agentId).sort()).toEqual(expiring.agents.map((a) => a.agentId).sort());
    expect(await db().bid.count({ where: { jobId: expiring.jobId, status: 'EXPIRED' } })).toBe(2);
  });

  it('the expiry sweep expires PENDING bids past their expiresAt, each with BidExpired; others stay', async () => {
    const ws = await createWorkspaceFixture(db());
    const { jobId, bids, agents } = await jobWithBids(ws, 2);
    await db().bid.update({ where: { id: bids[0]!.slice(4) }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expect(await expireBids(db())).toBeGreaterThanOrEqual(1);
    const expired = await eventsOf('BidExpired', jobId);
    expect(expired.map((e) => e.agentId)).toEqual([agents[0]!.agentId]);
    expect(expired[0]!.payload).toMatchObject({ reason: 'the bid passed its expiresAt' });
    const statuses = await db().bid.findMany({ where: { jobId }, orderBy: { agentId: 'asc' } });
    expect(statuses.find((b) => b.agentId === agents[1]!.agentId)!.status).toBe('PENDING');
  });

  it('a bid past its expiresAt is EXPIRED with BidExpired when someone tries to accept it', async () => {
    const ws = await createWorkspaceFixture(db());
    const { jobId, bids, agents } = await jobWithBids(ws, 1);
    await db().bid.update({ where: { id: bids[0]!.slice(4) }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const res = await t.gql(
      `mutation($id: ID!) { acceptBid(bidId: $id) { __typename ... on InvalidStateError { currentStatus } } }`,
      { id: bids[0] },
      ws.ownerKey,
    );
    expect(res.data.acceptBid).toEqual({ __typename: 'InvalidStateError', currentStatus: 'EXPIRED' });
    const expired = await eventsOf('BidExpired', jobId);
    expect(expired.map((e) => e.agentId)).toEqual([agents[0]!.agentId]);
  });

  it('the chat card of a losing bid loses its Accept/Reject buttons and shows REJECTED', async () => {
    const ws = await createWorkspaceFixture(db());
    const project = await db().project.create({ data: { workspaceId: ws.workspaceId, name: `Cards ${uid()}` } });
    await db().chatChannelLink.create({
      data: {
        platform: 'SLACK',
        teamId: 'T1',
        channelId: 'C-cards',
        workspaceId: ws.workspaceId,
        projectId: project.id,
      },
    });
    const cards = new Map<string, View>();
    let next = 0;
    const transport: ChatTransport = {
      async post(_channel, view) {
        const id = `m${next++}`;
        cards.set(id, view);
        return id;
      },
      async update(_channel, id, view) {
        cards.set(id, view);
      },
    };
    const notifier = createChatNotifier({
      database: t.app.db,
      transports: { SLACK: transport },
      log: t.app.log,
      throttleMs: 0,
    });
    const job = await postJobFixture(db(), ws, { visibility: 'PUBLIC', projectId: `prj_${project.id}` });
    const a = await createAgentFixture(db(), ws);
    const b = await createAgentFixture(db(), ws);
    const bidA = (await t.gql(PLACE_BID, bidInput(job.jobGid), a.key)).data.placeBid.bid.id;
    expect((await t.gql(PLACE_BID, bidInput(job.jobGid), b.key)).data.placeBid.__typename).toBe('PlaceBidPayload');
    // The notifier works through every event of the job (in order, like the running process).
    const catchUp = () =>
      waitFor('chat notifier to catch up', async () => {
        await notifier.runOnce();
        return (await db().outboxEvent.count({ where: { jobId: job.jobId, chatAt: null } })) === 0;
      });
    try {
      await catchUp();
      const live = [...cards.values()].filter((v) => v.text.startsWith('Bid from'));
      expect(live).toHaveLength(2);
      for (const view of live) expect(JSON.stringify(view.blocks)).toContain('bid:reject:');

      expect((await t.gql(ACCEPT, { id: bidA }, ws.ownerKey)).data.acceptBid.__typename).toBe('AcceptBidPayload');
      await catchUp();
      // Both bid cards (the winner's and the loser's) are decided: no live buttons left on either.
      const bidCards = [...cards.values()].filter((v) => v.text.startsWith('Bid from'));
      expect(bidCards).toHaveLength(2);
      for (const view of bidCards) {
        const json = JSON.stringify(view.blocks);
        expect(json).not.toContain('bid:accept:');
        expect(json).not.toContain('bid:reject:');
      }
      const rejectedCard = bidCards.find((v) => JSON.stringify(v.blocks).includes('REJECTED'));
      expect(rejectedCard, JSON.stringify(bidCards)).toBeDefined();
      expect(JSON.stringify(rejectedCard!.blocks)).toContain('another bid was accepted');
    } finally {
      await notifier.stop();
    }
  });
});

describe('item 9: concurrent identical placeBid', () => {
  it('20 identical bids at once all answer PlaceBidPayload with the same bid; one row; one insert', async () => {
    const ws = await createWorkspaceFixture(db());
    const { jobId, jobGid } = await postJobFixture(db(), ws, { visibility: 'PUBLIC' });
    const agent = await createAgentFixture(db(), ws);
    const results = await Promise.all(Array.from({ length: 20 }, () => t.gql(PLACE_BID, bidInput(jobGid), agent.key)));
    const types = results.map((r) => r.data?.placeBid?.__typename ?? `error: ${JSON.stringify(r.errors)}`);
    expect(types).toEqual(Array(20).fill('PlaceBidPayload'));
    const ids = new Set(results.map((r) => r.data.placeBid.bid.id));
    expect(ids.size).toBe(1);
    expect(await db().bid.count({ where: { jobId } })).toBe(1);
    const placed = await eventsOf('BidPlaced', jobId);
    expect(placed).toHaveLength(20);
    expect(placed.filter((e) => (e.payload as { updated: boolean }).updated === false)).toHaveLength(1);

    // The row the upsert returns is the row Prisma reads (types and time zone included).
    const viewer = { kind: 'agent' as const, agentId: agent.agentId, workspaceId: ws.workspaceId, apiKeyId: null };
    const direct = await placeBid(db(), viewer, bidInput(jobGid, { requestedCredits: 41 }).input);
    expect(direct).toEqual(await db().bid.findUniqueOrThrow({ where: { id: direct.id } }));
    expect(Math.abs(direct.expiresAt!.getTime() - (Date.now() + 7 * 24 * 3600 * 1000))).toBeLessThan(3600_000);
  });

  it('bidding again after a rejection makes the same bid PENDING again (re-bid semantics kept)', async () => {
    const ws = await createWorkspaceFixture(db());
    const { jobGid, bids, agents } = await jobWithBids(ws, 1);
    const rejected = await t.gql(
      `mutation($id: ID!) { rejectBid(id: $id) { __typename } }`,
      { id: bids[0] },
      ws.ownerKey,
    );
    expect(rejected.data.rejectBid.__typename).toBe('RejectBidPayload');
    const again = await t.gql(PLACE_BID, bidInput(jobGid, { requestedCredits: 55 }), agents[0]!.key);
    expect(again.data.placeBid.bid).toMatchObject({ id: bids[0], status: 'PENDING', requestedCredits: 55 });
  });
});

describe('item 10: bad input never reaches the database', () => {
  const POST = `mutation($i: PostJobInput!) { postJob(input: $i) { __typename
    ... on ValidationError { issues { path message } } ... on Error { message } } }`;

  it('a NUL byte in a title or description is a ValidationError with its path; nothing is stored', async () => {
    const ws = await createWorkspaceFixture(db());
    const before = await db().job.count({ where: { workspaceId: ws.workspaceId } });
    const res = await t.gql(
      POST,
      { i: { title: 'Bad\u0000title', description: 'ok', budget: 10, requiredSkills: ['web-research'] } },
      ws.ownerKey,
    );
    expect(res.errors).toBeUndefined();
    expect(res.data.postJob.__typename).toBe('ValidationError');
    expect(res.data.postJob.issues).toContainEqual({ path: ['input', 'title'], message: expect.stringMatching(/NUL/) });
    const desc = await t.gql(
      POST,
      { i: { title: 'Fine', description: 'a\u0000b', budget: 10, requiredSkills: ['x\u0000y'] } },
      ws.ownerKey,
    );
    expect(desc.data.postJob.__typename).toBe('ValidationError');
    const paths = desc.data.postJob.issues.map((i: { path: string[] }) => i.path.join('.'));
    expect(paths).toContain('input.description');
    expect(paths).toContain('input.requiredSkills.0');
    expect(await db().job.count({ where: { workspaceId: ws.workspaceId } })).toBe(before);
  });

  it('a NUL byte in a bid message or in a JSON result is a ValidationError too', async () => {
    const ws = await createWorkspaceFixture(db());
    const { jobGid, jobId } = await postJobFixture(db(), ws, { visibility: 'PUBLIC' });
    const agent = await createAgentFixture(db(), ws);
    const res = await t.gql(PLACE_BID, bidInput(jobGid, { message: 'hi\u0000' }), agent.key);
    expect(res.data.placeBid).toMatchObject({
      __typename: 'ValidationError',
      issues: [{ path: ['input', 'message'] }],
    });
    expect(await db().bid.count({ where: { jobId } })).toBe(0);

    const assigned = await t.gql(
      `mutation($j: ID!, $a: ID!) { assignJob(jobId: $j, agentId: $a) { __typename } }`,
      { j: jobGid, a: agent.agentGid },
      ws.ownerKey,
    );
    expect(assigned.data.assignJob.__typename).toBe('AssignJobPayload');
    const started = await t.gql(
      `mutation($j: ID!) { startExecution(jobId: $j) { ... on StartExecutionPayload { execution { id } } } }`,
      { j: jobGid },
      agent.key,
    );
    const exe = started.data.startExecution.execution.id;
    const submitted = await t.gql(
      `mutation($e: ID!, $r: JSON) { submitResult(executionId: $e, result: $r) { __typename
        ... on ValidationError { issues { path message } } } }`,
      { e: exe, r: { summary: 'done', nested: ['ok', 'bad\u0000'] } },
      agent.key,
    );
    expect(submitted.data.submitResult.__typename).toBe('ValidationError');
    expect(submitted.data.submitResult.issues[0].path.slice(-3)).toEqual(['result', 'nested', '1']);
  });

  it('connection arguments out of range are validation errors on every connection, never "Unexpected error."', async () => {
    const ws = await createWorkspaceFixture(db());
    const { jobGid } = await postJobFixture(db(), ws);
    const cases: [string, Record<string, unknown>, string[]][] = [
      ['{ jobs(last: -1) { edges { node { id } } } }', {}, ['last']],
      ['{ jobs(first: -3) { edges { node { id } } } }', {}, ['first']],
      ['{ jobs(first: 101) { edges { node { id } } } }', {}, ['first']],
      ['query($n: Int) { agents(first: $n) { edges { node { id } } } }', { n: -1 }, ['first']],
      ['{ wallet { entries(first: -1) { edges { node { id } } } } }', {}, ['first']],
      ['query($j: ID!) { job(id: $j) { bids(first: -2) { edges { node { id } } } } }', { j: jobGid }, ['first']],
      ['{ jobs(first: 5) { edges { node { bids(last: -1) { totalCount } } } } }', {}, ['last']],
    ];
    for (const [query, variables, path] of cases) {
      const res = await t.gql(query, variables, ws.ownerKey);
      expect(res.errors, query).toBeDefined();
      const [error] = res.errors!;
      expect(error!.extensions?.code, `${query}: ${JSON.stringify(res.errors)}`).toBe('BAD_USER_INPUT');
      expect(error!.message).not.toMatch(/Unexpected error/);
      expect(error!.extensions?.issues?.[0]?.path).toEqual(path);
    }
    // In range still works, including first: 0.
    const ok = await t.gql('{ jobs(first: 0) { edges { node { id } } } }', {}, ws.ownerKey);
    expect(ok.errors).toBeUndefined();
  });

  it('Execution.review is one Review (or null), as the contract says', async () => {
    const poster = await createWorkspaceFixture(db());
    const other = await createWorkspaceFixture(db());
    const { jobGid } = await postJobFixture(db(), poster, { visibility: 'PUBLIC' });
    const agent = await createAgentFixture(db(), other);
    const bid = (await t.gql(PLACE_BID, bidInput(jobGid), agent.key)).data.placeBid.bid.id;
    expect((await t.gql(ACCEPT, { id: bid }, poster.ownerKey)).data.acceptBid.__typename).toBe('AcceptBidPayload');
    const started = await t.gql(
      `mutation($j: ID!) { startExecution(jobId: $j) { ... on StartExecutionPayload { execution { id } } } }`,
      { j: jobGid },
      agent.key,
    );
    const exe = started.data.startExecution.execution.id;
    const QUERY = `query($j: ID!) { job(id: $j) { execution { id review { __typename decision rating } } } }`;
    const unreviewed = await t.gql(QUERY, { j: jobGid }, poster.ownerKey);
    expect(unreviewed.errors).toBeUndefined();
    expect(unreviewed.data.job.execution.review).toBeNull();
    await t.gql(
      `mutation($e: ID!) { submitResult(executionId: $e, result: { summary: "done" }) { __typename } }`,
      { e: exe },
      agent.key,
    );
    const reviewed = await t.gql(
      `mutation($e: ID!) { reviewExecution(executionId: $e, decision: ACCEPT, rating: 5) { __typename ... on Error { message } } }`,
      { e: exe },
      poster.ownerKey,
    );
    expect(reviewed.data.reviewExecution.__typename).toBe('ReviewExecutionPayload');
    for (const key of [poster.ownerKey, agent.key]) {
      const res = await t.gql(QUERY, { j: jobGid }, key);
      expect(res.errors).toBeUndefined();
      expect(res.data.job.execution.review).toEqual({ __typename: 'Review', decision: 'ACCEPT', rating: 5 });
    }
  });

  it('node(id) resolves a LedgerEntry for its wallet owner and is null for a stranger', async () => {
    const ws = await createWorkspaceFixture(db());
    const stranger = await createWorkspaceFixture(db());
    const strangerAgent = await createAgentFixture(db(), stranger);
    const listed = await t.gql(`{ wallet { entries(first: 1) { edges { node { id amount } } } } }`, {}, ws.ownerKey);
    const entry = listed.data.wallet.entries.edges[0].node;
    const NODE = `query($id: ID!) { node(id: $id) { __typename id ... on LedgerEntry { amount } } }`;
    const own = await t.gql(NODE, { id: entry.id }, ws.ownerKey);
    expect(own.errors).toBeUndefined();
    expect(own.data.node).toEqual({ __typename: 'LedgerEntry', id: entry.id, amount: entry.amount });
    for (const key of [stranger.ownerKey, strangerAgent.key]) {
      const res = await t.gql(NODE, { id: entry.id }, key);
      expect(res.data.node).toBeNull();
    }
  });
});
