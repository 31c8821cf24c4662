import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Config } from '../../config.ts';
import type { Db } from '../../db/client.ts';
import { ForbiddenError, NotFoundError, PaymentsUnavailableError, ValidationError } from '../kernel/errors.ts';
import { withIdempotency } from '../kernel/idempotency.ts';
import { decodeId } from '../kernel/ids.ts';
import { fields, parse } from '../kernel/validation.ts';
import { isWorkspaceAdmin, type Viewer } from '../kernel/viewer.ts';
import { transfer, type WalletView, workspaceWallet } from './ledger.ts';

/**
 * Where purchased credits come from. The built-in provider is a test one that approves every
 * charge up to a limit; a real one (Stripe, …) implements the same interface: charge, and the
 * ledger mints the credits only when the charge succeeded. Which one is active is configuration
 * (`PAYMENT_PROVIDER`, see paymentProviderFor): production has none unless one is set on purpose.
 */
export interface PaymentProvider {
  name: string;
  charge(request: {
    workspaceId: string;
    amount: number;
    idempotencyKey: string;
  }): Promise<{ status: 'SUCCEEDED'; reference: string } | { status: 'FAILED'; reason: string }>;
}

export const testPaymentProvider: PaymentProvider = {
  name: 'test',
  async charge({ amount }) {
    if (amount > 1_000_000)
      return { status: 'FAILED', reason: 'the test provider declines charges above 1,000,000 credits' };
    return { status: 'SUCCEEDED', reference: `test_${randomUUID()}` };
  },
};

/** Providers by PAYMENT_PROVIDER value. */
const PROVIDERS: Record<string, PaymentProvider> = { test: testPaymentProvider };

/**
 * The active payment provider: the one PAYMENT_PROVIDER names (`none`: no provider), else the test
 * provider outside production and none in production, where a free mint would be a hole.
 */
export function paymentProviderFor(config: Pick<Config, 'NODE_ENV' | 'PAYMENT_PROVIDER'>): PaymentProvider | null {
  const name = config.PAYMENT_PROVIDER ?? (config.NODE_ENV === 'production' ? 'none' : 'test');
  return PROVIDERS[name] ?? null;
}

const amountSchema = z.object({ amount: fields.credits });

/** Platform admin mints credits into a workspace wallet (from `external`). */
export async function grantCredits(
  db: Db,
  viewer: Viewer,
  input: { workspaceId: string; amount: number; idempotencyKey?: string | null },
): Promise<WalletView> {
  if (viewer.kind !== 'platform') throw new ForbiddenError('Only the platform admin grants credits');
  const { amount } = parse(amountSchema, { amount: input.amount }, []);
  const workspaceId = decodeId('Workspace', input.workspaceId);
  if (!(await db.workspace.findUnique({ where: { id: workspaceId } })))
    throw new NotFoundError('Workspace', input.workspaceId);
  await withIdempotency(db, viewer, input.idempotencyKey, 'grantCredits', { workspaceId, amount }, async (tx) => {
    const t = await transfer(tx, {
      from: { kind: 'EXTERNAL' },
      to: { kind: 'WORKSPACE', workspaceId },
      amount,
      kind: 'MINT',
      memo: 'granted by the platform',
    });
    return { transferId: t.id };
  });
  return workspaceWallet(db, workspaceId);
}

/**
 * OWNER/ADMIN buys credits for their workspace through the payment provider (`null`: none is
 * configured, PaymentsUnavailableError and nothing happens). Idempotent with a key.
 */
export async function purchaseCredits(
  db: Db,
  viewer: Viewer,
  input: { amount: number; idempotencyKey: string },
  provider: PaymentProvider | null,
): Promise<WalletView> {
  if (viewer.kind !== 'member') throw new ForbiddenError('Only workspace members buy credits');
  if (!isWorkspaceAdmin(viewer)) throw new ForbiddenError('Only an OWNER or ADMIN buys credits');
  if (!provider)
    throw new PaymentsUnavailableError(
      'Credits cannot be bought on this server: no payment provider is configured (PAYMENT_PROVIDER). Ask the operator for a grant.',
    );
  const { amount } = parse(amountSchema, { amount: input.amount }, []);
  if (!input.idempotencyKey?.trim()) throw ValidationError.single(['idempotencyKey'], 'is required for purchases');
  const workspaceId = viewer.workspaceId;
  await withIdempotency(db, viewer, input.idempotencyKey, 'purchaseCredits', { amount }, async (tx) => {
    // The provider gets the same idempotency key, so a retried charge is not charged twice.
    const charge = await provider.charge({ workspaceId, amount, idempotencyKey: input.idempotencyKey });
    if (charge.status === 'FAILED') throw ValidationError.single(['amount'], `payment declined: ${charge.reason}`);
    await tx.payment.create({
      data: { workspaceId, provider: provider.name, providerRef: charge.reference, amount, status: 'SUCCEEDED' },
    });
    const t = await transfer(tx, {
      from: { kind: 'EXTERNAL' },
      to: { kind: 'WORKSPACE', workspaceId },
      amount,
      kind: 'PURCHASE',
      memo: `${provider.name} ${charge.reference}`,
    });
    return { transferId: t.id };
  });
  return workspaceWallet(db, workspaceId);
}
