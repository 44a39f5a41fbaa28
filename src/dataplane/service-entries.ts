/**
 * The services4/services6 maps: one entry per (VIP, port, protocol), naming
 * the service's index (its rings and counters), its live ring and the VRRP
 * instance that gates it. Tables go in through MaglevRings; which reals
 * count for which service is told to ServiceCounters.
 */
import type { BpfMap } from '../bpf/index.js';
import {
  FAMILY_V4,
  IPPROTO_TCP,
  IPPROTO_UDP,
  REAL_NONE,
  RING_SIZE,
  type Service,
  type Service4Key,
  type Service6Key,
} from './abi.js';
import { formatAddr, parseAddr } from './addr.js';
import type { ServiceCounters } from './counters.js';
import { buildMaglevTable } from './maglev.js';
import type { MaglevRings } from './rings.js';

export type Protocol = 'tcp' | 'udp';

export interface ServiceSpec {
  vip: string;
  port: number;
  protocol: Protocol;
  /** The VRRP instance id whose active flag gates this service. */
  instance: number;
}

/** What names a service: its VIP, port and protocol. */
export type ServiceRef = Pick<ServiceSpec, 'vip' | 'port' | 'protocol'>;

export interface ServiceInfo extends ServiceSpec {
  /** The service's number: it owns rings 2 * index and 2 * index + 1; the key of Counters.services. */
  index: number;
  /** The live ring (2 * index or 2 * index + 1). */
  ring: number;
}

export interface BackendSpec {
  /** Index into the reals map (setReal()). */
  real: number;
  /** Stable identity hashed by Maglev (e.g. the address), the same on every host. */
  key: string;
  weight: number;
}

/** A service's identity, whichever map (services4, services6) holds it. */
interface ServiceKey {
  /** 16 bytes, network order (IPv4 in the first 4). */
  addr: Buffer;
  family: number;
  port: number;
  proto: number;
}

function serviceKey(s: ServiceRef): ServiceKey {
  const { addr, family } = parseAddr(s.vip);
  return { addr, family, port: s.port, proto: s.protocol === 'tcp' ? IPPROTO_TCP : IPPROTO_UDP };
}

function serviceId(k: ServiceKey): string {
  return `${formatAddr(k.addr, k.family)}|${k.port}|${k.proto}`;
}

function service4Key(k: ServiceKey): Service4Key {
  return { addr: k.addr.subarray(0, 4), port: k.port, proto: k.proto, pad: 0 };
}

function service6Key(k: ServiceKey): Service6Key {
  return { addr: k.addr, port: k.port, proto: k.proto, pad: 0 };
}

export interface ServiceMaps {
  readonly services4: BpfMap<Service4Key, Service>;
  readonly services6: BpfMap<Service6Key, Service>;
}

export class ServiceEntries {
  /** Service id -> what the services map holds. */
  private readonly known = new Map<string, { key: ServiceKey; value: Service }>();

  /** Reads the services already in the maps (adopted pins): their live tables count for them. */
  constructor(
    private readonly maps: ServiceMaps,
    private readonly rings: MaglevRings,
    private readonly counters: ServiceCounters,
    /** How many services the maps have room for (limits.services). */
    private readonly capacity: number,
  ) {
    for (const [k, value] of maps.services4.entries()) {
      const addr = Buffer.alloc(16);
      k.addr.copy(addr);
      const key = { addr, family: FAMILY_V4, port: k.port, proto: k.proto };
      this.known.set(serviceId(key), { key, value });
    }
    for (const [k, value] of maps.services6.entries()) {
      const key = { addr: Buffer.from(k.addr), family: 6, port: k.port, proto: k.proto };
      this.known.set(serviceId(key), { key, value });
    }
    for (const s of this.known.values()) counters.claim(s.value.index, rings.read(s.value.ring), true);
  }

  private update(key: ServiceKey, value: Service): void {
    if (key.family === FAMILY_V4) this.maps.services4.update(service4Key(key), value);
    else this.maps.services6.update(service6Key(key), value);
  }

  /** The indexes in use, for the counters. */
  indexes(): number[] {
    return [...this.known.values()].map((s) => s.value.index);
  }

  /**
   * Adds a service (or moves it to another instance), with an empty ring:
   * traffic passes to the kernel until installTable()/setBackends().
   */
  add(spec: ServiceSpec): ServiceInfo {
    const key = serviceKey(spec);
    const id = serviceId(key);
    const have = this.known.get(id);
    if (have) {
      const value = { ...have.value, instance: spec.instance };
      this.update(key, value);
      have.value = value;
      return { ...spec, index: value.index, ring: value.ring };
    }
    const used = new Set(this.indexes());
    let index = 0;
    while (used.has(index)) index++;
    if (index >= this.capacity) {
      throw new RangeError(`no room for service ${id}: the limit is ${this.capacity} services`);
    }
    const ring = this.rings.reset(index);
    this.counters.release(index);
    const value: Service = { index, ring, instance: spec.instance, flags: 0 };
    this.update(key, value);
    this.known.set(id, { key, value });
    return { ...spec, index, ring };
  }

  list(): ServiceInfo[] {
    return [...this.known.values()].map(({ key, value }) => ({
      vip: formatAddr(key.addr, key.family),
      port: key.port,
      protocol: key.proto === IPPROTO_TCP ? 'tcp' : 'udp',
      instance: value.instance,
      index: value.index,
      ring: value.ring,
    }));
  }

  delete(spec: ServiceRef): boolean {
    const key = serviceKey(spec);
    const id = serviceId(key);
    const have = this.known.get(id);
    this.known.delete(id);
    const deleted =
      key.family === FAMILY_V4 ? this.maps.services4.delete(service4Key(key)) : this.maps.services6.delete(service6Key(key));
    if (have) this.counters.release(have.value.index);
    return deleted;
  }

  /**
   * Swaps in a whole new table (RING_SIZE real-server indices) for a
   * service: written into the idle ring, then made live by one update of
   * the service's entry.
   */
  async installTable(spec: ServiceRef, table: Uint32Array): Promise<void> {
    const key = serviceKey(spec);
    const svc = this.known.get(serviceId(key));
    if (!svc) throw new Error(`no service ${serviceId(key)}: addService() first`);
    await this.rings.install(svc.value.index, svc.value.ring, table, (ring) => {
      this.counters.claim(svc.value.index, table);
      const value = { ...svc.value, ring };
      this.update(key, value);
      svc.value = value;
    });
  }

  /** Builds the Maglev table of the backends and installs it. */
  async setBackends(spec: ServiceRef, backends: readonly BackendSpec[]): Promise<void> {
    const slots = buildMaglevTable(backends.map((b) => ({ key: b.key, weight: b.weight })), RING_SIZE);
    const table = new Uint32Array(RING_SIZE);
    for (let i = 0; i < RING_SIZE; i++) table[i] = slots[i] === REAL_NONE ? REAL_NONE : backends[slots[i]].real;
    await this.installTable(spec, table);
  }

  /** The live table of a service. */
  table(spec: ServiceRef): Uint32Array | undefined {
    const svc = this.known.get(serviceId(serviceKey(spec)));
    return svc ? this.rings.read(svc.value.ring) : undefined;
  }
}
