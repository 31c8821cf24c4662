import type { ChatTransport } from '../bots/core/notifier.ts';
import { createChatNotifier } from '../bots/core/notifier.ts';
import type { Config } from '../config.ts';
import type { Database } from '../db/client.ts';
import type { Logger } from '../log.ts';
import { startDispatcher } from '../services/delivery/outbox.ts';
import type { PubSub } from '../services/delivery/pubsub.ts';
import { startScheduler } from '../services/delivery/scheduler.ts';
import { parseAllowList } from '../services/delivery/ssrf.ts';
import { createWebhookWorker } from '../services/delivery/webhooks/worker.ts';
import { expireInputRequests } from '../services/execution/executions.ts';
import { expireBids } from '../services/marketplace/bids.ts';
import { expireJobs } from '../services/marketplace/jobs.ts';
import { expireOffers } from '../services/marketplace/offers.ts';
import { lapseAssignments } from '../services/marketplace/timeouts.ts';
import { autoApprove } from '../services/settlement/reviews.ts';

/** A background worker of the process: started after migrations, stopped after the HTTP drain. */
export interface Worker {
  name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** A worker from a start function that returns its stopper. */
function worker(name: string, start: () => Promise<{ stop(): Promise<void> }>): Worker {
  let running: { stop(): Promise<void> } | undefined;
  return {
    name,
    async start() {
      running = await start();
    },
    async stop() {
      await running?.stop();
      running = undefined;
    },
  };
}

/**
 * The background workers, in start order: the outbox dispatcher (events to pubsub and webhook
 * deliveries), the webhook sender, the chat notifier, and the scheduler (expiry, auto-approval).
 * Each may be switched off per process by config.
 */
export function backgroundWorkers(deps: {
  config: Config;
  db: Database;
  pubsub: PubSub;
  log: Logger;
  chatTransports: Partial<Record<'SLACK' | 'DISCORD', ChatTransport>>;
}): { dispatcher: Worker; webhooks: Worker; chatNotifier: Worker; scheduler: Worker } {
  const { config, db, pubsub, log, chatTransports } = deps;
  return {
    dispatcher: worker('outbox-dispatcher', async () =>
      config.OUTBOX_DISPATCHER ? startDispatcher(db, pubsub, log, { pollMs: config.OUTBOX_POLL_MS }) : idle,
    ),
    webhooks: worker('webhook-worker', async () => {
      if (!config.WEBHOOK_WORKER) return idle;
      const w = createWebhookWorker(db, log, { allowHosts: parseAllowList(config.WEBHOOK_ALLOW_HOSTS) });
      await w.start();
      return w;
    }),
    chatNotifier: worker('chat-notifier', async () => {
      if (Object.keys(chatTransports).length === 0) return idle;
      const n = createChatNotifier({
        database: db,
        transports: chatTransports,
        log,
        throttleMs: config.CHAT_PROGRESS_THROTTLE_MS,
        publicUrl: config.PUBLIC_URL,
      });
      await n.start();
      return n;
    }),
    scheduler: worker('scheduler', async () => {
      const policy = { feeBps: config.PLATFORM_FEE_BPS, maxChangeRequests: config.MAX_CHANGE_REQUESTS };
      return startScheduler(db.prisma, log, [
        { name: 'expire-jobs', everyMs: 30_000, run: (d, now) => expireJobs(d, now) },
        { name: 'expire-bids', everyMs: 30_000, run: (d, now) => expireBids(d, now) },
        { name: 'auto-approve', everyMs: 30_000, run: (d, now) => autoApprove(d, policy, now) },
        { name: 'expire-offers', everyMs: 30_000, run: (d, now) => expireOffers(d, now) },
        { name: 'lapse-assignments', everyMs: 30_000, run: (d, now) => lapseAssignments(d, now) },
        { name: 'expire-questions', everyMs: 30_000, run: (d, now) => expireInputRequests(d, now) },
      ]);
    }),
  };
}

const idle = { stop: async () => {} };
