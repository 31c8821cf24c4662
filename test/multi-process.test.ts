import { type ChildProcess, spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/app.ts';
import { driveJob, EXPECTED_SEQUENCE, JOB_EVENTS } from './support/drive.ts';
import { createAgentFixture, createWorkspaceFixture, postJobFixture } from './support/factories.ts';
import { outboxDrained, probeMessage, subscribe } from './support/ws.ts';

/**
 * Scaling out: several stateless API processes on one PostgreSQL and one Redis. Needs both
 * servers (CI has them); skipped with the reason otherwise.
 *
 * Every wait is on a condition (a process printed its URL, a subscription delivered a marker,
 * the outbox drained); the timeouts below only bound them on a loaded machine, where starting a
 * TypeScript server process can take tens of seconds.
 */
const START_TIMEOUT_MS = 120_000;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

async function redisAvailable(): Promise<boolean> {
  const client = new Redis(REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 5_000,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
    return true;
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

interface Proc {
  child: ChildProcess;
  url: string;
  fetch: (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
}

/** Starts `npm start`'s entry point as a separate OS process and waits for its URL. */
function startProcess(databaseUrl: string, env: Record<string, string> = {}): Promise<Proc> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        REDIS_URL,
        PORT: '0',
        LOG_LEVEL: 'info',
        NODE_ENV: 'test',
        OUTBOX_POLL_MS: '100',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buffer = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${buffer}`)), START_TIMEOUT_MS);
    child.stdout!.on('data', (chunk) => {
      buffer += chunk;
      const match = /"url":"(http:\/\/[^"]+)"/.exec(buffer);
      if (match) {
        clearTimeout(timer);
        const url = match[1]!;
        resolve({ child, url, fetch: (input, init) => fetch(String(input).replace('http://test.local', url), init) });
      }
    });
    child.stderr!.on('data', (chunk) => {
      buffer += chunk;
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${buffer}`)));
  });
}

function kill(proc: Proc, signal: NodeJS.Signals = 'SIGTERM') {
  return new Promise<void>((resolve) => {
    if (proc.child.exitCode !== null || proc.child.signalCode) return resolve();
    proc.child.once('exit', () => resolve());
    proc.child.kill(signal);
  });
}

let db: TestDatabase;
let skipReason: string | null = null;
const procs: Proc[] = [];
/** Publishes marker events straight to Redis, as another process's dispatcher would. */
let publisher: Redis | null = null;

beforeAll(async () => {
  db = await createTestDatabase();
  if (!db.url) skipReason = 'needs PostgreSQL (DATABASE_URL): processes cannot share an in-memory PGlite';
  else if (!(await redisAvailable())) skipReason = `needs Redis at ${REDIS_URL}`;
  if (!skipReason) publisher = new Redis(REDIS_URL);
});
afterAll(async () => {
  await Promise.all(procs.map((p) => kill(p, 'SIGKILL')));
  publisher?.disconnect();
  await db.close();
});

/** A marker on a job's Redis channel (the wire format of the pubsub: `job:event:<id>`, JSON). */
const redisProbe = (jobId: string) => (eventId: string) =>
  publisher!.publish(`job:event:${jobId}`, JSON.stringify(probeMessage(eventId, { jobId })));

describe('two server processes on one PostgreSQL and one Redis', { timeout: 3 * START_TIMEOUT_MS }, () => {
  it('a subscriber on process B receives, in order, every event of a job driven through process A', async (ctx) => {
    if (skipReason) return ctx.skip(skipReason);
    const [a, b] = await Promise.all([startProcess(db.url!), startProcess(db.url!)]);
    procs.push(a, b);
    const ws = await createWorkspaceFixture(db.database.prisma);
    const agent = await createAgentFixture(db.database.prisma, ws);
    const { jobGid, jobId } = await postJobFixture(db.database.prisma, ws);
    const sub = subscribe(b.url, ws.ownerKey, JOB_EVENTS, { id: jobGid });
    await sub.ready(redisProbe(jobId));
    await driveJob(a, ws.ownerKey, agent.key, jobGid);
    const events = await sub.waitFor((e) => e.some((x) => x.__typename === 'ResultSubmitted'));
    expect(events.map((e) => e.__typename)).toEqual(EXPECTED_SEQUENCE);
    await sub.dispose();
    await Promise.all([kill(a), kill(b)]);
  });

  it('SIGKILL of the dispatching process loses nothing: after restart every event arrives exactly once', async (ctx) => {
    if (skipReason) return ctx.skip(skipReason);
    // A dispatches; B serves the subscriber and the rest of the API but does not dispatch.
    let a = await startProcess(db.url!);
    const b = await startProcess(db.url!, { OUTBOX_DISPATCHER: 'false' });
    procs.push(a, b);
    const ws = await createWorkspaceFixture(db.database.prisma);
    const agent = await createAgentFixture(db.database.prisma, ws);
    const { jobGid, jobId } = await postJobFixture(db.database.prisma, ws);
    const sub = subscribe(b.url, ws.ownerKey, JOB_EVENTS, { id: jobGid });
    await sub.ready(redisProbe(jobId));

    // Commit the first events through A and kill it the instant the mutation returns.
    const placed = await fetch(`${a.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${agent.key}` },
      body: JSON.stringify({
        query: `mutation($i: PlaceBidInput!) { placeBid(input: $i) { __typename } }`,
        variables: { i: { jobId: jobGid, message: 'x', estimatedMinutes: 5, requestedCredits: 30 } },
      }),
    });
    expect((await placed.json()).data.placeBid.__typename).toBe('PlaceBidPayload');
    await kill(a, 'SIGKILL');

    // With no dispatcher alive, drive the rest through B: all of it is committed, none published.
    await driveJob(b, ws.ownerKey, agent.key, jobGid);
    const pending = await db.database.prisma.outboxEvent.count({ where: { jobId, publishedAt: null } });
    expect(pending).toBeGreaterThanOrEqual(EXPECTED_SEQUENCE.length - 1);

    a = await startProcess(db.url!);
    procs.push(a);
    const events = await sub.waitFor((e) => e.some((x) => x.__typename === 'ResultSubmitted'));
    // Nothing more is coming: the outbox is drained and a marker published after it arrived.
    await outboxDrained(db.database.prisma, jobId);
    await sub.ready(redisProbe(jobId));
    const ids = sub.events.map((e) => e.eventId);
    expect(new Set(ids).size).toBe(ids.length);
    // The first BidPlaced (maybe published before the kill, maybe after the restart), then the whole run.
    expect(events.map((e) => e.__typename)).toEqual(['BidPlaced', ...EXPECTED_SEQUENCE]);
    expect(await db.database.prisma.outboxEvent.count({ where: { jobId, publishedAt: null } })).toBe(0);
    await sub.dispose();
  });
});
