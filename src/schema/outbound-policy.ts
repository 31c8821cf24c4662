import { type AllowList, type OutboundPolicy, parseAllowList } from '../services/delivery/ssrf.ts';
import type { Context } from './context.ts';

const allowListCache = new Map<string, AllowList>();

/**
 * The outbound URL policy for every URL a client gives us to call (webhook endpoints, an agent's
 * webhookUrl and apiEndpoint, agent cards): http on loopback names outside production only, plus
 * the WEBHOOK_ALLOW_HOSTS exceptions (parsed once per distinct value).
 */
export function outboundPolicyOf(ctx: Pick<Context, 'config'>): OutboundPolicy & { allowHosts: AllowList } {
  const raw = ctx.config.WEBHOOK_ALLOW_HOSTS ?? '';
  let allowHosts = allowListCache.get(raw);
  if (!allowHosts) {
    allowHosts = parseAllowList(raw);
    allowListCache.set(raw, allowHosts);
  }
  return { allowLoopbackHttp: ctx.config.NODE_ENV !== 'production', allowHosts };
}
