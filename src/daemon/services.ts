/**
 * Services and their real servers, kept in the data plane: health checks,
 * drain, and real-server MACs from the neighbour table decide which real
 * servers are in each service's Maglev table; every change builds a whole
 * new table and swaps it in with one map update.
 *
 * Real-server indexes are assigned per (service, backend) in sorted order,
 * so the same config gives the same indexes after a restart, and per-backend
 * counters stay per service.
 */
import { createSocket } from 'node:dgram';
import type { ServiceConfig } from '../config/index.js';
import type { Dataplane } from '../dataplane/manager.js';
import { checkSpecFromConfig, HealthMonitor, type KeyedHealthChange } from '../health/index.js';
import { resolveNeighbour } from '../net/index.js';
import type { BackendStatus, ServiceStatus } from './api.js';
import type { Logger } from './logger.js';

interface BackendState {
  readonly service: string;
  readonly address: string;
  readonly weight: number;
  readonly realIndex: number;
  up: boolean;
  drained: boolean;
  mac: string | null;
  reason: string | null;
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
}

export interface ServiceTableOptions {
  dataplane: Dataplane;
  logger: Logger;
  /** Re-read neighbour MACs this often (ms). */
  macRefreshMs?: number;
  /** A backend's health: its starting state (no reason), then every change (with the check's reason). */
  onBackendUp?: (service: string, backend: string, up: boolean, reason?: string) => void;
}

const backendKey = (service: string, address: string) => `${service}|${address}`;

export class ServiceTable {
  readonly health: HealthMonitor;
  readonly #dp: Dataplane;
  readonly #log: Logger;
  readonly #services = new Map<string, ServiceState>();
  readonly #opts: ServiceTableOptions;
  #macTimer: NodeJS.Timeout | undefined;

  constructor(opts: ServiceTableOptions) {
    this.#opts = opts;
    this.#dp = opts.dataplane;
    this.#log = opts.logger.child({ part: 'services' });
    this.health = new HealthMonitor({ logger: this.#log });
    this.health.onChange((c) => this.#onHealth(c));
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
    for (const [name, state] of this.#services) {
      const next = wanted.get(name);
      if (!next || next.vip !== state.config.vip || next.port !== state.config.port || next.protocol !== state.config.protocol) {
        await state.installing;
        this.#dp.deleteService({ vip: state.config.vip, port: state.config.port, protocol: state.config.protocol });
        this.#services.delete(name);
        this.#log.info({ service: name }, 'service removed');
      }
    }
    let realIndex = 0;
    const checks = new Map<string, ReturnType<typeof checkSpecFromConfig>>();
    for (const svc of [...services].sort((a, b) => a.name.localeCompare(b.name))) {
      const inst = instanceOf(svc.instance);
      const old = this.#services.get(svc.name);
      const backends = new Map<string, BackendState>();
      for (const b of [...svc.backends].sort((x, y) => x.address.localeCompare(y.address))) {
        const prev = old?.backends.get(b.address);
        const key = backendKey(svc.name, b.address);
        backends.set(b.address, {
          service: svc.name,
          address: b.address,
          weight: b.weight,
          realIndex: realIndex++,
          up: prev?.up ?? (svc.healthCheck ? (this.health.isUp(key) ?? true) : true),
          drained: prev?.drained ?? false,
          mac: prev?.mac ?? null,
          reason: prev?.reason ?? (svc.healthCheck ? null : 'no health check'),
        });
        if (svc.healthCheck) {
          checks.set(key, checkSpecFromConfig(svc.healthCheck, { service: svc.name, servicePort: svc.port, backend: b.address }));
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
      };
      this.#services.set(svc.name, state);
      this.#dp.addService({ vip: svc.vip, port: svc.port, protocol: svc.protocol, instance: inst.id });
      if (!old) this.#log.info({ service: svc.name, backends: svc.backends.length }, 'service added');
    }
    this.health.sync(checks);
    // Indexes may have moved with the config: rewrite every known real at its index.
    for (const s of this.#services.values()) {
      for (const b of s.backends.values()) if (b.mac) this.#dp.setReal(b.realIndex, { mac: b.mac, address: b.address });
    }
    this.#refreshMacs();
    await Promise.all([...this.#services.values()].map((s) => this.#install(s, 'config')));
  }

  start(): void {
    this.health.start();
    const every = this.#opts.macRefreshMs ?? 2000;
    this.#macTimer = setInterval(() => this.#refreshMacs(), every);
    this.#macTimer.unref();
  }

  stop(): void {
    this.health.stop();
    if (this.#macTimer) clearInterval(this.#macTimer);
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
    await this.#install(s, drained ? `drain ${address}` : `undrain ${address}`);
    return { changed: true };
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
        }),
      ),
    }));
  }

  /** (service index -> name) and (real index -> service, backend), for counters. */
  indexes(): { services: Map<number, string>; reals: Map<number, { service: string; backend: string }> } {
    const services = new Map<number, string>();
    for (const info of this.#dp.listServices()) {
      const s = [...this.#services.values()].find(
        (x) => x.config.vip === info.vip && x.config.port === info.port && x.config.protocol === info.protocol,
      );
      if (s) services.set(info.index, s.config.name);
    }
    const reals = new Map<number, { service: string; backend: string }>();
    for (const s of this.#services.values()) {
      for (const b of s.backends.values()) reals.set(b.realIndex, { service: s.config.name, backend: b.address });
    }
    return { services, reals };
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

  /** Reads MACs from the neighbour table; an unknown one is asked for, never guessed. */
  #refreshMacs(): void {
    for (const s of this.#services.values()) {
      let changed = false;
      for (const b of s.backends.values()) {
        let mac: string | null = null;
        try {
          mac = resolveNeighbour(s.interface, b.address) ?? null;
        } catch (err) {
          this.#log.warn({ err: (err as Error).message, backend: b.address }, 'neighbour lookup failed');
        }
        if (mac === null) {
          if (b.mac === null) this.#solicit(b.address);
          // Keep a known MAC while the neighbour entry is merely stale or being re-probed.
          continue;
        }
        if (mac !== b.mac) {
          if (b.mac !== null) this.#log.warn({ backend: b.address, from: b.mac, to: mac }, 'backend MAC changed');
          else this.#log.info({ service: s.config.name, backend: b.address, mac }, 'backend MAC resolved');
          b.mac = mac;
          this.#dp.setReal(b.realIndex, { mac, address: b.address });
          changed = true;
        }
      }
      if (changed) void this.#install(s, 'MAC resolved');
    }
  }

  /** Makes the kernel resolve an address: one empty datagram to the discard port. */
  #solicit(address: string): void {
    const sock = createSocket(address.includes(':') ? 'udp6' : 'udp4');
    sock.on('error', () => sock.close());
    sock.send(Buffer.alloc(0), 9, address, () => sock.close());
  }

  #install(s: ServiceState, why: string): Promise<void> {
    const next = s.installing.then(async () => {
      if (!this.#services.has(s.config.name)) return;
      const eligible = [...s.backends.values()].filter((b) => b.up && !b.drained && b.mac !== null && b.weight > 0);
      const key = eligible.map((b) => `${b.address}/${b.weight}/${b.realIndex}`).join(',');
      if (key === s.installedKey) return;
      await this.#dp.setBackends(
        { vip: s.config.vip, port: s.config.port, protocol: s.config.protocol },
        eligible.map((b) => ({ real: b.realIndex, key: b.address, weight: b.weight })),
      );
      s.installedKey = key;
      this.#log.info(
        { service: s.config.name, backends: eligible.map((b) => b.address), why },
        'Maglev table installed',
      );
    });
    s.installing = next.catch((err: unknown) => {
      this.#log.error({ service: s.config.name, err: (err as Error).message }, 'installing the Maglev table failed');
    });
    return s.installing;
  }
}
