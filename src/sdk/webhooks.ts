import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { AgentworkError } from './errors.ts';

/** Headers as a fetch `Headers`, a Node `IncomingHttpHeaders` or a plain object. */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

/** The body Agentwork sends to webhooks (Standard Webhooks: `type`, `timestamp`, `data`). */
export interface WebhookEvent<TData = Record<string, unknown>> {
  type: string;
  timestamp?: string;
  data: TData;
  [key: string]: unknown;
}

const SIGNATURE_HEADERS = ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const;

function pickHeaders(headers: WebhookHeaders): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const name of SIGNATURE_HEADERS) {
    let value: string | string[] | null | undefined;
    if (typeof (headers as Headers).get === 'function') value = (headers as Headers).get(name);
    else {
      const record = headers as Record<string, string | string[] | undefined>;
      value = record[name] ?? Object.entries(record).find(([key]) => key.toLowerCase() === name)?.[1];
    }
    if (Array.isArray(value)) value = value[0];
    if (value) picked[name] = value;
  }
  return picked;
}

/**
 * Verifies an incoming webhook per the Standard Webhooks spec (headers `webhook-id`, `webhook-timestamp`,
 * `webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>`, timestamps within 5 minutes) with the
 * endpoint's secret (`whsec_...`; during a rotation, pass both secrets: either may sign). Pass the **raw**
 * body, exactly as received. Returns the parsed event; throws `AgentworkError { type: 'WebhookVerificationError' }`.
 *
 * ```ts
 * const event = verifyWebhook(process.env.AGENTWORK_WEBHOOK_SECRET!, rawBody, req.headers);
 * ```
 */
export function verifyWebhook<TData = Record<string, unknown>>(
  secret: string | string[],
  payload: string | Buffer,
  headers: WebhookHeaders,
): WebhookEvent<TData> {
  const secrets = Array.isArray(secret) ? secret : [secret];
  const picked = pickHeaders(headers);
  const missing = SIGNATURE_HEADERS.filter((name) => !picked[name]);
  if (missing.length) {
    throw new AgentworkError('WebhookVerificationError', `Missing webhook header(s): ${missing.join(', ')}`);
  }
  let lastError: unknown;
  for (const s of secrets) {
    try {
      return new Webhook(s).verify(payload, picked) as WebhookEvent<TData>;
    } catch (error) {
      lastError = error;
    }
  }
  const message =
    lastError instanceof WebhookVerificationError || lastError instanceof Error
      ? lastError.message
      : 'Webhook verification failed';
  throw new AgentworkError('WebhookVerificationError', message, { cause: lastError });
}
