import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createTcpServer } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { fetch as undiciFetch } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { dispatchOnce } from '../src/services/delivery/outbox.ts';
import {
  createGuardedAgent,
  EMPTY_ALLOW_LIST,
  parseAllowList,
  type Resolver,
  refusalReason,
  resolveAllowed,
  rootCause,
  SsrfError,
} from '../src/services/delivery/ssrf.ts';
import { createWebhookEndpoint } from '../src/services/delivery/webhooks/endpoints.ts';
import { signatureHeaders } from '../src/services/delivery/webhooks/signing.ts';
import {
  createWebhookWorker,
  MAX_ATTEMPTS,
  nextDelay,
  parseRetryAfter,
  RETRY_SCHEDULE_MS,
  type WebhookWorker,
} from '../src/services/delivery/webhooks/worker.ts';
import { createTestApp, createTestDatabase, type TestApp } from './support/app.ts';
import { driveJob, EXPECTED_SEQUENCE } from './support/drive.ts';
import {
  createAgentFixture,
  createMemberFixture,
  createWorkspaceFixture,
  ownerViewer,
  postJobFixture,
  type WorkspaceFixture,
} from './support/factories.ts';

/**
 * Outbound webhooks on loopback: receivers are node:http servers on 127.0.0.1 that verify our
 * signatures with the Standard Webhooks reference library (`standardwebhooks`). The app and the
 * delivering worker allow 127.0.0.1 (WEBHOOK_ALLOW_HOSTS), except in the SSRF tests, which run
 * with no allow-list and count connections on a canary server.
 */
const ALLOW = '127.0.0.1';
let t: TestApp;
let worker: WebhookWorker;
beforeAll(async () => {
  t = await createTestApp({ config: { WEBHOOK_ALLOW_HOSTS: ALLOW } });
  worker = createWebhookWorker(t.app.db, t.app.log, { allowHosts: parseAllowList(ALLOW) });
});
afterAll(async () => {
  await worker.stop();
  await t.close();
});
// Every test starts with nothing due, so a round only sends what the test itself queued.
afterEach(async () => {
  await db().webhookDelivery.updateMany({ where: { status: 'PENDING' }, data: { status: 'FAILED' } });
});
const db = () => t.app.db.prisma;

// ───────────── helpers ─────────────

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}
type Answer = { status: number; headers?: Record<string, string>; body?: string } | 'hang';

interface Receiver {
  url: string;
  port: number;
  requests: Received[];
  close(): Promise<void>;
}

/** A local webhook receiver; `answer` decides each response (by request index). */
async function startReceiver(answer: (req: Received, index: number) => Answer = () => ({ status: 200 })) {
  const requests: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      const received = { headers: req.headers, body };
      requests.push(received);
      const a = answer(received, requests.length - 1);
      if (a === 'hang') return;
      res.writeHead(a.status, a.headers);
      res.end(a.body ?? '');
    });
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}/hook`,
    port,
    requests,
    close: () => closeServer(server),
  } satisfies Receiver;
}

function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** The receiver's check, with the reference library: throws on a bad signature or timestamp. */
function verify(secret: string, req: Pick<Received, 'headers' | 'body'>) {
  return new Webhook(secret).verify(req.body, {
    'webhook-id': String(req.headers['webhook-id']),
    'webhook-timestamp': String(req.headers['webhook-timestamp']),
    'webhook-signature': String(req.headers['webhook-signature']),
  }) as { type: string; timestamp: string; data: Record<string, any> };
}

async function waitFor(condition: () => boolean, ms = 5_000) {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Runs the outbox dispatcher until nothing is pending (this is where deliveries are queued). */
async function dispatch() {
  while ((await dispatchOnce(t.app.db, t.app.pubsub)) > 0) {}
}

const CREATE = `mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) { __typename
  ... on CreateWebhookEndpointPayload { secret endpoint { id url eventTypes enabled } }
  ... on ValidationError { issues { path message } } ... on Error { message } } }`;

async function createEndpoint(ws: WorkspaceFixture, url: string, eventTypes?: string[]) {
  const res = await t.gql(CREATE, { i: { url, eventTypes } }, ws.ownerKey);
  expect(res.data.createWebhookEndpoint.__typename).toBe('CreateWebhookEndpointPayload');
  const { secret, endpoint } = res.data.createWebhookEndpoint;
  return { secret: secret as string, endpointGid: endpoint.id as string, endpointId: endpoint.id.slice(4) as string };
}

const deliveriesOf = (endpointId: string) =>
  db().webhookDelivery.findMany({
    where: { endpointId },
    include: { attempts: { orderBy: { attemptedAt: 'asc' } } },
    // Deliveries enqueued in one batch share createdAt: the id breaks the tie, so two reads agree on the order.
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
  });

const DELIVERIES = `query($e: ID, $s: WebhookDeliveryStatus) { webhookDeliveries(endpointId: $e, status: $s, first: 50) {
  edges { node { id webhookId eventType status attemptCount nextAttemptAt payload
    attempts { attemptedAt statusCode responseBody error durationMs } } } } }`;

// ───────────── signatures ─────────────

describe('signed per Standard Webhooks', () => {
  it('a receiver verifies our signature with the reference library; tampering, a wrong secret and a stale timestamp are rejected there', async () => {
    let secret = '';
    const verdicts: string[] = [];
    const receiver = await startReceiver((req) => {
      try {
        verify(secret, req);
        verdicts.push('ok');
        return { status: 200, body: 'thanks' };
      } catch (error) {
        verdicts.push((error as Error).message);
        return { status: 401 };
      }
    });
    try {
      const ws = await createWorkspaceFixture(db());
      const created = await createEndpoint(ws, receiver.url, ['JobPosted']);
      secret = created.secret;
      expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
      const { jobGid } = await postJobFixture(db(), ws, { visibility: 'PUBLIC' });
      await dispatch();
      expect(await worker.runOnce()).toBeGreaterThanOrEqual(1);

      expect(verdicts).toEqual(['ok']);
      const [req] = receiver.requests;
      expect(req!.headers['content-type']).toBe('application/json');
      expect(req!.headers['webhook-id']).toMatch(/^msg_/);
      expect(Math.abs(Number(req!.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
      expect(String(req!.headers['webhook-signature'])).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
      const body = verify(secret, req!);
      expect(body).toMatchObject({
        type: 'JobPosted',
        data: { jobId: jobGid, workspaceId: ws.workspaceGid, visibility: 'PUBLIC' },
      });
      expect(new Date(body.timestamp).getTime()).not.toBeNaN();
      expect(typeof body.data.eventId).toBe('string');

      // What the reference library rejects:
      expect(() => verify(secret, { ...req!, body: req!.body.replace('PUBLIC', 'PRIVATE') })).toThrow(/signature/i);
      const otherSecret = (await createEndpoint(ws, receiver.url, ['JobPosted'])).secret;
      expect(() => verify(otherSecret, req!)).toThrow(/signature/i);
      const id = String(req!.headers['webhook-id']);
      const now = Math.floor(Date.now() / 1000);
      const at = (ts: number) => ({ headers: signatureHeaders([secret], id, ts, req!.body), body: req!.body });
      expect(() => verify(secret, at(now - 301))).toThrow(/too old/);
      expect(() => verify(secret, at(now + 301))).toThrow(/too new/);
      expect(() => verify(secret, at(now - 290))).not.toThrow();

      // The query shows the attempt and the receiver's answer.
      const listed = await t.gql(DELIVERIES, { e: created.endpointGid }, ws.ownerKey);
      expect(listed.errors).toBeUndefined();
      const [edge] = listed.data.webhookDeliveries.edges;
      expect(edge.node).toMatchObject({
        webhookId: id,
        eventType: 'JobPosted',
        status: 'SUCCEEDED',
        attemptCount: 1,
        nextAttemptAt: null,
        payload: { type: 'JobPosted' },
      });
      expect(edge.node.attempts).toEqual([
        expect.objectContaining({ statusCode: 200, responseBody: 'thanks', error: null }),
      ]);
    } finally {
      await receiver.close();
    }
  });

  it('the secret is never readable: WebhookEndpoint has no secret field', async () => {
    const res = await t.gql(`{ __type(name: "WebhookEndpoint") { fields { name } } }`);
    const names = res.data.__type.fields.map((f: { name: string }) => f.name);
    expect(names).toContain('url');
    expect(names.filter((n: string) => /secret/i.test(n))).toEqual(['previousSecretExpiresAt']);
  });

  it('rotation: for 24 hours messages carry two signatures, and each secret verifies on its own', async () => {
    const receiver = await startReceiver();
    try {
      const ws = await createWorkspaceFixture(db());
      const { secret: oldSecret, endpointGid, endpointId } = await createEndpoint(ws, receiver.url, ['JobPosted']);
      const rotated = await t.gql(
        `mutation($id: ID!) { rotateWebhookSecret(id: $id) { __typename ... on RotateWebhookSecretPayload { secret endpoint { previousSecretExpiresAt } } } }`,
        { id: endpointGid },
        ws.ownerKey,
      );
      const newSecret = rotated.data.rotateWebhookSecret.secret as string;
      expect(newSecret).not.toBe(oldSecret);
      const expires = new Date(rotated.data.rotateWebhookSecret.endpoint.previousSecretExpiresAt).getTime();
      expect(Math.abs(expires - Date.now() - 24 * 3_600_000)).toBeLessThan(60_000);

      await postJobFixture(db(), ws);
      await dispatch();
      await worker.runOnce();
      const first = receiver.requests[0]!;
      expect(String(first.headers['webhook-signature']).split(' ')).toHaveLength(2);
      verify(newSecret, first);
      verify(oldSecret, first);

      // 25 hours later only the new secret signs.
      await postJobFixture(db(), ws);
      await dispatch();
      const later = new Date(Date.now() + 25 * 3_600_000);
      await worker.runOnce(later);
      const second = receiver.requests[1]!;
      expect(String(second.headers['webhook-signature']).split(' ')).toHaveLength(1);
      verify(newSecret, second);
      expect(() => verify(oldSecret, second)).toThrow(/signature/i);
      expect((await deliveriesOf(endpointId)).map((d) => d.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    } finally {
      await receiver.close();
    }
  });
});

// ───────────── retries ─────────────

describe('delivery and retries', () => {
  it('a receiver answering 500, 500, 500 then 200 gets 4 attempts with one webhook-id, on the schedule', async () => {
    let secret = '';
    const receiver = await startReceiver((req, i) => {
      verify(secret, req); // every attempt is freshly and validly signed
      return i < 3 ? { status: 500, body: `boom ${i + 1}` } : { status: 204 };
    });
    try {
      const ws = await createWorkspaceFixture(db());
      const created = await createEndpoint(ws, receiver.url, ['JobPosted']);
      secret = created.secret;
      await postJobFixture(db(), ws);
      await dispatch();

      const t0 = new Date();
      expect(await worker.runOnce(t0)).toBe(1);
      let [d] = await deliveriesOf(created.endpointId);
      expect(d).toMatchObject({ status: 'PENDING', attemptCount: 1 });
      // Retry 1 after 5 s ± 20%.
      const gap1 = d!.nextAttemptAt.getTime() - t0.getTime();
      expect(gap1).toBeGreaterThanOrEqual(4_000);
      expect(gap1).toBeLessThanOrEqual(6_000);
      // Not due yet: nothing is sent.
      expect(await worker.runOnce(new Date(t0.getTime() + 3_000))).toBe(0);

      const t1 = d!.nextAttemptAt;
      expect(await worker.runOnce(t1)).toBe(1);
      [d] = await deliveriesOf(created.endpointId);
      const gap2 = d!.nextAttemptAt.getTime() - t1.getTime();
      expect(gap2).toBeGreaterThanOrEqual(0.8 * 5 * 60_000);
      expect(gap2).toBeLessThanOrEqual(1.2 * 5 * 60_000);

      const t2 = d!.nextAttemptAt;
      expect(await worker.runOnce(t2)).toBe(1);
      [d] = await deliveriesOf(created.endpointId);
      const gap3 = d!.nextAttemptAt.getTime() - t2.getTime();
      expect(gap3).toBeGreaterThanOrEqual(0.8 * 30 * 60_000);
      expect(gap3).toBeLessThanOrEqual(1.2 * 30 * 60_000);

      expect(await worker.runOnce(d!.nextAttemptAt)).toBe(1);
      [d] = await deliveriesOf(created.endpointId);
      expect(d).toMatchObject({ status: 'SUCCEEDED', attemptCount: 4 });
      expect(d!.attempts.map((a) => a.statusCode)).toEqual([500, 500, 500, 204]);
      expect(d!.attempts.map((a) => a.responseBody)).toEqual(['boom 1', 'boom 2', 'boom 3', null]); // 204: no body

      expect(receiver.requests).toHaveLength(4);
      const ids = new Set(receiver.requests.map((r) => r.headers['webhook-id']));
      expect(ids).toEqual(new Set([`msg_${d!.id}`]));
      // Nothing more to send.
      expect(await worker.runOnce(new Date(Date.now() + 10 * 24 * 3_600_000))).toBe(0);
    } finally {
      await receiver.close();
    }
  });

  it('a receiver that keeps failing gets 10 attempts over about 3 days, then the delivery is FAILED', async () => {
    const receiver = await startReceiver(() => ({ status: 500 }));
    try {
      const ws = await createWorkspaceFixture(db());
      const { endpointId } = await createEndpoint(ws, receiver.url, ['JobPosted']);
      await postJobFixture(db(), ws);
      await dispatch();
      let now = new Date();
      for (let i = 0; i < MAX_ATTEMPTS + 2; i++) {
        await worker.runOnce(now);
        const [d] = await deliveriesOf(endpointId);
        if (d!.status !== 'PENDING') break;
        now = d!.nextAttemptAt;
      }
      const [d] = await deliveriesOf(endpointId);
      expect(d).toMatchObject({ status: 'FAILED', attemptCount: 10 });
      const times = d!.attempts.map((a) => a.attemptedAt.getTime());
      times.slice(1).forEach((time, i) => {
        const gap = time - times[i]!;
        expect(gap).toBeGreaterThanOrEqual(0.8 * RETRY_SCHEDULE_MS[i]!);
        expect(gap).toBeLessThanOrEqual(1.2 * RETRY_SCHEDULE_MS[i]!);
      });
      const totalHours = (times.at(-1)! - times[0]!) / 3_600_000;
      expect(totalHours).toBeGreaterThan(0.8 * 71.6);
      expect(totalHours).toBeLessThan(1.2 * 71.6);
      expect(receiver.requests).toHaveLength(10);
    } finally {
      await receiver.close();
    }
  });

  it('Retry-After is honoured (seconds or an HTTP date), never sooner than the schedule', async () => {
    const receiver = await startReceiver(() => ({ status: 429, headers: { 'retry-after': '7200' } }));
    try {
      const ws = await createWorkspaceFixture(db());
      const { endpointId } = await createEndpoint(ws, receiver.url, ['JobPosted']);
      await postJobFixture(db(), ws);
      await dispatch();
      const t0 = new Date();
      await worker.runOnce(t0);
      const [d] = await deliveriesOf(endpointId);
      expect(d!.nextAttemptAt.getTime() - t0.getTime()).toBe(7_200_000);
    } finally {
      await receiver.close();
    }
    const now = new Date('2030-01-01T00:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Tue, 01 Jan 2030 01:00:00 GMT', now)).toBe(3_600_000);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(nextDelay(1, 1_000, () => 0.5)).toBe(5_000); // a shorter Retry-After does not hurry the schedule
    expect(nextDelay(1, 10 * 24 * 3_600_000, () => 0.5)).toBe(24 * 3_600_000); // capped
    expect(nextDelay(MAX_ATTEMPTS, null)).toBeNull();
  });

  it('410 Gone disables the endpoint: its pending deliveries stop and new events are not queued', async () => {
    const receiver = await startReceiver(() => ({ status: 410, body: 'gone' }));
    try {
      const ws = await createWorkspaceFixture(db());
      const { endpointId, endpointGid } = await createEndpoint(ws, receiver.url, ['JobPosted']);
      await postJobFixture(db(), ws);
      await postJobFixture(db(), ws);
      await dispatch();
      // Send one of the two: the 410 disables the endpoint and the other delivery with it.
      const [first] = await deliveriesOf(endpointId);
      await db().webhookDelivery.updateMany({
        where: { endpointId, id: { not: first!.id } },
        data: { nextAttemptAt: new Date(Date.now() + 60_000) },
      });
      await worker.runOnce();
      const after = await deliveriesOf(endpointId);
      expect(after.map((d) => d.status)).toEqual(['DISABLED', 'DISABLED']);
      expect(after[0]!.attempts.map((a) => a.statusCode)).toEqual([410]);
      expect(after[1]!.attempts).toEqual([]);
      const endpoint = await t.gql(
        `query($id: ID!) { node(id: $id) { ... on WebhookEndpoint { enabled disabledAt disabledReason } } }`,
        { id: endpointGid },
        ws.ownerKey,
      );
      expect(endpoint.data.node).toMatchObject({ enabled: false, disabledReason: expect.stringMatching(/410/) });

      await postJobFixture(db(), ws);
      await dispatch();
      expect(await deliveriesOf(endpointId)).toHaveLength(2);
      await worker.runOnce(new Date(Date.now() + 3_600_000));
      expect(receiver.requests).toHaveLength(1);

      // Redelivery needs the endpoint enabled again.
      const REDELIVER = `mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { __typename
        ... on RedeliverWebhookPayload { delivery { status nextAttemptAt } } ... on InvalidStateError { currentStatus } } }`;
      const refused = await t.gql(REDELIVER, { id: `whd_${first!.id}` }, ws.ownerKey);
      expect(refused.data.redeliverWebhook).toEqual({ __typename: 'InvalidStateError', currentStatus: 'DISABLED' });
      const enabled = await t.gql(
        `mutation($id: ID!) { updateWebhookEndpoint(id: $id, input: { enabled: true }) { __typename ... on UpdateWebhookEndpointPayload { endpoint { enabled } } } }`,
        { id: endpointGid },
        ws.ownerKey,
      );
      expect(enabled.data.updateWebhookEndpoint.endpoint.enabled).toBe(true);
      const redelivered = await t.gql(REDELIVER, { id: `whd_${first!.id}` }, ws.ownerKey);
      expect(redelivered.data.redeliverWebhook).toMatchObject({
        __typename: 'RedeliverWebhookPayload',
        delivery: { status: 'PENDING' },
      });
    } finally {
      await receiver.close();
    }
  });

  it('redeliverWebhook sends a delivered message again now, with the same webhook-id', async () => {
    const receiver = await startReceiver();
    try {
      const ws = await createWorkspaceFixture(db());
      const { endpointId } = await createEndpoint(ws, receiver.url, ['JobPosted']);
      await postJobFixture(db(), ws);
      await dispatch();
      await worker.runOnce();
      const [d] = await deliveriesOf(endpointId);
      expect(d!.status).toBe('SUCCEEDED');
      const res = await t.gql(
        `mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { __typename } }`,
        { id: `whd_${d!.id}` },
        ws.ownerKey,
      );
      expect(res.data.redeliverWebhook.__typename).toBe('RedeliverWebhookPayload');
      await worker.runOnce();
      expect(receiver.requests.map((r) => r.headers['webhook-id'])).toEqual([`msg_${d!.id}`, `msg_${d!.id}`]);
      const [again] = await deliveriesOf(endpointId);
      expect(again).toMatchObject({ status: 'SUCCEEDED', attemptCount: 2 });
    } finally {
      await receiver.close();
    }
  });

  it('a running worker is woken by NOTIFY when deliveries commit; stopping aborts a hanging request', async () => {
    const receiver = await startReceiver();
    const hanging = await startReceiver(() => 'hang');
    // No polling to speak of: only the NOTIFY sent at commit can wake it.
    const running = createWebhookWorker(t.app.db, t.app.log, {
      allowHosts: parseAllowList(ALLOW),
      pollMs: 60_000,
      stopGraceMs: 200,
    });
    try {
      await running.start();
      await new Promise((r) => setTimeout(r, 200));
      const ws = await createWorkspaceFixture(db());
      await createEndpoint(ws, receiver.url, ['JobPosted']);
      await postJobFixture(db(), ws);
      await dispatch();
      await waitFor(() => receiver.requests.length === 1);

      const other = await createWorkspaceFixture(db());
      const { endpointId } = await createEndpoint(other, hanging.url, ['JobPosted']);
      await postJobFixture(db(), other);
      await dispatch();
      await waitFor(() => hanging.requests.length === 1);
      const started = Date.now();
      await running.stop();
      expect(Date.now() - started).toBeLessThan(3_000);
      const [d] = await deliveriesOf(endpointId);
      expect(d).toMatchObject({ status: 'PENDING', attemptCount: 1 });
      expect(d!.attempts[0]).toMatchObject({ statusCode: null, error: expect.any(String) });
    } finally {
      await running.stop();
      await Promise.all([receiver.close(), hanging.close()]);
    }
  });

  it('a redirect is a failure and is never followed; a receiver that hangs times out', async () => {
    const canary = await startReceiver();
    const redirector = await startReceiver(() => ({ status: 302, headers: { location: canary.url } }));
    const hanging = await startReceiver(() => 'hang');
    const quick = createWebhookWorker(t.app.db, t.app.log, { allowHosts: parseAllowList(ALLOW), timeoutMs: 300 });
    try {
      const ws = await createWorkspaceFixture(db());
      const a = await createEndpoint(ws, redirector.url, ['JobPosted']);
      const b = await createEndpoint(ws, hanging.url, ['JobPosted']);
      await postJobFixture(db(), ws);
      await dispatch();
      await quick.runOnce();
      const [redirected] = await deliveriesOf(a.endpointId);
      expect(redirected).toMatchObject({ status: 'PENDING', attemptCount: 1 });
      expect(redirected!.attempts[0]).toMatchObject({ statusCode: 302, error: expect.stringMatching(/not followed/) });
      expect(canary.requests).toHaveLength(0);
      const [timedOut] = await deliveriesOf(b.endpointId);
      expect(timedOut!.attempts[0]).toMatchObject({ statusCode: null, error: 'timed out after 300 ms' });
      expect(timedOut!.attempts[0]!.durationMs).toBeLessThan(5_000);
    } finally {
      await quick.stop();
      await Promise.all([canary.close(), redirector.close(), hanging.close()]);
    }
  });
});

// ───────────── what goes where ─────────────

describe('routing and visibility', () => {
  it('a workspace endpoint receives every event of its own jobs with public ids; another workspace gets none', async () => {
    const mine = await startReceiver();
    const theirs = await startReceiver();
    try {
      const ws = await createWorkspaceFixture(db());
      const other = await createWorkspaceFixture(db());
      const { secret } = await createEndpoint(ws, mine.url);
      await createEndpoint(other, theirs.url);
      const agent = await createAgentFixture(db(), other);
      const { jobGid } = await postJobFixture(db(), ws, { visibility: 'PUBLIC' });
      await driveJob(t.app, ws.ownerKey, agent.key, jobGid);
      await dispatch();
      while ((await worker.runOnce()) > 0) {}

      const bodies = mine.requests.map((r) => verify(secret, r));
      expect(bodies.map((b) => b.type).sort()).toEqual(['JobPosted', ...EXPECTED_SEQUENCE].sort());
      expect(new Set(bodies.map((b) => b.data.eventId)).size).toBe(bodies.length);
      expect(bodies.every((b) => b.data.jobId === jobGid)).toBe(true);
      const bid = bodies.find((b) => b.type === 'BidPlaced')!;
      expect(bid.data.bidId).toMatch(/^bid_/);
      expect(bid.data.agentId).toBe(agent.agentGid);
      expect(bodies.find((b) => b.type === 'InputRequested')!.data.inputRequest.id).toMatch(/^inp_/);
      expect(bodies.find((b) => b.type === 'StepAdded')!.data.executionId).toMatch(/^exe_/);
      expect(theirs.requests).toHaveLength(0);
    } finally {
      await Promise.all([mine.close(), theirs.close()]);
    }
  });

  it("an agent's webhookUrl receives its own events, signed with the secret from rotateAgentWebhookSecret", async () => {
    const receiver = await startReceiver();
    try {
      const ws = await createWorkspaceFixture(db());
      const agent = await createAgentFixture(db(), ws, { webhookUrl: receiver.url });
      const rotated = await t.gql(
        `mutation { rotateAgentWebhookSecret { __typename ... on RotateWebhookSecretPayload { secret endpoint { id url agent { id } } } } }`,
        {},
        agent.key,
      );
      const { secret, endpoint } = rotated.data.rotateAgentWebhookSecret;
      expect(endpoint).toMatchObject({ url: receiver.url, agent: { id: agent.agentGid } });

      const { jobGid } = await postJobFixture(db(), ws, { visibility: 'WORKSPACE' });
      const assigned = await t.gql(
        `mutation($j: ID!, $a: ID!) { assignJob(jobId: $j, agentId: $a, credits: 40) { __typename } }`,
        { j: jobGid, a: agent.agentGid },
        ws.ownerKey,
      );
      expect(assigned.data.assignJob.__typename).toBe('AssignJobPayload');
      await dispatch();
      await worker.runOnce();
      const bodies = receiver.requests.map((r) => verify(secret, r));
      // Only agent events (not JobPosted / JobStatusChanged).
      expect(bodies.map((b) => b.type)).toEqual(['AgentAssigned']);
      expect(bodies[0]!.data).toMatchObject({ jobId: jobGid, agentId: agent.agentGid, credits: 40 });

      // The agent sees its deliveries; the workspace's members do not (they are the agent's events).
      const asAgent = await t.gql(DELIVERIES, { e: endpoint.id }, agent.key);
      expect(asAgent.data.webhookDeliveries.edges).toHaveLength(1);
      const asOwner = await t.gql(DELIVERIES, { e: endpoint.id }, ws.ownerKey);
      expect(asOwner.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    } finally {
      await receiver.close();
    }
  });

  it('only OWNER/ADMIN manage endpoints; other workspaces cannot see them', async () => {
    const ws = await createWorkspaceFixture(db());
    const other = await createWorkspaceFixture(db());
    const member = await createMemberFixture(db(), ws.workspaceId, 'MEMBER');
    const denied = await t.gql(CREATE, { i: { url: 'https://hooks.example.com/x' } }, member.key);
    expect(denied.data.createWebhookEndpoint.__typename).toBe('ForbiddenError');
    const { endpointGid } = await createEndpoint(ws, 'https://hooks.example.com/x', ['JobPosted', 'BidPlaced']);
    const listed = await t.gql(`{ webhookEndpoints { id eventTypes } }`, {}, member.key);
    expect(listed.data.webhookEndpoints).toEqual([{ id: endpointGid, eventTypes: ['JobPosted', 'BidPlaced'] }]);
    expect((await t.gql(`{ webhookEndpoints { id } }`, {}, other.ownerKey)).data.webhookEndpoints).toEqual([]);
    const node = await t.gql(`query($id: ID!) { node(id: $id) { id } }`, { id: endpointGid }, other.ownerKey);
    expect(node.data.node).toBeNull();
    const del = await t.gql(
      `mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { __typename } }`,
      { id: endpointGid },
      other.ownerKey,
    );
    expect(del.data.deleteWebhookEndpoint.__typename).toBe('NotFoundError');
    const bad = await t.gql(CREATE, { i: { url: 'https://hooks.example.com/x', eventTypes: ['Nope'] } }, ws.ownerKey);
    expect(bad.data.createWebhookEndpoint.__typename).toBe('ValidationError');
    const gone = await t.gql(
      `mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { __typename ... on DeleteWebhookEndpointPayload { deletedId } } }`,
      { id: endpointGid },
      ws.ownerKey,
    );
    expect(gone.data.deleteWebhookEndpoint.deletedId).toBe(endpointGid);
  });
});

// ───────────── crash safety ─────────────

const onPostgres = Boolean(inject('templateDatabaseUrl'));

describe('crash safety', () => {
  it.skipIf(!onPostgres)(
    'a process killed mid-delivery: the delivery is sent again after restart, with the same webhook-id',
    {
      timeout: 240_000,
      meta: { skipReason: 'needs PostgreSQL (DATABASE_URL): the server process shares the database with this test' },
    },
    async () => {
      // Its own database, so the server process below delivers nothing but this test's messages.
      const database = await createTestDatabase();
      const t2 = await createTestApp({ database, config: { WEBHOOK_ALLOW_HOSTS: ALLOW } });
      let child: ChildProcess | undefined;
      let arrived: () => void = () => {};
      const firstArrived = new Promise<void>((resolve) => {
        arrived = resolve;
      });
      const receiver = await startReceiver((_req, i) => {
        if (i === 0) {
          arrived();
          return 'hang'; // the sender dies while waiting for this answer
        }
        return { status: 200 };
      });
      try {
        const ws = await createWorkspaceFixture(t2.app.db.prisma);
        const res = await t2.gql(CREATE, { i: { url: receiver.url, eventTypes: ['JobPosted'] } }, ws.ownerKey);
        const { secret, endpoint } = res.data.createWebhookEndpoint;
        await postJobFixture(t2.app.db.prisma, ws);

        // A real server process dispatches the event and starts delivering it…
        child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
          env: {
            ...process.env,
            DATABASE_URL: database.url!,
            REDIS_URL: '',
            PORT: '0',
            NODE_ENV: 'test',
            LOG_LEVEL: 'silent',
            OUTBOX_POLL_MS: '100',
            WEBHOOK_ALLOW_HOSTS: ALLOW,
          },
          stdio: 'ignore',
        });
        // Wait on the condition, not the clock: a loaded machine may take a minute to boot the process.
        await Promise.race([
          firstArrived,
          new Promise((_, reject) =>
            child!.once('exit', (code) => reject(new Error(`the server process exited (${code}) before delivering`))),
          ),
        ]);
        // …and is killed mid-request.
        const exited = new Promise((resolve) => child!.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;

        const [d] = await t2.app.db.prisma.webhookDelivery.findMany({
          where: { endpointId: endpoint.id.slice(4) },
          include: { attempts: true },
        });
        expect(d).toMatchObject({ status: 'PENDING', attemptCount: 0, attempts: [] });
        expect(d!.lockedUntil!.getTime()).toBeGreaterThan(Date.now());

        // After the restart: while the dead process's lease runs nobody sends twice; then it goes out again.
        const restarted = createWebhookWorker(t2.app.db, t2.app.log, { allowHosts: parseAllowList(ALLOW) });
        try {
          expect(await restarted.runOnce()).toBe(0);
          expect(await restarted.runOnce(new Date(d!.lockedUntil!.getTime() + 1))).toBe(1);
        } finally {
          await restarted.stop();
        }
        expect(receiver.requests).toHaveLength(2);
        expect(receiver.requests[1]!.headers['webhook-id']).toBe(receiver.requests[0]!.headers['webhook-id']);
        expect(verify(secret, receiver.requests[1]!).type).toBe('JobPosted');
        const [done] = await t2.app.db.prisma.webhookDelivery.findMany({ where: { id: d!.id } });
        expect(done).toMatchObject({ status: 'SUCCEEDED', attemptCount: 1 });
      } finally {
        if (child && child.exitCode === null && !child.signalCode) child.kill('SIGKILL');
        await receiver.close();
        await t2.close();
        await database.close();
      }
    },
  );
});

// ───────────── SSRF ─────────────

describe('SSRF guard (no allow-list)', () => {
  let canary: ReturnType<typeof createTcpServer>;
  let canaryPort = 0;
  let connections = 0;
  beforeAll(async () => {
    // Counts TCP connections: "refused before a byte is sent" means not even a connect.
    canary = createTcpServer((socket) => {
      connections++;
      socket.destroy();
    });
    canaryPort = await listen(canary);
  });
  afterAll(() => new Promise<void>((resolve) => canary.close(() => resolve())));

  // Names for the tests, resolved without DNS.
  const resolver: Resolver = async (host) => {
    const table: Record<string, string[]> = {
      'rebind.test': ['127.0.0.1'],
      'mixed.test': ['93.184.216.34', '10.0.0.5'],
      'public.test': ['93.184.216.34'],
      localhost: ['127.0.0.1', '::1'],
    };
    const found = table[host];
    if (!found) throw new Error(`unknown test host ${host}`);
    return found.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  // Whatever address passes the guard, the socket goes to loopback: a guard bug shows up as a
  // connection to the canary (or the redirector), never as traffic to a real address.
  const guarded = (withResolver: boolean) =>
    createGuardedAgent({
      allow: EMPTY_ALLOW_LIST,
      resolver: withResolver ? resolver : undefined,
      dialOverride: () => '127.0.0.1',
    });

  const REFUSED = [
    '127.0.0.1',
    '10.0.0.1',
    '169.254.169.254',
    '[::1]',
    '[::ffff:169.254.169.254]',
    '[::ffff:127.0.0.1]',
    '0.0.0.0',
    '2130706433',
    '0x7f.0.0.1',
    '0177.0.0.1',
    '127.1',
    '[::]',
    '[fd00:ec2::254]',
    '100.100.100.200',
    '192.168.1.1',
    '172.16.0.1',
  ];

  it.each(REFUSED)('http://%s/ is refused before a byte is sent', async (host) => {
    const agent = guarded(false);
    try {
      const before = connections;
      const error = await undiciFetch(`http://${host}:${canaryPort}/latest/meta-data/`, {
        dispatcher: agent,
        redirect: 'manual',
      }).then(
        () => null,
        (e: unknown) => rootCause(e),
      );
      expect(error).toBeInstanceOf(SsrfError);
      expect(connections).toBe(before);
    } finally {
      await agent.close();
    }
  });

  it('host names resolving to loopback (localhost, a rebinding name, a mixed answer) are refused', async () => {
    for (const withResolver of [false, true]) {
      const agent = guarded(withResolver);
      try {
        const hosts = withResolver ? ['rebind.test', 'mixed.test', 'localhost'] : ['localhost'];
        for (const host of hosts) {
          const error = await undiciFetch(`http://${host}:${canaryPort}/`, { dispatcher: agent }).then(
            () => null,
            (e: unknown) => rootCause(e),
          );
          expect(error, host).toBeInstanceOf(SsrfError);
        }
      } finally {
        await agent.close();
      }
    }
    expect(connections).toBe(0);
  });

  it('a 302 to the metadata address is not followed', async () => {
    const redirector = await startReceiver(() => ({
      status: 302,
      headers: { location: `http://169.254.169.254:${canaryPort}/latest/meta-data/iam/` },
    }));
    const agent = guarded(true);
    try {
      // public.test passes the guard (a public address) and is dialled on loopback (the redirector).
      const res = await undiciFetch(`http://public.test:${redirector.port}/hook`, {
        method: 'POST',
        body: '{}',
        dispatcher: agent,
        redirect: 'manual',
      });
      expect(res.status).toBe(302);
      expect(redirector.requests).toHaveLength(1);
      expect(connections).toBe(0);
      // And following it by hand would be refused too.
      await expect(resolveAllowed('169.254.169.254', EMPTY_ALLOW_LIST)).rejects.toThrow(/metadata/);
    } finally {
      await agent.close();
      await redirector.close();
    }
  });

  it('through the delivery worker: every refused URL is an attempt with an SSRF error and nothing reaches the canary', async () => {
    const ws = await createWorkspaceFixture(db());
    const hosts = [...REFUSED, 'localhost', 'rebind.test'];
    // Stored directly: creation would already refuse the IP literals (checked below).
    await db().webhookEndpoint.createMany({
      data: hosts.map((host) => ({
        workspaceId: ws.workspaceId,
        url: `http://${host}:${canaryPort}/hook`,
        secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
        eventTypes: ['JobPosted'],
      })),
    });
    const redirector = await startReceiver(() => ({
      status: 302,
      headers: { location: `http://169.254.169.254:${canaryPort}/` },
    }));
    await db().webhookEndpoint.create({
      data: {
        workspaceId: ws.workspaceId,
        url: `http://public.test:${redirector.port}/hook`,
        secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
        eventTypes: ['JobPosted'],
      },
    });
    const agent = guarded(true);
    const strict = createWebhookWorker(t.app.db, t.app.log, { dispatcher: agent });
    try {
      await postJobFixture(db(), ws);
      await dispatch();
      while ((await strict.runOnce()) > 0) {}
      const deliveries = await db().webhookDelivery.findMany({
        where: { endpoint: { workspaceId: ws.workspaceId } },
        include: { attempts: true, endpoint: true },
      });
      expect(deliveries).toHaveLength(hosts.length + 1);
      for (const d of deliveries) {
        expect(d.attempts, d.endpoint.url).toHaveLength(1);
        if (d.endpoint.url.includes('public.test')) {
          expect(d.attempts[0]).toMatchObject({ statusCode: 302, error: expect.stringMatching(/not followed/) });
        } else {
          expect(d.attempts[0], d.endpoint.url).toMatchObject({
            statusCode: null,
            error: expect.stringMatching(/SSRF guard: nothing was sent/),
          });
        }
        expect(d.status).toBe('PENDING');
      }
      expect(redirector.requests).toHaveLength(1);
      expect(connections).toBe(0);
    } finally {
      await strict.stop();
      await agent.close().catch(() => {});
      await redirector.close();
    }
  });

  it('creating an endpoint refuses IP literals that are not public (unless allow-listed)', async () => {
    const ws = await createWorkspaceFixture(db());
    const policy = { allowLoopbackHttp: false, allowHosts: EMPTY_ALLOW_LIST };
    for (const url of [
      'https://10.0.0.1/hook',
      'https://169.254.169.254/',
      'https://[::1]/',
      'https://[::ffff:169.254.169.254]/',
      'https://0.0.0.0/',
      'https://2130706433/',
      'http://127.0.0.1/',
    ]) {
      await expect(createWebhookEndpoint(db(), ownerViewer(ws), { url }, policy), url).rejects.toMatchObject({
        name: 'ValidationError',
      });
    }
    await expect(
      createWebhookEndpoint(db(), ownerViewer(ws), { url: 'https://hooks.example.com/in' }, policy),
    ).resolves.toMatchObject({ secret: expect.stringMatching(/^whsec_/) });
  });

  it('classifies addresses: only public unicast passes; metadata stays refused even when allow-listed', () => {
    expect(refusalReason('93.184.216.34')).toBeNull();
    expect(refusalReason('2606:4700:4700::1111')).toBeNull();
    for (const ip of ['127.0.0.1', '10.1.2.3', '100.64.0.1', '169.254.169.254', '224.0.0.1', '255.255.255.255']) {
      expect(refusalReason(ip), ip).not.toBeNull();
    }
    for (const ip of [
      '::1',
      '::',
      'fe80::1',
      'fd00:ec2::254',
      '::ffff:10.0.0.1',
      '::127.0.0.1',
      '64:ff9b::a9fe:a9fe',
      '2002:7f00:1::',
    ]) {
      expect(refusalReason(ip), ip).not.toBeNull();
    }
    const dev = parseAllowList('127.0.0.1, 169.254.0.0/16, devbox.local');
    expect(dev.hosts).toEqual(new Set(['devbox.local']));
    return Promise.all([
      expect(resolveAllowed('127.0.0.1', dev)).resolves.toBe('127.0.0.1'),
      expect(resolveAllowed('127.0.0.2', dev)).rejects.toBeInstanceOf(SsrfError),
      expect(resolveAllowed('169.254.169.254', dev)).rejects.toThrow(/metadata/),
      expect(resolveAllowed('169.254.1.1', dev)).resolves.toBe('169.254.1.1'),
      expect(resolveAllowed('devbox.local', dev, async () => [{ address: '10.0.0.9', family: 4 }])).resolves.toBe(
        '10.0.0.9',
      ),
    ]).then(() => {
      expect(() => parseAllowList('not a host!')).toThrow(/WEBHOOK_ALLOW_HOSTS/);
      expect(() => parseAllowList('10.0.0.0/99')).toThrow(/CIDR/);
      // A bad value stops the process at start, naming the variable.
      expect(() => loadConfig({ WEBHOOK_ALLOW_HOSTS: '127.0.0.1, 10.0.0.0/99' })).toThrow(
        /Invalid environment variable WEBHOOK_ALLOW_HOSTS: "10.0.0.0\/99" is not a valid CIDR range/,
      );
    });
  });
});
