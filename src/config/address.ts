/**
 * IP address and CIDR parsing. Addresses are canonicalised so that two
 * spellings of one IPv6 address compare equal everywhere in vipd.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { parseListenAddress, type ListenAddress } from '../addr.js';
import type { IpAddress, VirtualAddress } from './schema.js';

/** IPv6 compressed and lower case, via the WHATWG URL host serialiser. */
function canonicalIpv6(text: string): string {
  return new URL(`http://[${text}]/`).hostname.slice(1, -1);
}

/** A unicast host address, or undefined; zone ids (`%eth0`) are not accepted. */
export function parseIpAddress(text: string): IpAddress | undefined {
  if (isIPv4(text)) return { address: text, family: 4 };
  if (isIPv6(text) && !text.includes('%')) return { address: canonicalIpv6(text), family: 6 };
  return undefined;
}

/** Why an address cannot be a VIP, peer or backend, or undefined if it can. */
export function unusableAddressReason(ip: IpAddress): string | undefined {
  if (ip.family === 4) {
    const first = Number(ip.address.split('.')[0]);
    if (ip.address === '0.0.0.0') return 'the unspecified address';
    if (first >= 224 && first <= 239) return 'a multicast address';
    if (ip.address === '255.255.255.255') return 'the broadcast address';
    return undefined;
  }
  if (ip.address === '::') return 'the unspecified address';
  if (ip.address.startsWith('ff')) return 'a multicast address';
  return undefined;
}

export type CidrResult = { ok: true; value: VirtualAddress } | { ok: false; reason: string };

/** `address[/prefix]`; a missing prefix means a host route (/32 or /128). */
export function parseCidr(text: string): CidrResult {
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const ip = parseIpAddress(addressText);
  if (!ip) return { ok: false, reason: `"${addressText}" is not an IPv4 or IPv6 address` };
  const unusable = unusableAddressReason(ip);
  if (unusable) return { ok: false, reason: `"${addressText}" is ${unusable}` };
  const maxPrefix = ip.family === 4 ? 32 : 128;
  let prefixLength = maxPrefix;
  if (slash >= 0) {
    const prefixText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) < 1 || Number(prefixText) > maxPrefix) {
      return { ok: false, reason: `prefix length "${prefixText}" must be 1..${maxPrefix}` };
    }
    prefixLength = Number(prefixText);
  }
  return { ok: true, value: { ...ip, prefixLength, cidr: `${ip.address}/${prefixLength}` } };
}

/**
 * A listen address in the config: src/addr.ts parses the syntax; the config
 * also wants an IP host (the daemon binds without resolving a name) and a
 * fixed port (not 0). The IPv6 host is canonicalised.
 */
export function parseConfigListenAddress(text: string): ListenAddress | undefined {
  let parsed: ListenAddress;
  try {
    parsed = parseListenAddress(text);
  } catch {
    return undefined;
  }
  const ip = parseIpAddress(parsed.host);
  const bracketed = text.trim().startsWith('[');
  if (!ip || bracketed !== (ip.family === 6) || parsed.port < 1) return undefined;
  return { host: ip.address, port: parsed.port };
}

/** `vip:port` with brackets around IPv6, for names and messages. */
export function formatHostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
