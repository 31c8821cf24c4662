import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * The live execution page, `GET /jobs/<jobId>/live`: one self-contained HTML document (inline CSS
 * and JS, no build step, nothing loaded from the internet) that follows a job through the public
 * API exactly as any frontend would, and lets the poster act on it:
 *
 *   1. the API key comes from the URL fragment `#key=aw_live_…` (a fragment never reaches the
 *      server or its logs) or from sessionStorage, else the page asks for it;
 *   2. it subscribes to `jobEvents(jobId)` over graphql-ws (`/live/graphql-ws.js` is graphql-ws's
 *      own UMD browser build, served from node_modules);
 *   3. once the subscription is up, it loads the job's state with one `job(id)` query and then
 *      applies each event on top of it, dropping event ids it has already seen;
 *   4. after a lost connection it resumes after the last event `seq` it received (`after`), with a
 *      bounded backoff; then it says "disconnected" and offers a Retry button;
 *   5. the poster answers the agent's questions (`provideInput`) and reviews the result
 *      (`reviewExecution`) with the same key: the API decides who may, and its typed errors are shown.
 *
 * The page's script is written to be copied: plain modern JS, commented, no framework. Everything
 * the API returns is untrusted and reaches the page as text (textContent, text nodes, text/plain
 * blobs), never as HTML.
 */

/** Where the server serves {@link liveAssetPath}. */
export const LIVE_ASSET_URL = '/live/graphql-ws.js';

const require = createRequire(import.meta.url);

/** Absolute path of graphql-ws's minified UMD browser build (defines `globalThis.graphqlWs`). */
export function liveAssetPath(): string {
  const path = join(dirname(require.resolve('graphql-ws/package.json')), 'umd', 'graphql-ws.min.js');
  if (!existsSync(path)) throw new Error(`graphql-ws browser build not found at ${path}`);
  return path;
}

/** The complete page for one job. `jobId` is the public id (`job_…`); it is HTML-escaped. */
export function livePageHtml(jobId: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<title>Live job · Agentwork</title>
<style>${STYLE}</style>
<script src="${LIVE_ASSET_URL}"></script>
</head>
<body>
<main id="app" data-job-id="${escapeHtml(jobId)}">
  <header class="card">
    <div class="headline">
      <h1 id="title">Loading…</h1>
      <span id="status" class="badge">…</span>
    </div>
    <p class="meta">
      <span id="agent"></span>
      <span id="budget"></span>
      <span id="connection" data-state="connecting">connecting</span>
      <button id="retry" type="button" class="small" hidden>Retry</button>
    </p>
    <div class="progress">
      <progress id="progress" max="100" value="0"></progress>
      <span id="progress-text">0%</span>
    </div>
    <p id="execution" class="state">The agent has not started yet.</p>
  </header>

  <form id="key-form" class="card" hidden>
    <label for="key-input">API key</label>
    <p class="hint" id="key-hint">Paste a key that may see this job. It is kept in this tab only (sessionStorage).</p>
    <div class="row">
      <input id="key-input" type="password" autocomplete="off" spellcheck="false" placeholder="aw_live_…" required>
      <button type="submit">Watch</button>
    </div>
  </form>

  <form id="answer-form" class="card attention" hidden>
    <h2>The agent asks</h2>
    <p id="answer-question" class="text"></p>
    <textarea id="answer-input" rows="3" required aria-label="Your answer" placeholder="Your answer"></textarea>
    <div class="row">
      <button type="submit">Send answer</button>
      <span id="answer-error" class="error" role="alert"></span>
    </div>
  </form>

  <section id="result-card" class="card" hidden>
    <h2>Result</h2>
    <div id="result"></div>
  </section>
  <section class="card">
    <h2>Artifacts</h2>
    <ul id="artifacts"></ul>
  </section>

  <section id="review-card" class="card" hidden>
    <h2>Review and payment</h2>
    <p id="review-summary" class="text"></p>
    <p id="payout"></p>
    <form id="review-form" hidden>
      <fieldset class="row">
        <legend>Rating (required to accept)</legend>
        <label><input type="radio" name="rating" value="1"> 1</label>
        <label><input type="radio" name="rating" value="2"> 2</label>
        <label><input type="radio" name="rating" value="3"> 3</label>
        <label><input type="radio" name="rating" value="4"> 4</label>
        <label><input type="radio" name="rating" value="5"> 5</label>
      </fieldset>
      <textarea id="review-notes" rows="3" aria-label="Notes for the agent" placeholder="Notes for the agent (what to change, why you reject)"></textarea>
      <div class="row">
        <button type="submit" name="decision" value="ACCEPT">Accept and pay</button>
        <button type="submit" name="decision" value="REQUEST_CHANGES" class="secondary">Request changes</button>
        <button type="submit" name="decision" value="REJECT" class="danger">Reject</button>
      </div>
      <p id="review-error" class="error" role="alert"></p>
    </form>
  </section>

  <section class="card">
    <h2>Steps</h2>
    <ol id="steps"></ol>
  </section>
  <section class="card">
    <h2>Tool calls</h2>
    <ul id="tool-calls"></ul>
  </section>
  <section class="card">
    <h2>Questions</h2>
    <ul id="questions"></ul>
  </section>
  <p class="meta"><span id="viewer"></span> <button id="change-key" type="button" class="small secondary">Use another key</button></p>
</main>
<noscript>This page needs JavaScript to follow the job live.</noscript>
<script type="module">${SCRIPT}</script>
</body>
</html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

const STYLE = `
:root {
  color-scheme: light dark;
  --bg: #f5f6f8; --card: #fff; --text: #1c1f24; --muted: #646b76; --line: #e3e6ea; --accent: #3b5bdb;
  --ok: #2b8a3e; --warn: #e67700; --bad: #c92a2a;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  font-size: 15px; line-height: 1.45; background: var(--bg); color: var(--text);
}
@media (prefers-color-scheme: dark) {
  :root { --bg: #15171a; --card: #1e2126; --text: #e6e8eb; --muted: #9aa1ab; --line: #2e333a; --accent: #748ffc; }
}
body { margin: 0; padding: 24px 16px; }
main { max-width: 860px; margin: 0 auto; display: grid; gap: 16px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 16px 20px; box-shadow: 0 1px 2px rgb(0 0 0 / 4%); }
.card.attention { border-color: var(--warn); }
h1 { font-size: 1.4rem; margin: 0; overflow-wrap: anywhere; }
h2 { font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.06em; color: var(--muted); margin: 0 0 8px; }
.headline { display: flex; gap: 12px; align-items: center; justify-content: space-between; }
.meta { color: var(--muted); margin: 6px 0 0; display: flex; flex-wrap: wrap; gap: 4px 14px; align-items: center; }
.meta span:empty { display: none; }
.state { margin: 10px 0 0; font-weight: 600; white-space: pre-wrap; overflow-wrap: anywhere; }
.state[data-status="AWAITING_INPUT"] { color: var(--warn); }
.state[data-status="FAILED"] { color: var(--bad); }
.badge { font-size: 0.75rem; font-weight: 600; padding: 3px 10px; border-radius: 999px; white-space: nowrap; background: var(--line); }
.badge[data-status="IN_PROGRESS"] { background: #dbe4ff; color: #364fc7; }
.badge[data-status="REVIEW"] { background: #fff3bf; color: #8f5b00; }
.badge[data-status="COMPLETED"] { background: #d3f9d8; color: #2b8a3e; }
.badge[data-status="DISPUTED"], .badge[data-status="CANCELLED"], .badge[data-status="EXPIRED"] { background: #ffe3e3; color: #c92a2a; }
#connection::before { content: ""; display: inline-block; width: 8px; height: 8px; border-radius: 50%; margin-right: 6px; background: var(--muted); }
#connection[data-state="live"]::before { background: var(--ok); }
#connection[data-state="reconnecting"]::before, #connection[data-state="connecting"]::before { background: var(--warn); }
#connection[data-state="error"], #connection[data-state="disconnected"] { color: var(--bad); }
#connection[data-state="error"]::before, #connection[data-state="disconnected"]::before { background: var(--bad); }
.progress { display: flex; gap: 10px; align-items: center; margin-top: 12px; }
progress { flex: 1; height: 10px; accent-color: var(--accent); }
#progress-text { font-variant-numeric: tabular-nums; min-width: 3.5em; text-align: right; }
ol, ul { margin: 0; padding-left: 0; list-style: none; }
li { padding: 8px 0; border-top: 1px solid var(--line); display: flex; gap: 10px; align-items: baseline; flex-wrap: wrap; }
li:first-child { border-top: 0; }
ol:empty::before, ul:empty::before { content: "Nothing yet."; color: var(--muted); }
.tag { font-size: 0.75rem; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; background: var(--bg); border: 1px solid var(--line); border-radius: 4px; padding: 0 6px; }
.text { flex: 1; min-width: 12em; white-space: pre-wrap; overflow-wrap: anywhere; margin: 0 0 8px; }
time, .muted { color: var(--muted); font-size: 0.85rem; }
.answer { flex-basis: 100%; margin-left: 1em; }
.pending { color: var(--warn); }
a { color: var(--accent); }
label, legend { font-weight: 600; }
fieldset { border: 0; padding: 0; margin: 0 0 10px; }
fieldset label { font-weight: normal; }
.hint { color: var(--muted); margin: 4px 0 10px; }
.row { display: flex; gap: 8px; flex-wrap: wrap; align-items: center; }
input, textarea { font: inherit; padding: 6px 10px; border: 1px solid var(--line); border-radius: 6px; background: var(--bg); color: inherit; }
input:not([type="radio"]) { flex: 1; }
textarea { display: block; width: 100%; box-sizing: border-box; margin: 0 0 10px; resize: vertical; }
button { font: inherit; padding: 6px 14px; border: 0; border-radius: 6px; background: var(--accent); color: #fff; cursor: pointer; }
button.small { padding: 2px 10px; font-size: 0.85rem; }
button.secondary { background: var(--line); color: var(--text); }
button.danger { background: var(--bad); }
button:disabled { opacity: 0.5; cursor: progress; }
.error { color: var(--bad); margin: 8px 0 0; white-space: pre-wrap; }
.error:empty { display: none; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 14px; margin: 0 0 8px; }
dt { color: var(--muted); }
dd { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
pre { margin: 8px 0 0; padding: 10px; max-height: 24em; overflow: auto; background: var(--bg); border: 1px solid var(--line); border-radius: 6px; white-space: pre-wrap; overflow-wrap: anywhere; font-size: 0.85rem; }
details { flex-basis: 100%; }
summary { cursor: pointer; color: var(--accent); }
`;

// The page's script. It is plain JS served as is: no template literals inside (this file embeds it
// in one), and `String.raw` keeps every backslash as written.
const SCRIPT = String.raw`
// Agentwork: follow one job live, and act on it as its poster.
// Everything below uses the public API only; copy what you need.
//   HTTP:      POST /graphql with "Authorization: Bearer <key>"
//   WebSocket: ws(s)://<host>/graphql (graphql-ws protocol), connectionParams { authorization: "Bearer <key>" }

// graphql-ws's UMD build (loaded by the classic <script> in <head>) defines the global graphqlWs.
// With a bundler you would write: import { createClient } from 'graphql-ws';
const graphqlWs = globalThis.graphqlWs;

const JOB_ID = document.getElementById('app').dataset.jobId;
const HTTP_URL = new URL('/graphql', location.href).href;
const WS_URL = HTTP_URL.replace(/^http/, 'ws'); // http: -> ws:, https: -> wss:
const KEY_STORAGE = 'agentwork.apiKey';

// Reconnecting: this many attempts, 0.5 s, 1 s, 2 s ... at most 10 s apart (about 45 s in all),
// then the page says "disconnected" and waits for the Retry button.
const MAX_ATTEMPTS = 8;
const backoff = (retries) => Math.min(500 * 2 ** retries, 10000) + Math.random() * 250;

// ---------------------------------------------------------------------------------------------
// GraphQL documents
// ---------------------------------------------------------------------------------------------

// Who the key belongs to, and the whole state of the job: loaded once the subscription is up (and
// again when events show that something was missed).
const JOB_QUERY = [
  'query LiveJob($id: ID!) {',
  '  viewer { __typename name ... on Member { role } }',
  '  job(id: $id) {',
  '    id title status budget agreedCredits assignedAgent { id name }',
  '    execution {',
  '      id status progress failureReason result',
  '      steps { index kind message createdAt }',
  '      toolCalls { tool server status durationMs createdAt }',
  '      inputRequests { id question answer askedAt answeredAt }',
  '      artifacts { id name mimeType url content sizeBytes }',
  '      review { decision rating notes automatic createdAt }',
  '    }',
  '  }',
  '}',
].join('\n');

// Everything that happens to the job from now on (or after "after", a seq received before).
const JOB_EVENTS = [
  'subscription LiveJobEvents($id: ID!, $after: String) {',
  '  jobEvents(jobId: $id, after: $after) {',
  '    __typename eventId seq at',
  '    ... on JobStatusChanged { from to reason job { agreedCredits assignedAgent { id name } } }',
  '    ... on AgentAssigned { credits job { assignedAgent { id name } } }',
  '    ... on ExecutionProgressed { executionId status progress reason }',
  '    ... on StepAdded { step { index kind message createdAt } }',
  '    ... on ToolCallRecorded { toolCall { tool server status durationMs createdAt } }',
  '    ... on InputRequested { executionId inputRequest { id question askedAt } }',
  '    ... on InputProvided { executionId inputRequest { id question answer askedAt answeredAt } }',
  '    ... on ResultSubmitted { executionId artifactCount }',
  '    ... on ChangesRequested { executionId notes }',
  '    ... on ExecutionReviewed { executionId decision rating notes data }',
  '    ... on AgentPaid { credits fee }',
  '  }',
  '}',
].join('\n');

// The payout is not part of the job's state, only of its history: for a job that was already paid
// when the page opened, replay its events from the start until the AgentPaid one.
const PAYOUT_HISTORY = [
  'subscription LivePayout($id: ID!) {',
  '  jobEvents(jobId: $id, after: "0") { __typename ... on AgentPaid { credits fee } }',
  '}',
].join('\n');

// The poster's actions. Expected failures come back as typed results (ForbiddenError, ...).
const ERROR_FIELDS = '... on Error { message } ... on ValidationError { issues { path message } }';
const PROVIDE_INPUT = [
  'mutation LiveProvideInput($id: ID!, $answer: String!) {',
  '  provideInput(inputRequestId: $id, answer: $answer) {',
  '    __typename ' + ERROR_FIELDS,
  '    ... on ProvideInputPayload { inputRequest { id question answer askedAt answeredAt } }',
  '  }',
  '}',
].join('\n');
const REVIEW_EXECUTION = [
  'mutation LiveReview($executionId: ID!, $decision: ReviewDecision!, $rating: Int, $notes: String, $idempotencyKey: String) {',
  '  reviewExecution(executionId: $executionId, decision: $decision, rating: $rating, notes: $notes, idempotencyKey: $idempotencyKey) {',
  '    __typename ' + ERROR_FIELDS,
  '    ... on ReviewExecutionPayload {',
  '      job { status }',
  '      execution { id status review { decision rating notes automatic createdAt } }',
  '    }',
  '  }',
  '}',
].join('\n');

// ---------------------------------------------------------------------------------------------
// The API key: from the URL fragment (#key=aw_live_...), else sessionStorage, else a form.
// ---------------------------------------------------------------------------------------------

const keyStore = {
  get() {
    try { return sessionStorage.getItem(KEY_STORAGE); } catch { return null; }
  },
  set(key) {
    try { sessionStorage.setItem(KEY_STORAGE, key); } catch { /* storage disabled: the key lives in memory only */ }
  },
  forget() {
    try { sessionStorage.removeItem(KEY_STORAGE); } catch { /* ignore */ }
  },
};

function keyFromFragment() {
  const key = new URLSearchParams(location.hash.slice(1)).get('key');
  if (!key) return null;
  keyStore.set(key.trim());
  // Take the key out of the address bar and the history entry, so it is not shared by accident.
  history.replaceState(null, '', location.pathname + location.search);
  return key.trim();
}

function askForKey(message) {
  const form = $('key-form');
  if (message) $('key-hint').textContent = message;
  form.hidden = false;
  $('key-input').focus();
}

// ---------------------------------------------------------------------------------------------
// State: the last snapshot with every event since applied on top.
// ---------------------------------------------------------------------------------------------

const state = {};
function resetState() {
  state.viewer = null; // { __typename, name, role }
  state.job = null; // { id, title, status, budget, agreedCredits, assignedAgent }
  state.execution = null; // { id, status, progress, failureReason }, null until the agent starts
  state.steps = new Map(); // step index -> step
  state.toolCalls = new Map(); // tool + server + createdAt -> tool call (tool calls carry no id)
  state.questions = new Map(); // input request id -> input request
  state.artifacts = [];
  state.result = undefined; // the execution's result JSON (undefined: none)
  state.review = null; // { decision, rating, notes, automatic }
  state.payout = null; // { credits, fee }
  seenEventIds.clear();
  queued.length = 0;
  lastSeq = null;
}

// Delivery is at-least-once: remember the event ids already applied (the most recent 5000).
const seenEventIds = new Set();
function firstTime(eventId) {
  if (seenEventIds.has(eventId)) return false;
  seenEventIds.add(eventId);
  if (seenEventIds.size > 5000) seenEventIds.delete(seenEventIds.values().next().value);
  return true;
}

const toolCallKey = (call) => call.tool + '|' + (call.server || '') + '|' + call.createdAt;
const openQuestion = () => [...state.questions.values()].filter((q) => q.answer == null).sort(byAskedAt).at(-1) ?? null;
const byAskedAt = (a, b) => String(a.askedAt).localeCompare(String(b.askedAt));

function applySnapshot(data) {
  const { job, viewer } = data;
  const execution = job.execution;
  const sameExecution = execution && state.execution?.id === execution.id;
  state.viewer = viewer;
  state.job = { id: job.id, title: job.title, status: job.status, budget: job.budget, agreedCredits: job.agreedCredits, assignedAgent: job.assignedAgent };
  state.execution = execution ? { id: execution.id, status: execution.status, progress: execution.progress, failureReason: execution.failureReason } : null;
  state.steps = new Map((execution?.steps ?? []).map((s) => [s.index, s]));
  state.toolCalls = new Map((execution?.toolCalls ?? []).map((c) => [toolCallKey(c), c]));
  state.questions = new Map((execution?.inputRequests ?? []).map((q) => [q.id, q]));
  state.artifacts = execution?.artifacts ?? [];
  state.result = execution?.result ?? undefined;
  state.review = execution?.review ?? null;
  if (!sameExecution) state.payout = null; // the payout is not in the snapshot: keep the one we know
  if (job.status === 'COMPLETED' && !state.payout) lookUpPayout();
}

function applyAnswer(request) {
  state.questions.set(request.id, { ...state.questions.get(request.id), ...request });
  // Answered: the agent works on (provideInput moves the execution back to WORKING).
  if (state.execution?.status === 'AWAITING_INPUT' && !openQuestion()) state.execution.status = 'WORKING';
}

// One event on top of the state. Asks for a fresh snapshot (resync) whenever the event shows that
// something was missed or carries less than the page shows.
function applyEvent(event) {
  if (!state.job) return; // no snapshot yet: the next one will include this event's effect
  const ofThisExecution = () => {
    if (state.execution && state.execution.id === event.executionId) return true;
    resync(); // an execution this page has not loaded yet
    return false;
  };
  switch (event.__typename) {
    case 'JobStatusChanged':
      // The job as it is now: assignment and price follow the status (cleared when it reopens).
      if (event.job) Object.assign(state.job, event.job);
      if (state.job.status === event.to) break; // already there (the snapshot was newer)
      if (state.job.status !== event.from) resync(); // we missed a transition: reload
      state.job.status = event.to;
      break;
    case 'AgentAssigned':
      state.job.agreedCredits = event.credits;
      if (event.job) state.job.assignedAgent = event.job.assignedAgent;
      break;
    case 'ExecutionProgressed':
      if (!state.execution || state.execution.id !== event.executionId) {
        // A new execution (the first one, or a retry after a failure): start its lists afresh.
        state.execution = { id: event.executionId, status: event.status, progress: event.progress, failureReason: null };
        state.steps = new Map();
        state.toolCalls = new Map();
        state.questions = new Map();
        state.artifacts = [];
        state.result = undefined;
        state.review = null;
        state.payout = null;
      } else {
        state.execution.status = event.status;
        state.execution.progress = event.progress;
      }
      if (event.status === 'FAILED') state.execution.failureReason = event.reason;
      break;
    case 'StepAdded':
      state.steps.set(event.step.index, event.step);
      break;
    case 'ToolCallRecorded':
      state.toolCalls.set(toolCallKey(event.toolCall), event.toolCall);
      break;
    case 'InputRequested':
      if (!ofThisExecution()) break;
      state.questions.set(event.inputRequest.id, { answer: null, ...event.inputRequest });
      state.execution.status = 'AWAITING_INPUT'; // requestInput moves it there
      break;
    case 'InputProvided':
      if (ofThisExecution()) applyAnswer(event.inputRequest);
      break;
    case 'ResultSubmitted':
      resync(); // the event carries only a count: load the result and the artifacts themselves
      break;
    case 'ChangesRequested':
      if (ofThisExecution()) state.execution.status = 'WORKING';
      break;
    case 'ExecutionReviewed':
      state.review = { decision: event.decision, rating: event.rating, notes: event.notes, automatic: Boolean(event.data?.automatic) };
      break;
    case 'AgentPaid':
      state.payout = { credits: event.credits, fee: event.fee };
      break;
    case 'AccessRevoked':
      endReason = 'access to this job was revoked'; // the server ends the stream right after
      break;
    default:
      break; // an event type this page does not show
  }
}

// ---------------------------------------------------------------------------------------------
// Loading the snapshot. Events that arrive while it loads wait in a queue and are applied after
// it, so nothing that happens between the subscription and the query is lost or undone.
// ---------------------------------------------------------------------------------------------

let loading = null; // the running load (a Promise), or null
let loadAgain = false;
const queued = [];

class KeyRejected extends Error {}
class JobNotFound extends Error {}

async function graphql(query, variables) {
  const response = await fetch(HTTP_URL, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      authorization: 'Bearer ' + apiKey,
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json().catch(() => null);
  const errors = body?.errors ?? [];
  if (response.status === 401 || errors.some((e) => e.extensions?.code === 'UNAUTHENTICATED')) {
    throw new KeyRejected(errors[0]?.message ?? 'The API key was rejected.');
  }
  if (!body?.data) throw new Error(errors[0]?.message ?? 'HTTP ' + response.status);
  return body.data;
}

function resync() {
  if (loading) {
    loadAgain = true;
    return loading;
  }
  loading = (async () => {
    try {
      do {
        loadAgain = false;
        const data = await graphql(JOB_QUERY, { id: JOB_ID });
        if (!data.job) throw new JobNotFound('Job not found, or this key may not see it.');
        applySnapshot(data);
      } while (loadAgain);
    } finally {
      loading = null;
      while (queued.length > 0 && !loading) applyEvent(queued.shift());
      render();
    }
  })();
  return loading;
}

function receive(event) {
  // Resume after this one if the connection drops: graphql-ws sends this payload on every reconnect.
  if (event.seq && subscription) subscription.variables.after = lastSeq = event.seq;
  if (!firstTime(event.eventId)) return; // a redelivery
  if (loading) queued.push(event);
  else {
    applyEvent(event);
    render();
  }
}

// ---------------------------------------------------------------------------------------------
// The live connection
// ---------------------------------------------------------------------------------------------

let apiKey = null;
let client = null;
let subscription = null; // { query, variables: { id, after } }: "after" follows the last seq received
let lastSeq = null;
let unsubscribe = null;
let stopPayoutLookup = null;
let retryTimer = null;
let loadFailures = 0;
let endReason = null; // why the server will end the stream, when an event said so

// Close code the server uses when connectionParams.authorization is missing or wrong.
const FORBIDDEN = 4403;
const isCloseEvent = (value) => typeof value === 'object' && value !== null && 'code' in value && 'reason' in value;

// Start following the job with this key. "resume" (the Retry button) keeps what the page shows and
// continues after the last event received; otherwise (a new key) the page starts over.
function watch(key, { resume = false } = {}) {
  stop();
  if (!resume) {
    resetState();
    $('answer-error').textContent = '';
    $('review-error').textContent = '';
  }
  apiKey = key;
  endReason = null;
  loadFailures = 0;
  $('retry').hidden = true;
  if (!graphqlWs) return setConnection('error', 'could not load /live/graphql-ws.js');
  setConnection('connecting');
  subscription = { query: JOB_EVENTS, variables: { id: JOB_ID, after: lastSeq } };
  const self = graphqlWs.createClient({
    url: WS_URL,
    connectionParams: { authorization: 'Bearer ' + key },
    keepAlive: 15000, // ping every 15 s: notices a dead connection behind a proxy
    retryAttempts: MAX_ATTEMPTS,
    retryWait: (retries) => {
      const delay = backoff(retries);
      setConnection('reconnecting', 'attempt ' + (retries + 1) + ' of ' + MAX_ATTEMPTS + ' in ' + Math.ceil(delay / 1000) + ' s', retries + 1);
      return new Promise((resolve) => setTimeout(resolve, delay));
    },
    // Retry after network errors and drops (the default retries close events only), never after
    // the server refused the key.
    shouldRetry: (errOrClose) => !(isCloseEvent(errOrClose) && errOrClose.code === FORBIDDEN),
    on: {
      // Connected (again): the subscription is (re)sent on this socket, after the last seq received,
      // so the server replays what happened meanwhile. Without one, load the state instead.
      connected: () => {
        if (client !== self) return;
        clearTimeout(retryTimer);
        if (state.job && lastSeq !== null) {
          setConnection('live');
          if (state.job.status === 'COMPLETED' && !state.payout) lookUpPayout();
        } else load();
      },
      // Lost (or a reconnect attempt failed: then retryWait above already says which attempt is next).
      closed: (event) => {
        if (client !== self || (isCloseEvent(event) && event.code === FORBIDDEN)) return;
        if ($('connection').dataset.state !== 'reconnecting') setConnection('reconnecting');
      },
    },
  });
  client = self;
  unsubscribe = client.subscribe(subscription, {
    next: (result) => {
      if (result.errors?.length) setConnection('error', describe(result.errors));
      if (result.data?.jobEvents) receive(result.data.jobEvents);
    },
    error: (error) => {
      if (client !== self) return;
      if (isCloseEvent(error) && error.code === FORBIDDEN) return onLoadError(new KeyRejected('The API key was rejected.'));
      if (Array.isArray(error)) {
        // GraphQL errors: the server refused this subscription (e.g. the job is not visible).
        setConnection('error', describe(error));
        return stop();
      }
      disconnected(); // every reconnect attempt failed
    },
    complete: () => {
      if (client !== self) return;
      setConnection('closed', endReason ?? 'the server ended the stream');
      stop();
    },
  });
}

function load() {
  resync().then(() => {
    loadFailures = 0;
    setConnection('live');
  }, onLoadError);
}

function stop() {
  clearTimeout(retryTimer);
  const old = client;
  client = null;
  unsubscribe?.();
  unsubscribe = null;
  stopPayoutLookup?.();
  stopPayoutLookup = null;
  old?.dispose();
}

function disconnected() {
  stop();
  setConnection('disconnected', 'the server cannot be reached. Reload the page or press Retry');
  $('retry').hidden = false;
}

function onLoadError(error) {
  if (error instanceof KeyRejected) {
    stop();
    keyStore.forget();
    setConnection('error', error.message);
    askForKey('That key was rejected (' + error.message + '). Paste another one.');
  } else if (error instanceof JobNotFound) {
    stop();
    setConnection('error', error.message);
  } else if (++loadFailures > MAX_ATTEMPTS) {
    disconnected();
  } else {
    // The HTTP request failed (network, server restart): keep the socket, try the query again.
    setConnection('error', describe(error) + ' (retrying)');
    retryTimer = setTimeout(load, backoff(loadFailures));
  }
}

// For a job that was paid before the page opened: its AgentPaid event, from the job's history.
function lookUpPayout() {
  if (stopPayoutLookup || !client) return;
  const done = () => {
    stopPayoutLookup?.();
    stopPayoutLookup = null;
  };
  stopPayoutLookup = client.subscribe(
    { query: PAYOUT_HISTORY, variables: { id: JOB_ID } },
    {
      next: (result) => {
        const event = result.data?.jobEvents;
        if (event?.__typename !== 'AgentPaid') return;
        state.payout = { credits: event.credits, fee: event.fee };
        done();
        render();
      },
      error: done,
      complete: done,
    },
  );
}

function describe(error) {
  if (Array.isArray(error)) return error.map((e) => e.message).join('; '); // GraphQL errors
  if (isCloseEvent(error)) return 'connection closed (' + error.code + (error.reason ? ' ' + error.reason : '') + ')';
  if (error instanceof Error) return error.message;
  return 'connection failed';
}

// ---------------------------------------------------------------------------------------------
// Acting as the poster: the same key, the same API, the same rules. A typed error (ForbiddenError,
// ValidationError with its issues, InvalidStateError, ...) is shown as the API returned it.
// ---------------------------------------------------------------------------------------------

function describeResult(result) {
  const issues = (result.issues ?? []).map((i) => (i.path.length ? i.path.join('.') + ': ' : '') + i.message);
  return result.__typename + ': ' + result.message + (issues.length ? '\n' + issues.join('\n') : '');
}

// Runs one action for a form: its buttons are disabled meanwhile, its error line shows what failed.
async function act(form, errorLine, action) {
  const buttons = [...form.querySelectorAll('button')];
  for (const b of buttons) b.disabled = true;
  errorLine.textContent = '';
  try {
    await action();
  } catch (error) {
    errorLine.textContent = error instanceof Error ? error.message : String(error);
  } finally {
    for (const b of buttons) b.disabled = false;
    render();
  }
}

$('answer-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  act(form, $('answer-error'), async () => {
    const data = await graphql(PROVIDE_INPUT, { id: form.dataset.id, answer: $('answer-input').value });
    const result = data.provideInput;
    if (result.__typename !== 'ProvideInputPayload') throw new Error(describeResult(result));
    $('answer-input').value = '';
    applyAnswer(result.inputRequest);
  });
});

// A retry of the same review (e.g. after a network error) reuses its idempotency key, so the
// server applies it once; a different review gets a new key.
let pendingReview = null; // { args: JSON of the review, key }
const randomKey = () => [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('');

$('review-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const rating = form.elements.rating.value;
  const review = {
    executionId: state.execution?.id,
    decision: event.submitter?.value ?? 'ACCEPT',
    rating: rating ? Number(rating) : null,
    notes: $('review-notes').value,
  };
  const args = JSON.stringify(review);
  if (pendingReview?.args !== args) pendingReview = { args, key: randomKey() };
  act(form, $('review-error'), async () => {
    const data = await graphql(REVIEW_EXECUTION, { ...review, idempotencyKey: pendingReview.key });
    const result = data.reviewExecution;
    if (result.__typename !== 'ReviewExecutionPayload') throw new Error(describeResult(result));
    pendingReview = null;
    form.reset();
    state.job.status = result.job.status;
    if (state.execution?.id === result.execution.id) state.execution.status = result.execution.status;
    state.review = result.execution.review;
    // The payout follows as an AgentPaid event.
  });
});

$('key-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const key = $('key-input').value.trim();
  if (!key) return;
  $('key-input').value = '';
  keyStore.set(key);
  $('key-form').hidden = true;
  watch(key);
});

$('change-key').addEventListener('click', () => askForKey('Paste the key to use (e.g. one of the posting workspace, to act as the poster).'));
$('retry').addEventListener('click', () => watch(apiKey, { resume: true }));

// ---------------------------------------------------------------------------------------------
// Rendering. Every piece of text goes in as a text node (textContent / append of a string):
// nothing from the API is ever parsed as HTML.
// ---------------------------------------------------------------------------------------------

function $(id) {
  return document.getElementById(id);
}

/** el('li', { class: 'x' }, 'text', otherNode): an element with attributes and children. */
function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value !== null && value !== undefined) node.setAttribute(name, String(value));
  }
  for (const child of children) if (child !== null && child !== undefined && child !== '') node.append(child);
  return node;
}

const humanize = (status) => (status ? status.replaceAll('_', ' ').toLowerCase() : '');
const clock = (iso) => (iso ? el('time', { datetime: iso }, new Date(iso).toLocaleTimeString()) : null);
const credits = (n) => n + (n === 1 ? ' credit' : ' credits');

/** The text cut at max characters, saying how much was left out. */
function clip(text, max) {
  return text.length <= max ? text : text.slice(0, max) + '… (' + (text.length - max) + ' more characters)';
}

function formatBytes(size) {
  if (!size) return ''; // unknown (a link) or empty
  if (size < 1024) return size + ' B';
  if (size < 1024 * 1024) return (size / 1024).toFixed(1) + ' KB';
  return (size / 1024 / 1024).toFixed(1) + ' MB';
}

// Only http(s) links (relative ones resolve against this page); anything else (javascript:, data:) is shown as text.
function safeHref(url) {
  try {
    const parsed = new URL(url, location.href);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : null;
  } catch {
    return null;
  }
}

function setConnection(name, detail, attempt) {
  const node = $('connection');
  node.dataset.state = name;
  if (attempt) node.dataset.attempt = attempt;
  else delete node.dataset.attempt;
  node.textContent = detail ? name + ': ' + detail : name;
}

function describeExecution() {
  const { job, execution } = state;
  if (!execution) return 'The agent has not started yet.';
  switch (execution.status) {
    case 'STARTED':
      return 'The agent started.';
    case 'WORKING':
      return 'The agent is working.';
    case 'AWAITING_INPUT': {
      const q = openQuestion();
      return 'Waiting for an answer' + (q ? ': ' + q.question : '.');
    }
    case 'COMPLETED':
      if (job.status === 'REVIEW') return 'Result submitted: waiting for review.';
      return job.status === 'COMPLETED' ? 'Done: the result was accepted.' : 'Result submitted.';
    case 'FAILED':
      return 'The agent gave up' + (execution.failureReason ? ': ' + execution.failureReason : '.');
    default:
      return 'Execution ' + humanize(execution.status);
  }
}

// One JSON value as a short line of text.
function preview(value, max) {
  if (typeof value === 'string') return clip(value, max);
  if (Array.isArray(value) && value.every((v) => v === null || typeof v !== 'object')) {
    return clip(value.map((v) => String(v)).join(', '), max) + ' (' + value.length + (value.length === 1 ? ' item)' : ' items)');
  }
  return clip(JSON.stringify(value), max);
}

// The result JSON, readable: a "summary" string first, then up to 12 top-level fields (each cut at
// 300 characters), and the whole JSON (cut at 20,000 characters) behind "Raw JSON".
function resultNodes(result) {
  if (result === null || typeof result !== 'object' || Array.isArray(result)) {
    return [el('p', { class: 'text', id: 'result-summary' }, preview(result, 2000))];
  }
  const nodes = [];
  if (typeof result.summary === 'string') nodes.push(el('p', { class: 'text', id: 'result-summary' }, clip(result.summary, 2000)));
  const fields = Object.entries(result).filter(([key]) => key !== 'summary');
  if (fields.length > 0) {
    const list = el('dl', null);
    for (const [key, value] of fields.slice(0, 12)) list.append(el('dt', null, key), el('dd', null, preview(value, 300)));
    nodes.push(list);
    if (fields.length > 12) nodes.push(el('p', { class: 'muted' }, (fields.length - 12) + ' more fields in the raw JSON'));
  }
  const raw = JSON.stringify(result, null, 2);
  nodes.push(el('details', null, el('summary', null, 'Raw JSON (' + formatBytes(raw.length) + ')'), el('pre', null, clip(raw, 20000))));
  return nodes;
}

// An artifact: a link (http(s) only), or its inline content as text: shown in place, opened in a
// new tab and downloaded through a text/plain blob of this page, never interpreted as HTML.
const blobUrls = [];
function artifactNode(artifact) {
  const meta = el('span', { class: 'muted' }, [artifact.mimeType, formatBytes(artifact.sizeBytes)].filter(Boolean).join(' · '));
  if (artifact.url) {
    const href = safeHref(artifact.url);
    const name = href ? el('a', { href, target: '_blank', rel: 'noopener noreferrer' }, artifact.name) : artifact.name;
    return el('li', { 'data-id': artifact.id }, el('span', { class: 'text' }, name), meta);
  }
  const content = artifact.content ?? '';
  const url = URL.createObjectURL(new Blob([content], { type: 'text/plain;charset=utf-8' }));
  blobUrls.push(url);
  return el(
    'li',
    { 'data-id': artifact.id },
    el('span', { class: 'text' }, artifact.name),
    meta,
    el('a', { href: url, target: '_blank', rel: 'noopener', class: 'open' }, 'Open'),
    el('a', { href: url, download: artifact.name, class: 'download' }, 'Download'),
    el('details', null, el('summary', null, 'Show here'), el('pre', null, clip(content, 100000))),
  );
}

const rendered = { result: null, artifacts: null }; // what the result and artifact cards show now

function render() {
  const { job, execution } = state;
  if (!job) return;

  document.title = job.title + ' · Live · Agentwork';
  $('title').textContent = job.title;
  $('status').textContent = humanize(job.status);
  $('status').dataset.status = job.status;
  $('agent').textContent = job.assignedAgent ? 'Agent: ' + job.assignedAgent.name : 'No agent assigned';
  $('budget').textContent = job.agreedCredits != null ? 'Agreed: ' + credits(job.agreedCredits) : job.budget != null ? 'Budget: ' + credits(job.budget) : '';
  const viewer = state.viewer;
  $('viewer').textContent = viewer ? 'Using the key of ' + viewer.name + ' (' + (viewer.role ? viewer.role.toLowerCase() + ' member' : viewer.__typename.toLowerCase()) + ')' : '';

  const progress = execution ? Math.max(0, Math.min(100, execution.progress ?? 0)) : 0;
  $('progress').value = progress;
  $('progress-text').textContent = progress + '%';
  $('execution').textContent = describeExecution();
  $('execution').dataset.status = execution?.status ?? '';

  // The open question, with the form to answer it (kept as typed while events arrive).
  const question = openQuestion();
  const answerForm = $('answer-form');
  answerForm.hidden = !question;
  if (question && answerForm.dataset.id !== question.id) {
    answerForm.dataset.id = question.id;
    $('answer-question').textContent = question.question;
    $('answer-input').value = '';
    $('answer-error').textContent = '';
  }

  // Result and artifacts are rebuilt only when they change, so an opened "Raw JSON" stays open.
  if (rendered.result !== state.result) {
    rendered.result = state.result;
    $('result-card').hidden = state.result === undefined;
    $('result').replaceChildren(...(state.result === undefined ? [] : resultNodes(state.result)));
  }
  if (rendered.artifacts !== state.artifacts) {
    rendered.artifacts = state.artifacts;
    for (const url of blobUrls.splice(0)) URL.revokeObjectURL(url);
    $('artifacts').replaceChildren(...state.artifacts.map(artifactNode));
  }

  // Review and payment: the form while the result waits for review, then the decision and payout.
  const reviewing = job.status === 'REVIEW' && execution?.status === 'COMPLETED';
  const review = state.review;
  $('review-form').hidden = !reviewing;
  $('review-card').hidden = !reviewing && !review && !state.payout;
  $('review-summary').textContent = review ? reviewText(review) : '';
  $('payout').textContent = state.payout
    ? 'Paid ' + credits(state.payout.credits) + ' to ' + (job.assignedAgent?.name ?? 'the agent') + ' · platform fee ' + credits(state.payout.fee)
    : '';

  $('steps').replaceChildren(
    ...[...state.steps.values()]
      .sort((a, b) => a.index - b.index)
      .map((step) =>
        el('li', { 'data-index': step.index }, el('span', { class: 'tag' }, step.kind || 'note'), el('span', { class: 'text' }, step.message), clock(step.createdAt)),
      ),
  );

  $('tool-calls').replaceChildren(
    ...[...state.toolCalls.values()]
      .sort((a, b) => String(a.createdAt).localeCompare(String(b.createdAt)))
      .map((call) =>
        el(
          'li',
          null,
          el('span', { class: 'tag' }, call.server ? call.server + ' / ' + call.tool : call.tool),
          el('span', { class: 'text' }, humanize(call.status) + (call.durationMs != null ? ' in ' + call.durationMs + ' ms' : '')),
          clock(call.createdAt),
        ),
      ),
  );

  $('questions').replaceChildren(
    ...[...state.questions.values()].sort(byAskedAt).map((q) =>
      el(
        'li',
        { 'data-id': q.id },
        el('span', { class: 'text' }, q.question),
        clock(q.askedAt),
        q.answer != null ? el('span', { class: 'answer text' }, '↳ ' + q.answer) : el('span', { class: 'answer pending' }, 'waiting for an answer'),
      ),
    ),
  );
}

function reviewText(review) {
  const decision = { ACCEPT: 'Accepted', REQUEST_CHANGES: 'Changes requested', REJECT: 'Rejected' }[review.decision] ?? review.decision;
  const parts = [review.automatic ? decision + ' automatically' : decision];
  if (review.rating != null) parts.push('rated ' + '★'.repeat(review.rating) + '☆'.repeat(5 - review.rating) + ' ' + review.rating + '/5');
  return parts.join(' · ') + (review.notes ? '\n' + review.notes : '');
}

// ---------------------------------------------------------------------------------------------
// Start
// ---------------------------------------------------------------------------------------------

resetState();
const initialKey = keyFromFragment() ?? keyStore.get();
if (initialKey) watch(initialKey);
else {
  setConnection('error', 'no API key');
  askForKey();
}
`;

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/**
 * Only this page's own inline script and style (by hash: no 'unsafe-inline'), the bundle from this
 * origin, and requests to this origin (HTTP and WebSocket) are allowed: the page cannot load or
 * send anything elsewhere, and an injected script does not run. Artifacts open as text/plain blobs
 * of this page (top-level navigations, which CSP does not govern). Sent in the page's <meta> and,
 * with `frame-ancestors` (which a <meta> cannot carry), as the response header (LIVE_PAGE_CSP_HEADER).
 */
const CSP = [
  "default-src 'none'",
  `script-src 'self' ${sha256(SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

/** The live page's Content-Security-Policy response header: the same policy, and no framing. */
export const LIVE_PAGE_CSP_HEADER = `${CSP}; frame-ancestors 'none'`;
