/**
 * `npm run bench`: every benchmark in sequence, each in its own process (discovery, fan-out, HTTP
 * load, SQL statements per request), then their Markdown results (bench/results/<name>.md) collected
 * into bench/results/README.md, and each README.md section between `<!-- bench:<name> -->` and
 * `<!-- /bench:<name> -->` replaced by that benchmark's table.
 *
 *   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379 npm run bench
 *
 * BENCH_ONLY=mixed,sql runs a subset; the other sections keep their recorded results. Every other
 * BENCH_* knob reaches the benchmarks (e.g. BENCH_SECONDS; note fanout and mixed both read it).
 * A benchmark that fails (or writes no new result) leaves its section untouched; the exit code is 1.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { progress } from './lib.ts';

const ROOT = resolve(import.meta.dirname, '..');
const RESULTS = resolve(import.meta.dirname, 'results');
const log = progress('bench');

interface Bench {
  name: string;
  title: string;
  script: string;
  /** What the README embeds: by default the first Markdown table of the result. */
  embed?: (markdown: string) => string;
}

const firstTable = (markdown: string) => {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.startsWith('|'));
  if (start < 0) return markdown.trim();
  let end = start;
  while (end < lines.length && lines[end]!.startsWith('|')) end++;
  return lines.slice(start, end).join('\n');
};

const BENCHES: Bench[] = [
  { name: 'discovery', title: 'Discovery and matching', script: 'bench/discovery.ts' },
  { name: 'fanout', title: 'Subscription fan-out', script: 'bench/fanout.ts' },
  {
    name: 'mixed',
    title: 'HTTP load: bare yoga, read path, mixed workload',
    script: 'bench/mixed.ts',
    embed: (md) => [firstTable(md), '', md.split('\n').find((l) => l.startsWith('Targets:')) ?? ''].join('\n').trim(),
  },
  { name: 'sql', title: 'SQL statements per request', script: 'bench/sql-statements.ts' },
];

function runScript(script: string): Promise<number> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      cwd: ROOT,
      stdio: 'inherit',
      env: process.env,
    });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.once('exit', (code, signal) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      done(code ?? (signal ? 1 : 0));
    });
  });
}

/** Replaces the text between `<!-- bench:name -->` and `<!-- /bench:name -->`; false when the markers are missing. */
export function replaceSection(readme: string, name: string, content: string): string | null {
  const open = `<!-- bench:${name} -->`;
  const close = `<!-- /bench:${name} -->`;
  const a = readme.indexOf(open);
  const b = readme.indexOf(close);
  if (a < 0 || b < a) return null;
  return `${readme.slice(0, a + open.length)}\n${content.trim()}\n${readme.slice(b)}`;
}

async function main() {
  const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim());
  const selected = BENCHES.filter((b) => !only || only.includes(b.name));
  if (loadavg()[0]! > 1)
    log(`warning: 1-minute load average is ${loadavg()[0]!.toFixed(2)}: other work on the machine skews every number`);
  const failed: string[] = [];
  const fresh = new Set<string>();
  for (const bench of selected) {
    const file = resolve(RESULTS, `${bench.name}.md`);
    const before = existsSync(file) ? statSync(file).mtimeMs : 0;
    log(`── ${bench.name}: ${bench.script}`);
    const started = Date.now();
    const code = await runScript(bench.script);
    const after = existsSync(file) ? statSync(file).mtimeMs : 0;
    if (code !== 0 || after <= before) {
      failed.push(bench.name);
      log(`${bench.name} FAILED (exit ${code}${after <= before ? ', no new result' : ''})`);
    } else {
      fresh.add(bench.name);
      log(`${bench.name} done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    }
  }

  // bench/results/README.md: every recorded result, newest or not, in one page.
  const sections = BENCHES.filter((b) => existsSync(resolve(RESULTS, `${b.name}.md`))).map(
    (b) =>
      `## ${b.title}\n\n\`${b.script}\`${fresh.has(b.name) ? '' : ' (not re-run this time)'}\n\n${readFileSync(resolve(RESULTS, `${b.name}.md`), 'utf8').trim()}\n`,
  );
  writeFileSync(
    resolve(RESULTS, 'README.md'),
    `# Benchmark results\n\nWritten by \`npm run bench\` (\`bench/run-all.ts\`); the README embeds the tables.\n\n${sections.join('\n')}`,
  );

  const readmePath = resolve(ROOT, 'README.md');
  let readme = readFileSync(readmePath, 'utf8');
  for (const bench of BENCHES.filter((b) => fresh.has(b.name))) {
    const markdown = readFileSync(resolve(RESULTS, `${bench.name}.md`), 'utf8');
    const next = replaceSection(readme, bench.name, (bench.embed ?? firstTable)(markdown));
    if (next === null) log(`README.md has no <!-- bench:${bench.name} --> markers: section not updated`);
    else readme = next;
  }
  writeFileSync(readmePath, readme);
  log(`wrote bench/results/README.md${fresh.size ? ` and README.md sections: ${[...fresh].join(', ')}` : ''}`);
  if (failed.length) {
    log(`failed: ${failed.join(', ')}`);
    process.exit(1);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
