/** Known-good adverts and their metadata, for the codec, validation and pipeline tests. */
import { parseIpv4 } from '../../../src/vrrp/addr.js';
import { internetChecksum } from '../../../src/vrrp/checksum.js';
import { encodeAdvert, passwordAuthData, type AdvertFields, type PacketMeta } from '../../../src/vrrp/codec.js';
import type { AdvertPolicy } from '../../../src/vrrp/validate.js';

export const V2_META: PacketMeta = { family: 4, src: '10.77.0.12', dst: '224.0.0.18', ttl: 255 };
export const V3_META: PacketMeta = { family: 4, src: '10.77.0.12', dst: '224.0.0.18', ttl: 255 };
export const V6_META: PacketMeta = { family: 6, src: 'fe80::77:ff:fe00:12', dst: 'ff02::12', ttl: 255 };

export function v2Fields(overrides: Partial<Extract<AdvertFields, { version: 2 }>> = {}): AdvertFields {
  return {
    version: 2,
    vrid: 52,
    priority: 200,
    addresses: ['10.77.0.100', '10.77.0.101'],
    authType: 1,
    authData: passwordAuthData('ka-pass'),
    advertIntervalSec: 1,
    ...overrides,
  };
}

export function v3Fields(overrides: Partial<Extract<AdvertFields, { version: 3 }>> = {}): AdvertFields {
  return { version: 3, vrid: 61, priority: 200, addresses: ['10.77.0.100'], maxAdvertIntervalCs: 100, reserved: 0, ...overrides };
}

export function v6Fields(overrides: Partial<Extract<AdvertFields, { version: 3 }>> = {}): AdvertFields {
  return v3Fields({ vrid: 71, addresses: ['fe80::77:100', '2001:db8::42'], ...overrides });
}

export const V2_POLICY: AdvertPolicy = {
  version: 2,
  family: 4,
  vrid: 52,
  addresses: ['10.77.0.100/24', '10.77.0.101/24'],
  auth: { type: 'pass', password: 'ka-pass' },
  advertIntervalMs: 1000,
};

export const V3_POLICY: AdvertPolicy = { version: 3, family: 4, vrid: 61, addresses: ['10.77.0.100'], advertIntervalMs: 1000 };

export const V6_POLICY: AdvertPolicy = {
  version: 3,
  family: 6,
  vrid: 71,
  addresses: ['2001:DB8:0:0::42', 'fe80::77:100'],
  advertIntervalMs: 1000,
};

export const v2Packet = (o?: Parameters<typeof v2Fields>[0]): Buffer => encodeAdvert(v2Fields(o), V2_META);
export const v3Packet = (o?: Parameters<typeof v3Fields>[0]): Buffer => encodeAdvert(v3Fields(o), V3_META);
export const v6Packet = (o?: Parameters<typeof v6Fields>[0]): Buffer => encodeAdvert(v6Fields(o), V6_META);

/** Rewrites the v3/IPv4 pseudo-header checksum after a test has edited header bytes, so only the edited field is wrong. */
export function withFixedChecksum(packet: Buffer, meta: PacketMeta): Buffer {
  const out = Buffer.from(packet);
  out.writeUInt16BE(0, 6);
  const pseudo = Buffer.concat([parseIpv4(meta.src)!, parseIpv4(meta.dst)!, Buffer.from([0, 112, 0, out.length])]);
  out.writeUInt16BE(internetChecksum(pseudo, out), 6);
  return out;
}
