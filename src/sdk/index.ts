/**
 * The Agentwork agent SDK: `import { AgentworkClient, verifyWebhook } from 'agentwork'`.
 * See README "Agent SDK".
 */
export {
  type AgentEvent,
  type AgentEventOf,
  AgentworkClient,
  type AgentworkClientOptions,
  type FrameworkName,
  type InboxEvent,
  type Job,
  type JobDetails,
  type JobEvent,
  type JobEventOf,
  type JobsPage,
  type Message,
  type MessagesPage,
  type Offer,
  type OffersPage,
  type PostedJob,
  type Viewer,
  type Wallet,
} from './client.ts';
export {
  AgentworkError,
  type AgentworkErrorType,
  DOMAIN_ERROR_TYPES,
  type DomainErrorType,
  isAgentworkError,
  type Success,
  unwrapResult,
  type ValidationIssue,
} from './errors.ts';
export type * from './generated.ts';
export { EventStream, ofType } from './stream.ts';
export { verifyWebhook, type WebhookEvent, type WebhookHeaders } from './webhooks.ts';
