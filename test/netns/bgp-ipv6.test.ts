/**
 * IPv6 end to end over BGP: the BIRD 2 router of bgp-ecmp.test.ts with IPv6
 * on every link, an IPv6 session to each vipd host beside the IPv4 one, and
 * an IPv6 VIP (/128) in the same `announce: bgp` instance as the IPv4 VIP.
 *
 *   client fd98::10 --- router fd98::1 | fd97::1 --- lb1..lb3 fd97::11..13, rs1, rs2 fd97::21..22
 *
 * Shows: the router holds the /128 with a next hop per host (ECMP, the IPv6
 * L4 hash); real TCP connections from the client reach the real servers
 * through it (DR: the servers answer from the VIP on lo, via the router),
 * each connection stays on one real server, and more than one host carries
 * them; vipctl and the metrics show the IPv6 VIP announced; SIGTERM on a host
 * takes its next hop out of the IPv6 route too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BGP_LBS as LBS, BGP_LBS6 as LBS6, BGP_PORT as PORT, BGP_VIP6 as VIP6, BGP_VIP as VIP, BgpSite, TEST_ROUTER_BFD } from '../../scripts/bgp-topology.js';
import { metricSum } from '../../scripts/topology.js';
import { haveCommand } from '../helpers/netns.js';
import { ensureBuilt, skipReason, waitFor } from './fixtures/daemon-site.js';

const why = skipReason ?? (haveCommand('bird') ? undefined : 'needs bird (Debian bird2)');

/** Runs in the client: `conns` TCP connections to [VIP6]:PORT, each sends `lines` lines; one JSON line out. */
const tcpClientScript = (conns: number, lines: number) => `
  const net = require('node:net');
  const results = [];
  const one = (k) => new Promise((resolve) => {
    const r = { servers: new Set(), greeting: '', echoed: 0, error: null };
    const s = net.connect({ host: '${VIP6}', port: ${PORT} });
    const done = () => { s.destroy(); resolve({ servers: [...r.servers], greeting: r.greeting, echoed: r.echoed, error: r.error }); };
    const timer = setTimeout(() => { r.error = r.error || 'timeout'; done(); }, 8000);
    let buf = '', sent = 0;
    const send = () => { if (sent < ${lines}) s.write('line' + k + '-' + sent++ + '\\n'); };
    s.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\\n')) >= 0) {
        const line = buf.slice(0, i); buf = buf.slice(i + 1);
        const [name, ...rest] = line.split(' ');
        r.servers.add(name);
        if (!r.greeting) { r.greeting = rest.join(' '); send(); continue; }
        r.echoed++;
        if (r.echoed === ${lines}) { clearTimeout(timer); done(); } else setTimeout(send, 20);
      }
    });
    s.on('error', (e) => { r.error = e.code || e.message; clearTimeout(timer); done(); });
  });
  Promise.all(Array.from({ length: ${conns} }, (_, k) => one(k))).then((out) => { console.log(JSON.stringify(out)); process.exit(0); });`;

interface ConnResult {
  servers: string[];
  greeting: string;
  echoed: number;
  error: string | null;
}

describe.skipIf(why !== undefined)('BGP over IPv6: a /128 VIP announced and reached through the router', () => {
  let site: BgpSite | undefined;

  beforeAll(async () => {
    if (why) return;
    ensureBuilt();
    site = await BgpSite.create('bgp6', { ipv6: true, routerBfd: TEST_ROUTER_BFD });
    for (let i = 0; i < LBS.length; i++) site.startDaemon(i);
  }, 60_000);

  afterAll(async () => {
    await site?.cleanup();
  });

  it('announces the /128 over IPv6 sessions, spreads real TCP over the hosts, and withdraws it at SIGTERM', async () => {
    const st = site!;
    try {
      // 1. The /128 with a next hop per host (the IPv4 /32 too).
      await waitFor('the router to hold the IPv6 VIP with 3 next hops', () => (st.nextHops(VIP6).length === 3 ? true : undefined), 45_000);
      expect(st.nextHops(VIP6)).toEqual([...LBS6].sort());
      await st.waitHops(LBS, performance.now(), 15_000);
      const route = st.router.ip(['-6', 'route', 'show', `${VIP6}/128`]).trim().replace(/\s+/g, ' ');
      console.log(`[bgp6] router: ${route}`);
      expect(route).toContain('proto bird');
      type Status = { bgp: { sessions: { peer: string; up: boolean }[]; vips: { vip: string; announced: boolean }[] } };
      // The IPv4 session may come up after the IPv6 one that carried the /128.
      const status = await waitFor('every BGP session of lb1 up in vipctl status', () => {
        const st1 = JSON.parse(st.vipctl(0, 'status', '--json')) as Status;
        return st1.bgp.sessions.every((s) => s.up) ? st1 : undefined;
      }, 15_000);
      expect(status.bgp.sessions.map((s) => s.peer)).toContain('fd97::1');
      expect(status.bgp.vips).toContainEqual({ vip: VIP6, announced: true, reason: null });
      expect(metricSum(await st.metrics(0), 'vipd_bgp_announced', { vip: VIP6 })).toBe(1);

      // 2. Real TCP from the client to [VIP6]:PORT, through the router and the hosts' XDP, answered by the real servers.
      const before = await Promise.all(LBS.map((_, i) => st.servicePackets(i, 'web6')));
      const r = await st.client.exec(process.execPath, ['-e', tcpClientScript(24, 5)], { timeoutMs: 20_000 });
      const conns = JSON.parse(r.stdout.trim().split('\n').pop() ?? '[]') as ConnResult[];
      expect(conns).toHaveLength(24);
      for (const c of conns) {
        expect(c.error, JSON.stringify(c)).toBeNull();
        expect(c.greeting).toBe('fd98::10');
        expect(c.echoed).toBe(5);
        expect(c.servers, 'one real server per connection').toHaveLength(1);
      }
      expect(new Set(conns.map((c) => c.servers[0])).size).toBe(2);
      const perHost = (await Promise.all(LBS.map((_, i) => st.servicePackets(i, 'web6')))).map((n, i) => n - (before[i] ?? 0));
      console.log(`[bgp6] IPv6 packets forwarded per host: ${perHost.map((n, i) => `lb${i + 1}=${n}`).join(' ')}`);
      expect(perHost.filter((n) => n > 0).length).toBeGreaterThan(1);

      // 3. SIGTERM on lb3: the IPv6 route loses a next hop (and the IPv4 route lb3).
      const t0 = performance.now();
      st.daemons[2]!.kill('SIGTERM');
      await waitFor('the IPv6 route to lose lb3', () => (st.nextHops(VIP6).length === 2 ? true : undefined), 10_000);
      const goneMs = performance.now() - t0;
      await st.waitHops([LBS[0], LBS[1]], t0, 10_000);
      console.log(`[bgp6] SIGTERM -> IPv6 route with 2 next hops: ${goneMs.toFixed(0)} ms`);
      expect(st.nextHops(VIP6)).toEqual([LBS6[0], LBS6[1]].sort());
      expect(st.nextHops(VIP)).toEqual([LBS[0], LBS[1]].sort());
    } catch (err) {
      for (let i = 0; i < LBS.length; i++) console.log(`--- lb${i + 1} vipd log (tail) ---\n${st.logTail(i, 30)}`);
      console.log(st.routerLog());
      throw err;
    }
  }, 90_000);
});
