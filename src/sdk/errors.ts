/** The typed error members of the API's `<Mutation>Result` unions (README "API conventions"). */
export const DOMAIN_ERROR_TYPES = [
  'ValidationError',
  'NotFoundError',
  'ForbiddenError',
  'InvalidStateError',
  'ConflictError',
  'InsufficientCreditsError',
  'NotEligibleError',
  'PaymentsUnavailableError',
  'BaseError',
] as const;

export type DomainErrorType = (typeof DOMAIN_ERROR_TYPES)[number];

/**
 * What went wrong: a domain error returned by a mutation (`ValidationError`, `NotFoundError`, ...), a GraphQL
 * error code raised by a query (`UNAUTHENTICATED`, `NOT_FOUND`, `FORBIDDEN`, `BAD_USER_INPUT`, ...), or
 * `HTTP_ERROR` / `NETWORK_ERROR` / `WebhookVerificationError` raised by the SDK itself.
 */
export type AgentworkErrorType =
  | DomainErrorType
  | 'UNAUTHENTICATED'
  | 'GRAPHQL_ERROR'
  | 'HTTP_ERROR'
  | 'NETWORK_ERROR'
  | 'WebhookVerificationError'
  | (string & {});

export interface ValidationIssue {
  path: string[];
  message: string;
}

export interface AgentworkErrorDetails {
  issues?: ValidationIssue[];
  currentStatus?: string;
  available?: number;
  required?: number;
  reasons?: string[];
  resource?: string;
  id?: string | null;
  /** HTTP status of the response, when there was one. */
  status?: number;
  /** Server request id (find it in the server's logs) for masked unexpected errors. */
  requestId?: string;
  cause?: unknown;
}

/**
 * The one error the SDK throws. Switch on `type`; the other fields are set when the server sent them
 * (`issues` for ValidationError, `currentStatus` for InvalidStateError, `available`/`required` for
 * InsufficientCreditsError, `reasons` for NotEligibleError, `resource`/`id` for NotFoundError).
 */
export class AgentworkError extends Error {
  override name = 'AgentworkError';
  readonly type: AgentworkErrorType;
  readonly issues?: ValidationIssue[];
  readonly currentStatus?: string;
  readonly available?: number;
  readonly required?: number;
  readonly reasons?: string[];
  readonly resource?: string;
  readonly id?: string | null;
  readonly status?: number;
  readonly requestId?: string;

  constructor(type: AgentworkErrorType, message: string, details: AgentworkErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.type = type;
    const { cause: _cause, ...rest } = details;
    for (const [key, value] of Object.entries(rest)) {
      if (value !== undefined) (this as Record<string, unknown>)[key] = value;
    }
  }

  /** The message with validation issues appended (`input.name: Required`). */
  describe(): string {
    if (!this.issues?.length) return `${this.type}: ${this.message}`;
    return `${this.type}: ${this.message} (${this.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')})`;
  }
}

export function isAgentworkError(error: unknown): error is AgentworkError {
  return error instanceof AgentworkError;
}

type ErrorMember = { __typename: `${string}Error`; message: string };

/** A result union without its error members. */
export type Success<T> = Exclude<T, { __typename: `${string}Error` }>;

function isErrorMember(value: unknown): value is ErrorMember & Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { __typename?: unknown }).__typename === 'string' &&
    (value as { __typename: string }).__typename.endsWith('Error')
  );
}

/** Returns the payload member of a `<Mutation>Result` union, or throws its error member as an AgentworkError. */
export function unwrapResult<T extends { __typename: string }>(result: T): Success<T> {
  if (isErrorMember(result)) {
    const e = result as ErrorMember & AgentworkErrorDetails;
    throw new AgentworkError(e.__typename, e.message, {
      issues: e.issues,
      currentStatus: e.currentStatus,
      available: e.available,
      required: e.required,
      reasons: e.reasons,
      resource: e.resource,
      id: e.id,
    });
  }
  return result as Success<T>;
}

/** A GraphQL error (as in `errors[]`) as an AgentworkError: `type` is `extensions.code`. */
export function fromGraphQLError(
  error: { message: string; extensions?: Record<string, unknown> },
  status?: number,
): AgentworkError {
  const ext = error.extensions ?? {};
  const code = typeof ext.code === 'string' ? ext.code : 'GRAPHQL_ERROR';
  const issues = Array.isArray(ext.issues) ? (ext.issues as ValidationIssue[]) : undefined;
  return new AgentworkError(code, error.message, {
    status,
    issues,
    requestId: typeof ext.requestId === 'string' ? ext.requestId : undefined,
  });
}
