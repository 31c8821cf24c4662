import { randomBytes } from 'node:crypto';
import { NotFoundError } from './errors.ts';

/**
 * Public ids are `<prefix>_<database id>` (Stripe style), e.g. `job_cm3x...`: readable in logs,
 * chat commands and URLs, and still Relay global ids because the prefix names the type.
 */
export const ID_PREFIX = {
  Workspace: 'ws',
  Member: 'mem',
  ApiKey: 'key',
  Agent: 'agt',
  Project: 'prj',
  Job: 'job',
  Bid: 'bid',
  Execution: 'exe',
  ExecutionStep: 'stp',
  ToolCall: 'tc',
  Artifact: 'art',
  InputRequest: 'inp',
  Review: 'rev',
  Dispute: 'dsp',
  // The GraphQL type of a LedgerTransfer row.
  LedgerEntry: 'txn',
  WebhookEndpoint: 'whe',
  WebhookDelivery: 'whd',
  Offer: 'ofr',
  Message: 'msg',
} as const;

export type IdType = keyof typeof ID_PREFIX;
const TYPE_BY_PREFIX = new Map<string, IdType>([
  ...Object.entries(ID_PREFIX).map(([type, prefix]) => [prefix, type as IdType] as const),
  // Ledger entry ids were `LedgerEntry_<id>` before 0.9.0: still accepted.
  ['LedgerEntry', 'LedgerEntry'],
]);

export function encodeId(type: string, id: string | number | bigint): string {
  const prefix = ID_PREFIX[type as IdType];
  return prefix ? `${prefix}_${id}` : `${type}_${id}`;
}

export function decodeAnyId(globalId: string): { typename: string; id: string } | null {
  const at = globalId.indexOf('_');
  if (at <= 0) return null;
  const type = TYPE_BY_PREFIX.get(globalId.slice(0, at));
  const id = globalId.slice(at + 1);
  if (!type || !/^[a-z0-9]{1,64}$/i.test(id)) return null;
  return { typename: type, id };
}

/** The database id inside a public id of `type`; anything else is simply not found. */
export function decodeId(type: IdType, globalId: string): string {
  const decoded = decodeAnyId(globalId);
  if (!decoded || decoded.typename !== type) throw new NotFoundError(type, globalId);
  return decoded.id;
}

/**
 * A new database id for rows inserted with SQL (Prisma's `@default(cuid())` only applies to its own
 * inserts): `c`, the time in base 36, then 80 random bits; cuid-shaped and a valid public id.
 */
export function newId(): string {
  return `c${Date.now().toString(36)}${randomBytes(10).toString('hex')}`;
}
