/**
 * SQL statements per request (issue #9): for representative operations, the number of statements
 * Prisma sends to PostgreSQL while serving one request through the real app (`buildApp`, called via
 * `app.fetch`), counted with Prisma's `query` events. Includes the one statement that authenticates
 * the API key (the key's `lastUsedAt` write happens at most once a minute per key, and is kept out
 * of the counts by warming every key first). Transaction control (BEGIN/COMMIT) is counted apart.
 *
 *   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres npm run bench:sql
 *
 * Writes bench/results/sql.md.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadConfig } from '../src/config.ts';
import { openDatabase } from '../src/db/client.ts';
import { createWorkspace } from '../src/services/accounts/workspaces.ts';
import { encodeId } from '../src/services/kernel/ids.ts';
import type { Viewer } from '../src/services/kernel/viewer.ts';
import { grantCredits } from '../src/services/ledger/payments.ts';
import { registerAgent } from '../src/services/marketplace/agents.ts';
import { postJob } from '../src/services/marketplace/jobs.ts';
import { benchDatabase, progress } from './lib.ts';
import { seedMarketplace } from './marketplace.ts';

const log = progress('sql');

const BID_FIELDS = `id requestedCredits status agent { id name reputation { overallScore qualityScore badges } }`;
const OPS = {
  viewer: `{ viewer { id name } }`,
  jobsPage: `{ jobs(first: 20, filter: { status: [OPEN] }) { edges { node { id title budget requiredSkills project { name }
    bids(first: 10) { totalCount edges { node { ${BID_FIELDS} } } } } } } }`,
  discover: `query($f: JobFilter) { jobs(filter: $f, first: 20) { edges { node { id title budget requiredSkills deadline priority } } } }`,
  jobDetail: `query($id: ID!) { job(id: $id) { id title description status budget requiredSkills deadline project { name }
    bids(first: 10) { totalCount edges { node { ${BID_FIELDS} } } } assignedAgent { id name }
    execution { id status progress steps { index kind message } toolCalls { tool } artifacts { name } } } }`,
  matchingAgents: `query($id: ID!) { matchingAgents(jobId: $id, first: 10) { score skillMatch components { skill reputation availability price } agent { id name } } }`,
  recommendedJobs: `{ recommendedJobs(first: 20) { id title budget requiredSkills deadline } }`,
  placeBid: `mutation($input: PlaceBidInput!) { placeBid(input: $input) { __typename ... on PlaceBidPayload { bid { id status requestedCredits } } ... on Error { message } } }`,
  acceptBid: `mutation($id: ID!) { acceptBid(bidId: $id) { __typename ... on AcceptBidPayload { job { id status agreedCredits } } ... on Error { message } } }`,
  startExecution: `mutation($id: ID!) { startExecution(jobId: $id) { __typename ... on StartExecutionPayload { execution { id status } } ... on Error { message } } }`,
  reportProgress: `mutation($id: ID!, $step: StepInput) { reportProgress(executionId: $id, progress: 40, step: $step) { __typename ... on ReportProgressPayload { execution { id status progress } } ... on Error { message } } }`,
  submitResult: `mutation($id: ID!) { submitResult(executionId: $id, result: { summary: "Five competitors compared." }, artifacts: [{ name: "report.md", mimeType: "text/markdown", content: "# Pricing" }]) { __typename ... on SubmitResultPayload { execution { id status } } ... on Error { message } } }`,
  review: `mutation($id: ID!) { reviewExecution(executionId: $id, decision: ACCEPT, rating: 5, notes: "Great") { __typename ... on ReviewExecutionPayload { execution { id status } job { id status } } ... on Error { message } } }`,
  wallet: `{ wallet { balance held available entries(first: 10) { edges { node { id amount kind memo createdAt job { id title } } } } } }`,
};

export async function main() {
  log('creating a fresh database');
  const bench = await benchDatabase('aw_bench_sql');
  const database = await openDatabase({ url: bench.url, poolSize: 10, logQueries: true });
  const statements: string[] = [];
  const durations: number[] = [];
  (database.prisma as any).$on('query', (e: { query: string; duration: number }) => {
    statements.push(e.query);
    durations.push(Number(e.duration));
  });
  const { buildApp } = await import('../src/server.ts');
  const app = await buildApp(loadConfig({ NODE_ENV: 'production', LOG_LEVEL: 'silent' }), { database, migrate: false });
  const db = bench.database.prisma; // setup goes through the other pool: not counted
  try {
    log('seeding 1,000 agents and 5,000 jobs; a poster, an agency with 3 agents, 20 jobs with 3 bids each');
    await seedMarketplace(db, { agents: 1_000, jobs: 5_000 });
    const platform = { kind: 'platform' } as const;
    const poster = await createWorkspace(
      db,
      platform,
      { name: 'Poster', ownerName: 'Paula', ownerEmail: 'paula@sql.bench' },
      { allowSignup: true },
    );
    const agency = await createWorkspace(
      db,
      platform,
      { name: 'Agency', ownerName: 'Ada', ownerEmail: 'ada@sql.bench' },
      { allowSignup: true },
    );
    const owner = (w: typeof poster): Viewer => ({
      kind: 'member',
      memberId: w.owner.id,
      workspaceId: w.workspace.id,
      role: 'OWNER',
      apiKeyId: null,
    });
    await grantCredits(db, platform, { workspaceId: encodeId('Workspace', poster.workspace.id), amount: 100_000 });
    const agents: { key: string; gid: string }[] = [];
    for (let a = 0; a < 3; a++) {
      const { agent, apiKey } = await registerAgent(
        db,
        owner(agency),
        { name: `Agent ${a + 1}`, skills: ['web-research', 'pricing'], creditRate: 30, maxConcurrentJobs: 5 },
        { allowLoopbackHttp: false },
      );
      await db.agent.update({ where: { id: agent.id }, data: { status: 'ONLINE' } });
      agents.push({ key: apiKey, gid: encodeId('Agent', agent.id) });
    }

    const gql = async (query: string, variables: Record<string, unknown>, key: string) => {
      const res = await app.fetch('http://bench/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await res.json()) as { data?: any; errors?: { message: string }[] };
      if (body.errors?.length) throw new Error(`${query.slice(0, 60)}: ${JSON.stringify(body.errors)}`);
      const payload = body.data && Object.values(body.data)[0];
      if (
        payload &&
        typeof payload === 'object' &&
        'message' in payload &&
        String(payload.__typename).endsWith('Error')
      )
        throw new Error(`${query.slice(0, 60)}: ${payload.__typename}: ${payload.message}`);
      return body.data;
    };
    const jobs: string[] = [];
    for (let j = 0; j < 21; j++) {
      const job = await postJob(
        db,
        owner(poster),
        {
          title: `Research competitor pricing ${j + 1}`,
          description: 'Compare the pricing pages of our five main competitors.',
          budget: 100,
          visibility: 'PUBLIC',
          requiredSkills: ['web-research', 'pricing'],
        },
        { autoApproveHours: 72 },
      );
      jobs.push(encodeId('Job', job.id));
    }
    const bid = (jobId: string, credits: number) => ({
      input: { jobId, message: 'Web search + analysis.', estimatedMinutes: 60, requestedCredits: credits },
    });
    for (const [j, jobId] of jobs.slice(0, 20).entries())
      for (const agent of agents) await gql(OPS.placeBid, bid(jobId, 40 + j), agent.key);
    // Warm every key (the per-minute lastUsedAt write happens here, not in a counted request).
    for (const key of [poster.apiKey, ...agents.map((a) => a.key)]) await gql(OPS.viewer, {}, key);

    const rows: { name: string; total: number; tx: number; note: string; sqlMs: number }[] = [];
    const count = async (name: string, note: string, fn: () => Promise<any>) => {
      statements.length = 0;
      durations.length = 0;
      const data = await fn();
      const sqlMs = durations.reduce((a, b) => a + b, 0);
      const tx = statements.filter((s) => /^\s*(BEGIN|COMMIT|ROLLBACK)\b/i.test(s)).length; // Prisma logs COMMIT, not BEGIN
      rows.push({ name, total: statements.length - tx, tx, note, sqlMs });
      log(`${name}: ${statements.length - tx} statements, ${tx} transaction(s)`);
      if (process.env.BENCH_DEBUG) for (const s of statements) log(`  ${s.replace(/\s+/g, ' ').slice(0, 160)}`);
      return data;
    };
    const member = poster.apiKey;
    const [agent] = agents as [{ key: string; gid: string }];
    const target = jobs[20]!;
    // Reads run once unmeasured first, so per-process caches do not inflate the count.
    const read = async (name: string, note: string, query: string, variables: Record<string, unknown>, key: string) => {
      await gql(query, variables, key);
      return count(name, note, () => gql(query, variables, key));
    };
    await read('`viewer`', 'member key', OPS.viewer, {}, member);
    await read('`jobs(first: 20)` with bids, agents, reputation', 'member; 20 jobs × 3 bids', OPS.jobsPage, {}, member);
    await read(
      '`jobs(filter: {status, skills, search}, first: 20)`',
      'agent (discovery)',
      OPS.discover,
      { f: { status: ['OPEN'], skills: ['pricing', 'web-research'], search: 'pricing' } },
      agent.key,
    );
    await read('`job(id)` detail', 'member; bids, agents, execution', OPS.jobDetail, { id: jobs[0] }, member);
    await read('`matchingAgents(jobId, first: 10)`', 'member', OPS.matchingAgents, { id: target }, member);
    await read('`recommendedJobs(first: 20)`', 'agent', OPS.recommendedJobs, {}, agent.key);
    await count('`placeBid` (new bid)', 'agent', () => gql(OPS.placeBid, bid(target, 90), agent.key));
    await count('`placeBid` (re-bid: update)', 'agent', () => gql(OPS.placeBid, bid(target, 85), agent.key));
    const placed = await gql(OPS.placeBid, bid(target, 80), agents[1]!.key);
    await count('`acceptBid`', 'member; escrow hold, other bids rejected', () =>
      gql(OPS.acceptBid, { id: placed.placeBid.bid.id }, member),
    );
    const started = await count('`startExecution`', 'agent', () =>
      gql(OPS.startExecution, { id: target }, agents[1]!.key),
    );
    const exe = started.startExecution.execution.id;
    await count('`reportProgress`', 'agent; progress only', () => gql(OPS.reportProgress, { id: exe }, agents[1]!.key));
    await count('`reportProgress` with a step', 'agent', () =>
      gql(OPS.reportProgress, { id: exe, step: { kind: 'search', message: 'Found 12 pages' } }, agents[1]!.key),
    );
    await count('`submitResult`', 'agent; one inline artifact', () =>
      gql(OPS.submitResult, { id: exe }, agents[1]!.key),
    );
    await count('`reviewExecution(ACCEPT)`', 'member; escrow released, reputation updated', () =>
      gql(OPS.review, { id: exe }, member),
    );
    await read('`wallet` with 10 entries', 'member', OPS.wallet, {}, member);

    const table = [
      `SQL statements per request: Prisma \`query\` events while serving one request through \`buildApp\` + \`app.fetch\` ` +
        `(PostgreSQL, NODE_ENV=production), counted after a warm-up of the same key. "statements" includes the 1 that ` +
        `authenticates the API key; interactive transactions are counted apart (their COMMIT; Prisma does not log BEGIN). ` +
        `Reads: counted on the ` +
        `second of two identical requests. SQL time: the sum of Prisma's per-statement durations for that request ` +
        `(one sequential request, a single sample: indicative only, it varies with the load on the machine). ${new Date().toISOString().slice(0, 10)}.`,
      '',
      '| operation | caller / shape | statements (incl. auth) | transactions | SQL time (one request) |',
      '|---|---|---|---|---|',
      ...rows.map((r) => `| ${r.name} | ${r.note} | ${r.total} | ${r.tx} | ${r.sqlMs.toFixed(1)} ms |`),
    ].join('\n');
    console.log(table);
    writeFileSync(resolve(import.meta.dirname, 'results/sql.md'), `${table}\n`);
  } finally {
    await app.stop();
    await database.close();
    await bench.cleanup();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().then(
    () => process.exit(0),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
