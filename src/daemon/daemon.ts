/**
 * vipd: config -> (VRRP instances, services) -> data plane. Owns the
 * lifecycle: start (adopting pinned state when there is any), reload (only
 * the difference), graceful stop (priority 0, VIPs released) and handoff
 * (exit leaving everything pinned, for a hitless restart or upgrade).
 * The VRRP instances themselves belong to InstanceSet (instances.ts): this
 * module says when they are added, started and ended, not how.
 */
import { readFileSync } from 'node:fs';
import { BpfError, ensureBpffs } from '../bpf/index.js';
import { diffConfig, type Config, type InstanceConfig } from '../config/index.js';
import { dataplaneFootprint } from '../config/capacity.js';
import { Dataplane } from '../dataplane/manager.js';
import { removeMapPins } from '../dataplane/pins.js';
import { formatBytes, type MapSizes } from '../dataplane/sizing.js';
import { VipdMetrics, MetricsServer, type DataplaneCounters } from '../metrics/index.js';
import { linkInfo, peerCredentials, sdNotify } from '../net/index.js';
import type { ReloadResult, Requester, StatsSnapshot, StatusResult } from './api.js';
import { ControlServer } from './control/index.js';
import { controlHandlers, type ControlTarget } from './control-handlers.js';
import { EventLog } from './events.js';
import { InstanceSet } from './instances.js';
import type { Logger } from './logger.js';
import { ConfigRejected, readConfig } from './read-config.js';
import { activateWhenForwardable } from './serve-gate.js';
import { ConnectionTable } from './connections.js';
import { ServiceTable } from './services.js';
import { lineDiff } from './text-diff.js';
import { BgpAnnouncer } from './bgp.js';
import { collectStartupGarbage } from './startup-gc.js';
import { startConnectionSync } from './connection-sync.js';
import type { FlowSync } from '../sync/flow-sync.js';
import { isDeepStrictEqual } from 'node:util';

export interface DaemonOptions {
  configFile: string;
  logger: Logger;
  /** The BIRD binary (tests); `bird` from PATH by default. */
  birdPath?: string;
  /** Time between sweeps of the connection table (default 5 s). */
  sweepIntervalMs?: number;
}

const VERSION = (() => {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
})();

/** The config file's text ('' when unreadable: readConfig reports that itself). */
function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

export class Daemon implements ControlTarget {
  readonly #opts: DaemonOptions;
  readonly #log: Logger;
  #config!: Config;
  #dp!: Dataplane;
  #services!: ServiceTable;
  #connections!: ConnectionTable;
  #instances!: InstanceSet;
  #metrics!: VipdMetrics;
  readonly events: EventLog;
  /** The config file's text as last applied, for the reload event's diff. */
  #configText = '';
  #metricsServer: MetricsServer | undefined;
  #control: ControlServer | undefined;
  #watchdog: NodeJS.Timeout | undefined;
  #attached = new Set<string>();
  /** ifindex of each attached interface, to see that the data plane still serves it. */
  readonly #ifindexes = new Map<string, number>();
  /** Present when the config has `bgp`: the BGP speaker and the `announce: bgp` instances. */
  #bgp: BgpAnnouncer | undefined;
  /** Present when the config has `connections.sync`. */
  #sync: FlowSync | undefined;
  readonly #startedAt = new Date().toISOString();
  #stopped = false;

  private constructor(opts: DaemonOptions) {
    this.#opts = opts;
    this.#log = opts.logger;
    this.events = new EventLog({ logger: this.#log });
  }

  static async start(opts: DaemonOptions): Promise<Daemon> {
    const d = new Daemon(opts);
    await d.#start();
    return d;
  }

  async #start(): Promise<void> {
    this.#configText = readText(this.#opts.configFile);
    this.#config = await readConfig(this.#opts.configFile);
    // Per-backend series or not is a start-time choice (control settings apply at restart).
    this.#metrics = new VipdMetrics({ logger: this.#log, perBackend: this.#config.control.backendMetrics });
    const { mounted } = ensureBpffs(this.#config.bpf.pin);
    this.#dp = await this.#openDataplane(this.#config.bpf.pin);
    this.#log.info(
      { pin: this.#config.bpf.pin, mountedBpffs: mounted, adopted: this.#dp.adopted },
      this.#dp.adopted ? 'data plane adopted from pins' : 'data plane loaded',
    );
    this.#services = new ServiceTable({
      dataplane: this.#dp,
      logger: this.#log,
      onBackendUp: (s, b, up, reason) => {
        this.#metrics.setBackendUp(s, b, up);
        // The starting state comes without a reason: only changes are events.
        if (reason !== undefined) this.events.record({ type: 'backend', service: s, backend: b, up, reason });
        void this.#bgp?.update();
      },
      onFlowsLost: (service, backend, flows) => this.events.record({ type: 'flows-lost', service, backend, flows }),
      onDrained: (service, backend) => this.events.record({ type: 'drain-complete', service, backend }),
    });
    this.#connections = new ConnectionTable({
      dataplane: this.#dp,
      services: this.#services,
      logger: this.#log,
      config: this.#config.connections,
      ...(this.#opts.sweepIntervalMs === undefined ? {} : { intervalMs: this.#opts.sweepIntervalMs }),
      onSweep: (r) =>
        this.#metrics.setConnections({
          backends: this.#services.connectionsByBackend(),
          byState: r.byState,
          capacity: r.capacity,
          seconds: r.durationMs / 1000,
        }),
    });
    this.#metrics.setDataplane({ readCounters: () => this.#counters() });
    this.#instances = new InstanceSet({
      dataplane: this.#dp,
      metrics: this.#metrics,
      logger: this.#log,
      events: this.events,
      activateServing: (runner, instance, activate) =>
        activateWhenForwardable({ dp: this.#dp, services: this.#services, log: this.#log }, runner, instance, activate),
      servesAtOnce: (id) => this.#services.notForwardable(id).length === 0,
      onStateChange: () => void this.#bgp?.update(),
    });
    this.#attachInterfaces(this.#config.instances);
    this.#instances.apply(this.#config);
    if (this.#config.bgp) this.#bgp = this.#newBgp(this.#config.bgp);
    this.#bgp?.applyInstances(this.#config.instances);
    // Fix (found by test/netns/daemon-restart): on a hitless restart the
    // pinned tables forward already, and the lease left by the previous vipd
    // runs out after ~3 adverts. Rebuilding the Maglev tables takes ~0.5-1 s,
    // so with adopted pins the instances start (and take the lease over)
    // first; before, a loaded host missed the lease and the BACKUP took over.
    // The same for BGP: a BIRD handed off by the previous vipd is adopted, and
    // the BGP instances' lease renewed, before the tables are rebuilt (the
    // keeper holds BIRD for HANDOFF_HOLD_MS, and applyInstances above wrote a
    // 3 s lease). What to announce is decided once the services are in.
    const instancesFirst = this.#dp.adopted;
    // Before the instances start, so a returning host holds preemption from its first advert.
    await this.#startSync(this.#dp.adopted);
    if (instancesFirst) {
      this.#instances.startPending();
      await this.#bgp?.start();
    }
    await this.#services.apply(this.#config.services, (name) => this.#instances.ref(name));
    this.#services.start();
    this.#connections.start();
    if (!instancesFirst) {
      this.#instances.startPending();
      // BIRD starts with nothing announced; the first update announces what is healthy.
      await this.#bgp?.start();
    }
    this.#bgp?.servicesReady();
    await this.#bgp?.update();
    this.#control = new ControlServer(this.#config.control.socket, controlHandlers(this), this.#log, { peerCredentials });
    await this.#control.listen();
    this.#metricsServer = new MetricsServer(this.#metrics, this.#config.control.metrics, this.#log);
    const addr = await this.#metricsServer.listen();
    this.#log.info({ socket: this.#config.control.socket, metrics: `${addr.host}:${addr.port}` }, 'control ready');
    this.#startSystemdWatchdog();
    sdNotify({ READY: 1, STATUS: this.#instances.statusLine() });
    // After the first answers are out: the start's garbage goes now, not in the steady state.
    setImmediate(() => {
      const r = collectStartupGarbage();
      if (r) this.#log.info({ ms: Math.round(r.ms), rssBefore: formatBytes(r.rssBeforeBytes), rssAfter: formatBytes(r.rssAfterBytes) }, 'startup garbage collected');
    });
  }

  /**
   * Loads the program, re-adopting pinned maps. Pins left by a build with a
   * different map layout cannot be reused: their maps are replaced (state is
   * rebuilt from the config) while pinned XDP links stay, so attach() swaps
   * the new program into them atomically.
   */
  async #openDataplane(pinDir: string): Promise<Dataplane> {
    // Map sizes follow the config (with headroom for reloads); pinned maps
    // at least that big are adopted as they are.
    const { sizes, memory } = dataplaneFootprint(this.#config);
    this.#log.info({ sizes, memoryBytes: memory.total }, `data-plane maps: ${formatBytes(memory.total)} of kernel memory`);
    try {
      return await Dataplane.open({ pinDir, sizes });
    } catch (err) {
      if (!(err instanceof BpfError && err.code === 'VIPD_BPF_PIN_MISMATCH')) throw err;
      this.#log.warn(
        { pin: pinDir, why: err.message },
        'pinned maps do not match this build or are too small for this config: replacing them (links kept, state rebuilt from the config)',
      );
      const removed = removeMapPins(pinDir);
      this.#log.info({ pin: pinDir, removed }, `removed ${removed.length} pinned maps`);
      return Dataplane.open({ pinDir, sizes });
    }
  }

  async #startSync(adopted: boolean): Promise<void> {
    const cfg = this.#config.connections?.sync;
    if (!cfg) return;
    const parts = { dataplane: this.#dp, services: this.#services, instances: this.#instances, metrics: this.#metrics, logger: this.#log };
    this.#sync = await startConnectionSync(cfg, parts, adopted);
  }

  #newBgp(bgp: NonNullable<Config['bgp']>): BgpAnnouncer {
    return new BgpAnnouncer(bgp, {
      dataplane: this.#dp,
      metrics: this.#metrics,
      logger: this.#log,
      idOf: (name) => this.#instances.ref(name).id,
      services: () => this.#services.status(() => true),
      attached: (iface) => this.#servesOn(iface),
      isMaster: (name) => this.#instances.isMaster(name),
      ...(this.#opts.birdPath ? { birdPath: this.#opts.birdPath } : {}),
    });
  }

  /** The XDP program is attached to the interface and the data plane serves it. */
  #servesOn(iface: string): boolean {
    const ifindex = this.#ifindexes.get(iface);
    return ifindex !== undefined && this.#dp.enabledInterfaces().includes(ifindex);
  }

  #attachInterfaces(instances: readonly InstanceConfig[]): void {
    const wanted = new Set(instances.map((i) => i.interface));
    for (const iface of wanted) {
      if (this.#attached.has(iface)) continue;
      const mac = linkInfo(iface).mac;
      if (!mac) throw new Error(`interface ${iface} has no MAC address`);
      const link = this.#dp.attach(iface, mac, { mode: this.#config.bpf.mode });
      this.#attached.add(iface);
      this.#ifindexes.set(iface, link.ifindex);
      // A bond's members: XDP runs on them, and the data plane serves their frames for the bond.
      const members = this.#dp.interfaceMembers(link.ifindex);
      this.#log.info(
        { interface: iface, mode: link.mode, via: link.via, ...(members.length ? { bondMembers: members } : {}) },
        'XDP program attached',
      );
    }
  }

  #startSystemdWatchdog(): void {
    const usec = Number(process.env.WATCHDOG_USEC ?? 0);
    if (!usec || (process.env.WATCHDOG_PID && Number(process.env.WATCHDOG_PID) !== process.pid)) return;
    this.#watchdog = setInterval(() => sdNotify('WATCHDOG=1'), Math.max(100, usec / 2000));
  }

  // ---- reads and actions for vipctl (ControlTarget) and metrics ------------------

  status(): StatusResult {
    const active = this.#instances.activeIds();
    for (const id of this.#bgp?.activeIds() ?? []) active.add(id);
    return {
      daemon: {
        version: VERSION,
        pid: process.pid,
        startedAt: this.#startedAt,
        configFile: this.#opts.configFile,
        pinDir: this.#config.bpf.pin,
      },
      instances: this.#instances.status(),
      services: this.#services.status((id) => active.has(id)),
      ...(this.#bgp ? { bgp: this.#bgp.status() } : {}),
    };
  }

  #counters(): DataplaneCounters {
    const c = this.#dp.counters();
    const idx = this.#services.indexes();
    const verdicts: Record<string, bigint> = {};
    for (const [reason, v] of Object.entries(c.verdicts)) verdicts[reason] = v.packets;
    return {
      verdicts,
      flowEvents: Object.fromEntries(Object.entries(this.#dp.flowEvents()).map(([k, v]) => [k, v.packets])),
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

  setPriority(instance: string, priority: number, by: Requester): { previous: number } | undefined {
    const res = this.#instances.setPriority(instance, priority);
    if (res) this.events.record({ type: 'priority', instance, previous: res.previous, priority, by });
    return res;
  }

  hasService(service: string): boolean {
    return this.#services.has(service);
  }

  async setDrained(service: string, backend: string, drained: boolean, by: Requester): Promise<{ changed: boolean } | undefined> {
    const res = await this.#services.setDrained(service, backend, drained);
    if (res) this.events.record({ type: 'drain', service, backend, drained, changed: res.changed, by });
    return res;
  }

  async connections(service: string, backend: string): Promise<{ connections: number; drained: boolean; at: number } | undefined> {
    if (!this.#services.has(service, backend)) return undefined;
    // Fresh counts for `drain --wait`: a sweep now when the last is older than a second.
    const last = this.#connections.last;
    if (!last || Date.now() - last.startedAt > 1000) await this.#connections.sweep();
    const drained = this.#services.isDrained(service, backend);
    return { connections: this.#services.connections(service, backend) ?? 0, drained, at: this.#connections.last?.startedAt ?? Date.now() };
  }

  async setHostDrained(drained: boolean, by: Requester): Promise<{ changed: boolean } | undefined> {
    if (!this.#bgp) return undefined;
    const changed = await this.#bgp.setDrained(drained);
    this.events.record({ type: 'drain-host', drained, changed, by });
    return { changed };
  }

  // ---- reload ---------------------------------------------------------------

  /**
   * Re-reads the config and applies only the difference; a bad config
   * changes nothing. Either way the event history gets the attempt, with
   * who asked and the changed lines of the file.
   */
  async reload(by: Requester = { via: 'signal', uid: null, pid: null }): Promise<ReloadResult> {
    const text = readText(this.#opts.configFile);
    const textDiff = lineDiff(this.#configText, text);
    let result: ReloadResult;
    try {
      result = await this.#reload();
    } catch (err) {
      const errors = err instanceof ConfigRejected ? err.errors : [(err as Error).message];
      this.events.record({ type: 'reload', result: 'rejected', changes: [], diff: textDiff, errors, by });
      throw err;
    }
    this.#configText = text;
    this.events.record({ type: 'reload', result: 'applied', changes: result.changes, diff: textDiff, by });
    return result;
  }

  async #reload(): Promise<ReloadResult> {
    const next = await readConfig(this.#opts.configFile);
    const diff = diffConfig(this.#config, next);
    const changes: string[] = [];
    if (diff.empty) return { changes };
    if (diff.bpfChanged) changes.push('bpf settings changed: they take effect at the next restart');
    if (diff.controlChanged) changes.push('control settings changed: they take effect at the next restart');
    const old = this.#config;
    // Loaded maps cannot grow: a config that needs more room than they have
    // (their sizes had a quarter to spare at start) is refused, saying so.
    const needed = dataplaneFootprint(next).sizes;
    const short = (Object.keys(needed) as (keyof MapSizes)[]).filter((k) => this.#dp.sizes[k] < needed[k]);
    if (short.length > 0) {
      throw new ConfigRejected([
        `this config needs bigger data-plane maps than the loaded ones (${short.map((k) => `${k}: ${needed[k]} needed, ${this.#dp.sizes[k]} loaded`).join('; ')}): ` +
          'nothing was changed. Restart vipd to apply it: the new maps are sized from the config (a restart re-creates them, so this host serves its VIPs again once it is MASTER)',
      ]);
    }
    this.#attachInterfaces(next.instances);
    // What goes away or changes stops gracefully before the new config takes its place.
    const { idsMoved } = this.#instances.apply(next, diff.instances.changed);
    this.#config = { ...next, bpf: old.bpf, control: old.control };
    if (diff.bgpChanged) changes.push(...(await this.#reloadBgp(next.bgp)));
    if (!isDeepStrictEqual(old.connections?.sync, next.connections?.sync)) {
      this.#sync?.close();
      this.#sync = undefined;
      this.#instances.setPreemptGate(null);
      await this.#startSync(true);
      changes.push('connection sync settings changed: sync restarted');
    }
    this.#bgp?.applyInstances(next.instances);
    if (idsMoved) changes.push('instance ids changed: every instance restarted');
    await this.#services.apply(next.services, (name) => this.#instances.ref(name));
    this.#connections.setConfig(next.connections);
    this.#instances.startPending();
    await this.#bgp?.update();
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

  /** A new, changed or removed top-level `bgp`. */
  async #reloadBgp(bgp: Config['bgp']): Promise<string[]> {
    if (this.#bgp && bgp) {
      await this.#bgp.reconfigure(bgp);
      return ['bgp changed: BIRD reconfigured'];
    }
    if (this.#bgp) {
      await this.#bgp.withdrawForStop();
      await this.#bgp.stop();
      this.#bgp = undefined;
      this.#metrics.setBgp([], new Map());
      return ['bgp removed: routes withdrawn, BIRD stopped'];
    }
    if (!bgp) return [];
    this.#bgp = this.#newBgp(bgp);
    await this.#bgp.start();
    this.#bgp.servicesReady();
    return ['bgp added: BIRD started'];
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
    // Routes go first; the data plane forwards through the grace period while the routers move the flows.
    await this.#bgp?.withdrawForStop();
    this.#instances.stop('release');
    await this.#bgp?.stop();
    await this.#closeServers();
    for (const iface of this.#attached) {
      try {
        this.#dp.detach(iface);
      } catch (err) {
        this.#log.warn({ interface: iface, err: (err as Error).message }, 'detach failed');
      }
    }
    await this.#instances.hooksIdle();
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
    this.#instances.stop('handoff');
    await this.#bgp?.handoff();
    await this.#closeServers();
    this.#dp.close();
    this.#log.info('handed off: state left pinned for the next vipd');
  }

  async #closeServers(): Promise<void> {
    if (this.#watchdog) clearInterval(this.#watchdog);
    this.#sync?.close();
    this.#services.stop();
    this.#connections.stop();
    await this.#connections.idle();
    await this.#control?.close();
    await this.#metricsServer?.close();
  }
}
