import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

/**
 * One process per embedded database directory. PGlite is a single-process database: a second
 * process opening the same directory (the CLI while `npm start` runs) writes into files the first
 * one keeps overwriting from memory, so what the second wrote is lost. `<DATA_DIR>/agentwork.lock`
 * holds the owner's pid; a lock whose pid is dead (a `kill -9`, a crash) is stale and taken over.
 *
 * Liveness: `kill(pid, 0)`, and on Linux the process's start time from /proc, so a pid reused by
 * another process (a container restarted on the same volume gets the same small pids) does not
 * keep a dead owner's lock alive.
 */

export const LOCK_FILE = 'agentwork.lock';

export interface LockOwner {
  pid: number;
  /** What the owner runs, for the message (e.g. `src/main.ts`). */
  command?: string;
  /** /proc start time (clock ticks since boot), Linux only. */
  startTime?: string;
  hostname?: string;
  since?: string;
}

/** The embedded database directory is open in another live process. */
export class DataDirLockedError extends Error {
  override name = 'DataDirLockedError';
  constructor(
    public readonly dataDir: string,
    public readonly owner: LockOwner,
    public readonly lockFile: string,
  ) {
    super(
      `The embedded database in ${dataDir} is in use by another process (pid ${owner.pid}${owner.command ? `, ${owner.command}` : ''}). ` +
        'PGlite allows one process per directory; a second one would lose its writes. ' +
        `Stop that process first (Ctrl-C in its terminal, or kill ${owner.pid}), or use the running server's API. ` +
        `If no such process runs, delete ${lockFile}.`,
    );
  }
}

/** Directories this process holds, so a second open in the same process is refused too. */
const held = new Set<string>();

function procStartTime(pid: number): string | undefined {
  try {
    // Field 22 of /proc/<pid>/stat; the command (field 2) may contain spaces, so count after ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function isAlive(owner: LockOwner): boolean {
  if (!Number.isInteger(owner.pid) || owner.pid <= 0) return false;
  // Another host (a shared volume): its processes cannot be checked from here; assume alive.
  if (owner.hostname && owner.hostname !== hostname()) return true;
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    // EPERM: alive, owned by another user.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (owner.startTime) {
    const now = procStartTime(owner.pid);
    if (now !== undefined && now !== owner.startTime) return false;
  }
  return true;
}

function readOwner(file: string): { raw: string; owner: LockOwner | null } | null {
  let raw: string;
  try {
    raw = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  try {
    const owner = JSON.parse(raw) as LockOwner;
    return { raw, owner: typeof owner?.pid === 'number' ? owner : null };
  } catch {
    // Half-written by a process that died while creating it.
    return { raw, owner: null };
  }
}

/**
 * Takes `<dir>/agentwork.lock` for this process, or throws DataDirLockedError naming the live
 * owner (`dataDir` is how the user named the directory, for the message). Returns the release
 * function (idempotent; also run on process exit).
 */
export function lockDataDir(dir: string, dataDir = dir): () => void {
  const file = join(dir, LOCK_FILE);
  if (held.has(file)) {
    throw new DataDirLockedError(dataDir, { pid: process.pid, command: 'this process' }, file);
  }
  const me: LockOwner = {
    pid: process.pid,
    command: process.argv.slice(1).join(' ').slice(0, 200),
    startTime: procStartTime(process.pid),
    hostname: hostname(),
    since: new Date().toISOString(),
  };
  const content = JSON.stringify(me);
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(file, content, { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 5) throw error;
    }
    const current = readOwner(file);
    if (!current) continue; // released meanwhile
    // Our own pid in a lock we do not hold: a previous incarnation (container restart), stale.
    const stale = !current.owner || current.owner.pid === process.pid || !isAlive(current.owner);
    if (!stale) throw new DataDirLockedError(dataDir, current.owner!, file);
    // Take over: move the stale file aside atomically (of two processes doing this at once, one
    // wins); if what we moved is not what we judged stale, someone took it meanwhile: put it back.
    const aside = `${file}.stale-${process.pid}`;
    try {
      renameSync(file, aside);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    const moved = readFileSync(aside, 'utf8');
    if (moved !== current.raw) {
      try {
        linkSync(aside, file);
      } catch {
        // A third process holds it now; the next attempt reads and reports it.
      }
    }
    unlinkSync(aside);
  }
  held.add(file);
  const release = () => {
    if (!held.delete(file)) return;
    process.off('exit', release);
    try {
      if (readFileSync(file, 'utf8') === content) unlinkSync(file);
    } catch {
      // Already gone.
    }
  };
  process.on('exit', release);
  return release;
}
