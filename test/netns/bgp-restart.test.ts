/**
 * Hitless restart of a BGP host (SIGUSR2 handoff, then a new vipd), on the
 * BIRD router site of bgp-ecmp.test.ts: the old vipd leaves BIRD running
 * (held by its keeper, src/bgp/bird-keeper.ts) and the new vipd adopts it,
 * so the router never loses the host's next hop and the client's UDP flows
 * lose nothing. Also: a handoff that no vipd takes over ends with the route
 * withdrawn once the keeper's hold runs out, and a vipd killed outright
 * still takes its BIRD and its route with it at once (the keeper stops BIRD
 * when vipd's connection drops without a handoff).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BGP_LBS as LBS, BgpSite, TEST_ROUTER_BFD } from '../../scripts/bgp-topology.js';
import { HANDOFF_HOLD_MS } from '../../src/daemon/bgp.js';
import { haveCommand } from '../helpers/netns.js';
import { ensureBuilt, skipReason, waitFor } from './fixtures/daemon-site.js';

const why = skipReason ?? (haveCommand('bird') ? undefined : 'needs bird (Debian bird2)');

const birdPid = (site: BgpSite, i: number): number => Number(readFileSync(join(site.dirs[i]!, 'bgp', 'bird.pid'), 'utf8').trim());
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe.skipIf(why !== undefined)('BGP host restart: SIGUSR2 keeps the routes, SIGKILL does not', () => {
  let site: BgpSite | undefined;

  beforeAll(async () => {
    if (why) return;
    ensureBuilt();
    site = await BgpSite.create('bgprst', { routerBfd: TEST_ROUTER_BFD });
    for (let i = 0; i < LBS.length; i++) site.startDaemon(i);
  }, 60_000);

  afterAll(async () => {
    await site?.cleanup();
  });

  const printLogs = () => {
    for (let i = 0; i < LBS.length; i++) console.log(`--- lb${i + 1} vipd log (tail) ---\n${site?.logTail(i, 30) ?? ''}`);
    console.log(site?.routerLog());
  };

  it('SIGUSR2 and a new vipd: the router keeps the host all along, BIRD is adopted, no probe lost', async () => {
    const st = site!;
    let failed = false;
    try {
      await st.waitHops(LBS, performance.now(), 45_000);
      const pidBefore = birdPid(st, 0);
      const probe = st.udpProbe({ sockets: 16, everyMs: 5, durationMs: 6000 });
      await new Promise((r) => setTimeout(r, 500));

      // Watch the router's route through the whole restart.
      let watching = true;
      const seen = new Set<string>();
      const watcher = (async () => {
        // Stops with the test: a failed wait below leaves `watching` set,
        // and the router's namespace goes with the cleanup.
        while (watching && !failed) {
          try {
            seen.add(st.nextHops().join());
          } catch {
            break;
          }
          await new Promise((r) => setTimeout(r, 10));
        }
      })();
      const old = st.daemons[0]!;
      const exited = new Promise<void>((resolve) => old.once('exit', () => resolve()));
      const t0 = performance.now();
      old.kill('SIGUSR2');
      await exited;
      st.startDaemon(0);
      await waitFor('the new vipd to adopt BIRD', () => (st.logTail(0, 200).includes('BIRD adopted from the previous vipd') ? true : undefined), 15_000);
      const adoptedMs = performance.now() - t0;
      await waitFor('the new vipd to announce the VIP', () => {
        const s = JSON.parse(st.vipctl(0, 'status', '--json')) as { bgp: { vips: { announced: boolean }[]; sessions: { up: boolean }[] } };
        return s.bgp.vips.every((v) => v.announced) && s.bgp.sessions.every((x) => x.up) ? true : undefined;
      }, 15_000);
      const restartMs = performance.now() - t0;
      const { flows } = await probe;
      watching = false;
      await watcher;

      expect([...seen], 'next-hop sets the router had during the restart').toEqual([[...LBS].sort().join()]);
      expect(birdPid(st, 0), 'the same BIRD process').toBe(pidBefore);
      const lost = flows.reduce((n, f) => n + f.sent - f.received, 0);
      console.log(`[bgp-restart] SIGUSR2 -> BIRD adopted by the new vipd: ${adoptedMs.toFixed(0)} ms, -> status shows it announcing: ${restartMs.toFixed(0)} ms; router next hops seen: ${[...seen].join(' | ')}; probes lost ${lost}`);
      expect(lost).toBe(0);
      for (const f of flows) expect(f.servers).toHaveLength(1);
    } catch (err) {
      failed = true;
      printLogs();
      throw err;
    }
  }, 60_000);

  it('SIGUSR2 with no vipd after it: the keeper stops BIRD when its hold runs out and the route goes', async () => {
    const st = site!;
    try {
      await st.waitHops(LBS, performance.now(), 30_000);
      const bird = birdPid(st, 1);
      const old = st.daemons[1]!;
      const exited = new Promise<void>((resolve) => old.once('exit', () => resolve()));
      const t0 = performance.now();
      old.kill('SIGUSR2');
      await exited;
      st.daemons[1] = undefined;
      const goneMs = await st.waitHops([LBS[0], LBS[2]], t0, HANDOFF_HOLD_MS + 5000);
      console.log(`[bgp-restart] SIGUSR2, nobody takes over -> route without lb2 after ${goneMs.toFixed(0)} ms (hold ${HANDOFF_HOLD_MS} ms)`);
      expect(goneMs).toBeGreaterThanOrEqual(HANDOFF_HOLD_MS - 500);
      await waitFor('BIRD to exit', () => (alive(bird) ? undefined : true), 5000);
    } catch (err) {
      printLogs();
      throw err;
    }
  }, 60_000);

  it('SIGKILL of vipd (link up): its BIRD stops and the router drops the host at once', async () => {
    const st = site!;
    try {
      await st.waitHops([LBS[0], LBS[2]], performance.now(), 30_000);
      const bird = birdPid(st, 2);
      const t0 = performance.now();
      st.daemons[2]!.kill('SIGKILL');
      const goneMs = await st.waitHops([LBS[0]], t0, 5000);
      console.log(`[bgp-restart] SIGKILL -> route without lb3: ${goneMs.toFixed(0)} ms`);
      await waitFor('BIRD to exit', () => (alive(bird) ? undefined : true), 5000);
    } catch (err) {
      printLogs();
      throw err;
    }
  }, 30_000);
});
