/**
 * The daemon's VRRP instances, from config to teardown: one InstanceRunner
 * per configured instance with its track scripts and tracked interfaces,
 * the sync groups, and what a state change does (data plane, addresses,
 * notify hooks, metrics, sd_notify STATUS). Reload, stop and handoff all end
 * an instance through the one teardown here.
 *
 * The Daemon decides when (start, reload, stop, handoff); this module
 * decides how.
 */
import type { InstanceConfig, SyncGroupConfig } from '../config/index.js';
import type { Dataplane } from '../dataplane/manager.js';
import type { VipdMetrics } from '../metrics/index.js';
import { addAddress, LinkWatcher, monotonicMs, monotonicNs, parseMac, removeAddress, sdNotify } from '../net/index.js';
import { TrackScript } from '../checks/index.js';
import { InstanceBfd, type BfdChangeContext } from '../bfd/instance-bfd.js';
import { masterDownIntervalMs, notifyStateFor, SyncGroup, virtualMac, type StateChangeAction } from '../vrrp/index.js';
import { NotifyRunner } from './notify-runner.js';
import type { BfdTakeoverTiming, InstanceStatus } from './api.js';
import { monotonicClock } from './clock.js';
import type { EventLog } from './events.js';
import { InstanceRunner, vrrpFamily } from './instance-runner.js';
import type { Logger } from './logger.js';

/** What the instances need of the data plane. */
export type InstanceDataplane = Pick<Dataplane, 'adopted' | 'setVip' | 'deleteVip' | 'leaseTarget' | 'activate' | 'deactivate' | 'instance'>;

export interface InstanceSetOptions {
  dataplane: InstanceDataplane;
  metrics: VipdMetrics;
  logger: Logger;
  /** The history state changes and failovers are recorded in (`vipctl events`). */
  events?: EventLog;
  /**
   * How a new MASTER starts serving: calls activate() at once, or later
   * (the daemon's serve gate, serve-gate.ts, holds serving until the
   * instance's services can forward, within a bound). Default: at once.
   */
  activateServing?: (runner: InstanceRunner, instance: { id: number; name: string }, activate: () => void) => void;
  /** After every state change (the BGP side announces a `[vrrp, bgp]` instance's VIPs while MASTER). */
  onStateChange?: (instance: string, to: string) => void;
  /**
   * Whether a new MASTER of this instance would serve at once (activateServing
   * would not hold it): the BFD thread is armed to take over only then.
   * Default: always.
   */
  servesAtOnce?: (instanceId: number) => boolean;
}

/**
 * VIPD_BFD_NATIVE_TAKEOVER=0 leaves BFD takeovers to the engine on the
 * event loop (the path before armTakeover): for the failover bench's
 * comparison and for debugging, not for production.
 */
const NATIVE_TAKEOVER = process.env.VIPD_BFD_NATIVE_TAKEOVER !== '0';

/** SCHED_FIFO priority of the BFD thread (docs/vrrp.md "BFD"; keepalived's bfd_rt_priority). */
export const BFD_SCHED_PRIORITY = 20;

const nsToMs = (ns: bigint): number => Number(ns) / 1e6;

/**
 * How an instance ends.
 * - `release` (stop, reload): a MASTER sends a priority-0 advert so a BACKUP
 *   takes over at once; the data plane stops serving it and the addresses
 *   vipd added go.
 * - `handoff`: adverts stop without a goodbye and the data plane keeps
 *   serving on the lease, for the next vipd to adopt.
 */
export type Teardown = 'release' | 'handoff';

interface InstanceEntry {
  readonly id: number;
  readonly config: InstanceConfig;
  readonly runner: InstanceRunner;
  readonly scripts: TrackScript[];
  masterSince: string | null;
  lastReason: string | null;
  lastFailoverSeconds: number | null;
  addressesAdded: boolean;
  /** The MASTER the BFD thread is armed to take over from (InstanceBfd.armTakeover), or null. */
  armedFor: string | null;
  lastBfdTakeover?: BfdTakeoverTiming;
}

interface GroupEntry {
  readonly config: SyncGroupConfig;
  readonly group: SyncGroup;
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

/**
 * The data-plane lease, in milliseconds: as long as a peer's Master_Down
 * interval, so the data plane stops by itself about when a BACKUP would take
 * over from a silent MASTER. Milliseconds from here to the native sender,
 * which needs nanoseconds.
 */
function leaseMs(cfg: InstanceConfig): number {
  return masterDownIntervalMs(cfg.version, cfg.priority, cfg.advertInterval * 1000);
}

/** The MAC the data plane answers and forwards with: the virtual MAC with `vmac`, else the interface's. */
function dataplaneMac(cfg: InstanceConfig): Buffer | undefined {
  return cfg.vmac ? parseMac(virtualMac(cfg.vrid, vrrpFamily(cfg))) : undefined;
}

export class InstanceSet {
  readonly #dp: InstanceDataplane;
  readonly #metrics: VipdMetrics;
  readonly #log: Logger;
  readonly #events: EventLog | undefined;
  readonly #onStateChange: ((instance: string, to: string) => void) | undefined;
  readonly #notify: NotifyRunner;
  readonly #activateServing: NonNullable<InstanceSetOptions['activateServing']>;
  readonly #servesAtOnce: NonNullable<InstanceSetOptions['servesAtOnce']>;
  readonly #instances = new Map<string, InstanceEntry>();
  readonly #groups = new Map<string, GroupEntry>();
  /** The configured instances, every one (added or not yet): ids follow their sorted names. */
  #configs: readonly InstanceConfig[] = [];
  #syncGroups: readonly SyncGroupConfig[] = [];
  /** Added but not started yet (the daemon starts them when the services are in place). */
  #pending: InstanceEntry[] = [];
  #links: LinkWatcher | undefined;
  /** BFD sessions of the instances with `bfd` (made when the first one starts). */
  #bfd: InstanceBfd | undefined;
  /** Connection sync: why preemption waits now (until this host has the MASTER's table), or null. */
  #preemptGate: (() => string | null) | null = null;

  constructor(opts: InstanceSetOptions) {
    this.#dp = opts.dataplane;
    this.#metrics = opts.metrics;
    this.#log = opts.logger;
    this.#events = opts.events;
    this.#activateServing = opts.activateServing ?? ((_runner, _instance, activate) => activate());
    this.#servesAtOnce = opts.servesAtOnce ?? (() => true);
    this.#onStateChange = opts.onStateChange;
    // Adverts absorbed or sent by native threads are counted when scraped.
    this.#metrics.setAdvertSync(() => {
      for (const e of this.#instances.values()) e.runner.syncCounters();
    });
    this.#notify = new NotifyRunner({
      timeoutMs: 10_000,
      onOutcome: (o) => {
        const fields = { hook: o.argv, result: o.result, exitCode: o.exitCode, ms: Math.round(o.durationMs) };
        if (o.result === 'ok') this.#log.info(fields, 'notify hook ran');
        else this.#log.warn({ ...fields, stderr: o.stderr }, 'notify hook failed');
      },
    });
  }

  // ---- config -> instances ---------------------------------------------------

  /**
   * Makes the set match a config: instances that are gone or `changed` end
   * (release) and forget their VIPs, new ones are added but not started
   * (startPending()), sync groups and the link watcher follow. When the ids
   * move (an instance added or removed before others in name order), every
   * instance restarts.
   */
  apply(next: { instances: readonly InstanceConfig[]; syncGroups: readonly SyncGroupConfig[] }, changed: readonly string[] = []): { idsMoved: boolean } {
    const wanted = new Set(next.instances.map((i) => i.name));
    for (const e of [...this.#instances.values()]) {
      const removed = !wanted.has(e.config.name);
      if (!removed && !changed.includes(e.config.name)) continue;
      this.#teardown(e, 'release');
      for (const v of e.config.vips) this.#dp.deleteVip(v.address);
      if (removed) this.#metrics.removeInstance(e.config.name);
    }
    this.#configs = next.instances;
    this.#syncGroups = next.syncGroups;
    this.#watchLinks();
    const idsMoved = [...this.#instances.values()].some((e) => e.id !== this.#idOf(e.config.name));
    if (idsMoved) for (const e of [...this.#instances.values()]) this.#teardown(e, 'release');
    for (const cfg of next.instances) {
      // announce: bgp instances elect nothing: the BGP side (bgp.ts) keeps them active.
      if (cfg.announce !== 'bgp' && !this.#instances.has(cfg.name)) this.#pending.push(this.#add(cfg));
    }
    this.#buildSyncGroups();
    return { idsMoved };
  }

  /** Starts the instances apply() added. */
  startPending(): void {
    const pending = this.#pending;
    this.#pending = [];
    for (const e of pending) this.#start(e);
  }

  /** Ends every instance, stops watching links. The set is empty afterwards. */
  stop(how: Teardown): void {
    for (const e of [...this.#instances.values()]) this.#teardown(e, how);
    this.#pending = [];
    this.#links?.close();
    this.#links = undefined;
    this.#bfd?.close();
    this.#bfd = undefined;
  }

  /** Resolves once every notify hook started so far has finished. */
  hooksIdle(): Promise<void> {
    return this.#notify.whenIdle();
  }

  /** Stable ids: sorted names, so the same config gives the same ids after a restart. */
  #idOf(name: string): number {
    return this.#configs
      .map((i) => i.name)
      .sort()
      .indexOf(name);
  }

  /** What a service needs of its instance: the data-plane id and the interface it serves on. */
  ref(name: string): { id: number; interface: string } {
    const cfg = this.#configs.find((i) => i.name === name);
    if (!cfg) throw new Error(`unknown instance ${name}`);
    return { id: this.#idOf(name), interface: cfg.interface };
  }

  #add(cfg: InstanceConfig): InstanceEntry {
    const id = this.#idOf(cfg.name);
    const track = [
      ...trackedInterfaces(cfg).map((t) => ({ name: `interface:${t.name}`, weight: t.weight })),
      ...cfg.track.scripts.map((s) => ({ name: `script:${s.name}`, weight: s.weight })),
    ];
    const runner = new InstanceRunner(cfg, {
      clock: monotonicClock,
      logger: this.#log,
      leaseMs: leaseMs(cfg),
      leaseTarget: this.#dp.leaseTarget(id, cfg.interface, dataplaneMac(cfg)),
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
      armedFor: null,
    };
    for (const vip of cfg.vips) this.#dp.setVip(vip.address, id);
    this.#metrics.declareInstance(cfg.name, { vrid: String(cfg.vrid), interface: cfg.interface, version: String(cfg.version) });
    runner.engine.setPreemptGate(this.#preemptGate);
    runner.on('state', (c) => this.#onState(entry, c));
    runner.on('master', () => this.#rearmTakeover(entry));
    runner.on('failover', (s) => {
      entry.lastFailoverSeconds = s;
      this.#metrics.setFailoverSeconds(s);
      this.#log.info({ instance: cfg.name, seconds: s }, 'failover: first announcement sent');
      // The first announcement leaves before #afterState's microtask runs: queued
      // behind it, the failover follows its state change in the history.
      queueMicrotask(() => this.#events?.record({ type: 'failover', instance: cfg.name, seconds: s }));
    });
    runner.on('advert-rx', (n) => this.#metrics.advert(cfg.name, 'rx', n));
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
              runner.setTrackState(`script:${name}`, up);
              this.#groupOf(cfg.name)?.group.refreshFaults();
            },
          },
        ),
      );
    }
    this.#instances.set(cfg.name, entry);
    return entry;
  }

  #start(e: InstanceEntry): void {
    for (const t of trackedInterfaces(e.config)) {
      const state = this.#links?.current(t.name);
      if (state) e.runner.setTrackState(`interface:${t.name}`, state.isUp);
    }
    // A previous vipd left this instance active with a lease still running:
    // carry on as MASTER without an election (hitless restart).
    const lease = this.#dp.instance(e.id);
    const inherited = this.#dp.adopted && lease.active && lease.leaseExpiryNs > monotonicNs();
    e.runner.start();
    for (const s of e.scripts) s.start();
    if (e.config.bfd) this.#startBfd(e, e.config.bfd);
    if (inherited && e.runner.state === 'BACKUP') {
      e.runner.engine.forceMaster('lease still valid: taking over from the previous vipd without an election');
    } else if (!inherited && e.runner.state !== 'MASTER') {
      // Whatever an earlier process left must not answer for us now.
      this.#dp.deactivate(e.id);
    }
  }

  /** The one way an instance ends (see Teardown); it leaves the set. */
  #teardown(e: InstanceEntry, how: Teardown): void {
    for (const s of e.scripts) s.stop();
    this.#instances.delete(e.config.name);
    // A handoff tells the peers nothing (no AdminDown); BFD ends with the process.
    this.#bfd?.disarmTakeover(e.config.name);
    e.armedFor = null;
    if (how === 'release') this.#bfd?.detach(e.config.name);
    if (how === 'handoff') {
      e.runner.close();
      return;
    }
    e.runner.stop();
    this.#dp.deactivate(e.id);
    if (e.addressesAdded) this.#removeAddresses(e);
  }

  // ---- tracking and sync groups ----------------------------------------------

  #startBfd(e: InstanceEntry, cfg: NonNullable<InstanceConfig['bfd']>): void {
    // SCHED_FIFO 20: above the advert senders' 10 (ours and any other
    // daemon's on the host), so a busy sender cannot delay a detection.
    this.#bfd ??= new InstanceBfd({ registry: this.#metrics.registry, logger: this.#log, events: this.#events, schedPriority: BFD_SCHED_PRIORITY });
    const name = e.config.name;
    try {
      this.#bfd.attach(name, e.config.interface, cfg, {
        setBfdSession: (peer, up, ctx) => this.#onBfdSession(e, peer, up, ctx),
      });
    } catch (err) {
      // The election runs on without BFD (Master_Down still holds); the log says why.
      this.#log.error({ instance: name, err: (err as Error).message }, 'BFD sessions not started');
    }
    this.#rearmTakeover(e);
  }

  /**
   * A BFD session change, given to the engine, which decides. When the BFD
   * thread already took over (an armed takeover fired), the runner is told
   * first (its first announcement round is out), and if the engine does not
   * become MASTER on it the data plane is deactivated at once.
   */
  #onBfdSession(e: InstanceEntry, peer: string, up: boolean, ctx: BfdChangeContext | undefined): void {
    const name = e.config.name;
    const t = ctx?.takeover;
    if (t) {
      e.armedFor = null;
      // A round that did not all leave is sent again by the engine's announcement.
      if (t.sendError === undefined) e.runner.noteNativeTakeover(nsToMs(t.firedNs), nsToMs(t.sentNs));
      if (t.mapError || t.sendError) {
        this.#log.warn({ instance: name, peer, mapError: t.mapError, sendError: t.sendError }, 'BFD takeover: a step failed in the BFD thread');
      }
    }
    const before = e.runner.state;
    e.runner.lastFailoverAnnounceMs = null;
    e.runner.engine.setBfdSession(peer, up, { adminDown: ctx?.adminDown === true });
    const engineMs = monotonicMs();
    if (ctx && !up && before === 'BACKUP' && e.runner.state === 'MASTER') {
      e.lastBfdTakeover = {
        path: t ? 'native' : 'js',
        detectedMs: nsToMs(ctx.atNs),
        ...(t ? { mapMs: nsToMs(t.mapNs) } : {}),
        announcedMs: t ? nsToMs(t.sentNs) : e.runner.lastFailoverAnnounceMs,
        heardMs: nsToMs(ctx.heardNs),
        engineMs,
      };
    }
    if (t) {
      e.runner.clearNativeTakeover();
      if (e.runner.state !== 'MASTER') {
        this.#log.warn({ instance: name, peer, state: e.runner.state }, 'BFD takeover by the BFD thread undone: the engine did not take over');
        this.#dp.deactivate(e.id);
      }
    }
    this.#groupOf(name)?.group.refreshFaults();
    this.#rearmTakeover(e);
  }

  /**
   * Keeps the BFD thread armed with what the engine would do if the
   * session to its MASTER left Up: take over (map write + first
   * announcement). Armed only while BACKUP, following a MASTER that is a BFD
   * peer of the instance, outside sync groups (the group's other members
   * follow in JS) and where a new MASTER serves at once; disarmed on any
   * state or master change first, so it never fires for a stale view.
   */
  #rearmTakeover(e: InstanceEntry): void {
    const bfd = this.#bfd;
    const cfg = e.config;
    if (!bfd || !cfg.bfd) return;
    const st = e.runner.engine.status();
    const master = st.state === 'BACKUP' ? st.masterAddress : null;
    const eligible =
      NATIVE_TAKEOVER &&
      master !== null &&
      this.#instances.get(cfg.name) === e &&
      cfg.announce !== 'bgp' &&
      this.#groupOf(cfg.name) === undefined &&
      cfg.bfd.peers.some((p) => p.address === master) &&
      this.#servesAtOnce(e.id);
    if (!eligible) {
      if (e.armedFor !== null) bfd.disarmTakeover(cfg.name);
      e.armedFor = null;
      return;
    }
    if (e.armedFor === master) return;
    const spec = e.runner.takeoverSpec();
    try {
      if (spec !== null && bfd.armTakeover(cfg.name, cfg.interface, master, spec)) {
        e.armedFor = master;
        return;
      }
    } catch (err) {
      this.#log.warn({ instance: cfg.name, err: (err as Error).message }, 'BFD takeover not armed: the engine will take over from the event loop');
    }
    bfd.disarmTakeover(cfg.name);
    e.armedFor = null;
  }

  #watchLinks(): void {
    const tracked = new Set(this.#configs.filter((i) => i.announce !== 'bgp').flatMap((i) => trackedInterfaces(i).map((t) => t.name)));
    this.#links?.close();
    this.#links = new LinkWatcher({ interfaces: [...tracked] });
    this.#links.on('change', (l) => {
      for (const e of this.#instances.values()) {
        if (!trackedInterfaces(e.config).some((t) => t.name === l.name)) continue;
        this.#log.info({ instance: e.config.name, interface: l.name, up: l.isUp }, 'tracked interface changed');
        e.runner.setTrackState(`interface:${l.name}`, l.isUp);
        this.#groupOf(e.config.name)?.group.refreshFaults();
      }
    });
    this.#links.on('error', (err) => this.#log.error({ err: err.message }, 'link watcher failed'));
  }

  #buildSyncGroups(): void {
    this.#groups.clear();
    for (const g of this.#syncGroups) {
      const members = g.instances.map((n) => this.#instances.get(n)?.runner.engine).filter((x) => x !== undefined);
      this.#groups.set(g.name, { config: g, group: new SyncGroup(g.name, members) });
    }
  }

  #groupOf(instance: string): GroupEntry | undefined {
    const cfg = this.#syncGroups.find((g) => g.instances.includes(instance));
    return cfg && this.#groups.get(cfg.name);
  }

  // ---- what a state change does ----------------------------------------------

  /**
   * A state change. Only the data plane is written at once: the engine sends
   * the first advert and announcement right after this returns, and nothing
   * else may delay them. Addresses, hooks, log and sd_notify follow in a
   * microtask (in order, just after the announcement has left).
   */
  #onState(e: InstanceEntry, c: StateChangeAction): void {
    const cfg = e.config;
    // Any state change: the armed takeover was for the state left behind.
    if (e.armedFor !== null) {
      this.#bfd?.disarmTakeover(cfg.name);
      e.armedFor = null;
    }
    queueMicrotask(() => this.#rearmTakeover(e));
    const toMaster = c.to === 'MASTER';
    const leftMaster = !toMaster && (c.from === 'MASTER' || c.to === 'INIT');
    // The Dataplane API takes seconds; it converts to nanoseconds itself.
    // Serving may wait (bounded) for the forwarding tables; adverts do not.
    if (toMaster) {
      this.#activateServing(e.runner, { id: e.id, name: cfg.name }, () => this.#dp.activate(e.id, leaseMs(cfg) / 1000, cfg.interface, dataplaneMac(cfg)));
    } else if (leftMaster) this.#dp.deactivate(e.id);
    if (toMaster) e.masterSince = new Date().toISOString();
    else if (leftMaster) e.masterSince = null;
    e.lastReason = c.reason;
    this.#metrics.transition(cfg.name, c.to);
    const g = this.#groupOf(cfg.name);
    g?.group.onStateChange(c);
    queueMicrotask(() => this.#afterState(e, c, toMaster, leftMaster, g));
  }

  #afterState(e: InstanceEntry, c: StateChangeAction, toMaster: boolean, leftMaster: boolean, g: GroupEntry | undefined): void {
    const cfg = e.config;
    if (toMaster && cfg.addAddresses) this.#addAddresses(e);
    else if (leftMaster && e.addressesAdded) this.#removeAddresses(e);
    this.#log.info({ instance: cfg.name, from: c.from, to: c.to, priority: c.priority, reason: c.reason }, `${cfg.name}: ${c.from} -> ${c.to}`);
    this.#events?.record({ type: 'state', instance: cfg.name, from: c.from, to: c.to, priority: c.priority, reason: c.reason });
    const hook = c.to === 'MASTER' ? cfg.notify.master : c.to === 'BACKUP' ? cfg.notify.backup : c.to === 'FAULT' ? cfg.notify.fault : cfg.notify.stop;
    this.#notify.notify('INSTANCE', cfg.name, notifyStateFor(c.to), c.priority, hook ? [hook] : []);
    const groupState = g?.group.state;
    if (g && groupState) {
      const n = g.config.notify;
      const gh = groupState === 'MASTER' ? n.master : groupState === 'BACKUP' ? n.backup : n.fault;
      if (gh) this.#notify.notify('GROUP', g.config.name, notifyStateFor(groupState), c.priority, [gh]);
    }
    sdNotify({ STATUS: this.statusLine() });
    this.#onStateChange?.(cfg.name, c.to);
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

  // ---- reads and operator actions ---------------------------------------------

  /** `vipctl priority`: the new base priority; undefined when there is no such instance. */
  setPriority(name: string, priority: number): { previous: number } | undefined {
    const e = this.#instances.get(name);
    if (!e) return undefined;
    const previous = e.runner.status().priority;
    e.runner.setPriority(priority);
    return { previous };
  }

  /** A gate on preemption for every instance, present and future (VrrpInstance.setPreemptGate). */
  setPreemptGate(gate: (() => string | null) | null): void {
    this.#preemptGate = gate;
    for (const e of this.#instances.values()) e.runner.engine.setPreemptGate(gate);
  }

  /** The VRRP masters this host hears (BACKUP of their instances), and the configured unicast peers: for connection sync. */
  peers(): { heardMasters: string[]; unicastPeers: string[] } {
    const heard = new Set<string>();
    for (const e of this.#instances.values()) {
      const s = e.runner.status();
      if (s.state === 'BACKUP' && s.masterAddress) heard.add(s.masterAddress);
    }
    const unicast = new Set(this.#configs.flatMap((c) => c.unicastPeers.map((p) => p.address)));
    return { heardMasters: [...heard], unicastPeers: [...unicast] };
  }

  /** Whether this host is MASTER of the instance now. */
  isMaster(name: string): boolean {
    return this.#instances.get(name)?.runner.state === 'MASTER';
  }

  /** The ids of the instances this host is MASTER of. */
  activeIds(): Set<number> {
    return new Set([...this.#instances.values()].filter((e) => e.runner.state === 'MASTER').map((e) => e.id));
  }

  /** "name=STATE ..." for sd_notify STATUS. */
  statusLine(): string {
    return [...this.#instances.values()].map((e) => `${e.config.name}=${e.runner.state}`).join(' ');
  }

  status(): InstanceStatus[] {
    return [...this.#instances.values()].map((e) => {
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
        ...(e.config.bfd ? { bfd: this.#bfd?.status(e.config.name) ?? [], bfdTakeoverArmed: e.armedFor !== null } : {}),
        ...(e.lastBfdTakeover ? { lastBfdTakeover: e.lastBfdTakeover } : {}),
      };
    });
  }
}
