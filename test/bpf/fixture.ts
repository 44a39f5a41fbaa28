/**
 * Loads out/bpf/vipd.bpf.o (small maps), writes a ModelState into its maps,
 * and runs frames through both the kernel (BPF_PROG_TEST_RUN) and the
 * TypeScript model, so tests can demand that the two agree.
 */
import { ObjectSpec, type Collection, type Program, type PerCpuMap } from '../../src/bpf/index.js';
import { FAMILY_V4, FAMILY_V6, REAL_NONE, REASON_MAX, type Counter, type Flow, type Pending, type VipKey } from '../../src/dataplane/abi.js';
import { closeMaps, openMaps, type DataplaneMaps } from '../../src/dataplane/maps.js';
import {
  flowId,
  parseFlowId,
  pendingId,
  runModel,
  type CounterMap,
  type FlowKey,
  type ModelResult,
  type ModelState,
} from '../model/xdp-model.js';
import { objectPath, setPendingMasks } from '../../src/dataplane/manager.js';

/** test-run without a ctx runs as if received on the namespace's loopback. */
export const TEST_IFINDEX = 1;

export interface KernelResult {
  action: number;
  output: Buffer;
}

type CounterDelta = Map<string, { packets: bigint; bytes: bigint }>;

/** A connection table (flows, both families) as the model holds it: flowId() -> entry. */
export type FlowTable = Map<string, Flow>;
/** The pending tags (both families) as the model holds them: pendingId() -> entry. */
export type PendingTable = Map<string, Pending>;

/** Sizes of the connection table maps of a fixture (default: the object's; pending: state.limits.pending). */
export interface TableLimits {
  flows?: number;
}

export class Fixture {
  readonly prog: Program;
  private readonly maps: DataplaneMaps;
  private readonly counters: Record<CounterMap, PerCpuMap<number, Counter>>;

  private constructor(
    private readonly coll: Collection,
    readonly state: ModelState,
  ) {
    this.prog = coll.program('vipd_xdp');
    this.maps = openMaps(coll);
    this.counters = { verdicts: this.maps.verdicts, real_stats: this.maps.real_stats, flow_stats: this.maps.flow_stats };
  }

  /** The maps, for tests that write or read them directly (the SYN flood). */
  get dataplaneMaps(): DataplaneMaps {
    return this.maps;
  }

  /** Loads the object sized to state.limits and writes state into it. */
  static async load(state: ModelState, table: TableLimits = {}): Promise<Fixture> {
    const spec = ObjectSpec.open(objectPath());
    spec.map('instances').maxEntries = state.limits.instances;
    spec.map('services4').maxEntries = state.limits.services;
    spec.map('services6').maxEntries = state.limits.services;
    spec.map('rings').maxEntries = state.limits.ringSlots;
    spec.map('reals').maxEntries = state.limits.reals;
    spec.map('real_stats').maxEntries = state.limits.reals;
    spec.map('iface_masters').maxEntries = state.limits.ifindexes;
    for (const name of ['flows4', 'flows6'] as const) if (table.flows) spec.map(name).maxEntries = table.flows;
    for (const name of ['pending4', 'pending6'] as const) spec.map(name).maxEntries = state.limits.pending;
    setPendingMasks(spec);
    const fx = new Fixture(await spec.load(), state);
    fx.write();
    return fx;
  }

  /** Writes the whole state (after a test changed it). */
  write(): void {
    const s = this.state;
    for (const [k, v] of s.instances) this.maps.instances.update(k, v);
    for (const [k, v] of s.reals) this.maps.reals.update(k, v);
    for (const [k, v] of s.ifaceMasters) this.maps.iface_masters.update(k, v);
    for (const [id, v] of s.vips) this.maps.vips.update(vipKeyOf(id), v);
    for (const [id, v] of s.services) {
      const k = serviceKeyOf(id);
      if (k.family === 4) this.maps.services4.update({ addr: k.addr.subarray(0, 4), port: k.port, proto: k.proto, pad: 0 }, v);
      else this.maps.services6.update({ addr: k.addr, port: k.port, proto: k.proto, pad: 0 }, v);
    }
    for (const [ring, table] of s.rings) {
      const entries: [number, { real: number; fallback: number }][] = [];
      // A ring without fallbacks is clean: each slot's fallback is its real.
      const fallbacks = s.fallbacks.get(ring) ?? table;
      for (let i = 0; i < table.length; i++) entries.push([ring + i, { real: table[i], fallback: fallbacks[i] }]);
      this.maps.rings.updateBatch(entries);
    }
    this.writeTable(this.state.flows);
    this.writePending(this.state.pending);
  }

  /** Replaces the kernel's flows4+6 with the model's. */
  writeTable(table: FlowTable): void {
    const [m4, m6] = [this.maps.flows4, this.maps.flows6];
    m4.deleteBatch(m4.lookupBatch(1024).map(([k]) => k));
    m6.deleteBatch(m6.lookupBatch(1024).map(([k]) => k));
    for (const [id, flow] of table) {
      const k = parseFlowId(id);
      if (k.family === 4) m4.update(flowMapKey(k), flow);
      else m6.update(flowMapKey(k), flow);
    }
  }

  /** The kernel's flows4+6 in the model's form. */
  readTable(): FlowTable {
    const [m4, m6] = [this.maps.flows4, this.maps.flows6];
    const out: FlowTable = new Map();
    for (const [k, v] of m4.lookupBatch(1024)) out.set(flowId({ ...k, family: 4, client: Buffer.from(k.client), vip: Buffer.from(k.vip) }), v);
    for (const [k, v] of m6.lookupBatch(1024)) out.set(flowId({ ...k, family: 6, client: Buffer.from(k.client), vip: Buffer.from(k.vip) }), v);
    return out;
  }

  /** Replaces the kernel's pending4+6 with the model's tags (every other entry empty). */
  writePending(table: PendingTable): void {
    const empty: Pending = { tag: 0n, real: 0, seen: 0 };
    for (const [family, map] of [[FAMILY_V4, this.maps.pending4], [FAMILY_V6, this.maps.pending6]] as const) {
      const entries: [number, Pending][] = [];
      for (let i = 0; i < map.maxEntries; i++) entries.push([i, table.get(pendingId(family, i)) ?? empty]);
      map.updateBatch(entries);
    }
  }

  /** The kernel's pending4+6 tags (entries with a tag) in the model's form. */
  readPending(): PendingTable {
    const out: PendingTable = new Map();
    for (const [family, map] of [[FAMILY_V4, this.maps.pending4], [FAMILY_V6, this.maps.pending6]] as const) {
      for (const [i, v] of map.lookupBatch(8192)) if (v.tag !== 0n) out.set(pendingId(family, i), v);
    }
    return out;
  }

  kernel(frame: Buffer): KernelResult {
    const res = this.prog.run({ data: frame, dataSizeOut: frame.length + 256 });
    return { action: res.retval, output: res.data };
  }

  model(frame: Buffer): ModelResult {
    return runModel(frame, this.state, TEST_IFINDEX, process.hrtime.bigint());
  }

  modelWith(state: ModelState, frame: Buffer): ModelResult {
    return runModel(frame, state, TEST_IFINDEX, process.hrtime.bigint());
  }

  /** Per-CPU counters summed, keyed "map/key". */
  readCounters(): CounterDelta {
    const out: CounterDelta = new Map();
    for (const [name, map] of Object.entries(this.counters)) {
      for (const [key, perCpu] of map.lookupBatch(1024)) {
        let packets = 0n;
        let bytes = 0n;
        for (const c of perCpu) {
          packets += c.packets;
          bytes += c.bytes;
        }
        if (packets || bytes) out.set(`${name}/${key}`, { packets, bytes });
      }
    }
    return out;
  }

  close(): void {
    this.prog.close();
    closeMaps(this.maps);
    this.coll.close();
  }
}

/** Counter movement between two readings, as "map/key" -> packets/bytes. */
export function counterDelta(before: CounterDelta, after: CounterDelta): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, a] of after) {
    const b = before.get(k) ?? { packets: 0n, bytes: 0n };
    if (a.packets !== b.packets || a.bytes !== b.bytes) out.set(k, `${a.packets - b.packets}/${a.bytes - b.bytes}`);
  }
  return out;
}

/** What the model says the counters moved by, in counterDelta()'s form. */
export function modelDelta(res: ModelResult): Map<string, string> {
  const acc = new Map<string, { p: number; b: number }>();
  for (const c of res.counters) {
    const k = `${c.map}/${c.key}`;
    const v = acc.get(k) ?? { p: 0, b: 0 };
    acc.set(k, { p: v.p + 1, b: v.b + c.bytes });
  }
  return new Map([...acc].map(([k, v]) => [k, `${v.p}/${v.b}`]));
}

/** A model FlowKey as the codec's key (flow4KeyCodec / flow6KeyCodec: the same fields). */
function flowMapKey(k: FlowKey) {
  return { client: k.client, vip: k.vip, cport: k.cport, vport: k.vport, proto: k.proto, kind: k.kind, pad: Buffer.alloc(2) };
}

/**
 * A table without the seen stamps, sorted: what kernel and model must agree
 * on. seen is the lease clock, which the kernel reads once per jiffy and
 * the model from the test's own clock, so it is compared apart (seenSpread()).
 */
export function tableView(table: FlowTable): string[] {
  return [...table].map(([id, f]) => `${id} real=${f.real} hash=${f.hash} flags=${f.flags}`).sort();
}

/** A pending table as sorted lines, for equality checks. */
export function pendingView(table: PendingTable): string[] {
  return [...table].map(([id, p]) => `${id} tag=${p.tag.toString(16)} real=${p.real}`).sort();
}

/** The spread of the seen stamps of a table, in clock units (~1.05 ms), and how far the newest is from nowNs. */
export function seenAgeUnits(table: FlowTable, nowNs: bigint): number[] {
  const now = Number((nowNs >> 20n) & 0xffffffffn);
  return [...table.values()].map((f) => (now - f.seen) >>> 0);
}

/** The map key of a model vipId() ("family/hex"). */
function vipKeyOf(id: string): VipKey {
  const [family, hex] = id.split('/');
  return { addr: Buffer.from(hex, 'hex'), family: Number(family), pad: Buffer.alloc(3) };
}

/** The map key of a model serviceId() ("family/hex/proto/port"). */
function serviceKeyOf(id: string): { addr: Buffer; family: number; proto: number; port: number } {
  const [family, hex, proto, port] = id.split('/');
  return { addr: Buffer.from(hex, 'hex'), family: Number(family), proto: Number(proto), port: Number(port) };
}

export { REAL_NONE, REASON_MAX };
