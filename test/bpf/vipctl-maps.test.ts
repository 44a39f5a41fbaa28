/**
 * `vipctl maps` on the real object: maps pinned on a private bpffs, a few
 * entries written with the abi.ts codecs, then decoded by the command as a
 * separate reader would (no daemon). Needs root and out/bpf/vipd.bpf.o
 * (`npm run build`); a missing object fails the test.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfMap, ensureBpffs, ObjectSpec, possibleCpus, unmountBpffs, type Collection } from '../../src/bpf/index.js';
import { runCommand } from '../../src/cli/action.js';
import { runMaps } from '../../src/cli/maps/command.js';
import {
  INST_F_ACTIVE,
  IPPROTO_TCP,
  MAPS,
  REAL_F_VALID,
  REAL_NONE,
  REASONS,
  RING_MAX_SIZE,
} from '../../src/dataplane/abi.js';
import { parseAddr, parseMac } from '../../src/dataplane/addr.js';
import { recordOutput } from '../unit/cli/helpers.js';

const ROOT = resolve(import.meta.dirname, '../..');
const OBJECT = join(ROOT, 'out/bpf/vipd.bpf.o');
const BUILT_CLI = join(ROOT, 'dist/src/cli/main.js');
const SERVICES = 4;
/** The IPv4 service's live ring (its second): slots [0, 40000) -> real 0, the rest -> real 1. */
const SPLIT = 40_000;
/** Each service's ring size here: ABI 4's one size, so the expected slot counts stay readable. */
const RING_SIZE = RING_MAX_SIZE;

interface JsonDump {
  pinDir: string;
  maps: Record<string, { path: string; type: string; maxEntries: number; omitted: number; entries: Record<string, unknown>[] }>;
}

describe('vipctl maps on pinned maps', () => {
  let pinDir = '';
  let mounted = false;
  let coll: Collection | undefined;
  const cpus = possibleCpus();
  const leaseNs = process.hrtime.bigint() + 30_000_000_000n;

  beforeAll(async () => {
    expect(existsSync(OBJECT), `${OBJECT} is missing: run \`npm run build\``).toBe(true);
    pinDir = mkdtempSync('/run/vipctl-maps-');
    mounted = ensureBpffs(pinDir).mounted;
    const spec = ObjectSpec.open(OBJECT);
    spec.map('instances').maxEntries = 8;
    spec.map('services4').maxEntries = SERVICES;
    spec.map('services6').maxEntries = SERVICES;
    spec.map('rings').maxEntries = 2 * SERVICES * RING_SIZE;
    spec.map('reals').maxEntries = 8;
    spec.map('real_stats').maxEntries = 8;
    spec.pinMapsUnder(pinDir);
    coll = await spec.load();

    coll
      .map('instances', MAPS.instances.key, MAPS.instances.value)
      .update(1, { lease_expiry_ns: leaseNs, ifindex: 1, mac: parseMac('02:00:00:00:00:fe'), flags: INST_F_ACTIVE, host_mac: parseMac('02:00:00:00:00:fe'), pad: Buffer.alloc(6) });
    const vips = coll.map('vips', MAPS.vips.key, MAPS.vips.value);
    vips.update({ ...parseAddr('203.0.113.42'), pad: Buffer.alloc(3) }, { instance: 1, flags: 0 });
    vips.update({ ...parseAddr('2001:db8::42'), pad: Buffer.alloc(3) }, { instance: 1, flags: 0 });
    const svc = parseAddr('203.0.113.42');
    coll.map('services4', MAPS.services4.key, MAPS.services4.value).update(
      { addr: svc.addr.subarray(0, 4), port: 80, proto: IPPROTO_TCP, pad: 0 },
      { ring: RING_SIZE, ring_size: RING_SIZE, instance: 1, flags: 0, index: 0, region: 0, prev_ring: 0, prev_size: 0 },
    );
    coll.map('services6', MAPS.services6.key, MAPS.services6.value).update(
      { addr: parseAddr('2001:db8::42').addr, port: 443, proto: IPPROTO_TCP, pad: 0 },
      { ring: 2 * RING_SIZE, ring_size: RING_SIZE, instance: 1, flags: 0, index: 1, region: 2 * RING_SIZE, prev_ring: 0, prev_size: 0 },
    );
    const rings = coll.map('rings', MAPS.rings.key, MAPS.rings.value);
    const entries: [number, { real: number; fallback: number }][] = [];
    const clean = (real: number) => ({ real, fallback: real });
    for (let slot = 0; slot < RING_SIZE; slot++) {
      entries.push([slot, clean(REAL_NONE)], [RING_SIZE + slot, clean(slot < SPLIT ? 0 : 1)]);
    }
    rings.updateBatch(entries);
    const reals = coll.map('reals', MAPS.reals.key, MAPS.reals.value);
    ['10.0.0.11', '10.0.0.12'].forEach((address, i) =>
      reals.update(i, { mac: parseMac(`02:00:00:00:01:0${i + 1}`), flags: REAL_F_VALID, ...parseAddr(address), pad: Buffer.alloc(3) }),
    );
    // Per-CPU counters: CPU i counts i + 1 packets of 100 bytes. The program
    // counts forward in real_stats alone; icmp_forward in both.
    const perCpu = Array.from({ length: cpus }, (_, i) => ({ packets: BigInt(i + 1), bytes: BigInt((i + 1) * 100) }));
    const icmp = Array.from({ length: cpus }, () => ({ packets: 1n, bytes: 10n }));
    const withIcmp = perCpu.map((c) => ({ packets: c.packets + 1n, bytes: c.bytes + 10n }));
    coll.perCpuMap('verdicts', MAPS.verdicts.key, MAPS.verdicts.value).update(REASONS.indexOf('icmp_forward'), icmp);
    coll.perCpuMap('real_stats', MAPS.real_stats.key, MAPS.real_stats.value).update(1, withIcmp);
    // The pins keep the maps; the loader's handles go, as when vipd has stopped.
    coll.close();
    coll = undefined;
  });

  afterAll(() => {
    coll?.close();
    if (!pinDir) return;
    for (const name of Object.keys(MAPS)) BpfMap.unpin(join(pinDir, name));
    if (mounted) unmountBpffs(pinDir);
    rmSync(pinDir, { recursive: true, force: true });
  });

  const sumOfCpus = BigInt((cpus * (cpus + 1)) / 2);

  it('--json decodes every map', async () => {
    const output = recordOutput();
    expect(await runMaps(undefined, { pin: pinDir, json: true }, output)).toBe(0);
    expect(output.stderr()).toBe('');
    const dump = JSON.parse(output.stdout()) as JsonDump;
    expect(dump.pinDir).toBe(pinDir);
    expect(Object.keys(dump.maps)).toEqual(Object.keys(MAPS));

    const instances = dump.maps.instances;
    expect(instances).toMatchObject({ path: join(pinDir, 'instances'), type: 'Array', maxEntries: 8, omitted: 7 });
    expect(instances.entries).toHaveLength(1);
    expect(instances.entries[0]).toMatchObject({
      id: 1,
      flags: ['active'],
      leaseExpiryNs: Number(leaseNs),
      ifindex: 1,
      interface: 'lo',
      mac: '02:00:00:00:00:fe',
    });
    expect(instances.entries[0].leaseRemainingSeconds).toBeGreaterThan(20);
    expect(instances.entries[0].leaseRemainingSeconds).toBeLessThanOrEqual(30);

    expect(dump.maps.vips.entries).toEqual([
      { vip: '203.0.113.42', family: 4, instance: 1, flags: 0 },
      { vip: '2001:db8::42', family: 6, instance: 1, flags: 0 },
    ]);
    expect(dump.maps.services4.entries).toEqual([
      { service: '203.0.113.42:80/tcp', vip: '203.0.113.42', port: 80, protocol: 'tcp', family: 4, index: 0, ring: RING_SIZE, ringSize: RING_SIZE, region: 0, instance: 1, flags: 0 },
    ]);
    expect(dump.maps.services6.entries).toEqual([
      { service: '[2001:db8::42]:443/tcp', vip: '2001:db8::42', port: 443, protocol: 'tcp', family: 6, index: 1, ring: 2 * RING_SIZE, ringSize: RING_SIZE, region: 2 * RING_SIZE, instance: 1, flags: 0 },
    ]);
    expect(dump.maps.rings.entries.filter((e) => e.service === '203.0.113.42:80/tcp')).toEqual([
      { ring: 0, service: '203.0.113.42:80/tcp', role: 'idle', slots: RING_SIZE, reals: [], empty: RING_SIZE },
      {
        ring: RING_SIZE,
        service: '203.0.113.42:80/tcp',
        role: 'live',
        slots: RING_SIZE,
        reals: [
          { real: 0, address: '10.0.0.11', slots: SPLIT },
          { real: 1, address: '10.0.0.12', slots: RING_SIZE - SPLIT },
        ],
        empty: 0,
      },
    ]);
    expect(dump.maps.rings.entries.filter((e) => e.service === '[2001:db8::42]:443/tcp').map((e) => [e.ring, e.role])).toEqual([
      [2 * RING_SIZE, 'live'],
      [3 * RING_SIZE, 'idle'],
    ]);
    expect(dump.maps.rings.omitted).toBe((2 * SERVICES - 4) * RING_SIZE);
    expect(dump.maps.reals.entries).toEqual([
      { index: 0, address: '10.0.0.11', family: 4, mac: '02:00:00:00:01:01', flags: ['valid'] },
      { index: 1, address: '10.0.0.12', family: 4, mac: '02:00:00:00:01:02', flags: ['valid'] },
    ]);

    const verdicts = dump.maps.verdicts;
    expect(verdicts.type).toBe('PerCpuArray');
    expect(verdicts.entries.map((v) => v.label)).toEqual([...REASONS]);
    const forward = verdicts.entries.find((v) => v.label === 'forward')!;
    expect(forward).toMatchObject({ index: 2, action: 'TX', derived: true, packets: Number(sumOfCpus), bytes: Number(sumOfCpus * 100n) });
    expect(forward.perCpu).toEqual(Array.from({ length: cpus }, (_, i) => ({ packets: i + 1, bytes: (i + 1) * 100 })));
    expect(verdicts.entries.find((v) => v.label === 'pass_not_vip')).toMatchObject({ action: 'PASS', packets: 0 });

    expect(verdicts.entries.find((v) => v.label === 'icmp_forward')).toMatchObject({ packets: cpus, bytes: cpus * 10 });
    expect(dump.maps.real_stats.entries).toHaveLength(1);
    expect(dump.maps.real_stats.entries[0]).toMatchObject({
      index: 1,
      label: '10.0.0.12',
      packets: Number(sumOfCpus) + cpus,
      bytes: Number(sumOfCpus * 100n) + cpus * 10,
    });
  });

  it('prints tables for people', async () => {
    const output = recordOutput();
    expect(await runMaps(undefined, { pin: pinDir }, output)).toBe(0);
    const text = output.stdout();
    expect(text).toContain(`instances  ${join(pinDir, 'instances')}  (Array, max 8)`);
    expect(text).toMatch(/^\s+1\s+active\s+expires in \d+s\s+\d+\s+lo \(1\)\s+02:00:00:00:00:fe$/m);
    expect(text).toMatch(/^\s+2001:db8::42\s+1\s+0$/m);
    expect(text).toMatch(new RegExp(`^\\s+203\\.0\\.113\\.42:80/tcp\\s+0\\s+${RING_SIZE}\\s+${RING_SIZE}\\s+1\\s+0$`, 'm'));
    expect(text).toMatch(new RegExp(`^\\s+${RING_SIZE}\\s+203\\.0\\.113\\.42:80/tcp\\s+live\\s+10\\.0\\.0\\.11=${SPLIT} 10\\.0\\.0\\.12=${RING_SIZE - SPLIT}$`, 'm'));
    expect(text).toMatch(new RegExp(`^\\s+0\\s+203\\.0\\.113\\.42:80/tcp\\s+idle\\s+none=${RING_SIZE}$`, 'm'));
    expect(text).toMatch(/^\s+1\s+10\.0\.0\.12\s+02:00:00:00:01:02\s+valid$/m);
    expect(text).toMatch(new RegExp(`^\\s+2\\s+forward \\(from real_stats\\)\\s+TX\\s+${sumOfCpus}\\s+${sumOfCpus * 100n}`, 'm'));
    expect(text).toContain('7 empty instance slots not shown (--all shows them)');
  });

  it('one map by name; --all shows empty slots and every ring slot', async () => {
    const output = recordOutput();
    expect(await runMaps('instances', { pin: pinDir, json: true, all: true }, output)).toBe(0);
    const dump = JSON.parse(output.stdout()) as JsonDump;
    expect(Object.keys(dump.maps)).toEqual(['instances']);
    expect(dump.maps.instances.entries).toHaveLength(8);
    expect(dump.maps.instances.entries[0]).toMatchObject({ id: 0, flags: [], leaseExpiryNs: 0, leaseRemainingSeconds: null });

    const rings = recordOutput();
    expect(await runMaps('rings', { pin: pinDir, json: true, all: true }, rings)).toBe(0);
    const [idle, live] = (JSON.parse(rings.stdout()) as JsonDump).maps.rings.entries as { table: number[] }[];
    expect(idle.table).toHaveLength(RING_SIZE);
    expect(idle.table.every((r) => r === REAL_NONE)).toBe(true);
    expect(live.table.slice(SPLIT - 1, SPLIT + 1)).toEqual([0, 1]);
  });

  it('a non-root reader gets the BpfError message and exit 3', async (ctx) => {
    if (!existsSync(BUILT_CLI)) ctx.skip(`${BUILT_CLI} is missing (npx tsc -p tsconfig.build.json)`);
    chmodSync(pinDir, 0o755);
    try {
      const result = await promisify(execFile)(process.execPath, [join(ROOT, 'bin/vipctl'), 'maps', 'vips', '--pin', pinDir], {
        uid: 65534,
        gid: 65534,
        cwd: '/',
      }).then(
        () => ({ code: 0, stderr: '' }),
        (err: { code: number; stderr: string }) => err,
      );
      expect(result.code).toBe(3);
      expect(result.stderr).toMatch(new RegExp(`^vipctl: opening pinned map ${join(pinDir, 'vips')}: .*(refused|permission)`, 'i'));
    } finally {
      chmodSync(pinDir, 0o700);
    }
  });

  it('a map missing from the pin directory is named (exit 1); the others still print', async () => {
    BpfMap.unpin(join(pinDir, 'real_stats'));
    const output = recordOutput();
    expect(await runCommand(() => runMaps(undefined, { pin: pinDir, json: true }, output), output)).toBe(1);
    expect(output.stderr()).toBe(`vipctl: map real_stats is not pinned at ${join(pinDir, 'real_stats')}\n`);
    expect(Object.keys((JSON.parse(output.stdout()) as JsonDump).maps)).not.toContain('real_stats');

    const one = recordOutput();
    expect(await runCommand(() => runMaps('real_stats', { pin: pinDir }, one), one)).toBe(1);
    expect(one.stderr()).toBe(`vipctl: map real_stats is not pinned at ${join(pinDir, 'real_stats')}\n`);
  });
});
