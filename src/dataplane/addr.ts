/**
 * Addresses as the maps hold them: 16 bytes in network order (an IPv4
 * address in the first 4, the rest zero) plus a family of 4 or 6.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { FAMILY_V4, FAMILY_V6, type Family } from './abi.js';

export interface MapAddr {
  addr: Buffer;
  family: Family;
}

function ipv6Bytes(text: string): Buffer {
  let s = text;
  const out = Buffer.alloc(16);
  // A trailing dotted quad (::ffff:1.2.3.4) is two groups.
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (quad) {
    const b = quad[1].split('.').map(Number);
    s = s.slice(0, -quad[1].length) + `${((b[0] << 8) | b[1]).toString(16)}:${((b[2] << 8) | b[3]).toString(16)}`;
  }
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head ? head.split(':') : [];
  const tl = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - tl.length).fill('0'), ...tl];
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** Parses an IPv4 or IPv6 address (no prefix length) into its map form. */
export function parseAddr(text: string): MapAddr {
  if (isIPv4(text)) {
    const addr = Buffer.alloc(16);
    text.split('.').forEach((p, i) => (addr[i] = Number(p)));
    return { addr, family: FAMILY_V4 };
  }
  if (isIPv6(text)) return { addr: ipv6Bytes(text), family: FAMILY_V6 };
  throw new TypeError(`not an IP address: '${text}'`);
}

/** The text form of a map address. */
export function formatAddr(addr: Buffer, family: number): string {
  if (family === FAMILY_V4) return [...addr.subarray(0, 4)].join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(addr.readUInt16BE(i).toString(16));
  // Compress the longest run of zero groups (RFC 5952).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

export function parseMac(text: string): Buffer {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) {
    throw new TypeError(`not a MAC address: '${text}'`);
  }
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

export function formatMac(mac: Buffer): string {
  return [...mac].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

export { FAMILY_V4, FAMILY_V6 };
