import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { Agent, buildConnector, fetch as undiciFetch } from 'undici';
import { z } from 'zod';
import { type AllowList, EMPTY_ALLOW_LIST, parseAllowList } from '../../allow-list.ts';
import { callbackUrl } from '../kernel/validation.ts';

// The allow-list parser lives beside config (which validates WEBHOOK_ALLOW_HOSTS at start-up).
export { type AllowList, EMPTY_ALLOW_LIST, parseAllowList };

/**
 * SSRF guard for every request the server makes to a URL someone else chose (webhooks, agent
 * cards, A2A endpoints). `guardedFetch` below is the one way out: nothing else in `src/` makes an
 * outbound HTTP request (test/ssrf.test.ts checks that).
 *
 * The check happens where it cannot be bypassed: in the connector, after DNS resolution and right
 * before the TCP connect, on the address the socket is about to use. Checking the URL first and
 * connecting later would let DNS rebinding (public at check time, 127.0.0.1 at connect time) or an
 * odd numeric host slip through; here the socket connects to exactly the address that was checked.
 *
 * Refused: every address that is not public unicast (loopback, RFC 1918 private, link-local with
 * the cloud metadata services, carrier-grade NAT, unspecified `0.0.0.0`/`::`, multicast,
 * broadcast, reserved and documentation ranges, IPv6 unique-local, IPv4-mapped / -compatible /
 * NAT64 / 6to4 / Teredo forms that embed an IPv4 address), and hosts written as non-canonical
 * numbers (`2130706433`, `0x7f.1`, `0177.0.0.1`: the WHATWG URL parser already normalises them,
 * this is a second net). `WEBHOOK_ALLOW_HOSTS` lists exceptions for development; metadata
 * addresses stay refused even then.
 */
export class SsrfError extends Error {
  override name = 'SsrfError';
  readonly code = 'SSRF_REFUSED';
}

/** Cloud metadata endpoints: refused even when an allow-listed range covers them. */
const METADATA = new Set(['169.254.169.254', '169.254.170.2', '100.100.100.200', '192.0.0.192', 'fd00:ec2::254']);

const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3') as [ipaddr.IPv6, number];

/** Why an address may not be called, or null when it is public unicast. */
export function refusalReason(ip: string): string | null {
  if (!ipaddr.isValid(ip)) return `"${ip}" is not an IP address`;
  let address = ipaddr.parse(ip);
  if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress()) {
    const inner = (address as ipaddr.IPv6).toIPv4Address();
    const reason = refusalReason(inner.toString());
    return reason ? `IPv4-mapped IPv6 address (${reason})` : 'IPv4-mapped IPv6 address';
  }
  const text = address.toString();
  if (METADATA.has(text)) return 'cloud metadata address';
  const range = address.range();
  if (address.kind() === 'ipv4') return range === 'unicast' ? null : `${range} address`;
  address = address as ipaddr.IPv6;
  if (range !== 'unicast') return `${range} address`;
  // Only global unicast (2000::/3); this also refuses the deprecated IPv4-compatible ::a.b.c.d.
  if (!address.match(GLOBAL_UNICAST_V6)) return 'non-global IPv6 address';
  return null;
}

function inAllowedRange(ip: string, allow: AllowList): boolean {
  const address = ipaddr.process(ip);
  return allow.ranges.some(([base, bits]) => base.kind() === address.kind() && address.match(base, bits));
}

/** Throws SsrfError unless `ip` may be connected to (public, or allow-listed and not metadata). */
export function assertAddressAllowed(ip: string, allow: AllowList, hostAllowed = false): void {
  const canonical = ipaddr.isValid(ip) ? ipaddr.process(ip).toString() : ip;
  if (METADATA.has(canonical)) throw new SsrfError(`refused ${ip}: cloud metadata address`);
  const reason = refusalReason(ip);
  if (!reason || hostAllowed || inAllowedRange(ip, allow)) return;
  throw new SsrfError(`refused ${ip}: ${reason}`);
}

/**
 * Host names the WHATWG parser did not turn into an address but a resolver might (inet_aton
 * accepts `0x7f.1`, `017700000001`, …): refused outright, they have no legitimate use.
 */
function isOddNumericHost(host: string): boolean {
  if (isIP(host)) return false;
  return /^[0-9a-fx.]+$/i.test(host) && /^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+))*\.?$/i.test(host);
}

export type Resolver = (hostname: string) => Promise<{ address: string; family: number }[]>;

const systemResolver: Resolver = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/**
 * Resolves a host and returns the address to connect to; throws SsrfError when the host or any
 * address it resolves to is refused (a name that resolves to both a public and a private address
 * is refused: that is how rebinding attacks look).
 */
export async function resolveAllowed(
  hostname: string,
  allow: AllowList,
  resolver: Resolver = systemResolver,
): Promise<string> {
  const host = hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (!host) throw new SsrfError('refused: empty host');
  if (isOddNumericHost(host)) throw new SsrfError(`refused ${hostname}: non-canonical numeric host`);
  const hostAllowed = allow.hosts.has(host.replace(/\.$/, ''));
  if (isIP(host)) {
    assertAddressAllowed(host, allow, hostAllowed);
    return host;
  }
  let addresses: { address: string }[];
  try {
    addresses = await resolver(host);
  } catch (error) {
    throw new Error(`could not resolve ${hostname}: ${(error as Error).message}`);
  }
  if (addresses.length === 0) throw new Error(`could not resolve ${hostname}`);
  for (const { address } of addresses) {
    try {
      assertAddressAllowed(address, allow, hostAllowed);
    } catch (error) {
      throw new SsrfError(
        `refused ${hostname} (resolves to ${address}): ${(error as Error).message.replace(/^refused [^:]+: /, '')}`,
      );
    }
  }
  return addresses[0]!.address;
}

/**
 * Checks a URL before it is stored (friendly early feedback; the connector checks again at connect
 * time): http(s) only, no credentials, and an IP-literal host must be allowed. Host names are only
 * checked at connect time, when they are resolved.
 */
export function checkUrlPolicy(value: string, allow: AllowList): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must be an http(s) URL';
  if (url.username || url.password) return 'must not contain credentials';
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (isOddNumericHost(host)) return 'must not use a numeric host encoding';
  if (isIP(host)) {
    try {
      assertAddressAllowed(host, allow, allow.hosts.has(host));
    } catch {
      return 'must not point to a private, loopback, link-local or reserved address';
    }
  }
  return null;
}

/** Which URLs may be stored (and later called): the same rule for every callback URL we keep. */
export interface OutboundPolicy {
  /** http:// on loopback host names accepted (outside production only). */
  allowLoopbackHttp: boolean;
  /** WEBHOOK_ALLOW_HOSTS: IP-literal URLs in these ranges may be stored (metadata addresses never). */
  allowHosts?: AllowList;
}

/**
 * The zod rule for a URL we will call (a webhook endpoint, an agent's webhookUrl or apiEndpoint, an
 * agent card's URL): https (http on loopback names outside production), no credentials, and no
 * IP-literal host that is not public unless allow-listed. Host names are checked again, resolved,
 * at connect time by `guardedFetch`.
 */
export function outboundUrl(policy: OutboundPolicy) {
  const allow = policy.allowHosts ?? EMPTY_ALLOW_LIST;
  // Piped: the address check runs only on a URL that passed the scheme rule (one issue per field).
  return callbackUrl(policy).pipe(
    z.string().superRefine((value, ctx) => {
      const problem = checkUrlPolicy(value, allow);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  );
}

export interface GuardedAgentOptions {
  allow?: AllowList;
  resolver?: Resolver;
  /** TCP/TLS connect timeout. */
  connectTimeoutMs?: number;
  /**
   * Tests only: where to actually dial once an address passed the guard (a canary on loopback),
   * so a guard bug shows up as a request to the canary instead of traffic to the real address.
   */
  dialOverride?: (address: string) => string;
}

/**
 * An undici dispatcher whose connector resolves the host, refuses non-public addresses and then
 * connects to the very address it checked (TLS still verifies the certificate for the host name).
 * Use with undici's `fetch` and `redirect: 'manual'`: redirects are never followed.
 */
export function createGuardedAgent(options: GuardedAgentOptions = {}): Agent {
  const allow = options.allow ?? EMPTY_ALLOW_LIST;
  const connect = buildConnector({ timeout: options.connectTimeoutMs ?? 10_000 });
  const agent = new Agent({
    // Webhooks go to many hosts, rarely twice in a row: keep few idle sockets.
    keepAliveTimeout: 4_000,
    connections: 4,
    connect: (opts, callback) => {
      resolveAllowed(opts.hostname, allow, options.resolver).then(
        (address) => {
          const dial = options.dialOverride ? options.dialOverride(address) : address;
          // `servername` stays the host name (SNI and certificate check); only the dial target changes.
          connect({ ...opts, hostname: dial }, callback);
        },
        (error: Error) => callback(error, null),
      );
    },
  });
  guardedAgents.set(agent, allow);
  return agent;
}

/** Every dispatcher made by `createGuardedAgent`, with its allow-list: the only ones guardedFetch uses. */
const guardedAgents = new WeakMap<Agent, AllowList>();
/** One shared guarded agent per allow-list (config parses WEBHOOK_ALLOW_HOSTS once per value). */
const sharedAgents = new WeakMap<AllowList, Agent>();

function sharedAgent(allow: AllowList): Agent {
  let agent = sharedAgents.get(allow);
  if (!agent) {
    agent = createGuardedAgent({ allow });
    sharedAgents.set(allow, agent);
  }
  return agent;
}

export interface GuardedFetchOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** The whole exchange, connect to the last byte read (default 10 s); then a TimeoutError. */
  timeoutMs?: number;
  /** Bytes of the response body read (default 1 MiB); the rest is not read and `truncated` is set. */
  maxBytes?: number;
  /** WEBHOOK_ALLOW_HOSTS, parsed (default: no exceptions). Ignored when `dispatcher` is given. */
  allowHosts?: AllowList;
  signal?: AbortSignal;
  /**
   * A dispatcher made by `createGuardedAgent` (a worker's own pool, or a test's resolver); it
   * carries its allow-list. Any other dispatcher is refused: it would skip the connect-time check.
   */
  dispatcher?: Agent;
}

export interface GuardedResponse {
  status: number;
  headers: Headers;
  /** At most `maxBytes` of the body. */
  body: Buffer;
  /** The body was longer than `maxBytes`. */
  truncated: boolean;
  /** A 3xx answer's Location (redirects are never followed), else null. */
  redirectLocation: string | null;
  text(): string;
}

/** The exchange took longer than `timeoutMs`. */
export class OutboundTimeoutError extends Error {
  override name = 'TimeoutError';
}

/**
 * THE outbound HTTP request: every URL the server fetches (agent cards, webhooks, A2A) goes through
 * here. The URL is checked first (http(s), no credentials, no disallowed IP literal or numeric
 * trick), then the guarded connector resolves the host and refuses non-public addresses right
 * before connecting (so DNS rebinding cannot slip through). Redirects are never followed (the 3xx
 * is returned with its Location), the whole exchange has a timeout and the body a size cap.
 *
 * Throws `SsrfError` when refused (nothing was sent), `OutboundTimeoutError` on timeout, or the
 * underlying network error (connection refused, TLS, DNS failure).
 */
export async function guardedFetch(url: string, options: GuardedFetchOptions = {}): Promise<GuardedResponse> {
  let allow: AllowList;
  let dispatcher: Agent;
  if (options.dispatcher) {
    const own = guardedAgents.get(options.dispatcher);
    if (!own) throw new Error('guardedFetch: the dispatcher must be made by createGuardedAgent');
    allow = own;
    dispatcher = options.dispatcher;
  } else {
    allow = options.allowHosts ?? EMPTY_ALLOW_LIST;
    dispatcher = sharedAgent(allow);
  }
  const problem = checkUrlPolicy(url, allow);
  if (problem) throw new SsrfError(`refused ${url}: ${problem}`);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxBytes = options.maxBytes ?? 1024 * 1024;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
  try {
    const res = await undiciFetch(url, {
      method: options.method ?? 'GET',
      headers: options.headers,
      body: options.body,
      redirect: 'manual',
      dispatcher,
      signal,
    });
    const { body, truncated } = await readCapped(res.body, maxBytes);
    const redirect = res.status >= 300 && res.status < 400;
    return {
      status: res.status,
      headers: res.headers as unknown as Headers,
      body,
      truncated,
      redirectLocation: redirect ? (res.headers.get('location') ?? '') : null,
      text: () => body.toString('utf8'),
    };
  } catch (error) {
    if (timeout.aborted && !options.signal?.aborted) {
      throw new OutboundTimeoutError(`timed out after ${timeoutMs} ms`);
    }
    throw rootCause(error);
  }
}

/** Up to `limit` bytes of a body; leaving the loop early cancels the rest of the stream. */
async function readCapped(
  stream: AsyncIterable<Uint8Array> | null,
  limit: number,
): Promise<{ body: Buffer; truncated: boolean }> {
  if (!stream) return { body: Buffer.alloc(0), truncated: false };
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream) {
    chunks.push(chunk);
    size += chunk.byteLength;
    if (size > limit) return { body: Buffer.concat(chunks).subarray(0, limit), truncated: true };
  }
  return { body: Buffer.concat(chunks), truncated: false };
}

/** The SsrfError (or other cause) inside undici's generic "fetch failed". */
export function rootCause(error: unknown): Error {
  let current = error as Error & { cause?: unknown };
  for (let i = 0; i < 5 && current?.cause instanceof Error; i++) current = current.cause as Error & { cause?: unknown };
  return current instanceof Error ? current : new Error(String(error));
}
