/**
 * pcap filters (tcpdump syntax) that match only the frames a test sends.
 *
 * A veth that just came up carries the kernel's own traffic too: router
 * solicitations, IPv6 DAD neighbour solicitations, MLD reports, ARP for
 * whatever the namespace talks to. A capture that counts frames must not
 * see any of it, so each filter pins the sender's MAC, the message type
 * and the exact addresses under test. Offsets are into the ARP header
 * (`arp[n]`) and into the IPv6 header with no extension headers (`ip6[n]`:
 * next header at 6, ICMPv6 type at 40, an NA's target at 48). Each filter
 * comes in parentheses, since pcap's `and` and `or` bind equally (left to
 * right): join them with `or` as they are.
 */
import { parseIpv4, parseIpv6 } from '../../src/addr.js';

function word(b: Buffer, at: number): string {
  return `0x${b.subarray(at, at + 4).toString('hex')}`;
}

function ipv4Word(ip: string): string {
  const b = parseIpv4(ip);
  if (!b) throw new TypeError(`not an IPv4 address: '${ip}'`);
  return word(b, 0);
}

function ipv6Equals(offset: number, ip: string): string {
  const b = parseIpv6(ip);
  if (!b) throw new TypeError(`not an IPv6 address: '${ip}'`);
  return [0, 4, 8, 12].map((i) => `ip6[${offset + i}:4] = ${word(b, i)}`).join(' and ');
}

const anyOf = (parts: string[]): string => `(${parts.map((p) => `(${p})`).join(' or ')})`;

/** Gratuitous ARP requests from `mac` for one of `ips` (sender IP = target IP = the address). */
export function garpFilter(mac: string, ips: readonly string[]): string {
  const one = (ip: string) => `arp[6:2] = 1 and arp[14:4] = ${ipv4Word(ip)} and arp[24:4] = ${ipv4Word(ip)}`;
  return `(ether src ${mac} and arp and ${anyOf(ips.map(one))})`;
}

/** Neighbour advertisements (ICMPv6 type 136) from `mac` whose target is one of `ips`. */
export function neighbourAdvertFilter(mac: string, ips: readonly string[]): string {
  return `(ether src ${mac} and ip6 and ip6[6] = 58 and ip6[40] = 136 and ${anyOf(ips.map((ip) => ipv6Equals(48, ip)))})`;
}

/** ARP replies that say where `ip` is (any sender MAC: the test asks which one answered). */
export function arpReplyFilter(ip: string): string {
  return `(arp and arp[6:2] = 2 and arp[14:4] = ${ipv4Word(ip)})`;
}

/** VRRP (IP protocol 112) from `source` to `destination`, IPv4 or IPv6 by the address form. */
export function vrrpFilter(source: string, destination: string): string {
  const v = source.includes(':') ? 'ip6' : 'ip';
  return `(${v} proto 112 and ${v} src ${source} and ${v} dst ${destination})`;
}

/** ARP requests from `mac` asking for `ip`. */
export function arpRequestFilter(mac: string, ip: string): string {
  return `(ether src ${mac} and arp and arp[6:2] = 1 and arp[24:4] = ${ipv4Word(ip)})`;
}
