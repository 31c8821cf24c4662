import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../src/db/client.ts';
import { type App, buildApp } from '../src/server.ts';
import { createTestDatabase, gql, type TestDatabase, testConfig } from './support/app.ts';
import { createWorkspaceFixture, postJobFixture, type WorkspaceFixture } from './support/factories.ts';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.ts';

/**
 * PostgreSQL goes away for a moment: the API answers a typed, retryable error (HTTP 503,
 * Retry-After, SERVICE_UNAVAILABLE), never "Unexpected error.", and works again once it is back.
 * The outage is staged with a TCP proxy between the app and the shared PostgreSQL, never by
 * stopping the server.
 */
describe('database outage', () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let viaProxy: Database;
  let app: App;
  let ws: WorkspaceFixture;
  let jobGid: string;
  let skipReason: string | null = null;

  beforeAll(async () => {
    db = await createTestDatabase();
    if (!db.url) {
      skipReason = 'needs PostgreSQL (DATABASE_URL): the outage is staged with a TCP proxy in front of it';
      return;
    }
    const url = new URL(db.url);
    proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
    url.port = String(proxy.port);
    viaProxy = await openDatabase({ url: url.toString(), poolSize: 4 });
    app = await buildApp(testConfig({ OUTBOX_DISPATCHER: false }), { database: viaProxy, migrate: false });
    ws = await createWorkspaceFixture(db.database.prisma);
    ({ jobGid } = await postJobFixture(db.database.prisma, ws));
  });
  afterAll(async () => {
    proxy?.restore();
    await app?.stop();
    await proxy?.close();
    await db.close();
  });

  const JOB = `query($id: ID!) { job(id: $id) { id title } }`;
  const raw = (query: string, variables: Record<string, unknown>) =>
    app.fetch('http://test.local/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ws.ownerKey}` },
      body: JSON.stringify({ query, variables }),
    });

  it('answers 503 + Retry-After + SERVICE_UNAVAILABLE while PostgreSQL is unreachable, then works again', async (ctx) => {
    if (skipReason) return ctx.skip(skipReason);
    expect((await gql(app, JOB, { id: jobGid }, ws.ownerKey)).data.job.id).toBe(jobGid);

    proxy.cut();
    for (const [query, variables] of [
      [JOB, { id: jobGid }],
      [`mutation($id: ID!) { updateJob(id: $id, input: { title: "x" }) { __typename } }`, { id: jobGid }],
    ] as const) {
      const res = await raw(query, variables);
      const body = await res.json();
      expect(res.status).toBe(503);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(body.errors[0].extensions.code).toBe('SERVICE_UNAVAILABLE');
      expect(body.errors[0].message).not.toBe('Unexpected error.');
    }

    proxy.restore();
    const back = await gql(app, JOB, { id: jobGid }, ws.ownerKey);
    expect(back.status).toBe(200);
    expect(back.data.job.id).toBe(jobGid);
  });

  it('a query that meets one dropped connection is retried once and answers', async (ctx) => {
    if (skipReason) return ctx.skip(skipReason);
    proxy.cut();
    expect((await raw(JOB, { id: jobGid })).status).toBe(503);
    proxy.restore(1);
    const res = await gql(app, JOB, { id: jobGid }, ws.ownerKey);
    expect(res.errors).toBeUndefined();
    expect(res.data.job.id).toBe(jobGid);
  });
});
