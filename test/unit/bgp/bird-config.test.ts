import { describe, expect, it } from 'vitest';
import { parseReply, parseShowProtocols, peerProtocolName, renderBirdConfig, vipPrefix } from '../../../src/bgp/index.js';
import type { BgpConfig } from '../../../src/config/index.js';

const bgp: BgpConfig = {
  asn: 65001,
  routerId: '192.0.2.2',
  peers: [
    { address: { address: '192.0.2.1', family: 4 }, asn: 65000, bfd: true, holdTime: 9 },
    { address: { address: '2001:db8::1', family: 6 }, asn: 65000, bfd: false, holdTime: 30 },
  ],
  gracePeriod: 2,
  runDir: '/run/vipd/bgp',
};

describe('renderBirdConfig', () => {
  it('announces each VIP as a blackhole host route in its family', () => {
    const text = renderBirdConfig({ bgp, announce: ['198.51.100.10', '2001:db8:1::10'] });
    expect(text).toMatch(/protocol static vips4 \{\n {2}ipv4;\n {2}route 198\.51\.100\.10\/32 blackhole;\n\}/);
    expect(text).toMatch(/protocol static vips6 \{\n {2}ipv6;\n {2}route 2001:db8:1::10\/128 blackhole;\n\}/);
  });

  it('exports only the VIPs to each peer, next hop self, no graceful restart, BFD where asked', () => {
    const text = renderBirdConfig({ bgp, announce: [] });
    expect(text).toContain('router id 192.0.2.2;');
    const v4 = text.slice(text.indexOf('protocol bgp peer_192_0_2_1'));
    expect(v4).toContain('local as 65001;\n  neighbor 192.0.2.1 as 65000;\n  hold time 9;');
    expect(v4).toContain('graceful restart off;');
    expect(v4).toContain('bfd on;');
    expect(v4).toContain('ipv4 {\n    import none;\n    export where proto = "vips4";\n    next hop self;');
    const v6 = text.slice(text.indexOf('protocol bgp peer_2001_db8__1'));
    expect(v6).not.toContain('bfd on;');
    expect(v6).toContain('export where proto = "vips6";');
    expect(text).toContain('protocol bfd {');
  });

  it('has no BFD protocol when no peer asks for it, and an empty static protocol when nothing is announced', () => {
    const text = renderBirdConfig({ bgp: { ...bgp, peers: [{ ...bgp.peers[1]!, bfd: false }] }, announce: [] });
    expect(text).not.toContain('protocol bfd');
    expect(text).toContain('protocol static vips4 {\n  ipv4;\n}');
  });

  it('names and prefixes', () => {
    expect(peerProtocolName({ address: { address: 'fe80::1', family: 6 } })).toBe('peer_fe80__1');
    expect(vipPrefix('10.0.0.1')).toBe('10.0.0.1/32');
    expect(vipPrefix('2001:db8::1')).toBe('2001:db8::1/128');
  });
});

describe('BIRD control replies', () => {
  it('ends at the code followed by a space; continuation lines keep the code', () => {
    const partial = parseReply('2002-Name Proto Table State Since Info\n1002-device1 Device --- up 12:00:00.000\n');
    expect(partial.done).toBe(false);
    const full = parseReply(
      '2002-Name       Proto      Table      State  Since         Info\n' +
        '1002-device1    Device     ---        up     12:00:00.000  \n' +
        ' peer_10_0_0_1 BGP        ---        up     2026-12-03 12:00:01  Established   \n' +
        ' peer_10_0_0_2 BGP        ---        start  12:00:01.000  Active        Socket: Connection refused\n' +
        '0000 \n',
    );
    expect(full.done).toBe(true);
    expect(parseShowProtocols(full.lines)).toEqual([
      { name: 'device1', proto: 'Device', state: 'up', info: '' },
      { name: 'peer_10_0_0_1', proto: 'BGP', state: 'up', info: 'Established' },
      { name: 'peer_10_0_0_2', proto: 'BGP', state: 'start', info: 'Active' },
    ]);
  });
});
