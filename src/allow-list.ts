import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * WEBHOOK_ALLOW_HOSTS: the exceptions to the SSRF guard (services/delivery/ssrf.ts) for development.
 * It sits beside config.ts, below the services, so that config can validate the value at start-up
 * without importing a service.
 */

export interface AllowList {
  /** Lower-case host names allowed whatever they resolve to. */
  hosts: Set<string>;
  /** Address ranges allowed (single addresses are /32 or /128). */
  ranges: [ipaddr.IPv4 | ipaddr.IPv6, number][];
}

export const EMPTY_ALLOW_LIST: AllowList = { hosts: new Set(), ranges: [] };

/**
 * Parses `WEBHOOK_ALLOW_HOSTS`: comma-separated host names, IP addresses or CIDR ranges
 * (`127.0.0.1`, `localhost`, `10.0.0.0/8`, `::1`). Throws on an entry that is none of them.
 */
export function parseAllowList(value: string | undefined | null): AllowList {
  const list: AllowList = { hosts: new Set(), ranges: [] };
  for (const raw of (value ?? '').split(',')) {
    const entry = raw
      .trim()
      .toLowerCase()
      .replace(/^\[(.*)\]$/, '$1');
    if (!entry) continue;
    if (entry.includes('/')) {
      if (!ipaddr.isValidCIDR(entry)) throw new Error(`WEBHOOK_ALLOW_HOSTS: "${raw.trim()}" is not a valid CIDR range`);
      list.ranges.push(normaliseRange(ipaddr.parseCIDR(entry)));
    } else if (isIP(entry)) {
      const address = ipaddr.process(entry);
      list.ranges.push([address, address.kind() === 'ipv4' ? 32 : 128]);
    } else if (
      /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/.test(entry)
    ) {
      list.hosts.add(entry.replace(/\.$/, ''));
    } else {
      throw new Error(`WEBHOOK_ALLOW_HOSTS: "${raw.trim()}" is not a host name, IP address or CIDR range`);
    }
  }
  return list;
}

/** Config validation: reports why a WEBHOOK_ALLOW_HOSTS value is invalid (nothing when it is valid). */
export function allowListProblem(value: string | undefined, report: (message: string) => void): void {
  try {
    parseAllowList(value);
  } catch (error) {
    report((error as Error).message.replace(/^WEBHOOK_ALLOW_HOSTS: /, ''));
  }
}

/** `::ffff:10.0.0.0/104` is written as the IPv4 range it maps. */
function normaliseRange([address, bits]: [ipaddr.IPv4 | ipaddr.IPv6, number]): [ipaddr.IPv4 | ipaddr.IPv6, number] {
  if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
    return [(address as ipaddr.IPv6).toIPv4Address(), bits - 96];
  }
  return [address, bits];
}
