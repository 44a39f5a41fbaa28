/**
 * A BGP test site in network namespaces: a router (BIRD 2, ECMP with an L4
 * hash) between a client and a segment with three vipd hosts announcing one
 * VIP over BGP and two real servers answering the client directly (DR).
 * test/netns/bgp-ecmp.test.ts, bgp-frr.test.ts, bgp-ipv6.test.ts, bench/bgp.ts
 * and `npm run demo -- --bgp` build on it. The router is BIRD 2 or FRR
 * (`tor`), and with `ipv6` every link also carries IPv6 and the hosts also
 * announce an IPv6 VIP over an IPv6 session.
 * Everything it makes is removed by cleanup() (and by the lab's exit hooks).
 *
 *   client 10.98.0.10 --- router 10.98.0.1 | 10.97.0.1 --- bridge --- lb1..lb3 10.97.0.11..13
 *                                                                  \-- rs1, rs2 10.97.0.21..22 (default via the router)
 *   IPv6:  fd98::10 --- fd98::1 | fd97::1 --- lb fd97::11..13, rs fd97::21..22; VIP 2001:db8:100::10
 */
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { chownSync, createWriteStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
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
export const BGP_VIP6 = '2001:db8:100::10';
export const ROUTER_CLIENT_SIDE6 = 'fd98::1';
export const BGP_CLIENT6 = 'fd98::10';
export const ROUTER6 = 'fd97::1';
export const BGP_LBS6 = ['fd97::11', 'fd97::12', 'fd97::13'] as const;
export const BGP_REALS6 = ['fd97::21', 'fd97::22'] as const;

/** Where Debian's frr package puts its daemons. */
export const FRR_DIR = '/usr/lib/frr';

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '(none)';
  }
}

/** Which routing daemon plays the ToR. */
export type Tor = 'bird' | 'frr';

/** The router's BFD timers (its side of each session; the slower side's rate wins). */
export interface RouterBfd {
  intervalMs: number;
  multiplier: number;
}

/** What docs/bgp.md prints and the bench measures: a dead host is down in ~300 ms. */
export const ROUTER_BFD: RouterBfd = { intervalMs: 100, multiplier: 3 };

/**
 * What the tests use: 300 ms x 5. A test shares 2 cores with the rest of the
 * suite, and at 100 ms x 3 a starved BFD thread (the router's or a host's
 * BIRD) dropped every session at once in a loop run at load 15-18; the
 * tests check that BFD withdraws a dead host, not how fast (bench/bgp.ts
 * does that).
 */
export const TEST_ROUTER_BFD: RouterBfd = { intervalMs: 300, multiplier: 5 };

export interface BgpSiteOptions {
  tor?: Tor;
  /** IPv6 on every link, an IPv6 session per host and an IPv6 VIP beside the IPv4 one. */
  ipv6?: boolean;
  /** The router's BFD timers; ROUTER_BFD when absent. */
  routerBfd?: RouterBfd;
}

/**
 * The real servers: TCP as test/netns/fixtures/daemon-traffic.mjs expects (greet "NAME CLIENT",
 * echo "NAME LINE"); UDP on the VIP answers "NAME PAYLOAD".
 */
const realServer = (name: string, ipv6: boolean) => `
  if (${ipv6}) {
    const srv6 = require('node:net').createServer((s) => { s.write('${name} ' + s.remoteAddress + '\\n'); s.on('data', (d) => s.write('${name} ' + d)); s.on('error', () => {}); });
    srv6.listen({ port: ${BGP_PORT}, host: '::', ipv6Only: true });
  }
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
export const routerBirdConfig = (ipv6 = false, bfd: RouterBfd = ROUTER_BFD): string => `
router id ${ROUTER};
log stderr all;
protocol device { scan time 10; }
protocol kernel {
  ipv4 { import none; export all; };
  merge paths on;
}
${ipv6 ? 'protocol kernel {\n  ipv6 { import none; export all; };\n  merge paths on;\n}' : ''}
protocol bfd { interface "*" { interval ${bfd.intervalMs} ms; multiplier ${bfd.multiplier}; }; }
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
${ipv6 ? routerBirdV6() : ''}`;

/** The IPv6 sessions: the same settings over IPv6, carrying the /128s. */
const routerBirdV6 = (): string => `template bgp vipd6 {
  local ${ROUTER6} as 65000;
  hold time 9;
  connect retry time 1;
  error wait time 1, 10;
  bfd on;
  ipv6 { import all; export none; };
}
${BGP_LBS6.map((a, i) => `protocol bgp lb${i + 1}_v6 from vipd6 { neighbor ${a} as 65001; }`).join('\n')}
`;

/**
 * The same ToR in FRR 8 (zebra + bgpd + bfdd, each with its own file): a
 * peer group for the vipd hosts, BFD 100 ms x 3 from a profile, eBGP
 * multipath, and route-maps (FRR refuses eBGP routes without a policy).
 */
export const routerFrrConfig = (ipv6 = false, bfd: RouterBfd = ROUTER_BFD): { zebra: string; bfdd: string; bgpd: string } => ({
  zebra: 'hostname rt\n',
  bfdd: ['bfd', ' profile vipd', `  transmit-interval ${bfd.intervalMs}`, `  receive-interval ${bfd.intervalMs}`, `  detect-multiplier ${bfd.multiplier}`, ' exit', 'exit', ''].join('\n'),
  bgpd: [
    'hostname rt',
    `ip prefix-list VIPS seq 10 permit ${BGP_VIP.replace(/\.\d+$/, '.0')}/24 ge 32`,
    ...(ipv6 ? ['ipv6 prefix-list VIPS6 seq 10 permit 2001:db8:100::/48 ge 128'] : []),
    'route-map VIPS permit 10',
    ' match ip address prefix-list VIPS',
    'exit',
    ...(ipv6 ? ['route-map VIPS6 permit 10', ' match ipv6 address prefix-list VIPS6', 'exit'] : []),
    'route-map NONE deny 10',
    'exit',
    'router bgp 65000',
    ` bgp router-id ${ROUTER}`,
    ' no bgp default ipv4-unicast',
    ' neighbor VIPD peer-group',
    ' neighbor VIPD remote-as 65001',
    ' neighbor VIPD bfd profile vipd',
    ' neighbor VIPD timers 3 9',
    ' neighbor VIPD timers connect 1',
    ...BGP_LBS.map((a) => ` neighbor ${a} peer-group VIPD`),
    ...(ipv6
      ? [' neighbor VIPD6 peer-group', ' neighbor VIPD6 remote-as 65001', ' neighbor VIPD6 bfd profile vipd', ' neighbor VIPD6 timers 3 9', ' neighbor VIPD6 timers connect 1']
      : []),
    ...(ipv6 ? BGP_LBS6.map((a) => ` neighbor ${a} peer-group VIPD6`) : []),
    ' address-family ipv4 unicast',
    '  maximum-paths 16',
    '  neighbor VIPD activate',
    '  neighbor VIPD route-map VIPS in',
    '  neighbor VIPD route-map NONE out',
    ' exit-address-family',
    ...(ipv6
      ? [
          ' address-family ipv6 unicast',
          '  maximum-paths 16',
          '  neighbor VIPD6 activate',
          '  neighbor VIPD6 route-map VIPS6 in',
          '  neighbor VIPD6 route-map NONE out',
          ' exit-address-family',
        ]
      : []),
    'exit',
    '',
  ].join('\n'),
});

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
  readonly tor: Tor;
  readonly ipv6: boolean;
  /** The router's own files (its config, logs, sockets). */
  routerDir = '';
  readonly routerBfd: RouterBfd;

  private constructor(label: string, opts: BgpSiteOptions) {
    this.tor = opts.tor ?? 'bird';
    this.ipv6 = opts.ipv6 ?? false;
    this.routerBfd = opts.routerBfd ?? ROUTER_BFD;
    this.lab = new NetnsLab(label);
    this.sw = this.lab.bridge();
    this.router = this.lab.namespace('rt');
    this.client = this.lab.namespace('cl');
  }

  /** Builds the namespaces, links, router (BIRD or FRR running) and real servers; no vipd yet. */
  static async create(label = 'bgp', opts: BgpSiteOptions = {}): Promise<BgpSite> {
    const site = new BgpSite(label, opts);
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
    const v6 = this.ipv6;
    if (v6) {
      client.addr('eth0', `${BGP_CLIENT6}/64`);
      client.ip(['-6', 'route', 'add', 'default', 'via', ROUTER_CLIENT_SIDE6]);
      router.addr('eth0', `${ROUTER_CLIENT_SIDE6}/64`);
      router.execSync('sysctl', ['-qw', 'net.ipv6.conf.all.forwarding=1', 'net.ipv6.fib_multipath_hash_policy=1']);
    }
    let port = 0;
    // XDP_TX out of a veth reaches the peer only when the peer runs an XDP program.
    const bridgePort = (opts: { flood?: boolean } = {}) => {
      if (opts.flood === false) sw.ns.execSync('bridge', ['link', 'set', 'dev', `p${port}`, 'flood', 'off']);
      sw.ns.attachXdpObject(`p${port++}`, xdpPass);
    };
    sw.attach(router, 'eth1');
    bridgePort();
    router.addr('eth1', `${ROUTER}/24`);
    if (v6) router.addr('eth1', `${ROUTER6}/64`);
    for (const [i, addr] of BGP_LBS.entries()) {
      const ns = lab.namespace(`lb${i + 1}`);
      sw.attach(ns, 'eth0');
      // No unknown-unicast flooding to the LBs: when a host dies the bridge forgets its MAC and
      // would flood its frames to the other LBs, whose XDP would forward them (and hide the failure).
      bridgePort({ flood: false });
      ns.addr('eth0', `${addr}/24`);
      if (v6) ns.addr('eth0', `${BGP_LBS6[i]}/64`);
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
      if (v6) {
        ns.addr('eth0', `${BGP_REALS6[i]}/64`);
        ns.ip(['-6', 'route', 'add', 'default', 'via', ROUTER6]);
        ns.addr('lo', `${BGP_VIP6}/128`);
      }
      ns.execSync('sysctl', [
        '-qw',
        'net.ipv4.conf.all.arp_ignore=1',
        'net.ipv4.conf.all.arp_announce=2',
        'net.ipv4.conf.eth0.arp_ignore=1',
        'net.ipv4.conf.eth0.arp_announce=2',
      ]);
      servers.push(ns.spawn(process.execPath, ['-e', realServer(`rs${i + 1}`, v6)]));
      this.reals.push(ns);
    }
    await Promise.all(servers.map((c) => waitLine(c, 'ready')));
    // The LBs know the real servers' MACs before the first health check.
    for (const lb of this.lbs) for (const a of [...BGP_REALS, ...(v6 ? BGP_REALS6 : [])]) await lb.exec('ping', ['-c', '1', '-W', '1', a]);
    this.routerDir = lab.tmpDir();
    if (this.tor === 'frr') await this.startFrr();
    else this.startBird();
  }

  private startBird(): void {
    const rdir = this.routerDir;
    writeFileSync(join(rdir, 'bird.conf'), routerBirdConfig(this.ipv6, this.routerBfd));
    const bird = this.router.spawn('bird', ['-f', '-c', join(rdir, 'bird.conf'), '-s', join(rdir, 'bird.ctl'), '-P', join(rdir, 'bird.pid')]);
    bird.stderr?.pipe(createWriteStream(join(rdir, 'bird.log')));
  }

  /**
   * FRR as the ToR without systemd or watchfrr: zebra, then bfdd and bgpd, in
   * the foreground in the router namespace, each with its file, sockets and
   * pid file in the router's folder (no TCP vty).
   */
  private async startFrr(): Promise<void> {
    const rdir = this.routerDir;
    const conf = routerFrrConfig(this.ipv6, this.routerBfd);
    const zserv = join(rdir, 'zserv.api');
    // The daemons drop to Debian's frr user (its vty group, frrvty, is what lets them open their vty):
    // their folder is theirs.
    const uid = Number(execFileSync('id', ['-u', 'frr'], { encoding: 'utf8' }));
    const gid = Number(execFileSync('id', ['-g', 'frr'], { encoding: 'utf8' }));
    chownSync(rdir, uid, gid);
    const common = (name: string) => ['-u', 'frr', '-g', 'frr', '-f', join(rdir, `${name}.conf`), '-i', join(rdir, `${name}.pid`), '--vty_socket', rdir, '-z', zserv, '-P', '0', '--log', `file:${join(rdir, `${name}.log`)}`];
    for (const [name, text] of Object.entries(conf)) writeFileSync(join(rdir, `${name}.conf`), text);
    this.router.spawn(`${FRR_DIR}/zebra`, common('zebra'));
    const deadline = Date.now() + 10_000;
    while (!existsSync(zserv)) {
      if (Date.now() > deadline) throw new Error(`FRR zebra did not open ${zserv}: ${readText(join(rdir, 'zebra.log'))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    this.router.spawn(`${FRR_DIR}/bfdd`, [...common('bfdd'), '--bfdctl', join(rdir, 'bfdd.sock')]);
    this.router.spawn(`${FRR_DIR}/bgpd`, common('bgpd'));
  }

  /** A command to the router's FRR (`vtysh -c`), e.g. `show bgp summary`. */
  vtysh(command: string): string {
    return this.router.execSync('vtysh', ['--vty_socket', this.routerDir, '-c', command]);
  }

  /** The router's log(s), for a failing test. */
  routerLog(): string {
    const files = this.tor === 'frr' ? ['zebra.log', 'bfdd.log', 'bgpd.log'] : ['bird.log'];
    return files.map((f) => `--- router ${f} ---\n${readText(join(this.routerDir, f)).split('\n').slice(-40).join('\n')}`).join('\n');
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
  peers:
    - { address: ${ROUTER}, asn: 65000, bfd: true, holdTime: 9 }
${this.ipv6 ? `    - { address: '${ROUTER6}', asn: 65000, bfd: true, holdTime: 9 }\n` : ''}instances:
  - name: edge
    interface: eth0
    announce: bgp
    vips: [${BGP_VIP}/32${this.ipv6 ? `, '${BGP_VIP6}/128'` : ''}]
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
${this.ipv6 ? this.config6() : ''}`;
  }

  /** The IPv6 service: TCP on the IPv6 VIP, both real servers by their IPv6 addresses. */
  private config6(): string {
    return `  - name: web6
    vip: '${BGP_VIP6}'
    port: ${BGP_PORT}
    protocol: tcp
    instance: edge
    backends:
      - { address: '${BGP_REALS6[0]}', weight: 100 }
      - { address: '${BGP_REALS6[1]}', weight: 100 }
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
  nextHops(vip: string = BGP_VIP): string[] {
    const r = this.router.ipJson<RouteJson[]>(vip.includes(':') ? ['-6', 'route', 'show', `${vip}/128`] : ['route', 'show', `${vip}/32`])[0];
    if (!r) return [];
    return (r.nexthops?.map((n) => n.gateway) ?? (r.gateway ? [r.gateway] : [])).sort();
  }

  /** Waits until the router's next hops are `want`; returns the milliseconds since `t0`. */
  async waitHops(want: readonly string[], t0 = performance.now(), timeoutMs = 15_000, vip: string = BGP_VIP): Promise<number> {
    const sorted = [...want].sort().join();
    while (performance.now() - t0 < timeoutMs) {
      if (this.nextHops(vip).join() === sorted) return performance.now() - t0;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`router next hops for ${vip} ${JSON.stringify(this.nextHops(vip))}, wanted ${JSON.stringify([...want].sort())}`);
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
