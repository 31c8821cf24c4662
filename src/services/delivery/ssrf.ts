import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { Agent, buildConnector } from 'undici';
import { type AllowList, EMPTY_ALLOW_LIST, parseAllowList } from '../../allow-list.ts';

// The allow-list parser lives beside config (which validates WEBHOOK_ALLOW_HOSTS at start-up).
export { type AllowList, EMPTY_ALLOW_LIST, parseAllowList };

/**
 * SSRF guard for every request the server makes to a URL someone else chose (webhooks).
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
  return new Agent({
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
}

/** The SsrfError (or other cause) inside undici's generic "fetch failed". */
export function rootCause(error: unknown): Error {
  let current = error as Error & { cause?: unknown };
  for (let i = 0; i < 5 && current?.cause instanceof Error; i++) current = current.cause as Error & { cause?: unknown };
  return current instanceof Error ? current : new Error(String(error));
}
