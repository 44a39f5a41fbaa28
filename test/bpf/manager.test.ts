/**
 * The program manager on the real object, without a daemon and without an
 * interface (frames go in through BPF_PROG_TEST_RUN, which runs as ifindex
 * 1): configuration, Maglev install and swap, failover and lease expiry,
 * counters, and re-adoption of pinned maps by a second manager.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PinDirLockedError, ensureBpffs, unmountBpffs, xdpVerdictName } from '../../src/bpf/index.js';
import { REAL_NONE } from '../../src/dataplane/abi.js';
import { parseAddr } from '../../src/dataplane/addr.js';
import { flowHash, hashAddr, portsWord, ringSlot } from '../model/xdp-hash.js';
import { Dataplane } from '../../src/dataplane/manager.js';
import { removeMapPins } from '../../src/dataplane/pins.js';
import { monotonicNs } from '../../src/net/clock.js';
import { LB_MAC, arpRequestFrame, mac, nsFrame, tcpFrame } from '../helpers/frames.js';
import { waitFor } from '../helpers/wait.js';

const VIP = '10.0.0.10';
const CLIENT = '198.51.100.7';
const REALS = ['02:00:00:00:01:01', '02:00:00:00:01:02'];
const SVC = { vip: VIP, port: 80, protocol: 'tcp' as const };
const sizes = { instances: 8, vips: 64, services: 4, reals: 8, ringSlots: 8192 };
/** The ring of a service configured with one backend (sizing.ts ringSize(1)). */
const RING = 251;

function flow(sport: number): Buffer {
  return tcpFrame({ src: CLIENT, dst: VIP, sport, dport: 80 });
}

describe('Dataplane manager', () => {
  let pinDir: string;
  let mounted = false;
  let dp: Dataplane;

  beforeAll(async () => {
    pinDir = mkdtempSync('/run/vipd-test-dp-');
    mounted = ensureBpffs(pinDir).mounted;
    dp = await Dataplane.open({ pinDir, sizes, ringQuiesceMs: 1 });
  });

  afterAll(() => {
    dp?.close();
    if (pinDir) {
      Dataplane.unpinAll(pinDir);
      if (mounted) unmountBpffs(pinDir);
      rmSync(pinDir, { recursive: true, force: true });
    }
  });

  it('pins every map by name and starts fresh', () => {
    expect(dp.adopted).toBe(false);
    // A fresh bpffs root also lists the kernel's maps.debug and progs.debug.
    expect(readdirSync(pinDir).filter((n) => !n.endsWith('.debug')).sort()).toEqual(
      [
        'instances',
        'vips',
        'services4',
        'services6',
        'rings',
        'reals',
        'iface_masters',
        'verdicts',
        'real_stats',
        'flows4',
        'flows6',
        'pending4',
        'pending6',
        'flow_stats',
      ].sort(),
    );
  });

  it('forwards a service by its Maglev table once configured and active', async () => {
    dp.enableInterface(1, LB_MAC);
    REALS.forEach((m, i) => dp.setReal(i, { mac: m, address: `192.168.0.${i + 1}` }));
    dp.setVip(VIP, 0);
    const svc = dp.addService({ ...SVC, instance: 0 });
    expect(svc).toMatchObject({ index: 0, ring: 0, ringSize: RING, tableSize: RING, region: 0 });

    // Before a table is installed, the ring is empty: the service passes.
    dp.activate(0, 30, 1);
    expect(xdpVerdictName(dp.program.run({ data: flow(1000) }).retval)).toBe('PASS');

    await dp.setBackends(SVC, [
      { real: 0, key: '192.168.0.1', weight: 1 },
      { real: 1, key: '192.168.0.2', weight: 1 },
    ]);
    expect(dp.listServices()[0].ring).toBe(RING);
    const table = dp.table(SVC);
    expect(table).toBeDefined();
    const hits = [0, 0];
    for (let sport = 1000; sport < 1200; sport++) {
      const res = dp.program.run({ data: flow(sport) });
      expect(xdpVerdictName(res.retval)).toBe('TX');
      const h = flowHash(hashAddr(parseAddr(CLIENT).addr, 0, 4), hashAddr(parseAddr(VIP).addr, 0, 4), portsWord(sport, 80));
      const real = table![ringSlot(h, table!.length)];
      expect(res.data.subarray(0, 6).equals(mac(REALS[real]))).toBe(true);
      expect(res.data.subarray(6, 12).equals(mac(LB_MAC))).toBe(true);
      hits[real]++;
    }
    expect(hits[0]).toBeGreaterThan(50);
    expect(hits[1]).toBeGreaterThan(50);

    const c = dp.counters();
    expect(c.verdicts.forward.packets).toBe(200n);
    expect(c.services.get(0)?.packets).toBe(200n);
    expect(c.reals.get(0)?.packets).toBe(BigInt(hits[0]));
    expect(c.reals.get(1)?.packets).toBe(BigInt(hits[1]));
  });

  it('a routed instance (announce: bgp) answers no ARP for its VIPs and still forwards', () => {
    const arp = arpRequestFrame({ spa: CLIENT, tpa: VIP });
    const before = dp.counters().verdicts.pass_routed.packets;
    dp.activate(0, 30, 1, undefined, { routed: true });
    expect(xdpVerdictName(dp.program.run({ data: arp }).retval)).toBe('PASS');
    expect(dp.counters().verdicts.pass_routed.packets).toBe(before + 1n);
    expect(xdpVerdictName(dp.program.run({ data: flow(1000) }).retval)).toBe('TX');
    // The same instance activated as VRRP MASTER answers again.
    dp.activate(0, 30, 1);
    expect(xdpVerdictName(dp.program.run({ data: arp }).retval)).toBe('TX');
  });

  it('setVips writes every VIP of the batch: ARP and NS answered for each while the instance is active', () => {
    const arp = arpRequestFrame({ spa: CLIENT, tpa: '192.0.2.77' });
    const ns = nsFrame({ src: 'fe80::1', target: '2001:db8::77' });
    dp.activate(0, 30, 1);
    expect(xdpVerdictName(dp.program.run({ data: arp }).retval)).toBe('PASS');
    expect(xdpVerdictName(dp.program.run({ data: ns }).retval)).toBe('PASS');
    dp.setVips([
      ['192.0.2.77', 0],
      ['2001:db8::77', 0],
    ]);
    expect(xdpVerdictName(dp.program.run({ data: arp }).retval)).toBe('TX');
    expect(xdpVerdictName(dp.program.run({ data: ns }).retval)).toBe('TX');
    expect(dp.deleteVip('192.0.2.77')).toBe(true);
    expect(dp.deleteVip('2001:db8::77')).toBe(true);
    expect(() => dp.setVips([['192.0.2.300', 0]])).toThrow(/not an IP address: '192.0.2.300'/);
  });

  it('serves an instance on its own interface only, with that interface\'s MAC', () => {
    // Test runs arrive on ifindex 1 (lo). Active on ifindex 2: its frames pass.
    const OTHER_MAC = '02:00:00:00:00:77';
    expect(() => dp.activate(0, 30, 2)).toThrow(/ifindex 2 is not enabled/);
    expect(() => dp.enableInterface(0, LB_MAC)).toThrow(RangeError);
    dp.enableInterface(2, OTHER_MAC);
    expect(dp.enabledInterfaces()).toEqual([1, 2]);
    dp.activate(0, 30, 2);
    expect(dp.instance(0)).toMatchObject({ active: true, ifindex: 2 });
    const before = dp.counters().verdicts.pass_other_iface.packets;
    expect(xdpVerdictName(dp.program.run({ data: flow(1000) }).retval)).toBe('PASS');
    expect(dp.counters().verdicts.pass_other_iface.packets).toBe(before + 1n);

    // Back on ifindex 1: forwarded, with ifindex 1's MAC as source.
    dp.activate(0, 30, 1);
    const res = dp.program.run({ data: flow(1000) });
    expect(xdpVerdictName(res.retval)).toBe('TX');
    expect(res.data.subarray(6, 12).equals(mac(LB_MAC))).toBe(true);

    // A bond's members are recorded against it: XDP on a bond runs on its
    // members and sees their ifindexes.
    dp.enableInterface(2, OTHER_MAC, { members: [5, 6] });
    expect(dp.interfaceMembers(2)).toEqual([5, 6]);
    dp.enableInterface(2, OTHER_MAC, { members: [6] }); // 5 left the bond
    expect(dp.interfaceMembers(2)).toEqual([6]);
    expect(() => dp.enableInterface(2, OTHER_MAC, { members: [4096] })).toThrow(
      /bond member ifindex 4096 is too large.*below 4096 \(limits\.ifindexes\)/,
    );
    // lo (the test runs' ingress) as a member of "bond" 2: its frames are
    // served for the instance on 2, with 2's MAC.
    dp.enableInterface(2, OTHER_MAC, { members: [1] });
    dp.activate(0, 30, 2);
    const viaMember = dp.program.run({ data: flow(1000) });
    expect(xdpVerdictName(viaMember.retval)).toBe('TX');
    expect(viaMember.data.subarray(6, 12).equals(mac(OTHER_MAC))).toBe(true);

    // Disabling an interface stops serving the instances active on it.
    expect(dp.disableInterface(2)).toBe(true);
    expect(dp.interfaceMembers(2)).toEqual([]);
    expect(dp.disableInterface(2)).toBe(false);
    expect(dp.instance(0).active).toBe(false);
    dp.activate(0, 30, 1);
    expect(dp.disableInterface(1)).toBe(true);
    expect(dp.instance(0).active).toBe(false);
    expect(xdpVerdictName(dp.program.run({ data: flow(1000) }).retval)).toBe('PASS');
    dp.enableInterface(1, LB_MAC);
    dp.activate(0, 30, 1);
    expect(xdpVerdictName(dp.program.run({ data: flow(1000) }).retval)).toBe('TX');
  });

  it('swaps a whole table with one update', async () => {
    await dp.installTable(SVC, new Uint32Array(RING).fill(1));
    expect(dp.listServices()[0].ring).toBe(0);
    for (let sport = 2000; sport < 2050; sport++) {
      expect(dp.program.run({ data: flow(sport) }).data.subarray(0, 6).equals(mac(REALS[1]))).toBe(true);
    }
    await dp.installTable(SVC, new Uint32Array(RING).fill(REAL_NONE));
    expect(xdpVerdictName(dp.program.run({ data: flow(2000) }).retval)).toBe('PASS');
    await dp.installTable(SVC, new Uint32Array(RING).fill(0));
  });

  it('fails over with one write and stops at the end of the lease', async () => {
    dp.deactivate(0);
    expect(xdpVerdictName(dp.program.run({ data: flow(3000) }).retval)).toBe('PASS');
    expect(dp.instance(0).active).toBe(false);

    // A lease long enough that a stalled CPU between activate() and run()
    // cannot end it before the first check.
    dp.activate(0, 0.5, 1);
    expect(xdpVerdictName(dp.program.run({ data: flow(3000) }).retval)).toBe('TX');
    // Wait until the kernel's monotonic clock is past the lease (the program
    // samples it once per jiffy, so give it one tick more, 10 ms at HZ=100).
    const expiry = dp.instance(0).leaseExpiryNs;
    await waitFor('the lease to run out on CLOCK_MONOTONIC', () => (monotonicNs() >= expiry + 10_000_000n ? true : undefined), 10_000, 10);
    const before = dp.counters().verdicts.pass_lease_expired.packets;
    expect(xdpVerdictName(dp.program.run({ data: flow(3000) }).retval)).toBe('PASS');
    expect(dp.counters().verdicts.pass_lease_expired.packets).toBe(before + 1n);

    dp.activate(0, 30, 1);
    expect(xdpVerdictName(dp.program.run({ data: flow(3000) }).retval)).toBe('TX');
  });

  it('a second manager re-adopts the pinned maps and keeps forwarding', async () => {
    dp.close();
    dp = await Dataplane.open({ pinDir, sizes, ringQuiesceMs: 1 });
    expect(dp.adopted).toBe(true);
    expect(dp.listServices()).toEqual([{ ...SVC, instance: 0, index: 0, ring: 0, ringSize: RING, tableSize: RING, region: 0 }]);
    const res = dp.program.run({ data: flow(4000) });
    expect(xdpVerdictName(res.retval)).toBe('TX');
    expect(res.data.subarray(0, 6).equals(mac(REALS[0]))).toBe(true);
    // Counters survive too; the live table's reals count for its service.
    const c = dp.counters();
    expect(c.verdicts.forward.packets).toBeGreaterThan(200n);
    expect(c.services.get(0)).toEqual(c.reals.get(0));
    // A new service gets the next free slot.
    expect(dp.addService({ vip: VIP, port: 443, protocol: 'tcp', instance: 0 }).index).toBe(1);
    expect(dp.deleteService({ vip: VIP, port: 443, protocol: 'tcp' })).toBe(true);
  });

  it('holds the pin directory: a second manager on it fails naming this process, and gets it once the first closes', async () => {
    const t0 = Date.now();
    const err = await Dataplane.open({ pinDir, sizes, pinLockWaitMs: 200 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PinDirLockedError);
    expect(err).toMatchObject({ code: 'VIPD_BPF_PIN_DIR_LOCKED', exitCode: 2, holderPid: process.pid });
    expect((err as Error).message).toContain(`pin directory ${pinDir} is in use by another vipd (pid ${process.pid})`);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(200);
    // The first one was not disturbed.
    expect(dp.listServices()).toHaveLength(1);
    // Released by close(): a waiting open() gets it.
    const second = Dataplane.open({ pinDir, sizes, ringQuiesceMs: 1, pinLockWaitMs: 5000 });
    dp.close();
    dp = await second;
    expect(dp.adopted).toBe(true);
  });

  it('derives service totals from real servers, also when a real moves to another service', async () => {
    const other = { vip: VIP, port: 8080, protocol: 'tcp' as const };
    const index = dp.addService({ ...other, instance: 0 }).index;
    const flowTo = (sport: number, dport: number) => tcpFrame({ src: CLIENT, dst: VIP, sport, dport });
    const before = dp.counters();
    const svc0 = before.services.get(0)!;
    expect(before.services.get(index)).toEqual({ packets: 0n, bytes: 0n });
    // Real 1 (idle since the restart) now serves the new service: it counts from here.
    await dp.installTable(other, new Uint32Array(RING).fill(1));
    for (let sport = 5000; sport < 5010; sport++) expect(xdpVerdictName(dp.program.run({ data: flowTo(sport, 8080) }).retval)).toBe('TX');
    let c = dp.counters();
    expect(c.services.get(index)?.packets).toBe(10n);
    expect(c.services.get(0)).toEqual(svc0);
    // Real 0 moves from service 0 to the new one: service 0 keeps its total.
    await dp.installTable(other, new Uint32Array(RING).fill(0));
    for (let sport = 5000; sport < 5005; sport++) dp.program.run({ data: flowTo(sport, 8080) });
    c = dp.counters();
    expect(c.services.get(0)).toEqual(svc0);
    expect(c.services.get(index)?.packets).toBe(15n);
    expect(c.verdicts.forward.packets - before.verdicts.forward.packets).toBe(15n);
    expect(dp.deleteService(other)).toBe(true);
  });

  it('sizes each ring from the backend count: a service that grows gets a bigger ring with its next table, and the kernel forwards by it', async () => {
    const grown = { vip: VIP, port: 9000, protocol: 'tcp' as const };
    const small = dp.addService({ ...grown, instance: 0, backends: 2 });
    expect(small).toMatchObject({ ringSize: 251, tableSize: 251 });
    const five = Array.from({ length: 5 }, (_, i) => ({ real: i % 2, key: `192.168.1.${i + 1}`, weight: 1 }));
    // Reconfigured with 5 backends: the live ring stays until the next table.
    expect(dp.addService({ ...grown, instance: 0, backends: 5 })).toMatchObject({ ringSize: 251, tableSize: 509 });
    await dp.setBackends(grown, five);
    const info = dp.listServices().find((x) => x.port === 9000)!;
    expect(info).toMatchObject({ ringSize: 509, tableSize: 509 });
    // The new area does not overlap the other service's rings.
    const first = dp.listServices().find((x) => x.port === 80)!;
    const [a, b] = [first, info].map((x) => ({ from: x.region, to: x.region + 2 * x.ringSize }));
    expect(a.to <= b.from || b.to <= a.from).toBe(true);
    const table = dp.table(grown)!;
    expect(table).toHaveLength(509);
    for (let sport = 6000; sport < 6100; sport++) {
      const res = dp.program.run({ data: tcpFrame({ src: CLIENT, dst: VIP, sport, dport: 9000 }) });
      expect(xdpVerdictName(res.retval)).toBe('TX');
      const h = flowHash(hashAddr(parseAddr(CLIENT).addr, 0, 4), hashAddr(parseAddr(VIP).addr, 0, 4), portsWord(sport, 9000));
      expect(res.data.subarray(0, 6).equals(mac(REALS[table[ringSlot(h, 509)]]))).toBe(true);
    }
    await expect(dp.installTable(grown, new Uint32Array(251))).rejects.toThrow(/a table has 509 slots \(its ring size\), got 251/);
    expect(dp.deleteService(grown)).toBe(true);
  });

  it('writes real servers in one batch (setReals) that the kernel forwards to, MACs given as text or bytes', async () => {
    const batched = { vip: VIP, port: 9002, protocol: 'tcp' as const };
    dp.addService({ ...batched, instance: 0, backends: 2 });
    dp.setReals([
      [4, { mac: REALS[1], address: '192.168.2.1' }],
      [5, { mac: mac(REALS[0]), address: '192.168.2.2' }],
    ]);
    await dp.setBackends(batched, [
      { real: 4, key: '192.168.2.1', weight: 1 },
      { real: 5, key: '192.168.2.2', weight: 1 },
    ]);
    const table = dp.table(batched)!;
    const macOf: Record<number, string> = { 4: REALS[1], 5: REALS[0] };
    const seen = new Set<number>();
    for (let sport = 7000; sport < 7100; sport++) {
      const res = dp.program.run({ data: tcpFrame({ src: CLIENT, dst: VIP, sport, dport: 9002 }) });
      expect(xdpVerdictName(res.retval)).toBe('TX');
      const h = flowHash(hashAddr(parseAddr(CLIENT).addr, 0, 4), hashAddr(parseAddr(VIP).addr, 0, 4), portsWord(sport, 9002));
      const real = table[ringSlot(h, table.length)];
      seen.add(real);
      expect(res.data.subarray(0, 6).equals(mac(macOf[real]))).toBe(true);
    }
    expect([...seen].sort()).toEqual([4, 5]);
    expect(dp.deleteService(batched)).toBe(true);
  });

  it('setReals writes what setReal writes, IPv4 and IPv6, and refuses a bad address or index', () => {
    // The fixture's reals map holds 8 (4-7: the test above's, its service gone).
    dp.setReals([
      [5, { mac: '02:00:00:00:00:06', address: '192.168.2.6' }],
      [6, { mac: Buffer.from([2, 0, 0, 0, 0, 7]), address: '2001:db8::7' }],
      [7, { mac: '02:00:00:00:00:06', address: '::ffff:192.168.2.8' }],
    ]);
    dp.setReal(4, { mac: '02:00:00:00:00:06', address: '192.168.2.6' });
    expect(dp.real(5)).toEqual({ address: '192.168.2.6', mac: '02:00:00:00:00:06' });
    expect(dp.real(6)).toEqual({ address: '2001:db8::7', mac: '02:00:00:00:00:07' });
    expect(dp.real(7)).toEqual({ address: '::ffff:c0a8:208', mac: '02:00:00:00:00:06' });
    expect(dp.real(4)).toEqual(dp.real(5));
    for (const i of [4, 5, 6, 7]) dp.deleteReal(i);
    expect(() => dp.setReals([[4, { mac: '02:00:00:00:00:06', address: '192.168.2.300' }]])).toThrow(/not an IP address: '192.168.2.300'/);
    expect(() => dp.setReals([[8, { mac: '02:00:00:00:00:06', address: '192.168.2.6' }]])).toThrow(/real index 8 is outside the reals map \(8 entries\)/);
    expect(dp.real(4)).toBeUndefined();
  });

  it('refuses a service whose rings do not fit, naming the room left', () => {
    // 8192 slots: two rings of 65537 cannot fit.
    expect(() => dp.addService({ vip: VIP, port: 9001, protocol: 'tcp', instance: 0, backends: 1000 })).toThrow(
      /the rings map is full: a ring pair of 131074 slots does not fit in \d+ free of 8192 slots/,
    );
  });

  it("removeMapPins removes every map pin and keeps what is not vipd's (iproute2's tc/ directory, *.debug)", () => {
    // iproute2 makes tc/globals on the first bpffs it finds when /sys/fs/bpf is none.
    mkdirSync(join(pinDir, 'tc', 'globals'), { recursive: true });
    const pinned = readdirSync(pinDir).filter((n) => !n.endsWith('.debug') && n !== 'tc');
    expect(pinned).toContain('instances');
    expect(removeMapPins(pinDir)).toEqual(pinned.sort());
    expect(readdirSync(pinDir).filter((n) => !n.endsWith('.debug'))).toEqual(['tc']);
    expect(readdirSync(join(pinDir, 'tc'))).toEqual(['globals']);
    rmSync(join(pinDir, 'tc'), { recursive: true });
  });

  it('unpinAll removes the pins', () => {
    const dir = pinDir;
    Dataplane.unpinAll(dir);
    expect(existsSync(`${dir}/instances`)).toBe(false);
  });
});
