/**
 * Golden vectors: every VRRP frame keepalived 2.2.7 sent in the captures
 * decodes to what the capture tool saw, re-encodes to the same bytes, and
 * passes (or is rejected by) the validator built from the peers' configs.
 */
import { describe, expect, it } from 'vitest';
import { AdvertValidator } from '../../../src/vrrp/validate.js';
import { decodeAdvert, encodeAdvert, VRRP_PROTOCOL } from '../../../src/vrrp/codec.js';
import { isVrrp, packetMeta, parseEthernetFrame } from '../../model/vrrp-frame.js';
import { listVectorFiles, readFrames, type CapturedFrame } from './vectors.js';
import { readVectorConf } from './keepalived-conf.js';

describe('keepalived 2.2.7 vectors (test/fixtures/keepalived-vectors)', () => {
  const files = listVectorFiles();

  it('has all nine captures', () => {
    expect(files.map((f) => f.replace('.hex.txt', ''))).toEqual([
      'v2_ah',
      'v2_noauth',
      'v2_pass',
      'v2_unicast_pass',
      'v2_vmac',
      'v3_ipv4',
      'v3_ipv4_50ms',
      'v3_ipv4_unicast',
      'v3_ipv6',
    ]);
  });

  describe.each(files)('%s', (file) => {
    const frames = readFrames(file);
    const vrrpFrames = frames.filter((f) => f.facts.kind === 'VRRP');
    const name = file.replace('.hex.txt', '');
    const confs = [readVectorConf(`vec_${name}_n1.conf`), readVectorConf(`vec_${name}_n2.conf`)];

    it('holds VRRP frames, and the parser tells them from ARP/NA', () => {
      expect(vrrpFrames.length).toBeGreaterThanOrEqual(4);
      for (const frame of frames) {
        const parsed = parseEthernetFrame(frame.bytes);
        const vrrp = parsed.ok && isVrrp(parsed.packet);
        expect(vrrp, `frame #${frame.index}`).toBe(frame.facts.kind === 'VRRP');
      }
      // Each capture has both nodes stopping with a priority-0 advert.
      expect(vrrpFrames.filter((f) => f.facts.prio === 0)).toHaveLength(2);
    });

    it.each(vrrpFrames.map((f): [number, CapturedFrame] => [f.index, f]))('frame #%i decodes and re-encodes', (_i, frame) => {
      const facts = frame.facts;
      const parsed = parseEthernetFrame(frame.bytes);
      if (!parsed.ok) throw new Error(`frame does not parse: ${parsed.reason}`);
      const packet = parsed.packet;
      expect(packet.protocol).toBe(VRRP_PROTOCOL);
      expect(packet.family).toBe(facts.af);
      expect(packet.src).toBe(facts.src);
      expect(packet.dst).toBe(facts.dst);
      expect(packet.srcMac).toBe(facts.src_mac);
      expect(packet.ttl).toBe(facts.af === 4 ? facts.ttl : facts.hlim);
      expect(packet.tos).toBe(0xc0);
      if (facts.af === 4) expect(packet.ipChecksumOk).toBe(facts.ip_csum_ok);
      expect(packet.payload.length).toBe(facts.vrrp_len);
      if (facts.ah === true) {
        expect(packet.ah?.spi.toString(16).padStart(8, '0')).toBe(facts.ah_spi);
        expect(packet.ah?.sequence).toBe(facts.ah_seq);
        expect(packet.ah?.icv.toString('hex')).toBe(facts.ah_icv);
      } else {
        expect(packet.ah).toBeNull();
      }

      const meta = packetMeta(packet);
      const decoded = decodeAdvert(packet.payload, meta);
      if (!decoded.ok) throw new Error(`advert rejected: ${decoded.reason}`);
      const advert = decoded.advert;
      expect(advert.version).toBe(facts.version);
      expect(advert.vrid).toBe(facts.vrid);
      expect(advert.priority).toBe(facts.prio);
      expect(advert.addresses).toHaveLength(facts.count as number);
      expect(advert.addresses).toEqual(facts.vips);
      expect(`0x${advert.checksum.toString(16).padStart(4, '0')}`).toBe(facts.checksum);
      if (advert.version === 2) {
        expect(advert.authType).toBe(facts.authtype);
        expect(advert.authData.toString('hex')).toBe(facts.auth_data);
        expect(advert.advertIntervalSec).toBe(facts.advert_int_s);
      } else {
        expect(advert.maxAdvertIntervalCs).toBe(facts.max_adver_int_cs);
        expect(advert.reserved).toBe(facts.rsvd);
      }

      // Re-encoding the decoded fields gives keepalived's bytes, checksum included:
      // for v3 over IPv4 that proves the pseudo-header checksum matches 2.2.7.
      expect(encodeAdvert(advert, meta).equals(packet.payload)).toBe(true);

      if (advert.version === 3 && meta.family === 4) {
        // keepalived 2.2.7 includes the pseudo-header, so the v2-style mode must reject it.
        expect(facts.vrrp_csum_no_pseudo_ok).toBe(false);
        expect(decodeAdvert(packet.payload, meta, { v3Checksum: 'v2-style' })).toEqual({ ok: false, reason: 'checksum' });
      }

      for (const conf of confs) {
        const verdict = new AdvertValidator(conf.policy).receive(packet.payload, meta);
        const peers = conf.policy.unicastPeers ?? [];
        if (conf.authType === 'AH') expect(verdict).toEqual({ ok: false, reason: 'auth_type' });
        else if (peers.length > 0 && !peers.includes(meta.src)) expect(verdict).toEqual({ ok: false, reason: 'peer' });
        else expect(verdict.ok).toBe(true);
      }
    });
  });
});
