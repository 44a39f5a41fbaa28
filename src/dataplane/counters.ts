/**
 * The data plane's counters, read at scrape time: verdicts (per-CPU,
 * summed) and real_stats, from which the forward verdict and the service
 * totals are derived. The program counts a forwarded packet once, in
 * real_stats alone, so which service a real's packets belong to is kept
 * here: the service whose table last used the real.
 */
import type { PerCpuMap } from '../bpf/index.js';
import { REAL_NONE, REASONS, type Counter, type ReasonName } from './abi.js';
import { sumCounters } from './maps.js';

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

const ZERO_COUNTER: Counter = { packets: 0n, bytes: 0n };

function addCounters(a: Counter, b: Counter): Counter {
  return { packets: a.packets + b.packets, bytes: a.bytes + b.bytes };
}

function subCounters(a: Counter, b: Counter): Counter {
  return { packets: a.packets - b.packets, bytes: a.bytes - b.bytes };
}

/** The two per-CPU maps the counters come from. */
export interface CounterMaps {
  readonly verdicts: PerCpuMap<number, Counter>;
  readonly real_stats: PerCpuMap<number, Counter>;
}

/**
 * Which service each real server counts for. Service totals are sums over
 * real servers: real index -> the service index whose table last used it,
 * fed by claim() when a table is installed (or found live on adoption).
 */
export class ServiceCounters {
  private readonly realOwner = new Map<number, number>();
  /** The reals each service owns (release() visits only its own: 10 000 services own 100 000 reals). */
  private readonly owned = new Map<number, Set<number>>();
  /**
   * real_stats as first read, for reals no service has claimed since this
   * process started: one batch read instead of a lookup per real claimed.
   */
  private firstSeen: Map<number, Counter> | undefined;
  /** claim()'s scratch: stamps[real] === stamp when the real was seen in this pass. */
  private stamps = new Uint32Array(0);
  private stamp = 0;
  /** real_stats of a real when it changed owner: the new owner counts from there. */
  private readonly realBase = new Map<number, Counter>();
  /** What reals counted for a service before they moved to another one. */
  private readonly serviceBase = new Map<number, Counter>();

  constructor(
    private readonly maps: CounterMaps,
    /** Entries of real_stats (limits.reals): an index at or above it counts nothing. */
    private readonly reals: number,
    /**
     * The maps were created by this process: real_stats is all zeros, so
     * there is nothing to read first (a batch read of 250 000 per-CPU
     * entries took ~1 s of a 10 000-service start).
     */
    fresh = false,
  ) {
    if (fresh) this.firstSeen = new Map();
  }

  /** The count a never-claimed real starts from (read in one batch, once). */
  private baseOfNew(real: number): Counter {
    if (this.firstSeen === undefined) {
      this.firstSeen = new Map();
      for (const [k, v] of this.maps.real_stats.lookupBatch(4096)) {
        const c = sumCounters(v);
        if (c.packets || c.bytes) this.firstSeen.set(k, c);
      }
    }
    return this.firstSeen.get(real) ?? ZERO_COUNTER;
  }

  private own(index: number, real: number): void {
    const before = this.realOwner.get(real);
    if (before !== undefined) this.owned.get(before)?.delete(real);
    this.realOwner.set(real, index);
    let set = this.owned.get(index);
    if (!set) this.owned.set(index, (set = new Set()));
    set.add(real);
  }

  /** real_stats of one real, summed over CPUs. */
  private realCount(real: number): Counter {
    const v = real < this.reals ? this.maps.real_stats.lookup(real) : undefined;
    return v ? sumCounters(v) : ZERO_COUNTER;
  }

  /**
   * Records that service index now sends to the reals of table. A real that
   * counted for another service leaves that service's total where it was
   * (folded into serviceBase) and counts for this one from now on; so does
   * a real no service had, unless adopting (its whole count is this one's:
   * which real served which service before is not kept anywhere).
   */
  claim(index: number, table: Uint32Array, adopting = false): void {
    // Distinct reals of the table: a stamp per real index (typed, reused)
    // instead of a Set, so a 65537-slot table costs one pass and no garbage.
    if (this.stamps.length < this.reals) this.stamps = new Uint32Array(this.reals);
    const stamps = this.stamps;
    const stamp = (this.stamp = (this.stamp + 1) >>> 0 || 1);
    const distinct: number[] = [];
    for (let i = 0; i < table.length; i++) {
      const r = table[i];
      if (r === REAL_NONE || r >= stamps.length) continue;
      if (stamps[r] !== stamp) {
        stamps[r] = stamp;
        distinct.push(r);
      }
    }
    this.claimReals(index, distinct, adopting);
  }

  /** claim() for a caller that knows the distinct reals of the table (a Maglev build does). */
  claimReals(index: number, reals: Iterable<number>, adopting = false): void {
    for (const r of reals) {
      const owner = this.realOwner.get(r);
      if (owner === index) continue;
      if (owner !== undefined) {
        const now = this.realCount(r);
        const since = subCounters(now, this.realBase.get(r) ?? ZERO_COUNTER);
        this.serviceBase.set(owner, addCounters(this.serviceBase.get(owner) ?? ZERO_COUNTER, since));
        this.realBase.set(r, now);
      } else if (!adopting && !this.realBase.has(r)) {
        this.realBase.set(r, this.baseOfNew(r));
      }
      this.own(index, r);
    }
  }

  /** A deleted (or reused) service index: its reals count for nobody until a table uses them again. */
  release(index: number): void {
    for (const r of this.owned.get(index) ?? []) {
      this.realOwner.delete(r);
      this.realBase.set(r, this.realCount(r));
    }
    this.owned.delete(index);
    this.serviceBase.delete(index);
  }

  /**
   * Per-CPU counters, summed, for the given live service indexes. The
   * program counts a forwarded packet once, in real_stats: verdicts.forward
   * and the service totals are derived here.
   */
  read(services: Iterable<number>): Counters {
    const verdicts = Object.fromEntries(REASONS.map((r) => [r, { packets: 0n, bytes: 0n }])) as Record<ReasonName, Counter>;
    // verdicts first: then real_stats holds at least every icmp_forward counted.
    for (const [k, v] of this.maps.verdicts.lookupBatch(64)) if (k < REASONS.length) verdicts[REASONS[k]] = sumCounters(v);
    const totals = new Map<number, Counter>();
    for (const index of services) totals.set(index, this.serviceBase.get(index) ?? ZERO_COUNTER);
    const reals = new Map<number, Counter>();
    let total = ZERO_COUNTER;
    for (const [k, v] of this.maps.real_stats.lookupBatch(1024)) {
      const c = sumCounters(v);
      if (!c.packets) continue;
      reals.set(k, c);
      total = addCounters(total, c);
      const owner = this.realOwner.get(k);
      const have = owner === undefined ? undefined : totals.get(owner);
      if (owner !== undefined && have) totals.set(owner, addCounters(have, subCounters(c, this.realBase.get(k) ?? ZERO_COUNTER)));
    }
    verdicts.forward = forwardedCounter(total, verdicts.icmp_forward);
    return { verdicts, services: totals, reals };
  }
}
