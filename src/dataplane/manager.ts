/**
 * The program manager: everything the daemon does to the data plane, in one
 * class that needs no daemon. It loads out/bpf/vipd.bpf.o (or re-adopts the
 * maps and XDP links pinned under a pin directory by an earlier process) and
 * hands each job to the module that owns it:
 *
 *   interfaces.ts      interfaces, bonds and XDP attachments
 *   instances.ts       the instances map (leases)
 *   service-entries.ts the services maps
 *   rings.ts           the Maglev rings behind them
 *   counters.ts        verdict, real and service counters
 *   pins.ts            the pin directory: paths, removal, the one-vipd lock
 *
 * VIPs and real servers are one map write each and stay here.
 *
 * Lifetimes (see docs/dataplane.md): with a pin directory, maps and XDP links
 * are pinned there and outlive this process, so a restarted daemon keeps
 * forwarding; close() only drops this process's fds (and the directory's
 * lock). unpinAll() removes them.
 */
import { join } from 'node:path';
import { ArrayMemory, ObjectSpec, type DirLock, type Program, type XdpAttachment, type XdpMode } from '../bpf/index.js';
import { packageRoot } from '../native.js';
import { FLOW_EVENTS, MAX_IFINDEX, PROGRAM_NAME, REAL_F_VALID, realCodec, vipCodec, vipKeyCodec, type Counter, type FlowEventName, type VipKey } from './abi.js';
import { formatAddr, formatMac, parseAddr, parseMac, writeAddr } from './addr.js';
import { ServiceCounters, type Counters } from './counters.js';
import type { RealSet, SlotWords } from './fallbacks.js';
import { PENDING_RECENT_S, sweepFlows, type FlowTimeouts, type SweepResult } from './flows.js';
import { InstanceTable, type ActivateOptions, type LeaseTarget } from './instances.js';
import { Interfaces } from './interfaces.js';
import { closeMaps, openMaps, sumCounters, type DataplaneMaps } from './maps.js';
import { hasPinnedMaps, lockPinDir, unpinAll } from './pins.js';
import type { MaglevTableCache } from './maglev-cache.js';
import { MaglevRings } from './rings.js';
import {
  ServiceEntries,
  type BackendSpec,
  type ServiceInfo,
  type ServiceRef,
  type FallbackSource,
  type RingVersion,
  type ServiceSlotsView,
  type ServiceSpec,
} from './service-entries.js';
import { FLOOR, pendingMask, type MapSizes } from './sizing.js';

export { forwardedCounter, type Counters } from './counters.js';
export { monotonicNs, type ActivateOptions, type InstanceEntry, type LeaseTarget } from './instances.js';
export type { BackendSpec, FallbackSource, Protocol, RingVersion, ServiceInfo, ServiceRef, ServiceSpec, ServiceSlotsView } from './service-entries.js';
export { FLOW_STATES, type FlowState, type FlowTimeouts, type SweepResult } from './flows.js';
export type { RealSet } from './fallbacks.js';
export { MaglevTableCache } from './maglev-cache.js';

/** out/bpf/vipd.bpf.o of this checkout or installed package. */
export function objectPath(): string {
  return join(packageRoot(), 'out', 'bpf', 'vipd.bpf.o');
}

/** Which map each size of MapSizes sets (services: both services maps; rings: slots). */
const SIZED_MAPS: Readonly<Record<string, keyof MapSizes>> = {
  instances: 'instances',
  vips: 'vips',
  services4: 'services',
  services6: 'services',
  rings: 'ringSlots',
  reals: 'reals',
  real_stats: 'reals',
  flows4: 'flows4',
  flows6: 'flows6',
  pending4: 'pending4',
  pending6: 'pending6',
};

/**
 * The program indexes pending4/6 with a mask in .rodata (ABI 7): set from
 * the sizes the maps will have (adopted pins included), right before load.
 * Every loader of the object that sizes those maps must call it.
 */
export function setPendingMasks(spec: ObjectSpec): void {
  // const volatile __u32 pending_masks[2]: two words in the host's order.
  const masks = Uint32Array.of(pendingMask(spec.map('pending4').maxEntries), pendingMask(spec.map('pending6').maxEntries));
  spec.setConstant('pending_masks', Buffer.from(masks.buffer));
}

export interface DataplaneOptions {
  /** The BPF object; default objectPath(). */
  object?: string;
  /**
   * A directory on a bpffs: maps are pinned there by name (and re-adopted
   * when they exist and match), XDP links as xdp_link_IFINDEX. It is locked
   * while this Dataplane is open: a second one on it fails with
   * VIPD_BPF_PIN_DIR_LOCKED (PinDirLockedError, naming the holder's pid).
   */
  pinDir?: string;
  /** How long open() waits for a pin directory another process holds (default 2000 ms: a handoff's exit). */
  pinLockWaitMs?: number;
  /**
   * Entries of each map (src/dataplane/sizing.ts mapSizesFor() from the
   * config); default FLOOR. Pinned maps at least this big are adopted at
   * their own size; smaller ones are a PinMismatchError.
   */
  sizes?: Partial<MapSizes>;
  /**
   * Size of iface_masters, indexed by ifindex: a bond member's ifindex must
   * be below it (default MAX_IFINDEX). Interfaces that are not bond members
   * may have any ifindex.
   */
  ifindexes?: number;
  /** Minimum time between retiring a ring and writing it again (default 5 ms). */
  ringQuiesceMs?: number;
  /**
   * The Maglev builds setBackends() takes its tables from (default: a new
   * MaglevTableCache). open() loads the program on the thread pool, and the
   * kernel's allocation of the maps (the connection table above all) takes
   * a while: a caller can build the config's tables in this cache meanwhile
   * (cache.build(), the same backends and ring size, sizing.ts ringSize()),
   * and setBackends() finds them there. Give it a budget that holds them all.
   */
  maglev?: MaglevTableCache;
}

export interface RealSpec {
  mac: string | Buffer;
  address: string;
}

/** The reals value's padding (encoded, never kept). */
const REAL_PAD = Buffer.alloc(3);

/** Byte offset of each field of a struct, for the batches encoded by hand (setReals(), setVips()). */
function fieldOffsets<K extends string>(codec: { layout: readonly { name: string; offset: number }[] }): Record<K, number> {
  return Object.fromEntries(codec.layout.map((f) => [f.name, f.offset])) as Record<K, number>;
}
const REAL_FIELDS = fieldOffsets<'mac' | 'flags' | 'addr' | 'family'>(realCodec);
const VIP_KEY_FIELDS = fieldOffsets<'addr' | 'family'>(vipKeyCodec);
const VIP_FIELDS = fieldOffsets<'instance' | 'flags'>(vipCodec);

function vipKey(vip: string): VipKey {
  const { addr, family } = parseAddr(vip);
  return { addr, family, pad: Buffer.alloc(3) };
}

export class Dataplane {
  readonly program: Program;
  /** True when the maps were already pinned and this process took them over. */
  readonly adopted: boolean;
  /** Entries of each map, as loaded (adopted maps may be bigger than asked for). */
  readonly sizes: MapSizes;
  readonly pinDir: string | undefined;

  private readonly maps: DataplaneMaps;
  private readonly lock: DirLock | undefined;
  private readonly interfaces: Interfaces;
  private readonly instances: InstanceTable;
  private readonly serviceCounters: ServiceCounters;
  private readonly services: ServiceEntries;
  private readonly ringMemory: ArrayMemory;

  private constructor(program: Program, maps: DataplaneMaps, opts: DataplaneOptions, adopted: boolean, lock: DirLock | undefined) {
    this.program = program;
    this.maps = maps;
    this.adopted = adopted;
    this.pinDir = opts.pinDir;
    this.lock = lock;
    this.sizes = {
      instances: maps.instances.maxEntries,
      vips: maps.vips.maxEntries,
      services: Math.min(maps.services4.maxEntries, maps.services6.maxEntries),
      reals: Math.min(maps.reals.maxEntries, maps.real_stats.maxEntries),
      ringSlots: maps.rings.maxEntries,
      flows4: maps.flows4.maxEntries,
      flows6: maps.flows6.maxEntries,
      pending4: maps.pending4.maxEntries,
      pending6: maps.pending6.maxEntries,
    };
    this.interfaces = new Interfaces(maps.iface_masters, maps.iface_masters.maxEntries, opts.pinDir);
    this.instances = new InstanceTable(maps.instances, (iface) => this.interfaces.serving(iface));
    this.serviceCounters = new ServiceCounters(maps, this.sizes.reals, !adopted);
    this.ringMemory = ArrayMemory.ofU32PairArray(maps.rings);
    const rings = new MaglevRings(this.ringMemory, opts.ringQuiesceMs ?? 5);
    this.services = new ServiceEntries(maps, rings, this.serviceCounters, this.sizes.services, opts.maglev);
  }

  /**
   * Loads the program. With opts.pinDir, the directory is locked, maps
   * pinned there by an earlier process are reused (when at least as big as
   * opts.sizes asks), new ones are pinned, and XDP links pinned there are
   * taken over by attach().
   */
  static async open(opts: DataplaneOptions = {}): Promise<Dataplane> {
    const sizes = { ...FLOOR, ...opts.sizes };
    const lock = opts.pinDir === undefined ? undefined : await lockPinDir(opts.pinDir, opts.pinLockWaitMs ?? 2000);
    try {
      const spec = ObjectSpec.open(opts.object ?? objectPath());
      try {
        // One index space over both services maps: each could hold every service.
        for (const [map, size] of Object.entries(SIZED_MAPS)) spec.map(map).maxEntries = sizes[size];
        spec.map('iface_masters').maxEntries = opts.ifindexes ?? MAX_IFINDEX;
        const adopted = opts.pinDir !== undefined && hasPinnedMaps(opts.pinDir);
        if (opts.pinDir) {
          spec.pinMapsUnder(opts.pinDir);
          // A pinned map with room to spare is adopted at its own size (a
          // config that shrank keeps its maps, and its state, over a restart).
          for (const d of spec.pinDifferences()) {
            const map = d.pin.slice(d.pin.lastIndexOf('/') + 1);
            if (d.field === 'max entries' && map in SIZED_MAPS && Number(d.pinned) > Number(d.declared)) {
              spec.map(map).maxEntries = Number(d.pinned);
            }
          }
        }
        setPendingMasks(spec);
        const coll = await spec.load();
        try {
          const program = coll.program(PROGRAM_NAME);
          return new Dataplane(program, openMaps(coll), opts, adopted, lock);
        } finally {
          coll.close();
        }
      } finally {
        spec.close();
      }
    } catch (err) {
      lock?.release();
      throw err;
    }
  }

  /** The connection table's maps, for connection sync (src/sync): it reads and writes entries in bulk. */
  flowMaps(): Pick<DataplaneMaps, 'flows4' | 'flows6'> {
    return { flows4: this.maps.flows4, flows6: this.maps.flows6 };
  }

  // ---- interfaces (interfaces.ts) ----------------------------------------

  /**
   * Enables the program on an interface: records its MAC (the source of
   * every frame sent back out) and attaches, or, when a link pinned by an
   * earlier process exists, swaps this process's program into it atomically.
   */
  attach(iface: string | number, mac: string | Buffer, opts: { mode?: XdpMode } = {}): XdpAttachment {
    return this.interfaces.attach(this.program, iface, mac, opts.mode ?? 'auto');
  }

  /**
   * Records an interface's MAC, for the instances activated on it; attach()
   * does this itself. Apart for attachments made by other means (another
   * namespace's process, bpftool) and for test runs.
   */
  enableInterface(ifindex: number, mac: string | Buffer, opts: { members?: readonly number[] } = {}): void {
    this.interfaces.enable(ifindex, mac, opts.members ?? []);
  }

  /** Bond members recorded for an interface (empty for anything but a bond). */
  interfaceMembers(ifindex: number): number[] {
    return this.interfaces.members(ifindex);
  }

  /**
   * Forgets an interface and stops serving every instance active on it (the
   * program would pass their frames there anyway once detached); false when
   * it was not enabled.
   */
  disableInterface(ifindex: number): boolean {
    const was = this.interfaces.disable(ifindex);
    this.instances.deactivateOn(ifindex);
    return was;
  }

  /** The ifindexes the program serves (attached or enabled by this process). */
  enabledInterfaces(): number[] {
    return this.interfaces.enabled();
  }

  /** Detaches from an interface and forgets it (its pin too). */
  detach(iface: string | number): void {
    this.disableInterface(this.interfaces.detach(iface));
  }

  // ---- instances (instances.ts) -------------------------------------------

  /**
   * Makes this host serve an instance on an interface until now +
   * leaseSeconds (the peers' Master_Down interval); call again with every
   * advertisement to renew. One map write, however many VIPs and services
   * the instance has. The interface must be enabled (attach()); its VIPs
   * are served there only. leaseSeconds = Infinity never expires. `mac`:
   * the MAC to answer and forward with instead of the interface's (the VRRP
   * virtual MAC, instances[].vmac). opts.routed: the VIPs are reached by
   * routes (announce: bgp), so no ARP/NDP answers for them.
   */
  activate(instance: number, leaseSeconds: number, iface: string | number, mac?: Buffer, opts?: ActivateOptions): void {
    this.instances.activate(instance, leaseSeconds, iface, mac, opts);
  }

  /**
   * What the native advert sender needs to renew an instance's lease after
   * every advert it sends (src/net AdvertSender.setLease): the instances map
   * fd, the key, the active value (interface and MAC included), and where
   * its expiry field sits.
   */
  leaseTarget(instance: number, iface: string | number, mac?: Buffer): LeaseTarget {
    return this.instances.leaseTarget(instance, iface, mac);
  }

  /**
   * Stops answering and forwarding for the instance (BACKUP, FAULT,
   * SIGTERM): a lease that ended at 0, the interface kept.
   */
  deactivate(instance: number): void {
    this.instances.deactivate(instance);
  }

  instance(instance: number): { active: boolean; leaseExpiryNs: bigint; ifindex: number } {
    return this.instances.read(instance);
  }

  // ---- VIPs and real servers ----------------------------------------------

  /** The program answers ARP/NDP for vip while its instance is active. */
  setVip(vip: string, instance: number): void {
    this.maps.vips.update(vipKey(vip), { instance, flags: 0 });
  }

  /**
   * setVip() for many VIPs in one BPF_MAP_UPDATE_BATCH (a config of 10 000
   * VIPs: one syscall, not 10 000).
   */
  setVips(vips: readonly (readonly [vip: string, instance: number])[]): void {
    const count = vips.length;
    if (count === 0) return;
    // Encoded by hand into the batch's buffers, as setReals() does.
    const keySize = vipKeyCodec.size;
    const valueSize = vipCodec.size;
    const keys = Buffer.alloc(keySize * count);
    const values = Buffer.alloc(valueSize * count);
    for (let i = 0; i < count; i++) {
      const [vip, instance] = vips[i];
      const at = keySize * i;
      keys[at + VIP_KEY_FIELDS.family] = writeAddr(vip, keys, at + VIP_KEY_FIELDS.addr);
      values.writeUInt32LE(instance, valueSize * i + VIP_FIELDS.instance); // flags: 0
    }
    this.maps.vips.updateBatchRaw(keys, values, count);
  }

  deleteVip(vip: string): boolean {
    return this.maps.vips.delete(vipKey(vip));
  }

  /**
   * Writes a real server. Give a changed server a new index rather than
   * rewriting a live one: the program copies the MAC while it may be written.
   */
  /** What reals holds at index, when it is a valid entry (address and MAC as text). */
  real(index: number): { address: string; mac: string } | undefined {
    if (index >= this.maps.reals.maxEntries) return undefined;
    const v = this.maps.reals.lookup(index);
    if (!v || (v.flags & REAL_F_VALID) === 0) return undefined;
    return { address: formatAddr(v.addr, v.family), mac: formatMac(v.mac) };
  }

  setReal(index: number, real: RealSpec): void {
    const { addr, family } = parseAddr(real.address);
    const mac = typeof real.mac === 'string' ? parseMac(real.mac) : real.mac;
    this.maps.reals.update(index, { mac, flags: REAL_F_VALID, addr, family, pad: REAL_PAD });
  }

  /**
   * setReal() for many servers in one BPF_MAP_UPDATE_BATCH (one syscall per
   * call instead of two per server: 100 000 reals at start-up).
   */
  setReals(reals: readonly (readonly [index: number, real: RealSpec])[]): void {
    const count = reals.length;
    if (count === 0) return;
    // Keys and values encoded straight into the batch's buffers (no value
    // object, no Buffer per address): 100 000 reals of a config load went
    // through the codec at ~4 us each. A few servers back many services:
    // each MAC text is parsed once.
    const { mac: macAt, flags: flagsAt, addr: addrAt, family: familyAt } = REAL_FIELDS;
    const size = realCodec.size;
    const keys = Buffer.allocUnsafe(4 * count);
    const values = Buffer.alloc(size * count);
    const macs = new Map<string, Buffer>();
    for (let i = 0; i < count; i++) {
      const [index, real] = reals[i];
      if (!Number.isInteger(index) || index < 0 || index >= this.maps.reals.maxEntries) {
        throw new RangeError(`real index ${index} is outside the reals map (${this.maps.reals.maxEntries} entries)`);
      }
      keys.writeUInt32LE(index, 4 * i);
      const at = size * i;
      const mac = typeof real.mac === 'string' ? (macs.get(real.mac) ?? macs.set(real.mac, parseMac(real.mac)).get(real.mac)!) : real.mac;
      if (mac.length !== 6) throw new TypeError(`real ${index}: a MAC address is 6 bytes`);
      mac.copy(values, at + macAt);
      values.writeUInt16LE(REAL_F_VALID, at + flagsAt);
      values[at + familyAt] = writeAddr(real.address, values, at + addrAt);
    }
    this.maps.reals.updateBatchRaw(keys, values, count);
  }

  deleteReal(index: number): void {
    this.maps.reals.update(index, { mac: Buffer.alloc(6), flags: 0, addr: Buffer.alloc(16), family: 0, pad: Buffer.alloc(3) });
  }

  // ---- services (service-entries.ts, rings.ts) --------------------------------

  /**
   * Adds a service (or moves it to another instance), with an empty ring:
   * traffic passes to the kernel until installTable()/setBackends().
   */
  addService(spec: ServiceSpec): ServiceInfo {
    this.#ringsChanged();
    return this.services.add(spec);
  }

  /**
   * addService() for many services, their entries written in one batch per
   * map (a config load of 10 000 services: two syscalls, not 20 000).
   */
  addServices(specs: readonly ServiceSpec[]): void {
    this.#ringsChanged();
    this.services.addMany(specs);
  }

  listServices(): ServiceInfo[] {
    return this.services.list();
  }

  deleteService(spec: ServiceRef): boolean {
    this.#ringsChanged();
    return this.services.delete(spec);
  }

  /**
   * Swaps in a whole new table (the service's tableSize real-server
   * indices): written into the idle ring, then made live by one update of
   * the service's entry, so no packet sees a half-written table. `reals`:
   * the real servers the table names, when the caller knows them (a Maglev
   * build does), so no pass over the table finds them for the counters.
   */
  installTable(spec: ServiceRef, table: Uint32Array, reals?: readonly number[]): Promise<void> {
    return this.#changing(this.services.installTable(spec, table, reals));
  }

  /**
   * Builds the Maglev table of the backends and installs it. Each slot's
   * fallback follows from the live slot it replaces (docs/dataplane.md
   * "Connection table"); no fallback names a real of `invalid` (DOWN
   * backends, whose reals entries deleteReal() clears next).
   */
  setBackends(spec: ServiceRef, backends: readonly BackendSpec[], invalid?: RealSet, record = true): Promise<void> {
    return this.#changing(this.services.setBackends(spec, backends, invalid, record));
  }

  /** The live table of a service. */
  table(spec: ServiceRef): Uint32Array | undefined {
    return this.services.table(spec);
  }

  /**
   * Connection sync: where services this host does not serve take their
   * fallbacks from (their MASTER's), at installs, sweeps and
   * refreshFallbacks(); null: computed here (the default).
   */
  setFallbackSource(source: FallbackSource | null): void {
    this.#ringsChanged();
    this.services.setFallbackSource(source);
  }

  /** Rewrites a service's live fallback words from the fallback source, in place; the slots rewritten. */
  refreshFallbacks(spec: ServiceRef): number {
    this.#ringsChanged();
    return this.services.refreshFallbacks(spec);
  }

  /** Every service's live ring, with a version that changes whenever its fallbacks may have. */
  ringVersions(): RingVersion[] {
    return this.services.ringVersions();
  }

  /** Both words of a live ring's slots (ring and size from ringVersions()). */
  ringSlots(ring: number, size: number): SlotWords {
    return this.services.ringSlots(ring, size);
  }

  // ---- the connection table (flows.ts, fallbacks.ts) -------------------------

  /**
   * One sweep of flows4/flows6: deletes entries idle past their timeout and
   * counts the rest (per real, per state, per live ring slot).
   * `persistence`: seconds by service index. `now`: the clock to judge by
   * (seenNow() when absent; tests give one read before the last packets).
   */
  sweepFlows(timeouts: FlowTimeouts, persistence?: ReadonlyMap<number, number>, now?: number): Promise<SweepResult> {
    const pending = this.#recentPending();
    return sweepFlows(this.maps, { timeouts, services: this.services.slotsViews(), pending, ...(persistence ? { persistence } : {}), ...(now === undefined ? {} : { now }) });
  }

  /** Readings of the pending and promoted flow events, oldest first (#recentPending()). */
  #pendingReadings: { at: number; noted: bigint; promoted: bigint }[] = [];

  /**
   * First packets tagged in pending in the last PENDING_RECENT_S and not
   * promoted since: from the flow event counters (two numbers), where
   * counting the tags themselves means reading both arrays whole every
   * sweep (32 MiB at the default 1M flows: ~0.6% of a core for an idle
   * daemon). An estimate: a tag another flow's first packet replaced still
   * counts, as does a UDP flow's (its tag stays after promotion). The
   * window is measured from the newest reading at least PENDING_RECENT_S
   * old (the first reading at the start).
   */
  #recentPending(): number {
    const ev = this.flowEvents();
    const now = Date.now();
    const readings = this.#pendingReadings;
    readings.push({ at: now, noted: ev.pending.packets, promoted: ev.promoted.packets });
    while (readings.length > 2 && now - readings[1].at >= PENDING_RECENT_S * 1000) readings.shift();
    const from = readings[0];
    const open = ev.pending.packets - from.noted - (ev.promoted.packets - from.promoted);
    return open > 0n ? Number(open) : 0;
  }

  /**
   * Whether the flow tables can only stay as they are until the next ring
   * change: every ring's slots clean and no connection sync
   * (ServiceEntries.quiet()). The sweep backs off then (ConnectionTable).
   */
  quiet(): boolean {
    return this.services.quiet();
  }

  /** Called (synchronously) whenever a service or its ring is about to change: the sweep's cue to resume its pace. */
  onRingsChanged(listener: (() => void) | undefined): void {
    this.#ringsListener = listener;
  }

  #ringsListener: (() => void) | undefined;

  #ringsChanged(): void {
    this.#ringsListener?.();
  }

  /** An install: the listener hears of it when it begins and again once it is live. */
  #changing(install: Promise<void>): Promise<void> {
    this.#ringsChanged();
    return install.finally(() => this.#ringsChanged());
  }

  /** The services' live rings (index, ring, size, flags, change times), for the sweep's clean-up. */
  serviceSlots(): ServiceSlotsView[] {
    return this.services.slotsViews();
  }

  /**
   * The sweep's clean-up of a service's live ring, in place (fallback words
   * only: see rings.ts setFallbacks()); nothing when the ring moved since
   * the sweep saw it. Returns the slots rewritten.
   */
  cleanSlots(index: number, ring: number, hasEntry: Uint8Array, opts: { ageChanged: boolean; cleanTracked: boolean; invalid?: RealSet }): number {
    return this.services.cleanSlots(index, ring, hasEntry, opts);
  }

  /** Real indexes some live ring slot names, as its real or its fallback (previous rings included). */
  namedReals(): Set<number> {
    return this.services.namedReals();
  }

  /** What the connection table did (flow_stats, per-CPU sums). */
  flowEvents(): Record<FlowEventName, Counter> {
    const out = Object.fromEntries(FLOW_EVENTS.map((e) => [e, { packets: 0n, bytes: 0n }])) as Record<FlowEventName, Counter>;
    for (const [k, v] of this.maps.flow_stats.lookupBatch(16)) if (k < FLOW_EVENTS.length) out[FLOW_EVENTS[k]] = sumCounters(v);
    return out;
  }

  // ---- counters (counters.ts) -----------------------------------------------

  /** Per-CPU counters, summed; forward and the service totals derived (counters.ts). */
  counters(): Counters {
    return this.serviceCounters.read(this.services.indexes());
  }

  // ---- lifetime (pins.ts) ---------------------------------------------------

  /** Drops this process's fds and the pin directory's lock; pinned maps and links stay and keep working. */
  close(): void {
    this.ringMemory.close();
    this.interfaces.close();
    this.program.close();
    closeMaps(this.maps);
    this.lock?.release();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Removes every pin under pinDir that vipd made: links first (which
   * detaches the program when no fd holds them), then the maps.
   */
  static unpinAll(pinDir: string): void {
    unpinAll(pinDir);
  }
}
