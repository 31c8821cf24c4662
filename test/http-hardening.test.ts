import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { type App, buildApp } from '../src/server.ts';
import { createTestDatabase, type TestDatabase, testConfig } from './support/app.ts';
import { createWorkspaceFixture, postJobFixture } from './support/factories.ts';
import { subscribe } from './support/ws.ts';

/**
 * The HTTP surface against a browser on another origin and against slow clients, over real sockets:
 * CORS (no credentials, configurable origins), the live page's Content-Security-Policy header, and
 * the server's header/request/keep-alive timeouts (which must not cut SSE or graphql-ws streams).
 */

let db: TestDatabase;
const apps: App[] = [];
beforeAll(async () => {
  db = await createTestDatabase();
});
// One app at a time: each runs an outbox dispatcher with its own in-memory pubsub on the shared
// database, and another app's dispatcher would publish this app's events where nobody listens.
afterEach(async () => {
  for (const app of apps.splice(0)) await app.stop();
});
afterAll(async () => {
  await db.close();
});

async function start(overrides: Parameters<typeof testConfig>[0] = {}) {
  const app = await buildApp(testConfig({ HOST: '127.0.0.1', PORT: 0, ...overrides }), {
    database: db.database,
    migrate: false,
  });
  apps.push(app);
  const { url, port } = await app.start();
  return { app, url, port };
}

const EVIL = 'https://evil.example';
const preflight = (url: string, origin: string) =>
  fetch(url, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization, content-type',
    },
  });
const post = (url: string, origin: string, body: unknown = { query: '{ __typename }' }) =>
  fetch(url, {
    method: 'POST',
    headers: { origin, 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(body),
  });

describe('CORS', () => {
  it('by default any origin may call the API, without credentials (auth is a Bearer header)', async () => {
    const { url } = await start();
    for (const path of ['/graphql', '/api/agents/register', '/mcp']) {
      const res = await preflight(`${url}${path}`, EVIL);
      expect(res.status, path).toBe(204);
      expect(res.headers.get('access-control-allow-origin'), path).toBe('*');
      expect(res.headers.get('access-control-allow-credentials'), path).toBeNull();
      expect(res.headers.get('access-control-allow-methods'), path).toMatch(/POST/);
      expect(res.headers.get('access-control-allow-headers'), path).toMatch(/authorization/i);
    }
    const res = await post(`${url}/graphql`, EVIL);
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    expect(res.headers.get('access-control-expose-headers')).toMatch(/x-request-id/);
  });

  it('CORS_ORIGINS lists the origins allowed; others get no CORS headers', async () => {
    const allowed = 'https://app.example.com';
    const { url } = await start({ CORS_ORIGINS: `${allowed}, https://admin.example.com` });
    const ok = await preflight(`${url}/graphql`, allowed);
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe(allowed);
    expect(ok.headers.get('vary')).toMatch(/Origin/);
    expect(ok.headers.get('access-control-allow-credentials')).toBeNull();
    const okPost = await post(`${url}/graphql`, allowed);
    expect(okPost.headers.get('access-control-allow-origin')).toBe(allowed);

    for (const res of [await preflight(`${url}/graphql`, EVIL), await post(`${url}/graphql`, EVIL)]) {
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
      expect(res.headers.get('access-control-allow-credentials')).toBeNull();
      expect(res.headers.get('access-control-allow-methods')).toBeNull();
    }
  });

  it('CORS_ORIGINS is validated at start-up', () => {
    expect(() => loadConfig({ CORS_ORIGINS: 'https://a.example/path' })).toThrow(/CORS_ORIGINS/);
    expect(() => loadConfig({ CORS_ORIGINS: 'not an origin' })).toThrow(/CORS_ORIGINS/);
    expect(loadConfig({}).CORS_ORIGINS).toBe('*');
    expect(loadConfig({ CORS_ORIGINS: 'https://a.example, http://localhost:3000' }).CORS_ORIGINS).toBe(
      'https://a.example, http://localhost:3000',
    );
  });
});

describe('live page Content-Security-Policy header', () => {
  it("allows only this page's own inline script (by hash) and no 'unsafe-inline'", async () => {
    const { url } = await start();
    const res = await fetch(`${url}/jobs/job_abc/live`);
    const csp = res.headers.get('content-security-policy') ?? '';
    const html = await res.text();
    const directive = (name: string) =>
      csp
        .split(';')
        .map((d) => d.trim().split(/\s+/))
        .find(([n]) => n === name)
        ?.slice(1) ?? [];
    expect(directive('script-src')).not.toContain("'unsafe-inline'");
    expect(directive('style-src')).not.toContain("'unsafe-inline'");
    expect(directive('frame-ancestors')).toEqual(["'none'"]);
    // Every inline script of the page is allowed by its hash, and nothing else inline is.
    const inline = [...html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
    expect(inline.length).toBeGreaterThan(0);
    const hashes = directive('script-src').filter((s) => s.startsWith("'sha256-"));
    expect(hashes.sort()).toEqual(
      inline.map((s) => `'sha256-${createHash('sha256').update(s, 'utf8').digest('base64')}'`).sort(),
    );
  });
});

// ───────────── timeouts ─────────────

/** Resolves when the server closes `socket`, with whatever it answered first. */
function closed(socket: Socket): Promise<string> {
  let received = '';
  socket.on('data', (d) => {
    received += d.toString('latin1');
  });
  return new Promise((resolve) => socket.once('close', () => resolve(received)));
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Writes `text` one byte at a time, `everyMs` apart, until the socket closes (then stops). */
function trickle(socket: Socket, text: string, everyMs = 50) {
  let i = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || socket.writableEnded) return clearInterval(timer);
    socket.write(text[i++ % text.length]!);
  }, everyMs);
  socket.once('close', () => clearInterval(timer));
}

describe('HTTP timeouts', () => {
  it('a slowloris client (headers byte by byte, never finished) is disconnected after the headers timeout', async () => {
    // The request timeout is far away: only the headers timeout can close this socket.
    const { port } = await start({ HTTP_HEADERS_TIMEOUT_MS: 300, HTTP_REQUEST_TIMEOUT_MS: 600_000 });
    const loris = await open(port);
    const lorisClosed = closed(loris);
    loris.write('GET /graphql HTTP/1.1\r\nHost: x\r\n');
    trickle(loris, 'X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa');
    expect(await lorisClosed).toMatch(/^(HTTP\/1\.1 408|$)/);
  }, 30_000);

  it('a slowloris client is disconnected after the headers timeout; SSE and graphql-ws streams outlive the request timeout', {
    timeout: 45_000,
  }, async () => {
    const { app, url, port } = await start({
      HTTP_HEADERS_TIMEOUT_MS: 300,
      HTTP_REQUEST_TIMEOUT_MS: 600,
      HTTP_KEEP_ALIVE_TIMEOUT_MS: 300,
    });
    const prisma = app.db.prisma;
    const ws = await createWorkspaceFixture(prisma);
    const { jobGid } = await postJobFixture(prisma, ws);
    const query = 'subscription($id: ID!) { jobEvents(jobId: $id) { __typename } }';

    // Long-lived streams opened first: they must still deliver after every timeout has passed.
    const controller = new AbortController();
    const sse = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        authorization: `Bearer ${ws.ownerKey}`,
      },
      body: JSON.stringify({ query, variables: { id: jobGid } }),
      signal: controller.signal,
    });
    expect(sse.headers.get('content-type')).toMatch(/text\/event-stream/);
    const sub = subscribe(url, ws.ownerKey, query, { id: jobGid });

    // Slowloris: headers one byte at a time, never finished.
    const loris = await open(port);
    const lorisClosed = closed(loris);
    loris.write('GET /graphql HTTP/1.1\r\nHost: x\r\n');
    trickle(loris, 'X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa');
    // Nothing at all after connecting.
    const silent = await open(port);
    const silentClosed = closed(silent);
    // Headers complete, the body trickles in and never ends: the request timeout.
    const slowBody = await open(port);
    const slowBodyClosed = closed(slowBody);
    slowBody.write(
      'POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{',
    );
    trickle(slowBody, ' ');
    // An idle keep-alive socket after one complete request: the keep-alive timeout.
    const idle = await open(port);
    const idleClosed = closed(idle);
    idle.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');

    const [lorisAnswer, , slowBodyAnswer, idleAnswer] = await Promise.all([
      lorisClosed,
      silentClosed,
      slowBodyClosed,
      idleClosed,
    ]);
    expect(lorisAnswer).toMatch(/^(HTTP\/1\.1 408|$)/);
    expect(slowBodyAnswer).toMatch(/^(HTTP\/1\.1 408|$)/);
    expect(idleAnswer).toMatch(/^HTTP\/1\.1 200/);

    // Every timeout has fired by now; the streams opened before are still live.
    const cancel = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ws.ownerKey}` },
      body: JSON.stringify({
        query: 'mutation($id: ID!) { cancelJob(id: $id) { __typename } }',
        variables: { id: jobGid },
      }),
    });
    expect(await cancel.json()).toMatchObject({ data: { cancelJob: { __typename: 'CancelJobPayload' } } });
    await sub.waitFor((events) => events.some((e) => e.__typename === 'JobStatusChanged'), 10_000);
    const reader = sse.body!.getReader();
    let text = '';
    while (!text.includes('JobStatusChanged')) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`SSE stream ended: ${text}`);
      text += new TextDecoder().decode(value);
    }
    expect(text).toContain('"__typename":"JobStatusChanged"');
    controller.abort();
    await sub.dispose();
  });

  it('the timeouts are configured with sensible defaults and validated', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      HTTP_HEADERS_TIMEOUT_MS: 10_000,
      HTTP_REQUEST_TIMEOUT_MS: 60_000,
      HTTP_KEEP_ALIVE_TIMEOUT_MS: 5_000,
    });
    expect(() => loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '70000', HTTP_REQUEST_TIMEOUT_MS: '60000' })).toThrow(
      /HTTP_HEADERS_TIMEOUT_MS/,
    );
  });
});
