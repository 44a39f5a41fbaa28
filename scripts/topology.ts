/**
 * A vipd test site in network namespaces: a client, two vipd hosts and two
 * real servers on one bridge, with real daemons. The demo and the daemon's
 * netns tests both build on it. Everything it makes is removed by cleanup()
 * (and by the lab's exit hooks if the process dies).
 *
 * Facts of veth this relies on (../shared/DESIGN.md "Testing"): XDP_TX
 * reaches the peer only when the peer runs an XDP program, so every bridge
 * port gets xdp_pass; and the client turns off TX checksum offload, since a
 * CHECKSUM_PARTIAL frame sent back out by XDP would arrive with a bad sum.
 */
import type { ChildProcess } from 'node:child_process';
import { createWriteStream, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StatusResult } from '../src/daemon/api.js';
import { ControlClient } from '../src/daemon/control/index.js';
import { packageRoot } from '../src/native.js';
import { NetnsLab, type Bridge, type Namespace } from '../test/helpers/netns.js';

export const SUBNET = '10.99.0';
export const VIP = `${SUBNET}.100`;
export const SERVICE_PORT = 8080;
export const CLIENT_ADDR = `${SUBNET}.10`;
export const LB_ADDRS = [`${SUBNET}.1`, `${SUBNET}.2`] as const;
export const REAL_ADDRS = [`${SUBNET}.21`, `${SUBNET}.22`] as const;

/**
 * The IPv6 site (`family: 6`): the same hosts on a ULA /64, no IPv4 at all.
 * The addresses are added without DAD (NetnsLab turns it off), so they are
 * usable at once. VRRP itself runs between the LBs' link-local addresses
 * (Site.lbLinkLocals), as RFC 9568 wants.
 */
export const SUBNET6 = 'fd99::';
export const VIP6 = `${SUBNET6}100`;
export const CLIENT_ADDR6 = `${SUBNET6}10`;
export const LB_ADDRS6 = [`${SUBNET6}1`, `${SUBNET6}2`] as const;
export const REAL_ADDRS6 = [`${SUBNET6}21`, `${SUBNET6}22`] as const;

export interface SiteOptions {
  label?: string;
  version?: 2 | 3;
  /** Seconds. */
  advertInterval?: number;
  priorities?: [number, number];
  preempt?: boolean;
  /** Extra YAML lines appended to each host's instance (indented 4). */
  instanceExtra?: string;
  healthCheck?: 'tcp' | 'none';
  /** Which hosts run vipd (default both); `false` leaves a host for another daemon (keepalived). */
  vipdHosts?: [boolean, boolean];
  /** Address family of the whole site (default 4): 6 uses SUBNET6 / VIP6 and needs version 3. */
  family?: 4 | 6;
  /** Real servers (default 2, at most 8): rs1.. at .21, .22, ...; the services list them all. */
  realServers?: number;
  /** Top-level YAML for every config in place of the default `connections: { max: 65536 }` (e.g. with `sync`). */
  configTop?: string;
}

/** The real servers: TCP says "NAME CLIENT" then echoes lines as "NAME LINE"; UDP answers "NAME PAYLOAD". */
const realServerScript = (name: string, vip: string, family: 4 | 6) => `
  const net = require('node:net');
  const dgram = require('node:dgram');
  const srv = net.createServer((s) => {
    s.write('${name} ' + s.remoteAddress + '\\n');
    let buf = '';
    s.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\\n')) >= 0) { s.write('${name} ' + buf.slice(0, i) + '\\n'); buf = buf.slice(i + 1); }
    });
    s.on('error', () => {});
  });
  srv.listen(${SERVICE_PORT}, '${family === 6 ? '::' : '0.0.0.0'}');
  const udp = dgram.createSocket('udp${family}');
  udp.on('message', (m, r) => udp.send(Buffer.concat([Buffer.from('${name} '), m]), r.port, r.address));
  udp.bind(${SERVICE_PORT}, '${vip}', () => console.log('ready'));
  // "tcp off" / "tcp on" on stdin: stop or start accepting TCP (existing connections stay).
  let lines = '';
  process.stdin.setEncoding('utf8').on('data', (d) => {
    lines += d;
    let i;
    while ((i = lines.indexOf('\\n')) >= 0) {
      const cmd = lines.slice(0, i).trim();
      lines = lines.slice(i + 1);
      const ack = () => console.log('ack ' + cmd);
      if (cmd === 'tcp off' && srv.listening) srv.close(() => {});
      if (cmd === 'tcp on' && !srv.listening) srv.listen(${SERVICE_PORT}, '${family === 6 ? '::' : '0.0.0.0'}', ack);
      else ack();
    }
  });`;

export class Site {
  readonly lab: NetnsLab;
  readonly sw: Bridge;
  readonly client: Namespace;
  readonly lbs: Namespace[];
  readonly reals: Namespace[];
  readonly dirs: string[];
  readonly pins: string[];
  readonly daemons: (ChildProcess | undefined)[] = [undefined, undefined];
  /** The real servers' processes (realServerScript), by index. */
  readonly realServers: ChildProcess[] = [];
  readonly opts: Required<Omit<SiteOptions, 'instanceExtra'>> & { instanceExtra: string };
  /** The site's addresses in its family: VIP, client, LBs, real servers (IPv4: the exported constants). */
  readonly vip: string;
  readonly clientAddr: string;
  readonly lbAddrs: readonly [string, string];
  readonly realAddrs: readonly [string, string, ...string[]];
  /** The LBs' eth0 link-local addresses (IPv6 sites; the VRRP sources), known after create(). */
  lbLinkLocals: string[] = [];

  private constructor(opts: SiteOptions) {
    this.opts = {
      label: opts.label ?? 'site',
      version: opts.version ?? 3,
      advertInterval: opts.advertInterval ?? 0.1,
      priorities: opts.priorities ?? [150, 100],
      preempt: opts.preempt ?? true,
      instanceExtra: opts.instanceExtra ?? '',
      healthCheck: opts.healthCheck ?? 'tcp',
      vipdHosts: opts.vipdHosts ?? [true, true],
      family: opts.family ?? 4,
      realServers: Math.min(8, Math.max(2, opts.realServers ?? 2)),
      configTop: opts.configTop ?? 'connections: { max: 65536 }',
    };
    if (this.opts.family === 6 && this.opts.version !== 3) throw new Error('Site: IPv6 needs VRRP version 3');
    const v6 = this.opts.family === 6;
    this.vip = v6 ? VIP6 : VIP;
    this.clientAddr = v6 ? CLIENT_ADDR6 : CLIENT_ADDR;
    this.lbAddrs = v6 ? LB_ADDRS6 : LB_ADDRS;
    const n = this.opts.realServers;
    const base = v6 ? REAL_ADDRS6 : REAL_ADDRS;
    this.realAddrs = [base[0], base[1], ...Array.from({ length: n - 2 }, (_, k) => (v6 ? `${SUBNET6}${23 + k}` : `${SUBNET}.${23 + k}`))];
    this.lab = new NetnsLab(this.opts.label);
    this.sw = this.lab.bridge();
    this.client = this.lab.namespace('cl');
    this.lbs = [this.lab.namespace('lb1'), this.lab.namespace('lb2')];
    this.reals = this.realAddrs.map((_, k) => this.lab.namespace(`rs${k + 1}`));
    this.dirs = this.lbs.map(() => this.lab.tmpDir());
    this.pins = this.lbs.map(() => this.lab.bpffs());
  }

  /** Builds the namespaces, links, addresses and real servers. */
  static async create(opts: SiteOptions = {}): Promise<Site> {
    const site = new Site(opts);
    try {
      await site.wire();
    } catch (err) {
      await site.cleanup();
      throw err;
    }
    return site;
  }

  private async wire(): Promise<void> {
    const xdpPass = join(packageRoot(), 'out', 'test', 'progs', 'xdp_pass.bpf.o');
    const v6 = this.opts.family === 6;
    const hosts: [Namespace, string][] = [
      [this.client, this.clientAddr],
      [this.lbs[0], this.lbAddrs[0]],
      [this.lbs[1], this.lbAddrs[1]],
      ...this.reals.map((r, k): [Namespace, string] => [r, this.realAddrs[k] ?? '']),
    ];
    hosts.forEach(([ns, addr], i) => {
      this.sw.attach(ns, 'eth0');
      ns.addr('eth0', `${addr}/${v6 ? 64 : 24}`);
      this.sw.ns.attachXdpObject(`p${i}`, xdpPass);
    });
    this.client.execSync('ethtool', ['-K', 'eth0', 'tx', 'off']);
    for (const r of this.reals) {
      r.addr('lo', `${this.vip}/${v6 ? 128 : 32}`);
      // IPv6 needs no sysctl: Linux answers a neighbour solicitation only for
      // an address on the interface it arrived on, so the VIP on lo stays quiet.
      if (v6) continue;
      r.execSync('sysctl', [
        '-qw',
        'net.ipv4.conf.all.arp_ignore=1',
        'net.ipv4.conf.all.arp_announce=2',
        'net.ipv4.conf.eth0.arp_ignore=1',
        'net.ipv4.conf.eth0.arp_announce=2',
      ]);
    }
    // The LBs know the real servers' MACs before the first health check.
    for (const lb of this.lbs) for (const a of this.realAddrs) await lb.exec('ping', [...(v6 ? ['-6'] : []), '-c', '1', '-W', '1', a]);
    if (v6) this.lbLinkLocals = await Promise.all(this.lbs.map((lb) => lb.linkLocal('eth0')));
    this.reals.forEach((r, i) =>
      this.realServers.push(r.spawn(process.execPath, ['-e', realServerScript(`rs${i + 1}`, this.vip, this.opts.family)])),
    );
    await Promise.all(this.realServers.map((c) => waitLine(c, 'ready')));
  }

  /**
   * Stops (or starts again) real server i's TCP listener: new connections
   * to it are refused (RST), established ones and UDP go on. No firewall
   * rules needed.
   */
  async setRealServerTcp(i: number, listening: boolean): Promise<void> {
    const child = this.realServers[i];
    const cmd = `tcp ${listening ? 'on' : 'off'}`;
    const acked = waitLine(child, `ack ${cmd}`, 5000);
    child.stdin?.write(`${cmd}\n`);
    await acked;
  }

  /**
   * For an LB host that runs another daemon (keepalived, which has no data
   * plane): a UDP echo on VIP:SERVICE_PORT in host i itself, answering
   * "lbN PAYLOAD" from the VIP. It binds the VIP before the VIP is there
   * (ip_nonlocal_bind), so it answers whenever the daemon has put the VIP on
   * the interface, i.e. exactly while that host is MASTER.
   */
  async startLocalEcho(i: number): Promise<ChildProcess> {
    const ns = this.lbs[i];
    const f = this.opts.family;
    ns.execSync('sysctl', ['-qw', `net.ipv${f}.ip_nonlocal_bind=1`]);
    const script = `
      const udp = require('node:dgram').createSocket('udp${f}');
      udp.on('message', (m, r) => udp.send(Buffer.concat([Buffer.from('lb${i + 1} '), m]), r.port, r.address));
      udp.on('error', () => {});
      udp.bind(${SERVICE_PORT}, '${this.vip}', () => console.log('ready'));`;
    const child = ns.spawn(process.execPath, ['-e', script]);
    await waitLine(child, 'ready');
    return child;
  }

  /** The MAC of host i's eth0 (what the client's neighbour entry for the VIP holds while i is MASTER). */
  lbMac(i: number): string {
    return this.lbs[i].mac('eth0');
  }

  /** Host i's Prometheus text, fetched from inside its namespace (the endpoint is on loopback). */
  async metrics(i: number): Promise<string> {
    const r = await this.lbs[i].exec('curl', ['-sS', '--max-time', '3', 'http://127.0.0.1:9477/metrics'], { timeoutMs: 5000 });
    if (r.code !== 0) throw new Error(`${this.lbs[i].name}: metrics: curl exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  }

  socket(i: number): string {
    return join(this.dirs[i], 'vipd.sock');
  }

  configPath(i: number): string {
    return join(this.dirs[i], 'vipd.yaml');
  }

  logPath(i: number): string {
    return join(this.dirs[i], 'vipd.log');
  }

  /** The vipd config of host i (0 or 1). */
  /** overrides.backends: the services' backends (default every real server); overrides.top: top-level YAML in place of configTop. */
  config(i: number, overrides: { priority?: number; extraServices?: string; backends?: readonly string[]; top?: string } = {}): string {
    const o = this.opts;
    const vip = this.vip;
    const backends = (overrides.backends ?? this.realAddrs).map((a) => `\n      - { address: ${a}, weight: 100 }`).join('');
    const hc =
      o.healthCheck === 'tcp' ? `\n    healthCheck: { type: tcp, interval: 0.2, timeout: 0.2, rise: 1, fall: 2 }` : '';
    return `# vipd config for ${this.lbs[i].name} (written by scripts/topology.ts)
bpf: { pin: ${this.pins[i]}, mode: native }
control: { socket: ${this.socket(i)}, metrics: 127.0.0.1:9477 }
${overrides.top ?? o.configTop}
instances:
  - name: web
    interface: eth0
    vrid: 51
    version: ${o.version}
    priority: ${overrides.priority ?? o.priorities[i]}
    advertInterval: ${o.advertInterval}
    preempt: ${o.preempt}
    vips: [${vip}/${o.family === 6 ? 64 : 32}]
    garp: { repeat: 3, interval: 0.01, delay: 0, refresh: 0 }${o.instanceExtra}
services:
  - name: web
    vip: ${vip}
    port: ${SERVICE_PORT}
    protocol: tcp
    instance: web
    backends:${backends}${hc}
  - name: web-udp
    vip: ${vip}
    port: ${SERVICE_PORT}
    protocol: udp
    instance: web
    backends:${backends}
${overrides.extraServices ?? ''}`;
  }

  writeConfig(i: number, text = this.config(i)): string {
    writeFileSync(this.configPath(i), text);
    return this.configPath(i);
  }

  /** Starts vipd on host i; its JSON log goes to logPath(i). */
  startDaemon(i: number, opts: { writeConfig?: boolean } = {}): ChildProcess {
    if (opts.writeConfig !== false) this.writeConfig(i);
    const bin = join(packageRoot(), 'bin', 'vipd');
    // VIPD_DAEMON_NODE_ARGS: extra node flags for the daemons (e.g. --cpu-prof), for investigations.
    const nodeArgs = process.env.VIPD_DAEMON_NODE_ARGS?.split(' ').filter((a) => a !== '') ?? [];
    const child = this.lbs[i].spawn(process.execPath, [...nodeArgs, bin, '--config', this.configPath(i)]);
    const log = createWriteStream(this.logPath(i), { flags: 'a' });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    this.daemons[i] = child;
    return child;
  }

  /** Sends a signal to vipd on host i and waits for it to exit. */
  async stopDaemon(i: number, signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<number | null> {
    const child = this.daemons[i];
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill(signal);
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const code = await exited;
    clearTimeout(t);
    this.daemons[i] = undefined;
    return code;
  }

  async status(i: number): Promise<StatusResult> {
    const c = await ControlClient.connect(this.socket(i), { timeoutMs: 2000 });
    try {
      return await c.call<StatusResult>('status', {});
    } finally {
      c.close();
    }
  }

  async call<T>(i: number, method: string, params: unknown = {}): Promise<T> {
    const c = await ControlClient.connect(this.socket(i), { timeoutMs: 5000 });
    try {
      return await c.call<T>(method, params);
    } finally {
      c.close();
    }
  }

  /** Host i's instance state, or undefined while its daemon does not answer. */
  async state(i: number): Promise<string | undefined> {
    try {
      return (await this.status(i)).instances[0]?.state;
    } catch {
      return undefined;
    }
  }

  /** Waits until host i's instance is in `state`. */
  async waitState(i: number, state: string, timeoutMs = 15_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    let last: string | undefined;
    while (Date.now() < until) {
      last = await this.state(i);
      if (last === state) return;
      await sleep(50);
    }
    throw new Error(`${this.lbs[i].name}: still ${last ?? 'not answering'} after ${timeoutMs} ms, wanted ${state}`);
  }

  async cleanup(): Promise<void> {
    for (let i = 0; i < this.daemons.length; i++) await this.stopDaemon(i, 'SIGTERM', 3000).catch(() => undefined);
    await this.lab.cleanup();
  }
}

/**
 * Sums the samples of one Prometheus metric whose labels include `labels`
 * (e.g. `metricSum(text, 'vipd_vrrp_adverts_total', { direction: 'rx' })`).
 */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resolves when the child prints a line containing `text` (from now on); rejects if it exits first. */
export function waitLine(child: ChildProcess, text: string, timeoutMs = 10_000): Promise<void> {
  // Only output from now on counts; the listeners are removed once it settles.
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const onOut = (d: string) => {
      out += d;
      if (out.includes(text)) done(resolve);
    };
    const onErr = (d: string) => (err += d);
    const onExit = (code: number | null) => done(() => reject(new Error(`exited (${code}) before '${text}': ${err}`)));
    const t = setTimeout(() => done(() => reject(new Error(`no '${text}' within ${timeoutMs} ms: ${err}`))), timeoutMs);
    t.unref();
    const done = (then: () => void) => {
      clearTimeout(t);
      child.stdout?.off('data', onOut);
      child.stderr?.off('data', onErr);
      child.off('exit', onExit);
      then();
    };
    child.stdout?.setEncoding('utf8').on('data', onOut);
    child.stderr?.setEncoding('utf8').on('data', onErr);
    child.once('exit', onExit);
  });
}
