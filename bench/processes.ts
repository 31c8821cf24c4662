/**
 * Child processes for the HTTP benchmarks: the real server (`node --import tsx src/main.ts`) or the
 * bare yoga baseline (`bench/bare-yoga.ts`), each on a free port, ready once a health URL answers 200.
 * Also CPU accounting from /proc (Linux), to tell which process a saturated run is waiting on.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');

export interface ChildServer {
  child: ChildProcess;
  url: string;
  /** The tail of its stdout + stderr (drained for the whole run so a full pipe never blocks it). */
  output(): string;
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
export const killChildren = () => {
  for (const child of children) if (child.exitCode === null && !child.signalCode) child.kill('SIGKILL');
};
process.on('exit', killChildren);

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

/** Spawns `node --import tsx <entry>` with PORT set and waits until GET `health` answers 200 (60 s at most). */
export async function startChild(
  entry: string,
  env: NodeJS.ProcessEnv,
  health: string,
  nodeArgs: string[] = [],
): Promise<ChildServer> {
  const port = await freePort();
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', entry], {
    cwd: ROOT,
    env: { ...env, HOST: '127.0.0.1', PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let buffer = '';
  const append = (chunk: Buffer) => {
    buffer = (buffer + chunk.toString()).slice(-20_000);
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  let exited = false;
  child.once('exit', () => {
    exited = true;
    children.delete(child);
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(`${entry} exited before it was ready: ${buffer}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${entry} not ready within 60 s: ${buffer}`);
    }
    try {
      const res = await fetch(`${url}${health}`);
      await res.arrayBuffer();
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    child,
    url,
    output: () => buffer,
    stop: () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null || child.signalCode) return done();
        const force = setTimeout(() => child.kill('SIGKILL'), 15_000);
        child.once('exit', () => {
          clearTimeout(force);
          done();
        });
        child.kill('SIGTERM');
      }),
  };
}

// ───────────── CPU accounting (Linux /proc) ─────────────

function statFields(pid: number | string): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return [
      stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
      ...stat.slice(stat.lastIndexOf(')') + 2).split(' '),
    ];
  } catch {
    return null;
  }
}

/** CPU seconds (user + system) used so far by one process. */
export function cpuOf(pid: number | undefined): number {
  const f = pid ? statFields(pid) : null;
  return f ? (Number(f[12]) + Number(f[13])) / 100 : 0; // utime, stime in USER_HZ ticks
}

/** CPU seconds used so far by every process named `name` (e.g. all PostgreSQL backends). */
export function cpuOfName(name: string): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const f = statFields(entry);
    if (f && f[0] === name) total += (Number(f[12]) + Number(f[13])) / 100;
  }
  return total;
}

/** Whole-machine busy CPU seconds (all cores) from /proc/stat. */
export function machineBusy(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return (v.reduce((a, b) => a + b, 0) - idle) / 100;
}

export interface CpuSample {
  at: number;
  values: Record<string, number>;
}

/** Samples CPU counters of the named sources; `share(a, b)` turns two samples into % of one core. */
export function cpuSampler(sources: Record<string, () => number>) {
  const sample = (): CpuSample => ({
    at: performance.now(),
    values: Object.fromEntries(Object.entries(sources).map(([k, f]) => [k, f()])),
  });
  const share = (a: CpuSample, b: CpuSample) => {
    const seconds = (b.at - a.at) / 1000;
    return Object.fromEntries(
      Object.keys(a.values).map((k) => [k, Math.round((100 * (b.values[k]! - a.values[k]!)) / seconds)]),
    ) as Record<string, number>;
  };
  return { sample, share };
}
