import { z } from 'zod';
import { allowListProblem } from './allow-list.ts';

/**
 * The whole runtime configuration, read from the environment once at start.
 * A bad value stops the process with one line naming the variable (see main.ts); nothing half-starts.
 */
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === '' ? undefined : v));

const envSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    HOST: z.string().min(1).default('127.0.0.1'),
    PORT: z.coerce.number().int().min(0).max(65535).default(4000),
    /** PostgreSQL URL. Unset: embedded PGlite in DATA_DIR. */
    DATABASE_URL: optionalString.pipe(
      z
        .string()
        .regex(/^postgres(ql)?:\/\//, 'must start with postgresql://')
        .optional(),
    ),
    DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
    /**
     * How long a request waits for a pooled connection before it answers SERVICE_UNAVAILABLE (503).
     * Bursts of writes on one wallet queue here behind its row lock.
     */
    DATABASE_POOL_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(15_000),
    /** Directory of the embedded database when DATABASE_URL is unset. */
    DATA_DIR: z.string().min(1).default('.data'),
    /** Redis URL for pubsub (and rate limits). Unset: in-memory, single process. */
    REDIS_URL: optionalString.pipe(
      z
        .string()
        .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
        .optional(),
    ),
    /** Platform fee on released escrow, in basis points (500 = 5%). */
    PLATFORM_FEE_BPS: z.coerce.number().int().min(0).max(10_000).default(500),
    /**
     * Where purchaseCredits charges: `test` (the built-in test provider: approves every charge, i.e.
     * free credits) or `none`. Unset: `test` outside production, `none` in production.
     */
    PAYMENT_PROVIDER: optionalString.pipe(z.enum(['test', 'none']).optional()),
    /** Anyone may call createWorkspace without a key (switch off for closed deployments). */
    ALLOW_SIGNUP: bool.default(true),
    /** Platform administrator key (grantCredits, resolving any dispute). Stored nowhere; compared by hash. */
    PLATFORM_ADMIN_KEY: optionalString,
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** Schema introspection; default on outside production and wherever GraphiQL is on. */
    GRAPHQL_INTROSPECTION: bool.optional(),
    /** Requests per minute per API key (or client address); 0 disables. Shared through Redis when REDIS_URL is set. */
    RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).max(1_000_000).default(0),
    /** Largest request body accepted (bytes). */
    MAX_BODY_BYTES: z.coerce
      .number()
      .int()
      .min(1_024)
      .max(100 * 1024 * 1024)
      .default(4 * 1024 * 1024),
    /** GraphiQL at /graphql; default on outside production. */
    GRAPHIQL: bool.optional(),
    /** Public URL of this server, used in chat links and the live page. */
    PUBLIC_URL: optionalString.pipe(z.url().optional()),
    /**
     * Origins whose browser pages may call the API (/graphql, /api, /mcp): `*` (any, the default),
     * a comma-separated list of origins (`https://app.example.com,http://localhost:3000`), or `none`.
     * Never with credentials: authentication is a Bearer header, not a cookie.
     */
    CORS_ORIGINS: z
      .string()
      .trim()
      .default('*')
      .superRefine((value, ctx) => {
        if (value === '*' || value === 'none') return;
        for (const entry of value.split(',').map((e) => e.trim())) {
          if (!isOrigin(entry)) {
            ctx.addIssue({
              code: 'custom',
              message: `"${entry}" is not an origin (scheme://host[:port], no path); or use * or none`,
            });
          }
        }
      }),
    /** A client must send its request headers within this time (slowloris), else 408 and closed. */
    HTTP_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
    /**
     * A client must send its whole request (headers and body) within this time. It ends when the
     * request is received: responses that stream for hours (SSE) and WebSocket upgrades are not cut.
     */
    HTTP_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(3_600_000).default(60_000),
    /** An idle keep-alive socket is closed after this (keep it above a load balancer's idle timeout). */
    HTTP_KEEP_ALIVE_TIMEOUT_MS: z.coerce.number().int().min(0).max(600_000).default(5_000),
    /** Grace period for in-flight requests on SIGTERM/SIGINT. */
    SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).max(120_000).default(10_000),
    /** Run the outbox dispatcher in this process (publishes committed events to subscribers). */
    OUTBOX_DISPATCHER: bool.default(true),
    /** Safety-net poll of the outbox (NOTIFY wakes the dispatcher at once). */
    OUTBOX_POLL_MS: z.coerce.number().int().min(10).max(60_000).default(500),
    /** Deliver outbound webhooks from this process (any number of processes may; each delivery goes out once at a time). */
    WEBHOOK_WORKER: bool.default(true),
    /** Comma-separated host names, IPs or CIDRs that webhooks may reach despite the SSRF guard (development/tests, e.g. `127.0.0.1`). */
    WEBHOOK_ALLOW_HOSTS: optionalString.superRefine((v, ctx) =>
      allowListProblem(v, (message) => ctx.addIssue({ code: 'custom', message })),
    ),
    /** graphql-ws: close with 4408 when connection_init does not arrive in time. */
    WS_INIT_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
    /** graphql-ws: operations (subscriptions included) in flight per connection; one more is answered TOO_MANY_SUBSCRIPTIONS. */
    WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: z.coerce.number().int().min(1).max(100_000).default(100),
    /** graphql-ws: open sockets per API key per server process; one more is closed with 4430. */
    WS_MAX_SOCKETS_PER_KEY: z.coerce.number().int().min(1).max(100_000).default(50),
    /** Default delay before a submitted result is accepted automatically. */
    AUTO_APPROVE_HOURS: z.coerce
      .number()
      .min(0)
      .max(24 * 90)
      .default(72),
    /** Maximum REQUEST_CHANGES rounds before a review must accept or reject. */
    MAX_CHANGE_REQUESTS: z.coerce.number().int().min(0).max(20).default(3),
    SLACK_SIGNING_SECRET: optionalString,
    SLACK_BOT_TOKEN: optionalString,
    SLACK_APP_TOKEN: optionalString,
    SLACK_SOCKET_MODE: bool.default(false),
    /** Live progress messages in chat are edited at most this often per job (platform rate limits). */
    CHAT_PROGRESS_THROTTLE_MS: z.coerce.number().int().min(0).max(60_000).default(3_000),
    /** Slack Web API base URL (tests and proxies point it elsewhere). */
    SLACK_API_URL: z.url().default('https://slack.com/api/'),
    DISCORD_APPLICATION_ID: optionalString,
    DISCORD_PUBLIC_KEY: optionalString.pipe(
      z
        .string()
        .regex(/^[0-9a-f]{64}$/i, 'must be the 64-hex-character public key from the Discord developer portal')
        .optional(),
    ),
    DISCORD_BOT_TOKEN: optionalString,
    DISCORD_MODE: z.enum(['gateway', 'http']).default('gateway'),
    /** Discord REST API base URL (tests point it at a local fake). */
    DISCORD_API_URL: z.url().default('https://discord.com/api'),
  })
  .superRefine((config, ctx) => {
    // node:http refuses a headers timeout longer than the request timeout.
    if (config.HTTP_HEADERS_TIMEOUT_MS > config.HTTP_REQUEST_TIMEOUT_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['HTTP_HEADERS_TIMEOUT_MS'],
        message: `must not exceed HTTP_REQUEST_TIMEOUT_MS (${config.HTTP_REQUEST_TIMEOUT_MS})`,
      });
    }
  });

/** `scheme://host[:port]` exactly, as browsers send it in `Origin`. */
function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === value;
  } catch {
    return false;
  }
}

export type Config = z.output<typeof envSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses the environment into a Config or throws a ConfigError whose message is one line per bad variable. */
export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  overrides: Partial<Config> = {},
): Config {
  const picked: Record<string, string | undefined> = {};
  for (const key of Object.keys(envSchema.shape)) picked[key] = env[key];
  const parsed = envSchema.safeParse(picked);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? 'environment');
      const value = picked[name];
      const shown = value === undefined ? '' : ` (got ${JSON.stringify(redact(name, value))})`;
      return `Invalid environment variable ${name}: ${issue.message}${shown}`;
    });
    throw new ConfigError(lines.join('\n'));
  }
  const config = { ...parsed.data, ...overrides };
  // GraphiQL without introspection has no docs, completion or validation: refuse the pair.
  if (config.GRAPHIQL === true && config.GRAPHQL_INTROSPECTION === false)
    throw new ConfigError(
      'Invalid environment variable GRAPHQL_INTROSPECTION: GRAPHIQL=true needs introspection (its docs and completion); unset GRAPHQL_INTROSPECTION (GraphiQL turns it on) or set GRAPHIQL=false',
    );
  return config;
}

function redact(name: string, value: string): string {
  if (/SECRET|TOKEN|KEY|PASSWORD/.test(name)) return '<redacted>';
  try {
    const url = new URL(value);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return value;
  }
}

export function graphiqlEnabled(config: Config): boolean {
  return config.GRAPHIQL ?? config.NODE_ENV !== 'production';
}
