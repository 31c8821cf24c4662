import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../src/server.ts';
import { createTestDatabase, gql, type TestDatabase, testConfig } from './support/app.ts';
import { createWorkspaceFixture, postJobFixture } from './support/factories.ts';
import { settle, subscribe } from './support/ws.ts';

/**
 * Redis goes away: queries and mutations keep working, events wait in the outbox, /readyz reports
 * the degraded state, and subscribers receive the events once Redis is back. Runs a private
 * redis-server on its own port (the shared one is used by other test files at the same time).
 */
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

const stop = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });

const skipReason = 'needs the redis-server binary on PATH (a private one is started and killed)';
describe.skipIf(!hasRedisServer)('Redis faults', { meta: { skipReason } }, () => {
  let db: TestDatabase;
  let app: App;
  let url: string;
  let port: number;
  let redis: ChildProcess;

  beforeAll(async () => {
    port = await freePort();
    redis = await startRedis(port);
    db = await createTestDatabase();
    app = await buildApp(testConfig({ REDIS_URL: `redis://127.0.0.1:${port}`, OUTBOX_POLL_MS: 100 }), {
      database: db.database,
      migrate: false,
    });
    ({ url } = await app.start());
  });
  afterAll(async () => {
    await app.stop();
    if (redis.exitCode === null) await stop(redis);
    await db.close();
  });

  it('keeps serving while Redis is down and delivers the waiting events when it is back', async () => {
    const ws = await createWorkspaceFixture(db.database.prisma);
    const { jobGid, jobId } = await postJobFixture(db.database.prisma, ws);
    const sub = subscribe(
      url,
      ws.ownerKey,
      `subscription($id: ID!) { jobEvents(jobId: $id) { __typename eventId ... on JobUpdated { fields } } }`,
      { id: jobGid },
    );
    await settle(300);

    await stop(redis);
    // Wait until the server has noticed (its clients see the closed sockets).
    let ready = await fetch(`${url}/readyz`);
    for (let i = 0; i < 50 && ready.status !== 503; i++) {
      await settle(100);
      ready = await fetch(`${url}/readyz`);
    }
    expect(ready.status).toBe(503);
    expect((await ready.json()).checks.redis).toMatch(/^error/);

    const UPDATE = `mutation($id: ID!, $t: String!) { updateJob(id: $id, input: { title: $t }) { __typename } }`;
    for (const title of ['one', 'two', 'three']) {
      expect((await gql(app, UPDATE, { id: jobGid, t: `Title ${title}` }, ws.ownerKey)).data.updateJob.__typename).toBe(
        'UpdateJobPayload',
      );
    }
    expect(
      (await gql(app, `query($id: ID!) { job(id: $id) { title } }`, { id: jobGid }, ws.ownerKey)).data.job.title,
    ).toBe('Title three');
    await settle(500);
    const pending = await db.database.prisma.outboxEvent.count({
      where: { jobId, type: 'JobUpdated', publishedAt: null },
    });
    expect(pending).toBe(3);
    // (The job's JobPosted may arrive before or after subscribing; only the updates matter here.)
    const updates = () => sub.events.filter((e) => e.__typename === 'JobUpdated');
    expect(updates()).toHaveLength(0);

    redis = await startRedis(port);
    await sub.waitFor(() => updates().length >= 3, 15_000);
    expect(updates().map((e) => e.__typename)).toEqual(['JobUpdated', 'JobUpdated', 'JobUpdated']);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    // The subscriber may read them from the outbox before the dispatcher has marked them sent.
    for (
      let i = 0;
      i < 150 && (await db.database.prisma.outboxEvent.count({ where: { jobId, publishedAt: null } }));
      i++
    )
      await settle(100);
    expect(await db.database.prisma.outboxEvent.count({ where: { jobId, publishedAt: null } })).toBe(0);
    await sub.dispose();
  });
});
