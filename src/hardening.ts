import { createHash } from 'node:crypto';
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { usePrometheus } from '@graphql-yoga/plugin-prometheus';
import { NoSchemaIntrospectionCustomRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { Redis } from 'ioredis';
import { Gauge, Registry } from 'prom-client';
import { type Config, graphiqlEnabled } from './config.ts';
import type { Database } from './db/client.ts';

/**
 * Abuse limits and observability (issue #9), in one place:
 * - graphql-armor: depth, cost, aliases, directives and tokens capped; field suggestions ("Did you mean …")
 *   hidden in production (they leak the schema) and shown elsewhere (they help whoever writes the query);
 * - introspection off in production unless GRAPHQL_INTROSPECTION=true (or GRAPHIQL=true, which needs it);
 * - per-key rate limits (Redis when REDIS_URL is set, so every process shares the budget);
 * - Prometheus metrics: yoga's request/parse/validate/execute metrics plus domain gauges.
 * The limits are tuned so every legitimate query of the tests, bots, SDK and demo passes.
 */
export const ARMOR = {
  maxDepth: { enabled: true, n: 14 },
  costLimit: { enabled: true, maxCost: 250_000, objectCost: 2, scalarCost: 1, depthCostFactor: 1.5 },
  maxAliases: { enabled: true, n: 30 },
  maxDirectives: { enabled: true, n: 30 },
  maxTokens: { enabled: true, n: 3_000 },
  blockFieldSuggestion: { enabled: true },
} as const;

/** On where GraphiQL is (it needs the schema for its docs and completion), else as GRAPHQL_INTROSPECTION says. */
export function introspectionEnabled(config: Config): boolean {
  return config.GRAPHQL_INTROSPECTION ?? graphiqlEnabled(config);
}

/** The armor settings for one deployment: suggestions are blocked in production only. */
export function armorFor(config: Config) {
  return { ...ARMOR, blockFieldSuggestion: { enabled: config.NODE_ENV === 'production' } };
}

export function securityPlugins(config: Config): Plugin[] {
  const plugins: Plugin[] = [EnvelopArmorPlugin(armorFor(config)) as Plugin];
  if (!introspectionEnabled(config)) {
    plugins.push({
      onValidate: ({ addValidationRule }) => {
        addValidationRule(NoSchemaIntrospectionCustomRule);
      },
    });
  }
  return plugins;
}

// ───────────── rate limits ─────────────

export interface RateLimiter {
  /** Counts one request for `key`; returns seconds to wait when over the limit, else null. */
  hit(key: string): Promise<number | null>;
  close(): Promise<void>;
}

/**
 * Fixed one-minute windows per API key (or per client address without a key). With Redis the
 * counter is shared by every process (INCR + EXPIRE); without it, kept in memory. Redis trouble
 * fails open: availability beats limiting.
 */
export function createRateLimiter(config: Config): RateLimiter | null {
  const limit = config.RATE_LIMIT_PER_MINUTE;
  if (!limit) return null;
  const windowOf = () => Math.floor(Date.now() / 60_000);
  const retryAfter = () => 60 - (Math.floor(Date.now() / 1000) % 60);
  if (config.REDIS_URL) {
    const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
    redis.on('error', () => {});
    return {
      async hit(key) {
        const k = `aw:rl:${key}:${windowOf()}`;
        try {
          const [[, count]] = (await redis.multi().incr(k).expire(k, 61).exec()) as [[null, number]];
          return count > limit ? retryAfter() : null;
        } catch {
          return null;
        }
      },
      async close() {
        redis.disconnect();
      },
    };
  }
  const counts = new Map<string, number>();
  let window = windowOf();
  return {
    async hit(key) {
      const now = windowOf();
      if (now !== window) {
        counts.clear();
        window = now;
      }
      const count = (counts.get(key) ?? 0) + 1;
      counts.set(key, count);
      return count > limit ? retryAfter() : null;
    },
    async close() {},
  };
}

/** The rate-limit key of a request: the hashed API key, else the client address. */
export function rateLimitKey(authorization: string | undefined, address: string | undefined): string {
  if (authorization) return `key:${createHash('sha256').update(authorization).digest('hex').slice(0, 32)}`;
  return `ip:${address ?? 'unknown'}`;
}

// ───────────── metrics ─────────────

export function createMetrics(db: Database) {
  const registry = new Registry();
  const gauge = (name: string, help: string, query: () => Promise<number>) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        try {
          this.set(await query());
        } catch {
          // A database outage shows up in /readyz; the scrape itself must not fail.
        }
      },
    });
  const prisma = db.prisma;
  gauge('agentwork_open_jobs', 'Jobs in OPEN status', () => prisma.job.count({ where: { status: 'OPEN' } }));
  gauge('agentwork_active_executions', 'Executions STARTED, WORKING or AWAITING_INPUT', () =>
    prisma.execution.count({ where: { status: { in: ['STARTED', 'WORKING', 'AWAITING_INPUT'] } } }),
  );
  gauge('agentwork_escrow_held_credits', 'Credits held in job escrow', async () =>
    Number(
      (await prisma.ledgerAccount.aggregate({ where: { kind: 'ESCROW' }, _sum: { balance: true } }))._sum.balance ?? 0,
    ),
  );
  gauge('agentwork_webhook_backlog', 'Webhook deliveries waiting to be sent', () =>
    prisma.webhookDelivery.count({ where: { status: 'PENDING' } }),
  );
  gauge('agentwork_outbox_lag_seconds', 'Age of the oldest unpublished outbox event', async () => {
    const oldest = await prisma.outboxEvent.findFirst({
      where: { publishedAt: null },
      orderBy: { id: 'asc' },
      select: { createdAt: true },
    });
    return oldest ? (Date.now() - oldest.createdAt.getTime()) / 1000 : 0;
  });
  const plugin = usePrometheus({
    endpoint: false,
    registry,
    metrics: {
      graphql_yoga_http_duration: true,
      graphql_envelop_request_duration: true,
      graphql_envelop_phase_parse: true,
      graphql_envelop_phase_validate: true,
      graphql_envelop_phase_execute: true,
      graphql_envelop_error_result: true,
    },
  }) as Plugin;
  return { registry, plugin };
}
