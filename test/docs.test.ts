import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../src/server.ts';
import { createTestDatabase, type TestDatabase, testConfig } from './support/app.ts';
import { createAgentFixture, createWorkspaceFixture, postJobFixture } from './support/factories.ts';

// What a newcomer reads and what the server says about itself must point somewhere real and agree.

const root = resolve(import.meta.dirname, '..');
const read = (file: string) => readFileSync(resolve(root, file), 'utf8');
const VERSION = (JSON.parse(read('package.json')) as { version: string }).version;

let db: TestDatabase;
let app: App;
let url: string;
beforeAll(async () => {
  db = await createTestDatabase();
  app = await buildApp(testConfig({ HOST: '127.0.0.1', PORT: 0 }), { database: db.database, migrate: false });
  ({ url } = await app.start());
});
afterAll(async () => {
  await app.stop();
  await db.close();
});

/** Relative link targets of a markdown file (anchors and URLs with a scheme left out). */
function relativeLinks(file: string): string[] {
  const text = read(file).replace(/```[\s\S]*?```/g, '');
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => m[1]!)
    .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target) && !target.startsWith('#'))
    .map((target) => target.split('#')[0]!);
}

describe('docs', () => {
  it('every relative link in the README and docs/ points to a file in the repository', () => {
    for (const file of ['README.md', 'docs/api.md']) {
      const links = relativeLinks(file);
      expect(links.length, file).toBeGreaterThan(0);
      for (const target of links) {
        const path = resolve(dirname(resolve(root, file)), target);
        expect(path.startsWith(`${root}/`), `${file} -> ${target} leaves the repository`).toBe(true);
        expect(existsSync(path), `${file} -> ${target}`).toBe(true);
      }
    }
    expect(relativeLinks('README.md')).toContain('docs/api.md');
  });

  it('one version: package.json, the Changelog, OpenAPI, MCP and GET /', async () => {
    const changelog = read('README.md').split('## Changelog')[1]!;
    expect(/\*\*(\d+\.\d+\.\d+)\*\*/.exec(changelog)?.[1]).toBe(VERSION);

    const openapiResponse = await fetch(`${url}/api/openapi.json`);
    const openapiText = await openapiResponse.text();
    // The document we complete is longer than SOFA's; a stale content-length would cut it short.
    const length = openapiResponse.headers.get('content-length');
    if (length !== null) expect(Number(length)).toBe(Buffer.byteLength(openapiText));
    const openapi = JSON.parse(openapiText);
    expect(openapi.info.version).toBe(VERSION);

    const index = await (await fetch(`${url}/`)).json();
    expect(index.version).toBe(VERSION);

    const ws = await createWorkspaceFixture(db.database.prisma);
    const agent = await createAgentFixture(db.database.prisma, ws);
    const res = await fetch(`${url}/mcp`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${agent.key}`,
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'docs-test', version: '1' } },
      }),
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    // JSON, or one SSE `data:` line, depending on the transport's choice.
    const message = JSON.parse(text.startsWith('{') ? text : /^data: (.*)$/m.exec(text)![1]!);
    expect(message.result.serverInfo).toEqual({ name: 'agentwork', version: VERSION });
  });

  it('GET / lists every surface, and each listed path answers', async () => {
    const index = await (await fetch(`${url}/`)).json();
    expect(index).toMatchObject({
      name: 'Agentwork',
      graphql: '/graphql',
      rest: '/api',
      openapi: '/api/openapi.json',
      mcp: '/mcp',
      metrics: '/metrics',
      live: '/jobs/{jobId}/live',
      health: '/healthz',
      ready: '/readyz',
    });

    const ws = await createWorkspaceFixture(db.database.prisma);
    const { jobGid } = await postJobFixture(db.database.prisma, ws);
    const checks: [string, RequestInit, number][] = [
      [index.openapi, {}, 200],
      [index.metrics, {}, 200],
      [index.health, {}, 200],
      [index.ready, {}, 200],
      [index.live.replace('{jobId}', jobGid), {}, 200],
      // No key: the MCP endpoint exists and asks for one.
      [index.mcp, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }, 401],
      [index.graphql, { headers: { accept: 'text/html' } }, 200],
    ];
    for (const [path, init, status] of checks) {
      const res = await fetch(`${url}${path}`, init);
      expect(res.status, path).toBe(status);
      await res.arrayBuffer();
    }
  });
});
