/**
 * vipd: config -> (VRRP instances, services) -> data plane. Owns the
 * lifecycle: start (adopting pinned state when there is any), reload (only
 * the difference), graceful stop (priority 0, VIPs released) and handoff
 * (exit leaving everything pinned, for a hitless restart or upgrade).
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BpfError, ensureBpffs } from '../bpf/index.js';
import { diffConfig, loadConfig, formatConfigError, type Config, type InstanceConfig } from '../config/index.js';
import { Dataplane } from '../dataplane/manager.js';
import { VipdMetrics, MetricsServer, type DataplaneCounters } from '../metrics/index.js';
import { addAddress, LinkWatcher, linkInfo, removeAddress, sdNotify, monotonicNs } from '../net/index.js';
import { masterDownIntervalMs, NotifyRunner, notifyStateFor, SyncGroup, TrackScript, type StateChangeAction } from '../vrrp/index.js';
import type { InstanceStatus, ReloadResult, StatsSnapshot, StatusResult } from './api.js';
import { monotonicClock } from './clock.js';
import { ControlServer } from './control/index.js';
import { controlHandlers } from './control-handlers.js';
import { InstanceRunner } from './instance-runner.js';
import type { Logger } from './logger.js';
import { activateWhenForwardable } from './serve-gate.js';
import { ServiceTable } from './services.js';

export class ConfigRejected extends Error {
  constructor(readonly errors: string[]) {
    super(`config rejected:\n${errors.join('\n')}`);
  }
}

interface InstanceEntry {
  readonly id: number;
  readonly config: InstanceConfig;
  readonly runner: InstanceRunner;
  readonly scripts: TrackScript[];
  masterSince: string | null;
  lastReason: string | null;
  lastFailoverSeconds: number | null;
  addressesAdded: boolean;
}

export interface DaemonOptions {
  configFile: string;
  logger: Logger;
}

/**
 * The interfaces an instance tracks: its config's, plus its own interface
 * with weight 0 (FAULT while its link is down), as keepalived does, unless
 * the config tracks it already.
 *
 * Fix (found by test/netns/daemon-failover): without this a MASTER whose
 * link went down stayed MASTER; its health checks failed over the dead link
 * and emptied its Maglev tables, and when the link came back it kept the VIP
 * and forwarded with half-rebuilt tables, resetting established flows. Now
 * it goes FAULT (VIPs inactive), comes back as BACKUP and preempts only
 * after preemptDelay.
 */
function trackedInterfaces(cfg: InstanceConfig): { name: string; weight: number }[] {
  const own = cfg.track.interfaces.some((t) => t.name === cfg.interface);
  return own ? [...cfg.track.interfaces] : [...cfg.track.interfaces, { name: cfg.interface, weight: 0 }];
}

const VERSION = (() => {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
})();

export class Daemon {
  readonly #opts: DaemonOptions;
  readonly #log: Logger;
  #config!: Config;
  #dp!: Dataplane;
  #services!: ServiceTable;
  readonly #instances = new Map<string, InstanceEntry>();
  readonly #groups = new Map<string, SyncGroup>();
  readonly #notify: NotifyRunner;
  readonly #metrics: VipdMetrics;
  #metricsServer: MetricsServer | undefined;
  #control: ControlServer | undefined;
  #links: LinkWatcher | undefined;
  #watchdog: NodeJS.Timeout | undefined;
  #attached = new Set<string>();
  readonly #startedAt = new Date().toISOString();
  #stopped = false;

  private constructor(opts: DaemonOptions) {
    this.#opts = opts;
    this.#log = opts.logger;
    this.#notify = new NotifyRunner({
      timeoutMs: 10_000,
      onOutcome: (o) => {
        const fields = { hook: o.argv, result: o.result, exitCode: o.exitCode, ms: Math.round(o.durationMs) };
        if (o.result === 'ok') this.#log.info(fields, 'notify hook ran');
        else this.#log.warn({ ...fields, stderr: o.stderr }, 'notify hook failed');
      },
    });
    this.#metrics = new VipdMetrics({ logger: this.#log });
  }

  get config(): Config {
    return this.#config;
  }

  static async start(opts: DaemonOptions): Promise<Daemon> {
    const d = new Daemon(opts);
    await d.#start();
    return d;
  }

  static async readConfig(file: string): Promise<Config> {
    const res = await loadConfig(file);
    if (!res.ok) throw new ConfigRejected(res.errors.map(formatConfigError));
    return res.config;
  }

  async #start(): Promise<void> {
    this.#config = await Daemon.readConfig(this.#opts.configFile);
    const { mounted } = ensureBpffs(this.#config.bpf.pin);
    this.#dp = await this.#openDataplane(this.#config.bpf.pin);
    this.#log.info(
      { pin: this.#config.bpf.pin, mountedBpffs: mounted, adopted: this.#dp.adopted },
      this.#dp.adopted ? 'data plane adopted from pins' : 'data plane loaded',
    );
    this.#services = new ServiceTable({
      dataplane: this.#dp,
      logger: this.#log,
      onBackendUp: (s, b, up) => this.#metrics.setBackendUp(s, b, up),
    });
    this.#metrics.setDataplane({ readCounters: () => this.#counters() });
    this.#attachInterfaces();
    this.#startLinkWatcher();
    for (const cfg of this.#config.instances) this.#addInstance(cfg);
    this.#buildSyncGroups();
    // Fix (found by test/netns/daemon-restart): on a hitless restart the
    // pinned tables forward already, and the lease left by the previous vipd
    // runs out after ~3 adverts. Rebuilding the Maglev tables takes ~0.5-1 s,
    // so with adopted pins the instances start (and take the lease over)
    // first; before, a loaded host missed the lease and the BACKUP took over.
    const instancesFirst = this.#dp.adopted;
    if (instancesFirst) for (const e of this.#instances.values()) this.#startInstance(e);
    await this.#services.apply(this.#config.services, (name) => this.#instanceRef(name));
    this.#services.start();
    if (!instancesFirst) for (const e of this.#instances.values()) this.#startInstance(e);
    this.#control = new ControlServer(this.#config.control.socket, controlHandlers(this), this.#log);
    await this.#control.listen();
    this.#metricsServer = new MetricsServer(this.#metrics, this.#config.control.metrics, this.#log);
    const addr = await this.#metricsServer.listen();
    this.#log.info({ socket: this.#config.control.socket, metrics: `${addr.host}:${addr.port}` }, 'control ready');
    this.#startSystemdWatchdog();
    sdNotify({ READY: 1, STATUS: this.#statusLine() });
  }

  /**
   * Loads the program, re-adopting pinned maps. Pins left by a build with a
   * different map layout cannot be reused: their maps are replaced (state is
   * rebuilt from the config) while pinned XDP links stay, so attach() swaps
   * the new program into them atomically.
   */
  async #openDataplane(pinDir: string): Promise<Dataplane> {
    try {
      return await Dataplane.open({ pinDir });
    } catch (err) {
      if (!(err instanceof BpfError && err.code === 'VIPD_BPF_PIN_MISMATCH')) throw err;
      this.#log.warn({ pin: pinDir, why: err.message }, 'pinned maps do not match this build: replacing them (links kept)');
      // The pin directory is vipd's own: every pin but the links goes, so maps an
      // older ABI had under other names (services, service_stats) go too.
      for (const name of readdirSync(pinDir)) {
        if (!name.startsWith('xdp_link_') && !name.endsWith('.debug')) rmSync(join(pinDir, name), { force: true });
      }
      return Dataplane.open({ pinDir });
    }
  }

  // ---- instances -------------------------------------------------------

  /** Stable ids: sorted names, so the same config gives the same ids after a restart. */
  #instanceId(name: string): number {
    return [...this.#config.instances].map((i) => i.name).sort().indexOf(name);
  }

  #instanceRef(name: string): { id: number; interface: string } {
    const cfg = this.#config.instances.find((i) => i.name === name);
    if (!cfg) throw new Error(`unknown instance ${name}`);
    return { id: this.#instanceId(name), interface: cfg.interface };
  }

  #attachInterfaces(): void {
    const wanted = new Set(this.#config.instances.map((i) => i.interface));
    for (const iface of wanted) {
      if (this.#attached.has(iface)) continue;
      const mac = linkInfo(iface).mac;
      if (!mac) throw new Error(`interface ${iface} has no MAC address`);
      const link = this.#dp.attach(iface, mac, { mode: this.#config.bpf.mode });
      this.#attached.add(iface);
      // A bond's members: XDP runs on them, and the data plane serves their frames for the bond.
      const members = this.#dp.interfaceMembers(link.ifindex);
      this.#log.info(
        { interface: iface, mode: link.mode, via: link.via, ...(members.length ? { bondMembers: members } : {}) },
        'XDP program attached',
      );
    }
  }

  #startLinkWatcher(): void {
    const tracked = new Set(this.#config.instances.flatMap((i) => trackedInterfaces(i).map((t) => t.name)));
    this.#links?.close();
    this.#links = new LinkWatcher({ interfaces: [...tracked] });
    this.#links.on('change', (l) => {
      for (const e of this.#instances.values()) {
        if (!trackedInterfaces(e.config).some((t) => t.name === l.name)) continue;
        this.#log.info({ instance: e.config.name, interface: l.name, up: l.isUp }, 'tracked interface changed');
        e.runner.engine.setTrackState(`interface:${l.name}`, l.isUp);
        this.#refreshGroupOf(e.config.name);
      }
    });
    this.#links.on('error', (err) => this.#log.error({ err: err.message }, 'link watcher failed'));
  }

  #leaseSeconds(cfg: InstanceConfig): number {
    // A lease as long as a peer's Master_Down interval: the data plane stops
    // by itself about when a BACKUP would take over from a silent MASTER.
    return masterDownIntervalMs(cfg.version, cfg.priority, cfg.advertInterval * 1000) / 1000;
  }

  #addInstance(cfg: InstanceConfig): InstanceEntry {
    const id = this.#instanceId(cfg.name);
    const track = [
      ...trackedInterfaces(cfg).map((t) => ({ name: `interface:${t.name}`, weight: t.weight })),
      ...cfg.track.scripts.map((s) => ({ name: `script:${s.name}`, weight: s.weight })),
    ];
    const runner = new InstanceRunner(cfg, {
      clock: monotonicClock,
      logger: this.#log,
      leaseSeconds: this.#leaseSeconds(cfg),
      leaseTarget: this.#dp.leaseTarget(id, cfg.interface),
      track,
      schedPriority: 10,
    });
    const entry: InstanceEntry = {
      id,
      config: cfg,
      runner,
      scripts: [],
      masterSince: null,
      lastReason: null,
      lastFailoverSeconds: null,
      addressesAdded: false,
    };
    for (const vip of cfg.vips) this.#dp.setVip(vip.address, id);
    this.#metrics.declareInstance(cfg.name);
    runner.on('state', (c) => this.#onState(entry, c));
    runner.on('failover', (s) => {
      entry.lastFailoverSeconds = s;
      this.#metrics.setFailoverSeconds(s);
      this.#log.info({ instance: cfg.name, seconds: s }, 'failover: first announcement sent');
    });
    runner.on('advert-rx', () => this.#metrics.advert(cfg.name, 'rx'));
    runner.on('advert-tx', (n) => this.#metrics.advert(cfg.name, 'tx', n));
    runner.on('rx-invalid', (reason) => this.#metrics.rxInvalid(cfg.name, reason));
    for (const s of cfg.track.scripts) {
      entry.scripts.push(
        new TrackScript(
          { name: s.name, argv: s.command, intervalMs: s.interval * 1000, timeoutMs: s.timeout * 1000, rise: s.rise, fall: s.fall, weight: s.weight },
          {
            clock: monotonicClock,
            onChange: (name, up) => {
              this.#log.info({ instance: cfg.name, script: name, up }, 'track script changed');
              runner.engine.setTrackState(`script:${name}`, up);
              this.#refreshGroupOf(cfg.name);
            },
          },
        ),
      );
    }
    this.#instances.set(cfg.name, entry);
    return entry;
  }

  #startInstance(e: InstanceEntry): void {
    for (const t of trackedInterfaces(e.config)) {
      const state = this.#links?.current(t.name);
      if (state) e.runner.engine.setTrackState(`interface:${t.name}`, state.isUp);
    }
    // A previous vipd left this instance active with a lease still running:
    // carry on as MASTER without an election (hitless restart).
    const lease = this.#dp.instance(e.id);
    const inherited = this.#dp.adopted && lease.active && lease.leaseExpiryNs > monotonicNs();
    e.runner.start();
    for (const s of e.scripts) s.start();
    if (inherited && e.runner.state === 'BACKUP') {
      e.runner.engine.forceMaster('lease still valid: taking over from the previous vipd without an election');
    } else if (!inherited && e.runner.state !== 'MASTER') {
      // Whatever an earlier process left must not answer for us now.
      this.#dp.deactivate(e.id);
    }
  }

  #buildSyncGroups(): void {
    this.#groups.clear();
    for (const g of this.#config.syncGroups) {
      const members = g.instances.map((n) => this.#instances.get(n)?.runner.engine).filter((x) => x !== undefined);
      this.#groups.set(g.name, new SyncGroup(g.name, members));
    }
  }

  #groupOf(instance: string): { name: string; group: SyncGroup } | undefined {
    const cfg = this.#config.syncGroups.find((g) => g.instances.includes(instance));
    const group = cfg && this.#groups.get(cfg.name);
    return cfg && group ? { name: cfg.name, group } : undefined;
  }

  #refreshGroupOf(instance: string): void {
    this.#groupOf(instance)?.group.refreshFaults();
  }

  /** A state change: data plane first, then addresses, then hooks, metrics and logs. */
  /**
   * A state change. Only the data plane is written at once: the engine sends
   * the first advert and announcement right after this returns, and nothing
   * else may delay them. Addresses, hooks, log and sd_notify follow in a
   * microtask (in order, just after the announcement has left).
   */
  #onState(e: InstanceEntry, c: StateChangeAction): void {
    const cfg = e.config;
    const toMaster = c.to === 'MASTER';
    const leftMaster = !toMaster && (c.from === 'MASTER' || c.to === 'INIT');
    // [issue 11.4] was `this.#dp.activate(...)`: serving waits (bounded) for the forwarding tables; adverts do not.
    if (toMaster) activateWhenForwardable({ dp: this.#dp, services: this.#services, log: this.#log }, e.runner, { id: e.id, name: cfg.name }, () => this.#dp.activate(e.id, this.#leaseSeconds(cfg), cfg.interface));
    else if (leftMaster) this.#dp.deactivate(e.id);
    if (toMaster) e.masterSince = new Date().toISOString();
    else if (leftMaster) e.masterSince = null;
    e.lastReason = c.reason;
    this.#metrics.transition(cfg.name, c.to);
    const g = this.#groupOf(cfg.name);
    g?.group.onStateChange(c);
    queueMicrotask(() => this.#afterState(e, c, toMaster, leftMaster, g));
  }

  #afterState(
    e: InstanceEntry,
    c: StateChangeAction,
    toMaster: boolean,
    leftMaster: boolean,
    g: { name: string; group: SyncGroup } | undefined,
  ): void {
    const cfg = e.config;
    if (toMaster && cfg.addAddresses) this.#addAddresses(e);
    else if (leftMaster && e.addressesAdded) this.#removeAddresses(e);
    this.#log.info({ instance: cfg.name, from: c.from, to: c.to, priority: c.priority, reason: c.reason }, `${cfg.name}: ${c.from} -> ${c.to}`);
    const hook = c.to === 'MASTER' ? cfg.notify.master : c.to === 'BACKUP' ? cfg.notify.backup : c.to === 'FAULT' ? cfg.notify.fault : cfg.notify.stop;
    this.#notify.notify('INSTANCE', cfg.name, notifyStateFor(c.to), c.priority, hook ? [hook] : []);
    if (g) {
      const groupState = g.group.state;
      const gcfg = this.#config.syncGroups.find((x) => x.name === g.name);
      if (groupState && gcfg) {
        const gh = groupState === 'MASTER' ? gcfg.notify.master : groupState === 'BACKUP' ? gcfg.notify.backup : gcfg.notify.fault;
        if (gh) this.#notify.notify('GROUP', g.name, notifyStateFor(groupState), c.priority, [gh]);
      }
    }
    sdNotify({ STATUS: this.#statusLine() });
  }

  #addAddresses(e: InstanceEntry): void {
    for (const v of e.config.vips) {
      try {
        addAddress(e.config.interface, v.cidr);
      } catch (err) {
        this.#log.error({ instance: e.config.name, vip: v.cidr, err: (err as Error).message }, 'adding VIP address failed');
      }
    }
    e.addressesAdded = true;
  }

  #removeAddresses(e: InstanceEntry): void {
    for (const v of e.config.vips) {
      try {
        removeAddress(e.config.interface, v.cidr, { missingOk: true });
      } catch (err) {
        this.#log.error({ instance: e.config.name, vip: v.cidr, err: (err as Error).message }, 'removing VIP address failed');
      }
    }
    e.addressesAdded = false;
  }

  #statusLine(): string {
    return [...this.#instances.values()].map((e) => `${e.config.name}=${e.runner.state}`).join(' ');
  }

  #startSystemdWatchdog(): void {
    const usec = Number(process.env.WATCHDOG_USEC ?? 0);
    if (!usec || (process.env.WATCHDOG_PID && Number(process.env.WATCHDOG_PID) !== process.pid)) return;
    this.#watchdog = setInterval(() => sdNotify('WATCHDOG=1'), Math.max(100, usec / 2000));
  }

  // ---- reads for vipctl and metrics -----------------------------------------

  status(): StatusResult {
    const instances: InstanceStatus[] = [...this.#instances.values()].map((e) => {
      const s = e.runner.status();
      return {
        name: e.config.name,
        state: s.state,
        priority: s.priority,
        effectivePriority: s.effectivePriority,
        vrid: e.config.vrid,
        version: e.config.version,
        interface: e.config.interface,
        masterSince: e.masterSince,
        transitions: s.transitions,
        lastReason: e.lastReason,
        masterAddress: s.state === 'MASTER' ? e.runner.primary : s.masterAddress,
        vips: e.config.vips.map((v) => v.cidr),
        lastFailoverSeconds: e.lastFailoverSeconds,
      };
    });
    const active = new Set([...this.#instances.values()].filter((e) => e.runner.state === 'MASTER').map((e) => e.id));
    return {
      daemon: {
        version: VERSION,
        pid: process.pid,
        startedAt: this.#startedAt,
        configFile: this.#opts.configFile,
        pinDir: this.#config.bpf.pin,
      },
      instances,
      services: this.#services.status((id) => active.has(id)),
    };
  }

  #counters(): DataplaneCounters {
    const c = this.#dp.counters();
    const idx = this.#services.indexes();
    const verdicts: Record<string, bigint> = {};
    for (const [reason, v] of Object.entries(c.verdicts)) verdicts[reason] = v.packets;
    return {
      verdicts,
      services: [...idx.services].map(([i, name]) => {
        const v = c.services.get(i);
        return { service: name, packets: v?.packets ?? 0n, bytes: v?.bytes ?? 0n };
      }),
      // [issue 11.4] a backend has two real indexes (services.ts): summed there.
      backends: this.#services.backendCounters(c.reals),
    };
  }

  stats(): StatsSnapshot {
    const c = this.#counters();
    const n = (x: bigint | number) => Number(x);
    return {
      at: Date.now(),
      services: c.services.map((s) => ({ name: s.service, packets: n(s.packets), bytes: n(s.bytes) })),
      backends: c.backends.map((b) => ({ service: b.service, backend: b.backend, packets: n(b.packets), bytes: n(b.bytes ?? 0) })),
      verdicts: Object.fromEntries(Object.entries(c.verdicts).map(([k, v]) => [k, n(v)])),
    };
  }

  get services(): ServiceTable {
    return this.#services;
  }

  instance(name: string): InstanceEntry | undefined {
    return this.#instances.get(name);
  }

  // ---- reload ---------------------------------------------------------------

  /** Re-reads the config and applies only the difference; a bad config changes nothing. */
  async reload(): Promise<ReloadResult> {
    const next = await Daemon.readConfig(this.#opts.configFile);
    const diff = diffConfig(this.#config, next);
    const changes: string[] = [];
    if (diff.empty) return { changes };
    if (diff.bpfChanged) changes.push('bpf settings changed: they take effect at the next restart');
    if (diff.controlChanged) changes.push('control settings changed: they take effect at the next restart');
    const old = this.#config;
    const removedOrChanged = new Set([...diff.instances.removed, ...diff.instances.changed]);
    // Stop what goes away or changes, gracefully, before the new config takes its place.
    for (const name of removedOrChanged) {
      const e = this.#instances.get(name);
      if (!e) continue;
      for (const s of e.scripts) s.stop();
      e.runner.stop();
      this.#dp.deactivate(e.id);
      if (e.addressesAdded) this.#removeAddresses(e);
      for (const v of e.config.vips) this.#dp.deleteVip(v.address);
      this.#instances.delete(name);
      if (diff.instances.removed.includes(name)) this.#metrics.removeInstance(name);
    }
    this.#config = { ...next, bpf: old.bpf, control: old.control };
    this.#attachInterfaces();
    this.#startLinkWatcher();
    // Ids follow sorted names: an added or removed instance may shift the others.
    const idsMoved = [...this.#instances.values()].some((e) => e.id !== this.#instanceId(e.config.name));
    if (idsMoved) {
      for (const e of [...this.#instances.values()]) {
        for (const s of e.scripts) s.stop();
        e.runner.stop();
        this.#dp.deactivate(e.id);
        this.#instances.delete(e.config.name);
      }
      changes.push('instance ids changed: every instance restarted');
    }
    const fresh: InstanceEntry[] = [];
    for (const cfg of next.instances) {
      if (this.#instances.has(cfg.name)) continue;
      fresh.push(this.#addInstance(cfg));
    }
    this.#buildSyncGroups();
    await this.#services.apply(next.services, (name) => this.#instanceRef(name));
    for (const e of fresh) this.#startInstance(e);
    for (const n of diff.instances.added) changes.push(`instance ${n} added`);
    for (const n of diff.instances.removed) changes.push(`instance ${n} removed`);
    for (const n of diff.instances.changed) changes.push(`instance ${n} changed (restarted)`);
    for (const n of diff.services.added) changes.push(`service ${n} added`);
    for (const n of diff.services.removed) changes.push(`service ${n} removed`);
    for (const n of diff.services.changed) changes.push(`service ${n} changed`);
    for (const b of diff.backends) {
      for (const a of b.added) changes.push(`service ${b.service}: backend ${a} added`);
      for (const r of b.removed) changes.push(`service ${b.service}: backend ${r} removed`);
      for (const c of b.changed) changes.push(`service ${b.service}: backend ${c} changed`);
    }
    this.#log.info({ changes }, 'config reloaded');
    return { changes };
  }

  // ---- stop -----------------------------------------------------------------

  /**
   * Graceful stop (SIGTERM): priority-0 adverts so a BACKUP takes over at
   * once, VIPs inactive, addresses removed, program detached.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    sdNotify('STOPPING=1');
    for (const e of this.#instances.values()) {
      for (const s of e.scripts) s.stop();
      e.runner.stop();
      this.#dp.deactivate(e.id);
      if (e.addressesAdded) this.#removeAddresses(e);
    }
    await this.#closeServers();
    for (const iface of this.#attached) {
      try {
        this.#dp.detach(iface);
      } catch (err) {
        this.#log.warn({ interface: iface, err: (err as Error).message }, 'detach failed');
      }
    }
    await this.#notify.whenIdle();
    this.#dp.close();
    this.#log.info('stopped: VIPs released, program detached');
  }

  /**
   * Handoff (SIGUSR2): exit leaving program, maps, links and leases pinned
   * and adverts stopped, for a new vipd to adopt within the lease (a hitless
   * restart or upgrade). No priority-0 advert: peers must not take over.
   */
  async handoff(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const e of this.#instances.values()) {
      for (const s of e.scripts) s.stop();
      e.runner.close();
    }
    await this.#closeServers();
    this.#dp.close();
    this.#log.info('handed off: state left pinned for the next vipd');
  }

  async #closeServers(): Promise<void> {
    if (this.#watchdog) clearInterval(this.#watchdog);
    this.#services.stop();
    this.#links?.close();
    await this.#control?.close();
    await this.#metricsServer?.close();
  }
}
