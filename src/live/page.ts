import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * The live execution page, `GET /jobs/<jobId>/live`: one self-contained HTML document (inline CSS
 * and JS, no build step, nothing loaded from the internet) that watches a job through the public
 * API exactly as any frontend would:
 *
 *   1. the API key comes from the URL fragment `#key=aw_live_…` (a fragment never reaches the
 *      server or its logs) or from sessionStorage, else the page asks for it;
 *   2. it subscribes to `jobEvents(jobId)` over graphql-ws (`/live/graphql-ws.js` is graphql-ws's
 *      own UMD browser build, served from node_modules);
 *   3. once the subscription is up, it loads the job's state with one `job(id)` query and then
 *      applies each event on top of it, dropping event ids it has already seen.
 *
 * The page's script is written to be copied: plain modern JS, commented, no framework.
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
    </p>
    <div class="progress">
      <progress id="progress" max="100" value="0"></progress>
      <span id="progress-text">0%</span>
    </div>
    <p id="execution" class="meta">The agent has not started yet.</p>
  </header>

  <form id="key-form" class="card" hidden>
    <label for="key-input">API key</label>
    <p class="hint" id="key-hint">Paste a key that may see this job. It is kept in this tab only (sessionStorage).</p>
    <div class="key-row">
      <input id="key-input" type="password" autocomplete="off" spellcheck="false" placeholder="aw_live_…" required>
      <button type="submit">Watch</button>
    </div>
  </form>

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
  <section class="card">
    <h2>Artifacts</h2>
    <ul id="artifacts"></ul>
  </section>
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
h1 { font-size: 1.4rem; margin: 0; overflow-wrap: anywhere; }
h2 { font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.06em; color: var(--muted); margin: 0 0 8px; }
.headline { display: flex; gap: 12px; align-items: center; justify-content: space-between; }
.meta { color: var(--muted); margin: 6px 0 0; display: flex; flex-wrap: wrap; gap: 4px 14px; align-items: center; }
.meta span:empty { display: none; }
.badge { font-size: 0.75rem; font-weight: 600; padding: 3px 10px; border-radius: 999px; white-space: nowrap; background: var(--line); }
.badge[data-status="IN_PROGRESS"] { background: #dbe4ff; color: #364fc7; }
.badge[data-status="REVIEW"] { background: #fff3bf; color: #8f5b00; }
.badge[data-status="COMPLETED"] { background: #d3f9d8; color: #2b8a3e; }
.badge[data-status="DISPUTED"], .badge[data-status="CANCELLED"], .badge[data-status="EXPIRED"] { background: #ffe3e3; color: #c92a2a; }
#connection::before { content: ""; display: inline-block; width: 8px; height: 8px; border-radius: 50%; margin-right: 6px; background: var(--muted); }
#connection[data-state="live"]::before { background: var(--ok); }
#connection[data-state="reconnecting"]::before, #connection[data-state="connecting"]::before { background: var(--warn); }
#connection[data-state="error"] { color: var(--bad); }
#connection[data-state="error"]::before { background: var(--bad); }
.progress { display: flex; gap: 10px; align-items: center; margin-top: 12px; }
progress { flex: 1; height: 10px; accent-color: var(--accent); }
#progress-text { font-variant-numeric: tabular-nums; min-width: 3.5em; text-align: right; }
ol, ul { margin: 0; padding-left: 0; list-style: none; }
li { padding: 8px 0; border-top: 1px solid var(--line); display: flex; gap: 10px; align-items: baseline; flex-wrap: wrap; }
li:first-child { border-top: 0; }
ol:empty::before, ul:empty::before { content: "Nothing yet."; color: var(--muted); }
.tag { font-size: 0.75rem; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; background: var(--bg); border: 1px solid var(--line); border-radius: 4px; padding: 0 6px; }
.text { flex: 1; min-width: 12em; white-space: pre-wrap; overflow-wrap: anywhere; }
time, .muted { color: var(--muted); font-size: 0.85rem; }
.answer { flex-basis: 100%; margin-left: 1em; }
.pending { color: var(--warn); }
a { color: var(--accent); }
label { font-weight: 600; }
.hint { color: var(--muted); margin: 4px 0 10px; }
.key-row { display: flex; gap: 8px; }
input { flex: 1; font: inherit; padding: 6px 10px; border: 1px solid var(--line); border-radius: 6px; background: var(--bg); color: inherit; }
button { font: inherit; padding: 6px 14px; border: 0; border-radius: 6px; background: var(--accent); color: #fff; cursor: pointer; }
`;

// The page's script. It is plain JS served as is: no template literals inside (this file embeds it
// in one), and `String.raw` keeps every backslash as written.
const SCRIPT = String.raw`
// Agentwork: watch one job live.
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

// ---------------------------------------------------------------------------------------------
// GraphQL documents
// ---------------------------------------------------------------------------------------------

// The whole state of the job, loaded once the subscription is up (and again after a reconnect).
const JOB_QUERY = [
  'query LiveJob($id: ID!) {',
  '  job(id: $id) {',
  '    id title status budget assignedAgent { name }',
  '    execution {',
  '      id status progress',
  '      steps { index kind message createdAt }',
  '      toolCalls { tool server status durationMs createdAt }',
  '      inputRequests { id question answer askedAt answeredAt }',
  '      artifacts { name mimeType url sizeBytes }',
  '    }',
  '  }',
  '}',
].join('\n');

// Everything that happens to the job from now on.
const JOB_EVENTS = [
  'subscription LiveJobEvents($id: ID!) {',
  '  jobEvents(jobId: $id) {',
  '    __typename eventId at',
  '    ... on JobStatusChanged { from to reason }',
  '    ... on ExecutionProgressed { executionId status progress }',
  '    ... on StepAdded { step { index kind message createdAt } }',
  '    ... on ToolCallRecorded { toolCall { tool server status durationMs createdAt } }',
  '    ... on InputRequested { inputRequest { id question askedAt } }',
  '    ... on InputProvided { inputRequest { id question answer answeredAt } }',
  '    ... on ResultSubmitted { executionId artifactCount }',
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
  const form = document.getElementById('key-form');
  if (message) document.getElementById('key-hint').textContent = message;
  form.hidden = false;
  document.getElementById('key-input').focus();
}

document.getElementById('key-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = document.getElementById('key-input');
  const key = input.value.trim();
  if (!key) return;
  input.value = '';
  keyStore.set(key);
  document.getElementById('key-form').hidden = true;
  watch(key);
});

// ---------------------------------------------------------------------------------------------
// State: the last snapshot with every event since applied on top.
// ---------------------------------------------------------------------------------------------

const state = {
  job: null, // { id, title, status, budget, assignedAgent }
  execution: null, // { id, status, progress }, null until the agent starts
  steps: new Map(), // step index -> step
  toolCalls: new Map(), // tool + server + createdAt -> tool call (tool calls carry no id)
  questions: new Map(), // input request id -> input request
  artifacts: [],
};

// Delivery is at-least-once: remember the event ids already applied (the most recent 5000).
const seenEventIds = new Set();
function firstTime(eventId) {
  if (seenEventIds.has(eventId)) return false;
  seenEventIds.add(eventId);
  if (seenEventIds.size > 5000) seenEventIds.delete(seenEventIds.values().next().value);
  return true;
}

const toolCallKey = (call) => call.tool + '|' + (call.server || '') + '|' + call.createdAt;

function applySnapshot(job) {
  const execution = job.execution;
  state.job = { id: job.id, title: job.title, status: job.status, budget: job.budget, assignedAgent: job.assignedAgent };
  state.execution = execution ? { id: execution.id, status: execution.status, progress: execution.progress } : null;
  state.steps = new Map((execution?.steps ?? []).map((s) => [s.index, s]));
  state.toolCalls = new Map((execution?.toolCalls ?? []).map((c) => [toolCallKey(c), c]));
  state.questions = new Map((execution?.inputRequests ?? []).map((q) => [q.id, q]));
  state.artifacts = execution?.artifacts ?? [];
}

// One event on top of the state. Returns nothing; asks for a fresh snapshot (resync) whenever the
// event shows that something was missed or carries less than the page shows.
function applyEvent(event) {
  if (!state.job) return; // no snapshot yet: the next one will include this event's effect
  switch (event.__typename) {
    case 'JobStatusChanged':
      if (state.job.status === event.to) break; // already there (the snapshot was newer)
      if (state.job.status !== event.from) resync(); // we missed a transition: reload
      state.job.status = event.to;
      break;
    case 'ExecutionProgressed':
      if (!state.execution || state.execution.id !== event.executionId) {
        // A new execution (the first one, or a retry after a failure): start its lists afresh.
        state.execution = { id: event.executionId, status: event.status, progress: event.progress };
        state.steps = new Map();
        state.toolCalls = new Map();
        state.questions = new Map();
        state.artifacts = [];
      } else {
        state.execution.status = event.status;
        state.execution.progress = event.progress;
      }
      break;
    case 'StepAdded':
      state.steps.set(event.step.index, event.step);
      break;
    case 'ToolCallRecorded':
      state.toolCalls.set(toolCallKey(event.toolCall), event.toolCall);
      break;
    case 'InputRequested':
    case 'InputProvided': {
      const request = event.inputRequest;
      state.questions.set(request.id, { ...state.questions.get(request.id), ...request });
      break;
    }
    case 'ResultSubmitted':
      resync(); // the event carries only a count: load the artifacts themselves
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
        applySnapshot(data.job);
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
let unsubscribe = null;
let retryTimer = null;
let endReason = null; // why the server will end the stream, when an event said so

// Close code the server uses when connectionParams.authorization is missing or wrong.
const FORBIDDEN = 4403;
const isCloseEvent = (value) => typeof value === 'object' && value !== null && 'code' in value && 'reason' in value;

function watch(key) {
  stop();
  apiKey = key;
  if (!graphqlWs) return setConnection('error', 'could not load /live/graphql-ws.js');
  setConnection('connecting');
  client = graphqlWs.createClient({
    url: WS_URL,
    connectionParams: { authorization: 'Bearer ' + key },
    keepAlive: 15000, // ping every 15 s: notices a dead connection behind a proxy
    retryAttempts: Infinity, // a live page keeps trying; the backoff below spaces the attempts
    retryWait: (retries) => new Promise((r) => setTimeout(r, Math.min(1000 * 2 ** retries, 15000) + Math.random() * 500)),
    // Retry after network errors and drops (the default retries close events only), never after
    // the server refused the key.
    shouldRetry: (errOrClose) => !(isCloseEvent(errOrClose) && errOrClose.code === FORBIDDEN),
    on: {
      connecting: (isRetry) => setConnection(isRetry ? 'reconnecting' : 'connecting'),
      // Connected (again): the subscription is (re)sent on this socket. Load the state now, so
      // that anything missed while disconnected shows up; events keep queueing meanwhile.
      connected: () => {
        clearTimeout(retryTimer);
        resync().then(() => setConnection('live'), onLoadError);
      },
      closed: (event) => {
        if (client && !(isCloseEvent(event) && event.code === FORBIDDEN)) setConnection('reconnecting');
      },
    },
  });
  unsubscribe = client.subscribe(
    { query: JOB_EVENTS, variables: { id: JOB_ID } },
    {
      next: (result) => {
        if (result.errors?.length) setConnection('error', describe(result.errors));
        if (result.data?.jobEvents) receive(result.data.jobEvents);
      },
      error: (error) => {
        if (isCloseEvent(error) && error.code === FORBIDDEN) return onLoadError(new KeyRejected('The API key was rejected.'));
        setConnection('error', describe(error));
        stop();
      },
      complete: () => {
        setConnection('closed', endReason ?? 'the server ended the stream');
        stop();
      },
    },
  );
}

function stop() {
  clearTimeout(retryTimer);
  const old = client;
  client = null;
  unsubscribe?.();
  unsubscribe = null;
  old?.dispose();
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
  } else {
    // The HTTP request failed (network, server restart): keep the socket, try the query again.
    setConnection('error', describe(error) + ' (retrying)');
    retryTimer = setTimeout(() => resync().then(() => setConnection('live'), onLoadError), 5000);
  }
}

function describe(error) {
  if (Array.isArray(error)) return error.map((e) => e.message).join('; '); // GraphQL errors
  if (isCloseEvent(error)) return 'connection closed (' + error.code + (error.reason ? ' ' + error.reason : '') + ')';
  if (error instanceof Error) return error.message;
  return 'connection failed';
}

// ---------------------------------------------------------------------------------------------
// Rendering. Every piece of text goes in as a text node (textContent / append of a string):
// nothing from the API is ever parsed as HTML.
// ---------------------------------------------------------------------------------------------

const $ = (id) => document.getElementById(id);

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

function setConnection(name, detail) {
  const node = $('connection');
  node.dataset.state = name;
  node.textContent = detail ? name + ': ' + detail : name;
}

function render() {
  const { job, execution } = state;
  if (!job) return;

  document.title = job.title + ' · Live · Agentwork';
  $('title').textContent = job.title;
  $('status').textContent = humanize(job.status);
  $('status').dataset.status = job.status;
  $('agent').textContent = job.assignedAgent ? 'Agent: ' + job.assignedAgent.name : 'No agent assigned';
  $('budget').textContent = job.budget !== null && job.budget !== undefined ? 'Budget: ' + job.budget + ' credits' : '';

  const progress = execution ? Math.max(0, Math.min(100, execution.progress ?? 0)) : 0;
  $('progress').value = progress;
  $('progress-text').textContent = progress + '%';
  $('execution').textContent = execution ? 'Execution ' + humanize(execution.status) : 'The agent has not started yet.';

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
          el('span', { class: 'text' }, humanize(call.status) + (call.durationMs !== null && call.durationMs !== undefined ? ' in ' + call.durationMs + ' ms' : '')),
          clock(call.createdAt),
        ),
      ),
  );

  $('questions').replaceChildren(
    ...[...state.questions.values()]
      .sort((a, b) => String(a.askedAt).localeCompare(String(b.askedAt)))
      .map((q) =>
        el(
          'li',
          { 'data-id': q.id },
          el('span', { class: 'text' }, q.question),
          clock(q.askedAt),
          q.answer !== null && q.answer !== undefined
            ? el('span', { class: 'answer text' }, '↳ ' + q.answer)
            : el('span', { class: 'answer pending' }, 'waiting for an answer'),
        ),
      ),
  );

  $('artifacts').replaceChildren(
    ...state.artifacts.map((artifact) => {
      const href = artifact.url ? safeHref(artifact.url) : null;
      const name = href ? el('a', { href, target: '_blank', rel: 'noopener noreferrer' }, artifact.name) : artifact.name;
      return el('li', null, el('span', { class: 'text' }, name), el('span', { class: 'muted' }, [artifact.mimeType, formatBytes(artifact.sizeBytes)].filter(Boolean).join(' · ')));
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Start
// ---------------------------------------------------------------------------------------------

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
 * send anything elsewhere, and an injected script does not run. Sent in the page's <meta> and, with
 * `frame-ancestors` (which a <meta> cannot carry), as the response header (LIVE_PAGE_CSP_HEADER).
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
