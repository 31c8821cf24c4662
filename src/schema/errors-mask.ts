import { GraphQLError } from 'graphql';
import { requestScope } from '../request-context.ts';
import { isDomainError, type NotFoundError, type ValidationError } from '../services/kernel/errors.ts';
import { isTransientError, RETRY_AFTER_SECONDS } from '../services/kernel/transient.ts';
import { NUL_MESSAGE } from '../services/kernel/validation.ts';

const CODES: Record<string, { code: string; status?: number }> = {
  UnauthenticatedError: { code: 'UNAUTHENTICATED', status: 401 },
  ForbiddenError: { code: 'FORBIDDEN' },
  NotFoundError: { code: 'NOT_FOUND' },
  ValidationError: { code: 'BAD_USER_INPUT' },
  InvalidStateError: { code: 'INVALID_STATE' },
  ConflictError: { code: 'CONFLICT' },
  InsufficientCreditsError: { code: 'INSUFFICIENT_CREDITS' },
  NotEligibleError: { code: 'NOT_ELIGIBLE' },
  PaymentsUnavailableError: { code: 'PAYMENTS_UNAVAILABLE' },
};

/** The `extensions.code` of a domain error type (`ValidationError` → `BAD_USER_INPUT`); shared with the REST mirror. */
export function errorCodeOf(typeName: string): string {
  return CODES[typeName]?.code ?? 'BAD_REQUEST';
}

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
  // Pothos' own argument checks (connection cursors, `last` without `first`/`before`): the caller's input.
  if (original instanceof Error && original.name === 'PothosValidationError')
    return badInput(`Invalid input: ${original.message}`, [], isGql(error) ? error : undefined);
  if (isGql(error) && isGql(error.originalError)) return error.originalError;
  // Safety net: input that reached PostgreSQL with a NUL character (services refuse it in `parse`).
  if (isNulRejection(original))
    return badInput(`Invalid input: text ${NUL_MESSAGE}`, [], isGql(error) ? error : undefined);
  const scope = requestScope.getStore();
  scope?.log.error({ err: original }, 'unexpected error');
  return new GraphQLError(message || 'Unexpected error.', {
    path: isGql(error) ? error.path : undefined,
    extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: scope?.requestId },
  });
}

/** A client-input error shaped like a ValidationError thrown by a query (code BAD_USER_INPUT, issues). */
function badInput(message: string, path: string[], at?: GraphQLError): GraphQLError {
  return new GraphQLError(message, {
    nodes: at?.nodes,
    path: at?.path,
    source: at?.source,
    positions: at?.positions,
    extensions: { code: 'BAD_USER_INPUT', type: 'ValidationError', issues: [{ path, message }] },
  });
}

/** PostgreSQL refused a NUL character: 22021 in text, 22P05 in jsonb (through Prisma's driver adapter). */
function isNulRejection(error: unknown): boolean {
  const e = error as { meta?: { driverAdapterError?: { cause?: { originalCode?: string } } } } | null;
  const code = e?.meta?.driverAdapterError?.cause?.originalCode;
  return code === '22021' || code === '22P05';
}

/**
 * The code of an error the client caused (a bad key, a missing or hidden object, invalid input, an
 * action its key may not take, ...), or null when the fault is ours. Client errors are answered, not
 * investigated: the server logs them at info, and only our own faults at error.
 */
export function clientErrorCode(error: unknown): string | null {
  if (isDomainError(error)) return (CODES[error.name] ?? { code: 'BAD_REQUEST' }).code;
  if (!(error instanceof Error)) return null;
  const { originalError, extensions } = error as Partial<GraphQLError>;
  if (originalError && originalError !== error) return clientErrorCode(originalError);
  const code = extensions?.code;
  const status = (extensions?.http as { status?: number } | undefined)?.status ?? 400;
  return typeof code === 'string' && code !== 'INTERNAL_SERVER_ERROR' && status < 500 ? code : null;
}
