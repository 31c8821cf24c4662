import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../src/server.ts';
import { createTestDatabase, type TestDatabase, testConfig } from './support/app.ts';
import { browserSteps, hasChromium, launchChromium, NO_CHROMIUM } from './support/browser.ts';
import {
  createAgentFixture,
  createMemberFixture,
  createWorkspaceFixture,
  postJobFixture,
} from './support/factories.ts';

// The live execution page (/jobs/<id>/live) in a real headless Chromium against the real server
// over a socket: HTTP for the state and the poster's actions, graphql-ws for the events. Every
// step is wrapped by `browserSteps`: a failing step leaves a screenshot and prints its path.

let db: TestDatabase | undefined;
let app: App | undefined;
let url = '';
let browser: Browser | undefined;

beforeAll(async () => {
  if (!hasChromium) return;
  db = await createTestDatabase();
  app = await buildApp(testConfig({ HOST: '127.0.0.1', PORT: 0 }), { database: db.database, migrate: false });
  ({ url } = await app.start());
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await app?.stop();
  await db?.close();
});

/** Starts a new server on the same port and database (after `app.stop()`). */
async function startServerAgain(): Promise<void> {
  app = await buildApp(testConfig({ HOST: '127.0.0.1', PORT: Number(new URL(url).port) }), {
    database: db!.database,
    migrate: false,
  });
  await app.start();
}

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

/** Runs an agent/poster mutation and checks it returned the expected payload type. */
async function mutate(query: string, variables: Record<string, unknown>, apiKey: string, payload: string) {
  const data = await gql(query, variables, apiKey);
  const result = Object.values(data as object)[0];
  expect(result.__typename, JSON.stringify(result)).toBe(payload);
  return result;
}

const OFFER = `mutation($input: OfferJobInput!) { offerJob(input: $input) {
  __typename ... on OfferJobPayload { offer { id } } ... on Error { message } } }`;
const ACCEPT_OFFER = `mutation($id: ID!) { acceptOffer(offerId: $id) { __typename ... on Error { message } } }`;

/** Hires an agent of another workspace the way strangers deal: an offer at the job's budget, accepted. */
async function hire(jobGid: string, agent: { agentGid: string; key: string }, posterKey: string) {
  const { job } = (await gql(`query($id: ID!) { job(id: $id) { budget } }`, { id: jobGid }, posterKey)) as {
    job: { budget: number };
  };
  const offered = await mutate(
    OFFER,
    { input: { jobId: jobGid, agentId: agent.agentGid, credits: job.budget } },
    posterKey,
    'OfferJobPayload',
  );
  await mutate(ACCEPT_OFFER, { id: offered.offer.id }, agent.key, 'AcceptOfferPayload');
}
const START = `mutation($jobId: ID!) { startExecution(jobId: $jobId) {
  __typename ... on StartExecutionPayload { execution { id } } ... on Error { message } } }`;
const REPORT = `mutation($id: ID!, $progress: Int!, $step: StepInput) {
  reportProgress(executionId: $id, progress: $progress, step: $step) {
    __typename ... on ReportProgressPayload { execution { progress } } ... on Error { message } } }`;
const REQUEST_INPUT = `mutation($id: ID!, $question: String!) { requestInput(executionId: $id, question: $question) {
  __typename ... on RequestInputPayload { inputRequest { id } } ... on Error { message } } }`;
const SUBMIT = `mutation($id: ID!, $result: JSON, $artifacts: [ArtifactInput!]) {
  submitResult(executionId: $id, result: $result, artifacts: $artifacts) {
    __typename ... on Error { message } } }`;

/** A job assigned to an agent of another workspace, its execution started. */
async function startedJob(title?: string) {
  const prisma = app!.db.prisma;
  const ws = await createWorkspaceFixture(prisma);
  const agentWs = await createWorkspaceFixture(prisma);
  const agent = await createAgentFixture(prisma, agentWs);
  const { jobGid } = await postJobFixture(prisma, ws, title ? { title } : {});
  await hire(jobGid, agent, ws.ownerKey);
  const started = await mutate(START, { jobId: jobGid }, agent.key, 'StartExecutionPayload');
  return { ws, agent, jobGid, executionId: started.execution.id as string };
}

/**
 * A fresh browser context and page, recording what the page requested and anything that went
 * wrong in it: uncaught errors, console errors (CSP violations, script errors) and HTTP errors.
 * The browser's own /favicon.ico probe is not the page's doing and is ignored.
 */
async function openContext(): Promise<{ context: BrowserContext; page: Page; requests: string[]; problems: string[] }> {
  const context = await browser!.newContext();
  const page = await context.newPage();
  const requests: string[] = [];
  const problems: string[] = [];
  page.on('request', (request) => requests.push(request.url()));
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
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
  return { context, page, requests, problems };
}

const live = '#connection[data-state="live"]';
const textOf = (page: Page, selector: string) => page.textContent(selector).then((t) => t ?? '');

describe('live execution page', () => {
  it('shows the job, then a step reported by the agent within a second, as text', async (ctx) => {
    if (!hasChromium) ctx.skip(NO_CHROMIUM);
    const { ws, agent, jobGid, executionId } = await startedJob('Research competitor pricing (live)');
    // A step before the page opens comes from the initial query.
    await mutate(
      REPORT,
      { id: executionId, progress: 10, step: { kind: 'plan', message: 'Listed five competitors' } },
      agent.key,
      'ReportProgressPayload',
    );

    const { context, page, requests, problems } = await openContext();
    const step = browserSteps(ctx, page);
    try {
      await step('opens live, with the key out of the address bar and the state loaded', async () => {
        await page.goto(`${url}/jobs/${jobGid}/live#key=${ws.ownerKey}`);
        await page.waitForSelector(live, { timeout: 10_000 });
        expect(await page.textContent('#connection')).toBe('live');
        expect(page.url()).toBe(`${url}/jobs/${jobGid}/live`);
        expect(await page.textContent('#title')).toBe('Research competitor pricing (live)');
        expect(await page.getAttribute('#status', 'data-status')).toBe('IN_PROGRESS');
        expect(await page.textContent('#steps')).toContain('Listed five competitors');
        expect(await page.$eval('#progress', (p) => (p as HTMLProgressElement).value)).toBe(10);
      });

      // Live: a step with markup in it must show up as text within a second.
      const message = 'Compared <b>pricing</b> pages <img src=x onerror="window.__xss=1">';
      await step('shows a live step within a second, as text', async () => {
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
      });

      await step('loaded nothing from elsewhere, and nothing went wrong in the page', async () => {
        expect(requests.filter((r) => !r.startsWith(url))).toEqual([]);
        expect(requests).toContain(`${url}/live/graphql-ws.js`);
        expect(problems).toEqual([]);
      });
    } finally {
      await context.close();
    }
  });

  it('asks for a key when none is given, and shows an error for a rejected one', async (ctx) => {
    if (!hasChromium) ctx.skip(NO_CHROMIUM);
    const ws = await createWorkspaceFixture(app!.db.prisma);
    const { jobGid } = await postJobFixture(app!.db.prisma, ws);
    const { context, page } = await openContext();
    const step = browserSteps(ctx, page);
    try {
      await step('asks for a key', async () => {
        await page.goto(`${url}/jobs/${jobGid}/live`);
        await page.waitForSelector('#key-form:not([hidden])', { timeout: 5_000 });
      });
      await step('a rejected key: an error, the form again, nothing stored', async () => {
        await page.fill('#key-input', 'aw_live_not_a_real_key');
        await page.click('#key-form button');
        await page.waitForSelector('#connection[data-state="error"]', { timeout: 5_000 });
        await page.waitForSelector('#key-form:not([hidden])', { timeout: 5_000 });
        expect(await page.evaluate(() => sessionStorage.getItem('agentwork.apiKey'))).toBeNull();
      });
      await step('a good key from the form: the open job, live, no agent yet', async () => {
        await page.fill('#key-input', ws.ownerKey);
        await page.click('#key-form button');
        await page.waitForSelector(live, { timeout: 10_000 });
        expect(await page.getAttribute('#status', 'data-status')).toBe('OPEN');
        expect(await page.textContent('#execution')).toBe('The agent has not started yet.');
        expect(await page.textContent('#agent')).toBe('No agent assigned');
      });
    } finally {
      await context.close();
    }
  });

  it('shows the whole story, and the poster answers and accepts from the page', async (ctx) => {
    if (!hasChromium) ctx.skip(NO_CHROMIUM);
    const prisma = app!.db.prisma;
    const ws = await createWorkspaceFixture(prisma);
    const member = await createMemberFixture(prisma, ws.workspaceId, 'MEMBER');
    const agentWs = await createWorkspaceFixture(prisma);
    const agent = await createAgentFixture(prisma, agentWs, { name: 'Pricing Scout <i>' });
    // PUBLIC: an agent of another workspace sees the job (a WORKSPACE job only its own workspace's agents).
    const { jobGid } = await postJobFixture(prisma, ws, {
      title: 'Compare pricing pages',
      budget: 100,
      visibility: 'PUBLIC',
    });

    const { context, page, requests, problems } = await openContext();
    const step = browserSteps(ctx, page);
    try {
      await step('an open job: no agent yet', async () => {
        await page.goto(`${url}/jobs/${jobGid}/live#key=${ws.ownerKey}`);
        await page.waitForSelector(live, { timeout: 10_000 });
        expect(await page.textContent('#agent')).toBe('No agent assigned');
        expect(await page.textContent('#viewer')).toContain('owner member');
      });

      await step('shows the assigned agent as soon as the job is assigned', async () => {
        await hire(jobGid, agent, ws.ownerKey);
        await page.waitForFunction(() => document.querySelector('#agent')?.textContent === 'Agent: Pricing Scout <i>');
        expect(await page.textContent('#budget')).toBe('Agreed: 100 credits');
        expect(await page.$$('#agent i')).toHaveLength(0);
      });

      const started = await mutate(START, { jobId: jobGid }, agent.key, 'StartExecutionPayload');
      const executionId: string = started.execution.id;
      await mutate(
        REPORT,
        { id: executionId, progress: 30, step: { kind: 'search', message: 'Found three pricing pages' } },
        agent.key,
        'ReportProgressPayload',
      );

      const question = 'Which currency: <b>EUR</b> or USD?';
      await step('shows the awaiting-input state with the question', async () => {
        await page.waitForSelector('#execution[data-status="WORKING"]');
        expect(await textOf(page, '#agent')).toBe('Agent: Pricing Scout <i>');
        await mutate(REQUEST_INPUT, { id: executionId, question }, agent.key, 'RequestInputPayload');
        await page.waitForSelector('#execution[data-status="AWAITING_INPUT"]');
        expect(await page.textContent('#execution')).toBe(`Waiting for an answer: ${question}`);
        await page.waitForSelector('#answer-form:not([hidden])');
        expect(await page.textContent('#answer-question')).toBe(question);
        expect(await page.$$('#answer-question b, #execution b')).toHaveLength(0);
      });

      // The agent's own key sees the question too, but only the posting workspace answers.
      const agentPage = await context.newPage();
      await step("a key that may not answer gets the API's typed error", async () => {
        await agentPage.goto(`${url}/jobs/${jobGid}/live#key=${agent.key}`);
        await agentPage.waitForSelector('#answer-form:not([hidden])', { timeout: 10_000 });
        await agentPage.fill('#answer-input', 'I answer myself');
        await agentPage.click('#answer-form button[type="submit"]');
        await agentPage.waitForFunction(() => document.querySelector('#answer-error')?.textContent !== '');
        // Refused by the API's scope rules (members only), as a typed ForbiddenError result.
        expect(await agentPage.textContent('#answer-error')).toBe(
          'ForbiddenError: Not authorized to resolve Mutation.provideInput',
        );
        expect(await agentPage.isVisible('#answer-form')).toBe(true);
      });
      await agentPage.close();

      await step('the poster answers from the page; the agent works on', async () => {
        await page.fill('#answer-input', 'EUR, please');
        await page.click('#answer-form button[type="submit"]');
        await page.waitForSelector('#answer-form', { state: 'hidden' });
        await page.waitForSelector('#execution[data-status="WORKING"]');
        expect(await page.textContent('#questions')).toContain('↳ EUR, please');
        const seen = await gql(
          `query($id: ID!) { job(id: $id) { execution { status inputRequests { answer } } } }`,
          { id: jobGid },
          agent.key,
        );
        expect(seen.job.execution).toEqual({ status: 'WORKING', inputRequests: [{ answer: 'EUR, please' }] });
      });

      const report = '# Pricing report\n<script>window.__xss = 1</script>\nAcme: 10 EUR';
      await step('shows the result summary and the artifacts', async () => {
        await mutate(
          SUBMIT,
          {
            id: executionId,
            result: {
              summary: 'Acme is cheapest at 10 EUR <img src=x onerror="window.__xss=1">',
              competitors: ['Acme', 'Globex', 'Initech'],
              cheapest: { name: 'Acme', price: 10 },
              notes: 'x'.repeat(1_000),
            },
            artifacts: [
              { name: 'report.md', mimeType: 'text/markdown', content: report },
              { name: 'Acme pricing', url: 'https://example.com/pricing' },
            ],
          },
          agent.key,
          'SubmitResultPayload',
        );
        await page.waitForSelector('#result-card:not([hidden])');
        expect(await page.textContent('#result-summary')).toBe(
          'Acme is cheapest at 10 EUR <img src=x onerror="window.__xss=1">',
        );
        // One line per field (in the stored JSON's order: PostgreSQL's jsonb sorts the keys), long ones cut.
        const fields = await page.$$eval('#result dt', (terms) =>
          Object.fromEntries(terms.map((dt) => [dt.textContent, dt.nextElementSibling?.textContent])),
        );
        expect(fields).toEqual({
          competitors: 'Acme, Globex, Initech (3 items)',
          cheapest: '{"name":"Acme","price":10}',
          notes: `${'x'.repeat(300)}… (700 more characters)`,
        });
        expect(await page.$$('#result img')).toHaveLength(0);
        expect(await page.textContent('#execution')).toBe('Result submitted: waiting for review.');
        expect(await page.getAttribute('#status', 'data-status')).toBe('REVIEW');
        await page.waitForSelector('#review-form:not([hidden])');
      });

      await step('an artifact opens, as text', async () => {
        expect(await page.getAttribute('#artifacts li:nth-child(2) a', 'href')).toBe('https://example.com/pricing');
        const inline = '#artifacts li:nth-child(1)';
        expect(await page.getAttribute(`${inline} a.download`, 'download')).toBe('report.md');
        const [tab] = await Promise.all([context.waitForEvent('page'), page.click(`${inline} a.open`)]);
        await tab.waitForLoadState();
        expect(tab.url()).toMatch(/^blob:/);
        expect(await tab.evaluate(() => document.body.textContent)).toBe(report);
        expect(await tab.$$('body script')).toHaveLength(0);
        expect(await tab.evaluate(() => (window as any).__xss)).toBeUndefined();
        await tab.close();
        await page.click(`${inline} summary`);
        expect(await page.textContent(`${inline} pre`)).toBe(report);
      });

      await step("reviewing: the API's typed errors are shown", async () => {
        // Accepting needs a rating: the ValidationError and its issue.
        await page.click('#review-form button[value="ACCEPT"]');
        await page.waitForFunction(() => document.querySelector('#review-error')?.textContent !== '');
        expect(await page.textContent('#review-error')).toMatch(
          /^ValidationError: .*\nrating: is required to accept \(1-5\)$/,
        );

        // A MEMBER of the posting workspace may answer but not approve: switch keys on the page.
        await page.click('#change-key');
        await page.fill('#key-input', member.key);
        await page.click('#key-form button');
        await page.waitForFunction(() => document.querySelector('#viewer')?.textContent?.includes('member member'));
        await page.waitForSelector('#review-form:not([hidden])');
        await page.check('#review-form input[name="rating"][value="4"]');
        await page.click('#review-form button[value="ACCEPT"]');
        await page.waitForFunction(() => document.querySelector('#review-error')?.textContent !== '');
        expect(await page.textContent('#review-error')).toBe(
          'ForbiddenError: Reviewing is an approval: only an OWNER or ADMIN of the posting workspace may do it',
        );
        expect(await page.getAttribute('#status', 'data-status')).toBe('REVIEW');
      });

      await step('the owner accepts with a rating: the payout and the rating are shown', async () => {
        await page.click('#change-key');
        await page.fill('#key-input', ws.ownerKey);
        await page.click('#key-form button');
        await page.waitForFunction(() => document.querySelector('#viewer')?.textContent?.includes('owner member'));
        await page.waitForSelector('#review-form:not([hidden])');
        await page.check('#review-form input[name="rating"][value="4"]');
        await page.fill('#review-notes', 'Clear and <em>sourced</em>.');
        await page.click('#review-form button[value="ACCEPT"]');
        await page.waitForSelector('#status[data-status="COMPLETED"]');
        await page.waitForFunction(() => document.querySelector('#payout')?.textContent !== '');

        // What the ledger says the agent got, and the fee: the rest of the agreed price.
        const wallet = await gql(
          '{ wallet { entries(first: 10) { edges { node { kind amount job { id } } } } } }',
          {},
          agent.key,
        );
        const release = wallet.wallet.entries.edges.find(
          (e: any) => e.node.kind === 'RELEASE' && e.node.job?.id === jobGid,
        );
        const paid: number = release.node.amount;
        const fee = 100 - paid;
        expect(fee).toBeGreaterThan(0);
        expect(await page.textContent('#payout')).toBe(
          `Paid ${paid} credits to Pricing Scout <i> · platform fee ${fee} credits`,
        );
        expect(await page.textContent('#review-summary')).toBe(
          'Accepted · rated ★★★★☆ 4/5\nClear and <em>sourced</em>.',
        );
        expect(await page.$$('#review-summary em')).toHaveLength(0);
        expect(await page.isHidden('#review-form')).toBe(true);
        expect(await page.textContent('#execution')).toBe('Done: the result was accepted.');
      });

      await step('after a reload the payout and the rating are still there', async () => {
        const payout = await page.textContent('#payout');
        await page.reload();
        await page.waitForSelector(live, { timeout: 10_000 });
        await page.waitForFunction((text) => document.querySelector('#payout')?.textContent === text, payout);
        expect(await page.textContent('#review-summary')).toContain('4/5');
      });

      await step('loaded nothing from elsewhere, and nothing went wrong in the page', async () => {
        expect(await page.evaluate(() => (window as any).__xss)).toBeUndefined();
        expect(requests.filter((r) => !r.startsWith(url) && !r.startsWith('blob:'))).toEqual([]);
        expect(problems).toEqual([]);
      });
    } finally {
      await context.close();
    }
  });

  it('reconnects after a server restart and catches up on what happened meanwhile', async (ctx) => {
    if (!hasChromium) ctx.skip(NO_CHROMIUM);
    const { ws, agent, jobGid, executionId } = await startedJob();
    const { context, page } = await openContext();
    const step = browserSteps(ctx, page);
    try {
      await step('opens live', async () => {
        await page.goto(`${url}/jobs/${jobGid}/live#key=${ws.ownerKey}`);
        await page.waitForSelector(live, { timeout: 10_000 });
      });

      // Restart the server on the same port; the agent reports while the page is disconnected.
      await step('reconnecting while the server restarts', async () => {
        await app!.stop();
        await page.waitForSelector('#connection[data-state="reconnecting"]', { timeout: 5_000 });
        await startServerAgain();
        await mutate(
          REPORT,
          { id: executionId, progress: 30, step: { message: 'Reported while the page was away' } },
          agent.key,
          'ReportProgressPayload',
        );
      });

      // Back live: the page had received no event yet, so it reloaded the state on reconnect.
      await step('back live, with the missed step, and events flow again', async () => {
        await page.waitForSelector(live, { timeout: 60_000 });
        await page.waitForFunction(() =>
          document.querySelector('#steps')?.textContent?.includes('while the page was away'),
        );
        await mutate(
          REPORT,
          { id: executionId, progress: 60, step: { message: 'Reported after the reconnect' } },
          agent.key,
          'ReportProgressPayload',
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
      });
    } finally {
      await context.close();
    }
  });

  it('says "disconnected" once the server stays gone, and Retry resumes after the last event', async (ctx) => {
    if (!hasChromium) ctx.skip(NO_CHROMIUM);
    const { ws, agent, jobGid, executionId } = await startedJob();
    const { context, page } = await openContext();
    const step = browserSteps(ctx, page);
    // The page's clock is Playwright's: the test skips the reconnect backoff instead of waiting it out.
    await context.clock.install();
    let stateLoads = 0;
    page.on('request', (request) => {
      if (request.postData()?.includes('query LiveJob')) stateLoads++;
    });
    try {
      await step('opens live and receives an event (its seq is where a resume starts)', async () => {
        await page.goto(`${url}/jobs/${jobGid}/live#key=${ws.ownerKey}`);
        await page.waitForSelector(live, { timeout: 10_000 });
        await mutate(
          REPORT,
          { id: executionId, progress: 20, step: { message: 'Before the outage' } },
          agent.key,
          'ReportProgressPayload',
        );
        await page.waitForFunction(() => document.querySelector('#steps')?.textContent?.includes('Before the outage'));
        expect(stateLoads).toBe(1);
      });

      await step('after a bounded number of attempts: disconnected, with a Retry button', async () => {
        await app!.stop();
        // Each attempt announces itself (data-attempt) when its wait starts: jump over the wait.
        let attempt = 0;
        for (;;) {
          const next = await page.waitForFunction(
            (previous) => {
              const node = document.querySelector<HTMLElement>('#connection')!;
              if (node.dataset.state === 'disconnected') return 'disconnected';
              const current = Number(node.dataset.attempt ?? 0);
              return current > previous ? current : false;
            },
            attempt,
            { timeout: 20_000 },
          );
          const value = await next.jsonValue();
          if (value === 'disconnected') break;
          attempt = value as number;
          await page.clock.fastForward(15_000);
        }
        expect(attempt).toBe(8);
        expect(await page.textContent('#connection')).toBe(
          'disconnected: the server cannot be reached. Reload the page or press Retry',
        );
        expect(await page.isVisible('#retry')).toBe(true);
        // It stays there: no more attempts however long the page waits.
        await page.clock.fastForward(120_000);
        expect(await page.getAttribute('#connection', 'data-state')).toBe('disconnected');
      });

      await step('Retry after the server is back: resumes after the last seq, nothing reloaded', async () => {
        await startServerAgain();
        await mutate(
          REPORT,
          { id: executionId, progress: 50, step: { message: 'During the outage' } },
          agent.key,
          'ReportProgressPayload',
        );
        await page.click('#retry');
        await page.waitForSelector(live, { timeout: 10_000 });
        await page.waitForFunction(() => document.querySelector('#steps')?.textContent?.includes('During the outage'));
        expect(await page.isHidden('#retry')).toBe(true);
        expect(await page.$eval('#progress', (p) => (p as HTMLProgressElement).value)).toBe(50);
        // The missed step came from the subscription resuming (`after`), not from reloading the state.
        expect(stateLoads).toBe(1);
        await mutate(
          REPORT,
          { id: executionId, progress: 70, step: { message: 'After the retry' } },
          agent.key,
          'ReportProgressPayload',
        );
        await page.waitForFunction(() => document.querySelector('#steps')?.textContent?.includes('After the retry'));
        expect(
          await page.$$eval('#steps li', (items) => items.map((li) => li.querySelector('.text')?.textContent)),
        ).toEqual(['Before the outage', 'During the outage', 'After the retry']);
      });
    } finally {
      await context.close();
    }
  });
});
