/**
 * FRR 8 as the ToR (Debian `frr`: zebra, bgpd and bfdd run in the router
 * namespace with their own config files, no systemd, no watchfrr), the
 * config docs/bgp.md prints (scripts/bgp-topology.ts routerFrrConfig):
 * three vipd hosts announce the VIP, FRR installs one route with a next hop
 * per host (eBGP multipath), client connections spread over the hosts and
 * keep their real server, SIGTERM withdraws a host before vipd exits, a
 * host whose link goes down is dropped through FRR's BFD, and a host whose
 * backends all fail is withdrawn.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BGP_LBS as LBS, BGP_PORT as PORT, BGP_REALS as REALS, BGP_VIP as VIP, BgpSite, TEST_ROUTER_BFD, FRR_DIR } from '../../scripts/bgp-topology.js';
import { haveCommand, type NodeChild } from '../helpers/netns.js';
import { ensureBuilt, expectFlowsKept, skipReason, waitFor, type TrafficSummary } from './fixtures/daemon-site.js';

const why =
  skipReason ??
  (!haveCommand('bird') ? 'needs bird (Debian bird2: vipd speaks BGP through it)' : undefined) ??
  (existsSync(`${FRR_DIR}/bgpd`) && haveCommand('vtysh') ? undefined : 'needs FRR (Debian frr)');

describe.skipIf(why !== undefined)('BGP ECMP: three vipd hosts behind an FRR router', () => {
  let site: BgpSite | undefined;
  let agent: NodeChild | undefined;
  const printLogs = () => {
    for (let i = 0; i < LBS.length; i++) console.log(`--- lb${i + 1} vipd log (tail) ---\n${site?.logTail(i, 30) ?? ''}`);
    console.log(site?.routerLog());
  };

  beforeAll(async () => {
    if (why) return;
    ensureBuilt();
    site = await BgpSite.create('bgpfrr', { tor: 'frr', routerBfd: TEST_ROUTER_BFD });
    for (let i = 0; i < LBS.length; i++) site.startDaemon(i);
    agent = site.trafficAgent();
  }, 60_000);

  afterAll(async () => {
    await agent?.stop().catch(() => undefined);
    await site?.cleanup();
  });

  it('multipath route from FRR, flows kept on their real server, SIGTERM / BFD / no backend withdraw the host', async () => {
    const st = site!;
    try {
      // 1. FRR has a session per host and one multipath route.
      await st.waitHops(LBS, performance.now(), 45_000);
      const summary = st.vtysh('show bgp ipv4 unicast summary');
      for (const a of LBS) expect(summary).toMatch(new RegExp(`^${a.replace(/\./g, '\\.')}\\s.*\\s1\\s+0\\s+N/A`, 'm'));
      // BGP does not wait for BFD: bfdd's sessions come up on their own
      // clock (BIRD's side sends at 1 s until Up), so wait for every one.
      // Step 4 needs lb2's session up for BFD to drop it.
      await waitFor('FRR BFD session up with every host', () => {
        const peers = st.vtysh('show bfd peers brief');
        return LBS.every((a) => new RegExp(`\\s${a.replace(/\./g, '\\.')}\\s+up\\b`, 'm').test(peers)) ? true : undefined;
      }, 20_000, 200);
      console.log(`[frr] router: ${st.router.ip(['route', 'show', `${VIP}/32`]).trim().replace(/\s+/g, ' ')}`);

      // 2. Client connections over the hosts, one real server each.
      const before = await Promise.all(LBS.map((_, i) => st.servicePackets(i)));
      await agent!.call('start', { host: VIP, port: PORT, conns: 24, intervalMs: 50, maxMs: 40_000 }, 20_000);
      const flowing = await waitFor('every connection answered 5 lines', async () => {
        const s = await agent!.call<TrafficSummary>('snapshot', {});
        return s.conns.length === 24 && s.conns.every((c) => c.answered >= 5) ? s : undefined;
      });
      expectFlowsKept(flowing);
      const perHost = (await Promise.all(LBS.map((_, i) => st.servicePackets(i)))).map((n, i) => n - (before[i] ?? 0));
      console.log(`[frr] packets forwarded per host: ${perHost.map((n, i) => `lb${i + 1}=${n}`).join(' ')}`);
      expect(perHost.filter((n) => n > 0).length).toBeGreaterThan(1);

      // 3. SIGTERM on lb3: FRR's route loses lb3 before vipd exits; the connections go on.
      const victim = st.daemons[2]!;
      let exitedAt = 0;
      const exited = new Promise<void>((resolve) => victim.once('exit', () => ((exitedAt = performance.now()), resolve())));
      const t0 = performance.now();
      victim.kill('SIGTERM');
      const goneMs = await st.waitHops([LBS[0], LBS[1]], t0);
      const goneAt = t0 + goneMs;
      await exited;
      st.daemons[2] = undefined;
      expect(goneAt).toBeLessThan(exitedAt);
      console.log(`[frr] SIGTERM -> route without lb3: ${goneMs.toFixed(0)} ms; vipd exited after ${(exitedAt - t0).toFixed(0)} ms`);

      // 4. lb2's link goes down and vipd is killed: FRR's BFD (TEST_ROUTER_BFD) drops it.
      const t1 = performance.now();
      st.lbs[1]!.ip(['link', 'set', 'eth0', 'down']);
      st.daemons[1]!.kill('SIGKILL');
      const deadMs = await st.waitHops([LBS[0]], t1);
      console.log(`[frr] lb2 link down + SIGKILL -> route without lb2: ${deadMs.toFixed(0)} ms`);
      const mark = await agent!.call<TrafficSummary>('snapshot', {});
      await waitFor('every connection answered 5 more lines through lb1', async () => {
        const s = await agent!.call<TrafficSummary>('snapshot', {});
        return s.conns.every((c, i) => c.answered >= (mark.conns[i]?.answered ?? 0) + 5) ? s : undefined;
      });
      expectFlowsKept(await agent!.call<TrafficSummary>('stop', { settleMs: 300 }));

      // 5. Every backend unreachable from lb1: withdrawn, the route is gone.
      for (const a of REALS) st.lbs[0]!.ip(['route', 'add', 'blackhole', `${a}/32`]);
      await st.waitHops([], performance.now(), 10_000);
      for (const a of REALS) st.lbs[0]!.ip(['route', 'del', 'blackhole', `${a}/32`]);
      await st.waitHops([LBS[0]], performance.now(), 10_000);
    } catch (err) {
      printLogs();
      throw err;
    }
  }, 120_000);
});
