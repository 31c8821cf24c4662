import { z } from 'zod';
import type { Db, Tx } from '../../db/client.ts';
import type { Execution, Prisma } from '../../generated/prisma/client.ts';
import { canSeeExecution, isPosterSide } from '../access/visibility.ts';
import { emit } from '../delivery/events.ts';
import { ForbiddenError, InvalidStateError, NotFoundError } from '../kernel/errors.ts';
import { decodeId } from '../kernel/ids.ts';
import { parse } from '../kernel/validation.ts';
import type { Viewer } from '../kernel/viewer.ts';
import { refundEscrow } from '../ledger/ledger.ts';
import { releaseAgent } from '../marketplace/assignment.ts';
import { transitionJob } from '../marketplace/job-state.ts';
import { applyOutcome } from '../reputation/reputation.ts';
import { transitionExecution } from './execution-state.ts';
import { redactAndCap } from './redact.ts';

/** The execution, if the viewer is the agent driving it. Poster-side members may look but not drive. */
async function loadOwnExecution(db: Db | Tx, viewer: Viewer, executionPublicId: string) {
  const execution = await db.execution.findUnique({
    where: { id: decodeId('Execution', executionPublicId) },
    include: { job: true },
  });
  if (!execution || !canSeeExecution(viewer, execution.job, execution))
    throw new NotFoundError('Execution', executionPublicId);
  if (viewer.kind !== 'agent' || viewer.agentId !== execution.agentId) {
    throw new ForbiddenError('Only the assigned agent reports on its execution');
  }
  return execution;
}

const stepSchema = z.object({
  kind: z.string().trim().min(1).max(50).default('note'),
  message: z.string().trim().min(1, 'must not be empty').max(4_000, 'must be at most 4000 characters'),
  data: z.unknown().optional(),
});

const stepView = (s: { id: string; index: number; kind: string; message: string; data: unknown; createdAt: Date }) => ({
  id: s.id,
  index: s.index,
  kind: s.kind,
  message: s.message,
  data: s.data ?? null,
  createdAt: s.createdAt.toISOString(),
});

/** The assigned agent starts work: job ASSIGNED → IN_PROGRESS, a new execution STARTED. */
export async function startExecution(db: Db, viewer: Viewer, jobPublicId: string): Promise<Execution> {
  if (viewer.kind !== 'agent') throw new ForbiddenError('Only the assigned agent starts the execution');
  const jobId = decodeId('Job', jobPublicId);
  const job = await db.job.findUnique({ where: { id: jobId } });
  if (!job) throw new NotFoundError('Job', jobPublicId);
  if (job.assignedAgentId !== viewer.agentId) {
    // Another agent's job: do not reveal more than visibility allows.
    throw job.status === 'OPEN'
      ? new InvalidStateError(job.status, 'This job is not assigned to you')
      : new NotFoundError('Job', jobPublicId);
  }
  return db.$transaction(async (tx) => {
    const moved = await transitionJob(tx, jobId, 'IN_PROGRESS', { only: ['ASSIGNED'], reason: 'execution started' });
    const execution = await tx.execution.create({ data: { jobId, agentId: viewer.agentId } });
    await emit(tx, 'ExecutionProgressed', {
      jobId,
      workspaceId: moved.workspaceId,
      agentId: viewer.agentId,
      data: { executionId: execution.id, status: execution.status, progress: 0 },
    });
    return execution;
  });
}

export const reportProgressInput = z.object({
  progress: z.number().int('must be a whole number').min(0, 'must be 0-100').max(100, 'must be 0-100'),
  step: stepSchema.nullish(),
});

/** Progress 0-100 and an optional step (kind, message, data). STARTED becomes WORKING. */
export async function reportProgress(
  db: Db,
  viewer: Viewer,
  executionPublicId: string,
  input: z.input<typeof reportProgressInput>,
): Promise<Execution> {
  const data = parse(reportProgressInput, input);
  const execution = await loadOwnExecution(db, viewer, executionPublicId);
  return db.$transaction(async (tx) => {
    const updated = await transitionExecution(tx, execution.id, 'WORKING', {
      only: ['STARTED', 'WORKING'],
      data: { progress: data.progress, ...(data.step ? { stepCount: { increment: 1 } } : {}) },
    });
    const target = { jobId: execution.jobId, workspaceId: execution.job.workspaceId, agentId: execution.agentId };
    if (data.step) {
      const step = await tx.executionStep.create({
        data: {
          executionId: execution.id,
          index: updated.stepCount - 1,
          kind: data.step.kind,
          message: data.step.message,
          data: redactAndCap(data.step.data) as Prisma.InputJsonValue,
        },
      });
      await emit(tx, 'StepAdded', { ...target, data: { executionId: execution.id, step: stepView(step) } });
    }
    await emit(tx, 'ExecutionProgressed', {
      ...target,
      data: { executionId: execution.id, status: updated.status, progress: updated.progress },
    });
    return updated;
  });
}

export const toolCallInput = z.object({
  tool: z.string().trim().min(1, 'must not be empty').max(200),
  server: z.string().trim().max(200).nullish(),
  input: z.unknown().optional(),
  output: z.unknown().optional(),
  status: z.enum(['SUCCESS', 'ERROR', 'TIMEOUT']).default('SUCCESS'),
  durationMs: z
    .number()
    .int()
    .min(0)
    .max(24 * 3600 * 1000)
    .nullish(),
});

/** Records an MCP tool invocation; secrets in inputs/outputs are redacted by key name and sizes capped. */
export async function recordToolCall(
  db: Db,
  viewer: Viewer,
  executionPublicId: string,
  input: z.input<typeof toolCallInput>,
) {
  const data = parse(toolCallInput, input);
  const execution = await loadOwnExecution(db, viewer, executionPublicId);
  return db.$transaction(async (tx) => {
    await transitionExecution(tx, execution.id, 'WORKING', { only: ['STARTED', 'WORKING'] });
    const call = await tx.toolCall.create({
      data: {
        executionId: execution.id,
        tool: data.tool,
        server: data.server ?? null,
        input: redactAndCap(data.input) as Prisma.InputJsonValue,
        output: redactAndCap(data.output) as Prisma.InputJsonValue,
        status: data.status,
        durationMs: data.durationMs ?? null,
      },
    });
    await emit(tx, 'ToolCallRecorded', {
      jobId: execution.jobId,
      workspaceId: execution.job.workspaceId,
      agentId: execution.agentId,
      data: {
        executionId: execution.id,
        toolCall: {
          id: call.id,
          tool: call.tool,
          server: call.server,
          input: call.input,
          output: call.output,
          status: call.status,
          durationMs: call.durationMs,
          createdAt: call.createdAt.toISOString(),
        },
      },
    });
    return call;
  });
}

export const DEFAULT_INPUT_EXPIRY_MINUTES = 1440;
const expiresInMinutes = z
  .number()
  .int('must be a whole number of minutes')
  .min(1, 'must be at least 1 minute')
  .max(30 * 24 * 60, 'must be at most 43200 minutes (30 days)')
  .nullish();

/**
 * The agent asks the job's people a question: execution → AWAITING_INPUT until someone answers,
 * or until `expiresInMinutes` (default 1440) pass: then InputExpired and the execution is WORKING again.
 */
export async function requestInput(
  db: Db,
  viewer: Viewer,
  executionPublicId: string,
  question: string,
  options: { expiresInMinutes?: number | null } = {},
) {
  const q = parse(
    z.string().trim().min(1, 'must not be empty').max(4_000, 'must be at most 4000 characters'),
    question,
    ['question'],
  );
  const minutes =
    parse(expiresInMinutes, options.expiresInMinutes, ['expiresInMinutes']) ?? DEFAULT_INPUT_EXPIRY_MINUTES;
  const execution = await loadOwnExecution(db, viewer, executionPublicId);
  return db.$transaction(async (tx) => {
    await transitionExecution(tx, execution.id, 'AWAITING_INPUT', { only: ['STARTED', 'WORKING'] });
    const askedAt = new Date();
    const request = await tx.inputRequest.create({
      data: {
        executionId: execution.id,
        question: q,
        askedAt,
        expiresAt: new Date(askedAt.getTime() + minutes * 60_000),
      },
    });
    await emit(tx, 'InputRequested', {
      jobId: execution.jobId,
      workspaceId: execution.job.workspaceId,
      agentId: execution.agentId,
      data: {
        executionId: execution.id,
        inputRequest: {
          id: request.id,
          question: q,
          askedAt: request.askedAt.toISOString(),
          expiresAt: request.expiresAt?.toISOString() ?? null,
        },
      },
    });
    return request;
  });
}

/** A member of the posting workspace answers; the execution goes back to WORKING. Answering twice is refused. */
export async function provideInput(db: Db, viewer: Viewer, inputRequestPublicId: string, answer: string) {
  const a = parse(
    z.string().trim().min(1, 'must not be empty').max(10_000, 'must be at most 10000 characters'),
    answer,
    ['answer'],
  );
  const request = await db.inputRequest.findUnique({
    where: { id: decodeId('InputRequest', inputRequestPublicId) },
    include: { execution: { include: { job: true } } },
  });
  if (!request || !canSeeExecution(viewer, request.execution.job, request.execution)) {
    throw new NotFoundError('InputRequest', inputRequestPublicId);
  }
  if (viewer.kind !== 'member' || !isPosterSide(viewer, request.execution.job)) {
    throw new ForbiddenError('Only members of the posting workspace answer questions');
  }
  return db.$transaction(async (tx) => {
    const answered = await tx.inputRequest.updateMany({
      where: { id: request.id, answeredAt: null, expiredAt: null },
      data: { answer: a, answeredAt: new Date(), answeredById: viewer.memberId },
    });
    if (answered.count === 0) {
      const now = await tx.inputRequest.findUniqueOrThrow({ where: { id: request.id }, select: { expiredAt: true } });
      if (now.expiredAt) {
        throw new InvalidStateError(
          'EXPIRED',
          'This question expired unanswered; the agent went on working (send it a message instead)',
        );
      }
      throw new InvalidStateError('ANSWERED', 'This question was already answered');
    }
    await transitionExecution(tx, request.executionId, 'WORKING', { only: ['AWAITING_INPUT'] });
    const done = await tx.inputRequest.findUniqueOrThrow({ where: { id: request.id } });
    await emit(tx, 'InputProvided', {
      jobId: request.execution.jobId,
      workspaceId: request.execution.job.workspaceId,
      agentId: request.execution.agentId,
      data: {
        executionId: request.executionId,
        inputRequest: {
          id: done.id,
          question: done.question,
          answer: done.answer,
          askedAt: done.askedAt.toISOString(),
          answeredAt: done.answeredAt?.toISOString(),
        },
      },
    });
    return done;
  });
}

/**
 * Unanswered questions past their `expiresAt` expire (the scheduler runs this in every process):
 * each is marked with a conditional update (so one process acts), InputExpired goes to the agent
 * and the poster, and the execution returns to WORKING once no question is open. One question per
 * transaction.
 */
export async function expireInputRequests(db: Db, now = new Date()): Promise<number> {
  const due = await db.inputRequest.findMany({
    where: { answeredAt: null, expiredAt: null, expiresAt: { lte: now } },
    select: { id: true },
    orderBy: { expiresAt: 'asc' },
    take: 500,
  });
  let expired = 0;
  for (const { id } of due) {
    const done = await db.$transaction(async (tx) => {
      const marked = await tx.inputRequest.updateMany({
        where: { id, answeredAt: null, expiredAt: null, expiresAt: { lte: now } },
        data: { expiredAt: now },
      });
      if (marked.count === 0) return false;
      const request = await tx.inputRequest.findUniqueOrThrow({
        where: { id },
        include: { execution: { include: { job: { select: { workspaceId: true } } } } },
      });
      const stillOpen = await tx.inputRequest.count({
        where: { executionId: request.executionId, answeredAt: null, expiredAt: null },
      });
      const resumed = stillOpen === 0 && request.execution.status === 'AWAITING_INPUT';
      if (resumed) await transitionExecution(tx, request.executionId, 'WORKING', { only: ['AWAITING_INPUT'] });
      await emit(tx, 'InputExpired', {
        jobId: request.execution.jobId,
        workspaceId: request.execution.job.workspaceId,
        agentId: request.execution.agentId,
        data: {
          executionId: request.executionId,
          inputRequest: {
            id,
            question: request.question,
            askedAt: request.askedAt.toISOString(),
            expiresAt: request.expiresAt?.toISOString() ?? null,
            expiredAt: now.toISOString(),
          },
          status: resumed ? 'WORKING' : request.execution.status,
        },
      });
      return true;
    });
    if (done) expired++;
  }
  return expired;
}

const MAX_ARTIFACT_CONTENT = 1024 * 1024;
export const submitResultInput = z.object({
  result: z
    .unknown()
    .refine((v) => Buffer.byteLength(JSON.stringify(v ?? null)) <= 1024 * 1024, 'must be at most 1 MB of JSON'),
  artifacts: z
    .array(
      z
        .object({
          name: z.string().trim().min(1, 'must not be empty').max(200),
          mimeType: z
            .string()
            .trim()
            .regex(/^[\w.+-]+\/[\w.+-]+$/, 'must be a MIME type such as text/markdown')
            .default('application/octet-stream'),
          url: z
            .url('must be a URL')
            .max(2048)
            .refine((u) => /^https?:/.test(u), 'must be http(s)')
            .nullish(),
          content: z
            .string()
            .max(MAX_ARTIFACT_CONTENT, 'inline content must be at most 1 MB; link larger files with url')
            .nullish(),
        })
        .refine((a) => Boolean(a.url) !== Boolean(a.content), 'give exactly one of url or content'),
    )
    .max(20, 'at most 20 artifacts')
    .default([]),
});

/** The agent delivers: execution COMPLETED, job IN_PROGRESS → REVIEW, auto-approval scheduled. */
export async function submitResult(
  db: Db,
  viewer: Viewer,
  executionPublicId: string,
  input: z.input<typeof submitResultInput>,
) {
  const data = parse(submitResultInput, input);
  const execution = await loadOwnExecution(db, viewer, executionPublicId);
  return db.$transaction(async (tx) => {
    const now = new Date();
    // The job's row first: every transaction that moves a job and its execution locks them in that order.
    const job = await transitionJob(tx, execution.jobId, 'REVIEW', {
      only: ['IN_PROGRESS'],
      data: { autoApproveAt: new Date(now.getTime() + execution.job.autoApproveAfterSecs * 1000) },
      reason: 'result submitted',
    });
    const updated = await transitionExecution(tx, execution.id, 'COMPLETED', {
      only: ['STARTED', 'WORKING'],
      data: { result: (data.result ?? null) as Prisma.InputJsonValue, submittedAt: now, progress: 100 },
    });
    for (const a of data.artifacts) {
      await tx.artifact.create({
        data: {
          executionId: execution.id,
          name: a.name,
          mimeType: a.mimeType,
          url: a.url ?? null,
          content: a.content ?? null,
          sizeBytes: a.content ? Buffer.byteLength(a.content) : 0,
        },
      });
    }
    await emit(tx, 'ResultSubmitted', {
      jobId: execution.jobId,
      workspaceId: job.workspaceId,
      agentId: execution.agentId,
      data: {
        executionId: execution.id,
        artifactCount: data.artifacts.length,
        autoApproveAt: job.autoApproveAt?.toISOString() ?? null,
      },
    });
    return updated;
  });
}

/**
 * The agent gives up: execution FAILED, the job returns to OPEN (assignment cleared, escrow
 * refunded by the ledger hook) and the failure counts against the agent's reputation.
 */
export async function failExecution(db: Db, viewer: Viewer, executionPublicId: string, reason: string) {
  const why = parse(z.string().trim().min(1, 'must not be empty').max(4_000), reason, ['reason']);
  const execution = await loadOwnExecution(db, viewer, executionPublicId);
  return db.$transaction(async (tx) => {
    // The job's row first (see submitResult), then the execution, then the escrow's accounts.
    const job = await transitionJob(tx, execution.jobId, 'OPEN', {
      only: ['IN_PROGRESS'],
      data: { assignedAgentId: null, acceptedBidId: null, agreedCredits: null, autoApproveAt: null, startBy: null },
      reason: `execution failed: ${why}`,
      event: { agentId: execution.agentId },
    });
    const failed = await transitionExecution(tx, execution.id, 'FAILED', {
      only: ['STARTED', 'WORKING', 'AWAITING_INPUT'],
      data: { failureReason: why, completedAt: new Date() },
    });
    await refundEscrow(tx, job, `execution failed: ${why}`);
    await releaseAgent(tx, execution.agentId);
    await applyOutcome(tx, execution.agentId, job.requiredSkills, { kind: 'failed' });
    await emit(tx, 'ExecutionProgressed', {
      jobId: execution.jobId,
      workspaceId: job.workspaceId,
      agentId: execution.agentId,
      data: { executionId: execution.id, status: 'FAILED', progress: failed.progress, reason: why },
    });
    return failed;
  });
}
