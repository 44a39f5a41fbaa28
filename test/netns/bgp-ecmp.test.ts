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
import type { ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricSum, waitLine } from '../../scripts/topology.js';
import { haveCommand, NetnsLab, repoRoot, type Namespace, type NodeChild } from '../helpers/netns.js';
import { ensureBuilt, expectFlowsKept, skipReason, waitFor, type TrafficSummary } from './fixtures/daemon-site.js';

const VIP = '198.51.100.10';
const PORT = 8080;
const ROUTER_CLIENT_SIDE = '10.98.0.1';
const CLIENT = '10.98.0.10';
const ROUTER = '10.97.0.1';
const LBS = ['10.97.0.11', '10.97.0.12', '10.97.0.13'];
const REALS = ['10.97.0.21', '10.97.0.22'];
const AGENT = join(repoRoot(), 'test', 'netns', 'fixtures', 'daemon-traffic.mjs');

const why = skipReason ?? (haveCommand('bird') ? undefined : 'needs bird (Debian bird2)');

/** The real servers' protocol, as daemon-traffic.mjs expects: greet "NAME CLIENT", echo "NAME LINE". */
const realServer = (name: string) => `
  const srv = require('node:net').createServer((s) => {
    s.write('${name} ' + s.remoteAddress + '\\n');
    let buf = '';
    s.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\\n')) >= 0) { s.write('${name} ' + buf.slice(0, i) + '\\n'); buf = buf.slice(i + 1); }
    });
    s.on('error', () => {});
  });
  srv.listen(${PORT}, '0.0.0.0', () => console.log('ready'));`;

const routerConfig = () => `
router id ${ROUTER};
log stderr all;
protocol device { scan time 10; }
protocol kernel {
  ipv4 { import none; export all; };
  merge paths on;
}
protocol bfd { interface "*" { interval 100 ms; multiplier 3; }; }
template bgp vipd {
  local ${ROUTER} as 65000;
  hold time 9;
  connect retry time 1;
  bfd on;
  ipv4 { import all; export none; };
}
${LBS.map((a, i) => `protocol bgp lb${i + 1} from vipd { neighbor ${a} as 65001; }`).join('\n')}
`;

const vipdConfig = (dir: string, pin: string, i: number) => `
bpf: { pin: ${pin}, mode: native }
control: { socket: ${join(dir, 'vipd.sock')}, metrics: 127.0.0.1:9477 }
bgp:
  asn: 65001
  routerId: ${LBS[i]}
  gracePeriod: 2
  runDir: ${join(dir, 'bgp')}
  peers: [{ address: ${ROUTER}, asn: 65000, bfd: true, holdTime: 9 }]
instances:
  - name: edge
    interface: eth0
    announce: bgp
    vips: [${VIP}/32]
services:
  - name: web
    vip: ${VIP}
    port: ${PORT}
    protocol: tcp
    instance: edge
    backends:
      - { address: ${REALS[0]}, weight: 100 }
      - { address: ${REALS[1]}, weight: 100 }
    healthCheck: { type: tcp, interval: 0.2, timeout: 0.2, rise: 1, fall: 2 }
`;

interface RouteJson {
  dst: string;
  gateway?: string;
  nexthops?: { gateway: string }[];
}

describe.skipIf(why !== undefined)('BGP ECMP: three vipd hosts behind a BIRD2 router', () => {
  let lab: NetnsLab;
  let router: Namespace;
  let client: Namespace;
  const lbs: Namespace[] = [];
  const dirs: string[] = [];
  const daemons: (ChildProcess | undefined)[] = [];
  let agent: NodeChild;

  const nextHops = (): string[] => {
    const routes = router.ipJson<RouteJson[]>(['route', 'show', `${VIP}/32`]);
    const r = routes[0];
    if (!r) return [];
    return (r.nexthops?.map((n) => n.gateway) ?? (r.gateway ? [r.gateway] : [])).sort();
  };
  const servicePackets = async (i: number): Promise<number> => {
    const r = await lbs[i]!.exec('curl', ['-sS', '--max-time', '3', 'http://127.0.0.1:9477/metrics'], { timeoutMs: 5000 });
    return metricSum(r.stdout, 'vipd_service_packets_total', { service: 'web' });
  };
  /** Waits until the router's next hops are `want`; returns the milliseconds it took from `t0`. */
  const waitHops = async (want: string[], t0 = performance.now(), timeoutMs = 15_000): Promise<number> => {
    const sorted = [...want].sort();
    while (performance.now() - t0 < timeoutMs) {
      if (nextHops().join() === sorted.join()) return performance.now() - t0;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`router next hops ${JSON.stringify(nextHops())}, wanted ${JSON.stringify(sorted)}`);
  };
  const vipctl = (i: number, ...args: string[]) =>
    lbs[i]!.execSync(process.execPath, [join(repoRoot(), 'bin', 'vipctl'), '--socket', join(dirs[i]!, 'vipd.sock'), ...args]);
  const metricsText = async (i: number): Promise<string> =>
    (await lbs[i]!.exec('curl', ['-sS', '--max-time', '3', 'http://127.0.0.1:9477/metrics'], { timeoutMs: 5000 })).stdout;
  const printLogs = () => {
    for (const [i, d] of dirs.entries()) {
      try {
        console.log(`--- lb${i + 1} vipd log (tail) ---\n${readFileSync(join(d, 'vipd.log'), 'utf8').split('\n').slice(-60).join('\n')}`);
      } catch {
        // no log yet
      }
    }
  };

  beforeAll(async () => {
    if (why) return;
    ensureBuilt();
    lab = new NetnsLab('bgp');
    try {
      const xdpPass = join(repoRoot(), 'out', 'test', 'progs', 'xdp_pass.bpf.o');
      const sw = lab.bridge();
      router = lab.namespace('rt');
      client = lab.namespace('cl');
      lab.veth(client, 'eth0', router, 'eth0');
      client.addr('eth0', `${CLIENT}/24`);
      client.ip(['route', 'add', 'default', 'via', ROUTER_CLIENT_SIDE]);
      // A CHECKSUM_PARTIAL frame that XDP sends back out would arrive with a bad sum (scripts/topology.ts).
      client.execSync('ethtool', ['-K', 'eth0', 'tx', 'off']);
      router.addr('eth0', `${ROUTER_CLIENT_SIDE}/24`);
      router.execSync('sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv4.fib_multipath_hash_policy=1', 'net.ipv4.conf.all.rp_filter=0']);
      let port = 0;
      sw.attach(router, 'eth1');
      sw.ns.ip(['link', 'set', 'dev', `p${port++}`, 'xdpdrv', 'obj', xdpPass, 'sec', 'xdp']);
      router.addr('eth1', `${ROUTER}/24`);
      for (const [i, addr] of LBS.entries()) {
        const ns = lab.namespace(`lb${i + 1}`);
        sw.attach(ns, 'eth0');
        // No unknown-unicast flooding to the LBs: when a host dies the bridge forgets its MAC and
        // would flood its frames to the other LBs, whose XDP would forward them (and hide the failure).
        sw.ns.execSync('bridge', ['link', 'set', 'dev', `p${port}`, 'flood', 'off']);
        sw.ns.ip(['link', 'set', 'dev', `p${port++}`, 'xdpdrv', 'obj', xdpPass, 'sec', 'xdp']);
        ns.addr('eth0', `${addr}/24`);
        lbs.push(ns);
        dirs.push(lab.tmpDir());
      }
      const servers: ChildProcess[] = [];
      for (const [i, addr] of REALS.entries()) {
        const ns = lab.namespace(`rs${i + 1}`);
        sw.attach(ns, 'eth0');
        sw.ns.ip(['link', 'set', 'dev', `p${port++}`, 'xdpdrv', 'obj', xdpPass, 'sec', 'xdp']);
        ns.addr('eth0', `${addr}/24`);
        ns.ip(['route', 'add', 'default', 'via', ROUTER]);
        ns.addr('lo', `${VIP}/32`);
        ns.execSync('sysctl', ['-qw', 'net.ipv4.conf.all.arp_ignore=1', 'net.ipv4.conf.all.arp_announce=2', 'net.ipv4.conf.eth0.arp_ignore=1', 'net.ipv4.conf.eth0.arp_announce=2']);
        servers.push(ns.spawn(process.execPath, ['-e', realServer(`rs${i + 1}`)]));
      }
      await Promise.all(servers.map((c) => waitLine(c, 'ready')));
      // The LBs know the real servers' MACs before the first health check.
      for (const lb of lbs) for (const a of REALS) await lb.exec('ping', ['-c', '1', '-W', '1', a]);

      const rdir = lab.tmpDir();
      writeFileSync(join(rdir, 'bird.conf'), routerConfig());
      const bird = router.spawn('bird', ['-f', '-c', join(rdir, 'bird.conf'), '-s', join(rdir, 'bird.ctl'), '-P', join(rdir, 'bird.pid')]);
      bird.stderr?.pipe(createWriteStream(join(rdir, 'bird.log')));

      for (const [i, lb] of lbs.entries()) {
        const dir = dirs[i]!;
        writeFileSync(join(dir, 'vipd.yaml'), vipdConfig(dir, lab.bpffs(), i));
        const child = lb.spawn(process.execPath, [join(repoRoot(), 'bin', 'vipd'), '--config', join(dir, 'vipd.yaml')]);
        const log = createWriteStream(join(dir, 'vipd.log'), { flags: 'a' });
        child.stdout?.pipe(log);
        child.stderr?.pipe(log);
        daemons.push(child);
      }
      agent = client.node(AGENT);
    } catch (err) {
      printLogs();
      await lab.cleanup();
      throw err;
    }
  }, 60_000);

  afterAll(async () => {
    if (why) return;
    await agent?.stop().catch(() => undefined);
    for (const d of daemons) if (d && d.exitCode === null) d.kill('SIGKILL');
    await lab?.cleanup();
  });

  it('spreads flows over the hosts with one real server per flow; SIGTERM withdraws the route before the daemon exits', async () => {
    try {
      // 1. One route, a next hop per vipd host.
      await waitFor('the router to hold the VIP with 3 next hops', () => (nextHops().length === 3 ? true : undefined), 45_000);
      expect(nextHops()).toEqual([...LBS].sort());
      console.log(`[bgp] router: ${router.ip(['route', 'show', `${VIP}/32`]).trim().replace(/\s+/g, ' ')}`);

      // 2. Connections from many client ports spread over the hosts; each stays on one real server.
      const before = await Promise.all(LBS.map((_, i) => servicePackets(i)));
      await agent.call('start', { host: VIP, port: PORT, conns: 24, intervalMs: 50, maxMs: 40_000 }, 20_000);
      const flowing = await waitFor('every connection answered 5 lines', async () => {
        const s = await agent.call<TrafficSummary>('snapshot', {});
        return s.conns.length === 24 && s.conns.every((c) => c.answered >= 5) ? s : undefined;
      });
      expectFlowsKept(flowing);
      const perHost = (await Promise.all(LBS.map((_, i) => servicePackets(i)))).map((n, i) => n - (before[i] ?? 0));
      console.log(`[bgp] packets forwarded per host (XDP counters): ${perHost.map((n, i) => `lb${i + 1}=${n}`).join(' ')}`);
      expect(perHost.filter((n) => n > 0).length).toBeGreaterThan(1);
      const servers = new Set(flowing.conns.map((c) => c.server));
      expect(servers.size).toBe(2);
      const m = await metricsText(0);
      expect(metricSum(m, 'vipd_bgp_session_up', { peer: ROUTER })).toBe(1);
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
      const after = await agent.call<TrafficSummary>('snapshot', { resetGaps: true });
      await waitFor('every connection answered 5 more lines', async () => {
        const s = await agent.call<TrafficSummary>('snapshot', {});
        return s.conns.every((c, i) => c.answered >= (after.conns[i]?.answered ?? 0) + 5) ? s : undefined;
      });
      const graceful = await agent.call<TrafficSummary>('snapshot', { resetGaps: true });
      expectFlowsKept(graceful);
      console.log(`[bgp] graceful stop: longest gap between answers ${Math.max(0, ...graceful.conns.map((c) => c.maxGapMs))} ms over ${graceful.conns.length} connections`);

      // 6. lb2 dies: its link goes down and vipd is SIGKILLed. BFD (100 ms x 3) tells the router.
      t = performance.now();
      lbs[1]!.ip(['link', 'set', 'eth0', 'down']);
      daemons[1]!.kill('SIGKILL');
      const deadMs = await waitHops([LBS[0]!], t);
      await waitFor('every connection answered 5 more lines after lb2 died', async () => {
        const s = await agent.call<TrafficSummary>('snapshot', {});
        return s.conns.every((c, i) => c.answered >= (graceful.conns[i]?.answered ?? 0) + 5) ? s : undefined;
      });
      const end = await agent.call<TrafficSummary>('stop', { settleMs: 300 });
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
      const st = JSON.parse(vipctl(0, 'status', '--json')) as { bgp?: { vips: { vip: string; reason: string | null }[] } };
      expect(st.bgp?.vips).toEqual([{ vip: VIP, announced: false, reason: 'no healthy backend' }]);
      for (const a of REALS) lbs[0]!.ip(['route', 'del', 'blackhole', `${a}/32`]);
      await waitHops([LBS[0]!], performance.now(), 10_000);
      console.log(`[bgp] backends unreachable from lb1 -> route gone: ${unhealthyMs.toFixed(0)} ms (health checks 0.2 s x fall 2)`);

      // 8. Reload lb1 to announce: [vrrp, bgp]: the VIP is announced once lb1 is VRRP MASTER (alone, after Master_Down).
      const cfgPath = join(dirs[0]!, 'vipd.yaml');
      writeFileSync(cfgPath, readFileSync(cfgPath, 'utf8').replace('    announce: bgp\n', '    announce: [vrrp, bgp]\n    vrid: 7\n    advertInterval: 0.1\n'));
      t = performance.now();
      expect(vipctl(0, 'reload')).toContain('instance edge changed');
      const vrrpMs = await waitHops([LBS[0]!], t, 10_000);
      const st2 = JSON.parse(vipctl(0, 'status', '--json')) as { instances: { name: string; state: string }[] };
      expect(st2.instances).toMatchObject([{ name: 'edge', state: 'MASTER' }]);
      // Withdrawn while it was not MASTER yet, announced again once it was.
      const log = await waitFor('the log to say announcing after MASTER', () => {
        const text = readFileSync(join(dirs[0]!, 'vipd.log'), 'utf8');
        const at = text.lastIndexOf('"why":"not VRRP MASTER"');
        return at > 0 && text.indexOf('BGP: announcing', at) > at ? text : undefined;
      }, 3000).catch((err: Error) => {
        console.log(readFileSync(join(dirs[0]!, 'vipd.log'), 'utf8').split('\n').slice(-25).join('\n'));
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
