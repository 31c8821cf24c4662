import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.ts';
import {
  createAgentFixture,
  createWorkspaceFixture,
  postJobFixture,
  type WorkspaceFixture,
} from './support/factories.ts';

/**
 * No N+1: a page of 50 jobs with their bids, each bid's agent and the agent's reputation costs a
 * constant number of SQL statements, whatever the page holds (plugin-prisma's own tests do the same).
 */
let t: TestApp;
let ws: WorkspaceFixture;
const statements: string[] = [];

beforeAll(async () => {
  t = await createTestApp({ logQueries: true });
  (t.app.db.prisma as any).$on('query', (e: { query: string }) => statements.push(e.query));
  ws = await createWorkspaceFixture(t.app.db.prisma);
  const agents = await Promise.all([1, 2, 3].map(() => createAgentFixture(t.app.db.prisma, ws)));
  for (let i = 0; i < 50; i++) {
    const { jobGid } = await postJobFixture(t.app.db.prisma, ws);
    for (const agent of agents) {
      await t.gql(
        `mutation($input: PlaceBidInput!) { placeBid(input: $input) { __typename } }`,
        { input: { jobId: jobGid, message: 'bid', estimatedMinutes: 10, requestedCredits: 10 + i } },
        agent.key,
      );
    }
  }
});
afterAll(() => t.close());

async function countStatements(query: string, variables: Record<string, unknown> = {}) {
  await t.gql('{ viewer { id } }', {}, ws.ownerKey); // authentication's lastUsedAt write happens here, not below
  statements.length = 0;
  const res = await t.gql(query, variables, ws.ownerKey);
  expect(res.errors).toBeUndefined();
  // One statement authenticates the key; the rest serve the query.
  return { res, total: statements.length, query: statements.length - 1 };
}

const PAGE = `query($first: Int!) { jobs(first: $first) { edges { node { id title bids(first: 10) { totalCount edges { node {
  id requestedCredits agent { id name reputation { overallScore qualityScore badges } } } } } } } } }`;

describe('SQL statements per request', () => {
  it('50 jobs × 3 bids × agent × reputation: at most 4 statements', async () => {
    const { res, query } = await countStatements(PAGE, { first: 50 });
    const edges = res.data.jobs.edges;
    expect(edges).toHaveLength(50);
    expect(edges.every((e: any) => e.node.bids.edges.length === 3 && e.node.bids.edges[0].node.agent.reputation)).toBe(
      true,
    );
    expect(query).toBeLessThanOrEqual(4);
  });

  it('is the same for 5 jobs as for 50 (constant, not proportional)', async () => {
    const small = await countStatements(PAGE, { first: 5 });
    const large = await countStatements(PAGE, { first: 50 });
    expect(large.query).toBe(small.query);
  });
});
