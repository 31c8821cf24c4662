import {
  ConflictError,
  ForbiddenError,
  NotFoundError,
  PaymentsUnavailableError,
  ValidationError,
} from '../services/kernel/errors.ts';
import { agentWallet, visibleTransfer, type WalletView, workspaceWallet } from '../services/ledger/ledger.ts';
import { grantCredits, paymentProviderFor, purchaseCredits } from '../services/ledger/payments.ts';
import { builder } from './builder.ts';
import { registerNodeLoader } from './node.ts';

const TransferKindEnum = builder.enumType('TransferKind', {
  values: ['MINT', 'PURCHASE', 'HOLD', 'RELEASE', 'FEE', 'REFUND', 'BURN'] as const,
});

export const LedgerEntryRef = builder.prismaNode('LedgerTransfer', {
  name: 'LedgerEntry',
  id: { field: 'id' },
  description: 'One immutable movement of credits between two accounts.',
  fields: (t) => ({
    kind: t.expose('kind', { type: TransferKindEnum }),
    amount: t.field({ type: 'SafeInt', resolve: (e) => Number(e.amount) }),
    from: t.string({ select: { fromAccount: { select: { key: true } } }, resolve: (e) => e.fromAccount.key }),
    to: t.string({ select: { toAccount: { select: { key: true } } }, resolve: (e) => e.toAccount.key }),
    job: t.prismaField({
      type: 'Job',
      nullable: true,
      select: { jobId: true },
      resolve: (query, e, _args, ctx) => (e.jobId ? ctx.db.job.findUnique({ ...query, where: { id: e.jobId } }) : null),
    }),
    memo: t.exposeString('memo'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

// node(id): the owner of either wallet the transfer moved between, as in `wallet.entries`.
registerNodeLoader('LedgerEntry', (ctx, id) => visibleTransfer(ctx.db, ctx.viewer, id));

export const WalletRef = builder.objectRef<WalletView>('Wallet').implement({
  description: 'Credits of a workspace or an agent. balance = available + held (in escrow for assigned jobs).',
  fields: (t) => ({
    balance: t.expose('balance', { type: 'SafeInt' }),
    held: t.expose('held', { type: 'SafeInt' }),
    available: t.expose('available', { type: 'SafeInt' }),
    entries: t.prismaConnection({
      type: 'LedgerTransfer',
      cursor: 'id',
      description: 'Transfers in and out of this wallet, newest first.',
      resolve: (query, wallet, _args, ctx) =>
        wallet.accountId
          ? ctx.db.ledgerTransfer.findMany({
              ...query,
              where: { OR: [{ fromAccountId: wallet.accountId }, { toAccountId: wallet.accountId }] },
              orderBy: [{ seq: 'desc' }],
            })
          : [],
    }),
  }),
});

builder.queryField('wallet', (t) =>
  t.field({
    type: WalletRef,
    description: 'Your wallet: the workspace’s for a member, the agent’s own for an agent.',
    authScopes: { authenticated: true },
    resolve: (_root, _args, ctx) => {
      const v = ctx.viewer;
      if (v.kind === 'member') return workspaceWallet(ctx.db, v.workspaceId);
      if (v.kind === 'agent') return agentWallet(ctx.db, v.agentId);
      throw new NotFoundError('Wallet');
    },
  }),
);

builder.mutationFields((t) => ({
  grantCredits: t.field({
    type: WalletRef,
    description:
      'Platform admin (PLATFORM_ADMIN_KEY): mints credits into a workspace wallet. Idempotent with `idempotencyKey`.',
    authScopes: { platformAdmin: true },
    args: {
      workspaceId: t.arg.id({ required: true }),
      amount: t.arg.int({ required: true, description: 'Credits to mint, 1 to 1,000,000,000.' }),
      idempotencyKey: t.arg.string(),
    },
    errors: { types: [ValidationError, NotFoundError, ForbiddenError, ConflictError] },
    resolve: (_root, { workspaceId, amount, idempotencyKey }, ctx) =>
      grantCredits(ctx.db, ctx.viewer, { workspaceId: String(workspaceId), amount, idempotencyKey }),
  }),
  purchaseCredits: t.field({
    type: WalletRef,
    description:
      'OWNER/ADMIN: buys credits through the configured payment provider (PAYMENT_PROVIDER; the built-in one is a test provider, the default outside production). Without one: PaymentsUnavailableError. The same `idempotencyKey` never charges twice.',
    authScopes: { member: true },
    args: {
      amount: t.arg.int({ required: true, description: 'Credits to buy, 1 to 1,000,000,000.' }),
      idempotencyKey: t.arg.string({ required: true }),
    },
    errors: { types: [ValidationError, ForbiddenError, ConflictError, PaymentsUnavailableError] },
    resolve: (_root, { amount, idempotencyKey }, ctx) =>
      purchaseCredits(ctx.db, ctx.viewer, { amount, idempotencyKey }, paymentProviderFor(ctx.config)),
  }),
}));
