/**
 * Active-active over BGP, with a real router: BIRD2 in a router namespace
 * is the ToR, doing ECMP with an L4 hash (fib_multipath_hash_policy=1,
 * `merge paths on`). Three vipd hosts announce the VIP (announce: bgp); two
 * real servers answer the client directly (DR: the VIP on lo, arp_ignore).
 *
 *   client 10.98.0.10 --- router 10.98.0.1 | 10.97.0.1 --- bridge --- lb1..lb3 10.97.0.11..13
 *                                                                  \-- rs1, rs2 10.97.0.21..22 (default via the router)
 *
 * Shows: the router holds one route with a next hop per vipd host; TCP
 * connections from many client ports spread over more than one host (the
 * hosts' own XDP counters) and every answer of a connection comes from one
 * real server; SIGTERM on a host withdraws its route (the router's route
 * loses that next hop) before the daemon exits, and the connections it
 * carried go on through the other hosts to the same real servers. Also:
 * `vipctl drain-host` and a host whose backends all fail its health checks
 * withdraw that host's route, and a host that dies (link down and SIGKILL)
 * is dropped by the router through BFD; the client's longest gap is printed.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BGP_LBS as LBS, BGP_PORT as PORT, BGP_REALS as REALS, BGP_VIP as VIP, BgpSite, TEST_ROUTER_BFD, ROUTER } from '../../scripts/bgp-topology.js';
import { metricSum } from '../../scripts/topology.js';
import { haveCommand, type NodeChild } from '../helpers/netns.js';
import { ensureBuilt, expectFlowsKept, skipReason, waitFor, type TrafficSummary } from './fixtures/daemon-site.js';

const why = skipReason ?? (haveCommand('bird') ? undefined : 'needs bird (Debian bird2)');

describe.skipIf(why !== undefined)('BGP ECMP: three vipd hosts behind a BIRD2 router', () => {
  let site: BgpSite | undefined;
  let agent: NodeChild | undefined;
  const printLogs = () => {
    for (let i = 0; i < LBS.length; i++) console.log(`--- lb${i + 1} vipd log (tail) ---\n${site?.logTail(i) ?? ''}`);
  };

  beforeAll(async () => {
    if (why) return;
    ensureBuilt();
    site = await BgpSite.create('bgp', { routerBfd: TEST_ROUTER_BFD });
    for (let i = 0; i < LBS.length; i++) site.startDaemon(i);
    agent = site.trafficAgent();
  }, 60_000);

  afterAll(async () => {
    await agent?.stop().catch(() => undefined);
    await site?.cleanup();
  });

  it('spreads flows over the hosts with one real server per flow; SIGTERM withdraws the route before the daemon exits', async () => {
    try {
      const st = site!;
      const lbs = st.lbs;
      const daemons = st.daemons;
      const nextHops = () => st.nextHops();
      const waitHops = (want: readonly string[], t0?: number, timeoutMs?: number) => st.waitHops(want, t0, timeoutMs);
      const vipctl = (i: number, ...args: string[]) => st.vipctl(i, ...args);
      const metricsText = (i: number) => st.metrics(i);
      const servicePackets = (i: number) => st.servicePackets(i);
      const traffic = agent!;
      // 1. One route, a next hop per vipd host.
      await waitFor('the router to hold the VIP with 3 next hops', () => (nextHops().length === 3 ? true : undefined), 45_000);
      expect(nextHops()).toEqual([...LBS].sort());
      console.log(`[bgp] router: ${st.router.ip(['route', 'show', `${VIP}/32`]).trim().replace(/\s+/g, ' ')}`);

      // 2. Connections from many client ports spread over the hosts; each stays on one real server.
      const before = await Promise.all(LBS.map((_, i) => servicePackets(i)));
      await traffic.call('start', { host: VIP, port: PORT, conns: 24, intervalMs: 50, maxMs: 40_000 }, 20_000);
      const flowing = await waitFor('every connection answered 5 lines', async () => {
        const s = await traffic.call<TrafficSummary>('snapshot', {});
        return s.conns.length === 24 && s.conns.every((c) => c.answered >= 5) ? s : undefined;
      });
      expectFlowsKept(flowing);
      const perHost = (await Promise.all(LBS.map((_, i) => servicePackets(i)))).map((n, i) => n - (before[i] ?? 0));
      console.log(`[bgp] packets forwarded per host (XDP counters): ${perHost.map((n, i) => `lb${i + 1}=${n}`).join(' ')}`);
      expect(perHost.filter((n) => n > 0).length).toBeGreaterThan(1);
      const servers = new Set(flowing.conns.map((c) => c.server));
      expect(servers.size).toBe(2);
      // vipd reads BIRD's session state on its own schedule: it may trail the router's route.
      const m = await waitFor('lb1 to report its BGP session up', async () => {
        const text = await metricsText(0);
        return metricSum(text, 'vipd_bgp_session_up', { peer: ROUTER }) === 1 ? text : undefined;
      }, 15_000);
      expect(metricSum(m, 'vipd_bgp_announced', { vip: VIP })).toBe(1);

      // 3. vipctl drain-host withdraws lb1's route; undrain-host announces it again.
      let t = performance.now();
      expect(vipctl(0, 'drain-host')).toContain('host drained');
      const drainMs = await waitHops([LBS[1]!, LBS[2]!], t);
      expect(metricSum(await metricsText(0), 'vipd_bgp_announced', { vip: VIP })).toBe(0);
      t = performance.now();
      vipctl(0, 'undrain-host');
      const undrainMs = await waitHops(LBS, t);
      console.log(`[bgp] drain-host -> route without lb1: ${drainMs.toFixed(0)} ms; undrain-host -> lb1 back: ${undrainMs.toFixed(0)} ms`);

      // 4. SIGTERM on lb3: the router's route loses lb3 before vipd exits.
      const victim = daemons[2]!;
      let exitedAt = 0;
      const exited = new Promise<void>((resolve) => victim.once('exit', () => ((exitedAt = performance.now()), resolve())));
      const t0 = performance.now();
      victim.kill('SIGTERM');
      let goneAt = 0;
      while (performance.now() - t0 < 15_000) {
        if (!nextHops().includes(LBS[2]!)) {
          goneAt = performance.now();
          break;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      await exited;
      daemons[2] = undefined;
      console.log(
        `[bgp] SIGTERM -> router route without lb3: ${(goneAt - t0).toFixed(0)} ms; SIGTERM -> vipd exited: ${(exitedAt - t0).toFixed(0)} ms`,
      );
      expect(goneAt).toBeGreaterThan(0);
      expect(goneAt).toBeLessThan(exitedAt);
      expect(nextHops()).toEqual([LBS[0], LBS[1]].sort());

      // 5. The connections lb3 carried go on through lb1/lb2, to the same real server (one Maglev table everywhere).
      const after = await traffic.call<TrafficSummary>('snapshot', { resetGaps: true });
      await waitFor('every connection answered 5 more lines', async () => {
        const s = await traffic.call<TrafficSummary>('snapshot', {});
        return s.conns.every((c, i) => c.answered >= (after.conns[i]?.answered ?? 0) + 5) ? s : undefined;
      });
      const graceful = await traffic.call<TrafficSummary>('snapshot', { resetGaps: true });
      expectFlowsKept(graceful);
      console.log(`[bgp] graceful stop: longest gap between answers ${Math.max(0, ...graceful.conns.map((c) => c.maxGapMs))} ms over ${graceful.conns.length} connections`);

      // 6. lb2 dies: its link goes down and vipd is SIGKILLed. BFD (TEST_ROUTER_BFD: 300 ms x 5 on the router, 100 ms x 3 on the host) tells the router.
      // UDP flows (16 source ports, a probe every 5 ms) measure each flow's longest gap; TCP's is RTO-bound.
      const udpBefore = metricSum(await metricsText(1), 'vipd_service_packets_total', { service: 'web-udp' });
      const probe = st.udpProbe({ sockets: 16, everyMs: 5, durationMs: 6000 });
      await waitFor('UDP probes through lb2', async () =>
        metricSum(await metricsText(1), 'vipd_service_packets_total', { service: 'web-udp' }) > udpBefore + 200 ? true : undefined,
      );
      t = performance.now();
      const killedAt = Date.now();
      lbs[1]!.ip(['link', 'set', 'eth0', 'down']);
      daemons[1]!.kill('SIGKILL');
      const deadMs = await waitHops([LBS[0]!], t);
      const { flows, endedAt } = await probe;
      // The probes must outlast the failure, or the dead host's flows show no gap at all.
      expect(endedAt - killedAt, 'the UDP probes ended too soon after the kill (a loaded host?)').toBeGreaterThan(deadMs + 1000);
      for (const f of flows) expect(f.servers.length, JSON.stringify(f)).toBe(1);
      console.log(
        `[bgp] lb2 dead: longest UDP gap per flow ${Math.max(...flows.map((f) => f.maxGapMs))} ms ` +
          `(16 flows, ${flows.reduce((n, f) => n + f.sent - f.received, 0)} of ${flows.reduce((n, f) => n + f.sent, 0)} probes lost)`,
      );
      await waitFor('every connection answered 5 more lines after lb2 died', async () => {
        const s = await traffic.call<TrafficSummary>('snapshot', {});
        return s.conns.every((c, i) => c.answered >= (graceful.conns[i]?.answered ?? 0) + 5) ? s : undefined;
      });
      const end = await traffic.call<TrafficSummary>('stop', { settleMs: 300 });
      expectFlowsKept(end);
      console.log(
        `[bgp] lb2 link down + SIGKILL -> router route without lb2: ${deadMs.toFixed(0)} ms; ` +
          `client's longest gap between answers ${Math.max(0, ...end.conns.map((c) => c.maxGapMs))} ms over ${end.conns.length} connections`,
      );

      // 7. Every backend failing lb1's health checks (after the traffic: while flows run, a host whose own
      // checks disagree with the others' remaps its flows; docs/bgp.md) withdraws lb1; back when they pass.
      for (const a of REALS) lbs[0]!.ip(['route', 'add', 'blackhole', `${a}/32`]);
      t = performance.now();
      const unhealthyMs = await waitHops([], t, 10_000);
      const status = JSON.parse(vipctl(0, 'status', '--json')) as { bgp?: { vips: { vip: string; reason: string | null }[] } };
      expect(status.bgp?.vips).toEqual([{ vip: VIP, announced: false, reason: 'no healthy backend' }]);
      for (const a of REALS) lbs[0]!.ip(['route', 'del', 'blackhole', `${a}/32`]);
      await waitHops([LBS[0]!], performance.now(), 10_000);
      console.log(`[bgp] backends unreachable from lb1 -> route gone: ${unhealthyMs.toFixed(0)} ms (health checks 0.2 s x fall 2)`);

      // 8. Reload lb1 to announce: [vrrp, bgp]: the VIP is announced once lb1 is VRRP MASTER (alone, after Master_Down).
      const cfgPath = st.configPath(0);
      writeFileSync(cfgPath, readFileSync(cfgPath, 'utf8').replace('    announce: bgp\n', '    announce: [vrrp, bgp]\n    vrid: 7\n    advertInterval: 0.1\n'));
      t = performance.now();
      expect(vipctl(0, 'reload')).toContain('instance edge changed');
      const vrrpMs = await waitHops([LBS[0]!], t, 10_000);
      const st2 = JSON.parse(vipctl(0, 'status', '--json')) as { instances: { name: string; state: string }[] };
      expect(st2.instances).toMatchObject([{ name: 'edge', state: 'MASTER' }]);
      // Withdrawn while it was not MASTER yet, announced again once it was.
      const log = await waitFor('the log to say announcing after MASTER', () => {
        const text = readFileSync(st.logPath(0), 'utf8');
        const at = text.lastIndexOf('"why":"not VRRP MASTER"');
        return at > 0 && text.indexOf('BGP: announcing', at) > at ? text : undefined;
      }, 3000).catch((err: Error) => {
        console.log(readFileSync(st.logPath(0), 'utf8').split('\n').slice(-25).join('\n'));
        throw err;
      });
      expect(log).toContain('edge: BACKUP -> MASTER');
      console.log(`[bgp] reload to announce: [vrrp, bgp] -> MASTER and announced: ${vrrpMs.toFixed(0)} ms`);
    } catch (err) {
      printLogs();
      throw err;
    }
  }, 90_000);
});
