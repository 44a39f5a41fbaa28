import { describe, expect, it } from 'vitest';
import { encodeAdvert, passwordAuthData, type PacketMeta } from '../../../src/vrrp/codec.js';
import { AdvertValidator } from '../../../src/vrrp/validate.js';
import {
  V2_META,
  V2_POLICY,
  V3_META,
  V3_POLICY,
  V6_META,
  V6_POLICY,
  v2Packet,
  v3Fields,
  v3Packet,
  v6Packet,
} from './packets.js';

const verdict = (validator: AdvertValidator, packet: Buffer, meta: PacketMeta): string => {
  const result = validator.receive(packet, meta);
  return result.ok ? 'ok' : result.reason;
};

describe('AdvertValidator', () => {
  const v2 = new AdvertValidator(V2_POLICY);
  const v3 = new AdvertValidator(V3_POLICY);
  const v6 = new AdvertValidator(V6_POLICY);

  it('accepts adverts that match the config (addresses in any order, any spelling)', () => {
    expect(verdict(v2, v2Packet(), V2_META)).toBe('ok');
    expect(verdict(v2, v2Packet({ addresses: ['10.77.0.101', '10.77.0.100'] }), V2_META)).toBe('ok');
    expect(verdict(v3, v3Packet(), V3_META)).toBe('ok');
    expect(verdict(v6, v6Packet(), V6_META)).toBe('ok');
  });

  it('rejects TTL / hop limit other than 255 before anything else', () => {
    expect(verdict(v2, v2Packet(), { ...V2_META, ttl: 64 })).toBe('ttl');
    expect(verdict(v6, v6Packet(), { ...V6_META, ttl: 1 })).toBe('ttl');
    expect(verdict(v2, Buffer.alloc(3), { ...V2_META, ttl: 254 })).toBe('ttl');
  });

  it('rejects a version other than the configured one', () => {
    const v3For52 = v3Packet({ vrid: 52, addresses: ['10.77.0.100', '10.77.0.101'] });
    expect(verdict(v2, v3For52, V3_META)).toBe('version');
  });

  it('rejects another VRID', () => {
    expect(verdict(v3, v3Packet({ vrid: 62 }), V3_META)).toBe('vrid');
  });

  it('v2 auth: type mismatch, AH, and a wrong password', () => {
    expect(verdict(v2, v2Packet({ authType: 0, authData: Buffer.alloc(8) }), V2_META)).toBe('auth_type');
    expect(verdict(v2, v2Packet({ authType: 2, authData: Buffer.alloc(8) }), V2_META)).toBe('auth_type');
    expect(verdict(v2, v2Packet({ authData: passwordAuthData('ka-pasS') }), V2_META)).toBe('auth');
    const noAuth = new AdvertValidator({ ...V2_POLICY, auth: { type: 'none' } });
    expect(verdict(noAuth, v2Packet(), V2_META)).toBe('auth_type');
    expect(verdict(noAuth, v2Packet({ authType: 0, authData: Buffer.alloc(8) }), V2_META)).toBe('ok');
  });

  it('v2: an advert interval other than ours (keepalived "advertisement interval mismatch")', () => {
    expect(verdict(v2, v2Packet({ advertIntervalSec: 2 }), V2_META)).toBe('interval');
  });

  it('v3: a different interval is accepted (the backup learns it)', () => {
    expect(verdict(v3, v3Packet({ maxAdvertIntervalCs: 5 }), V3_META)).toBe('ok');
  });

  it('rejects a wrong address count or list', () => {
    expect(verdict(v3, v3Packet({ addresses: ['10.77.0.100', '10.77.0.101'] }), V3_META)).toBe('addr_count');
    expect(verdict(v3, v3Packet({ addresses: ['10.77.0.200'] }), V3_META)).toBe('addr_list');
    expect(verdict(v6, v6Packet({ addresses: ['fe80::77:100', '2001:db8::43'] }), V6_META)).toBe('addr_list');
  });

  it('rejects a packet of the other family', () => {
    expect(verdict(v3, v6Packet({ vrid: 61 }), V6_META)).toBe('family');
  });

  describe('unicast peers', () => {
    const unicast = new AdvertValidator({ ...V3_POLICY, unicastPeers: ['10.77.0.12'] });
    const unicastMeta = { ...V3_META, dst: '10.77.0.11' };
    // The v3 checksum covers the source address, so encode per source.
    const encode = (src: string): Buffer => encodeAdvert(v3Fields(), { family: 4, src, dst: '10.77.0.11' });

    it('accepts a listed peer and rejects any other source', () => {
      expect(verdict(unicast, encode('10.77.0.12'), unicastMeta)).toBe('ok');
      expect(verdict(unicast, encode('10.77.0.99'), { ...unicastMeta, src: '10.77.0.99' })).toBe('peer');
    });

    it('checks TTL unless told not to for routed peers', () => {
      expect(verdict(unicast, encode('10.77.0.12'), { ...unicastMeta, ttl: 62 })).toBe('ttl');
      const routed = new AdvertValidator({ ...V3_POLICY, unicastPeers: ['10.77.0.12'], unicastTtlCheck: false });
      expect(verdict(routed, encode('10.77.0.12'), { ...unicastMeta, ttl: 62 })).toBe('ok');
    });
  });
});

