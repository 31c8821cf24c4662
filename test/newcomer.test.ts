import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.ts';
import { createAgentFixture, createWorkspaceFixture, postJobFixture } from './support/factories.ts';

/** What a newcomer meets first: hints instead of silent nulls, suggestions in development, a forgiving REST mirror. */
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

const post = (app: TestApp, body: unknown, key?: string) =>
  app.app.fetch('http://test.local/graphql', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json',
      ...(key ? { authorization: `Bearer ${key}` } : {}),
    },
    body: JSON.stringify(body),
  });

const rest = (path: string, init: { method?: string; key?: string; body?: unknown } = {}) =>
  t.app.fetch(`http://test.local/api${path}`, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: {
      ...(init.key ? { authorization: `Bearer ${init.key}` } : {}),
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body),
  });

describe('GraphQL for a newcomer', () => {
  it('an anonymous `viewer` answers null with a hint in extensions; with a key, no hint', async () => {
    const res = await post(t, { query: '{ viewer { __typename id } }' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.data.viewer).toBeNull();
    expect(body.extensions?.hint).toMatch(/Authorization/);
    expect(body.extensions.hint).toMatch(/createWorkspace/);
    expect(body.extensions.hint).toMatch(/Bearer aw_live_/);

    // Operations that do not touch viewer stay quiet, and so does a keyed viewer.
    const other = (await (await post(t, { query: '{ __typename }' })).json()) as any;
    expect(other.extensions?.hint).toBeUndefined();
    const ws = await createWorkspaceFixture(t.db.database.prisma);
    const keyed = (await (await post(t, { query: '{ viewer { id } }' }, ws.ownerKey)).json()) as any;
    expect(keyed.data.viewer.id).toMatch(/^mem_/);
    expect(keyed.extensions?.hint).toBeUndefined();
  });

  it('suggests field names outside production, never in production', async () => {
    const ws = await createWorkspaceFixture(t.db.database.prisma);
    const dev = await createTestApp({ config: { NODE_ENV: 'development' }, database: t.db });
    const prod = await createTestApp({ config: { NODE_ENV: 'production' }, database: t.db });
    try {
      const typo = '{ viewer { nmae } }';
      const inDev = await dev.gql(typo, {}, ws.ownerKey);
      expect(inDev.errors?.[0]?.message).toMatch(/Did you mean "name"\?/);
      const inProd = await prod.gql(typo, {}, ws.ownerKey);
      expect(inProd.errors?.[0]?.message).toMatch(/Cannot query field "nmae"/);
      expect(inProd.errors?.[0]?.message).not.toMatch(/Did you mean/);
    } finally {
      await dev.close();
      await prod.close();
    }
  });
});

describe('REST mirror for a newcomer', () => {
  it('accepts the flat body its OpenAPI documents, and the `{ input }` wrapper too', async () => {
    const ws = await createWorkspaceFixture(t.db.database.prisma);
    const agent = await createAgentFixture(t.db.database.prisma, ws);
    const first = await postJobFixture(t.db.database.prisma, ws);
    const second = await postJobFixture(t.db.database.prisma, ws);

    const flat = await rest('/bids', {
      key: agent.key,
      body: { jobId: first.jobGid, message: 'flat', estimatedMinutes: 10, requestedCredits: 60 },
    });
    expect(flat.status).toBe(200);
    expect(await flat.json()).toMatchObject({ bid: { status: 'PENDING', requestedCredits: 60, message: 'flat' } });

    const wrapped = await rest('/bids', {
      key: agent.key,
      body: { input: { jobId: second.jobGid, message: 'wrapped', estimatedMinutes: 10, requestedCredits: 70 } },
    });
    expect(wrapped.status).toBe(200);
    expect(await wrapped.json()).toMatchObject({ bid: { status: 'PENDING', requestedCredits: 70 } });

    // A flat body whose input type has an `input` field of its own (a tool call's input) stays flat.
    const accepted = await t.gql(
      `query($id: ID!) { job(id: $id) { bids(first: 1) { edges { node { id } } } } }`,
      { id: first.jobGid },
      ws.ownerKey,
    );
    const bidId = accepted.data.job.bids.edges[0].node.id;
    await t.gql(
      `mutation($b: ID!) { acceptBid(bidId: $b, idempotencyKey: "nc-1") { __typename } }`,
      { b: bidId },
      ws.ownerKey,
    );
    const started = await rest(`/jobs/${first.jobGid}/start`, { key: agent.key, body: {} });
    expect(started.status).toBe(200);
    const executionId = ((await started.json()) as any).execution.id;
    const toolCall = await rest(`/executions/${executionId}/tool-calls`, {
      key: agent.key,
      body: { tool: 'web_search', server: 'search', input: { q: 'pricing' }, output: { hits: 3 } },
    });
    expect(toolCall.status).toBe(200);
    const stored = await t.db.database.prisma.toolCall.findFirstOrThrow({
      where: { execution: { jobId: first.jobId } },
    });
    expect(stored).toMatchObject({ tool: 'web_search', input: { q: 'pricing' } });

    // The OpenAPI document says so: the body of POST /bids is PlaceBidInput itself.
    const doc = (await (await rest('/openapi.json')).json()) as any;
    const schema = doc.paths['/bids'].post.requestBody.content['application/json'].schema;
    expect(JSON.stringify(schema)).toContain('#/components/schemas/PlaceBidInput');
    expect(schema.properties?.input).toBeUndefined();
  });

  it('answers every error in one shape: { errors: [{ message, extensions: { code } }] }', async () => {
    const ws = await createWorkspaceFixture(t.db.database.prisma);
    const agent = await createAgentFixture(t.db.database.prisma, ws);
    const { jobGid } = await postJobFixture(t.db.database.prisma, ws);
    const cases: [string, Promise<Response>, number, string][] = [
      [
        'typed ValidationError',
        rest('/bids', {
          key: agent.key,
          body: { jobId: jobGid, message: 'x', estimatedMinutes: 10, requestedCredits: 0 },
        }),
        400,
        'BAD_USER_INPUT',
      ],
      ['bad key', rest('/wallet', { key: 'aw_live_nope' }), 401, 'UNAUTHENTICATED'],
      ['missing job', rest('/jobs/job_missing', { key: agent.key }), 404, 'NOT_FOUND'],
      [
        'register: bad body',
        rest('/agents/register', { key: ws.ownerKey, body: { skills: 'x' } }),
        400,
        'BAD_USER_INPUT',
      ],
      ['register: not JSON', rest('/agents/register', { key: ws.ownerKey, body: '{nope' }), 400, 'BAD_USER_INPUT'],
      [
        'register: bad key',
        rest('/agents/register', { key: 'aw_live_nope', body: { name: 'x' } }),
        401,
        'UNAUTHENTICATED',
      ],
      ['webhook route', rest('/webhook', { body: { url: 'http://x/' } }), 404, 'NOT_FOUND'],
      ['missing argument', rest('/bids', { key: agent.key, body: {} }), 400, 'BAD_USER_INPUT'],
    ];
    for (const [name, pending, status, code] of cases) {
      const res = await pending;
      const body = (await res.json()) as any;
      expect(res.status, `${name}: ${JSON.stringify(body)}`).toBe(status);
      expect(Object.keys(body), name).toEqual(['errors']);
      expect(body.errors[0], name).toMatchObject({ message: expect.any(String), extensions: { code } });
    }
    const invalid = (await (
      await rest('/bids', {
        key: agent.key,
        body: { jobId: jobGid, message: 'x', estimatedMinutes: 10, requestedCredits: 0 },
      })
    ).json()) as any;
    expect(invalid.errors[0].extensions).toMatchObject({
      type: 'ValidationError',
      issues: [{ path: ['input', 'requestedCredits'] }],
    });
  });

  it('gives every OpenAPI operation a unique operationId', async () => {
    const doc = (await (await rest('/openapi.json')).json()) as any;
    const ids: string[] = [];
    for (const [path, ops] of Object.entries<any>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(ops)) {
        expect(op.operationId, `${method.toUpperCase()} ${path}`).toMatch(/^[a-z][A-Za-z]+(_query)?$/);
        ids.push(op.operationId);
      }
    }
    expect(ids.length).toBe(26);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(expect.arrayContaining(['viewer_query', 'placeBid', 'recordToolCall', 'registerAgent']));
  });
});
