/**
 * Parses a whole Ethernet frame (as captured in a pcap) into the IP fields a
 * raw socket would report plus the VRRP payload. Used for the keepalived test
 * vectors and for tools that read captures; the daemon's raw socket does not
 * need it. Handles one 802.1Q tag, IPv4 options, and an IPv4 AH header
 * (keepalived's `auth_type AH`), which sits between the IP header and VRRP.
 */
import { formatIp, type IpFamily } from '../../src/vrrp/addr.js';
import { internetChecksum } from '../../src/vrrp/checksum.js';
import { VRRP_PROTOCOL, type PacketMeta } from '../../src/vrrp/codec.js';

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100;
const IPPROTO_AH = 51;

/** The IPsec AH header fields (RFC 4302) that preceded the VRRP payload. */
export interface AhHeader {
  spi: number;
  sequence: number;
  icv: Buffer;
}

export interface IpPacket {
  dstMac: string;
  srcMac: string;
  vlan: number | null;
  family: IpFamily;
  src: string;
  dst: string;
  /** IPv4 TTL or IPv6 hop limit. */
  ttl: number;
  /** IPv4 TOS or IPv6 traffic class. */
  tos: number;
  /** IPv4 identification; null for IPv6. */
  ipId: number | null;
  /** IPv4 header checksum verified; true for IPv6, which has none. */
  ipChecksumOk: boolean;
  /** The upper-layer protocol after any AH header. */
  protocol: number;
  ah: AhHeader | null;
  /** Bytes after the IP (and AH) headers, up to the IP length: trailer padding removed. */
  payload: Buffer;
}

export type FrameError = 'truncated' | 'ethertype' | 'ip_header';
export type FrameResult = { ok: true; packet: IpPacket } | { ok: false; reason: FrameError };

function mac(bytes: Buffer, at: number): string {
  return Array.from(bytes.subarray(at, at + 6), (b) => b.toString(16).padStart(2, '0')).join(':');
}

/** The PacketMeta a raw socket would have given for this packet. */
export function packetMeta(packet: IpPacket): PacketMeta {
  return { family: packet.family, src: packet.src, dst: packet.dst, ttl: packet.ttl };
}

/** Whether the packet carries VRRP (directly or inside AH). */
export function isVrrp(packet: IpPacket): boolean {
  return packet.protocol === VRRP_PROTOCOL;
}

/** Splits an Ethernet frame into IP fields and payload. Never throws. */
export function parseEthernetFrame(frame: Uint8Array): FrameResult {
  const bytes = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
  if (bytes.length < 14) return { ok: false, reason: 'truncated' };
  let at = 12;
  let etherType = bytes.readUInt16BE(at);
  let vlan: number | null = null;
  if (etherType === ETHERTYPE_VLAN) {
    if (bytes.length < 18) return { ok: false, reason: 'truncated' };
    vlan = bytes.readUInt16BE(14) & 0x0fff;
    at = 16;
    etherType = bytes.readUInt16BE(at);
  }
  at += 2;
  const head = { dstMac: mac(bytes, 0), srcMac: mac(bytes, 6), vlan };
  if (etherType === ETHERTYPE_IPV4) return parseIpv4(bytes.subarray(at), head);
  if (etherType === ETHERTYPE_IPV6) return parseIpv6(bytes.subarray(at), head);
  return { ok: false, reason: 'ethertype' };
}

type FrameHead = Pick<IpPacket, 'dstMac' | 'srcMac' | 'vlan'>;

function parseIpv4(ip: Buffer, head: FrameHead): FrameResult {
  if (ip.length < 20) return { ok: false, reason: 'truncated' };
  if (ip[0] >> 4 !== 4) return { ok: false, reason: 'ip_header' };
  const headerLength = (ip[0] & 0x0f) * 4;
  const totalLength = ip.readUInt16BE(2);
  if (headerLength < 20 || totalLength < headerLength) return { ok: false, reason: 'ip_header' };
  if (ip.length < totalLength) return { ok: false, reason: 'truncated' };
  const upper = withAh(ip[9], ip.subarray(headerLength, totalLength));
  if (upper === null) return { ok: false, reason: 'truncated' };
  return {
    ok: true,
    packet: {
      ...head,
      family: 4,
      src: formatIp(ip.subarray(12, 16)),
      dst: formatIp(ip.subarray(16, 20)),
      ttl: ip[8],
      tos: ip[1],
      ipId: ip.readUInt16BE(4),
      ipChecksumOk: internetChecksum(ip.subarray(0, headerLength)) === 0,
      ...upper,
    },
  };
}

function parseIpv6(ip: Buffer, head: FrameHead): FrameResult {
  if (ip.length < 40) return { ok: false, reason: 'truncated' };
  if (ip[0] >> 4 !== 6) return { ok: false, reason: 'ip_header' };
  const payloadLength = ip.readUInt16BE(4);
  if (ip.length < 40 + payloadLength) return { ok: false, reason: 'truncated' };
  const upper = withAh(ip[6], ip.subarray(40, 40 + payloadLength));
  if (upper === null) return { ok: false, reason: 'truncated' };
  return {
    ok: true,
    packet: {
      ...head,
      family: 6,
      src: formatIp(ip.subarray(8, 24)),
      dst: formatIp(ip.subarray(24, 40)),
      ttl: ip[7],
      tos: (ip.readUInt16BE(0) >> 4) & 0xff,
      ipId: null,
      ipChecksumOk: true,
      ...upper,
    },
  };
}

/** Steps over an AH header when there is one; null when it is cut short. */
function withAh(
  protocol: number,
  body: Buffer,
): Pick<IpPacket, 'protocol' | 'ah' | 'payload'> | null {
  if (protocol !== IPPROTO_AH) return { protocol, ah: null, payload: body };
  if (body.length < 12) return null;
  const ahLength = (body[1] + 2) * 4;
  if (ahLength < 12 || body.length < ahLength) return null;
  return {
    protocol: body[0],
    ah: { spi: body.readUInt32BE(4), sequence: body.readUInt32BE(8), icv: Buffer.from(body.subarray(12, ahLength)) },
    payload: body.subarray(ahLength),
  };
}
