import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { walletView } from '../src/bots/core/views.ts';
import { loadConfig } from '../src/config.ts';
import { AgentworkClient, AgentworkError } from '../src/sdk/index.ts';
import { MAX_BALANCE, MAX_CREDIT_AMOUNT } from '../src/services/kernel/credits.ts';
import { ledgerSum, transfer } from '../src/services/ledger/ledger.ts';
import { paymentProviderFor } from '../src/services/ledger/payments.ts';
import { createTestApp, createTestDatabase, type TestApp, type TestDatabase } from './support/app.ts';
import { createAgentFixture, createWorkspaceFixture, postJobFixture, uid } from './support/factories.ts';

/**
 * Issue 13, items 3 and 4: credit amounts above 2^31-1 (GraphQL `Int`) and the test payment
 * provider in production.
 */
const ADMIN = 'platform-secret-key-credits';
let database: TestDatabase;
let t: TestApp;
beforeAll(async () => {
  database = await createTestDatabase();
  t = await createTestApp({ database, config: { PLATFORM_ADMIN_KEY: ADMIN, PLATFORM_FEE_BPS: 500 } });
});
afterAll(async () => {
  await t?.close();
  await database?.close();
});
const db = () => t.app.db.prisma;

const WALLET = `{ wallet { balance held available entries(first: 10) { edges { node { kind amount } } } } }`;
const GRANT = `mutation($w: ID!, $a: Int!, $k: String) { grantCredits(workspaceId: $w, amount: $a, idempotencyKey: $k) {
  __typename ... on Wallet { balance available held } ... on ValidationError { issues { path message } } ... on Error { message } } }`;
const PURCHASE = `mutation($a: Int!, $k: String!) { purchaseCredits(amount: $a, idempotencyKey: $k) {
  __typename ... on Wallet { balance available } ... on ValidationError { issues { path message } }
  ... on PaymentsUnavailableError { message } ... on Error { message } } }`;
const ASSIGN = `mutation($j: ID!, $a: ID!, $c: Int) { assignJob(jobId: $j, agentId: $a, credits: $c) {
  __typename ... on Error { message } } }`;
const START = `mutation($j: ID!) { startExecution(jobId: $j) { ... on StartExecutionPayload { execution { id } } } }`;
const SUBMIT = `mutation($e: ID!) { submitResult(executionId: $e, result: { ok: true }) { __typename } }`;
const REVIEW = `mutation($e: ID!) { reviewExecution(executionId: $e, decision: ACCEPT, rating: 5) {
  __typename ... on ReviewExecutionPayload { job { status } } ... on ValidationError { issues { path message } } ... on Error { message } } }`;

async function accountBalance(key: string): Promise<bigint> {
  const row = await db().ledgerAccount.findUnique({ where: { key } });
  return row?.balance ?? 0n;
}

/** Mints straight into a wallet through the ledger's own transfer (seeding a balance near the cap). */
async function mint(
  to: { kind: 'WORKSPACE'; workspaceId: string } | { kind: 'AGENT'; agentId: string },
  amount: number,
) {
  await db().$transaction((tx) => transfer(tx, { from: { kind: 'EXTERNAL' }, to, amount, kind: 'MINT', memo: 'test' }));
}

/**
 * Hires an agent of another workspace for `credits` (offerJob + acceptOffer: assignJob is only for
 * the workspace's own agents), runs the job to REVIEW; returns the execution id.
 */
async function toReview(
  ws: { ownerKey: string },
  agent: { agentGid: string; key: string },
  jobGid: string,
  credits: number,
): Promise<string> {
  const OFFER = `mutation($j: ID!, $a: ID!, $c: Int!) { offerJob(input: { jobId: $j, agentId: $a, credits: $c }) {
    __typename ... on OfferJobPayload { offer { id } } } }`;
  const offered = await t.gql(OFFER, { j: jobGid, a: agent.agentGid, c: credits }, ws.ownerKey);
  expect(offered.data.offerJob.__typename).toBe('OfferJobPayload');
  const ACCEPT = `mutation($o: ID!) { acceptOffer(offerId: $o) { __typename } }`;
  const accepted = await t.gql(ACCEPT, { o: offered.data.offerJob.offer.id }, agent.key);
  expect(accepted.data.acceptOffer.__typename).toBe('AcceptOfferPayload');
  const exe = (await t.gql(START, { j: jobGid }, agent.key)).data.startExecution.execution.id;
  expect((await t.gql(SUBMIT, { e: exe }, agent.key)).data.submitResult.__typename).toBe('SubmitResultPayload');
  return exe;
}

describe('credit amounts above 2^31-1', () => {
  it('three grantCredits(1e9): wallet answers the exact balances', async () => {
    const ws = await createWorkspaceFixture(db(), { credits: 0 });
    for (let i = 1; i <= 3; i++) {
      const res = await t.gql(GRANT, { w: ws.workspaceGid, a: 1_000_000_000 }, ADMIN);
      expect(res.errors).toBeUndefined();
      expect(res.data.grantCredits).toMatchObject({ __typename: 'Wallet', balance: i * 1_000_000_000 });
    }
    const res = await t.gql(WALLET, {}, ws.ownerKey);
    expect(res.errors).toBeUndefined();
    expect(res.data.wallet).toMatchObject({ balance: 3_000_000_000, available: 3_000_000_000, held: 0 });
    // The SDK and the chat bots read and render it.
    const sdk = new AgentworkClient({
      url: 'http://test.local',
      apiKey: ws.ownerKey,
      fetch: (u, i) => t.app.fetch(u, i),
    });
    const wallet = await sdk.wallet();
    expect(wallet).toMatchObject({ balance: 3_000_000_000, available: 3_000_000_000 });
    expect(JSON.stringify(walletView(wallet))).toContain('3,000,000,000 credits');
  });

  it('an agent paid more than 2^31 credits reads its wallet, its entries and the jobs', async () => {
    const poster = await createWorkspaceFixture(db(), { credits: 0 });
    for (let i = 0; i < 3; i++) await t.gql(GRANT, { w: poster.workspaceGid, a: 1_000_000_000 }, ADMIN);
    const other = await createWorkspaceFixture(db(), { credits: 0 });
    const agent = await createAgentFixture(db(), other, { maxConcurrentJobs: 3 });
    const jobs = [];
    for (let i = 0; i < 3; i++)
      jobs.push(await postJobFixture(db(), poster, { budget: 1_000_000_000, visibility: 'PUBLIC' }));
    for (const job of jobs) {
      const exe = await toReview(poster, agent, job.jobGid, 1_000_000_000);
      const reviewed = await t.gql(REVIEW, { e: exe }, poster.ownerKey);
      expect(reviewed.data.reviewExecution.job.status).toBe('COMPLETED');
    }
    // 3 × (1e9 − 5% fee) = 2.85e9 > 2^31 − 1.
    const res = await t.gql(WALLET, {}, agent.key);
    expect(res.errors).toBeUndefined();
    expect(res.data.wallet).toMatchObject({ balance: 2_850_000_000, available: 2_850_000_000, held: 0 });
    expect(res.data.wallet.entries.edges[0].node).toEqual({ kind: 'RELEASE', amount: 950_000_000 });
    const job = await t.gql(
      `query($id: ID!) { job(id: $id) { budget agreedCredits } }`,
      { id: jobs[0]!.jobGid },
      poster.ownerKey,
    );
    expect(job.data.job).toEqual({ budget: 1_000_000_000, agreedCredits: 1_000_000_000 });
    expect(await ledgerSum(db())).toBe(0n);
  });

  it('the outputs are typed SafeInt; the inputs stay Int', async () => {
    const res = await t.gql(`{
      wallet: __type(name: "Wallet") { fields { name type { ofType { name } } } }
      entry: __type(name: "LedgerEntry") { fields { name type { ofType { name } } } }
      mutation: __type(name: "Mutation") { fields { name args { name type { ofType { name } } } } }
    }`);
    const typeOf = (type: { fields: { name: string; type: { ofType: { name: string } | null } }[] }, field: string) =>
      type.fields.find((f) => f.name === field)?.type.ofType?.name;
    expect(['balance', 'held', 'available'].map((f) => typeOf(res.data.wallet, f))).toEqual([
      'SafeInt',
      'SafeInt',
      'SafeInt',
    ]);
    expect(typeOf(res.data.entry, 'amount')).toBe('SafeInt');
    const grant = res.data.mutation.fields.find((f: { name: string }) => f.name === 'grantCredits');
    expect(grant.args.find((a: { name: string }) => a.name === 'amount').type.ofType.name).toBe('Int');
  });
});

describe('maximums', () => {
  it('an amount over MAX_CREDIT_AMOUNT is a ValidationError on `amount`; nothing changes', async () => {
    expect(MAX_CREDIT_AMOUNT).toBe(1_000_000_000);
    const ws = await createWorkspaceFixture(db(), { credits: 500 });
    const res = await t.gql(GRANT, { w: ws.workspaceGid, a: MAX_CREDIT_AMOUNT + 1 }, ADMIN);
    expect(res.data.grantCredits.__typename).toBe('ValidationError');
    expect(res.data.grantCredits.issues[0].path).toEqual(['amount']);
    expect(res.data.grantCredits.issues[0].message).toContain('1,000,000,000');
    const bought = await t.gql(PURCHASE, { a: MAX_CREDIT_AMOUNT + 1, k: uid() }, ws.ownerKey);
    expect(bought.data.purchaseCredits.__typename).toBe('ValidationError');
    expect(bought.data.purchaseCredits.issues[0].path).toEqual(['amount']);
    expect(await accountBalance(`workspace:${ws.workspaceId}`)).toBe(500n);
  });

  it('a grant that would push a wallet over MAX_BALANCE is refused and changes nothing; up to it is fine', async () => {
    expect(MAX_BALANCE).toBe(1_000_000_000_000_000);
    const ws = await createWorkspaceFixture(db(), { credits: 0 });
    await mint({ kind: 'WORKSPACE', workspaceId: ws.workspaceId }, MAX_BALANCE - 500_000_000);
    const transfersBefore = await db().ledgerTransfer.count();

    const over = await t.gql(GRANT, { w: ws.workspaceGid, a: 500_000_001, k: uid() }, ADMIN);
    expect(over.data.grantCredits.__typename).toBe('ValidationError');
    expect(over.data.grantCredits.issues[0].path).toEqual(['amount']);
    expect(over.data.grantCredits.issues[0].message).toContain('1,000,000,000,000,000');
    expect(await accountBalance(`workspace:${ws.workspaceId}`)).toBe(BigInt(MAX_BALANCE - 500_000_000));
    expect(await db().ledgerTransfer.count()).toBe(transfersBefore);

    const exact = await t.gql(GRANT, { w: ws.workspaceGid, a: 500_000_000 }, ADMIN);
    expect(exact.data.grantCredits).toMatchObject({ __typename: 'Wallet', balance: MAX_BALANCE });
    const one = await t.gql(GRANT, { w: ws.workspaceGid, a: 1 }, ADMIN);
    expect(one.data.grantCredits.__typename).toBe('ValidationError');
    const wallet = await t.gql(WALLET, {}, ws.ownerKey);
    expect(wallet.data.wallet).toMatchObject({ balance: MAX_BALANCE, available: MAX_BALANCE });
    expect(await ledgerSum(db())).toBe(0n);
  });

  it('the cap counts credits held in escrow; the refund of a hold is never refused', async () => {
    const ws = await createWorkspaceFixture(db(), { credits: 0 });
    await mint({ kind: 'WORKSPACE', workspaceId: ws.workspaceId }, MAX_BALANCE - 100);
    const agent = await createAgentFixture(db(), ws);
    const job = await postJobFixture(db(), ws, { budget: 1_000 });
    expect(
      (await t.gql(ASSIGN, { j: job.jobGid, a: agent.agentGid, c: 1_000 }, ws.ownerKey)).data.assignJob.__typename,
    ).toBe('AssignJobPayload');
    // available = MAX − 1,100, held = 1,000: a grant of 101 would take the total over the cap.
    const over = await t.gql(GRANT, { w: ws.workspaceGid, a: 101 }, ADMIN);
    expect(over.data.grantCredits.__typename).toBe('ValidationError');
    expect((await t.gql(GRANT, { w: ws.workspaceGid, a: 100 }, ADMIN)).data.grantCredits).toMatchObject({
      balance: MAX_BALANCE,
      held: 1_000,
      available: MAX_BALANCE - 1_000,
    });
    const cancelled = await t.gql(
      `mutation($id: ID!) { cancelJob(id: $id) { __typename } }`,
      { id: job.jobGid },
      ws.ownerKey,
    );
    expect(cancelled.data.cancelJob.__typename).toBe('CancelJobPayload');
    expect((await t.gql(WALLET, {}, ws.ownerKey)).data.wallet).toMatchObject({
      balance: MAX_BALANCE,
      held: 0,
      available: MAX_BALANCE,
    });
  });

  it('paying an agent over MAX_BALANCE is refused: the job stays in REVIEW with its escrow', async () => {
    const poster = await createWorkspaceFixture(db(), { credits: 10_000 });
    const other = await createWorkspaceFixture(db(), { credits: 0 });
    const agent = await createAgentFixture(db(), other);
    await mint({ kind: 'AGENT', agentId: agent.agentId }, MAX_BALANCE - 10);
    const job = await postJobFixture(db(), poster, { budget: 1_000, visibility: 'PUBLIC' });
    const exe = await toReview(poster, agent, job.jobGid, 1_000);
    const res = await t.gql(REVIEW, { e: exe }, poster.ownerKey);
    expect(res.data.reviewExecution.__typename).toBe('ValidationError');
    expect(res.data.reviewExecution.issues[0].message).toContain('maximum balance');
    expect((await db().job.findUniqueOrThrow({ where: { id: job.jobId } })).status).toBe('REVIEW');
    expect(await accountBalance(`escrow:${job.jobId}`)).toBe(1_000n);
    expect(await accountBalance(`agent:${agent.agentId}`)).toBe(BigInt(MAX_BALANCE - 10));
  });

  it('the database refuses a wallet balance over MAX_BALANCE (CHECK)', async () => {
    const ws = await createWorkspaceFixture(db(), { credits: 10 });
    await expect(
      db()
        .$executeRaw`UPDATE "LedgerAccount" SET "balance" = ${BigInt(MAX_BALANCE) + 1n} WHERE "key" = ${`workspace:${ws.workspaceId}`}`,
    ).rejects.toThrow(/LedgerAccount_balance_max/);
  });
});

describe('payment provider', () => {
  it('config: none in production unless PAYMENT_PROVIDER is set; the test provider elsewhere', () => {
    expect(paymentProviderFor(loadConfig({ NODE_ENV: 'production' }))).toBeNull();
    expect(paymentProviderFor(loadConfig({ NODE_ENV: 'production', PAYMENT_PROVIDER: 'test' }))?.name).toBe('test');
    expect(paymentProviderFor(loadConfig({ NODE_ENV: 'development' }))?.name).toBe('test');
    expect(paymentProviderFor(loadConfig({}))?.name).toBe('test');
    expect(paymentProviderFor(loadConfig({ NODE_ENV: 'development', PAYMENT_PROVIDER: 'none' }))).toBeNull();
    expect(() => loadConfig({ PAYMENT_PROVIDER: 'stripe' })).toThrow(/PAYMENT_PROVIDER/);
  });

  it('production without PAYMENT_PROVIDER: purchaseCredits answers PaymentsUnavailableError; the wallet is unchanged', async () => {
    const prod = await createTestApp({ database, config: { NODE_ENV: 'production' } });
    try {
      const ws = await createWorkspaceFixture(db(), { credits: 0 });
      const res = await prod.gql(PURCHASE, { a: 1_000_000, k: uid() }, ws.ownerKey);
      expect(res.errors).toBeUndefined();
      expect(res.data.purchaseCredits.__typename).toBe('PaymentsUnavailableError');
      expect(res.data.purchaseCredits.message).toMatch(/PAYMENT_PROVIDER/);
      const sdk = new AgentworkClient({
        url: 'http://test.local',
        apiKey: ws.ownerKey,
        fetch: (u, i) => prod.app.fetch(u, i),
      });
      const thrown = await sdk.purchaseCredits(1_000, uid()).catch((error: unknown) => error);
      expect(thrown).toBeInstanceOf(AgentworkError);
      expect((thrown as AgentworkError).type).toBe('PaymentsUnavailableError');
      expect((await prod.gql(WALLET, {}, ws.ownerKey)).data.wallet).toMatchObject({ balance: 0, available: 0 });
      expect(await db().payment.count({ where: { workspaceId: ws.workspaceId } })).toBe(0);
    } finally {
      await prod.close();
    }
  });

  it('production with PAYMENT_PROVIDER=test: purchaseCredits works', async () => {
    const prod = await createTestApp({ database, config: { NODE_ENV: 'production', PAYMENT_PROVIDER: 'test' } });
    try {
      const ws = await createWorkspaceFixture(db(), { credits: 0 });
      const res = await prod.gql(PURCHASE, { a: 1_000_000, k: uid() }, ws.ownerKey);
      expect(res.data.purchaseCredits).toMatchObject({ __typename: 'Wallet', balance: 1_000_000 });
    } finally {
      await prod.close();
    }
  });

  it('outside production the test provider stays the default', async () => {
    const ws = await createWorkspaceFixture(db(), { credits: 0 });
    const res = await t.gql(PURCHASE, { a: 2_500, k: uid() }, ws.ownerKey);
    expect(res.data.purchaseCredits).toMatchObject({ __typename: 'Wallet', balance: 2_500 });
  });
});
