/**
 * Discovery and matching latency on a realistic marketplace: 10,000 agents and 50,000 jobs.
 * Measures `jobs(filter: {skills, search})` and `matchingAgents` through yoga.fetch (in process,
 * no socket), next to a bare `{ __typename }` through the same server in the same run.
 *
 *   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres npm run bench:discovery
 *
 * Writes bench/results/discovery.md. Target (issue #3): p95 under 50 ms for discovery and matching.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createWorkspace } from '../src/services/accounts/workspaces.ts';
import { registerAgent } from '../src/services/marketplace/agents.ts';
import { benchApp, benchDatabase, measure, ms, progress } from './lib.ts';
import { SKILLS, WORDS } from './marketplace.ts';

const AGENTS = Number(process.env.BENCH_AGENTS ?? 10_000);
const JOBS = Number(process.env.BENCH_JOBS ?? 50_000);
const N = Number(process.env.BENCH_REQUESTS ?? 300);
const log = progress('discovery');

async function main() {
  log(`creating a fresh database`);
  const bench = await benchDatabase('aw_bench_discovery');
  const db = bench.database.prisma;
  try {
    const poster = await createWorkspace(
      db,
      { kind: 'platform' },
      { name: 'Poster', ownerName: 'P', ownerEmail: 'p@bench.dev' },
      { allowSignup: true },
    );
    const viewer = {
      kind: 'member' as const,
      memberId: poster.owner.id,
      workspaceId: poster.workspace.id,
      role: 'OWNER' as const,
      apiKeyId: null,
    };
    const probe = await registerAgent(
      db,
      viewer,
      { name: 'Probe', skills: ['web-research', 'pricing', 'competitive-analysis'], creditRate: 40 },
      { allowLoopbackHttp: false },
    );

    log(`seeding ${AGENTS} agents and ${JOBS} jobs with SQL (deterministic pseudo-random)`);
    await db.$executeRawUnsafe(`
      INSERT INTO "Workspace" (id, name, "updatedAt")
      SELECT 'bw' || g, 'Bench ' || g, now() FROM generate_series(1, 100) g`);
    await db.$executeRawUnsafe(`
      INSERT INTO "Project" (id, "workspaceId", name, "updatedAt")
      SELECT 'bp' || g, 'bw' || g, 'General', now() FROM generate_series(1, 100) g`);
    const skills = `ARRAY[${SKILLS.map((s) => `'${s}'`).join(',')}]`;
    const words = `ARRAY[${WORDS.map((s) => `'${s}'`).join(',')}]`;
    await db.$executeRawUnsafe(`
      INSERT INTO "Agent" (id, "workspaceId", name, description, skills, tools, languages, status, "maxConcurrentJobs", "activeJobCount", "creditRate", "updatedAt")
      SELECT 'ba' || g, 'bw' || (1 + g % 100), 'Agent ' || g, 'Benchmark agent ' || g,
        ARRAY[(${skills})[1 + (g * 7) % 40], (${skills})[1 + (g * 13) % 40], (${skills})[1 + (g * 29) % 40]],
        ARRAY['browser', 'python'], ARRAY['en'],
        (ARRAY['ONLINE','ONLINE','BUSY','OFFLINE']::"AgentStatus"[])[1 + g % 4], 1 + g % 5, g % 3, 10 + g % 200, now()
      FROM generate_series(1, ${AGENTS}) g`);
    await db.$executeRawUnsafe(`
      INSERT INTO "AgentReputation" ("agentId", "overallScore", "qualityScore", "reliabilityScore", "speedScore", "completedJobs", "updatedAt", badges)
      SELECT 'ba' || g, g % 100, (g * 3) % 100, (g * 7) % 100, (g * 11) % 100, g % 50, now(), '{}' FROM generate_series(1, ${AGENTS}) g`);
    await db.$executeRawUnsafe(`
      INSERT INTO "Job" (id, "workspaceId", "projectId", title, description, priority, deadline, visibility, "requiredSkills", "requiredTools", budget, status, "updatedAt", "createdAt")
      SELECT 'bj' || g, 'bw' || (1 + g % 100), 'bp' || (1 + g % 100),
        initcap((${words})[1 + g % 36] || ' ' || (${words})[1 + (g * 7) % 36] || ' ' || (${words})[1 + (g * 11) % 36]),
        'We need help with ' || (${words})[1 + (g * 3) % 36] || ' and ' || (${words})[1 + (g * 5) % 36] || ' for our ' || (${words})[1 + (g * 13) % 36] || ' project.',
        (ARRAY['URGENT','HIGH','MEDIUM','LOW']::"JobPriority"[])[1 + g % 4],
        CASE WHEN g % 3 = 0 THEN NULL ELSE now() + (g % 90) * interval '1 day' + interval '1 hour' END,
        (ARRAY['PUBLIC','PUBLIC','PUBLIC','PUBLIC','PUBLIC','PUBLIC','PUBLIC','WORKSPACE','WORKSPACE','PRIVATE']::"JobVisibility"[])[1 + g % 10],
        ARRAY[(${skills})[1 + (g * 17) % 40], (${skills})[1 + (g * 23) % 40]], '{}', 20 + g % 500,
        (ARRAY['OPEN','OPEN','OPEN','OPEN','OPEN','OPEN','ASSIGNED','IN_PROGRESS','COMPLETED','CANCELLED']::"JobStatus"[])[1 + g % 10],
        now(), now() - (g % 1000) * interval '1 minute'
      FROM generate_series(1, ${JOBS}) g`);
    await db.$executeRawUnsafe(
      `INSERT INTO "JobExclusion" ("jobId", "agentId") SELECT 'bj' || g, 'ba' || g FROM generate_series(1, LEAST(${JOBS}, ${AGENTS}), 10) g`,
    );
    await db.$executeRawUnsafe(`ANALYZE`);

    const { postJob } = await import('../src/services/marketplace/jobs.ts');
    const target = await postJob(
      db,
      viewer,
      {
        title: 'Research competitor pricing',
        description: 'Compare competitor pricing pages',
        budget: 120,
        visibility: 'PUBLIC',
        requiredSkills: ['web-research', 'pricing'],
      },
      { autoApproveHours: 72 },
    );

    const app = await benchApp(bench.database);
    const post = async (query: string, variables: Record<string, unknown>, key?: string) => {
      const res = await app.fetch('http://bench/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await res.json()) as { errors?: unknown[]; data?: any };
      if (body.errors) throw new Error(JSON.stringify(body.errors));
      returned += body.data?.jobs?.edges?.length ?? body.data?.matchingAgents?.length ?? 0;
    };
    let returned = 0;
    const perRequest = async (fn: () => Promise<unknown>) => {
      returned = 0;
      await fn();
      return returned;
    };
    // Single common words: every request returns a full page (the expensive case), not an empty one.
    const searches = ['pricing', 'dataset', 'report', 'analysis', 'forecast'];
    const DISCOVERY = `query($f: JobFilter) { jobs(filter: $f, first: 20) { edges { node { id title budget requiredSkills deadline } } } }`;
    const MATCHING = `query($id: ID!) { matchingAgents(jobId: $id, first: 10) { score skillMatch components { skill reputation availability price } agent { id name } } }`;

    log(`measuring ${N} requests each`);
    const bare = await measure(N, () => post('{ __typename }', {}));
    const discovery = await measure(N, (i) =>
      post(
        DISCOVERY,
        {
          f: {
            status: ['OPEN'],
            skills: [SKILLS[i % 40], SKILLS[(i * 7) % 40]],
            search: searches[i % searches.length],
          },
        },
        probe.apiKey,
      ),
    );
    const discoveryMember = await measure(N, (i) =>
      post(DISCOVERY, { f: { status: ['OPEN'], search: searches[i % searches.length] } }, poster.apiKey),
    );
    const matching = await measure(N, () => post(MATCHING, { id: `job_${target.id}` }, poster.apiKey));
    const sample = {
      discovery: await perRequest(() =>
        post(
          DISCOVERY,
          { f: { status: ['OPEN'], skills: ['pricing', 'web-research'], search: 'pricing' } },
          probe.apiKey,
        ),
      ),
      matching: await perRequest(() => post(MATCHING, { id: `job_${target.id}` }, poster.apiKey)),
    };
    await app.stop();

    const rows = [
      ['bare `{ __typename }` (baseline)', bare],
      ['`jobs(filter: {skills, search})` as an agent', discovery],
      ['`jobs(filter: {search})` as a member', discoveryMember],
      ['`matchingAgents(jobId, first: 10)`', matching],
    ] as const;
    const table = [
      `Discovery benchmark: ${AGENTS.toLocaleString('en')} agents, ${JOBS.toLocaleString('en')} jobs, ${N} sequential requests per row via yoga.fetch, PostgreSQL ${process.env.DATABASE_URL ? '(DATABASE_URL)' : '127.0.0.1:5432'}, ${new Date().toISOString().slice(0, 10)}.`,
      '',
      '| request | p50 | p95 | p99 | mean |',
      '|---|---|---|---|---|',
      ...rows.map(([name, s]) => `| ${name} | ${ms(s.p50)} | ${ms(s.p95)} | ${ms(s.p99)} | ${ms(s.mean)} |`),
      '',
      `Sample results per request: discovery ${sample.discovery} jobs (page size 20), matching ${sample.matching} agents.`,
      `Target: discovery and matching p95 < 50 ms: ${[discovery, discoveryMember, matching].every((s) => s.p95 < 50) ? 'met' : 'NOT met'}.`,
    ].join('\n');
    console.log(table);
    writeFileSync(resolve(import.meta.dirname, 'results/discovery.md'), `${table}\n`);
  } finally {
    await bench.cleanup();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
