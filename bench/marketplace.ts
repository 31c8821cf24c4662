/**
 * A realistic marketplace seeded with SQL (deterministic pseudo-random, like bench/discovery.ts):
 * 100 workspaces, `agents` agents with reputations, `jobs` jobs (60% OPEN, 70% PUBLIC) and three
 * pending bids on every OPEN job. Ids: workspaces `bw<n>`, agents `ba<n>`, jobs `bj<n>`.
 * Job n is OPEN and PUBLIC when n % 10 < 6 (see `openPublicJobIds`).
 */
import type { Db } from '../src/db/client.ts';

export const SKILLS = [
  'web-research',
  'data-analysis',
  'summarization',
  'writing',
  'coding',
  'translation',
  'data-cleaning',
  'web-scraping',
  'copywriting',
  'seo',
  'sql',
  'python',
  'typescript',
  'design',
  'marketing',
  'sales',
  'finance',
  'legal',
  'customer-support',
  'qa',
  'devops',
  'security',
  'ml',
  'nlp',
  'vision',
  'audio',
  'video',
  'research',
  'forecasting',
  'pricing',
  'competitive-analysis',
  'lead-generation',
  'email',
  'social-media',
  'spreadsheets',
  'reporting',
  'data-entry',
  'transcription',
  'proofreading',
  'planning',
];

export const WORDS = [
  'competitor',
  'pricing',
  'dataset',
  'clean',
  'research',
  'market',
  'report',
  'summary',
  'customers',
  'churn',
  'analysis',
  'survey',
  'landing',
  'page',
  'copy',
  'translate',
  'documentation',
  'invoice',
  'reconcile',
  'leads',
  'scrape',
  'catalog',
  'product',
  'reviews',
  'sentiment',
  'forecast',
  'revenue',
  'quarterly',
  'benchmark',
  'audit',
  'security',
  'logs',
  'migration',
  'schema',
  'test',
  'coverage',
];

export async function seedMarketplace(db: Db, { agents, jobs }: { agents: number; jobs: number }) {
  const skills = `ARRAY[${SKILLS.map((s) => `'${s}'`).join(',')}]`;
  const words = `ARRAY[${WORDS.map((s) => `'${s}'`).join(',')}]`;
  await db.$executeRawUnsafe(`
    INSERT INTO "Workspace" (id, name, "updatedAt")
    SELECT 'bw' || g, 'Bench ' || g, now() FROM generate_series(1, 100) g`);
  await db.$executeRawUnsafe(`
    INSERT INTO "Project" (id, "workspaceId", name, "updatedAt")
    SELECT 'bp' || g, 'bw' || g, 'General', now() FROM generate_series(1, 100) g`);
  await db.$executeRawUnsafe(`
    INSERT INTO "Agent" (id, "workspaceId", name, description, skills, tools, languages, status, "maxConcurrentJobs", "activeJobCount", "creditRate", "updatedAt")
    SELECT 'ba' || g, 'bw' || (1 + g % 100), 'Agent ' || g, 'Benchmark agent ' || g,
      ARRAY[(${skills})[1 + (g * 7) % 40], (${skills})[1 + (g * 13) % 40], (${skills})[1 + (g * 29) % 40]],
      ARRAY['browser', 'python'], ARRAY['en'],
      (ARRAY['ONLINE','ONLINE','BUSY','OFFLINE']::"AgentStatus"[])[1 + g % 4], 1 + g % 5, g % 3, 10 + g % 200, now()
    FROM generate_series(1, ${agents}) g`);
  await db.$executeRawUnsafe(`
    INSERT INTO "AgentReputation" ("agentId", "overallScore", "qualityScore", "reliabilityScore", "speedScore", "completedJobs", "updatedAt", badges)
    SELECT 'ba' || g, g % 100, (g * 3) % 100, (g * 7) % 100, (g * 11) % 100, g % 50, now(), '{}' FROM generate_series(1, ${agents}) g`);
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
    FROM generate_series(1, ${jobs}) g`);
  await db.$executeRawUnsafe(
    `INSERT INTO "JobExclusion" ("jobId", "agentId") SELECT 'bj' || g, 'ba' || g FROM generate_series(1, LEAST(${jobs}, ${agents}), 10) g`,
  );
  // Three pending bids from distinct seeded agents on every OPEN job.
  await db.$executeRawUnsafe(`
    INSERT INTO "Bid" (id, "jobId", "agentId", message, "estimatedMinutes", "requestedCredits", "skillMatch", "relevantExperienceIds", "updatedAt")
    SELECT 'bb' || g || '_' || k, 'bj' || g, 'ba' || (1 + (g + k * 97) % ${agents}), 'I can do this: web search + analysis.',
      30 + (g * k) % 300, 20 + (g * k) % 400, (g * k) % 101, '{}', now()
    FROM generate_series(1, ${jobs}) g, generate_series(1, 3) k WHERE g % 10 < 6`);
  await db.$executeRawUnsafe(`ANALYZE`);
}

/** Internal ids of OPEN, PUBLIC seeded jobs (the first `n`). */
export function openPublicJobIds(n: number): string[] {
  const ids: string[] = [];
  for (let g = 1; ids.length < n; g++) if (g % 10 < 6) ids.push(`bj${g}`);
  return ids;
}
