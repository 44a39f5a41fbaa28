/**
 * IP and MAC address text <-> bytes, without sockets: the one parser and
 * formatter every layer uses (VRRP fields, map keys, announcement frames).
 * VRRP compares addresses as unsigned big-endian numbers (RFC 9568
 * tie-break), so these give the bytes, not just validation.
 */
import { isIP, isIPv6 } from 'node:net';

export type IpFamily = 4 | 6;

/** Byte length of one address of the family. */
export function addressLength(family: IpFamily): number {
  return family === 4 ? 4 : 16;
}

/** Parses dotted-quad text; null when it is not an IPv4 address. */
export function parseIpv4(text: string): Buffer | null {
  const out = Buffer.alloc(4);
  return writeIpv4(text, out, 0) ? out : null;
}

/**
 * Writes the 4 bytes of dotted-quad text at buf[offset]; false (and buf
 * unchanged) when it is not an IPv4 address. Accepts what node:net isIPv4()
 * accepts: four decimal parts of 0-255, no leading zeros, nothing else. By
 * hand, without a regular expression, a split or an array: a config load
 * writes 100 000 real servers' addresses.
 */
export function writeIpv4(text: string, buf: Uint8Array, offset: number): boolean {
  const len = text.length;
  if (len < 7 || len > 15) return false;
  let i = 0;
  let value = 0;
  for (let part = 0; part < 4; part++) {
    const start = i;
    let n = 0;
    while (i < len) {
      const c = text.charCodeAt(i) - 48;
      if (c < 0 || c > 9) break;
      n = n * 10 + c;
      i++;
    }
    const digits = i - start;
    if (digits === 0 || digits > 3 || n > 255 || (digits > 1 && text.charCodeAt(start) === 48)) return false;
    if (part < 3) {
      if (i >= len || text.charCodeAt(i) !== 46) return false;
      i++;
    }
    value = value * 256 + n;
  }
  if (i !== len) return false;
  buf[offset] = value >>> 24;
  buf[offset + 1] = (value >>> 16) & 255;
  buf[offset + 2] = (value >>> 8) & 255;
  buf[offset + 3] = value & 255;
  return true;
}

/** writeIpv6Plain()'s groups as read (one array for every call). */
const IPV6_GROUPS = new Uint16Array(8);

/**
 * Writes the 16 bytes of IPv6 text made of hex groups and at most one "::"
 * (the usual form) at buf[offset], by hand; false, with buf unchanged, for
 * anything else: parseIpv6() then takes the general path (an IPv4 tail, a
 * %zone) or rejects it. What it accepts node:net isIPv6() accepts too.
 */
function writeIpv6Plain(text: string, buf: Uint8Array, offset: number): boolean {
  const len = text.length;
  if (len < 2 || len > 39) return false;
  const groups = IPV6_GROUPS;
  let count = 0;
  /** Groups written before the "::" (-1: none seen). */
  let gap = -1;
  let i = 0;
  if (text.charCodeAt(0) === 58) {
    if (text.charCodeAt(1) !== 58) return false;
    gap = 0;
    i = 2;
    if (i === len) {
      buf.fill(0, offset, offset + 16);
      return true;
    }
  }
  for (;;) {
    let value = 0;
    let digits = 0;
    while (i < len && digits <= 4) {
      const c = text.charCodeAt(i);
      const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
      if (d < 0) break;
      value = value * 16 + d;
      digits++;
      i++;
    }
    if (digits === 0 || digits > 4 || count === 8) return false;
    groups[count++] = value;
    if (i === len) break;
    if (text.charCodeAt(i) !== 58) return false; // '.', '%' or anything else: the general path
    i++;
    if (i < len && text.charCodeAt(i) === 58) {
      if (gap >= 0) return false;
      gap = count;
      i++;
      if (i === len) break;
    } else if (i === len) return false; // a single trailing ':'
  }
  if (gap < 0 ? count !== 8 : count > 7) return false;
  const zeros = 8 - count;
  for (let g = 0, out = 0; g < count; g++, out++) {
    if (g === gap) out += zeros;
    buf[offset + 2 * out] = groups[g] >> 8;
    buf[offset + 2 * out + 1] = groups[g] & 255;
  }
  if (gap >= 0) buf.fill(0, offset + 2 * gap, offset + 2 * (gap + zeros));
  return true;
}

/** writeIpv6Plain(), else parseIpv6(): false when text is not an IPv6 address. */
export function writeIpv6(text: string, buf: Uint8Array, offset: number): boolean {
  if (writeIpv6Plain(text, buf, offset)) return true;
  const parsed = parseIpv6General(text);
  if (!parsed) return false;
  buf.set(parsed, offset);
  return true;
}

/** Parses IPv6 text (with "::", an embedded IPv4 tail or a %zone); null when invalid. */
export function parseIpv6(text: string): Buffer | null {
  const out = Buffer.alloc(16);
  return writeIpv6Plain(text, out, 0) ? out : parseIpv6General(text);
}

/** parseIpv6()'s general path: node:net isIPv6() decides, then the groups are read. */
function parseIpv6General(text: string): Buffer | null {
  const bare = text.split('%')[0];
  if (!isIPv6(bare)) return null;
  const groups: number[] = [];
  const pushGroups = (part: string): void => {
    if (part === '') return;
    for (const word of part.split(':')) {
      if (word.includes('.')) {
        const v4 = parseIpv4(word);
        if (v4 === null) return;
        groups.push(v4.readUInt16BE(0), v4.readUInt16BE(2));
      } else {
        groups.push(parseInt(word, 16));
      }
    }
  };
  const [head, tail] = bare.split('::');
  pushGroups(head);
  const headCount = groups.length;
  if (tail !== undefined) {
    pushGroups(tail);
    const zeros = new Array<number>(8 - groups.length).fill(0);
    groups.splice(headCount, 0, ...zeros);
  }
  if (groups.length !== 8) return null;
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

/** Parses either family; the family is decided by the text. */
export function parseIp(text: string): { family: IpFamily; bytes: Buffer } | null {
  const v4 = parseIpv4(text);
  if (v4 !== null) return { family: 4, bytes: v4 };
  const v6 = parseIpv6(text);
  if (v6 !== null) return { family: 6, bytes: v6 };
  return null;
}

/** Parses text that must be of `family`; null otherwise. */
export function parseIpOf(family: IpFamily, text: string): Buffer | null {
  return family === 4 ? parseIpv4(text) : parseIpv6(text);
}

/** Formats 4 or 16 bytes; IPv6 in the RFC 5952 canonical form (what tcpdump prints). */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i] << 8) | bytes[i + 1]);
  // The longest run of two or more zero groups (leftmost on a tie) becomes "::".
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]): string => gs.map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

/** Canonical text of an address, or null when it does not parse. */
export function canonicalIp(text: string): string | null {
  const parsed = parseIp(text);
  return parsed === null ? null : formatIp(parsed.bytes);
}

/** Unsigned big-endian comparison: <0, 0, >0 like a sort comparator. */
export function compareIp(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

/** `aa:bb:cc:dd:ee:ff` (or `-` separated) -> 6 bytes; 6 bytes pass through. */
export function parseMac(mac: string | Uint8Array): Buffer {
  if (typeof mac !== 'string') {
    if (mac.length !== 6) throw new TypeError('a MAC address is 6 bytes');
    return Buffer.from(mac);
  }
  const parts = mac.split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) {
    throw new TypeError(`not a MAC address: '${mac}'`);
  }
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

/** 6 bytes -> `aa:bb:cc:dd:ee:ff`. */
export function formatMac(mac: Uint8Array): string {
  return [...mac].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** Where a listener binds. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * `host:port` or `[v6]:port` (`127.0.0.1:9477`, `[::1]:9477`,
 * `localhost:9477`; port 0..65535). The one listen-address parser: the
 * config loader adds its own rules on top (an IP host, a fixed port).
 * Throws RangeError.
 */
export function parseListenAddress(text: string): ListenAddress {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 0 || port > 65535) throw new RangeError(`not a host:port address: ${JSON.stringify(text)}`);
  const host = m[1] ?? m[2] ?? '';
  if (m[1] !== undefined && isIP(host) !== 6) throw new RangeError(`not an IPv6 address in brackets: ${JSON.stringify(text)}`);
  return { host, port };
}
