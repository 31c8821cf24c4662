/**
 * Tenant isolation sweep (issue #9, item 3). The list of operations comes from the schema itself:
 * every field of Query, Mutation and Subscription, and every type implementing Node, is called with
 * workspace A's ids by workspace B's owner and B's agent (and, where only members may act, by A's own
 * agent; where only OWNER/ADMIN may act, by A's MEMBER), and must answer NotFound/Forbidden (a union
 * member or a GraphQL error code), null or an empty list, and change nothing.
 *
 * A new operation is caught automatically: its arguments are filled from the explicit tables below
 * (ID_FILLERS, VALUE_FILLERS), and an argument the tables cannot fill fails the test with its name.
 * An operation that takes none of A's ids must be listed in GLOBAL with the reason it is safe, and
 * its answers to B are scanned for A's private ids instead.
 */
import { createHash } from 'node:crypto';
import {
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLInterfaceType,
  type GraphQLObjectType,
  type GraphQLOutputType,
  getNamedType,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  isUnionType,
} from 'graphql';
import { type Client, createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { schema } from '../src/schema/index.ts';
import { nodeTypenames } from '../src/schema/node.ts';
import { decodeId, encodeId } from '../src/services/kernel/ids.ts';
import { createTestApp, type TestApp } from './support/app.ts';
import { createAgentFixture, createMemberFixture, createWorkspaceFixture, uid } from './support/factories.ts';
import { type Subscription, subscribe } from './support/ws.ts';

// ───────────────────────────── the world ─────────────────────────────

/** Workspace A's objects, one (in the right state) per kind. */
type Kind =
  | 'workspace'
  | 'member'
  | 'memberKey'
  | 'agent'
  | 'project'
  | 'jobOpen'
  | 'jobAssigned'
  | 'jobActive'
  | 'jobAwaiting'
  | 'jobReview'
  | 'jobDisputed'
  | 'jobDone'
  | 'bid'
  | 'exeActive'
  | 'exeAwaiting'
  | 'exeReview'
  | 'exeDone'
  | 'input'
  | 'dispute'
  | 'review'
  | 'endpoint'
  | 'agentEndpoint'
  | 'delivery'
  | 'ledgerEntry'
  | 'offer'
  | 'message';

/** Kinds B may legitimately see (the agent directory shows agents and their workspace). */
const PUBLIC_KINDS: Kind[] = ['agent', 'workspace'];

type Principal = 'B owner' | 'B agent' | 'A agent' | 'A member' | 'A owner';

const PLATFORM_KEY = 'isolation-platform-admin-key';
let t: TestApp;
let baseUrl: string;
const ids = {} as Record<Kind, string>;
const keys = {} as Record<Principal, string>;
let privateIds: string[] = [];

// ───────────────────────────── filler tables ─────────────────────────────

const SKIP = 'skip' as const;
/**
 * Which of A's objects fills an ID argument. Looked up as `Parent.field.arg`, then (input fields)
 * `InputType.field`, then by the bare argument name. `SKIP` leaves an optional id out (with a reason).
 */
const ID_FILLERS: Record<string, Kind | typeof SKIP> = {
  // by argument name, for any operation
  jobId: 'jobOpen',
  bidId: 'bid',
  executionId: 'exeActive',
  inputRequestId: 'input',
  disputeId: 'dispute',
  workspaceId: 'workspace',
  agentId: 'agent',
  memberId: 'member',
  endpointId: 'endpoint',
  deliveryId: 'delivery',
  projectId: 'project',
  offerId: 'offer',
  // `id` arguments and targets that need a particular state to be meaningful
  'Query.agent.id': 'agent',
  'Query.job.id': 'jobOpen',
  'Query.node.id': 'jobOpen', // node is swept per Node type separately
  'Mutation.cancelJob.id': 'jobOpen',
  'Mutation.updateJob.id': 'jobOpen',
  'Mutation.rejectBid.id': 'bid',
  'Mutation.withdrawBid.id': 'bid',
  'Mutation.revokeApiKey.id': 'memberKey',
  'Mutation.deleteWebhookEndpoint.id': 'endpoint',
  'Mutation.rotateWebhookSecret.id': 'endpoint',
  'Mutation.updateWebhookEndpoint.id': 'endpoint',
  'Mutation.setAgentStatus.id': 'agent',
  'Mutation.updateAgent.id': 'agent',
  'Mutation.startExecution.jobId': 'jobAssigned',
  'Mutation.releaseJob.jobId': 'jobAssigned',
  'Mutation.openDispute.jobId': 'jobActive',
  'Mutation.reviewExecution.executionId': 'exeReview',
  'Subscription.jobEvents.jobId': 'jobActive',
  // input-object fields
  'PlaceBidInput.relevantExperience': 'jobDone',
  'PostJobInput.preferredAgents': SKIP, // agents are a public directory; projectId carries A's id
  'PostJobInput.excludedAgents': SKIP, // idem
};

/** Values for non-ID arguments: `Parent.field.arg` (also fills optional ones), or the bare name (required only). */
const VALUE_FILLERS: Record<string, unknown> = {
  reason: 'isolation sweep',
  question: 'Which region?',
  answer: 'EU',
  progress: 50,
  amount: 100,
  idempotencyKey: 'isolation-sweep',
  message: 'I can do this',
  estimatedMinutes: 30,
  requestedCredits: 40,
  credits: 40,
  body: 'A message from the isolation sweep',
  title: 'Isolation sweep job',
  description: 'Posted by the isolation sweep',
  budget: 100,
  name: 'Isolation sweep',
  email: 'isolation@example.com',
  ownerName: 'Iso',
  ownerEmail: 'iso@example.com',
  url: 'https://hooks.example.com/isolation',
  tool: 'web_search',
  'Mutation.reviewExecution.rating': 5, // ACCEPT needs a rating: a valid call, so only authorization can refuse it
  'Mutation.submitResult.result': { summary: 'done' },
  'Mutation.submitResult.artifacts': [{ name: 'report.md', content: '# Report' }],
  'Mutation.updateJob.input': { title: 'Changed by the sweep' },
  'Mutation.updateAgent.input': { description: 'Changed by the sweep' },
  'Mutation.updateWebhookEndpoint.input': { url: 'https://hooks.example.com/changed' },
  'ImportAgentCardInput.card': {
    name: 'Sweep card',
    description: 'A2A card',
    url: 'https://agent.example.com',
    version: '1.0.0',
    skills: [{ id: 's', name: 'web research', description: 'x', tags: ['web-research'] }],
  },
};

/**
 * Operations that take none of A's ids, with the reason they are safe. Queries here are still run
 * as B's owner and agent, and their answers must not contain any of A's private ids.
 * `public` ones return A's objects by design and are not expected to be refused.
 */
const GLOBAL: Record<string, { reason: string; public?: boolean }> = {
  'Query.viewer': { reason: 'the caller itself' },
  'Query.agents': { reason: 'the agent directory is public (also when filtered by A’s workspace)', public: true },
  'Query.agent': { reason: 'the agent directory is public', public: true },
  'Query.jobs': { reason: 'lists only what the caller may see (scanned for A’s private jobs)' },
  'Query.recommendedJobs': { reason: 'for the calling agent (scanned)' },
  'Query.wallet': { reason: 'the caller’s own wallet (scanned)' },
  'Query.leaderboard': {
    reason: 'public reputation ranking of agents (scanned; reviews of private jobs stay hidden)',
    public: true,
  },
  'Query.webhookEndpoints': { reason: 'the caller’s own endpoints (scanned)' },
  'Query.offers': { reason: 'offers made to the calling agent or by the caller’s workspace (scanned)' },
  'Query.inbox': { reason: 'the calling agent’s own events (scanned)' },
  'Query.node': { reason: 'swept per Node type below', public: true },
  'Mutation.createWorkspace': { reason: 'open signup: creates a new workspace, touches no other' },
  'Mutation.createProject': { reason: 'creates in the caller’s own workspace' },
  'Mutation.addMember': { reason: 'adds to the caller’s own workspace' },
  'Mutation.createWebhookEndpoint': { reason: 'creates in the caller’s own workspace' },
  'Mutation.purchaseCredits': { reason: 'buys for the caller’s own wallet' },
  'Mutation.registerAgent': { reason: 'registers into the caller’s own workspace' },
  'Mutation.importAgentCard': { reason: 'creates or updates in the caller’s own workspace only' },
  'Subscription.agentEvents': { reason: 'the calling agent’s own events (scanned)' },
  'Subscription.jobPosted': { reason: 'new jobs the caller may see (scanned while A posts a PRIVATE job)' },
};

/** Explicit documents for scanning global queries (deeper than the generated selection). */
const SCANS: Record<string, string> = {
  'Query.viewer': '{ viewer { __typename id } }',
  'Query.agents': '{ agents(first: 100) { edges { node { id } } } }',
  'Query.jobs': '{ jobs(first: 100) { edges { node { id bids { edges { node { id } } } execution { id } } } } }',
  'Query.recommendedJobs': '{ recommendedJobs(first: 100) { id } }',
  'Query.leaderboard':
    '{ leaderboard(first: 100) { agent { id reputation { reviews(first: 20) { edges { node { id job { id } } } } } } } }',
  'Query.wallet': '{ wallet { balance held entries(first: 100) { edges { node { id job { id } } } } } }',
  'Query.webhookEndpoints': '{ webhookEndpoints { id workspace { id } agent { id } } }',
  'Query.offers': '{ offers(first: 100) { edges { node { id job { id } } } } }',
  'Query.inbox': '{ inbox(first: 100) { __typename eventId jobId data } }',
  'Query.webhookDeliveries (no endpointId)': '{ webhookDeliveries(first: 100) { edges { node { id } } } }',
};

/** Mutations an agent key may call (on its own bids, executions and profile): not swept as "A agent". */
const AGENT_MAY: Record<string, string> = {
  placeBid: 'the agent bids',
  withdrawBid: 'the bidder withdraws',
  startExecution: 'the assigned agent',
  reportProgress: 'the assigned agent',
  recordToolCall: 'the assigned agent',
  requestInput: 'the assigned agent',
  submitResult: 'the assigned agent',
  failExecution: 'the assigned agent',
  openDispute: 'the assigned agent may dispute',
  updateAgent: 'the agent itself',
  setAgentStatus: 'the agent itself',
  rotateAgentWebhookSecret: 'the agent itself',
  createWorkspace: 'open signup needs no key',
  acceptOffer: 'the agent the offer was made to',
  declineOffer: 'the agent the offer was made to',
  acceptCounter: 'the bidder accepts the poster’s counter',
  releaseJob: 'the assigned agent gives the job back',
  sendMessage: 'the agent writes in its own thread',
};

/**
 * Real leaks found by the sweep and not yet fixed, as `Parent.field as <principal>` → what leaks.
 * Their tests are `it.fails`, so the suite stays green until the fix makes them pass (then remove).
 */
const KNOWN_LEAKS: Record<string, string> = {};

// ───────────────────────────── generation ─────────────────────────────

const DENIED_TYPES = new Set(['NotFoundError', 'ForbiddenError']);
const DENIED_CODES = new Set(['NOT_FOUND', 'FORBIDDEN', 'UNAUTHENTICATED']);

interface Operation {
  name: string; // Parent.field
  kind: 'query' | 'mutation' | 'subscription';
  field: GraphQLField<unknown, unknown>;
  description: string;
}

function operations(): Operation[] {
  const out: Operation[] = [];
  for (const kind of ['query', 'mutation', 'subscription'] as const) {
    const root = {
      query: schema.getQueryType(),
      mutation: schema.getMutationType(),
      subscription: schema.getSubscriptionType(),
    }[kind];
    if (!root) continue;
    for (const field of Object.values(root.getFields())) {
      out.push({ name: `${root.name}.${field.name}`, kind, field, description: field.description ?? '' });
    }
  }
  return out;
}

interface Built {
  doc: string;
  variables: Record<string, unknown>;
  usesForeignId: boolean;
}

function lookup<T>(table: Record<string, T>, keys: (string | undefined)[]): T | undefined {
  for (const key of keys) if (key !== undefined && key in table) return table[key];
  return undefined;
}

function fill(
  type: GraphQLInputType,
  keysToTry: (string | undefined)[],
  bareName: string,
  label: string,
  used: { foreign: boolean },
): unknown {
  const required = isNonNullType(type);
  const inner = getNullableType(type);
  const named = getNamedType(type);
  if (named.name === 'ID') {
    const filler = lookup(ID_FILLERS, [...keysToTry, bareName]);
    if (filler === undefined) {
      throw new Error(`isolation sweep: no id for ${label} (${String(type)}): add it to ID_FILLERS in this file`);
    }
    if (filler === SKIP) {
      if (required) throw new Error(`isolation sweep: ${label} is required but marked SKIP`);
      return undefined;
    }
    used.foreign = true;
    return isListType(inner) ? [ids[filler]] : ids[filler];
  }
  const explicit = lookup(VALUE_FILLERS, required ? [...keysToTry, bareName] : keysToTry);
  if (explicit !== undefined) return explicit;
  if (isInputObjectType(named)) {
    const value: Record<string, unknown> = {};
    for (const f of Object.values(named.getFields())) {
      const v = fill(f.type, [`${named.name}.${f.name}`], f.name, `${label}.${f.name}`, used);
      if (v !== undefined) value[f.name] = v;
    }
    if (!required && Object.keys(value).length === 0) return undefined;
    return isListType(inner) ? [value] : value;
  }
  if (!required) return undefined;
  if (isEnumType(named)) {
    const first = named.getValues()[0]!.name;
    return isListType(inner) ? [first] : first;
  }
  throw new Error(
    `isolation sweep: cannot fill required argument ${label} (${String(type)}): add it to VALUE_FILLERS in this file`,
  );
}

/** A selection that shows what came back: typename, ids, scalars, and ids of related objects. */
function selection(type: GraphQLOutputType, depth = 0): string {
  const named = getNamedType(type);
  if (isLeafType(named)) return '';
  if (isUnionType(named)) {
    const errorInterface = schema.getType('Error') as GraphQLInterfaceType;
    const hasError = named.getTypes().some((m) => m.getInterfaces().includes(errorInterface));
    return `{ __typename${hasError ? ' ... on Error { message }' : ''} }`;
  }
  const obj = named as GraphQLObjectType | GraphQLInterfaceType;
  const fields = obj.getFields();
  const parts = ['__typename'];
  if (fields.edges) {
    parts.push(`edges { node ${selection(getNamedType(fields.edges.type) as GraphQLObjectType, depth + 1)} }`);
    return `{ ${parts.join(' ')} }`;
  }
  for (const f of Object.values(fields)) {
    if (f.args.some((a) => isNonNullType(a.type))) continue;
    const fieldNamed = getNamedType(f.type);
    if (isLeafType(fieldNamed)) {
      if (depth === 0 || f.name === 'id') parts.push(f.name);
    } else if (depth === 0 && (isObjectType(fieldNamed) || isInterfaceType(fieldNamed))) {
      if ('id' in fieldNamed.getFields()) parts.push(`${f.name} { id }`);
      else if (fieldNamed.name.endsWith('Edge')) parts.push(`${f.name} { node { id } }`);
    }
  }
  return `{ ${parts.join(' ')} }`;
}

function build(op: Operation): Built {
  const used = { foreign: false };
  const parent = op.name.split('.')[0];
  const variables: Record<string, unknown> = {};
  const decls: string[] = [];
  const args: string[] = [];
  for (const arg of op.field.args) {
    const value = fill(arg.type, [`${parent}.${op.field.name}.${arg.name}`], arg.name, `${op.name}(${arg.name})`, used);
    if (value === undefined) continue;
    variables[arg.name] = value;
    decls.push(`$${arg.name}: ${String(arg.type)}`);
    args.push(`${arg.name}: $${arg.name}`);
  }
  const doc = `${op.kind}${decls.length ? `(${decls.join(', ')})` : ''} { ${op.field.name}${
    args.length ? `(${args.join(', ')})` : ''
  } ${selection(op.field.type)} }`;
  return { doc, variables, usesForeignId: used.foreign };
}

// ───────────────────────────── judging answers ─────────────────────────────

interface Verdict {
  ok: boolean;
  outcome: string;
}

function judge(
  op: Operation,
  res: { data: any; errors?: { message: string; extensions?: Record<string, any> }[] },
): Verdict {
  if (res.errors?.length) {
    const codes = res.errors.map((e) => String(e.extensions?.code ?? e.message));
    return { ok: codes.every((c) => DENIED_CODES.has(c)), outcome: `error ${codes.join(',')}` };
  }
  const value = res.data?.[op.field.name];
  if (value === null || value === undefined) return { ok: !isNonNullType(op.field.type), outcome: 'null' };
  if (Array.isArray(value)) return { ok: value.length === 0, outcome: `list of ${value.length}` };
  if (Array.isArray(value.edges)) return { ok: value.edges.length === 0, outcome: `${value.edges.length} edges` };
  if (DENIED_TYPES.has(value.__typename)) return { ok: true, outcome: value.__typename };
  return { ok: false, outcome: `${value.__typename}: ${JSON.stringify(value).slice(0, 300)}` };
}

function leakedIds(value: unknown): string[] {
  const text = JSON.stringify(value ?? null);
  return privateIds.filter((id) => text.includes(id));
}

// ───────────────────────────── no-change snapshot ─────────────────────────────

/** Columns that move without any domain change (bookkeeping of keys, the outbox and schedulers). */
const VOLATILE = new Set(['lastUsedAt', 'publishedAt', 'webhooksAt', 'chatAt', 'lastSeenAt', 'lockedUntil']);

async function snapshot(): Promise<Record<string, string>> {
  const p = t.app.db.prisma as any;
  const models = [
    'workspace',
    'member',
    'apiKey',
    'agent',
    'project',
    'job',
    'jobInvitation',
    'jobExclusion',
    'bid',
    'execution',
    'executionStep',
    'toolCall',
    'artifact',
    'inputRequest',
    'review',
    'dispute',
    'ledgerAccount',
    'ledgerTransfer',
    'payment',
    'idempotencyKey',
    'outboxEvent',
    'webhookEndpoint',
    'webhookDelivery',
    'webhookAttempt',
    'chatLinkCode',
    'offer',
    'message',
    'bidVersion',
  ];
  const out: Record<string, string> = {};
  for (const model of models) {
    const rows: Record<string, unknown>[] = await p[model].findMany();
    const json = rows
      .map((r) =>
        JSON.stringify(Object.fromEntries(Object.entries(r).filter(([k]) => !VOLATILE.has(k))), (_k, v) =>
          typeof v === 'bigint' ? v.toString() : v,
        ),
      )
      .sort()
      .join('\n');
    out[model] = `${rows.length} rows, sha256 ${createHash('sha256').update(json).digest('hex').slice(0, 16)}`;
  }
  return out;
}

async function outboxDrained() {
  const deadline = Date.now() + 10_000;
  while ((await t.app.db.prisma.outboxEvent.count({ where: { publishedAt: null } })) > 0) {
    if (Date.now() > deadline) throw new Error('outbox did not drain');
    await new Promise((r) => setTimeout(r, 50));
  }
}

// ───────────────────────────── building A's world ─────────────────────────────

async function must(query: string, variables: Record<string, unknown>, key: string, path: string): Promise<any> {
  const res = await t.gql(query, variables, key);
  let value: any = res.data;
  for (const part of path.split('.')) value = value?.[part];
  if (value === undefined || value === null || res.errors) {
    throw new Error(`world setup failed at ${path}: ${JSON.stringify(res)}`);
  }
  return value;
}

async function buildWorld() {
  const prisma = t.app.db.prisma;
  const a = await createWorkspaceFixture(prisma, { name: 'Workspace A' });
  const b = await createWorkspaceFixture(prisma, { name: 'Workspace B' });
  const member = await createMemberFixture(prisma, a.workspaceId, 'MEMBER');
  const a1 = await createAgentFixture(prisma, a, {
    maxConcurrentJobs: 20,
    webhookUrl: 'https://agent-a1.example.com/hook',
  });
  const b1 = await createAgentFixture(prisma, b, { maxConcurrentJobs: 20 });
  Object.assign(keys, {
    'A owner': a.ownerKey,
    'A member': member.key,
    'A agent': a1.key,
    'B owner': b.ownerKey,
    'B agent': b1.key,
  });
  const A = a.ownerKey;
  ids.workspace = a.workspaceGid;
  ids.member = member.memberGid;
  ids.memberKey = encodeId('ApiKey', member.keyId);
  ids.agent = a1.agentGid;

  ids.project = await must(
    `mutation($i: CreateProjectInput!) { createProject(input: $i) { ... on CreateProjectPayload { project { id } } } }`,
    { i: { name: `Secret project ${uid()}` } },
    A,
    'createProject.project.id',
  );
  const post = () =>
    must(
      `mutation($i: PostJobInput!) { postJob(input: $i) { ... on PostJobPayload { job { id } } } }`,
      {
        i: {
          title: `Private work ${uid()}`,
          description: 'Only for workspace A',
          budget: 100,
          requiredSkills: ['web-research'],
          visibility: 'PRIVATE',
          projectId: ids.project,
          preferredAgents: [a1.agentGid],
        },
      },
      A,
      'postJob.job.id',
    );
  const hire = (jobId: string) =>
    must(
      `mutation($j: ID!, $a: ID!) { assignJob(jobId: $j, agentId: $a) { __typename ... on AssignJobPayload { job { id } } } }`,
      { j: jobId, a: a1.agentGid },
      A,
      'assignJob.job.id',
    );
  const start = (jobId: string) =>
    must(
      `mutation($j: ID!) { startExecution(jobId: $j) { ... on StartExecutionPayload { execution { id } } } }`,
      { j: jobId },
      a1.key,
      'startExecution.execution.id',
    );
  const submit = (exe: string) =>
    must(
      `mutation($e: ID!) { submitResult(executionId: $e, result: { summary: "secret" }, artifacts: [{ name: "r.md", content: "# r" }]) { __typename } }`,
      { e: exe },
      a1.key,
      'submitResult.__typename',
    );

  ids.jobOpen = await post();
  ids.bid = await must(
    `mutation($i: PlaceBidInput!) { placeBid(input: $i) { ... on PlaceBidPayload { bid { id } } } }`,
    { i: { jobId: ids.jobOpen, message: 'mine', estimatedMinutes: 10, requestedCredits: 40 } },
    a1.key,
    'placeBid.bid.id',
  );

  // An offer of A's open job to A's agent (40 credits held) and a message in their thread.
  ids.offer = await must(
    `mutation($i: OfferJobInput!) { offerJob(input: $i) { ... on OfferJobPayload { offer { id } } } }`,
    { i: { jobId: ids.jobOpen, agentId: a1.agentGid, credits: 40, message: 'secret offer' } },
    A,
    'offerJob.offer.id',
  );
  ids.message = await must(
    `mutation($i: SendMessageInput!) { sendMessage(input: $i) { ... on SendMessagePayload { message { id } } } }`,
    { i: { jobId: ids.jobOpen, agentId: a1.agentGid, body: 'secret question' } },
    A,
    'sendMessage.message.id',
  );

  ids.jobAssigned = await post();
  await hire(ids.jobAssigned);

  ids.jobActive = await post();
  await hire(ids.jobActive);
  ids.exeActive = await start(ids.jobActive);
  await must(
    `mutation($e: ID!) { reportProgress(executionId: $e, progress: 20, step: { kind: "plan", message: "secret plan" }) { __typename } }`,
    { e: ids.exeActive },
    a1.key,
    'reportProgress.__typename',
  );

  ids.jobAwaiting = await post();
  await hire(ids.jobAwaiting);
  ids.exeAwaiting = await start(ids.jobAwaiting);
  ids.input = await must(
    `mutation($e: ID!) { requestInput(executionId: $e, question: "Which region?") { ... on RequestInputPayload { inputRequest { id } } } }`,
    { e: ids.exeAwaiting },
    a1.key,
    'requestInput.inputRequest.id',
  );

  ids.jobReview = await post();
  await hire(ids.jobReview);
  ids.exeReview = await start(ids.jobReview);
  await submit(ids.exeReview);

  ids.jobDisputed = await post();
  await hire(ids.jobDisputed);
  await start(ids.jobDisputed);
  ids.dispute = await must(
    `mutation($j: ID!) { openDispute(jobId: $j, reason: "late") { ... on OpenDisputePayload { dispute { id } } } }`,
    { j: ids.jobDisputed },
    A,
    'openDispute.dispute.id',
  );

  ids.jobDone = await post();
  await hire(ids.jobDone);
  ids.exeDone = await start(ids.jobDone);
  await submit(ids.exeDone);
  ids.review = await must(
    `mutation($e: ID!) { reviewExecution(executionId: $e, decision: ACCEPT, rating: 5, notes: "good") { ... on ReviewExecutionPayload { execution { review { id } } } } }`,
    { e: ids.exeDone },
    A,
    'reviewExecution.execution.review.id',
  );

  ids.endpoint = await must(
    `mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) { __typename ... on CreateWebhookEndpointPayload { endpoint { id } } ... on Error { message } } }`,
    { i: { url: 'https://hooks.example.com/agentwork-a' } },
    A,
    'createWebhookEndpoint.endpoint.id',
  );
  ids.agentEndpoint = await must(
    `mutation($a: ID) { rotateAgentWebhookSecret(agentId: $a) { __typename ... on RotateWebhookSecretPayload { endpoint { id } } ... on Error { message } } }`,
    { a: a1.agentGid },
    A,
    'rotateAgentWebhookSecret.endpoint.id',
  );
  await must(
    `mutation { createChatLinkCode { __typename ... on ChatLinkCodePayload { code } } }`,
    {},
    A,
    'createChatLinkCode.code',
  );
  // A delivery for A's endpoint: the dispatcher queues them for the events above.
  await must(
    `mutation($j: ID!) { updateJob(id: $j, input: { title: "Private work, renamed" }) { __typename } }`,
    { j: ids.jobOpen },
    A,
    'updateJob.__typename',
  );
  const deadline = Date.now() + 10_000;
  for (;;) {
    const res = await t.gql(
      `query($e: ID) { webhookDeliveries(endpointId: $e, first: 1) { edges { node { id } } } }`,
      { e: ids.endpoint },
      A,
    );
    const id = res.data?.webhookDeliveries?.edges?.[0]?.node?.id;
    if (id) {
      ids.delivery = id;
      break;
    }
    if (Date.now() > deadline) throw new Error(`no webhook delivery for A's endpoint: ${JSON.stringify(res)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  ids.ledgerEntry = await must(
    `{ wallet { entries(first: 1) { edges { node { id } } } } }`,
    {},
    A,
    'wallet.entries.edges.0.node.id',
  );
  privateIds = (Object.entries(ids) as [Kind, string][])
    .filter(([kind]) => !PUBLIC_KINDS.includes(kind))
    .map(([, id]) => id);
}

// ───────────────────────────── the sweep ─────────────────────────────

const ops = operations();
const stats = { swept: 0, global: 0, calls: 0, nodeTypes: 0, subscriptions: 0 };
let before: Record<string, string>;
const subscriptionOutcomes: string[] = [];

beforeAll(async () => {
  t = await createTestApp({
    config: { WEBHOOK_WORKER: false, OUTBOX_POLL_MS: 100, PLATFORM_ADMIN_KEY: PLATFORM_KEY },
  });
  ({ url: baseUrl } = await t.app.start());
  await buildWorld();
  await outboxDrained();
  before = await snapshot();
}, 120_000);
afterAll(() => t?.close());

describe('the tables cover the schema', () => {
  it('every operation can be generated, and takes one of A’s ids or is allow-listed with a reason', () => {
    const problems: string[] = [];
    for (const op of ops) {
      try {
        const built = build(op);
        if (!built.usesForeignId && !GLOBAL[op.name]) {
          problems.push(
            `${op.name} takes no id of another workspace: add it to GLOBAL (with the reason it is safe) or fill an id in ID_FILLERS`,
          );
        }
      } catch (error) {
        problems.push((error as Error).message);
      }
    }
    for (const name of Object.keys(GLOBAL)) {
      if (!ops.some((op) => op.name === name)) problems.push(`GLOBAL lists ${name}, which is not in the schema`);
    }
    for (const name of Object.keys(AGENT_MAY)) {
      if (!ops.some((op) => op.name === `Mutation.${name}`))
        problems.push(`AGENT_MAY lists ${name}, not in the schema`);
    }
    expect(problems).toEqual([]);
  });
});

/** Runs `op` as each principal; returns the failures (unexpected answers). */
async function sweep(op: Operation, principals: Principal[]): Promise<string[]> {
  const built = build(op);
  const failures: string[] = [];
  for (const who of principals) {
    const res = await t.gql(built.doc, built.variables, keys[who]);
    stats.calls++;
    const verdict = judge(op, res);
    if (!verdict.ok) failures.push(`${op.name} as ${who}: ${verdict.outcome}`);
  }
  return failures;
}

function principalsFor(op: Operation): Principal[] {
  const who: Principal[] = [];
  const global = GLOBAL[op.name];
  // Global operations are swept too when an optional argument carries one of A's ids (jobs(filter: { projectId })).
  const carriesForeignId = (() => {
    try {
      return build(op).usesForeignId;
    } catch {
      return true; // reported by 'the tables cover the schema'
    }
  })();
  if ((!global || (!global.public && carriesForeignId)) && op.kind !== 'subscription') who.push('B owner', 'B agent');
  if (op.kind === 'mutation' && !AGENT_MAY[op.field.name]) who.push('A agent');
  if (op.kind === 'mutation' && /^OWNER\/ADMIN/.test(op.description)) who.push('A member');
  if (op.kind === 'mutation' && /^Platform admin/.test(op.description)) who.push('A owner');
  return who;
}

describe('every query and mutation, with A’s ids, as B (and as A’s agent where only members act)', () => {
  for (const op of ops.filter((o) => o.kind !== 'subscription')) {
    const who = principalsFor(op);
    if (who.length === 0) continue;
    const known = who.map((w) => KNOWN_LEAKS[`${op.name} as ${w}`]).filter(Boolean);
    const test = known.length ? it.fails : it;
    test(`${op.name}: ${who.join(', ')} → NotFound/Forbidden/null${known.length ? ` (KNOWN LEAK: ${known.join('; ')})` : ''}`, async () => {
      const failures = await sweep(op, who);
      if (!GLOBAL[op.name]) stats.swept++;
      expect(failures).toEqual([]);
    });
  }
});

describe('positive control: the generated queries do find A’s objects for A’s owner', () => {
  // So a refusal to B is about B, not about a filler that points at the wrong object.
  for (const op of ops.filter((o) => o.kind === 'query' && principalsFor(o).length > 0)) {
    it(`${op.name} as A owner is answered`, async () => {
      const built = build(op);
      const res = await t.gql(built.doc, built.variables, keys['A owner']);
      const verdict = judge(op, res);
      expect(verdict.ok, `${op.name} as A owner: ${verdict.outcome}`).toBe(false);
      expect(res.errors ?? []).toEqual([]);
    });
  }
});

describe('global queries answer B without any of A’s private objects', () => {
  for (const [name, doc] of Object.entries(SCANS)) {
    it(`${name}`, async () => {
      for (const who of ['B owner', 'B agent'] as const) {
        const res = await t.gql(doc, {}, keys[who]);
        stats.calls++;
        const codes = (res.errors ?? []).map((e) => e.extensions?.code);
        expect(
          codes.filter((c) => !DENIED_CODES.has(c)),
          `${name} as ${who}`,
        ).toEqual([]);
        expect(leakedIds(res.data), `${name} as ${who} leaks`).toEqual([]);
      }
    });
  }
  it('every global query has a scan, and A’s own scans do see A’s objects (the scan can fail)', async () => {
    for (const op of ops.filter((o) => o.kind === 'query' && GLOBAL[o.name] && !GLOBAL[o.name]!.public)) {
      expect(SCANS[op.name], `no SCANS entry for ${op.name}`).toBeDefined();
      stats.global++;
    }
    const mine = await t.gql(SCANS['Query.jobs']!, {}, keys['A owner']);
    expect(JSON.stringify(mine.data)).toContain(ids.jobOpen);
    const deliveries = await t.gql(SCANS['Query.webhookDeliveries (no endpointId)']!, {}, keys['A owner']);
    expect(JSON.stringify(deliveries.data)).toContain(ids.delivery);
  });
  it('an agent of A does not see the workspace’s own endpoint deliveries (members only)', async () => {
    const res = await t.gql(
      `query($e: ID) { webhookDeliveries(endpointId: $e, first: 10) { edges { node { id } } } }`,
      { e: ids.endpoint },
      keys['A agent'],
    );
    const verdict = judge(ops.find((o) => o.name === 'Query.webhookDeliveries')!, res);
    expect(verdict.ok, verdict.outcome).toBe(true);
  });
});

describe('node(id) for every type implementing Node', () => {
  /** Which of A's objects is the instance of each Node type; Agent is public (the directory). */
  const NODE_INSTANCES: Record<string, Kind> = {
    Workspace: 'workspace',
    Member: 'member',
    ApiKey: 'memberKey',
    Project: 'project',
    Job: 'jobOpen',
    Bid: 'bid',
    Execution: 'exeActive',
    Review: 'review',
    Dispute: 'dispute',
    LedgerEntry: 'ledgerEntry',
    WebhookEndpoint: 'endpoint',
    WebhookDelivery: 'delivery',
    Offer: 'offer',
    Message: 'message',
  };
  const PUBLIC_NODES: Record<string, string> = { Agent: 'the agent directory is public' };
  const nodeInterface = schema.getType('Node') as GraphQLInterfaceType;
  const nodeTypes = schema.getImplementations(nodeInterface).objects.map((o) => o.name);

  it('every Node type has an instance in the world (or is public with a reason), every loader a Node type', () => {
    const missing = nodeTypes.filter((n) => !NODE_INSTANCES[n] && !PUBLIC_NODES[n]);
    expect(missing, 'add these to NODE_INSTANCES (and build an instance in buildWorld)').toEqual([]);
    expect(nodeTypenames().filter((n) => !nodeTypes.includes(n))).toEqual([]);
  });

  for (const typename of nodeTypes.filter((n) => !PUBLIC_NODES[n])) {
    it(`node(${typename}) of A is null for B's owner and agent, and visible to A's owner`, async () => {
      const id = ids[NODE_INSTANCES[typename]!];
      const q = `query($id: ID!) { node(id: $id) { __typename id } }`;
      for (const who of ['B owner', 'B agent'] as const) {
        const res = await t.gql(q, { id }, keys[who]);
        stats.calls++;
        expect(res.data?.node ?? null, `node(${typename}) as ${who}`).toBeNull();
        for (const e of res.errors ?? []) expect(DENIED_CODES.has(e.extensions?.code)).toBe(true);
      }
      stats.nodeTypes++;
      // Positive control: A's owner sees A's object (every Node type has a loader).
      if (nodeTypenames().includes(typename)) {
        const own = await t.gql(q, { id }, keys['A owner']);
        expect(own.data?.node?.id, `node(${typename}) as A owner`).toBe(id);
      }
    });
  }
});

describe('no change', () => {
  it('the sweep changed nothing: every table has the same rows and contents', async () => {
    await outboxDrained();
    expect(await snapshot()).toEqual(before);
  });
});

describe('subscriptions, with A’s ids, as B; global ones deliver nothing of A', () => {
  it('every subscription errors NOT_FOUND/FORBIDDEN or delivers nothing of A while A works', async () => {
    const subs: { name: string; who: Principal; sub: Subscription; global: boolean }[] = [];
    for (const op of ops.filter((o) => o.kind === 'subscription')) {
      const built = build(op);
      for (const who of ['B owner', 'B agent'] as const) {
        subs.push({
          name: op.name,
          who,
          sub: subscribe(baseUrl, keys[who], built.doc, built.variables),
          global: Boolean(GLOBAL[op.name]),
        });
      }
      stats.subscriptions++;
    }
    // Positive control: A's owner on the same job sees the activity below.
    const control = subscribe(
      baseUrl,
      keys['A owner'],
      build(ops.find((o) => o.name === 'Subscription.jobEvents')!).doc,
      {
        jobId: ids.jobActive,
      },
    );
    await new Promise((r) => setTimeout(r, 300));
    // A works: progress on the active execution, a new PRIVATE job that A's agent is invited to.
    await must(
      `mutation($e: ID!) { reportProgress(executionId: $e, progress: 60, step: { message: "secret step" }) { __typename } }`,
      { e: ids.exeActive },
      keys['A agent'],
      'reportProgress.__typename',
    );
    const fresh = await must(
      `mutation($i: PostJobInput!) { postJob(input: $i) { ... on PostJobPayload { job { id } } } }`,
      {
        i: {
          title: 'Fresh private work',
          description: 'x',
          budget: 50,
          requiredSkills: ['web-research'],
          visibility: 'PRIVATE',
          preferredAgents: [ids.agent],
        },
      },
      keys['A owner'],
      'postJob.job.id',
    );
    privateIds.push(fresh);
    await control.waitFor((e) => e.length > 0, 5_000);
    await new Promise((r) => setTimeout(r, 700));
    const failures: string[] = [];
    for (const { name, who, sub, global } of subs) {
      const codes = sub.errors.flatMap((e: any) => (Array.isArray(e) ? e : [e])).map((e: any) => e?.extensions?.code);
      if (codes.some((c) => !DENIED_CODES.has(c)))
        failures.push(`${name} as ${who}: errors ${JSON.stringify(sub.errors)}`);
      if (!global && sub.events.length > 0) failures.push(`${name} as ${who}: ${sub.events.length} events of A's job`);
      subscriptionOutcomes.push(
        `${name} as ${who}: ${codes.length ? `error ${codes.join(',')}` : `${sub.events.length} events`}`,
      );
      const leaked = leakedIds(sub.events);
      if (leaked.length) failures.push(`${name} as ${who}: delivered A's ${leaked.join(', ')}`);
      stats.calls++;
    }
    await Promise.all([...subs.map((s) => s.sub.dispose()), control.dispose()]);
    expect(failures).toEqual([]);
  });
});

describe('sockets: every operation over an open socket whose key was revoked or whose member was removed', () => {
  // The socket lives on a second app (same database, its own in-memory pubsub): the revocation's
  // notice never reaches it, so each operation meets only the per-operation re-check. Then, on the
  // app that hears the notice, open subscriptions end and the socket closes with 4403.
  const SCENARIOS = {
    'revoked key': async (m: { keyId: string; memberGid: string }) =>
      must(
        `mutation($id: ID!) { revokeApiKey(id: $id) { __typename } }`,
        { id: encodeId('ApiKey', m.keyId) },
        keys['A owner'],
        'revokeApiKey.__typename',
      ),
    'removed member': async (m: { keyId: string; memberGid: string }) =>
      must(
        `mutation($id: ID!) { removeMember(memberId: $id) { __typename } }`,
        { id: m.memberGid },
        keys['A owner'],
        'removeMember.__typename',
      ),
  };
  let t2: TestApp;
  let url2: string;
  beforeAll(async () => {
    t2 = await createTestApp({ database: t.db, config: { OUTBOX_DISPATCHER: false, WEBHOOK_WORKER: false } });
    ({ url: url2 } = await t2.app.start());
  });
  afterAll(() => t2?.close());

  /** A fresh ADMIN of A (so only the revocation can refuse) with a socket acknowledged on `at`. */
  async function adminSocket(at: string) {
    const m = await createMemberFixture(t.app.db.prisma, decodeId('Workspace', ids.workspace), 'ADMIN');
    const state = { closeCode: null as number | null };
    const client = await new Promise<Client>((resolve, reject) => {
      const c: Client = createClient({
        url: `${at.replace(/^http/, 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        connectionParams: { authorization: `Bearer ${m.key}` },
        retryAttempts: 0,
        lazy: false,
        onNonLazyError: () => {},
        on: {
          connected: () => resolve(c),
          closed: (event) => {
            state.closeCode = (event as { code: number }).code;
            reject(new Error(`closed before ack: ${state.closeCode}`));
          },
        },
      });
    });
    return { m, client, state };
  }
  const run = (client: Client, doc: string, variables: Record<string, unknown>) =>
    new Promise<{ data?: unknown; errors?: any[]; closed?: number }>((done) => {
      let last: { data?: unknown; errors?: any[] } = {};
      client.subscribe(
        { query: doc, variables },
        {
          next: (r) => {
            last = r as typeof last;
          },
          error: (e) => done(Array.isArray(e) ? { errors: e } : { closed: (e as { code?: number }).code }),
          complete: () => done(last),
        },
      );
    });
  const without = (snap: Record<string, string>) =>
    Object.fromEntries(Object.entries(snap).filter(([k]) => k !== 'member' && k !== 'apiKey'));

  for (const [scenario, revoke] of Object.entries(SCENARIOS)) {
    it(`${scenario}: every query, mutation and subscription is refused (UNAUTHENTICATED or 4403), nothing changes`, async () => {
      await outboxDrained();
      const snap = without(await snapshot());
      const failures: string[] = [];
      for (const op of ops) {
        const built = build(op);
        const { m, client, state } = await adminSocket(url2);
        const control = await run(client, '{ viewer { __typename } }', {});
        expect(control.data, `${op.name}: the socket works before`).toEqual({ viewer: { __typename: 'Member' } });
        await revoke(m);
        const res = await run(client, built.doc, built.variables);
        stats.calls++;
        const codes = (res.errors ?? []).map((e) => e?.extensions?.code);
        const refused = res.closed === 4403 || (codes.length > 0 && codes.every((c) => c === 'UNAUTHENTICATED'));
        if (!refused || res.data) failures.push(`${op.name}: ${JSON.stringify(res).slice(0, 300)}`);
        await until(() => state.closeCode !== null);
        if (state.closeCode !== 4403) failures.push(`${op.name}: socket closed with ${state.closeCode}`);
        await client.dispose();
      }
      expect(failures).toEqual([]);
      await outboxDrained();
      expect(without(await snapshot())).toEqual(snap);
    });

    it(`${scenario}: open subscriptions to A's objects end and the socket closes 4403 on notice`, async () => {
      const { m, client, state } = await adminSocket(baseUrl);
      const subs = ops
        .filter((o) => o.kind === 'subscription' && o.field.name !== 'agentEvents') // agents only
        .map((op) => {
          const built = build(op);
          return { name: op.name, sub: subscribe(baseUrl, null, built.doc, built.variables, { client }) };
        });
      await new Promise((r) => setTimeout(r, 300));
      await revoke(m);
      await until(() => state.closeCode !== null);
      expect(state.closeCode).toBe(4403);
      // A keeps working: nothing reaches the ended subscriptions.
      await must(
        `mutation($e: ID!) { reportProgress(executionId: $e, progress: 70, step: { message: "after ${scenario}" }) { __typename } }`,
        { e: ids.exeActive },
        keys['A agent'],
        'reportProgress.__typename',
      );
      await outboxDrained();
      await new Promise((r) => setTimeout(r, 300));
      expect(subs.filter((s) => s.sub.events.length > 0).map((s) => s.name)).toEqual([]);
      await client.dispose();
    });
  }
});

async function until(check: () => boolean, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('positive control: the same generated mutations, by A’s rightful principal, are not refused', () => {
  // Runs last (it changes A's world): a NotFound/Forbidden here would mean a filler points at the
  // wrong object and the sweep above proved nothing for that operation.
  it('every swept mutation passes authorization for its rightful principal', async () => {
    const swept = ops.filter((o) => o.kind === 'mutation' && build(o).usesForeignId);
    // Destructive ones last, so the others still find their objects.
    const last = (o: Operation) => (/^(delete|revoke|cancel|fail|remove|suspend)/.test(o.field.name) ? 1 : 0);
    const refused: string[] = [];
    for (const op of swept.sort((x, y) => last(x) - last(y))) {
      const built = build(op);
      const key = /^Platform admin/.test(op.description)
        ? PLATFORM_KEY
        : AGENT_MAY[op.field.name]
          ? keys['A agent']
          : keys['A owner'];
      const res = await t.gql(built.doc, built.variables, key);
      const verdict = judge(op, res);
      if (verdict.ok) refused.push(`${op.name}: ${verdict.outcome}`);
    }
    expect(refused).toEqual([]);
  });
});

describe('coverage', () => {
  it('prints the summary', () => {
    const byKind = (k: Operation['kind']) => ops.filter((o) => o.kind === k).length;
    const allowListed = Object.keys(GLOBAL);
    console.log(
      `isolation sweep: ${ops.length} operations (${byKind('query')} queries, ${byKind('mutation')} mutations, ${byKind(
        'subscription',
      )} subscriptions); ${stats.swept} swept with A's ids, ${allowListed.length} allow-listed as global (${
        stats.global
      } global queries scanned for A's private ids); ${stats.subscriptions} subscriptions; ${
        stats.nodeTypes
      } Node types via node(id) (+ Agent public); ${stats.calls} calls; known leaks: ${Object.keys(KNOWN_LEAKS).length}`,
    );
    console.log(`isolation sweep, subscriptions: ${subscriptionOutcomes.join('; ')}`);
    expect(ops.length).toBeGreaterThan(0);
  });
});
