import type { Db, Tx } from '../../db/client.ts';
import type { Job, LedgerAccount } from '../../generated/prisma/client.ts';
import type { LedgerAccountKind, TransferKind } from '../../generated/prisma/enums.ts';
import { emit } from '../delivery/events.ts';
import { formatCredits, MAX_BALANCE } from '../kernel/credits.ts';
import { InsufficientCreditsError, InvalidStateError, ValidationError } from '../kernel/errors.ts';
import type { Viewer } from '../kernel/viewer.ts';

/**
 * Double-entry credits ledger. Every movement is one immutable LedgerTransfer between two
 * accounts, written in the same transaction as the balance updates; the sum over all accounts
 * only changes at `external`, where credits are minted (grants, purchases) or burned.
 *
 * Concurrency: both accounts are locked (SELECT … FOR UPDATE) in a fixed order (by id) before
 * the balance is checked, so concurrent transfers serialise per account and never deadlock; the
 * database's CHECK (balance >= 0 except external) is the last line of defence.
 *
 * Cap: no wallet holds more than MAX_BALANCE (kernel/credits.ts). A wallet is its owner's total:
 * a workspace's account plus its escrows, or an agent's account. A transfer between two accounts
 * of one owner (hold, refund) leaves the total as it is and is never refused; any other transfer
 * into a wallet is checked against the cap while the wallet's account is locked, and refused with
 * a ValidationError (nothing moved). The database's CHECK (balance <= MAX_BALANCE except external
 * and fees) backs it up.
 */
export type AccountRef =
  | { kind: 'WORKSPACE'; workspaceId: string }
  | { kind: 'AGENT'; agentId: string }
  | { kind: 'ESCROW'; jobId: string; workspaceId: string }
  | { kind: 'FEES' }
  | { kind: 'EXTERNAL' };

export function accountKey(ref: AccountRef): string {
  switch (ref.kind) {
    case 'WORKSPACE':
      return `workspace:${ref.workspaceId}`;
    case 'AGENT':
      return `agent:${ref.agentId}`;
    case 'ESCROW':
      return `escrow:${ref.jobId}`;
    case 'FEES':
      return 'fees';
    case 'EXTERNAL':
      return 'external';
  }
}

export async function ensureAccount(tx: Tx, ref: AccountRef): Promise<LedgerAccount> {
  const key = accountKey(ref);
  const existing = await tx.ledgerAccount.findUnique({ where: { key } });
  if (existing) return existing;
  // Concurrent creators race on the unique key: the loser re-reads.
  await tx.$executeRaw`INSERT INTO "LedgerAccount" ("id", "kind", "key", "workspaceId", "agentId", "jobId", "balance", "updatedAt")
    VALUES (${`acct_${key.replace(/[^a-z0-9]/gi, '_')}`}, ${ref.kind}::"LedgerAccountKind", ${key},
      ${'workspaceId' in ref ? ref.workspaceId : null}, ${'agentId' in ref ? ref.agentId : null}, ${'jobId' in ref ? ref.jobId : null}, 0, now())
    ON CONFLICT ("key") DO NOTHING`;
  return tx.ledgerAccount.findUniqueOrThrow({ where: { key } });
}

async function lockAccounts(tx: Tx, ids: string[]): Promise<Map<string, bigint>> {
  const sorted = [...new Set(ids)].sort();
  const balances = new Map<string, bigint>();
  // One statement per account, in id order: row locks are always taken in the same order.
  for (const id of sorted) {
    const [row] = await tx.$queryRaw<
      { balance: bigint }[]
    >`SELECT "balance" FROM "LedgerAccount" WHERE "id" = ${id} FOR UPDATE`;
    balances.set(id, BigInt(row!.balance));
  }
  return balances;
}

export interface TransferInput {
  from: AccountRef;
  to: AccountRef;
  amount: number;
  kind: TransferKind;
  jobId?: string | null;
  memo?: string;
  /** Path of the ValidationError when the transfer would take the receiving wallet over MAX_BALANCE. */
  amountPath?: string[];
}

/** The wallet an account belongs to (a workspace's account and escrows are one wallet); null for fees and external. */
type WalletRef = Extract<AccountRef, { kind: 'WORKSPACE' | 'AGENT' }>;
function walletOf(ref: AccountRef): WalletRef | null {
  switch (ref.kind) {
    case 'WORKSPACE':
    case 'ESCROW':
      return { kind: 'WORKSPACE', workspaceId: ref.workspaceId };
    case 'AGENT':
      return ref;
    default:
      return null;
  }
}

/**
 * Moves `amount` credits; InsufficientCreditsError (and nothing moved) when `from` cannot cover it,
 * ValidationError (and nothing moved) when it would take the receiving wallet over MAX_BALANCE.
 */
export async function transfer(tx: Tx, input: TransferInput) {
  if (!Number.isSafeInteger(input.amount) || input.amount <= 0)
    throw new Error(`transfer amount must be a positive integer, got ${input.amount}`);
  const from = await ensureAccount(tx, input.from);
  const to = await ensureAccount(tx, input.to);
  const wallet = walletOf(input.to);
  const fromWallet = walletOf(input.from);
  const capped = wallet !== null && (fromWallet === null || accountKey(wallet) !== accountKey(fromWallet));
  // Credits paid into a workspace's escrow from elsewhere raise the workspace's total: its account
  // is locked too (in the same id order), so concurrent deposits into that wallet serialise.
  const walletAccount = capped && input.to.kind === 'ESCROW' ? await ensureAccount(tx, wallet) : null;
  const balances = await lockAccounts(tx, walletAccount ? [from.id, to.id, walletAccount.id] : [from.id, to.id]);
  const available = balances.get(from.id)!;
  if (from.kind !== 'EXTERNAL' && available < BigInt(input.amount)) {
    throw new InsufficientCreditsError(Number(available), input.amount);
  }
  if (capped) {
    const total = wallet.kind === 'AGENT' ? balances.get(to.id)! : await workspaceTotal(tx, wallet.workspaceId);
    if (total + BigInt(input.amount) > BigInt(MAX_BALANCE)) {
      throw ValidationError.single(
        input.amountPath ?? ['amount'],
        `would take the receiving wallet over the maximum balance of ${formatCredits(MAX_BALANCE)} credits`,
      );
    }
  }
  await tx.ledgerAccount.update({ where: { id: from.id }, data: { balance: { decrement: input.amount } } });
  await tx.ledgerAccount.update({ where: { id: to.id }, data: { balance: { increment: input.amount } } });
  return tx.ledgerTransfer.create({
    data: {
      kind: input.kind,
      fromAccountId: from.id,
      toAccountId: to.id,
      amount: input.amount,
      jobId: input.jobId ?? null,
      memo: input.memo ?? '',
    },
  });
}

// ───────────── escrow ─────────────

/** Holds the agreed credits from the workspace wallet in the job's escrow (the assignment hook). */
export async function holdEscrow(tx: Tx, job: Job) {
  const amount = job.agreedCredits ?? job.budget;
  await transfer(tx, {
    from: { kind: 'WORKSPACE', workspaceId: job.workspaceId },
    to: { kind: 'ESCROW', jobId: job.id, workspaceId: job.workspaceId },
    amount,
    kind: 'HOLD',
    jobId: job.id,
    memo: 'escrow hold on assignment',
  });
}

/** A workspace's total: its account plus its escrows (the caller holds the account's lock). */
async function workspaceTotal(tx: Tx, workspaceId: string): Promise<bigint> {
  const [row] = await tx.$queryRaw<{ total: bigint | null }[]>`SELECT SUM("balance")::bigint AS "total"
    FROM "LedgerAccount" WHERE "workspaceId" = ${workspaceId} AND "kind" IN ('WORKSPACE', 'ESCROW')`;
  return BigInt(row?.total ?? 0n);
}

async function lockedEscrow(tx: Tx, job: Job): Promise<{ id: string; balance: number }> {
  const escrow = await ensureAccount(tx, { kind: 'ESCROW', jobId: job.id, workspaceId: job.workspaceId });
  const balances = await lockAccounts(tx, [escrow.id]);
  return { id: escrow.id, balance: Number(balances.get(escrow.id)!) };
}

/** Platform fee on an amount paid to an agent: floor(amount × bps / 10 000). */
export function feeOf(amount: number, feeBps: number): number {
  return Math.floor((amount * feeBps) / 10_000);
}

export interface Settlement {
  toAgent: number;
  fee: number;
  refunded: number;
}

/**
 * Settles a job's escrow exactly once: `agentSharePercent` of it to the assigned agent (minus the
 * platform fee on that share), the rest back to the workspace. Whatever is in escrow is split, so
 * rounding never creates or loses a credit. Settling an empty escrow is an InvalidStateError.
 */
export async function settleEscrow(
  tx: Tx,
  job: Job,
  agentSharePercent: number,
  options: { feeBps: number; reason: string; allowEmpty?: boolean },
): Promise<Settlement> {
  const escrow = await lockedEscrow(tx, job);
  if (escrow.balance <= 0 && options.allowEmpty) return { toAgent: 0, fee: 0, refunded: 0 };
  if (escrow.balance <= 0) throw new InvalidStateError(job.status, 'This job’s escrow is already settled');
  const share = Math.floor((escrow.balance * agentSharePercent) / 100);
  const fee = feeOf(share, options.feeBps);
  const toAgent = share - fee;
  const refunded = escrow.balance - share;
  const from: AccountRef = { kind: 'ESCROW', jobId: job.id, workspaceId: job.workspaceId };
  if (toAgent > 0) {
    if (!job.assignedAgentId) throw new InvalidStateError(job.status, 'No agent to pay');
    await transfer(tx, {
      from,
      to: { kind: 'AGENT', agentId: job.assignedAgentId },
      amount: toAgent,
      kind: 'RELEASE',
      jobId: job.id,
      memo: options.reason,
      amountPath: [],
    });
  }
  if (fee > 0)
    await transfer(tx, { from, to: { kind: 'FEES' }, amount: fee, kind: 'FEE', jobId: job.id, memo: options.reason });
  if (refunded > 0) {
    await transfer(tx, {
      from,
      to: { kind: 'WORKSPACE', workspaceId: job.workspaceId },
      amount: refunded,
      kind: 'REFUND',
      jobId: job.id,
      memo: options.reason,
    });
  }
  if (toAgent > 0) {
    await emit(tx, 'AgentPaid', {
      jobId: job.id,
      workspaceId: job.workspaceId,
      agentId: job.assignedAgentId,
      data: { credits: toAgent, fee, refunded },
    });
  }
  return { toAgent, fee, refunded };
}

/** Returns whatever is held for the job to the workspace (cancellation, failure, REFUND). No-op when empty. */
export async function refundEscrow(tx: Tx, job: Job, reason: string): Promise<number> {
  const escrow = await lockedEscrow(tx, job);
  if (escrow.balance <= 0) return 0;
  await transfer(tx, {
    from: { kind: 'ESCROW', jobId: job.id, workspaceId: job.workspaceId },
    to: { kind: 'WORKSPACE', workspaceId: job.workspaceId },
    amount: escrow.balance,
    kind: 'REFUND',
    jobId: job.id,
    memo: reason,
  });
  return escrow.balance;
}

// ───────────── wallets ─────────────

export interface WalletView {
  accountId: string | null;
  /** available + held */
  balance: number;
  /** In escrow for the workspace's assigned jobs. */
  held: number;
  /** Spendable now. */
  available: number;
}

export async function workspaceWallet(db: Db | Tx, workspaceId: string): Promise<WalletView> {
  const account = await db.ledgerAccount.findUnique({ where: { key: `workspace:${workspaceId}` } });
  const held = await db.ledgerAccount.aggregate({ where: { kind: 'ESCROW', workspaceId }, _sum: { balance: true } });
  const available = Number(account?.balance ?? 0n);
  const heldNum = Number(held._sum.balance ?? 0n);
  return { accountId: account?.id ?? null, available, held: heldNum, balance: available + heldNum };
}

export async function agentWallet(db: Db | Tx, agentId: string): Promise<WalletView> {
  const account = await db.ledgerAccount.findUnique({ where: { key: `agent:${agentId}` } });
  const available = Number(account?.balance ?? 0n);
  return { accountId: account?.id ?? null, available, held: 0, balance: available };
}

/** The wallet account a viewer owns: its workspace's for a member, its own for an agent. */
export function walletKeyOf(viewer: Viewer): string | null {
  if (viewer.kind === 'member') return accountKey({ kind: 'WORKSPACE', workspaceId: viewer.workspaceId });
  if (viewer.kind === 'agent') return accountKey({ kind: 'AGENT', agentId: viewer.agentId });
  return null;
}

/**
 * A transfer as `wallet.entries` shows it: to the owner of either wallet it moved between (the
 * platform operator sees all), else null. Same rule for `node(id)` as for the wallet's list.
 */
export async function visibleTransfer(db: Db | Tx, viewer: Viewer, transferId: string) {
  if (viewer.kind === 'platform') return db.ledgerTransfer.findUnique({ where: { id: transferId } });
  const key = walletKeyOf(viewer);
  if (!key) return null;
  return db.ledgerTransfer.findFirst({
    where: { id: transferId, OR: [{ fromAccount: { key } }, { toAccount: { key } }] },
  });
}

/** Sum of all balances: always 0 (external carries minus what was minted). For invariant checks. */
export async function ledgerSum(db: Db | Tx): Promise<bigint> {
  const sum = await db.ledgerAccount.aggregate({ _sum: { balance: true } });
  return BigInt(sum._sum.balance ?? 0n);
}

export type { LedgerAccountKind };
