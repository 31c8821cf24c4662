/**
 * Dealing between strangers (issue #14): offers, counter-offers, stale bids, messages, timeouts,
 * releases, lapses and kill fees, over GraphQL against real PostgreSQL and Redis.
 *
 * The state-machine walk is table-driven: every transition of JOB_TRANSITIONS, BID_TRANSITIONS and
 * OFFER_TRANSITIONS must be reached through the API somewhere in this file (the last test checks),
 * and every operation is tried in every status that does not allow it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/client.ts';
import { expireInputRequests } from '../src/services/execution/executions.ts';
import { ledgerSum } from '../src/services/ledger/ledger.ts';
import { BID_TRANSITIONS } from '../src/services/marketplace/bid-state.ts';
import { expireBids } from '../src/services/marketplace/bids.ts';
import { JOB_TRANSITIONS } from '../src/services/marketplace/job-state.ts';
import { expireJobs } from '../src/services/marketplace/jobs.ts';
import { OFFER_TRANSITIONS } from '../src/services/marketplace/offer-state.ts';
import { expireOffers } from '../src/services/marketplace/offers.ts';
import { lapseAssignments } from '../src/services/marketplace/timeouts.ts';
import { createTestApp, type TestApp } from './support/app.ts';
import {
  createAgentFixture,
  createWorkspaceFixture,
  postJobFixture,
  type WorkspaceFixture,
} from './support/factories.ts';

let t: TestApp;
const ADMIN = 'dealing-platform-admin';
beforeAll(async () => {
  t = await createTestApp({ config: { PLATFORM_ADMIN_KEY: ADMIN, PLATFORM_FEE_BPS: 500 } });
});
afterAll(() => t?.close());
const db = () => t.app.db.prisma;

type Agent = { agentId: string; agentGid: string; key: string };

// ───────────── documents ─────────────
const ERR = `__typename ... on ValidationError { issues { path message } } ... on Error { message }`;
const ERR_IS = `${ERR} ... on InvalidStateError { currentStatus }`;
const OFFER = `mutation($i: OfferJobInput!) { offerJob(input: $i) { ${ERR_IS} ... on OfferJobPayload { offer { id status } } } }`;
const ACCEPT_OFFER = `mutation($o: ID!) { acceptOffer(offerId: $o) { ${ERR_IS} } }`;
const DECLINE_OFFER = `mutation($o: ID!) { declineOffer(offerId: $o, reason: "busy") { ${ERR_IS} } }`;
const WITHDRAW_OFFER = `mutation($o: ID!) { withdrawOffer(offerId: $o) { ${ERR_IS} } }`;
const PLACE_BID = `mutation($i: PlaceBidInput!) { placeBid(input: $i) { ${ERR_IS} ... on PlaceBidPayload { bid { id status } } } }`;
const COUNTER = `mutation($i: CounterBidInput!) { counterBid(input: $i) { ${ERR_IS} ... on CounterBidPayload { bid { id status counter { requestedCredits } history { proposedBy requestedCredits } } } } }`;
const ACCEPT_COUNTER = `mutation($b: ID!) { acceptCounter(bidId: $b) { ${ERR_IS} } }`;
const ACCEPT_BID = `mutation($b: ID!) { acceptBid(bidId: $b) { ${ERR_IS} } }`;
const REJECT_BID = `mutation($b: ID!) { rejectBid(id: $b) { ${ERR_IS} } }`;
const WITHDRAW_BID = `mutation($b: ID!) { withdrawBid(id: $b) { ${ERR_IS} } }`;
const ASSIGN = `mutation($j: ID!, $a: ID!, $c: Int) { assignJob(jobId: $j, agentId: $a, credits: $c) { ${ERR_IS} } }`;
const CANCEL = `mutation($j: ID!) { cancelJob(id: $j) { ${ERR_IS} } }`;
const START = `mutation($j: ID!) { startExecution(jobId: $j) { ${ERR_IS} ... on StartExecutionPayload { execution { id } } } }`;
const SUBMIT = `mutation($e: ID!) { submitResult(executionId: $e, result: { ok: true }) { ${ERR_IS} } }`;
const FAIL = `mutation($e: ID!) { failExecution(executionId: $e, reason: "blocked") { ${ERR_IS} } }`;
const REVIEW = `mutation($e: ID!, $d: ReviewDecision!) { reviewExecution(executionId: $e, decision: $d, rating: 5, notes: "n") { ${ERR_IS} } }`;
const DISPUTE = `mutation($j: ID!) { openDispute(jobId: $j, reason: "contest") { ${ERR_IS} ... on OpenDisputePayload { dispute { id } } } }`;
const RESOLVE = `mutation($d: ID!, $o: DisputeOutcome!) { resolveDispute(disputeId: $d, outcome: $o) { ${ERR_IS} } }`;
const RELEASE = `mutation($j: ID!) { releaseJob(jobId: $j, reason: "cannot do it") { ${ERR_IS} } }`;
const UPDATE = `mutation($j: ID!, $i: UpdateJobInput!) { updateJob(id: $j, input: $i) { ${ERR_IS} } }`;
const MESSAGE = `mutation($i: SendMessageInput!) { sendMessage(input: $i) { ${ERR} ... on SendMessagePayload { msg: message { id body } } } }`;

const tn = (res: { data: any; errors?: unknown }, field: string): string =>
  res.data?.[field]?.__typename ?? `errors: ${JSON.stringify(res.errors)}`;

// ───────────── world helpers ─────────────
async function world(credits = 10_000) {
  const poster = await createWorkspaceFixture(db(), { credits });
  const other = await createWorkspaceFixture(db(), { credits: 0 });
  const outsider = await createAgentFixture(db(), other, { maxConcurrentJobs: 50 });
  const own = await createAgentFixture(db(), poster, { maxConcurrentJobs: 50 });
  return { poster, other, outsider, own };
}

async function wallet(workspaceId: string) {
  const a = await db().ledgerAccount.findUnique({ where: { key: `workspace:${workspaceId}` } });
  return Number(a?.balance ?? 0);
}
async function escrow(jobId: string) {
  const a = await db().ledgerAccount.findUnique({ where: { key: `escrow:${jobId}` } });
  return Number(a?.balance ?? 0);
}
async function agentBalance(agentId: string) {
  const a = await db().ledgerAccount.findUnique({ where: { key: `agent:${agentId}` } });
  return Number(a?.balance ?? 0);
}
const raw = (id: string) => id.slice(id.indexOf('_') + 1);

async function offer(ws: WorkspaceFixture, jobGid: string, agent: Agent, credits = 100, extra = {}) {
  const res = await t.gql(OFFER, { i: { jobId: jobGid, agentId: agent.agentGid, credits, ...extra } }, ws.ownerKey);
  expect(tn(res, 'offerJob'), JSON.stringify(res.data)).toBe('OfferJobPayload');
  return res.data.offerJob.offer.id as string;
}
async function bid(agent: Agent, jobGid: string, requestedCredits = 80) {
  const res = await t.gql(
    PLACE_BID,
    { i: { jobId: jobGid, message: 'I can', estimatedMinutes: 30, requestedCredits } },
    agent.key,
  );
  expect(tn(res, 'placeBid'), JSON.stringify(res.data)).toBe('PlaceBidPayload');
  return res.data.placeBid.bid.id as string;
}
async function counter(ws: WorkspaceFixture, bidGid: string, requestedCredits = 60) {
  return t.gql(
    COUNTER,
    { i: { bidId: bidGid, requestedCredits, estimatedMinutes: 20, message: 'less?' } },
    ws.ownerKey,
  );
}

// ───────────── the walk's bookkeeping ─────────────
const reached = { bid: new Set<string>(), offer: new Set<string>() };
const bidStatus = async (gid: string) => (await db().bid.findUniqueOrThrow({ where: { id: raw(gid) } })).status;
const offerStatus = async (gid: string) => (await db().offer.findUniqueOrThrow({ where: { id: raw(gid) } })).status;

/** Runs `act`; if it moved (or re-placed) the bid, records `from->to` as reached. */
async function trackBid<T>(gid: string, act: () => Promise<T>, moved = true): Promise<T> {
  const from = await bidStatus(gid);
  const out = await act();
  const to = await bidStatus(gid);
  if (moved) {
    expect(canMove(BID_TRANSITIONS, from, to), `bid ${from}->${to}`).toBe(true);
    reached.bid.add(`${from}->${to}`);
  }
  return out;
}
async function trackOffer<T>(gid: string, act: () => Promise<T>): Promise<T> {
  const from = await offerStatus(gid);
  const out = await act();
  const to = await offerStatus(gid);
  if (from !== to) reached.offer.add(`${from}->${to}`);
  return out;
}
function canMove(table: Record<string, readonly string[]>, from: string, to: string) {
  return (table[from] ?? []).includes(to);
}
const edges = (table: Record<string, readonly string[]>) =>
  Object.entries(table).flatMap(([from, tos]) => tos.map((to) => `${from}->${to}`));

/** What must not change when an operation is refused. */
async function fingerprint(jobId: string, workspaceId: string) {
  const job = await db().job.findUniqueOrThrow({ where: { id: jobId } });
  return {
    status: job.status,
    assigned: job.assignedAgentId,
    wallet: await wallet(workspaceId),
    escrow: await escrow(jobId),
    events: await db().outboxEvent.count({ where: { jobId } }),
    bids: (await db().bid.findMany({ where: { jobId }, orderBy: { id: 'asc' } })).map((b) => b.status),
    offers: (await db().offer.findMany({ where: { jobId }, orderBy: { id: 'asc' } })).map((o) => o.status),
  };
}

// ───────────── offers ─────────────
describe('offers', () => {
  const OPS = {
    acceptOffer: { to: 'ACCEPTED', doc: ACCEPT_OFFER, who: 'agent' },
    declineOffer: { to: 'DECLINED', doc: DECLINE_OFFER, who: 'agent' },
    withdrawOffer: { to: 'WITHDRAWN', doc: WITHDRAW_OFFER, who: 'poster' },
  } as const;

  it('every offer status is reached; in every status each forbidden operation is InvalidStateError and changes nothing', async () => {
    const { poster, outsider } = await world();
    const start = await wallet(poster.workspaceId);
    // One offer per end status, each on its own job.
    const make = async () => {
      const job = await postJobFixture(db(), poster, { visibility: 'PUBLIC' });
      return { job, offerGid: await offer(poster, job.jobGid, outsider, 100) };
    };
    const byStatus: Record<string, Awaited<ReturnType<typeof make>>> = {};
    byStatus.PENDING = await make();
    for (const [name, op] of Object.entries(OPS)) {
      const o = await make();
      expect(await escrow(o.job.jobId)).toBe(100);
      const res = await trackOffer(o.offerGid, () =>
        t.gql(op.doc, { o: o.offerGid }, op.who === 'agent' ? outsider.key : poster.ownerKey),
      );
      expect(tn(res, name)).toMatch(/Payload$/);
      byStatus[op.to] = o;
    }
    const expired = await make();
    await db().offer.update({ where: { id: raw(expired.offerGid) }, data: { expiresAt: new Date(Date.now() - 1000) } });
    // Past expiresAt but not yet swept: accepting it already answers InvalidStateError (EXPIRED).
    const late = await t.gql(ACCEPT_OFFER, { o: expired.offerGid }, outsider.key);
    expect(late.data.acceptOffer).toMatchObject({ __typename: 'InvalidStateError', currentStatus: 'EXPIRED' });
    await trackOffer(expired.offerGid, () => expireOffers(db()));
    byStatus.EXPIRED = expired;
    // Refunds: every non-accepted end status gave its 100 back; the accepted one stays held.
    expect(await escrow(byStatus.DECLINED!.job.jobId)).toBe(0);
    expect(await escrow(byStatus.WITHDRAWN!.job.jobId)).toBe(0);
    expect(await escrow(byStatus.EXPIRED!.job.jobId)).toBe(0);
    expect(await escrow(byStatus.ACCEPTED!.job.jobId)).toBe(100);
    expect(await wallet(poster.workspaceId)).toBe(start - 200); // PENDING + ACCEPTED held
    // Forbidden operations, status by status.
    for (const [status, o] of Object.entries(byStatus)) {
      for (const [name, op] of Object.entries(OPS)) {
        if (canMove(OFFER_TRANSITIONS, status, op.to)) continue;
        const before = await fingerprint(o.job.jobId, poster.workspaceId);
        const res = await t.gql(op.doc, { o: o.offerGid }, op.who === 'agent' ? outsider.key : poster.ownerKey);
        expect(res.data[name], `${name} on a ${status} offer`).toMatchObject({
          __typename: 'InvalidStateError',
          currentStatus: status,
        });
        expect(await fingerprint(o.job.jobId, poster.workspaceId), `${name} on ${status} changed something`).toEqual(
          before,
        );
      }
    }
    expect(await ledgerSum(db())).toBe(0n);
  });

  it('accepting an offer withdraws the other offers (refunded) and rejects live bids', async () => {
    const { poster, outsider, other } = await world();
    const second = await createAgentFixture(db(), other);
    const start = await wallet(poster.workspaceId);
    const job = await postJobFixture(db(), poster, { visibility: 'PUBLIC' });
    const o1 = await offer(poster, job.jobGid, outsider, 90);
    const o2 = await offer(poster, job.jobGid, second, 70);
    const b = await bid(second, job.jobGid);
    expect(await escrow(job.jobId)).toBe(160);
    await trackOffer(o2, () => trackOffer(o1, () => trackBid(b, () => t.gql(ACCEPT_OFFER, { o: o1 }, outsider.key))));
    expect(await offerStatus(o2)).toBe('WITHDRAWN');
    expect(await bidStatus(b)).toBe('REJECTED');
    expect(await escrow(job.jobId)).toBe(90);
    expect(await wallet(poster.workspaceId)).toBe(start - 90);
    const j = await db().job.findUniqueOrThrow({ where: { id: job.jobId } });
    expect(j).toMatchObject({ status: 'ASSIGNED', assignedAgentId: outsider.agentId, agreedCredits: 90 });
    expect(j.startBy).not.toBeNull();
  });
});

// ───────────── bids: counters, stale, the walk ─────────────
describe('bids', () => {
  it('counter, bid again, counter again, acceptCounter: ASSIGNED at the countered terms with the history', async () => {
    const { poster, outsider } = await world();
    const job = await postJobFixture(db(), poster, { visibility: 'PUBLIC' });
    const b = await bid(outsider, job.jobGid, 90);
    const c1 = await trackBid(b, () => counter(poster, b, 60));
    expect(c1.data.counterBid.bid).toMatchObject({ status: 'COUNTERED', counter: { requestedCredits: 60 } });
    await trackBid(b, () => bid(outsider, job.jobGid, 80)); // COUNTERED -> PENDING
    await trackBid(b, () => bid(outsider, job.jobGid, 75)); // PENDING -> PENDING
    await trackBid(b, () => counter(poster, b, 65));
    const c3 = await trackBid(b, () => counter(poster, b, 70)); // COUNTERED -> COUNTERED
    expect(c3.data.counterBid.bid.history.map((h: { proposedBy: string }) => h.proposedBy)).toEqual([
      'AGENT',
      'POSTER',
      'AGENT',
      'AGENT',
      'POSTER',
      'POSTER',
    ]);
    // acceptBid on a COUNTERED bid is refused: the agent accepts the counter.
    const before = await fingerprint(job.jobId, poster.workspaceId);
    const wrong = await t.gql(ACCEPT_BID, { b }, poster.ownerKey);
    expect(wrong.data.acceptBid.__typename).toBe('InvalidStateError');
    expect(await fingerprint(job.jobId, poster.workspaceId)).toEqual(before);
    const ok = await trackBid(b, () => t.gql(ACCEPT_COUNTER, { b }, outsider.key));
    expect(tn(ok, 'acceptCounter')).toBe('AcceptCounterPayload');
    expect(await db().job.findUniqueOrThrow({ where: { id: job.jobId } })).toMatchObject({
      status: 'ASSIGNED',
      agreedCredits: 70,
    });
    expect(await escrow(job.jobId)).toBe(70);
  });

  it('a material updateJob makes PENDING and COUNTERED bids STALE (BidStale to the agent); a cosmetic one does not', async () => {
    const { poster, outsider, other } = await world();
    const second = await createAgentFixture(db(), other);
    const job = await postJobFixture(db(), poster, { visibility: 'PUBLIC' });
    const pending = await bid(outsider, job.jobGid, 80);
    const countered = await bid(second, job.jobGid, 90);
    await trackBid(countered, () => counter(poster, countered, 70));
    const cosmetic = await t.gql(UPDATE, { j: job.jobGid, i: { title: 'A better title' } }, poster.ownerKey);
    expect(tn(cosmetic, 'updateJob')).toBe('UpdateJobPayload');
    expect([await bidStatus(pending), await bidStatus(countered)]).toEqual(['PENDING', 'COUNTERED']);
    expect(await db().outboxEvent.count({ where: { jobId: job.jobId, type: 'BidStale' } })).toBe(0);
    await trackBid(pending, () =>
      trackBid(countered, () => t.gql(UPDATE, { j: job.jobGid, i: { budget: 150 } }, poster.ownerKey)),
    );
    expect([await bidStatus(pending), await bidStatus(countered)]).toEqual(['STALE', 'STALE']);
    const stale = await db().outboxEvent.findMany({ where: { jobId: job.jobId, type: 'BidStale' } });
    expect(stale.map((e) => e.agentId).sort()).toEqual([outsider.agentId, second.agentId].sort());
    // A STALE bid cannot be accepted, countered, or its counter accepted.
    const before = await fingerprint(job.jobId, poster.workspaceId);
    expect(tn(await t.gql(ACCEPT_BID, { b: pending }, poster.ownerKey), 'acceptBid')).toBe('InvalidStateError');
    expect(tn(await counter(poster, pending), 'counterBid')).toBe('InvalidStateError');
    expect(tn(await t.gql(ACCEPT_COUNTER, { b: countered }, second.key), 'acceptCounter')).toBe('InvalidStateError');
    expect(await fingerprint(job.jobId, poster.workspaceId)).toEqual(before);
    // Placed again: PENDING and acceptable.
    await trackBid(pending, () => bid(outsider, job.jobGid, 85));
    await trackBid(countered, () => t.gql(WITHDRAW_BID, { b: countered }, second.key)); // STALE -> WITHDRAWN
    await trackBid(pending, () => t.gql(ACCEPT_BID, { b: pending }, poster.ownerKey));
    expect(await bidStatus(pending)).toBe('ACCEPTED');
  });

  it('the rest of the bid table: rejections, withdrawals, expiry, and bidding again from every end status', async () => {
    const { poster, outsider, own, other } = await world();
    const mk = () => postJobFixture(db(), poster, { visibility: 'PUBLIC' });
    // PENDING -> REJECTED, -> WITHDRAWN, -> EXPIRED; each bid again -> PENDING.
    const j1 = await mk();
    const b1 = await bid(outsider, j1.jobGid);
    await trackBid(b1, () => t.gql(REJECT_BID, { b: b1 }, poster.ownerKey));
    await trackBid(b1, () => bid(outsider, j1.jobGid)); // REJECTED -> PENDING
    await trackBid(b1, () => t.gql(WITHDRAW_BID, { b: b1 }, outsider.key));
    await trackBid(b1, () => bid(outsider, j1.jobGid)); // WITHDRAWN -> PENDING
    await db().bid.update({ where: { id: raw(b1) }, data: { expiresAt: new Date(Date.now() - 1000) } });
    await trackBid(b1, () => expireBids(db()));
    expect(await bidStatus(b1)).toBe('EXPIRED');
    await trackBid(b1, () => bid(outsider, j1.jobGid)); // EXPIRED -> PENDING
    // COUNTERED -> REJECTED (rejectBid), COUNTERED -> WITHDRAWN, COUNTERED -> STALE -> REJECTED (assignment).
    const j2 = await mk();
    const second = await createAgentFixture(db(), other);
    const third = await createAgentFixture(db(), other);
    const b2 = await bid(outsider, j2.jobGid);
    const b3 = await bid(second, j2.jobGid);
    const b4 = await bid(third, j2.jobGid);
    await counter(poster, b2);
    await counter(poster, b3);
    await trackBid(b2, () => t.gql(REJECT_BID, { b: b2 }, poster.ownerKey));
    await trackBid(b3, () => t.gql(WITHDRAW_BID, { b: b3 }, second.key));
    await counter(poster, b4);
    await trackBid(b4, () =>
      t.gql(UPDATE, { j: j2.jobGid, i: { description: 'Different work now' } }, poster.ownerKey),
    );
    await trackBid(b4, () => t.gql(ASSIGN, { j: j2.jobGid, a: own.agentGid }, poster.ownerKey)); // STALE -> REJECTED
    // STALE -> EXPIRED (the sweep).
    const j3 = await mk();
    const b5 = await bid(outsider, j3.jobGid);
    await t.gql(UPDATE, { j: j3.jobGid, i: { budget: 120 } }, poster.ownerKey);
    await db().bid.update({ where: { id: raw(b5) }, data: { expiresAt: new Date(Date.now() - 1000) } });
    await trackBid(b5, () => expireBids(db()));
    expect(await bidStatus(b5)).toBe('EXPIRED');
    // ACCEPTED -> PENDING: the job reopens (released) and the agent bids again.
    const j4 = await mk();
    const b6 = await bid(outsider, j4.jobGid);
    await trackBid(b6, () => t.gql(ACCEPT_BID, { b: b6 }, poster.ownerKey));
    expect(tn(await t.gql(RELEASE, { j: j4.jobGid }, outsider.key), 'releaseJob')).toBe('ReleaseJobPayload');
    await trackBid(b6, () => bid(outsider, j4.jobGid));
    expect(await bidStatus(b6)).toBe('PENDING');
  });

  it('in every bid status, each operation that status does not allow is InvalidStateError and changes nothing', async () => {
    const { poster, outsider } = await world();
    const OPS = [
      { name: 'acceptBid', doc: ACCEPT_BID, key: () => poster.ownerKey, to: 'ACCEPTED', from: ['PENDING'] },
      { name: 'acceptCounter', doc: ACCEPT_COUNTER, key: () => outsider.key, to: 'ACCEPTED', from: ['COUNTERED'] },
      { name: 'counterBid', doc: COUNTER, key: () => poster.ownerKey, to: 'COUNTERED', from: ['PENDING', 'COUNTERED'] },
      {
        name: 'withdrawBid',
        doc: WITHDRAW_BID,
        key: () => outsider.key,
        to: 'WITHDRAWN',
        from: ['PENDING', 'COUNTERED', 'STALE'],
      },
      {
        name: 'rejectBid',
        doc: REJECT_BID,
        key: () => poster.ownerKey,
        to: 'REJECTED',
        from: ['PENDING', 'COUNTERED', 'STALE'],
      },
    ] as const;
    for (const op of OPS) for (const f of op.from) expect(canMove(BID_TRANSITIONS, f, op.to)).toBe(true);
    // One OPEN job per status, its bid brought there through the API.
    const setups: Record<string, (jobGid: string, b: string) => Promise<unknown>> = {
      PENDING: async () => {},
      COUNTERED: (_j, b) => counter(poster, b),
      STALE: (j) => t.gql(UPDATE, { j, i: { budget: 140 } }, poster.ownerKey),
      REJECTED: (_j, b) => t.gql(REJECT_BID, { b }, poster.ownerKey),
      WITHDRAWN: (_j, b) => t.gql(WITHDRAW_BID, { b }, outsider.key),
      EXPIRED: async (_j, b) => {
        await db().bid.update({ where: { id: raw(b) }, data: { expiresAt: new Date(Date.now() - 1000) } });
        await expireBids(db());
      },
      ACCEPTED: (_j, b) => t.gql(ACCEPT_BID, { b }, poster.ownerKey),
    };
    expect(Object.keys(setups).sort()).toEqual(Object.keys(BID_TRANSITIONS).sort());
    for (const [status, setup] of Object.entries(setups)) {
      const job = await postJobFixture(db(), poster, { visibility: 'PUBLIC' });
      const b = await bid(outsider, job.jobGid);
      await setup(job.jobGid, b);
      expect(await bidStatus(b)).toBe(status);
      for (const op of OPS) {
        if ((op.from as readonly string[]).includes(status)) continue;
        const before = await fingerprint(job.jobId, poster.workspaceId);
        const vars =
          op.name === 'counterBid'
            ? { i: { bidId: b, requestedCredits: 50, estimatedMinutes: 10, message: 'x' } }
            : { b };
        const res = await t.gql(op.doc, vars, op.key());
        expect(res.data?.[op.name]?.__typename, `${op.name} on a ${status} bid: ${JSON.stringify(res)}`).toBe(
          'InvalidStateError',
        );
        expect(await fingerprint(job.jobId, poster.workspaceId), `${op.name} on ${status}`).toEqual(before);
      }
    }
  });
});

// ───────────── jobs: every status, every forbidden operation ─────────────
describe('jobs', () => {
  it('in every job status, each operation that status does not allow is InvalidStateError and changes nothing', async () => {
    const { poster, own, outsider } = await world();
    /** Operation -> the statuses it starts from (each a source of its target in JOB_TRANSITIONS). */
    const OPS = [
      { name: 'cancelJob', to: 'CANCELLED', from: ['OPEN', 'ASSIGNED', 'IN_PROGRESS'] },
      { name: 'assignJob', to: 'ASSIGNED', from: ['OPEN'] },
      { name: 'offerJob', to: 'ASSIGNED', from: ['OPEN'] },
      { name: 'startExecution', to: 'IN_PROGRESS', from: ['ASSIGNED'] },
      { name: 'releaseJob', to: 'OPEN', from: ['ASSIGNED'] },
    ] as const;
    for (const op of OPS) for (const f of op.from) expect(canMove(JOB_TRANSITIONS, f, op.to), op.name).toBe(true);
    const run = (name: string, job: { jobGid: string }) => {
      switch (name) {
        case 'cancelJob':
          return t.gql(CANCEL, { j: job.jobGid }, poster.ownerKey);
        case 'assignJob':
          return t.gql(ASSIGN, { j: job.jobGid, a: own.agentGid }, poster.ownerKey);
        case 'offerJob':
          return t.gql(OFFER, { i: { jobId: job.jobGid, agentId: outsider.agentGid, credits: 10 } }, poster.ownerKey);
        case 'startExecution':
          return t.gql(START, { j: job.jobGid }, own.key);
        default:
          return t.gql(RELEASE, { j: job.jobGid }, own.key);
      }
    };
    const toStatus = async (status: string) => {
      const job = await postJobFixture(db(), poster, { visibility: 'PUBLIC' });
      if (status === 'OPEN') return job;
      if (status === 'EXPIRED') {
        await db().job.update({ where: { id: job.jobId }, data: { deadline: new Date(Date.now() - 1000) } });
        await expireJobs(db());
        return job;
      }
      expect(tn(await t.gql(ASSIGN, { j: job.jobGid, a: own.agentGid }, poster.ownerKey), 'assignJob')).toBe(
        'AssignJobPayload',
      );
      if (status === 'ASSIGNED') return job;
      const exe = (await t.gql(START, { j: job.jobGid }, own.key)).data.startExecution.execution.id;
      if (status === 'IN_PROGRESS') return job;
      if (status === 'CANCELLED') {
        await t.gql(CANCEL, { j: job.jobGid }, poster.ownerKey);
        return job;
      }
      await t.gql(SUBMIT, { e: exe }, own.key);
      if (status === 'REVIEW') return job;
      await t.gql(REVIEW, { e: exe, d: status === 'COMPLETED' ? 'ACCEPT' : 'REJECT' }, poster.ownerKey);
      return job;
    };
    for (const status of Object.keys(JOB_TRANSITIONS)) {
      const job = await toStatus(status);
      expect((await db().job.findUniqueOrThrow({ where: { id: job.jobId } })).status).toBe(status);
      for (const op of OPS) {
        if ((op.from as readonly string[]).includes(status)) continue;
        const before = await fingerprint(job.jobId, poster.workspaceId);
        const res = await run(op.name, job);
        // An agent's operation on a job it is not assigned to may be refused before the state is looked
        // at (ForbiddenError), or the job is not visible to it any more (an EXPIRED one: NotFoundError).
        const agentOp = op.name === 'releaseJob' || op.name === 'startExecution';
        const expected =
          agentOp && before.assigned !== own.agentId
            ? ['InvalidStateError', 'ForbiddenError', 'NotFoundError']
            : ['InvalidStateError'];
        expect(expected, `${op.name} on a ${status} job: ${JSON.stringify(res)}`).toContain(
          res.data?.[op.name]?.__typename,
        );
        expect(await fingerprint(job.jobId, poster.workspaceId), `${op.name} on ${status}`).toEqual(before);
      }
    }
  });

  it('the remaining job transitions: failure reopens, changes requested, resolve both ways', async () => {
    const { poster, own } = await world();
    const assigned = async () => {
      const job = await postJobFixture(db(), poster);
      await t.gql(ASSIGN, { j: job.jobGid, a: own.agentGid }, poster.ownerKey);
      const exe = (await t.gql(START, { j: job.jobGid }, own.key)).data.startExecution.execution.id as string;
      return { ...job, exe };
    };
    const open = await postJobFixture(db(), poster);
    expect(tn(await t.gql(CANCEL, { j: open.jobGid }, poster.ownerKey), 'cancelJob')).toBe('CancelJobPayload');
    const early = await postJobFixture(db(), poster);
    await t.gql(ASSIGN, { j: early.jobGid, a: own.agentGid }, poster.ownerKey);
    expect(tn(await t.gql(CANCEL, { j: early.jobGid }, poster.ownerKey), 'cancelJob')).toBe('CancelJobPayload');
    const a = await assigned();
    expect(tn(await t.gql(FAIL, { e: a.exe }, own.key), 'failExecution')).toBe('FailExecutionPayload'); // IN_PROGRESS -> OPEN
    const b = await assigned();
    await t.gql(SUBMIT, { e: b.exe }, own.key);
    await t.gql(REVIEW, { e: b.exe, d: 'REQUEST_CHANGES' }, poster.ownerKey); // REVIEW -> IN_PROGRESS
    const dispute = await t.gql(DISPUTE, { j: b.jobGid }, poster.ownerKey); // IN_PROGRESS -> DISPUTED
    const d1 = dispute.data.openDispute.dispute.id;
    expect(tn(await t.gql(RESOLVE, { d: d1, o: 'PAY_AGENT' }, ADMIN), 'resolveDispute')).toBe('ResolveDisputePayload');
    const c = await assigned();
    const d2 = (await t.gql(DISPUTE, { j: c.jobGid }, poster.ownerKey)).data.openDispute.dispute.id;
    expect(tn(await t.gql(RESOLVE, { d: d2, o: 'REFUND' }, ADMIN), 'resolveDispute')).toBe('ResolveDisputePayload');
  });
});

// ───────────── release, lapse, kill fee, contest ─────────────
describe('release, lapse, cancelling started work', () => {
  it('releaseJob: escrow back, releasedJobs+1, JobReleased; only the assigned agent, only ASSIGNED', async () => {
    const { poster, outsider } = await world();
    const start = await wallet(poster.workspaceId);
    const job = await postJobFixture(db(), poster, { visibility: 'PUBLIC' });
    const o = await offer(poster, job.jobGid, outsider, 100);
    await t.gql(ACCEPT_OFFER, { o }, outsider.key);
    expect(tn(await t.gql(RELEASE, { j: job.jobGid }, poster.ownerKey), 'releaseJob')).toBe('ForbiddenError');
    const res = await t.gql(RELEASE, { j: job.jobGid }, outsider.key);
    expect(tn(res, 'releaseJob')).toBe('ReleaseJobPayload');
    expect(await db().job.findUniqueOrThrow({ where: { id: job.jobId } })).toMatchObject({
      status: 'OPEN',
      assignedAgentId: null,
    });
    expect(await escrow(job.jobId)).toBe(0);
    expect(await wallet(poster.workspaceId)).toBe(start);
    const rep = await db().agentReputation.findUniqueOrThrow({ where: { agentId: outsider.agentId } });
    expect(rep.releasedJobs).toBe(1);
    expect(await db().outboxEvent.count({ where: { jobId: job.jobId, type: 'JobReleased' } })).toBe(1);
    expect((await db().agent.findUniqueOrThrow({ where: { id: outsider.agentId } })).activeJobCount).toBe(0);
  });

  it('cancelling IN_PROGRESS with killFeePercent 20 on 100 credits: agent +19 (fee 1), workspace +80, execution FAILED; contest within 72 h, not after', async () => {
    const { poster, outsider } = await world();
    const start = await wallet(poster.workspaceId);
    const run = async () => {
      const job = await postJobFixture(db(), poster, { visibility: 'PUBLIC', killFeePercent: 20 } as never);
      const o = await offer(poster, job.jobGid, outsider, 100);
      await t.gql(ACCEPT_OFFER, { o }, outsider.key);
      const exe = (await t.gql(START, { j: job.jobGid }, outsider.key)).data.startExecution.execution.id as string;
      return { ...job, exe };
    };
    const a = await run();
    const agentBefore = await agentBalance(outsider.agentId);
    expect(tn(await t.gql(CANCEL, { j: a.jobGid }, poster.ownerKey), 'cancelJob')).toBe('CancelJobPayload');
    expect(await agentBalance(outsider.agentId)).toBe(agentBefore + 19);
    expect(await wallet(poster.workspaceId)).toBe(start - 20);
    expect(await escrow(a.jobId)).toBe(0);
    expect((await db().execution.findUniqueOrThrow({ where: { id: raw(a.exe) } })).status).toBe('FAILED');
    expect((await db().job.findUniqueOrThrow({ where: { id: a.jobId } })).status).toBe('CANCELLED');
    // The agent contests: DISPUTED, the rest (80) held again.
    const contest = await t.gql(DISPUTE, { j: a.jobGid }, outsider.key);
    expect(tn(contest, 'openDispute')).toBe('OpenDisputePayload');
    expect((await db().job.findUniqueOrThrow({ where: { id: a.jobId } })).status).toBe('DISPUTED');
    expect(await escrow(a.jobId)).toBe(80);
    expect(await wallet(poster.workspaceId)).toBe(start - 100);
    // Resolved as REFUND, the cancellation stands; a second contest is refused (one per cancellation).
    const disputeId = contest.data.openDispute.dispute.id;
    expect(tn(await t.gql(RESOLVE, { d: disputeId, o: 'REFUND' }, ADMIN), 'resolveDispute')).toBe(
      'ResolveDisputePayload',
    );
    expect(await wallet(poster.workspaceId)).toBe(start - 20);
    const settled = await fingerprint(a.jobId, poster.workspaceId);
    expect(tn(await t.gql(DISPUTE, { j: a.jobGid }, outsider.key), 'openDispute')).toBe('InvalidStateError');
    expect(await fingerprint(a.jobId, poster.workspaceId)).toEqual(settled);
    // After 72 h: InvalidStateError, nothing changes.
    const b = await run();
    await t.gql(CANCEL, { j: b.jobGid }, poster.ownerKey);
    await db()
      .$executeRaw`UPDATE "Job" SET "cancelledInProgressAt" = now() - interval '73 hours' WHERE "id" = ${b.jobId}`;
    const before = await fingerprint(b.jobId, poster.workspaceId);
    expect(tn(await t.gql(DISPUTE, { j: b.jobGid }, outsider.key), 'openDispute')).toBe('InvalidStateError');
    expect(await fingerprint(b.jobId, poster.workspaceId)).toEqual(before);
    expect(await ledgerSum(db())).toBe(0n);
  });
});

// ───────────── timeouts from two database clients ─────────────
describe('timeouts swept by two processes at once', () => {
  it('lapseAssignments / expireOffers / expireInputRequests / expireBids from two clients: each row once, one event, one refund', async () => {
    const { poster, outsider, own } = await world(100_000);
    const second = await openDatabase({ url: t.db.url!, poolSize: 5 });
    try {
      const past = new Date(Date.now() - 60_000);
      const N = 8;
      const lapsing: string[] = [];
      const offering: string[] = [];
      const bidding: string[] = [];
      const asking: string[] = [];
      for (let i = 0; i < N; i++) {
        const j1 = await postJobFixture(db(), poster, { visibility: 'PUBLIC' });
        await t.gql(ASSIGN, { j: j1.jobGid, a: own.agentGid, c: 50 }, poster.ownerKey);
        lapsing.push(j1.jobId);
        const j2 = await postJobFixture(db(), poster, { visibility: 'PUBLIC' });
        offering.push(raw(await offer(poster, j2.jobGid, outsider, 30)));
        const j3 = await postJobFixture(db(), poster, { visibility: 'PUBLIC' });
        bidding.push(raw(await bid(outsider, j3.jobGid)));
        const j4 = await postJobFixture(db(), poster, { visibility: 'PUBLIC' });
        await t.gql(ASSIGN, { j: j4.jobGid, a: own.agentGid, c: 10 }, poster.ownerKey);
        const exe = (await t.gql(START, { j: j4.jobGid }, own.key)).data.startExecution.execution.id;
        const q = await t.gql(
          `mutation($e: ID!) { requestInput(executionId: $e, question: "Which?") { __typename ... on RequestInputPayload { inputRequest { id } } } }`,
          { e: exe },
          own.key,
        );
        asking.push(raw(q.data.requestInput.inputRequest.id));
      }
      await db().$executeRaw`UPDATE "Job" SET "startBy" = ${past} WHERE "id" = ANY(${lapsing}::text[])`;
      await db().$executeRaw`UPDATE "Offer" SET "expiresAt" = ${past} WHERE "id" = ANY(${offering}::text[])`;
      await db().$executeRaw`UPDATE "Bid" SET "expiresAt" = ${past} WHERE "id" = ANY(${bidding}::text[])`;
      await db().$executeRaw`UPDATE "InputRequest" SET "expiresAt" = ${past} WHERE "id" = ANY(${asking}::text[])`;
      const walletBefore = await wallet(poster.workspaceId);
      const clients = [db(), second.prisma];
      const counts = await Promise.all(
        clients.flatMap((c) => [lapseAssignments(c), expireOffers(c), expireBids(c), expireInputRequests(c)]),
      );
      // Per sweep, the two processes together moved each row exactly once.
      expect(counts[0]! + counts[4]!).toBe(N);
      expect(counts[1]! + counts[5]!).toBe(N);
      expect(counts[2]! + counts[6]!).toBe(N);
      expect(counts[3]! + counts[7]!).toBe(N);
      const count = (type: string) => db().outboxEvent.count({ where: { type } });
      expect(await db().outboxEvent.count({ where: { type: 'AssignmentLapsed', jobId: { in: lapsing } } })).toBe(N);
      expect(await count('OfferExpired')).toBeGreaterThanOrEqual(N);
      const offerEvents = await db().outboxEvent.findMany({ where: { type: 'OfferExpired' } });
      for (const id of offering) {
        expect(offerEvents.filter((e) => (e.payload as { offerId?: string }).offerId === id)).toHaveLength(1);
      }
      const bidEvents = await db().outboxEvent.findMany({ where: { type: 'BidExpired' } });
      for (const id of bidding) {
        expect(bidEvents.filter((e) => (e.payload as { bidId?: string }).bidId === id)).toHaveLength(1);
      }
      const inputEvents = await db().outboxEvent.findMany({ where: { type: 'InputExpired' } });
      expect(inputEvents).toHaveLength(N);
      // Refunds once: 8 lapsed × 50 + 8 expired offers × 30.
      expect(await wallet(poster.workspaceId)).toBe(walletBefore + N * 50 + N * 30);
      for (const id of lapsing) expect(await escrow(id)).toBe(0);
      expect(await db().inputRequest.count({ where: { id: { in: asking }, expiredAt: { not: null } } })).toBe(N);
      expect(
        await db().execution.count({ where: { inputRequests: { some: { id: { in: asking } } }, status: 'WORKING' } }),
      ).toBe(N);
      expect(await ledgerSum(db())).toBe(0n);
    } finally {
      await second.close();
    }
  });

  it('a lapse of an outside agent counts a no-show and tells it (AssignmentLapsed)', async () => {
    const { poster, outsider } = await world();
    const job = await postJobFixture(db(), poster, { visibility: 'PUBLIC' });
    const o = await offer(poster, job.jobGid, outsider, 100);
    await t.gql(ACCEPT_OFFER, { o }, outsider.key);
    await db().$executeRaw`UPDATE "Job" SET "startBy" = now() - interval '1 minute' WHERE "id" = ${job.jobId}`;
    expect(await lapseAssignments(db())).toBe(1);
    const rep = await db().agentReputation.findUniqueOrThrow({ where: { agentId: outsider.agentId } });
    expect(rep.noShows).toBe(1);
    const ev = await db().outboxEvent.findMany({ where: { jobId: job.jobId, type: 'AssignmentLapsed' } });
    expect(ev.map((e) => e.agentId)).toEqual([outsider.agentId]);
    expect(await escrow(job.jobId)).toBe(0);
  });
});

// ───────────── the race ─────────────
describe('50 racers on one OPEN job', () => {
  it('acceptBid / acceptCounter / acceptOffer / assignJob at once: one assignment, one hold, every other offer refunded', async () => {
    const start = 100_000;
    const { poster, other, own } = await world(start);
    const job = await postJobFixture(db(), poster, { visibility: 'PUBLIC', budget: 100 });
    const agents: Agent[] = [];
    for (let i = 0; i < 36; i++) agents.push(await createAgentFixture(db(), other));
    const racers: { kind: string; go: () => Promise<any>; credits: number; agentId: string }[] = [];
    for (let i = 0; i < 12; i++) {
      const a = agents[i]!;
      const b = await bid(a, job.jobGid, 50 + i);
      racers.push({
        kind: 'acceptBid',
        credits: 50 + i,
        agentId: a.agentId,
        go: () => t.gql(ACCEPT_BID, { b }, poster.ownerKey),
      });
    }
    for (let i = 12; i < 24; i++) {
      const a = agents[i]!;
      const b = await bid(a, job.jobGid, 90);
      await counter(poster, b, 40 + i);
      racers.push({
        kind: 'acceptCounter',
        credits: 40 + i,
        agentId: a.agentId,
        go: () => t.gql(ACCEPT_COUNTER, { b }, a.key),
      });
    }
    for (let i = 24; i < 36; i++) {
      const a = agents[i]!;
      const o = await offer(poster, job.jobGid, a, 70 + i);
      racers.push({
        kind: 'acceptOffer',
        credits: 70 + i,
        agentId: a.agentId,
        go: () => t.gql(ACCEPT_OFFER, { o }, a.key),
      });
    }
    for (let i = 0; i < 14; i++) {
      racers.push({
        kind: 'assignJob',
        credits: 100,
        agentId: own.agentId,
        go: () => t.gql(ASSIGN, { j: job.jobGid, a: own.agentGid, c: 100 }, poster.ownerKey),
      });
    }
    expect(racers).toHaveLength(50);
    const results = await Promise.all(racers.map((r) => r.go()));
    const types = results.map((r, i) => r.data?.[racers[i]!.kind]?.__typename ?? `errors ${JSON.stringify(r.errors)}`);
    const winners = types.flatMap((x, i) => (x.endsWith('Payload') ? [racers[i]!] : []));
    expect(winners, types.join(',')).toHaveLength(1);
    const losers = types.filter((x) => !x.endsWith('Payload'));
    expect(losers.filter((x) => !['InvalidStateError', 'ConflictError', 'NotEligibleError'].includes(x))).toEqual([]);
    const winner = winners[0]!;
    const j = await db().job.findUniqueOrThrow({ where: { id: job.jobId } });
    expect(j).toMatchObject({ status: 'ASSIGNED', assignedAgentId: winner.agentId, agreedCredits: winner.credits });
    expect(await escrow(job.jobId)).toBe(winner.credits);
    expect(await wallet(poster.workspaceId)).toBe(start - winner.credits);
    expect(await db().offer.count({ where: { jobId: job.jobId, status: 'PENDING' } })).toBe(0);
    const holds = await db().ledgerTransfer.count({ where: { jobId: job.jobId, kind: 'HOLD' } });
    const refunds = await db().ledgerTransfer.count({ where: { jobId: job.jobId, kind: 'REFUND' } });
    expect(holds - refunds).toBe(1);
    expect(await ledgerSum(db())).toBe(0n);
  });
});

// ───────────── bad input ─────────────
describe('bad input: typed errors, nothing changed', () => {
  it('offers, counters, messages, releases, kill fees', async () => {
    const { poster, outsider, other } = await world();
    const stranger = await createWorkspaceFixture(db());
    const job = await postJobFixture(db(), poster, { visibility: 'PUBLIC' });
    const strangerJob = await postJobFixture(db(), stranger, { visibility: 'PUBLIC' });
    const foreignBid = await bid(outsider, strangerJob.jobGid);
    const offline = await createAgentFixture(db(), other);
    await db().agent.update({ where: { id: offline.agentId }, data: { status: 'OFFLINE' } });
    const suspended = await createAgentFixture(db(), other);
    await db().agent.update({ where: { id: suspended.agentId }, data: { suspendedAt: new Date() } });
    const before = await fingerprint(job.jobId, poster.workspaceId);
    const offerWith = (extra: Record<string, unknown>, agent: Agent = outsider) =>
      t.gql(OFFER, { i: { jobId: job.jobGid, agentId: agent.agentGid, credits: 10, ...extra } }, poster.ownerKey);
    const path = (res: any, field: string) => res.data[field]?.issues?.map((i: { path: string[] }) => i.path.join('.'));
    expect(path(await offerWith({ credits: 0 }), 'offerJob')).toEqual(['input.credits']);
    expect(path(await offerWith({ credits: -5 }), 'offerJob')).toEqual(['input.credits']);
    expect(path(await offerWith({ expiresAt: new Date(Date.now() - 60_000).toISOString() }), 'offerJob')).toEqual([
      'input.expiresAt',
    ]);
    expect(tn(await offerWith({}, offline), 'offerJob')).toBe('NotEligibleError');
    expect(tn(await offerWith({}, suspended), 'offerJob')).toBe('NotEligibleError');
    const msg = (body: string) =>
      t.gql(MESSAGE, { i: { jobId: job.jobGid, agentId: outsider.agentGid, body } }, poster.ownerKey);
    expect(path(await msg(''), 'sendMessage')).toEqual(['input.body']);
    expect(path(await msg('   '), 'sendMessage')).toEqual(['input.body']);
    expect(path(await msg('x'.repeat(100_000)), 'sendMessage')).toEqual(['input.body']);
    expect(path(await msg('bell \u0007 here'), 'sendMessage')).toEqual(['input.body']);
    expect(path(await msg('nul \u0000 here'), 'sendMessage')).toEqual(['input.body']);
    // A bid of another workspace's job: not found for this poster.
    const foreign = await counter(poster, foreignBid);
    expect(tn(foreign, 'counterBid')).toMatch(/NotFoundError|ForbiddenError/);
    expect(await bidStatus(foreignBid)).toBe('PENDING');
    const own = await bid(outsider, job.jobGid);
    const zero = await t.gql(
      COUNTER,
      { i: { bidId: own, requestedCredits: 0, estimatedMinutes: 10, message: 'x' } },
      poster.ownerKey,
    );
    expect(path(zero, 'counterBid')).toEqual(['input.requestedCredits']);
    const after = await fingerprint(job.jobId, poster.workspaceId);
    expect({ ...after, bids: [], events: 0 }).toEqual({ ...before, bids: [], events: 0 });
    expect(await db().offer.count({ where: { jobId: job.jobId } })).toBe(0);
    expect(await db().message.count({ where: { jobId: job.jobId } })).toBe(0);
    // killFeePercent 101 at postJob and at updateJob.
    const POST = `mutation($i: PostJobInput!) { postJob(input: $i) { ${ERR} } }`;
    const posted = await t.gql(
      POST,
      { i: { title: 'Kill fee', description: 'x', budget: 10, requiredSkills: ['web-research'], killFeePercent: 101 } },
      poster.ownerKey,
    );
    expect(path(posted, 'postJob')).toEqual(['input.killFeePercent']);
    const upd = await t.gql(UPDATE, { j: job.jobGid, i: { killFeePercent: 101 } }, poster.ownerKey);
    expect(path(upd, 'updateJob')).toEqual(['input.killFeePercent']);
    expect((await db().job.findUniqueOrThrow({ where: { id: job.jobId } })).killFeePercent).toBe(20);
  });
});

// ───────────── messages ─────────────
describe('messages', () => {
  it('only the two parties see a thread: Job.messages, node(id), events', async () => {
    const { poster, outsider, other } = await world();
    const second = await createAgentFixture(db(), other);
    const stranger = await createWorkspaceFixture(db());
    const job = await postJobFixture(db(), poster, { visibility: 'PUBLIC' });
    const sent = await t.gql(
      MESSAGE,
      { i: { jobId: job.jobGid, agentId: outsider.agentGid, body: 'What format?' } },
      poster.ownerKey,
    );
    expect(tn(sent, 'sendMessage')).toBe('SendMessagePayload');
    const reply = await t.gql(MESSAGE, { i: { jobId: job.jobGid, body: 'Markdown please' } }, outsider.key);
    expect(tn(reply, 'sendMessage')).toBe('SendMessagePayload');
    const msgId = sent.data.sendMessage.msg.id;
    const THREAD = `query($j: ID!) { job(id: $j) { messages(first: 10) { edges { node { id body } } } } }`;
    const NODE = `query($id: ID!) { node(id: $id) { __typename id } }`;
    const bodies = async (key: string) =>
      ((await t.gql(THREAD, { j: job.jobGid }, key)).data?.job?.messages?.edges ?? []).map(
        (e: { node: { body: string } }) => e.node.body,
      );
    expect(await bodies(poster.ownerKey)).toEqual(['What format?', 'Markdown please']);
    expect(await bodies(outsider.key)).toEqual(['What format?', 'Markdown please']);
    expect(await bodies(second.key)).toEqual([]);
    expect(await bodies(stranger.ownerKey)).toEqual([]);
    expect(await bodies(other.ownerKey)).toEqual([]);
    expect((await t.gql(NODE, { id: msgId }, outsider.key)).data.node?.id).toBe(msgId);
    for (const key of [second.key, stranger.ownerKey, other.ownerKey]) {
      expect((await t.gql(NODE, { id: msgId }, key)).data?.node ?? null).toBeNull();
    }
    // Events: MessagePosted goes to the job's workspace and the thread's agent only.
    const events = await db().outboxEvent.findMany({ where: { jobId: job.jobId, type: 'MessagePosted' } });
    expect(events).toHaveLength(2);
    for (const e of events) expect(e.agentId).toBe(outsider.agentId);
  });
});

// ───────────── coverage of the tables ─────────────
describe('the walk covered every transition', () => {
  it('every JOB/BID/OFFER transition was reached through the API in this file', async () => {
    const jobEvents = await db().outboxEvent.findMany({ where: { type: 'JobStatusChanged' } });
    const jobReached = new Set(
      jobEvents.map((e) => {
        const p = e.payload as { from: string; to: string };
        return `${p.from}->${p.to}`;
      }),
    );
    expect(
      edges(JOB_TRANSITIONS).filter((e) => !jobReached.has(e)),
      'job transitions never reached',
    ).toEqual([]);
    expect(
      edges(BID_TRANSITIONS).filter((e) => !reached.bid.has(e)),
      'bid transitions never reached',
    ).toEqual([]);
    expect(
      edges(OFFER_TRANSITIONS).filter((e) => !reached.offer.has(e)),
      'offer transitions never reached',
    ).toEqual([]);
  });
});
