import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';

describe('config', () => {
  it('has working defaults with an empty environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ PORT: 4000, PLATFORM_FEE_BPS: 500, ALLOW_SIGNUP: true, DATABASE_URL: undefined });
  });

  it('names each bad variable on its own line, and hides secrets', () => {
    let error: unknown;
    try {
      loadConfig({
        PORT: 'eighty',
        DATABASE_URL: 'mysql://x',
        PLATFORM_FEE_BPS: '20000',
        DISCORD_PUBLIC_KEY: 'secret',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const lines = (error as Error).message.split('\n');
    expect(lines).toHaveLength(4);
    expect(lines.find((l) => l.includes('PORT'))).toMatch(/^Invalid environment variable PORT: .*"eighty"/);
    expect(lines.find((l) => l.includes('DATABASE_URL'))).toMatch(/postgresql:\/\//);
    expect(lines.find((l) => l.includes('PLATFORM_FEE_BPS'))).toBeDefined();
    expect((error as Error).message).not.toContain('"secret"');
  });

  // The process exits as soon as it reads the bad value; the generous limit only covers a slow start (tsx) on a busy machine.
  it('a bad value stops `npm start` with one clear line and exit code 1', { timeout: 120_000 }, () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { ...process.env, PORT: 'not-a-port', DATABASE_URL: '' },
      encoding: 'utf8',
      timeout: 100_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^Invalid environment variable PORT: /)]);
  });
});
