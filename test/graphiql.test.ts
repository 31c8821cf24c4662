import { existsSync } from 'node:fs';
import { parse, validate } from 'graphql';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GRAPHIQL_ASSET_PREFIX, GRAPHIQL_TITLE } from '../src/app/graphiql.ts';
import { ConfigError, loadConfig } from '../src/config.ts';
import { schema } from '../src/schema/index.ts';
import { type App, buildApp } from '../src/server.ts';
import { createTestDatabase, type TestDatabase, testConfig } from './support/app.ts';

// GraphiQL must work with no internet: every asset it needs is served by us.

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);

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

const page = () => fetch(`${url}/graphql`, { headers: { accept: 'text/html' } });

/** The options yoga hands GraphiQL, as embedded in the page. */
function embeddedOptions(html: string): Record<string, any> {
  const m = /<script type="application\/json" id="graphiql-options">([^<]*)<\/script>/.exec(html);
  expect(m, 'options element').not.toBeNull();
  return JSON.parse(m![1]!);
}

describe('GraphiQL', () => {
  it('is one small page with our title and no external URL; every asset it names answers 200 from us', async () => {
    const res = await page();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const html = await res.text();
    expect(html).toContain(`<title>${GRAPHIQL_TITLE}</title>`);
    expect(html).not.toContain('__TITLE__');
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/unpkg|jsdelivr|cdnjs|esm\.sh|googleapis/);
    expect(html.length).toBeLessThan(10_000);

    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThanOrEqual(4);
    for (const asset of assets) {
      expect(asset.startsWith(GRAPHIQL_ASSET_PREFIX), asset).toBe(true);
      const served = await fetch(`${url}${asset}`);
      expect(served.status, asset).toBe(200);
      const body = await served.text();
      expect(body.length, asset).toBeGreaterThan(0);
      // The bundle loads nothing from a CDN (URLs in it are licence comments and XML namespaces).
      expect(body, asset).not.toMatch(/unpkg\.com|cdn\.jsdelivr|cdnjs|esm\.sh|fonts\.googleapis/);
    }
    // Monaco's workers are ours too.
    for (const worker of ['editor.worker.js', 'json.worker.js', 'graphql.worker.js']) {
      const served = await fetch(`${url}${GRAPHIQL_ASSET_PREFIX}${worker}`);
      expect(served.status, worker).toBe(200);
      expect(served.headers.get('content-type')).toMatch(/javascript/);
      await served.arrayBuffer();
    }
    expect((await fetch(`${url}${GRAPHIQL_ASSET_PREFIX}nope.js`)).status).toBe(404);
  });

  it('opens with a starter query that is valid against the schema and the Authorization header, and can load its docs', async () => {
    const options = embeddedOptions(await (await page()).text());
    expect(options.title).toBe(GRAPHIQL_TITLE);
    expect(validate(schema, parse(options.defaultQuery))).toEqual([]);
    expect(options.defaultQuery).toMatch(/Bearer aw_live_/);
    const headers = JSON.parse(options.headers) as Record<string, string>;
    expect(Object.keys(headers)).toEqual(['Authorization']);

    // GraphiQL sends these headers with its schema request: they must not turn it into a 401.
    const introspection = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ query: '{ __schema { queryType { name } } }' }),
    });
    expect(introspection.status).toBe(200);
    expect(await introspection.json()).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } });
  });

  it.skipIf(!hasChromium)(
    'renders in Chromium with every request kept on this server',
    async () => {
      let browser: Browser | undefined;
      try {
        browser = await chromium.launch({
          executablePath: CHROMIUM,
          headless: true,
          args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
        });
        const tab = await browser.newPage();
        // Every request the page makes (workers included) must go to this server.
        const foreign: string[] = [];
        tab.on('request', (r) => {
          const target = r.url();
          if (!target.startsWith(url) && !target.startsWith('blob:') && !target.startsWith('data:'))
            foreign.push(target);
        });
        // GraphiQL's schema request, with the page's default headers.
        const schemaResponse = tab.waitForResponse(
          (r) =>
            r.url() === `${url}/graphql` &&
            r.request().method() === 'POST' &&
            /__schema/.test(r.request().postData() ?? ''),
          { timeout: 60_000 },
        );
        await tab.goto(`${url}/graphql`);
        await tab.waitForSelector('.graphiql-container', { timeout: 60_000 });
        expect(await tab.title()).toBe(GRAPHIQL_TITLE);
        const introspection = await schemaResponse;
        expect(introspection.status()).toBe(200);
        expect(((await introspection.json()) as { data?: { __schema?: unknown } }).data?.__schema).toBeTruthy();
        // The starter query is in the editor (Monaco renders spaces as U+00A0).
        await tab.waitForFunction(
          () => (document.body.textContent ?? '').replace(/\u00a0/g, ' ').includes('query Start'),
          undefined,
          {
            timeout: 60_000,
          },
        );
        expect(foreign).toEqual([]);
      } finally {
        await browser?.close();
      }
    },
    180_000,
  );
});

describe('GraphiQL and introspection are configured together', () => {
  it('GRAPHIQL=true turns introspection on, even in production', async () => {
    const prod = await buildApp(testConfig({ NODE_ENV: 'production', GRAPHIQL: true }), {
      database: db.database,
      migrate: false,
    });
    try {
      const res = await prod.fetch('http://x/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ __schema { queryType { name } } }' }),
      });
      expect(await res.json()).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } });
    } finally {
      await prod.stop();
    }
  });

  it('GRAPHIQL=true with GRAPHQL_INTROSPECTION=false is refused at start, naming the variable', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', GRAPHIQL: 'true', GRAPHQL_INTROSPECTION: 'false' })).toThrow(
      ConfigError,
    );
    expect(() => loadConfig({ GRAPHIQL: 'true', GRAPHQL_INTROSPECTION: 'false' })).toThrow(/GRAPHQL_INTROSPECTION/);
    // Production defaults stay closed: no GraphiQL, no introspection, no assets.
    const prod = loadConfig({ NODE_ENV: 'production' });
    expect(prod.GRAPHIQL).toBeUndefined();
  });

  it('serves no GraphiQL assets where GraphiQL is off', async () => {
    const prod = await buildApp(testConfig({ NODE_ENV: 'production', HOST: '127.0.0.1', PORT: 0 }), {
      database: db.database,
      migrate: false,
    });
    try {
      const { url: prodUrl } = await prod.start();
      const res = await fetch(`${prodUrl}${GRAPHIQL_ASSET_PREFIX}graphiql.js`);
      expect(res.status).toBeGreaterThanOrEqual(400);
      await res.arrayBuffer();
    } finally {
      await prod.stop();
    }
  });
});
