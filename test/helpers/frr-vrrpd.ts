/**
 * FRR's vrrpd (Debian's frr 8.4) in a lab namespace, as a VRRP peer for
 * interop tests: zebra and vrrpd run in the foreground with every path
 * (config, pid files, vty sockets, zserv socket) in a private directory, so
 * several can run at once and nothing touches /etc/frr or /run/frr.
 *
 *   const frr = await FrrVrrpd.start(ns, { dir: lab.tmpDir(), vrid: 51, priority: 100, advertIntervalMs: 100, vips: ['10.99.0.100'] });
 *   await frr.waitStatus('Backup');
 *   await frr.stop();
 *
 * What this relies on (checked on this machine):
 * - vrrpd always uses the virtual MAC: it finds, through zebra, a macvlan on
 *   the interface whose MAC is 00:00:5e:00:01:VRID (IPv6: 00:00:5e:00:02:VRID)
 *   and sends from it; the operator makes the macvlan (addrgenmode random,
 *   so IPv6 gets a link-local address of its own) and puts the VIPs on it.
 *   vrrpd does not create it.
 * - `vtysh --vty_socket DIR -c 'show vrrp json'` reads the state ("Master",
 *   "Backup", "Initialize") per family.
 * - The daemons run as user frr: the directory is handed to it.
 *
 * No vitest import: usable from bench/ too.
 */
import type { ChildProcess } from 'node:child_process';
import { chownSync, existsSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { Namespace } from './netns.js';

const FRR_LIB = '/usr/lib/frr';

export interface FrrVrrpdOptions {
  /** A private directory (configs, pid files, sockets, logs). */
  dir: string;
  vrid: number;
  priority: number;
  /** Milliseconds, a multiple of 10. */
  advertIntervalMs: number;
  /** VIPs of one family, without prefix length. */
  vips: readonly string[];
  family: 4 | 6;
  /** Default eth0. */
  interface?: string;
  /** Default true. */
  preempt?: boolean;
}

export interface FrrVrrpFamilyState {
  interface: string;
  vmac: string;
  status: 'Master' | 'Backup' | 'Initialize';
  stats: { adverTx: number; adverRx: number; transitions: number };
  addresses: string[];
}

/** Why FRR's vrrpd cannot run here, or undefined when it can. */
export function frrVrrpdUnavailable(): string | undefined {
  for (const path of [join(FRR_LIB, 'zebra'), join(FRR_LIB, 'vrrpd'), '/usr/bin/vtysh']) {
    if (!existsSync(path)) return `${path} is missing (Debian package frr, installed by scripts/bootstrap)`;
  }
  return undefined;
}

/** The virtual MAC of a VRID (RFC 9568 7.3). */
export function frrVmac(vrid: number, family: 4 | 6): string {
  return `00:00:5e:00:0${family === 4 ? 1 : 2}:${vrid.toString(16).padStart(2, '0')}`;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class FrrVrrpd {
  readonly children: ChildProcess[] = [];
  #log = '';

  private constructor(
    readonly ns: Namespace,
    readonly opts: FrrVrrpdOptions,
  ) {}

  get interface(): string {
    return this.opts.interface ?? 'eth0';
  }

  /** The macvlan vrrpd sends from and keeps the VIPs on. */
  get macvlan(): string {
    return `vrrp${this.opts.family}-${this.opts.vrid}`;
  }

  static async start(ns: Namespace, opts: FrrVrrpdOptions): Promise<FrrVrrpd> {
    const frr = new FrrVrrpd(ns, opts);
    frr.#makeMacvlan();
    await frr.#startDaemons();
    return frr;
  }

  #makeMacvlan(): void {
    const { family, vrid, vips } = this.opts;
    const mv = this.macvlan;
    this.ns.ip(['link', 'add', mv, 'link', this.interface, 'type', 'macvlan', 'mode', 'bridge']);
    this.ns.ip(['link', 'set', 'dev', mv, 'addrgenmode', 'random']);
    this.ns.ip(['link', 'set', 'dev', mv, 'address', frrVmac(vrid, family)]);
    for (const vip of vips) this.ns.ip(['addr', 'add', `${vip}/${family === 4 ? 32 : 128}`, 'dev', mv, ...(family === 6 ? ['nodad'] : [])]);
    this.ns.up(mv);
  }

  async #startDaemons(): Promise<void> {
    const { dir, vrid, priority, advertIntervalMs, vips, family } = this.opts;
    const lines = [
      `interface ${this.interface}`,
      ` vrrp ${vrid} version 3`,
      ` vrrp ${vrid} priority ${priority}`,
      ` vrrp ${vrid} advertisement-interval ${advertIntervalMs}`,
      ...(this.opts.preempt === false ? [` no vrrp ${vrid} preempt`] : []),
      ...vips.map((v) => ` vrrp ${vrid} ${family === 4 ? 'ip' : 'ipv6'} ${v}`),
      '',
    ];
    writeFileSync(join(dir, 'zebra.conf'), '');
    writeFileSync(join(dir, 'vrrpd.conf'), lines.join('\n'));
    const uid = Number(execFileSync('id', ['-u', 'frr'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'frr'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
    const common = ['--vty_socket', dir, '-z', join(dir, 'zserv.api'), '--log', 'stdout', '-A', '127.0.0.1', '-P', '0'];
    this.#spawn('zebra', ['-f', join(dir, 'zebra.conf'), '-i', join(dir, 'zebra.pid'), ...common]);
    await this.#waitFor(() => existsSync(join(dir, 'zserv.api')), 'zebra to open its zserv socket');
    this.#spawn('vrrpd', ['-f', join(dir, 'vrrpd.conf'), '-i', join(dir, 'vrrpd.pid'), ...common]);
    await this.#waitFor(() => this.#tryState() !== undefined, 'vrrpd to answer vtysh');
  }

  #spawn(daemon: string, args: string[]): void {
    const child = this.ns.spawn(join(FRR_LIB, daemon), args);
    const onData = (s: Buffer | string): void => {
      this.#log = (this.#log + s.toString()).slice(-200_000);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    this.children.push(child);
  }

  async #waitFor(ok: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!ok()) {
      const dead = this.children.find((c) => c.exitCode !== null || c.signalCode !== null);
      if (dead) throw new Error(`an FRR daemon in ${this.ns.name} exited (${dead.exitCode ?? dead.signalCode}) waiting for ${what}:\n${this.#log}`);
      if (Date.now() > until) throw new Error(`timed out waiting for ${what} in ${this.ns.name}:\n${this.#log}`);
      await sleep(50);
    }
  }

  #tryState(): FrrVrrpFamilyState | undefined {
    try {
      const out = this.ns.execSync('vtysh', ['--vty_socket', this.opts.dir, '-c', 'show vrrp json']);
      const routers = JSON.parse(out) as { vrid: number; v4: FrrVrrpFamilyState; v6: FrrVrrpFamilyState }[];
      const r = routers.find((x) => x.vrid === this.opts.vrid);
      return r === undefined ? undefined : this.opts.family === 4 ? r.v4 : r.v6;
    } catch {
      return undefined;
    }
  }

  /** The router's state for its family, from `show vrrp json`. */
  state(): FrrVrrpFamilyState {
    const s = this.#tryState();
    if (s === undefined) throw new Error(`vrrpd in ${this.ns.name} did not answer:\n${this.#log}`);
    return s;
  }

  async waitStatus(status: FrrVrrpFamilyState['status'], timeoutMs = 10_000): Promise<void> {
    await this.#waitFor(() => this.#tryState()?.status === status, `vrrpd to be ${status}`, timeoutMs);
  }

  log(): string {
    return this.#log;
  }

  /** SIGTERM to both daemons (vrrpd sends a priority-0 advert as it leaves), then waits for them. */
  async stop(): Promise<void> {
    await this.#signal('SIGTERM');
  }

  /** SIGKILL: no goodbye. */
  async crash(): Promise<void> {
    await this.#signal('SIGKILL');
  }

  async #signal(signal: NodeJS.Signals): Promise<void> {
    // vrrpd first: zebra going first would take the interfaces from under it.
    for (const child of [...this.children].reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill(signal);
      await Promise.race([gone, sleep(5000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    this.children.length = 0;
  }
}
