import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Db } from '../src/db/client.ts';
import { failExecution, reportProgress, startExecution, submitResult } from '../src/services/execution/executions.ts';
import { isDomainError } from '../src/services/kernel/errors.ts';
import { encodeId } from '../src/services/kernel/ids.ts';
import type { Viewer } from '../src/services/kernel/viewer.ts';
import { feeOf } from '../src/services/ledger/ledger.ts';
import { purchaseCredits, testPaymentProvider } from '../src/services/ledger/payments.ts';
import { acceptBid, placeBid } from '../src/services/marketplace/bids.ts';
import { assignJob, postJob } from '../src/services/marketplace/jobs.ts';
import { cancelJob } from '../src/services/settlement/cancellation.ts';
import { openDispute, resolveDispute } from '../src/services/settlement/disputes.ts';
import { reviewExecution } from '../src/services/settlement/reviews.ts';
import { createTestDatabase, type TestDatabase } from './support/app.ts';
import { createAgentFixture, createWorkspaceFixture, ownerViewer } from './support/factories.ts';

/**
 * Property test of the money: a seeded random run of domain operations against an in-memory model
 * of the balances every operation should produce. After every step the database must equal the
 * model exactly, and the sum over all accounts must be zero (credits only enter at `external`).
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
interface ModelJob {
  id: string;
  ws: number;
  status: Status;
  agent: number | null;
  bidder: number | null;
  bidPrice: number;
  execution: string | null;
  changes: number;
}

it(`a seeded random run of ${OPERATIONS} operations keeps the ledger equal to the model (seed ${SEED})`, {
  timeout: 600_000,
}, async () => {
  console.log(`ledger model seed: ${SEED} (replay with LEDGER_SEED=${SEED})`);
  const db: Db = tdb.database.prisma;
  const rand = mulberry32(SEED);
  const int = (min: number, max: number) => min + Math.floor(rand() * (max - min + 1));
  const pick = <T>(items: T[]) => items[Math.floor(rand() * items.length)]!;

  const workspaces = await Promise.all([0, 1, 2].map(() => createWorkspaceFixture(db, { credits: 0 })));
  const owners: Viewer[] = workspaces.map(ownerViewer);
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
  const expectFailure = async (promise: Promise<unknown>, name: string) => {
    const error = await promise.then(
      () => null,
      (e) => e,
    );
    expect(isDomainError(error) ? error.name : String(error), `seed ${SEED}`).toBe(name);
  };
  const jobsIn = (...statuses: Status[]) => jobs.filter((j) => statuses.includes(j.status));

  const counts: Record<string, number> = {};
  for (let step = 0; step < OPERATIONS; step++) {
    const ops: string[] = ['purchase', 'post'];
    if (jobsIn('OPEN').length) ops.push('bid', 'accept', 'assign', 'cancel');
    if (jobsIn('ASSIGNED').length) ops.push('start', 'cancel');
    if (jobsIn('IN_PROGRESS').length) ops.push('progress', 'submit', 'fail', 'dispute');
    if (jobsIn('REVIEW').length) ops.push('accept-result', 'accept-result', 'changes', 'reject');
    if (jobsIn('DISPUTED').length) ops.push('resolve', 'resolve');
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
        const job = await postJob(
          db,
          owners[w]!,
          {
            title: `job ${step}`,
            description: 'model run',
            budget: int(1, 300),
            visibility: 'PUBLIC',
            requiredSkills: ['web-research'],
          },
          { autoApproveHours: 72 },
        );
        jobs.push({
          id: job.id,
          ws: w,
          status: 'OPEN',
          agent: null,
          bidder: null,
          bidPrice: 0,
          execution: null,
          changes: 0,
        });
        model.set(`escrow:${job.id}`, 0);
        break;
      }
      case 'bid': {
        const j = pick(jobsIn('OPEN'));
        const a = int(0, 3);
        const price = int(1, 300);
        await placeBid(db, agentViewers[a]!, {
          jobId: encodeId('Job', j.id),
          message: 'bid',
          estimatedMinutes: int(1, 60),
          requestedCredits: price,
        });
        if (j.bidder === null || j.bidder === a) {
          j.bidder = a;
          j.bidPrice = price;
        }
        break;
      }
      case 'accept':
      case 'assign': {
        const j = pick(jobsIn('OPEN'));
        const available = model.get(wsKey(j))!;
        if (op === 'accept' && j.bidder !== null) {
          const bid = await db.bid.findUniqueOrThrow({
            where: { jobId_agentId: { jobId: j.id, agentId: agents[j.bidder]!.agentId } },
          });
          const call = acceptBid(db, owners[j.ws]!, encodeId('Bid', bid.id));
          if (available >= j.bidPrice) {
            await call;
            hold(j, j.bidPrice);
            j.status = 'ASSIGNED';
            j.agent = j.bidder;
          } else await expectFailure(call, 'InsufficientCreditsError');
        } else {
          const a = int(0, 3);
          const price = int(1, 300);
          const call = assignJob(db, owners[j.ws]!, {
            jobId: encodeId('Job', j.id),
            agentId: agents[a]!.agentGid,
            credits: price,
          });
          if (available >= price) {
            await call;
            hold(j, price);
            j.status = 'ASSIGNED';
            j.agent = a;
          } else await expectFailure(call, 'InsufficientCreditsError');
        }
        break;
      }
      case 'cancel': {
        const j = pick(jobsIn('OPEN', 'ASSIGNED'));
        await cancelJob(db, owners[j.ws]!, encodeId('Job', j.id), { feeBps: FEE_BPS });
        add(wsKey(j), model.get(escrowKey(j))!);
        model.set(escrowKey(j), 0);
        j.status = 'CANCELLED';
        break;
      }
      case 'start': {
        const j = pick(jobsIn('ASSIGNED'));
        const e = await startExecution(db, agentViewers[j.agent!]!, encodeId('Job', j.id));
        j.execution = e.id;
        j.status = 'IN_PROGRESS';
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
        add(wsKey(j), model.get(escrowKey(j))!);
        model.set(escrowKey(j), 0);
        j.status = 'OPEN';
        j.agent = null;
        j.bidder = null;
        j.execution = null;
        break;
      }
      case 'dispute': {
        const j = pick(jobsIn('IN_PROGRESS'));
        await openDispute(
          db,
          rand() < 0.5 ? owners[j.ws]! : agentViewers[j.agent!]!,
          encodeId('Job', j.id),
          'model dispute',
        );
        j.status = 'DISPUTED';
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
    `ledger model: ${OPERATIONS} operations ${JSON.stringify(counts)}; ${jobs.length} jobs; minted ${minted}`,
  );
  expect(Object.keys(counts).length).toBeGreaterThanOrEqual(12);
});
