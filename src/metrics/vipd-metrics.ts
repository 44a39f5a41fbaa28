/**
 * Every vipd metric (DESIGN.md "Metrics") on a private registry, so tests and
 * several daemons in one process never collide in prom-client's global one.
 *
 * Two kinds of metric live here:
 * - daemon-side ones (VRRP state, transitions, adverts, backend health,
 *   failover time), set by the daemon as things happen;
 * - kernel-side ones (XDP verdicts, service and backend packets/bytes), which
 *   are per-CPU BPF counters. Those are read from a DataplaneStatsSource in
 *   `collect()`, at scrape time: the kernel already keeps the totals, so
 *   copying them on a timer would only add staleness and work.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { CounterValue, DataplaneCounters, DataplaneStatsSource } from './dataplane-source.js';
import { registerEventLoopBusy } from './event-loop.js';

/** The numeric value of each VRRP state in vipd_vrrp_state. */
export const VRRP_STATE_VALUE = { INIT: 0, BACKUP: 1, MASTER: 2, FAULT: 3 } as const;
export type VrrpStateName = keyof typeof VRRP_STATE_VALUE;
export type AdvertDirection = 'rx' | 'tx';

/** The labels of vipd_vrrp_instance_info (label values are strings). */
export interface InstanceInfo {
  readonly instance: string;
  readonly vrid: string;
  readonly interface: string;
  readonly version: string;
}

/**
 * prom-client always starts Node's event-loop delay histogram, a libuv timer
 * firing every `eventLoopMonitoringPrecision` ms, which would be the one
 * timer left waking a steady daemon (VRRP's steady state runs in native
 * threads). Its series are replaced by the native watch's (event-loop.ts),
 * so its timer is set to fire once in 24 days: never, in effect.
 */
const EVENT_LOOP_TIMER_NEVER_MS = 2 ** 31 - 1;

/** prom-client default gauges whose names end in _total (see the constructor). */
const MISNAMED_DEFAULT_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

export interface VipdMetricsOptions {
  readonly dataplane?: DataplaneStatsSource;
  /** collectDefaultMetrics on this registry (process CPU, memory, fds, event loop). Default true. */
  readonly defaultMetrics?: boolean;
  readonly logger?: Pick<Logger, 'warn'>;
  /**
   * Series per (service, backend): vipd_backend_up, _packets_total and
   * _bytes_total. Default true; false for hosts with tens of thousands of
   * backends (3 series each), where vipd_service_backends_up{service} and
   * the per-service counters remain (docs/metrics.md, "Cost of a scrape").
   */
  readonly perBackend?: boolean;
}

export class VipdMetrics {
  readonly registry = new Registry();
  readonly #logger: Pick<Logger, 'warn'> | undefined;
  #dataplane: DataplaneStatsSource | undefined;
  #read: Promise<DataplaneCounters | undefined> | undefined;
  /** Label values seen, so a reload can drop exactly the series it removes. */
  readonly #rxInvalidReasons = new Map<string, Set<string>>();
  /** Brings vipd_vrrp_adverts_total up to date before it is read (setAdvertSync). */
  #advertSync: (() => void) | undefined;
  readonly #backends = new Map<string, Set<string>>();

  readonly vrrpState: Gauge<'instance'>;
  readonly vrrpTransitions: Counter<'instance' | 'to'>;
  readonly vrrpAdverts: Counter<'instance' | 'direction'>;
  readonly vrrpRxInvalid: Counter<'instance' | 'reason'>;
  readonly vrrpInstanceInfo: Gauge<'instance' | 'vrid' | 'interface' | 'version'>;
  readonly backendUp: Gauge<'service' | 'backend'>;
  /** Backends of a service whose health check passes (all of them without a check). */
  readonly serviceBackendsUp: Gauge<'service'>;
  readonly #perBackend: boolean;
  /** service -> backend -> up, for serviceBackendsUp. */
  readonly #backendState = new Map<string, Map<string, boolean>>();
  /** Services whose serviceBackendsUp is to be counted again before the next read. */
  readonly #upDirty = new Set<string>();
  readonly failoverSeconds: Gauge;
  readonly bgpSessionUp: Gauge<'peer'>;
  readonly bgpAnnounced: Gauge<'vip'>;
  readonly backendConnections: Gauge<'service' | 'backend'>;
  readonly connections: Gauge<'state'>;
  readonly connectionsCapacity: Gauge<'table'>;
  readonly sweepSeconds: Gauge;
  /** The info labels each declared instance carries, to remove exactly that series. */
  readonly #instanceInfo = new Map<string, InstanceInfo>();

  constructor(options: VipdMetricsOptions = {}) {
    this.#dataplane = options.dataplane;
    this.#logger = options.logger;
    const registers = [this.registry];

    this.vrrpState = new Gauge({
      name: 'vipd_vrrp_state',
      help: 'VRRP state of the instance: 0 init, 1 backup, 2 master, 3 fault.',
      labelNames: ['instance'],
      registers,
    });
    // What identifies a VRID across hosts (vrid, version): rules join it onto
    // vipd_vrrp_state to find two MASTERs of one VRID (split brain).
    this.vrrpInstanceInfo = new Gauge({
      name: 'vipd_vrrp_instance_info',
      help: 'Always 1: the VRRP instance with its VRID, VRRP version and interface as labels.',
      labelNames: ['instance', 'vrid', 'interface', 'version'],
      registers,
    });
    this.vrrpTransitions = new Counter({
      name: 'vipd_vrrp_transitions_total',
      help: 'VRRP state changes of the instance, by the state entered.',
      labelNames: ['instance', 'to'],
      registers,
    });
    this.vrrpAdverts = new Counter({
      name: 'vipd_vrrp_adverts_total',
      help: 'VRRP advertisements sent (tx) and accepted (rx) by the instance.',
      labelNames: ['instance', 'direction'],
      registers,
      // Native threads send and absorb adverts without waking JS; their
      // counts are taken here, at scrape time.
      collect: () => this.#advertSync?.(),
    });
    this.vrrpRxInvalid = new Counter({
      name: 'vipd_vrrp_rx_invalid_total',
      help: 'VRRP packets received for the instance and dropped, by reason.',
      labelNames: ['instance', 'reason'],
      registers,
    });
    this.#perBackend = options.perBackend !== false;
    this.backendUp = new Gauge({
      name: 'vipd_backend_up',
      help: 'Health check result of the real server: 1 up, 0 down.',
      labelNames: ['service', 'backend'],
      registers: this.#perBackend ? registers : [],
    });
    this.serviceBackendsUp = new Gauge({
      name: 'vipd_service_backends_up',
      help: 'Backends of the service whose health check passes (all of them when it has no check).',
      labelNames: ['service'],
      registers,
      // Counted when read: a config load reports 100 000 backends one by one.
      collect: () => this.#countDirty(),
    });
    this.failoverSeconds = new Gauge({
      name: 'vipd_failover_seconds',
      help: 'Last BACKUP->MASTER change: seconds from winning the election to the first announcement sent.',
      registers,
    });

    this.bgpSessionUp = new Gauge({
      name: 'vipd_bgp_session_up',
      help: 'BGP session to the peer: 1 established, 0 not.',
      labelNames: ['peer'],
      registers,
    });
    this.bgpAnnounced = new Gauge({
      name: 'vipd_bgp_announced',
      help: 'The VIP is announced to the BGP peers by this host: 1 announced, 0 withdrawn.',
      labelNames: ['vip'],
      registers,
    });

    this.backendConnections = new Gauge({
      name: 'vipd_backend_connections',
      help: 'Flows the connection table holds for the backend at the last sweep (a drained backend reaches 0 when its connections ended).',
      labelNames: ['service', 'backend'],
      registers: this.#perBackend ? registers : [],
    });
    this.connections = new Gauge({
      name: 'vipd_connections',
      help: 'Entries of the connection table at the last sweep, by state (tcp, tcp_closing, udp, client: persistent clients, pending: first packets).',
      labelNames: ['state'],
      registers,
    });
    this.connectionsCapacity = new Gauge({
      name: 'vipd_connections_capacity',
      help: 'Entries the connection table maps hold at most (flows: flows4 + flows6; pending: pending4 + pending6).',
      labelNames: ['table'],
      registers,
    });
    this.sweepSeconds = new Gauge({
      name: 'vipd_connections_sweep_seconds',
      help: 'Wall time of the last sweep of the connection table (read, expire, count).',
      registers,
    });

    const snapshot = (): Promise<DataplaneCounters | undefined> => this.#snapshot();
    new Counter({
      name: 'vipd_flow_events_total',
      help: 'Packets by what the connection table did with them (hit, pending, promoted, pinned, reassigned, reopened, closing, full).',
      labelNames: ['event'],
      registers,
      async collect() {
        const c = await snapshot();
        this.reset();
        for (const [event, value] of Object.entries(c?.flowEvents ?? {})) this.inc({ event }, toNumber(value));
      },
    });
    new Counter({
      name: 'vipd_xdp_verdicts_total',
      help: 'Packets seen by the XDP program, by verdict and reason (per-CPU counters, summed).',
      labelNames: ['reason'],
      registers,
      async collect() {
        const c = await snapshot();
        this.reset();
        for (const [reason, value] of Object.entries(c?.verdicts ?? {})) this.inc({ reason }, toNumber(value));
      },
    });
    new Counter({
      name: 'vipd_service_packets_total',
      help: 'Packets forwarded for the service by the XDP program.',
      labelNames: ['service'],
      registers,
      async collect() {
        const c = await snapshot();
        this.reset();
        for (const s of c?.services ?? []) this.inc({ service: s.service }, toNumber(s.packets));
      },
    });
    new Counter({
      name: 'vipd_service_bytes_total',
      help: 'Bytes forwarded for the service by the XDP program.',
      labelNames: ['service'],
      registers,
      async collect() {
        const c = await snapshot();
        this.reset();
        for (const s of c?.services ?? []) this.inc({ service: s.service }, toNumber(s.bytes));
      },
    });
    const backendRegisters = this.#perBackend ? registers : [];
    new Counter({
      name: 'vipd_backend_packets_total',
      help: 'Packets forwarded to the real server by the XDP program.',
      labelNames: ['service', 'backend'],
      registers: backendRegisters,
      async collect() {
        const c = await snapshot();
        this.reset();
        for (const b of c?.backends ?? []) this.inc({ service: b.service, backend: b.backend }, toNumber(b.packets));
      },
    });
    new Counter({
      name: 'vipd_backend_bytes_total',
      help: 'Bytes forwarded to the real server by the XDP program.',
      labelNames: ['service', 'backend'],
      registers: backendRegisters,
      async collect() {
        const c = await snapshot();
        this.reset();
        for (const b of c?.backends ?? []) this.inc({ service: b.service, backend: b.backend }, toNumber(b.bytes ?? 0));
      },
    });

    if (options.defaultMetrics !== false) {
      // The event-loop lag histogram: measured at every turn by the addon
      // (event-loop.ts), not sampled by a timer that wakes an idle daemon.
      collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_TIMER_NEVER_MS });
      registerEventLoopBusy(this.registry);
      // prom-client exports these as gauges named *_total, which Prometheus
      // reserves for counters (`promtool check metrics` flags them). They
      // are the sums of nodejs_active_{handles,requests,resources}{type},
      // which stay, so nothing is lost.
      for (const name of MISNAMED_DEFAULT_GAUGES) this.registry.removeSingleMetric(name);
    }
  }

  /** The data plane may come up after the metrics; undefined hides the kernel series. */
  setDataplane(source: DataplaneStatsSource | undefined): void {
    this.#dataplane = source;
  }

  /**
   * Declares an instance: state INIT and zeroed transition/advert series, so
   * that rate() and increase() see the first event instead of a new series.
   */
  declareInstance(instance: string, info?: Omit<InstanceInfo, 'instance'>): void {
    this.vrrpState.set({ instance }, VRRP_STATE_VALUE.INIT);
    const previous = this.#instanceInfo.get(instance);
    if (previous) this.vrrpInstanceInfo.remove(previous);
    if (info) {
      const labels: InstanceInfo = { instance, vrid: info.vrid, interface: info.interface, version: info.version };
      this.vrrpInstanceInfo.set(labels, 1);
      this.#instanceInfo.set(instance, labels);
    }
    for (const to of Object.keys(VRRP_STATE_VALUE)) this.vrrpTransitions.inc({ instance, to }, 0);
    this.vrrpAdverts.inc({ instance, direction: 'rx' }, 0);
    this.vrrpAdverts.inc({ instance, direction: 'tx' }, 0);
  }

  /** Drops every series of an instance removed by a reload. */
  removeInstance(instance: string): void {
    this.vrrpState.remove({ instance });
    const info = this.#instanceInfo.get(instance);
    if (info) this.vrrpInstanceInfo.remove(info);
    this.#instanceInfo.delete(instance);
    for (const to of Object.keys(VRRP_STATE_VALUE)) this.vrrpTransitions.remove({ instance, to });
    for (const direction of ['rx', 'tx']) this.vrrpAdverts.remove({ instance, direction });
    for (const reason of this.#rxInvalidReasons.get(instance) ?? []) this.vrrpRxInvalid.remove({ instance, reason });
    this.#rxInvalidReasons.delete(instance);
  }

  /** Records a state change: the gauge and the transition counter together. */
  transition(instance: string, to: VrrpStateName): void {
    this.vrrpState.set({ instance }, VRRP_STATE_VALUE[to]);
    this.vrrpTransitions.inc({ instance, to });
  }

  /**
   * `sync` runs when vipd_vrrp_adverts_total is scraped, before it is read:
   * the daemon reports there the adverts its native threads sent and
   * absorbed since the last report (advert()).
   */
  setAdvertSync(sync: (() => void) | undefined): void {
    this.#advertSync = sync;
  }

  advert(instance: string, direction: AdvertDirection, count = 1): void {
    if (count > 0) this.vrrpAdverts.inc({ instance, direction }, count);
  }

  /** `reason`: a fixed string from the VRRP validator, never packet data. */
  rxInvalid(instance: string, reason: string): void {
    this.vrrpRxInvalid.inc({ instance, reason });
    remember(this.#rxInvalidReasons, instance, reason);
  }

  setBackendUp(service: string, backend: string, up: boolean): void {
    if (this.#perBackend) this.backendUp.set({ service, backend }, up ? 1 : 0);
    remember(this.#backends, service, backend);
    let states = this.#backendState.get(service);
    if (!states) this.#backendState.set(service, (states = new Map()));
    states.set(backend, up);
    this.#upDirty.add(service);
  }

  /** Drops the health series of a backend (or all of a service's) removed by a reload. */
  removeBackend(service: string, backend?: string): void {
    const known = this.#backends.get(service);
    const states = this.#backendState.get(service);
    for (const b of backend === undefined ? [...(known ?? [])] : [backend]) {
      this.backendUp.remove({ service, backend: b });
      states?.delete(b);
      known?.delete(b);
    }
    if (known?.size === 0) this.#backends.delete(service);
    if (states?.size === 0) {
      this.#backendState.delete(service);
      this.#upDirty.delete(service);
      this.serviceBackendsUp.remove({ service });
    } else this.#upDirty.add(service);
  }

  #countDirty(): void {
    for (const service of this.#upDirty) this.#countUp(service);
    this.#upDirty.clear();
  }

  #countUp(service: string): void {
    let up = 0;
    for (const ok of this.#backendState.get(service)?.values() ?? []) if (ok) up++;
    this.serviceBackendsUp.set({ service }, up);
  }

  /** The last sweep of the connection table: per backend (when per-backend series are on), per state, capacity. */
  setConnections(sweep: {
    backends: readonly { service: string; backend: string; connections: number }[];
    byState: Readonly<Record<string, number>>;
    capacity: { flows: number; pending: number };
    seconds: number;
  }): void {
    if (this.#perBackend) {
      this.backendConnections.reset();
      for (const b of sweep.backends) this.backendConnections.set({ service: b.service, backend: b.backend }, b.connections);
    }
    for (const [state, n] of Object.entries(sweep.byState)) this.connections.set({ state }, n);
    this.connectionsCapacity.set({ table: 'flows' }, sweep.capacity.flows);
    this.connectionsCapacity.set({ table: 'pending' }, sweep.capacity.pending);
    this.sweepSeconds.set(sweep.seconds);
  }

  setFailoverSeconds(seconds: number): void {
    this.failoverSeconds.set(seconds);
  }

  /** Replaces every BGP series: sessions by peer, announced state by VIP (a reload drops what is gone). */
  setBgp(sessions: readonly { peer: string; up: boolean }[], vips: ReadonlyMap<string, boolean>): void {
    this.bgpSessionUp.reset();
    for (const s of sessions) this.bgpSessionUp.set({ peer: s.peer }, s.up ? 1 : 0);
    this.bgpAnnounced.reset();
    for (const [vip, announced] of vips) this.bgpAnnounced.set({ vip }, announced ? 1 : 0);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of everything. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  /**
   * One map read per scrape: the four kernel metrics collect concurrently
   * and share the read in flight. A failed read is logged and hides the
   * kernel series for that scrape rather than failing the whole scrape.
   */
  #snapshot(): Promise<DataplaneCounters | undefined> {
    if (this.#read) return this.#read;
    const source = this.#dataplane;
    if (!source) return Promise.resolve(undefined);
    const read = (async () => {
      try {
        return await source.readCounters();
      } catch (err) {
        this.#logger?.warn({ err }, 'reading the data plane counters failed; kernel metrics left out of this scrape');
        return undefined;
      }
    })();
    this.#read = read;
    void read.finally(() => {
      if (this.#read === read) this.#read = undefined;
    });
    return read;
  }
}

/** u64 totals as the float Prometheus stores anyway (exact up to 2^53). */
function toNumber(value: CounterValue): number {
  const n = typeof value === 'bigint' ? Number(value) : value;
  return Number.isFinite(n) && n >= 0 ? n : 0;
}

function remember(seen: Map<string, Set<string>>, key: string, value: string): void {
  let set = seen.get(key);
  if (!set) seen.set(key, (set = new Set()));
  set.add(value);
}
