import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGuardedAgent, guardedFetch, parseAllowList, SsrfError } from '../src/services/delivery/ssrf.ts';
import { createTestApp, createTestDatabase, type TestApp, type TestDatabase } from './support/app.ts';
import { createAgentFixture, createWorkspaceFixture, type WorkspaceFixture } from './support/factories.ts';

/**
 * SSRF through the URLs the server fetches or will call: agent cards (importAgentCard), an agent's
 * webhookUrl and apiEndpoint. A canary server on loopback serves a valid agent card to anyone who
 * asks, and counts connections: a guard bug shows up as a stored agent and a connection.
 *
 * `strict` runs like a deployment with no exceptions (NODE_ENV=test, no WEBHOOK_ALLOW_HOSTS);
 * `dev` allow-lists the name `localhost` (a developer's card server) and two private ranges.
 */
const CARD = { name: 'Canary Agent', description: 'leaked', skills: [{ id: 'web_search', tags: [] }] };

interface Canary {
  port: number;
  connections: number;
  requests: string[];
  close(): Promise<void>;
}

async function listen(server: Server, host: string, port = 0): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

/** Serves `answer` on 127.0.0.1 and, on the same port, on ::1 when this machine has IPv6 loopback. */
async function startCanary(
  answer: (url: string) => { status: number; headers?: Record<string, string>; body?: string } = () => ({
    status: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(CARD),
  }),
): Promise<Canary> {
  const canary: Canary = { port: 0, connections: 0, requests: [], close: async () => {} };
  const handler = (req: { url?: string }, res: import('node:http').ServerResponse) => {
    canary.requests.push(req.url ?? '');
    const a = answer(req.url ?? '');
    res.writeHead(a.status, a.headers ?? {});
    res.end(a.body ?? '');
  };
  const servers = [createServer(handler)];
  canary.port = await listen(servers[0]!, '127.0.0.1');
  const v6 = createServer(handler);
  await listen(v6, '::1', canary.port).then(
    () => servers.push(v6),
    () => {},
  );
  for (const s of servers) s.on('connection', () => canary.connections++);
  canary.close = async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  };
  return canary;
}

const IMPORT = `mutation($input: ImportAgentCardInput!) { importAgentCard(input: $input) {
  __typename ... on ImportAgentCardPayload { created agent { id name } } ... on ValidationError { issues { path message } } } }`;
const REGISTER = `mutation($input: RegisterAgentInput!) { registerAgent(input: $input) {
  __typename ... on RegisterAgentPayload { agent { id webhookUrl apiEndpoint } } ... on ValidationError { issues { path message } } } }`;
const UPDATE = `mutation($id: ID!, $input: UpdateAgentInput!) { updateAgent(id: $id, input: $input) {
  __typename ... on UpdateAgentPayload { agent { id webhookUrl } } ... on ValidationError { issues { path message } } } }`;

let database: TestDatabase;
let strict: TestApp;
let dev: TestApp;
let canary: Canary;
beforeAll(async () => {
  database = await createTestDatabase();
  strict = await createTestApp({ database });
  dev = await createTestApp({ database, config: { WEBHOOK_ALLOW_HOSTS: 'localhost, 10.0.0.0/8, 169.254.0.0/16' } });
  canary = await startCanary();
});
afterAll(async () => {
  await canary.close();
  await strict.close();
  await dev.close();
  await database.close();
});
const db = () => strict.app.db.prisma;
const agentsOf = (ws: WorkspaceFixture) => db().agent.count({ where: { workspaceId: ws.workspaceId } });

describe('importAgentCard by URL: internal addresses are never fetched', () => {
  const attacks = () => {
    const p = canary.port;
    return [
      `http://127.0.0.1:${p}/.well-known/agent-card.json`,
      `http://localhost:${p}/.well-known/agent-card.json`,
      `http://LocalHost.:${p}/`,
      `http://[::1]:${p}/`,
      `http://2130706433:${p}/`,
      `http://0x7f000001:${p}/`,
      `http://0177.0.0.1:${p}/`,
      `http://0x7f.1:${p}/`,
      `http://127.1:${p}/`,
      `http://127.0.0.1.:${p}/`,
      `http://0.0.0.0:${p}/`,
      `http://[::]:${p}/`,
      `http://[::ffff:127.0.0.1]:${p}/`,
      `http://[::ffff:7f00:1]:${p}/`,
      `https://169.254.169.254/latest/meta-data/`,
      `https://[::ffff:a9fe:a9fe]/latest/meta-data/`,
      `https://10.1.2.3/card.json`,
      `http://user:pw@example.com/`,
      `file:///etc/passwd`,
    ];
  };

  it('each attack URL answers a ValidationError on `url`, stores nothing, and the canary sees no connection', async () => {
    const ws = await createWorkspaceFixture(db());
    for (const url of attacks()) {
      const res = await strict.gql(IMPORT, { input: { url } }, ws.ownerKey);
      expect(res.data.importAgentCard.__typename, url).toBe('ValidationError');
      expect(res.data.importAgentCard.issues[0].path, url).toEqual(['url']);
    }
    expect(await agentsOf(ws)).toBe(0);
    expect(canary.connections).toBe(0);
    expect(canary.requests).toEqual([]);
  });

  it('allow-listing a name does not open loopback literals, and metadata stays refused', async () => {
    const ws = await createWorkspaceFixture(db());
    for (const url of [
      `http://127.0.0.1:${canary.port}/`,
      `http://2130706433:${canary.port}/`,
      `http://[::1]:${canary.port}/`,
      `https://169.254.169.254/latest/meta-data/`,
    ]) {
      const res = await dev.gql(IMPORT, { input: { url } }, ws.ownerKey);
      expect(res.data.importAgentCard.__typename, url).toBe('ValidationError');
    }
    expect(await agentsOf(ws)).toBe(0);
    expect(canary.connections).toBe(0);
  });

  it('a redirect (to loopback or anywhere) is not followed', async () => {
    const redirector = await startCanary(() => ({
      status: 302,
      headers: { location: `http://127.0.0.1:${canary.port}/.well-known/agent-card.json` },
    }));
    try {
      const ws = await createWorkspaceFixture(db());
      // `localhost` is allow-listed in `dev`: the first hop is allowed, the redirect is not followed.
      const res = await dev.gql(IMPORT, { input: { url: `http://localhost:${redirector.port}/card` } }, ws.ownerKey);
      expect(res.data.importAgentCard).toMatchObject({
        __typename: 'ValidationError',
        issues: [{ path: ['url'], message: expect.stringMatching(/redirect/i) }],
      });
      expect(redirector.requests).toEqual(['/card']);
      expect(canary.connections).toBe(0);
      expect(await agentsOf(ws)).toBe(0);
    } finally {
      await redirector.close();
    }
  });

  it('an allow-listed card server works, and a card larger than the cap is refused', async () => {
    const big = 'x'.repeat(300 * 1024);
    const server = await startCanary((url) =>
      url === '/big'
        ? { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...CARD, big }) }
        : { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(CARD) },
    );
    try {
      const ws = await createWorkspaceFixture(db());
      const ok = await dev.gql(IMPORT, { input: { url: `http://localhost:${server.port}/card` } }, ws.ownerKey);
      expect(ok.data.importAgentCard).toMatchObject({ created: true, agent: { name: 'Canary Agent' } });
      const tooBig = await dev.gql(IMPORT, { input: { url: `http://localhost:${server.port}/big` } }, ws.ownerKey);
      expect(tooBig.data.importAgentCard).toMatchObject({
        __typename: 'ValidationError',
        issues: [{ path: ['url'], message: expect.stringMatching(/256 KB/) }],
      });
      expect(await agentsOf(ws)).toBe(1);
    } finally {
      await server.close();
    }
  });
});

describe("an agent's webhookUrl and apiEndpoint follow the webhook endpoint URL policy", () => {
  const INTERNAL = [
    'https://10.1.2.3/hook',
    'https://169.254.169.254/latest/meta-data/',
    'https://[::ffff:a9fe:a9fe]/',
    'https://[fd00:ec2::254]/',
    'https://192.168.0.10/',
    'https://2130706433/',
    'https://0x7f.1/',
    'http://127.0.0.1/hook',
    'http://[::1]/hook',
  ];

  it('registerAgent refuses internal addresses with paths, and creates nothing', async () => {
    const ws = await createWorkspaceFixture(db());
    for (const url of INTERNAL) {
      for (const field of ['webhookUrl', 'apiEndpoint']) {
        const res = await strict.gql(REGISTER, { input: { name: 'Bot', [field]: url } }, ws.ownerKey);
        expect(res.data.registerAgent, `${field} ${url}`).toMatchObject({
          __typename: 'ValidationError',
          issues: [{ path: ['input', field] }],
        });
      }
    }
    expect(await agentsOf(ws)).toBe(0);
    const fine = await strict.gql(
      REGISTER,
      { input: { name: 'Bot', webhookUrl: 'https://hooks.example.com/in', apiEndpoint: 'https://a2a.example.com/' } },
      ws.ownerKey,
    );
    expect(fine.data.registerAgent.__typename).toBe('RegisterAgentPayload');
  });

  it('updateAgent refuses them too and leaves the agent unchanged', async () => {
    const ws = await createWorkspaceFixture(db());
    const agent = await createAgentFixture(db(), ws, { webhookUrl: 'https://hooks.example.com/a' });
    for (const url of INTERNAL) {
      const res = await strict.gql(UPDATE, { id: agent.agentGid, input: { webhookUrl: url } }, ws.ownerKey);
      expect(res.data.updateAgent.__typename, url).toBe('ValidationError');
    }
    expect(await db().agent.findUnique({ where: { id: agent.agentId } })).toMatchObject({
      webhookUrl: 'https://hooks.example.com/a',
    });
  });

  it("importAgentCard refuses a card whose url (the agent's endpoint) is internal", async () => {
    const ws = await createWorkspaceFixture(db());
    for (const url of ['https://169.254.169.254/', 'https://10.1.2.3/a2a']) {
      const res = await strict.gql(IMPORT, { input: { card: { ...CARD, url } } }, ws.ownerKey);
      expect(res.data.importAgentCard.__typename, url).toBe('ValidationError');
    }
    expect(await agentsOf(ws)).toBe(0);
  });

  it('WEBHOOK_ALLOW_HOSTS exceptions are honoured, except for metadata addresses', async () => {
    const ws = await createWorkspaceFixture(db());
    const allowed = await dev.gql(
      REGISTER,
      { input: { name: 'Lab', webhookUrl: 'https://10.1.2.3/hook' } },
      ws.ownerKey,
    );
    expect(allowed.data.registerAgent).toMatchObject({ agent: { webhookUrl: 'https://10.1.2.3/hook' } });
    for (const url of ['https://169.254.169.254/', 'https://[::ffff:a9fe:a9fe]/', 'https://192.168.0.10/']) {
      const res = await dev.gql(REGISTER, { input: { name: 'Lab', webhookUrl: url } }, ws.ownerKey);
      expect(res.data.registerAgent.__typename, url).toBe('ValidationError');
    }
  });

  it('in production plain http is refused even on loopback', async () => {
    const prod = await createTestApp({
      database,
      config: { NODE_ENV: 'production', WEBHOOK_ALLOW_HOSTS: '127.0.0.1, localhost' },
    });
    try {
      const ws = await createWorkspaceFixture(db());
      for (const url of [`http://localhost:${canary.port}/`, `http://127.0.0.1:${canary.port}/`]) {
        const reg = await prod.gql(REGISTER, { input: { name: 'Bot', webhookUrl: url } }, ws.ownerKey);
        expect(reg.data.registerAgent.__typename, url).toBe('ValidationError');
        const imp = await prod.gql(IMPORT, { input: { url } }, ws.ownerKey);
        expect(imp.data.importAgentCard.__typename, url).toBe('ValidationError');
      }
      expect(await agentsOf(ws)).toBe(0);
      expect(canary.connections).toBe(0);
    } finally {
      await prod.close();
    }
  });
});

describe('guardedFetch: the one outbound connector', () => {
  it('refuses before connecting, caps the body, never follows redirects, and takes only guarded dispatchers', async () => {
    const server = await startCanary((url) =>
      url === '/redirect'
        ? { status: 301, headers: { location: `http://127.0.0.1:${canary.port}/` } }
        : { status: 200, body: 'y'.repeat(10_000) },
    );
    const allowHosts = parseAllowList('localhost');
    try {
      await expect(guardedFetch(`http://127.0.0.1:${canary.port}/`)).rejects.toBeInstanceOf(SsrfError);
      await expect(guardedFetch(`http://localhost:${canary.port}/`)).rejects.toBeInstanceOf(SsrfError);
      await expect(guardedFetch(`http://[::1]:${canary.port}/`, { allowHosts })).rejects.toBeInstanceOf(SsrfError);
      expect(canary.connections).toBe(0);

      const capped = await guardedFetch(`http://localhost:${server.port}/`, { allowHosts, maxBytes: 100 });
      expect(capped).toMatchObject({ status: 200, truncated: true });
      expect(capped.body.byteLength).toBe(100);
      const whole = await guardedFetch(`http://localhost:${server.port}/`, { allowHosts });
      expect(whole).toMatchObject({ status: 200, truncated: false });
      expect(whole.text()).toHaveLength(10_000);

      const redirect = await guardedFetch(`http://localhost:${server.port}/redirect`, { allowHosts });
      expect(redirect).toMatchObject({ status: 301, redirectLocation: `http://127.0.0.1:${canary.port}/` });
      expect(canary.connections).toBe(0);

      // An ordinary dispatcher would bypass the connect-time check: refused outright.
      const plain = new Agent();
      await expect(guardedFetch(`http://localhost:${server.port}/`, { dispatcher: plain })).rejects.toThrow(/guarded/);
      await plain.close();
      const guarded = createGuardedAgent({ allow: allowHosts });
      await expect(guardedFetch(`http://localhost:${server.port}/`, { dispatcher: guarded })).resolves.toMatchObject({
        status: 200,
      });
      await guarded.close();
    } finally {
      await server.close();
    }
  });

  it('times out a server that never answers', async () => {
    const hang = createServer(() => {});
    const port = await listen(hang, '127.0.0.1');
    try {
      await expect(
        guardedFetch(`http://localhost:${port}/`, { allowHosts: parseAllowList('localhost'), timeoutMs: 200 }),
      ).rejects.toMatchObject({ name: 'TimeoutError' });
    } finally {
      hang.closeAllConnections();
      await new Promise((r) => hang.close(r));
    }
  });

  it('no other module makes outbound HTTP requests (one path: delivery/ssrf.ts)', () => {
    const root = join(__dirname, '..', 'src');
    // Browser code (the live page's script), the client SDK and generated code run elsewhere.
    const exempt = new Set(['services/delivery/ssrf.ts', 'live/page.ts', 'mcp/http.ts']);
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) {
          if (!['sdk', 'generated'].includes(name)) walk(path);
          continue;
        }
        const rel = relative(root, path);
        if (!rel.endsWith('.ts') || exempt.has(rel)) continue;
        const text = readFileSync(path, 'utf8');
        if (/^import (?!type )[^;]*from 'undici'/m.test(text) || /(^|[^.\w])fetch\(/m.test(text)) {
          offenders.push(rel);
        }
      }
    };
    walk(root);
    expect(offenders).toEqual([]);
  });
});
