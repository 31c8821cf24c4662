import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../src/server.ts';
import { createTestDatabase, gql, type TestDatabase, testConfig } from './support/app.ts';
import { createAgentFixture, createWorkspaceFixture, postJobFixture } from './support/factories.ts';
import { startTcpProxy } from './support/tcp-proxy.ts';
import { subscribe } from './support/ws.ts';

/**
 * Subscriptions resume after an event position (`seq`): the `after` argument, SSE `Last-Event-ID`,
 * and the catch-up a process does by itself when its Redis subscriber comes back.
 */

const UPDATE = `mutation($id: ID!, $t: String!) { updateJob(id: $id, input: { title: $t }) { __typename } }`;

async function until<T>(probe: () => Promise<T | false | null | undefined>, what: string, timeoutMs = 15_000) {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Positions of a job's events once the dispatcher has given them one, in order. */
async function jobSeqs(db: TestDatabase, jobId: string, type?: string) {
  const rows = await db.database.prisma.outboxEvent.findMany({
    where: { jobId, ...(type ? { type } : {}) },
    orderBy: { id: 'asc' },
  });
  return rows;
}

describe('resuming after a seq (one process)', () => {
  let db: TestDatabase;
  let app: App;
  let url: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await buildApp(testConfig({ OUTBOX_POLL_MS: 50 }), { database: db.database, migrate: false });
    ({ url } = await app.start());
  });
  afterAll(async () => {
    await app.stop();
    await db.close();
  });

  async function jobWithUpdates(n: number) {
    const ws = await createWorkspaceFixture(db.database.prisma);
    const { jobGid, jobId } = await postJobFixture(db.database.prisma, ws);
    for (let i = 1; i <= n; i++) await gql(app, UPDATE, { id: jobGid, t: `Title ${i}` }, ws.ownerKey);
    const rows = await until(async () => {
      const r = await jobSeqs(db, jobId);
      return r.length === n + 1 && r.every((e) => e.publishedAt) && r;
    }, 'the events to be published');
    return { ws, jobGid, jobId, seqs: rows.map((r) => r.seq!.toString()) };
  }

  it('jobEvents(after) delivers the events after it from the outbox, then live ones, each once and in order', async () => {
    const { ws, jobGid, jobId, seqs } = await jobWithUpdates(3);
    // seqs: JobPosted, Title 1, Title 2, Title 3. Resume after "Title 1".
    const sub = subscribe(
      url,
      ws.ownerKey,
      `subscription($id: ID!, $after: String) { jobEvents(jobId: $id, after: $after) { __typename seq ... on JobUpdated { fields } } }`,
      { id: jobGid, after: seqs[1] },
    );
    await sub.waitFor((e) => e.length >= 2);
    expect(sub.events.map((e) => e.seq)).toEqual([seqs[2], seqs[3]]);
    await gql(app, UPDATE, { id: jobGid, t: 'Title 4' }, ws.ownerKey);
    await sub.waitFor((e) => e.length >= 3);
    const all = (await jobSeqs(db, jobId)).map((r) => r.seq?.toString());
    expect(sub.events.map((e) => e.seq)).toEqual([seqs[2], seqs[3], all[4]]);
    expect(sub.events.every((e) => e.__typename === 'JobUpdated')).toBe(true);
    await sub.dispose();
  });

  it('catch-up applies the live visibility rules: jobPosted(after) skips jobs the agent may not see', async () => {
    const ws = await createWorkspaceFixture(db.database.prisma);
    const other = await createWorkspaceFixture(db.database.prisma);
    const agent = await createAgentFixture(db.database.prisma, ws);
    const first = await postJobFixture(db.database.prisma, ws, { visibility: 'WORKSPACE' });
    const hidden = await postJobFixture(db.database.prisma, other, { visibility: 'PRIVATE' });
    const seen = await postJobFixture(db.database.prisma, other, { visibility: 'PUBLIC' });
    const rows = await until(async () => {
      const r = await db.database.prisma.outboxEvent.findMany({
        where: { type: 'JobPosted', jobId: { in: [first.jobId, hidden.jobId, seen.jobId] } },
        orderBy: { seq: 'asc' },
      });
      return r.length === 3 && r.every((e) => e.seq !== null) && r;
    }, 'positions');
    const sub = subscribe(url, agent.key, `subscription($a: String) { jobPosted(after: $a) { id } }`, {
      a: rows[0]!.seq!.toString(),
    });
    const mine = await postJobFixture(db.database.prisma, ws, { visibility: 'WORKSPACE' });
    // Ordered by position: the PUBLIC job (from the outbox) before the one posted live; never the PRIVATE one.
    await sub.waitFor((e) => e.some((j) => j.id === mine.jobGid));
    expect(sub.events.map((j) => j.id)).toEqual([seen.jobGid, mine.jobGid]);
    await sub.dispose();
  });

  it('agentEvents(after) resumes the agent stream', async () => {
    const ws = await createWorkspaceFixture(db.database.prisma);
    const agent = await createAgentFixture(db.database.prisma, ws);
    const invite = `mutation($j: ID!, $a: ID!) { inviteAgent(jobId: $j, agentId: $a) { __typename } }`;
    const jobs = [];
    for (let i = 0; i < 3; i++) {
      const job = await postJobFixture(db.database.prisma, ws, { visibility: 'PRIVATE' });
      expect(
        (await gql(app, invite, { j: job.jobGid, a: agent.agentGid }, ws.ownerKey)).data.inviteAgent.__typename,
      ).toBe('InviteAgentPayload');
      jobs.push(job);
    }
    const invited = await until(async () => {
      const r = await db.database.prisma.outboxEvent.findMany({
        where: { agentId: agent.agentId, type: 'AgentInvited' },
        orderBy: { seq: 'asc' },
      });
      return r.length === 3 && r.every((e) => e.seq !== null) && r;
    }, 'invitations');
    const sub = subscribe(
      url,
      agent.key,
      `subscription($a: String) { agentEvents(after: $a) { __typename seq jobId } }`,
      {
        a: invited[0]!.seq!.toString(),
      },
    );
    await sub.waitFor((e) => e.length >= 2);
    expect(sub.events.map((e) => e.jobId)).toEqual([jobs[1]!.jobGid, jobs[2]!.jobGid]);
    await sub.dispose();
  });

  it('a malformed `after` is a validation error', async () => {
    const ws = await createWorkspaceFixture(db.database.prisma);
    const { jobGid } = await postJobFixture(db.database.prisma, ws);
    const sub = subscribe(
      url,
      ws.ownerKey,
      `subscription($id: ID!) { jobEvents(jobId: $id, after: "12; DROP") { seq } }`,
      {
        id: jobGid,
      },
    );
    await sub.waitFor(() => sub.errors.length > 0).catch(() => {});
    expect(JSON.stringify(sub.errors)).toContain('BAD_USER_INPUT');
    expect(JSON.stringify(sub.errors)).toContain('after');
    await sub.dispose();
  });

  it('SSE: each event carries `id: <seq>`, and Last-Event-ID resumes after it', async () => {
    const { ws, jobGid, seqs } = await jobWithUpdates(3);
    const controller = new AbortController();
    const res = await app.fetch('http://test.local/graphql', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        authorization: `Bearer ${ws.ownerKey}`,
        'last-event-id': seqs[1]!,
      },
      body: JSON.stringify({
        query: `subscription($id: ID!) { jobEvents(jobId: $id) { seq } }`,
        variables: { id: jobGid },
      }),
      signal: controller.signal,
    });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    let text = '';
    const events = () =>
      text
        .split('\n\n')
        .filter((block) => block.includes('event: next'))
        .map((block) => ({
          id: /^id: (.*)$/m.exec(block)?.[1],
          data: JSON.parse(/^data: (.*)$/m.exec(block)![1]!),
        }));
    while (events().length < 2) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    expect(events().map((e) => e.id)).toEqual([seqs[2], seqs[3]]);
    expect(events().map((e) => e.data.data.jobEvents.seq)).toEqual([seqs[2], seqs[3]]);
    expect(events().map((e) => e.data.extensions?.seq)).toEqual([seqs[2], seqs[3]]);
    controller.abort();
    await reader.cancel().catch(() => {});
  });
});

/* ------------------------------------------------------------------------------------------------ */

let hasRedisServer = true;
try {
  execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
} catch {
  hasRedisServer = false;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function startRedis(port: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout!.on('data', (chunk) => {
      if (String(chunk).includes('Ready to accept connections')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited ${code}`)));
  });
}

const killChild = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });

/** `npm start`'s entry point as a separate OS process; resolves with its URL. */
function startProcess(
  env: Record<string, string>,
  children: ChildProcess[],
): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { ...process.env, PORT: '0', LOG_LEVEL: 'info', NODE_ENV: 'test', OUTBOX_POLL_MS: '100', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let buffer = '';
    // Generous: a loaded CI machine takes long to compile the TypeScript on start.
    const timer = setTimeout(() => reject(new Error(`server did not start: ${buffer}`)), 120_000);
    child.stdout!.on('data', (chunk) => {
      buffer += chunk;
      const match = /"url":"(http:\/\/[^"]+)"/.exec(buffer);
      if (match) {
        clearTimeout(timer);
        resolve({ child, url: match[1]! });
      }
    });
    child.stderr!.on('data', (chunk) => {
      buffer += chunk;
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${buffer}`)));
  });
}

describe('Redis killed between two processes while events flow', () => {
  let db: TestDatabase;
  let skipReason: string | null = null;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    if (!hasRedisServer) skipReason = 'needs the redis-server binary (runs a private Redis)';
    else if (!db.url) skipReason = 'needs PostgreSQL (DATABASE_URL): processes cannot share an in-memory PGlite';
  });
  afterAll(async () => {
    await Promise.all(children.map(killChild));
    await db.close();
  });

  it('the subscriber on process B receives every event exactly once, in order', { timeout: 300_000 }, async (ctx) => {
    if (skipReason) return ctx.skip(skipReason);
    const redisPort = await freePort();
    let redis = await startRedis(redisPort);
    children.push(redis);
    // B reaches Redis through a proxy the test holds closed for a while after Redis is back: B's
    // subscriber is then still reconnecting while A already publishes (the gap being closed).
    const bRedis = await startTcpProxy({ host: '127.0.0.1', port: redisPort });
    const [a, b] = await Promise.all([
      startProcess({ DATABASE_URL: db.url!, REDIS_URL: `redis://127.0.0.1:${redisPort}` }, children),
      startProcess(
        { DATABASE_URL: db.url!, REDIS_URL: `redis://127.0.0.1:${bRedis.port}`, OUTBOX_DISPATCHER: 'false' },
        children,
      ),
    ]);
    const target = {
      fetch: (input: string | URL | Request, init?: RequestInit) =>
        fetch(String(input).replace('http://test.local', a.url), init),
    };

    const ws = await createWorkspaceFixture(db.database.prisma);
    const { jobGid, jobId } = await postJobFixture(db.database.prisma, ws);
    const sub = subscribe(
      b.url,
      ws.ownerKey,
      `subscription($id: ID!) { jobEvents(jobId: $id) { __typename seq eventId } }`,
      {
        id: jobGid,
      },
    );
    let n = 0;
    const update = async () => {
      const r = await gql(target, UPDATE, { id: jobGid, t: `Title ${++n}` }, ws.ownerKey);
      expect(r.data.updateJob.__typename).toBe('UpdateJobPayload');
    };
    // Live before the fault: update until B has delivered one (no sleep to "settle" the subscription).
    const updates = () => sub.events.filter((e) => e.__typename === 'JobUpdated');
    while (updates().length === 0) {
      await update();
      await new Promise((r) => setTimeout(r, 20));
    }
    const firstSeq = BigInt(updates()[0].seq);
    for (let i = 0; i < 5; i++) await update();
    await sub.waitFor(() => updates().length >= 3);

    // Kill Redis mid-stream; keep committing.
    await killChild(redis);
    bRedis.cut();
    for (let i = 0; i < 5; i++) await update();

    // Redis back on the same port; B stays cut off until A has published events it cannot hear.
    redis = await startRedis(redisPort);
    children.push(redis);
    const published = async () =>
      db.database.prisma.outboxEvent.count({ where: { jobId, publishedAt: null } }).then((c) => c === 0);
    for (let i = 0; i < 5; i++) await update();
    await until(published, 'A to publish the events committed while Redis was down');
    const receivedBeforeRestore = updates().length;
    bRedis.restore();
    for (let i = 0; i < 5; i++) await update();
    await until(published, 'the last events to be published');

    const expected = (await jobSeqs(db, jobId, 'JobUpdated'))
      .map((r) => r.seq!)
      .filter((s) => s >= firstSeq)
      .map(String);
    await sub.waitFor(() => updates().length >= expected.length, 20_000).catch(() => {});
    // Nothing published while B was cut off reached B live.
    expect(receivedBeforeRestore).toBeLessThan(expected.length - 10);
    const got = updates().map((e) => e.seq);
    expect(got).toEqual(expected);
    // Exactly once: no event (of any type: the job may also see other events meanwhile) arrived twice.
    expect(new Set(sub.events.map((e) => e.eventId)).size, JSON.stringify(sub.events.map((e) => e.__typename))).toBe(
      sub.events.length,
    );
    await sub.dispose();
    await bRedis.close();
  });
});
