/**
 * The frames the data-plane benchmark feeds the programs: ARP request, IPv6
 * neighbour solicitation, TCP SYN (IPv4), from the same builders the golden
 * tests use (test/helpers/frames.ts), so every program takes the path it
 * would take on the wire.
 */
import { formatMac, parseIpv4 } from '../src/addr.js';
import { arpRequestFrame, nsFrame, tcpFrame } from '../test/helpers/frames.js';

export const OUR_MAC = Buffer.from('02005e000101', 'hex');
export const CLIENT_MAC = Buffer.from('0200c0000201', 'hex');
const CLIENT = formatMac(CLIENT_MAC);

/** Dotted quad -> 4 bytes (map keys of the bench programs). */
export function ipv4(text: string): Buffer {
  const b = parseIpv4(text);
  if (!b) throw new TypeError(`not an IPv4 address: '${text}'`);
  return b;
}

/** Who has `target`? Tell `sender` (broadcast). */
export function arpRequest(sender: string, target: string): Buffer {
  return arpRequestFrame({ sha: CLIENT, spa: sender, tpa: target });
}

/** Neighbour solicitation for `target` from `source`, to its solicited-node group, with SLLAO. */
export function neighborSolicitation(source: string, target: string): Buffer {
  return nsFrame({ srcMac: CLIENT, src: source, target });
}

/** Offset of the TCP source port in tcpSyn()'s frame (the wrapper varies it for "new flow"). */
export const TCP_SPORT_OFFSET = 14 + 20;

/** A TCP SYN from src:sport to dst:dport, addressed to OUR_MAC; 54 bytes. */
export function tcpSyn(src: string, sport: number, dst: string, dport: number): Buffer {
  return tcpFrame({ srcMac: CLIENT, dstMac: formatMac(OUR_MAC), src, dst, sport, dport });
}
