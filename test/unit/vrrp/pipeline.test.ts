/**
 * Bad input end to end: bytes -> AdvertValidator -> VrrpInstance. Every
 * corrupted packet below would make the MASTER step down if it got through
 * (it claims priority 200), so "state unchanged" really tests the rejection.
 */
import { describe, expect, it } from 'vitest';
import { encodeAdvert, passwordAuthData, type DecodeResult, type PacketMeta } from '../../../src/vrrp/codec.js';
import { receivedAdvert, type VrrpInstance } from '../../../src/vrrp/instance.js';
import { AdvertValidator } from '../../../src/vrrp/validate.js';
import { harness } from './engine-harness.js';
import { V2_META, V2_POLICY, v2Fields, v2Packet } from './packets.js';

/** What the daemon does with each packet from its raw socket. */
function deliver(validator: AdvertValidator, instance: VrrpInstance, payload: Buffer, meta: PacketMeta, arrivalMs: number): DecodeResult {
  const result = validator.receive(payload, meta);
  if (result.ok) instance.onAdvert(receivedAdvert(result.advert, meta, arrivalMs));
  return result;
}

function v2Master(policy = V2_POLICY): { h: ReturnType<typeof harness>; validator: AdvertValidator } {
  const h = harness({ version: 2, vrid: 52, priority: 100, primaryAddress: '10.77.0.11', vips: ['10.77.0.100', '10.77.0.101'] });
  h.instance.start();
  h.clock.advanceTo(4000);
  expect(h.instance.state).toBe('MASTER');
  h.take();
  return { h, validator: new AdvertValidator(policy) };
}

describe('rejected adverts leave the state machine alone', () => {
  const higher = v2Packet({ priority: 200 });

  it('control: the intact higher-priority advert does make the MASTER step down', () => {
    const { h, validator } = v2Master();
    expect(deliver(validator, h.instance, higher, V2_META, 4000)).toMatchObject({ ok: true });
    expect(h.instance.state).toBe('BACKUP');
  });

  const corrupt = (edit: (b: Buffer) => void): Buffer => {
    const b = Buffer.from(higher);
    edit(b);
    return b;
  };

  it.each<[string, Buffer, PacketMeta]>([
    ['ttl', higher, { ...V2_META, ttl: 64 }],
    ['checksum', corrupt((b) => (b[7] ^= 1)), V2_META],
    ['checksum', corrupt((b) => (b[2] = 201)), V2_META],
    ['version', corrupt((b) => (b[0] = 0x41)), V2_META],
    ['type', corrupt((b) => (b[0] = 0x22)), V2_META],
    ['length', Buffer.concat([higher, Buffer.alloc(4)]), V2_META],
    ['auth', encodeAdvert(v2Fields({ priority: 200, authData: passwordAuthData('wrong') }), V2_META), V2_META],
    ['auth_type', encodeAdvert(v2Fields({ priority: 200, authType: 2, authData: Buffer.alloc(8) }), V2_META), V2_META],
    ['interval', encodeAdvert(v2Fields({ priority: 200, advertIntervalSec: 3 }), V2_META), V2_META],
    ['vrid', encodeAdvert(v2Fields({ priority: 200, vrid: 53 }), V2_META), V2_META],
    ['addr_count', encodeAdvert(v2Fields({ priority: 200, addresses: ['10.77.0.100'] }), V2_META), V2_META],
    ['addr_list', encodeAdvert(v2Fields({ priority: 200, addresses: ['10.77.0.100', '10.77.0.102'] }), V2_META), V2_META],
  ])('%s', (reason, packet, meta) => {
    const { h, validator } = v2Master();
    expect(deliver(validator, h.instance, packet, meta, 4000)).toEqual({ ok: false, reason });
    expect(h.instance.state).toBe('MASTER');
    expect(h.take()).toEqual([]);
  });

  it('truncated at every byte', () => {
    const { h, validator } = v2Master();
    for (let length = 0; length < higher.length; length++) {
      expect(deliver(validator, h.instance, higher.subarray(0, length), V2_META, 4000)).toEqual({ ok: false, reason: 'truncated' });
    }
    expect(h.instance.state).toBe('MASTER');
    expect(h.take()).toEqual([]);
  });

  it('an advert from a source outside the unicast peer list', () => {
    const { h, validator } = v2Master({ ...V2_POLICY, unicastPeers: ['10.77.0.12'] });
    const stranger = { ...V2_META, src: '10.77.0.66', dst: '10.77.0.11' };
    expect(deliver(validator, h.instance, higher, stranger, 4000)).toEqual({ ok: false, reason: 'peer' });
    expect(h.instance.state).toBe('MASTER');
    // The listed peer gets through.
    expect(deliver(validator, h.instance, higher, { ...stranger, src: '10.77.0.12' }, 4000)).toMatchObject({ ok: true });
    expect(h.instance.state).toBe('BACKUP');
  });

  it('a bad priority-0 advert does not shorten a BACKUP\'s wait', () => {
    const h = harness({ version: 2, vrid: 52, priority: 100, primaryAddress: '10.77.0.11', vips: ['10.77.0.100', '10.77.0.101'] });
    const validator = new AdvertValidator(V2_POLICY);
    h.instance.start();
    deliver(validator, h.instance, v2Packet({ priority: 200 }), V2_META, 0);
    const stop = corrupt((b) => (b[2] = 0)); // priority 0, checksum now wrong
    expect(deliver(validator, h.instance, stop, V2_META, 100)).toEqual({ ok: false, reason: 'checksum' });
    h.clock.advanceTo(1000);
    expect(h.instance.state).toBe('BACKUP');
  });
});
