import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentworkClient, AgentworkError, type JobEvent, ofType, verifyWebhook } from '../src/sdk/index.ts';
import { type App, buildApp } from '../src/server.ts';
import { createTestDatabase, gql, type TestDatabase, testConfig } from './support/app.ts';
import { createWorkspaceFixture, postJobFixture } from './support/factories.ts';
import { outboxDrained, settle } from './support/ws.ts';

let db: TestDatabase;
let app: App;
let url: string;
const clients: AgentworkClient[] = [];
const client = (apiKey?: string) => {
  const c = new AgentworkClient({ url, apiKey, retryAttempts: 0 });
  clients.push(c);
  return c;
};

beforeAll(async () => {
  db = await createTestDatabase();
  app = await buildApp(testConfig({ OUTBOX_POLL_MS: 100 }), { database: db.database, migrate: false });
  ({ url } = await app.start());
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await app.stop();
  await db.close();
});

async function registeredAgent(ownerKey: string) {
  const registered = await client(ownerKey).registerAgent({
    name: `SDK agent ${randomBytes(3).toString('hex')}`,
    framework: 'custom',
    skills: ['Web Search', 'summarise'],
    creditRate: 30,
  });
  return { ...registered, sdk: client(registered.apiKey) };
}

describe('Agent SDK', () => {
  it('drives a job end to end and receives agentEvents', async () => {
    // The agent's developer and the posting team are different workspaces (a self-review carries no rating).
    const ws = await createWorkspaceFixture(db.database.prisma);
    const developer = await createWorkspaceFixture(db.database.prisma, { credits: 0 });
    const { agent, sdk } = await registeredAgent(developer.ownerKey);
    expect(agent.framework).toBe('CUSTOM');
    expect(agent.skills).toEqual(['web-research', 'summarization']);
    expect((await sdk.goOnline()).status).toBe('ONLINE');
    const viewer = await sdk.viewer();
    expect(viewer?.__typename).toBe('Agent');

    const events = sdk.agentEvents();
    await settle(300);
    const { jobGid } = await postJobFixture(db.database.prisma, ws, { budget: 80, visibility: 'PUBLIC' });

    const recommended = await sdk.recommendedJobs();
    expect(recommended.map((j) => j.id)).toContain(jobGid);
    const bid = await sdk.placeBid({ jobId: jobGid, message: 'SDK bid', estimatedMinutes: 5, requestedCredits: 40 });
    expect(bid.status).toBe('PENDING');

    const accepted = await gql(
      app,
      `mutation($id: ID!) { acceptBid(bidId: $id) { __typename } }`,
      { id: bid.id },
      ws.ownerKey,
    );
    expect(accepted.data.acceptBid.__typename).toBe('AcceptBidPayload');
    const assigned = await events.first((e) => e.__typename === 'AgentAssigned', 10_000);
    expect(assigned.jobId).toBe(jobGid);

    const execution = await sdk.startExecution(jobGid);
    expect(execution.job.status).toBe('IN_PROGRESS');
    await sdk.reportStep(execution.id, { kind: 'plan', message: 'Planning' }, 20);
    await sdk.recordToolCall(execution.id, { tool: 'web_search', server: 'brave', input: { q: 'x' }, durationMs: 12 });
    const words = await sdk.withToolCall(execution.id, { tool: 'count_words', input: { text: 'a b c' } }, () => 3);
    expect(words).toBe(3);
    await sdk.reportProgress(execution.id, 90);
    const submitted = await sdk.submitResult(execution.id, { summary: 'done' }, [
      { name: 'report.md', mimeType: 'text/markdown', content: '# Report' },
    ]);
    expect(submitted.job.status).toBe('REVIEW');

    const detail = await sdk.job(jobGid);
    expect(detail.execution?.steps.map((s) => s.message)).toEqual(['Planning']);
    expect(detail.execution?.toolCalls.map((t) => t.tool)).toEqual(['web_search', 'count_words']);
    expect(detail.execution?.artifacts[0]?.name).toBe('report.md');

    const reviewed = await gql(
      app,
      `mutation($e: ID!) { reviewExecution(executionId: $e, decision: ACCEPT, rating: 5) { __typename } }`,
      { e: execution.id },
      ws.ownerKey,
    );
    expect(reviewed.data.reviewExecution.__typename).toBe('ReviewExecutionPayload');
    const review = await events.first((e) => e.__typename === 'ExecutionReviewed', 10_000);
    expect(review).toMatchObject({ decision: 'ACCEPT', rating: 5 });
    const paid = await events.first((e) => e.__typename === 'AgentPaid', 10_000);
    expect(paid).toMatchObject({ credits: 38, fee: 2 });
    expect((await sdk.wallet()).balance).toBe(38);
    events.close();
    const seen: JobEvent[] = [];
    await events.forEach((e) => void seen.push(e)); // closed: ends at once
    expect(seen).toEqual([]);
  });

  it('deals between strangers: an offer, messages, a release and a counter-offer round trip', async () => {
    const ws = await createWorkspaceFixture(db.database.prisma);
    const developer = await createWorkspaceFixture(db.database.prisma, { credits: 0 });
    const { agent, sdk } = await registeredAgent(developer.ownerKey);
    await sdk.goOnline();
    const owner = client(ws.ownerKey);
    // From position 0: every event of this new agent, so none can slip past before the subscription is live.
    const events = sdk.agentEvents('0');

    const job = await owner.postJob({ title: 'Translate a page', description: 'FR → EN', budget: 60 });
    const offer = await owner.offerJob({ jobId: job.id, agentId: agent.id, credits: 50, message: 'Yours?' });
    expect(offer).toMatchObject({ status: 'PENDING', credits: 50, agent: { id: agent.id } });
    const made = await events.first(ofType('OfferMade'), 10_000);
    expect(made).toMatchObject({ offerId: offer.id, credits: 50, jobId: job.id });
    expect((await sdk.offers(['PENDING'])).edges.map((e) => e.node.id)).toEqual([offer.id]);

    const accepted = await sdk.acceptOffer(offer.id);
    expect(accepted.offer.status).toBe('ACCEPTED');
    expect(accepted.job).toMatchObject({ id: job.id, status: 'ASSIGNED', agreedCredits: 50 });
    expect(accepted.job.startBy).toBeTruthy();
    expect((await sdk.offers(['PENDING'])).edges).toEqual([]);
    expect((await sdk.acceptOffer(offer.id).catch((e) => e)).type).toBe('InvalidStateError');

    const sent = await sdk.sendMessage({ jobId: job.id, body: 'Starting within the hour.' });
    expect(sent).toMatchObject({ authorKind: 'AGENT', body: 'Starting within the hour.', agent: { id: agent.id } });
    await owner.sendMessage({ jobId: job.id, agentId: agent.id, body: 'Thanks!' });
    const reply = await events.first((e) => e.__typename === 'MessagePosted' && e.authorKind === 'MEMBER', 10_000);
    expect(reply).toMatchObject({ body: 'Thanks!', jobId: job.id });
    const thread = await owner.messages(job.id, { agentId: agent.id });
    expect(thread.edges.map((e) => e.node.body)).toEqual(['Starting within the hour.', 'Thanks!']);
    expect((await sdk.messages(job.id)).totalCount).toBe(2);
    const empty = await sdk.sendMessage({ jobId: job.id, body: '' }).catch((e) => e);
    expect(empty).toMatchObject({ type: 'ValidationError' });

    const released = await sdk.releaseJob(job.id, 'Double-booked, sorry');
    expect(released.status).toBe('OPEN');
    expect((await owner.wallet()).held).toBe(0);

    // Counter-offer round trip on another job.
    const second = await owner.postJob({
      title: 'Summarise a report',
      description: '40 pages',
      budget: 80,
      visibility: 'PUBLIC',
    });
    const bid = await sdk.placeBid({ jobId: second.id, message: 'Can do', estimatedMinutes: 30, requestedCredits: 70 });
    const countered = await owner.counterBid({
      bidId: bid.id,
      requestedCredits: 55,
      estimatedMinutes: 45,
      message: 'Tighter budget',
    });
    expect(countered).toMatchObject({ status: 'COUNTERED', counter: { requestedCredits: 55, estimatedMinutes: 45 } });
    const counterEvent = await events.first(ofType('BidCountered'), 10_000);
    expect(counterEvent).toMatchObject({ bidId: bid.id, counterCredits: 55, counterMinutes: 45 });
    const [mine] = await sdk.bids(second.id);
    expect(mine?.counter?.message).toBe('Tighter budget');
    expect(mine?.history.map((h) => [h.proposedBy, h.requestedCredits])).toEqual([
      ['AGENT', 70],
      ['POSTER', 55],
    ]);
    const assigned = await sdk.acceptCounter(bid.id, 'counter-1');
    expect(assigned).toMatchObject({ id: second.id, status: 'ASSIGNED', agreedCredits: 55 });
    expect(await sdk.acceptCounter(bid.id, 'counter-1')).toMatchObject({ id: second.id, agreedCredits: 55 });
    expect((await owner.wallet()).held).toBe(55);

    // The same events, polled (what the MCP server's check_inbox reads), once the dispatcher has placed them all.
    await outboxDrained(db.database.prisma);
    const inbox = await sdk.inbox();
    const types = inbox.map((e) => e.__typename);
    expect(types).toEqual(expect.arrayContaining(['OfferMade', 'MessagePosted', 'BidCountered']));
    expect(types.indexOf('OfferMade')).toBeLessThan(types.indexOf('BidCountered'));
    const last = inbox.at(-1)!.seq;
    expect(await sdk.inbox(last)).toEqual([]);
    expect(await sdk.inbox(undefined, 0).catch((e) => e)).toMatchObject({ type: 'BAD_USER_INPUT' });
    events.close();
  });

  it('delivers jobPosted to the agent', async () => {
    const ws = await createWorkspaceFixture(db.database.prisma);
    const { sdk } = await registeredAgent(ws.ownerKey);
    const posted = sdk.jobPosted(['web research']);
    await settle(300);
    const owner = client(ws.ownerKey);
    const job = await owner.postJob({
      title: 'Summarise a page',
      description: 'text',
      budget: 10,
      requiredSkills: ['web-research'],
    });
    const seen = await posted.first((j) => j.id === job.id, 10_000);
    expect(seen.title).toBe('Summarise a page');
    posted.close();
  });

  it('turns error members of result unions into a typed AgentworkError', async () => {
    const ws = await createWorkspaceFixture(db.database.prisma);
    const { sdk } = await registeredAgent(ws.ownerKey);
    const { jobGid } = await postJobFixture(db.database.prisma, ws);

    const invalid = await sdk
      .placeBid({ jobId: jobGid, message: '', estimatedMinutes: 5, requestedCredits: 0 })
      .catch((e) => e);
    expect(invalid).toBeInstanceOf(AgentworkError);
    expect(invalid.type).toBe('ValidationError');
    expect(invalid.issues.map((i: { path: string[] }) => i.path.join('.'))).toContain('input.requestedCredits');

    const missing = await sdk
      .placeBid({ jobId: 'job_doesnotexist', message: 'x', estimatedMinutes: 5, requestedCredits: 5 })
      .catch((e) => e);
    expect(missing).toMatchObject({ type: 'NotFoundError' });

    const notAssigned = await sdk.startExecution(jobGid).catch((e) => e);
    expect(notAssigned).toBeInstanceOf(AgentworkError);
    expect(['ForbiddenError', 'InvalidStateError']).toContain(notAssigned.type);

    const unauthenticated = await client('aw_live_notakey')
      .recommendedJobs()
      .catch((e) => e);
    expect(unauthenticated).toMatchObject({ type: 'UNAUTHENTICATED', status: 401 });

    const stream = client('aw_live_notakey').agentEvents();
    await expect(stream.next()).rejects.toMatchObject({ type: 'UNAUTHENTICATED' });
  });

  it('verifies Standard Webhooks signatures and rejects tampering', () => {
    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    const body = JSON.stringify({
      type: 'agent.assigned',
      timestamp: new Date().toISOString(),
      data: { jobId: 'job_1' },
    });
    const id = 'msg_123';
    const now = new Date();
    const signature = new Webhook(secret).sign(id, now, body);
    const headers = {
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': signature,
    };

    const event = verifyWebhook(secret, body, headers);
    expect(event).toMatchObject({ type: 'agent.assigned', data: { jobId: 'job_1' } });
    expect(verifyWebhook(secret, Buffer.from(body), new Headers(headers)).type).toBe('agent.assigned');
    // During a rotation either secret may have signed.
    const other = `whsec_${randomBytes(24).toString('base64')}`;
    expect(verifyWebhook([other, secret], body, headers).type).toBe('agent.assigned');

    const tampered = body.replace('job_1', 'job_2');
    expect(() => verifyWebhook(secret, tampered, headers)).toThrow(AgentworkError);
    expect(() => verifyWebhook(other, body, headers)).toThrow(/signature/i);
    const old = new Date(now.getTime() - 10 * 60_000);
    const stale = {
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(old.getTime() / 1000)),
      'webhook-signature': new Webhook(secret).sign(id, old, body),
    };
    expect(() => verifyWebhook(secret, body, stale)).toThrow(/timestamp/i);
    try {
      verifyWebhook(secret, body, { 'webhook-id': id });
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({ type: 'WebhookVerificationError' });
    }
  });
});
