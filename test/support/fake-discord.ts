import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';

export interface DiscordCall {
  method: string;
  path: string;
  body: any;
}

/**
 * A local stand-in for Discord: the REST API under /api/v10 (records calls, answers like Discord)
 * and a minimal gateway (HELLO, heartbeat ACK, READY + GUILD_CREATE on IDENTIFY) that can push
 * INTERACTION_CREATE dispatches to the bot.
 */
export async function startFakeDiscord(options: { applicationId: string; guildId: string }) {
  const calls: DiscordCall[] = [];
  let messageId = 1000;
  let seq = 0;
  const sockets = new Set<WebSocket>();
  const wss = new WebSocketServer({ noServer: true });
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const path = (req.url ?? '').replace(/^\/api\/v10/, '').split('?')[0]!;
      let body: any = null;
      try {
        body = raw ? JSON.parse(raw) : null;
      } catch {
        body = raw;
      }
      // discord.js sends files as multipart; our bot only sends JSON, so keep it simple.
      if (typeof body === 'string' && body.includes('payload_json')) {
        const match = /name="payload_json"\r\n(?:Content-Type: application\/json\r\n)?\r\n([\s\S]*?)\r\n--/.exec(body);
        if (match) body = JSON.parse(match[1]!);
      }
      calls.push({ method: req.method!, path: decodeURIComponent(path), body });
      const json = (status: number, data: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(data));
      };
      if (req.method === 'GET' && path === '/gateway/bot') {
        return json(200, {
          url: `ws://127.0.0.1:${port}`,
          shards: 1,
          session_start_limit: { total: 1000, remaining: 1000, reset_after: 0, max_concurrency: 1 },
        });
      }
      if (path.endsWith('/callback')) return res.writeHead(204).end();
      if (req.method === 'POST' && /^\/channels\/[^/]+\/messages$/.test(path)) {
        return json(200, {
          id: String(++messageId),
          channel_id: path.split('/')[2],
          content: '',
          embeds: body?.embeds ?? [],
          components: body?.components ?? [],
        });
      }
      if (req.method === 'PATCH' || req.method === 'POST') return json(200, { id: String(++messageId), ...body });
      if (req.method === 'PUT') return json(200, body);
      json(200, {});
    });
  });
  server.on('upgrade', (req, socket, head) =>
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)),
  );
  wss.on('connection', (ws) => {
    sockets.add(ws);
    ws.send(JSON.stringify({ op: 10, d: { heartbeat_interval: 41_250 } }));
    ws.on('message', (raw) => {
      const packet = JSON.parse(String(raw));
      if (packet.op === 1) ws.send(JSON.stringify({ op: 11 }));
      if (packet.op === 2) {
        ws.send(
          JSON.stringify({
            op: 0,
            s: ++seq,
            t: 'READY',
            d: {
              v: 10,
              user: { id: 'B1', username: 'agentwork', discriminator: '0', bot: true, avatar: null },
              guilds: [{ id: options.guildId, unavailable: true }],
              session_id: 'session',
              resume_gateway_url: `ws://127.0.0.1:${port}`,
              application: { id: options.applicationId, flags: 0 },
            },
          }),
        );
        ws.send(
          JSON.stringify({
            op: 0,
            s: ++seq,
            t: 'GUILD_CREATE',
            d: {
              id: options.guildId,
              name: 'Test guild',
              unavailable: false,
              channels: [],
              members: [],
              roles: [],
              emojis: [],
              stickers: [],
              threads: [],
              presences: [],
              voice_states: [],
              stage_instances: [],
              guild_scheduled_events: [],
              soundboard_sounds: [],
              member_count: 1,
              owner_id: 'U1',
              features: [],
              joined_at: new Date().toISOString(),
            },
          }),
        );
      }
    });
    ws.on('close', () => sockets.delete(ws));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    apiUrl: `http://127.0.0.1:${port}/api`,
    calls,
    /** Pushes an interaction to the bot through the gateway. */
    sendInteraction(interaction: Record<string, unknown>) {
      for (const ws of sockets) ws.send(JSON.stringify({ op: 0, s: ++seq, t: 'INTERACTION_CREATE', d: interaction }));
    },
    connected: () => sockets.size > 0,
    /**
     * What the user ends up seeing for an interaction: its callback, or, when the bot deferred
     * (5 = thinking, 6 = keep the message: it answers that way when the work takes over 2 s, e.g.
     * on a loaded machine), the edit of the original message that follows, as the 4/7 it stands for.
     */
    async effectiveResponse(
      token: string,
      response: { type: number; data?: any },
    ): Promise<{ type: number; data?: any; deferred?: boolean }> {
      if (response.type !== 5 && response.type !== 6) return response;
      const edit = await this.waitFor(
        (c) =>
          c.method === 'PATCH' && c.path.endsWith(`/webhooks/${options.applicationId}/${token}/messages/@original`),
        20_000,
      );
      return { type: response.type === 6 ? 7 : 4, data: edit.body, deferred: true };
    },
    async waitFor(predicate: (c: DiscordCall) => boolean, timeoutMs = 15_000): Promise<DiscordCall> {
      const start = Date.now();
      for (;;) {
        const found = calls.find(predicate);
        if (found) return found;
        if (Date.now() - start > timeoutMs)
          throw new Error(`no matching Discord call; saw ${calls.map((c) => `${c.method} ${c.path}`).join(', ')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async close() {
      for (const ws of sockets) ws.terminate();
      wss.close();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

let counter = 0;
/** A raw interaction as Discord sends it. */
export function interaction(
  type: number,
  data: Record<string, unknown> | undefined,
  options: { user?: string; guild: string; channel: string; message?: string; appId: string },
) {
  counter++;
  return {
    id: `i${Date.now()}${counter}`,
    token: `token-${counter}-${Math.random().toString(36).slice(2)}`,
    application_id: options.appId,
    type,
    version: 1,
    locale: 'en-US',
    app_permissions: '0',
    entitlements: [],
    authorizing_integration_owners: {},
    guild_id: options.guild,
    channel_id: options.channel,
    member: { user: { id: options.user ?? 'U1', username: options.user ?? 'u1' } },
    ...(data ? { data } : {}),
    ...(options.message ? { message: { id: options.message } } : {}),
  };
}
