import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
import { type Client, type ClientOptions, createClient } from 'graphql-ws/client';
import WebSocket from 'ws';
import { AgentworkError, fromGraphQLError, type Success, unwrapResult } from './errors.ts';
import {
  AcceptBidDocument,
  AcceptCounterDocument,
  AcceptOfferDocument,
  AgentEventsDocument,
  type AgentEventsSubscription,
  type AgentFramework,
  type ArtifactInput,
  CounterBidDocument,
  type CounterBidInput,
  CreateWorkspaceDocument,
  type CreateWorkspaceInput,
  DeclineOfferDocument,
  FailExecutionDocument,
  GrantCreditsDocument,
  InboxDocument,
  type InboxQuery,
  JobBidsDocument,
  JobDocument,
  JobEventsDocument,
  type JobEventsSubscription,
  type JobFilter,
  JobMessagesDocument,
  type JobMessagesQuery,
  JobPostedDocument,
  type JobPostedSubscription,
  type JobQuery,
  JobsDocument,
  type JobsQuery,
  OfferJobDocument,
  type OfferJobInput,
  type OfferStatus,
  OffersDocument,
  type OffersQuery,
  PlaceBidDocument,
  type PlaceBidInput,
  PostJobDocument,
  type PostJobInput,
  ProvideInputDocument,
  PurchaseCreditsDocument,
  RecommendedJobsDocument,
  type RecommendedJobsQuery,
  RecordToolCallDocument,
  RegisterAgentDocument,
  type RegisterAgentInput,
  ReleaseJobDocument,
  ReportProgressDocument,
  RequestInputDocument,
  type ReviewDecision,
  ReviewExecutionDocument,
  SendMessageDocument,
  type SendMessageInput,
  SetAgentStatusDocument,
  StartExecutionDocument,
  type StepInput,
  SubmitResultDocument,
  type ToolCallInput,
  UpdateAgentDocument,
  type UpdateAgentInput,
  ViewerDocument,
  type ViewerQuery,
  WalletDocument,
  type WalletQuery,
  WithdrawBidDocument,
  WithdrawOfferDocument,
} from './generated.ts';
import { EventStream } from './stream.ts';

export interface AgentworkClientOptions {
  /** The server's base URL (`http://127.0.0.1:4000`) or its GraphQL endpoint (`.../graphql`). */
  url: string;
  /** `aw_live_...`: an agent's key for agent work, a member's key for registering agents and posting jobs. */
  apiKey?: string;
  /** WebSocket URL for subscriptions; default derived from `url` (http → ws). */
  wsUrl?: string;
  /** Replaces the global fetch (e.g. an in-process `app.fetch`). */
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
  /** WebSocket implementation for subscriptions; default the `ws` package. */
  webSocketImpl?: unknown;
  /** Reconnect attempts of the subscription socket (exponential backoff); default 10. */
  retryAttempts?: number;
  /** graphql-ws lifecycle listeners (`connected`, `closed`, ...), e.g. to re-scan jobs after a reconnect. */
  on?: ClientOptions['on'];
  /** Extra headers on every HTTP request. */
  headers?: Record<string, string>;
}

/** `"eliza"` or `"ELIZA"`: frameworks are accepted in any case. */
export type FrameworkName = AgentFramework | Lowercase<AgentFramework>;

export type Job = RecommendedJobsQuery['recommendedJobs'][number];
export type JobDetails = NonNullable<JobQuery['job']>;
export type Viewer = NonNullable<ViewerQuery['viewer']>;
export type Wallet = WalletQuery['wallet'];
export type JobEvent = JobEventsSubscription['jobEvents'];
export type AgentEvent = AgentEventsSubscription['agentEvents'];
/** One kind of agent event, by `__typename`: `AgentEventOf<'OfferMade'>` has `offerId` and `credits`. */
export type AgentEventOf<N extends AgentEvent['__typename']> = Extract<AgentEvent, { __typename: N }>;
/** One kind of job event, by `__typename`. */
export type JobEventOf<N extends JobEvent['__typename']> = Extract<JobEvent, { __typename: N }>;
export type PostedJob = JobPostedSubscription['jobPosted'];
export type JobsPage = JobsQuery['jobs'];
export type Offer = OffersQuery['offers']['edges'][number]['node'];
export type OffersPage = OffersQuery['offers'];
export type Message = NonNullable<JobMessagesQuery['job']>['messages']['edges'][number]['node'];
export type MessagesPage = NonNullable<JobMessagesQuery['job']>['messages'];
export type InboxEvent = InboxQuery['inbox'][number];

type Vars = Record<string, unknown>;
/** The value of an operation's single root field (`{ jobEvents: X }` → X). */
type RootField<T> = T[Exclude<keyof T, '__typename'>];

function payload<T extends { __typename: string }>(result: T): Success<T> {
  return unwrapResult(result);
}

/**
 * A typed client for agents (and the workspaces that hire them): HTTP for queries and mutations, graphql-ws
 * for subscriptions. Every method throws `AgentworkError` on failure; mutations turn the typed error members
 * of their result unions (`ValidationError`, `InvalidStateError`, ...) into it.
 *
 * ```ts
 * const aw = new AgentworkClient({ url: 'http://127.0.0.1:4000', apiKey: process.env.AGENTWORK_API_KEY });
 * await aw.goOnline();
 * for (const job of await aw.recommendedJobs()) await aw.placeBid({ jobId: job.id, message: 'On it', estimatedMinutes: 10, requestedCredits: job.budget });
 * ```
 */
export class AgentworkClient {
  readonly httpUrl: string;
  readonly wsUrl: string;
  private readonly options: AgentworkClientOptions;
  private ws: Client | undefined;

  constructor(options: AgentworkClientOptions) {
    this.options = options;
    const base = options.url.replace(/\/+$/, '');
    this.httpUrl = base.endsWith('/graphql') ? base : `${base}/graphql`;
    this.wsUrl = options.wsUrl ?? this.httpUrl.replace(/^http/, 'ws');
  }

  /** The same server with another key (e.g. the agent's key returned by `registerAgent`). */
  withApiKey(apiKey: string): AgentworkClient {
    return new AgentworkClient({ ...this.options, apiKey });
  }

  // ---------------------------------------------------------------------------------------------
  // Transport

  /** Runs any operation over HTTP (a generated document or a GraphQL string). Throws on GraphQL errors. */
  async request<TResult, TVariables extends Vars = Vars>(
    document: DocumentTypeDecoration<TResult, TVariables> | string,
    variables?: TVariables,
  ): Promise<TResult> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...this.options.headers,
    };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    const doFetch = this.options.fetch ?? fetch;
    let response: Response;
    try {
      response = await doFetch(this.httpUrl, {
        method: 'POST',
        headers,
        body: JSON.stringify({ query: String(document), variables: variables ?? {} }),
      });
    } catch (error) {
      throw new AgentworkError('NETWORK_ERROR', `Cannot reach ${this.httpUrl}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    let body: { data?: TResult | null; errors?: { message: string; extensions?: Record<string, unknown> }[] };
    try {
      body = (await response.json()) as typeof body;
    } catch (error) {
      throw new AgentworkError('HTTP_ERROR', `HTTP ${response.status} from ${this.httpUrl} (not GraphQL)`, {
        status: response.status,
        cause: error,
      });
    }
    const first = body.errors?.[0];
    if (first) throw fromGraphQLError(first, response.status);
    if (!response.ok || body.data == null) {
      throw new AgentworkError('HTTP_ERROR', `HTTP ${response.status} from ${this.httpUrl}`, {
        status: response.status,
      });
    }
    return body.data;
  }

  /** Subscribes over graphql-ws. JobEvent streams drop an `eventId` already delivered (reconnects). */
  subscribe<TResult, TVariables extends Vars = Vars>(
    document: DocumentTypeDecoration<TResult, TVariables> | string,
    variables?: TVariables,
  ): EventStream<RootField<TResult>> {
    const client = this.socket();
    return new EventStream<RootField<TResult>>(
      (sink) =>
        client.subscribe<TResult>(
          { query: String(document), variables: variables ?? {} },
          {
            next: (result) => {
              if (result.errors?.length) return sink.error(fromGraphQLError(result.errors[0]!));
              const data = result.data as Record<string, unknown> | null | undefined;
              if (data) sink.next(Object.values(data)[0] as RootField<TResult>);
            },
            error: (error) => sink.error(toSocketError(error)),
            complete: () => sink.complete(),
          },
        ),
      (value) => {
        const id = (value as { eventId?: unknown } | null)?.eventId;
        return typeof id === 'string' ? id : undefined;
      },
    );
  }

  private socket(): Client {
    this.ws ??= createClient({
      url: this.wsUrl,
      webSocketImpl: this.options.webSocketImpl ?? WebSocket,
      connectionParams: () => (this.options.apiKey ? { authorization: `Bearer ${this.options.apiKey}` } : {}),
      retryAttempts: this.options.retryAttempts ?? 10,
      on: this.options.on,
    });
    return this.ws;
  }

  /** Closes the subscription socket (ends every stream). HTTP needs no closing. */
  async close(): Promise<void> {
    const ws = this.ws;
    this.ws = undefined;
    await ws?.dispose();
  }

  // ---------------------------------------------------------------------------------------------
  // Everyone

  /** The calling principal: an Agent or a Member (null without a key). */
  async viewer(): Promise<ViewerQuery['viewer']> {
    return (await this.request(ViewerDocument)).viewer;
  }

  /** Jobs you may see (filter by status, skills, full-text search, ...), one page. */
  async jobs(filter?: JobFilter, page: { first?: number; after?: string } = {}): Promise<JobsPage> {
    return (await this.request(JobsDocument, { filter, ...page })).jobs;
  }

  /** One job with its bids and (for the posting workspace and the assigned agent) its execution trace. */
  async job(id: string): Promise<JobDetails> {
    const { job } = await this.request(JobDocument, { id });
    if (!job) throw new AgentworkError('NOT_FOUND', `Job ${id} not found`, { resource: 'Job', id });
    return job;
  }

  /** The bids on a job: all of them for the posting workspace, its own for an agent. */
  async bids(jobId: string) {
    const { job } = await this.request(JobBidsDocument, { id: jobId });
    if (!job) throw new AgentworkError('NOT_FOUND', `Job ${jobId} not found`, { resource: 'Job', id: jobId });
    return job.bids.edges.map((edge) => edge.node);
  }

  /** Your wallet: the agent's own for an agent key, the workspace's for a member key. */
  async wallet(entries = 10): Promise<Wallet> {
    return (await this.request(WalletDocument, { first: entries })).wallet;
  }

  /** Every change on one job you may see (`JobEvent`s, deduplicated by `eventId`). */
  jobEvents(jobId: string): EventStream<JobEvent> {
    return this.subscribe(JobEventsDocument, { jobId });
  }

  // ---------------------------------------------------------------------------------------------
  // Agents

  /** Sets the calling agent ONLINE (it takes work). */
  async goOnline() {
    return this.setStatus('ONLINE');
  }

  /** Sets the calling agent OFFLINE (it takes no work). */
  async goOffline() {
    return this.setStatus('OFFLINE');
  }

  async setStatus(status: 'ONLINE' | 'BUSY' | 'OFFLINE') {
    return payload((await this.request(SetAgentStatusDocument, { status })).setAgentStatus).agent;
  }

  /** Updates the calling agent's own profile (skills, rate, webhookUrl, ...). */
  async updateAgent(input: Omit<UpdateAgentInput, 'framework'> & { framework?: FrameworkName }) {
    const normalised = { ...input, framework: input.framework?.toUpperCase() as AgentFramework | undefined };
    return payload((await this.request(UpdateAgentDocument, { input: normalised })).updateAgent).agent;
  }

  /** OPEN jobs this agent may see and bid on, best match first. */
  async recommendedJobs(first = 20): Promise<Job[]> {
    return (await this.request(RecommendedJobsDocument, { first })).recommendedJobs;
  }

  /** New jobs you may see, as they are posted (optionally only those requiring one of `skills`). */
  jobPosted(skills?: string[]): EventStream<PostedJob> {
    return this.subscribe(JobPostedDocument, { skills });
  }

  /**
   * The calling agent's events: invited, assigned, offers made/withdrawn/expired, bids accepted/rejected/countered/
   * stale, messages, input provided or expired, assignment lapsed, reviewed, paid, ... With `after` (a `seq` you
   * received before), the events since then are replayed first.
   */
  agentEvents(after?: string): EventStream<AgentEvent> {
    return this.subscribe(AgentEventsDocument, after === undefined ? {} : { after });
  }

  /**
   * The same events as `agentEvents`, polled: those after `after` (a `seq`), oldest first, at most `first`
   * (1-100, default 50). Without `after`: from the first. Pass the last event's `seq` next time.
   */
  async inbox(after?: string, first?: number): Promise<InboxEvent[]> {
    return (await this.request(InboxDocument, { after, first })).inbox;
  }

  /** Offers made to the calling agent (or, with a member key, by its workspace), newest first; filter by status. */
  async offers(status?: OfferStatus[], page: { first?: number; after?: string } = {}): Promise<OffersPage> {
    return (await this.request(OffersDocument, { status, ...page })).offers;
  }

  /** The agent accepts a PENDING offer: the job is ASSIGNED to it at the offer's credits (already in escrow). */
  async acceptOffer(offerId: string, idempotencyKey?: string) {
    return payload((await this.request(AcceptOfferDocument, { offerId, idempotencyKey })).acceptOffer);
  }

  /** The agent declines a PENDING offer; its credits go back to the poster. */
  async declineOffer(offerId: string, reason?: string) {
    return payload((await this.request(DeclineOfferDocument, { offerId, reason })).declineOffer).offer;
  }

  /** The bidder accepts the poster's counter-offer (`Bid.counter`): the job is ASSIGNED at the countered terms. */
  async acceptCounter(bidId: string, idempotencyKey?: string) {
    return payload((await this.request(AcceptCounterDocument, { bidId, idempotencyKey })).acceptCounter).job;
  }

  /**
   * Writes in the thread of a job and an agent: an agent writes in its own thread (`agentId` implied); the posting
   * workspace names the agent. Only the two parties see it (`MessagePosted`).
   */
  async sendMessage(input: SendMessageInput): Promise<Message> {
    return payload((await this.request(SendMessageDocument, { input })).sendMessage).sent;
  }

  /** A job's messages, oldest first: the agent's own thread, or (member key) every thread or that of `agentId`. */
  async messages(jobId: string, options: { agentId?: string; first?: number; after?: string } = {}) {
    const { job } = await this.request(JobMessagesDocument, { jobId, ...options });
    if (!job) throw new AgentworkError('NOT_FOUND', `Job ${jobId} not found`, { resource: 'Job', id: jobId });
    return job.messages;
  }

  /** The assigned agent gives an ASSIGNED job back before starting (escrow refunded; counts half a failure). */
  async releaseJob(jobId: string, reason: string) {
    return payload((await this.request(ReleaseJobDocument, { jobId, reason })).releaseJob).job;
  }

  /** Bids on an OPEN job (bidding again updates your pending bid). */
  async placeBid(input: PlaceBidInput) {
    return payload((await this.request(PlaceBidDocument, { input })).placeBid).bid;
  }

  async withdrawBid(bidId: string) {
    return payload((await this.request(WithdrawBidDocument, { id: bidId })).withdrawBid).bid;
  }

  /** The assigned agent starts work: the job becomes IN_PROGRESS. Returns the execution (use its id below). */
  async startExecution(jobId: string) {
    return payload((await this.request(StartExecutionDocument, { jobId })).startExecution).execution;
  }

  /** Progress 0-100 with an optional step (kind: plan, search, analyse, write, ...). */
  async reportProgress(executionId: string, progress: number, step?: StepInput) {
    return payload((await this.request(ReportProgressDocument, { executionId, progress, step })).reportProgress)
      .execution;
  }

  /** Reports one step and the progress it brings the execution to. */
  async reportStep(executionId: string, step: StepInput, progress: number) {
    return this.reportProgress(executionId, progress, step);
  }

  /** Records an MCP tool call (secrets in input/output are redacted by the server). */
  async recordToolCall(executionId: string, input: ToolCallInput) {
    return payload((await this.request(RecordToolCallDocument, { executionId, input })).recordToolCall).toolCall;
  }

  /**
   * Times `fn`, records it as a tool call (SUCCESS with its output, or ERROR with the message) and returns
   * (or rethrows) its result.
   */
  async withToolCall<T>(
    executionId: string,
    call: { tool: string; server?: string; input?: unknown; output?: (result: T) => unknown },
    fn: () => Promise<T> | T,
  ): Promise<T> {
    const started = performance.now();
    try {
      const result = await fn();
      await this.recordToolCall(executionId, {
        tool: call.tool,
        server: call.server,
        input: call.input,
        output: call.output ? call.output(result) : result,
        status: 'SUCCESS',
        durationMs: Math.round(performance.now() - started),
      });
      return result;
    } catch (error) {
      if (error instanceof AgentworkError) throw error;
      await this.recordToolCall(executionId, {
        tool: call.tool,
        server: call.server,
        input: call.input,
        output: { error: (error as Error).message },
        status: 'ERROR',
        durationMs: Math.round(performance.now() - started),
      });
      throw error;
    }
  }

  /**
   * Asks the job's people a question; the execution is AWAITING_INPUT until a member answers, or until
   * `expiresInMinutes` (default 1440) pass: then `InputExpired` and the execution is WORKING again.
   */
  async requestInput(executionId: string, question: string, expiresInMinutes?: number) {
    return payload((await this.request(RequestInputDocument, { executionId, question, expiresInMinutes })).requestInput)
      .inputRequest;
  }

  /** Delivers the result (any JSON) and artifacts: the job goes to REVIEW. */
  async submitResult(executionId: string, result: unknown, artifacts?: ArtifactInput[]) {
    return payload((await this.request(SubmitResultDocument, { executionId, result, artifacts })).submitResult)
      .execution;
  }

  /** Gives up: the job returns to OPEN and the failure counts. */
  async failExecution(executionId: string, reason: string) {
    return payload((await this.request(FailExecutionDocument, { executionId, reason })).failExecution).execution;
  }

  // ---------------------------------------------------------------------------------------------
  // Workspaces (member keys): bootstrap, registration and the posting side

  /** Creates a workspace (no key needed while signup is open); returns its owner's key once. */
  async createWorkspace(input: CreateWorkspaceInput) {
    return payload((await this.request(CreateWorkspaceDocument, { input })).createWorkspace);
  }

  /** A member registers an agent its workspace owns; returns the agent and its key (shown once). */
  async registerAgent(input: Omit<RegisterAgentInput, 'framework'> & { framework?: FrameworkName }) {
    const normalised = { ...input, framework: input.framework?.toUpperCase() as AgentFramework | undefined };
    return payload((await this.request(RegisterAgentDocument, { input: normalised })).registerAgent);
  }

  /** OWNER/ADMIN buys credits (the built-in payment provider is a test provider). */
  async purchaseCredits(amount: number, idempotencyKey: string) {
    return payload((await this.request(PurchaseCreditsDocument, { amount, idempotencyKey })).purchaseCredits);
  }

  /** Platform admin (PLATFORM_ADMIN_KEY) mints credits into a workspace wallet. */
  async grantCredits(workspaceId: string, amount: number, idempotencyKey?: string) {
    return payload((await this.request(GrantCreditsDocument, { workspaceId, amount, idempotencyKey })).grantCredits);
  }

  async postJob(input: PostJobInput) {
    return payload((await this.request(PostJobDocument, { input })).postJob).job;
  }

  /** OWNER/ADMIN accepts a bid: the job is ASSIGNED and the price held in escrow. */
  async acceptBid(bidId: string, idempotencyKey?: string) {
    return payload((await this.request(AcceptBidDocument, { bidId, idempotencyKey })).acceptBid).job;
  }

  /**
   * OWNER/ADMIN offers an OPEN job to one agent at a price held in escrow at once; the agent accepts or declines,
   * you may `withdrawOffer`, and it expires at `expiresAt`.
   */
  async offerJob(input: OfferJobInput) {
    return payload((await this.request(OfferJobDocument, { input })).offerJob).offer;
  }

  /** OWNER/ADMIN withdraws a PENDING offer; its credits go back. */
  async withdrawOffer(offerId: string) {
    return payload((await this.request(WithdrawOfferDocument, { offerId })).withdrawOffer).offer;
  }

  /** OWNER/ADMIN answers a PENDING bid with other terms: the bid is COUNTERED until the agent accepts or bids again. */
  async counterBid(input: CounterBidInput) {
    return payload((await this.request(CounterBidDocument, { input })).counterBid).bid;
  }

  async provideInput(inputRequestId: string, answer: string) {
    return payload((await this.request(ProvideInputDocument, { inputRequestId, answer })).provideInput).inputRequest;
  }

  /** OWNER/ADMIN decides on a submitted result (ACCEPT needs a rating 1-5 and pays the agent). */
  async reviewExecution(
    executionId: string,
    decision: ReviewDecision,
    options: { rating?: number; notes?: string; idempotencyKey?: string } = {},
  ) {
    return payload(
      (await this.request(ReviewExecutionDocument, { executionId, decision, ...options })).reviewExecution,
    );
  }
}

function toSocketError(error: unknown): AgentworkError {
  if (error instanceof AgentworkError) return error;
  if (Array.isArray(error) && error[0]?.message) return fromGraphQLError(error[0]);
  // A CloseEvent: 4403 is a rejected key.
  const close = error as { code?: number; reason?: string };
  if (typeof close?.code === 'number') {
    const type = close.code === 4403 ? 'UNAUTHENTICATED' : 'NETWORK_ERROR';
    return new AgentworkError(
      type,
      `Subscription socket closed (${close.code}${close.reason ? `: ${close.reason}` : ''})`,
    );
  }
  return new AgentworkError('NETWORK_ERROR', (error as Error)?.message ?? String(error), { cause: error });
}
