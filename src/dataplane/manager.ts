/**
 * The program manager: everything the daemon does to the data plane, in one
 * class that needs no daemon. It loads out/bpf/vipd.bpf.o (or re-adopts the
 * maps and XDP links pinned under a pin directory by an earlier process),
 * attaches it to interfaces, and writes instances, VIPs, services, real
 * servers and Maglev tables. It reads the per-CPU counters summed.
 *
 * Lifetimes (see docs/dataplane.md): with a pin directory, maps and XDP links
 * are pinned there and outlive this process, so a restarted daemon keeps
 * forwarding; close() only drops this process's fds. unpinAll() removes them.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  ObjectSpec,
  XdpLink,
  attachXdp,
  resolveIfindex,
  type Collection,
  type Program,
  type XdpAttachment,
  type XdpMode,
} from '../bpf/index.js';
import { packageRoot } from '../native.js';
import {
  FAMILY_V4,
  INST_F_ACTIVE,
  instanceCodec,
  IPPROTO_TCP,
  IPPROTO_UDP,
  MAPS,
  LEASE_FOREVER,
  MAX_IFINDEX,
  MAX_INSTANCES,
  MAX_REALS,
  MAX_SERVICES,
  MAX_VIPS,
  PROGRAM_NAME,
  REAL_F_VALID,
  REAL_NONE,
  REASONS,
  RING_SIZE,
  type Counter,
  type Instance,
  type ReasonName,
  type Service,
  type Service4Key,
  type Service6Key,
  type VipKey,
} from './abi.js';
import { formatAddr, parseAddr, parseMac } from './addr.js';
import { bondMembers } from './bond.js';
import { buildMaglevTable } from './maglev.js';
import { closeMaps, openMaps, sumCounters, type DataplaneMaps } from './maps.js';

/** out/bpf/vipd.bpf.o of this checkout or installed package. */
export function objectPath(): string {
  return join(packageRoot(), 'out', 'bpf', 'vipd.bpf.o');
}

export interface DataplaneLimits {
  instances: number;
  vips: number;
  /** Services; each owns two Maglev rings of RING_SIZE slots (4 bytes each). */
  services: number;
  reals: number;
  /**
   * Size of iface_masters, indexed by ifindex: a bond member's ifindex must
   * be below it (default MAX_IFINDEX). Interfaces that are not bond members
   * may have any ifindex.
   */
  ifindexes: number;
}

export const DEFAULT_DATAPLANE_LIMITS: DataplaneLimits = {
  instances: MAX_INSTANCES,
  vips: MAX_VIPS,
  services: MAX_SERVICES,
  reals: MAX_REALS,
  ifindexes: MAX_IFINDEX,
};

export interface DataplaneOptions {
  /** The BPF object; default objectPath(). */
  object?: string;
  /**
   * A directory on a bpffs: maps are pinned there by name (and re-adopted
   * when they exist and match), XDP links as xdp_link_IFINDEX.
   */
  pinDir?: string;
  limits?: Partial<DataplaneLimits>;
  /** Minimum time between retiring a ring and writing it again (default 5 ms). */
  ringQuiesceMs?: number;
}

export type Protocol = 'tcp' | 'udp';

export interface ServiceSpec {
  vip: string;
  port: number;
  protocol: Protocol;
  /** The VRRP instance id whose active flag gates this service. */
  instance: number;
}

export interface ServiceInfo extends ServiceSpec {
  /** The service's number: it owns rings 2 * index and 2 * index + 1; the key of Counters.services. */
  index: number;
  /** The live ring (2 * index or 2 * index + 1). */
  ring: number;
}

export interface RealSpec {
  mac: string | Buffer;
  address: string;
}

export interface BackendSpec {
  /** Index into the reals map (setReal()). */
  real: number;
  /** Stable identity hashed by Maglev (e.g. the address), the same on every host. */
  key: string;
  weight: number;
}

export interface Counters {
  /** Every reason; forward is derived from real_stats (forwardedCounter()). */
  verdicts: Record<ReasonName, Counter>;
  /**
   * By service index: packets sent to real servers for the service (forward
   * and icmp_forward), the sum over the real servers its tables used.
   */
  services: Map<number, Counter>;
  /** By real server index (non-zero only). */
  reals: Map<number, Counter>;
}

/**
 * The forward verdict, which the program does not count in verdicts: every
 * packet real_stats counts is a forward or an icmp_forward, so forward is
 * the sum of real_stats less icmp_forward. Read verdicts before real_stats,
 * and the difference never goes below what had been forwarded.
 */
export function forwardedCounter(realTotal: Counter, icmpForward: Counter): Counter {
  const packets = realTotal.packets - icmpForward.packets;
  const bytes = realTotal.bytes - icmpForward.bytes;
  return { packets: packets > 0n ? packets : 0n, bytes: bytes > 0n ? bytes : 0n };
}

/** Maps earlier ABIs pinned that this one has not (ABI 2: services, service_stats; ABI 1-3: ifaces). */
const RETIRED_MAPS = ['services', 'service_stats', 'ifaces'] as const;

/** CLOCK_MONOTONIC in ns: what bpf_ktime_get_ns() reads in the program. */
export function monotonicNs(): bigint {
  return process.hrtime.bigint();
}

function protoNumber(p: Protocol): number {
  return p === 'tcp' ? IPPROTO_TCP : IPPROTO_UDP;
}

/** A service's identity, whichever map (services4, services6) holds it. */
interface ServiceKey {
  /** 16 bytes, network order (IPv4 in the first 4). */
  addr: Buffer;
  family: number;
  port: number;
  proto: number;
}

function serviceKey(s: Pick<ServiceSpec, 'vip' | 'port' | 'protocol'>): ServiceKey {
  const { addr, family } = parseAddr(s.vip);
  return { addr, family, port: s.port, proto: protoNumber(s.protocol) };
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

const ZERO_COUNTER: Counter = { packets: 0n, bytes: 0n };

function addCounters(a: Counter, b: Counter): Counter {
  return { packets: a.packets + b.packets, bytes: a.bytes + b.bytes };
}

function subCounters(a: Counter, b: Counter): Counter {
  return { packets: a.packets - b.packets, bytes: a.bytes - b.bytes };
}

function vipKey(vip: string): VipKey {
  const { addr, family } = parseAddr(vip);
  return { addr, family, pad: Buffer.alloc(3) };
}


const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class Dataplane {
  readonly program: Program;
  /** True when the maps were already pinned and this process took them over. */
  readonly adopted: boolean;
  readonly limits: DataplaneLimits;
  readonly pinDir: string | undefined;

  private readonly maps: DataplaneMaps;
  private readonly links = new Map<number, XdpAttachment>();
  /**
   * Interfaces the program serves: ifindex -> MAC. Not a map of the program
   * (ABI 4): each instance entry carries its interface's ifindex and MAC,
   * written from here when the instance is activated.
   */
  private readonly interfaces = new Map<number, Buffer>();
  /** What each instance entry holds for its interface (read from the map once, then kept). */
  private readonly instanceIfaces = new Map<number, { ifindex: number; mac: Buffer }>();
  /** Interface names seen by attach(), so activation needs no lookup by name. */
  private readonly ifindexByName = new Map<string, number>();
  /** Service id -> what the services map holds, and when its previous ring was retired. */
  private readonly known = new Map<string, { key: ServiceKey; value: Service; retiredAt: number }>();
  private readonly quiesceMs: number;
  /**
   * Service totals are sums over real servers (the program counts a forward
   * in real_stats alone): real index -> the service index whose table last
   * used it. Fed by installTable(), rebuilt from the live rings on adoption.
   */
  private readonly realOwner = new Map<number, number>();
  /** real_stats of a real when it changed owner: the new owner counts from there. */
  private readonly realBase = new Map<number, Counter>();
  /** What reals counted for a service before they moved to another one. */
  private readonly serviceBase = new Map<number, Counter>();
  /** Preallocated ring write: keys (consecutive u32) and a view of them. */
  private ringKeys: Buffer | undefined;

  private constructor(coll: Collection, opts: DataplaneOptions, limits: DataplaneLimits, adopted: boolean) {
    this.limits = limits;
    this.adopted = adopted;
    this.pinDir = opts.pinDir;
    this.quiesceMs = opts.ringQuiesceMs ?? 5;
    this.program = coll.program(PROGRAM_NAME);
    this.maps = openMaps(coll);
    coll.close();
    for (const [k, value] of this.maps.services4.entries()) {
      const addr = Buffer.alloc(16);
      k.addr.copy(addr);
      const key = { addr, family: FAMILY_V4, port: k.port, proto: k.proto };
      this.known.set(serviceId(key), { key, value, retiredAt: 0 });
    }
    for (const [k, value] of this.maps.services6.entries()) {
      const key = { addr: Buffer.from(k.addr), family: 6, port: k.port, proto: k.proto };
      this.known.set(serviceId(key), { key, value, retiredAt: 0 });
    }
    // Adopted: what the live tables send to counts for their service, all
    // of it (which real served which service before is not kept anywhere).
    for (const s of this.known.values()) this.claimReals(s.value.index, this.readRing(s.value.ring), true);
  }

  private updateService(key: ServiceKey, value: Service): void {
    if (key.family === FAMILY_V4) this.maps.services4.update(service4Key(key), value);
    else this.maps.services6.update(service6Key(key), value);
  }

  private deleteServiceKey(key: ServiceKey): boolean {
    return key.family === FAMILY_V4 ? this.maps.services4.delete(service4Key(key)) : this.maps.services6.delete(service6Key(key));
  }

  /** real_stats of one real, summed over CPUs. */
  private realCount(real: number): Counter {
    const v = real < this.limits.reals ? this.maps.real_stats.lookup(real) : undefined;
    return v ? sumCounters(v) : ZERO_COUNTER;
  }

  /**
   * Records that service index now sends to the reals of table. A real that
   * counted for another service leaves that service's total where it was
   * (folded into serviceBase) and counts for this one from now on; so does
   * a real no service had, unless adopting (its whole count is this one's).
   */
  private claimReals(index: number, table: Uint32Array, adopting = false): void {
    const seen = new Set<number>();
    for (const r of table) {
      if (r === REAL_NONE || seen.has(r)) continue;
      seen.add(r);
      const owner = this.realOwner.get(r);
      if (owner === index) continue;
      if (owner !== undefined) {
        const now = this.realCount(r);
        const since = subCounters(now, this.realBase.get(r) ?? ZERO_COUNTER);
        this.serviceBase.set(owner, addCounters(this.serviceBase.get(owner) ?? ZERO_COUNTER, since));
        this.realBase.set(r, now);
      } else if (!adopting) {
        this.realBase.set(r, this.realCount(r));
      }
      this.realOwner.set(r, index);
    }
  }

  /** A deleted service's reals count for nobody until a table uses them again. */
  private releaseReals(index: number): void {
    for (const [r, owner] of this.realOwner) {
      if (owner !== index) continue;
      this.realOwner.delete(r);
      this.realBase.set(r, this.realCount(r));
    }
    this.serviceBase.delete(index);
  }

  /**
   * Loads the program. With opts.pinDir, maps pinned there by an earlier
   * process are reused (their sizes must match the limits), new ones are
   * pinned, and XDP links pinned there are taken over by attach().
   */
  static async open(opts: DataplaneOptions = {}): Promise<Dataplane> {
    const limits = { ...DEFAULT_DATAPLANE_LIMITS, ...opts.limits };
    const spec = ObjectSpec.open(opts.object ?? objectPath());
    try {
      spec.map('instances').maxEntries = limits.instances;
      spec.map('vips').maxEntries = limits.vips;
      // One index space over both maps: each could hold every service.
      spec.map('services4').maxEntries = limits.services;
      spec.map('services6').maxEntries = limits.services;
      spec.map('rings').maxEntries = 2 * limits.services * RING_SIZE;
      spec.map('reals').maxEntries = limits.reals;
      spec.map('real_stats').maxEntries = limits.reals;
      spec.map('iface_masters').maxEntries = limits.ifindexes;
      const adopted = opts.pinDir !== undefined && existsSync(join(opts.pinDir, 'instances'));
      if (opts.pinDir) spec.pinMapsUnder(opts.pinDir);
      const coll = await spec.load();
      return new Dataplane(coll, opts, limits, adopted);
    } finally {
      spec.close();
    }
  }

  private linkPin(ifindex: number): string | undefined {
    return this.pinDir ? join(this.pinDir, `xdp_link_${ifindex}`) : undefined;
  }

  /**
   * Enables the program on an interface: records its MAC (the source of
   * every frame sent back out) and attaches, or, when a link pinned by an
   * earlier process exists, swaps this process's program into it atomically.
   */
  attach(iface: string | number, mac: string | Buffer, opts: { mode?: XdpMode } = {}): XdpAttachment {
    const ifindex = resolveIfindex(iface);
    if (typeof iface === 'string') this.ifindexByName.set(iface, ifindex);
    // XDP on a bond runs on its members, with their ifindexes.
    const members = typeof iface === 'string' ? bondMembers(iface).map((m) => m.ifindex) : [];
    this.enableInterface(ifindex, mac, { members });
    const pin = this.linkPin(ifindex);
    let link: XdpAttachment;
    if (pin && existsSync(pin)) {
      link = XdpLink.openPinned(pin);
      link.update(this.program);
    } else {
      link = attachXdp(this.program, ifindex, { mode: opts.mode ?? 'auto' });
      if (pin && link.via === 'link') link.pin(pin);
    }
    this.links.get(ifindex)?.close();
    this.links.set(ifindex, link);
    return link;
  }

  /**
   * Records an interface's MAC, for the instances activated on it; attach()
   * does this itself. Apart for attachments made by other means (another
   * namespace's process, bpftool) and for test runs.
   */
  enableInterface(ifindex: number, mac: string | Buffer, opts: { members?: readonly number[] } = {}): void {
    if (!Number.isInteger(ifindex) || ifindex <= 0) throw new RangeError(`not an ifindex: ${ifindex}`);
    const members = opts.members ?? [];
    for (const m of members) {
      if (!Number.isInteger(m) || m <= 0) throw new RangeError(`not an ifindex: ${m}`);
      if (m >= this.limits.ifindexes) {
        throw new RangeError(
          `bond member ifindex ${m} is too large for the data plane: iface_masters is an array indexed by ifindex ` +
            `and holds ifindexes below ${this.limits.ifindexes} (limits.ifindexes)`,
        );
      }
    }
    this.interfaces.set(ifindex, Buffer.from(typeof mac === 'string' ? parseMac(mac) : mac));
    // Members that left the bond since the last call stop counting for it.
    for (const [m, master] of this.masterEntries()) if (master === ifindex && !members.includes(m)) this.maps.iface_masters.update(m, 0);
    for (const m of members) this.maps.iface_masters.update(m, ifindex);
  }

  /** iface_masters entries in use: [member, bond]. */
  private masterEntries(): [number, number][] {
    return this.maps.iface_masters.lookupBatch().filter(([, master]) => master !== 0);
  }

  /** Bond members recorded for an interface (empty for anything but a bond). */
  interfaceMembers(ifindex: number): number[] {
    return this.masterEntries()
      .filter(([, master]) => master === ifindex)
      .map(([m]) => m);
  }

  /**
   * Forgets an interface and stops serving every instance active on it (the
   * program would pass their frames there anyway once detached); false when
   * it was not enabled.
   */
  disableInterface(ifindex: number): boolean {
    const was = this.interfaces.delete(ifindex);
    for (const [name, i] of this.ifindexByName) if (i === ifindex) this.ifindexByName.delete(name);
    for (const m of this.interfaceMembers(ifindex)) this.maps.iface_masters.update(m, 0);
    for (const [id, v] of this.maps.instances.entries()) {
      if (v.ifindex === ifindex && v.lease_expiry_ns !== 0n) this.deactivate(id);
    }
    return was;
  }

  /** The ifindexes the program serves (attached or enabled by this process). */
  enabledInterfaces(): number[] {
    return [...this.interfaces.keys()].sort((a, b) => a - b);
  }

  /** ifindex and MAC of an enabled interface, for an instance entry. */
  private servingInterface(iface: string | number): { ifindex: number; mac: Buffer } {
    const ifindex = typeof iface === 'number' ? iface : (this.ifindexByName.get(iface) ?? resolveIfindex(iface));
    const mac = this.interfaces.get(ifindex);
    if (!mac) {
      throw new Error(
        `interface ${typeof iface === 'string' ? `${iface} (ifindex ${ifindex})` : `ifindex ${ifindex}`} ` +
          'is not enabled: attach() or enableInterface() it first',
      );
    }
    return { ifindex, mac };
  }

  /** Detaches from an interface and forgets it (its pin too). */
  detach(iface: string | number): void {
    const ifindex = resolveIfindex(iface);
    let link = this.links.get(ifindex);
    const pin = this.linkPin(ifindex);
    if (!link && pin && existsSync(pin)) link = XdpLink.openPinned(pin);
    link?.detach();
    link?.close();
    this.links.delete(ifindex);
    if (pin) rmSync(pin, { force: true });
    this.disableInterface(ifindex);
  }

  /**
   * Makes this host serve an instance on an interface until now +
   * leaseSeconds (the peers' Master_Down interval); call again with every
   * advertisement to renew. One map write, however many VIPs and services
   * the instance has. The interface must be enabled (attach()); its VIPs
   * are served there only. leaseSeconds = Infinity never expires.
   */
  activate(instance: number, leaseSeconds: number, iface: string | number): void {
    const expiry =
      leaseSeconds === Infinity ? LEASE_FOREVER : monotonicNs() + BigInt(Math.round(leaseSeconds * 1e9));
    const entry = this.activeEntry(expiry, iface);
    // The kernel copies an array value without a lock: a packet may read
    // part of the old entry and part of the new. Only the lease may change
    // in a write that makes the entry active, or a packet could take the
    // new lease with half of the old MAC: a new interface goes in first
    // with the lease still ended.
    const old = this.entryIface(instance);
    if (!old || old.ifindex !== entry.ifindex || !old.mac.equals(entry.mac)) {
      this.maps.instances.update(instance, { ...entry, lease_expiry_ns: 0n, flags: 0 });
      this.instanceIfaces.set(instance, { ifindex: entry.ifindex, mac: entry.mac });
    }
    this.maps.instances.update(instance, entry);
  }

  /** The interface an instance entry holds (the map is read once per instance). */
  private entryIface(instance: number): { ifindex: number; mac: Buffer } | undefined {
    let v = this.instanceIfaces.get(instance);
    if (!v) {
      const e = this.maps.instances.lookup(instance);
      if (e) this.instanceIfaces.set(instance, (v = { ifindex: e.ifindex, mac: e.mac }));
    }
    return v;
  }

  /** The same write as activate(): kept as its own name for the caller's sake. */
  renewLease(instance: number, leaseSeconds: number, iface: string | number): void {
    this.activate(instance, leaseSeconds, iface);
  }

  private activeEntry(expiry: bigint, iface: string | number): Instance {
    const { ifindex, mac } = this.servingInterface(iface);
    return { lease_expiry_ns: expiry, ifindex, mac, flags: INST_F_ACTIVE, pad: 0 };
  }

  /**
   * What the native advert sender needs to renew an instance's lease after
   * every advert it sends (src/net AdvertSender.setLease): the instances map
   * fd, the key, the active value (interface and MAC included), and where
   * its expiry field sits.
   */
  leaseTarget(
    instance: number,
    iface: string | number,
  ): { mapFd: number; key: Buffer; value: Buffer; valueOffset: number } {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(instance);
    const value = instanceCodec.toBuffer(this.activeEntry(0n, iface));
    const field = instanceCodec.layout.find((f) => f.name === 'lease_expiry_ns');
    if (!field) throw new Error('vipd_instance has no lease_expiry_ns');
    return { mapFd: this.maps.instances.fd, key, value, valueOffset: field.offset };
  }

  /**
   * Stops answering and forwarding for the instance (BACKUP, FAULT,
   * SIGTERM): a lease that ended at 0, the interface kept.
   */
  deactivate(instance: number): void {
    // Interface and MAC stay (see activate()): only the lease changes.
    const old = this.entryIface(instance);
    this.maps.instances.update(instance, {
      lease_expiry_ns: 0n,
      ifindex: old?.ifindex ?? 0,
      mac: old?.mac ?? Buffer.alloc(6),
      flags: 0,
      pad: 0,
    });
  }

  instance(instance: number): { active: boolean; leaseExpiryNs: bigint; ifindex: number } {
    const v = this.maps.instances.lookup(instance);
    return {
      active: !!v && (v.flags & INST_F_ACTIVE) !== 0,
      leaseExpiryNs: v?.lease_expiry_ns ?? 0n,
      ifindex: v?.ifindex ?? 0,
    };
  }

  /** The program answers ARP/NDP for vip while its instance is active. */
  setVip(vip: string, instance: number): void {
    this.maps.vips.update(vipKey(vip), { instance, flags: 0 });
  }

  deleteVip(vip: string): boolean {
    return this.maps.vips.delete(vipKey(vip));
  }

  /**
   * Writes a real server. Give a changed server a new index rather than
   * rewriting a live one: the program copies the MAC while it may be written.
   */
  setReal(index: number, real: RealSpec): void {
    const { addr, family } = parseAddr(real.address);
    const mac = typeof real.mac === 'string' ? parseMac(real.mac) : real.mac;
    this.maps.reals.update(index, { mac, flags: REAL_F_VALID, addr, family, pad: Buffer.alloc(3) });
  }

  deleteReal(index: number): void {
    this.maps.reals.update(index, { mac: Buffer.alloc(6), flags: 0, addr: Buffer.alloc(16), family: 0, pad: Buffer.alloc(3) });
  }

  /**
   * Adds a service (or moves it to another instance), with an empty ring:
   * traffic passes to the kernel until installTable()/setBackends().
   */
  addService(spec: ServiceSpec): ServiceInfo {
    const key = serviceKey(spec);
    const id = serviceId(key);
    const have = this.known.get(id);
    if (have) {
      const value = { ...have.value, instance: spec.instance };
      this.updateService(key, value);
      have.value = value;
      return { ...spec, index: value.index, ring: value.ring };
    }
    const used = new Set([...this.known.values()].map((s) => s.value.index));
    let index = 0;
    while (used.has(index)) index++;
    if (index >= this.limits.services) {
      throw new RangeError(`no room for service ${id}: the limit is ${this.limits.services} services`);
    }
    const ring = 2 * index;
    this.writeRing(ring, new Uint32Array(RING_SIZE).fill(REAL_NONE));
    this.releaseReals(index);
    const value: Service = { index, ring, instance: spec.instance, flags: 0 };
    this.updateService(key, value);
    this.known.set(id, { key, value, retiredAt: 0 });
    return { ...spec, index, ring };
  }

  listServices(): ServiceInfo[] {
    return [...this.known.values()].map(({ key, value }) => ({
      vip: formatAddr(key.addr, key.family),
      port: key.port,
      protocol: key.proto === IPPROTO_TCP ? 'tcp' : 'udp',
      instance: value.instance,
      index: value.index,
      ring: value.ring,
    }));
  }

  deleteService(spec: Pick<ServiceSpec, 'vip' | 'port' | 'protocol'>): boolean {
    const key = serviceKey(spec);
    const id = serviceId(key);
    const have = this.known.get(id);
    this.known.delete(id);
    const deleted = this.deleteServiceKey(key);
    if (have) this.releaseReals(have.value.index);
    return deleted;
  }

  /**
   * One BPF_MAP_UPDATE_BATCH of the whole ring, straight from the table's
   * bytes: keys are consecutive u32 (a preallocated buffer), values the
   * Uint32Array's own memory. Both in host order, which is the kernel's.
   */
  private writeRing(ring: number, table: Uint32Array): void {
    this.ringKeys ??= Buffer.alloc(RING_SIZE * 4);
    const keys = new Uint32Array(this.ringKeys.buffer, this.ringKeys.byteOffset, RING_SIZE);
    const base = ring * RING_SIZE;
    for (let i = 0; i < RING_SIZE; i++) keys[i] = base + i;
    const values = Buffer.from(table.buffer, table.byteOffset, RING_SIZE * 4);
    const written = this.maps.rings.updateBatchRaw(this.ringKeys, values, RING_SIZE);
    if (written !== RING_SIZE) throw new Error(`ring ${ring}: ${written} of ${RING_SIZE} slots written`);
  }

  /** A whole ring in one BPF_MAP_LOOKUP_BATCH (REAL_NONE where the read falls short). */
  private readRing(ring: number): Uint32Array {
    const out = new Uint32Array(RING_SIZE).fill(REAL_NONE);
    if ((ring + 1) * RING_SIZE > this.maps.rings.maxEntries) return out;
    const keys = Buffer.alloc(RING_SIZE * 4);
    const values = Buffer.from(out.buffer, out.byteOffset, RING_SIZE * 4);
    // The array's batch cursor is the last index read: start after base - 1.
    let cursor: Buffer | null = null;
    if (ring > 0) {
      cursor = Buffer.alloc(4);
      cursor.writeUInt32LE(ring * RING_SIZE - 1);
    }
    this.maps.rings.lookupBatchRaw(cursor, keys, values, RING_SIZE);
    return out;
  }

  /**
   * Swaps in a whole new table (RING_SIZE real-server indices) for a
   * service: written into the idle ring, then made live by one update of
   * the service's entry, so no packet sees a half-written table.
   */
  async installTable(spec: Pick<ServiceSpec, 'vip' | 'port' | 'protocol'>, table: Uint32Array): Promise<void> {
    if (table.length !== RING_SIZE) throw new RangeError(`a table has ${RING_SIZE} slots, got ${table.length}`);
    const key = serviceKey(spec);
    const svc = this.known.get(serviceId(key));
    if (!svc) throw new Error(`no service ${serviceId(key)}: addService() first`);
    // The idle ring was live until the last swap; packets that read the old
    // selector finish within microseconds (XDP runs under RCU), so waiting
    // a few milliseconds before overwriting it is ample.
    const wait = svc.retiredAt + this.quiesceMs - Date.now();
    if (wait > 0) await sleep(wait);
    const idle = svc.value.ring ^ 1;
    this.writeRing(idle, table);
    this.claimReals(svc.value.index, table);
    const value = { ...svc.value, ring: idle };
    this.updateService(key, value);
    svc.value = value;
    svc.retiredAt = Date.now();
  }

  /** Builds the Maglev table of the backends and installs it. */
  async setBackends(spec: Pick<ServiceSpec, 'vip' | 'port' | 'protocol'>, backends: readonly BackendSpec[]): Promise<void> {
    const slots = buildMaglevTable(backends.map((b) => ({ key: b.key, weight: b.weight })), RING_SIZE);
    const table = new Uint32Array(RING_SIZE);
    for (let i = 0; i < RING_SIZE; i++) table[i] = slots[i] === REAL_NONE ? REAL_NONE : backends[slots[i]].real;
    await this.installTable(spec, table);
  }

  /** The live table of a service. */
  table(spec: Pick<ServiceSpec, 'vip' | 'port' | 'protocol'>): Uint32Array | undefined {
    const svc = this.known.get(serviceId(serviceKey(spec)));
    if (!svc) return undefined;
    return this.readRing(svc.value.ring);
  }

  /**
   * Per-CPU counters, summed. The program counts a forwarded packet once,
   * in real_stats: verdicts.forward and the service totals are derived here
   * (real servers are per service, see claimReals()).
   */
  counters(): Counters {
    const verdicts = Object.fromEntries(REASONS.map((r) => [r, { packets: 0n, bytes: 0n }])) as Record<ReasonName, Counter>;
    // verdicts first: then real_stats holds at least every icmp_forward counted.
    for (const [k, v] of this.maps.verdicts.lookupBatch(64)) if (k < REASONS.length) verdicts[REASONS[k]] = sumCounters(v);
    const services = new Map<number, Counter>();
    for (const s of this.known.values()) services.set(s.value.index, this.serviceBase.get(s.value.index) ?? ZERO_COUNTER);
    const reals = new Map<number, Counter>();
    let total = ZERO_COUNTER;
    for (const [k, v] of this.maps.real_stats.lookupBatch(1024)) {
      const c = sumCounters(v);
      if (!c.packets) continue;
      reals.set(k, c);
      total = addCounters(total, c);
      const owner = this.realOwner.get(k);
      const have = owner === undefined ? undefined : services.get(owner);
      if (owner !== undefined && have) services.set(owner, addCounters(have, subCounters(c, this.realBase.get(k) ?? ZERO_COUNTER)));
    }
    verdicts.forward = forwardedCounter(total, verdicts.icmp_forward);
    return { verdicts, services, reals };
  }

  /** Drops this process's fds; pinned maps and links stay and keep working. */
  close(): void {
    for (const l of this.links.values()) l.close();
    this.links.clear();
    this.program.close();
    closeMaps(this.maps);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Removes every pin under pinDir that vipd made: links first (which
   * detaches the program when no fd holds them), then the maps.
   */
  static unpinAll(pinDir: string): void {
    if (!existsSync(pinDir)) return;
    for (const name of readdirSync(pinDir)) {
      if (name.startsWith('xdp_link_')) {
        try {
          const link = XdpLink.openPinned(join(pinDir, name));
          link.detach();
          link.close();
        } catch {
          // Already detached: removing the pin is all that is left.
        }
        rmSync(join(pinDir, name), { force: true });
      }
    }
    for (const name of [...Object.keys(MAPS), ...RETIRED_MAPS]) rmSync(join(pinDir, name), { force: true });
  }
}

