import { GraphQLError } from 'graphql';
import { requestScope } from '../request-context.ts';
import { isDomainError, type NotFoundError, type ValidationError } from '../services/kernel/errors.ts';
import { isTransientError, RETRY_AFTER_SECONDS } from '../services/kernel/transient.ts';

const CODES: Record<string, { code: string; status?: number }> = {
  UnauthenticatedError: { code: 'UNAUTHENTICATED', status: 401 },
  ForbiddenError: { code: 'FORBIDDEN' },
  NotFoundError: { code: 'NOT_FOUND' },
  ValidationError: { code: 'BAD_USER_INPUT' },
  InvalidStateError: { code: 'INVALID_STATE' },
  ConflictError: { code: 'CONFLICT' },
  InsufficientCreditsError: { code: 'INSUFFICIENT_CREDITS' },
  NotEligibleError: { code: 'NOT_ELIGIBLE' },
};

/**
 * A database or Redis connection failed (see kernel/transient.ts): the client should retry, so it
 * gets HTTP 503 with Retry-After and a stable code, and the log a warning rather than a stack.
 */
export function serviceUnavailable(path?: readonly (string | number)[]): GraphQLError {
  const scope = requestScope.getStore();
  scope?.log.warn('database or Redis unreachable; answered SERVICE_UNAVAILABLE');
  return new GraphQLError('Service temporarily unavailable; retry shortly.', {
    path,
    extensions: {
      code: 'SERVICE_UNAVAILABLE',
      retryAfter: RETRY_AFTER_SECONDS,
      requestId: scope?.requestId,
      http: { status: 503, headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) } },
    },
  });
}

/**
 * yoga's `maskError`: domain errors thrown outside a result union (queries, auth) keep their
 * message and get a stable `extensions.code`; GraphQL's own errors (syntax, validation) pass
 * through; connection-level failures become SERVICE_UNAVAILABLE (503); anything else becomes
 * "Unexpected error." with the request id, and is logged whole.
 */
export function maskError(error: unknown, message: string): Error {
  // Duck-typed: graphql's CJS and ESM builds can both be loaded (test runners), and their
  // GraphQLError classes differ.
  const isGql = (e: unknown): e is GraphQLError => e instanceof Error && e.name === 'GraphQLError' && 'extensions' in e;
  const original = isGql(error) ? (error.originalError ?? error) : error;
  if (isDomainError(original)) {
    const mapped = CODES[original.name] ?? { code: 'BAD_REQUEST' };
    const extensions: Record<string, unknown> = { code: mapped.code, type: original.name };
    if (mapped.status) extensions.http = { status: mapped.status };
    if (original.name === 'ValidationError') extensions.issues = (original as ValidationError).issues;
    if (original.name === 'NotFoundError') extensions.resource = (original as NotFoundError).resource;
    const gqlError = isGql(error) ? error : undefined;
    return new GraphQLError(original.message, {
      nodes: gqlError?.nodes,
      path: gqlError?.path,
      source: gqlError?.source,
      positions: gqlError?.positions,
      extensions,
    });
  }
  if (isTransientError(original)) return serviceUnavailable(isGql(error) ? error.path : undefined);
  // Errors GraphQL or yoga raised themselves (parse, validation, bad body) are safe and useful,
  // minus the echo of the client's raw input that yoga attaches in development.
  if (isGql(error) && (!error.originalError || error.extensions?.code === 'BAD_REQUEST')) {
    const original = error.extensions?.originalError as { name?: string; message?: string } | undefined;
    // Keep the field (yoga derives the 400 status from it) but never echo more than a line of input.
    if (original?.message)
      (error.extensions as Record<string, unknown>).originalError = {
        name: original.name,
        message: original.message.slice(0, 120),
      };
    return error;
  }
  if (isGql(error) && isGql(error.originalError)) return error.originalError;
  const scope = requestScope.getStore();
  scope?.log.error({ err: original }, 'unexpected error');
  return new GraphQLError(message || 'Unexpected error.', {
    path: isGql(error) ? error.path : undefined,
    extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: scope?.requestId },
  });
}
