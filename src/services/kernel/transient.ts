/**
 * Connection-level failures of PostgreSQL or Redis: the request did not fail because of what it
 * asked, but because a server was unreachable for a moment (restart, failover, network blip, pool
 * exhausted). They answer a typed, retryable error (SERVICE_UNAVAILABLE, HTTP 503, Retry-After),
 * never "Unexpected error.".
 *
 * Recognised by error codes first (Node socket errors, SQLSTATE classes 08 "connection exception"
 * and 57P0x "operator intervention", Prisma's connection codes), then by the messages of the
 * drivers that carry no code (pg's "Connection terminated unexpectedly", its pool timeout,
 * ioredis's closed connection, Prisma's interactive
 * transaction that found no pooled connection within its maxWait). Walks `cause`, `originalError`, Prisma's `meta.driverAdapterError`
 * and AggregateError's `errors`.
 */
const CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  // PostgreSQL: admin shutdown, crash shutdown, cannot connect now, too many connections.
  '57P01',
  '57P02',
  '57P03',
  '53300',
  // Prisma: can't reach server, timed out, server closed the connection, pool timeout.
  'P1001',
  'P1002',
  'P1008',
  'P1017',
  'P2024',
]);

const MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|connection timeout|Client has encountered a connection error|terminating connection due to administrator command|the database system is (starting up|shutting down|in recovery mode)|Can't reach database server|Server has closed the connection|Timed out fetching a new connection|Unable to start a transaction in the given time|Connection is closed|Stream isn't writeable|Reached the max retries per request|ECONNREFUSED|ECONNRESET/i;

export function isTransientError(error: unknown, depth = 0): boolean {
  if (depth > 6 || typeof error !== 'object' || error === null) return false;
  const e = error as {
    code?: unknown;
    message?: unknown;
    cause?: unknown;
    originalError?: unknown;
    meta?: { driverAdapterError?: unknown };
    errors?: unknown;
  };
  if (typeof e.code === 'string' && (CODES.has(e.code) || /^08[0-9A-Z]{3}$/.test(e.code))) return true;
  if (typeof e.message === 'string' && MESSAGES.test(e.message)) return true;
  const inner = [e.cause, e.originalError, e.meta?.driverAdapterError, ...(Array.isArray(e.errors) ? e.errors : [])];
  return inner.some((i) => i !== error && isTransientError(i, depth + 1));
}

/** Seconds a client should wait before retrying after a transient failure. */
export const RETRY_AFTER_SECONDS = 1;
