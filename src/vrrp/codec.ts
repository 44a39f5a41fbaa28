/**
 * VRRP advertisement bytes <-> fields: v2 (RFC 3768, IPv4) and v3 (RFC 9568,
 * IPv4 and IPv6). Works on the VRRP payload as a raw IP socket returns it,
 * after the IP header; the IP fields come separately as PacketMeta.
 *
 * decodeAdvert checks only what the bytes say about themselves (length,
 * version, type, checksum); checks against an instance's config live in
 * validate.ts. It never throws: malformed input is a reason string.
 */
import { addressLength, formatIp, parseIpOf, type IpFamily } from './addr.js';
import { internetChecksum } from './checksum.js';

/** IP protocol number of VRRP (and the IPv6 next header). */
export const VRRP_PROTOCOL = 112;
/** TTL / hop limit every advertisement is sent with and must arrive with. */
export const VRRP_TTL = 255;
/** Addresses in one advert: the count field is one byte. */
export const MAX_ADVERT_ADDRESSES = 255;
/** Multicast destinations (RFC 9568 section 5.1). */
export const VRRP_MULTICAST = { 4: '224.0.0.18', 6: 'ff02::12' } as const;
/** The only VRRP packet type. */
export const VRRP_TYPE_ADVERTISEMENT = 1;

/** v2 Auth Type values (RFC 3768 5.3.6); 2 (IP AH) is recognised but not supported. */
export const AuthType = { None: 0, SimplePassword: 1, IpAh: 2 } as const;
/** Length of the v2 authentication data field. */
export const AUTH_DATA_LENGTH = 8;

export type VrrpVersion = 2 | 3;

/**
 * Why a received advertisement was dropped. These strings are the `reason`
 * label of vipd_vrrp_rx_invalid_total: keep them stable.
 */
export type RejectReason =
  | 'ttl'
  | 'version'
  | 'type'
  | 'checksum'
  | 'length'
  | 'truncated'
  | 'family'
  | 'vrid'
  | 'addr_count'
  | 'addr_list'
  | 'auth_type'
  | 'auth'
  | 'interval'
  | 'peer';

/** Every reason, so a metric can be initialised to 0 for each label. */
export const REJECT_REASONS: readonly RejectReason[] = [
  'ttl',
  'version',
  'type',
  'checksum',
  'length',
  'truncated',
  'family',
  'vrid',
  'addr_count',
  'addr_list',
  'auth_type',
  'auth',
  'interval',
  'peer',
];

/** The IP-level facts about a received (or to-be-sent) advertisement. */
export interface PacketMeta {
  family: IpFamily;
  /** Source address (the sender's primary address). */
  src: string;
  /** Destination: the VRRP multicast group or our unicast address. */
  dst: string;
  /** IPv4 TTL or IPv6 hop limit. */
  ttl: number;
}

interface AdvertCommon {
  vrid: number;
  priority: number;
  /** The virtual addresses, canonical text, in packet order. */
  addresses: string[];
}

export interface AdvertV2 extends AdvertCommon {
  version: 2;
  authType: number;
  /** The 8 bytes of Authentication Data (the zero-padded password for type 1). */
  authData: Buffer;
  advertIntervalSec: number;
}

export interface AdvertV3 extends AdvertCommon {
  version: 3;
  /** Max Advertise Interval, in centiseconds. */
  maxAdvertIntervalCs: number;
  /** The 4 reserved bits; 0 when sent, ignored when received. */
  reserved: number;
}

/** The fields to encode; the checksum is computed. */
export type AdvertFields = AdvertV2 | AdvertV3;

/** A decoded advertisement plus the checksum it carried. */
export type VrrpAdvert = AdvertFields & { checksum: number };

export type DecodeResult = { ok: true; advert: VrrpAdvert } | { ok: false; reason: RejectReason };

/**
 * How the v3 checksum is computed over IPv4. RFC 9568 (and keepalived 2.2.7)
 * include the IPv4 pseudo-header; some peers (keepalived 2.2.8+ with
 * `v3_checksum_as_v2`) leave it out like v2. IPv6 always uses the pseudo-header.
 */
export type V3ChecksumMode = 'pseudo-header' | 'v2-style';

export interface CodecOptions {
  v3Checksum?: V3ChecksumMode;
}

const HEADER_LENGTH = 8;

/** Advertisement interval in milliseconds, whatever the version's unit. */
export function advertIntervalMs(advert: AdvertFields): number {
  return advert.version === 2 ? advert.advertIntervalSec * 1000 : advert.maxAdvertIntervalCs * 10;
}

/** v2 simple-password auth data: the password's first 8 bytes, zero-padded. */
export function passwordAuthData(password: string): Buffer {
  const out = Buffer.alloc(AUTH_DATA_LENGTH);
  Buffer.from(password, 'utf8').copy(out, 0, 0, AUTH_DATA_LENGTH);
  return out;
}

/** Bytes a message of this version/family/count must have, exactly. */
export function advertLength(version: VrrpVersion, family: IpFamily, count: number): number {
  return HEADER_LENGTH + count * addressLength(family) + (version === 2 ? AUTH_DATA_LENGTH : 0);
}

/**
 * How many addresses an advert can carry on a link of `mtu` bytes: the
 * one-byte count field's 255, or fewer when the packet would not fit (an
 * IPv6 advert of 255 addresses is 4 KiB). keepalived 2.2.7 applies the
 * same bound and moves the excess to its excluded VIPs.
 */
export function advertCapacity(version: VrrpVersion, family: IpFamily, mtu: number): number {
  const ipHeader = family === 4 ? 20 : 40;
  const room = mtu - ipHeader - advertLength(version, family, 0);
  return Math.max(0, Math.min(MAX_ADVERT_ADDRESSES, Math.floor(room / addressLength(family))));
}

/** The pseudo-header the v3 checksum covers, or none (v2, or v3 in v2-style mode). */
function pseudoHeader(
  version: VrrpVersion,
  family: IpFamily,
  src: Buffer,
  dst: Buffer,
  vrrpLength: number,
  options: CodecOptions,
): Buffer {
  if (version === 2) return Buffer.alloc(0);
  if (family === 4) {
    if (options.v3Checksum === 'v2-style') return Buffer.alloc(0);
    const ph = Buffer.alloc(12);
    src.copy(ph, 0);
    dst.copy(ph, 4);
    ph[9] = VRRP_PROTOCOL;
    ph.writeUInt16BE(vrrpLength, 10);
    return ph;
  }
  const ph = Buffer.alloc(40);
  src.copy(ph, 0);
  dst.copy(ph, 16);
  ph.writeUInt32BE(vrrpLength, 32);
  ph[39] = VRRP_PROTOCOL;
  return ph;
}

/** Decodes and checks one VRRP message. Never throws. */
export function decodeAdvert(payload: Uint8Array, meta: PacketMeta, options: CodecOptions = {}): DecodeResult {
  const bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  if (bytes.length < HEADER_LENGTH) return { ok: false, reason: 'truncated' };
  const version = bytes[0] >> 4;
  if (version !== 2 && version !== 3) return { ok: false, reason: 'version' };
  if ((bytes[0] & 0x0f) !== VRRP_TYPE_ADVERTISEMENT) return { ok: false, reason: 'type' };
  if (meta.family !== 4 && meta.family !== 6) return { ok: false, reason: 'family' };
  // VRRPv2 is IPv4 only (RFC 3768); over IPv6 it is VRRPv3 or nothing.
  if (version === 2 && meta.family !== 4) return { ok: false, reason: 'family' };
  const src = parseIpOf(meta.family, meta.src);
  const dst = parseIpOf(meta.family, meta.dst);
  if (src === null || dst === null) return { ok: false, reason: 'family' };

  const count = bytes[3];
  const expected = advertLength(version, meta.family, count);
  if (bytes.length < expected) return { ok: false, reason: 'truncated' };
  if (bytes.length > expected) return { ok: false, reason: 'length' };
  if (internetChecksum(pseudoHeader(version, meta.family, src, dst, bytes.length, options), bytes) !== 0) {
    return { ok: false, reason: 'checksum' };
  }

  const addrLen = addressLength(meta.family);
  const addresses: string[] = [];
  for (let i = 0; i < count; i++) {
    const at = HEADER_LENGTH + i * addrLen;
    addresses.push(formatIp(bytes.subarray(at, at + addrLen)));
  }
  const common = { vrid: bytes[1], priority: bytes[2], addresses, checksum: bytes.readUInt16BE(6) };
  if (version === 2) {
    const authAt = HEADER_LENGTH + count * addrLen;
    return {
      ok: true,
      advert: {
        ...common,
        version: 2,
        authType: bytes[4],
        advertIntervalSec: bytes[5],
        authData: Buffer.from(bytes.subarray(authAt, authAt + AUTH_DATA_LENGTH)),
      },
    };
  }
  const word = bytes.readUInt16BE(4);
  return { ok: true, advert: { ...common, version: 3, reserved: word >> 12, maxAdvertIntervalCs: word & 0x0fff } };
}

function checkRange(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`VRRP ${name} ${value} is outside ${min}..${max}`);
  }
}

/**
 * Encodes an advertisement with its checksum. Our own config is the input, so
 * a field out of range or an address of the wrong family is a programming or
 * config-validation error and throws RangeError.
 */
export function encodeAdvert(
  fields: AdvertFields,
  meta: Pick<PacketMeta, 'family' | 'src' | 'dst'>,
  options: CodecOptions = {},
): Buffer {
  const family = meta.family;
  if (fields.version === 2 && family !== 4) throw new RangeError('VRRPv2 is IPv4 only');
  checkRange('vrid', fields.vrid, 1, 255);
  checkRange('priority', fields.priority, 0, 255);
  checkRange('address count', fields.addresses.length, 0, MAX_ADVERT_ADDRESSES);
  const src = parseIpOf(family, meta.src);
  const dst = parseIpOf(family, meta.dst);
  if (src === null || dst === null) throw new RangeError(`VRRP source/destination not IPv${family}`);

  const count = fields.addresses.length;
  const out = Buffer.alloc(advertLength(fields.version, family, count));
  out[0] = (fields.version << 4) | VRRP_TYPE_ADVERTISEMENT;
  out[1] = fields.vrid;
  out[2] = fields.priority;
  out[3] = count;
  if (fields.version === 2) {
    checkRange('auth type', fields.authType, 0, 255);
    checkRange('advert interval (s)', fields.advertIntervalSec, 0, 255);
    out[4] = fields.authType;
    out[5] = fields.advertIntervalSec;
  } else {
    checkRange('max advert interval (cs)', fields.maxAdvertIntervalCs, 0, 0x0fff);
    checkRange('reserved', fields.reserved, 0, 15);
    out.writeUInt16BE((fields.reserved << 12) | fields.maxAdvertIntervalCs, 4);
  }
  const addrLen = addressLength(family);
  fields.addresses.forEach((text, i) => {
    const addr = parseIpOf(family, text);
    if (addr === null) throw new RangeError(`virtual address ${text} is not IPv${family}`);
    addr.copy(out, HEADER_LENGTH + i * addrLen);
  });
  if (fields.version === 2) {
    if (fields.authData.length !== AUTH_DATA_LENGTH) throw new RangeError('auth data must be 8 bytes');
    fields.authData.copy(out, HEADER_LENGTH + count * addrLen);
  }
  out.writeUInt16BE(internetChecksum(pseudoHeader(fields.version, family, src, dst, out.length, options), out), 6);
  return out;
}
