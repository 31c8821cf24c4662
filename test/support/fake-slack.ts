import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SlackCall {
  method: string;
  args: Record<string, any>;
}

/**
 * A local stand-in for Slack's Web API (form-encoded calls to /api/<method>) and for response_url
 * callbacks (/respond/<n>). Records every call; answers like Slack does.
 */
export async function startFakeSlack() {
  const calls: SlackCall[] = [];
  const responses: Record<string, any>[] = [];
  let ts = 1_700_000_000;
  let socketUrl = '';
  const failures = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const url = req.url ?? '';
      if (url.startsWith('/respond/')) {
        responses.push(JSON.parse(body || '{}'));
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
        return;
      }
      const method = url.replace(/^\/api\//, '').split('?')[0]!;
      const args: Record<string, any> = {};
      const ctype = req.headers['content-type'] ?? '';
      if (ctype.includes('application/json')) Object.assign(args, JSON.parse(body || '{}'));
      else for (const [k, v] of new URLSearchParams(body)) args[k] = /^[[{]/.test(v) ? JSON.parse(v) : v;
      calls.push({ method, args });
      if ((failures.get(method) ?? 0) > 0) {
        failures.set(method, failures.get(method)! - 1);
        res
          .writeHead(503, { 'content-type': 'application/json' })
          .end(JSON.stringify({ ok: false, error: 'service_unavailable' }));
        return;
      }
      const answer: Record<string, unknown> = { ok: true };
      if (method === 'chat.postMessage') Object.assign(answer, { ts: `${++ts}.000100`, channel: args.channel });
      if (method === 'chat.update') Object.assign(answer, { ts: args.ts, channel: args.channel });
      if (method === 'views.open') Object.assign(answer, { view: { id: 'V1' } });
      if (method === 'apps.connections.open') Object.assign(answer, { url: socketUrl });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    apiUrl: `${base}/api/`,
    responseUrl: () => `${base}/respond/${responses.length}-${Math.random().toString(36).slice(2)}`,
    calls,
    responses,
    /** Makes the next `count` calls of `method` fail with 503 (a Slack outage). */
    failNext(method: string, count: number) {
      failures.set(method, count);
    },
    /** Where apps.connections.open sends Socket Mode clients. */
    setSocketUrl(url: string) {
      socketUrl = url;
    },
    /** Waits until a call matching `predicate` was made (returns it). */
    async waitFor(predicate: (c: SlackCall) => boolean, timeoutMs = 15_000): Promise<SlackCall> {
      const start = Date.now();
      for (;;) {
        const found = calls.find(predicate);
        if (found) return found;
        if (Date.now() - start > timeoutMs)
          throw new Error(`no matching Slack call; saw ${calls.map((c) => c.method).join(', ')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async waitForResponse(predicate: (r: Record<string, any>) => boolean, timeoutMs = 15_000) {
      const start = Date.now();
      for (;;) {
        const found = responses.find(predicate);
        if (found) return found;
        if (Date.now() - start > timeoutMs)
          throw new Error(`no matching response_url call; saw ${JSON.stringify(responses)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** Signs a request body the way Slack does: v0=hex(HMAC-SHA256("v0:{ts}:{body}")). */
export function slackHeaders(secret: string, body: string, timestamp = Math.floor(Date.now() / 1000)) {
  const signature = `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
  return {
    'content-type': 'application/x-www-form-urlencoded',
    'x-slack-request-timestamp': String(timestamp),
    'x-slack-signature': signature,
  };
}
