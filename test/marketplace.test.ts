import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.ts';
import {
  createAgentFixture,
  createMemberFixture,
  createWorkspaceFixture,
  postJobFixture,
  type WorkspaceFixture,
} from './support/factories.ts';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());
const db = () => t.app.db.prisma;

const JOB = `query($id: ID!) { job(id: $id) { id title excludedAgents { id } bids { totalCount edges { node { id agent { id } } } } } }`;
const NODE = `query($id: ID!) { node(id: $id) { __typename id } }`;
const JOBS = `query($f: JobFilter) { jobs(filter: $f, first: 100) { edges { node { id } } } }`;
const MATCH = `query($id: ID!) { matchingAgents(jobId: $id, first: 50) { agent { id } score } }`;
const PLACE_BID = `mutation($input: PlaceBidInput!) { placeBid(input: $input) {
  __typename ... on PlaceBidPayload { bid { id skillMatch status } }
  ... on NotEligibleError { reasons } ... on InvalidStateError { currentStatus } ... on ValidationError { issues { path message } } ... on Error { message } } }`;
const bidInput = (jobId: string, extra: Record<string, unknown> = {}) => ({
  input: { jobId, message: 'I can do this with web search', estimatedMinutes: 30, requestedCredits: 40, ...extra },
});

describe('visibility, from every kind of principal, through every entry point', () => {
  // Poster P with a job of each visibility; agents: own (owned by P), invited (foreign), foreign, excluded (foreign).
  let poster: WorkspaceFixture;
  let foreign: WorkspaceFixture;
  let own: { agentId: string; agentGid: string; key: string };
  let invited: typeof own;
  let stranger: typeof own;
  let excluded: typeof own;
  const jobs: Record<string, string> = {};

  beforeAll(async () => {
    poster = await createWorkspaceFixture(db());
    foreign = await createWorkspaceFixture(db());
    own = await createAgentFixture(db(), poster);
    invited = await createAgentFixture(db(), foreign);
    stranger = await createAgentFixture(db(), foreign);
    excluded = await createAgentFixture(db(), foreign);
    for (const visibility of ['PRIVATE', 'WORKSPACE', 'PUBLIC'] as const) {
      const job = await postJobFixture(db(), poster, {
        visibility,
        preferredAgents: [invited.agentGid],
        excludedAgents: [excluded.agentGid],
      });
      jobs[visibility] = job.jobGid;
    }
  });

  const expected: Record<string, Record<string, boolean>> = {
    poster: { PRIVATE: true, WORKSPACE: true, PUBLIC: true },
    foreignMember: { PRIVATE: false, WORKSPACE: false, PUBLIC: true },
    ownAgent: { PRIVATE: false, WORKSPACE: true, PUBLIC: true },
    invitedAgent: { PRIVATE: true, WORKSPACE: true, PUBLIC: true },
    strangerAgent: { PRIVATE: false, WORKSPACE: false, PUBLIC: true },
    excludedAgent: { PRIVATE: false, WORKSPACE: false, PUBLIC: false },
  };
  const keyOf = (who: string) =>
    ({
      poster: poster.ownerKey,
      foreignMember: foreign.ownerKey,
      ownAgent: own.key,
      invitedAgent: invited.key,
      strangerAgent: stranger.key,
      excludedAgent: excluded.key,
    })[who]!;

  for (const who of Object.keys(expected)) {
    it(`${who}: job, node and jobs agree`, async () => {
      const listed = (await t.gql(JOBS, {}, keyOf(who))).data.jobs.edges.map((e: any) => e.node.id);
      for (const visibility of ['PRIVATE', 'WORKSPACE', 'PUBLIC']) {
        const id = jobs[visibility]!;
        const sees = expected[who]![visibility]!;
        const one = await t.gql(JOB, { id }, keyOf(who));
        if (sees) expect(one.data.job?.id, `${who} job(${visibility})`).toBe(id);
        else {
          expect(one.data.job, `${who} job(${visibility})`).toBeNull();
          expect(one.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
        }
        const node = await t.gql(NODE, { id }, keyOf(who));
        expect(Boolean(node.data.node), `${who} node(${visibility})`).toBe(sees);
        expect(listed.includes(id), `${who} jobs(${visibility})`).toBe(sees);
      }
    });
  }

  it('placeBid follows visibility: invisible jobs are not found, excluded agents too', async () => {
    for (const [who, key] of [
      ['invitedAgent', invited.key],
      ['strangerAgent', stranger.key],
      ['excludedAgent', excluded.key],
      ['ownAgent', own.key],
    ] as const) {
      for (const visibility of ['PRIVATE', 'WORKSPACE', 'PUBLIC']) {
        const res = await t.gql(PLACE_BID, bidInput(jobs[visibility]!), key);
        const type = res.data.placeBid.__typename;
        expect(type, `${who} bids on ${visibility}`).toBe(
          expected[who]![visibility] ? 'PlaceBidPayload' : 'NotFoundError',
        );
      }
    }
  });

  it('matchingAgents ranks only agents that may see the job, and only for the poster', async () => {
    const ids = async (visibility: string) =>
      (await t.gql(MATCH, { id: jobs[visibility] }, poster.ownerKey)).data.matchingAgents.map((m: any) => m.agent.id);
    const priv = await ids('PRIVATE');
    expect(priv).toContain(invited.agentGid);
    expect(priv).not.toContain(own.agentGid);
    expect(priv).not.toContain(stranger.agentGid);
    const ws = await ids('WORKSPACE');
    expect(ws).toEqual(expect.arrayContaining([own.agentGid, invited.agentGid]));
    expect(ws).not.toContain(stranger.agentGid);
    const pub = await ids('PUBLIC');
    expect(pub).toEqual(expect.arrayContaining([own.agentGid, invited.agentGid, stranger.agentGid]));
    for (const list of [priv, ws, pub]) expect(list).not.toContain(excluded.agentGid);

    const foreignTry = await t.gql(MATCH, { id: jobs.PRIVATE }, foreign.ownerKey);
    expect(foreignTry.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const foreignPublic = await t.gql(MATCH, { id: jobs.PUBLIC }, foreign.ownerKey);
    expect(foreignPublic.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('bids are seen by the poster and by each bidder for its own bid only; exclusions by the poster only', async () => {
    const asPoster = await t.gql(JOB, { id: jobs.PUBLIC }, poster.ownerKey);
    expect(asPoster.data.job.bids.totalCount).toBeGreaterThanOrEqual(3);
    expect(asPoster.data.job.excludedAgents.map((a: any) => a.id)).toEqual([excluded.agentGid]);
    const asBidder = await t.gql(JOB, { id: jobs.PUBLIC }, stranger.key);
    expect(asBidder.data.job.bids.edges.map((e: any) => e.node.agent.id)).toEqual([stranger.agentGid]);
    expect(asBidder.data.job.excludedAgents).toEqual([]);
    const asMember = await t.gql(JOB, { id: jobs.PUBLIC }, foreign.ownerKey);
    expect(asMember.data.job.bids.totalCount).toBe(0);
    const someBid = asPoster.data.job.bids.edges[0].node.id;
    expect((await t.gql(NODE, { id: someBid }, foreign.ownerKey)).data.node).toBeNull();
  });
});

describe('bidding and assignment', () => {
  it('50 concurrent acceptBid calls on one job: exactly one wins, the rest are refused cleanly', async () => {
    const ws = await createWorkspaceFixture(db());
    const { jobGid, jobId } = await postJobFixture(db(), ws, { visibility: 'PUBLIC' });
    const agents = await Promise.all(Array.from({ length: 50 }, () => createAgentFixture(db(), ws)));
    const bids: string[] = [];
    for (const agent of agents) {
      const res = await t.gql(PLACE_BID, bidInput(jobGid), agent.key);
      bids.push(res.data.placeBid.bid.id);
    }
    const ACCEPT = `mutation($id: ID!) { acceptBid(bidId: $id) { __typename ... on Error { message } } }`;
    const results = await Promise.all(bids.map((id) => t.gql(ACCEPT, { id }, ws.ownerKey)));
    const types = results.map((r) => r.data?.acceptBid?.__typename ?? `error: ${r.errors?.[0]?.message}`);
    expect(types.filter((x) => x === 'AcceptBidPayload')).toHaveLength(1);
    expect(types.filter((x) => x !== 'AcceptBidPayload').every((x) => x === 'InvalidStateError')).toBe(true);
    const job = await db().job.findUniqueOrThrow({ where: { id: jobId }, include: { bids: true } });
    expect(job.status).toBe('ASSIGNED');
    expect(job.bids.filter((b) => b.status === 'ACCEPTED')).toHaveLength(1);
    expect(job.bids.filter((b) => b.status === 'REJECTED')).toHaveLength(49);
    expect(job.assignedAgentId).toBe(job.bids.find((b) => b.status === 'ACCEPTED')!.agentId);
    const busy = await db().agent.findMany({
      where: { id: { in: agents.map((a) => a.agentId) }, activeJobCount: { gt: 0 } },
    });
    expect(busy).toHaveLength(1);
  });

  it('a MEMBER cannot accept bids (approvals need OWNER or ADMIN); nothing changes', async () => {
    const ws = await createWorkspaceFixture(db());
    const member = await createMemberFixture(db(), ws.workspaceId, 'MEMBER');
    const { jobGid, jobId } = await postJobFixture(db(), ws);
    const agent = await createAgentFixture(db(), ws);
    const bid = (await t.gql(PLACE_BID, bidInput(jobGid), agent.key)).data.placeBid.bid.id;
    const res = await t.gql(`mutation($id: ID!) { acceptBid(bidId: $id) { __typename } }`, { id: bid }, member.key);
    expect(res.data.acceptBid.__typename).toBe('ForbiddenError');
    expect((await db().job.findUniqueOrThrow({ where: { id: jobId } })).status).toBe('OPEN');
  });

  it('a second bid updates the first; withdrawn and expired bids cannot be accepted; skillMatch is computed', async () => {
    const ws = await createWorkspaceFixture(db());
    const { jobGid } = await postJobFixture(db(), ws, { requiredSkills: ['web-research', 'data-analysis'] });
    const agent = await createAgentFixture(db(), ws, { skills: ['web search'] });
    const first = (await t.gql(PLACE_BID, bidInput(jobGid), agent.key)).data.placeBid.bid;
    expect(first.skillMatch).toBe(50);
    const second = (await t.gql(PLACE_BID, bidInput(jobGid, { requestedCredits: 60 }), agent.key)).data.placeBid.bid;
    expect(second.id).toBe(first.id);
    expect(await db().bid.count({ where: { id: first.id.slice(4) } })).toBe(1);

    const withdrawn = await t.gql(
      `mutation($id: ID!) { withdrawBid(id: $id) { __typename } }`,
      { id: first.id },
      agent.key,
    );
    expect(withdrawn.data.withdrawBid.__typename).toBe('WithdrawBidPayload');
    const acc = await t.gql(
      `mutation($id: ID!) { acceptBid(bidId: $id) { __typename ... on InvalidStateError { currentStatus } } }`,
      { id: first.id },
      ws.ownerKey,
    );
    expect(acc.data.acceptBid).toEqual({ __typename: 'InvalidStateError', currentStatus: 'WITHDRAWN' });

    const other = await createAgentFixture(db(), ws);
    const late = (await t.gql(PLACE_BID, bidInput(jobGid), other.key)).data.placeBid.bid;
    await db().bid.update({ where: { id: late.id.slice(4) }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const expired = await t.gql(
      `mutation($id: ID!) { acceptBid(bidId: $id) { __typename ... on InvalidStateError { currentStatus } } }`,
      { id: late.id },
      ws.ownerKey,
    );
    expect(expired.data.acceptBid).toEqual({ __typename: 'InvalidStateError', currentStatus: 'EXPIRED' });
  });

  it('agents below minReputationScore see the job but get NotEligibleError with the reason', async () => {
    const ws = await createWorkspaceFixture(db());
    const { jobGid } = await postJobFixture(db(), ws, { minReputationScore: 60 });
    const agent = await createAgentFixture(db(), ws);
    expect((await t.gql(JOB, { id: jobGid }, agent.key)).data.job.id).toBe(jobGid);
    const res = await t.gql(PLACE_BID, bidInput(jobGid), agent.key);
    expect(res.data.placeBid.__typename).toBe('NotEligibleError');
    expect(res.data.placeBid.reasons[0]).toMatch(/below the job's minimum of 60/);
  });

  it('assignJob hires directly; a second assignment is an InvalidStateError; cancel frees the agent', async () => {
    const ws = await createWorkspaceFixture(db());
    const { jobGid } = await postJobFixture(db(), ws);
    const a = await createAgentFixture(db(), ws);
    const b = await createAgentFixture(db(), ws);
    const ASSIGN = `mutation($j: ID!, $a: ID!) { assignJob(jobId: $j, agentId: $a) { __typename ... on AssignJobPayload { job { status agreedCredits assignedAgent { id } } } ... on InvalidStateError { currentStatus } } }`;
    const [r1, r2] = await Promise.all([
      t.gql(ASSIGN, { j: jobGid, a: a.agentGid }, ws.ownerKey),
      t.gql(ASSIGN, { j: jobGid, a: b.agentGid }, ws.ownerKey),
    ]);
    const types = [r1.data.assignJob.__typename, r2.data.assignJob.__typename].sort();
    expect(types).toEqual(['AssignJobPayload', 'InvalidStateError']);
    const cancel = await t.gql(
      `mutation($id: ID!) { cancelJob(id: $id) { __typename ... on CancelJobPayload { job { status } } } }`,
      { id: jobGid },
      ws.ownerKey,
    );
    expect(cancel.data.cancelJob.job.status).toBe('CANCELLED');
    const agents = await db().agent.findMany({ where: { id: { in: [a.agentId, b.agentId] } } });
    expect(agents.every((x) => x.activeJobCount === 0)).toBe(true);
    const again = await t.gql(
      `mutation($id: ID!) { cancelJob(id: $id) { __typename ... on InvalidStateError { currentStatus } } }`,
      { id: jobGid },
      ws.ownerKey,
    );
    expect(again.data.cancelJob).toEqual({ __typename: 'InvalidStateError', currentStatus: 'CANCELLED' });
  });
});

describe('bad input gets a typed error and changes nothing', () => {
  const POST = `mutation($input: PostJobInput!) { postJob(input: $input) { __typename ... on ValidationError { issues { path message } } } }`;
  const valid = { title: 'Clean this dataset', description: 'Dedupe rows', budget: 50 };

  it.each([
    ['empty title', { title: '  ' }, 'input.title'],
    ['negative budget', { budget: -5 }, 'input.budget'],
    ['10 MB description', { description: 'x'.repeat(10 * 1024 * 1024) }, 'input.description'],
    ['unknown skill format', { requiredSkills: ['web research', '💥!!'] }, 'input.requiredSkills.1'],
    ['deadline in the past', { deadline: '2001-01-01T00:00:00Z' }, 'input.deadline'],
    ['minimum reputation above 100', { minReputationScore: 101 }, 'input.minReputationScore'],
    ['unknown invited agent', { preferredAgents: ['agt_doesnotexist'] }, 'input.preferredAgents.0'],
  ])('postJob: %s', async (_name, patch, path) => {
    const ws = await createWorkspaceFixture(db());
    const before = await db().job.count();
    const res = await t.gql(POST, { input: { ...valid, ...patch } }, ws.ownerKey);
    expect(res.data.postJob.__typename).toBe('ValidationError');
    expect(res.data.postJob.issues.map((i: any) => i.path.join('.'))).toContain(path);
    expect(await db().job.count()).toBe(before);
  });

  it('bid on a cancelled job, by an excluded agent, or with a bad price', async () => {
    const ws = await createWorkspaceFixture(db());
    const agent = await createAgentFixture(db(), ws);
    const { jobGid, jobId } = await postJobFixture(db(), ws);
    await t.gql(`mutation($id: ID!) { cancelJob(id: $id) { __typename } }`, { id: jobGid }, ws.ownerKey);
    const cancelled = await t.gql(PLACE_BID, bidInput(jobGid), agent.key);
    expect(cancelled.data.placeBid).toMatchObject({ __typename: 'InvalidStateError', currentStatus: 'CANCELLED' });

    const other = await postJobFixture(db(), ws, { excludedAgents: [agent.agentGid], visibility: 'PUBLIC' });
    expect((await t.gql(PLACE_BID, bidInput(other.jobGid), agent.key)).data.placeBid.__typename).toBe('NotFoundError');

    const third = await postJobFixture(db(), ws);
    const bad = await t.gql(
      PLACE_BID,
      bidInput(third.jobGid, { requestedCredits: 0, estimatedMinutes: -1 }),
      agent.key,
    );
    expect(bad.data.placeBid.issues.map((i: any) => i.path.join('.')).sort()).toEqual([
      'input.estimatedMinutes',
      'input.requestedCredits',
    ]);
    const foreignExperience = await t.gql(
      PLACE_BID,
      bidInput(third.jobGid, { relevantExperience: [jobGid] }),
      agent.key,
    );
    expect(foreignExperience.data.placeBid.issues[0].path).toEqual(['input', 'relevantExperience', '0']);
    expect(await db().bid.count({ where: { jobId: { in: [jobId, other.jobId, third.jobId] } } })).toBe(0);
  });

  it('members cannot bid; agents cannot post jobs', async () => {
    const ws = await createWorkspaceFixture(db());
    const agent = await createAgentFixture(db(), ws);
    const { jobGid } = await postJobFixture(db(), ws);
    expect((await t.gql(PLACE_BID, bidInput(jobGid), ws.ownerKey)).data.placeBid.__typename).toBe('ForbiddenError');
    expect((await t.gql(POST, { input: valid }, agent.key)).data.postJob.__typename).toBe('ForbiddenError');
  });
});
