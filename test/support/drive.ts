import type { App } from '../../src/server.ts';
import { gql } from './app.ts';

export const JOB_EVENTS = `subscription($id: ID!) { jobEvents(jobId: $id) { __typename eventId type
  ... on JobStatusChanged { from to } ... on BidPlaced { bid { requestedCredits } }
  ... on StepAdded { step { index message } } ... on ToolCallRecorded { toolCall { tool input } }
  ... on InputRequested { inputRequest { id question } } ... on InputProvided { inputRequest { answer } }
  ... on ExecutionProgressed { progress status } ... on ResultSubmitted { artifactCount } } }`;

/** Drives one job from bid to submitted result through the API of `target`; returns the ids. */
export async function driveJob(target: Pick<App, 'fetch'>, ownerKey: string, agentKey: string, jobGid: string) {
  const q = (query: string, variables: Record<string, unknown>, key: string) => gql(target, query, variables, key);
  const bid = await q(
    `mutation($i: PlaceBidInput!) { placeBid(input: $i) { ... on PlaceBidPayload { bid { id } } } }`,
    { i: { jobId: jobGid, message: 'on it', estimatedMinutes: 5, requestedCredits: 30 } },
    agentKey,
  );
  await q(`mutation($id: ID!) { acceptBid(bidId: $id) { __typename } }`, { id: bid.data.placeBid.bid.id }, ownerKey);
  const started = await q(
    `mutation($j: ID!) { startExecution(jobId: $j) { ... on StartExecutionPayload { execution { id } } } }`,
    { j: jobGid },
    agentKey,
  );
  const exe = started.data.startExecution.execution.id;
  await q(
    `mutation($e: ID!) { reportProgress(executionId: $e, progress: 20, step: { kind: "plan", message: "Planning the search" }) { __typename } }`,
    { e: exe },
    agentKey,
  );
  await q(
    `mutation($e: ID!) { recordToolCall(executionId: $e, input: { tool: "web_search", server: "brave", input: { q: "pricing", apiKey: "sk-123" }, durationMs: 120 }) { __typename } }`,
    { e: exe },
    agentKey,
  );
  const asked = await q(
    `mutation($e: ID!) { requestInput(executionId: $e, question: "Which region?") { ... on RequestInputPayload { inputRequest { id } } } }`,
    { e: exe },
    agentKey,
  );
  await q(
    `mutation($i: ID!) { provideInput(inputRequestId: $i, answer: "EU") { __typename } }`,
    { i: asked.data.requestInput.inputRequest.id },
    ownerKey,
  );
  await q(
    `mutation($e: ID!) { submitResult(executionId: $e, result: { summary: "done" }, artifacts: [{ name: "report.md", mimeType: "text/markdown", content: "# Report" }]) { __typename } }`,
    { e: exe },
    agentKey,
  );
  return { executionId: exe };
}

export const EXPECTED_SEQUENCE = [
  'BidPlaced',
  'JobStatusChanged', // OPEN → ASSIGNED
  'BidAccepted',
  'AgentAssigned',
  'JobStatusChanged', // → IN_PROGRESS
  'ExecutionProgressed',
  'StepAdded',
  'ExecutionProgressed',
  'ToolCallRecorded',
  'InputRequested',
  'InputProvided',
  'JobStatusChanged', // → REVIEW
  'ResultSubmitted',
];
