import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';

const BGP = `bgp:
  asn: 65001
  routerId: 192.0.2.2
  peers: [{ address: 192.0.2.1, asn: 65000, bfd: true, holdTime: 9 }]
`;
const EDGE = `instances:
  - name: edge
    interface: eth0
    announce: bgp
    vips: [198.51.100.10/32]
`;

function errors(text: string): string[] {
  const r = parseConfig(text, 'vipd.yaml');
  return r.ok ? [] : r.errors.map((e) => `${e.line}: ${e.keyPath}: ${e.message}`);
}

describe('config: bgp and announce', () => {
  it('reads the top-level bgp and an announce: bgp instance without a vrid', () => {
    const r = parseConfig(BGP + EDGE, 'vipd.yaml');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.bgp).toEqual({
      asn: 65001,
      routerId: '192.0.2.2',
      peers: [{ address: { address: '192.0.2.1', family: 4 }, asn: 65000, bfd: true, holdTime: 9 }],
      gracePeriod: 2,
      runDir: '/run/vipd/bgp',
    });
    expect(r.config.instances[0]).toMatchObject({ name: 'edge', announce: 'bgp', vrid: 0 });
  });

  it('rejects announce: bgp without a top-level bgp, naming the key and line', () => {
    expect(errors(EDGE)).toEqual([
      '4: instances[0].announce: announce: bgp needs the top-level bgp (asn, routerId, peers) that says whom to announce to',
    ]);
  });

  it('reads announce: [vrrp, bgp] as a VRRP instance that also announces over BGP, and defaults to vrrp', () => {
    const r = parseConfig(
      `${BGP}instances:
  - { name: a, interface: eth0, vrid: 1, announce: [vrrp, bgp], vips: [10.0.0.1/24] }
  - { name: b, interface: eth0, vrid: 2, vips: [10.0.0.2/24] }
`,
      'vipd.yaml',
    );
    expect(r.ok && r.config.instances.map((i) => i.announce)).toEqual(['vrrp+bgp', 'vrrp']);
    expect(errors(`instances:\n  - { name: a, interface: eth0, announce: [vrrp, bgp], vips: [10.0.0.1/24] }\n`)[0]).toMatch(/vrid/);
  });

  it('refuses a vrid on a BGP-only instance, a bad router id and a hold time under 3', () => {
    const text = `bgp:
  asn: 65001
  routerId: 2001:db8::2
  peers: [{ address: 192.0.2.1, asn: 65000, holdTime: 2 }]
instances:
  - { name: edge, interface: eth0, announce: bgp, vrid: 5, vips: [198.51.100.10/32] }
`;
    const e = errors(text);
    expect(e).toContainEqual(expect.stringMatching(/^3: bgp.routerId: must be an IPv4 address/));
    expect(e).toContainEqual(expect.stringMatching(/^4: bgp.peers\[0\].holdTime: must be/));
    expect(e).toContainEqual(expect.stringMatching(/^6: instances\[0\].vrid: an announce: bgp instance has no VRRP election/));
  });

  it('refuses an announce: bgp instance in a sync group', () => {
    const text = `${BGP}${EDGE}  - { name: web, interface: eth0, vrid: 1, vips: [10.0.0.1/24] }
syncGroups:
  - { name: g, instances: [edge, web] }
`;
    expect(errors(text)).toEqual(['12: syncGroups[0].instances[0]: instance "edge" has announce: bgp: it has no VRRP state to sync']);
  });
});
