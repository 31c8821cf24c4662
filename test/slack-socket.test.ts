import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { type App, buildApp } from '../src/server.ts';
import { createTestDatabase, type TestDatabase, testConfig } from './support/app.ts';
import { startFakeSlack } from './support/fake-slack.ts';

/** Socket Mode smoke test: the real Bolt Socket Mode client against a local fake socket server. */
let db: TestDatabase;
let app: App;
let slack: Awaited<ReturnType<typeof startFakeSlack>>;
let wss: WebSocketServer;
const acks: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  slack = await startFakeSlack();
  wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((r) => wss.once('listening', r));
  slack.setSocketUrl(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`);
  wss.on('connection', (socket) => {
    socket.on('message', (raw) => acks.push(JSON.parse(String(raw)).envelope_id));
    socket.send(
      JSON.stringify({ type: 'hello', num_connections: 1, debug_info: {}, connection_info: { app_id: 'A1' } }),
    );
    socket.send(
      JSON.stringify({
        envelope_id: 'env-1',
        type: 'slash_commands',
        accepts_response_payload: true,
        payload: {
          command: '/agentwork',
          text: 'help',
          team_id: 'T1',
          channel_id: 'C1',
          user_id: 'U1',
          user_name: 'u1',
          trigger_id: 't1',
          response_url: slack.responseUrl(),
        },
      }),
    );
  });
  app = await buildApp(
    testConfig({
      SLACK_SOCKET_MODE: true,
      SLACK_BOT_TOKEN: 'xoxb-test',
      SLACK_APP_TOKEN: 'xapp-test',
      SLACK_API_URL: slack.apiUrl,
    }),
    { database: db.database, migrate: false },
  );
  await app.start();
});
afterAll(async () => {
  await app.stop();
  wss.close();
  await slack.close();
  await db.close();
});

it('connects over Socket Mode, acks the envelope and answers /agentwork help', async () => {
  await slack.waitFor((c) => c.method === 'apps.connections.open');
  const answer = await slack.waitForResponse((r) => r.text === 'Agentwork commands');
  expect(answer.response_type).toBe('ephemeral');
  expect(acks).toContain('env-1');
});
