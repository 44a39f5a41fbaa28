import { describe, expect, it } from 'vitest';
import { compareIp, formatIp, parseIp, parseIpv6 } from '../../../src/vrrp/addr.js';
import { internetChecksum } from '../../../src/vrrp/checksum.js';
import {
  advertCapacity,
  advertLength,
  advertIntervalMs,
  decodeAdvert,
  encodeAdvert,
  passwordAuthData,
  REJECT_REASONS,
  type DecodeResult,
} from '../../../src/vrrp/codec.js';
import { masterDownIntervalMs, skewTimeMs } from '../../../src/vrrp/timing.js';
import {
  V2_META,
  V3_META,
  V6_META,
  v2Fields,
  v2Packet,
  v3Fields,
  v3Packet,
  v6Fields,
  v6Packet,
  withFixedChecksum,
} from './packets.js';

const reasonOf = (r: DecodeResult): string => (r.ok ? 'ok' : r.reason);

describe('internet checksum', () => {
  it('matches the RFC 1071 worked example', () => {
    // Sum of 0001 f203 f4f5 f6f7 is ddf2 (RFC 1071 section 3); the checksum is its complement.
    expect(internetChecksum(Buffer.from('0001f203f4f5f6f7', 'hex'))).toBe(0x220d);
  });

  it('gives the same result however the data is split, odd boundaries included', () => {
    const data = Buffer.from('0001f203f4f5f6f7a1', 'hex');
    expect(internetChecksum(data.subarray(0, 3), data.subarray(3, 8), data.subarray(8))).toBe(internetChecksum(data));
  });
});

describe('addresses', () => {
  it('formats IPv6 canonically (RFC 5952)', () => {
    expect(formatIp(parseIpv6('FE80:0:0:0:77:FF:FE00:11')!)).toBe('fe80::77:ff:fe00:11');
    expect(formatIp(parseIpv6('2001:db8:0:0:1:0:0:1')!)).toBe('2001:db8::1:0:0:1');
    expect(formatIp(parseIpv6('2001:db8:0:1:1:1:1:1')!)).toBe('2001:db8:0:1:1:1:1:1');
    expect(formatIp(parseIpv6('::')!)).toBe('::');
    expect(formatIp(parseIpv6('::ffff:10.0.0.1')!)).toBe('::ffff:a00:1');
    expect(formatIp(parseIpv6('fe80::1%eth0')!)).toBe('fe80::1');
  });

  it('rejects text that is not an address', () => {
    expect(parseIp('10.0.0.256')).toBeNull();
    expect(parseIp('fe80:::1')).toBeNull();
    expect(parseIp('')).toBeNull();
  });

  it('compares as unsigned numbers, not as text', () => {
    expect(compareIp(parseIp('10.0.0.9')!.bytes, parseIp('10.0.0.10')!.bytes)).toBeLessThan(0);
    expect(compareIp(parseIp('192.168.0.1')!.bytes, parseIp('10.0.0.1')!.bytes)).toBeGreaterThan(0);
  });
});

describe('timers', () => {
  it('follows RFC 9568 for v3 and RFC 3768 for v2', () => {
    // The keepalived timing table: priority 100 backup, 1 s -> 3609 ms, 50 ms -> 180.5 ms.
    expect(masterDownIntervalMs(3, 100, 1000)).toBe(3609.375);
    expect(masterDownIntervalMs(3, 100, 50)).toBeCloseTo(180.47, 2);
    expect(skewTimeMs(3, 100, 1000)).toBe(609.375);
    // v2's skew does not scale with the interval.
    expect(skewTimeMs(2, 100, 3000)).toBe(609.375);
    expect(masterDownIntervalMs(2, 255, 1000)).toBeCloseTo(3003.9, 1);
  });
});

describe('encode/decode round trip', () => {
  it('v2 with a simple password', () => {
    const packet = v2Packet();
    const decoded = decodeAdvert(packet, V2_META);
    expect(decoded.ok).toBe(true);
    if (!decoded.ok || decoded.advert.version !== 2) return;
    expect(decoded.advert).toMatchObject({ vrid: 52, priority: 200, authType: 1, advertIntervalSec: 1 });
    expect(decoded.advert.authData.toString('hex')).toBe('6b612d7061737300');
    expect(advertIntervalMs(decoded.advert)).toBe(1000);
    expect(encodeAdvert(decoded.advert, V2_META).equals(packet)).toBe(true);
  });

  it('v3 over IPv4 and IPv6', () => {
    for (const [packet, meta, fields] of [
      [v3Packet({ maxAdvertIntervalCs: 1 }), V3_META, v3Fields({ maxAdvertIntervalCs: 1 })],
      [v6Packet(), V6_META, v6Fields()],
    ] as const) {
      const decoded = decodeAdvert(packet, meta);
      expect(decoded).toEqual({ ok: true, advert: { ...fields, checksum: packet.readUInt16BE(6) } });
    }
  });

  it('pads or cuts the password to 8 bytes', () => {
    expect(passwordAuthData('abc').toString('hex')).toBe('6162630000000000');
    expect(passwordAuthData('0123456789').toString()).toBe('01234567');
  });

  it('v3 v2-style checksum (no pseudo-header) is an explicit option on both sides', () => {
    const v2Style = encodeAdvert(v3Fields(), V3_META, { v3Checksum: 'v2-style' });
    expect(v2Style.equals(v3Packet())).toBe(false);
    expect(reasonOf(decodeAdvert(v2Style, V3_META, { v3Checksum: 'v2-style' }))).toBe('ok');
    expect(reasonOf(decodeAdvert(v2Style, V3_META))).toBe('checksum');
    expect(reasonOf(decodeAdvert(v3Packet(), V3_META, { v3Checksum: 'v2-style' }))).toBe('checksum');
    // IPv6 always covers the pseudo-header: the option does not apply there.
    expect(encodeAdvert(v6Fields(), V6_META, { v3Checksum: 'v2-style' }).equals(v6Packet())).toBe(true);
  });

  it('the v3 pseudo-header checksum depends on the addresses', () => {
    const otherSource = { ...V3_META, src: '10.77.0.13' };
    expect(reasonOf(decodeAdvert(v3Packet(), otherSource))).toBe('checksum');
  });

  it('refuses to encode what cannot be sent', () => {
    expect(() => encodeAdvert(v2Fields(), V6_META)).toThrow(RangeError);
    expect(() => encodeAdvert(v3Fields({ vrid: 0 }), V3_META)).toThrow(RangeError);
    expect(() => encodeAdvert(v3Fields({ maxAdvertIntervalCs: 4096 }), V3_META)).toThrow(RangeError);
    expect(() => encodeAdvert(v3Fields({ addresses: ['2001:db8::1'] }), V3_META)).toThrow(RangeError);
  });
});

describe('malformed input', () => {
  const cases = [
    ['v2', v2Packet(), V2_META],
    ['v3 IPv4', v3Packet(), V3_META],
    ['v3 IPv6', v6Packet(), V6_META],
  ] as const;

  it.each(cases)('%s: every truncation is "truncated"', (_name, packet, meta) => {
    for (let length = 0; length < packet.length; length++) {
      expect(reasonOf(decodeAdvert(packet.subarray(0, length), meta)), `length ${length}`).toBe('truncated');
    }
  });

  it.each(cases)('%s: a trailing byte is "length"', (_name, packet, meta) => {
    expect(reasonOf(decodeAdvert(Buffer.concat([packet, Buffer.from([0])]), meta))).toBe('length');
  });

  it.each(cases)('%s: any flipped bit outside the version/type/count byte fails the checksum', (_name, packet, meta) => {
    for (let at = 1; at < packet.length; at++) {
      if (at === 3) continue; // the count byte changes the expected length first
      const bad = Buffer.from(packet);
      bad[at] ^= 0x10;
      expect(reasonOf(decodeAdvert(bad, meta)), `byte ${at}`).toBe('checksum');
    }
  });

  it('wrong version and type', () => {
    for (const version of [0, 1, 4, 15]) {
      const bad = Buffer.from(v3Packet());
      bad[0] = (version << 4) | 1;
      expect(reasonOf(decodeAdvert(withFixedChecksum(bad, V3_META), V3_META))).toBe('version');
    }
    const badType = Buffer.from(v3Packet());
    badType[0] = 0x32;
    expect(reasonOf(decodeAdvert(withFixedChecksum(badType, V3_META), V3_META))).toBe('type');
  });

  it('v2 over IPv6, and metadata of the wrong family, are "family"', () => {
    expect(reasonOf(decodeAdvert(v2Packet(), { ...V6_META }))).toBe('family');
    expect(reasonOf(decodeAdvert(v3Packet(), { ...V3_META, src: 'fe80::1' }))).toBe('family');
  });

  it('never throws, whatever the bytes', () => {
    // Deterministic xorshift, so a failure reproduces.
    let seed = 0x9e3779b9;
    const next = (): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) & 0xff;
    };
    const seen = new Set<string>();
    const valid = [v2Packet(), v3Packet(), v6Packet()];
    for (let n = 0; n < 2000; n++) {
      let bytes: Buffer;
      if (n % 2 === 0) {
        bytes = Buffer.from(Array.from({ length: next() % 64 }, next));
      } else {
        // A valid packet with one byte replaced and sometimes a cut, so deeper checks run too.
        bytes = Buffer.from(valid[n % 3]);
        bytes[next() % bytes.length] = next();
        if (n % 7 === 1) bytes = bytes.subarray(0, next() % bytes.length);
      }
      for (const meta of [V2_META, V6_META]) {
        const reason = reasonOf(decodeAdvert(bytes, meta));
        seen.add(reason);
        expect(reason === 'ok' || (REJECT_REASONS as readonly string[]).includes(reason)).toBe(true);
      }
    }
    expect([...seen]).toEqual(expect.arrayContaining(['truncated', 'length', 'checksum', 'version', 'type']));
  });
});

describe('advertCapacity: addresses one advert carries', () => {
  it('is 255 (the count field) whenever the packet fits, fewer when it would not', () => {
    expect(advertCapacity(3, 4, 1500)).toBe(255);
    expect(advertCapacity(2, 4, 1500)).toBe(255);
    // IPv6: 40 + 8 + 16 n <= 1500
    expect(advertCapacity(3, 6, 1500)).toBe(90);
    expect(advertCapacity(3, 6, 1280)).toBe(77);
    expect(advertCapacity(3, 6, 9000)).toBe(255);
    // IPv4 on a tiny MTU: 20 + 8 + 4 n <= 576
    expect(advertCapacity(3, 4, 576)).toBe(137);
  });

  it('an advert of exactly that many addresses is as long as the link allows, or shorter', () => {
    for (const [family, mtu] of [[4, 576], [6, 1500], [6, 1280]] as const) {
      const n = advertCapacity(3, family, mtu);
      expect(advertLength(3, family, n) + (family === 4 ? 20 : 40)).toBeLessThanOrEqual(mtu);
      expect(advertLength(3, family, n + 1) + (family === 4 ? 20 : 40)).toBeGreaterThan(mtu);
    }
  });
});
