import { createPublicKey, verify } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Client, GatewayDispatchEvents, GatewayIntentBits, REST, Routes } from 'discord.js';
import type { Config } from '../../config.ts';
import type { Logger } from '../../log.ts';
import type { ChatActor, ChatApp, ChatResult } from '../core/chat-app.ts';
import type { ChatTransport } from '../core/notifier.ts';
import type { View } from '../core/view.ts';
import { messageView } from '../core/views.ts';
import { toCommandText } from './commands.ts';
import { EPHEMERAL, modalValues, toMessage, toModal } from './render.ts';

/**
 * The Discord adapter over the same chat core as Slack. Interactions arrive either through the
 * gateway `Client` (the usual way) or the HTTP interactions endpoint (/discord/interactions,
 * Ed25519-verified); both feed one handler that answers within Discord's 3 seconds: the core's
 * answer when it is quick, otherwise a deferral followed by an edit. REST goes through
 * @discordjs/rest, which handles rate limits (429s) itself.
 */
export interface DiscordBot {
  requestListener?: (req: IncomingMessage, res: ServerResponse) => void;
  transport: ChatTransport;
  /** Exposed for tests: the answer to one raw interaction (and its follow-up, if any). */
  handle(interaction: RawInteraction): Promise<{ response: Record<string, unknown>; followUp: Promise<void> }>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface RawInteraction {
  id: string;
  token: string;
  type: number;
  application_id?: string;
  guild_id?: string;
  channel_id?: string;
  channel?: { id: string };
  member?: { user: { id: string; username: string; global_name?: string | null } };
  user?: { id: string; username: string; global_name?: string | null };
  data?: {
    custom_id?: string;
    components?: { components?: { custom_id: string; value?: string }[] }[];
    options?: {
      name: string;
      type: number;
      value?: string | number | boolean;
      options?: { name: string; type: number; value?: string | number | boolean }[];
    }[];
  };
  message?: { id: string };
}

export class BadInteractionError extends Error {}

const ANSWER_WITHIN_MS = 2_000;
const TIMESTAMP_WINDOW_S = 300;

export function createDiscordBot(config: Config, chat: ChatApp, log: Logger): DiscordBot | null {
  if (!config.DISCORD_BOT_TOKEN || !config.DISCORD_APPLICATION_ID) return null;
  const appId = config.DISCORD_APPLICATION_ID;
  const rest = new REST({
    api: config.DISCORD_API_URL,
    version: '10',
    retries: config.NODE_ENV === 'test' ? 0 : 3,
    timeout: 15_000,
  }).setToken(config.DISCORD_BOT_TOKEN);
  const publicKey = config.DISCORD_PUBLIC_KEY
    ? createPublicKey({
        key: Buffer.concat([
          Buffer.from('302a300506032b6570032100', 'hex'),
          Buffer.from(config.DISCORD_PUBLIC_KEY, 'hex'),
        ]),
        format: 'der',
        type: 'spki',
      })
    : null;

  const actorOf = (i: RawInteraction): ChatActor => {
    const user = i.member?.user ?? i.user;
    if (!user || !(i.channel_id ?? i.channel?.id)) throw new BadInteractionError('interaction without user or channel');
    return {
      platform: 'DISCORD',
      teamId: i.guild_id ?? `dm:${user.id}`,
      channelId: i.channel_id ?? i.channel!.id,
      userId: user.id,
      userName: `<@${user.id}>`,
    };
  };

  const errorsView = (errors: Record<string, string>): View =>
    messageView(
      Object.entries(errors)
        .map(([field, message]) => `• ${field}: ${message}`)
        .join('\n'),
      'warning',
    );

  /** Interaction response for a chat-core result (types: 4 message, 7 update, 9 modal). */
  function toResponse(result: ChatResult, i: RawInteraction): { response: Record<string, unknown>; extra: View[] } {
    switch (result.kind) {
      case 'form':
        return { response: { type: 9, data: toModal(result.form) }, extra: [] };
      case 'form-errors':
        return { response: { type: 4, data: toMessage(errorsView(result.errors)) }, extra: [] };
      case 'update':
        return i.message
          ? {
              response: { type: 7, data: toMessage({ ...result.view, ephemeral: false }) },
              extra: result.notice ? [result.notice] : [],
            }
          : { response: { type: 4, data: toMessage(result.view) }, extra: result.notice ? [result.notice] : [] };
      case 'reply': {
        const [first, ...rest] = result.views;
        return { response: { type: 4, data: toMessage(first ?? messageView('Done.')) }, extra: rest };
      }
    }
  }

  async function followUps(i: RawInteraction, views: View[]) {
    for (const view of views) {
      await rest.post(Routes.webhook(appId, i.token), {
        body: toMessage({ ...view, ephemeral: view.ephemeral ?? true }),
        auth: false,
      });
    }
  }

  async function run(i: RawInteraction): Promise<ChatResult> {
    const actor = actorOf(i);
    const data = i.data ?? {};
    if (i.type === 2) return chat.command(actor, toCommandText(data));
    if (i.type === 3) {
      if (typeof data.custom_id !== 'string') throw new BadInteractionError('component without custom_id');
      return chat.button(actor, data.custom_id);
    }
    if (i.type === 5) {
      if (typeof data.custom_id !== 'string') throw new BadInteractionError('modal without custom_id');
      return chat.submit(actor, data.custom_id, modalValues(data.components));
    }
    throw new BadInteractionError(`unsupported interaction type ${i.type}`);
  }

  async function handle(i: RawInteraction) {
    if (!i || typeof i !== 'object' || typeof i.type !== 'number') throw new BadInteractionError('not an interaction');
    if (i.type === 1) return { response: { type: 1 }, followUp: Promise.resolve() };
    if (!i.id || !i.token) throw new BadInteractionError('interaction without id or token');
    const work = run(i).catch((error): ChatResult => {
      if (error instanceof BadInteractionError) throw error;
      log.error({ err: error }, 'discord interaction failed');
      return { kind: 'reply', views: [messageView('Something went wrong on our side; it was logged.', 'danger')] };
    });
    const quick = await Promise.race([
      work,
      new Promise<null>((r) => setTimeout(() => r(null), ANSWER_WITHIN_MS).unref()),
    ]);
    if (quick) {
      const { response, extra } = toResponse(quick, i);
      return { response, followUp: followUps(i, extra) };
    }
    // Slow: acknowledge now (5 = thinking…, 6 = keep the message), then edit the original when done.
    const deferred = i.type === 3 ? { type: 6 } : { type: 5, data: { flags: EPHEMERAL } };
    const followUp = work.then(async (result) => {
      const { response, extra } = toResponse(result, i);
      const body =
        response.type === 9
          ? toMessage(messageView('Run the command again to open the form.'))
          : (response.data as Record<string, unknown>);
      await rest.patch(Routes.webhookMessage(appId, i.token, '@original'), { body, auth: false });
      await followUps(i, extra);
    });
    return { response: deferred, followUp };
  }

  function verifySignature(req: IncomingMessage, body: Buffer): boolean {
    const signature = req.headers['x-signature-ed25519'];
    const timestamp = req.headers['x-signature-timestamp'];
    if (
      !publicKey ||
      typeof signature !== 'string' ||
      typeof timestamp !== 'string' ||
      !/^[0-9a-f]{128}$/i.test(signature)
    )
      return false;
    if (!/^\d+$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > TIMESTAMP_WINDOW_S) return false;
    return verify(null, Buffer.concat([Buffer.from(timestamp), body]), publicKey, Buffer.from(signature, 'hex'));
  }

  const requestListener = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= 1_000_000) chunks.push(c);
    });
    req.on('end', async () => {
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      const body = Buffer.concat(chunks);
      if (req.method !== 'POST') return send(405, { error: 'POST only' });
      if (!verifySignature(req, body)) return send(401, { error: 'invalid request signature' });
      let interaction: RawInteraction;
      try {
        interaction = JSON.parse(body.toString('utf8'));
      } catch {
        return send(400, { error: 'body is not JSON' });
      }
      try {
        const { response, followUp } = await handle(interaction);
        send(200, response);
        followUp.catch((error) => log.warn({ err: error }, 'discord follow-up failed'));
      } catch (error) {
        if (error instanceof BadInteractionError) return send(400, { error: error.message });
        log.error({ err: error }, 'discord interaction failed');
        send(500, { error: 'internal error' });
      }
    });
  };

  let client: Client | null = null;

  return {
    requestListener: config.DISCORD_MODE === 'http' ? requestListener : undefined,
    handle,
    transport: {
      async post(channelId, view, options) {
        const message = (await rest.post(Routes.channelMessages(channelId), {
          body: {
            ...toMessage({ ...view, ephemeral: false }),
            // A reply to the job's card (Discord's threads are channels of their own; a reply keeps the context).
            ...(options?.replyTo
              ? { message_reference: { message_id: options.replyTo, fail_if_not_exists: false } }
              : {}),
          },
        })) as { id: string };
        return message.id;
      },
      async update(channelId, messageId, view) {
        await rest.patch(Routes.channelMessage(channelId, messageId), {
          body: toMessage({ ...view, ephemeral: false }),
        });
      },
    },
    async start() {
      if (config.DISCORD_MODE !== 'gateway') return;
      client = new Client({
        intents: [GatewayIntentBits.Guilds],
        rest: { api: config.DISCORD_API_URL, retries: config.NODE_ENV === 'test' ? 0 : 3 },
      });
      client.ws.on(GatewayDispatchEvents.InteractionCreate, (raw: RawInteraction) => {
        void (async () => {
          try {
            const { response, followUp } = await handle(raw);
            await rest.post(Routes.interactionCallback(raw.id, raw.token), { body: response, auth: false });
            await followUp;
          } catch (error) {
            log.warn({ err: error }, 'discord gateway interaction failed');
          }
        })();
      });
      await client.login(config.DISCORD_BOT_TOKEN);
    },
    async stop() {
      await client?.destroy();
      client = null;
    },
  };
}
