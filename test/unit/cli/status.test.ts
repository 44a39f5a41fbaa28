/** `vipctl status` against a real control socket. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../../src/cli/action.js';
import { runStatus } from '../../../src/cli/status.js';
import { NOW, STATUS } from './fixtures.js';
import { recordOutput, startDaemon, type TestDaemon } from './helpers.js';

describe('vipctl status', () => {
  let daemon: TestDaemon;
  let calls = 0;

  beforeAll(async () => {
    daemon = await startDaemon({
      status: () => {
        calls++;
        return STATUS;
      },
    });
  });
  afterAll(() => daemon?.close());

  it('prints instances and services as aligned tables', async () => {
    const output = recordOutput();
    expect(await runCommand(() => runStatus({ socket: daemon.socket, now: NOW }, output), output)).toBe(0);
    const text = output.stdout();
    expect(output.stderr()).toBe('');
    const lines = text.split('\n');

    const header = lines.find((l) => l.startsWith('INSTANCE'))!;
    const web = lines.find((l) => l.startsWith('web '))!;
    const dns = lines.find((l) => l.startsWith('dns '))!;
    expect(header).toMatch(/STATE\s+PRIO\s+EFFECTIVE\s+VRID\s+VRRP\s+INTERFACE\s+MASTER SINCE\s+TRANSITIONS\s+VIPS/);
    expect(web.split(/\s{2,}/)).toEqual(['web', 'MASTER', '150', '140', '51', 'v3', 'eth0', '3m12s ago', '3', '203.0.113.42/32 2001:db8::42/128']);
    expect(dns).toContain('BACKUP');
    expect(dns).toContain('- (master 192.0.2.2)');
    // Aligned: every column starts at the same offset in each row.
    expect(web.indexOf('MASTER')).toBe(header.indexOf('STATE'));
    expect(dns.indexOf('BACKUP')).toBe(header.indexOf('STATE'));
    expect(text).toContain('last failover took 4ms');

    expect(text).toContain('203.0.113.42:80/tcp  instance web, forwarding here, 1/3 backends taking flows');
    const backend = (address: string) => lines.find((l) => l.trim().startsWith(address))!.trim().split(/\s{2,}/);
    expect(backend('10.0.0.11')).toEqual(['10.0.0.11', 'UP', '100', '02:00:00:00:01:01', 'http 200 in 3ms']);
    expect(backend('10.0.0.12')).toEqual(['10.0.0.12', 'DOWN', '100', '02:00:00:00:01:02', 'connect: ECONNREFUSED']);
    expect(backend('10.0.0.13')).toEqual(['10.0.0.13', 'DRAINED', '50', 'unresolved', 'http 200 in 4ms']);
    expect(text).toContain('vipd 0.1.0, pid 4242, up 2h0m');
  });

  it('--json prints the DESIGN.md shape', async () => {
    const output = recordOutput();
    expect(await runStatus({ socket: daemon.socket, json: true }, output)).toBe(0);
    const parsed = JSON.parse(output.stdout()) as typeof STATUS;
    expect(parsed).toEqual(STATUS);
    for (const instance of parsed.instances) {
      for (const key of ['name', 'state', 'priority', 'effectivePriority', 'vrid', 'masterSince', 'transitions']) {
        expect(instance).toHaveProperty(key);
      }
      expect(['INIT', 'BACKUP', 'MASTER', 'FAULT']).toContain(instance.state);
    }
    for (const service of parsed.services) {
      for (const key of ['vip', 'port', 'protocol', 'backends']) expect(service).toHaveProperty(key);
      for (const backend of service.backends) {
        for (const key of ['address', 'up', 'weight', 'drained']) expect(backend).toHaveProperty(key);
      }
    }
  });

  it('prints bigint counters from the socket as JSON numbers', async () => {
    const big = await startDaemon({ status: () => ({ ...STATUS, instances: [{ ...STATUS.instances[0], transitions: 7n }] }) });
    try {
      const output = recordOutput();
      await runStatus({ socket: big.socket, json: true }, output);
      expect((JSON.parse(output.stdout()) as typeof STATUS).instances[0].transitions).toBe(7);
    } finally {
      await big.close();
    }
  });

  it('asked the daemon each time', () => {
    expect(calls).toBe(2);
  });
});

describe('vipctl status at scale: a summary line and filters', () => {
  let daemon: TestDaemon;
  const big = {
    ...STATUS,
    services: Array.from({ length: 3000 }, (_, i) => ({
      ...STATUS.services[0],
      name: `svc-${i}`,
      vip: `10.0.${i >> 8}.${i & 255}`,
      instance: i % 3 === 0 ? 'dns' : 'web',
      active: i % 3 !== 0,
    })),
  };

  beforeAll(async () => {
    daemon = await startDaemon({ status: () => big });
  });
  afterAll(() => daemon?.close());

  it('starts with one line that sums up the host', async () => {
    const output = recordOutput();
    expect(await runStatus({ socket: daemon.socket, now: NOW }, output)).toBe(0);
    // Each service of the fixture has 3 backends: 2 up, 1 drained, 1 without a MAC.
    expect(output.stdout().split('\n')[0]).toBe('2 instances (1 MASTER); 3000 services (2000 forwarding here); 9000 backends (6000 up, 3000 drained, 3000 unresolved)');
    const summary = recordOutput();
    await runStatus({ socket: daemon.socket, summary: true }, summary);
    expect(summary.stdout().trim().split('\n')).toHaveLength(1);
  });

  it('--vip, --service and --instance keep only what matches, and combine', async () => {
    const byVip = recordOutput();
    await runStatus({ socket: daemon.socket, json: true, vip: '10.0.1.44' }, byVip);
    expect((JSON.parse(byVip.stdout()) as typeof big).services.map((s) => s.name)).toEqual(['svc-300']);

    const byInstance = recordOutput();
    await runStatus({ socket: daemon.socket, json: true, instance: 'dns', service: 'svc-29' }, byInstance);
    const kept = JSON.parse(byInstance.stdout()) as typeof big;
    expect(kept.instances.map((i) => i.name)).toEqual(['dns']);
    expect(kept.services.map((s) => s.name)).toEqual(['svc-291', 'svc-294', 'svc-297', 'svc-2901', 'svc-2904', 'svc-2907', 'svc-2910', 'svc-2913', 'svc-2916', 'svc-2919', 'svc-2922', 'svc-2925', 'svc-2928', 'svc-2931', 'svc-2934', 'svc-2937', 'svc-2940', 'svc-2943', 'svc-2946', 'svc-2949', 'svc-2952', 'svc-2955', 'svc-2958', 'svc-2961', 'svc-2964', 'svc-2967', 'svc-2970', 'svc-2973', 'svc-2976', 'svc-2979', 'svc-2982', 'svc-2985', 'svc-2988', 'svc-2991', 'svc-2994', 'svc-2997'].sort((a, b) => Number(a.slice(4)) - Number(b.slice(4))));

    const summary = recordOutput();
    await runStatus({ socket: daemon.socket, summary: true, instance: 'dns' }, summary);
    expect(summary.stdout().trim()).toBe('1 instances (0 MASTER); 1000 services (0 forwarding here); 3000 backends (2000 up, 1000 drained, 1000 unresolved)');
  });
});

describe('vipctl status with bgp', () => {
  let daemon: TestDaemon;
  beforeAll(async () => {
    daemon = await startDaemon({
      status: () => ({
        ...STATUS,
        bgp: {
          asn: 65001,
          routerId: '192.0.2.2',
          drained: true,
          sessions: [{ peer: '192.0.2.1', up: true, state: 'Established' }],
          vips: [{ vip: '198.51.100.10', announced: false, reason: 'host drained or stopping' }],
        },
      }),
    });
  });
  afterAll(() => daemon?.close());

  it('prints the speaker, its sessions and each VIP with why it is not announced', async () => {
    const output = recordOutput();
    expect(await runStatus({ socket: daemon.socket, now: NOW }, output)).toBe(0);
    const lines = output.stdout().split('\n');
    expect(lines).toContain('BGP: AS 65001, router id 192.0.2.2, host DRAINED (vipctl undrain-host announces again)');
    expect(lines.find((l) => l.startsWith('192.0.2.1'))?.split(/\s{2,}/)).toEqual(['192.0.2.1', 'yes', 'Established']);
    expect(lines.find((l) => l.startsWith('198.51.100.10'))?.split(/\s{2,}/)).toEqual(['198.51.100.10', 'no', 'host drained or stopping']);
  });
});
