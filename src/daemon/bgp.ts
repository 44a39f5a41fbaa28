/**
 * The daemon's BGP side: the `announce: bgp` instances (active on every host
 * while the daemon is healthy: their data-plane lease is renewed from a
 * timer, as VRRP adverts renew a MASTER's), which VIPs this host announces
 * now (src/bgp/announce-policy.ts), BIRD (src/bgp/supervisor.ts), the BGP
 * metrics and the host drain. The Daemon says when (start, reload, stop);
 * this module says how.
 */
import { BirdSupervisor, decideAnnouncements, type AnnounceDecision, type PeerSession } from '../bgp/index.js';
import type { BgpConfig, InstanceConfig } from '../config/index.js';
import type { Dataplane } from '../dataplane/manager.js';
import type { VipdMetrics } from '../metrics/index.js';
import type { BgpStatus, ServiceStatus } from './api.js';
import type { Logger } from './logger.js';

export type BgpDataplane = Pick<Dataplane, 'activate' | 'deactivate' | 'setVip' | 'deleteVip'>;

export interface BgpAnnouncerOptions {
  dataplane: BgpDataplane;
  metrics: VipdMetrics;
  logger: Logger;
  /** Data-plane id of an instance (InstanceSet.ref). */
  idOf: (instance: string) => number;
  services: () => ServiceStatus[];
  attached: (iface: string) => boolean;
  isMaster: (instance: string) => boolean;
  birdPath?: string;
}

/**
 * The lease of a BGP instance and how often it is renewed: a daemon whose
 * event loop stalls for LEASE_S stops forwarding, as a silent VRRP MASTER would.
 */
const LEASE_S = 3;
/**
 * Routes bring these VIPs' traffic to every announcing host: the program
 * answers no ARP/NDP for them (VIPD_INST_F_ROUTED), so no host draws the
 * segment's traffic to itself alone.
 */
const ROUTED = { routed: true } as const;
const TICK_MS = 1000;

export class BgpAnnouncer {
  readonly #o: BgpAnnouncerOptions;
  #bgp: BgpConfig;
  readonly #bird: BirdSupervisor;
  /** The BGP-only instances whose lease this module keeps: name -> (id, interface, VIPs). */
  #leased = new Map<string, { id: number; interface: string; vips: readonly string[] }>();
  #instances: readonly InstanceConfig[] = [];
  #drained = false;
  #stopping = false;
  #timer: NodeJS.Timeout | undefined;
  #last: AnnounceDecision = { announce: [], reasons: new Map() };

  constructor(bgp: BgpConfig, opts: BgpAnnouncerOptions) {
    this.#o = opts;
    this.#bgp = bgp;
    this.#bird = new BirdSupervisor(bgp, { logger: opts.logger, ...(opts.birdPath ? { birdPath: opts.birdPath } : {}) });
    this.#bird.on('sessions', (s) => this.#onSessions(s));
  }

  /** Starts BIRD (nothing announced yet) and the lease/announce tick. */
  async start(): Promise<void> {
    await this.#bird.start();
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
  }

  /**
   * Takes the instances of a (new) config: BGP-only instances get their VIPs
   * in the data plane and an active lease; ones that are gone stop.
   */
  applyInstances(instances: readonly InstanceConfig[]): void {
    this.#instances = instances;
    const wanted = new Map(
      instances.filter((i) => i.announce === 'bgp').map((i) => [i.name, { id: this.#o.idOf(i.name), interface: i.interface, vips: i.vips.map((v) => v.address) }]),
    );
    for (const [name, old] of this.#leased) {
      const next = wanted.get(name);
      if (next && next.id === old.id && next.interface === old.interface && next.vips.join() === old.vips.join()) continue;
      this.#o.dataplane.deactivate(old.id);
      for (const v of old.vips) if (!next?.vips.includes(v)) this.#o.dataplane.deleteVip(v);
      this.#leased.delete(name);
    }
    for (const [name, e] of wanted) {
      if (this.#leased.has(name)) continue;
      for (const v of e.vips) this.#o.dataplane.setVip(v, e.id);
      this.#o.dataplane.activate(e.id, LEASE_S, e.interface, undefined, ROUTED);
      this.#leased.set(name, e);
    }
  }

  async reconfigure(bgp: BgpConfig): Promise<void> {
    this.#bgp = bgp;
    await this.#bird.reconfigure(bgp);
  }

  /** Ids of the BGP-only instances: active on this host while the daemon runs. */
  activeIds(): Set<number> {
    return new Set([...this.#leased.values()].map((e) => e.id));
  }

  /** `vipctl drain-host` / `undrain-host`: false when it already was so. */
  async setDrained(drained: boolean): Promise<boolean> {
    const changed = drained !== this.#drained;
    this.#drained = drained;
    await this.update();
    return changed;
  }

  /** Recomputes what to announce and tells BIRD when it changed. Safe to call any time. */
  async update(): Promise<void> {
    const decision = decideAnnouncements({
      instances: this.#instances.map((i) => ({ name: i.name, interface: i.interface, announce: i.announce, vips: i.vips.map((v) => v.address) })),
      services: this.#o.services(),
      withdrawAll: this.#drained || this.#stopping,
      attached: this.#o.attached,
      isMaster: this.#o.isMaster,
    });
    const before = this.#last;
    this.#last = decision;
    for (const [vip, why] of decision.reasons) {
      const was = before.reasons.get(vip);
      if (was === why) continue;
      if (why === null) this.#o.logger.info({ vip }, 'BGP: announcing');
      else this.#o.logger.info({ vip, why }, 'BGP: withdrawing');
    }
    this.#publish();
    try {
      await this.#bird.announce(decision.announce);
    } catch (err) {
      this.#o.logger.error({ err: (err as Error).message }, 'BGP: BIRD did not take the new routes');
    }
  }

  /**
   * Graceful stop, first half: every route withdrawn, then `gracePeriod`
   * seconds during which the data plane still forwards what the routers send
   * while they move the flows to the other hosts.
   */
  async withdrawForStop(): Promise<void> {
    // Nothing announced (drained, unhealthy): no router sends us anything to finish.
    const wasAnnounced = this.#bird.announced.length > 0;
    this.#stopping = true;
    await this.update();
    const ms = this.#bgp.gracePeriod * 1000;
    if (ms > 0 && wasAnnounced) {
      this.#o.logger.info({ seconds: this.#bgp.gracePeriod }, 'BGP: routes withdrawn, forwarding for the grace period');
      await new Promise((r) => setTimeout(r, ms));
    }
  }

  /** Second half: BIRD stops, the BGP instances stop forwarding. */
  async stop(): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#timer);
    await this.#bird.stop();
    for (const e of this.#leased.values()) this.#o.dataplane.deactivate(e.id);
    this.#leased.clear();
  }

  /** Handoff: BIRD goes with this process (its sessions drop); the leases run out unless the next vipd renews them. */
  async handoff(): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#timer);
    await this.#bird.stop();
  }

  status(): BgpStatus {
    return {
      asn: this.#bgp.asn,
      routerId: this.#bgp.routerId,
      drained: this.#drained,
      sessions: this.#bird.sessions().map((s) => ({ peer: s.peer, up: s.up, state: s.state })),
      vips: [...this.#last.reasons].map(([vip, why]) => ({ vip, announced: why === null, reason: why })),
    };
  }

  #tick(): void {
    for (const e of this.#leased.values()) {
      try {
        this.#o.dataplane.activate(e.id, LEASE_S, e.interface, undefined, ROUTED);
      } catch (err) {
        this.#o.logger.error({ interface: e.interface, err: (err as Error).message }, 'BGP: lease renewal failed');
      }
    }
    void this.update();
  }

  #onSessions(sessions: PeerSession[]): void {
    for (const s of sessions) this.#o.logger.info({ peer: s.peer, state: s.state }, `BGP session ${s.up ? 'up' : 'not established'}`);
    this.#publish();
  }

  #publish(): void {
    const vips = new Map([...this.#last.reasons].map(([vip, why]) => [vip, why === null]));
    this.#o.metrics.setBgp(this.#bird.sessions(), vips);
  }
}
