/**
 * The fallback half of each ring slot (struct vipd_slot.fallback, ABI 6):
 * pure functions from the live slots a new table replaces to the slots it
 * is written with. docs/dataplane.md "Connection table" is the spec; in
 * short, a slot's fallback says where a flow the connection table does not
 * know goes:
 *
 *   == real              clean (the program never consults the table)
 *   TRACKED | real       consulted; unknown flows go to real
 *   another real index   changed hands; unknown flows go to the old real
 *   PREV_RING            the previous ring (another size) says where
 *
 * Nothing here touches a map: rings.ts writes what these return.
 */
import { REAL_NONE, SLOT_PREV_RING, SLOT_TRACKED } from './abi.js';

/** A ring's slots: both words, one array each. */
export interface SlotWords {
  readonly real: Uint32Array;
  readonly fallback: Uint32Array;
}

/** Real indexes whose reals entry is (or is about to be) invalid: a DOWN backend's. */
export interface RealSet {
  has(real: number): boolean;
}

const NO_REALS: RealSet = { has: () => false };

/** Where unknown flows of one slot go (REAL_NONE: nowhere; PREV_RING: ask the previous ring). */
export function slotTarget(real: number, fallback: number): number {
  if (fallback === real) return real;
  if (fallback === SLOT_PREV_RING || fallback === REAL_NONE) return fallback;
  if ((fallback & SLOT_TRACKED) !== 0) return (fallback & ~SLOT_TRACKED) >>> 0;
  return fallback;
}

export function isClean(real: number, fallback: number): boolean {
  return real === fallback;
}

/** TRACKED | real; REAL_NONE stays REAL_NONE (a slot with no real has nothing to track). */
export function tracked(real: number): number {
  return real === REAL_NONE ? REAL_NONE : (real | SLOT_TRACKED) >>> 0;
}

/**
 * The new fallback of a slot whose unknown flows went to `target` (every
 * old slot it covers agreeing), and whose old slots were all clean or not.
 * A target that is gone (REAL_NONE, or a DOWN real) counts as the new real:
 * those flows have lost their server anyway.
 */
export function nextFallback(target: number, allClean: boolean, real: number, invalid: RealSet = NO_REALS, record = true): number {
  // Not recording (this host serves nothing), a DOWN target is kept: the
  // backend may be DOWN from here only (this host's link is down), and the
  // MASTER's slot still names it.
  const t = target === REAL_NONE || (record && invalid.has(target)) ? real : target;
  if (t === real) return allClean ? real : tracked(real);
  // Not recording: a clean slot stays clean (no flow of this host can have
  // started there: see ServiceTable's rule), a changed one keeps its fallback.
  if (allClean && !record) return real;
  return t;
}

/** What a new table's slots are written with. */
export interface FallbackResult {
  readonly fallback: Uint32Array;
  /** Slots whose fallback names another real or PREV_RING (a change the sweep ages out). */
  readonly changed: number;
  /** True when some slot is PREV_RING: the old ring must stay readable (prev_ring/prev_size). */
  readonly usesPrev: boolean;
}

function summarize(fallback: Uint32Array, real: Uint32Array): FallbackResult {
  let changed = 0;
  let usesPrev = false;
  for (let i = 0; i < fallback.length; i++) {
    const f = fallback[i];
    if (f === SLOT_PREV_RING) usesPrev = true;
    if (f !== real[i] && (f === SLOT_PREV_RING || (f & SLOT_TRACKED) === 0)) changed++;
  }
  return { fallback, changed, usesPrev };
}

/** What writeSameSize() counted in its pass. */
export interface SameSizeCounts {
  /** Slots whose fallback names another real or PREV_RING (a change the sweep ages out). */
  readonly changed: number;
  /** Slots whose real changed and whose fallback now names another real or PREV_RING (new changes to age). */
  readonly moved: number;
  /** True when some slot is PREV_RING: the old ring must stay readable (prev_ring/prev_size). */
  readonly usesPrev: boolean;
  /** Slots whose fallback is not their real (changed or tracked): 0 leaves the sweep nothing to clean. */
  readonly unclean: number;
}

/**
 * A table of the live ring's size written straight from the live ring into
 * the idle one, with its fallbacks: `live` and `idle` hold struct
 * vipd_slot pairs ([real, fallback] per slot, words SLOT_REAL and
 * SLOT_FALLBACK: views of the rings map, rings.ts), so a swap is one pass
 * with no copy of either ring and nothing allocated. A 65537-slot swap was
 * four passes and 1 MiB of copies before (docs/dataplane.md).
 */
export function writeSameSize(live: Uint32Array, idle: Uint32Array, next: Uint32Array, invalid: RealSet = NO_REALS, record = true): SameSizeCounts {
  const n = next.length;
  if (live.length !== 2 * n || idle.length !== 2 * n) {
    throw new RangeError(`a table of ${n} slots over rings of ${live.length / 2} and ${idle.length / 2} slots`);
  }
  let changed = 0;
  let moved = 0;
  let unclean = 0;
  let usesPrev = false;
  for (let i = 0, w = 0; i < n; i++, w += 2) {
    const r = live[w];
    const f = live[w + 1];
    const nr = next[i];
    idle[w] = nr;
    // Most slots of most installs: clean and keeping their real. nextFallback()
    // gives such a slot its real whatever `invalid` says (a DOWN target is
    // replaced by the new real, the same one): no set lookup, no call.
    if (r === f && nr === r) {
      idle[w + 1] = r;
      continue;
    }
    // A PREV_RING slot keeps asking the previous ring (it stays while any slot does).
    const fb = f === SLOT_PREV_RING ? f : nextFallback(slotTarget(r, f), r === f, nr, invalid, record);
    idle[w + 1] = fb;
    if (fb === nr) continue;
    unclean++;
    if (fb === SLOT_PREV_RING) usesPrev = true;
    if (fb === SLOT_PREV_RING || (fb & SLOT_TRACKED) === 0) {
      changed++;
      if (nr !== r) moved++;
    }
  }
  return { changed, moved, usesPrev, unclean };
}

/** fallbacksSameSize(): also the slots whose real changed hands and now name the old one. */
export interface SameSizeResult extends FallbackResult, SameSizeCounts {}

/**
 * Fallbacks of a table of the live ring's size, as arrays: writeSameSize()
 * over copies (the slots of a ring not in the map, e.g. a MASTER's sent by
 * connection sync, and the unit tests).
 */
export function fallbacksSameSize(old: SlotWords, next: Uint32Array, invalid: RealSet = NO_REALS, record = true): SameSizeResult {
  if (old.real.length !== next.length) throw new RangeError(`tables of ${old.real.length} and ${next.length} slots: use fallbacksResized()`);
  const n = next.length;
  const live = new Uint32Array(2 * n);
  for (let i = 0; i < n; i++) {
    live[2 * i] = old.real[i];
    live[2 * i + 1] = old.fallback[i];
  }
  const idle = new Uint32Array(2 * n);
  const counts = writeSameSize(live, idle, next, invalid, record);
  const fallback = new Uint32Array(n);
  for (let i = 0; i < n; i++) fallback[i] = idle[2 * i + 1];
  return { fallback, ...counts };
}

const HASHES = 2 ** 32;

/**
 * The slots of a ring of `oldSize` that hashes landing in slot `slot` of a
 * ring of `newSize` used: the program's slot is (hash * size) >> 32, so
 * slot j takes hashes [ceil(j 2^32 / M), ceil((j + 1) 2^32 / M) - 1].
 * (Every product stays below 2^53: exact in a double.)
 */
export function overlappedSlots(slot: number, newSize: number, oldSize: number): [number, number] {
  const first = Math.ceil((slot * HASHES) / newSize);
  const last = Math.min(HASHES - 1, Math.ceil(((slot + 1) * HASHES) / newSize) - 1);
  return [Math.floor((first * oldSize) / HASHES), Math.floor((last * oldSize) / HASHES)];
}

/**
 * Fallbacks of a table of another size than the live ring (a resize): a
 * slot whose old slots agree takes their target like fallbacksSameSize();
 * where they disagree, PREV_RING (the program asks the old ring by hash).
 * The old ring must hold no PREV_RING slot (flattenPrev() first).
 */
export function fallbacksResized(old: SlotWords, next: Uint32Array, invalid: RealSet = NO_REALS, record = true): FallbackResult {
  const oldSize = old.real.length;
  const fallback = new Uint32Array(next.length);
  for (let j = 0; j < next.length; j++) {
    const [lo, hi] = overlappedSlots(j, next.length, oldSize);
    const real = next[j];
    let target = -1;
    let agree = true;
    let allClean = true;
    for (let i = lo; i <= hi; i++) {
      const r = old.real[i];
      const f = old.fallback[i];
      if (!isClean(r, f)) allClean = false;
      const t = slotTarget(r, f);
      // A target that is gone does not disagree: those flows lost their server anyway.
      if (t === REAL_NONE || invalid.has(t)) continue;
      if (target === -1) target = t;
      else if (t !== target) agree = false;
    }
    fallback[j] = !agree && !(allClean && !record) ? SLOT_PREV_RING : nextFallback(target === -1 ? real : target, allClean, real, invalid, record);
  }
  return summarize(fallback, next);
}

/**
 * The live ring's fallbacks with PREV_RING resolved from the previous
 * ring, for a second resize before the first one's prev ring was let go
 * (the program follows one level only). Where the previous ring's slots
 * disagree, the most common target wins: `lost` counts those slots.
 */
export function flattenPrev(live: SlotWords, prev: SlotWords, invalid: RealSet = NO_REALS): { fallback: Uint32Array; lost: number } {
  const fallback = Uint32Array.from(live.fallback);
  let lost = 0;
  for (let j = 0; j < fallback.length; j++) {
    if (fallback[j] !== SLOT_PREV_RING) continue;
    const [lo, hi] = overlappedSlots(j, fallback.length, prev.real.length);
    const votes = new Map<number, number>();
    for (let i = lo; i <= hi; i++) {
      const t = slotTarget(prev.real[i], prev.fallback[i]);
      if (t === REAL_NONE || t === SLOT_PREV_RING || invalid.has(t)) continue;
      votes.set(t, (votes.get(t) ?? 0) + 1);
    }
    if (votes.size > 1) lost++;
    let best = -1;
    let bestVotes = 0;
    for (const [t, n] of votes) if (n > bestVotes) [best, bestVotes] = [t, n];
    const real = live.real[j];
    fallback[j] = best === -1 ? tracked(real) : nextFallback(best, false, real, invalid);
  }
  return { fallback, lost };
}

/**
 * The sweep's clean-up of one ring (same reals, fallback words only):
 * changed and PREV_RING slots whose change is older than the longest
 * timeout become TRACKED | real (no flow from before it can be alive
 * without being in the table), and tracked slots that no live entry maps
 * to become clean. `hasEntry[i]` is 1 when the table holds a live flow of
 * slot i; the caller passes cleanTracked only when that read began well
 * after the ring was installed. Returns the new fallbacks and how many
 * slots changed.
 */
export function cleanFallbacks(
  live: SlotWords,
  hasEntry: Uint8Array,
  opts: { ageChanged: boolean; cleanTracked: boolean; invalid?: RealSet },
): { fallback: Uint32Array; rewritten: number } {
  const fallback = Uint32Array.from(live.fallback);
  let rewritten = 0;
  for (let i = 0; i < fallback.length; i++) {
    const r = live.real[i];
    let f = fallback[i];
    if (f === r) continue;
    const isTracked = f !== SLOT_PREV_RING && f !== REAL_NONE && (f & SLOT_TRACKED) !== 0;
    // A slot made tracked here is cleaned by a later sweep only: flows may
    // be pinned to its old fallback after this sweep read the table.
    if (isTracked && f === tracked(r)) {
      if (opts.cleanTracked && hasEntry[i] === 0) f = r;
    } else if (!isTracked && (opts.ageChanged || opts.invalid?.has(f))) f = tracked(r);
    if (f !== fallback[i]) {
      fallback[i] = f;
      rewritten++;
    }
  }
  return { fallback, rewritten };
}
