/**
 * Services and their real servers, kept in the data plane: health checks,
 * drain, and real-server MACs from the neighbour table decide which real
 * servers are in each service's Maglev table; every change builds a whole
 * new table and swaps it in with one map update.
 *
 * MACs come from rtnetlink neighbour events (RealMacs, real-macs.ts): an
 * unknown real server is solicited at once and its MAC installed when the
 * kernel's answer arrives, a changed MAC the same way.
 *
 * Real-server indexes are assigned per (service, backend) in sorted order,
 * so the same config gives the same indexes after a restart, and per-backend
 * counters stay per service. Each backend has two: its primary index i and
 * an alternate at the top of the reals map (limits.reals - 1 - i). A changed
 * MAC is written at the one the live table does not use and a new table
 * then moves the backend there: Dataplane.setReal() must not rewrite an
 * entry a packet may be reading (an array value of more than 8 bytes is
 * copied without a lock, so a reader could take half of each MAC).
 *
 * The connection table (ABI 6) names real indexes too: a flow keeps the
 * real it started on, and a slot's fallback names the real a changed slot
 * had. So an index that leaves every table (drain, weight 0, a backend
 * removed by reload) is held: it stays valid and is not given to another
 * backend while the table holds a live flow for it or a fallback names it
 * (afterSweep() frees it). A DOWN backend's indexes lose VIPD_REAL_F_VALID
 * once no table names them: the program then reassigns their flows.
 */
import type { ServiceConfig } from '../config/index.js';
import { monotonicNs, type Dataplane } from '../dataplane/manager.js';
import { checkSpecFromConfig, HealthMonitor, type KeyedHealthChange } from '../health/index.js';
import type { BackendStatus, ServiceStatus } from './api.js';
import type { Logger } from './logger.js';
import { RealMacs } from './real-macs.js';
import { Slices } from './slices.js';

interface BackendState {
  readonly service: string;
  readonly address: string;
  readonly weight: number;
  readonly realIndex: number;
  up: boolean;
  drained: boolean;
  /** The MAC the kernel's neighbour table gives (null: not resolved yet). */
  mac: string | null;
  reason: string | null;
  /** Real index -> the MAC this process wrote there (primary and alternate index). */
  readonly written: Map<number, string>;
  /** The index the next table uses for this backend (one of realIndex, altIndex). */
  current: number;
}

interface ServiceState {
  readonly config: ServiceConfig;
  readonly instanceId: number;
  readonly interface: string;
  readonly backends: Map<string, BackendState>;
  /** Serializes table installs, so the last change always wins. */
  installing: Promise<void>;
  /** The backend set of the installed table, to skip no-op swaps. */
  installedKey: string;
  /** Real indexes the live table uses; undefined until read (a table adopted from pins). */
  liveReals: Set<number> | undefined;
  /** When the live table was installed (ms), so a real it left is not rewritten before its readers are done. */
  installedAt: number;
  /** A config change (load, reload, drain, weight) waits to be installed: its slot changes are recorded as fallbacks even where this host serves nothing (#recordChanges). */
  configPending?: boolean;
}

export interface ServiceTableOptions {
  dataplane: Dataplane;
  logger: Logger;
  /**
   * Re-read the whole neighbour table this often (ms): a safety net for
   * lost rtnetlink events only; changes arrive as events. Default 30 s.
   */
  macRefreshMs?: number;
  /** A backend's health: its starting state (no reason), then every change (with the check's reason). */
  onBackendUp?: (service: string, backend: string, up: boolean, reason?: string) => void;
  /**
   * How long apply() waits for the MACs of real servers it watches for the
   * first time before building tables (ms; default 1000). The kernel
   * answers in milliseconds; without the wait, every service got a table of
   * the already-known servers, then another as each new MAC came in.
   */
  macWaitMs?: number;
  /** A DOWN backend's flows were handed to the ring (flows: what the last sweep counted for it). */
  onFlowsLost?: (service: string, backend: string, flows: number) => void;
  /** A drained or weight-0 backend has no connection left in the table. */
  onDrained?: (service: string, backend: string) => void;
}

const backendKey = (service: string, address: string) => `${service}|${address}`;

/** localeCompare()'s order (the default collation), without building a collator per comparison. */
const byLocale = new Intl.Collator();

/** What a real index holds, as this process last wrote it. */
interface RealOwner {
  readonly key: string;
  readonly service: string;
  readonly backend: string;
  readonly mac: string;
  /** False once deleteReal() cleared it (its backend went DOWN). */
  valid: boolean;
}

/** What the connection table's sweep tells the services (src/daemon/connections.ts). */
export interface FlowCounts {
  /** Date.now() when the sweep's read began. */
  readonly startedAt: number;
  /** Live entries per real index. */
  readonly byReal: ReadonlyMap<number, number>;
  /** Real indexes some live ring names (real or fallback). */
  readonly named: ReadonlySet<number>;
}

/** How long a packet that read a retired table may still read a real it used (XDP runs under RCU: microseconds). */
const REAL_QUIESCE_MS = 5;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Time the table installs of a burst (10 000 services) take before letting I/O and timers run (ms). */
const INSTALL_SLICE_MS = 20;

/** What whenForwardable() reports. */
export interface Forwardable {
  /** Every service of the instance with an up, undrained backend has a table that forwards. */
  ready: boolean;
  /** Services still without one (names). */
  waiting: string[];
}

export class ServiceTable {
  readonly health: HealthMonitor;
  readonly #dp: Dataplane;
  readonly #log: Logger;
  readonly #services = new Map<string, ServiceState>();
  /**
   * Real index -> how many services' live tables use it: what #placeReal
   * must not rewrite. Kept as tables change, because recomputing it from
   * every service on every install is O(services x backends) each time
   * (30 s of blocked event loop at 1000 x 10).
   */
  readonly #liveRefs = new Map<number, number>();
  /** Services whose live reals are counted in #liveRefs. */
  #liveCounted = new WeakSet<ServiceState>();
  /** Services with an install queued and not started yet (see #install). */
  readonly #queued = new WeakSet<ServiceState>();
  /** #services.size when every service was last counted into #liveRefs. */
  #allCounted = -1;
  readonly #isLive = { has: (i: number): boolean => (this.#liveRefs.get(i) ?? 0) > 0 || this.#held.has(i) };
  /** #primaryReals(), cached: 10 000 services x 10 backends make it worth it (reset by apply()). */
  #primaries: number | undefined;
  readonly #opts: ServiceTableOptions;
  readonly #macs: RealMacs;
  /** Called after every table install: whenForwardable() waiters re-check. */
  readonly #installed = new Set<() => void>();
  /** apply() is waiting for new real servers' MACs: a MAC that comes in is recorded, its install left to apply(). */
  #holdingInstalls = false;
  /** Installs pause for the event loop every INSTALL_SLICE_MS (slices.ts). */
  readonly #slices = new Slices(INSTALL_SLICE_MS);
  /** Real index -> the backend whose MAC this process wrote there. */
  readonly #owners = new Map<number, RealOwner>();
  /**
   * Real indexes out of every live table that flows or fallbacks may still
   * name -> Date.now() when they left: never given to another backend until
   * a sweep that began after that finds nothing naming them.
   */
  readonly #held = new Map<number, number>();
  /** The last sweep's entries per real index. */
  #lastByReal: ReadonlyMap<number, number> | undefined;
  /** Live connection-table entries per backend key, from the last sweep (undefined before the first). */
  #connections: Map<string, number> | undefined;
  /** Backends drained (or weight 0) with entries at the last sweep: 'drain complete' is logged when they reach 0. */
  readonly #draining = new Set<string>();
  /**
   * `iface|address` -> the MAC every backend of that server has taken
   * (#onMac); cleared when apply() makes new backends, which start from
   * their previous state or none.
   */
  readonly #macsTaken = new Map<string, string>();

  constructor(opts: ServiceTableOptions) {
    this.#opts = opts;
    this.#dp = opts.dataplane;
    this.#log = opts.logger.child({ part: 'services' });
    this.health = new HealthMonitor({ logger: this.#log });
    this.health.onChange((c) => this.#onHealth(c));
    this.#macs = new RealMacs({
      logger: this.#log,
      rereadMs: opts.macRefreshMs ?? 30_000,
      onMac: (iface, address, mac) => this.#onMac(iface, address, mac),
    });
  }

  /**
   * Makes the data plane hold exactly these services (config load or reload).
   * instanceOf gives each service's instance id and interface.
   */
  async apply(
    services: readonly ServiceConfig[],
    instanceOf: (name: string) => { id: number; interface: string },
  ): Promise<void> {
    const wanted = new Map(services.map((s) => [s.name, s]));
    this.#primaries = undefined;
    // Service states are rebuilt below (carrying their live reals): count afresh.
    this.#liveRefs.clear();
    this.#liveCounted = new WeakSet();
    this.#allCounted = -1;
    for (const [name, state] of this.#services) {
      const next = wanted.get(name);
      if (!next || next.vip !== state.config.vip || next.port !== state.config.port || next.protocol !== state.config.protocol) {
        await state.installing;
        this.#dp.deleteService({ vip: state.config.vip, port: state.config.port, protocol: state.config.protocol });
        // Its flow entries outlive it (until the sweep expires them): a service
        // added again on the same VIP and port would read them.
        for (const i of state.liveReals ?? []) this.#held.set(i, Date.now());
        this.#setLive(state, new Set());
        this.#services.delete(name);
        this.#log.info({ service: name }, 'service removed');
      }
    }
    let realIndex = 0;
    const primaries = services.reduce((sum, svc) => sum + svc.backends.length, 0);
    const added: string[] = [];
    const checks = new Map<string, ReturnType<typeof checkSpecFromConfig>>();
    const specs: Parameters<Dataplane['addServices']>[0][number][] = [];
    for (const svc of [...services].sort((a, b) => byLocale.compare(a.name, b.name))) {
      const inst = instanceOf(svc.instance);
      const old = this.#services.get(svc.name);
      const backends = new Map<string, BackendState>();
      for (const b of [...svc.backends].sort((x, y) => byLocale.compare(x.address, y.address))) {
        const prev = old?.backends.get(b.address);
        const key = backendKey(svc.name, b.address);
        // A backend's own check (keepalived's per-real-server checks) overrides the service's.
        const healthCheck = b.healthCheck ?? svc.healthCheck;
        // What this process already wrote for this very backend stays usable
        // (a reload no longer moves every backend to its other index, which
        // would leave its flows on an index to hold).
        const index = realIndex++;
        const written = new Map<number, string>();
        for (const i of [index, this.#altIndexFor(index, primaries)]) {
          if (i !== undefined && this.#dp.adopted) this.#adoptOwner(i, key, svc.name, b.address);
          const owner = i === undefined ? undefined : this.#owners.get(i);
          if (i !== undefined && owner?.key === key && owner.valid) written.set(i, owner.mac);
        }
        const current = prev && written.has(prev.current) ? prev.current : index;
        backends.set(b.address, {
          service: svc.name,
          address: b.address,
          weight: b.weight,
          realIndex: index,
          up: prev?.up ?? (healthCheck ? (this.health.isUp(key) ?? true) : true),
          drained: prev?.drained ?? false,
          mac: prev?.mac ?? null,
          reason: prev?.reason ?? (healthCheck ? null : 'no health check'),
          written,
          current,
        });
        if (healthCheck) {
          checks.set(key, checkSpecFromConfig(healthCheck, { service: svc.name, servicePort: svc.port, backend: b.address }));
        }
        // Fix (found by test/netns/daemon-election): a backend's first state is
        // provisional "up" and a passing first check emits no change, so
        // vipd_backend_up never appeared for healthy backends. Publish the
        // starting state of every backend this table did not have yet.
        if (!prev) this.#opts.onBackendUp?.(svc.name, b.address, backends.get(b.address)!.up);
      }
      const state: ServiceState = {
        config: svc,
        instanceId: inst.id,
        interface: inst.interface,
        backends,
        installing: old?.installing ?? Promise.resolve(),
        installedKey: old?.installedKey ?? '',
        // A data plane this process loaded has no table yet; an adopted one is read on first use.
        liveReals: old?.liveReals ?? (this.#dp.adopted ? undefined : new Set()),
        installedAt: old?.installedAt ?? 0,
      };
      this.#services.set(svc.name, state);
      specs.push({
        vip: svc.vip,
        port: svc.port,
        protocol: svc.protocol,
        instance: inst.id,
        backends: svc.backends.length,
        persist: svc.persistence !== undefined,
      });
      if (!old) added.push(svc.name);
    }
    // One batched write per services map (in the same order, so the same indexes).
    this.#dp.addServices(specs);
    // One line per service added, or one for all of a big config (10 000 lines would say less).
    if (added.length <= 20) for (const name of added) this.#log.info({ service: name }, 'service added');
    else this.#log.info({ services: added.length, first: added.slice(0, 5) }, `${added.length} services added`);
    this.health.sync(checks);
    // Indexes may have moved with the config: every known real is written
    // again (at an index the live table does not use) by the install below.
    const reals = [...this.#services.values()].flatMap((s) => [...s.backends.values()].map((b) => ({ iface: s.interface, address: b.address })));
    // Known MACs are taken from the kernel's table now; unknown ones are solicited at once,
    // and their answers (milliseconds) awaited, bounded: each table is then built once, whole.
    // The backends made above may lack a MAC their server has (#macsTaken holds for the old ones).
    this.#macsTaken.clear();
    for (const { iface, address, mac } of this.#macs.watch(reals)) this.#onMac(iface, address, mac, false);
    this.#holdingInstalls = true;
    try {
      const unresolved = await this.#macs.whenResolved(this.#opts.macWaitMs ?? 1000);
      if (unresolved > 0) this.#log.info({ unresolved }, 'real servers without a MAC yet: their services forward without them until they answer');
    } finally {
      this.#holdingInstalls = false;
    }
    this.#placeRealsAtOnce();
    await Promise.all([...this.#services.values()].map((s) => this.#install(s, 'config', true)));
  }

  start(): void {
    this.health.start();
    this.#macs.start();
  }

  stop(): void {
    this.health.stop();
    this.#macs.stop();
    for (const wake of this.#installed) wake();
  }

  /**
   * Services of the instance that have an up, undrained backend but no
   * table that forwards yet (no backend with a resolved MAC installed):
   * what this host would black-hole if it served the instance's VIPs now.
   */
  notForwardable(instanceId: number): string[] {
    const waiting: string[] = [];
    for (const s of this.#services.values()) {
      if (s.instanceId !== instanceId) continue;
      const wanted = [...s.backends.values()].some((b) => b.up && !b.drained && b.weight > 0);
      if (wanted && s.installedKey === '') waiting.push(s.config.name);
    }
    return waiting;
  }

  /**
   * Resolves when every service of the instance that has an up, undrained
   * backend has a forwarding table installed (ready), or after boundMs
   * with the services still waiting (not ready). Never rejects.
   */
  whenForwardable(instanceId: number, boundMs: number): Promise<Forwardable> {
    const now = this.notForwardable(instanceId);
    if (now.length === 0) return Promise.resolve({ ready: true, waiting: [] });
    return new Promise((resolve) => {
      const check = (final: boolean) => {
        const waiting = this.notForwardable(instanceId);
        if (waiting.length > 0 && !final) return;
        clearTimeout(timer);
        this.#installed.delete(wake);
        resolve({ ready: waiting.length === 0, waiting });
      };
      const wake = () => check(false);
      const timer = setTimeout(() => check(true), boundMs);
      this.#installed.add(wake);
    });
  }

  async idle(): Promise<void> {
    await Promise.all([...this.#services.values()].map((s) => s.installing));
  }

  /** Drain (or undrain) a backend: it leaves (or rejoins) the Maglev table. */
  async setDrained(service: string, address: string, drained: boolean): Promise<{ changed: boolean } | undefined> {
    const s = this.#services.get(service);
    const b = s?.backends.get(address);
    if (!s || !b) return undefined;
    if (b.drained === drained) return { changed: false };
    b.drained = drained;
    this.#log.info({ service, backend: address }, drained ? 'backend drained' : 'backend undrained');
    await this.#install(s, drained ? `drain ${address}` : `undrain ${address}`, true);
    return { changed: true };
  }

  /** True when the backend is drained or has weight 0 (quiescent: it takes no new flows). */
  isDrained(service: string, address: string): boolean {
    const b = this.#services.get(service)?.backends.get(address);
    return !!b && (b.drained || b.weight === 0);
  }

  has(service: string, address?: string): boolean {
    const s = this.#services.get(service);
    return !!s && (address === undefined || s.backends.has(address));
  }

  status(activeInstance: (id: number) => boolean): ServiceStatus[] {
    return [...this.#services.values()].map((s) => ({
      name: s.config.name,
      vip: s.config.vip,
      port: s.config.port,
      protocol: s.config.protocol,
      instance: s.config.instance,
      active: activeInstance(s.instanceId),
      backends: [...s.backends.values()].map(
        (b): BackendStatus => ({
          address: b.address,
          up: b.up,
          weight: b.weight,
          drained: b.drained,
          mac: b.mac,
          reason: b.reason ?? this.health.status(backendKey(s.config.name, b.address))?.last?.detail ?? null,
          connections: this.#connections ? (this.#connections.get(backendKey(s.config.name, b.address)) ?? 0) : null,
        }),
      ),
    }));
  }

  /** (service index -> name) and (real index -> service, backend), for counters. */
  indexes(): { services: Map<number, string>; reals: Map<number, { service: string; backend: string }> } {
    const services = new Map<number, string>();
    const byEndpoint = new Map([...this.#services.values()].map((x) => [`${x.config.vip}|${x.config.port}|${x.config.protocol}`, x.config.name]));
    for (const info of this.#dp.listServices()) {
      const name = byEndpoint.get(`${info.vip}|${info.port}|${info.protocol}`);
      if (name !== undefined) services.set(info.index, name);
    }
    const reals = new Map<number, { service: string; backend: string }>();
    for (const s of this.#services.values()) {
      for (const b of s.backends.values()) {
        // Both of a backend's indexes: its counters are the sum of the two.
        reals.set(b.realIndex, { service: s.config.name, backend: b.address });
        const alt = this.#altIndex(b.realIndex);
        if (alt !== undefined) reals.set(alt, { service: s.config.name, backend: b.address });
      }
    }
    return { services, reals };
  }

  /**
   * For connection sync, by `vip|port|protocol`: each service's instance and
   * the real index a backend's flows take here (the one its next table uses).
   */
  endpoints(): Map<string, { instanceId: number; realOf(backend: string): number | undefined }> {
    const out = new Map<string, { instanceId: number; realOf(backend: string): number | undefined }>();
    for (const s of this.#services.values()) {
      out.set(`${s.config.vip}|${s.config.port}|${s.config.protocol}`, {
        instanceId: s.instanceId,
        realOf: (backend) => s.backends.get(backend)?.current,
      });
    }
    return out;
  }

  /** Per-backend counters from per-real ones: a backend's two real indexes summed. */
  backendCounters(
    reals: ReadonlyMap<number, { packets: bigint; bytes: bigint }>,
  ): { service: string; backend: string; packets: bigint; bytes: bigint }[] {
    const out = new Map<string, { service: string; backend: string; packets: bigint; bytes: bigint }>();
    for (const [i, r] of this.indexes().reals) {
      const k = backendKey(r.service, r.backend);
      const row = out.get(k) ?? { service: r.service, backend: r.backend, packets: 0n, bytes: 0n };
      const v = reals.get(i);
      row.packets += v?.packets ?? 0n;
      row.bytes += v?.bytes ?? 0n;
      out.set(k, row);
    }
    return [...out.values()];
  }

  /**
   * The sweep's counts: connections per backend (through the owner of each
   * real index, so a backend removed by reload still counts until its flows
   * end), and the held indexes nothing names any more are freed (a freed
   * index of no current backend is cleared).
   */
  afterSweep(counts: FlowCounts): void {
    this.#lastByReal = counts.byReal;
    const connections = new Map<string, number>();
    for (const [i, n] of counts.byReal) {
      const owner = this.#owners.get(i);
      if (owner) connections.set(owner.key, (connections.get(owner.key) ?? 0) + n);
      // An index found naming flows that this process does not hold (adopted pins): hold it.
      else if (!this.#liveRefs.has(i)) this.#held.set(i, this.#held.get(i) ?? counts.startedAt);
    }
    this.#connections = connections;
    let freed = false;
    for (const [i, since] of this.#held) {
      if ((counts.byReal.get(i) ?? 0) > 0 || counts.named.has(i) || counts.startedAt <= since + REAL_QUIESCE_MS) continue;
      if (this.#liveRefs.has(i)) continue;
      this.#held.delete(i);
      const owner = this.#owners.get(i);
      const b = owner ? this.#services.get(owner.service)?.backends.get(owner.backend) : undefined;
      if (owner && (!b || !b.written.has(i))) {
        // Nobody's any more: cleared, so a stale entry could never send there.
        if (owner.valid) this.#dp.deleteReal(i);
        this.#owners.delete(i);
      }
      freed = true;
    }
    // A backend left out of its table for want of a free index gets one now.
    if (freed) {
      for (const s of this.#services.values()) {
        const waiting = [...s.backends.values()].some((b) => b.up && !b.drained && b.weight > 0 && b.mac !== null && b.written.get(b.current) !== b.mac);
        if (waiting) void this.#install(s, 'a held real index was freed');
      }
    }
    // Drains that completed: a drained (or weight-0) backend with nothing left in the table.
    for (const s of this.#services.values()) {
      for (const b of s.backends.values()) {
        const key = backendKey(s.config.name, b.address);
        const quiescent = b.drained || b.weight === 0;
        const n = connections.get(key) ?? 0;
        if (quiescent && n > 0) this.#draining.add(key);
        else if (this.#draining.delete(key) && quiescent) {
          this.#log.info({ service: s.config.name, backend: b.address }, 'drain complete: no connection left');
          this.#opts.onDrained?.(s.config.name, b.address);
        }
      }
    }
  }

  /** Live connections of a backend at the last sweep (undefined before the first sweep). */
  connections(service: string, backend: string): number | undefined {
    return this.#connections ? (this.#connections.get(backendKey(service, backend)) ?? 0) : undefined;
  }

  /** Connections per backend at the last sweep, for the metrics. */
  connectionsByBackend(): { service: string; backend: string; connections: number }[] {
    const out: { service: string; backend: string; connections: number }[] = [];
    for (const s of this.#services.values()) {
      for (const b of s.backends.values()) {
        out.push({ service: s.config.name, backend: b.address, connections: this.#connections?.get(backendKey(s.config.name, b.address)) ?? 0 });
      }
    }
    return out;
  }

  /** Real indexes whose entries were cleared (DOWN backends): a fallback naming one is made TRACKED by the sweep. */
  invalidReals(): Set<number> {
    const out = new Set<number>();
    for (const [i, o] of this.#owners) if (!o.valid) out.add(i);
    return out;
  }

  /** Persistence timeouts (seconds) by data-plane service index. */
  persistenceByIndex(): Map<number, number> {
    const out = new Map<number, number>();
    // Most configs have no persistence: then no service list is built (every sweep asks).
    if (this.longestPersistence() === 0) return out;
    const byEndpoint = new Map([...this.#services.values()].map((x) => [`${x.config.vip}|${x.config.port}|${x.config.protocol}`, x.config]));
    for (const info of this.#dp.listServices()) {
      const timeout = byEndpoint.get(`${info.vip}|${info.port}|${info.protocol}`)?.persistence?.timeout;
      if (timeout !== undefined) out.set(info.index, timeout);
    }
    return out;
  }

  /** The longest persistence timeout of any service (0: none). */
  longestPersistence(): number {
    let max = 0;
    for (const s of this.#services.values()) max = Math.max(max, s.config.persistence?.timeout ?? 0);
    return max;
  }

  #onHealth(change: KeyedHealthChange): void {
    const s = this.#services.get(change.service);
    const b = s?.backends.get(change.backend);
    if (!s || !b) return;
    b.reason = change.reason;
    if (b.up === change.up) return;
    b.up = change.up;
    this.#log.info({ service: change.service, backend: change.backend, reason: change.reason }, change.up ? 'backend up' : 'backend down');
    this.#opts.onBackendUp?.(change.service, change.backend, change.up, change.reason);
    void this.#install(s, `health ${change.backend} ${change.up ? 'up' : 'down'}`);
  }

  /**
   * A real server's MAC as the kernel's neighbour table has it (an event, or
   * the re-read): every backend with that address on that interface takes
   * it, and its service gets a new table at once.
   */
  #onMac(iface: string, address: string, mac: string, install = true): void {
    // The kernel reports a server again on every neighbour state change
    // (REACHABLE, STALE, DELAY...): with 10 000 services on it, each report
    // was a walk of them all for nothing.
    const where = `${iface}|${address}`;
    if (this.#macsTaken.get(where) === mac) return;
    // One log line per address, not per service: one real server may back 10 000 services.
    let changedFrom: string | null = null;
    const services: string[] = [];
    for (const s of this.#services.values()) {
      if (s.interface !== iface) continue;
      const b = s.backends.get(address);
      if (!b || b.mac === mac) continue;
      if (b.mac !== null) changedFrom = b.mac;
      services.push(s.config.name);
      b.mac = mac;
      if (install && !this.#holdingInstalls) void this.#install(s, b.written.size === 0 ? 'MAC resolved' : 'MAC changed');
    }
    this.#macsTaken.set(where, mac);
    if (services.length === 0) return;
    const fields = { backend: address, mac, services: services.length, service: services[0] };
    if (changedFrom !== null) this.#log.warn({ ...fields, from: changedFrom, to: mac }, 'backend MAC changed');
    else this.#log.info(fields, 'backend MAC resolved');
  }

  /** #altIndex() for a config about to be applied, of `primaries` backends in all (computed once per apply: 10 000 services x 10 backends). */
  #altIndexFor(realIndex: number, primaries: number): number | undefined {
    const alt = this.#dp.sizes.reals - 1 - realIndex;
    return alt >= primaries ? alt : undefined;
  }

  /** A backend's second real index (top of the reals map), or undefined when the map has no room for one. */
  #altIndex(realIndex: number): number | undefined {
    const alt = this.#dp.sizes.reals - 1 - realIndex;
    return alt >= this.#primaryReals() ? alt : undefined;
  }

  /** Backends of all services (their primary real indexes), counted once per config apply. */
  #primaryReals(): number {
    if (this.#primaries === undefined) {
      this.#primaries = 0;
      for (const s of this.#services.values()) this.#primaries += s.backends.size;
    }
    return this.#primaries;
  }

  /**
   * Makes sure the real entry the next table uses for b holds b's MAC,
   * without rewriting an entry the live table uses (setReal's contract): a
   * new or changed MAC goes to the backend's other index. Returns false
   * when it could not be written safely (both indexes live, or no room for
   * a second): the caller leaves b out of one table first.
   */
  async #placeReal(s: ServiceState, b: BackendState, live: { has(i: number): boolean }): Promise<boolean> {
    const mac = b.mac;
    if (mac === null) return false;
    if (b.written.get(b.current) === mac) return true;
    const target = this.#realTarget(b, live);
    const key = backendKey(b.service, b.address);
    if (target === undefined) return false;
    // The target may have been live until the last swap: let packets that read that table finish.
    const wait = s.installedAt + REAL_QUIESCE_MS - Date.now();
    if (wait > 0) await sleep(wait);
    this.#dp.setReal(target, { mac, address: b.address });
    this.#owners.set(target, { key, service: b.service, backend: b.address, mac, valid: true });
    b.written.set(target, mac);
    b.current = target;
    return true;
  }

  /**
   * An index of an adopted data plane (a restart) that this config gives to
   * the backend `key`, holding that backend's address: written by the
   * previous vipd for the same backend, so it is its own (its flows may be
   * held there, and only it may rewrite it).
   */
  #adoptOwner(index: number, key: string, service: string, address: string): void {
    if (this.#owners.has(index) || this.#held.has(index)) return;
    const real = this.#dp.real(index);
    if (real === undefined) return;
    if (real.address === address) {
      this.#owners.set(index, { key, service, backend: address, mac: real.mac, valid: true });
      return;
    }
    // Another server's entry, written by the previous vipd for a backend this
    // config moved or dropped (a backend removed by reload keeps its flows
    // there): held until a sweep finds nothing naming it, then cleared. The
    // sweep has not run yet, so without this the index could be rewritten
    // under those flows before anything knew they exist.
    this.#held.set(index, Date.now());
    this.#owners.set(index, { key: `(adopted)|${real.address}`, service: '', backend: real.address, mac: real.mac, valid: true });
  }

  /** Where b's MAC goes: its current index or its other one, whichever no live table uses. */
  #realTarget(b: BackendState, live: { has(i: number): boolean }): number | undefined {
    const alt = this.#altIndex(b.realIndex);
    const key = backendKey(b.service, b.address);
    // An index held for flows may be rewritten by the backend it belongs to
    // only (the same server: its flows come back to it), never by another.
    const usable = (i: number) => !live.has(i) || (this.#held.has(i) && this.#owners.get(i)?.key === key && !this.#liveRefs.has(i));
    return [b.current, b.current === b.realIndex ? alt : b.realIndex].find((i) => i !== undefined && usable(i));
  }

  /**
   * #placeReal for every backend the coming installs will use, in one
   * batched map write (a config of 10 000 x 10 is 100 000 reals: one
   * syscall per batch instead of two per real). Backends whose target
   * still needs its quiescence wait are left to #placeReal.
   */
  #placeRealsAtOnce(): void {
    const live = this.#liveSet();
    const now = Date.now();
    const batch: { index: number; backend: BackendState; mac: string }[] = [];
    for (const s of this.#services.values()) {
      if (s.installedAt + REAL_QUIESCE_MS > now) continue;
      for (const b of s.backends.values()) {
        const mac = b.mac;
        if (mac === null || !b.up || b.drained || b.weight <= 0 || b.written.get(b.current) === mac) continue;
        const target = this.#realTarget(b, live);
        if (target !== undefined) batch.push({ index: target, backend: b, mac });
      }
    }
    if (batch.length === 0) return;
    this.#dp.setReals(batch.map(({ index, backend, mac }) => [index, { mac, address: backend.address }]));
    for (const { index, backend, mac } of batch) {
      const key = backendKey(backend.service, backend.address);
      this.#owners.set(index, { key, service: backend.service, backend: backend.address, mac, valid: true });
      backend.written.set(index, mac);
      backend.current = index;
    }
  }

  /** Real indexes the service's live table uses (read from the map once, then tracked). */
  #liveReals(s: ServiceState): Set<number> {
    if (!this.#liveCounted.has(s)) {
      this.#liveCounted.add(s);
      for (const i of this.#loadLive(s)) this.#liveRefs.set(i, (this.#liveRefs.get(i) ?? 0) + 1);
    }
    return this.#loadLive(s);
  }

  /** Makes next the service's live reals, keeping #liveRefs in step. */
  #setLive(s: ServiceState, next: Set<number>): void {
    const counted = this.#liveCounted.has(s);
    if (counted) {
      for (const i of s.liveReals ?? []) {
        const n = (this.#liveRefs.get(i) ?? 1) - 1;
        if (n > 0) this.#liveRefs.set(i, n);
        else this.#liveRefs.delete(i);
      }
    }
    s.liveReals = next;
    this.#liveCounted.add(s);
    for (const i of next) this.#liveRefs.set(i, (this.#liveRefs.get(i) ?? 0) + 1);
  }

  /** Every service's live reals counted (adopted tables are read once), then the set of them. */
  #liveSet(): { has(i: number): boolean } {
    if (this.#allCounted !== this.#services.size) {
      for (const x of this.#services.values()) this.#liveReals(x);
      this.#allCounted = this.#services.size;
    }
    return this.#isLive;
  }

  #loadLive(s: ServiceState): Set<number> {
    if (!s.liveReals) {
      const table = this.#dp.table({ vip: s.config.vip, port: s.config.port, protocol: s.config.protocol });
      s.liveReals = new Set(table ?? []);
    }
    return s.liveReals;
  }

  /**
   * DOWN backends: once no live table names their indexes, the entries lose
   * VIPD_REAL_F_VALID, so the program hands their flows to the ring. The
   * indexes stay held (stale flow entries may name them) until a sweep
   * finds none: only the same backend may write them meanwhile.
   */
  async #invalidate(s: ServiceState, down: readonly BackendState[]): Promise<void> {
    const wait = s.installedAt + REAL_QUIESCE_MS - Date.now();
    if (wait > 0) await sleep(wait);
    for (const b of down) {
      if (b.up) continue;
      let flows = 0;
      let cleared = 0;
      for (const i of [...b.written.keys()]) {
        if (this.#liveRefs.has(i)) continue;
        this.#dp.deleteReal(i);
        b.written.delete(i);
        const owner = this.#owners.get(i);
        if (owner) owner.valid = false;
        this.#held.set(i, Date.now());
        flows += this.#lastByReal?.get(i) ?? 0;
        cleared++;
      }
      if (cleared === 0) continue;
      this.#log.warn(
        { service: b.service, backend: b.address, flows },
        `backend down: its ${flows} flow(s) in the connection table go to other real servers`,
      );
      this.#opts.onFlowsLost?.(b.service, b.address, flows);
    }
  }

  /**
   * Whether the next table of s records where slots changed hands (their
   * fallbacks): always for a config change, which every host applies at
   * the same time, so a BACKUP keeps the fallbacks its MASTER has; for a
   * change of health or MAC only where the service's instance is served
   * here, since only then can flows have started on the old table. A host
   * that is not serving and sees its backends go DOWN and come back (its
   * own link was down) would otherwise record changes its MASTER never
   * made, and send the MASTER's flows elsewhere when it takes over.
   */
  #recordChanges(s: ServiceState): boolean {
    if (s.configPending === true) return true;
    const inst = this.#dp.instance(s.instanceId);
    return inst.active && inst.leaseExpiryNs > monotonicNs();
  }

  #install(s: ServiceState, why: string, configChange = false): Promise<void> {
    if (configChange) s.configPending = true;
    // An install still waiting its turn will read the newest state anyway: a
    // burst of changes (ten real servers resolving, 10 000 services each)
    // costs each service one table, not one per change.
    if (this.#queued.has(s)) return s.installing;
    this.#queued.add(s);
    const next = s.installing.then(async () => {
      while (this.#slices.due()) await this.#slices.pause();
      this.#queued.delete(s);
      if (!this.#services.has(s.config.name)) return;
      const spec = { vip: s.config.vip, port: s.config.port, protocol: s.config.protocol };
      const candidates = [...s.backends.values()].filter((b) => b.up && !b.drained && b.mac !== null && b.weight > 0);
      // Reals the live table uses, of every service (indexes move with a reload).
      const live = this.#liveSet();
      const eligible: BackendState[] = [];
      const blocked: BackendState[] = [];
      for (const b of candidates) {
        // Already written where the next table reads it (the batch of apply() did most): no await, no promise.
        const placed = b.written.get(b.current) === b.mac || (await this.#placeReal(s, b, live));
        (placed ? eligible : blocked).push(b);
      }
      // A DOWN backend's indexes: no fallback may name them (their entries are cleared below).
      const down = [...s.backends.values()].filter((b) => !b.up);
      const invalid = new Set(down.flatMap((b) => [...b.written.keys()]));
      const swap = async (list: BackendState[], note: string) => {
        const key = list.map((b) => `${b.address}/${b.weight}/${b.current}`).join(',');
        if (key === s.installedKey) return;
        const record = this.#recordChanges(s);
        await this.#dp.setBackends(
          spec,
          list.map((b) => ({ real: b.current, key: b.address, weight: b.weight })),
          invalid,
          record,
        );
        s.configPending = false;
        s.installedKey = key;
        const before = s.liveReals ?? new Set<number>();
        const next = new Set(list.map((b) => b.current));
        this.#setLive(s, next);
        s.installedAt = Date.now();
        // Reals that left the table: held while flows or fallbacks may name them.
        for (const i of before) if (!next.has(i) && !invalid.has(i)) this.#held.set(i, s.installedAt);
        this.#log.info({ service: s.config.name, backends: list.map((b) => b.address), why: note }, 'Maglev table installed');
      };
      await swap(eligible, why);
      if (blocked.length > 0) {
        // No free index to write a changed MAC at: with the backend out of the
        // live table its own entry is free, written, and the backend rejoins.
        const freed = this.#liveSet();
        for (const b of blocked) if (await this.#placeReal(s, b, freed)) eligible.push(b);
        eligible.sort((x, y) => byLocale.compare(x.address, y.address));
        await swap(eligible, `${why} (rewritten in place after leaving the table)`);
      }
      if (down.length > 0) await this.#invalidate(s, down);
    });
    s.installing = next
      .catch((err: unknown) => {
        this.#log.error({ service: s.config.name, err: (err as Error).message }, 'installing the Maglev table failed');
      })
      .finally(() => {
        for (const wake of [...this.#installed]) wake();
      });
    return s.installing;
  }
}
