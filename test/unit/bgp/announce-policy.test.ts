import { describe, expect, it } from 'vitest';
import { decideAnnouncements, type AnnounceInputs } from '../../../src/bgp/index.js';

const up = { up: true, drained: false, weight: 1 };
const base: AnnounceInputs = {
  instances: [
    { name: 'edge', interface: 'eth0', announce: 'bgp', vips: ['198.51.100.10', '198.51.100.11'] },
    { name: 'web', interface: 'eth1', announce: 'vrrp+bgp', vips: ['203.0.113.5'] },
    { name: 'lan', interface: 'eth1', announce: 'vrrp', vips: ['10.0.0.1'] },
  ],
  services: [
    { vip: '198.51.100.10', backends: [up] },
    { vip: '198.51.100.11', backends: [{ ...up, up: false }, { ...up, drained: true }, { ...up, weight: 0 }] },
    { vip: '203.0.113.5', backends: [up] },
    { vip: '10.0.0.1', backends: [up] },
  ],
  withdrawAll: false,
  attached: () => true,
  isMaster: () => true,
};

describe('decideAnnouncements', () => {
  it('announces BGP VIPs with a healthy backend, and a vrrp+bgp VIP while MASTER; never a vrrp-only VIP', () => {
    const d = decideAnnouncements(base);
    expect(d.announce).toEqual(['198.51.100.10', '203.0.113.5']);
    expect(d.reasons.get('198.51.100.11')).toBe('no healthy backend');
    expect(d.reasons.has('10.0.0.1')).toBe(false);
  });

  it('withdraws a vrrp+bgp VIP as BACKUP, everything when drained, an instance whose interface is not attached', () => {
    expect(decideAnnouncements({ ...base, isMaster: () => false }).announce).toEqual(['198.51.100.10']);
    expect(decideAnnouncements({ ...base, withdrawAll: true }).announce).toEqual([]);
    const d = decideAnnouncements({ ...base, attached: (i) => i !== 'eth0' });
    expect(d.announce).toEqual(['203.0.113.5']);
    expect(d.reasons.get('198.51.100.10')).toBe('data plane not attached to eth0');
  });

  it('withdraws a VIP no service uses', () => {
    const d = decideAnnouncements({ ...base, services: base.services.filter((s) => s.vip !== '198.51.100.10') });
    expect(d.reasons.get('198.51.100.10')).toBe('no service on this VIP');
  });
});
