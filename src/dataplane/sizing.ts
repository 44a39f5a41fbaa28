/**
 * Data-plane sizes from the config: how big each service's Maglev ring is,
 * how many entries each map gets, and what that costs in kernel memory.
 *
 * Deterministic (and pure but for possibleCpuCount()): every host given
 * the same config computes the same ring sizes (so the same tables, so a flow keeps its real server
 * across a failover). docs/dataplane.md "Sizing" explains the choices.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/**
 * The ring sizes a service can have: primes (Maglev needs a prime so every
 * backend's permutation visits every slot), each about twice the one
 * before, ending at the largest ring the program is built for
 * (VIPD_RING_MAX_SIZE). A ladder rather than "the next prime" keeps a
 * service's ring size, and so its whole table, unchanged while its backend
 * count moves within one step.
 */
export const RING_SIZES = [251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65537] as const;

/** Slots per backend the ring should have at least: Maglev's paper gives <= 1% imbalance at M > 100 N. */
export const SLOTS_PER_BACKEND = 100;

/** The ring size for a service with `backends` configured backends (drained or down ones included). */
export function ringSize(backends: number): number {
  const wanted = SLOTS_PER_BACKEND * Math.max(1, backends);
  return RING_SIZES.find((size) => size >= wanted) ?? RING_SIZES[RING_SIZES.length - 1];
}

/** What a config puts in the data plane. */
export interface DataplaneDemand {
  readonly instances: number;
  readonly vips: number;
  /** Configured backend count of each service, IPv4 and IPv6 together. */
  readonly serviceBackends: readonly number[];
  /** connections.max: entries of flows4 and of flows6 (default DEFAULT_MAX_CONNECTIONS). */
  readonly connections?: number;
  /** connections.pending: entries of pending4 and of pending6, rounded up to a power of two (default DEFAULT_PENDING). */
  readonly pending?: number;
  /** Which families have a service: a family with none gets 1-entry flow maps. Default both. */
  readonly families?: { readonly v4: boolean; readonly v6: boolean };
}

/** connections.max when the config says nothing (docs/configuration.md). */
export const DEFAULT_MAX_CONNECTIONS = 1_000_000;

/**
 * connections.pending when the config says nothing, and VIPD_MAX_PENDING
 * (the object's pending size): 65536 tags of 16 bytes, 1 MiB per family,
 * which stays in a server's L2 or L3, where 1M tags (16 MiB) made every
 * SYN on a changed slot miss both (bench/dataplane.ts). pending holds only the
 * handshakes in flight on changed slots (their rate x round trip), not the
 * table's flows: docs/dataplane.md "Connection table" has the flood figures.
 */
export const DEFAULT_PENDING = 65_536;

/**
 * pending4/6 (ABI 7) are direct-mapped arrays of first-packet tags indexed
 * by the flow hash's low bits: a power of two entries, connections.pending
 * rounded up (a flood of F spoofed first packets per second overwrites a
 * given tag within a round trip T with probability about 1 - exp(-F T / size):
 * docs/dataplane.md "Connection table"); 1 for a family without flows.
 */
export function pendingSize(flows: number, pending = DEFAULT_PENDING): number {
  return flows <= 1 ? 1 : 2 ** Math.ceil(Math.log2(Math.max(1, pending)));
}

/** The program's pendingN_mask for a pending array of `entries` (the largest power of two it holds, less one). */
export function pendingMask(entries: number): number {
  return 2 ** Math.floor(Math.log2(Math.max(1, entries))) - 1;
}


/** max_entries of every map whose size follows the config. */
export interface MapSizes {
  readonly instances: number;
  readonly vips: number;
  /** Each of services4 and services6. */
  readonly services: number;
  readonly reals: number;
  /** rings: every service's two rings, end to end. */
  readonly ringSlots: number;
  /** The connection table (LRU hashes): connections.max per family in use, else 1. */
  readonly flows4: number;
  readonly flows6: number;
  /** Their pending stages (first-packet tags, arrays of a power of two entries): pendingSize(). */
  readonly pending4: number;
  readonly pending6: number;
}

/**
 * Room beyond what the config needs, so that a reload that adds services
 * or backends fits in the maps already loaded (a reload that does not fit
 * rebuilds the data plane: src/dataplane says how). A quarter more, and at
 * least the floor: a small site can grow several times over.
 */
export const HEADROOM = 1.25;
export const FLOOR: MapSizes = {
  instances: 16,
  vips: 256,
  services: 64,
  reals: 1024,
  ringSlots: 2 * 65537,
  // The object's defaults (VIPD_MAX_FLOWS, VIPD_MAX_PENDING): what a Dataplane opened without sizes gets.
  flows4: 65536,
  flows6: 65536,
  pending4: DEFAULT_PENDING,
  pending6: DEFAULT_PENDING,
};

/** Ring slots a set of services needs: two rings (live and idle) each. */
export function ringSlotsFor(serviceBackends: readonly number[]): number {
  return serviceBackends.reduce((sum, n) => sum + 2 * ringSize(n), 0);
}

export function mapSizesFor(demand: DataplaneDemand): MapSizes {
  const grow = (needed: number, floor: number) => Math.max(floor, Math.ceil(needed * HEADROOM));
  return {
    instances: grow(demand.instances, FLOOR.instances),
    vips: grow(demand.vips, FLOOR.vips),
    services: grow(demand.serviceBackends.length, FLOOR.services),
    // Two entries per backend: a changed MAC goes to the one the live table
    // does not use (src/daemon/services.ts), never rewriting a live entry.
    reals: grow(2 * demand.serviceBackends.reduce((sum, n) => sum + n, 0), FLOOR.reals),
    ringSlots: grow(ringSlotsFor(demand.serviceBackends), FLOOR.ringSlots),
    // No headroom and no floor: connections.max and .pending are the operator's numbers.
    ...flowSizes(demand.connections ?? DEFAULT_MAX_CONNECTIONS, demand.pending ?? DEFAULT_PENDING, demand.families ?? { v4: true, v6: true }),
  };
}

function flowSizes(
  max: number,
  pending: number,
  families: { v4: boolean; v6: boolean },
): Pick<MapSizes, 'flows4' | 'flows6' | 'pending4' | 'pending6'> {
  const flows4 = families.v4 ? max : 1;
  const flows6 = families.v6 ? max : 1;
  return { flows4, flows6, pending4: pendingSize(flows4, pending), pending6: pendingSize(flows6, pending) };
}

/** True when every map of `have` is at least as big as `need` asks. */
export function sizesHold(have: MapSizes, need: MapSizes): boolean {
  return (Object.keys(need) as (keyof MapSizes)[]).every((key) => have[key] >= need[key]);
}

// ---- memory ------------------------------------------------------------

const roundUp = (n: number, to: number) => Math.ceil(n / to) * to;
const PAGE = 4096;
/** struct htab_elem before the key (hash node, hash, lru/ptr union), on 64-bit kernels. */
const HTAB_ELEM_HEADER = 48;
/** A hash bucket (list head + lock). */
const HTAB_BUCKET = 16;

/** Kernel memory of one map, by the layout of kernel/bpf/arraymap.c and hashtab.c (an estimate). */
export function arrayBytes(entries: number, valueSize: number, opts: { perCpu?: number; mmapable?: boolean } = {}): number {
  const elem = roundUp(valueSize, 8);
  if (opts.perCpu) return entries * (8 + elem * opts.perCpu);
  const data = entries * elem;
  return opts.mmapable ? roundUp(data, PAGE) : data;
}

export function hashBytes(entries: number, keySize: number, valueSize: number): number {
  const buckets = 2 ** Math.ceil(Math.log2(Math.max(1, entries)));
  return entries * (HTAB_ELEM_HEADER + roundUp(keySize, 8) + roundUp(valueSize, 8)) + buckets * HTAB_BUCKET;
}

/** Sizes of the map values and keys that follow the config (bpf/vipd_structs.h). */
const SIZE = {
  instance: 24,
  vipKey: 20,
  vip: 8,
  service4Key: 8,
  service6Key: 20,
  service: 32,
  real: 28,
  counter: 16,
  slot: 8,
  flow4Key: 16,
  flow6Key: 40,
  flow: 16,
  pending: 16,
} as const;

/** Kernel bytes per connection-table entry (IPv4, IPv6), for --check and the bench. */
export const BYTES_PER_FLOW = {
  v4: hashBytes(1, SIZE.flow4Key, SIZE.flow) - HTAB_BUCKET,
  v6: hashBytes(1, SIZE.flow6Key, SIZE.flow) - HTAB_BUCKET,
} as const;

export interface MemoryEstimate {
  readonly total: number;
  readonly byMap: Readonly<Record<string, number>>;
}

/** What the maps of `sizes` take in the kernel, on a host with `cpus` possible CPUs. */
export function mapMemory(sizes: MapSizes, cpus: number): MemoryEstimate {
  const byMap: Record<string, number> = {
    instances: arrayBytes(sizes.instances, SIZE.instance),
    vips: hashBytes(sizes.vips, SIZE.vipKey, SIZE.vip),
    services4: hashBytes(sizes.services, SIZE.service4Key, SIZE.service),
    services6: hashBytes(sizes.services, SIZE.service6Key, SIZE.service),
    rings: arrayBytes(sizes.ringSlots, SIZE.slot, { mmapable: true }),
    reals: arrayBytes(sizes.reals, SIZE.real),
    real_stats: arrayBytes(sizes.reals, SIZE.counter, { perCpu: cpus }),
    flows4: hashBytes(sizes.flows4, SIZE.flow4Key, SIZE.flow),
    flows6: hashBytes(sizes.flows6, SIZE.flow6Key, SIZE.flow),
    pending4: arrayBytes(sizes.pending4, SIZE.pending),
    pending6: arrayBytes(sizes.pending6, SIZE.pending),
  };
  return { total: Object.values(byMap).reduce((sum, n) => sum + n, 0), byMap };
}

/** "1.5 MiB": for messages and the bench. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** Possible CPUs (per-CPU maps hold one value for each), from sysfs. */
export function possibleCpuCount(): number {
  try {
    // "0-1" or "0,2-3": count every CPU of every range.
    const text = readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim();
    return text.split(',').reduce((sum, range) => {
      const [from, to] = range.split('-').map(Number);
      return sum + ((to ?? from ?? 0) - (from ?? 0) + 1);
    }, 0);
  } catch {
    return availableParallelism();
  }
}
