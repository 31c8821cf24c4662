import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../src/server.ts';
import { createTestDatabase, type TestDatabase, testConfig } from './support/app.ts';
import { createAgentFixture, createWorkspaceFixture, postJobFixture } from './support/factories.ts';

// The live execution page (/jobs/<id>/live) in a real headless Chromium against the real server
// over a socket: HTTP query for the state, graphql-ws for the events.

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
const NO_CHROMIUM = `needs Chromium at ${CHROMIUM} (Debian package \`chromium\`)`;

let db: TestDatabase | undefined;
let app: App | undefined;
let url = '';
let browser: Browser | undefined;

beforeAll(async () => {
  if (!hasChromium) return;
  db = await createTestDatabase();
  app = await buildApp(testConfig({ HOST: '127.0.0.1', PORT: 0 }), { database: db.database, migrate: false });
  ({ url } = await app.start());
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-sync',
      '--disable-quic',
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  await app?.stop();
  await db?.close();
});

/** A GraphQL request over the real HTTP socket; fails the test on transport or GraphQL errors. */
async function gql<T = any>(query: string, variables: Record<string, unknown>, apiKey: string): Promise<T> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data: T; errors?: { message: string }[] };
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  return body.data;
}

const ASSIGN = `mutation($jobId: ID!, $agentId: ID!) { assignJob(jobId: $jobId, agentId: $agentId) {
  __typename ... on Error { message } } }`;
const START = `mutation($jobId: ID!) { startExecution(jobId: $jobId) {
  __typename ... on StartExecutionPayload { execution { id } } ... on Error { message } } }`;
const REPORT = `mutation($id: ID!, $progress: Int!, $step: StepInput) {
  reportProgress(executionId: $id, progress: $progress, step: $step) {
    __typename ... on ReportProgressPayload { execution { progress } } ... on Error { message } } }`;

describe('live execution page', () => {
  it('shows the job, then a step reported by the agent within a second, as text', async ({ skip }) => {
    if (!hasChromium) skip(NO_CHROMIUM);
    const prisma = app!.db.prisma;
    const ws = await createWorkspaceFixture(prisma);
    const agent = await createAgentFixture(prisma, ws);
    const { jobGid } = await postJobFixture(prisma, ws, { title: 'Research competitor pricing (live)' });

    const assigned = await gql(ASSIGN, { jobId: jobGid, agentId: agent.agentGid }, ws.ownerKey);
    expect(assigned.assignJob.__typename, JSON.stringify(assigned)).toBe('AssignJobPayload');
    const started = await gql(START, { jobId: jobGid }, agent.key);
    expect(started.startExecution.__typename, JSON.stringify(started)).toBe('StartExecutionPayload');
    const executionId: string = started.startExecution.execution.id;

    // A step before the page opens comes from the initial query.
    const first = await gql(
      REPORT,
      { id: executionId, progress: 10, step: { kind: 'plan', message: 'Listed five competitors' } },
      agent.key,
    );
    expect(first.reportProgress.__typename, JSON.stringify(first)).toBe('ReportProgressPayload');

    const context = await browser!.newContext();
    const page = await context.newPage();
    const requests: string[] = [];
    const problems: string[] = [];
    page.on('request', (request) => requests.push(request.url()));
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
    // Console errors (CSP violations, script errors) and failed requests. The browser's own
    // /favicon.ico probe is not the page's doing: its 404 (and the console line for it) is ignored.
    page.on('console', (message) => {
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
        problems.push(`console: ${message.text()}`);
      }
    });
    page.on('response', (response) => {
      if (response.status() >= 400 && new URL(response.url()).pathname !== '/favicon.ico') {
        problems.push(`HTTP ${response.status()} ${response.url()}`);
      }
    });

    try {
      await page.goto(`${url}/jobs/${jobGid}/live#key=${ws.ownerKey}`);
      await page.waitForSelector('#connection[data-state="live"]', { timeout: 10_000 });
      expect(await page.textContent('#connection')).toBe('live');

      // The key left the address bar; the initial state is on the page.
      expect(page.url()).toBe(`${url}/jobs/${jobGid}/live`);
      expect(await page.textContent('#title')).toBe('Research competitor pricing (live)');
      expect(await page.getAttribute('#status', 'data-status')).toBe('IN_PROGRESS');
      expect(await page.textContent('#steps')).toContain('Listed five competitors');
      expect(await page.$eval('#progress', (p) => (p as HTMLProgressElement).value)).toBe(10);

      // Live: a step with markup in it must show up as text within a second.
      const message = 'Compared <b>pricing</b> pages <img src=x onerror="window.__xss=1">';
      const reported = await gql(
        REPORT,
        { id: executionId, progress: 40, step: { kind: 'browse', message } },
        agent.key,
      );
      expect(reported.reportProgress).toEqual({ __typename: 'ReportProgressPayload', execution: { progress: 40 } });
      await page.waitForFunction((text) => document.querySelector('#steps')?.textContent?.includes(text), message, {
        timeout: 1_000,
      });
      await page.waitForFunction(
        () => (document.querySelector('#progress') as HTMLProgressElement | null)?.value === 40,
        null,
        { timeout: 1_000 },
      );
      expect(await page.textContent('#progress-text')).toBe('40%');
      expect(await page.$$eval('#steps li', (items) => items.map((li) => li.textContent))).toEqual([
        expect.stringContaining('Listed five competitors'),
        expect.stringContaining(message),
      ]);
      // Escaped, not parsed: no element came from the message.
      expect(await page.$$('#steps b, #steps img')).toHaveLength(0);
      expect(await page.evaluate(() => (window as any).__xss)).toBeUndefined();

      // Everything the page loaded came from this server; nothing went wrong in the page.
      expect(requests.filter((r) => !r.startsWith(url))).toEqual([]);
      expect(requests).toContain(`${url}/live/graphql-ws.js`);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('asks for a key when none is given, and shows an error for a rejected one', async ({ skip }) => {
    if (!hasChromium) skip(NO_CHROMIUM);
    const ws = await createWorkspaceFixture(app!.db.prisma);
    const { jobGid } = await postJobFixture(app!.db.prisma, ws);
    const context = await browser!.newContext();
    const page = await context.newPage();
    try {
      await page.goto(`${url}/jobs/${jobGid}/live`);
      await page.waitForSelector('#key-form:not([hidden])', { timeout: 5_000 });

      await page.fill('#key-input', 'aw_live_not_a_real_key');
      await page.click('#key-form button');
      await page.waitForSelector('#connection[data-state="error"]', { timeout: 5_000 });
      await page.waitForSelector('#key-form:not([hidden])', { timeout: 5_000 });
      expect(await page.evaluate(() => sessionStorage.getItem('agentwork.apiKey'))).toBeNull();

      // A good key from the form: the open job shows up, live (no execution yet).
      await page.fill('#key-input', ws.ownerKey);
      await page.click('#key-form button');
      await page.waitForSelector('#connection[data-state="live"]', { timeout: 10_000 });
      expect(await page.getAttribute('#status', 'data-status')).toBe('OPEN');
      expect(await page.textContent('#execution')).toBe('The agent has not started yet.');
    } finally {
      await context.close();
    }
  });
  it('reconnects after a server restart and catches up on what happened meanwhile', async ({ skip }) => {
    if (!hasChromium) skip(NO_CHROMIUM);
    const prisma = app!.db.prisma;
    const ws = await createWorkspaceFixture(prisma);
    const agent = await createAgentFixture(prisma, ws);
    const { jobGid } = await postJobFixture(prisma, ws);
    await gql(ASSIGN, { jobId: jobGid, agentId: agent.agentGid }, ws.ownerKey);
    const started = await gql(START, { jobId: jobGid }, agent.key);
    const executionId: string = started.startExecution.execution.id;

    const context = await browser!.newContext();
    const page = await context.newPage();
    try {
      await page.goto(`${url}/jobs/${jobGid}/live#key=${ws.ownerKey}`);
      await page.waitForSelector('#connection[data-state="live"]', { timeout: 10_000 });

      // Restart the server on the same port; the agent reports while the page is disconnected.
      const port = new URL(url).port;
      await app!.stop();
      await page.waitForSelector('#connection[data-state="reconnecting"]', { timeout: 5_000 });
      app = await buildApp(testConfig({ HOST: '127.0.0.1', PORT: Number(port) }), {
        database: db!.database,
        migrate: false,
      });
      await app.start();
      await gql(
        REPORT,
        { id: executionId, progress: 30, step: { message: 'Reported while the page was away' } },
        agent.key,
      );

      // Back live: the missed step came with the state reloaded on reconnect, and events flow again.
      await page.waitForSelector('#connection[data-state="live"]', { timeout: 15_000 });
      await page.waitForFunction(
        () => document.querySelector('#steps')?.textContent?.includes('while the page was away'),
        null,
        {
          timeout: 2_000,
        },
      );
      await gql(
        REPORT,
        { id: executionId, progress: 60, step: { message: 'Reported after the reconnect' } },
        agent.key,
      );
      await page.waitForFunction(
        () => document.querySelector('#steps')?.textContent?.includes('after the reconnect'),
        null,
        {
          timeout: 1_000,
        },
      );
      expect(await page.$eval('#progress', (p) => (p as HTMLProgressElement).value)).toBe(60);
      expect(await page.$$('#steps li')).toHaveLength(2);
    } finally {
      await context.close();
    }
  });
});
