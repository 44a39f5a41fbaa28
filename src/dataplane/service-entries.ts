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
  SLOT_PREV_RING,
  SVC_F_PERSIST,
  SVC_F_TRACK_ALL,
  type Service,
  type Service4Key,
  type Service6Key,
} from './abi.js';
import { formatAddr, parseAddr } from './addr.js';
import type { ServiceCounters } from './counters.js';
import { cleanFallbacks, fallbacksResized, fallbacksSameSize, flattenPrev, slotTarget, writeSameSize, type RealSet, type SlotWords } from './fallbacks.js';
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
  /** Source-IP persistence (persistence: { timeout }): VIPD_SVC_F_PERSIST. */
  persist?: boolean;
}

/** What names a service: its VIP, port and protocol. */
export type ServiceRef = Pick<ServiceSpec, 'vip' | 'port' | 'protocol'>;

/**
 * Where a service this host does not serve takes its fallbacks from
 * (connection sync: its MASTER's, src/sync/fallbacks.ts). Given the slots
 * about to be live (reals, and the fallbacks computed here), the fallback
 * words to write instead, or undefined: keep them.
 */
export type FallbackSource = (service: ServiceRef, slots: SlotWords) => Uint32Array | undefined;

/** A service's live ring and a number that changes whenever its fallback words may have (connection sync sends them then). */
export interface RingVersion extends ServiceRef {
  readonly instance: number;
  readonly version: number;
  readonly ring: number;
  readonly ringSize: number;
}

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

/** What the sweep needs of a service: where its live ring is and how old its changes are. */
export interface ServiceSlotsView {
  readonly index: number;
  readonly vip: Buffer;
  readonly family: number;
  readonly port: number;
  readonly proto: number;
  readonly flags: number;
  readonly ring: number;
  readonly ringSize: number;
  /** Date.now() of the last install that gave a slot a changed fallback (0: none since start). */
  readonly changedAt: number;
  /** Date.now() of the last install. */
  readonly installedAt: number;
  /** The previous ring kept for PREV_RING slots (size 0: none). */
  readonly prevRing: number;
  readonly prevSize: number;
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
  /** The address's canonical text, when known (serviceId()). */
  text?: string;
}

/** A VIP's map form and canonical text, parsed once (shared: never written). */
interface ParsedVip {
  readonly addr: Buffer;
  readonly family: number;
  readonly text: string;
}

/** VIP text -> parsed, for the services' keys: 10 000 services on a few VIPs parsed every key 10 000 times (and its 16-byte Buffer). */
const parsedVips = new Map<string, ParsedVip>();
/** Entries parsedVips keeps at most (it starts afresh past this; configs hold far fewer VIPs). */
const PARSED_VIPS_MAX = 1 << 16;

function parseVip(vip: string): ParsedVip {
  let parsed = parsedVips.get(vip);
  if (!parsed) {
    const { addr, family } = parseAddr(vip);
    parsed = { addr, family, text: formatAddr(addr, family) };
    if (parsedVips.size >= PARSED_VIPS_MAX) parsedVips.clear();
    parsedVips.set(vip, parsed);
  }
  return parsed;
}

function serviceKey(s: ServiceRef): ServiceKey {
  const { addr, family, text } = parseVip(s.vip);
  return { addr, family, port: s.port, proto: s.protocol === 'tcp' ? IPPROTO_TCP : IPPROTO_UDP, text };
}

function serviceId(k: ServiceKey): string {
  return `${k.text ?? formatAddr(k.addr, k.family)}|${k.port}|${k.proto}`;
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
  /** Date.now() of the last install that made a slot change hands (0: none). */
  changedAt: number;
  /** Date.now() of the last install (0: none by this process). */
  installedAt: number;
  /** Changes with every write of the live ring's fallback words (RingVersion). */
  fallbackVersion?: number;
  /** The service as a ServiceRef, made once (connection sync asks every pass). */
  ref?: ServiceRef;
  /** serviceId(key), made once (byIndex() asks for every service at every sweep). */
  id?: string;
  /**
   * Live slots whose fallback is not their real (changed or tracked), as the
   * last install or clean-up left them; undefined: not known. 0 leaves the
   * sweep's clean-up nothing to do.
   */
  unclean?: number;
  /** namedReals() of this service's rings, and what they were read at. */
  named?: { ring: number; prevRing: number; prevSize: number; version: number; reals: readonly number[] };
}

function liveRing(value: Service): LiveRing {
  return { region: value.region, size: value.ring_size, ring: value.ring };
}

export class ServiceEntries {
  /** Service id -> what the services map holds. */
  private readonly known = new Map<string, Entry>();
  private readonly usedIndexes = new Set<number>();
  /** Service index -> entry (checked against known: a deleted service's index may linger). */
  private readonly indexed = new Map<number, Entry>();
  /** No index below this is free (indexes are taken lowest first). */
  private lowestFree = 0;
  /** Connection sync's fallbacks for services not served here (setFallbackSource()). */
  private fallbackSource: FallbackSource | undefined;
  /** namedReals()'s marks (all zero between calls). */
  #namedMarks: Uint8Array | undefined;
  /** Ring size -> the buffer setBackends() builds tables in (read by nothing after the install that filled it). */
  readonly #scratch = new Map<number, Uint32Array>();

  /** Reads the services already in the maps (adopted pins): their live tables count for them. */
  constructor(
    private readonly maps: ServiceMaps,
    private readonly rings: MaglevRings,
    private readonly counters: ServiceCounters,
    /** How many services the maps have room for. */
    private readonly capacity: number,
    /** Services on the same pool share one Maglev build (maglev-cache.ts); a caller may have filled it already. */
    private readonly maglev: MaglevTableCache = new MaglevTableCache(),
  ) {
    for (const [k, value] of maps.services4.entries()) {
      const addr = Buffer.alloc(16);
      k.addr.copy(addr);
      const key = { addr, family: FAMILY_V4, port: k.port, proto: k.proto };
      this.known.set(serviceId(key), { key, value, tableSize: value.ring_size, changedAt: Date.now(), installedAt: Date.now() });
    }
    for (const [k, value] of maps.services6.entries()) {
      const key = { addr: Buffer.from(k.addr), family: 6, port: k.port, proto: k.proto };
      this.known.set(serviceId(key), { key, value, tableSize: value.ring_size, changedAt: Date.now(), installedAt: Date.now() });
    }
    rings.adopt([...this.known.values()].map((s) => liveRing(s.value)));
    for (const s of this.known.values()) if (s.value.prev_size > 0) rings.adoptRing(s.value.prev_ring, s.value.prev_size);
    for (const s of this.known.values()) this.usedIndexes.add(s.value.index);
    for (const s of this.known.values()) this.indexed.set(s.value.index, s);
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

  /** Where services not served here take their fallbacks from (null: compute them here, the default). */
  setFallbackSource(source: FallbackSource | null): void {
    this.fallbackSource = source ?? undefined;
  }

  private ref(entry: Entry): ServiceRef {
    entry.ref ??= { vip: formatAddr(entry.key.addr, entry.key.family), port: entry.key.port, protocol: entry.key.proto === IPPROTO_TCP ? 'tcp' : 'udp' };
    return entry.ref;
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
    const entry = this.#add(spec, (key, value) => this.update(key, value));
    return this.info(entry);
  }

  /**
   * add() for many services, their entries written with one
   * BPF_MAP_UPDATE_BATCH per map (a config load: 10 000 services, one
   * syscall instead of 20 000). When a service does not fit, the ones
   * before it are written and the error is thrown.
   */
  addMany(specs: readonly ServiceSpec[]): void {
    const v4: [Service4Key, Service][] = [];
    const v6: [Service6Key, Service][] = [];
    try {
      for (const spec of specs) {
        this.#add(spec, (key, value) => {
          if (key.family === FAMILY_V4) v4.push([service4Key(key), value]);
          else v6.push([service6Key(key), value]);
        });
      }
    } finally {
      this.maps.services4.updateBatch(v4);
      this.maps.services6.updateBatch(v6);
    }
  }

  /** add()'s bookkeeping; `write` puts the entry in its map (now or in a batch). */
  #add(spec: ServiceSpec, write: (key: ServiceKey, value: Service) => void): Entry {
    const key = serviceKey(spec);
    const id = serviceId(key);
    const tableSize = ringSize(spec.backends ?? 1);
    const flags = (spec.protocol === 'udp' ? SVC_F_TRACK_ALL : 0) | (spec.persist ? SVC_F_PERSIST : 0);
    const have = this.known.get(id);
    if (have) {
      if (have.value.instance !== spec.instance || have.value.flags !== flags) {
        have.value = { ...have.value, instance: spec.instance, flags };
        write(key, have.value);
      }
      have.tableSize = tableSize;
      return have;
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
      flags,
      index,
      region: area.region,
      prev_ring: 0,
      prev_size: 0,
    };
    write(key, value);
    const entry = { key, value, tableSize, changedAt: 0, installedAt: 0 };
    this.known.set(id, entry);
    this.indexed.set(index, entry);
    this.usedIndexes.add(index);
    return entry;
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
      if (have.value.prev_size > 0) this.rings.releaseRing(have.value.prev_ring, have.value.prev_size);
      this.usedIndexes.delete(have.value.index);
      this.lowestFree = Math.min(this.lowestFree, have.value.index);
    }
    return deleted;
  }

  /**
   * Swaps in a whole new table (tableSize real-server indices) for a
   * service: written into the idle ring, or a new area when the size
   * changed, then made live by one update of the service's entry. Each
   * slot's fallback follows from the live slot it replaces (fallbacks.ts);
   * `invalid` are reals about to lose VIPD_REAL_F_VALID (DOWN backends): no
   * fallback names them.
   */
  installTable(spec: ServiceRef, table: Uint32Array, reals?: readonly number[], invalid?: RealSet, record = true): Promise<void> {
    const key = serviceKey(spec);
    const svc = this.known.get(serviceId(key));
    if (!svc) return Promise.reject(new Error(`no service ${serviceId(key)}: addService() first`));
    return this.#installTable(svc, table.length, () => table, reals, invalid, record);
  }

  /**
   * installTable() with the table made by tableOf() (`size` slots) when it
   * is written, after the quiescence wait: from there to the entry's update
   * nothing awaits, so setBackends() builds it in a buffer reused by every
   * install of that size (10 000 installs, no 10 000 tables for the GC).
   */
  async #installTable(
    svc: Entry,
    size: number,
    tableOf: () => Uint32Array,
    reals?: readonly number[],
    invalid?: RealSet,
    record = true,
  ): Promise<void> {
    const key = svc.key;
    if (size !== svc.tableSize) {
      throw new RangeError(`service ${serviceId(key)}: a table has ${svc.tableSize} slots (its ring size), got ${size}`);
    }
    let table: Uint32Array = new Uint32Array(0);
    const before = svc.value;
    let prev = { ring: before.prev_ring, size: before.prev_size };
    /** A previous ring no slot refers to after this install: freed once the new entry is live. */
    let retire: { ring: number; size: number } | undefined;
    let changes = 0;
    let unclean: number | undefined;
    await this.rings.install(svc.value.index, liveRing(svc.value), size, ({ current: readCurrent, fresh, pairs }) => {
      table = tableOf();
      if (table.length === size && pairs) {
        // Over a ring of REAL_NONE every slot is clean (fallbacksSameSize()
        // gives each fallback its real, whatever `invalid` and `record`).
        // The MASTER's fallbacks still win where this host records nothing.
        if (fresh) {
          const mirrored = !record && this.fallbackSource?.(this.ref(svc), { real: table, fallback: table });
          if (!mirrored) unclean = 0;
          return { real: table, fallback: mirrored || table };
        }
        if (record || !this.fallbackSource) {
          // The common swap: from the live ring straight into the idle one.
          const counts = writeSameSize(pairs.live, pairs.idle, table, invalid, record);
          changes = counts.moved;
          unclean = counts.unclean;
          return null;
        }
        const current = readCurrent();
        const res = fallbacksSameSize(current, table, invalid, record);
        // Not recording (this host serves nothing of it): the MASTER's fallbacks, when connection sync has them.
        const fallback = this.fallbackSource(this.ref(svc), { real: table, fallback: res.fallback }) || res.fallback;
        changes = fallback === res.fallback ? res.moved : newChanges(current, table, fallback);
        return { real: table, fallback };
      }
      const current = readCurrent();
      let old: SlotWords = current;
      if (prev.size > 0) {
        // The program follows one level of PREV_RING: the live ring, about
        // to become the previous one, must not hold any itself.
        const flat = flattenPrev(current, this.rings.readSlots(prev.ring, prev.size), invalid);
        this.rings.setFallbacks(before.ring, flat.fallback);
        svc.fallbackVersion = (svc.fallbackVersion ?? 0) + 1;
        old = { real: current.real, fallback: flat.fallback };
        retire = prev;
      }
      const res = fallbacksResized(old, table, invalid, record);
      changes = res.changed;
      prev = res.usesPrev ? { ring: before.ring, size: before.ring_size } : { ring: 0, size: 0 };
      return { real: table, fallback: res.fallback, keepOld: res.usesPrev };
    }, (next) => {
      if (reals) this.counters.claimReals(svc.value.index, reals);
      else this.counters.claim(svc.value.index, table);
      const value = { ...svc.value, ring: next.ring, ring_size: next.size, region: next.region, prev_ring: prev.ring, prev_size: prev.size };
      this.update(key, value);
      svc.value = value;
    });
    const now = Date.now();
    svc.installedAt = now;
    svc.unclean = unclean;
    svc.fallbackVersion = (svc.fallbackVersion ?? 0) + 1;
    if (changes > 0) svc.changedAt = now;
    if (retire) this.rings.releaseRing(retire.ring, retire.size);
  }

  /** Every service's live ring and fallback version (connection sync sends a MASTER's rings when it changes). */
  ringVersions(): RingVersion[] {
    return [...this.known.values()].map((e) => ({ ...this.ref(e), instance: e.value.instance, version: e.fallbackVersion ?? 0, ring: e.value.ring, ringSize: e.value.ring_size }));
  }

  /** Both words of a ring's slots (ring and size from ringVersions()). */
  ringSlots(ring: number, size: number): SlotWords {
    return this.rings.readSlots(ring, size);
  }

  /**
   * Rewrites a service's live fallback words from the fallback source (the
   * MASTER's fallbacks changed), in place like the sweep (rings.ts
   * setFallbacks(): one aligned 4-byte store per slot, reals untouched).
   * Returns the slots rewritten.
   */
  refreshFallbacks(spec: ServiceRef): number {
    const svc = this.known.get(serviceId(serviceKey(spec)));
    if (!svc || !this.fallbackSource) return 0;
    const live = this.rings.readSlots(svc.value.ring, svc.value.ring_size);
    const next = this.fallbackSource(this.ref(svc), live);
    if (!next) return 0;
    let rewritten = 0;
    for (let i = 0; i < next.length; i++) if (next[i] !== live.fallback[i]) rewritten++;
    if (rewritten === 0) return 0;
    this.rings.setFallbacks(svc.value.ring, next);
    svc.fallbackVersion = (svc.fallbackVersion ?? 0) + 1;
    svc.unclean = undefined;
    // Changed slots age out here too once this host serves the service (the sweep's clean-up).
    if (svc.changedAt === 0 && next.some((f, i) => f !== live.real[i] && isChanged(f))) svc.changedAt = Date.now();
    return rewritten;
  }

  /** Builds the Maglev table of the backends (the service's ring size) and installs it. */
  async setBackends(spec: ServiceRef, backends: readonly BackendSpec[], invalid?: RealSet, record = true): Promise<void> {
    const key = serviceKey(spec);
    const svc = this.known.get(serviceId(key));
    if (!svc) throw new Error(`no service ${serviceId(key)}: addService() first`);
    const size = svc.tableSize;
    // Backend positions -> real indexes, read as signed so NO_BACKEND is -1
    // (a small integer: the unsigned 0xffffffff is a boxed double in V8).
    const built = this.maglev.build(backends, size);
    const slots = new Int32Array(built.buffer, built.byteOffset, built.length);
    const n = backends.length;
    const reals = new Uint32Array(n);
    for (let i = 0; i < n; i++) reals[i] = backends[i].real;
    const tableOf = () => {
      let table = this.#scratch.get(size);
      if (!table) this.#scratch.set(size, (table = new Uint32Array(size)));
      for (let i = 0; i < size; i++) {
        const s = slots[i];
        table[i] = s < 0 ? REAL_NONE : reals[s];
      }
      return table;
    };
    // The reals the table may name, for the counters: every backend with a
    // weight (one too light to get a slot is still this service's own, and
    // its flows count for it), so no pass over the table finds them.
    const weighted: number[] = [];
    for (const b of backends) if (b.weight > 0) weighted.push(b.real);
    await this.#installTable(svc, size, tableOf, weighted, invalid, record);
  }

  /** Every service's live ring, for the sweep. */
  slotsViews(): ServiceSlotsView[] {
    return [...this.known.values()].map(({ key, value, changedAt, installedAt }) => ({
      index: value.index,
      vip: key.addr,
      family: key.family,
      port: key.port,
      proto: key.proto,
      flags: value.flags,
      ring: value.ring,
      ringSize: value.ring_size,
      changedAt,
      installedAt,
      prevRing: value.prev_ring,
      prevSize: value.prev_size,
    }));
  }

  /** Real indexes some live ring names, as a slot's real or its fallback (previous rings too). */
  namedReals(): Set<number> {
    const named = new Set<number>();
    for (const e of this.known.values()) for (const r of this.#namedBy(e)) named.add(r);
    named.delete(REAL_NONE);
    return named;
  }

  /**
   * The reals one service's rings name, read again only when they changed
   * (the sweep asks for every service every 5 s; most rings did not change
   * since). 10 000 rings of 1021 slots name a few hundred thousand reals
   * 20 M times: a mark per real index (one array, cleared after each ring)
   * and the slots read in place keep a read to one pass.
   */
  #namedBy(e: Entry): readonly number[] {
    const { ring, ring_size: size, prev_ring: prevRing, prev_size: prevSize } = e.value;
    const version = e.fallbackVersion ?? 0;
    const cached = e.named;
    if (cached && cached.ring === ring && cached.prevRing === prevRing && cached.prevSize === prevSize && cached.version === version) {
      return cached.reals;
    }
    const marks = (this.#namedMarks ??= new Uint8Array(NAMED_MARKS));
    const reals: number[] = [];
    const above = new Set<number>();
    const name = (r: number) => {
      if (r < NAMED_MARKS) {
        if (marks[r] === 0) {
          marks[r] = 1;
          reals.push(r);
        }
      } else if (!above.has(r)) {
        above.add(r);
        reals.push(r);
      }
    };
    const add = (first: number, slots: number) => {
      const words = this.rings.slotPairs(first, slots);
      if (!words) return; // past the end of the map: REAL_NONE
      for (let w = 0; w < words.length; w += 2) {
        const r = words[w];
        const f = words[w + 1];
        name(r);
        if (f === r) continue;
        const t = slotTarget(r, f);
        if (t !== SLOT_PREV_RING) name(t);
      }
    };
    add(ring, size);
    if (prevSize > 0) add(prevRing, prevSize);
    for (const r of reals) if (r < NAMED_MARKS) marks[r] = 0;
    e.named = { ring, prevRing, prevSize, version, reals };
    return reals;
  }

  /** A service's live slots, both words (by its index). */
  liveSlots(index: number): SlotWords | undefined {
    const svc = this.byIndex(index);
    return svc ? this.rings.readSlots(svc.value.ring, svc.value.ring_size) : undefined;
  }

  /**
   * The sweep's clean-up of one service (cleanFallbacks()), in place; then,
   * when no slot is PREV_RING any more, the previous ring is let go (the
   * entry first, the ring after). `ring` is the live ring the sweep saw:
   * nothing happens when an install moved it since. Returns the slots
   * rewritten.
   */
  cleanSlots(
    index: number,
    ring: number,
    hasEntry: Uint8Array,
    opts: { ageChanged: boolean; cleanTracked: boolean; invalid?: RealSet },
  ): number {
    const svc = this.byIndex(index);
    if (!svc || svc.value.ring !== ring || hasEntry.length !== svc.value.ring_size) return 0;
    // Every slot clean (the steady state): nothing to age or clean, nor a
    // previous ring to let go. A MASTER's fallbacks may still come in.
    if (svc.unclean === 0 && svc.value.prev_size === 0 && !this.fallbackSource) return 0;
    const live = this.rings.readSlots(ring, svc.value.ring_size);
    // A service whose fallbacks are its MASTER's keeps them: a real DOWN from here only is not DOWN there.
    const mirrored = this.fallbackSource?.(this.ref(svc), live);
    const { fallback, rewritten } = mirrored ? { fallback: mirrored, rewritten: mirrored.filter((f, i) => f !== live.fallback[i]).length } : cleanFallbacks(live, hasEntry, opts);
    if (rewritten > 0) {
      this.rings.setFallbacks(ring, fallback);
      svc.fallbackVersion = (svc.fallbackVersion ?? 0) + 1;
    }
    let unclean = 0;
    for (let i = 0; i < fallback.length; i++) if (fallback[i] !== live.real[i]) unclean++;
    svc.unclean = unclean;
    if (svc.value.prev_size > 0 && !fallback.includes(SLOT_PREV_RING)) {
      const { prev_ring, prev_size } = svc.value;
      svc.value = { ...svc.value, prev_ring: 0, prev_size: 0 };
      this.update(svc.key, svc.value);
      // give() stamps the extent, and allocate() prefers quiet extents: the
      // last packets that read it are long done before it is written again.
      this.rings.releaseRing(prev_ring, prev_size);
    }
    if (opts.ageChanged && !fallback.some((f, i) => f !== live.real[i] && isChanged(f))) svc.changedAt = 0;
    return rewritten;
  }

  /**
   * Nothing for a sweep to clean: every live ring's slots clean (a packet
   * on a clean slot never touches the flow tables), no previous ring kept,
   * and no connection sync (its fallbacks come from the MASTER at any time).
   */
  quiet(): boolean {
    if (this.fallbackSource) return false;
    for (const svc of this.known.values()) {
      if (svc.value.ring_size === 0) continue;
      if (svc.unclean !== 0 || svc.value.prev_size !== 0) return false;
    }
    return true;
  }

  private byIndex(index: number): Entry | undefined {
    const e = this.indexed.get(index);
    return e && this.known.get((e.id ??= serviceId(e.key))) === e ? e : undefined;
  }

  /** The live table of a service. */
  table(spec: ServiceRef): Uint32Array | undefined {
    const svc = this.known.get(serviceId(serviceKey(spec)));
    return svc ? this.rings.read(svc.value.ring, svc.value.ring_size) : undefined;
  }
}

/** Real indexes namedReals() marks in an array (1 MiB); any above go straight to the Set. */
const NAMED_MARKS = 1 << 20;

/** A fallback that names another real or the previous ring (not clean, not tracked). */
function isChanged(f: number): boolean {
  return f === SLOT_PREV_RING || (f & 0x80000000) === 0;
}

/** Slots of a same-size install whose real changed and whose fallback now names the old one: new changes to age. */
function newChanges(old: SlotWords, next: Uint32Array, fallback: Uint32Array): number {
  let n = 0;
  for (let i = 0; i < next.length; i++) if (next[i] !== old.real[i] && fallback[i] !== next[i] && isChanged(fallback[i])) n++;
  return n;
}
