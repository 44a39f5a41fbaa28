/**
 * Per-call cost of libbpf-ts map operations from TypeScript (tinybench):
 * the typed path (codec + native call + syscall) beside the raw native call
 * with pre-encoded buffers, so the binding's own overhead is visible.
 *
 *   npm run build && npm run build:tools && node dist-tools/bench/libbpf.js [--json]
 */
import { join } from 'node:path';
import { Bench } from 'tinybench';
import { ObjectSpec, struct, types as t } from '../src/bpf/index.js';
import { bpfNative } from '../src/bpf/native.js';
import { packageRoot } from '../src/native.js';

export interface MapCallCost {
  name: string;
  nsPerCall: number;
  opsPerSec: number;
  samples: number;
}

const Key = struct('test_key', { id: t.u32, port: t.u16, proto: t.u8, pad: t.u8 });
const Value = struct('test_value', { counter: t.u64, flags: t.u32, mac: t.bytes(6), weight: t.u16 });

export async function benchMapCalls(): Promise<MapCallCost[]> {
  const coll = await ObjectSpec.open(join(packageRoot(), 'out/test/progs/libbpf_ts_test.bpf.o')).load();
  const hash = coll.map('test_hash', Key, Value);
  const array = coll.map('test_array', t.u32, Value);
  const native = bpfNative();
  const key = { id: 1, port: 80, proto: 6, pad: 0 };
  const value = { counter: 1n, flags: 0, mac: Buffer.from('020000000001', 'hex'), weight: 100 };
  const rawKey = Key.toBuffer(key);
  const rawValue = Value.toBuffer(value);
  let i = 0;

  const bench = new Bench({ time: 400, warmup: true });
  bench
    .add('hash update (typed)', () => hash.update({ ...key, id: i++ & 1023 }, value))
    .add('hash update (raw native)', () => native.mapUpdate(hash.fd, rawKey, rawValue, 0))
    .add('hash lookup (typed)', () => hash.lookup(key))
    .add('array update (typed)', () => array.update(i++ & 15, value))
    .add('array lookup (typed)', () => array.lookup(3));
  await bench.run();
  hash.close();
  array.close();
  coll.close();
  return bench.tasks.map((task) => {
    const r = task.result as { latency?: { mean: number }; throughput?: { mean: number }; samples?: unknown[] } | undefined;
    const meanMs = r?.latency?.mean ?? NaN;
    return {
      name: task.name,
      nsPerCall: Math.round(meanMs * 1e6),
      opsPerSec: Math.round(r?.throughput?.mean ?? 1000 / meanMs),
      samples: Array.isArray(r?.samples) ? r.samples.length : 0,
    };
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const results = await benchMapCalls();
  if (process.argv.includes('--json')) console.log(JSON.stringify({ mapCalls: results }, null, 2));
  else for (const r of results) console.log(`${r.name.padEnd(28)} ${String(r.nsPerCall).padStart(7)} ns/call`);
}
