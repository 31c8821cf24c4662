import { canSeeExecution, isPosterSide } from '../services/access/visibility.ts';
import {
  failExecution,
  provideInput,
  recordToolCall,
  reportProgress,
  requestInput,
  startExecution,
  submitResult,
} from '../services/execution/executions.ts';
import { InvalidStateError } from '../services/kernel/errors.ts';
import { builder } from './builder.ts';
import type { Context } from './context.ts';
import { COMMON_ERRORS } from './errors.ts';
import { registerNodeLoader } from './node.ts';

export const ExecutionStatusEnum = builder.enumType('ExecutionStatus', {
  description:
    'STARTED → WORKING ⇄ AWAITING_INPUT → COMPLETED | FAILED (COMPLETED → WORKING when changes are requested).',
  values: ['STARTED', 'WORKING', 'AWAITING_INPUT', 'COMPLETED', 'FAILED'] as const,
});
export const ToolCallStatusEnum = builder.enumType('ToolCallStatus', {
  values: ['SUCCESS', 'ERROR', 'TIMEOUT'] as const,
});

/** Plain shapes shared by the database-backed fields and the event payloads (which carry them inline). */
export interface StepShape {
  id: string;
  index: number;
  kind: string;
  message: string;
  data: unknown;
  createdAt: Date | string;
}
export interface ToolCallShape {
  id: string;
  tool: string;
  server: string | null;
  input: unknown;
  output: unknown;
  status: string;
  durationMs: number | null;
  createdAt: Date | string;
}
export interface InputRequestShape {
  id: string;
  question: string;
  answer?: string | null;
  askedAt: Date | string;
  answeredAt?: Date | string | null;
  expiresAt?: Date | string | null;
  expiredAt?: Date | string | null;
}

export const ExecutionStepRef = builder.objectRef<StepShape>('ExecutionStep').implement({
  description: 'One step the agent reported.',
  fields: (t) => ({
    id: t.id({ resolve: (s) => `stp_${s.id}` }),
    index: t.exposeInt('index'),
    kind: t.exposeString('kind', { description: 'Free-form category, e.g. plan, search, analyse, write.' }),
    message: t.exposeString('message'),
    data: t.field({ type: 'JSON', nullable: true, resolve: (s) => s.data ?? null }),
    createdAt: t.field({ type: 'DateTime', resolve: (s) => s.createdAt }),
  }),
});

export const ToolCallRef = builder.objectRef<ToolCallShape>('ToolCall').implement({
  description: 'An MCP tool invocation. Values under secret-looking keys are redacted; large values are capped.',
  fields: (t) => ({
    id: t.id({ resolve: (c) => `tc_${c.id}` }),
    tool: t.exposeString('tool'),
    server: t.exposeString('server', { nullable: true, description: 'The MCP server that provided the tool.' }),
    input: t.field({ type: 'JSON', nullable: true, resolve: (c) => c.input ?? null }),
    output: t.field({ type: 'JSON', nullable: true, resolve: (c) => c.output ?? null }),
    status: t.field({ type: ToolCallStatusEnum, resolve: (c) => c.status as 'SUCCESS' }),
    durationMs: t.exposeInt('durationMs', { nullable: true }),
    createdAt: t.field({ type: 'DateTime', resolve: (c) => c.createdAt }),
  }),
});

export const InputRequestRef = builder.objectRef<InputRequestShape>('InputRequest').implement({
  description: 'A question the agent asked the job’s people.',
  fields: (t) => ({
    id: t.id({ resolve: (r) => `inp_${r.id}` }),
    question: t.exposeString('question'),
    answer: t.string({ nullable: true, resolve: (r) => r.answer ?? null }),
    askedAt: t.field({ type: 'DateTime', resolve: (r) => r.askedAt }),
    answeredAt: t.field({ type: 'DateTime', nullable: true, resolve: (r) => r.answeredAt ?? null }),
    expiresAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'An unanswered question expires then (InputExpired) and the execution returns to WORKING.',
      resolve: (r) => r.expiresAt ?? null,
    }),
    expiredAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'Set when the question expired unanswered.',
      resolve: (r) => r.expiredAt ?? null,
    }),
  }),
});

export const ArtifactRef = builder.prismaObject('Artifact', {
  description: 'A file or document the agent delivered (inline content or a link).',
  fields: (t) => ({
    id: t.id({ resolve: (a) => `art_${a.id}` }),
    name: t.exposeString('name'),
    mimeType: t.exposeString('mimeType'),
    url: t.exposeString('url', { nullable: true }),
    content: t.exposeString('content', { nullable: true }),
    sizeBytes: t.exposeInt('sizeBytes'),
  }),
});

export const ExecutionRef = builder.prismaNode('Execution', {
  id: { field: 'id' },
  description:
    'An agent’s run on a job: live progress, trace and result. Visible to the posting workspace and the agent.',
  fields: (t) => ({
    job: t.relation('job'),
    agent: t.relation('agent'),
    status: t.expose('status', { type: ExecutionStatusEnum }),
    progress: t.exposeInt('progress', { description: '0-100.' }),
    steps: t.field({
      type: [ExecutionStepRef],
      select: { steps: { orderBy: { index: 'asc' } } },
      resolve: (e) => e.steps,
    }),
    toolCalls: t.field({
      type: [ToolCallRef],
      select: { toolCalls: { orderBy: { createdAt: 'asc' } } },
      resolve: (e) => e.toolCalls,
    }),
    inputRequests: t.field({
      type: [InputRequestRef],
      select: { inputRequests: { orderBy: { askedAt: 'asc' } } },
      resolve: (e) => e.inputRequests,
    }),
    artifacts: t.relation('artifacts', { query: { orderBy: { createdAt: 'asc' } } }),
    result: t.expose('result', { type: 'JSON', nullable: true }),
    failureReason: t.exposeString('failureReason', { nullable: true }),
    startedAt: t.expose('startedAt', { type: 'DateTime' }),
    submittedAt: t.expose('submittedAt', { type: 'DateTime', nullable: true }),
    completedAt: t.expose('completedAt', { type: 'DateTime', nullable: true }),
  }),
});

registerNodeLoader('Execution', async (ctx, id) => {
  const e = await ctx.db.execution.findUnique({ where: { id }, include: { job: { select: { workspaceId: true } } } });
  return e && canSeeExecution(ctx.viewer, e.job, e) ? e : null;
});

builder.prismaObjectField('Job', 'execution', (t) =>
  t.prismaField({
    type: 'Execution',
    nullable: true,
    description: 'The current (latest) execution; visible to the posting workspace and the assigned agent only.',
    select: { workspaceId: true },
    resolve: (query, job, _args, ctx: Context) => {
      // The same rule as canSeeExecution, as a filter: the posting workspace sees it, an agent only its own.
      const v = ctx.viewer;
      const who = isPosterSide(v, job) ? {} : v.kind === 'agent' ? { agentId: v.agentId } : { id: '' };
      return ctx.db.execution.findFirst({ ...query, where: { jobId: job.id, ...who }, orderBy: { startedAt: 'desc' } });
    },
  }),
);

// ───────────── mutations (the assigned agent drives; people answer) ─────────────

const executionPayload = (name: string) =>
  builder.objectRef<{ executionId: string }>(name).implement({
    fields: (t) => ({
      execution: t.prismaField({
        type: 'Execution',
        resolve: (query, p, _args, ctx) =>
          ctx.db.execution.findUniqueOrThrow({ ...query, where: { id: p.executionId } }),
      }),
    }),
  });

const StepInput = builder.inputType('StepInput', {
  fields: (t) => ({
    kind: t.string({ description: 'e.g. plan, search, analyse, write (default "note").' }),
    message: t.string({ required: true }),
    data: t.field({ type: 'JSON' }),
  }),
});

const ToolCallInput = builder.inputType('ToolCallInput', {
  fields: (t) => ({
    tool: t.string({ required: true, description: 'MCP tool name.' }),
    server: t.string({ description: 'MCP server name.' }),
    input: t.field({ type: 'JSON' }),
    output: t.field({ type: 'JSON' }),
    status: t.field({ type: ToolCallStatusEnum }),
    durationMs: t.int(),
  }),
});

const ArtifactInput = builder.inputType('ArtifactInput', {
  description: 'Exactly one of `content` (inline, ≤ 1 MB) or `url`.',
  fields: (t) => ({
    name: t.string({ required: true }),
    mimeType: t.string({ description: 'Default application/octet-stream.' }),
    url: t.string(),
    content: t.string(),
  }),
});

const InputRequestPayload = builder.objectRef<{ request: InputRequestShape }>('RequestInputPayload').implement({
  fields: (t) => ({ inputRequest: t.field({ type: InputRequestRef, resolve: (p) => p.request }) }),
});
const ProvideInputPayload = builder.objectRef<{ request: InputRequestShape }>('ProvideInputPayload').implement({
  fields: (t) => ({ inputRequest: t.field({ type: InputRequestRef, resolve: (p) => p.request }) }),
});
const ToolCallPayload = builder.objectRef<{ call: ToolCallShape }>('RecordToolCallPayload').implement({
  fields: (t) => ({ toolCall: t.field({ type: ToolCallRef, resolve: (p) => p.call }) }),
});

const STATE_ERRORS = [...COMMON_ERRORS, InvalidStateError];

builder.mutationFields((t) => ({
  startExecution: t.field({
    type: executionPayload('StartExecutionPayload'),
    description: 'The assigned agent starts work: the job becomes IN_PROGRESS.',
    authScopes: { agent: true },
    args: { jobId: t.arg.id({ required: true }) },
    errors: { types: STATE_ERRORS },
    resolve: async (_root, { jobId }, ctx) => ({
      executionId: (await startExecution(ctx.db, ctx.viewer, String(jobId))).id,
    }),
  }),
  reportProgress: t.field({
    type: executionPayload('ReportProgressPayload'),
    description: 'Progress 0-100 and an optional step. Subscribers of jobEvents see it at once.',
    authScopes: { agent: true },
    args: {
      executionId: t.arg.id({ required: true }),
      progress: t.arg.int({ required: true }),
      step: t.arg({ type: StepInput }),
    },
    errors: { types: STATE_ERRORS },
    resolve: async (_root, { executionId, progress, step }, ctx) => ({
      executionId: (
        await reportProgress(ctx.db, ctx.viewer, String(executionId), {
          progress,
          step: step ? { kind: step.kind ?? undefined, message: step.message, data: step.data ?? undefined } : null,
        })
      ).id,
    }),
  }),
  recordToolCall: t.field({
    type: ToolCallPayload,
    description:
      'Records an MCP tool call. Secrets in input/output are redacted by key name; values over 64 KB are capped.',
    authScopes: { agent: true },
    args: { executionId: t.arg.id({ required: true }), input: t.arg({ type: ToolCallInput, required: true }) },
    errors: { types: STATE_ERRORS },
    resolve: async (_root, { executionId, input }, ctx) => ({
      call: await recordToolCall(ctx.db, ctx.viewer, String(executionId), {
        tool: input.tool,
        server: input.server,
        input: input.input ?? undefined,
        output: input.output ?? undefined,
        status: input.status ?? undefined,
        durationMs: input.durationMs,
      }),
    }),
  }),
  requestInput: t.field({
    type: InputRequestPayload,
    description:
      'Asks the job’s people a question; the execution is AWAITING_INPUT until answered, or until `expiresInMinutes` (default 1440) pass: then InputExpired and the execution is WORKING again.',
    authScopes: { agent: true },
    args: {
      executionId: t.arg.id({ required: true }),
      question: t.arg.string({ required: true }),
      expiresInMinutes: t.arg.int({ description: 'Default 1440 (24 hours); 1 to 43200.' }),
    },
    errors: { types: STATE_ERRORS },
    resolve: async (_root, { executionId, question, expiresInMinutes }, ctx) => ({
      request: await requestInput(ctx.db, ctx.viewer, String(executionId), question, { expiresInMinutes }),
    }),
  }),
  provideInput: t.field({
    type: ProvideInputPayload,
    description: 'A member of the posting workspace answers the agent’s question; the agent is notified.',
    authScopes: { member: true },
    args: { inputRequestId: t.arg.id({ required: true }), answer: t.arg.string({ required: true }) },
    errors: { types: STATE_ERRORS },
    resolve: async (_root, { inputRequestId, answer }, ctx) => ({
      request: await provideInput(ctx.db, ctx.viewer, String(inputRequestId), answer),
    }),
  }),
  submitResult: t.field({
    type: executionPayload('SubmitResultPayload'),
    description: 'Delivers the result (JSON) and artifacts: the job goes to REVIEW and auto-approval is scheduled.',
    authScopes: { agent: true },
    args: {
      executionId: t.arg.id({ required: true }),
      result: t.arg({ type: 'JSON' }),
      artifacts: t.arg({ type: [ArtifactInput] }),
    },
    errors: { types: STATE_ERRORS },
    resolve: async (_root, { executionId, result, artifacts }, ctx) => ({
      executionId: (
        await submitResult(ctx.db, ctx.viewer, String(executionId), {
          result: result ?? null,
          artifacts: (artifacts ?? []).map((a) => ({
            name: a.name,
            mimeType: a.mimeType ?? undefined,
            url: a.url,
            content: a.content,
          })),
        })
      ).id,
    }),
  }),
  failExecution: t.field({
    type: executionPayload('FailExecutionPayload'),
    description: 'The agent gives up: the job returns to OPEN, escrow is refunded and the failure counts.',
    authScopes: { agent: true },
    args: { executionId: t.arg.id({ required: true }), reason: t.arg.string({ required: true }) },
    errors: { types: STATE_ERRORS },
    resolve: async (_root, { executionId, reason }, ctx) => ({
      executionId: (await failExecution(ctx.db, ctx.viewer, String(executionId), reason)).id,
    }),
  }),
}));
