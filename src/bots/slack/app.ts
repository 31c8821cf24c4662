import { App, HTTPReceiver, LogLevel } from '@slack/bolt';
import type { Config } from '../../config.ts';
import type { Logger } from '../../log.ts';
import type { ChatActor, ChatApp, ChatResult } from '../core/chat-app.ts';
import type { ChatTransport } from '../core/notifier.ts';
import type { View } from '../core/view.ts';
import { modalValues, toBlocks, toModal } from './render.ts';

/**
 * The Slack adapter: @slack/bolt in HTTP mode (mounted on our server at /slack/events, signatures
 * verified by Bolt) or Socket Mode. Every listener acks first, then calls the chat core as the
 * linked member and renders the result; slow work happens after the ack (processBeforeResponse
 * keeps the HTTP answer until it is done in tests).
 */
export interface SlackBot {
  /** Node request listener for POST /slack/events (HTTP mode). */
  requestListener?: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void;
  transport: ChatTransport;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createSlackBot(
  config: Config,
  chat: ChatApp,
  log: Logger,
  options: { processBeforeResponse?: boolean } = {},
): SlackBot | null {
  if (!config.SLACK_BOT_TOKEN || (!config.SLACK_SIGNING_SECRET && !config.SLACK_SOCKET_MODE)) return null;
  const clientOptions = {
    slackApiUrl: config.SLACK_API_URL,
    retryConfig: { retries: config.NODE_ENV === 'test' ? 0 : 3 },
  };
  const logger = {
    debug: (...m: unknown[]) => log.debug({ slack: m }, 'slack'),
    info: (...m: unknown[]) => log.info({ slack: m }, 'slack'),
    warn: (...m: unknown[]) => log.warn({ slack: m }, 'slack'),
    error: (...m: unknown[]) => log.error({ slack: m }, 'slack'),
    setLevel: () => {},
    getLevel: () => LogLevel.INFO,
    setName: () => {},
  };
  const receiver = config.SLACK_SOCKET_MODE
    ? undefined
    : new HTTPReceiver({
        signingSecret: config.SLACK_SIGNING_SECRET!,
        endpoints: '/slack/events',
        processBeforeResponse: options.processBeforeResponse ?? config.NODE_ENV === 'test',
        logger,
      });
  const app = new App({
    token: config.SLACK_BOT_TOKEN,
    ...(receiver
      ? { receiver }
      : { socketMode: true, appToken: config.SLACK_APP_TOKEN, installerOptions: { clientOptions } }),
    clientOptions,
    logger,
    // We never need auth.test's answer; skipping it keeps a misconfigured token from crashing start-up.
    tokenVerificationEnabled: false,
    botId: 'B_AGENTWORK',
    botUserId: 'U_AGENTWORK',
  });
  const client = app.client;

  const actorOf = (
    body: {
      team?: { id?: string } | null;
      user?: { id?: string; name?: string; username?: string };
      user_id?: string;
      user_name?: string;
      team_id?: string;
      channel?: { id?: string };
      channel_id?: string;
    },
    channelOverride?: string,
  ): ChatActor => ({
    platform: 'SLACK',
    teamId: body.team?.id ?? body.team_id ?? 'unknown',
    userId: body.user?.id ?? body.user_id ?? 'unknown',
    userName: `<@${body.user?.id ?? body.user_id}>`,
    channelId: channelOverride ?? body.channel?.id ?? body.channel_id ?? '',
  });

  const message = (view: View) => ({ text: view.text, blocks: toBlocks(view) });

  /** Renders a chat-core result for a slash command or a button. */
  async function present(
    result: ChatResult,
    ctx: {
      actor: ChatActor;
      triggerId?: string;
      respond?: (m: Record<string, unknown>) => Promise<unknown>;
      messageTs?: string;
    },
  ) {
    if (result.kind === 'form') {
      await client.views.open({
        trigger_id: ctx.triggerId!,
        view: toModal(
          result.form,
          JSON.stringify({ channelId: ctx.actor.channelId, messageTs: ctx.messageTs ?? null }),
        ) as never,
      });
      return;
    }
    if (result.kind === 'update') {
      if (ctx.messageTs)
        await client.chat.update({ channel: ctx.actor.channelId, ts: ctx.messageTs, ...message(result.view) });
      if (result.notice)
        await ctx.respond?.({ response_type: 'ephemeral', replace_original: false, ...message(result.notice) });
      return;
    }
    if (result.kind === 'reply') {
      for (const view of result.views) {
        if (view.ephemeral || !ctx.actor.channelId)
          await ctx.respond?.({ response_type: 'ephemeral', replace_original: false, ...message(view) });
        else await client.chat.postMessage({ channel: ctx.actor.channelId, ...message(view) });
      }
    }
  }

  app.command('/agentwork', async ({ ack, body, respond }) => {
    await ack();
    const actor = actorOf(body);
    try {
      await present(await chat.command(actor, body.text ?? ''), { actor, triggerId: body.trigger_id, respond });
    } catch (error) {
      log.error({ err: error }, 'slack command failed');
      await respond({ response_type: 'ephemeral', text: 'Something went wrong on our side; it was logged.' });
    }
  });

  // One listener for every button: routed by the action_id prefix (bid:, review:, input:, jobs:, offer:, msg:).
  app.action(/^(bid|review|input|jobs|offer|msg):/, async ({ ack, body, action, respond }) => {
    await ack();
    const b = body as unknown as {
      trigger_id: string;
      container?: { message_ts?: string; channel_id?: string };
      message?: { ts?: string };
      channel?: { id?: string };
    };
    const actor = actorOf(body as never, b.channel?.id ?? b.container?.channel_id);
    const id = (action as { action_id: string }).action_id;
    try {
      await present(await chat.button(actor, id), {
        actor,
        triggerId: b.trigger_id,
        respond,
        messageTs: b.message?.ts ?? b.container?.message_ts,
      });
    } catch (error) {
      log.error({ err: error }, 'slack action failed');
      await respond({
        response_type: 'ephemeral',
        replace_original: false,
        text: 'Something went wrong on our side; it was logged.',
      });
    }
  });

  app.view(/^(job|review|input|bid|msg):/, async ({ ack, body, view }) => {
    let origin: { channelId?: string; messageTs?: string | null } = {};
    try {
      origin = JSON.parse(view.private_metadata || '{}');
    } catch {}
    const actor = actorOf(body as never, origin.channelId ?? '');
    let result: ChatResult;
    try {
      result = await chat.submit(actor, view.callback_id, modalValues(view.state as never));
    } catch (error) {
      log.error({ err: error }, 'slack view submission failed');
      await ack({
        response_action: 'errors',
        errors: {
          [Object.keys(modalValues(view.state as never))[0] ?? 'notes']:
            'Something went wrong on our side; it was logged.',
        },
      } as never);
      return;
    }
    if (result.kind === 'form-errors') {
      await ack({ response_action: 'errors', errors: result.errors } as never);
      return;
    }
    await ack();
    if (result.kind === 'update' && origin.channelId && origin.messageTs) {
      await client.chat.update({ channel: origin.channelId, ts: origin.messageTs, ...message(result.view) });
    } else if (result.kind === 'reply' && origin.channelId) {
      for (const v of result.views) {
        if (v.ephemeral)
          await client.chat.postEphemeral({ channel: origin.channelId, user: actor.userId, ...message(v) });
        else await client.chat.postMessage({ channel: origin.channelId, ...message(v) });
      }
    }
  });

  app.error(async (error) => {
    log.error({ err: error }, 'slack error');
  });

  const transport: ChatTransport = {
    async post(channelId, view, options) {
      const res = await client.chat.postMessage({
        channel: channelId,
        ...message(view),
        ...(options?.replyTo ? { thread_ts: options.replyTo } : {}),
      });
      return String(res.ts);
    },
    async update(channelId, messageId, view) {
      await client.chat.update({ channel: channelId, ts: messageId, ...message(view) });
    },
  };

  return {
    requestListener: receiver?.requestListener,
    transport,
    async start() {
      if (config.SLACK_SOCKET_MODE) await app.start();
    },
    async stop() {
      if (config.SLACK_SOCKET_MODE) await app.stop();
    },
  };
}
