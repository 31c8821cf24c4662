/**
 * HTTP load (issue #9): the real server (`node --import tsx src/main.ts`, NODE_ENV=production,
 * LOG_LEVEL=warn, PostgreSQL + Redis) under autocannon with 100 connections, next to a bare
 * graphql-yoga `{ __typename }` server measured in the same run with the same settings.
 *
 *   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379 npm run bench:mixed
 *
 * Runs (each after a warm-up of BENCH_WARMUP seconds):
 *   1. bare yoga `{ __typename }` (baseline, its own process)
 *   2. Agentwork read path: discovery only, as agents (5/7 `jobs(filter: {status, skills, search}, first: 20)`,
 *      2/7 `recommendedJobs(first: 20)`)
 *   3. Agentwork mixed: 70% the same reads, 20% `placeBid` (re-bids update), 10% `reportProgress`
 *   plus two short diagnostic runs of `{ __typename }` through Agentwork (anonymous, and with an
 *   agent key: yoga + plugins, then + the authentication statement) that show where the time goes.
 * Every response is checked: a non-2xx status, a GraphQL `errors` entry or an error `__typename`
 * counts as an error, as do connection errors and timeouts.
 *
 * Knobs: BENCH_SECONDS (60), BENCH_WARMUP (5), BENCH_CONNECTIONS (100), BENCH_AGENTS (1000),
 * BENCH_JOBS (5000), BENCH_DIAG_SECONDS (min(15, BENCH_SECONDS); 0 skips the diagnostic runs),
 * BENCH_RUNS (bare,read,mixed,diag). Server env (DATABASE_POOL_SIZE, ...) passes through.
 *
 * Writes bench/results/mixed.md. Targets (issue #9): zero errors, mixed p99 < 100 ms, read path
 * ≥ 40% of bare yoga's req/s.
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import autocannon from 'autocannon';
import { createWorkspace } from '../src/services/accounts/workspaces.ts';
import { startExecution } from '../src/services/execution/executions.ts';
import { encodeId } from '../src/services/kernel/ids.ts';
import type { Viewer } from '../src/services/kernel/viewer.ts';
import { grantCredits } from '../src/services/ledger/payments.ts';
import { registerAgent } from '../src/services/marketplace/agents.ts';
import { postJob } from '../src/services/marketplace/jobs.ts';
import { acceptOffer, offerJob } from '../src/services/marketplace/offers.ts';
import { benchDatabase, ms, progress, stats } from './lib.ts';
import { openPublicJobIds, SKILLS, seedMarketplace } from './marketplace.ts';
import { type ChildServer, cpuOf, cpuOfName, cpuSampler, killChildren, machineBusy, startChild } from './processes.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 100);
const AGENTS = Number(process.env.BENCH_AGENTS ?? 1_000);
const JOBS = Number(process.env.BENCH_JOBS ?? 5_000);
const DIAG_SECONDS = Number(process.env.BENCH_DIAG_SECONDS ?? Math.min(15, SECONDS));
const RUNS = (process.env.BENCH_RUNS ?? 'bare,read,mixed,diag').split(',');
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Principals driven over HTTP: agents with keys (bidding, discovering) and running executions. */
const DRIVEN_AGENTS = 50;
const EXECUTIONS = 100;
const BID_TARGETS = 200;
const log = progress('mixed');

const DISCOVER = `query Discover($f: JobFilter) { jobs(filter: $f, first: 20) { edges { node { id title budget requiredSkills deadline priority } } } }`;
const RECOMMENDED = `query Recommended { recommendedJobs(first: 20) { id title budget requiredSkills deadline } }`;
const PLACE_BID = `mutation Bid($input: PlaceBidInput!) { placeBid(input: $input) { __typename ... on PlaceBidPayload { bid { id status requestedCredits } } ... on Error { message } } }`;
const PROGRESS = `mutation Progress($id: ID!, $progress: Int!, $step: StepInput) { reportProgress(executionId: $id, progress: $progress, step: $step) { __typename ... on ReportProgressPayload { execution { id status progress } } ... on Error { message } } }`;
const SEARCHES = ['pricing', 'dataset', 'report', 'analysis', 'forecast', 'market', 'research'];

type Op = 'discover' | 'recommended' | 'placeBid' | 'reportProgress' | 'typename' | 'typenameAuth';

interface Fixture {
  agentKeys: string[];
  agentSkills: string[][];
  executions: { exeGid: string; agentIndex: number }[];
  bidJobs: string[];
}

// ───────────── the workload ─────────────

/** Deterministic request generator: slot = counter % 10 picks the operation. */
function workload(fx: Fixture, mix: 'read' | 'mixed' | 'typename' | 'typenameAuth') {
  let n = 0;
  let bids = 0;
  let progresses = 0;
  const pick = (): { op: Op; key?: string; body: string } => {
    const i = n++;
    if (mix === 'typename') return { op: 'typename', body: '{"query":"{ __typename }"}' };
    if (mix === 'typenameAuth')
      return { op: 'typenameAuth', key: fx.agentKeys[i % DRIVEN_AGENTS], body: '{"query":"{ __typename }"}' };
    const slot = mix === 'read' ? i % 7 : i % 10;
    const a = i % DRIVEN_AGENTS;
    if (slot < 5) {
      const own = fx.agentSkills[a]!;
      const f = { status: ['OPEN'], skills: [own[i % own.length]!, SKILLS[(i * 7) % 40]!], search: SEARCHES[i % 7] };
      return { op: 'discover', key: fx.agentKeys[a], body: JSON.stringify({ query: DISCOVER, variables: { f } }) };
    }
    if (slot < 7) return { op: 'recommended', key: fx.agentKeys[a], body: JSON.stringify({ query: RECOMMENDED }) };
    if (slot < 9) {
      // Pairs cycle every DRIVEN_AGENTS × BID_TARGETS bids: first a new bid, later a re-bid (update).
      const b = bids++;
      const agent = b % DRIVEN_AGENTS;
      const job = fx.bidJobs[Math.floor(b / DRIVEN_AGENTS) % fx.bidJobs.length]!;
      const input = {
        jobId: job,
        message: 'Web search + analysis; report in Markdown.',
        estimatedMinutes: 30 + (b % 90),
        requestedCredits: 20 + (b % 200),
      };
      return {
        op: 'placeBid',
        key: fx.agentKeys[agent],
        body: JSON.stringify({ query: PLACE_BID, variables: { input } }),
      };
    }
    const p = progresses++;
    const exe = fx.executions[p % fx.executions.length]!;
    const variables = {
      id: exe.exeGid,
      progress: 1 + (p % 99),
      step: p % 4 === 0 ? { kind: 'search', message: `Checked source ${p}`, data: { hits: p % 13 } } : null,
    };
    return {
      op: 'reportProgress',
      key: fx.agentKeys[exe.agentIndex],
      body: JSON.stringify({ query: PROGRESS, variables }),
    };
  };
  return pick;
}

/** Returns an error description, or null when the response is a success of that operation. */
function check(op: Op, status: number, body: string): string | null {
  if (status < 200 || status > 299) return `HTTP ${status}: ${body.slice(0, 200)}`;
  let parsed: any;
  try {
    parsed = JSON.parse(body);
  } catch {
    return `not JSON: ${body.slice(0, 200)}`;
  }
  if (parsed.errors?.length) return `GraphQL error: ${parsed.errors[0]?.message}`;
  const data = parsed.data;
  switch (op) {
    case 'typename':
    case 'typenameAuth':
      return data?.__typename === 'Query' ? null : 'no __typename';
    case 'discover':
      return Array.isArray(data?.jobs?.edges) ? null : 'no jobs.edges';
    case 'recommended':
      return Array.isArray(data?.recommendedJobs) ? null : 'no recommendedJobs';
    case 'placeBid':
      return data?.placeBid?.__typename === 'PlaceBidPayload'
        ? null
        : `${data?.placeBid?.__typename}: ${data?.placeBid?.message}`;
    case 'reportProgress':
      return data?.reportProgress?.__typename === 'ReportProgressPayload'
        ? null
        : `${data?.reportProgress?.__typename}: ${data?.reportProgress?.message}`;
  }
}

interface RunResult {
  label: string;
  seconds: number;
  requests: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Connection errors + timeouts + non-2xx + GraphQL-level errors. */
  errors: number;
  breakdown: string;
  perOp: Map<Op, { latencies: number[]; errors: number; items: number }>;
  errorSamples: string[];
  cpu: Record<string, number>;
}

async function run(
  label: string,
  url: string,
  pick: () => { op: Op; key?: string; body: string },
  seconds: number,
  cpuSources: Record<string, () => number>,
  validate = true,
): Promise<RunResult> {
  const perOp = new Map<Op, { latencies: number[]; errors: number; items: number }>();
  const errorSamples: string[] = [];
  let graphqlErrors = 0;
  let recording = false;
  const request: autocannon.Request = {
    method: 'POST',
    path: '/graphql',
    setupRequest: (req, context: any) => {
      const next = pick();
      context.op = next.op;
      context.t0 = performance.now();
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (next.key) headers.authorization = `Bearer ${next.key}`;
      return { ...req, method: 'POST', path: '/graphql', headers, body: next.body };
    },
    onResponse: (status, body, context: any) => {
      if (!recording) return;
      const op = context.op as Op;
      let entry = perOp.get(op);
      if (!entry) {
        entry = { latencies: [], errors: 0, items: 0 };
        perOp.set(op, entry);
      }
      entry.latencies.push(performance.now() - context.t0);
      if (!validate) return;
      const problem = check(op, status, body);
      if (problem) {
        entry.errors++;
        graphqlErrors++;
        if (errorSamples.length < 10 && !errorSamples.includes(`${op}: ${problem}`))
          errorSamples.push(`${op}: ${problem}`);
      } else if (op === 'discover' || op === 'recommended') {
        entry.items += (body.match(/"title":/g) ?? []).length;
      }
    },
  };
  const cannon = (duration: number) =>
    autocannon({
      url,
      connections: CONNECTIONS,
      duration,
      timeout: 10,
      requests: [request],
    });
  if (WARMUP > 0) {
    log(`${label}: warm-up ${WARMUP} s`);
    await cannon(WARMUP);
  }
  log(`${label}: measuring ${seconds} s with ${CONNECTIONS} connections`);
  const cpu = cpuSampler(cpuSources);
  const before = cpu.sample();
  recording = true;
  const result = await cannon(seconds);
  recording = false;
  const after = cpu.sample();
  // non-2xx responses are also seen by onResponse (as "HTTP nnn"), so they are not added twice.
  const errors = result.errors + (validate ? graphqlErrors : result.non2xx);
  const r: RunResult = {
    label,
    seconds: result.duration,
    requests: result.requests.total,
    rps: result.requests.total / result.duration,
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    max: result.latency.max,
    errors,
    breakdown: `${result.errors} connection errors (${result.timeouts} timeouts), ${result.non2xx} non-2xx, ${graphqlErrors} failed checks`,
    perOp,
    errorSamples,
    cpu: cpu.share(before, after),
  };
  log(
    `${label}: ${r.rps.toFixed(0)} req/s, p50 ${ms(r.p50)}, p99 ${ms(r.p99)}, errors ${r.errors} (${r.breakdown}); CPU % of a core: ${JSON.stringify(r.cpu)}`,
  );
  for (const sample of errorSamples) log(`  ${sample}`);
  return r;
}

// ───────────── setup ─────────────

async function setup(db: Awaited<ReturnType<typeof benchDatabase>>['database']['prisma']): Promise<Fixture> {
  log(`seeding ${AGENTS} agents, ${JOBS} jobs and 3 bids per open job with SQL`);
  await seedMarketplace(db, { agents: AGENTS, jobs: JOBS });

  log(`${DRIVEN_AGENTS} agents with keys and ${EXECUTIONS} running executions through the services`);
  const platform = { kind: 'platform' } as const;
  const poster = await createWorkspace(
    db,
    platform,
    { name: 'Poster', ownerName: 'Paula', ownerEmail: 'paula@mixed.bench' },
    { allowSignup: true },
  );
  const agency = await createWorkspace(
    db,
    platform,
    { name: 'Agency', ownerName: 'Ada', ownerEmail: 'ada@mixed.bench' },
    { allowSignup: true },
  );
  const member = (w: typeof poster): Viewer => ({
    kind: 'member',
    memberId: w.owner.id,
    workspaceId: w.workspace.id,
    role: 'OWNER',
    apiKeyId: null,
  });
  await grantCredits(db, platform, { workspaceId: encodeId('Workspace', poster.workspace.id), amount: 1_000_000 });
  const agentKeys: string[] = [];
  const agentSkills: string[][] = [];
  const agents: { id: string; viewer: Viewer }[] = [];
  for (let a = 0; a < DRIVEN_AGENTS; a++) {
    const skills = [SKILLS[(a * 3) % 40]!, SKILLS[(a * 11 + 1) % 40]!, SKILLS[(a * 17 + 2) % 40]!];
    const { agent, apiKey } = await registerAgent(
      db,
      member(agency),
      { name: `Driven agent ${a + 1}`, skills, creditRate: 20 + a, maxConcurrentJobs: 10 },
      { allowLoopbackHttp: false },
    );
    await db.agent.update({ where: { id: agent.id }, data: { status: 'ONLINE' } });
    agentKeys.push(apiKey);
    agentSkills.push(skills);
    agents.push({
      id: agent.id,
      viewer: { kind: 'agent', agentId: agent.id, workspaceId: agency.workspace.id, apiKeyId: null },
    });
  }
  const executions: Fixture['executions'] = [];
  for (let e = 0; e < EXECUTIONS; e++) {
    const agentIndex = e % DRIVEN_AGENTS;
    const job = await postJob(
      db,
      member(poster),
      {
        title: `Research competitor pricing ${e + 1}`,
        description: 'Compare the pricing pages of our five main competitors.',
        budget: 100,
        requiredSkills: agentSkills[agentIndex]!.slice(0, 1),
      },
      { autoApproveHours: 72 },
    );
    const jobGid = encodeId('Job', job.id);
    // The agency's agents belong to another workspace: hire them with their consent (an offer they accept).
    const offer = await offerJob(db, member(poster), {
      jobId: jobGid,
      agentId: encodeId('Agent', agents[agentIndex]!.id),
      credits: 100,
    });
    await acceptOffer(db, agents[agentIndex]!.viewer, encodeId('Offer', offer.id));
    const execution = await startExecution(db, agents[agentIndex]!.viewer, jobGid);
    executions.push({ exeGid: encodeId('Execution', execution.id), agentIndex });
  }
  const bidJobs = openPublicJobIds(BID_TARGETS).map((id) => encodeId('Job', id));
  return { agentKeys, agentSkills, executions, bidJobs };
}

// ───────────── main ─────────────

export async function main() {
  const busy = loadavg()[0]!;
  if (busy > 1) log(`warning: 1-minute load average is ${busy.toFixed(2)}: results will be skewed`);
  log('creating a fresh database');
  const bench = await benchDatabase('aw_bench_mixed');
  const db = bench.database.prisma;
  const servers: ChildServer[] = [];
  const results: RunResult[] = [];
  const poolSize = Number(process.env.DATABASE_POOL_SIZE ?? 10);
  try {
    const fx = await setup(db);
    // The bench's own pool is not needed during the runs: keep PostgreSQL's connections for the server.
    const env = { ...process.env, NODE_ENV: 'production', LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn' };

    if (RUNS.includes('bare')) {
      log('starting the bare yoga baseline');
      const bare = await startChild('bench/bare-yoga.ts', env, '/health');
      servers.push(bare);
      const sources = { 'bare yoga': () => cpuOf(bare.child.pid), bench: selfCpu, machine: machineBusy };
      results.push(await run('bare yoga `{ __typename }`', bare.url, workload(fx, 'typename'), SECONDS, sources));
      await bare.stop();
      servers.splice(servers.indexOf(bare), 1);
    }

    log(`starting the server (NODE_ENV=production, LOG_LEVEL=${env.LOG_LEVEL}, DATABASE_POOL_SIZE=${poolSize})`);
    const server = await startChild(
      'src/main.ts',
      { ...env, DATABASE_URL: bench.url, REDIS_URL, DATABASE_POOL_SIZE: String(poolSize) },
      '/readyz',
      // e.g. BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the server
      (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean),
    );
    servers.push(server);
    const sources = {
      server: () => cpuOf(server.child.pid),
      postgres: () => cpuOfName('postgres'),
      redis: () => cpuOfName('redis-server'),
      bench: selfCpu,
      machine: machineBusy,
    };
    if (RUNS.includes('read'))
      results.push(await run('Agentwork read path (discovery)', server.url, workload(fx, 'read'), SECONDS, sources));
    if (RUNS.includes('mixed'))
      results.push(
        await run(
          'Agentwork mixed (70% read, 20% bid, 10% progress)',
          server.url,
          workload(fx, 'mixed'),
          SECONDS,
          sources,
        ),
      );
    if (RUNS.includes('diag') && DIAG_SECONDS > 0) {
      results.push(
        await run(
          'diagnostic: Agentwork `{ __typename }`, anonymous',
          server.url,
          workload(fx, 'typename'),
          DIAG_SECONDS,
          sources,
        ),
      );
      results.push(
        await run(
          'diagnostic: Agentwork `{ __typename }`, agent key',
          server.url,
          workload(fx, 'typenameAuth'),
          DIAG_SECONDS,
          sources,
        ),
      );
    }
    const serverLog = server.output().trim();
    await server.stop();
    servers.splice(servers.indexOf(server), 1);

    const table = report(results, poolSize, serverLog);
    console.log(table);
    if (RUNS.includes('bare') && RUNS.includes('read') && RUNS.includes('mixed'))
      writeFileSync(resolve(import.meta.dirname, 'results/mixed.md'), `${table}\n`);
  } finally {
    killChildren();
    await Promise.all(servers.map((s) => s.stop().catch(() => {})));
    await bench.cleanup();
  }
}

const selfCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

function report(results: RunResult[], poolSize: number, serverLog: string): string {
  const bare = results.find((r) => r.label.startsWith('bare'));
  const read = results.find((r) => r.label.includes('read path'));
  const mixed = results.find((r) => r.label.includes('mixed'));
  const pctOfBare = (r: RunResult) => (bare ? `${((100 * r.rps) / bare.rps).toFixed(0)}%` : '–');
  const fmt = (v: number) => Math.round(v).toLocaleString('en');
  const rows = results.map(
    (r) =>
      `| ${r.label} | ${fmt(r.rps)} | ${pctOfBare(r)} | ${ms(r.p50)} | ${ms(r.p90)} | ${ms(r.p99)} | ${ms(r.max)} | ${fmt(r.requests)} | ${r.errors} |`,
  );
  const opRows: string[] = [];
  for (const r of results.filter((x) => x === read || x === mixed)) {
    for (const [op, e] of r.perOp) {
      const s = stats(e.latencies);
      const items = op === 'discover' || op === 'recommended' ? (e.items / e.latencies.length).toFixed(1) : '–';
      opRows.push(
        `| ${r === read ? 'read path' : 'mixed'} | \`${op}\` | ${fmt(e.latencies.length / r.seconds)} | ${ms(s.p50)} | ${ms(s.p99)} | ${e.errors} | ${items} |`,
      );
    }
  }
  const cpu = results.map(
    (r) =>
      `- ${r.label}: ${Object.entries(r.cpu)
        .map(([k, v]) => `${k} ${v}%`)
        .join(', ')}; ${r.breakdown}.${r.errorSamples.length ? ` Errors: ${r.errorSamples.join('; ')}` : ''}`,
  );
  const zeroErrors = results.every((r) => r.errors === 0);
  const readShare = bare && read ? (100 * read.rps) / bare.rps : 0;
  const littles = mixed ? (CONNECTIONS / mixed.rps) * 1000 : 0;
  return [
    `HTTP load benchmark: autocannon, ${CONNECTIONS} connections, ${SECONDS} s per run after a ${WARMUP} s warm-up ` +
      `(diagnostic rows: ${DIAG_SECONDS} s), keep-alive, one request in flight per connection. Server: \`node --import tsx src/main.ts\` ` +
      `with NODE_ENV=production, LOG_LEVEL=warn, DATABASE_POOL_SIZE=${poolSize}, PostgreSQL 127.0.0.1:5432, Redis ${REDIS_URL}, ` +
      `outbox dispatcher and webhook worker on. Data: ${AGENTS.toLocaleString('en')} agents, ${JOBS.toLocaleString('en')} jobs, ` +
      `3 bids per open job; ${DRIVEN_AGENTS} agents with keys drive the load, ${EXECUTIONS} executions running. ` +
      `Baseline: bare graphql-yoga (one-field schema, node:http, own process). ${availableParallelism()} CPU cores shared by ` +
      `the server, PostgreSQL, Redis and the load generator; ${new Date().toISOString().slice(0, 10)}.`,
    '',
    '| run | req/s | % of bare yoga | p50 | p90 | p99 | max | requests | errors |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    'Per operation (latency measured by the load generator, including its own queueing):',
    '',
    '| run | operation | req/s | p50 | p99 | errors | jobs per response |',
    '|---|---|---|---|---|---|---|',
    ...opRows,
    '',
    'CPU over each measured window (% of one core; the machine has ' + `${availableParallelism() * 100}%):`,
    '',
    ...cpu,
    '',
    `Targets: zero errors: ${zeroErrors ? 'met' : 'NOT met'}. Mixed p99 < 100 ms: ${mixed ? (mixed.p99 < 100 ? `met (${ms(mixed.p99)})` : `NOT met (${ms(mixed.p99)})`) : '–'}. ` +
      `Read path ≥ 40% of bare yoga's req/s: ${bare && read ? (readShare >= 40 ? `met (${readShare.toFixed(0)}%)` : `NOT met (${readShare.toFixed(0)}%)`) : '–'}.`,
    mixed
      ? `With ${CONNECTIONS} connections each waiting for its answer, mean latency = ${CONNECTIONS} / throughput (Little's law): ${ms(littles)} at ${fmt(mixed.rps)} req/s.`
      : '',
    serverLog ? `\nServer output (warn and above, tail):\n\n\`\`\`\n${serverLog.slice(-1500)}\n\`\`\`` : '',
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.once('SIGINT', () => {
    killChildren();
    process.exit(130);
  });
  main().then(
    () => process.exit(0),
    (error) => {
      console.error(error);
      killChildren();
      process.exit(1);
    },
  );
}
