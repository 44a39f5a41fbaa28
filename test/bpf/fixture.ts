/**
 * Loads out/bpf/vipd.bpf.o (small maps), writes a ModelState into its maps,
 * and runs frames through both the kernel (BPF_PROG_TEST_RUN) and the
 * TypeScript model, so tests can demand that the two agree.
 */
import { ObjectSpec, type Collection, type Program, type PerCpuMap } from '../../src/bpf/index.js';
import { REAL_NONE, REASON_MAX, type Counter, type VipKey } from '../../src/dataplane/abi.js';
import { closeMaps, openMaps, type DataplaneMaps } from '../../src/dataplane/maps.js';
import { runModel, type CounterMap, type ModelResult, type ModelState } from '../model/xdp-model.js';
import { objectPath } from '../../src/dataplane/manager.js';

/** test-run without a ctx runs as if received on the namespace's loopback. */
export const TEST_IFINDEX = 1;

export interface KernelResult {
  action: number;
  output: Buffer;
}

type CounterDelta = Map<string, { packets: bigint; bytes: bigint }>;

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
    this.counters = { verdicts: this.maps.verdicts, real_stats: this.maps.real_stats };
  }

  /** Loads the object sized to state.limits and writes state into it. */
  static async load(state: ModelState): Promise<Fixture> {
    const spec = ObjectSpec.open(objectPath());
    spec.map('instances').maxEntries = state.limits.instances;
    spec.map('services4').maxEntries = state.limits.services;
    spec.map('services6').maxEntries = state.limits.services;
    spec.map('rings').maxEntries = state.limits.ringSlots;
    spec.map('reals').maxEntries = state.limits.reals;
    spec.map('real_stats').maxEntries = state.limits.reals;
    spec.map('iface_masters').maxEntries = state.limits.ifindexes;
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
      // Clean slots: the fallback is the slot's real.
      for (let i = 0; i < table.length; i++) entries.push([ring + i, { real: table[i], fallback: table[i] }]);
      this.maps.rings.updateBatch(entries);
    }
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
