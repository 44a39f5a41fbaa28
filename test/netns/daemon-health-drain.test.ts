/**
 * Backends leaving and returning: a failing health check takes a real
 * server out of the Maglev table and back in, and `vipctl drain` /
 * `undrain` do the same by hand. What the operator checks: `status`
 * (backend up / drained), the vipd_backend_up metric, and where new
 * connections through the VIP land.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BackendStatus, DrainResult } from '../../src/daemon/api.js';
import { packageRoot } from '../../src/native.js';
import {
  Site,
  metricValue,
  skipReason,
  tally,
  waitFor,
  waitMaglevTable,
  useDaemonSite,
} from './fixtures/daemon-site.js';

const RS1 = '10.99.0.21';
const RS2 = '10.99.0.22';

async function webBackend(site: Site, i: number, address: string): Promise<BackendStatus> {
  const web = (await site.status(i)).services.find((s) => s.name === 'web');
  const b = web?.backends.find((x) => x.address === address);
  if (!b) throw new Error(`no backend ${address} in service web`);
  return b;
}

/** vipctl from this checkout, when its build has drain (another part of the project); else undefined. */
function vipctl(): string | undefined {
  const bin = join(packageRoot(), 'bin', 'vipctl');
  return existsSync(join(packageRoot(), 'dist', 'src', 'cli', 'drain.js')) ? bin : undefined;
}

describe.skipIf(skipReason)(`vipd health checks and drain${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  const env = useDaemonSite({ label: 'health', advertInterval: 0.1 }, [0]);

  it('a real server that stops accepting TCP goes down and takes no new connections; back up, it takes them again', async () => {
    const s = env.site;
    const t = env.traffic;
    expect(tally(await t.connect(20))).toEqual(expect.objectContaining({ rs1: expect.any(Number), rs2: expect.any(Number) }));

    await s.setRealServerTcp(0, false);
    const down = await waitFor(`${RS1} down in status`, async () => {
      const b = await webBackend(s, 0, RS1);
      return b.up ? undefined : b;
    });
    console.log(`[health] ${RS1} down: ${down.reason}`);
    expect(down).toMatchObject({ up: false, drained: false });
    expect(await webBackend(s, 0, RS2)).toMatchObject({ up: true });
    expect(metricValue(await s.metrics(0), 'vipd_backend_up', { service: 'web', backend: RS1 })).toBe(0);
    // The Maglev swap follows the status change: wait until it is installed.
    await waitMaglevTable(s, 0, 'web', [RS2]);
    const whileDown = tally(await t.connect(20));
    console.log(`[health] 20 new connections while ${RS1} is down: ${JSON.stringify(whileDown)}`);
    expect(whileDown).toEqual({ rs2: 20 });

    await s.setRealServerTcp(0, true);
    await waitFor(`${RS1} up again in status`, async () => ((await webBackend(s, 0, RS1)).up ? true : undefined));
    expect(metricValue(await s.metrics(0), 'vipd_backend_up', { service: 'web', backend: RS1 })).toBe(1);
    await waitMaglevTable(s, 0, 'web', [RS1, RS2]);
    const back = tally(await t.connect(40));
    console.log(`[health] 40 new connections after ${RS1} came back: ${JSON.stringify(back)}`);
    expect(Object.keys(back).sort()).toEqual(['rs1', 'rs2']);
  });

  /*
   * Drain and existing flows: with the connection table (ABI 6) a drained
   * backend keeps its established connections (its slots fall back to it,
   * and the table pins each flow as it sends); test/netns/daemon-connections
   * asserts that none breaks over 200 connections. Here it is measured and
   * printed alongside the drain's other effects.
   */
  it('drain: new connections avoid the drained backend; undrain: both again (existing flows measured)', async () => {
    const s = env.site;
    const t = env.traffic;
    const started = await t.start({ conns: 16, intervalMs: 50, udpIntervalMs: 0, maxMs: 30_000 });
    await t.waitFlowing(await t.snapshot(), 3);
    const onRs1 = started.conns.filter((c) => c.server === 'rs1').length;

    const cli = vipctl();
    const run = async (verb: 'drain' | 'undrain'): Promise<DrainResult> => {
      if (cli) {
        const r = spawnSync(process.execPath, [cli, '--socket', s.socket(0), verb, 'web', RS1, '--json'], { encoding: 'utf8', timeout: 30_000 });
        expect(r.status, `vipctl ${verb}: ${r.stdout}${r.stderr}`).toBe(0);
        return JSON.parse(r.stdout) as DrainResult;
      }
      return s.call<DrainResult>(0, verb, { service: 'web', backend: RS1 });
    };
    console.log(`[drain] using ${cli ? 'vipctl' : 'the control socket (vipctl has no drain in this build)'}`);

    expect(await run('drain')).toMatchObject({ service: 'web', backend: RS1, drained: true, changed: true });
    // Draining twice is not an error and changes nothing.
    expect(await s.call<DrainResult>(0, 'drain', { service: 'web', backend: RS1 })).toMatchObject({ drained: true, changed: false });
    expect(await webBackend(s, 0, RS1)).toMatchObject({ drained: true, up: true });
    const whileDrained = tally(await t.connect(20));
    console.log(`[drain] 20 new connections while ${RS1} is drained: ${JSON.stringify(whileDrained)}`);
    expect(whileDrained).toEqual({ rs2: 20 });

    // Measured once every connection has either ended or answered 3 more
    // lines since the drain (its fate is settled), not after a fixed time.
    const settled = await t.snapshot();
    const snap = await waitFor('every connection ended or answering after the drain', async () => {
      const now = await t.snapshot();
      return now.conns.every((c, k) => c.closed || c.error || c.answered >= settled.conns[k].answered + 3) ? now : undefined;
    });
    const broke = (server: string) => snap.conns.filter((c) => c.server === server && (c.closed || c.error)).length;
    console.log(
      `[drain] existing connections that broke when ${RS1} was drained: ${broke('rs1')}/${onRs1} on rs1 (drained), ` +
        `${broke('rs2')}/${started.conns.length - onRs1} on rs2`,
    );
    await t.stop(100);

    expect(await run('undrain')).toMatchObject({ service: 'web', backend: RS1, drained: false, changed: true });
    expect(await webBackend(s, 0, RS1)).toMatchObject({ drained: false, up: true });
    await waitMaglevTable(s, 0, 'web', [RS1, RS2]);
    const after = tally(await t.connect(40));
    console.log(`[drain] 40 new connections after undrain: ${JSON.stringify(after)}`);
    expect(Object.keys(after).sort()).toEqual(['rs1', 'rs2']);
  });

  it('drain of an unknown service or backend is refused with NOT_FOUND', async () => {
    const s = env.site;
    await expect(s.call(0, 'drain', { service: 'nope', backend: RS1 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(s.call(0, 'drain', { service: 'web', backend: '10.99.0.99' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
