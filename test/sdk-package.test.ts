/**
 * The SDK as a package people install (README "Agent SDK"): `npm run sdk:pack` builds src/sdk into sdk/dist
 * and packs sdk/agentwork-<version>.tgz; the tarball installs into an empty folder, the example agent
 * (examples/research-agent, importing 'agentwork' by name) compiles there against the installed types and
 * runs as plain node on the built JS, against a server this test starts, until it is paid.
 *
 * The install is offline first (`--offline`: the dependencies are in the machine's npm cache once the root
 * install fetched them), then `--prefer-offline` (the registry fills what the cache lacks). If npm cannot
 * install at all (no registry, nothing cached), the test falls back to unpacking the tarball and symlinking
 * the package's dependencies from this checkout's node_modules, and prints that it did: the package, its
 * exports and its types are still the tarball's. Skipped, with the reason printed, only without npm.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dependencyDrift, packageOf } from '../scripts/sdk-build.ts';
import { AgentworkClient } from '../src/sdk/index.ts';
import { type App, buildApp } from '../src/server.ts';
import { VERSION } from '../src/version.ts';
import { createTestDatabase, type TestDatabase, testConfig } from './support/app.ts';
import { createWorkspaceFixture } from './support/factories.ts';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '..');
const npmVersion = spawnSync('npm', ['--version'], { encoding: 'utf8' });
const NO_NPM =
  npmVersion.status === 0 ? null : `npm is not available (${npmVersion.error?.message ?? npmVersion.stderr})`;
if (NO_NPM) console.warn(`test/sdk-package.test.ts skipped: ${NO_NPM}`);

const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string }>;
};
const locked = (name: string) => lock.packages[`node_modules/${name}`]!.version!;
const sdkPackage = () =>
  JSON.parse(readFileSync(join(root, 'sdk', 'package.json'), 'utf8')) as {
    name: string;
    version: string;
    exports: Record<string, unknown>;
    dependencies: Record<string, string>;
  };

describe('the SDK package (sdk/, npm name "agentwork")', () => {
  it('has the app’s version and the root lockfile’s dependency versions', () => {
    const pkg = sdkPackage();
    expect(pkg.name).toBe('agentwork');
    expect(pkg.version).toBe(VERSION);
    expect(dependencyDrift()).toEqual([]);
    expect(pkg.exports['.']).toEqual({ types: './dist/index.d.ts', default: './dist/index.js' });
  });

  describe.skipIf(NO_NPM !== null)('packed, installed into an empty folder', () => {
    let work: string;
    let db: TestDatabase;
    let app: App;
    let url: string;
    const clients: AgentworkClient[] = [];
    const children: ChildProcess[] = [];

    beforeAll(async () => {
      work = mkdtempSync(join(tmpdir(), 'agentwork-sdk-'));
      db = await createTestDatabase();
      app = await buildApp(testConfig({ OUTBOX_POLL_MS: 100 }), { database: db.database, migrate: false });
      ({ url } = await app.start());
    });
    afterAll(async () => {
      for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
      await Promise.all(clients.map((c) => c.close()));
      await app?.stop();
      await db?.close();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    it('installs from the tarball and runs the example agent until it is paid', async () => {
      // 1. Build and pack, as documented.
      const packed = await run('npm', ['run', 'sdk:pack'], { cwd: root, maxBuffer: 16 << 20 });
      const tarball = join(root, 'sdk', `agentwork-${VERSION}.tgz`);
      expect(packed.stdout).toContain(`packed sdk/agentwork-${VERSION}.tgz`);
      const { stdout: listing } = await run('tar', ['tzf', tarball]);
      const files = listing.trim().split('\n').sort();
      expect(files).toContain('package/package.json');
      expect(files).toContain('package/dist/index.js');
      expect(files).toContain('package/dist/index.d.ts');
      // Built JS and declarations only: no TypeScript sources, no build config.
      expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
      expect(files).not.toContain('package/tsconfig.json');

      // 2. An empty project installs it (with TypeScript to compile the example, as a user would).
      const project = join(work, 'my-agent');
      mkdirSync(project);
      writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'my-agent', private: true, type: 'module' }));
      const wanted = [tarball, `typescript@${locked('typescript')}`, `@types/node@${locked('@types/node')}`];
      const how = await install(project, wanted);
      if (how !== 'offline') console.warn(`test/sdk-package.test.ts: installed ${how}`);
      const installed = JSON.parse(readFileSync(join(project, 'node_modules', 'agentwork', 'package.json'), 'utf8'));
      expect(installed.version).toBe(VERSION);

      // 3. The example, copied as is: it imports 'agentwork' by name; tsc checks it against the package's types.
      for (const file of ['index.ts', 'analysis.ts', 'tsconfig.json']) {
        copyFileSync(join(root, 'examples', 'research-agent', file), join(project, file));
      }
      expect(readFileSync(join(project, 'index.ts'), 'utf8')).toMatch(/from 'agentwork';/);
      const tsc = join(project, 'node_modules', 'typescript', 'bin', 'tsc');
      await run(process.execPath, [tsc, '-p', '.', '--skipLibCheck', 'false'], { cwd: project }).catch((error) => {
        throw new Error(`the example does not compile against the package:\n${error.stdout}${error.stderr}`);
      });
      expect(existsSync(join(project, 'dist', 'index.js'))).toBe(true);

      // 4. The case: a rate of 50 and a job budgeted at 90. The job is posted first, so the agent
      //    finds it among its recommended jobs when it starts (no race with its subscriptions).
      const team = await createWorkspaceFixture(db.database.prisma);
      const developer = await createWorkspaceFixture(db.database.prisma, { credits: 0 });
      const client = (apiKey: string) => {
        const c = new AgentworkClient({ url, apiKey, retryAttempts: 0 });
        clients.push(c);
        return c;
      };
      const teamClient = client(team.ownerKey);
      const registered = await client(developer.ownerKey).registerAgent({
        name: 'ResearchBot',
        framework: 'custom',
        skills: ['web research', 'summarization'],
        creditRate: 50,
      });
      const job = await teamClient.postJob({
        title: 'Summarise: street trees',
        description:
          'Street trees cool cities. A street tree shades the asphalt and cools the air through its leaves. ' +
          'Streets with a full tree canopy are cooler in the afternoon than streets without trees. ' +
          'Young trees need water and care for years before their canopy shades a street.',
        budget: 90,
        visibility: 'PUBLIC',
        requiredSkills: ['web-research'],
      });

      // 5. Plain node on the built JS.
      const agent = spawn(process.execPath, ['dist/index.js', '--once'], {
        cwd: project,
        env: { PATH: process.env.PATH, AGENTWORK_URL: url, AGENTWORK_API_KEY: registered.apiKey },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(agent);
      const output = watch(agent);

      await output.waitFor(/bid 50 credits on “Summarise: street trees”/);
      const [bid] = await teamClient.bids(job.id);
      expect(bid?.requestedCredits).toBe(50);
      await teamClient.acceptBid(bid!.id);
      await output.waitFor(/submitted report\.md for “Summarise: street trees”/);
      const inReview = await teamClient.job(job.id);
      expect(inReview.status).toBe('REVIEW');
      await teamClient.reviewExecution(inReview.execution!.id, 'ACCEPT', { rating: 5 });

      const [, credits, fee, balance] = await output.waitFor(
        /paid (\d+) credits for “Summarise: street trees” \(platform fee (\d+)\); wallet balance (\d+)/,
      );
      expect(Number(credits) + Number(fee)).toBe(50);
      expect(Number(balance)).toBe(Number(credits));
      expect(await output.exited, output.text()).toBe(0); // --once: exits after the first payment
      expect(output.text()).toContain('[research-agent] offline');
      expect((await teamClient.job(job.id)).status).toBe('COMPLETED');
    }, 600_000);
  });
});

type InstallHow = 'offline' | 'prefer-offline' | 'by symlinks (npm could not install)';

/** npm install, offline first; the last resort unpacks the tarball and links the dependencies of this checkout. */
async function install(project: string, specs: string[]): Promise<InstallHow> {
  const npm = (mode: string) =>
    run('npm', ['install', mode, '--no-audit', '--no-fund', ...specs], { cwd: project, maxBuffer: 16 << 20 });
  const failures: string[] = [];
  for (const mode of ['--offline', '--prefer-offline'] as const) {
    try {
      await npm(mode);
      return mode === '--offline' ? 'offline' : 'prefer-offline';
    } catch (error) {
      failures.push(`npm install ${mode}: ${(error as { stderr?: string }).stderr?.trim().split('\n')[0]}`);
    }
  }
  console.warn(`test/sdk-package.test.ts: ${failures.join('; ')}; linking dependencies from node_modules instead`);
  const modules = join(project, 'node_modules');
  const target = join(modules, 'agentwork');
  mkdirSync(target, { recursive: true });
  await run('tar', ['xzf', specs[0]!, '-C', target, '--strip-components=1']);
  const pkg = JSON.parse(readFileSync(join(target, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  const names = [...Object.keys(pkg.dependencies), ...specs.slice(1).map((s) => packageOf(s.replace(/@[^@]+$/, '')))];
  for (const name of names) {
    const link = join(modules, name);
    mkdirSync(resolve(link, '..'), { recursive: true });
    symlinkSync(join(root, 'node_modules', name), link);
  }
  return 'by symlinks (npm could not install)';
}

/** Collects a child's output; `waitFor` resolves with the first match (or rejects when the child exits first). */
function watch(child: ChildProcess) {
  let out = '';
  const waiters: { pattern: RegExp; resolve(m: RegExpMatchArray): void }[] = [];
  const onData = (chunk: Buffer) => {
    out += chunk;
    for (const w of waiters.splice(0)) {
      const m = out.match(w.pattern);
      if (m) w.resolve(m);
      else waiters.push(w);
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
  return {
    exited,
    text: () => out,
    waitFor(pattern: RegExp): Promise<RegExpMatchArray> {
      const m = out.match(pattern);
      if (m) return Promise.resolve(m);
      return Promise.race([
        new Promise<RegExpMatchArray>((resolve) => waiters.push({ pattern, resolve })),
        exited.then((code) => {
          throw new Error(`the agent exited (${code}) before printing ${pattern}:\n${out}`);
        }),
      ]);
    },
  };
}
