/**
 * Reads vipd's pinned maps straight from bpffs and decodes them with the
 * codecs of src/dataplane/abi.ts. Needs no daemon, only root.
 */
import { idleUnits } from '../../dataplane/flows.js';
import { sumCounters } from '../../dataplane/maps.js';
import { ArrayMemory, mapTypeName, type BpfMap, type Codec, type PerCpuMap } from '../../bpf/index.js';
import {
  actionOf,
  FAMILY_V4,
  FAMILY_V6,
  FLOW_CLIENT,
  FLOW_EVENTS,
  FLOW_F_CLOSING,
  type Flow,
  MAPS,
  REAL_F_VALID,
  REASONS,
  XDP_TX,
  type MapName,
  type Real,
  type Service,
} from '../../dataplane/abi.js';
import { formatAddr, formatMac } from '../../dataplane/addr.js';
import { flagNames, INSTANCE_FLAGS, interfaceNames, protocolName, REAL_FLAGS, serviceLabel } from './labels.js';
import type { CounterEntry, DumpOf, EntryTypes, MapDump, RealEntry, ServiceEntry } from './model.js';
import { openPinnedMap, openPinnedPerCpuMap, pinPath } from './pins.js';
import { ringsInUse, summarizeRing } from './rings.js';

export interface ReadOptions {
  /** Show empty array slots, zero counters and every ring slot. */
  readonly all?: boolean;
  /** CLOCK_MONOTONIC now in ns (the XDP program's clock), to tell how long a lease has left. */
  readonly monotonicNowNs?: bigint;
}

const ZERO_MAC = '00:00:00:00:00:00';

type CounterMapName = 'verdicts' | 'real_stats' | 'flow_stats';
type FlowMapName = 'flows4' | 'flows6';

/** struct vipd_flow.seen and the program's clock: CLOCK_MONOTONIC ns >> 20. */
const SEEN_SHIFT = 20n;
type ServiceMapName = 'services4' | 'services6';

/** One reading of a pin directory; services and reals are read once and shared as labels. */
export class PinnedMapReader {
  readonly dir: string;
  readonly #all: boolean;
  readonly #nowNs: bigint;
  #services: ServiceEntry[] | undefined;
  #validReals: RealEntry[] | undefined;

  constructor(dir: string, options: ReadOptions = {}) {
    this.dir = dir;
    this.#all = options.all === true;
    // process.hrtime is CLOCK_MONOTONIC on Linux, the clock of bpf_ktime_get_ns().
    this.#nowNs = options.monotonicNowNs ?? process.hrtime.bigint();
  }

  read<N extends MapName>(name: N): DumpOf<N> {
    const readers: { [M in MapName]: () => MapDump<M> } = {
      instances: () => this.#instances(),
      vips: () => this.#vips(),
      services4: () => this.#serviceDump('services4'),
      services6: () => this.#serviceDump('services6'),
      rings: () => this.#rings(),
      reals: () => this.#reals(),
      iface_masters: () => this.#ifaceMasters(),
      verdicts: () => this.#verdicts(),
      real_stats: () => {
        const byIndex = new Map(this.#realsForLabels().map((r) => [r.index, r.address]));
        return this.#counters('real_stats', (index) => byIndex.get(index) ?? null);
      },
      flows4: () => this.#flows('flows4'),
      flows6: () => this.#flows('flows6'),
      pending4: () => this.#pending('pending4'),
      pending6: () => this.#pending('pending6'),
      flow_stats: () => this.#counters('flow_stats', (index) => FLOW_EVENTS[index] ?? null),
    };
    return readers[name]() as DumpOf<N>;
  }

  #instances(): MapDump<'instances'> {
    const names = interfaceNames();
    return this.#withMap('instances', MAPS.instances.key, MAPS.instances.value, (map) => {
      const all = map.lookupBatch();
      const entries = all
        .filter(([, v]) => this.#all || v.flags !== 0 || v.lease_expiry_ns !== 0n)
        .map(([id, v]) => ({
          id,
          flags: flagNames(v.flags, INSTANCE_FLAGS),
          ifindex: v.ifindex,
          interface: v.ifindex === 0 ? null : (names.get(v.ifindex) ?? null),
          mac: formatMac(v.mac),
          leaseExpiryNs: v.lease_expiry_ns,
          leaseRemainingSeconds: v.lease_expiry_ns === 0n ? null : Number(v.lease_expiry_ns - this.#nowNs) / 1e9,
        }));
      return this.#dump('instances', map, entries, all.length - entries.length, 'empty instance slots');
    });
  }

  #vips(): MapDump<'vips'> {
    return this.#withMap('vips', MAPS.vips.key, MAPS.vips.value, (map) => {
      const entries = map
        .lookupBatch()
        .map(([k, v]) => ({ vip: formatAddr(k.addr, k.family), family: k.family, instance: v.instance, flags: v.flags }))
        .sort((a, b) => a.instance - b.instance || a.family - b.family || a.vip.localeCompare(b.vip));
      return this.#dump('vips', map, entries);
    });
  }

  #rings(): MapDump<'rings'> {
    const services = this.#servicesForLabels();
    const addresses = new Map(this.#realsForLabels().map((r) => [r.index, r.address]));
    return this.#withMap('rings', MAPS.rings.key, MAPS.rings.value, (map) => {
      using memory = ArrayMemory.ofU32PairArray(map);
      const entries = ringsInUse(services, map.maxEntries).map((use) =>
        summarizeRing(use, memory.readU32(use.ring, use.size), (real) => addresses.get(real) ?? null, this.#all),
      );
      const unused = map.maxEntries - entries.reduce((sum, e) => sum + e.slots, 0);
      return this.#dump('rings', map, entries, unused, `of ${map.maxEntries} slots are in no service's rings (not read)`);
    });
  }

  #reals(): MapDump<'reals'> {
    return this.#withMap('reals', MAPS.reals.key, MAPS.reals.value, (map) => {
      const all = decodeReals(map.lookupBatch());
      const entries = this.#all ? all : all.filter((r) => r.flags.length > 0 || r.family !== 0 || r.mac !== ZERO_MAC);
      return this.#dump('reals', map, entries, all.length - entries.length, 'empty real-server slots');
    });
  }

  #ifaceMasters(): MapDump<'iface_masters'> {
    const names = interfaceNames();
    return this.#withMap('iface_masters', MAPS.iface_masters.key, MAPS.iface_masters.value, (map) => {
      // An array indexed by ifindex: 0 is "no bond".
      const all = map.lookupBatch();
      const entries = all
        .filter(([, master]) => this.#all || master !== 0)
        .map(([ifindex, master]) => ({
          ifindex,
          name: names.get(ifindex) ?? null,
          master,
          masterName: master === 0 ? null : (names.get(master) ?? null),
        }));
      return this.#dump('iface_masters', map, entries, all.length - entries.length, 'interfaces that are no bond member');
    });
  }

  /** A connection table: every flow, idle longest last. */
  #flows<N extends FlowMapName>(name: N): MapDump<N> {
    const spec = MAPS[name];
    const family = name.endsWith('4') ? FAMILY_V4 : FAMILY_V6;
    const addresses = new Map(this.#realsForLabels().map((r) => [r.index, r.address]));
    // The program's clock in its own units, 32 bits: differences wrap.
    const now = Number((this.#nowNs >> SEEN_SHIFT) & 0xffffffffn);
    const unitSeconds = Number(1n << SEEN_SHIFT) / 1e9;
    type AnyFlowKey = { client: Buffer; vip: Buffer; cport: number; vport: number; proto: number; kind: number };
    return this.#withMap(name, spec.key as Codec<AnyFlowKey>, spec.value as Codec<Flow>, (map) => {
      const entries = map
        .lookupBatch()
        .map(([k, v]) => ({
          client: formatAddr(k.client, family),
          clientPort: k.cport,
          vip: formatAddr(k.vip, family),
          port: k.vport,
          protocol: protocolName(k.proto),
          kind: k.kind === FLOW_CLIENT ? ('client' as const) : ('conn' as const),
          real: v.real,
          address: addresses.get(v.real) ?? null,
          hash: v.hash,
          idleSeconds: idleUnits(v.seen, now) * unitSeconds,
          flags: (v.flags & FLOW_F_CLOSING) !== 0 ? ['closing'] : [],
        }))
        .sort((a, b) => a.idleSeconds - b.idleSeconds);
      return this.#dump(name, map, entries as EntryTypes[N][]);
    });
  }

  /** A pending array: the tags set, newest first (empty entries are left out). */
  #pending<N extends 'pending4' | 'pending6'>(name: N): MapDump<N> {
    const addresses = new Map(this.#realsForLabels().map((r) => [r.index, r.address]));
    const now = Number((this.#nowNs >> SEEN_SHIFT) & 0xffffffffn);
    const unitSeconds = Number(1n << SEEN_SHIFT) / 1e9;
    return this.#withMap(name, MAPS[name].key, MAPS[name].value, (map) => {
      const all = map.lookupBatch();
      const entries = all
        .filter(([, v]) => v.tag !== 0n)
        .map(([index, v]) => ({
          index,
          hash: Number(v.tag & 0xffffffffn),
          check: Number(v.tag >> 32n),
          real: v.real,
          address: addresses.get(v.real) ?? null,
          idleSeconds: idleUnits(v.seen, now) * unitSeconds,
        }))
        .sort((a, b) => a.idleSeconds - b.idleSeconds);
      return this.#dump(name, map, entries as EntryTypes[N][], all.length - entries.length, 'empty entries');
    });
  }

  /** Per-CPU counters, summed; verdicts shows every reason, the stats maps only slots that counted. */
  #counters<N extends CounterMapName>(name: N, labelOf: (index: number) => string | null): MapDump<N> {
    const spec = MAPS[name];
    const map = openPinnedPerCpuMap(this.dir, name, spec.key, spec.value);
    try {
      const all = map.lookupBatch().map(([index, perCpu]): CounterEntry => {
        const action = actionOf(index) === XDP_TX ? 'TX' : 'PASS';
        return {
          index,
          label: labelOf(index),
          ...(name === 'verdicts' ? { action } : {}),
          ...sumCounters(perCpu),
          perCpu: perCpu.map((c) => ({ packets: c.packets, bytes: c.bytes })),
        };
      });
      const entries = this.#all || name !== 'real_stats' ? all : all.filter((c) => c.packets !== 0n || c.bytes !== 0n);
      return this.#dump(name, map, entries as EntryTypes[N][], all.length - entries.length, 'counters at zero');
    } finally {
      map.close();
    }
  }

  /**
   * verdicts, with forward filled in: the program counts a forwarded packet
   * in real_stats alone, so forward is the sum of real_stats less
   * icmp_forward (both count real servers' packets), CPU by CPU.
   */
  #verdicts(): MapDump<'verdicts'> {
    const dump = this.#counters('verdicts', (index) => REASONS[index] ?? null);
    const forward = REASONS.indexOf('forward');
    const icmp = dump.entries.find((e) => e.index === REASONS.indexOf('icmp_forward'));
    let reals: CounterEntry[];
    try {
      reals = this.#counters('real_stats', () => null).entries;
    } catch {
      return { ...dump, note: 'forward: real_stats cannot be read, so forward (counted there) shows 0' };
    }
    const entries = dump.entries.map((e): CounterEntry => {
      if (e.index !== forward) return e;
      const perCpu = e.perCpu.map((_, cpu) => {
        let packets = 0n;
        let bytes = 0n;
        for (const r of reals) {
          packets += r.perCpu[cpu]?.packets ?? 0n;
          bytes += r.perCpu[cpu]?.bytes ?? 0n;
        }
        packets -= icmp?.perCpu[cpu]?.packets ?? 0n;
        bytes -= icmp?.perCpu[cpu]?.bytes ?? 0n;
        return { packets: packets > 0n ? packets : 0n, bytes: bytes > 0n ? bytes : 0n };
      });
      return { ...e, ...sumCounters(perCpu), perCpu, derived: true };
    });
    return { ...dump, entries };
  }

  #serviceDump<N extends ServiceMapName>(name: N): MapDump<N> {
    const spec = MAPS[name];
    const family = name === 'services4' ? FAMILY_V4 : FAMILY_V6;
    return this.#withMap(name, spec.key, spec.value, (map) =>
      this.#dump(name, map, this.#readServices(map as BpfMap<{ addr: Buffer; port: number; proto: number }, Service>, family) as EntryTypes[N][]),
    );
  }

  #readServices(map: BpfMap<{ addr: Buffer; port: number; proto: number }, Service>, family: number): ServiceEntry[] {
    return map
      .lookupBatch()
      .map(([k, v]) => ({
        service: serviceLabel(k.addr, family, k.port, k.proto),
        vip: formatAddr(k.addr, family),
        port: k.port,
        protocol: protocolName(k.proto),
        family,
        index: v.index,
        ring: v.ring,
        ringSize: v.ring_size,
        region: v.region,
        instance: v.instance,
        flags: v.flags,
      }))
      .sort((a, b) => a.index - b.index);
  }

  /** Services of both families, to name rings; empty when neither map can be read. */
  #servicesForLabels(): ServiceEntry[] {
    if (this.#services === undefined) {
      const all: ServiceEntry[] = [];
      for (const name of ['services4', 'services6'] as const) {
        try {
          all.push(...this.#serviceDump(name).entries);
        } catch {
          // Not pinned or not this build: rings go unnamed.
        }
      }
      this.#services = all.sort((a, b) => a.index - b.index);
    }
    return this.#services;
  }

  /** Valid real servers, to name ring slots and real_stats slots; empty when reals cannot be read. */
  #realsForLabels(): RealEntry[] {
    if (this.#validReals === undefined) {
      try {
        const all = this.#withMap('reals', MAPS.reals.key, MAPS.reals.value, (map) => map.lookupBatch());
        this.#validReals = decodeReals(all.filter(([, v]) => (v.flags & REAL_F_VALID) !== 0));
      } catch {
        this.#validReals = [];
      }
    }
    return this.#validReals;
  }

  /** Opens a pinned map, hands it to fn, and closes it. */
  #withMap<K, V, T>(name: MapName, key: Codec<K>, value: Codec<V>, fn: (map: BpfMap<K, V>) => T): T {
    const map = openPinnedMap(this.dir, name, key, value);
    try {
      return fn(map);
    } finally {
      map.close();
    }
  }

  #dump<N extends MapName>(
    name: N,
    map: BpfMap<unknown, unknown> | PerCpuMap<unknown, unknown>,
    entries: EntryTypes[N][],
    omitted = 0,
    omittedWhat = '',
  ): MapDump<N> {
    return {
      name,
      path: pinPath(this.dir, name),
      type: mapTypeName(map.type),
      maxEntries: map.maxEntries,
      entries,
      omitted,
      ...(omitted > 0 ? { note: `${omitted} ${omittedWhat}${name === 'rings' ? '' : ' not shown (--all shows them)'}` } : {}),
    };
  }
}

function decodeReals(all: readonly [number, Real][]): RealEntry[] {
  return all.map(([index, v]) => ({
    index,
    address: v.family === 0 ? '' : formatAddr(v.addr, v.family),
    family: v.family,
    mac: formatMac(v.mac),
    flags: flagNames(v.flags, REAL_FLAGS),
  }));
}

