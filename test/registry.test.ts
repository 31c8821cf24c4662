import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expireJobs } from '../src/services/marketplace/jobs.ts';
import { skillMatch } from '../src/services/marketplace/matching.ts';
import { normalizeSkill } from '../src/services/marketplace/skills.ts';
import { computeScores, wilsonLowerBound } from '../src/services/reputation/reputation.ts';
import { createTestApp, type TestApp } from './support/app.ts';
import { createAgentFixture, createWorkspaceFixture, postJobFixture } from './support/factories.ts';

let t: TestApp;
beforeAll(async () => {
  // The card server below listens on 127.0.0.1: allow-listed as a developer would (WEBHOOK_ALLOW_HOSTS).
  t = await createTestApp({ config: { WEBHOOK_ALLOW_HOSTS: '127.0.0.1' } });
});
afterAll(() => t.close());
const db = () => t.app.db.prisma;

const REGISTER = `mutation($input: RegisterAgentInput!) { registerAgent(input: $input) {
  __typename ... on RegisterAgentPayload { apiKey agent { id name skills tools status framework reputation { overallScore badges } } }
  ... on ValidationError { issues { path message } } } }`;

describe('skills', () => {
  it('normalises case, spaces, -/_ and synonyms', () => {
    expect(normalizeSkill('Web Search')).toBe('web-research');
    expect(normalizeSkill('web_research')).toBe('web-research');
    expect(normalizeSkill('  DATA   analytics ')).toBe('data-analysis');
    expect(normalizeSkill('Analytics')).toBe('data-analysis');
    expect(normalizeSkill('Python')).toBe('python');
    expect(normalizeSkill('💥!!')).toBeNull();
    expect(normalizeSkill('')).toBeNull();
  });

  it('skill match weighs skills 75% and tools 25%', () => {
    const job = { requiredSkills: ['web-research', 'data-analysis'], requiredTools: ['browser'] };
    expect(skillMatch(job, { skills: ['web-research', 'data-analysis'], tools: ['browser'] })).toBe(100);
    expect(skillMatch(job, { skills: ['web-research'], tools: ['browser'] })).toBe(63);
    expect(skillMatch(job, { skills: [], tools: [] })).toBe(0);
    expect(skillMatch({ requiredSkills: [], requiredTools: [] }, { skills: [], tools: [] })).toBe(100);
  });
});

describe('reputation estimators', () => {
  it('one 5-star review ranks below forty 4.8-star reviews (Bayesian average)', () => {
    const one = computeScores({
      completedJobs: 1,
      failedJobs: 0,
      disputedJobs: 0,
      ratingSum: 5,
      ratingCount: 1,
      speedPoints: 1000,
    });
    const forty = computeScores({
      completedJobs: 40,
      failedJobs: 0,
      disputedJobs: 0,
      ratingSum: 192,
      ratingCount: 40,
      speedPoints: 40_000,
    });
    expect(one.qualityScore).toBeLessThan(forty.qualityScore);
    expect(one.overallScore).toBeLessThan(forty.overallScore);
  });

  it('Wilson lower bound grows with evidence', () => {
    expect(wilsonLowerBound(1, 1)).toBeLessThan(wilsonLowerBound(40, 40));
    expect(wilsonLowerBound(0, 0)).toBe(0);
    expect(wilsonLowerBound(9, 10)).toBeCloseTo(0.5958, 3);
  });
});

describe('agent registry', () => {
  it('registerAgent returns an agent key that authenticates as the agent', async () => {
    const ws = await createWorkspaceFixture(db());
    const res = await t.gql(
      REGISTER,
      {
        input: {
          name: 'ResearchBot',
          framework: 'ELIZA',
          skills: ['Web Search', 'summarise'],
          tools: ['Browser'],
          creditRate: 30,
        },
      },
      ws.ownerKey,
    );
    const { apiKey, agent } = res.data.registerAgent;
    expect(agent).toMatchObject({
      name: 'ResearchBot',
      framework: 'ELIZA',
      skills: ['web-research', 'summarization'],
      tools: ['browser'],
      status: 'OFFLINE',
    });
    expect(agent.reputation.overallScore).toBe(0);
    const viewer = await t.gql('{ viewer { __typename id } }', {}, apiKey);
    expect(viewer.data.viewer).toEqual({ __typename: 'Agent', id: agent.id });

    const online = await t.gql(
      `mutation { setAgentStatus(status: ONLINE) { __typename ... on SetAgentStatusPayload { agent { status } } } }`,
      {},
      apiKey,
    );
    expect(online.data.setAgentStatus.agent.status).toBe('ONLINE');
  });

  it('rejects bad URLs, skill names and numbers with paths; creates nothing', async () => {
    const ws = await createWorkspaceFixture(db());
    const before = await db().agent.count();
    const res = await t.gql(
      REGISTER,
      {
        input: {
          name: '',
          skills: ['ok', '!!'],
          webhookUrl: 'http://example.com/hook',
          apiEndpoint: 'ftp://x',
          maxConcurrentJobs: 0,
          creditRate: -1,
        },
      },
      ws.ownerKey,
    );
    const paths = res.data.registerAgent.issues.map((i: any) => i.path.join('.')).sort();
    expect(paths).toEqual([
      'input.apiEndpoint',
      'input.creditRate',
      'input.maxConcurrentJobs',
      'input.name',
      'input.skills.1',
      'input.webhookUrl',
    ]);
    expect(await db().agent.count()).toBe(before);
  });

  it('updateAgent: by the agent or its workspace; others are refused', async () => {
    const ws = await createWorkspaceFixture(db());
    const other = await createWorkspaceFixture(db());
    const agent = await createAgentFixture(db(), ws);
    const UPDATE = `mutation($id: ID, $input: UpdateAgentInput!) { updateAgent(id: $id, input: $input) { __typename ... on UpdateAgentPayload { agent { name creditRate skills } } } }`;
    const self = await t.gql(UPDATE, { input: { creditRate: 99 } }, agent.key);
    expect(self.data.updateAgent.agent.creditRate).toBe(99);
    const owner = await t.gql(UPDATE, { id: agent.agentGid, input: { skills: ['Data Science'] } }, ws.ownerKey);
    expect(owner.data.updateAgent.agent.skills).toEqual(['data-analysis']);
    const foreign = await t.gql(UPDATE, { id: agent.agentGid, input: { name: 'Hijacked' } }, other.ownerKey);
    expect(foreign.data.updateAgent.__typename).toBe('ForbiddenError');
    expect((await db().agent.findUniqueOrThrow({ where: { id: agent.agentId } })).name).not.toBe('Hijacked');
  });

  it('an ONLINE agent at capacity is reported BUSY', async () => {
    const ws = await createWorkspaceFixture(db());
    const agent = await createAgentFixture(db(), ws, { maxConcurrentJobs: 1 });
    await db().agent.update({ where: { id: agent.agentId }, data: { activeJobCount: 1 } });
    const res = await t.gql(`query($id: ID!) { agent(id: $id) { status } }`, { id: agent.agentGid }, ws.ownerKey);
    expect(res.data.agent.status).toBe('BUSY');
    const filtered = await t.gql(`{ agents(filter: { status: BUSY }) { edges { node { id } } } }`, {}, ws.ownerKey);
    expect(filtered.data.agents.edges.map((e: any) => e.node.id)).toContain(agent.agentGid);
  });

  it('agents(filter) finds by skill synonyms, framework and search', async () => {
    const ws = await createWorkspaceFixture(db());
    const agent = await createAgentFixture(db(), ws, {
      name: 'Zebra Analyst',
      skills: ['analytics', 'forecasting'],
      framework: 'CREWAI',
    });
    const Q = `query($f: AgentFilter) { agents(filter: $f, first: 50) { edges { node { id } } } }`;
    const ids = async (f: object) => (await t.gql(Q, { f }, ws.ownerKey)).data.agents.edges.map((e: any) => e.node.id);
    expect(await ids({ skills: ['Data Analysis', 'forecasting'] })).toContain(agent.agentGid);
    expect(await ids({ framework: 'CREWAI', search: 'zebra' })).toEqual([agent.agentGid]);
    expect(await ids({ skills: ['data-analysis', 'legal'] })).not.toContain(agent.agentGid);
  });
});

describe('A2A agent cards', () => {
  const card = {
    name: 'Card Agent',
    description: 'Imported from an A2A card',
    url: 'https://agents.example.com/a2a',
    version: '1.0.0',
    capabilities: { streaming: true },
    skills: [
      { id: 'web_search', name: 'Web Search', tags: ['research', 'browsing'] },
      { id: 'summarize', name: 'Summarize', tags: ['!!bad tag!!'] },
    ],
  };
  const IMPORT = `mutation($input: ImportAgentCardInput!) { importAgentCard(input: $input) {
    __typename ... on ImportAgentCardPayload { created apiKey agent { id name skills apiEndpoint } } ... on ValidationError { issues { path message } } } }`;

  it('creates an agent from card JSON, maps skills and tags, and updates it on re-import', async () => {
    const ws = await createWorkspaceFixture(db());
    const first = await t.gql(IMPORT, { input: { card } }, ws.ownerKey);
    expect(first.data.importAgentCard).toMatchObject({
      created: true,
      agent: { name: 'Card Agent', apiEndpoint: card.url },
    });
    expect(first.data.importAgentCard.apiKey).toMatch(/^aw_live_/);
    expect(first.data.importAgentCard.agent.skills).toEqual(['web-research', 'research', 'summarization']);
    const again = await t.gql(IMPORT, { input: { card: { ...card, name: 'Card Agent v2' } } }, ws.ownerKey);
    expect(again.data.importAgentCard).toMatchObject({
      created: false,
      apiKey: null,
      agent: { id: first.data.importAgentCard.agent.id, name: 'Card Agent v2' },
    });
  });

  it('fetches /.well-known/agent-card.json by URL (loopback http in development)', async () => {
    const server = createServer((req, res) => {
      if (req.url === '/.well-known/agent-card.json') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ ...card, url: undefined, name: 'Served Agent' }));
      } else {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/agent-card.json`;
    try {
      const ws = await createWorkspaceFixture(db());
      const res = await t.gql(IMPORT, { input: { url } }, ws.ownerKey);
      expect(res.data.importAgentCard).toMatchObject({ created: true, agent: { name: 'Served Agent' } });
      const missing = await t.gql(IMPORT, { input: { url: url.replace('agent-card', 'nope') } }, ws.ownerKey);
      expect(missing.data.importAgentCard.issues[0]).toMatchObject({
        path: ['url'],
        message: expect.stringMatching(/HTTP 404/),
      });
    } finally {
      server.close();
    }
  });

  it('rejects a card without a name, and both or neither of url and card', async () => {
    const ws = await createWorkspaceFixture(db());
    const bad = await t.gql(IMPORT, { input: { card: { skills: [] } } }, ws.ownerKey);
    expect(bad.data.importAgentCard.issues[0].path).toEqual(['input', 'card', 'name']);
    const both = await t.gql(IMPORT, { input: { card, url: 'https://x.example/' } }, ws.ownerKey);
    expect(both.data.importAgentCard.__typename).toBe('ValidationError');
  });
});

describe('jobs lifecycle details', () => {
  it('updateJob edits OPEN jobs only; inviteAgent opens a PRIVATE job to that agent', async () => {
    const ws = await createWorkspaceFixture(db());
    const other = await createWorkspaceFixture(db());
    const agent = await createAgentFixture(db(), other);
    const { jobGid, jobId } = await postJobFixture(db(), ws, { visibility: 'PRIVATE' });
    const UPDATE = `mutation($id: ID!, $input: UpdateJobInput!) { updateJob(id: $id, input: $input) { __typename ... on UpdateJobPayload { job { budget title } } ... on InvalidStateError { currentStatus } } }`;
    expect((await t.gql(UPDATE, { id: jobGid, input: { budget: 250 } }, ws.ownerKey)).data.updateJob.job.budget).toBe(
      250,
    );
    const seeBefore = await t.gql(`query($id: ID!) { job(id: $id) { id } }`, { id: jobGid }, agent.key);
    expect(seeBefore.data.job).toBeNull();
    const invite = await t.gql(
      `mutation($j: ID!, $a: ID!) { inviteAgent(jobId: $j, agentId: $a) { __typename } }`,
      { j: jobGid, a: agent.agentGid },
      ws.ownerKey,
    );
    expect(invite.data.inviteAgent.__typename).toBe('InviteAgentPayload');
    expect((await t.gql(`query($id: ID!) { job(id: $id) { id } }`, { id: jobGid }, agent.key)).data.job.id).toBe(
      jobGid,
    );
    await db().job.update({ where: { id: jobId }, data: { status: 'CANCELLED' } });
    expect((await t.gql(UPDATE, { id: jobGid, input: { title: 'Late edit' } }, ws.ownerKey)).data.updateJob).toEqual({
      __typename: 'InvalidStateError',
      currentStatus: 'CANCELLED',
    });
  });

  it('OPEN jobs past their deadline expire, with their pending bids', async () => {
    const ws = await createWorkspaceFixture(db());
    const agent = await createAgentFixture(db(), ws);
    const { jobId, jobGid } = await postJobFixture(db(), ws, {
      deadline: new Date(Date.now() + 60_000).toISOString() as never,
    });
    await t.gql(
      `mutation($input: PlaceBidInput!) { placeBid(input: $input) { __typename } }`,
      { input: { jobId: jobGid, message: 'x', estimatedMinutes: 5, requestedCredits: 5 } },
      agent.key,
    );
    expect(await expireJobs(db(), new Date(Date.now() + 120_000))).toBeGreaterThanOrEqual(1);
    const job = await db().job.findUniqueOrThrow({ where: { id: jobId }, include: { bids: true } });
    expect(job.status).toBe('EXPIRED');
    expect(job.bids.map((b) => b.status)).toEqual(['EXPIRED']);
    expect(await expireJobs(db(), new Date(Date.now() + 120_000))).toBe(0);
  });

  it('recommendedJobs ranks by skill match, then budget against the agent’s rate', async () => {
    const ws = await createWorkspaceFixture(db());
    const agent = await createAgentFixture(db(), ws, { skills: ['rare-skill-x', 'rare-skill-y'], creditRate: 100 });
    const full = await postJobFixture(db(), ws, { requiredSkills: ['rare-skill-x', 'rare-skill-y'], budget: 100 });
    const half = await postJobFixture(db(), ws, { requiredSkills: ['rare-skill-x', 'other'], budget: 100 });
    const cheap = await postJobFixture(db(), ws, { requiredSkills: ['rare-skill-x', 'rare-skill-y'], budget: 10 });
    await postJobFixture(db(), ws, { requiredSkills: ['unrelated'] });
    const res = await t.gql(`{ recommendedJobs(first: 50) { id } }`, {}, agent.key);
    const ids = res.data.recommendedJobs.map((j: any) => j.id);
    expect(ids.indexOf(full.jobGid)).toBeLessThan(ids.indexOf(cheap.jobGid));
    expect(ids.indexOf(cheap.jobGid)).toBeLessThan(ids.indexOf(half.jobGid));
    const members = await t.gql(`{ recommendedJobs { id } }`, {}, ws.ownerKey);
    expect(members.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});
