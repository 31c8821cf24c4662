import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispatchOnce } from '../src/services/delivery/outbox.ts';
import { createTestApp, type TestApp } from './support/app.ts';
import { createAgentFixture, createWorkspaceFixture, postJobFixture } from './support/factories.ts';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

const rest = (path: string, init: { method?: string; key?: string | null; body?: unknown } = {}) => {
  const headers: Record<string, string> = {};
  if (init.key) headers.authorization = `Bearer ${init.key}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  return t.app.fetch(`http://test.local/api${path}`, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers,
    body: init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body),
  });
};

describe('REST mirror under /api', () => {
  it('serves an OpenAPI 3 document of the agent-facing routes', async () => {
    const res = await rest('/openapi.json');
    expect(res.status).toBe(200);
    const doc = (await res.json()) as any;
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.info.title).toBe('Agentwork REST API');
    expect(doc.servers).toEqual([{ url: '/api' }]);
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.components.schemas.Job).toBeTruthy();
    for (const [path, method] of [
      ['/agents/register', 'post'],
      ['/recommended-jobs', 'get'],
      ['/jobs', 'get'],
      ['/jobs/{id}', 'get'],
      ['/bids', 'post'],
      ['/jobs/{jobId}/start', 'post'],
      ['/executions/{executionId}/progress', 'post'],
      ['/executions/{executionId}/tool-calls', 'post'],
      ['/executions/{executionId}/input-requests', 'post'],
      ['/executions/{executionId}/result', 'post'],
      ['/wallet', 'get'],
      ['/offers', 'get'],
      ['/inbox', 'get'],
      ['/offers/{offerId}/accept', 'post'],
      ['/offers/{offerId}/decline', 'post'],
      ['/bids/{bidId}/accept-counter', 'post'],
      ['/messages', 'post'],
      ['/jobs/{jobId}/release', 'post'],
    ] as const) {
      expect(doc.paths[path]?.[method], `${method} ${path}`).toBeTruthy();
    }
    // Owner-side operations stay GraphQL-only; SOFA's webhook subscriptions are not offered.
    const all = JSON.stringify(Object.keys(doc.paths));
    expect(all).not.toMatch(/accept-bid|review-execution|grant-credits|webhook|offer-job|counter-bid|withdraw-offer/);
    expect((await rest('/webhook', { body: { subscription: 'x', url: 'http://169.254.169.254/' } })).status).toBe(404);
    // Every operation has a response schema and an id-like path parameter where the path has one.
    for (const [path, ops] of Object.entries<any>(doc.paths)) {
      for (const op of Object.values<any>(ops)) {
        expect(Object.keys(op.responses ?? {}).length, path).toBeGreaterThan(0);
        for (const name of path.match(/\{(\w+)\}/g) ?? []) {
          expect(
            op.parameters?.some((p: any) => p.in === 'path' && `{${p.name}}` === name),
            `${path} ${name}`,
          ).toBe(true);
        }
      }
    }
  });

  it('POST /api/agents/register takes the RFC shape with a member key', async () => {
    const ws = await createWorkspaceFixture(t.db.database.prisma);
    const res = await rest('/agents/register', {
      key: ws.ownerKey,
      body: {
        framework: 'eliza',
        name: 'ResearchBot',
        skills: ['Web Search', 'summarise'],
        webhookUrl: 'https://my-eliza.example.com/webhook',
      },
    });
    expect(res.status).toBe(201);
    const body = (await res.json()) as any;
    expect(body.apiKey).toMatch(/^aw_live_/);
    expect(body.agentId).toMatch(/^agt_/);
    expect(body.agent).toMatchObject({
      id: body.agentId,
      name: 'ResearchBot',
      framework: 'ELIZA',
      skills: ['web-research', 'summarization'],
      webhookUrl: 'https://my-eliza.example.com/webhook',
    });
    const stored = await t.db.database.prisma.agent.findUnique({ where: { id: body.agentId.slice(4) } });
    expect(stored?.workspaceId).toBe(ws.workspaceId);

    // The new key works against the mirror at once.
    const viewer = await rest('/viewer', { key: body.apiKey });
    expect(viewer.status).toBe(200);
    expect(await viewer.json()).toMatchObject({ id: body.agentId, name: 'ResearchBot' });
  });

  it('answers bad registrations with 400 and issues, bad keys with 401, agent keys with 403', async () => {
    const ws = await createWorkspaceFixture(t.db.database.prisma);
    const shape = await rest('/agents/register', { key: ws.ownerKey, body: { framework: 'skynet', skills: 'x' } });
    expect(shape.status).toBe(400);
    const shapeBody = (await shape.json()) as any;
    expect(shapeBody.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', type: 'ValidationError' });
    expect(shapeBody.errors[0].extensions.issues.map((i: any) => i.path.join('.')).sort()).toEqual([
      'framework',
      'name',
      'skills',
    ]);

    const rules = await rest('/agents/register', {
      key: ws.ownerKey,
      body: { name: 'Bot', framework: 'MASTRA', skills: ['ok', '!!!'], webhookUrl: 'ftp://example.com/hook' },
    });
    expect(rules.status).toBe(400);
    const rulesBody = (await rules.json()) as any;
    expect(rulesBody.errors[0].extensions.issues.map((i: any) => i.path.join('.')).sort()).toEqual([
      'skills.1',
      'webhookUrl',
    ]);

    const json = await rest('/agents/register', { key: ws.ownerKey, body: '{not json' });
    expect(json.status).toBe(400);

    expect((await rest('/agents/register', { key: 'aw_live_nope', body: { name: 'x' } })).status).toBe(401);
    const agent = await createAgentFixture(t.db.database.prisma, ws);
    const byAgent = await rest('/agents/register', { key: agent.key, body: { name: 'x' } });
    expect([401, 403]).toContain(byAgent.status);
    expect(await t.db.database.prisma.agent.count({ where: { name: 'Bot' } })).toBe(0);
  });

  it('mirrors agent-facing operations: recommended jobs, bid, typed errors as 4xx', async () => {
    const ws = await createWorkspaceFixture(t.db.database.prisma);
    const agent = await createAgentFixture(t.db.database.prisma, ws);
    const { jobGid } = await postJobFixture(t.db.database.prisma, ws, { title: 'Compare vector databases' });

    const recommended = await rest('/recommended-jobs?first=5', { key: agent.key });
    expect(recommended.status).toBe(200);
    const jobs = (await recommended.json()) as any[];
    expect(jobs.map((j) => j.id)).toContain(jobGid);
    expect(jobs[0]).toMatchObject({ title: 'Compare vector databases', status: 'OPEN', budget: 100 });

    const job = await rest(`/jobs/${jobGid}`, { key: agent.key });
    expect(job.status).toBe(200);
    expect(await job.json()).toMatchObject({ id: jobGid, requiredSkills: ['web-research'] });

    const bid = await rest('/bids', {
      key: agent.key,
      body: { input: { jobId: jobGid, message: 'via REST', estimatedMinutes: 10, requestedCredits: 60 } },
    });
    expect(bid.status).toBe(200);
    expect(await bid.json()).toMatchObject({ bid: { status: 'PENDING', requestedCredits: 60, skillMatch: 100 } });

    const invalid = await rest('/bids', {
      key: agent.key,
      body: { input: { jobId: jobGid, message: 'x', estimatedMinutes: 10, requestedCredits: 0 } },
    });
    expect(invalid.status).toBe(400);
    expect(await invalid.json()).toMatchObject({
      errors: [{ extensions: { type: 'ValidationError', issues: [{ path: ['input', 'requestedCredits'] }] } }],
    });

    const notAssigned = await rest(`/jobs/${jobGid}/start`, { key: agent.key, method: 'POST' });
    expect([403, 409]).toContain(notAssigned.status);

    expect((await rest('/jobs/job_missing', { key: agent.key })).status).toBe(404);
    expect((await rest('/wallet', { key: 'aw_live_nope' })).status).toBe(401);

    // GraphQL itself is untouched.
    const graphql = await t.gql('{ viewer { id } }', {}, agent.key);
    expect(graphql.data.viewer.id).toBe(agent.agentGid);
  });

  it('mirrors dealing for the agent: offers, messages, inbox, release, counter-offers', async () => {
    const poster = await createWorkspaceFixture(t.db.database.prisma);
    const developer = await createWorkspaceFixture(t.db.database.prisma, { credits: 0 });
    const agent = await createAgentFixture(t.db.database.prisma, developer);
    const { jobGid } = await postJobFixture(t.db.database.prisma, poster, { visibility: 'PUBLIC', budget: 90 });
    const asPoster = async (query: string, variables: Record<string, unknown>) =>
      Object.values((await t.gql(query, variables, poster.ownerKey)).data as Record<string, any>)[0];
    const offer = async (jobId: string, credits: number) =>
      (
        await asPoster(
          `mutation($i: OfferJobInput!) { offerJob(input: $i) { ... on OfferJobPayload { offer { id } } } }`,
          {
            i: { jobId, agentId: agent.agentGid, credits },
          },
        )
      ).offer.id as string;

    const offerId = await offer(jobGid, 75);
    const listed = await rest('/offers?status=PENDING', { key: agent.key });
    expect(listed.status).toBe(200);
    expect(((await listed.json()) as any).edges.map((e: any) => e.node)).toEqual([
      expect.objectContaining({ id: offerId, status: 'PENDING', credits: 75 }),
    ]);

    const accepted = await rest(`/offers/${offerId}/accept`, { key: agent.key, method: 'POST' });
    expect(accepted.status).toBe(200);
    expect(await accepted.json()).toMatchObject({
      offer: { id: offerId, status: 'ACCEPTED' },
      job: { id: jobGid, status: 'ASSIGNED', agreedCredits: 75 },
    });
    const twice = await rest(`/offers/${offerId}/accept`, { key: agent.key, method: 'POST' });
    expect(twice.status).toBe(409);
    expect(await twice.json()).toMatchObject({ errors: [{ extensions: { type: 'InvalidStateError' } }] });
    // The poster's key cannot answer an offer (agent-only, as in GraphQL).
    expect((await rest(`/offers/${offerId}/decline`, { key: poster.ownerKey, body: {} })).status).toBe(403);

    const message = await rest('/messages', { key: agent.key, body: { jobId: jobGid, body: 'Starting now.' } });
    expect(message.status).toBe(200);
    expect(await message.json()).toMatchObject({ message: { body: 'Starting now.', authorKind: 'AGENT' } });
    const tooLong = await rest('/messages', { key: agent.key, body: { jobId: jobGid, body: 'x'.repeat(100_000) } });
    expect(tooLong.status).toBe(400);
    expect(await tooLong.json()).toMatchObject({ errors: [{ extensions: { type: 'ValidationError' } }] });
    expect(await t.db.database.prisma.message.count({ where: { agentId: agent.agentId } })).toBe(1);

    const released = await rest(`/jobs/${jobGid}/release`, { key: agent.key, body: { reason: 'Ill' } });
    expect(released.status).toBe(200);
    expect(await released.json()).toMatchObject({ job: { id: jobGid, status: 'OPEN' } });

    const second = await postJobFixture(t.db.database.prisma, poster, { visibility: 'PUBLIC', budget: 50 });
    const declined = await rest(`/offers/${await offer(second.jobGid, 20)}/decline`, {
      key: agent.key,
      body: { reason: 'Too little' },
    });
    expect(await declined.json()).toMatchObject({ offer: { status: 'DECLINED', reason: 'Too little' } });
    const bid = (await (
      await rest('/bids', {
        key: agent.key,
        body: { jobId: second.jobGid, message: 'For 45', estimatedMinutes: 10, requestedCredits: 45 },
      })
    ).json()) as any;
    const countered = await asPoster(`mutation($i: CounterBidInput!) { counterBid(input: $i) { __typename } }`, {
      i: { bidId: bid.bid.id, requestedCredits: 40, estimatedMinutes: 15 },
    });
    expect(countered.__typename).toBe('CounterBidPayload');
    const counter = await rest(`/bids/${bid.bid.id}/accept-counter`, {
      key: agent.key,
      body: { idempotencyKey: 'c1' },
    });
    expect(counter.status).toBe(200);
    expect(await counter.json()).toMatchObject({ job: { id: second.jobGid, status: 'ASSIGNED', agreedCredits: 40 } });

    // This app is not started (no dispatcher): place the events as the dispatcher would.
    while ((await dispatchOnce(t.app.db, t.app.pubsub)) > 0) {}
    const inbox = await rest('/inbox?first=100', { key: agent.key });
    expect(inbox.status).toBe(200);
    const types = ((await inbox.json()) as any[]).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['OfferMade', 'BidCountered']));
  });
});
