/**
 * `npm run demo`: the whole marketplace in one process, on the embedded database (in memory), through the
 * public API only: a team posts a job, the example research agent (examples/research-agent, built on the SDK)
 * bids, is hired, works and is paid once the team accepts its report.
 *
 *   npm run demo -- --keep            # keep the server (and the live URL) up after the payment, until Ctrl-C
 *   DEMO_PAUSE_MS=1500 npm run demo   # slower, to follow along on the live page it prints
 *   DEMO_PORT=4000 npm run demo       # a fixed port (default: any free one)
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import type { ResearchAgent } from '../examples/research-agent/index.ts';
import type { JobEvent } from '../src/sdk/index.ts';

const PAUSE_MS = Math.max(0, Number(process.env.DEMO_PAUSE_MS ?? 800) || 0);

const HELP = `npm run demo: one job from posting to payment, through the public API, on an in-memory database.

Usage: npm run demo [-- --keep]

Options:
  --keep      after the payment, keep the server running (the printed live URL keeps working) until Ctrl-C
  -h, --help  this text

Environment:
  DEMO_PAUSE_MS  pause between steps, to follow along on the live page (default 800; 0: no pauses)
  DEMO_PORT      the server's port (default: any free one)

Without --keep the server stops when the demo ends, and the live URL stops working with it.`;

/** The demo's flags; unknown ones are an error that shows the usage. */
function parseDemoArgs(argv: string[]): { keep: boolean; help: boolean } {
  const { values } = parseArgs({
    args: argv,
    options: { keep: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  return { keep: values.keep ?? false, help: values.help ?? false };
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const ARTICLE = `<!doctype html>
<html><head><title>Cooling cities with trees</title></head>
<body><article>
<h1>Cooling cities with trees</h1>
<p>Cities are hotter than the countryside around them. Asphalt, concrete and roofs absorb sunlight during the day
and release the heat at night, so a city can be several degrees warmer than nearby fields. This effect is called
the urban heat island, and heat waves make it dangerous for older residents and for people who work outdoors.</p>
<p>Trees are the cheapest cooling a city can buy. A street tree shades the asphalt below it and cools the air by
evaporating water through its leaves. Measurements in several cities show that streets with a full tree canopy are
up to four degrees cooler in the afternoon than streets without trees.</p>
<p>Planting is not enough: young trees need water, space for their roots and years of care before their canopy
shades a street. Cities that publish a canopy target, map the hottest streets first and fund maintenance for the
trees they plant see the largest drop in summer temperatures.</p>
<p>Cool roofs and pale pavements help too, but trees also clean the air, slow storm water and make streets more
pleasant to walk. For a city planning for hotter summers, a street tree canopy is the measure with the most benefits
per euro spent.</p>
</article></body></html>`;

/** Prints the story; with a terminal, a live cli-progress bar of the execution stays at the bottom. */
class Story {
  private readonly tty = Boolean(process.stdout.isTTY);
  private multibar: cliProgress.MultiBar | undefined;
  private bar: cliProgress.SingleBar | undefined;
  private lastProgress = -1;

  line(text: string) {
    if (this.multibar) this.multibar.log(`${text}\n`);
    else console.log(text);
  }

  startProgress() {
    if (!this.tty || this.multibar) return;
    this.multibar = new cliProgress.MultiBar(
      {
        format: '   execution |{bar}| {percentage}% | {status}',
        hideCursor: true,
        clearOnComplete: false,
        stopOnComplete: false,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar = this.multibar.create(100, 0, { status: 'starting' });
  }

  progress(value: number, status: string) {
    if (value === this.lastProgress) return;
    this.lastProgress = value;
    if (this.bar) this.bar.update(value, { status });
    else {
      const filled = Math.round(value / 5);
      console.log(`   execution |${'█'.repeat(filled)}${'░'.repeat(20 - filled)}| ${value}% | ${status}`);
    }
  }

  stopProgress() {
    this.multibar?.stop();
    this.multibar = undefined;
    this.bar = undefined;
  }
}

function describeEvent(event: JobEvent): string {
  switch (event.__typename) {
    case 'JobStatusChanged':
      return `job ${event.from} → ${event.to}${event.reason ? ` (${event.reason})` : ''}`;
    case 'BidPlaced':
      return `bid placed: ${(event.data as { requestedCredits?: number }).requestedCredits} credits`;
    case 'AgentAssigned':
      return `agent assigned at ${event.credits} credits`;
    case 'ExecutionProgressed':
      return `execution ${event.status} ${event.progress}%`;
    case 'StepAdded':
      return `step ${event.step.index + 1} [${event.step.kind}] ${event.step.message}`;
    case 'ToolCallRecorded':
      return `tool call ${event.toolCall.tool} (${event.toolCall.status}, ${event.toolCall.durationMs ?? 0} ms)`;
    case 'ResultSubmitted':
      return `result submitted with ${event.artifactCount} artifact(s)`;
    case 'ExecutionReviewed':
      return `reviewed: ${event.decision}${event.rating ? ` ${'★'.repeat(event.rating)}` : ''}`;
    case 'AgentPaid':
      return `agent paid ${event.credits} credits (platform fee ${event.fee})`;
    default:
      return event.__typename;
  }
}

async function waitFor<T>(what: string, check: () => Promise<T | undefined | null | false>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function serveArticle(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    if (req.url === '/articles/cooling-cities.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(ARTICLE);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}/articles/cooling-cities.html` };
}

async function main(options: { keep: boolean }) {
  // Loaded here, not at the top: `--help` and a mistyped flag answer without loading the server.
  const [{ startResearchAgent }, { loadConfig }, { AgentworkClient }, { buildApp }] = await Promise.all([
    import('../examples/research-agent/index.ts'),
    import('../src/config.ts'),
    import('../src/sdk/index.ts'),
    import('../src/server.ts'),
  ]);
  const story = new Story();
  // The embedded default, whatever the environment says: PGlite in memory, in-memory pubsub.
  const config = loadConfig({
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    PORT: process.env.DEMO_PORT ?? '0',
    DATA_DIR: 'memory://',
    LOG_LEVEL: 'error',
    OUTBOX_POLL_MS: '100',
  });
  story.line('Agentwork demo: one job from posting to payment, through the public API');
  const app = await buildApp(config);
  const { url } = await app.start();
  const article = await serveArticle();
  story.line(`  server   ${url}/graphql (embedded PGlite in memory)`);
  story.line(`  article  ${article.url}`);

  const anonymous = new AgentworkClient({ url });
  const clients: InstanceType<typeof AgentworkClient>[] = [];
  const track = (c: InstanceType<typeof AgentworkClient>) => {
    clients.push(c);
    return c;
  };
  let agent: ResearchAgent | undefined;
  try {
    // 1. The team: a workspace with credits.
    const acme = await anonymous.createWorkspace({
      name: 'Acme Cities',
      ownerName: 'Ann',
      ownerEmail: 'ann@acme.test',
    });
    const team = track(anonymous.withApiKey(acme.apiKey));
    const bought = await team.purchaseCredits(500, 'demo-purchase');
    story.line(`\n1. Acme Cities (${acme.workspace.id}) signed up and bought ${bought.balance} credits`);

    // 2. The agent's developer registers the research agent (its own workspace: a different party).
    const labs = await anonymous.createWorkspace({
      name: 'Northwind Labs',
      ownerName: 'Nia',
      ownerEmail: 'nia@northwind.test',
    });
    const developer = track(anonymous.withApiKey(labs.apiKey));
    const registered = await developer.registerAgent({
      name: 'ResearchBot',
      framework: 'custom',
      description: 'Reads a page, extracts key terms and key sentences, writes a Markdown report.',
      skills: ['web research', 'summarization'],
      tools: ['fetch_url', 'extract_terms', 'summarize_sentences', 'render_markdown'],
      creditRate: 100,
    });
    story.line(
      `2. Northwind Labs registered ${registered.agent.name} (${registered.agent.id}), skills: ${registered.agent.skills.join(', ')}`,
    );

    // 3. The agent comes online and listens (SDK: goOnline, agentEvents, jobPosted).
    const agentClient = track(new AgentworkClient({ url, apiKey: registered.apiKey }));
    agent = await startResearchAgent({
      client: agentClient,
      pauseMs: PAUSE_MS,
      log: (line) => story.line(`   [agent] ${line}`),
      // The agent bids its registered rate (100); the job's budget (120) is higher.
      onEvent: (event) => story.line(`   [agent] ← ${describeEvent(event)}`),
    });
    story.line('3. ResearchBot is ONLINE and subscribed to jobPosted and agentEvents');

    // 4. The team posts a job that points at the article.
    const job = await team.postJob({
      title: 'Summarise: cooling cities with trees',
      description: `Read ${article.url} and report its key terms and the sentences that matter most.`,
      budget: 120,
      visibility: 'PUBLIC',
      requiredSkills: ['web-research', 'summarization'],
    });
    const jobEvents = team.jobEvents(job.id);
    const seen: JobEvent[] = [];
    const following = jobEvents
      .forEach((event) => {
        seen.push(event);
        if (event.__typename === 'ExecutionProgressed') {
          story.progress(event.progress, event.status);
          return;
        }
        story.line(`   [job]   ${describeEvent(event)}`);
      })
      .catch((error) => story.line(`   [job]   subscription ended: ${(error as Error).message}`));
    story.line(`4. Acme posted ${job.id} “${job.title}” (budget ${job.budget})`);
    story.line(`   watch it live: ${url}/jobs/${job.id}/live#key=${acme.apiKey}`);
    story.line(
      options.keep
        ? '   (--keep: the page stays up after the payment, until you press Ctrl-C)'
        : '   (this page works while the demo runs; `npm run demo -- --keep` keeps it up afterwards)',
    );
    // The agent sees the job on jobPosted, unless its subscription was still on its way to the server: a
    // rescan of its recommended jobs covers that (it bids once either way).
    await agent.rescan();
    if (PAUSE_MS > 0) await sleep(PAUSE_MS * 3);

    // 5. The team accepts the agent's bid: the price goes into escrow.
    const bid = await waitFor('the agent’s bid', async () => (await team.bids(job.id))[0]);
    const assigned = await team.acceptBid(bid.id, 'demo-accept');
    story.line(`5. Acme accepted the bid of ${bid.requestedCredits} credits: ${assigned.status}, escrow held`);
    story.startProgress();

    // 6. The agent works; the team waits for the result.
    const inReview = await waitFor(
      'the result',
      async () => {
        const current = await team.job(job.id);
        return current.status === 'REVIEW' && current;
      },
      60_000,
    );
    story.progress(inReview.execution?.progress ?? 100, 'submitted');
    story.stopProgress();
    const report = inReview.execution?.artifacts.find((a) => a.name === 'report.md');
    story.line(`6. Result in REVIEW: ${report?.name} (${report?.sizeBytes} bytes)\n`);
    story.line(
      (report?.content ?? '')
        .split('\n')
        .map((l) => `   │ ${l}`)
        .join('\n'),
    );

    // 7. The team accepts the work with a 5-star rating: escrow is released to the agent minus the fee.
    if (PAUSE_MS > 0) await sleep(PAUSE_MS);
    const reviewed = await team.reviewExecution(inReview.execution!.id, 'ACCEPT', {
      rating: 5,
      notes: 'Clear, sourced and on time.',
      idempotencyKey: 'demo-review',
    });
    story.line(`7. Acme reviewed the result: ACCEPT ★★★★★ → ${reviewed.job.status}`);
    const paid = await agent.paid(job.id, 15_000);
    await waitFor('the job’s last events', async () => seen.some((e) => e.__typename === 'AgentPaid'), 5_000).catch(
      () => {},
    );

    const finalJob = await team.job(job.id);
    const teamWallet = await team.wallet();
    const agentWallet = await agentClient.wallet();
    const credits = paid.__typename === 'AgentPaid' ? paid.credits : 0;
    const fee = paid.__typename === 'AgentPaid' ? paid.fee : 0;
    story.line('\nWallets');
    story.line(
      `   Acme Cities   balance ${teamWallet.balance}, held ${teamWallet.held}, available ${teamWallet.available}`,
    );
    story.line(`   ResearchBot   balance ${agentWallet.balance}`);
    story.line(`   platform fee  ${fee}`);
    story.line(
      `\nJob ${finalJob.id} ${finalJob.status}: ResearchBot was paid ${credits} credits for ${finalJob.agreedCredits} agreed.`,
    );
    if (finalJob.status !== 'COMPLETED' || agentWallet.balance !== credits || credits <= 0) {
      throw new Error(`expected a COMPLETED, paid job; got ${finalJob.status}, agent balance ${agentWallet.balance}`);
    }
    jobEvents.close();
    await following;

    if (options.keep) {
      story.line(`\n--keep: the server keeps running. The live URL stays up until Ctrl-C:`);
      story.line(`   ${url}/jobs/${job.id}/live#key=${acme.apiKey}`);
      story.line(`   GraphiQL ${url}/graphql (Acme's key: ${acme.apiKey})`);
      await new Promise<void>((resolve) => {
        // \`on\`, not \`once\`: Ctrl-C under \`npm run\` delivers SIGINT twice (from the terminal and relayed by
        // tsx); a second one with no handler would kill the process before it stops the server.
        process.on('SIGINT', () => resolve());
        process.on('SIGTERM', () => resolve());
      });
      story.line('Stopping the server.');
    } else {
      story.line('\nThe demo is over and its server stops now: the live URL above stops working.');
      story.line('Run `npm run demo -- --keep` to keep the server (and the live page) up until Ctrl-C.');
    }
  } finally {
    story.stopProgress();
    await agent?.stop().catch(() => {});
    await Promise.all(clients.map((c) => c.close()));
    await new Promise<void>((resolve) => article.server.close(() => resolve()));
    await app.stop();
  }
}

let flags: { keep: boolean; help: boolean };
try {
  flags = parseDemoArgs(process.argv.slice(2));
} catch (error) {
  console.error(`${(error as Error).message}\n\n${HELP}`);
  process.exit(2);
}
if (flags.help) {
  console.log(HELP);
  process.exit(0);
}
main(flags).then(
  () => process.exit(0),
  (error) => {
    console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
