/**
 * The services4/services6 maps: one entry per (VIP, port, protocol), naming
 * its live ring (first slot and size), the VRRP instance that gates it, and
 * the daemon's bookkeeping (the service's index for counters, its ring
 * area). Tables go in through MaglevRings; which reals count for which
 * service is told to ServiceCounters.
 */
import type { BpfMap } from '../bpf/index.js';
import {
  FAMILY_V4,
  IPPROTO_TCP,
  IPPROTO_UDP,
  REAL_NONE,
  type Service,
  type Service4Key,
  type Service6Key,
} from './abi.js';
import { formatAddr, parseAddr } from './addr.js';
import type { ServiceCounters } from './counters.js';
import { MaglevTableCache } from './maglev-cache.js';
import type { LiveRing, MaglevRings } from './rings.js';
import { ringSize } from './sizing.js';

export type Protocol = 'tcp' | 'udp';

export interface ServiceSpec {
  vip: string;
  port: number;
  protocol: Protocol;
  /** The VRRP instance id whose active flag gates this service. */
  instance: number;
  /**
   * Backends the service is configured with, up or not: its ring size
   * follows (sizing.ts ringSize()), the same on every host. Default 1.
   */
  backends?: number;
}

/** What names a service: its VIP, port and protocol. */
export type ServiceRef = Pick<ServiceSpec, 'vip' | 'port' | 'protocol'>;

export interface ServiceInfo extends ServiceSpec {
  /** The service's number: the key of Counters.services. */
  index: number;
  /** First slot of the live ring in the rings map. */
  ring: number;
  /** Slots of the live ring. */
  ringSize: number;
  /** Slots a table installed now must have (differs from ringSize until the next install after a resize). */
  tableSize: number;
  /** First slot of the service's two rings (the live one is region or region + ringSize). */
  region: number;
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

interface Entry {
  key: ServiceKey;
  value: Service;
  /** Ring size the next table gets (from the configured backend count). */
  tableSize: number;
}

function liveRing(value: Service): LiveRing {
  return { region: value.region, size: value.ring_size, ring: value.ring };
}

export class ServiceEntries {
  /** Service id -> what the services map holds. */
  private readonly known = new Map<string, Entry>();
  private readonly usedIndexes = new Set<number>();
  /** No index below this is free (indexes are taken lowest first). */
  private lowestFree = 0;
  /** Services on the same pool share one Maglev build (maglev-cache.ts). */
  private readonly maglev = new MaglevTableCache();

  /** Reads the services already in the maps (adopted pins): their live tables count for them. */
  constructor(
    private readonly maps: ServiceMaps,
    private readonly rings: MaglevRings,
    private readonly counters: ServiceCounters,
    /** How many services the maps have room for. */
    private readonly capacity: number,
  ) {
    for (const [k, value] of maps.services4.entries()) {
      const addr = Buffer.alloc(16);
      k.addr.copy(addr);
      const key = { addr, family: FAMILY_V4, port: k.port, proto: k.proto };
      this.known.set(serviceId(key), { key, value, tableSize: value.ring_size });
    }
    for (const [k, value] of maps.services6.entries()) {
      const key = { addr: Buffer.from(k.addr), family: 6, port: k.port, proto: k.proto };
      this.known.set(serviceId(key), { key, value, tableSize: value.ring_size });
    }
    rings.adopt([...this.known.values()].map((s) => liveRing(s.value)));
    for (const s of this.known.values()) this.usedIndexes.add(s.value.index);
    for (const s of this.known.values()) counters.claim(s.value.index, rings.read(s.value.ring, s.value.ring_size), true);
  }

  private update(key: ServiceKey, value: Service): void {
    if (key.family === FAMILY_V4) this.maps.services4.update(service4Key(key), value);
    else this.maps.services6.update(service6Key(key), value);
  }

  /** The indexes in use, for the counters. */
  indexes(): number[] {
    return [...this.known.values()].map((s) => s.value.index);
  }

  private info(entry: Entry): ServiceInfo {
    const { key, value } = entry;
    return {
      vip: formatAddr(key.addr, key.family),
      port: key.port,
      protocol: key.proto === IPPROTO_TCP ? 'tcp' : 'udp',
      instance: value.instance,
      index: value.index,
      ring: value.ring,
      ringSize: value.ring_size,
      tableSize: entry.tableSize,
      region: value.region,
    };
  }

  /**
   * Adds a service (or moves it to another instance, or changes its
   * configured backend count), with an empty ring: traffic passes to the
   * kernel until installTable()/setBackends(). A service that is there keeps
   * its live table; a new ring size takes effect with the next table.
   */
  add(spec: ServiceSpec): ServiceInfo {
    const key = serviceKey(spec);
    const id = serviceId(key);
    const tableSize = ringSize(spec.backends ?? 1);
    const have = this.known.get(id);
    if (have) {
      if (have.value.instance !== spec.instance) {
        have.value = { ...have.value, instance: spec.instance };
        this.update(key, have.value);
      }
      have.tableSize = tableSize;
      return this.info(have);
    }
    const index = this.freeIndex();
    if (index >= this.capacity) {
      throw new RangeError(`no room for service ${id}: the services maps hold ${this.capacity}`);
    }
    const area = this.rings.allocate(tableSize);
    this.rings.forget(index);
    this.counters.release(index);
    const value: Service = {
      ring: area.ring,
      ring_size: area.size,
      instance: spec.instance,
      flags: 0,
      index,
      region: area.region,
      prev_ring: 0,
      prev_size: 0,
    };
    this.update(key, value);
    const entry = { key, value, tableSize };
    this.known.set(id, entry);
    this.usedIndexes.add(index);
    return this.info(entry);
  }

  /** The lowest index no service has (what a restart with the same config gives again). */
  private freeIndex(): number {
    while (this.usedIndexes.has(this.lowestFree)) this.lowestFree++;
    return this.lowestFree;
  }

  list(): ServiceInfo[] {
    return [...this.known.values()].map((entry) => this.info(entry));
  }

  delete(spec: ServiceRef): boolean {
    const key = serviceKey(spec);
    const id = serviceId(key);
    const have = this.known.get(id);
    this.known.delete(id);
    const deleted =
      key.family === FAMILY_V4 ? this.maps.services4.delete(service4Key(key)) : this.maps.services6.delete(service6Key(key));
    if (have) {
      this.counters.release(have.value.index);
      this.rings.release(liveRing(have.value));
      this.usedIndexes.delete(have.value.index);
      this.lowestFree = Math.min(this.lowestFree, have.value.index);
    }
    return deleted;
  }

  /**
   * Swaps in a whole new table (tableSize real-server indices) for a
   * service: written into the idle ring, or a new area when the size
   * changed, then made live by one update of the service's entry.
   */
  async installTable(spec: ServiceRef, table: Uint32Array, reals?: readonly number[]): Promise<void> {
    const key = serviceKey(spec);
    const svc = this.known.get(serviceId(key));
    if (!svc) throw new Error(`no service ${serviceId(key)}: addService() first`);
    if (table.length !== svc.tableSize) {
      throw new RangeError(`service ${serviceId(key)}: a table has ${svc.tableSize} slots (its ring size), got ${table.length}`);
    }
    await this.rings.install(svc.value.index, liveRing(svc.value), table, (next) => {
      if (reals) this.counters.claimReals(svc.value.index, reals);
      else this.counters.claim(svc.value.index, table);
      const value = { ...svc.value, ring: next.ring, ring_size: next.size, region: next.region };
      this.update(key, value);
      svc.value = value;
    });
  }

  /** Builds the Maglev table of the backends (the service's ring size) and installs it. */
  async setBackends(spec: ServiceRef, backends: readonly BackendSpec[]): Promise<void> {
    const svc = this.known.get(serviceId(serviceKey(spec)));
    const size = svc?.tableSize ?? ringSize(backends.length);
    const slots = this.maglev.build(backends, size);
    const reals = Uint32Array.from(backends, (b) => b.real);
    const table = new Uint32Array(size);
    for (let i = 0; i < size; i++) table[i] = slots[i] === REAL_NONE ? REAL_NONE : reals[slots[i]];
    // With equal weights every backend holds slots (size / n each, n <= size),
    // so the reals are known without a pass over the table; uneven weights can
    // leave a light backend without a slot, so then the table is read.
    const weighted = backends.filter((b) => b.weight > 0);
    const equal = weighted.every((b) => b.weight === weighted[0]?.weight) && weighted.length <= size;
    await this.installTable(spec, table, equal ? weighted.map((b) => b.real) : undefined);
  }

  /** The live table of a service. */
  table(spec: ServiceRef): Uint32Array | undefined {
    const svc = this.known.get(serviceId(serviceKey(spec)));
    return svc ? this.rings.read(svc.value.ring, svc.value.ring_size) : undefined;
  }
}
