import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

function cli(args: string[], env: Record<string, string>) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
}

describe('cli', () => {
  it('workspace create --json prints a workspace id and a key that works', async ({ skip }) => {
    if (!t.db.url) skip('needs PostgreSQL: the CLI runs in its own process and in-memory PGlite is per process');
    const run = cli(['workspace', 'create', '--name', 'Acme', '--owner-email', 'a@b.c', '--json'], {
      DATABASE_URL: t.db.url!,
    });
    expect(run.status, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout);
    expect(out).toMatchObject({
      workspaceId: expect.stringMatching(/^ws_/),
      apiKey: expect.stringMatching(/^aw_live_/),
    });
    const viewer = await t.gql('{ viewer { __typename ... on Member { role } } }', {}, out.apiKey);
    expect(viewer.data.viewer).toEqual({ __typename: 'Member', role: 'OWNER' });
  });

  it('explains bad flags and exits 1', () => {
    const run = cli(['workspace', 'create', '--name', '', '--owner-email', 'nope'], {
      DATABASE_URL: t.db.url ?? '',
      DATA_DIR: 'memory://',
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('--owner-email: must be a valid email address');
    expect(run.stderr).toContain('--name: must not be empty');
  });
});
