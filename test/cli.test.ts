import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/client.ts';
import { DataDirLockedError, LOCK_FILE, lockDataDir } from '../src/db/data-dir-lock.ts';
import { runMigrations } from '../src/db/migrate.ts';
import { createTestApp, type TestApp } from './support/app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

/** Env for a child process on the embedded database in `dataDir`: no PostgreSQL, no Redis. */
function embeddedEnv(dataDir: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  delete env.DATABASE_URL;
  delete env.REDIS_URL;
  return { ...env, DATA_DIR: dataDir };
}

function cli(args: string[], env: Record<string, string>, base: NodeJS.ProcessEnv = process.env) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
    env: { ...base, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

const tmpDirs: string[] = [];
afterAll(() => {
  for (const dir of tmpDirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * A migrated embedded data directory, made once per file: each test copies it, so no child pays
 * for PGlite's initdb and the migrations (seconds each on a loaded machine).
 */
let templateDir: string | null = null;
async function migratedDataDir(): Promise<string> {
  if (!templateDir) {
    const dir = mkdtempSync(join(tmpdir(), 'aw-cli-tpl-'));
    tmpDirs.push(dir);
    const db = await openDatabase({ dataDir: dir });
    const session = await db.session();
    await runMigrations(session);
    await session.close();
    await db.close();
    templateDir = dir;
  }
  const dir = mkdtempSync(join(tmpdir(), 'aw-cli-'));
  tmpDirs.push(dir);
  cpSync(templateDir, dir, { recursive: true });
  return dir;
}

/** A pid that surely names no running process: a child that has already exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  return Number(child.stdout.trim());
}

/** Starts `npm start`'s entry point on `dataDir`; resolves once it listens, with its log lines. */
async function startServer(dataDir: string): Promise<{ child: ChildProcess; url: string; lines: any[] }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...embeddedEnv(dataDir), HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', NODE_ENV: 'development' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: any[] = [];
  let stderr = '';
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
  });
  const url = await new Promise<string>((resolve, reject) => {
    let buffer = '';
    child.stdout!.on('data', (chunk) => {
      buffer += chunk;
      let nl = buffer.indexOf('\n');
      while (nl !== -1) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        nl = buffer.indexOf('\n');
        try {
          lines.push(JSON.parse(line));
        } catch {
          continue;
        }
        // The start-up hint is logged right after the "listening" line: wait for both.
        if (lines.some((l) => /first key/i.test(l.msg ?? ''))) {
          resolve(lines.find((l) => l.url)?.url);
        }
      }
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}: ${stderr}`)));
  });
  return { child, url, lines };
}

function stopServer(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill(signal);
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

// Each child opens a fresh PGlite (WASM): seconds each, more on a loaded machine.
// Each child opens PGlite (WASM): seconds each, more on a loaded machine.
describe('cli on the embedded database while another process holds it', { timeout: 240_000 }, () => {
  it('refuses while the server runs (naming its pid and the API path), and works once it stopped', async () => {
    const dataDir = await migratedDataDir();
    const server = await startServer(dataDir);
    try {
      const pid = server.child.pid!;
      const refused = cli(
        ['workspace', 'create', '--name', 'Acme', '--owner-email', 'a@b.c'],
        {},
        embeddedEnv(dataDir),
      );
      expect(refused.status, refused.stderr).toBe(1);
      expect(refused.stdout).not.toContain('aw_live_');
      expect(refused.stderr).toContain(`in use by another process (pid ${pid}`);
      expect(refused.stderr).toContain('createWorkspace');

      // The server's start-up hint names a way to get a key that works while it runs: follow it.
      const hint = server.lines.find((l) => /first key/i.test(l.msg ?? ''));
      expect(hint?.msg).toContain(`${server.url}/graphql`);
      const body = /-d '(.+)'\s*$/.exec(hint.msg)?.[1];
      expect(body, hint.msg).toBeTruthy();
      const post = (payload: string, apiKey?: string) =>
        fetch(`${server.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
          body: payload,
        }).then((r) => r.json() as Promise<any>);
      const created = await post(body!);
      const apiKey = created.data.createWorkspace.apiKey;
      expect(apiKey, JSON.stringify(created)).toMatch(/^aw_live_/);
      const me = await post(JSON.stringify({ query: '{ viewer { __typename } }' }), apiKey);
      expect(me.data.viewer.__typename).toBe('Member');
    } finally {
      await stopServer(server.child);
    }
    expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);

    const after = cli(
      ['workspace', 'create', '--name', 'Beta', '--owner-email', 'b@b.c', '--json'],
      {},
      embeddedEnv(dataDir),
    );
    expect(after.status, after.stderr).toBe(0);
    expect(JSON.parse(after.stdout).apiKey).toMatch(/^aw_live_/);
    expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);
  });

  it('a second openDatabase on a held directory is refused, in this process too', async () => {
    const dataDir = await migratedDataDir();
    const db = await openDatabase({ dataDir });
    try {
      await expect(openDatabase({ dataDir })).rejects.toThrow(`pid ${process.pid}`);
      const refused = cli(['db', 'migrate'], {}, embeddedEnv(dataDir));
      expect(refused.status).toBe(1);
      expect(refused.stderr).toContain(`in use by another process (pid ${process.pid}`);
      expect(refused.stderr).toContain('stop it');
    } finally {
      await db.close();
    }
    expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);
  });

  it('takes over a stale lock left by a process that died', async () => {
    const dataDir = await migratedDataDir();
    writeFileSync(join(dataDir, LOCK_FILE), JSON.stringify({ pid: deadPid(), command: 'killed -9' }));
    const run = cli(
      ['workspace', 'create', '--name', 'Acme', '--owner-email', 'a@b.c', '--json'],
      {},
      embeddedEnv(dataDir),
    );
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).apiKey).toMatch(/^aw_live_/);
    expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);
  });

  it('lock file: live owner refused, dead or half-written or reused-pid owner taken over', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aw-lock-'));
    tmpDirs.push(dir);
    const file = join(dir, LOCK_FILE);
    // A live process (the parent of this worker) holds it.
    writeFileSync(file, JSON.stringify({ pid: process.ppid, command: 'npm start' }));
    const error = (() => {
      try {
        lockDataDir(dir);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(DataDirLockedError);
    expect((error as Error).message).toContain(`pid ${process.ppid}, npm start`);
    expect(readFileSync(file, 'utf8')).toContain(`"pid":${process.ppid}`);

    for (const stale of [
      JSON.stringify({ pid: deadPid() }),
      '{"pi',
      // Our own pid, but not held by us: a previous incarnation (container restarted on a volume).
      JSON.stringify({ pid: process.pid }),
      // A live pid whose process started at another time: the pid was reused (Linux: /proc).
      ...(process.platform === 'linux' ? [JSON.stringify({ pid: process.ppid, startTime: '1' })] : []),
    ]) {
      writeFileSync(file, stale);
      const release = lockDataDir(dir);
      expect(JSON.parse(readFileSync(file, 'utf8')).pid).toBe(process.pid);
      expect(() => lockDataDir(dir)).toThrow(DataDirLockedError);
      release();
      expect(existsSync(file)).toBe(false);
    }
  });
});
