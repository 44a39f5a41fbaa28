/**
 * Where the Maglev tables live: the `rings` array map (mmapable), carved
 * into one area per service. An area is two rings of the service's ring
 * size, end to end; one is live (the service entry names it), the other
 * idle. A new table is written into the idle ring through a shared mapping
 * (plain stores, no syscall per slot) and made live by one write of the
 * service entry, so no packet sees a half-written table. A table of another
 * size goes into a new area, and the old area is freed once the entry no
 * longer names it.
 *
 * The service entries use nothing but allocate(), adopt(), install(),
 * release(), read() and the previous-ring calls: the layout behind them is
 * this module's alone.
 */
import type { ArrayMemory } from '../bpf/index.js';
import { REAL_NONE, SLOT_FALLBACK, SLOT_REAL } from './abi.js';
import type { SlotWords } from './fallbacks.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A service's two rings: slots [region, region + 2 * size). */
export interface RingArea {
  readonly region: number;
  readonly size: number;
}

/** Where a service's live table is. */
export interface LiveRing extends RingArea {
  /** First slot of the live ring: region or region + size. */
  readonly ring: number;
}

interface FreeExtent {
  start: number;
  length: number;
  /** Date.now() when it stopped being read, for quiescence. */
  freedAt: number;
}

/** What install()'s build() reads the live ring from. */
export interface InstallSource {
  /** The live ring's slots, copied out of the map (known without a read when fresh). */
  current(): SlotWords;
  /** The live ring is allocate()'s REAL_NONE, never written since. */
  readonly fresh: boolean;
  /**
   * A table of the live ring's size: the slot words of the live ring and of
   * the idle one (ArrayMemory.pairView(): [real, fallback] per slot, views
   * of the map). build() may write the idle ring through `idle`, which no
   * packet reads until publish(), and return null.
   */
  readonly pairs?: { readonly live: Uint32Array; readonly idle: Uint32Array };
}

export class MaglevRings {
  /** Free slots of the map, sorted by start, adjacent extents merged. */
  private free: FreeExtent[];
  /** Service index -> when its previous ring was retired (Date.now()). */
  private readonly retiredAt = new Map<number, number>();
  /**
   * First slots of rings allocate() filled with REAL_NONE and nothing wrote
   * since: their slots are known without reading them (a config load
   * installs 10 000 first tables).
   */
  readonly #fresh = new Set<number>();
  /** Ring size -> a ring of REAL_NONE, shared and never written. */
  readonly #none = new Map<number, Uint32Array>();

  constructor(
    private readonly memory: ArrayMemory,
    /** Minimum time between retiring a ring and writing it again. */
    private readonly quiesceMs: number,
  ) {
    this.free = [{ start: 0, length: memory.length, freedAt: 0 }];
  }

  /** Slots not in any area. */
  get freeSlots(): number {
    return this.free.reduce((sum, e) => sum + e.length, 0);
  }

  get totalSlots(): number {
    return this.memory.length;
  }

  /** Marks the areas of services found in the maps (adopted pins) as taken. */
  adopt(areas: readonly RingArea[]): void {
    for (const area of areas) this.take(area.region, 2 * area.size);
  }

  /**
   * A new area for a service whose tables have `size` slots, its first
   * ring filled with REAL_NONE (traffic passes until a table is installed).
   */
  allocate(size: number): LiveRing {
    const length = 2 * size;
    const now = Date.now();
    // A quiet extent first; one freed moments ago only when nothing else fits.
    const fits = (e: FreeExtent) => e.length >= length;
    const extent = this.free.find((e) => fits(e) && now - e.freedAt >= this.quiesceMs) ?? this.free.find(fits);
    if (!extent) {
      throw new RangeError(
        `the rings map is full: a ring pair of ${length} slots does not fit in ${this.freeSlots} free of ${this.memory.length} slots`,
      );
    }
    const region = extent.start;
    this.take(region, length);
    this.memory.fillU32(region, size, REAL_NONE); // both words of every slot
    this.#fresh.add(region);
    return { region, size, ring: region };
  }

  #noneRing(size: number): Uint32Array {
    let none = this.#none.get(size);
    if (!none) this.#none.set(size, (none = new Uint32Array(size).fill(REAL_NONE)));
    return none;
  }

  /** The live slots a table replaces: read from the map, or known when allocate() left them (shared: never written). */
  #current(ring: number, size: number): SlotWords {
    if (this.#fresh.has(ring)) {
      const none = this.#noneRing(size);
      return { real: none, fallback: none };
    }
    return this.readSlots(ring, size);
  }

  /** Gives an area back (its service is gone, or moved to another area). */
  release(area: RingArea): void {
    this.give(area.region, 2 * area.size);
  }

  /**
   * Writes a table into the service's idle ring (or, when its size differs,
   * into a new area), then calls publish(), which must point the service
   * entry at the new live ring. build() gets the live ring (InstallSource)
   * and returns the new slots (the fallbacks follow from the live slots, see
   * fallbacks.ts), or null when it wrote the idle ring itself through
   * `source.pairs` (same size only); it runs after the quiescence wait,
   * right before the write, so no other write to this service comes
   * between. After a resize the old area's idle ring is freed and its live
   * ring too, unless build() asked to keep it (a PREV_RING slot reads it):
   * then release it with releaseRing() once no slot refers to it.
   */
  async install(
    service: number,
    live: LiveRing,
    size: number,
    build: (source: InstallSource) => (SlotWords & { keepOld?: boolean }) | null,
    publish: (next: LiveRing) => void,
  ): Promise<LiveRing> {
    const current = () => this.#current(live.ring, live.size);
    if (size !== live.size) {
      const next = this.allocate(size);
      const slots = build({ current, fresh: this.#fresh.has(live.ring) });
      if (!slots) throw new Error('a table of another size is written by install(): build() must return its slots');
      this.#write(next.ring, slots);
      publish(next);
      if (slots.keepOld) this.give(live.ring === live.region ? live.region + live.size : live.region, live.size);
      else this.release(live);
      this.retiredAt.set(service, Date.now());
      return next;
    }
    // The idle ring was live until the last swap; packets that read the old
    // entry finish within microseconds (XDP runs under RCU), so waiting a
    // few milliseconds before overwriting it is ample.
    const wait = (this.retiredAt.get(service) ?? 0) + this.quiesceMs - Date.now();
    if (wait > 0) await sleep(wait);
    const idle = live.ring === live.region ? live.region + live.size : live.region;
    const pairs = { live: this.memory.pairView(live.ring, size), idle: this.memory.pairView(idle, size) };
    const slots = build({ current, fresh: this.#fresh.has(live.ring), pairs });
    if (slots) this.#write(idle, slots);
    else this.#fresh.delete(idle);
    const next = { region: live.region, size: live.size, ring: idle };
    publish(next);
    this.retiredAt.set(service, Date.now());
    return next;
  }

  /** Frees a previous ring kept by install() (slots [ring, ring + size)). */
  releaseRing(ring: number, size: number): void {
    this.give(ring, size);
  }

  /** Marks a previous ring found in the maps (adopted pins) as taken. */
  adoptRing(ring: number, size: number): void {
    this.take(ring, size);
  }

  /**
   * Rewrites the fallback words of a live ring in place (the sweep's
   * clean-up). Safe without a swap: the real words are not touched, and
   * each fallback is one aligned 32-bit store, which a packet reads whole
   * (old or new, never a mix); either value is a valid state of the slot
   * for the same real. docs/dataplane.md "Connection table" has the
   * argument.
   */
  setFallbacks(ring: number, fallback: Uint32Array): void {
    this.#fresh.delete(ring);
    this.memory.setU32(ring, fallback, SLOT_FALLBACK);
  }

  #write(ring: number, slots: SlotWords): void {
    this.#fresh.delete(ring);
    // An idle ring (no packet reads it): both words of each slot in one pass.
    this.memory.setU32Pair(ring, slots.real, slots.fallback);
  }

  /** Both words of a ring's slots; REAL_NONE past the end of the map. */
  readSlots(ring: number, size: number): SlotWords {
    if (ring + size > this.memory.length) {
      const none = new Uint32Array(size).fill(REAL_NONE);
      return { real: none, fallback: none };
    }
    const [real, fallback] = this.memory.readU32Pair(ring, size); // SLOT_REAL is word 0, SLOT_FALLBACK word 1
    return { real, fallback };
  }

  /**
   * A ring's slot words as a view of the map ([real, fallback] per slot:
   * ArrayMemory.pairView(), no copy); null past the end of the map. Use it
   * and drop it.
   */
  slotPairs(ring: number, size: number): Uint32Array | null {
    return ring + size > this.memory.length ? null : this.memory.pairView(ring, size);
  }

  /** Forgets a service's quiescence clock (its index may be reused). */
  forget(service: number): void {
    this.retiredAt.delete(service);
  }

  /** A ring's real servers (struct vipd_slot.real); REAL_NONE past the end of the map. */
  read(ring: number, size: number): Uint32Array {
    if (ring + size > this.memory.length) return new Uint32Array(size).fill(REAL_NONE);
    return this.memory.readU32(ring, size, SLOT_REAL);
  }

  private take(start: number, length: number): void {
    const end = start + length;
    const next: FreeExtent[] = [];
    for (const e of this.free) {
      const eEnd = e.start + e.length;
      if (eEnd <= start || e.start >= end) {
        next.push(e);
        continue;
      }
      if (e.start < start) next.push({ start: e.start, length: start - e.start, freedAt: e.freedAt });
      if (eEnd > end) next.push({ start: end, length: eEnd - end, freedAt: e.freedAt });
    }
    this.free = next;
  }

  private give(start: number, length: number): void {
    // A fresh ring is an area's first: given back whole or as a ring, it starts the extent.
    this.#fresh.delete(start);
    const freedAt = Date.now();
    const all = [...this.free, { start, length, freedAt }].sort((a, b) => a.start - b.start);
    const merged: FreeExtent[] = [];
    for (const e of all) {
      const last = merged[merged.length - 1];
      if (last && last.start + last.length === e.start) {
        last.length += e.length;
        last.freedAt = Math.max(last.freedAt, e.freedAt);
      } else merged.push({ ...e });
    }
    this.free = merged;
  }
}
