/**
 * The reference model and its helpers without a kernel: hash vectors taken
 * from bpf/jhash.h compiled for the host, address codecs, and the protocol
 * correctness of what the model builds (checksums, ARP fields).
 */
import { describe, expect, it } from 'vitest';
import { FAMILY_V4, FAMILY_V6, INST_F_ACTIVE, LEASE_FOREVER, REASONS, actionOf, XDP_PASS, XDP_TX } from '../../../src/dataplane/abi.js';
import { formatAddr, parseAddr, parseMac, formatMac } from '../../../src/dataplane/addr.js';
import { flowHash, hashAddr, jhash3words, portsWord, ringSlot } from '../../model/xdp-hash.js';
import { internetChecksum as checksum } from '../../../src/checksum.js';
import { emptyState, runModel, vipId } from '../../model/xdp-model.js';
import { arpRequestFrame, csum, nsFrame, LB_MAC } from '../../helpers/frames.js';

describe('flow hash', () => {
  it('matches jhash_3words from bpf/jhash.h (vectors from the C code on the host)', () => {
    expect(jhash3words(0, 0, 0, 0)).toBe(459859287);
    expect(jhash3words(0xffffffff, 1, 0x12345678, 0xdeadbeef)).toBe(4293537281);
    // flow_hash(198.51.100.7 -> 10.0.0.10, 40000 -> 80): the words are the
    // packet's bytes read little-endian (bpf/jhash.h and memcpy() on x86).
    const client = hashAddr(parseAddr('198.51.100.7').addr, 0, 4);
    const vip = hashAddr(parseAddr('10.0.0.10').addr, 0, 4);
    const ports = portsWord(40000, 80);
    expect([client, vip, ports]).toEqual([124007366, 167772170, 1342193820]);
    expect(flowHash(client, vip, ports)).toBe(2844887864);
    expect(ringSlot(2844887864, 65537)).toBe(43410);
    expect(ringSlot(2844887864, 251)).toBe(166);
  });

  it('spreads flows over the ring evenly and reaches both ends of it', () => {
    expect(ringSlot(0, 65537)).toBe(0);
    expect(ringSlot(0xffffffff, 65537)).toBe(65536);
    expect(ringSlot(0xffffffff, 251)).toBe(250);
    const buckets = new Array<number>(16).fill(0);
    for (let sport = 1024; sport < 1024 + 16 * 4000; sport++) {
      const h = flowHash(124007366, 167772170, portsWord(sport, 80));
      buckets[Math.floor((ringSlot(h, 65537) * 16) / 65537)]++;
    }
    // 4000 flows per sixteenth of the ring, give or take a few percent.
    for (const n of buckets) expect(Math.abs(n - 4000)).toBeLessThan(4000 * 0.06);
  });
});

describe('map addresses', () => {
  it.each([
    ['10.0.0.1', FAMILY_V4, '0a000001' + '00'.repeat(12)],
    ['2001:db8::42', FAMILY_V6, '20010db8' + '00'.repeat(10) + '0042'],
    ['::', FAMILY_V6, '00'.repeat(16)],
    ['fe80::1:2', FAMILY_V6, 'fe80' + '00'.repeat(10) + '00010002'],
  ])('%s', (text, family, hex) => {
    const a = parseAddr(text);
    expect(a.family).toBe(family);
    expect(a.addr.toString('hex')).toBe(hex);
    expect(formatAddr(a.addr, a.family)).toBe(text);
  });

  it('MACs round-trip and reject junk', () => {
    expect(formatMac(parseMac('02:00:00:AA:bb:01'))).toBe('02:00:00:aa:bb:01');
    expect(() => parseMac('02:00:00')).toThrow(/MAC/);
    expect(() => parseAddr('10.0.0.1/32')).toThrow(/not an IP/);
  });
});

describe('reference model', () => {
  const state = emptyState();
  state.instances.set(0, { lease_expiry_ns: 1000n, ifindex: 1, mac: parseMac(LB_MAC), flags: INST_F_ACTIVE, host_mac: parseMac(LB_MAC), pad: Buffer.alloc(6) });
  for (const v of ['10.0.0.10', '2001:db8::10']) {
    const a = parseAddr(v);
    state.vips.set(vipId(a.addr, a.family), { instance: 0, flags: 0 });
  }

  it('reasons map to XDP_TX for the first four, XDP_PASS for the rest', () => {
    expect([0, 1, 2, 3].map((r) => actionOf(r))).toEqual([XDP_TX, XDP_TX, XDP_TX, XDP_TX]);
    expect(REASONS.slice(4).every((_r, i) => actionOf(i + 4) === XDP_PASS)).toBe(true);
  });

  it('builds a neighbour advertisement with a valid ICMPv6 checksum', () => {
    const res = runModel(nsFrame({ src: '2001:db8:1::7', target: '2001:db8::10' }), state, 1, 10n);
    expect(res.reasonName).toBe('nd_advert');
    const ip = res.output.subarray(14, 54);
    const icmp = res.output.subarray(54);
    const pseudo = Buffer.alloc(40);
    ip.copy(pseudo, 0, 8, 40);
    pseudo.writeUInt32BE(icmp.length, 32);
    pseudo[39] = 58;
    expect(csum(pseudo, icmp)).toBe(0);
    expect(checksum(pseudo, icmp)).toBe(0);
    expect(icmp[0]).toBe(136);
    expect(icmp.length).toBe(32);
  });

  it('answers ARP while the lease runs and not at or after its expiry', () => {
    const f = arpRequestFrame({ spa: '10.0.0.1', tpa: '10.0.0.10' });
    expect(runModel(f, state, 1, 999n).reasonName).toBe('arp_reply');
    expect(runModel(f, state, 1, 1000n).reasonName).toBe('pass_lease_expired');
    const reply = runModel(f, state, 1, 0n).output;
    expect(reply.readUInt16BE(20)).toBe(2); // ARP reply
    expect(reply.subarray(22, 28).equals(parseMac(LB_MAC))).toBe(true);
    expect(reply.subarray(28, 32).toString('hex')).toBe('0a00000a');
  });

  it('an endless lease (LEASE_FOREVER) never expires; another interface than the instance\'s passes', () => {
    const s = emptyState();
    s.vips = state.vips;
    s.instances.set(0, { lease_expiry_ns: LEASE_FOREVER, ifindex: 1, mac: parseMac(LB_MAC), flags: INST_F_ACTIVE, host_mac: parseMac(LB_MAC), pad: Buffer.alloc(6) });
    const f = arpRequestFrame({ spa: '10.0.0.1', tpa: '10.0.0.10' });
    expect(runModel(f, s, 1, LEASE_FOREVER - 1n).reasonName).toBe('arp_reply');
    expect(runModel(f, s, 2, 0n).reasonName).toBe('pass_other_iface');
    // ifindex 2 a member of a bond that is ifindex 1 (XDP on a bond runs on its members).
    s.ifaceMasters.set(2, 1);
    expect(runModel(f, s, 2, 0n).reasonName).toBe('arp_reply');
    s.ifaceMasters.set(3, 9);
    expect(runModel(f, s, 3, 0n).reasonName).toBe('pass_other_iface');
    s.ifaceMasters.clear();
    // Deactivated (what Dataplane.deactivate() writes: the lease ends at 0, the interface stays).
    s.instances.set(0, { lease_expiry_ns: 0n, ifindex: 1, mac: parseMac(LB_MAC), flags: 0, host_mac: parseMac(LB_MAC), pad: Buffer.alloc(6) });
    expect(runModel(f, s, 1, 0n).reasonName).toBe('pass_inactive');
  });

  it('never throws on garbage and leaves a passed frame untouched', () => {
    let x = 1;
    for (let i = 0; i < 2000; i++) {
      const len = i % 120;
      const f = Buffer.alloc(len);
      for (let j = 0; j < len; j++) f[j] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
      if (len > 13 && i % 3 === 0) f.writeUInt16BE([0x0800, 0x86dd, 0x0806][i % 3 === 0 ? (i / 3) % 3 : 0], 12);
      const r = runModel(f, state, 1, 0n);
      if (r.action === XDP_PASS) expect(r.output.equals(f)).toBe(true);
    }
  });
});
