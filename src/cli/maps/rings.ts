/**
 * The Maglev rings, summarized: each ring's slots are shown as how many
 * slots each real server holds. Only the rings services use are read,
 * through a shared mapping of the (mmapable) rings map.
 */
import { REAL_NONE } from '../../dataplane/abi.js';
import type { RingEntry, RingShare } from './model.js';

export interface RingUse {
  /** First slot of the ring. */
  readonly ring: number;
  readonly size: number;
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
  const { size: _size, ...where } = use;
  return { ...where, slots: table.length, reals, empty, ...(withTable ? { table: [...table] } : {}) };
}

/** The live and idle ring of each service, in slot order; rings out of the map's range are skipped. */
export function ringsInUse(
  services: readonly { service: string; ring: number; ringSize: number; region: number }[],
  maxEntries: number,
): RingUse[] {
  const uses = services.flatMap((s): RingUse[] => [
    { ring: s.ring, size: s.ringSize, service: s.service, role: 'live' },
    { ring: s.ring === s.region ? s.region + s.ringSize : s.region, size: s.ringSize, service: s.service, role: 'idle' },
  ]);
  return uses.filter((u) => u.ring + u.size <= maxEntries).sort((a, b) => a.ring - b.ring);
}
