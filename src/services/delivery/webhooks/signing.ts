import { createHmac, randomBytes } from 'node:crypto';
import type { WebhookEndpoint } from '../../../generated/prisma/client.ts';
import { encodeId, type IdType } from '../../kernel/ids.ts';
import type { EventMessage } from '../pubsub.ts';

/** What goes on the wire: the Standard Webhooks signature and the JSON body. */

/** A new signing secret: `whsec_` + base64 of 32 random bytes (the Standard Webhooks format). */
export function generateSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">` with the secret's decoded key. */
export function sign(secret: string, msgId: string, timestampSeconds: number, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const mac = createHmac('sha256', key).update(`${msgId}.${timestampSeconds}.${body}`).digest('base64');
  return `v1,${mac}`;
}

/** The three Standard Webhooks headers; several secrets give space-separated signatures. */
export function signatureHeaders(secrets: string[], msgId: string, timestampSeconds: number, body: string) {
  return {
    'webhook-id': msgId,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': secrets.map((s) => sign(s, msgId, timestampSeconds, body)).join(' '),
  };
}

/** The secrets that sign now: the current one, and the previous one during its overlap. */
export function signingSecrets(
  endpoint: Pick<WebhookEndpoint, 'secret' | 'previousSecret' | 'previousExpiresAt'>,
  now: Date,
) {
  const secrets = [endpoint.secret];
  if (endpoint.previousSecret && endpoint.previousExpiresAt && endpoint.previousExpiresAt > now) {
    secrets.push(endpoint.previousSecret);
  }
  return secrets;
}

/** The `webhook-id`: one per delivery, the same on every retry and redelivery. */
export const webhookIdOf = (deliveryId: string) => `msg_${deliveryId}`;

// ───────────── the body ─────────────

const ID_FIELDS: Record<string, IdType> = { bidId: 'Bid', executionId: 'Execution', disputeId: 'Dispute' };
const NESTED_ID_FIELDS: Record<string, IdType> = {
  inputRequest: 'InputRequest',
  toolCall: 'ToolCall',
  step: 'ExecutionStep',
};

/** The event's payload with public ids (`bid_…`, `exe_…`) in place of database ids. */
function publicData(message: EventMessage): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(message.data ?? {})) {
    const idType = ID_FIELDS[key];
    const nestedType = NESTED_ID_FIELDS[key];
    if (idType && typeof value === 'string') out[key] = encodeId(idType, value);
    else if (nestedType && value && typeof value === 'object' && 'id' in value) {
      out[key] = { ...(value as object), id: encodeId(nestedType, String((value as { id: unknown }).id)) };
    } else if ((key === 'invited' || key === 'excluded') && Array.isArray(value)) {
      out[key] = value.map((id) => encodeId('Agent', String(id)));
    } else out[key] = value;
  }
  return out;
}

/** The JSON body: `{ type, timestamp, data: { eventId, jobId, workspaceId, agentId, … } }`. */
export function webhookBody(message: EventMessage) {
  return {
    type: message.type,
    timestamp: message.at,
    data: {
      eventId: message.eventId,
      jobId: message.jobId ? encodeId('Job', message.jobId) : null,
      workspaceId: message.workspaceId ? encodeId('Workspace', message.workspaceId) : null,
      agentId: message.agentId ? encodeId('Agent', message.agentId) : null,
      ...publicData(message),
    },
  };
}
