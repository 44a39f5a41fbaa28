/**
 * A BGP test site in network namespaces: a router (BIRD 2, ECMP with an L4
 * hash) between a client and a segment with three vipd hosts announcing one
 * VIP over BGP and two real servers answering the client directly (DR).
 * test/netns/bgp-ecmp.test.ts and `npm run demo -- --bgp` build on it.
 * Everything it makes is removed by cleanup() (and by the lab's exit hooks).
 *
 *   client 10.98.0.10 --- router 10.98.0.1 | 10.97.0.1 --- bridge --- lb1..lb3 10.97.0.11..13
 *                                                                  \-- rs1, rs2 10.97.0.21..22 (default via the router)
 */
import type { ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../src/native.js';
import { NetnsLab, type Bridge, type Namespace, type NodeChild } from '../test/helpers/netns.js';
import { metricSum, waitLine } from './topology.js';

export const BGP_VIP = '198.51.100.10';
export const BGP_PORT = 8080;
export const ROUTER_CLIENT_SIDE = '10.98.0.1';
export const BGP_CLIENT = '10.98.0.10';
export const ROUTER = '10.97.0.1';
export const BGP_LBS = ['10.97.0.11', '10.97.0.12', '10.97.0.13'] as const;
export const BGP_REALS = ['10.97.0.21', '10.97.0.22'] as const;

/**
 * The real servers: TCP as test/netns/fixtures/daemon-traffic.mjs expects (greet "NAME CLIENT",
 * echo "NAME LINE"); UDP on the VIP answers "NAME PAYLOAD".
 */
const realServer = (name: string) => `
  const udp = require('node:dgram').createSocket('udp4');
  udp.on('message', (m, r) => udp.send(Buffer.concat([Buffer.from('${name} '), m]), r.port, r.address));
  udp.bind(${BGP_PORT}, '${BGP_VIP}');
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
  srv.listen(${BGP_PORT}, '0.0.0.0', () => console.log('ready'));`;

/** The ToR: a BGP session per vipd host with BFD, equal routes merged into one multipath kernel route. */
export const routerBirdConfig = (): string => `
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
  # A session that failed (BFD down) may come back within seconds, not BIRD's default 60 s.
  error wait time 1, 10;
  bfd on;
  ipv4 { import all; export none; };
}
${BGP_LBS.map((a, i) => `protocol bgp lb${i + 1} from vipd { neighbor ${a} as 65001; }`).join('\n')}
`;

/** A UDP probe run: wall-clock start and end (ms since the epoch), and each flow. */
export interface UdpProbeResult {
  startedAt: number;
  endedAt: number;
  flows: UdpFlowResult[];
}

/** Per flow (one UDP socket = one source port = one ECMP path): the longest gap between answers and who answered. */
export interface UdpFlowResult {
  sent: number;
  received: number;
  maxGapMs: number;
  servers: string[];
}

/** Runs in the client: `sockets` UDP flows, a probe every `everyMs` each, for `durationMs`; prints one JSON line. */
const udpProbeScript = (sockets: number, everyMs: number, durationMs: number) => `
  const dgram = require('node:dgram');
  const { performance } = require('node:perf_hooks');
  const flows = [];
  const startedAt = Date.now();
  for (let k = 0; k < ${sockets}; k++) {
    const f = { sent: 0, received: 0, maxGapMs: 0, last: 0, servers: new Set(), sock: dgram.createSocket('udp4') };
    f.sock.on('message', (m) => {
      const t = performance.now();
      f.received++;
      f.servers.add(String(m).split(' ')[0]);
      f.maxGapMs = Math.max(f.maxGapMs, t - f.last);
      f.last = t;
    });
    f.sock.bind(0);
    flows.push(f);
  }
  // A gap counts from the first probe: a flow whose first answers are lost shows it too.
  const firstAt = performance.now();
  for (const f of flows) f.last = firstAt;
  const tick = setInterval(() => { for (const f of flows) { f.sent++; f.sock.send(String(f.sent), ${BGP_PORT}, '${BGP_VIP}'); } }, ${everyMs});
  setTimeout(() => {
    clearInterval(tick);
    // A flow still silent when the probes stop: its silence so far counts as a gap too.
    const end = performance.now();
    const endedAt = Date.now();
    for (const f of flows) f.maxGapMs = Math.max(f.maxGapMs, end - f.last);
    setTimeout(() => {
      const out = flows.map((f) => ({ sent: f.sent, received: f.received, maxGapMs: Math.round(f.maxGapMs), servers: [...f.servers] }));
      console.log(JSON.stringify({ startedAt, endedAt, flows: out }));
      process.exit(0);
    }, 300);
  }, ${durationMs});`;

interface RouteJson {
  gateway?: string;
  nexthops?: { gateway: string }[];
}

export class BgpSite {
  readonly lab: NetnsLab;
  readonly sw: Bridge;
  readonly router: Namespace;
  readonly client: Namespace;
  readonly lbs: Namespace[] = [];
  readonly reals: Namespace[] = [];
  readonly dirs: string[] = [];
  readonly pins: string[] = [];
  readonly daemons: (ChildProcess | undefined)[] = [];

  private constructor(label: string) {
    this.lab = new NetnsLab(label);
    this.sw = this.lab.bridge();
    this.router = this.lab.namespace('rt');
    this.client = this.lab.namespace('cl');
  }

  /** Builds the namespaces, links, router (BIRD running) and real servers; no vipd yet. */
  static async create(label = 'bgp'): Promise<BgpSite> {
    const site = new BgpSite(label);
    try {
      await site.wire();
    } catch (err) {
      await site.lab.cleanup();
      throw err;
    }
    return site;
  }

  private async wire(): Promise<void> {
    const xdpPass = join(packageRoot(), 'out', 'test', 'progs', 'xdp_pass.bpf.o');
    const { lab, sw, router, client } = this;
    lab.veth(client, 'eth0', router, 'eth0');
    client.addr('eth0', `${BGP_CLIENT}/24`);
    client.ip(['route', 'add', 'default', 'via', ROUTER_CLIENT_SIDE]);
    // A CHECKSUM_PARTIAL frame that XDP sends back out would arrive with a bad sum (scripts/topology.ts).
    client.execSync('ethtool', ['-K', 'eth0', 'tx', 'off']);
    router.addr('eth0', `${ROUTER_CLIENT_SIDE}/24`);
    router.execSync('sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv4.fib_multipath_hash_policy=1', 'net.ipv4.conf.all.rp_filter=0']);
    let port = 0;
    // XDP_TX out of a veth reaches the peer only when the peer runs an XDP program.
    const bridgePort = (opts: { flood?: boolean } = {}) => {
      if (opts.flood === false) sw.ns.execSync('bridge', ['link', 'set', 'dev', `p${port}`, 'flood', 'off']);
      sw.ns.ip(['link', 'set', 'dev', `p${port++}`, 'xdpdrv', 'obj', xdpPass, 'sec', 'xdp']);
    };
    sw.attach(router, 'eth1');
    bridgePort();
    router.addr('eth1', `${ROUTER}/24`);
    for (const [i, addr] of BGP_LBS.entries()) {
      const ns = lab.namespace(`lb${i + 1}`);
      sw.attach(ns, 'eth0');
      // No unknown-unicast flooding to the LBs: when a host dies the bridge forgets its MAC and
      // would flood its frames to the other LBs, whose XDP would forward them (and hide the failure).
      bridgePort({ flood: false });
      ns.addr('eth0', `${addr}/24`);
      this.lbs.push(ns);
      this.dirs.push(lab.tmpDir());
      this.pins.push(lab.bpffs());
    }
    const servers: ChildProcess[] = [];
    for (const [i, addr] of BGP_REALS.entries()) {
      const ns = lab.namespace(`rs${i + 1}`);
      sw.attach(ns, 'eth0');
      bridgePort();
      ns.addr('eth0', `${addr}/24`);
      ns.ip(['route', 'add', 'default', 'via', ROUTER]);
      ns.addr('lo', `${BGP_VIP}/32`);
      ns.execSync('sysctl', [
        '-qw',
        'net.ipv4.conf.all.arp_ignore=1',
        'net.ipv4.conf.all.arp_announce=2',
        'net.ipv4.conf.eth0.arp_ignore=1',
        'net.ipv4.conf.eth0.arp_announce=2',
      ]);
      servers.push(ns.spawn(process.execPath, ['-e', realServer(`rs${i + 1}`)]));
      this.reals.push(ns);
    }
    await Promise.all(servers.map((c) => waitLine(c, 'ready')));
    // The LBs know the real servers' MACs before the first health check.
    for (const lb of this.lbs) for (const a of BGP_REALS) await lb.exec('ping', ['-c', '1', '-W', '1', a]);
    const rdir = lab.tmpDir();
    writeFileSync(join(rdir, 'bird.conf'), routerBirdConfig());
    const bird = router.spawn('bird', ['-f', '-c', join(rdir, 'bird.conf'), '-s', join(rdir, 'bird.ctl'), '-P', join(rdir, 'bird.pid')]);
    bird.stderr?.pipe(createWriteStream(join(rdir, 'bird.log')));
  }

  configPath(i: number): string {
    return join(this.dirs[i]!, 'vipd.yaml');
  }

  logPath(i: number): string {
    return join(this.dirs[i]!, 'vipd.log');
  }

  socket(i: number): string {
    return join(this.dirs[i]!, 'vipd.sock');
  }

  /** Host i's vipd config: one `announce: bgp` instance, a TCP service with both real servers. */
  config(i: number): string {
    const dir = this.dirs[i]!;
    return `# vipd config for lb${i + 1} (written by scripts/bgp-topology.ts)
bpf: { pin: ${this.pins[i]}, mode: native }
control: { socket: ${this.socket(i)}, metrics: 127.0.0.1:9477 }
bgp:
  asn: 65001
  routerId: ${BGP_LBS[i]}
  gracePeriod: 2
  runDir: ${join(dir, 'bgp')}
  peers: [{ address: ${ROUTER}, asn: 65000, bfd: true, holdTime: 9 }]
instances:
  - name: edge
    interface: eth0
    announce: bgp
    vips: [${BGP_VIP}/32]
services:
  - name: web
    vip: ${BGP_VIP}
    port: ${BGP_PORT}
    protocol: tcp
    instance: edge
    backends:
      - { address: ${BGP_REALS[0]}, weight: 100 }
      - { address: ${BGP_REALS[1]}, weight: 100 }
    healthCheck: { type: tcp, interval: 0.2, timeout: 0.2, rise: 1, fall: 2 }
  - name: web-udp
    vip: ${BGP_VIP}
    port: ${BGP_PORT}
    protocol: udp
    instance: edge
    backends:
      - { address: ${BGP_REALS[0]}, weight: 100 }
      - { address: ${BGP_REALS[1]}, weight: 100 }
    healthCheck: { type: tcp, interval: 0.2, timeout: 0.2, rise: 1, fall: 2 }
`;
  }

  /** Starts vipd on host i; its JSON log goes to logPath(i). */
  startDaemon(i: number): ChildProcess {
    writeFileSync(this.configPath(i), this.config(i));
    const child = this.lbs[i]!.spawn(process.execPath, [join(packageRoot(), 'bin', 'vipd'), '--config', this.configPath(i)]);
    const log = createWriteStream(this.logPath(i), { flags: 'a' });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    this.daemons[i] = child;
    return child;
  }

  /** The traffic agent (test/netns/fixtures/daemon-traffic.mjs) in the client namespace. */
  trafficAgent(): NodeChild {
    return this.client.node(join(packageRoot(), 'test', 'netns', 'fixtures', 'daemon-traffic.mjs'));
  }

  /**
   * UDP flows from the client (a probe every `everyMs` on each of `sockets` source ports) for
   * `durationMs`: resolves when they end. Start it, change something, await it.
   */
  async udpProbe(opts: { sockets: number; everyMs: number; durationMs: number }): Promise<UdpProbeResult> {
    const r = await this.client.exec(process.execPath, ['-e', udpProbeScript(opts.sockets, opts.everyMs, opts.durationMs)], {
      timeoutMs: opts.durationMs + 10_000,
    });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    if (!line.startsWith('{')) throw new Error(`udp probe: no result (exit ${r.code}): ${r.stderr}`);
    return JSON.parse(line) as UdpProbeResult;
  }

  /** The router's next hops for the VIP, sorted (empty: no route). */
  nextHops(): string[] {
    const r = this.router.ipJson<RouteJson[]>(['route', 'show', `${BGP_VIP}/32`])[0];
    if (!r) return [];
    return (r.nexthops?.map((n) => n.gateway) ?? (r.gateway ? [r.gateway] : [])).sort();
  }

  /** Waits until the router's next hops are `want`; returns the milliseconds since `t0`. */
  async waitHops(want: readonly string[], t0 = performance.now(), timeoutMs = 15_000): Promise<number> {
    const sorted = [...want].sort().join();
    while (performance.now() - t0 < timeoutMs) {
      if (this.nextHops().join() === sorted) return performance.now() - t0;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`router next hops ${JSON.stringify(this.nextHops())}, wanted ${JSON.stringify([...want].sort())}`);
  }

  vipctl(i: number, ...args: string[]): string {
    return this.lbs[i]!.execSync(process.execPath, [join(packageRoot(), 'bin', 'vipctl'), '--socket', this.socket(i), ...args]);
  }

  async metrics(i: number): Promise<string> {
    return (await this.lbs[i]!.exec('curl', ['-sS', '--max-time', '3', 'http://127.0.0.1:9477/metrics'], { timeoutMs: 5000 })).stdout;
  }

  /** Packets host i's XDP program forwarded for a service (its own counters): `web` (TCP) or `web-udp`. */
  async servicePackets(i: number, service = 'web'): Promise<number> {
    return metricSum(await this.metrics(i), 'vipd_service_packets_total', { service });
  }

  logTail(i: number, lines = 60): string {
    try {
      return readFileSync(this.logPath(i), 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  async cleanup(): Promise<void> {
    for (const d of this.daemons) if (d && d.exitCode === null && d.signalCode === null) d.kill('SIGKILL');
    await this.lab.cleanup();
  }
}
