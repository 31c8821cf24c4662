import type { Config } from '../config.ts';
import type { Db } from '../db/client.ts';
import type { Logger } from '../log.ts';
import type { PubSub } from '../services/delivery/pubsub.ts';
import type { Viewer } from '../services/kernel/viewer.ts';

/** Small and read-only; built by one factory for HTTP and WebSocket alike (server.ts). */
export interface Context {
  viewer: Viewer;
  db: Db;
  pubsub: PubSub;
  config: Config;
  log: Logger;
  requestId: string;
  /** SSE reconnects send the last event id they saw (`Last-Event-ID`): where subscriptions resume. */
  lastEventId?: string | null;
}
