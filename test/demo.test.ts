import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');

/** `npm run demo -- <args>` as a child process (node + tsx, no npm in between: signals reach it directly). */
function demo(args: string[] = []) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', ...args], {
    cwd: root,
    env: { ...process.env, DEMO_PAUSE_MS: '0', NODE_ENV: 'development' },
    stdio: ['pipe', 'pipe', 'pipe'],
  }) as ChildProcessWithoutNullStreams;
  const out = { stdout: '', stderr: '' };
  const waiters: { pattern: RegExp; resolve(m: RegExpMatchArray): void }[] = [];
  child.stdout.on('data', (chunk) => {
    out.stdout += chunk;
    for (const w of waiters.splice(0)) {
      const m = out.stdout.match(w.pattern);
      if (m) w.resolve(m);
      else waiters.push(w);
    }
  });
  child.stderr.on('data', (chunk) => {
    out.stderr += chunk;
  });
  const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
  return {
    child,
    out,
    exited,
    /** Resolves when stdout matches (or rejects when the demo exits first). */
    waitFor(pattern: RegExp): Promise<RegExpMatchArray> {
      const m = out.stdout.match(pattern);
      if (m) return Promise.resolve(m);
      return Promise.race([
        new Promise<RegExpMatchArray>((resolve) => waiters.push({ pattern, resolve })),
        exited.then((code) => {
          throw new Error(`demo exited (${code}) before printing ${pattern}\n${out.stdout}\n${out.stderr}`);
        }),
      ]);
    },
  };
}

describe('npm run demo', () => {
  it('runs a job from posting to payment on the embedded database and exits 0', async () => {
    const run = demo();
    const code = await run.exited;
    const { stdout, stderr } = run.out;
    expect(code, `stdout:\n${stdout}\nstderr:\n${stderr}`).toBe(0);
    expect(stdout).toMatch(/Job job_\S+ COMPLETED: ResearchBot was paid 95 credits for 100 agreed/);
    expect(stdout).toContain('/live#key=aw_live_');
    // It bids its registered rate (100), under the job's budget (120), and says when it is paid.
    expect(stdout).toContain('[agent] bid 100 credits');
    expect(stdout).toMatch(
      /\[agent\] paid 95 credits for “Summarise: cooling cities with trees” \(platform fee 5\); wallet balance 95/,
    );
    expect(stdout).toMatch(/tool call fetch_url \(SUCCESS/);
    expect(stdout).toContain('## Key terms');
    expect(stdout).toContain('ResearchBot   balance 95');
    // Without --keep it says plainly that the live URL dies with it.
    expect(stdout).toContain('the live URL above stops working');
    expect(stdout).toContain('npm run demo -- --keep');
  }, 300_000);

  it('--keep serves the live URL after the payment until SIGINT, then exits 0', async () => {
    const run = demo(['--keep']);
    try {
      await run.waitFor(/The live URL stays up until Ctrl-C/);
      const [, liveUrl] = await run.waitFor(/until Ctrl-C:\n\s+(http:\/\/\S+\/live)#key=aw_live_\S+\n/);
      expect(run.out.stdout).toMatch(/COMPLETED: ResearchBot was paid 95 credits/);
      const page = await fetch(liveUrl!);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<html');
      run.child.kill('SIGINT');
      expect(await run.exited, run.out.stderr).toBe(0);
      expect(run.out.stdout).toContain('Stopping the server.');
      // The server is gone with the demo.
      await expect(fetch(liveUrl!)).rejects.toThrow();
    } finally {
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
    }
  }, 300_000);

  it('--help prints the usage; an unknown flag is an error that shows it', async () => {
    const help = demo(['--help']);
    expect(await help.exited).toBe(0);
    expect(help.out.stdout).toContain('--keep');
    const wrong = demo(['--kep']);
    expect(await wrong.exited).toBe(2);
    expect(wrong.out.stderr).toContain("Unknown option '--kep'");
    expect(wrong.out.stderr).toContain('Usage: npm run demo [-- --keep]');
  }, 120_000);
});
