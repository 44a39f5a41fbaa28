/** Realistic control-socket answers, as vipd would give them. */
import type { StatsSnapshot, StatusResult } from '../../../src/daemon/api.js';

export const NOW = new Date('2025-11-21T12:00:00.000Z');

export const STATUS: StatusResult = {
  daemon: {
    version: '0.1.0',
    pid: 4242,
    startedAt: '2025-11-21T10:00:00.000Z',
    configFile: '/etc/vipd/vipd.yaml',
    pinDir: '/sys/fs/bpf/vipd',
  },
  instances: [
    {
      name: 'web',
      state: 'MASTER',
      priority: 150,
      effectivePriority: 140,
      vrid: 51,
      version: 3,
      interface: 'eth0',
      masterSince: '2025-11-21T11:56:48.000Z',
      transitions: 3,
      lastReason: 'master 192.0.2.2 stopped advertising (Master_Down timer)',
      masterAddress: '192.0.2.1',
      vips: ['203.0.113.42/32', '2001:db8::42/128'],
      lastFailoverSeconds: 0.0042,
    },
    {
      name: 'dns',
      state: 'BACKUP',
      priority: 100,
      effectivePriority: 100,
      vrid: 52,
      version: 2,
      interface: 'eth1',
      masterSince: null,
      transitions: 1,
      lastReason: null,
      masterAddress: '192.0.2.2',
      vips: ['203.0.113.53/32'],
      lastFailoverSeconds: null,
    },
  ],
  services: [
    {
      name: '203.0.113.42:80/tcp',
      vip: '203.0.113.42',
      port: 80,
      protocol: 'tcp',
      instance: 'web',
      active: true,
      backends: [
        { address: '10.0.0.11', up: true, weight: 100, drained: false, mac: '02:00:00:00:01:01', reason: 'http 200 in 3ms' },
        { address: '10.0.0.12', up: false, weight: 100, drained: false, mac: '02:00:00:00:01:02', reason: 'connect: ECONNREFUSED' },
        { address: '10.0.0.13', up: true, weight: 50, drained: true, mac: null, reason: 'http 200 in 4ms' },
      ],
    },
  ],
};

/** Two snapshots 2 s apart: service +2000 packets / +1 MB, backends split 1500 / 500. */
export const SNAPSHOT_1: StatsSnapshot = {
  at: Date.parse('2025-11-21T12:00:00.000Z'),
  services: [{ name: '203.0.113.42:80/tcp', packets: 10_000, bytes: 5_000_000 }],
  backends: [
    { service: '203.0.113.42:80/tcp', backend: '10.0.0.11', packets: 6_000, bytes: 3_000_000 },
    { service: '203.0.113.42:80/tcp', backend: '10.0.0.12', packets: 4_000, bytes: 2_000_000 },
  ],
  verdicts: { forward: 10_000, arp_reply: 4, pass_not_vip: 100 },
};

export const SNAPSHOT_2: StatsSnapshot = {
  at: SNAPSHOT_1.at + 2000,
  services: [{ name: '203.0.113.42:80/tcp', packets: 12_000, bytes: 6_000_000 }],
  backends: [
    { service: '203.0.113.42:80/tcp', backend: '10.0.0.11', packets: 7_500, bytes: 3_750_000 },
    { service: '203.0.113.42:80/tcp', backend: '10.0.0.12', packets: 4_500, bytes: 2_250_000 },
  ],
  verdicts: { forward: 12_000, arp_reply: 4, pass_not_vip: 140 },
};

/** The n-th of a series of snapshots 1 s apart, each adding 1000 packets of 500 bytes. */
export function snapshotAt(n: number): StatsSnapshot {
  return {
    at: SNAPSHOT_1.at + n * 1000,
    services: [{ name: 'web', packets: 1000 * n, bytes: 500_000 * n }],
    backends: [{ service: 'web', backend: '10.0.0.11', packets: 1000 * n, bytes: 500_000 * n }],
    verdicts: { forward: 1000 * n },
  };
}
