import type { Tx } from '../../db/client.ts';
import type { Prisma } from '../../generated/prisma/client.ts';
import type { ExecutionStatus } from '../../generated/prisma/enums.ts';
import { InvalidStateError, NotFoundError } from '../kernel/errors.ts';

/**
 * The execution lifecycle: STARTED → WORKING ⇄ AWAITING_INPUT → COMPLETED | FAILED.
 * COMPLETED → WORKING is the one way back: the reviewer requested changes.
 */
export const EXECUTION_TRANSITIONS: Record<ExecutionStatus, readonly ExecutionStatus[]> = {
  STARTED: ['WORKING', 'AWAITING_INPUT', 'COMPLETED', 'FAILED'],
  WORKING: ['WORKING', 'AWAITING_INPUT', 'COMPLETED', 'FAILED'],
  AWAITING_INPUT: ['WORKING', 'FAILED'],
  COMPLETED: ['WORKING'],
  FAILED: [],
};

export function canTransitionExecution(from: ExecutionStatus, to: ExecutionStatus): boolean {
  return EXECUTION_TRANSITIONS[from].includes(to);
}

/** Conditional update like transitionJob: concurrent moves cannot both succeed from the same state. */
export async function transitionExecution(
  tx: Tx,
  executionId: string,
  to: ExecutionStatus,
  options: { only?: ExecutionStatus[]; data?: Prisma.ExecutionUncheckedUpdateManyInput } = {},
) {
  const sources = (Object.keys(EXECUTION_TRANSITIONS) as ExecutionStatus[]).filter(
    (from) => canTransitionExecution(from, to) && (!options.only || options.only.includes(from)),
  );
  const updated = await tx.execution.updateMany({
    where: { id: executionId, status: { in: sources } },
    data: { ...options.data, status: to },
  });
  if (updated.count === 0) {
    const now = await tx.execution.findUnique({ where: { id: executionId }, select: { status: true } });
    if (!now) throw new NotFoundError('Execution', executionId);
    throw new InvalidStateError(now.status, `This execution is ${now.status}: it cannot become ${to}`);
  }
  return tx.execution.findUniqueOrThrow({ where: { id: executionId } });
}
