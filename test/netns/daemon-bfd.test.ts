/**
 * Two vipd hosts with BFD between them (unicast VRRP at 1 s adverts, so
 * Master_Down is 3.6 s and a takeover by BFD is told apart by its reason):
 * sessions come Up and show in `vipctl status` and the metrics; the MASTER's
 * daemon is SIGKILLed and the BACKUP takes over because its BFD session to
 * the MASTER went down, with the change in `vipctl events`.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { InstanceStatus, VipdEvent } from '../../src/daemon/api.js';
import { packageRoot } from '../../src/native.js';
import { createSite, ensureBuilt, metricValue, printLogs, skipReason, STARTUP_MS, waitFor, type Site } from './fixtures/daemon-site.js';

const BFD = 'bfd: { interval: 0.01, multiplier: 3 }';

/** Host i's config: unicast VRRP to the other host, and BFD to it (empty peers: the unicast peers). */
function configWithBfd(site: Site, i: number): string {
  const other = site.lbAddrs[1 - i];
  return site.config(i).replace('\nservices:', `\n    unicastPeers: [${other}]\n    ${BFD}\nservices:`);
}

/** `vipctl ARGS --socket SOCKET`, as an operator runs it. */
function vipctl(socket: string, args: readonly string[]): string {
  const r = spawnSync(process.execPath, [join(packageRoot(), 'bin', 'vipctl'), ...args, '--socket', socket], { encoding: 'utf8', timeout: 20_000 });
  if (r.status !== 0) throw new Error(`vipctl ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

function bfdEvents(site: Site, i: number): VipdEvent[] {
  return vipctl(site.socket(i), ['events', '--json', '--type', 'bfd'])
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as VipdEvent);
}

async function instance(site: Site, i: number): Promise<InstanceStatus> {
  return (await site.status(i)).instances[0]!;
}

describe.skipIf(skipReason)(`vipd with BFD${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let site: Site | undefined;

  beforeAll(async () => {
    ensureBuilt();
    site = await createSite({ label: 'bfd', advertInterval: 1, healthCheck: 'none' }, async (s) => {
      for (const i of [0, 1]) {
        s.writeConfig(i, configWithBfd(s, i));
        s.startDaemon(i, { writeConfig: false });
      }
      await s.waitState(0, 'MASTER', STARTUP_MS);
      await s.waitState(1, 'BACKUP', STARTUP_MS);
    });
  }, 120_000);
  afterEach(({ task }) => {
    if (task.result?.state === 'fail') printLogs(site);
  });
  afterAll(async () => {
    await site?.cleanup();
  });

  it('brings the sessions Up: vipctl status, vipd_bfd_session_up and a bfd event', async () => {
    const s = site!;
    for (const i of [0, 1]) {
      const peer = s.lbAddrs[1 - i];
      const b = await waitFor(`${s.lbs[i].label}: BFD session to ${peer} Up at 10 ms`, async () => {
        const x = (await instance(s, i)).bfd?.[0];
        return x?.state === 'Up' && x.txIntervalMs === 10 ? x : undefined;
      });
      expect(b).toMatchObject({ peer, interface: 'eth0', detectTimeMs: 30 });
      expect(metricValue(await s.metrics(i), 'vipd_bfd_session_up', { instance: 'web', peer })).toBe(1);
      expect(bfdEvents(s, i).some((e) => e.type === 'bfd' && e.peer === peer && e.up)).toBe(true);
      expect(vipctl(s.socket(i), ['status'])).toMatch(new RegExp(`web\\s+${peer.replace(/\./g, '\\.')}\\s+eth0\\s+Up\\s+10ms\\s+30ms`));
    }
  });

  it('arms the takeover in the BFD thread on the BACKUP only, disarms it on a state change and arms it again', async () => {
    const s = site!;
    await waitFor('lb2 armed to take over from lb1', async () => (await instance(s, 1)).bfdTakeoverArmed === true);
    expect((await instance(s, 0)).bfdTakeoverArmed).toBe(false);
    // lb2 above lb1 (preempt): lb2 MASTER, lb1 BACKUP; the arms follow the states.
    vipctl(s.socket(1), ['priority', 'web', '200']);
    await s.waitState(1, 'MASTER');
    expect((await instance(s, 1)).bfdTakeoverArmed).toBe(false);
    await waitFor('lb1 armed to take over from lb2', async () => (await instance(s, 0)).bfdTakeoverArmed === true);
    vipctl(s.socket(1), ['priority', 'web', '100']); // its configured priority (lb1 has 150)
    await s.waitState(0, 'MASTER');
    await s.waitState(1, 'BACKUP');
    await waitFor('lb2 armed again', async () => (await instance(s, 1)).bfdTakeoverArmed === true);
    expect((await instance(s, 0)).bfdTakeoverArmed).toBe(false);
  });

  it("the MASTER's daemon is killed: the BACKUP takes over because BFD saw it die, not Master_Down", async () => {
    const s = site!;
    await s.stopDaemon(0, 'SIGKILL');
    await s.waitState(1, 'MASTER');
    const st = await instance(s, 1);
    expect(st.lastReason).toBe(`BFD session to ${s.lbAddrs[0]} down: master ${s.lbAddrs[0]} treated as dead`);
    // The BFD thread served and announced before JavaScript heard of the session down.
    const t = st.lastBfdTakeover;
    expect(t?.path).toBe('native');
    expect(t!.mapMs!).toBeLessThanOrEqual(t!.announcedMs!);
    expect(t!.announcedMs!).toBeLessThanOrEqual(t!.heardMs);
    expect(st.bfdTakeoverArmed).toBe(false);
    expect(st.bfd?.[0]).toMatchObject({ state: 'Down', diag: 'detection time expired' });
    expect(metricValue(await s.metrics(1), 'vipd_bfd_session_up', { instance: 'web', peer: s.lbAddrs[0] })).toBe(0);
    expect(bfdEvents(s, 1).some((e) => e.type === 'bfd' && !e.up && e.reason === 'detection time expired')).toBe(true);
  });
});
