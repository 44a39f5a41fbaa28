/**
 * Every map of the XDP program, opened from a loaded Collection with its
 * codecs from abi.ts MAPS: the one place that names them all, for the
 * manager and the kernel-vs-model test fixture alike.
 */
import type { BpfMap, Collection, PerCpuMap } from '../bpf/index.js';
import {
  MAPS,
  type Counter,
  type Flow,
  type Flow4Key,
  type Flow6Key,
  type Pending,
  type Instance,
  type Real,
  type Service,
  type Service4Key,
  type Service6Key,
  type Slot,
  type Vip,
  type VipKey,
} from './abi.js';

export interface DataplaneMaps {
  readonly instances: BpfMap<number, Instance>;
  readonly vips: BpfMap<VipKey, Vip>;
  readonly services4: BpfMap<Service4Key, Service>;
  readonly services6: BpfMap<Service6Key, Service>;
  readonly rings: BpfMap<number, Slot>;
  readonly reals: BpfMap<number, Real>;
  readonly iface_masters: BpfMap<number, number>;
  readonly verdicts: PerCpuMap<number, Counter>;
  readonly real_stats: PerCpuMap<number, Counter>;
  readonly flows4: BpfMap<Flow4Key, Flow>;
  readonly flows6: BpfMap<Flow6Key, Flow>;
  /** Direct-mapped arrays of first-packet tags (ABI 7), indexed by flow hash & (size - 1). */
  readonly pending4: BpfMap<number, Pending>;
  readonly pending6: BpfMap<number, Pending>;
  readonly flow_stats: PerCpuMap<number, Counter>;
}

/** Opens every map (each handle owns a duplicate fd); on failure closes what it opened. */
export function openMaps(coll: Collection): DataplaneMaps {
  const opened: { close(): void }[] = [];
  const keep = <T extends { close(): void }>(m: T): T => {
    opened.push(m);
    return m;
  };
  try {
    return {
      instances: keep(coll.map('instances', MAPS.instances.key, MAPS.instances.value)),
      vips: keep(coll.map('vips', MAPS.vips.key, MAPS.vips.value)),
      services4: keep(coll.map('services4', MAPS.services4.key, MAPS.services4.value)),
      services6: keep(coll.map('services6', MAPS.services6.key, MAPS.services6.value)),
      rings: keep(coll.map('rings', MAPS.rings.key, MAPS.rings.value)),
      reals: keep(coll.map('reals', MAPS.reals.key, MAPS.reals.value)),
      iface_masters: keep(coll.map('iface_masters', MAPS.iface_masters.key, MAPS.iface_masters.value)),
      verdicts: keep(coll.perCpuMap('verdicts', MAPS.verdicts.key, MAPS.verdicts.value)),
      real_stats: keep(coll.perCpuMap('real_stats', MAPS.real_stats.key, MAPS.real_stats.value)),
      flows4: keep(coll.map('flows4', MAPS.flows4.key, MAPS.flows4.value)),
      flows6: keep(coll.map('flows6', MAPS.flows6.key, MAPS.flows6.value)),
      pending4: keep(coll.map('pending4', MAPS.pending4.key, MAPS.pending4.value)),
      pending6: keep(coll.map('pending6', MAPS.pending6.key, MAPS.pending6.value)),
      flow_stats: keep(coll.perCpuMap('flow_stats', MAPS.flow_stats.key, MAPS.flow_stats.value)),
    };
  } catch (err) {
    for (const m of opened) m.close();
    throw err;
  }
}

export function closeMaps(maps: DataplaneMaps): void {
  for (const m of Object.values(maps)) m.close();
}

/** A per-CPU counter summed over the CPUs. */
export function sumCounters(perCpu: readonly Counter[]): Counter {
  let packets = 0n;
  let bytes = 0n;
  for (const c of perCpu) {
    packets += c.packets;
    bytes += c.bytes;
  }
  return { packets, bytes };
}
