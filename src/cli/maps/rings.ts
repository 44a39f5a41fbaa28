/**
 * The Maglev rings, summarized: 65537 slots per ring are shown as how many
 * slots each real server holds. Only the rings services use are read (one
 * lookup per slot; the map holds 2 * services rings).
 */
import type { BpfMap } from '../../bpf/index.js';
import { REAL_NONE, RING_SIZE } from '../../dataplane/abi.js';
import type { RingEntry, RingShare } from './model.js';

/** One ring, one lookup per slot (the Dataplane's own readRing reads it in one batch). */
export function readRingBySlot(rings: BpfMap<number, number>, ring: number): Uint32Array {
  const table = new Uint32Array(RING_SIZE);
  const base = ring * RING_SIZE;
  for (let slot = 0; slot < RING_SIZE; slot++) table[slot] = rings.lookup(base + slot) ?? REAL_NONE;
  return table;
}

export interface RingUse {
  readonly ring: number;
  readonly service: string;
  readonly role: 'live' | 'idle';
}

export function summarizeRing(
  use: RingUse,
  table: Uint32Array,
  addressOf: (real: number) => string | null,
  withTable: boolean,
): RingEntry {
  const counts = new Map<number, number>();
  let empty = 0;
  for (const real of table) {
    if (real === REAL_NONE) empty++;
    else counts.set(real, (counts.get(real) ?? 0) + 1);
  }
  const reals: RingShare[] = [...counts]
    .sort(([ra, a], [rb, b]) => b - a || ra - rb)
    .map(([real, slots]) => ({ real, address: addressOf(real), slots }));
  return { ...use, slots: table.length, reals, empty, ...(withTable ? { table: [...table] } : {}) };
}

/** The live and idle ring of each service, in ring order; rings out of the map's range are skipped. */
export function ringsInUse(services: readonly { service: string; ring: number }[], maxEntries: number): RingUse[] {
  const ringCount = Math.floor(maxEntries / RING_SIZE);
  const uses = services.flatMap((s): RingUse[] => [
    { ring: s.ring, service: s.service, role: 'live' },
    { ring: s.ring ^ 1, service: s.service, role: 'idle' },
  ]);
  return uses.filter((u) => u.ring < ringCount).sort((a, b) => a.ring - b.ring);
}
