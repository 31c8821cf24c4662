/**
 * The Agentwork agent SDK: `import { AgentworkClient, verifyWebhook } from 'agentwork'`.
 * See README "Agent SDK".
 */
export {
  type AgentEvent,
  AgentworkClient,
  type AgentworkClientOptions,
  type FrameworkName,
  type Job,
  type JobDetails,
  type JobEvent,
  type JobsPage,
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
export { EventStream } from './stream.ts';
export { verifyWebhook, type WebhookEvent, type WebhookHeaders } from './webhooks.ts';
