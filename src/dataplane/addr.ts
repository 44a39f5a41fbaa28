/**
 * Addresses as the maps hold them: 16 bytes in network order (an IPv4
 * address in the first 4, the rest zero) plus a family of 4 or 6. Parsing
 * and formatting are the shared helpers of src/addr.ts.
 */
import { formatIp, parseIpv4, parseIpv6, writeIpv4, writeIpv6 } from '../addr.js';
import { FAMILY_V4, FAMILY_V6, type Family } from './abi.js';

export { formatMac, parseMac } from '../addr.js';

export interface MapAddr {
  addr: Buffer;
  family: Family;
}

/** Parses an IPv4 or IPv6 address (no prefix length) into its map form. */
export function parseAddr(text: string): MapAddr {
  const v4 = parseIpv4(text);
  if (v4) {
    const addr = Buffer.alloc(16);
    v4.copy(addr);
    return { addr, family: FAMILY_V4 };
  }
  const v6 = parseIpv6(text);
  if (v6) return { addr: v6, family: FAMILY_V6 };
  throw new TypeError(`not an IP address: '${text}'`);
}

/**
 * parseAddr() into buf[offset, offset + 16) (IPv4 in the first 4, the rest
 * zero: buf must be zero there already); returns the family. Written
 * without allocating anything (a config's 100 000 real servers).
 */
export function writeAddr(text: string, buf: Buffer, offset: number): Family {
  if (writeIpv4(text, buf, offset)) return FAMILY_V4;
  if (writeIpv6(text, buf, offset)) return FAMILY_V6;
  throw new TypeError(`not an IP address: '${text}'`);
}

/** The text form of a map address. */
export function formatAddr(addr: Buffer, family: number): string {
  return formatIp(family === FAMILY_V4 ? addr.subarray(0, 4) : addr.subarray(0, 16));
}

export { FAMILY_V4, FAMILY_V6 };
