/**
 * libbpf-ts against the real kernel: load, every map kind, batch ops, pins
 * re-opened from a second process, test runs with asserted output bytes,
 * and bad input turned into typed errors.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BpfError,
  BpfMap,
  ObjectSpec,
  PerCpuMap,
  VerifierError,
  XdpAction,
  compareWithBtf,
  btfStructs,
  ensureBpffs,
  possibleCpus,
  struct,
  types as t,
  unmountBpffs,
  type Collection,
} from '../../src/bpf/index.js';
import { packageRoot } from '../../src/native.js';

const root = packageRoot();
const TEST_OBJ = join(root, 'out/test/progs/libbpf_ts_test.bpf.o');
const REJECT_OBJ = join(root, 'out/test/progs/libbpf_ts_reject.bpf.o');

const TestKey = struct('test_key', { id: t.u32, port: t.u16, proto: t.u8, pad: t.u8 });
const TestValue = struct('test_value', { counter: t.u64, flags: t.u32, mac: t.bytes(6), weight: t.u16 });

const ipv4Frame = Buffer.from(
  '0200000000bb' + '0200000000aa' + '0800' + '4500001c000100004011f97a0a0000010a000002' + '0001000200080000',
  'hex',
);
const arpFrame = Buffer.from('ffffffffffff' + '0200000000aa' + '0806' + '0001080006040001', 'hex');

async function loadTestObject(configure?: (spec: ObjectSpec) => void): Promise<Collection> {
  const spec = ObjectSpec.open(TEST_OBJ);
  configure?.(spec);
  return spec.load();
}

describe('ObjectSpec', () => {
  it('lists maps and programs before load and lets map sizes change', async () => {
    const spec = ObjectSpec.open(TEST_OBJ);
    expect([...spec.maps.keys()]).toEqual(
      expect.arrayContaining(['test_hash', 'test_array', 'test_percpu', 'test_lru', 'test_progs']),
    );
    expect(spec.programs.map((p) => p.name).sort()).toEqual(['xdp_count', 'xdp_mark', 'xdp_tail']);
    expect(spec.map('test_hash').maxEntries).toBe(1024);
    spec.map('test_hash').maxEntries = 4096;
    expect(spec.constants()).toEqual(expect.arrayContaining(['swap_macs', 'tail_call_slot']));
    const coll = await spec.load();
    using hash = coll.map('test_hash', TestKey, TestValue);
    expect(hash.maxEntries).toBe(4096);
    coll.close();
  });

  it('codecs match the BTF layout of the object', () => {
    const structs = btfStructs(TEST_OBJ);
    expect(compareWithBtf(TestKey, structs)).toEqual([]);
    expect(compareWithBtf(TestValue, structs)).toEqual([]);
    const wrong = struct('test_value', { counter: t.u64, flags: t.u16, mac: t.bytes(6), weight: t.u16 });
    expect(compareWithBtf(wrong, structs).join('\n')).toMatch(/flags is 4 bytes|offset/);
  });

  it('a const volatile set before load changes what the program does', async () => {
    const plain = await loadTestObject();
    using passProg = plain.program('xdp_count');
    expect(passProg.run({ data: ipv4Frame }).retval).toBe(XdpAction.Pass);
    plain.close();

    const swapping = await loadTestObject((s) => s.setConstant('swap_macs', 1));
    using swapProg = swapping.program('xdp_count');
    const res = swapProg.run({ data: ipv4Frame });
    expect(res.retval).toBe(XdpAction.Tx);
    const expected = Buffer.from(ipv4Frame);
    ipv4Frame.copy(expected, 0, 6, 12);
    ipv4Frame.copy(expected, 6, 0, 6);
    expect(res.data.toString('hex')).toBe(expected.toString('hex'));
    swapping.close();

    // Two constants: each at its own offset (the object file's raw BTF
    // says 0 for both; libbpf places them at open), so setting the second
    // leaves the first as set.
    const both = await loadTestObject((s) => {
      s.setConstant('swap_macs', 1);
      s.setConstant('tail_call_slot', 0);
    });
    using bothProg = both.program('xdp_count');
    expect(bothProg.run({ data: ipv4Frame }).retval).toBe(XdpAction.Tx);
    both.close();
  });

  it('a program the verifier rejects fails with VerifierError carrying the log', async () => {
    const spec = ObjectSpec.open(REJECT_OBJ);
    const err = await spec.load().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VerifierError);
    const v = err as VerifierError;
    expect(v.code).toBe('VIPD_BPF_VERIFIER');
    expect(v.log).toMatch(/invalid access to packet|R\d+ offset is outside of the packet/);
    expect(v.message).toContain('rejected by the kernel');
    // The process stays healthy: a good object still loads afterwards.
    const coll = await loadTestObject();
    expect(coll.programNames).toContain('xdp_count');
    coll.close();
  });

  it('bad names and missing files are typed errors that name the thing', () => {
    expect(() => ObjectSpec.open('/nonexistent/x.bpf.o')).toThrow(/does not exist/);
    const spec = ObjectSpec.open(TEST_OBJ);
    expect(() => spec.map('nope')).toThrow(BpfError);
    expect(() => spec.map('nope')).toThrow(/no map 'nope' \(it has: .*test_hash/);
    expect(() => spec.setConstant('nope', 1)).toThrow(/no const volatile 'nope'/);
    expect(() => spec.setConstant('tail_call_slot', 300)).toThrow(/cannot hold 300/);
    spec.close();
  });
});

describe('maps', () => {
  let coll: Collection;
  beforeAll(async () => {
    coll = await loadTestObject();
  });
  afterAll(() => coll.close());

  it('hash: update, lookup, delete, iterate, update flags', () => {
    using m = coll.map('test_hash', TestKey, TestValue);
    const key = { id: 7, port: 443, proto: 6, pad: 0 };
    const value = { counter: 1n << 40n, flags: 3, mac: Buffer.from('020000000011', 'hex'), weight: 100 };
    expect(m.lookup(key)).toBeUndefined();
    m.update(key, value);
    expect(m.lookup(key)).toEqual(value);
    expect(() => m.update(key, value, 'noexist')).toThrow(expect.objectContaining({ code: 'VIPD_BPF_KEY_EXISTS' }));
    expect(() => m.update({ ...key, id: 8 }, value, 'exist')).toThrow(
      expect.objectContaining({ code: 'VIPD_BPF_NOT_FOUND' }),
    );
    m.update({ ...key, id: 8 }, { ...value, weight: 5 });
    const all = [...m.entries()].sort((a, b) => a[0].id - b[0].id);
    expect(all.map(([k, v]) => [k.id, v.weight])).toEqual([
      [7, 100],
      [8, 5],
    ]);
    expect(m.delete(key)).toBe(true);
    expect(m.delete(key)).toBe(false);
    expect([...m.keys()].map((k) => k.id)).toEqual([8]);
    m.delete({ ...key, id: 8 });
  });

  it('hash: batch update, batch lookup and batch delete of 600 entries', () => {
    using m = coll.map('test_hash', TestKey, TestValue);
    const entries = Array.from({ length: 600 }, (_, i) => [
      { id: i, port: 80, proto: 17, pad: 0 },
      { counter: BigInt(i * 3), flags: i, mac: Buffer.alloc(6, i & 0xff), weight: i % 65536 },
    ] as const);
    expect(m.updateBatch(entries)).toBe(600);
    const read = m.lookupBatch(128);
    expect(read).toHaveLength(600);
    const byId = new Map(read.map(([k, v]) => [k.id, v]));
    expect(byId.get(599)?.counter).toBe(1797n);
    expect(byId.get(12)?.mac).toEqual(Buffer.alloc(6, 12));
    expect(m.deleteBatch(entries.map(([k]) => k))).toBe(600);
    expect([...m.keys()]).toHaveLength(0);
  });

  it('array: every index exists, zero-filled; out of range is an error', () => {
    using m = coll.map('test_array', t.u32, TestValue);
    expect(m.lookup(15)).toEqual({ counter: 0n, flags: 0, mac: Buffer.alloc(6), weight: 0 });
    m.update(3, { counter: 9n, flags: 1, mac: Buffer.from('aabbccddeeff', 'hex'), weight: 2 });
    expect(m.lookup(3)?.mac.toString('hex')).toBe('aabbccddeeff');
    expect(() => m.update(16, { counter: 0n, flags: 0, mac: Buffer.alloc(6), weight: 0 })).toThrow(BpfError);
    expect(m.lookupBatch(5)).toHaveLength(16);
  });

  it('array: raw batch update and lookup from caller-encoded buffers', () => {
    using m = coll.map('test_array', t.u32, TestValue);
    const size = TestValue.size;
    // Indexes 4..9, each value's bytes encoded by the caller.
    const keys = Buffer.alloc(6 * 4);
    const values = Buffer.alloc(6 * size);
    for (let i = 0; i < 6; i++) {
      keys.writeUInt32LE(4 + i, i * 4);
      TestValue.encode({ counter: BigInt(100 + i), flags: i, mac: Buffer.alloc(6, i), weight: 7 }, values, i * size);
    }
    expect(m.updateBatchRaw(keys, values, 6)).toBe(6);
    expect(m.lookup(9)).toEqual({ counter: 105n, flags: 5, mac: Buffer.alloc(6, 5), weight: 7 });
    expect(m.updateBatchRaw(keys, values, 0)).toBe(0);
    // Buffers too short for the count are refused before the kernel sees them.
    expect(() => m.updateBatchRaw(keys, values, 7)).toThrow(RangeError);
    expect(() => m.updateBatchRaw(keys.subarray(0, 8), values, 6)).toThrow(RangeError);
    // Read indexes 5..7: the array's cursor is the last index read.
    const from = Buffer.alloc(4);
    from.writeUInt32LE(4);
    const outKeys = Buffer.alloc(3 * 4);
    const outValues = Buffer.alloc(3 * size);
    const res = m.lookupBatchRaw(from, outKeys, outValues, 3);
    expect(res.count).toBe(3);
    expect([0, 1, 2].map((i) => outKeys.readUInt32LE(i * 4))).toEqual([5, 6, 7]);
    expect(TestValue.decode(outValues, 2 * size).counter).toBe(103n);
    expect(res.outBatch.readUInt32LE(0)).toBe(7);
    for (let i = 4; i < 10; i++) m.update(i, { counter: 0n, flags: 0, mac: Buffer.alloc(6), weight: 0 });
  });

  it('per-CPU array: one value per possible CPU, summed by the caller', () => {
    using m = coll.perCpuMap('test_percpu', t.u32, t.u64);
    const cpus = possibleCpus();
    expect(m.lookup(0)).toHaveLength(cpus);
    m.update(1, Array.from({ length: cpus }, (_, i) => BigInt(i + 1)));
    const values = m.lookup(1) ?? [];
    expect(values.reduce((a, b) => a + b, 0n)).toBe(BigInt((cpus * (cpus + 1)) / 2));
    m.update(1, 5n);
    expect(m.lookup(1)).toEqual(Array.from({ length: cpus }, () => 5n));
    m.update(1, 0n);
  });

  it('LRU hash: evicts instead of failing when full', () => {
    using m = coll.map('test_lru', t.u32, t.u64);
    for (let i = 0; i < 500; i++) m.update(i, BigInt(i));
    const n = [...m.keys()].length;
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThanOrEqual(64);
    expect(m.lookup(499)).toBe(499n);
  });

  it('prog array: a tail call reaches the program put in the slot', () => {
    using progs = coll.progArray('test_progs');
    using tail = coll.program('xdp_tail');
    using mark = coll.program('xdp_mark');
    expect(tail.run({ data: ipv4Frame }).retval).toBe(XdpAction.Aborted);
    progs.set(0, mark);
    const res = tail.run({ data: ipv4Frame });
    expect(res.retval).toBe(XdpAction.Tx);
    expect(res.data[0]).toBe(0xee);
    expect(res.data.subarray(1)).toEqual(ipv4Frame.subarray(1));
    expect(progs.clear(0)).toBe(true);
  });

  it('wrong key or value size is refused when the map is opened', () => {
    expect(() => coll.map('test_hash', t.u32, TestValue)).toThrow(/8-byte keys, but the key codec encodes 4 bytes/);
    expect(() => coll.map('test_hash', TestKey, t.u64)).toThrow(/24-byte values/);
    expect(() => coll.map('test_percpu', t.u32, t.u64)).toThrow(/PerCpuArray map: use PerCpuMap/);
    expect(() => coll.map('missing', t.u32, t.u32)).toThrow(expect.objectContaining({ code: 'VIPD_BPF_NOT_FOUND' }));
  });

  it('a closed map refuses further use instead of touching a reused fd', () => {
    const m = coll.map('test_array', t.u32, TestValue);
    m.close();
    m.close();
    expect(() => m.lookup(0)).toThrow(expect.objectContaining({ code: 'VIPD_BPF_CLOSED' }));
  });

  it('test run: counts by frame kind in the per-CPU map, repeat and duration', () => {
    using prog = coll.program('xdp_count');
    using counters = coll.perCpuMap('test_percpu', t.u32, t.u64);
    const sum = (i: number) => (counters.lookup(i) ?? []).reduce((a, b) => a + b, 0n);
    const before = [sum(0), sum(1), sum(2)];
    expect(prog.run({ data: arpFrame }).retval).toBe(XdpAction.Pass);
    const res = prog.run({ data: ipv4Frame, repeat: 100 });
    expect(res.retval).toBe(XdpAction.Pass);
    expect(res.data).toEqual(ipv4Frame);
    expect(res.durationNs).toBeGreaterThan(0);
    expect([sum(0) - before[0], sum(1) - before[1], sum(2) - before[2]]).toEqual([101n, 100n, 1n]);
  });
});

describe('pins', () => {
  const pinDir = mkdtempSync('/run/vipd-test-bpffs-');
  let mounted = false;
  afterAll(() => {
    if (mounted) unmountBpffs(pinDir);
    rmSync(pinDir, { recursive: true, force: true });
  });

  it('maps pinned by one process are read and written by another', async () => {
    mounted = ensureBpffs(pinDir).mounted;
    expect(mounted).toBe(true);
    const coll = await loadTestObject((s) => s.pinMapsUnder(pinDir));
    using m = coll.map('test_hash', TestKey, TestValue);
    m.update({ id: 1, port: 2, proto: 3, pad: 0 }, { counter: 42n, flags: 0, mac: Buffer.alloc(6), weight: 1 });
    coll.close();
    expect(existsSync(join(pinDir, 'test_hash'))).toBe(true);

    // A second process re-opens the pin through the built binding and bumps the counter.
    const script = `
      import { BpfMap, struct, types as t } from ${JSON.stringify(join(root, 'dist/src/bpf/index.js'))};
      const K = struct('test_key', { id: t.u32, port: t.u16, proto: t.u8, pad: t.u8 });
      const V = struct('test_value', { counter: t.u64, flags: t.u32, mac: t.bytes(6), weight: t.u16 });
      const m = BpfMap.openPinned(${JSON.stringify(join(pinDir, 'test_hash'))}, K, V);
      const k = { id: 1, port: 2, proto: 3, pad: 0 };
      const v = m.lookup(k);
      m.update(k, { ...v, counter: v.counter + 1n });
      console.log(String(v.counter));
      m.close();`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(out.trim()).toBe('42');

    using again = BpfMap.openPinned(join(pinDir, 'test_hash'), TestKey, TestValue);
    expect(again.lookup({ id: 1, port: 2, proto: 3, pad: 0 })?.counter).toBe(43n);

    // A reload with the same pins re-adopts the maps instead of creating new ones.
    const coll2 = await loadTestObject((s) => s.pinMapsUnder(pinDir));
    using m2 = coll2.map('test_hash', TestKey, TestValue);
    expect(m2.lookup({ id: 1, port: 2, proto: 3, pad: 0 })?.counter).toBe(43n);
    coll2.close();

    expect(() => PerCpuMap.openPinned(join(pinDir, 'test_hash'), TestKey, TestValue)).toThrow(/use BpfMap/);
    expect(() => BpfMap.openPinned(join(pinDir, 'nope'), TestKey, TestValue)).toThrow(
      expect.objectContaining({ code: 'VIPD_BPF_NOT_FOUND' }),
    );
    for (const name of ['test_hash', 'test_array', 'test_percpu', 'test_lru', 'test_progs']) {
      BpfMap.unpin(join(pinDir, name));
    }
    expect(existsSync(join(pinDir, 'test_hash'))).toBe(false);
  });
});

describe('pinned maps from another build', () => {
  const pinDir = mkdtempSync('/run/vipd-test-pinmismatch-');
  afterAll(() => {
    try {
      unmountBpffs(pinDir);
    } finally {
      rmSync(pinDir, { recursive: true, force: true });
    }
  });

  it('a pin whose definition differs is a typed PIN_MISMATCH error naming the pin', async () => {
    ensureBpffs(pinDir);
    const first = await loadTestObject((s) => {
      s.pinMapsUnder(pinDir);
      s.map('test_hash').maxEntries = 16;
    });
    first.close();
    const err = await loadTestObject((s) => s.pinMapsUnder(pinDir)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BpfError);
    expect(err).toMatchObject({ code: 'VIPD_BPF_PIN_MISMATCH' });
    expect((err as Error).message).toContain(join(pinDir, 'test_hash'));
  });
});
