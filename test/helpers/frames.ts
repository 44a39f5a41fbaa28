/**
 * Frame builders for tests: Ethernet (optionally 802.1Q-tagged), ARP,
 * IPv4 (options, fragments), IPv6, TCP, UDP, ICMP, ICMPv6 and neighbour
 * solicitations, each with correct lengths and checksums unless a test
 * asks for a broken one.
 */
import { isIPv4 } from 'node:net';
import { internetChecksum } from '../../src/checksum.js';
import { parseAddr, parseMac } from '../../src/dataplane/addr.js';

export const ETH_P_ARP = 0x0806;
export const ETH_P_IP = 0x0800;
export const ETH_P_IPV6 = 0x86dd;
export const ETH_P_8021Q = 0x8100;
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ICMPV6 = 58;

/** RFC 1071: the project's one implementation. */
export const csum = internetChecksum;

function ip4(a: string): Buffer {
  return parseAddr(a).addr.subarray(0, 4);
}

function ip6(a: string): Buffer {
  return parseAddr(a).addr;
}

export function mac(m: string): Buffer {
  return parseMac(m);
}

export interface EthOpts {
  dst: string;
  src: string;
  type: number;
  /** 802.1Q VLAN id: inserts a tag. */
  vlan?: number;
  /** Pad to the 60-byte Ethernet minimum. */
  pad?: boolean;
}

export function ether(o: EthOpts, payload: Buffer): Buffer {
  const tag = o.vlan === undefined ? Buffer.alloc(0) : Buffer.from([0x81, 0x00, (o.vlan >> 8) & 0x0f, o.vlan & 0xff]);
  const type = Buffer.alloc(2);
  type.writeUInt16BE(o.type);
  const f = Buffer.concat([mac(o.dst), mac(o.src), tag, type, payload]);
  return o.pad && f.length < 60 ? Buffer.concat([f, Buffer.alloc(60 - f.length)]) : f;
}

export interface ArpOpts {
  oper?: number;
  sha: string;
  spa: string;
  tha?: string;
  tpa: string;
}

export function arp(o: ArpOpts): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt16BE(1, 0);
  b.writeUInt16BE(ETH_P_IP, 2);
  b[4] = 6;
  b[5] = 4;
  b.writeUInt16BE(o.oper ?? 1, 6);
  mac(o.sha).copy(b, 8);
  ip4(o.spa).copy(b, 14);
  mac(o.tha ?? '00:00:00:00:00:00').copy(b, 18);
  ip4(o.tpa).copy(b, 24);
  return b;
}

export interface Ipv4Opts {
  src: string;
  dst: string;
  proto: number;
  ttl?: number;
  id?: number;
  /** The whole flags/fragment-offset word (DF = 0x4000, MF = 0x2000). */
  fragWord?: number;
  options?: Buffer;
  /** Overrides for malformed headers. */
  ihl?: number;
  version?: number;
  totLen?: number;
}

export function ipv4(o: Ipv4Opts, payload: Buffer): Buffer {
  const opts = o.options ?? Buffer.alloc(0);
  const h = Buffer.alloc(20 + opts.length);
  h[0] = ((o.version ?? 4) << 4) | (o.ihl ?? (20 + opts.length) / 4);
  h.writeUInt16BE(o.totLen ?? h.length + payload.length, 2);
  h.writeUInt16BE(o.id ?? 0x1234, 4);
  h.writeUInt16BE(o.fragWord ?? 0x4000, 6);
  h[8] = o.ttl ?? 64;
  h[9] = o.proto;
  ip4(o.src).copy(h, 12);
  ip4(o.dst).copy(h, 16);
  opts.copy(h, 20);
  h.writeUInt16BE(csum(h), 10);
  return Buffer.concat([h, payload]);
}

export interface Ipv6Opts {
  src: string;
  dst: string;
  nextHeader: number;
  hopLimit?: number;
  flowLabel?: number;
  version?: number;
}

export function ipv6(o: Ipv6Opts, payload: Buffer): Buffer {
  const h = Buffer.alloc(40);
  h.writeUInt32BE((((o.version ?? 6) << 28) | (o.flowLabel ?? 0)) >>> 0, 0);
  h.writeUInt16BE(payload.length, 4);
  h[6] = o.nextHeader;
  h[7] = o.hopLimit ?? 64;
  ip6(o.src).copy(h, 8);
  ip6(o.dst).copy(h, 24);
  return Buffer.concat([h, payload]);
}

/** The pseudo-header of a transport checksum. */
function pseudo(src: string, dst: string, proto: number, len: number): Buffer {
  if (isIPv4(src)) {
    const p = Buffer.alloc(12);
    ip4(src).copy(p, 0);
    ip4(dst).copy(p, 4);
    p[9] = proto;
    p.writeUInt16BE(len, 10);
    return p;
  }
  const p = Buffer.alloc(40);
  ip6(src).copy(p, 0);
  ip6(dst).copy(p, 16);
  p.writeUInt32BE(len, 32);
  p[39] = proto;
  return p;
}

export interface L4Opts {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  payload?: Buffer;
}

export function tcp(o: L4Opts & { seq?: number; flags?: number }): Buffer {
  const payload = o.payload ?? Buffer.alloc(0);
  const h = Buffer.alloc(20);
  h.writeUInt16BE(o.sport, 0);
  h.writeUInt16BE(o.dport, 2);
  h.writeUInt32BE(o.seq ?? 1, 4);
  h[12] = 5 << 4;
  h[13] = o.flags ?? 0x02; // SYN
  h.writeUInt16BE(65535, 14);
  const seg = Buffer.concat([h, payload]);
  seg.writeUInt16BE(csum(pseudo(o.src, o.dst, IPPROTO_TCP, seg.length), seg), 16);
  return seg;
}

export function udp(o: L4Opts): Buffer {
  const payload = o.payload ?? Buffer.alloc(0);
  const h = Buffer.alloc(8);
  h.writeUInt16BE(o.sport, 0);
  h.writeUInt16BE(o.dport, 2);
  h.writeUInt16BE(8 + payload.length, 4);
  const seg = Buffer.concat([h, payload]);
  const c = csum(pseudo(o.src, o.dst, IPPROTO_UDP, seg.length), seg);
  seg.writeUInt16BE(c === 0 ? 0xffff : c, 6);
  return seg;
}

/** ICMPv4: type, code, 4 bytes of rest-of-header, body. */
export function icmp4(type: number, code: number, rest: Buffer, body: Buffer): Buffer {
  const m = Buffer.concat([Buffer.from([type, code, 0, 0]), rest, body]);
  m.writeUInt16BE(csum(m), 2);
  return m;
}

export function icmp6(src: string, dst: string, type: number, code: number, body: Buffer): Buffer {
  const m = Buffer.concat([Buffer.from([type, code, 0, 0]), body]);
  m.writeUInt16BE(csum(pseudo(src, dst, IPPROTO_ICMPV6, m.length), m), 2);
  return m;
}

/** The solicited-node multicast address of an IPv6 address. */
export function solicitedNode(addr: string): string {
  const a = ip6(addr);
  return `ff02::1:ff${a[13].toString(16).padStart(2, '0')}:${a.readUInt16BE(14).toString(16)}`;
}

/** ICMPv6 neighbour solicitation body (after type/code/checksum). */
export function nsBody(target: string, slla?: string): Buffer {
  const b = Buffer.concat([Buffer.alloc(4), ip6(target)]);
  return slla ? Buffer.concat([b, Buffer.from([1, 1]), mac(slla)]) : b;
}

// Whole frames, for the common cases.

export interface FlowOpts {
  srcMac?: string;
  dstMac?: string;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  payload?: Buffer;
  vlan?: number;
}

const CLIENT_MAC = '02:00:00:00:00:01';
const LB_MAC = '02:00:00:00:00:aa';

export function tcpFrame(o: FlowOpts & { ip?: Partial<Ipv4Opts>; flags?: number }): Buffer {
  const seg = tcp(o);
  const v6 = !isIPv4(o.src);
  const l3 = v6
    ? ipv6({ src: o.src, dst: o.dst, nextHeader: IPPROTO_TCP }, seg)
    : ipv4({ src: o.src, dst: o.dst, proto: IPPROTO_TCP, ...o.ip }, seg);
  return ether(
    { dst: o.dstMac ?? LB_MAC, src: o.srcMac ?? CLIENT_MAC, type: v6 ? ETH_P_IPV6 : ETH_P_IP, vlan: o.vlan },
    l3,
  );
}

export function udpFrame(o: FlowOpts): Buffer {
  const seg = udp(o);
  const v6 = !isIPv4(o.src);
  const l3 = v6
    ? ipv6({ src: o.src, dst: o.dst, nextHeader: IPPROTO_UDP }, seg)
    : ipv4({ src: o.src, dst: o.dst, proto: IPPROTO_UDP }, seg);
  return ether(
    { dst: o.dstMac ?? LB_MAC, src: o.srcMac ?? CLIENT_MAC, type: v6 ? ETH_P_IPV6 : ETH_P_IP, vlan: o.vlan, pad: true },
    l3,
  );
}

export function arpRequestFrame(o: { sha?: string; spa: string; tpa: string; oper?: number; vlan?: number }): Buffer {
  const sha = o.sha ?? CLIENT_MAC;
  return ether(
    { dst: 'ff:ff:ff:ff:ff:ff', src: sha, type: ETH_P_ARP, vlan: o.vlan, pad: true },
    arp({ sha, spa: o.spa, tpa: o.tpa, oper: o.oper }),
  );
}

export function nsFrame(o: {
  srcMac?: string;
  src: string;
  dst?: string;
  target: string;
  slla?: boolean;
  hopLimit?: number;
}): Buffer {
  const srcMac = o.srcMac ?? CLIENT_MAC;
  const dst = o.dst ?? solicitedNode(o.target);
  const body = nsBody(o.target, o.slla === false ? undefined : srcMac);
  const m = icmp6(o.src, dst, 135, 0, body);
  return ether(
    { dst: '33:33:ff:00:00:01', src: srcMac, type: ETH_P_IPV6 },
    ipv6({ src: o.src, dst, nextHeader: IPPROTO_ICMPV6, hopLimit: o.hopLimit ?? 255 }, m),
  );
}

/**
 * An ICMP error sent to the VIP about a packet the real server sent as the
 * VIP (src = vip:vport, dst = client:cport): frag-needed for IPv4,
 * packet-too-big for IPv6.
 */
export function pmtuFrame(o: {
  router: string;
  vip: string;
  client: string;
  vport: number;
  cport: number;
  proto?: number;
  mtu?: number;
}): Buffer {
  const proto = o.proto ?? IPPROTO_TCP;
  const l4o = { src: o.vip, dst: o.client, sport: o.vport, dport: o.cport };
  const seg = (proto === IPPROTO_TCP ? tcp(l4o) : udp(l4o)).subarray(0, 8);
  const mtu = o.mtu ?? 1400;
  if (isIPv4(o.vip)) {
    const inner = ipv4({ src: o.vip, dst: o.client, proto, totLen: 1500 }, seg);
    const rest = Buffer.alloc(4);
    rest.writeUInt16BE(mtu, 2);
    const m = icmp4(3, 4, rest, inner);
    return ether({ dst: LB_MAC, src: CLIENT_MAC, type: ETH_P_IP }, ipv4({ src: o.router, dst: o.vip, proto: IPPROTO_ICMP }, m));
  }
  const inner = ipv6({ src: o.vip, dst: o.client, nextHeader: proto }, seg);
  const rest = Buffer.alloc(4);
  rest.writeUInt32BE(mtu);
  const m = icmp6(o.router, o.vip, 2, 0, Buffer.concat([rest, inner]));
  return ether({ dst: LB_MAC, src: CLIENT_MAC, type: ETH_P_IPV6 }, ipv6({ src: o.router, dst: o.vip, nextHeader: IPPROTO_ICMPV6 }, m));
}

export { CLIENT_MAC, LB_MAC };
