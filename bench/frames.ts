/**
 * The frames the data-plane benchmark feeds the programs: ARP request, IPv6
 * neighbour solicitation, TCP SYN (IPv4). Built byte by byte, checksums
 * right, so every program takes the path it would take on the wire.
 */

export const OUR_MAC = Buffer.from('02005e000101', 'hex');
export const CLIENT_MAC = Buffer.from('0200c0000201', 'hex');

export function ipv4(text: string): Buffer {
  return Buffer.from(text.split('.').map(Number));
}

export function ipv6(text: string): Buffer {
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** RFC 1071 ones' complement sum of the parts, folded and inverted. */
export function checksum(...parts: readonly Buffer[]): number {
  const all = Buffer.concat(parts);
  const buf = all.length % 2 ? Buffer.concat([all, Buffer.alloc(1)]) : all;
  let sum = 0;
  for (let i = 0; i < buf.length; i += 2) sum += buf.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function eth(dst: Buffer, src: Buffer, type: number): Buffer {
  const b = Buffer.alloc(14);
  dst.copy(b, 0);
  src.copy(b, 6);
  b.writeUInt16BE(type, 12);
  return b;
}

/** Who has `target`? Tell `sender` (broadcast), 42 bytes. */
export function arpRequest(sender: string, target: string): Buffer {
  const arp = Buffer.alloc(28);
  arp.writeUInt16BE(1, 0); // Ethernet
  arp.writeUInt16BE(0x0800, 2);
  arp[4] = 6;
  arp[5] = 4;
  arp.writeUInt16BE(1, 6); // request
  CLIENT_MAC.copy(arp, 8);
  ipv4(sender).copy(arp, 14);
  ipv4(target).copy(arp, 24);
  return Buffer.concat([eth(Buffer.alloc(6, 0xff), CLIENT_MAC, 0x0806), arp]);
}

/** Neighbour solicitation for `target` from `source`, to its solicited-node group, with SLLAO; 86 bytes. */
export function neighborSolicitation(source: string, target: string): Buffer {
  const tgt = ipv6(target);
  const dst = Buffer.concat([Buffer.from('ff0200000000000000000001ff', 'hex'), tgt.subarray(13)]); // ff02::1:ffXX:XXXX
  const mac = Buffer.from([0x33, 0x33, 0xff, tgt[13], tgt[14], tgt[15]]);
  const icmp = Buffer.alloc(32);
  icmp[0] = 135;
  tgt.copy(icmp, 8);
  icmp[24] = 1; // source link-layer address option, 8 bytes
  icmp[25] = 1;
  CLIENT_MAC.copy(icmp, 26);
  const src = ipv6(source);
  const pseudo = Buffer.alloc(40);
  src.copy(pseudo, 0);
  dst.copy(pseudo, 16);
  pseudo.writeUInt32BE(icmp.length, 32);
  pseudo[39] = 58;
  icmp.writeUInt16BE(checksum(pseudo, icmp), 2);
  const ip6 = Buffer.alloc(40);
  ip6.writeUInt32BE(0x60000000, 0);
  ip6.writeUInt16BE(icmp.length, 4);
  ip6[6] = 58;
  ip6[7] = 255;
  src.copy(ip6, 8);
  dst.copy(ip6, 24);
  return Buffer.concat([eth(mac, CLIENT_MAC, 0x86dd), ip6, icmp]);
}

/** Offset of the TCP source port in tcpSyn()'s frame (the wrapper varies it for "new flow"). */
export const TCP_SPORT_OFFSET = 14 + 20;

/** A TCP SYN from src:sport to dst:dport, addressed to OUR_MAC; 54 bytes. */
export function tcpSyn(src: string, sport: number, dst: string, dport: number): Buffer {
  const tcp = Buffer.alloc(20);
  tcp.writeUInt16BE(sport, 0);
  tcp.writeUInt16BE(dport, 2);
  tcp.writeUInt32BE(0x01020304, 4);
  tcp[12] = 5 << 4;
  tcp[13] = 0x02; // SYN
  tcp.writeUInt16BE(64240, 14);
  const pseudo = Buffer.alloc(12);
  ipv4(src).copy(pseudo, 0);
  ipv4(dst).copy(pseudo, 4);
  pseudo[9] = 6;
  pseudo.writeUInt16BE(tcp.length, 10);
  tcp.writeUInt16BE(checksum(pseudo, tcp), 16);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + tcp.length, 2);
  ip.writeUInt16BE(0x4000, 6); // DF
  ip[8] = 64;
  ip[9] = 6;
  ipv4(src).copy(ip, 12);
  ipv4(dst).copy(ip, 16);
  ip.writeUInt16BE(checksum(ip), 10);
  return Buffer.concat([eth(OUR_MAC, CLIENT_MAC, 0x0800), ip, tcp]);
}
