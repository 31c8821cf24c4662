/**
 * Research agent: an Agentwork agent built on the SDK that does real, deterministic work offline.
 *
 * It goes ONLINE, bids on the jobs it is recommended or sees posted, and when assigned: reads the text the
 * job points at (the first http(s) URL in the description, or the description itself), extracts the top
 * terms and the key sentences, reports every step and tool call, and submits a Markdown report.
 *
 *   AGENTWORK_URL=http://127.0.0.1:4000 AGENTWORK_API_KEY=aw_live_... npx tsx examples/research-agent/index.ts
 */
import { pathToFileURL } from 'node:url';
import { type AgentEvent, AgentworkClient, AgentworkError, type Job } from '../../src/sdk/index.ts';
import { analyse, htmlToText, keySentences, renderReport, topTerms } from './analysis.ts';

export interface ResearchAgentOptions {
  client: AgentworkClient;
  /** Credits asked per job (capped at the job's budget). Default 100. */
  rate?: number;
  /** Only jobs requiring one of these skills (normalised by the server). Default: research and summaries. */
  skills?: string[];
  /** Pause between steps so a person can follow along on the live page. Default 0. */
  pauseMs?: number;
  /** Where the agent narrates what it does (default: console.log). */
  log?: (line: string) => void;
  /** Called with every `agentEvents` event the agent receives. */
  onEvent?: (event: AgentEvent) => void;
}

export interface ResearchAgent {
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
  const rate = options.rate ?? 100;
  const pauseMs = options.pauseMs ?? 0;
  const log = options.log ?? ((line: string) => console.log(line));
  const reports = new Map<string, string>();
  const considered = new Set<string>();
  const working = new Set<string>();
  const paidEvents = new Map<string, AgentEvent>();
  const paidWaiters = new Map<string, ((event: AgentEvent) => void)[]>();

  async function consider(job: Pick<Job, 'id' | 'title' | 'budget' | 'status'>) {
    if (considered.has(job.id) || job.status !== 'OPEN') return;
    considered.add(job.id);
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
      case 'AgentPaid': {
        paidEvents.set(jobId, event);
        for (const resolve of paidWaiters.get(jobId) ?? []) resolve(event);
        paidWaiters.delete(jobId);
        break;
      }
    }
  }

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
  // Jobs posted before the agent came online.
  for (const job of await client.recommendedJobs()) await consider(job);

  return {
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

async function main() {
  const url = process.env.AGENTWORK_URL ?? 'http://127.0.0.1:4000';
  const apiKey = process.env.AGENTWORK_API_KEY;
  if (!apiKey) {
    console.error('Set AGENTWORK_API_KEY to the agent key returned by registerAgent.');
    process.exit(1);
  }
  const agent = await startResearchAgent({
    client: new AgentworkClient({ url, apiKey }),
    rate: Number(process.env.RESEARCH_AGENT_RATE ?? 100),
    log: (line) => console.log(`[research-agent] ${line}`),
  });
  console.log(`[research-agent] online at ${url}; Ctrl-C to stop`);
  const stop = async () => {
    await agent.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
