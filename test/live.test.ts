import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type App, buildApp } from '../src/server.ts';
import { createTestDatabase, gql, type TestDatabase, testConfig } from './support/app.ts';
import { driveJob, EXPECTED_SEQUENCE, JOB_EVENTS } from './support/drive.ts';
import { createAgentFixture, createWorkspaceFixture, postJobFixture } from './support/factories.ts';
import { outboxDrained, PROBE_PREFIX, probeMessage, subscribe, WAIT_MS } from './support/ws.ts';

let db: TestDatabase;
let app: App;
let url: string;
beforeAll(async () => {
  db = await createTestDatabase();
  // The default connection_init timeout (10 s): a short one closes slow clients on a loaded
  // machine (4408) before they subscribe. The 4408 test runs its own app with a short one.
  app = await buildApp(testConfig({ OUTBOX_POLL_MS: 100 }), {
    database: db.database,
    migrate: false,
  });
  ({ url } = await app.start());
});
afterAll(async () => {
  await app.stop();
  await db.close();
});

/** Publishes marker events on a job's channel in this process (see `Subscription.ready`). */
const jobProbe = (jobId: string, agentId?: string) => (eventId: string) =>
  app.pubsub.publishAwait('job:event', jobId, probeMessage(eventId, { jobId, agentId }));

describe('jobEvents over graphql-ws', () => {
  it('delivers every event of a job, in order, with secrets redacted', async () => {
    const ws = await createWorkspaceFixture(db.database.prisma);
    const agent = await createAgentFixture(db.database.prisma, ws);
    const { jobGid, jobId } = await postJobFixture(db.database.prisma, ws);
    const sub = subscribe(url, ws.ownerKey, JOB_EVENTS, { id: jobGid });
    await sub.ready(jobProbe(jobId));
    await driveJob(app, ws.ownerKey, agent.key, jobGid);
    const events = await sub.waitFor((e) => e.some((x) => x.__typename === 'ResultSubmitted'));
    expect(events.map((e) => e.__typename)).toEqual(EXPECTED_SEQUENCE);
    expect(events.find((e) => e.__typename === 'ToolCallRecorded').toolCall.input).toEqual({
      q: 'pricing',
      apiKey: '[redacted]',
    });
    expect(new Set(events.map((e) => e.eventId)).size).toBe(events.length);
    await sub.dispose();
  });

  it('an event published twice (dispatcher crash before marking it sent) reaches each subscription once', async () => {
    const ws = await createWorkspaceFixture(db.database.prisma);
    const { jobGid, jobId } = await postJobFixture(db.database.prisma, ws);
    const sub = subscribe(url, ws.ownerKey, JOB_EVENTS, { id: jobGid });
    await sub.ready(jobProbe(jobId));
    // A redelivery carries the same position (seq); the next event a higher one. Positions far above
    // any real one, so the job's own JobPosted (delivered or not) cannot interfere.
    const message = {
      eventId: 'evt-duplicate-test',
      seq: '9000000000000001',
      type: 'JobStatusChanged',
      jobId,
      workspaceId: ws.workspaceId,
      agentId: null,
      at: new Date().toISOString(),
      data: { from: 'OPEN', to: 'OPEN', reason: 'redelivery test' },
    };
    await app.pubsub.publishAwait('job:event', jobId, message);
    await app.pubsub.publishAwait('job:event', jobId, message);
    await app.pubsub.publishAwait('job:event', jobId, { ...message, eventId: 'evt-next', seq: '9000000000000002' });
    await sub.waitFor((e) => e.some((x) => x.eventId === 'evt-next'));
    expect(sub.events.map((e) => e.eventId).filter((id) => id.startsWith('evt-'))).toEqual([
      'evt-duplicate-test',
      'evt-next',
    ]);
    await sub.dispose();
  });

  it('a bidder sees its own bid events but not another bidder’s, nor the execution', async () => {
    const ws = await createWorkspaceFixture(db.database.prisma);
    const a = await createAgentFixture(db.database.prisma, ws);
    const b = await createAgentFixture(db.database.prisma, ws);
    const { jobGid, jobId } = await postJobFixture(db.database.prisma, ws);
    const subB = subscribe(url, b.key, JOB_EVENTS, { id: jobGid });
    await subB.ready(jobProbe(jobId, b.agentId));
    await gql(
      app,
      `mutation($i: PlaceBidInput!) { placeBid(input: $i) { __typename } }`,
      { i: { jobId: jobGid, message: 'b', estimatedMinutes: 5, requestedCredits: 20 } },
      b.key,
    );
    await driveJob(app, ws.ownerKey, a.key, jobGid);
    await subB.waitFor((e) => e.filter((x) => x.__typename === 'JobStatusChanged').length >= 3);
    // Nothing more is coming: every event is published, and a marker sent after them arrived.
    await outboxDrained(db.database.prisma, jobId);
    await subB.ready(jobProbe(jobId, b.agentId));
    const types = subB.events.map((e) => e.__typename);
    expect(types.filter((t) => t === 'BidPlaced')).toHaveLength(1); // its own bid only
    expect(types).not.toContain('StepAdded');
    expect(types).not.toContain('ToolCallRecorded');
    expect(types).not.toContain('InputRequested');
    await subB.dispose();
  });

  it('a foreign workspace cannot subscribe to a PRIVATE job; an agent that loses access is cut off', async () => {
    const ws = await createWorkspaceFixture(db.database.prisma);
    const foreign = await createWorkspaceFixture(db.database.prisma);
    const { jobGid } = await postJobFixture(db.database.prisma, ws, { visibility: 'PRIVATE' });
    const denied = subscribe(url, foreign.ownerKey, JOB_EVENTS, { id: jobGid });
    await expect(denied.waitFor(() => false)).rejects.toThrow(/not found/i);
    await denied.dispose();

    const outsider = await createAgentFixture(db.database.prisma, foreign);
    const pub = await postJobFixture(db.database.prisma, ws, { visibility: 'PUBLIC' });
    const sub = subscribe(url, outsider.key, JOB_EVENTS, { id: pub.jobGid });
    await sub.ready(jobProbe(pub.jobId, outsider.agentId));
    await gql(
      app,
      `mutation($id: ID!, $i: UpdateJobInput!) { updateJob(id: $id, input: $i) { __typename } }`,
      { id: pub.jobGid, i: { visibility: 'PRIVATE' } },
      ws.ownerKey,
    );
    const events = await sub.waitFor((e) => e.some((x) => x.__typename === 'AccessRevoked'));
    expect(events.at(-1).__typename).toBe('AccessRevoked');
    await sub.dispose();
  });

  it('jobPosted never delivers a job the agent may not see, and filters by skills', async () => {
    const ws = await createWorkspaceFixture(db.database.prisma);
    const foreign = await createWorkspaceFixture(db.database.prisma);
    const agent = await createAgentFixture(db.database.prisma, foreign);
    const sub = subscribe(url, agent.key, `subscription { jobPosted(skills: ["Web Search"]) { id title visibility } }`);
    // Markers: one real PUBLIC job titled as a probe, announced again under fresh event ids.
    const marker = await postJobFixture(db.database.prisma, ws, { visibility: 'PUBLIC', title: `${PROBE_PREFIX}job` });
    const probeEvent = (eventId: string) =>
      app.pubsub.publishAwait('job:posted', null, {
        ...probeMessage(eventId, { jobId: marker.jobId, workspaceId: ws.workspaceId }),
        type: 'JobPosted',
        data: { visibility: 'PUBLIC', requiredSkills: marker.job.requiredSkills },
      });
    await sub.ready(probeEvent);
    await postJobFixture(db.database.prisma, ws, { visibility: 'PRIVATE', title: 'private one' });
    await postJobFixture(db.database.prisma, ws, { visibility: 'WORKSPACE', title: 'workspace one' });
    await postJobFixture(db.database.prisma, ws, {
      visibility: 'PUBLIC',
      title: 'excluded one',
      excludedAgents: [agent.agentGid],
    });
    await postJobFixture(db.database.prisma, ws, {
      visibility: 'PUBLIC',
      title: 'other skill',
      requiredSkills: ['legal'],
    });
    await postJobFixture(db.database.prisma, ws, {
      visibility: 'PRIVATE',
      title: 'invited one',
      preferredAgents: [agent.agentGid],
    });
    await postJobFixture(db.database.prisma, ws, { visibility: 'PUBLIC', title: 'public one' });
    await sub.waitFor((e) => e.some((x) => x.title === 'public one'));
    await outboxDrained(db.database.prisma);
    await sub.ready(probeEvent);
    expect(sub.events.map((e) => e.title).sort()).toEqual(['invited one', 'public one']);
    await sub.dispose();
  });

  it('also works over Server-Sent Events for clients without WebSockets', async () => {
    const ws = await createWorkspaceFixture(db.database.prisma);
    const { jobGid, jobId } = await postJobFixture(db.database.prisma, ws);
    const controller = new AbortController();
    const res = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        authorization: `Bearer ${ws.ownerKey}`,
      },
      body: JSON.stringify({
        query: `subscription($id: ID!) { jobEvents(jobId: $id) { __typename eventId } }`,
        variables: { id: jobGid },
      }),
      signal: controller.signal,
    });
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    const decoder = new TextDecoder();
    void (async () => {
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) return;
        text += decoder.decode(value, { stream: true });
      }
    })();
    const until = async (holds: () => boolean, timeoutMs: number) => {
      const started = Date.now();
      while (!holds() && Date.now() - started < timeoutMs) await new Promise((r) => setTimeout(r, 10));
      return holds();
    };
    // The stream delivers (a marker arrived) before the job changes: nothing can be missed.
    const started = Date.now();
    let probe = 0;
    while (!(await until(() => text.includes(PROBE_PREFIX), 100))) {
      expect(Date.now() - started, `SSE stream not delivering: ${text}`).toBeLessThan(WAIT_MS);
      await jobProbe(jobId)(`${PROBE_PREFIX}sse-${probe++}`);
    }
    await gql(app, `mutation($id: ID!) { cancelJob(id: $id) { __typename } }`, { id: jobGid }, ws.ownerKey);
    await until(() => text.includes('JobStatusChanged'), WAIT_MS);
    expect(text).toContain('"__typename":"JobStatusChanged"');
    controller.abort();
  });
});

describe('graphql-ws protocol', () => {
  const open = (base = url, protocol = 'graphql-transport-ws') =>
    new Promise<WebSocket>((resolve, reject) => {
      const socket = new WebSocket(`${base.replace('http', 'ws')}/graphql`, protocol);
      socket.once('open', () => resolve(socket));
      socket.once('error', reject);
    });
  const closeCode = (socket: WebSocket) =>
    new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
  const ack = (socket: WebSocket) =>
    new Promise<void>((resolve) =>
      socket.on('message', (m) => JSON.parse(String(m)).type === 'connection_ack' && resolve()),
    );

  it('no connection_init in time → 4408', async () => {
    // Its own app with a short timeout, so the other tests' clients are never cut off by it.
    const impatient = await buildApp(
      testConfig({ WS_INIT_TIMEOUT_MS: 300, OUTBOX_DISPATCHER: false, WEBHOOK_WORKER: false }),
      {
        database: db.database,
        migrate: false,
      },
    );
    try {
      const socket = await open((await impatient.start()).url);
      expect(await closeCode(socket)).toBe(4408);
    } finally {
      await impatient.stop();
    }
  });

  it('a second connection_init → 4429', async () => {
    const socket = await open();
    const acked = ack(socket);
    socket.send(JSON.stringify({ type: 'connection_init', payload: {} }));
    await acked;
    const closed = closeCode(socket);
    socket.send(JSON.stringify({ type: 'connection_init', payload: {} }));
    expect(await closed).toBe(4429);
  });

  it('subscribe before the ack → 4401', async () => {
    const socket = await open();
    const closed = closeCode(socket);
    socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: '{ __typename }' } }));
    expect(await closed).toBe(4401);
  });

  it('a duplicate subscription id → 4409', async () => {
    const ws = await createWorkspaceFixture(db.database.prisma);
    const { jobGid } = await postJobFixture(db.database.prisma, ws);
    const socket = await open();
    const acked = ack(socket);
    socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${ws.ownerKey}` } }));
    await acked;
    const closed = closeCode(socket);
    const msg = {
      id: 'same',
      type: 'subscribe',
      payload: { query: `subscription { jobEvents(jobId: "${jobGid}") { __typename } }` },
    };
    socket.send(JSON.stringify(msg));
    socket.send(JSON.stringify(msg));
    expect(await closed).toBe(4409);
  });

  it('a bad key → 4403', async () => {
    const socket = await open();
    const closed = closeCode(socket);
    socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: 'Bearer aw_live_bogus' } }));
    expect(await closed).toBe(4403);
  });
});
