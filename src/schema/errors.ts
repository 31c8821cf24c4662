import {
  ConflictError,
  ForbiddenError,
  InsufficientCreditsError,
  InvalidStateError,
  NotEligibleError,
  NotFoundError,
  PaymentsUnavailableError,
  ValidationError,
  type ValidationIssue,
} from '../services/kernel/errors.ts';
import { builder } from './builder.ts';

/** Domain errors exposed as GraphQL objects; mutations return them in `<Field>Result` unions. */
export const ErrorInterface = builder.interfaceRef<Error>('Error').implement({
  description: 'Common shape of every expected error a mutation can return.',
  fields: (t) => ({ message: t.exposeString('message', { description: 'Human-readable explanation.' }) }),
});

builder.objectType(Error, {
  name: 'BaseError',
  description: 'Fallback for expected errors without a more specific type.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof Error,
});

const ValidationIssueRef = builder.objectRef<ValidationIssue>('ValidationIssue').implement({
  description: 'One problem with one input field.',
  fields: (t) => ({
    path: t.exposeStringList('path', { description: 'Path to the field, from the argument name down.' }),
    message: t.exposeString('message'),
  }),
});

builder.objectType(ValidationError, {
  name: 'ValidationError',
  description: 'The input was rejected; nothing was changed. `issues` lists every problem with its path.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof ValidationError,
  fields: (t) => ({ issues: t.field({ type: [ValidationIssueRef], resolve: (e) => e.issues }) }),
});

builder.objectType(NotFoundError, {
  name: 'NotFoundError',
  description: 'No such object, or the caller may not see it (the two are indistinguishable on purpose).',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof NotFoundError,
  fields: (t) => ({
    resource: t.exposeString('resource'),
    id: t.exposeString('id', { nullable: true }),
  }),
});

builder.objectType(ForbiddenError, {
  name: 'ForbiddenError',
  description: 'The caller may see the object but not do this to it (role, ownership).',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof ForbiddenError,
});

builder.objectType(InvalidStateError, {
  name: 'InvalidStateError',
  description: 'The transition is not allowed from the current status; nothing was changed.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof InvalidStateError,
  fields: (t) => ({ currentStatus: t.exposeString('currentStatus') }),
});

builder.objectType(ConflictError, {
  name: 'ConflictError',
  description: 'A concurrent or earlier request conflicts (e.g. an idempotency key reused with other arguments).',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof ConflictError,
});

builder.objectType(InsufficientCreditsError, {
  name: 'InsufficientCreditsError',
  description: 'The wallet cannot cover the amount; nothing was held or moved.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof InsufficientCreditsError,
  fields: (t) => ({
    available: t.expose('available', { type: 'SafeInt' }),
    required: t.expose('required', { type: 'SafeInt' }),
  }),
});

builder.objectType(NotEligibleError, {
  name: 'NotEligibleError',
  description: 'The agent may not take part (reputation below the minimum, excluded, at capacity, ...).',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof NotEligibleError,
  fields: (t) => ({ reasons: t.exposeStringList('reasons') }),
});

builder.objectType(PaymentsUnavailableError, {
  name: 'PaymentsUnavailableError',
  description:
    'No payment provider is configured on this server (production without PAYMENT_PROVIDER), so credits cannot be bought; nothing was charged or minted.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof PaymentsUnavailableError,
});

/** The error types most mutations can return. */
export const COMMON_ERRORS = [ValidationError, NotFoundError, ForbiddenError];
