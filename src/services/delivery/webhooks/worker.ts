import type { Agent } from 'undici';
import type { Database } from '../../../db/client.ts';
import type { DeliveryStatus } from '../../../generated/prisma/enums.ts';
import type { Logger } from '../../../log.ts';
import { createKickLoop } from '../kick-loop.ts';
import { type AllowList, createGuardedAgent, guardedFetch, OutboundTimeoutError, SsrfError } from '../ssrf.ts';
import { disablePending } from './endpoints.ts';
import { NOTIFY_CHANNEL } from './enqueue.ts';
import { signatureHeaders, signingSecrets, webhookIdOf } from './signing.ts';

/**
 * Delay before retry n (after failed attempt n): 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, 14 h,
 * 30 h, each ±20% jitter; 10 attempts over about 3 days (71.6 h), then FAILED.
 */
export const RETRY_SCHEDULE_MS = [
  5_000,
  5 * 60_000,
  30 * 60_000,
  2 * 3_600_000,
  5 * 3_600_000,
  10 * 3_600_000,
  10 * 3_600_000,
  14 * 3_600_000,
  30 * 3_600_000,
];
export const MAX_ATTEMPTS = RETRY_SCHEDULE_MS.length + 1;
export const JITTER = 0.2;
/** A `Retry-After` longer than this is capped (the whole schedule is about 3 days). */
const MAX_RETRY_AFTER_MS = 24 * 3_600_000;
export const REQUEST_TIMEOUT_MS = 15_000;
/** How much of a response body is kept on the attempt. */
export const RESPONSE_BODY_LIMIT = 2_048;

// ───────────── the delivery worker ─────────────

/** `Retry-After`: delay-seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: Date): number | null {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1_000;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - now.getTime());
}

/**
 * Delay before the next attempt after `attempts` failed ones: the schedule with ±20% jitter, but
 * never sooner than the receiver's `Retry-After` (capped at 24 h). Null when none is left.
 */
export function nextDelay(attempts: number, retryAfterMs: number | null, random = Math.random): number | null {
  if (attempts >= MAX_ATTEMPTS) return null;
  const base = RETRY_SCHEDULE_MS[attempts - 1] ?? RETRY_SCHEDULE_MS[RETRY_SCHEDULE_MS.length - 1]!;
  const jittered = Math.round(base * (1 - JITTER + 2 * JITTER * random()));
  return retryAfterMs === null ? jittered : Math.max(jittered, Math.min(retryAfterMs, MAX_RETRY_AFTER_MS));
}

export interface WebhookWorkerOptions {
  /** WEBHOOK_ALLOW_HOSTS, parsed. */
  allowHosts?: AllowList;
  /** A dispatcher from `createGuardedAgent` (default: the worker's own, with `allowHosts`). */
  dispatcher?: Agent;
  timeoutMs?: number;
  /** How long a claimed delivery stays locked (must exceed the request timeout). */
  leaseMs?: number;
  /** Deliveries claimed per round, and sent at once. */
  batch?: number;
  concurrency?: number;
  pollMs?: number;
  /** On stop, how long in-flight requests may finish before they are aborted. */
  stopGraceMs?: number;
  random?: () => number;
}

export interface WebhookWorker {
  /** One round at `now` (default: the clock): claim due deliveries, send them, record the outcome. */
  runOnce(now?: Date): Promise<number>;
  kick(): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

interface AttemptOutcome {
  statusCode: number | null;
  responseBody: string | null;
  error: string | null;
  durationMs: number;
  retryAfterMs: number | null;
}

export function createWebhookWorker(
  database: Database,
  log: Logger,
  options: WebhookWorkerOptions = {},
): WebhookWorker {
  const db = database.prisma;
  const timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS;
  const leaseMs = options.leaseMs ?? timeoutMs + 45_000;
  const batch = options.batch ?? 20;
  const concurrency = options.concurrency ?? 8;
  const random = options.random ?? Math.random;
  const ownDispatcher = options.dispatcher ? null : createGuardedAgent({ allow: options.allowHosts });
  const dispatcher = options.dispatcher ?? ownDispatcher!;

  /** Claims due deliveries: PENDING, due, not leased by a live worker. */
  async function claim(now: Date): Promise<{ id: string; lease: Date }[]> {
    const lease = new Date(now.getTime() + leaseMs);
    return db.$transaction(async (tx) => {
      // ISO text cast to `timestamp` is the UTC wall time Prisma stores, whatever the session zone.
      const at = now.toISOString();
      const due = await tx.$queryRaw<{ id: string }[]>`
        SELECT "id" FROM "WebhookDelivery"
        WHERE "status" = 'PENDING' AND "nextAttemptAt" <= ${at}::timestamp
          AND ("lockedUntil" IS NULL OR "lockedUntil" <= ${at}::timestamp)
        ORDER BY "nextAttemptAt", "id"
        LIMIT ${batch}
        FOR UPDATE SKIP LOCKED`;
      if (due.length === 0) return [];
      await tx.webhookDelivery.updateMany({
        where: { id: { in: due.map((d) => d.id) } },
        data: { lockedUntil: lease },
      });
      return due.map((d) => ({ id: d.id, lease }));
    });
  }

  async function send(url: string, secrets: string[], msgId: string, body: string): Promise<AttemptOutcome> {
    const started = performance.now();
    const duration = () => Math.round(performance.now() - started);
    // The signature's timestamp is the real send time, so receivers' 5-minute tolerance holds on retries.
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'Agentwork-Webhooks/1.0 (+https://www.standardwebhooks.com)',
      ...signatureHeaders(secrets, msgId, Math.floor(Date.now() / 1_000), body),
    };
    try {
      // The one guarded connector: resolved-address check at connect time, no redirects, timeout, size cap.
      const res = await guardedFetch(url, {
        method: 'POST',
        headers,
        body,
        dispatcher,
        timeoutMs,
        maxBytes: RESPONSE_BODY_LIMIT,
      });
      return {
        statusCode: res.status,
        // PostgreSQL text cannot hold NUL. No body (a 204, an empty answer): null.
        responseBody: res.body.byteLength > 0 ? res.text().replaceAll('\0', '') : null,
        error:
          res.redirectLocation === null ? null : `redirect to ${res.redirectLocation || '(no location)'} not followed`,
        durationMs: duration(),
        retryAfterMs: parseRetryAfter(res.headers.get('retry-after'), new Date()),
      };
    } catch (error) {
      const message =
        error instanceof SsrfError
          ? `${error.message} (SSRF guard: nothing was sent)`
          : error instanceof OutboundTimeoutError
            ? `timed out after ${timeoutMs} ms`
            : (error as Error).message || String(error);
      return { statusCode: null, responseBody: null, error: message, durationMs: duration(), retryAfterMs: null };
    }
  }

  async function deliver(id: string, lease: Date, now: Date) {
    const delivery = await db.webhookDelivery.findUnique({
      where: { id },
      include: { endpoint: { include: { agent: { select: { webhookUrl: true } } } } },
    });
    if (delivery?.status !== 'PENDING') return;
    const endpoint = delivery.endpoint;
    // An agent's endpoint follows its webhookUrl, also for deliveries queued before a change.
    const url = endpoint.agentId ? endpoint.agent?.webhookUrl : endpoint.url;
    if (endpoint.disabledAt || !url) {
      await db.webhookDelivery.updateMany({
        where: { id, lockedUntil: lease },
        data: { status: 'DISABLED', lockedUntil: null },
      });
      return;
    }
    if (url !== endpoint.url) {
      await db.webhookEndpoint.update({ where: { id: endpoint.id }, data: { url } });
    }
    const outcome = await send(url, signingSecrets(endpoint, now), webhookIdOf(id), JSON.stringify(delivery.payload));
    const attempts = delivery.attemptCount + 1;
    const ok = outcome.statusCode !== null && outcome.statusCode >= 200 && outcome.statusCode < 300;
    const gone = outcome.statusCode === 410;
    const delay = ok || gone ? null : nextDelay(attempts, outcome.retryAfterMs, random);
    const status: DeliveryStatus = ok ? 'SUCCEEDED' : gone ? 'DISABLED' : delay === null ? 'FAILED' : 'PENDING';
    await db.$transaction(async (tx) => {
      await tx.webhookAttempt.create({
        data: {
          deliveryId: id,
          attemptedAt: now,
          statusCode: outcome.statusCode,
          responseBody: outcome.responseBody,
          error: outcome.error,
          durationMs: outcome.durationMs,
        },
      });
      // Only while we still hold the lease (a redelivery or an expired lease hands it on).
      await tx.webhookDelivery.updateMany({
        where: { id, lockedUntil: lease },
        data: {
          status,
          attemptCount: attempts,
          lockedUntil: null,
          ...(delay !== null ? { nextAttemptAt: new Date(now.getTime() + delay) } : {}),
        },
      });
      if (gone) {
        await tx.webhookEndpoint.update({
          where: { id: endpoint.id },
          data: { disabledAt: now, disabledReason: 'the receiver answered 410 Gone' },
        });
        await disablePending(tx, endpoint.id);
      }
    });
    if (gone) log.warn({ endpointId: endpoint.id }, 'webhook endpoint answered 410 Gone: disabled');
  }

  async function runOnce(now = new Date()): Promise<number> {
    const claimed = await claim(now);
    let next = 0;
    const lane = async () => {
      while (next < claimed.length) {
        const item = claimed[next++]!;
        try {
          await deliver(item.id, item.lease, now);
        } catch (error) {
          // The lease expires and another round tries again.
          log.warn({ err: error, deliveryId: item.id }, 'webhook delivery failed unexpectedly');
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, claimed.length) }, lane));
    return claimed.length;
  }

  let timer: NodeJS.Timeout | undefined;
  let unlisten: (() => Promise<void>) | undefined;
  let stopping: Promise<void> | undefined;
  const loop = createKickLoop(() => runOnce(), {
    batch,
    onError: (error) => log.warn({ err: error }, 'webhook round failed; will retry'),
  });
  const kick = loop.kick;

  return {
    runOnce,
    kick,
    async start() {
      unlisten = await database.listen(NOTIFY_CHANNEL, kick).catch((error) => {
        log.warn({ err: error }, 'LISTEN unavailable; the webhook worker polls only');
        return undefined;
      });
      timer = setInterval(kick, options.pollMs ?? 1_000);
      timer.unref();
      kick();
    },
    /** Idempotent. */
    stop() {
      stopping ??= (async () => {
        loop.stop();
        clearInterval(timer);
        const running = loop.current();
        await unlisten?.();
        // Let in-flight requests finish for a moment, then abort them: each is then recorded as a
        // failed attempt and retried later (at least once), rather than holding up the shutdown.
        let grace: NodeJS.Timeout | undefined;
        await Promise.race([running, new Promise((r) => (grace = setTimeout(r, options.stopGraceMs ?? 5_000)))]);
        clearTimeout(grace);
        if (loop.current() && ownDispatcher) {
          await ownDispatcher.destroy();
          await running;
        } else {
          await running;
          await ownDispatcher?.close();
        }
      })();
      return stopping;
    },
  };
}
