import pino, { type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { Config } from './config.ts';

export type { Logger };

/** Human-readable lines for a developer at a terminal; JSON lines everywhere else (files, pipes, containers). */
export function prettyLogs(
  config: Pick<Config, 'NODE_ENV'>,
  isTTY: boolean | undefined = process.stdout.isTTY,
): boolean {
  return config.NODE_ENV === 'development' && isTTY === true;
}

/**
 * Structured logs (pino); every request logs under a child carrying its request id.
 * `destination` replaces stdout (tests capture the lines). On a terminal in development the same
 * records are printed by pino-pretty, in this thread (no worker), so nothing is lost on exit.
 */
export function createLogger(config: Pick<Config, 'LOG_LEVEL' | 'NODE_ENV'>, destination?: DestinationStream): Logger {
  const options = {
    level: config.LOG_LEVEL,
    base: { service: 'agentwork' },
    redact: { paths: ['req.headers.authorization', '*.apiKey', '*.secret'], censor: '[redacted]' },
  };
  if (destination) return pino(options, destination);
  if (prettyLogs(config))
    return pino(options, pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' }));
  return pino(options);
}
