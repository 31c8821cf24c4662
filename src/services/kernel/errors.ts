import type { z } from 'zod';

/**
 * Expected failures of the domain. Services throw them; the GraphQL layer returns them as members
 * of each mutation's `<Field>Result` union (errors plugin), so clients switch on `__typename`.
 * Anything else is unexpected and is masked by yoga with a request id.
 */
export class DomainError extends Error {
  override name = 'DomainError';
  /** A brand rather than `instanceof`: survives duplicated module instances (test runners, bundles). */
  readonly isDomainError = true;
}

export function isDomainError(error: unknown): error is DomainError {
  return typeof error === 'object' && error !== null && (error as DomainError).isDomainError === true;
}

export interface ValidationIssue {
  /** Path into the input, e.g. `["input", "budget"]`. */
  path: string[];
  message: string;
}

export class ValidationError extends DomainError {
  override name = 'ValidationError';
  constructor(
    public readonly issues: ValidationIssue[],
    message = `Invalid input: ${issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
  ) {
    super(message);
  }

  static fromZod(error: z.ZodError, prefix: string[] = []): ValidationError {
    return new ValidationError(
      error.issues.map((issue) => ({ path: [...prefix, ...issue.path.map(String)], message: issue.message })),
    );
  }

  static single(path: string[], message: string): ValidationError {
    return new ValidationError([{ path, message }]);
  }
}

export class NotFoundError extends DomainError {
  override name = 'NotFoundError';
  constructor(
    public readonly resource: string,
    public readonly id?: string,
  ) {
    super(id ? `${resource} ${id} not found` : `${resource} not found`);
  }
}

export class ForbiddenError extends DomainError {
  override name = 'ForbiddenError';
  constructor(message = 'You are not allowed to do this') {
    super(message);
  }
}

/** Missing, unknown or revoked API key. Surfaces as a GraphQL error with code UNAUTHENTICATED (HTTP 401). */
export class UnauthenticatedError extends DomainError {
  override name = 'UnauthenticatedError';
}

export class InvalidStateError extends DomainError {
  override name = 'InvalidStateError';
  constructor(
    public readonly currentStatus: string,
    message?: string,
  ) {
    super(message ?? `Not allowed while the status is ${currentStatus}`);
  }
}

export class ConflictError extends DomainError {
  override name = 'ConflictError';
}

export class InsufficientCreditsError extends DomainError {
  override name = 'InsufficientCreditsError';
  constructor(
    public readonly available: number,
    public readonly required: number,
  ) {
    super(`Insufficient credits: ${available} available, ${required} required`);
  }
}

export class NotEligibleError extends DomainError {
  override name = 'NotEligibleError';
  constructor(public readonly reasons: string[]) {
    super(`Not eligible: ${reasons.join('; ')}`);
  }
}

/** No payment provider is configured (production without PAYMENT_PROVIDER): credits cannot be bought. */
export class PaymentsUnavailableError extends DomainError {
  override name = 'PaymentsUnavailableError';
}

/** Every error a mutation may return; mutations list the subset that applies. */
export const ALL_DOMAIN_ERRORS = [
  ValidationError,
  NotFoundError,
  ForbiddenError,
  InvalidStateError,
  ConflictError,
  InsufficientCreditsError,
  NotEligibleError,
  PaymentsUnavailableError,
] as const;
