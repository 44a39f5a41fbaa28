/**
 * Thousands of services on one host (issue 13): a vipd with 2000 services
 * (the old fixed limit was 64) starts, sizes its maps from the config, and
 * a real client's connections to the first and the last service of the
 * config land on the real servers those services name. The 1998 services
 * between them (TCP and UDP, ports no server listens on) are checked in
 * the pinned maps: every one has a live table of the size its backend
 * count gives.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ringSize } from '../../src/dataplane/sizing.js';
import { packageRoot } from '../../src/native.js';
import type { ServiceEntry } from '../../src/cli/maps/model.js';
import { SERVICE_PORT, Site, Traffic, VIP, createSite, ensureBuilt, printLogs, skipReason, STARTUP_MS, tally, waitFor } from './fixtures/daemon-site.js';

const SERVICES = 2000;
/** The last service's port: a listener the test starts on both real servers, answering with its host's name. */
const LAST_PORT = 40999;

/** The config's services: first web -> rs1 only, 1998 fillers -> both, last -> rs2 only. */
function servicesYaml(site: Site): string {
  const [rs1, rs2] = site.realAddrs;
  const lines = ['services:'];
  const service = (name: string, port: number, protocol: string, backends: string[]) => {
    lines.push(`  - name: ${name}`, `    vip: ${VIP}`, `    port: ${port}`, `    protocol: ${protocol}`, '    instance: web', '    backends:');
    for (const b of backends) lines.push(`      - { address: ${b} }`);
  };
  service('first', SERVICE_PORT, 'tcp', [rs1]);
  for (let i = 0; i < SERVICES - 2; i++) service(`filler-${i}`, 41000 + (i >> 1), i % 2 === 0 ? 'tcp' : 'udp', [rs1, rs2]);
  service('last', LAST_PORT, 'tcp', [rs2]);
  return `${lines.join('\n')}\n`;
}

/** A TCP listener on LAST_PORT in a real server's namespace that greets like the site's real servers. */
const LISTENER = `
  const net = require('node:net');
  net.createServer((s) => { s.end(process.argv[1] + ' ' + s.remoteAddress + '\\n'); s.on('error', () => {}); })
    .listen(${LAST_PORT}, '0.0.0.0', () => console.log('ready'));`;

function vipctlMaps(site: Site, name: string): { entries: ServiceEntry[] } {
  const out = spawnSync(process.execPath, [join(packageRoot(), 'bin', 'vipctl'), 'maps', name, '--json', '--pin', site.pins[0]], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (out.status !== 0) throw new Error(`vipctl maps ${name}: ${out.stderr}`);
  return (JSON.parse(out.stdout) as { maps: Record<string, { entries: ServiceEntry[] }> }).maps[name];
}

describe.skipIf(skipReason)(`vipd with ${SERVICES} services${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let site: Site | undefined;
  let traffic: Traffic | undefined;

  beforeAll(async () => {
    ensureBuilt();
    site = await createSite({ label: 'scale', advertInterval: 0.1, vipdHosts: [true, false] }, async (s) => {
      for (const [i, rs] of s.reals.entries()) {
        const child = rs.spawn(process.execPath, ['-e', LISTENER, `rs${i + 1}-last`]);
        await new Promise<void>((resolve, reject) => {
          child.stdout?.setEncoding('utf8').on('data', (d: string) => d.includes('ready') && resolve());
          child.once('exit', (code) => reject(new Error(`listener on rs${i + 1} exited (${code})`)));
        });
      }
      const base = s.config(0);
      s.writeConfig(0, base.slice(0, base.indexOf('services:')) + servicesYaml(s));
      s.startDaemon(0, { writeConfig: false });
      await s.waitState(0, 'MASTER', STARTUP_MS);
    });
    traffic = Traffic.open(site);
  }, 180_000);

  afterAll(async () => {
    await traffic?.close().catch(() => undefined);
    await site?.cleanup();
  });

  it('the first and the last service forward to the real servers they name', async () => {
    const s = site!;
    try {
      // Every table is in once every backend has a MAC and the status says so.
      await waitFor(
        'every service with its backends up and resolved',
        async () => {
          const status = await s.status(0);
          return status.services.length === SERVICES && status.services.every((x) => x.backends.every((b) => b.up && b.mac)) ? true : undefined;
        },
        60_000,
      );
      expect(tally(await traffic!.connect(20))).toEqual({ rs1: 20 });
      expect(tally(await traffic!.connect(20, LAST_PORT))).toEqual({ 'rs2-last': 20 });
    } catch (err) {
      printLogs(s);
      throw err;
    }
  });

  it('every service has a live table in the pinned maps, sized from its backend count', async () => {
    const s = site!;
    const services = vipctlMaps(s, 'services4').entries;
    expect(services).toHaveLength(SERVICES);
    const bySize = new Map<number, number>();
    for (const e of services) bySize.set(e.ringSize, (bySize.get(e.ringSize) ?? 0) + 1);
    // One backend (first, last) and two backends (the fillers) both give the smallest ring.
    expect(Object.fromEntries(bySize)).toEqual({ [ringSize(2)]: SERVICES });
    // Every live ring is a whole table: no slot without a real server.
    const rings = (vipctlMaps(s, 'rings').entries as unknown as { role: string; empty: number; slots: number }[]).filter((r) => r.role === 'live');
    expect(rings).toHaveLength(SERVICES);
    expect(rings.filter((r) => r.empty !== 0 || r.slots !== ringSize(2))).toEqual([]);
    // No two services share ring slots.
    const areas = services.map((e) => [e.region, e.region + 2 * e.ringSize] as const).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < areas.length; i++) expect(areas[i][0]).toBeGreaterThanOrEqual(areas[i - 1][1]);
  });
});
