import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ledgerSum } from '../src/services/ledger/ledger.ts';
import { BADGES, badgesFor, computeScores } from '../src/services/reputation/reputation.ts';
import { autoApprove } from '../src/services/settlement/reviews.ts';
import { createTestApp, type TestApp } from './support/app.ts';
import {
  createAgentFixture,
  createWorkspaceFixture,
  postJobFixture,
  type WorkspaceFixture,
} from './support/factories.ts';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ config: { PLATFORM_ADMIN_KEY: 'platform-secret-key', PLATFORM_FEE_BPS: 500 } });
});
afterAll(() => t.close());
const db = () => t.app.db.prisma;

const WALLET = `{ wallet { balance held available entries(first: 50) { edges { node { kind amount from to } } } } }`;
const ASSIGN = `mutation($j: ID!, $a: ID!, $c: Int, $k: String) { assignJob(jobId: $j, agentId: $a, credits: $c, idempotencyKey: $k) {
  __typename ... on InsufficientCreditsError { available required } ... on Error { message } } }`;
const START = `mutation($j: ID!) { startExecution(jobId: $j) { ... on StartExecutionPayload { execution { id } } } }`;
const SUBMIT = `mutation($e: ID!) { submitResult(executionId: $e, result: { ok: true }) { __typename } }`;
const REVIEW = `mutation($e: ID!, $d: ReviewDecision!, $r: Int, $n: String, $k: String) { reviewExecution(executionId: $e, decision: $d, rating: $r, notes: $n, idempotencyKey: $k) {
  __typename ... on ReviewExecutionPayload { job { status } } ... on InvalidStateError { currentStatus } ... on Error { message } } }`;

async function balances(ws: WorkspaceFixture, agentId: string, jobId: string) {
  const rows = await db().ledgerAccount.findMany({
    where: { key: { in: [`workspace:${ws.workspaceId}`, `agent:${agentId}`, `escrow:${jobId}`, 'fees'] } },
  });
  const by = Object.fromEntries(rows.map((r) => [r.key.split(':')[0], Number(r.balance)]));
  return { workspace: by.workspace ?? 0, agent: by.agent ?? 0, escrow: by.escrow ?? 0, fees: by.fees ?? 0 };
}

/**
 * Hires an agent of another workspace (offerJob + acceptOffer: assignJob is only for the
 * workspace's own agents), starts and submits the job; returns the execution id.
 */
async function toReview(
  ws: WorkspaceFixture,
  agent: { agentId: string; key: string },
  jobGid: string,
  credits: number,
) {
  const OFFER = `mutation($j: ID!, $a: ID!, $c: Int!) { offerJob(input: { jobId: $j, agentId: $a, credits: $c }) {
    __typename ... on OfferJobPayload { offer { id } } } }`;
  const offered = await t.gql(OFFER, { j: jobGid, a: `agt_${agent.agentId}`, c: credits }, ws.ownerKey);
  expect(offered.data.offerJob.__typename).toBe('OfferJobPayload');
  const ACCEPT = `mutation($o: ID!) { acceptOffer(offerId: $o) { __typename } }`;
  const accepted = await t.gql(ACCEPT, { o: offered.data.offerJob.offer.id }, agent.key);
  expect(accepted.data.acceptOffer.__typename).toBe('AcceptOfferPayload');
  const exe = (await t.gql(START, { j: jobGid }, agent.key)).data.startExecution.execution.id;
  expect((await t.gql(SUBMIT, { e: exe }, agent.key)).data.submitResult.__typename).toBe('SubmitResultPayload');
  return exe as string;
}

describe('escrow and payment', () => {
  it('assignment holds, acceptance pays the agent minus the 5% fee; the wallet shows every entry', async () => {
    const ws = await createWorkspaceFixture(db(), { credits: 1_000 });
    const other = await createWorkspaceFixture(db(), { credits: 0 });
    const agent = await createAgentFixture(db(), other);
    const { jobGid, jobId } = await postJobFixture(db(), ws, { visibility: 'PUBLIC' });
    const exe = await toReview(ws, agent, jobGid, 101);
    expect(await balances(ws, agent.agentId, jobId)).toMatchObject({ workspace: 899, escrow: 101, agent: 0 });
    const wallet = (await t.gql(WALLET, {}, ws.ownerKey)).data.wallet;
    expect(wallet).toMatchObject({ balance: 1000, held: 101, available: 899 });

    const feesBefore = (await balances(ws, agent.agentId, jobId)).fees;
    const res = await t.gql(REVIEW, { e: exe, d: 'ACCEPT', r: 5, n: 'great' }, ws.ownerKey);
    expect(res.data.reviewExecution.job.status).toBe('COMPLETED');
    const after = await balances(ws, agent.agentId, jobId);
    // floor(101 × 500 / 10000) = 5 credits fee; 96 to the agent; nothing created or lost.
    expect(after).toMatchObject({ workspace: 899, escrow: 0, agent: 96 });
    expect(after.fees - feesBefore).toBe(5);
    const agentWallet = (await t.gql(WALLET, {}, agent.key)).data.wallet;
    expect(agentWallet).toMatchObject({ balance: 96, available: 96, held: 0 });
    expect(agentWallet.entries.edges[0].node).toMatchObject({
      kind: 'RELEASE',
      amount: 96,
      to: `agent:${agent.agentId}`,
    });
    const rep = await db().agentReputation.findUniqueOrThrow({ where: { agentId: agent.agentId } });
    expect(rep).toMatchObject({ completedJobs: 1, ratingCount: 1, ratingSum: 5 });
    expect(await ledgerSum(db())).toBe(0n);
  });

  it('no hold, no assignment: a short wallet gets InsufficientCreditsError and the job stays OPEN', async () => {
    const ws = await createWorkspaceFixture(db(), { credits: 50 });
    const agent = await createAgentFixture(db(), ws);
    const { jobGid, jobId } = await postJobFixture(db(), ws);
    const res = await t.gql(ASSIGN, { j: jobGid, a: agent.agentGid, c: 80 }, ws.ownerKey);
    expect(res.data.assignJob).toMatchObject({ __typename: 'InsufficientCreditsError', available: 50, required: 80 });
    const job = await db().job.findUniqueOrThrow({ where: { id: jobId } });
    expect(job).toMatchObject({ status: 'OPEN', assignedAgentId: null });
    expect((await db().agent.findUniqueOrThrow({ where: { id: agent.agentId } })).activeJobCount).toBe(0);
  });

  it('200 concurrent holds of 10 credits against a wallet of 1,000: exactly 100 succeed', async () => {
    const ws = await createWorkspaceFixture(db(), { credits: 1_000 });
    const agent = await createAgentFixture(db(), ws, { maxConcurrentJobs: 1_000 });
    const jobs = [];
    for (let i = 0; i < 200; i++) jobs.push(await postJobFixture(db(), ws, { budget: 10 }));
    // 200 writes on one wallet queue behind its row lock. A request that waited too long for a pooled
    // connection answers SERVICE_UNAVAILABLE before its transaction began; a client retries it.
    const assign = async (jobGid: string) => {
      for (let attempt = 0; ; attempt++) {
        const res = await t.gql(ASSIGN, { j: jobGid, a: agent.agentGid, c: 10 }, ws.ownerKey);
        if (res.errors?.[0]?.extensions?.code !== 'SERVICE_UNAVAILABLE' || attempt === 5) return res;
        await new Promise((r) => setTimeout(r, 1_000));
      }
    };
    const results = await Promise.all(jobs.map((j) => assign(j.jobGid)));
    const types = results.map((r) => r.data?.assignJob?.__typename ?? JSON.stringify(r.errors));
    expect(types.filter((x) => x === 'AssignJobPayload')).toHaveLength(100);
    expect(types.filter((x) => x === 'InsufficientCreditsError')).toHaveLength(100);
    const wallet = (await t.gql(WALLET, {}, ws.ownerKey)).data.wallet;
    expect(wallet).toMatchObject({ available: 0, held: 1_000, balance: 1_000 });
    const negative = await db().ledgerAccount.count({ where: { kind: { not: 'EXTERNAL' }, balance: { lt: 0 } } });
    expect(negative).toBe(0);
    expect(await db().job.count({ where: { id: { in: jobs.map((j) => j.jobId) }, status: 'ASSIGNED' } })).toBe(100);
    expect(await ledgerSum(db())).toBe(0n);
  });

  it('cancellation refunds; a failed execution refunds and reopens the job', async () => {
    const ws = await createWorkspaceFixture(db(), { credits: 500 });
    const agent = await createAgentFixture(db(), ws);
    const a = await postJobFixture(db(), ws);
    await t.gql(ASSIGN, { j: a.jobGid, a: agent.agentGid, c: 100 }, ws.ownerKey);
    await t.gql(`mutation($id: ID!) { cancelJob(id: $id) { __typename } }`, { id: a.jobGid }, ws.ownerKey);
    expect(await balances(ws, agent.agentId, a.jobId)).toMatchObject({ workspace: 500, escrow: 0 });

    const b = await postJobFixture(db(), ws);
    await t.gql(ASSIGN, { j: b.jobGid, a: agent.agentGid, c: 120 }, ws.ownerKey);
    const exe = (await t.gql(START, { j: b.jobGid }, agent.key)).data.startExecution.execution.id;
    const failed = await t.gql(
      `mutation($e: ID!) { failExecution(executionId: $e, reason: "blocked") { __typename } }`,
      { e: exe },
      agent.key,
    );
    expect(failed.data.failExecution.__typename).toBe('FailExecutionPayload');
    expect(await balances(ws, agent.agentId, b.jobId)).toMatchObject({ workspace: 500, escrow: 0, agent: 0 });
    expect((await db().job.findUniqueOrThrow({ where: { id: b.jobId } })).status).toBe('OPEN');
    expect((await db().agentReputation.findUniqueOrThrow({ where: { agentId: agent.agentId } })).failedJobs).toBe(1);
  });

  it('REQUEST_CHANGES sends the job back with notes for the agent, at most MAX_CHANGE_REQUESTS times', async () => {
    const ws = await createWorkspaceFixture(db(), { credits: 500 });
    const agent = await createAgentFixture(db(), ws);
    const { jobGid, jobId } = await postJobFixture(db(), ws);
    const exe = await toReview(ws, agent, jobGid, 50);
    for (let round = 1; round <= 3; round++) {
      const res = await t.gql(REVIEW, { e: exe, d: 'REQUEST_CHANGES', n: `round ${round}: add sources` }, ws.ownerKey);
      expect(res.data.reviewExecution.job.status).toBe('IN_PROGRESS');
      expect((await t.gql(SUBMIT, { e: exe }, agent.key)).data.submitResult.__typename).toBe('SubmitResultPayload');
    }
    const fourth = await t.gql(REVIEW, { e: exe, d: 'REQUEST_CHANGES', n: 'again' }, ws.ownerKey);
    expect(fourth.data.reviewExecution.__typename).toBe('InvalidStateError');
    const notes = await db().outboxEvent.findMany({
      where: { jobId, type: 'ChangesRequested' },
      orderBy: { id: 'asc' },
    });
    expect(notes.map((n) => (n.payload as { notes: string }).notes)).toEqual([
      'round 1: add sources',
      'round 2: add sources',
      'round 3: add sources',
    ]);
    expect(notes.every((n) => n.agentId === agent.agentId)).toBe(true);
  });

  it('REJECT opens a dispute; resolving it SPLIT 30% pays 30% minus fee and refunds the rest, exactly once', async () => {
    const ws = await createWorkspaceFixture(db(), { credits: 1_000 });
    const other = await createWorkspaceFixture(db(), { credits: 0 });
    const agent = await createAgentFixture(db(), other);
    const { jobGid, jobId } = await postJobFixture(db(), ws, { visibility: 'PUBLIC' });
    const exe = await toReview(ws, agent, jobGid, 333);
    const rejected = await t.gql(REVIEW, { e: exe, d: 'REJECT', n: 'missing half the competitors' }, ws.ownerKey);
    expect(rejected.data.reviewExecution.job.status).toBe('DISPUTED');
    const dispute = await db().dispute.findFirstOrThrow({ where: { jobId } });
    const RESOLVE = `mutation($d: ID!, $o: DisputeOutcome!, $p: Int) { resolveDispute(disputeId: $d, outcome: $o, agentSharePercent: $p) {
      __typename ... on ResolveDisputePayload { job { status } } ... on InvalidStateError { currentStatus } ... on ValidationError { issues { path } } } }`;
    const noShare = await t.gql(RESOLVE, { d: `dsp_${dispute.id}`, o: 'SPLIT' }, ws.ownerKey);
    expect(noShare.data.resolveDispute.issues[0].path).toEqual(['agentSharePercent']);
    const feesBefore = (await balances(ws, agent.agentId, jobId)).fees;
    const [r1, r2] = await Promise.all([
      t.gql(RESOLVE, { d: `dsp_${dispute.id}`, o: 'SPLIT', p: 30 }, ws.ownerKey),
      t.gql(RESOLVE, { d: `dsp_${dispute.id}`, o: 'REFUND' }, ws.ownerKey),
    ]);
    const winners = [r1, r2].filter((r) => r.data.resolveDispute.__typename === 'ResolveDisputePayload');
    expect(winners).toHaveLength(1);
    const after = await balances(ws, agent.agentId, jobId);
    expect(after.escrow).toBe(0);
    if (r1.data.resolveDispute.__typename === 'ResolveDisputePayload') {
      // share floor(333 × 30%) = 99; fee floor(99 × 5%) = 4; agent 95; refund 234.
      expect(after).toMatchObject({ agent: 95, workspace: 1_000 - 333 + 234 });
      expect(after.fees - feesBefore).toBe(4);
    } else {
      expect(after).toMatchObject({ agent: 0, workspace: 1_000 });
    }
    expect(await ledgerSum(db())).toBe(0n);
  });

  it('concurrent settle attempts on one escrow (accept + cancel + auto-approve + dispute) settle it once', async () => {
    const ws = await createWorkspaceFixture(db(), { credits: 1_000 });
    const other = await createWorkspaceFixture(db(), { credits: 0 });
    for (let round = 0; round < 5; round++) {
      // A fresh agent each round: when the dispute wins, the job stays DISPUTED and keeps the
      // agent's slot, so one agent (3 slots) would be full after three such rounds and the next
      // assignment answer NotEligibleError. Which settle wins depends on timing (load).
      const agent = await createAgentFixture(db(), other);
      const { jobGid, jobId } = await postJobFixture(db(), ws, { visibility: 'PUBLIC' });
      const exe = await toReview(ws, agent, jobGid, 100);
      await db().job.update({ where: { id: jobId }, data: { autoApproveAt: new Date(Date.now() - 1000) } });
      const policy = { feeBps: 500, maxChangeRequests: 3 };
      await Promise.allSettled([
        t.gql(REVIEW, { e: exe, d: 'ACCEPT', r: 4 }, ws.ownerKey),
        t.gql(`mutation($id: ID!) { cancelJob(id: $id) { __typename } }`, { id: jobGid }, ws.ownerKey),
        autoApprove(db(), policy),
        t.gql(`mutation($j: ID!) { openDispute(jobId: $j, reason: "race") { __typename } }`, { j: jobGid }, agent.key),
      ]);
      const outflows = await db().ledgerTransfer.findMany({
        where: { jobId, kind: { in: ['RELEASE', 'FEE', 'REFUND'] } },
      });
      const job = await db().job.findUniqueOrThrow({ where: { id: jobId } });
      const escrow = await db().ledgerAccount.findUniqueOrThrow({ where: { key: `escrow:${jobId}` } });
      if (job.status === 'COMPLETED') {
        expect(outflows.reduce((s, x) => s + Number(x.amount), 0)).toBe(100);
        expect(Number(escrow.balance)).toBe(0);
        expect(outflows.filter((x) => x.kind === 'RELEASE')).toHaveLength(1);
      } else {
        // The dispute won: nothing settled yet, all 100 still held.
        expect(job.status).toBe('DISPUTED');
        expect(outflows).toHaveLength(0);
        expect(Number(escrow.balance)).toBe(100);
      }
    }
    expect(await ledgerSum(db())).toBe(0n);
  });
});

describe('idempotency', () => {
  it('50 concurrent purchases with one key execute once and answer identically; other arguments conflict', async () => {
    const ws = await createWorkspaceFixture(db(), { credits: 0 });
    const BUY = `mutation($a: Int!, $k: String!) { purchaseCredits(amount: $a, idempotencyKey: $k) { __typename ... on Wallet { balance available } ... on Error { message } } }`;
    const results = await Promise.all(
      Array.from({ length: 50 }, () => t.gql(BUY, { a: 250, k: 'order-42' }, ws.ownerKey)),
    );
    const answers = new Set(results.map((r) => JSON.stringify(r.data.purchaseCredits)));
    expect(answers.size).toBe(1);
    expect(results[0]!.data.purchaseCredits).toMatchObject({ __typename: 'Wallet', balance: 250 });
    expect(await db().payment.count({ where: { workspaceId: ws.workspaceId } })).toBe(1);
    expect(
      await db().ledgerTransfer.count({ where: { kind: 'PURCHASE', toAccount: { workspaceId: ws.workspaceId } } }),
    ).toBe(1);
    const conflict = await t.gql(BUY, { a: 999, k: 'order-42' }, ws.ownerKey);
    expect(conflict.data.purchaseCredits.__typename).toBe('ConflictError');
    const again = await t.gql(BUY, { a: 250, k: 'order-42' }, ws.ownerKey);
    expect(again.data.purchaseCredits).toMatchObject({ balance: 250 });
  });

  it('a replayed acceptance returns the first answer instead of failing', async () => {
    const ws = await createWorkspaceFixture(db(), { credits: 500 });
    const agent = await createAgentFixture(db(), ws);
    const { jobGid } = await postJobFixture(db(), ws);
    const first = await t.gql(ASSIGN, { j: jobGid, a: agent.agentGid, c: 100, k: 'hire-1' }, ws.ownerKey);
    const second = await t.gql(ASSIGN, { j: jobGid, a: agent.agentGid, c: 100, k: 'hire-1' }, ws.ownerKey);
    expect(first.data.assignJob.__typename).toBe('AssignJobPayload');
    expect(second.data).toEqual(first.data);
    const third = await t.gql(ASSIGN, { j: jobGid, a: agent.agentGid, c: 100, k: 'hire-2' }, ws.ownerKey);
    expect(third.data.assignJob.__typename).toBe('InvalidStateError');
  });

  it('grantCredits needs the platform admin key', async () => {
    const ws = await createWorkspaceFixture(db(), { credits: 0 });
    const GRANT = `mutation($w: ID!) { grantCredits(workspaceId: $w, amount: 70) { __typename ... on Wallet { available } } }`;
    expect((await t.gql(GRANT, { w: ws.workspaceGid }, ws.ownerKey)).data.grantCredits.__typename).toBe(
      'ForbiddenError',
    );
    expect((await t.gql(GRANT, { w: ws.workspaceGid }, 'platform-secret-key')).data.grantCredits).toEqual({
      __typename: 'Wallet',
      available: 70,
    });
  });
});

describe('reputation', () => {
  it('leaderboard ranks by overall score, or by skill score, skipping agents with no finished job', async () => {
    const ws = await createWorkspaceFixture(db());
    const top = await createAgentFixture(db(), ws, { skills: ['leaderboard-skill'] });
    const second = await createAgentFixture(db(), ws, { skills: ['leaderboard-skill'] });
    const fresh = await createAgentFixture(db(), ws);
    await db().agentReputation.update({
      where: { agentId: top.agentId },
      data: { overallScore: 99, totalJobs: 5, completedJobs: 5 },
    });
    await db().agentReputation.update({
      where: { agentId: second.agentId },
      data: { overallScore: 98, totalJobs: 3, completedJobs: 3 },
    });
    await db().agentSkillReputation.createMany({
      data: [
        { agentId: top.agentId, skill: 'leaderboard-skill', completedJobs: 5, score: 70 },
        { agentId: second.agentId, skill: 'leaderboard-skill', completedJobs: 3, score: 90 },
      ],
    });
    const overall = await t.gql(`{ leaderboard(first: 100) { rank score agent { id } } }`, {}, ws.ownerKey);
    const ids = overall.data.leaderboard.map((e: any) => e.agent.id);
    expect(ids.indexOf(top.agentGid)).toBeLessThan(ids.indexOf(second.agentGid));
    expect(ids).not.toContain(fresh.agentGid);
    const bySkill = await t.gql(
      `{ leaderboard(skill: "Leaderboard Skill", first: 5) { rank score skill agent { id } } }`,
      {},
      ws.ownerKey,
    );
    expect(bySkill.data.leaderboard.map((e: any) => [e.rank, e.agent.id, e.score])).toEqual([
      [1, second.agentGid, 90],
      [2, top.agentGid, 70],
    ]);
  });

  it('self-reviews do not move scores', async () => {
    const ws = await createWorkspaceFixture(db(), { credits: 500 });
    const own = await createAgentFixture(db(), ws);
    const { jobGid } = await postJobFixture(db(), ws);
    const exe = await toReview(ws, own, jobGid, 50);
    await t.gql(REVIEW, { e: exe, d: 'ACCEPT', r: 5 }, ws.ownerKey);
    const rep = await db().agentReputation.findUniqueOrThrow({ where: { agentId: own.agentId } });
    expect(rep).toMatchObject({ completedJobs: 1, ratingCount: 0, ratingSum: 0 });
  });

  it('badge thresholds are exact at the boundary', () => {
    const counters = {
      completedJobs: 5,
      failedJobs: 0,
      disputedJobs: 0,
      ratingSum: 0,
      ratingCount: 10,
      speedPoints: 0,
    };
    const at = {
      overallScore: 0,
      qualityScore: BADGES.topRated.qualityScore,
      reliabilityScore: BADGES.reliable.reliabilityScore,
      speedScore: BADGES.fastResponder.speedScore,
      successRate: 1,
    };
    const skill = {
      skill: 'web-research',
      completedJobs: BADGES.skillExpert.completedJobs,
      score: BADGES.skillExpert.score,
    };
    expect(badgesFor(at, counters, [skill]).sort()).toEqual([
      'Fast Responder',
      'Reliable',
      'Top Rated',
      'Web Research Expert',
    ]);
    const below = {
      ...at,
      qualityScore: at.qualityScore - 1,
      reliabilityScore: at.reliabilityScore - 1,
      speedScore: at.speedScore - 1,
    };
    expect(
      badgesFor(below, { ...counters, completedJobs: 4, ratingCount: 9 }, [{ ...skill, completedJobs: 9 }]),
    ).toEqual([]);
    expect(badgesFor(at, { ...counters, completedJobs: 4 }, [{ ...skill, score: 79 }])).not.toContain('Fast Responder');
    expect(computeScores({ ...counters, completedJobs: 0, ratingCount: 0 }).overallScore).toBe(0);
  });

  it('an agent with one 5-star review ranks below one with forty 4.8-star reviews in matchingAgents', async () => {
    const ws = await createWorkspaceFixture(db());
    const lucky = await createAgentFixture(db(), ws, { skills: ['rank-test-skill'] });
    const proven = await createAgentFixture(db(), ws, { skills: ['rank-test-skill'] });
    const rep = (c: number, sum: number, n: number) => {
      const s = computeScores({
        completedJobs: c,
        failedJobs: 0,
        disputedJobs: 0,
        ratingSum: sum,
        ratingCount: n,
        speedPoints: c * 1000,
      });
      return {
        completedJobs: c,
        ratingSum: sum,
        ratingCount: n,
        speedPoints: c * 1000,
        overallScore: s.overallScore,
        qualityScore: s.qualityScore,
        reliabilityScore: s.reliabilityScore,
        speedScore: s.speedScore,
      };
    };
    await db().agentReputation.update({ where: { agentId: lucky.agentId }, data: rep(1, 5, 1) });
    await db().agentReputation.update({ where: { agentId: proven.agentId }, data: rep(40, 192, 40) });
    const { jobGid } = await postJobFixture(db(), ws, { requiredSkills: ['rank-test-skill'] });
    const res = await t.gql(
      `query($id: ID!) { matchingAgents(jobId: $id) { agent { id } score } }`,
      { id: jobGid },
      ws.ownerKey,
    );
    const order = res.data.matchingAgents.map((m: any) => m.agent.id);
    expect(order.indexOf(proven.agentGid)).toBeLessThan(order.indexOf(lucky.agentGid));
  });
});
