import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import semver from 'semver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { introspectionEnabled } from '../src/hardening.ts';
import { createTestDatabase, type TestDatabase } from './support/app.ts';

// No Docker engine runs here: the image is checked by reading what it is built from, and its entry
// command and health check are run as they are written, against a real database.

const root = resolve(import.meta.dirname, '..');
const read = (file: string) => readFileSync(resolve(root, file), 'utf8');

/** Dockerfile instructions, continuation lines joined, comments dropped. */
function instructions(dockerfile: string): { op: string; args: string }[] {
  return dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [op, ...rest] = l.split(/\s+/);
      return { op: op!.toUpperCase(), args: rest.join(' ') };
    });
}

const dockerfile = instructions(read('Dockerfile'));
const last = (op: string) => dockerfile.filter((i) => i.op === op).at(-1);
/** The exec-form command (JSON array) of a CMD or HEALTHCHECK's CMD. */
const execForm = (args: string) => JSON.parse(args) as string[];

const pkg = JSON.parse(read('package.json')) as { engines: { node: string } };
const nodeMajor = Number(read('.nvmrc').trim().replace(/^v/, '').split('.')[0]);

/** Lockfile entries that cannot agree with our Node, each with the reason it is tolerated. */
const ENGINE_EXCEPTIONS: Record<string, string> = {
  // prisma 7.10.1 pins @prisma/dev 0.24.17, which pins it; only `prisma dev` loads it (a dynamic
  // import), and stack-notes.md lists `prisma dev` as unusable on Node 20. No release accepts Node 20.
  'node_modules/@prisma/streams-local': 'prisma dev only',
};

describe('the image is built from', () => {
  it('one Node version: Dockerfile FROM, .nvmrc, package.json engines and the README agree', () => {
    const from = /^node:(\d+)(?:[.-]|$)/.exec(last('FROM')!.args);
    expect(from, 'FROM node:<major>...').not.toBeNull();
    expect(Number(from![1])).toBe(nodeMajor);
    const range = pkg.engines.node;
    expect(semver.minVersion(range)?.major).toBe(nodeMajor);
    // One major only: a newer major is not claimed until CI runs it.
    expect(semver.intersects(range, `>=${nodeMajor + 1}`)).toBe(false);
    expect(semver.satisfies(process.versions.node, range), `this machine's Node ${process.versions.node}`).toBe(true);
    const readme = read('README.md');
    const stated = [...readme.matchAll(/Node\.js (\d+)\b/g)].map((m) => Number(m[1]));
    expect(stated.length).toBeGreaterThan(0);
    expect(new Set(stated)).toEqual(new Set([nodeMajor]));
  });

  it('a lockfile whose every package accepts that Node', () => {
    const lock = JSON.parse(read('package-lock.json')) as {
      packages: Record<string, { version?: string; engines?: { node?: string } | string[] }>;
    };
    const oldest = semver.minVersion(pkg.engines.node)!.version;
    const rejecting = Object.entries(lock.packages)
      .filter(([path]) => path && !ENGINE_EXCEPTIONS[path])
      .filter(([, p]) => {
        const range = Array.isArray(p.engines) ? undefined : p.engines?.node;
        return range !== undefined && !semver.satisfies(oldest, range);
      })
      .map(([path, p]) => `${path}@${p.version} wants node ${(p.engines as { node: string }).node}`);
    expect(rejecting).toEqual([]);
  });

  it('node as the entry process (exec form, no npm in front), a HEALTHCHECK on /readyz, a non-root USER', () => {
    expect(dockerfile.some((i) => i.op === 'ENTRYPOINT')).toBe(false);
    const cmd = execForm(last('CMD')!.args);
    expect(cmd[0]).toBe('node');
    expect(cmd).not.toContain('npm');

    const healthcheck = last('HEALTHCHECK');
    expect(healthcheck, 'HEALTHCHECK').toBeDefined();
    const probe = execForm(healthcheck!.args.replace(/^(--\S+\s+)*CMD\s+/, ''));
    expect(probe[0]).toBe('node');
    expect(probe.join(' ')).toContain('/readyz');

    const userIndex = dockerfile.findLastIndex((i) => i.op === 'USER');
    expect(userIndex, 'USER').toBeGreaterThan(-1);
    expect(['root', '0', '0:0']).not.toContain(dockerfile[userIndex]!.args);
    expect(userIndex).toBeLessThan(dockerfile.findLastIndex((i) => i.op === 'CMD'));
  });

  it('docker compose: GraphiQL comes with introspection, and PostgreSQL and Redis publish no host ports', () => {
    const compose = read('docker-compose.yml');
    // service name -> its lines (two-space indented blocks under `services:`), comments dropped
    const services: Record<string, string[]> = {};
    let current: string | undefined;
    for (const line of compose.split('\n')) {
      if (/^\S/.test(line)) current = undefined;
      const name = /^ {2}([a-z0-9_-]+):\s*$/.exec(line)?.[1];
      if (name) current = name;
      else if (current && !line.trim().startsWith('#')) {
        services[current] = [...(services[current] ?? []), line];
      }
    }
    for (const name of ['postgres', 'redis']) {
      expect(services[name], name).toBeDefined();
      expect(
        services[name]!.some((l) => /^\s+ports:/.test(l)),
        `${name} publishes ports`,
      ).toBe(false);
    }
    const env = Object.fromEntries(
      services.app!.flatMap((l) => {
        const m = /^\s{6}([A-Z_]+):\s*"?([^"]*)"?\s*$/.exec(l);
        return m ? [[m[1]!, m[2]!]] : [];
      }),
    );
    expect(env.GRAPHIQL).toBe('true');
    // The image runs with NODE_ENV=production: the compose settings must load and keep GraphiQL's docs.
    const config = loadConfig({ ...env, NODE_ENV: 'production' });
    expect(introspectionEnabled(config)).toBe(true);
  });
});

// ── the entry command and the health check, run as written ──

let db: TestDatabase;
const children: ChildProcess[] = [];
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await db.close();
});

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => done(port));
    });
  });
}

function run(command: string[], env: Record<string, string>) {
  const child = spawn(command[0] === 'node' ? process.execPath : command[0]!, command.slice(1), {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (c) => (output += c));
  child.stderr!.on('data', (c) => (output += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => r({ code, signal })),
  );
  return { child, exited, output: () => output };
}

describe.skipIf(!process.env.DATABASE_URL)('the image runs', () => {
  it('CMD serves, HEALTHCHECK passes once ready, SIGTERM to that one process drains it and exits 0', async () => {
    const port = String(await freePort());
    const env = {
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: port,
      DATABASE_URL: db.url!,
      REDIS_URL: '',
      LOG_LEVEL: 'info',
    };
    const healthcheck = execForm(last('HEALTHCHECK')!.args.replace(/^(--\S+\s+)*CMD\s+/, ''));
    const probe = async () => (await run(healthcheck, { PORT: port }).exited).code;

    const server = run(execForm(last('CMD')!.args), env);
    // Wait until it listens (its log line), then on the condition the image's HEALTHCHECK checks.
    await new Promise<void>((ready) => {
      const check = () => {
        if (/Agentwork listening/.test(server.output()) || server.child.exitCode !== null) ready();
        else setTimeout(check, 100);
      };
      check();
    });
    let healthy = false;
    while (!healthy && server.child.exitCode === null) {
      healthy = (await probe()) === 0;
      if (!healthy) await new Promise((r) => setTimeout(r, 250)); // poll interval, as Docker's
    }
    expect(healthy, server.output()).toBe(true);

    // The spawned process is the server itself: the signal needs no forwarding.
    server.child.kill('SIGTERM');
    const { code, signal } = await server.exited;
    expect({ code, signal }, server.output()).toEqual({ code: 0, signal: null });
    expect(server.output()).toMatch(/"msg":"stopped"/);
    // Nothing left listening on the port (no orphaned server).
    expect(await probe()).toBe(1);
  }, 300_000);
});
