import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');

describe('npm run demo', () => {
  it('runs a job from posting to payment on the embedded database and exits 0', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], {
      cwd: root,
      env: { ...process.env, DEMO_PAUSE_MS: '0', NODE_ENV: 'development' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const code = await new Promise<number | null>((done) => child.on('close', (c) => done(c)));
    expect(code, `stdout:\n${stdout}\nstderr:\n${stderr}`).toBe(0);
    expect(stdout).toMatch(/Job job_\S+ COMPLETED: ResearchBot was paid 95 credits for 100 agreed/);
    expect(stdout).toContain('/live#key=aw_live_');
    expect(stdout).toContain('[agent] bid 100 credits');
    expect(stdout).toMatch(/tool call fetch_url \(SUCCESS/);
    expect(stdout).toContain('## Key terms');
    expect(stdout).toContain('ResearchBot   balance 95');
  }, 120_000);
});
