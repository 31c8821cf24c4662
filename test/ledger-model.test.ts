import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Db } from '../src/db/client.ts';
import { failExecution, reportProgress, startExecution, submitResult } from '../src/services/execution/executions.ts';
import { isDomainError } from '../src/services/kernel/errors.ts';
import { encodeId } from '../src/services/kernel/ids.ts';
import type { Viewer } from '../src/services/kernel/viewer.ts';
import { feeOf } from '../src/services/ledger/ledger.ts';
import { purchaseCredits, testPaymentProvider } from '../src/services/ledger/payments.ts';
import { acceptBid, acceptCounter, counterBid, placeBid } from '../src/services/marketplace/bids.ts';
import { assignJob, postJob } from '../src/services/marketplace/jobs.ts';
import {
  acceptOffer,
  declineOffer,
  expireOffers,
  offerJob,
  withdrawOffer,
} from '../src/services/marketplace/offers.ts';
import { lapseAssignments, releaseJob } from '../src/services/marketplace/timeouts.ts';
import { cancelJob } from '../src/services/settlement/cancellation.ts';
import { openDispute, resolveDispute } from '../src/services/settlement/disputes.ts';
import { reviewExecution } from '../src/services/settlement/reviews.ts';
import { createTestDatabase, type TestDatabase } from './support/app.ts';
import { createAgentFixture, createWorkspaceFixture, ownerViewer } from './support/factories.ts';

/**
 * Property test of the money: a seeded random run of domain operations against an in-memory model
 * of the balances every operation should produce. After every step the database must equal the
 * model exactly, and the sum over all accounts must be zero (credits only enter at `external`).
 * The run covers the whole deal: bids, counters, offers (held at once, refunded when declined,
 * withdrawn, expired or beaten), direct hires of the workspace's own agents, releases and lapses,
 * cancellations at every stage (a kill fee on started work) and the agent contesting them.
 * Replay a failure with LEDGER_SEED=<seed printed below>.
 */
// 5,000 on PostgreSQL (CI); fewer on the embedded single-connection PGlite, where it is ~4x slower.
const OPERATIONS = Number(process.env.LEDGER_OPS ?? (process.env.DATABASE_URL ? 5_000 : 1_500));
const SEED = Number(process.env.LEDGER_SEED ?? Math.floor(Math.random() * 2 ** 31));
const FEE_BPS = 500;
const POLICY = { feeBps: FEE_BPS, maxChangeRequests: 2 };

function mulberry32(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let tdb: TestDatabase;
beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(() => tdb.close());

type Status = 'OPEN' | 'ASSIGNED' | 'IN_PROGRESS' | 'REVIEW' | 'COMPLETED' | 'DISPUTED' | 'CANCELLED';
/** A bid as the model knows it (one row per job and agent, as in the database). */
interface ModelBid {
  id: string;
  agent: number;
  status: 'PENDING' | 'COUNTERED' | 'ACCEPTED' | 'REJECTED';
  price: number;
  counter: number;
}
interface ModelJob {
  id: string;
  ws: number;
  status: Status;
  agent: number | null;
  /** The credits agreed at assignment (what a kill fee and a contest are computed from). */
  agreed: number;
  killFeePercent: number;
  bids: ModelBid[];
  /** PENDING offers only: each one's credits are in the job's escrow. */
  offers: { id: string; agent: number; credits: number }[];
  execution: string | null;
  changes: number;
  cancelledInProgress: boolean;
  contested: boolean;
}

/** Every operation the run draws; each must have run at least once by the end. */
const OP_KINDS = [
  'purchase',
  'post',
  'bid',
  'accept',
  'counter',
  'accept-counter',
  'assign',
  'offer',
  'accept-offer',
  'decline',
  'withdraw',
  'expire',
  'cancel',
  'start',
  'release',
  'lapse',
  'progress',
  'submit',
  'fail',
  'dispute',
  'cancel-started',
  'contest',
  'accept-result',
  'changes',
  'reject',
  'resolve',
] as const;
type Op = (typeof OP_KINDS)[number];

it(`a seeded random run of ${OPERATIONS} operations keeps the ledger equal to the model (seed ${SEED})`, {
  timeout: 900_000,
}, async () => {
  console.log(`ledger model seed: ${SEED} (replay with LEDGER_SEED=${SEED})`);
  const db: Db = tdb.database.prisma;
  const rand = mulberry32(SEED);
  const int = (min: number, max: number) => min + Math.floor(rand() * (max - min + 1));
  const pick = <T>(items: T[]) => items[Math.floor(rand() * items.length)]!;

  const workspaces = await Promise.all([0, 1, 2].map(() => createWorkspaceFixture(db, { credits: 0 })));
  const owners: Viewer[] = workspaces.map(ownerViewer);
  // Agent i belongs to workspace i % 3 (workspace 0 owns two). The fixtures make them ONLINE, so
  // they may bid and receive offers; capacity is ample, so eligibility never refuses in this run.
  const agents = await Promise.all(
    [0, 1, 2, 3].map((i) =>
      createAgentFixture(db, workspaces[i % 3]!, { maxConcurrentJobs: 1_000, skills: ['web-research'] }),
    ),
  );
  const agentViewers: Viewer[] = agents.map((a, i) => ({
    kind: 'agent',
    agentId: a.agentId,
    workspaceId: workspaces[i % 3]!.workspaceId,
    apiKeyId: null,
  }));
  const ownAgents = (ws: number) => agents.map((_, i) => i).filter((i) => i % 3 === ws);

  const model = new Map<string, number>();
  const add = (key: string, delta: number) => model.set(key, (model.get(key) ?? 0) + delta);
  for (const w of workspaces) model.set(`workspace:${w.workspaceId}`, 0);
  for (const a of agents) model.set(`agent:${a.agentId}`, 0);
  const fees0 = Number((await db.ledgerAccount.findUniqueOrThrow({ where: { key: 'fees' } })).balance);
  const ext0 = Number((await db.ledgerAccount.findUniqueOrThrow({ where: { key: 'external' } })).balance);
  model.set('fees', fees0);
  model.set('external', ext0);
  let minted = 0;
  const jobs: ModelJob[] = [];
  const wsKey = (j: ModelJob) => `workspace:${workspaces[j.ws]!.workspaceId}`;
  const escrowKey = (j: ModelJob) => `escrow:${j.id}`;
  const jobGid = (j: ModelJob) => encodeId('Job', j.id);
  const pay = (j: ModelJob, sharePercent: number) => {
    const held = model.get(escrowKey(j)) ?? 0;
    const share = Math.floor((held * sharePercent) / 100);
    const fee = feeOf(share, FEE_BPS);
    add(`agent:${agents[j.agent!]!.agentId}`, share - fee);
    add('fees', fee);
    add(wsKey(j), held - share);
    model.set(escrowKey(j), 0);
  };
  const hold = (j: ModelJob, price: number) => {
    add(wsKey(j), -price);
    add(escrowKey(j), price);
  };
  const refundAll = (j: ModelJob) => {
    add(wsKey(j), model.get(escrowKey(j))!);
    model.set(escrowKey(j), 0);
  };
  const refundOffer = (j: ModelJob, offerId: string) => {
    const offer = j.offers.find((o) => o.id === offerId)!;
    hold(j, -offer.credits);
    j.offers = j.offers.filter((o) => o.id !== offerId);
  };
  /** Leaving OPEN rejects every live bid but the winner and withdraws every pending offer (refunded). */
  const closeDealing = (j: ModelJob, keepOfferId: string | null) => {
    for (const b of j.bids) if (b.status === 'PENDING' || b.status === 'COUNTERED') b.status = 'REJECTED';
    for (const o of [...j.offers]) if (o.id !== keepOfferId) refundOffer(j, o.id);
    j.offers = [];
  };
  /**
   * An assignment that holds new credits (bid, counter, direct hire): the job's pending offers are
   * withdrawn (refunded) before the hold in the same transaction, so their credits count; short of
   * that, InsufficientCreditsError and nothing changes.
   */
  const assignModel = async (j: ModelJob, call: Promise<unknown>, agent: number, credits: number, bid?: ModelBid) => {
    const pendingOffers = j.offers.reduce((s, o) => s + o.credits, 0);
    if (model.get(wsKey(j))! + pendingOffers < credits) return expectFailure(call, 'InsufficientCreditsError');
    await call;
    closeDealing(j, null);
    if (bid) bid.status = 'ACCEPTED';
    hold(j, credits);
    j.status = 'ASSIGNED';
    j.agent = agent;
    j.agreed = credits;
  };
  const reopen = (j: ModelJob) => {
    refundAll(j);
    j.status = 'OPEN';
    j.agent = null;
    j.execution = null;
  };
  /** Expected refusals by error name (printed, to show the failure paths ran too). */
  const refused: Record<string, number> = {};
  const expectFailure = async (promise: Promise<unknown>, name: string) => {
    const error = await promise.then(
      () => null,
      (e) => e,
    );
    expect(isDomainError(error) ? error.name : String(error), `seed ${SEED}`).toBe(name);
    refused[name] = (refused[name] ?? 0) + 1;
  };
  const jobsIn = (...statuses: Status[]) => jobs.filter((j) => statuses.includes(j.status));
  const openBids = (...statuses: ModelBid['status'][]) =>
    jobsIn('OPEN').flatMap((j) => j.bids.filter((b) => statuses.includes(b.status)).map((b) => ({ j, b })));
  const pendingOffers = () => jobsIn('OPEN').flatMap((j) => j.offers.map((o) => ({ j, o })));
  const contestable = () => jobs.filter((j) => j.status === 'CANCELLED' && j.cancelledInProgress && !j.contested);

  const counts: Record<string, number> = {};
  for (let step = 0; step < OPERATIONS; step++) {
    const ops: Op[] = ['purchase', 'purchase', 'post'];
    if (jobsIn('OPEN', 'ASSIGNED').length) ops.push('cancel');
    if (jobsIn('OPEN').length) ops.push('bid', 'assign', 'offer', 'offer');
    if (openBids('PENDING').length) ops.push('accept', 'counter');
    if (openBids('COUNTERED').length) ops.push('accept-counter');
    if (pendingOffers().length) ops.push('accept-offer', 'decline', 'withdraw', 'expire');
    if (jobsIn('ASSIGNED').length) ops.push('start', 'start', 'release', 'lapse');
    if (jobsIn('IN_PROGRESS').length) ops.push('progress', 'submit', 'fail', 'dispute', 'cancel-started');
    if (jobsIn('REVIEW').length) ops.push('accept-result', 'accept-result', 'changes', 'reject');
    if (jobsIn('DISPUTED').length) ops.push('resolve', 'resolve');
    if (contestable().length) ops.push('contest');
    const op = pick(ops);
    counts[op] = (counts[op] ?? 0) + 1;

    switch (op) {
      case 'purchase': {
        const w = int(0, 2);
        const amount = int(1, 400);
        await purchaseCredits(db, owners[w]!, { amount, idempotencyKey: `p-${SEED}-${step}` }, testPaymentProvider);
        add(`workspace:${workspaces[w]!.workspaceId}`, amount);
        add('external', -amount);
        minted += amount;
        break;
      }
      case 'post': {
        const w = int(0, 2);
        const killFeePercent = int(0, 100);
        const job = await postJob(
          db,
          owners[w]!,
          {
            title: `job ${step}`,
            description: 'model run',
            budget: int(1, 300),
            visibility: 'PUBLIC',
            requiredSkills: ['web-research'],
            killFeePercent,
          },
          { autoApproveHours: 72 },
        );
        jobs.push({
          id: job.id,
          ws: w,
          status: 'OPEN',
          agent: null,
          agreed: 0,
          killFeePercent,
          bids: [],
          offers: [],
          execution: null,
          changes: 0,
          cancelledInProgress: false,
          contested: false,
        });
        model.set(`escrow:${job.id}`, 0);
        break;
      }
      case 'bid': {
        const j = pick(jobsIn('OPEN'));
        const a = int(0, 3);
        const price = int(1, 300);
        const bid = await placeBid(db, agentViewers[a]!, {
          jobId: jobGid(j),
          message: 'bid',
          estimatedMinutes: int(1, 60),
          requestedCredits: price,
        });
        // Bidding again replaces the terms (and any counter) on the same row.
        const known = j.bids.find((b) => b.agent === a);
        if (known) Object.assign(known, { status: 'PENDING', price, counter: 0 });
        else j.bids.push({ id: bid.id, agent: a, status: 'PENDING', price, counter: 0 });
        break;
      }
      case 'accept': {
        const { j, b } = pick(openBids('PENDING'));
        await assignModel(j, acceptBid(db, owners[j.ws]!, encodeId('Bid', b.id)), b.agent, b.price, b);
        break;
      }
      case 'counter': {
        const { b } = pick(openBids('PENDING', 'COUNTERED'));
        const credits = int(1, 300);
        await counterBid(db, owners[jobs.find((j) => j.bids.includes(b))!.ws]!, {
          bidId: encodeId('Bid', b.id),
          requestedCredits: credits,
          estimatedMinutes: int(1, 60),
        });
        b.status = 'COUNTERED';
        b.counter = credits;
        break;
      }
      case 'accept-counter': {
        const { j, b } = pick(openBids('COUNTERED'));
        await assignModel(j, acceptCounter(db, agentViewers[b.agent]!, encodeId('Bid', b.id)), b.agent, b.counter, b);
        break;
      }
      case 'assign': {
        // Direct hire: only an agent the posting workspace owns.
        const j = pick(jobsIn('OPEN'));
        const a = pick(ownAgents(j.ws));
        const price = int(1, 300);
        const call = assignJob(db, owners[j.ws]!, { jobId: jobGid(j), agentId: agents[a]!.agentGid, credits: price });
        await assignModel(j, call, a, price);
        break;
      }
      case 'offer': {
        const j = pick(jobsIn('OPEN'));
        const a = int(0, 3);
        const credits = int(1, 300);
        const call = offerJob(db, owners[j.ws]!, { jobId: jobGid(j), agentId: agents[a]!.agentGid, credits });
        if (j.offers.some((o) => o.agent === a)) await expectFailure(call, 'ConflictError');
        else if (model.get(wsKey(j))! < credits) await expectFailure(call, 'InsufficientCreditsError');
        else {
          const offer = await call;
          hold(j, credits);
          j.offers.push({ id: offer.id, agent: a, credits });
        }
        break;
      }
      case 'accept-offer': {
        const { j, o } = pick(pendingOffers());
        await acceptOffer(db, agentViewers[o.agent]!, encodeId('Offer', o.id));
        // The offer's credits were held when it was made: the escrow keeps exactly them.
        closeDealing(j, o.id);
        j.status = 'ASSIGNED';
        j.agent = o.agent;
        j.agreed = o.credits;
        break;
      }
      case 'decline': {
        const { j, o } = pick(pendingOffers());
        await declineOffer(db, agentViewers[o.agent]!, encodeId('Offer', o.id), 'not now');
        refundOffer(j, o.id);
        break;
      }
      case 'withdraw': {
        const { j, o } = pick(pendingOffers());
        await withdrawOffer(db, owners[j.ws]!, encodeId('Offer', o.id));
        refundOffer(j, o.id);
        break;
      }
      case 'expire': {
        const { j, o } = pick(pendingOffers());
        await db.offer.update({ where: { id: o.id }, data: { expiresAt: new Date(Date.now() - 60_000) } });
        expect(await expireOffers(db), `seed ${SEED}`).toBe(1);
        refundOffer(j, o.id);
        break;
      }
      case 'cancel': {
        // OPEN (pending offers withdrawn, all held credits back) or ASSIGNED (escrow back).
        const j = pick(jobsIn('OPEN', 'ASSIGNED'));
        await cancelJob(db, owners[j.ws]!, jobGid(j), { feeBps: FEE_BPS });
        closeDealing(j, null);
        refundAll(j);
        j.status = 'CANCELLED';
        break;
      }
      case 'start': {
        const j = pick(jobsIn('ASSIGNED'));
        const e = await startExecution(db, agentViewers[j.agent!]!, jobGid(j));
        j.execution = e.id;
        j.status = 'IN_PROGRESS';
        break;
      }
      case 'release': {
        const j = pick(jobsIn('ASSIGNED'));
        await releaseJob(db, agentViewers[j.agent!]!, jobGid(j), 'model release');
        reopen(j);
        break;
      }
      case 'lapse': {
        const j = pick(jobsIn('ASSIGNED'));
        await db.job.update({ where: { id: j.id }, data: { startBy: new Date(Date.now() - 60_000) } });
        expect(await lapseAssignments(db), `seed ${SEED}`).toBe(1);
        reopen(j);
        break;
      }
      case 'progress': {
        const j = pick(jobsIn('IN_PROGRESS'));
        await reportProgress(db, agentViewers[j.agent!]!, encodeId('Execution', j.execution!), {
          progress: int(0, 100),
          step: { message: `step ${step}` },
        });
        break;
      }
      case 'submit': {
        const j = pick(jobsIn('IN_PROGRESS'));
        await submitResult(db, agentViewers[j.agent!]!, encodeId('Execution', j.execution!), { result: { step } });
        j.status = 'REVIEW';
        break;
      }
      case 'fail': {
        const j = pick(jobsIn('IN_PROGRESS'));
        await failExecution(db, agentViewers[j.agent!]!, encodeId('Execution', j.execution!), 'model failure');
        reopen(j);
        break;
      }
      case 'dispute': {
        const j = pick(jobsIn('IN_PROGRESS'));
        await openDispute(db, rand() < 0.5 ? owners[j.ws]! : agentViewers[j.agent!]!, jobGid(j), 'model dispute');
        j.status = 'DISPUTED';
        break;
      }
      case 'cancel-started': {
        // The kill fee: the job's killFeePercent of the escrow to the agent (minus the fee), the rest back.
        const j = pick(jobsIn('IN_PROGRESS'));
        await cancelJob(db, owners[j.ws]!, jobGid(j), { feeBps: FEE_BPS });
        pay(j, j.killFeePercent);
        j.status = 'CANCELLED';
        j.cancelledInProgress = true;
        break;
      }
      case 'contest': {
        // What the kill fee did not pay is held again, as much as the poster's wallet has.
        const j = pick(contestable());
        await openDispute(db, agentViewers[j.agent!]!, jobGid(j), 'model contest');
        const rest = j.agreed - Math.floor((j.agreed * j.killFeePercent) / 100);
        const amount = Math.min(rest, model.get(wsKey(j))!);
        if (amount > 0) hold(j, amount);
        j.status = 'DISPUTED';
        j.contested = true;
        break;
      }
      case 'accept-result': {
        const j = pick(jobsIn('REVIEW'));
        await reviewExecution(
          db,
          owners[j.ws]!,
          encodeId('Execution', j.execution!),
          { decision: 'ACCEPT', rating: int(1, 5) },
          POLICY,
        );
        pay(j, 100);
        j.status = 'COMPLETED';
        break;
      }
      case 'changes': {
        const j = pick(jobsIn('REVIEW'));
        const call = reviewExecution(
          db,
          owners[j.ws]!,
          encodeId('Execution', j.execution!),
          { decision: 'REQUEST_CHANGES', notes: 'more' },
          POLICY,
        );
        if (j.changes < POLICY.maxChangeRequests) {
          await call;
          j.changes++;
          j.status = 'IN_PROGRESS';
        } else await expectFailure(call, 'InvalidStateError');
        break;
      }
      case 'reject': {
        const j = pick(jobsIn('REVIEW'));
        await reviewExecution(
          db,
          owners[j.ws]!,
          encodeId('Execution', j.execution!),
          { decision: 'REJECT', notes: 'no' },
          POLICY,
        );
        j.status = 'DISPUTED';
        break;
      }
      case 'resolve': {
        // A dispute on work in progress or review, or a contested cancellation (whose escrow may be empty).
        const j = pick(jobsIn('DISPUTED'));
        const dispute = await db.dispute.findFirstOrThrow({ where: { jobId: j.id, status: 'OPEN' } });
        const outcome = pick(['PAY_AGENT', 'REFUND', 'SPLIT'] as const);
        const pct = outcome === 'PAY_AGENT' ? 100 : outcome === 'REFUND' ? 0 : int(0, 100);
        await resolveDispute(
          db,
          owners[j.ws]!,
          encodeId('Dispute', dispute.id),
          { outcome, agentSharePercent: pct },
          POLICY,
        );
        pay(j, pct);
        j.status = pct > 0 ? 'COMPLETED' : 'CANCELLED';
        break;
      }
    }

    // After every step: every modelled account equals the database, and the books balance.
    const rows = await db.ledgerAccount.findMany({ select: { key: true, balance: true } });
    const actual = new Map(rows.map((r) => [r.key, Number(r.balance)]));
    for (const [key, expected] of model) {
      if ((actual.get(key) ?? 0) !== expected) {
        throw new Error(
          `seed ${SEED}, step ${step} (${op}): ${key} is ${actual.get(key) ?? 0}, model says ${expected}`,
        );
      }
    }
    const sum = rows.reduce((s, r) => s + Number(r.balance), 0);
    if (sum !== 0) throw new Error(`seed ${SEED}, step ${step} (${op}): accounts sum to ${sum}, not 0`);
    if (-(actual.get('external')! - ext0) !== minted) throw new Error(`seed ${SEED}, step ${step}: minted mismatch`);
  }
  console.log(
    `ledger model: ${OPERATIONS} operations ${JSON.stringify(counts)}; expected refusals ${JSON.stringify(refused)}; ${jobs.length} jobs; minted ${minted}`,
  );
  expect(
    OP_KINDS.filter((k) => !counts[k]),
    `seed ${SEED}: operation kinds that never ran`,
  ).toEqual([]);
});
