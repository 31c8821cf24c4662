import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, prettyLogs } from '../src/log.ts';
import { type App, buildApp } from '../src/server.ts';
import { createTestDatabase, type TestDatabase, testConfig } from './support/app.ts';
import { createWorkspaceFixture, type WorkspaceFixture } from './support/factories.ts';

/** Every line the app logs, parsed (pino writes one JSON object per line to the destination). */
const lines: Record<string, any>[] = [];
const sink = new Writable({
  write(chunk, _encoding, done) {
    for (const line of String(chunk).split('\n')) if (line.trim()) lines.push(JSON.parse(line));
    done();
  },
});

let db: TestDatabase;
let app: App;
let url: string;
let ws: WorkspaceFixture;
beforeAll(async () => {
  db = await createTestDatabase();
  const config = testConfig({ HOST: '127.0.0.1', PORT: 0, LOG_LEVEL: 'debug', RATE_LIMIT_PER_MINUTE: 5 });
  app = await buildApp(config, { database: db.database, migrate: false, logger: createLogger(config, sink) });
  ({ url } = await app.start());
  ws = await createWorkspaceFixture(db.database.prisma);
});
afterAll(async () => {
  await app.stop();
  await db.close();
});

const PINO_ERROR = 50;

const gql = (query: string, key?: string, requestId?: string) =>
  fetch(`${url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...(requestId ? { 'x-request-id': requestId } : {}),
    },
    body: JSON.stringify({ query }),
  });

describe('logs', () => {
  it('client errors (NOT_FOUND, UNAUTHENTICATED, FORBIDDEN, bad input, rate limit) log below error level', async () => {
    const notFound = await gql('{ job(id: "job_doesnotexist") { id } }', ws.ownerKey, 'req-not-found');
    expect((await notFound.json()).errors[0].extensions.code).toBe('NOT_FOUND');

    const unauthenticated = await gql('{ viewer { id } }', 'aw_live_not_a_real_key', 'req-unauthenticated');
    expect(unauthenticated.status).toBe(401);
    expect((await unauthenticated.json()).errors[0].extensions.code).toBe('UNAUTHENTICATED');

    const forbidden = await gql('{ recommendedJobs(first: 5) { id } }', ws.ownerKey, 'req-forbidden');
    expect((await forbidden.json()).errors[0].extensions.code).toBe('FORBIDDEN');

    const badInput = await gql(
      '{ agents(filter: { skills: ["%%%"] }, first: 5) { edges { node { id } } } }',
      ws.ownerKey,
    );
    expect((await badInput.json()).errors[0].extensions.code).toBe('BAD_USER_INPUT');

    const rest = await fetch(`${url}/api/jobs/job_doesnotexist`, {
      headers: { authorization: `Bearer ${ws.ownerKey}` },
    });
    expect(rest.status).toBe(404);

    const mcp = await fetch(`${url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(mcp.status).toBe(401);

    // The same (anonymous) client until the limit answers 429.
    let limited: Response | undefined;
    for (let i = 0; i < 10 && !limited; i++) {
      const res = await gql('{ __typename }');
      if (res.status === 429) limited = res;
      else await res.arrayBuffer();
    }
    expect(limited?.status).toBe(429);

    const errors = lines.filter((l) => l.level >= PINO_ERROR);
    expect(errors.map((l) => ({ msg: l.msg, code: l.code, err: l.err?.message }))).toEqual([]);
    // Still logged, with the code and the request id, so they can be found.
    expect(lines).toContainEqual(expect.objectContaining({ requestId: 'req-not-found', code: 'NOT_FOUND' }));
  });

  it('an unexpected error is still logged at error level, with its stack', async () => {
    const before = lines.length;
    // A real fault: the app's database goes away under it (its pool is closed).
    const gone = await createTestDatabase();
    const other = await createWorkspaceFixture(gone.database.prisma);
    const config = testConfig({ LOG_LEVEL: 'debug' });
    const broken = await buildApp(config, {
      database: gone.database,
      migrate: false,
      logger: createLogger(config, sink),
    });
    await gone.close();
    try {
      const res = await broken.fetch('http://x/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${other.ownerKey}` },
        body: JSON.stringify({ query: '{ viewer { id } }' }),
      });
      expect((await res.json()).errors[0].message).toBe('Unexpected error.');
    } finally {
      await broken.stop();
    }
    const errors = lines.slice(before).filter((l) => l.level >= PINO_ERROR);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((l) => typeof l.err?.stack === 'string')).toBe(true);
  });

  it('pretty output only on a terminal in development; JSON otherwise', () => {
    expect(prettyLogs({ NODE_ENV: 'development' }, true)).toBe(true);
    expect(prettyLogs({ NODE_ENV: 'development' }, false)).toBe(false);
    expect(prettyLogs({ NODE_ENV: 'development' }, undefined)).toBe(false);
    expect(prettyLogs({ NODE_ENV: 'production' }, true)).toBe(false);
    expect(prettyLogs({ NODE_ENV: 'test' }, true)).toBe(false);
  });
});
