import { createHash } from 'node:crypto';
import type { Db, Tx } from '../../db/client.ts';
import type { Prisma } from '../../generated/prisma/client.ts';
import {
  ConflictError,
  type DomainError,
  ForbiddenError,
  InsufficientCreditsError,
  InvalidStateError,
  isDomainError,
  NotEligibleError,
  NotFoundError,
  PaymentsUnavailableError,
  ValidationError,
} from './errors.ts';
import type { Viewer } from './viewer.ts';

/** Canonical JSON (sorted keys) so `{a,b}` and `{b,a}` hash the same. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

export function principalOf(viewer: Viewer): string {
  switch (viewer.kind) {
    case 'member':
      return `member:${viewer.memberId}`;
    case 'agent':
      return `agent:${viewer.agentId}`;
    default:
      return viewer.kind;
  }
}

type Stored = { ok: unknown } | { error: { name: string; message: string; fields: Record<string, unknown> } };

function serializeError(error: DomainError): Stored {
  const fields: Record<string, unknown> = {};
  for (const key of ['issues', 'resource', 'id', 'currentStatus', 'available', 'required', 'reasons']) {
    if (key in error) fields[key] = (error as unknown as Record<string, unknown>)[key];
  }
  return { error: { name: error.name, message: error.message, fields } };
}

function reviveError(stored: { name: string; message: string; fields: Record<string, unknown> }): DomainError {
  const f = stored.fields;
  switch (stored.name) {
    case 'ValidationError':
      return new ValidationError(f.issues as ValidationError['issues'], stored.message);
    case 'NotFoundError':
      return new NotFoundError(f.resource as string, f.id as string | undefined);
    case 'ForbiddenError':
      return new ForbiddenError(stored.message);
    case 'InvalidStateError':
      return new InvalidStateError(f.currentStatus as string, stored.message);
    case 'InsufficientCreditsError':
      return new InsufficientCreditsError(f.available as number, f.required as number);
    case 'NotEligibleError':
      return new NotEligibleError(f.reasons as string[]);
    case 'PaymentsUnavailableError':
      return new PaymentsUnavailableError(stored.message);
    default:
      return new ConflictError(stored.message);
  }
}

/** A unique violation on the idempotency key itself (not on something the operation wrote). */
function isKeyCollision(error: unknown): boolean {
  if (typeof error !== 'object' || error === null || (error as { code?: string }).code !== 'P2002') return false;
  const e = error as { meta?: unknown; message?: string };
  return JSON.stringify(e.meta ?? {}).includes('IdempotencyKey') || (e.message ?? '').includes('idempotencyKey');
}

/**
 * Runs a money-moving operation at most once per (principal, key). The key row is inserted in the
 * same transaction as the operation's effects: a concurrent request with the same key blocks on
 * the unique index until the first commits, then replays its stored answer. The same key with
 * different arguments is a ConflictError. Expected errors are stored and replayed too; an
 * unexpected failure stores nothing, so a retry runs again. Without a key, `run` simply runs.
 *
 * `run` must return a JSON-serialisable value (ids, numbers), never Prisma objects.
 */
export async function withIdempotency<T>(
  db: Db,
  viewer: Viewer,
  key: string | null | undefined,
  operation: string,
  args: unknown,
  run: (tx: Tx) => Promise<T>,
): Promise<T> {
  if (!key) return db.$transaction((tx) => run(tx));
  if (key.length > 200) throw ValidationError.single(['idempotencyKey'], 'must be at most 200 characters');
  const principal = principalOf(viewer);
  const requestHash = createHash('sha256')
    .update(`${operation}\n${canonical(args)}`)
    .digest('hex');

  const replay = async (): Promise<T> => {
    const row = await db.idempotencyKey.findUnique({ where: { principal_key: { principal, key } } });
    if (!row) throw new ConflictError('Idempotency key vanished; retry');
    if (row.requestHash !== requestHash || row.operation !== operation) {
      throw new ConflictError(`Idempotency key "${key}" was already used with different arguments`);
    }
    const stored = row.response as Stored;
    if ('error' in stored) throw reviveError(stored.error);
    return stored.ok as T;
  };

  try {
    return await db.$transaction(async (tx) => {
      await tx.idempotencyKey.create({
        data: { principal, key, operation, requestHash, status: 'IN_PROGRESS', response: {} },
      });
      const result = await run(tx);
      await tx.idempotencyKey.update({
        where: { principal_key: { principal, key } },
        data: { status: 'DONE', response: { ok: result } as Prisma.InputJsonValue },
      });
      return result;
    });
  } catch (error) {
    // Another request with this key committed first (we waited on its row): answer as it did.
    if (isKeyCollision(error)) return replay();
    if (isDomainError(error) && !(error instanceof ConflictError)) {
      // The effects rolled back; remember the answer so the same key replays it.
      try {
        await db.idempotencyKey.create({
          data: {
            principal,
            key,
            operation,
            requestHash,
            status: 'DONE',
            response: serializeError(error) as Prisma.InputJsonValue,
          },
        });
      } catch (storeError) {
        if (isKeyCollision(storeError)) return replay();
        throw storeError;
      }
    }
    throw error;
  }
}
