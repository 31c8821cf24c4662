import { type ChildProcess, spawn } from 'node:child_process';
import { type Client, createClient, type FormattedExecutionResult } from 'graphql-ws';

type ExecutionResult = FormattedExecutionResult<Record<string, unknown>, unknown>;

import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Config } from '../src/config.ts';
import { buildApp } from '../src/server.ts';
import { authenticate, currentPrincipals } from '../src/services/accounts/api-keys.ts';
import { createPubSub, type PubSub } from '../src/services/delivery/pubsub.ts';
import { createTestApp, createTestDatabase, type TestApp, type TestDatabase, testConfig } from './support/app.ts';
import {
  createAgentFixture,
  createMemberFixture,
  createWorkspaceFixture,
  postJobFixture,
  type WorkspaceFixture,
} from './support/factories.ts';
import { settle, subscribe } from './support/ws.ts';

/**
 * Issue 13, item 2 and the socket caps of item 5: a principal check holds on an already-open
 * WebSocket (and SSE stream) at the moment of each operation. Revoked keys, removed members and
 * suspended agents lose their sockets (4403) and subscriptions; a changed role applies to the next
 * operation; the notice crosses processes through Redis.
 */

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Polls `check` until it holds (conditions, not sleeps). */
async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Conn {
  client: Client;
  /** The close code once the socket closed, else null. */
  closeCode: number | null;
  closeReason: string;
  /** Runs one operation over this socket; resolves with its result or the error (GraphQL errors or a CloseEvent). */
  run(query: string, variables?: Record<string, unknown>): Promise<{ result?: ExecutionResult; error?: unknown }>;
  dispose(): Promise<void>;
}

/** One graphql-ws connection, acknowledged (or closed at once: see `closeCode`). */
function connect(baseUrl: string, key: string): Promise<Conn> {
  return new Promise((resolve) => {
    let settled = false;
    const conn: Conn = {
      client: createClient({
        url: `${baseUrl.replace(/^http/, 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        connectionParams: { authorization: `Bearer ${key}` },
        retryAttempts: 0,
        lazy: false,
        onNonLazyError: () => {},
        on: {
          connected: () => {
            if (!settled) resolve(conn);
            settled = true;
          },
          closed: (event) => {
            const e = event as { code: number; reason: string };
            conn.closeCode = e.code;
            conn.closeReason = String(e.reason);
            if (!settled) resolve(conn);
            settled = true;
          },
        },
      }),
      closeCode: null,
      closeReason: '',
      run: (query, variables = {}) =>
        new Promise((done) => {
          let result: ExecutionResult | undefined;
          conn.client.subscribe(
            { query, variables },
            {
              next: (r) => {
                result = r;
              },
              error: (error) => done({ error }),
              complete: () => done({ result }),
            },
          );
        }),
      dispose: () => conn.client.dispose() as Promise<void>,
    };
  });
}

const POST_JOB = `mutation($i: PostJobInput!) { postJob(input: $i) { __typename ... on PostJobPayload { job { id } } } }`;
const CREATE_KEY = `mutation($i: CreateApiKeyInput) { createApiKey(input: $i) { __typename ... on CreateApiKeyPayload { secret } ... on Error { message } } }`;
const REVOKE = `mutation($id: ID!) { revokeApiKey(id: $id) { __typename } }`;
const JOB_EVENTS = `subscription($id: ID!) { jobEvents(jobId: $id) { __typename eventId } }`;
const UPDATE_JOB = `mutation($id: ID!, $t: String!) { updateJob(id: $id, input: { title: $t }) { __typename } }`;
const newJob = (title: string) => ({ i: { title, description: 'x', budget: 10, requiredSkills: ['web-research'] } });

/** An operation over a socket neither answered data nor succeeded. */
function refused(outcome: { result?: ExecutionResult; error?: unknown }, field: string): boolean {
  if (outcome.error) return true;
  const value = (outcome.result?.data as Record<string, any> | undefined)?.[field];
  return !value || ['ForbiddenError', 'NotFoundError'].includes(value.__typename);
}

let db: TestDatabase;
let t: TestApp;
let url: string;

beforeAll(async () => {
  db = await createTestDatabase();
  t = await createTestApp({ database: db, config: { OUTBOX_POLL_MS: 50, WEBHOOK_WORKER: false } });
  ({ url } = await t.app.start());
});
afterAll(async () => {
  await t?.close();
  await db?.close();
});

const jobCount = (ws: WorkspaceFixture) => db.database.prisma.job.count({ where: { workspaceId: ws.workspaceId } });
const keyCount = (ws: WorkspaceFixture) => db.database.prisma.apiKey.count({ where: { workspaceId: ws.workspaceId } });

describe('a revoked key on an open socket', () => {
  it('is closed with 4403 at once; its subscription to a PRIVATE job ends and delivers nothing more', async () => {
    const ws = await createWorkspaceFixture(db.database.prisma);
    const admin = await createMemberFixture(db.database.prisma, ws.workspaceId, 'ADMIN');
    const { jobGid } = await postJobFixture(db.database.prisma, ws, { visibility: 'PRIVATE' });
    const conn = await connect(url, admin.key);
    expect(conn.closeCode).toBeNull();
    const sub = subscribe(url, null, JOB_EVENTS, { id: jobGid }, { client: conn.client });
    await settle();
    // Positive control: the socket has full access before the revocation.
    await t.gql(UPDATE_JOB, { id: jobGid, t: 'before' }, ws.ownerKey);
    await sub.waitFor((e) => e.length === 1);
    const created = await conn.run(CREATE_KEY, { i: { name: 'over the socket' } });
    expect((created.result?.data as any)?.createApiKey.__typename).toBe('CreateApiKeyPayload');

    const revoked = await t.gql(REVOKE, { id: `key_${admin.keyId}` }, ws.ownerKey);
    expect(revoked.data.revokeApiKey.__typename).toBe('RevokeApiKeyPayload');
    await until(() => conn.closeCode !== null, 'the socket to close');
    expect(conn.closeCode).toBe(4403);
    await t.gql(UPDATE_JOB, { id: jobGid, t: 'after' }, ws.ownerKey);
    await settle(300);
    expect(sub.events.length).toBe(1);
    // And the key cannot open a new socket.
    const again = await connect(url, admin.key);
    expect(again.closeCode).toBe(4403);
    await Promise.all([conn.dispose(), again.dispose()]);
  });

  it('is re-checked per operation: with no notice reaching its process, postJob and createApiKey are refused', async () => {
    // A second app on the same database with its own in-memory pubsub: the revocation's notice
    // never reaches it, so only the per-operation re-check stands between the socket and the API.
    const other = await createTestApp({ database: db, config: { OUTBOX_DISPATCHER: false, WEBHOOK_WORKER: false } });
    try {
      const { url: otherUrl } = await other.app.start();
      const ws = await createWorkspaceFixture(db.database.prisma);
      const admin = await createMemberFixture(db.database.prisma, ws.workspaceId, 'ADMIN');
      const conn = await connect(otherUrl, admin.key);
      const jobs = await jobCount(ws);
      const keys = await keyCount(ws);
      await t.gql(REVOKE, { id: `key_${admin.keyId}` }, ws.ownerKey);
      const [posted, created] = await Promise.all([
        conn.run(POST_JOB, newJob('after revocation')),
        conn.run(CREATE_KEY, { i: { name: 'after revocation' } }),
      ]);
      expect(refused(posted, 'postJob'), JSON.stringify(posted)).toBe(true);
      expect(refused(created, 'createApiKey'), JSON.stringify(created)).toBe(true);
      expect(await jobCount(ws)).toBe(jobs);
      expect(await keyCount(ws)).toBe(keys);
      await until(() => conn.closeCode !== null, 'the socket to close');
      expect(conn.closeCode).toBe(4403);
      await conn.dispose();
    } finally {
      await other.close();
    }
  });

  it('ends its Server-Sent Events subscription stream too', async () => {
    const ws = await createWorkspaceFixture(db.database.prisma);
    const member = await createMemberFixture(db.database.prisma, ws.workspaceId, 'MEMBER');
    const { jobGid } = await postJobFixture(db.database.prisma, ws, { visibility: 'PRIVATE' });
    const controller = new AbortController();
    const res = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        authorization: `Bearer ${member.key}`,
      },
      body: JSON.stringify({ query: JOB_EVENTS, variables: { id: jobGid } }),
      signal: controller.signal,
    });
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    let ended = false;
    void (async () => {
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      ended = true;
    })();
    await settle();
    await t.gql(UPDATE_JOB, { id: jobGid, t: 'seen' }, ws.ownerKey);
    await until(() => text.includes('JobUpdated'), 'the first event over SSE');
    await t.gql(REVOKE, { id: `key_${member.keyId}` }, ws.ownerKey);
    try {
      await until(() => ended, 'the SSE stream to end');
    } finally {
      controller.abort();
    }
    expect(text.match(/JobUpdated/g)?.length).toBe(1);
  });
});

describe('members and agents', () => {
  const REMOVE = `mutation($id: ID!) { removeMember(memberId: $id) { __typename ... on Error { message } } }`;
  const ROLE = `mutation($id: ID!, $r: MemberRole!) { updateMemberRole(memberId: $id, role: $r) { __typename ... on UpdateMemberRolePayload { member { role } } ... on Error { message } } }`;

  it('a removed member: socket closed 4403, subscription ended, keys revoked, gone from the member list', async () => {
    const ws = await createWorkspaceFixture(db.database.prisma);
    const member = await createMemberFixture(db.database.prisma, ws.workspaceId, 'MEMBER');
    const { jobGid } = await postJobFixture(db.database.prisma, ws, { visibility: 'PRIVATE' });
    const conn = await connect(url, member.key);
    const sub = subscribe(url, null, JOB_EVENTS, { id: jobGid }, { client: conn.client });
    await settle();
    await t.gql(UPDATE_JOB, { id: jobGid, t: 'before' }, ws.ownerKey);
    await sub.waitFor((e) => e.length === 1);

    const removed = await t.gql(REMOVE, { id: member.memberGid }, ws.ownerKey);
    expect(removed.data.removeMember.__typename).toBe('RemoveMemberPayload');
    await until(() => conn.closeCode !== null, 'the socket to close');
    expect(conn.closeCode).toBe(4403);
    await t.gql(UPDATE_JOB, { id: jobGid, t: 'after' }, ws.ownerKey);
    await settle(300);
    expect(sub.events.length).toBe(1);
    const key = await db.database.prisma.apiKey.findUniqueOrThrow({ where: { id: member.keyId } });
    expect(key.revokedAt).not.toBeNull();
    const http = await t.gql(`{ viewer { __typename } }`, {}, member.key);
    expect(http.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const list = await t.gql(`{ viewer { ... on Member { workspace { members { id } } } } }`, {}, ws.ownerKey);
    expect(list.data.viewer.workspace.members.map((m: { id: string }) => m.id)).not.toContain(member.memberGid);
    await conn.dispose();
  });

  it('removeMember / updateMemberRole rules: OWNER/ADMIN only, only an OWNER touches an OWNER, the last OWNER stays', async () => {
    const ws = await createWorkspaceFixture(db.database.prisma);
    const admin = await createMemberFixture(db.database.prisma, ws.workspaceId, 'ADMIN');
    const member = await createMemberFixture(db.database.prisma, ws.workspaceId, 'MEMBER');
    const stranger = await createWorkspaceFixture(db.database.prisma);
    const ownerGid = `mem_${ws.ownerId}`;
    const typename = async (doc: string, vars: Record<string, unknown>, key: string, field: string) =>
      (await t.gql(doc, vars, key)).data[field].__typename;
    expect(await typename(REMOVE, { id: admin.memberGid }, member.key, 'removeMember')).toBe('ForbiddenError');
    expect(await typename(ROLE, { id: admin.memberGid, r: 'MEMBER' }, member.key, 'updateMemberRole')).toBe(
      'ForbiddenError',
    );
    expect(await typename(REMOVE, { id: ownerGid }, admin.key, 'removeMember')).toBe('ForbiddenError');
    expect(await typename(ROLE, { id: member.memberGid, r: 'OWNER' }, admin.key, 'updateMemberRole')).toBe(
      'ForbiddenError',
    );
    expect(await typename(REMOVE, { id: member.memberGid }, stranger.ownerKey, 'removeMember')).toBe('NotFoundError');
    expect(await typename(REMOVE, { id: ownerGid }, ws.ownerKey, 'removeMember')).toBe('ConflictError');
    expect(await typename(ROLE, { id: ownerGid, r: 'ADMIN' }, ws.ownerKey, 'updateMemberRole')).toBe('ConflictError');
    // With a second OWNER, the first may step down.
    expect(await typename(ROLE, { id: admin.memberGid, r: 'OWNER' }, ws.ownerKey, 'updateMemberRole')).toBe(
      'UpdateMemberRolePayload',
    );
    expect(await typename(ROLE, { id: ownerGid, r: 'MEMBER' }, ws.ownerKey, 'updateMemberRole')).toBe(
      'UpdateMemberRolePayload',
    );
  });

  it('a demoted ADMIN can no longer act as ADMIN over the same, still open, socket', async () => {
    const ws = await createWorkspaceFixture(db.database.prisma);
    const admin = await createMemberFixture(db.database.prisma, ws.workspaceId, 'ADMIN');
    const member = await createMemberFixture(db.database.prisma, ws.workspaceId, 'MEMBER');
    const conn = await connect(url, admin.key);
    const forOther = { i: { name: 'for the member', memberId: member.memberGid } };
    const before = await conn.run(CREATE_KEY, forOther);
    expect((before.result?.data as any)?.createApiKey.__typename).toBe('CreateApiKeyPayload');
    const demoted = await t.gql(ROLE, { id: admin.memberGid, r: 'MEMBER' }, ws.ownerKey);
    expect(demoted.data.updateMemberRole.member.role).toBe('MEMBER');
    const after = await conn.run(CREATE_KEY, forOther);
    expect((after.result?.data as any)?.createApiKey.__typename).toBe('ForbiddenError');
    const viewer = await conn.run(`{ viewer { ... on Member { role } } }`);
    expect((viewer.result?.data as any)?.viewer.role).toBe('MEMBER');
    expect(conn.closeCode).toBeNull();
    await conn.dispose();
  });

  it('a suspended agent: socket closed 4403, key refused, hidden from the directory; unsuspended it works again', async () => {
    const ws = await createWorkspaceFixture(db.database.prisma);
    const agent = await createAgentFixture(db.database.prisma, ws, { skills: ['suspension-test'] });
    const conn = await connect(url, agent.key);
    const sub = subscribe(url, null, `subscription { agentEvents { __typename } }`, {}, { client: conn.client });
    await settle();
    const SUSPEND = `mutation($id: ID!) { suspendAgent(agentId: $id, reason: "abuse report") { __typename ... on SuspendAgentPayload { agent { suspended suspendedReason } } ... on Error { message } } }`;
    const UNSUSPEND = `mutation($id: ID!) { unsuspendAgent(agentId: $id) { __typename ... on Error { message } } }`;
    const stranger = await createWorkspaceFixture(db.database.prisma);
    expect((await t.gql(SUSPEND, { id: agent.agentGid }, stranger.ownerKey)).data.suspendAgent.__typename).toBe(
      'ForbiddenError',
    );
    const suspended = await t.gql(SUSPEND, { id: agent.agentGid }, ws.ownerKey);
    expect(suspended.data.suspendAgent).toEqual({
      __typename: 'SuspendAgentPayload',
      agent: { suspended: true, suspendedReason: 'abuse report' },
    });
    await until(() => conn.closeCode !== null, 'the socket to close');
    expect(conn.closeCode).toBe(4403);
    await until(() => sub.completed || sub.errors.length > 0, 'the subscription to end');
    const http = await t.gql(`{ viewer { __typename } }`, {}, agent.key);
    expect(http.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const AGENTS = `{ agents(first: 10, filter: { skills: ["suspension-test"] }) { edges { node { id } } } }`;
    expect((await t.gql(AGENTS, {}, stranger.ownerKey)).data.agents.edges).toEqual([]);

    expect((await t.gql(UNSUSPEND, { id: agent.agentGid }, ws.ownerKey)).data.unsuspendAgent.__typename).toBe(
      'UnsuspendAgentPayload',
    );
    expect((await t.gql(`{ viewer { __typename } }`, {}, agent.key)).data.viewer.__typename).toBe('Agent');
    expect((await t.gql(AGENTS, {}, stranger.ownerKey)).data.agents.edges).toHaveLength(1);
    await conn.dispose();
  });

  it('the platform admin may suspend any agent', async () => {
    const admin = await createTestApp({
      database: db,
      config: { PLATFORM_ADMIN_KEY: 'sockets-platform-key', OUTBOX_DISPATCHER: false, WEBHOOK_WORKER: false },
    });
    try {
      const ws = await createWorkspaceFixture(db.database.prisma);
      const agent = await createAgentFixture(db.database.prisma, ws);
      const res = await admin.gql(
        `mutation($id: ID!) { suspendAgent(agentId: $id, reason: "platform policy") { __typename } }`,
        { id: agent.agentGid },
        'sockets-platform-key',
      );
      expect(res.data.suspendAgent.__typename).toBe('SuspendAgentPayload');
      expect((await t.gql(`{ viewer { __typename } }`, {}, agent.key)).errors?.[0]?.extensions?.code).toBe(
        'UNAUTHENTICATED',
      );
    } finally {
      await admin.close();
    }
  });
});

describe('cost', () => {
  it('the per-operation re-check is one SQL statement; re-checking many keys at once is one too', async () => {
    const logged = await createTestDatabase({ logQueries: true });
    try {
      const prisma = logged.database.prisma;
      const statements: string[] = [];
      (prisma as any).$on('query', (e: { query: string }) => statements.push(e.query));
      const ws = await createWorkspaceFixture(prisma);
      const agent = await createAgentFixture(prisma, ws);
      const members = await Promise.all([1, 2, 3].map(() => createMemberFixture(prisma, ws.workspaceId, 'ADMIN')));
      await authenticate(prisma, `Bearer ${ws.ownerKey}`); // lastUsedAt is written here, at most once a minute
      await authenticate(prisma, `Bearer ${agent.key}`);
      statements.length = 0;
      expect((await authenticate(prisma, `Bearer ${ws.ownerKey}`)).kind).toBe('member');
      expect((await authenticate(prisma, `Bearer ${agent.key}`)).kind).toBe('agent');
      expect(statements).toHaveLength(2);
      statements.length = 0;
      const current = await currentPrincipals(
        prisma,
        members.map((m) => m.keyId),
      );
      expect(current.size).toBe(3);
      expect(statements).toHaveLength(1);
    } finally {
      await logged.close();
    }
  });
});

describe('subscriptions end when their socket closes', () => {
  it('a subscription to a quiet job releases its pubsub subscription when the client goes away', async () => {
    // Count live pubsub iterators underneath the app: they must all be returned after the close.
    const base = createPubSub();
    let live = 0;
    const counting: PubSub = Object.assign(Object.create(base), {
      subscribe: (...args: Parameters<PubSub['subscribe']>) => {
        const inner = (base.subscribe as unknown as (...a: unknown[]) => AsyncIterableIterator<unknown>)(...args);
        live++;
        let counted = true;
        const release = () => {
          if (counted) live--;
          counted = false;
        };
        return {
          [Symbol.asyncIterator]() {
            return this;
          },
          next: () => inner.next(),
          return: async (v?: unknown) => {
            release();
            return inner.return ? inner.return(v) : { done: true, value: v };
          },
          throw: async (e?: unknown) => {
            release();
            return inner.throw ? inner.throw(e) : { done: true, value: undefined };
          },
        };
      },
    });
    const app = await buildApp(testConfig({ OUTBOX_DISPATCHER: false, WEBHOOK_WORKER: false }), {
      database: db.database,
      pubsub: counting,
      migrate: false,
    });
    try {
      const { url: appUrl } = await app.start();
      const ws = await createWorkspaceFixture(db.database.prisma);
      const { jobGid } = await postJobFixture(db.database.prisma, ws);
      const conn = await connect(appUrl, ws.ownerKey);
      subscribe(appUrl, null, JOB_EVENTS, { id: jobGid }, { client: conn.client });
      await until(() => live === 1, 'the subscription to open');
      await conn.dispose();
      await until(() => live === 0, 'the pubsub iterator to be returned');
    } finally {
      await app.stop();
    }
  });
});

describe('per-connection caps', () => {
  let capped: TestApp;
  let cappedUrl: string;
  beforeAll(async () => {
    capped = await createTestApp({
      database: db,
      config: {
        OUTBOX_DISPATCHER: false,
        WEBHOOK_WORKER: false,
        WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: 3,
        WS_MAX_SOCKETS_PER_KEY: 2,
      } as Partial<Config>,
    });
    ({ url: cappedUrl } = await capped.app.start());
  });
  afterAll(() => capped?.close());

  it('subscriptions per connection: one over the cap is refused with TOO_MANY_SUBSCRIPTIONS; the socket stays usable', async () => {
    const ws = await createWorkspaceFixture(db.database.prisma);
    const { jobGid } = await postJobFixture(db.database.prisma, ws);
    const conn = await connect(cappedUrl, ws.ownerKey);
    const subs = [1, 2, 3].map(() => subscribe(cappedUrl, null, JOB_EVENTS, { id: jobGid }, { client: conn.client }));
    await settle(300);
    const fourth = subscribe(cappedUrl, null, JOB_EVENTS, { id: jobGid }, { client: conn.client });
    await until(() => fourth.errors.length > 0, 'the fourth subscription to be refused');
    expect(JSON.stringify(fourth.errors)).toContain('TOO_MANY_SUBSCRIPTIONS');
    expect(subs.every((s) => s.errors.length === 0)).toBe(true);
    // Ending one frees its slot.
    await subs[0]!.dispose();
    await settle(100);
    const fifth = subscribe(cappedUrl, null, JOB_EVENTS, { id: jobGid }, { client: conn.client });
    await t.gql(UPDATE_JOB, { id: jobGid, t: 'to the fifth' }, ws.ownerKey);
    await settle(300);
    expect(fifth.errors).toEqual([]);
    expect(conn.closeCode).toBeNull();
    await conn.dispose();
  });

  it('sockets per key: one over the cap is closed with 4430; other keys are unaffected; closing one frees a slot', async () => {
    const ws = await createWorkspaceFixture(db.database.prisma);
    const member = await createMemberFixture(db.database.prisma, ws.workspaceId, 'MEMBER');
    const a = await connect(cappedUrl, ws.ownerKey);
    const b = await connect(cappedUrl, ws.ownerKey);
    const c = await connect(cappedUrl, ws.ownerKey);
    expect([a.closeCode, b.closeCode]).toEqual([null, null]);
    expect(c.closeCode).toBe(4430);
    expect(c.closeReason).toMatch(/Too many sockets/);
    const other = await connect(cappedUrl, member.key);
    expect(other.closeCode).toBeNull();
    await a.dispose();
    await until(async () => {
      const d = await connect(cappedUrl, ws.ownerKey);
      await d.dispose();
      return d.closeCode === null;
    }, 'a slot to free up');
    await Promise.all([b.dispose(), c.dispose(), other.dispose()]);
  });
});

// ───────────────────────────── across processes (Redis) ─────────────────────────────

async function redisAvailable(): Promise<boolean> {
  const client = new Redis(REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1_000,
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

function startProcess(databaseUrl: string): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        REDIS_URL,
        PORT: '0',
        LOG_LEVEL: 'info',
        NODE_ENV: 'test',
        OUTBOX_DISPATCHER: 'false',
        WEBHOOK_WORKER: 'false',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buffer = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${buffer}`)), 100_000);
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

describe('across processes', () => {
  it('a revocation on process A closes the key’s socket on process B (Redis) with 4403', async (ctx) => {
    if (!db.url) return ctx.skip('needs PostgreSQL (DATABASE_URL): processes cannot share an in-memory PGlite');
    if (!(await redisAvailable())) return ctx.skip(`needs Redis at ${REDIS_URL}`);
    const a = await createTestApp({
      database: db,
      config: { REDIS_URL, OUTBOX_DISPATCHER: false, WEBHOOK_WORKER: false },
    });
    const b = await startProcess(db.url);
    try {
      const ws = await createWorkspaceFixture(db.database.prisma);
      const admin = await createMemberFixture(db.database.prisma, ws.workspaceId, 'ADMIN');
      const { jobGid } = await postJobFixture(db.database.prisma, ws, { visibility: 'PRIVATE' });
      const conn = await connect(b.url, admin.key);
      const sub = subscribe(b.url, null, JOB_EVENTS, { id: jobGid }, { client: conn.client });
      await settle(300);
      // The notice is published while the socket is idle: only the push can close it.
      const revoked = await a.gql(REVOKE, { id: `key_${admin.keyId}` }, ws.ownerKey);
      expect(revoked.data.revokeApiKey.__typename).toBe('RevokeApiKeyPayload');
      await until(() => conn.closeCode !== null, 'the socket on process B to close', 10_000);
      expect(conn.closeCode).toBe(4403);
      await until(() => sub.completed || sub.errors.length > 0, 'the subscription on B to end');
      await conn.dispose();
    } finally {
      await a.close();
      await new Promise<void>((resolve) => {
        if (b.child.exitCode !== null) return resolve();
        b.child.once('exit', () => resolve());
        b.child.kill('SIGTERM');
      });
    }
  }, 150_000);
});
