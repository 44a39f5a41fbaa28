/**
 * A real keepalived (Debian's 2.2.7) in a lab namespace, as a VRRP peer for
 * interop tests and as the anchor of the failover benchmark.
 *
 *   const ka = await Keepalived.start(ns, { dir: lab.tmpDir(), priority: 100, advertInterval: 0.1, vips: ['10.99.0.100/32'] });
 *   await ka.waitState('BACKUP');
 *   const { stats } = await ka.dump();     // kill -36 -> $TMPDIR/keepalived.json
 *   await ka.stop();                       // graceful: priority-0 advert
 *   await ka.crash();                      // SIGKILL the VRRP child (then the parent): no goodbye
 *
 * What this relies on (../shared/KEEPALIVED.md, checked on this machine):
 * - `keepalived -n -l -D -f CONF -p PID -r PID -c PID` runs it in the
 *   foreground with private pid files, so several can run at once.
 * - The JSON dump (signal 36 to the parent, which passes it to the VRRP
 *   child) is written to `$TMPDIR/keepalived.json`: every instance gets its
 *   own TMPDIR, so parallel runs never read each other's dump.
 * - The VIP is on keepalived's interface exactly while it is MASTER: that
 *   is how state() reads it without a dump. FAULT (interface down) also
 *   removes it, so state() says BACKUP then; dump() tells them apart.
 * - Killing only the parent makes the child leave cleanly (priority-0
 *   advert): a crash must SIGKILL the VRRP child first.
 * - IPv6 needs nothing extra: keepalived takes the instance's family from
 *   its first VIP (e.g. `fd99::100/64`), multicasts VRRPv3 to ff02::12 from
 *   the interface's link-local address and puts the VIP on the interface
 *   while MASTER, as for IPv4. With a global first VIP it logs "the first
 *   IPv6 VIP address should be link local" (RFC 9568 5.2.9) and carries on.
 *
 * No vitest import: usable from bench/ too.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Namespace } from './netns.js';

export interface KeepalivedOptions {
  /** A private directory (pid files, config, log, TMPDIR for the dump). */
  dir: string;
  priority: number;
  /** Seconds: v3 0.01..40.95 in 10 ms steps, v2 whole seconds. */
  advertInterval: number;
  /** CIDRs of one family, e.g. `10.99.0.100/32` or `fd99::100/64` (which makes it an IPv6 instance). */
  vips: readonly string[];
  version?: 2 | 3;
  vrid?: number;
  interface?: string;
  /** VRRPv2 simple password (keepalived `auth_type PASS`). */
  password?: string;
  unicastPeers?: readonly string[];
  unicastSource?: string;
  /** Default true; false writes `nopreempt`. */
  preempt?: boolean;
  /** Instance name in keepalived's config (and in its JSON dump). */
  name?: string;
  /** Extra lines inside vrrp_instance. */
  extra?: string;
  /**
   * `use_vmac`: keepalived makes a macvlan `vrrp.VRID` with the virtual MAC
   * and puts the VIPs there (not on `interface`) while MASTER.
   */
  useVmac?: boolean;
}

/** keepalived's per-instance JSON (the fields the tests read). */
export interface KeepalivedDump {
  data: {
    iname: string;
    /** 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT. */
    state: number;
    effective_priority: number;
    master_priority: number;
    adver_int: number;
    master_adver_int: number;
    version: number;
    vrid: number;
  };
  stats: KeepalivedStats;
}

export interface KeepalivedStats {
  advert_rcvd: number;
  advert_sent: number;
  become_master: number;
  release_master: number;
  packet_len_err: number;
  advert_interval_err: number;
  ip_ttl_err: number;
  invalid_type_rcvd: number;
  addr_list_err: number;
  invalid_authtype: number;
  authtype_mismatch: number;
  auth_failure: number;
  pri_zero_rcvd: number;
  pri_zero_sent: number;
}

/** The counters that must stay 0 when its peer speaks correct VRRP. */
export const KEEPALIVED_ERROR_COUNTERS = [
  'packet_len_err',
  'advert_interval_err',
  'ip_ttl_err',
  'invalid_type_rcvd',
  'addr_list_err',
  'invalid_authtype',
  'authtype_mismatch',
  'auth_failure',
] as const satisfies readonly (keyof KeepalivedStats)[];

/** Error counters that are not 0, as `{name: value}` (empty when all are 0). */
export function keepalivedErrors(stats: KeepalivedStats): Partial<Record<keyof KeepalivedStats, number>> {
  const out: Partial<Record<keyof KeepalivedStats, number>> = {};
  for (const k of KEEPALIVED_ERROR_COUNTERS) if (stats[k] !== 0) out[k] = stats[k];
  return out;
}

const STATE_NAMES = ['INIT', 'BACKUP', 'MASTER', 'FAULT'] as const;
export type KeepalivedState = (typeof STATE_NAMES)[number];

export function keepalivedStateName(n: number): KeepalivedState | `unknown ${number}` {
  return STATE_NAMES[n] ?? `unknown ${n}`;
}

/** keepalived.conf text for one vrrp_instance. */
export function keepalivedConfig(o: KeepalivedOptions): string {
  const version = o.version ?? 3;
  const lines = [
    `# written by test/helpers/keepalived.ts`,
    `global_defs {`,
    `    router_id ${o.name ?? 'VI_1'}-${o.priority}`,
    // Run notify scripts as root without complaining about a missing keepalived_script user.
    `    script_user root`,
    `}`,
    `vrrp_instance ${o.name ?? 'VI_1'} {`,
    `    state BACKUP`,
    `    interface ${o.interface ?? 'eth0'}`,
    `    priority ${o.priority}`,
    `    version ${version}`,
    `    virtual_router_id ${o.vrid ?? 51}`,
    `    advert_int ${o.advertInterval}`,
  ];
  if (o.preempt === false) lines.push(`    nopreempt`);
  if (o.useVmac) lines.push(`    use_vmac`);
  if (o.password !== undefined) {
    lines.push(`    authentication {`, `        auth_type PASS`, `        auth_pass ${o.password}`, `    }`);
  }
  if (o.unicastSource) lines.push(`    unicast_src_ip ${o.unicastSource}`);
  if (o.unicastPeers?.length) lines.push(`    unicast_peer {`, ...o.unicastPeers.map((p) => `        ${p}`), `    }`);
  lines.push(`    virtual_ipaddress {`, ...o.vips.map((v) => `        ${v}`), `    }`);
  if (o.extra) lines.push(o.extra);
  lines.push(`}`, ``);
  return lines.join('\n');
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function readPid(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A running keepalived (parent + VRRP child) in one namespace. */
export class Keepalived {
  readonly confPath: string;
  readonly logPath: string;
  readonly pidFile: string;
  readonly vrrpPidFile: string;
  /** `ip netns exec ... keepalived` execs keepalived: this is the parent. */
  child: ChildProcess | undefined;
  #log = '';
  #parentPid: number | undefined;
  #vrrpPid: number | undefined;

  private constructor(
    readonly ns: Namespace,
    readonly opts: KeepalivedOptions,
  ) {
    this.confPath = join(opts.dir, 'keepalived.conf');
    this.logPath = join(opts.dir, 'keepalived.log');
    this.pidFile = join(opts.dir, 'keepalived.pid');
    this.vrrpPidFile = join(opts.dir, 'vrrp.pid');
  }

  get interface(): string {
    return this.opts.interface ?? 'eth0';
  }

  /** Where its VIPs go while MASTER: the macvlan `vrrp.VRID` with use_vmac, else its interface. */
  get vipInterface(): string {
    return this.opts.useVmac ? `vrrp.${this.opts.vrid ?? 51}` : this.interface;
  }

  /** Writes the config and starts keepalived; resolves once its VRRP child runs. */
  static async start(ns: Namespace, opts: KeepalivedOptions): Promise<Keepalived> {
    const ka = new Keepalived(ns, opts);
    await ka.start();
    return ka;
  }

  /** (Re)starts with the current opts; the previous process must be gone. */
  async start(): Promise<void> {
    const d = this.opts.dir;
    for (const f of [this.pidFile, this.vrrpPidFile, join(d, 'checkers.pid'), join(d, 'keepalived.json')]) rmSync(f, { force: true });
    writeFileSync(this.confPath, keepalivedConfig(this.opts));
    this.#log = '';
    const child = this.ns.spawn(
      'keepalived',
      ['-n', '-l', '-D', '-P', '-f', this.confPath, '-p', this.pidFile, '-r', this.vrrpPidFile, '-c', join(d, 'checkers.pid')],
      { env: { TMPDIR: d } },
    );
    this.child = child;
    const onData = (s: Buffer | string): void => {
      this.#log = (this.#log + s.toString()).slice(-200_000);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    const until = Date.now() + 10_000;
    for (;;) {
      const parent = readPid(this.pidFile);
      const vrrp = readPid(this.vrrpPidFile);
      if (parent && vrrp && alive(vrrp) && this.#log.includes('Startup complete')) {
        this.#parentPid = parent;
        this.#vrrpPid = vrrp;
        return;
      }
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`keepalived in ${this.ns.name} exited (${child.exitCode ?? child.signalCode}) at start:\n${this.#log}`);
      }
      if (Date.now() > until) throw new Error(`keepalived in ${this.ns.name} did not start in 10 s:\n${this.#log}`);
      await sleep(20);
    }
  }

  /** Its processes while running: the parent and the VRRP child (for CPU and memory figures). */
  pids(): number[] {
    return [this.#parentPid, this.#vrrpPid].filter((p): p is number => p !== undefined);
  }

  /** Everything it logged (stdout + stderr, -D detail), last 200 kB. */
  log(): string {
    return this.#log;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** MASTER when a VIP is on its interface, else BACKUP (or STOPPED when not running). */
  state(): 'MASTER' | 'BACKUP' | 'STOPPED' {
    if (!this.running) return 'STOPPED';
    const vip = this.opts.vips[0].split('/')[0];
    let info: { addr_info: { local: string }[] }[];
    try {
      info = this.ns.ipJson<{ addr_info: { local: string }[] }[]>(['addr', 'show', 'dev', this.vipInterface]);
    } catch {
      return 'BACKUP'; // no vrrp.VRID yet
    }
    return info[0]?.addr_info.some((a) => a.local === vip) ? 'MASTER' : 'BACKUP';
  }

  async waitState(state: 'MASTER' | 'BACKUP', timeoutMs = 15_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    let last = this.state();
    while (last !== state) {
      if (Date.now() > until) {
        throw new Error(`keepalived in ${this.ns.name}: still ${last} after ${timeoutMs} ms, wanted ${state}\n${this.#log.slice(-4000)}`);
      }
      if (last === 'STOPPED') throw new Error(`keepalived in ${this.ns.name} has exited:\n${this.#log.slice(-4000)}`);
      await sleep(20);
      last = this.state();
    }
  }

  /** The JSON dump of its instances (kill -36 the parent; the VRRP child writes $TMPDIR/keepalived.json). */
  async dumpAll(timeoutMs = 5000): Promise<KeepalivedDump[]> {
    if (!this.running || this.#parentPid === undefined) throw new Error(`keepalived in ${this.ns.name} is not running`);
    const file = join(this.opts.dir, 'keepalived.json');
    rmSync(file, { force: true });
    process.kill(this.#parentPid, 36);
    const until = Date.now() + timeoutMs;
    for (;;) {
      if (existsSync(file)) {
        try {
          const parsed = JSON.parse(readFileSync(file, 'utf8')) as KeepalivedDump[];
          if (Array.isArray(parsed) && parsed.length > 0) return parsed;
        } catch {
          /* still being written */
        }
      }
      if (Date.now() > until) throw new Error(`keepalived in ${this.ns.name}: no ${file} within ${timeoutMs} ms`);
      await sleep(20);
    }
  }

  /** The dump of its (first, or named) instance. */
  async dump(name = this.opts.name ?? 'VI_1'): Promise<KeepalivedDump> {
    const all = await this.dumpAll();
    const one = all.find((d) => d.data.iname === name);
    if (!one) throw new Error(`keepalived dump has no instance ${name}: ${all.map((d) => d.data.iname).join(', ')}`);
    return one;
  }

  async #waitGone(pids: number[], timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (pids.some(alive) || this.running) {
      if (Date.now() > until) return false;
      await sleep(10);
    }
    return true;
  }

  /** Graceful stop: SIGTERM to the parent; the VRRP child sends a priority-0 advert and removes the VIPs. */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (!this.running) return;
    const pids = [this.#parentPid, this.#vrrpPid].filter((p): p is number => p !== undefined);
    if (this.#parentPid !== undefined) process.kill(this.#parentPid, 'SIGTERM');
    if (!(await this.#waitGone(pids, timeoutMs))) {
      for (const p of pids) if (alive(p)) process.kill(p, 'SIGKILL');
      await this.#waitGone(pids, 2000);
      throw new Error(`keepalived in ${this.ns.name} did not stop within ${timeoutMs} ms (killed)`);
    }
  }

  /**
   * A crash: SIGKILL the VRRP child first (so no goodbye advert leaves), then
   * the parent (so it neither respawns the child nor cleans up). The VIP stays
   * on the interface, as after a real crash; removeVips() takes it off.
   */
  async crash(): Promise<void> {
    if (!this.running) return;
    const pids = [this.#vrrpPid, this.#parentPid].filter((p): p is number => p !== undefined);
    for (const p of pids) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await this.#waitGone(pids, 5000);
  }

  /** Removes the VIPs from its interface (what is left after a crash). */
  removeVips(): void {
    for (const v of this.opts.vips) {
      try {
        this.ns.ip(['addr', 'del', v, 'dev', this.vipInterface]);
      } catch {
        /* not there */
      }
    }
  }
}
