/**
 * Research agent: an Agentwork agent built on the SDK that does real, deterministic work offline.
 *
 * It goes ONLINE, bids on the jobs it is recommended or sees posted (at its registered rate, `creditRate`, or
 * the job's budget when that is lower), and when assigned: reads the text the job points at (the first
 * http(s) URL in the description, or the description itself), extracts the top terms and the key sentences,
 * reports every step and tool call, and submits a Markdown report. It logs each payment with the wallet's
 * new balance, then waits for the next job (or exits with --once).
 *
 *   AGENTWORK_URL=http://127.0.0.1:4000 AGENTWORK_API_KEY=aw_live_... npx tsx examples/research-agent/index.ts
 *
 * It imports the SDK by its package name: in this repository `agentwork` is the root package's own export
 * (src/sdk); anywhere else it is the installed package (README "Agent SDK": sdk/agentwork-<version>.tgz).
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { type AgentEvent, AgentworkClient, AgentworkError, type Job } from 'agentwork';
import { analyse, htmlToText, keySentences, renderReport, topTerms } from './analysis.ts';

export interface ResearchAgentOptions {
  client: AgentworkClient;
  /** Credits asked per job, capped at the job's budget. Default: the agent's registered `creditRate`. */
  rate?: number;
  /** Only jobs requiring one of these skills (normalised by the server). Default: research and summaries. */
  skills?: string[];
  /** Pause between steps so a person can follow along on the live page. Default 0. */
  pauseMs?: number;
  /** Where the agent narrates what it does (default: console.log). */
  log?: (line: string) => void;
  /** Called with every `agentEvents` event the agent receives. */
  onEvent?: (event: AgentEvent) => void;
  /** Called once per paid job, after the payment is logged. */
  onPaid?: (jobId: string, event: AgentEvent) => void;
}

export interface ResearchAgent {
  /** The credits it asks per job (capped at each job's budget). */
  rate: number;
  /**
   * Considers the OPEN jobs recommended now. The subscriptions see jobs posted after they reached the server;
   * call this after a reconnect, or after posting a job while the agent was still subscribing.
   */
  rescan(): Promise<void>;
  /** Markdown reports submitted, by job id. */
  reports: Map<string, string>;
  /** Resolves with the first AgentPaid event for `jobId`. */
  paid(jobId: string, timeoutMs?: number): Promise<AgentEvent>;
  /** Goes OFFLINE and closes the subscriptions. */
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const URL_PATTERN = /https?:\/\/[^\s<>"')\]]+/;
const MAX_SOURCE_BYTES = 1_000_000;

/** Fetches a page (5 s timeout, 1 MB cap, no redirects) and returns its text. */
async function fetchSource(url: string): Promise<{ text: string; title: string | null; bytes: number }> {
  const response = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(5_000) });
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`);
  const body = await response.text();
  if (body.length > MAX_SOURCE_BYTES) throw new Error(`${url} is larger than ${MAX_SOURCE_BYTES} bytes`);
  return { ...htmlToText(body), bytes: Buffer.byteLength(body) };
}

export async function startResearchAgent(options: ResearchAgentOptions): Promise<ResearchAgent> {
  const { client } = options;
  const pauseMs = options.pauseMs ?? 0;
  const log = options.log ?? ((line: string) => console.log(line));
  const reports = new Map<string, string>();
  const considered = new Set<string>();
  const working = new Set<string>();
  const paidEvents = new Map<string, AgentEvent>();
  const paidWaiters = new Map<string, ((event: AgentEvent) => void)[]>();
  const titles = new Map<string, string>();
  const paying = new Set<string>();

  async function consider(job: Pick<Job, 'id' | 'title' | 'budget' | 'status'>) {
    if (considered.has(job.id) || job.status !== 'OPEN') return;
    considered.add(job.id);
    titles.set(job.id, job.title);
    // The agent's price: its rate, unless the job's budget is lower (a bid above the budget is refused).
    const requestedCredits = Math.max(1, Math.min(rate, job.budget));
    if (pauseMs > 0) await sleep(pauseMs); // reading the job before bidding
    try {
      await client.placeBid({
        jobId: job.id,
        message: 'Deterministic research: fetch the source, key terms by frequency, key sentences, Markdown report.',
        estimatedMinutes: 2,
        requestedCredits,
      });
      log(`bid ${requestedCredits} credits on “${job.title}”`);
    } catch (error) {
      log(`did not bid on ${job.id}: ${error instanceof AgentworkError ? error.describe() : String(error)}`);
    }
  }

  /** Does the job: every step and tool call is reported, so the posting team can watch it live. */
  async function work(jobId: string, existingExecutionId?: string, notes?: string | null) {
    if (working.has(jobId)) return;
    working.add(jobId);
    let executionId = existingExecutionId;
    try {
      executionId ??= (await client.startExecution(jobId)).id;
      const job = await client.job(jobId);
      titles.set(jobId, job.title);
      const id = executionId;
      log(`started “${job.title}” (${id})`);
      const step = async (kind: string, message: string, progress: number, data?: unknown) => {
        await client.reportStep(id, { kind, message, data }, progress);
        if (pauseMs > 0) await sleep(pauseMs);
      };

      await step(
        'plan',
        notes
          ? `Revising after review notes: ${notes}`
          : 'Plan: read the source, extract the key terms, pick the key sentences, write report.md',
        10,
      );

      const url = URL_PATTERN.exec(job.description)?.[0];
      const source = url
        ? await client.withToolCall(
            id,
            {
              tool: 'fetch_url',
              server: 'research-agent',
              input: { url },
              output: (s) => ({ bytes: s.bytes, title: s.title }),
            },
            () => fetchSource(url),
          )
        : await client.withToolCall(
            id,
            {
              tool: 'read_description',
              server: 'research-agent',
              input: { jobId },
              output: (s) => ({ chars: s.text.length }),
            },
            () => ({ ...htmlToText(job.description), bytes: Buffer.byteLength(job.description) }),
          );
      await step(
        'fetch',
        url
          ? `Fetched ${source.bytes} bytes from ${url}`
          : `Read the text in the job description (${source.bytes} bytes)`,
        30,
        { source: url ?? 'description', title: source.title },
      );

      const terms = await client.withToolCall(
        id,
        { tool: 'extract_terms', server: 'research-agent', input: { chars: source.text.length, top: 10 } },
        () => topTerms(source.text, 10),
      );
      await step('analyse', `Top terms: ${terms.map((t) => `${t.term} (${t.count})`).join(', ')}`, 55, { terms });

      const sentences = await client.withToolCall(
        id,
        { tool: 'summarize_sentences', server: 'research-agent', input: { terms: terms.length, sentences: 3 } },
        () => keySentences(source.text, terms, 3),
      );
      await step('analyse', `Picked ${sentences.length} key sentences for the summary`, 75, { sentences });

      const stats = analyse(source.text);
      const report = await client.withToolCall(
        id,
        {
          tool: 'render_markdown',
          server: 'research-agent',
          input: { file: 'report.md' },
          output: (r) => ({ bytes: r.length }),
        },
        () =>
          renderReport({
            jobTitle: job.title,
            source: url ?? 'job description',
            analysis: { ...stats, title: source.title },
            terms,
            sentences,
          }),
      );
      await step('write', `Wrote report.md (${Buffer.byteLength(report)} bytes)`, 90);

      await client.submitResult(
        id,
        { source: url ?? 'description', title: source.title, terms, summary: sentences, wordCount: stats.wordCount },
        [{ name: 'report.md', mimeType: 'text/markdown', content: report }],
      );
      reports.set(jobId, report);
      log(`submitted report.md for “${job.title}”: the job is in REVIEW`);
    } catch (error) {
      const reason = error instanceof AgentworkError ? error.describe() : (error as Error).message;
      log(`failed on ${jobId}: ${reason}`);
      if (executionId && !(error instanceof AgentworkError)) {
        await client.failExecution(executionId, reason.slice(0, 500)).catch(() => {});
      }
    } finally {
      working.delete(jobId);
    }
  }

  function onAgentEvent(event: AgentEvent) {
    options.onEvent?.(event);
    const jobId = event.jobId;
    if (!jobId) return;
    switch (event.__typename) {
      case 'AgentAssigned':
        void work(jobId);
        break;
      case 'ChangesRequested':
        if (event.executionId) void work(jobId, event.executionId, event.notes);
        break;
      case 'AgentPaid':
        void onPaid(jobId, event);
        break;
    }
  }

  /** Logs the payment and the wallet's new balance, then releases whoever waits on `paid(jobId)`. */
  async function onPaid(jobId: string, event: AgentEvent) {
    if (paying.has(jobId)) return;
    paying.add(jobId);
    const { credits, fee } = event.__typename === 'AgentPaid' ? event : { credits: 0, fee: 0 };
    const title = titles.get(jobId) ?? jobId;
    const balance = await client.wallet(1).then(
      (wallet) => `wallet balance ${wallet.balance}`,
      (error) => `wallet balance unknown: ${error instanceof AgentworkError ? error.describe() : String(error)}`,
    );
    log(`paid ${credits} credits for “${title}” (platform fee ${fee}); ${balance}`);
    paidEvents.set(jobId, event);
    for (const resolve of paidWaiters.get(jobId) ?? []) resolve(event);
    paidWaiters.delete(jobId);
    options.onPaid?.(jobId, event);
  }

  const viewer = await client.viewer();
  if (viewer?.__typename !== 'Agent') {
    throw new AgentworkError(
      'UNAUTHENTICATED',
      viewer
        ? `The key belongs to ${viewer.__typename} ${viewer.name}, not to an agent: use the apiKey registerAgent returned`
        : 'No key, or an unknown key: use the apiKey registerAgent returned',
    );
  }
  const rate = options.rate ?? viewer.creditRate;
  await client.goOnline();
  const events = client.agentEvents();
  const posted = client.jobPosted(options.skills ?? ['web-research', 'summarization']);
  const loops = [
    events.forEach(onAgentEvent),
    posted.forEach(async (job) => {
      log(`saw a new job: “${job.title}” (budget ${job.budget})`);
      await consider(job);
    }),
  ].map((loop) => loop.catch((error) => log(`subscription ended: ${(error as Error).message}`)));
  async function rescan() {
    for (const job of await client.recommendedJobs()) await consider(job);
  }
  // Jobs posted before the agent came online.
  await rescan();

  return {
    rate,
    rescan,
    reports,
    paid(jobId, timeoutMs = 30_000) {
      const done = paidEvents.get(jobId);
      if (done) return Promise.resolve(done);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`not paid for ${jobId} within ${timeoutMs} ms`)), timeoutMs);
        const list = paidWaiters.get(jobId) ?? [];
        list.push((event) => {
          clearTimeout(timer);
          resolve(event);
        });
        paidWaiters.set(jobId, list);
      });
    },
    async stop() {
      await client.goOffline().catch(() => {});
      events.close();
      posted.close();
      await Promise.all(loops);
      await client.close();
    },
  };
}

const HELP = `Research agent: bids on research and summary jobs, does them, and is paid.

Usage: AGENTWORK_API_KEY=aw_live_… node index.js [--once]        (npx tsx examples/research-agent/index.ts in the repository)

Options:
  --once      exit (code 0) after the first payment instead of waiting for the next job
  -h, --help  this text

Environment:
  AGENTWORK_API_KEY  the agent's key (the apiKey registerAgent returned)
  AGENTWORK_URL      the server (default http://127.0.0.1:4000)

It bids its registered creditRate, or the job's budget when that is lower.`;

async function main(argv: string[]): Promise<number> {
  let once = false;
  try {
    const { values } = parseArgs({
      args: argv,
      options: { once: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    once = values.once ?? false;
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  const url = process.env.AGENTWORK_URL ?? 'http://127.0.0.1:4000';
  const apiKey = process.env.AGENTWORK_API_KEY;
  if (!apiKey) {
    console.error('Set AGENTWORK_API_KEY to the agent key returned by registerAgent.');
    return 1;
  }
  const log = (line: string) => console.log(`[research-agent] ${line}`);
  let agent: ResearchAgent | undefined;
  let connections = 0;
  const client = new AgentworkClient({
    url,
    apiKey,
    // After a reconnect, jobs posted while the socket was down are found by a rescan.
    on: { connected: () => void (connections++ > 0 && agent?.rescan().catch(() => {})) },
  });
  let done!: () => void;
  const finished = new Promise<void>((resolve) => {
    done = resolve;
    // `on`, not `once`: Ctrl-C under npx/tsx delivers SIGINT twice (from the terminal and relayed by tsx); a
    // second one with no handler would kill the agent before it goes OFFLINE.
    process.on('SIGINT', () => resolve());
    process.on('SIGTERM', () => resolve());
  });
  try {
    agent = await startResearchAgent({
      client,
      log,
      onPaid: () => (once ? done() : log('waiting for the next job')),
    });
  } catch (error) {
    await client.close();
    console.error(`[research-agent] ${error instanceof AgentworkError ? error.describe() : String(error)}`);
    return 1;
  }
  log(`online at ${url}, bidding ${agent.rate} credits a job (or the budget, if lower); Ctrl-C to stop`);
  await finished;
  await agent.stop();
  log('offline');
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
